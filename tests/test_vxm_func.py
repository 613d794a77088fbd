"""VXM fp32 transcendentals: golden-model checks, Amaranth-simulator tests, cocotb, lint."""

import json

import numpy as np
import pytest

from openlpu import timing
from openlpu.config import preset
from openlpu.golden import vxm_func as gold
from openlpu.golden.vxm_func import VxmFuncOp
from openlpu.rtl.vxm_func import VxmFunc
from openlpu.verif.runner import (BUILD_ROOT, SIMULATORS, amaranth_run, lint, require_simulator, run_cocotb,
                                 valid_cycles, write_verilog)

TINY = preset("tiny")


def _f(values):
    return np.array(values, dtype=np.float32).view(np.uint32)


def _hex(bits):
    return [f"{int(b):08x}" for b in bits]


# --- golden model ----------------------------------------------------------------------

SPECIALS = {
    # input bits -> (exp, recip, rsqrt, tanh), written from the documented policy
    0x00000000: (0x3F800000, 0x7F800000, 0x7F800000, 0x00000000),
    0x80000000: (0x3F800000, 0xFF800000, 0xFF800000, 0x80000000),
    0x00000001: (0x3F800000, 0x7F800000, 0x7F800000, 0x00000000),   # subnormal: flushed
    0x807FFFFF: (0x3F800000, 0xFF800000, 0xFF800000, 0x80000000),
    0x7F800000: (0x7F800000, 0x00000000, 0x00000000, 0x3F800000),
    0xFF800000: (0x00000000, 0x80000000, 0x7FC00000, 0xBF800000),
    0x7F800001: (0x7FC00000,) * 4,
    0xFFFFFFFF: (0x7FC00000,) * 4,
    0x3F800000: (0x402DF854, 0x3F800000, 0x3F800000, 0x3F42F7D6),   # e, 1, 1, tanh(1)
    0xBF800000: (0x3EBC5AB2, 0xBF800000, 0x7FC00000, 0xBF42F7D6),
    0x40800000: (0x425A6481, 0x3E800000, 0x3F000000, 0x3F7FD40C),   # x = 4
    0x43000000: (0x7F800000, 0x3C000000, 0x3DB504F3, 0x3F800000),   # x = 128
    0xC3000000: (0x00000000, 0xBC000000, 0x7FC00000, 0xBF800000),
    0x7E800001: (0x7F800000, 0x00000000, 0x1FFFFFFF, 0x3F800000),   # 1/x would be subnormal
    0x39000000: (0x3F800400, 0x46000000, 0x42B504F3, 0x39000000),   # 2**-13: tanh(x) = x
}


@pytest.mark.parametrize("op", list(VxmFuncOp))
def test_golden_special_cases(op):
    x = np.array(list(SPECIALS), dtype=np.uint32)
    expected = [SPECIALS[int(v)][op] for v in x]
    assert _hex(gold.f32_func(op, x)) == _hex(expected)


def test_golden_named_functions():
    x = gold.random_operands(np.random.default_rng(2), 500)
    for op, fn in [(VxmFuncOp.EXP, gold.f32_exp), (VxmFuncOp.RECIP, gold.f32_recip),
                   (VxmFuncOp.RSQRT, gold.f32_rsqrt), (VxmFuncOp.TANH, gold.f32_tanh)]:
        assert np.array_equal(fn(x), gold.f32_func(op, x))


REFERENCE = {VxmFuncOp.EXP: (np.exp, -87.0, 88.0), VxmFuncOp.RECIP: (np.reciprocal, 1e-30, 1e30),
             VxmFuncOp.RSQRT: (lambda v: 1 / np.sqrt(v), 1e-30, 1e30), VxmFuncOp.TANH: (np.tanh, -10.0, 10.0)}


@pytest.mark.parametrize("op", list(VxmFuncOp))
def test_golden_within_one_ulp_of_float64(op):
    """Every result within 1 ulp of the correctly rounded float64 function (docs: measured max)."""
    fn, lo, hi = REFERENCE[op]
    rng = np.random.default_rng(int(op))
    if lo > 0:
        x = np.exp(rng.uniform(np.log(lo), np.log(hi), 20000)) * rng.choice([-1, 1], 20000)
        if op == VxmFuncOp.RSQRT:
            x = np.abs(x)
    else:
        x = rng.uniform(lo, hi, 20000)
    x = x.astype(np.float32)
    ref = fn(x.astype(np.float64)).astype(np.float32).view(np.uint32).astype(np.int64)
    got = gold.f32_func(op, x.view(np.uint32)).astype(np.int64)
    # same sign everywhere here, so the bit patterns' distance is the ulp distance
    assert np.max(np.abs(got - ref)) <= 1


