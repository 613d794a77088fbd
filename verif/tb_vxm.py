"""cocotb testbench of the VXM (toplevel :class:`openlpu.rtl.vxm.Vxm`).

Streams one instruction per cycle -- every op x type at the chain head with
operands drawn from that type's directed corners (int min/max, saturation
edges, shift amounts 0 / width / above, fp zeros, subnormal boundaries, max
finite, Inf, NaN, values near 1 for RNE ties) and random bits, then random
chains (conversions change the type mid-chain), then ``rqmul`` saturation at
every ALU of the chain -- and checks, every cycle,
that ``out.valid`` is high exactly ``golden.vxm.latency(cfg)`` cycles after
each input and the payload matches the golden chain bit for bit. Prints the
op x type coverage table (per ALU slot, with the type at that slot) and
fails on a hole; integer-only ops on float types are listed as n/a.

Environment: ``OPENLPU_CONFIG`` (JSON of the LpuConfig), ``OPENLPU_SEED``, ``OPENLPU_COUNT``.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from openlpu.config import LpuConfig
from openlpu.golden import vxm as gold
from openlpu.rtl.vxm import VxmControl
from openlpu.verif.packing import int_to_planes, pack, planes_to_int

CFG = LpuConfig.from_dict(json.loads(os.environ["OPENLPU_CONFIG"]))
SEED = int(os.environ.get("OPENLPU_SEED", "1"))
COUNT = int(os.environ.get("OPENLPU_COUNT", "200"))


def _planes(values, lanes):
    v = np.asarray(values, dtype=np.int64) & 0xFFFFFFFF
    return planes_to_int(np.stack([(v >> (8 * p)) & 0xFF for p in range(4)]).astype(np.uint8))


@cocotb.test()
async def random_chains(dut):
    cfg = CFG
    progs = gold.random_programs(cfg, np.random.default_rng(SEED), COUNT) + gold.saturation_programs(cfg)
    lat = gold.latency(cfg)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.a__valid.value = 0
    dut.b__valid.value = 0
    dut.a__payload.value = 0
    dut.b__payload.value = 0
    dut.ctrl.value = 0
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    layout = VxmControl(cfg)
    cover = {}
    checked = 0
    for cyc in range(len(progs) + lat + 2):
        await RisingEdge(dut.clk)
        await ReadOnly()
        # inputs driven after edge k reach the output register at edge k + lat
        k = cyc - lat
        expect_valid = 0 <= k < len(progs)
        assert int(dut.out__valid.value) == int(expect_valid), f"valid wrong in cycle {cyc}"
        if expect_valid:
            etype, ops, srcs, imms, a, b = progs[k]
            exp = gold.chain(ops, etype, srcs, imms, a, b)
            planes = int_to_planes(int(dut.out__payload.value), 4, cfg.lanes).astype(np.int64)
            got = planes[0] | (planes[1] << 8) | (planes[2] << 16) | (planes[3] << 24)
            assert list(got) == [int(x) for x in exp], f"instruction {k}: {etype, ops, srcs, imms}"
            t = etype
            for op, imm in zip(ops, imms):
                cover[(op, t)] = cover.get((op, t), 0) + 1
                t = gold.result_type([op], t, [imm])
            checked += 1
        if cyc < len(progs):
            etype, ops, srcs, imms, a, b = progs[cyc]
            await _drive_after_readonly(dut)
            dut.a__valid.value = 1
            dut.a__payload.value = _planes(a, cfg.lanes)
            dut.b__payload.value = _planes(b, cfg.lanes)
            dut.ctrl.value = pack(layout, {"etype": etype, "alu": [
                {"op": o, "src": s, "imm": i & 0xFFFFFFFF} for o, s, i in zip(ops, srcs, imms)]})
        else:
            await _drive_after_readonly(dut)
            dut.a__valid.value = 0
    dut._log.info("VXM coverage (ALU slots per op x type, n/a = integer-only op on a float type):\n"
                  + coverage_table(cover))
    holes = [(gold.OPS_NAME[op], tn) for op in gold.OPS.values() for tn, t in gold.TYPES.items()
             if gold.applicable(gold.OPS_NAME[op], t) and not cover.get((op, t))]
    assert not holes, f"coverage holes: {holes}"
    assert checked == len(progs)


def coverage_table(cover):
    """Text table of ``cover[(op, type)]`` counts, n/a where the pair is not meaningful."""
    tnames = {v: k for k, v in gold.TYPES.items()}
    lines = ["op      " + " ".join(f"{tnames[t]:>6}" for t in sorted(tnames))]
    for name, op in gold.OPS.items():
        cells = [f"{cover.get((op, t), 0):>6}" if gold.applicable(name, t) else f"{'n/a':>6}" for t in sorted(tnames)]
        lines.append(f"{name:<7} " + " ".join(cells))
    return "\n".join(lines)


async def _drive_after_readonly(dut):
    """Leave the read-only phase so the next inputs can be written."""
    from cocotb.triggers import Timer
    await Timer(1, unit="ns")
