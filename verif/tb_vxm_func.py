"""cocotb testbench of the VXM transcendental unit (toplevel :class:`openlpu.rtl.vxm_func.VxmFunc`).

Drives one vector per cycle (every function on the directed corners of
:data:`openlpu.golden.vxm_func.CORNERS` first, then random functions and
operands with ``valid`` gaps) and checks every cycle that ``out.valid`` is
high exactly ``VXM_FUNC_LATENCY`` cycles after each valid input, that the
output has no X/Z bits, and that each result matches the golden model bit
for bit. Environment: ``OPENLPU_CONFIG`` (JSON), ``OPENLPU_SEED``, ``OPENLPU_COUNT``.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from openlpu.config import LpuConfig
from openlpu.golden import vxm_func as gold
from openlpu.golden.vxm_func import VxmFuncOp
from openlpu.timing import VXM_FUNC_LATENCY
from openlpu.verif.packing import int_to_planes, planes_to_int

CFG = LpuConfig.from_dict(json.loads(os.environ["OPENLPU_CONFIG"]))
SEED = int(os.environ.get("OPENLPU_SEED", "1"))
COUNT = int(os.environ.get("OPENLPU_COUNT", "400"))


def _planes(words):
    w = np.asarray(words, dtype=np.uint32)
    return planes_to_int(np.stack([(w >> (8 * p)) & 0xFF for p in range(4)]).astype(np.uint8))


def _words(value, lanes):
    planes = int_to_planes(value, 4, lanes).astype(np.uint32)
    return planes[0] | (planes[1] << 8) | (planes[2] << 16) | (planes[3] << 24)


@cocotb.test()
async def corners_and_random(dut):
    lanes = CFG.lanes
    cycles = gold.stimulus(CFG.lanes, SEED, COUNT)
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    dut.a__valid.value = 0
    dut.a__payload.value = 0
    dut.func.value = 0
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    checked = {op: 0 for op in VxmFuncOp}
    for t in range(len(cycles) + VXM_FUNC_LATENCY + 2):
        if t < len(cycles):
            valid, func, x = cycles[t]
            dut.a__valid.value = int(valid)
            dut.func.value = func
            dut.a__payload.value = _planes(x)
        else:
            dut.a__valid.value = 0
        await RisingEdge(dut.clk)
        await ReadOnly()
        # the inputs sampled at this edge are input cycle t; results of input cycle k show now
        k = t + 1 - VXM_FUNC_LATENCY
        expect = 0 <= k < len(cycles) and cycles[k][0]
        assert dut.out__valid.value.is_resolvable, f"cycle {t}: out.valid is {dut.out__valid.value}"
        assert int(dut.out__valid.value) == int(expect), f"cycle {t}: out.valid, expected {int(expect)}"
        if expect:
            raw = dut.out__payload.value
            assert raw.is_resolvable, f"input cycle {k}: X/Z on out.payload {raw}"
            got = _words(int(raw), lanes)
            want = gold.f32_func(cycles[k][1], cycles[k][2])
            assert np.array_equal(got, want), (
                f"input cycle {k}, func {VxmFuncOp(cycles[k][1]).name}: x {[f'{v:08x}' for v in cycles[k][2]]} "
                f"got {[f'{v:08x}' for v in got]} expected {[f'{v:08x}' for v in want]}")
            checked[VxmFuncOp(cycles[k][1])] += 1
        await Timer(1, unit="ns")
    dut._log.info("bit-exact result vectors per function: %s", {op.name: n for op, n in checked.items()})
    assert all(n > 0 for n in checked.values())
