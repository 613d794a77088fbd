"""cocotb testbench of one MXM plane (toplevel :class:`openlpu.rtl.mxm.MxmPlane`).

Every test drives a scenario from :mod:`openlpu.verif.mxm_scenarios` one
cycle at a time and compares, in every cycle, the ``result`` port with the
golden model's output for that cycle: ``valid`` must match exactly (timing)
and the data bit for bit when valid. Runs unchanged on Icarus and Verilator.

Environment: ``OPENLPU_CONFIG`` (JSON of the LpuConfig), ``OPENLPU_SEED``.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from openlpu.config import LpuConfig
from openlpu.golden.mxm import Cycle, MxmPlaneModel, gemm_schedule
from openlpu.rtl.mxm import ActivationLayout, ResultLayout, WeightLoadLayout
from openlpu.verif.mxm_scenarios import scenario, tile_loads, wrap_plan
from openlpu.verif.packing import int_to_planes, planes_to_int

CFG = LpuConfig.from_dict(json.loads(os.environ["OPENLPU_CONFIG"]))
SEED = int(os.environ.get("OPENLPU_SEED", "1"))


class MxmPorts:
    """Packs golden-model cycles into port values and unpacks results."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.load = {name: f.offset for name, f in WeightLoadLayout(cfg)}
        self.act = {name: f.offset for name, f in ActivationLayout(cfg)}
        self.res = {name: (f.offset, f.width) for name, f in ResultLayout(cfg)}

    def planes16(self, words):
        words = np.asarray(words, dtype=np.uint16)
        return planes_to_int(np.stack([words & 0xFF, words >> 8]).astype(np.uint8))

    def load_payload(self, load):
        """The ``load`` port's payload: first row, row count, and the rows in slots 0.. (each
        slot ``2 * lanes`` bytes, the two byte planes)."""
        slot_bits = 16 * self.cfg.lanes
        rows = sum(self.planes16(words) << (i * slot_bits) for i, words in enumerate(load.block))
        return (load.row << self.load["row"]) | (load.count << self.load["count"]) | (rows << self.load["data"])

    def act_payload(self, act):
        return ((self.planes16(act.words) << self.act["data"]) | (int(act.fp16) << self.act["fp16"])
                | (int(act.acc) << self.act["acc"]) | (act.addr << self.act["addr"]))

    def result(self, payload):
        off, width = self.res["data"]
        planes = int_to_planes((payload >> off) & ((1 << width) - 1), 4, self.cfg.lanes)
        values = planes[0].astype(np.uint32) | (planes[1].astype(np.uint32) << 8) \
            | (planes[2].astype(np.uint32) << 16) | (planes[3].astype(np.uint32) << 24)
        aoff, awidth = self.res["addr"]
        return (payload >> aoff) & ((1 << awidth) - 1), values


class MxmTb:
    def __init__(self, dut):
        self.dut = dut
        self.ports = MxmPorts(CFG)
        self.model = MxmPlaneModel(CFG)
        self.results = 0

    async def reset(self):
        dut = self.dut
        Clock(dut.clk, 10, unit="ns").start()
        self.idle()
        dut.rst.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0

    def idle(self):
        dut = self.dut
        dut.load__valid.value = 0
        dut.load__payload.value = 0
        dut.install.value = 0
        dut.act__valid.value = 0
        dut.act__payload.value = 0

    def drive(self, cyc):
        dut, ports = self.dut, self.ports
        dut.load__valid.value = int(cyc.load is not None)
        if cyc.load is not None:
            dut.load__payload.value = ports.load_payload(cyc.load)
        dut.install.value = int(cyc.install)
        dut.act__valid.value = int(cyc.act is not None)
        if cyc.act is not None:
            dut.act__payload.value = ports.act_payload(cyc.act)

    def check(self, t, expected):
        dut = self.dut
        # no X/Z on the outputs in any cycle, valid or not (Icarus shows them, Verilator has none)
        assert dut.result__valid.value.is_resolvable, f"cycle {t}: result.valid is {dut.result__valid.value}"
        assert dut.result__payload.value.is_resolvable, f"cycle {t}: X/Z on result.payload"
        valid = int(dut.result__valid.value)
        assert valid == (expected is not None), \
            f"cycle {t}: result.valid={valid}, golden model says {int(expected is not None)}"
        if expected is None:
            return
        addr, values = self.ports.result(int(dut.result__payload.value))
        exp_addr, exp_values = expected
        assert addr == exp_addr, f"cycle {t}: result row {addr}, expected {exp_addr}"
        if not np.array_equal(values, exp_values):
            bad = np.nonzero(values != exp_values)[0]
            raise AssertionError(
                f"cycle {t}: lanes {bad.tolist()} differ: got "
                f"{[hex(v) for v in values[bad]]}, expected {[hex(v) for v in exp_values[bad]]}")
        self.results += 1

    async def play(self, cycles):
        """Drive ``cycles`` then drain; check every cycle against the golden model."""
        total = len(cycles) + self.model.latency + 1
        for t in range(total):
            cyc = cycles[t] if t < len(cycles) else Cycle()
            self.drive(cyc)
            expected = self.model.step(cyc)
            await ReadOnly()
            self.check(t, expected)
            await RisingEdge(self.dut.clk)
        return total


