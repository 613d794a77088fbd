"""rtl/arith.py: leading-zero count, priority select and the shift-and-add multipliers,
on the Amaranth simulator against Python."""

import numpy as np
import pytest
from amaranth.hdl import Const, Module, Signal, signed
from amaranth.sim import Simulator

from openlpu.golden import vxm_func as gold
from openlpu.rtl.arith import csd_digits, leading_zeros, mul_const, mul_s8_lut, priority_select


def _run(m, bench):
    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("width, leaf, balanced", [(22, 32, False), (27, 8, False), (8, 8, False),
                                                   (16, 2, False), (16, 16, True), (8, 8, True)])
def test_leading_zeros(width, leaf, balanced):
    """Both forms count the leading zeros of every value of a few widths (a zero value:
    ``width``, or ``width - 1`` for the balanced form, whose callers never pass one)."""
    m = Module()
    x, lz = Signal(width), Signal(range(width + 1))
    m.d.comb += lz.eq(leading_zeros(x, width, leaf=leaf, balanced=balanced))
    values = range(1 << width) if width <= 8 else [0, 1, (1 << width) - 1] + [1 << i for i in range(width)] + [
        int(v) for v in np.random.default_rng(width).integers(0, 1 << width, 300)]

    async def bench(ctx):
        for v in values:
            ctx.set(x, v)
            want = width - v.bit_length() if v else (width - 1 if balanced else width)
            assert ctx.get(lz) == want, (v, ctx.get(lz))
    _run(m, bench)


def test_priority_select_takes_the_first_case_that_holds():
    m = Module()
    c = Signal(3)
    y = Signal(8)
    m.d.comb += y.eq(priority_select([(c[0], 10), (c[1], 20), (c[2], 30)], Const(99, 8)))

    async def bench(ctx):
        for v in range(8):
            ctx.set(c, v)
            want = 10 if v & 1 else 20 if v & 2 else 30 if v & 4 else 99
            assert ctx.get(y) == want, v
    _run(m, bench)


@pytest.mark.parametrize("c", [0, 1, 2, 3, 7, 0b1011, 0xFFFF, 1 << 35, gold.LOG2E])
def test_csd_digits(c):
    digits = csd_digits(c)
    assert sum(d << s for s, d in digits) == c
    assert all(d in (1, -1) for _, d in digits)
    shifts = [s for s, _ in digits]
    assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:])), "adjacent nonzero digits"
    assert len(digits) <= bin(c).count("1")
    with pytest.raises(ValueError, match="non-negative"):
        csd_digits(-1)


def test_mul_const_exact():
    """The adder-built product of exp's stage 2, at the corners and at random, against Python's."""
    m = Module()
    x, y = Signal(24), Signal(60)
    m.d.comb += y.eq(mul_const(x, gold.LOG2E, 60))
    rng = np.random.default_rng(7)
    values = [0, 1, 0x800000, 0xFFFFFF, 0xAAAAAA, 0x555555] + [int(v) for v in rng.integers(0, 1 << 24, 200)]

    async def bench(ctx):
        for v in values:
            ctx.set(x, v)
            assert ctx.get(y) == v * gold.LOG2E, hex(v)
    _run(m, bench)


def test_lut_product_is_the_product():
    """:func:`mul_s8_lut` equals ``x * w`` for all 65,536 signed 8-bit pairs."""
    xs = Signal(signed(8))
    ws = [Signal(signed(8), name=f"w{j}") for j in range(256)]
    ps = [Signal(signed(16), name=f"p{j}") for j in range(256)]
    m = Module()
    m.d.comb += [p.eq(mul_s8_lut(xs, w)) for p, w in zip(ps, ws)]
    bad = []

    async def bench(ctx):
        for j, w in enumerate(ws):
            ctx.set(w, j - 128)
        for x in range(-128, 128):
            ctx.set(xs, x)
            got = [ctx.get(p) for p in ps]
            bad.extend((x, j - 128, g) for j, g in enumerate(got) if g != x * (j - 128))
    _run(m, bench)
    assert not bad, f"{len(bad)} wrong products, first {bad[:3]}"
