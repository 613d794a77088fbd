"""cocotb testbench of the SXM (toplevel :class:`openlpu.rtl.sxm.Sxm`).

Drives each scenario of :mod:`openlpu.verif.sxm_scenarios` one cycle at a time
and compares the ``out`` port with :class:`openlpu.golden.sxm.SxmModel` on
every cycle (``valid`` exactly, data bit for bit, ``dst`` with
:class:`openlpu.verif.sxm_scenarios.DstModel`), and the sticky ``error``
flag at the end. Environment: ``OPENLPU_CONFIG`` (JSON), ``OPENLPU_SEED``.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from openlpu.config import LpuConfig
from openlpu.golden.sxm import SxmModel
from openlpu.rtl.sxm import SxmCommandLayout, SxmResultLayout
from openlpu.verif.packing import int_to_planes, planes_to_int
from openlpu.verif.sxm_scenarios import DstModel, scenario

CFG = LpuConfig.from_dict(json.loads(os.environ["OPENLPU_CONFIG"]))
SEED = int(os.environ.get("OPENLPU_SEED", "1"))
OFFSETS = {name: f.offset for name, f in SxmCommandLayout(CFG)}
RESULT = {name: f for name, f in SxmResultLayout(CFG)}


def pack(cmd):
    value = (int(cmd["op"]) << OFFSETS["op"]) | (cmd["k"] << OFFSETS["k"]) | (int(cmd["start"]) << OFFSETS["start"])
    value |= cmd["dst"] << OFFSETS["dst"]
    for name in "abc":
        value |= planes_to_int(cmd[name][None, :]) << OFFSETS[name]
    return value


def _field(payload, name):
    """Field ``name`` of an ``out`` payload read as an integer."""
    f = RESULT[name]
    return (payload >> f.offset) & ((1 << f.width) - 1)


async def play(dut, name):
    Clock(dut.clk, 10, unit="ns").start()
    dut.cmd__valid.value = 0
    dut.cmd__payload.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    model = SxmModel(CFG)
    dsts = DstModel(CFG)
    cmds = scenario(name, CFG, SEED)
    checked = 0
    for t in range(len(cmds) + model.t_latency + CFG.lanes + 2):
        cmd = cmds[t] if t < len(cmds) else None
        dut.cmd__valid.value = int(cmd is not None)
        if cmd is not None:
            dut.cmd__payload.value = pack(cmd)
            expected = model.step(cmd["op"], cmd["a"], cmd["b"], cmd["c"], cmd["k"], cmd["start"])
        else:
            expected = model.step()
        dst = dsts.step(cmd)
        await ReadOnly()
        valid = int(dut.out__valid.value)
        assert valid == (expected is not None), f"{name} cycle {t}: out.valid={valid}, golden {int(expected is not None)}"
        if expected is not None:
            payload = int(dut.out__payload.value)
            got = int_to_planes(_field(payload, "data"), 1, CFG.lanes)[0]
            assert np.array_equal(got, expected), f"{name} cycle {t}: got {got}, expected {expected}"
            got_dst = _field(payload, "dst")
            assert got_dst == dst, f"{name} cycle {t}: dst {got_dst}, expected {dst}"
            checked += 1
        await RisingEdge(dut.clk)
    await ReadOnly()
    assert int(dut.error.value) == int(model.error), f"{name}: error={int(dut.error.value)}, golden {model.error}"
    dut._log.info("%s: %d output vectors bit-exact, error flag %d as expected", name, checked, model.error)
    assert checked > 0


@cocotb.test()
async def lane_ops(dut):
    await play(dut, "lane_ops")


@cocotb.test()
async def errors(dut):
    await play(dut, "errors")


@cocotb.test()
async def transposes(dut):
    """After ``errors``: its reset clears the sticky error flag (the flag's 1 -> 0 toggle)."""
    await play(dut, "transposes")


@cocotb.test()
async def uneven_tiles(dut):
    """Tiles with an idle cycle before the last row (``sxm_scenarios._uneven_tiles``)."""
    await play(dut, "uneven_tiles")
