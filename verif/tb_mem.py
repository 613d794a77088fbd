"""cocotb testbench of an SRAM slice (toplevel :class:`openlpu.rtl.mem.MemSlice`).

Plays the scenarios of :mod:`openlpu.verif.tb_mem_scenarios` cycle by cycle
against :class:`openlpu.golden.mem.MemSliceModel` (``out.valid``, data,
poison on every cycle; counters at the end), then a fault-injection campaign:
``OPENLPU_FAULTS`` words written with one or two flipped bits through the
test-only ``fault`` port and read back. Prints the tally injected / corrected
/ detected / silent; silent (a corrupted value returned without poison) must
be 0. Environment: ``OPENLPU_CONFIG`` (JSON), ``OPENLPU_SEED``, ``OPENLPU_FAULTS``.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from openlpu.config import LpuConfig
from openlpu.golden.mem import MemSliceModel
from openlpu.rtl.mem import MemOutLayout, MemReadLayout, MemWriteLayout
from openlpu.verif.packing import pack, unpack
from openlpu.verif.tb_mem_scenarios import fault_batch, rd_value, scenario, wr_value

CFG = LpuConfig.from_dict(json.loads(os.environ["OPENLPU_CONFIG"]))
SEED = int(os.environ.get("OPENLPU_SEED", "1"))
FAULTS = int(os.environ.get("OPENLPU_FAULTS", "1000"))
RD, WR, OUT = MemReadLayout(CFG), MemWriteLayout(CFG), MemOutLayout(CFG)


async def start(dut):
    Clock(dut.clk, 10, unit="ns").start()
    dut.rd__valid.value = 0
    dut.rd__payload.value = 0
    dut.wr__valid.value = 0
    dut.wr__payload.value = 0
    dut.fault.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


async def drive(dut, model, cmds, label, on_output=None):
    """Play ``cmds``; compare every cycle with ``model``; returns outputs checked."""
    checked = 0
    for t, (rd, wr, fault) in enumerate(cmds):
        dut.rd__valid.value = int(rd is not None)
        dut.rd__payload.value = pack(RD, rd_value(rd, CFG.lanes)) if rd is not None else 0
        dut.wr__valid.value = int(wr is not None)
        dut.wr__payload.value = pack(WR, wr_value(wr, CFG.lanes)) if wr is not None else 0
        dut.fault.value = sum(f << (72 * w) for w, f in enumerate(fault or []))
        expected = model.step(rd, wr, fault)
        await ReadOnly()
        valid = int(dut.out__valid.value)
        assert valid == (expected is not None), f"{label} cycle {t}: out.valid={valid}"
        if expected is not None:
            got = unpack(OUT, dut.out__payload.value)
            data = np.array([got.data[i] for i in range(CFG.lanes)], dtype=np.uint8)
            assert int(got.poison) == int(expected[1]), f"{label} cycle {t}: poison {int(got.poison)}"
            assert np.array_equal(data, expected[0]), f"{label} cycle {t}: {data} != {expected[0]}"
            if on_output is not None:
                on_output(data, bool(got.poison))
            checked += 1
        await RisingEdge(dut.clk)
    await ReadOnly()
    for port in ("corrected", "detected", "range_errors", "last_addr", "last_syndrome"):
        got = int(getattr(dut, port).value)
        assert got == getattr(model, port), f"{label}: {port}={got}, golden {getattr(model, port)}"
    await RisingEdge(dut.clk)
    return checked


@cocotb.test()
async def directed(dut):
    await start(dut)
    n = await drive(dut, MemSliceModel(CFG), scenario("directed", CFG, SEED), "directed")
    assert n > 0


@cocotb.test()
async def random_streams(dut):
    await start(dut)
    n = await drive(dut, MemSliceModel(CFG), scenario("random", CFG, SEED), "random")
    dut._log.info("random: %d read vectors bit-exact", n)
    assert n > 100


@cocotb.test()
async def fault_injection(dut):
    await start(dut)
    model = MemSliceModel(CFG)
    rng = np.random.default_rng(SEED)
    tally = {"injected": 0, "corrected": 0, "detected": 0, "silent": 0, "single": 0, "double": 0}
    while tally["injected"] < FAULTS:
        cmds, faults = fault_batch(CFG, rng, min(CFG.mem_depth, FAULTS - tally["injected"]))
        outputs = []
        await drive(dut, model, cmds, "faults", lambda d, p: outputs.append((d, p)))
        assert len(outputs) == len(faults)
        for (addr, col, nbits, vec), (data, poison) in zip(faults, outputs):
            tally["injected"] += 1
            tally["single" if nbits == 1 else "double"] += 1
            if poison:
                tally["detected"] += 1
            elif np.array_equal(data, vec):
                tally["corrected"] += 1
            else:
                tally["silent"] += 1
            # a single flip must be corrected, a double flip detected
            assert (nbits == 1) == (not poison), f"addr {addr}: {nbits}-bit fault, poison={poison}"
    assert model.corrected == tally["single"] and model.detected == tally["double"]
    msg = ("fault injection tally: injected {injected} (single {single}, double {double}) / "
           "corrected {corrected} / detected {detected} / silent {silent}").format(**tally)
    dut._log.info(msg)
    print(msg)
    assert tally["silent"] == 0
    assert tally["injected"] >= FAULTS