def test_rom_shape_and_reproducible():
    table = gold.rom()
    assert len(table) == gold.ROM_DEPTH == 2496
    # 2**0 and 1/1 at u = 0: the interpolant is within 2**-24 of 1.0 at the segment's end
    assert abs(table[gold.ROM_BASE[VxmFuncOp.EXP]][0] - (1 << 32)) < 1 << 8
    assert abs(table[gold.ROM_BASE[VxmFuncOp.RECIP]][0] - (1 << 32)) < 1 << 8
    gold.rom.cache_clear()
    assert gold.rom() == table


def test_bad_input_rejected():
    with pytest.raises(ValueError, match="function select"):
        gold.f32_func(4, np.zeros(2, dtype=np.uint32))
    with pytest.raises(TypeError, match="uint32"):
        gold.f32_exp(np.zeros(2, dtype=np.float32))
    with pytest.raises(TypeError, match="LpuConfig"):
        VxmFunc("tiny")


# --- Amaranth simulator --------------------------------------------------------------------

def _amaranth_run(cfg, cycles):
    dut = VxmFunc(cfg)
    lat = timing.VXM_FUNC_LATENCY
    checked = []

    async def bench(ctx):
        for t in range(len(cycles) + lat + 1):
            if t < len(cycles):
                valid, func, x = cycles[t]
                ctx.set(dut.a.valid, valid)
                ctx.set(dut.func, func)
                for lane in range(cfg.lanes):
                    for p in range(4):
                        ctx.set(dut.a.payload[p][lane], (int(x[lane]) >> (8 * p)) & 0xFF)
            else:
                ctx.set(dut.a.valid, 0)
            k = t - lat
            expect = 0 <= k < len(cycles) and cycles[k][0]
            assert ctx.get(dut.out.valid) == expect, f"cycle {t}: out.valid"
            if expect:
                got = [sum(ctx.get(dut.out.payload[p][lane]) << (8 * p) for p in range(4))
                       for lane in range(cfg.lanes)]
                want = gold.f32_func(cycles[k][1], cycles[k][2])
                assert _hex(got) == _hex(want), f"input cycle {k}, func {cycles[k][1]}, x {_hex(cycles[k][2])}"
                checked.append(k)
            await ctx.tick()

    amaranth_run(dut, bench)
    return checked


def test_amaranth_sim_tiny():
    cycles = gold.stimulus(TINY.lanes, 1, 160)
    checked = _amaranth_run(TINY, cycles)
    assert len(checked) == sum(v for v, _, _ in cycles) > 100


@pytest.mark.slow
def test_amaranth_sim_small_long():
    small = preset("small")
    cycles = gold.stimulus(small.lanes, 11, 1500)
    assert len(_amaranth_run(small, cycles)) == sum(v for v, _, _ in cycles)


def _measured_latency(dut, horizon=4 * timing.VXM_FUNC_LATENCY):
    """Cycles from the one cycle with ``a.valid`` high to the first with ``out.valid``
    high, counted in the Amaranth simulator (``None``: no result within ``horizon``)."""
    def drive(ctx, t):
        ctx.set(dut.a.valid, t == 0)
        ctx.set(dut.func, VxmFuncOp.EXP)
    seen = valid_cycles(dut, drive, dut.out.valid, horizon)
    return seen[0] if seen else None


def test_amaranth_sim_latency_measured():
    """The pipeline's latency counted in simulation is the one the timing model, the
    unit's ``latency`` property and the golden model's ``latency()`` state (the
    compiler and the chip schedule with it)."""
    dut = VxmFunc(TINY)
    assert _measured_latency(dut) == timing.VXM_FUNC_LATENCY == dut.latency == gold.latency()


# --- cocotb and lint ---------------------------------------------------------------------

@pytest.mark.parametrize("sim", SIMULATORS)
def test_cocotb(sim):
    require_simulator(sim)
    run_cocotb(sim=sim, toplevel="vxm_func", component=lambda: VxmFunc(TINY), test_module="openlpu.verif.tb_vxm_func",
               key="tiny", extra_env={"OPENLPU_CONFIG": json.dumps(TINY.as_dict()), "OPENLPU_SEED": "7"})


@pytest.mark.slow
def test_cocotb_verilator_long():
    """200,000 random lane results on Verilator (the tiny build of test_cocotb)."""
    require_simulator("verilator")
    run_cocotb(sim="verilator", toplevel="vxm_func", component=lambda: VxmFunc(TINY),
               test_module="openlpu.verif.tb_vxm_func", key="tiny", test_name="long",
               extra_env={"OPENLPU_CONFIG": json.dumps(TINY.as_dict()), "OPENLPU_SEED": "12",
                          "OPENLPU_COUNT": "25000"})


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_lint_clean(name):
    require_simulator("verilator")
    path = write_verilog(VxmFunc(preset(name)), "vxm_func", BUILD_ROOT / "lint" / f"vxm_func-{name}.v")
    result = lint(path, top="vxm_func")
    assert result.returncode == 0, result.stderr
