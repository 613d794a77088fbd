"""cocotb: one GEMM streamed through an MXM plane, for the demo and the benchmark.

Plays :func:`openlpu.golden.mxm.gemm_schedule` cycle by cycle, checks every
cycle against the golden model, reassembles ``C`` from the result port,
compares it with numpy, and writes a JSON report (cycles, utilization,
simulation speed) to ``OPENLPU_REPORT``.

Environment: ``OPENLPU_CONFIG`` (JSON), ``OPENLPU_GEMM`` (``"M,K,N"``),
``OPENLPU_DTYPE`` (``int8``/``fp16``), ``OPENLPU_SEED``, ``OPENLPU_REPORT``,
``OPENLPU_FREE_CYCLES`` (cycles of free-running simulation for the raw speed
figure; 0 to skip).
"""

import json
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from openlpu.golden.mxm import Cycle, gemm_schedule
from openlpu.verif.tb_mxm import CFG, SEED, MxmTb


def gemm_operands(cfg, shape, dtype, seed):
    """Random operands of a GEMM (the demo, bench and tests share them)."""
    rng = np.random.default_rng(seed)
    M, K, N = shape
    if dtype == "fp16":
        return rng.standard_normal((M, K)).astype(np.float16), rng.standard_normal((K, N)).astype(np.float16)
    return (rng.integers(-128, 128, (M, K)).astype(np.int8),
            rng.integers(-128, 128, (K, N)).astype(np.int8))


@cocotb.test()
async def gemm(dut):
    shape = tuple(int(x) for x in os.environ.get("OPENLPU_GEMM", "32,32,16").split(","))
    dtype = os.environ.get("OPENLPU_DTYPE", "int8")
    fp16 = dtype == "fp16"
    a, w = gemm_operands(CFG, shape, dtype, SEED)
    sched = gemm_schedule(CFG, a, w, fp16=fp16)

    tb = MxmTb(dut)
    await tb.reset()
    await RisingEdge(dut.clk)
    M, _, N = shape
    c = np.zeros((M, N), dtype=np.uint32)
    valid_cycles = []
    start = time.perf_counter()
    for t in range(sched.length):
        cyc = sched.cycles[t] if t < len(sched.cycles) else Cycle()
        tb.drive(cyc)
        expected = tb.model.step(cyc)
        await ReadOnly()
        tb.check(t, expected)
        if expected is not None:
            valid_cycles.append(t)
        if t in sched.collect:
            m, n0 = sched.collect[t]
            _, values = tb.ports.result(int(dut.result__payload.value))
            width = min(CFG.lanes, N - n0)
            c[m, n0:n0 + width] = values[:width]
        await RisingEdge(dut.clk)
    driven_s = time.perf_counter() - start

    if fp16:
        ref = a.astype(np.float64) @ w.astype(np.float64)
        got = c.view(np.float32)
        match = bool(np.allclose(got, ref, rtol=1e-3, atol=1e-3))
    else:
        ref = a.astype(np.int64) @ w.astype(np.int64)
        match = bool(np.array_equal(c.view(np.int32), ref))
    assert match, "result differs from numpy"

    free_cycles = int(os.environ.get("OPENLPU_FREE_CYCLES", "0"))
    free_s = None
    if free_cycles:
        tb.idle()
        dut.act__valid.value = 1
        start = time.perf_counter()
        await ClockCycles(dut.clk, free_cycles)
        free_s = time.perf_counter() - start

    kt = CFG.fp16_k if fp16 else CFG.lanes
    peak = kt * CFG.lanes
    report = {
        "preset_lanes": CFG.lanes, "shape": list(shape), "dtype": dtype,
        "cycles": sched.length, "first_result": valid_cycles[0], "last_result": valid_cycles[-1],
        "result_vectors": len(valid_cycles),
        "steady_state_gaps": sum(1 for x, y in zip(valid_cycles, valid_cycles[1:]) if y != x + 1),
        "macs": int(np.prod(shape)), "peak_macs_per_cycle": peak,
        "utilization": float(np.prod(shape)) / (peak * sched.length),
        # MACs per cycle measured on the result port between first and last result
        "macs_per_cycle_steady": len(valid_cycles) * peak / (valid_cycles[-1] - valid_cycles[0] + 1),
        "driven_cycles_per_s": sched.length / driven_s,
        "free_cycles_per_s": (free_cycles / free_s) if free_s else None,
        "numpy_match": match,
    }
    path = os.environ.get("OPENLPU_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(report, f)
    dut._log.info("GEMM %s %s: %d cycles, utilization %.1f%%", shape, dtype, sched.length,
                  100 * report["utilization"])
