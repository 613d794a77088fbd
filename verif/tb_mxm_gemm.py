"""cocotb: one GEMM streamed through an MXM plane, for the demo and the benchmark.

Plays :func:`openlpu.golden.mxm.gemm_schedule`, checks every cycle against the
golden model, reassembles ``C`` from the result port, compares it with numpy,
and writes a JSON report (cycles, utilization, simulation speed) to
``OPENLPU_REPORT``. Two ways to play, chosen by the toplevel:

* the plane itself (``mxm_plane``): Python drives and checks every cycle
  (``driven_cycles_per_s``);
* :class:`openlpu.verif.mxm_harness.MxmGemmHarness`: the schedule is written
  to a stimulus file, the simulator plays it with no Python per cycle and
  records the result port, and the same checks run on the record afterwards
  (``replay_cycles_per_s``, the simulator's speed on the whole schedule).

Environment: ``OPENLPU_CONFIG`` (JSON), ``OPENLPU_GEMM`` (``"M,K,N"``),
``OPENLPU_DTYPE`` (``int8``/``fp16``), ``OPENLPU_SEED``, ``OPENLPU_REPORT``,
``OPENLPU_FREE_CYCLES`` (cycles of free-running simulation for the raw speed
figure; 0 to skip).
"""

import json
import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from openlpu.golden.mxm import Cycle, gemm_schedule
from openlpu.verif.mxm_harness import CAPTURE_FILE, DEPTH, LENGTH_FILE, STIMULUS_FILE, split_record, stimulus_word
from openlpu.verif.tb_mxm import CFG, SEED, MxmTb


def gemm_operands(cfg, shape, dtype, seed):
    """Random operands of a GEMM (the demo, bench and tests share them)."""
    rng = np.random.default_rng(seed)
    M, K, N = shape
    if dtype == "fp16":
        return rng.standard_normal((M, K)).astype(np.float16), rng.standard_normal((K, N)).astype(np.float16)
    return (rng.integers(-128, 128, (M, K)).astype(np.int8),
            rng.integers(-128, 128, (K, N)).astype(np.int8))


def _check(tb, t, expected, valid, payload):
    """The result port in cycle ``t`` against the golden model's ``expected`` output."""
    assert valid == (expected is not None), f"cycle {t}: result.valid={valid}, golden model says {int(not valid)}"
    if expected is None:
        return
    addr, values = tb.ports.result(payload)
    assert addr == expected[0], f"cycle {t}: result row {addr}, expected {expected[0]}"
    bad = np.nonzero(values != expected[1])[0]
    assert not bad.size, (f"cycle {t}: lanes {bad.tolist()} differ: got {[hex(v) for v in values[bad]]}, "
                          f"expected {[hex(v) for v in expected[1][bad]]}")


async def _driven(dut, tb, sched, on_cycle):
    """Drive every cycle from Python; ``on_cycle(t, cycle, valid, payload)`` checks each."""
    await tb.reset()
    await RisingEdge(dut.clk)
    for t in range(sched.length):
        cyc = sched.cycles[t] if t < len(sched.cycles) else Cycle()
        tb.drive(cyc)
        await ReadOnly()
        # no X/Z on the outputs in any cycle, valid or not (Icarus shows them, Verilator has none)
        assert dut.result__valid.value.is_resolvable, f"cycle {t}: result.valid is {dut.result__valid.value}"
        assert dut.result__payload.value.is_resolvable, f"cycle {t}: X/Z on result.payload"
        on_cycle(t, cyc, int(dut.result__valid.value), int(dut.result__payload.value))
        await RisingEdge(dut.clk)


def _write_stimulus(tb, sched):
    lines = []
    for t in range(sched.length):
        cyc = sched.cycles[t] if t < len(sched.cycles) else Cycle()
        word = stimulus_word(CFG, None if cyc.load is None else tb.ports.load_payload(cyc.load), cyc.install,
                             None if cyc.act is None else tb.ports.act_payload(cyc.act))
        lines.append(f"{word:x}")
    Path(STIMULUS_FILE).write_text("\n".join(lines) + "\n")
    Path(LENGTH_FILE).write_text(f"{sched.length:x}\n")


async def _replay(dut, tb, sched, on_cycle):
    """Let the harness play the schedule on its own; then ``on_cycle`` checks its record.

    Returns the simulator's wall time for the schedule."""
    assert sched.length <= DEPTH, f"{sched.length} cycles do not fit the harness ({DEPTH})"
    _write_stimulus(tb, sched)
    Clock(dut.clk, 10, unit="ns").start()
    dut.start.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    dut.start.value = 1
    start = time.perf_counter()
    await RisingEdge(dut.done)
    elapsed = time.perf_counter() - start
    # one word per line; simulators may add "// 0x..." address comments or "@..." addresses
    lines = (line.split("//")[0].strip() for line in Path(CAPTURE_FILE).read_text().splitlines())
    words = [w for w in lines if w and not w.startswith("@")]
    assert len(words) >= sched.length, f"the record holds {len(words)} cycles, not {sched.length}"
    for t in range(sched.length):
        # X/Z on the outputs show as x/z digits (Icarus); there must be none
        assert not set(words[t].lower()) & set("xz"), f"cycle {t}: X/Z on the result port ({words[t]})"
        on_cycle(t, sched.cycles[t] if t < len(sched.cycles) else Cycle(), *split_record(CFG, int(words[t], 16)))
    return elapsed


@cocotb.test()
async def gemm(dut):
    shape = tuple(int(x) for x in os.environ.get("OPENLPU_GEMM", "32,32,16").split(","))
    dtype = os.environ.get("OPENLPU_DTYPE", "int8")
    fp16 = dtype == "fp16"
    a, w = gemm_operands(CFG, shape, dtype, SEED)
    sched = gemm_schedule(CFG, a, w, fp16=fp16)

    tb = MxmTb(dut)
    M, _, N = shape
    c = np.zeros((M, N), dtype=np.uint32)
    valid_cycles = []

    def on_cycle(t, cyc, valid, payload):
        expected = tb.model.step(cyc)
        _check(tb, t, expected, valid, payload)
        if expected is not None:
            valid_cycles.append(t)
        if t in sched.collect:
            m, n0 = sched.collect[t]
            width = min(CFG.lanes, N - n0)
            c[m, n0:n0 + width] = tb.ports.result(payload)[1][:width]

    replay = hasattr(dut, "start")
    start = time.perf_counter()
    if replay:
        sim_s = await _replay(dut, tb, sched, on_cycle)
    else:
        await _driven(dut, tb, sched, on_cycle)
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
    if free_cycles and not replay:
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
        "driven_cycles_per_s": None if replay else sched.length / driven_s,
        "replay_cycles_per_s": sched.length / sim_s if replay else None,
        "free_cycles_per_s": (free_cycles / free_s) if free_s else None,
        "numpy_match": match,
    }
    path = os.environ.get("OPENLPU_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(report, f)
    dut._log.info("GEMM %s %s: %d cycles, utilization %.1f%%", shape, dtype, sched.length,
                  100 * report["utilization"])