async def _run(dut, name):
    tb = MxmTb(dut)
    await tb.reset()
    await RisingEdge(dut.clk)
    cycles = scenario(name, CFG, SEED)
    total = await tb.play(cycles)
    dut._log.info("%s: %d cycles, %d result vectors bit-exact (seed %d)", name, total, tb.results, SEED)
    assert tb.results > 0


@cocotb.test()
async def gemm_int8(dut):
    await _run(dut, "gemm_int8")


@cocotb.test()
async def gemm_fp16(dut):
    await _run(dut, "gemm_fp16")


@cocotb.test()
async def swaps(dut):
    """Back-to-back weight swaps: after fill, a result every cycle."""
    await _run(dut, "swaps")


@cocotb.test()
async def corners_int8(dut):
    await _run(dut, "corners_int8")


@cocotb.test()
async def corners_fp16(dut):
    await _run(dut, "corners_fp16")


@cocotb.test()
async def acc_reuse(dut):
    """Accumulations closer than MXM_ACC_REUSE_DISTANCE read what the golden model says."""
    await _run(dut, "acc_reuse")


@cocotb.test()
async def load_rows(dut):
    """Weight loads of every row count, partial groups, random group order."""
    await _run(dut, "load_rows")


@cocotb.test()
async def timing_first_last(dut):
    """A GEMM's first and last results appear on the cycles the schedule predicts."""
    tb = MxmTb(dut)
    await tb.reset()
    await RisingEdge(dut.clk)
    rng = np.random.default_rng(SEED)
    M, K, N = CFG.lanes + 2, 2 * CFG.lanes, CFG.lanes
    a = rng.integers(-128, 128, (M, K)).astype(np.int8)
    w = rng.integers(-128, 128, (K, N)).astype(np.int8)
    sched = gemm_schedule(CFG, a, w)
    seen = []
    for t in range(sched.length + 2):
        cyc = sched.cycles[t] if t < len(sched.cycles) else Cycle()
        tb.drive(cyc)
        await ReadOnly()
        if int(dut.result__valid.value):
            seen.append(t)
        await RisingEdge(dut.clk)
    first_predicted = sched.first_act + tb.model.latency
    assert seen[0] == first_predicted, f"first result in cycle {seen[0]}, predicted {first_predicted}"
    assert seen[-1] == max(sched.collect), f"last result in cycle {seen[-1]}, predicted {max(sched.collect)}"
    assert seen[-1] == sched.length - 1
    dut._log.info("first result at cycle %d, last at %d: as predicted", seen[0], seen[-1])


@cocotb.test()
async def wrap_int8(dut):
    """int32 accumulation wraps modulo 2**32 (constant inputs held for many cycles)."""
    tb = MxmTb(dut)
    await tb.reset()
    weights, act_words, passes = wrap_plan(CFG)
    ports = tb.ports
    # load the tile
    from openlpu.golden.mxm import Act
    loads = tile_loads(CFG, weights)
    for j, load in enumerate(loads):
        tb.drive(Cycle(load=load, install=j == len(loads) - 1))
        await RisingEdge(dut.clk)
    tb.idle()
    # first pass starts row 0, then hold "accumulate into row 0" for passes-1 cycles
    dut.act__valid.value = 1
    dut.act__payload.value = ports.act_payload(Act(act_words, acc=False, addr=0))
    await RisingEdge(dut.clk)
    dut.act__payload.value = ports.act_payload(Act(act_words, acc=True, addr=0))
    await ClockCycles(dut.clk, passes - 1)
    dut.act__valid.value = 0
    await ClockCycles(dut.clk, tb.model.latency - 1)
    await ReadOnly()
    assert int(dut.result__valid.value) == 1
    _, values = ports.result(int(dut.result__payload.value))
    per_pass = CFG.lanes * 128 * 128
    expected = np.int64(passes * per_pass)
    expected = (expected + 2**31) % 2**32 - 2**31
    assert expected < 0, "the plan must wrap"
    got = values.view(np.int32)
    assert (got == expected).all(), f"after {passes} passes got {got}, expected {expected} (wrapped)"
    await RisingEdge(dut.clk)
    await ReadOnly()
    assert int(dut.result__valid.value) == 0, "exactly one result per activation"
    dut._log.info("%d accumulations wrapped to %d as int32", passes, expected)
