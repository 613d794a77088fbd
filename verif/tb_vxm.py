"""cocotb testbench of the VXM (toplevel :class:`openlpu.rtl.vxm.Vxm`).

``random_chains`` streams one full-length chain per cycle on column 0 (the
chain of a single-queue VXM) -- every op x type at the chain head with
operands drawn from that type's directed corners (int min/max, saturation
edges, shift amounts 0 / width / above, fp zeros, subnormal boundaries, max
finite, Inf, NaN, values near 1 for RNE ties) and random bits, then random
chains (conversions change the type mid-chain), then ``rqmul`` saturation at
every ALU of the chain. Prints the op x type coverage table (per ALU slot,
with the type at that slot) and fails on a hole; integer-only ops on float
types are listed as n/a.

``columns`` drives entries on every column (:func:`openlpu.verif.vxm_columns.column_schedule`):
every chain length from every column, two columns with different ops in one
cycle, a chain meeting an entry on its next column, then random entries; it
fails unless all of those happened.

Both check, every cycle, that each column's ``out.valid`` is high exactly in
the cycles :func:`openlpu.verif.vxm_columns.expected` says (the chain's
``timing.vop_latency(len)`` after its entry, on its last column) with the
golden chain's value bit for bit and the entry's tag, and that ``fault[k]``
is high exactly in the cycles of column ``k``'s faulting entries.

Environment: ``OPENLPU_CONFIG`` (JSON of the LpuConfig), ``OPENLPU_SEED``, ``OPENLPU_COUNT``.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from openlpu.config import LpuConfig
from openlpu.golden import vxm as gold
from openlpu.rtl.vxm import VxmControl
from openlpu.verif.packing import int_to_planes, pack, planes_to_int
from openlpu.verif.vxm_columns import column_schedule, coverage, expected, head_schedule

CFG = LpuConfig.from_dict(json.loads(os.environ["OPENLPU_CONFIG"]))
SEED = int(os.environ.get("OPENLPU_SEED", "1"))
COUNT = int(os.environ.get("OPENLPU_COUNT", "200"))


def _planes(values, lanes):
    v = np.asarray(values, dtype=np.int64) & 0xFFFFFFFF
    return planes_to_int(np.stack([(v >> (8 * p)) & 0xFF for p in range(4)]).astype(np.uint8))


def _port(dut, *path):
    return getattr(dut, "__".join(map(str, path)))


async def _run(dut, cfg, schedule):
    """Drive ``schedule`` (one element per cycle) and check every column's result and fault
    flag in every cycle against :func:`expected`; returns the number of results checked."""
    faults, results = expected(cfg, schedule)
    A = cfg.vxm_alus
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for k in range(A):
        for name in ("valid", "a", "b", "ctrl", "len", "tag"):
            _port(dut, "entry", k, name).value = 0
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    layout = VxmControl(cfg)
    checked = 0
    # the inputs of schedule[c] are driven after edge c; a result due in cycle c + lat is in
    # the output registers from edge c + lat on
    for cyc in range(len(schedule)):
        await RisingEdge(dut.clk)
        await ReadOnly()
        for k in range(A):
            want = results.get((cyc, k))
            assert int(_port(dut, "out", k, "valid").value) == (want is not None), f"column {k} valid, cycle {cyc}"
            if want is not None:
                planes = int_to_planes(int(_port(dut, "out", k, "data").value), 4, cfg.lanes).astype(np.int64)
                got = planes[0] | (planes[1] << 8) | (planes[2] << 16) | (planes[3] << 24)
                assert [int(x) for x in got] == want[1], f"column {k}, cycle {cyc}"
                assert int(_port(dut, "out", k, "tag").value) == want[0], f"column {k} tag, cycle {cyc}"
                checked += 1
        await Timer(1, unit="ns")          # leave the read-only phase
        for k in range(A):
            e = schedule[cyc].get(k)
            _port(dut, "entry", k, "valid").value = int(e is not None)
            if e is not None:
                _port(dut, "entry", k, "a").value = _planes(e.a, cfg.lanes)
                _port(dut, "entry", k, "b").value = _planes(e.b, cfg.lanes)
                _port(dut, "entry", k, "ctrl").value = pack(layout, {"etype": e.etype, "alu": [
                    {"op": o, "src": s, "imm": i & 0xFFFFFFFF} for o, s, i in zip(e.ops, e.srcs, e.imms)]})
                _port(dut, "entry", k, "len").value = e.len
                _port(dut, "entry", k, "tag").value = e.tag
        await Timer(1, unit="ns")          # the fault flags are combinational of this cycle's entries
        for k in range(1, A):
            assert int(_port(dut, "fault", k).value) == ((cyc, k) in faults), f"column {k} fault, cycle {cyc}"
        assert int(_port(dut, "fault", 0).value) == 0
    assert checked == len(results)
    return checked


@cocotb.test()
async def random_chains(dut):
    cfg = CFG
    progs = gold.random_programs(cfg, np.random.default_rng(SEED), COUNT) + gold.saturation_programs(cfg)
    sched = head_schedule(progs) + [{}] * (gold.latency(cfg) + 1)
    assert await _run(dut, cfg, sched) == len(progs)
    cover = {}
    for etype, ops, srcs, imms, a, b in progs:
        t = etype
        for op, imm in zip(ops, imms):
            cover[(op, t)] = cover.get((op, t), 0) + 1
            t = gold.result_type([op], t, [imm])
    dut._log.info("VXM coverage (ALU slots per op x type, n/a = integer-only op on a float type):\n"
                  + coverage_table(cover))
    holes = [(gold.OPS_NAME[op], tn) for op in gold.OPS.values() for tn, t in gold.TYPES.items()
             if gold.applicable(gold.OPS_NAME[op], t) and not cover.get((op, t))]
    assert not holes, f"coverage holes: {holes}"


@cocotb.test()
async def columns(dut):
    cfg = CFG
    sched = column_schedule(cfg, np.random.default_rng(SEED), COUNT)
    chains, per_cycle, faults = coverage(cfg, sched)
    A = cfg.vxm_alus
    assert chains == {(k, n) for k in range(A) for n in range(1, A - k + 1)}
    assert per_cycle >= 2 and faults >= 1
    dut._log.info(f"VXM columns: {await _run(dut, cfg, sched)} results, {faults} faults")


def coverage_table(cover):
    """Text table of ``cover[(op, type)]`` counts, n/a where the pair is not meaningful."""
    tnames = {v: k for k, v in gold.TYPES.items()}
    lines = ["op      " + " ".join(f"{tnames[t]:>6}" for t in sorted(tnames))]
    for name, op in gold.OPS.items():
        cells = [f"{cover.get((op, t), 0):>6}" if gold.applicable(name, t) else f"{'n/a':>6}" for t in sorted(tnames)]
        lines.append(f"{name:<7} " + " ".join(cells))
    return "\n".join(lines)
