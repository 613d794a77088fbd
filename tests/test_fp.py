"""rtl/fp.py against golden/fp.py in the Amaranth simulator, and golden/fp.py against
independent oracles (numpy float16/float32/float64, ml_dtypes, exact fractions).

Floats are compared as bit patterns; the oracles' NaN payloads are canonicalised first.
"""

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from openlpu.golden import fp as gfp
from openlpu.rtl import fp as rfp

FMT = {"fp16": rfp.F16, "fp32": rfp.F32}
WIDTH = {"fp16": 16, "fp32": 32}
INTS = {"int8": 8, "int16": 16, "int32": 32}


def _eval(fn, widths, out_width, vectors):
    """Evaluate the combinational ``fn(m, *inputs)`` on each row of ``vectors``."""
    m = Module()
    ins = [Signal(w, name=f"in{i}") for i, w in enumerate(widths)]
    out = Signal(out_width)
    m.d.comb += out.eq(fn(m, *ins))
    got = []

    async def tb(ctx):
        for row in vectors:
            for s, v, w in zip(ins, row, widths):
                ctx.set(s, int(v) & ((1 << w) - 1))
            got.append(ctx.get(out))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    return np.array(got, dtype=np.int64)


def corners(fmt):
    """Zeros of both signs, subnormal boundaries, 1, max finite, Inf, NaNs, in both signs."""
    e, mb = gfp.FORMATS[fmt]
    emax = (1 << e) - 1
    mags = [0, 1, 2, 3, (1 << mb) - 1, 1 << mb, (1 << mb) + 1,               # subnormals / min normal
            ((1 << (e - 1)) - 1) << mb, (((1 << (e - 1)) - 1) << mb) | 1,    # 1.0, 1 + ulp
            ((1 << (e - 1)) - 2) << mb | ((1 << mb) - 1),                   # largest below 1
            ((emax - 1) << mb) | ((1 << mb) - 1), (emax - 1) << mb,          # max finite, its binade
            emax << mb, (emax << mb) | 1, (emax << mb) | (1 << (mb - 1))]   # Inf, sNaN, qNaN
    sign = 1 << (e + mb)
    return np.array(mags + [x | sign for x in mags], dtype=np.int64)


def operands(fmt, rng, n, k):
    """``k`` operand columns: every pair of corners, then random bits and near-1 values (RNE ties)."""
    c = corners(fmt)
    w = WIDTH[fmt]
    cols = [np.resize(np.repeat(c, len(c) ** (k - 1 - i)), len(c) ** k) for i in range(k)] if k <= 2 else \
        [rng.choice(c, len(c) ** 2) for _ in range(k)]
    rnd = [rng.integers(0, 1 << w, n) for _ in range(k)]
    e, mb = gfp.FORMATS[fmt]
    one = ((1 << (e - 1)) - 1) << mb
    near = [one + rng.integers(-(1 << mb), 1 << mb, n // 4) | (rng.integers(0, 2, n // 4) << (w - 1))
            for _ in range(k)]
    return np.stack([np.concatenate([a, b, d]) for a, b, d in zip(cols, rnd, near)], axis=1)


def _np_bits(fmt, x):
    return np.asarray(x, dtype=np.int64).astype({"fp16": np.uint16, "fp32": np.uint32}[fmt])


def _canon(fmt, bits):
    bits = np.asarray(bits, dtype=np.int64)
    return np.where(gfp.is_nan(fmt, bits), gfp._QNAN[fmt], bits)


def _np_op(fmt, op, *xs):
    f = [_np_bits(fmt, x).view({"fp16": np.float16, "fp32": np.float32}[fmt]) for x in xs]
    with np.errstate(all="ignore"):
        r = op(*f).astype(f[0].dtype)
    return _canon(fmt, r.view({"fp16": np.uint16, "fp32": np.uint32}[fmt]).astype(np.int64))


# --- existing blocks --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["fp16", "fp32"])
def test_f_add(fmt):
    v = operands(fmt, np.random.default_rng(1), 600, 2)
    got = _eval(lambda m, a, b: rfp.f_add(m, FMT[fmt], a, b), [WIDTH[fmt]] * 2, WIDTH[fmt], v)
    want = gfp.f_add(fmt, v[:, 0], v[:, 1]).astype(np.int64)
    assert (got == want).all()
    # numpy's float16/float32 additions are correctly rounded (fp16 through float32, which is exact)
    assert (want == _np_op(fmt, np.add, v[:, 0], v[:, 1])).all()
    if fmt == "fp32":
        assert (want == gfp.f32_add(v[:, 0], v[:, 1])).all()


def test_f32_add_and_f16_mul_f32():
    rng = np.random.default_rng(2)
    v = operands("fp32", rng, 400, 2)
    got = _eval(lambda m, a, b: rfp.f32_add(m, a, b), [32, 32], 32, v)
    assert (got == gfp.f32_add(v[:, 0], v[:, 1])).all()
    h = operands("fp16", rng, 400, 2)
    got = _eval(lambda m, a, b: rfp.f16_mul_f32(m, a, b), [16, 16], 32, h)
    want = gfp.f16_mul_f32(h[:, 0], h[:, 1]).astype(np.int64)
    assert (got == want).all()
    # exact: fp16 -> fp32 then a float64 product, rounded to fp32, changes nothing
    a, b = (_np_bits("fp16", x).view(np.float16).astype(np.float64) for x in (h[:, 0], h[:, 1]))
    with np.errstate(all="ignore"):
        ref = (a * b).astype(np.float32).view(np.uint32).astype(np.int64)
    assert (want == _canon("fp32", ref)).all()


@pytest.mark.parametrize("stages", [1, 2, 3])
def test_f32_add_pipe(stages):
    """The pipelined fp32 adder, one new operand pair per cycle, against golden f32_add:
    corner pairs, random bits, near-1 values (RNE ties), and sums that cancel to
    subnormals and zeros; its registered result appears exactly ``stages`` cycles later."""
    rng = np.random.default_rng(20 + stages)
    v = operands("fp32", rng, 1200, 2)
    x = rng.integers(0, 1 << 32, 300)
    near = x ^ rng.integers(0, 1 << 4, 300) ^ (1 << 31)             # x + (about -x): cancellation
    tiny = rng.integers(0, 1 << 24, (300, 2)) | (rng.integers(0, 2, (300, 2)) << 31)   # subnormal/min normal
    v = np.concatenate([v, np.stack([x, near], axis=1), tiny])
    m = Module()
    a, b, out = Signal(32), Signal(32), Signal(32)
    m.d.sync += out.eq(rfp.f32_add_pipe(m, a, b, stages))
    got = {}

    async def tb(ctx):
        for t in range(len(v) + stages):
            if t < len(v):
                ctx.set(a, int(v[t, 0]))
                ctx.set(b, int(v[t, 1]))
            await ctx.tick()
            if t + 1 - stages >= 0:
                got[t + 1 - stages] = ctx.get(out)

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    got = np.array([got[i] for i in range(len(v))], dtype=np.int64)
    want = gfp.f32_add(v[:, 0], v[:, 1]).astype(np.int64)
    bad = np.nonzero(got != want)[0]
    assert not len(bad), [(hex(v[i, 0]), hex(v[i, 1]), hex(got[i]), hex(want[i])) for i in bad[:5]]


def test_f_add_pipe_stages_checked():
    with pytest.raises(ValueError, match="stages"):
        rfp.f32_add_pipe(Module(), Signal(32), Signal(32), 4)


# --- multiply, fused multiply-add --------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["fp16", "fp32"])
def test_f_mul(fmt):
    v = operands(fmt, np.random.default_rng(3), 600, 2)
    # products landing in the subnormal range and just past the overflow threshold
    e, mb = gfp.FORMATS[fmt]
    rng = np.random.default_rng(4)
    half = (1 << (e - 2)) << mb
    edge = np.stack([rng.integers(half - (3 << mb), half + (3 << mb), 200),
                     rng.integers(half - (3 << mb), half + (3 << mb), 200) ^ (1 << (e + mb - 1))], axis=1)
    v = np.concatenate([v, edge, edge[:, ::-1] ^ (1 << (e + mb - 1))])
    got = _eval(lambda m, a, b: rfp.f_mul(m, FMT[fmt], a, b), [WIDTH[fmt]] * 2, WIDTH[fmt], v)
    want = gfp.f_mul(fmt, v[:, 0], v[:, 1]).astype(np.int64)
    assert (got == want).all()
    assert (want == _np_op(fmt, np.multiply, v[:, 0], v[:, 1])).all()


def _exact_fma(fmt, a, b, c):
    """Independent oracle: Fractions, then a round to nearest even by search of the neighbours."""
    dt = {"fp16": np.float16, "fp32": np.float32}[fmt]
    x, y, z = (float(_np_bits(fmt, v).view(dt)) for v in (a, b, c))
    if not all(np.isfinite([x, y, z])):
        return None
    exact = Fraction(x) * Fraction(y) + Fraction(z)
    if abs(exact) >= Fraction(float(np.finfo(dt).max)):
        return None                            # overflow: checked by the directed cases
    r = dt(float(exact))                      # float64 rounding first, then fix the double rounding
    cands = [r, np.nextafter(r, dt(np.inf)), np.nextafter(r, dt(-np.inf))]
    best = min(cands, key=lambda f: (abs(Fraction(float(f)) - exact) if np.isfinite(f) else Fraction(10**400),
                                     int(np.array(f).view({"fp16": np.uint16, "fp32": np.uint32}[fmt])) & 1))
    if exact == 0:
        return None                            # zero signs: checked by the directed cases
    return int(np.array(best).view({"fp16": np.uint16, "fp32": np.uint32}[fmt]))


def test_fma_fp32():
    rng = np.random.default_rng(5)
    v = operands("fp32", rng, 500, 3)
    # cancellation: c close to -a*b
    a = rng.integers(0x3F000000, 0x40000000, 300)
    b = rng.integers(0x3F000000, 0x40000000, 300)
    p = gfp.f_mul("fp32", a, b).astype(np.int64)
    c = (p ^ 0x80000000) + rng.integers(-3, 4, 300)
    # c far above and far below the product (sticky paths), and tiny products with subnormal c
    far = np.stack([a, b, rng.integers(0x5F000000, 0x60000000, 300) | (rng.integers(0, 2, 300) << 31)], axis=1)
    low = np.stack([rng.integers(0x00000001, 0x01000000, 300), rng.integers(0x30000000, 0x3F800000, 300),
                    rng.integers(0, 0x00800000, 300) | (rng.integers(0, 2, 300) << 31)], axis=1)
    v = np.concatenate([v, np.stack([a, b, c], axis=1), far, low, far[:, [2, 1, 0]]])
    got = _eval(lambda m, x, y, z: rfp.f_fma(m, rfp.F32, x, y, z), [32] * 3, 32, v)
    want = gfp.fma("fp32", v[:, 0], v[:, 1], v[:, 2]).astype(np.int64)
    bad = np.nonzero(got != want)[0]
    assert not len(bad), [(hex(v[i, 0]), hex(v[i, 1]), hex(v[i, 2]), hex(got[i]), hex(want[i])) for i in bad[:5]]
    # oracle 1: float64 product (exact) + c where the float64 sum is exact -> one float32 rounding
    x, y, z = (_np_bits("fp32", v[:, i]).view(np.float32).astype(np.float64) for i in range(3))
    with np.errstate(all="ignore"):
        prod = x * y
        s = prod + z
        exact = np.isfinite(s) & ((s - prod) == z) & ((s - z) == prod) & (s != 0)
        ref = _canon("fp32", s.astype(np.float32).view(np.uint32).astype(np.int64))
    assert exact.sum() > 500
    assert (want[exact] == ref[exact]).all()
    # oracle 2: Fractions on a sample
    for i in range(0, len(v), 7):
        o = _exact_fma("fp32", *v[i])
        if o is not None:
            assert o == want[i], [hex(t) for t in v[i]]


def test_fma_fp16_and_zero_signs():
    v = operands("fp16", np.random.default_rng(6), 400, 3)
    got = _eval(lambda m, x, y, z: rfp.f_fma(m, rfp.F16, x, y, z), [16] * 3, 16, v)
    want = gfp.fma("fp16", v[:, 0], v[:, 1], v[:, 2]).astype(np.int64)
    assert (got == want).all()
    for i in range(len(v)):
        o = _exact_fma("fp16", *v[i])
        if o is not None:
            assert o == want[i]
    one, neg0 = 0x3F800000, 0x80000000
    cases = {(0, one, 0): 0, (neg0, one, neg0): neg0, (neg0, one, 0): 0, (0, one, neg0): 0,
             (one, one, 0xBF800000): 0, (0x7F800000, 0, one): gfp.F32_QNAN,
             (0x7F800000, one, 0xFF800000): gfp.F32_QNAN, (0x7F800000, one, 0x7F800000): 0x7F800000,
             (0x7F7FFFFF, 0x40000000, 0xFF7FFFFF): 0x7F7FFFFF}
    assert [int(gfp.fma("fp32", *k)) for k in cases] == list(cases.values())


@pytest.mark.parametrize("fmt", ["fp16", "fp32"])
def test_vectorised_fma_equals_the_exact_integer_fma(fmt):
    """gfp.fma (float64 with round-to-odd) returns the bits of gfp.fma_exact (Python integers,
    one round_pack) on every triple of special values (zeros, smallest and largest subnormal
    and normal, one, Inf, NaN, both signs), on random triples, on c within 3 ulps of -(a*b),
    and on small exponents whose results are subnormal."""
    e, m = gfp.FORMATS[fmt]
    w = e + m + 1
    base = [0, 1, 2, 3, (1 << m) - 1, 1 << m, (1 << m) + 1, ((1 << e) - 2) << m | ((1 << m) - 1),
            ((1 << e) - 1) << m, ((1 << e) - 1) << m | 1, ((1 << (e - 1)) - 1) << m, ((1 << (e - 1)) - 1) << m | 1]
    sp = np.array(base + [x | 1 << (w - 1) for x in base], dtype=np.int64)
    triples = [g.ravel() for g in np.meshgrid(sp, sp, sp)]
    rng = np.random.default_rng(11)
    n = 20000
    rand = [rng.integers(0, 1 << w, n) for _ in range(3)]
    near = rand[:2] + [(gfp.f_mul(fmt, rand[0], rand[1]).astype(np.int64) ^ 1 << (w - 1))
                       + rng.integers(-3, 4, n) & ((1 << w) - 1)]
    tiny = [(v & (1 << (w - 1) | (1 << m) - 1)) | rng.integers(0, (1 << (e - 1)) + 3, n) << m for v in rand]
    sets = [triples, rand, near, tiny]
    if fmt == "fp32":
        # a*b = 2**-24 * (1 + 4688 * 2**-46) and c = 1: the exact sum lies 2**-57.8 above the midpoint
        # 1 + 2**-24, to which float64 rounds it (a double rounding would give 1.0, not 1 + 2**-23);
        # also scaled by powers of two, in both signs
        a = np.float32((2**23 + 2896) * 2.0**-47).view(np.uint32).astype(np.int64)
        b = np.float32((2**23 - 2895) * 2.0**-23).view(np.uint32).astype(np.int64)
        k = np.arange(-20, 21)
        sign = (k & 1).astype(np.int64) << 31
        sets.append([a + (k << 23) ^ sign, np.full(k.shape, b), (0x3F800000 + (k << 23)) ^ sign])
        assert (gfp.fma_exact(fmt, *sets[-1]) & 1).all()      # every one rounds away from the even midpoint
    for v in sets:
        got, want = gfp.fma(fmt, *v), gfp.fma_exact(fmt, *v)
        bad = np.nonzero(got != want)[0]
        assert not len(bad), [(hex(int(v[0][i])), hex(int(v[1][i])), hex(int(v[2][i])), hex(int(got[i])),
                               hex(int(want[i]))) for i in bad[:5]]


# --- compare, min/max ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["fp16", "fp32"])
def test_compare_minmax(fmt):
    v = operands(fmt, np.random.default_rng(7), 300, 2)
    v = np.concatenate([v, np.stack([v[:, 0], v[:, 0]], axis=1)])       # equal operands

    def flags(m, a, b):
        un, eq, lt = rfp.f_cmp(m, FMT[fmt], a, b)
        return un | (eq << 1) | (lt << 2)
    got = _eval(flags, [WIDTH[fmt]] * 2, 3, v)
    eq = gfp.f_cmp(fmt, "eq", v[:, 0], v[:, 1])
    lt = gfp.f_cmp(fmt, "lt", v[:, 0], v[:, 1])
    un = gfp.is_nan(fmt, v[:, 0]) | gfp.is_nan(fmt, v[:, 1])
    assert ((got & 1) == un).all() and (((got >> 1) & 1) == eq).all() and (((got >> 2) & 1) == lt).all()
    # golden predicates: IEEE, every one but ne false when unordered
    for p in gfp.CMP:
        r = gfp.f_cmp(fmt, p, v[:, 0], v[:, 1])
        assert (r[un] == (p == "ne")).all()
    for take_max in (0, 1):
        got = _eval(lambda m, a, b: rfp.f_minmax(m, FMT[fmt], a, b, take_max), [WIDTH[fmt]] * 2, WIDTH[fmt], v)
        want = gfp.f_minmax(fmt, v[:, 0], v[:, 1], take_max).astype(np.int64)
        assert (got == want).all()
    # IEEE-754-2019 minimum/maximum: NaN propagates, -0 < +0
    z = {"fp16": 0x8000, "fp32": 0x80000000}[fmt]
    assert int(gfp.f_minmax(fmt, 0, z, 0)) == z and int(gfp.f_minmax(fmt, z, 0, 1)) == 0
    ok = ~un
    ref = _np_op(fmt, np.minimum, v[:, 0], v[:, 1])
    mine = gfp.f_minmax(fmt, v[:, 0], v[:, 1], 0).astype(np.int64)
    nz = ok & (ref & ~(1 << (WIDTH[fmt] - 1)) != 0)                      # numpy leaves the sign of +-0 open
    assert (mine[nz] == ref[nz]).all() and (mine[un] == gfp._QNAN[fmt]).all()


# --- conversions -------------------------------------------------------------------------------

def _ref_f2i(fmt, bits, itype):
    """numpy/ml_dtypes oracle: rint (nearest even), clip, NaN -> 0."""
    f = _np_bits(fmt, bits).view({"fp16": np.float16, "fp32": np.float32}[fmt]).astype(np.float64)
    w = INTS[itype]
    r = np.rint(np.nan_to_num(f, nan=0.0, posinf=2.0 ** w, neginf=-2.0 ** w))
    return np.clip(r, -(2 ** (w - 1)), 2 ** (w - 1) - 1).astype(np.int64)


ALL16 = np.arange(1 << 16, dtype=np.int64)


def test_fp16_unary_exhaustive_golden():
    """Every fp16 input through each conversion out of fp16 and back in, against numpy/ml_dtypes."""
    f = ALL16.astype(np.uint16).view(np.float16)
    up = gfp.float_to_float("fp16", "fp32", ALL16).astype(np.int64)
    assert (up == _canon("fp32", f.astype(np.float32).view(np.uint32).astype(np.int64))).all()
    for it in INTS:
        assert (gfp.float_to_int("fp16", ALL16, it) == _ref_f2i("fp16", ALL16, it)).all()
    # fp32 -> fp16 on every fp16 value widened, and on each midpoint between neighbours (ties)
    down = gfp.float_to_float("fp32", "fp16", up).astype(np.int64)
    assert (down == _canon("fp16", ALL16)).all()
    fin = np.isfinite(f) & (f != np.float16(65504)) & (f != -np.float16(65504))
    nxt = np.nextafter(f[fin], np.copysign(np.float16(np.inf), f[fin]))
    mid = ((f[fin].astype(np.float64) + nxt.astype(np.float64)) / 2).astype(np.float32)
    got = gfp.float_to_float("fp32", "fp16", mid.view(np.uint32).astype(np.int64))
    assert (got == mid.astype(np.float16).view(np.uint16)).all()
    # int16 -> fp16 for every int16 value
    i16 = ALL16 - (1 << 15)
    assert (gfp.int_to_float("fp16", i16) == i16.astype(np.float16).view(np.uint16)).all()


def test_conversions_golden_fp32_int():
    rng = np.random.default_rng(8)
    x = np.concatenate([corners("fp32"), rng.integers(0, 1 << 32, 3000),
                        np.array([0x4F000000, 0xCF000000, 0x4EFFFFFF, 0x3F000000, 0x3FC00000, 0x40200000,
                                  0xBF000000, 0xBFC00000, 0x43000000, 0xC3000000, 0x42FF0000, 0x43010000])])
    for it in INTS:
        assert (gfp.float_to_int("fp32", x, it) == _ref_f2i("fp32", x, it)).all(), it
    i = np.concatenate([rng.integers(-2**31, 2**31, 3000), [-2**31, 2**31 - 1, 2**24 + 1, 2**24 + 3, 65519, 65520,
                                                              -65520, 2049, 2051]])
    assert (gfp.int_to_float("fp32", i) == i.astype(np.float32).view(np.uint32)).all()
    # int -> fp16: exact in float64, then numpy's correctly rounded float64 -> float16
    assert (gfp.int_to_float("fp16", i) == i.astype(np.float64).astype(np.float16).view(np.uint16)).all()
    # and the same through ml_dtypes' bfloat16 path for int -> bf16-representable values
    small = i[np.abs(i) < 256]
    assert (gfp.int_to_float("fp32", small) == small.astype(ml_dtypes.bfloat16).astype(np.float32).view(np.uint32)).all()


PAIRS = [(s, d) for s in ["int8", "int16", "int32", "fp16", "fp32"]
         for d in ["int8", "int16", "int32", "fp16", "fp32"] if s != d]
_TW = {"int8": 8, "int16": 16, "int32": 32, "fp16": 16, "fp32": 32}


def _conv_rtl(src, dst):
    def fn(m, x):
        if src in INTS and dst in INTS:
            v = x[:_TW[src]].as_signed()
            lo, hi = -(1 << (_TW[dst] - 1)), (1 << (_TW[dst] - 1)) - 1
            from amaranth.hdl import Mux
            return Mux(v < lo, lo, Mux(v > hi, hi, v))[:_TW[dst]]
        if src in INTS:
            return rfp.int_to_float(m, FMT[dst], x[:_TW[src]])
        if dst in INTS:
            return rfp.float_to_int(m, FMT[src], x, _TW[dst])
        return rfp.float_to_float(m, FMT[src], FMT[dst], x)
    return fn


def _conv_golden(src, dst, x):
    if src in INTS:
        x = gfp.int_to_int(np.asarray(x, dtype=np.int64), src)
        return gfp.int_to_int(x, dst) if dst in INTS else gfp.int_to_float(dst, x)
    return gfp.float_to_int(src, x, dst) if dst in INTS else gfp.float_to_float(src, dst, x)


def _conv_inputs(src, rng, n):
    if src in INTS:
        w = INTS[src]
        return np.concatenate([rng.integers(-(1 << (w - 1)), 1 << (w - 1), n),
                               [-(1 << (w - 1)), (1 << (w - 1)) - 1, 0, -1, 1, 127, -128, 128, -129, 32767, -32768,
                                65519, 65520, 2**24 + 1, 2**24 + 3]]) if w == 32 else \
            np.concatenate([rng.integers(-(1 << (w - 1)), 1 << (w - 1), n), [-(1 << (w - 1)), (1 << (w - 1)) - 1]])
    return np.concatenate([corners(src), rng.integers(0, 1 << _TW[src], n),
                           rng.integers(0x3E000000, 0x4F800000, n) if src == "fp32" else rng.integers(0x3000, 0x7800, n)])


@pytest.mark.parametrize("src,dst", PAIRS)
def test_conversion_rtl(src, dst):
    rng = np.random.default_rng(len(src) * 7 + len(dst))
    x = _conv_inputs(src, rng, 150)
    if src == "fp16":
        x = np.concatenate([x, ALL16[::53]])
    got = _eval(_conv_rtl(src, dst), [32], _TW[dst], x[:, None])
    want = np.asarray(_conv_golden(src, dst, x), dtype=np.int64) & ((1 << _TW[dst]) - 1)
    bad = np.nonzero(got != want)[0]
    assert not len(bad), [(hex(int(x[i]) & 0xFFFFFFFF), hex(got[i]), hex(want[i])) for i in bad[:5]]


@pytest.mark.slow
@pytest.mark.parametrize("dst", ["int8", "int16", "int32", "fp32"])
def test_fp16_conversion_rtl_exhaustive(dst):
    got = _eval(_conv_rtl("fp16", dst), [32], _TW[dst], ALL16[:, None])
    want = np.asarray(_conv_golden("fp16", dst, ALL16), dtype=np.int64) & ((1 << _TW[dst]) - 1)
    assert (got == want).all()


def test_round_pack_edges():
    # ties at the subnormal boundary, overflow threshold, rounding into the normal range
    assert gfp.round_pack("fp16", 0, 1, -25) == 0                    # half the min subnormal: tie to 0
    assert gfp.round_pack("fp16", 0, 3, -26) == 1                    # 0.75 of min subnormal: up
    assert gfp.round_pack("fp16", 0, 0x7FF, -11 - 14) == 0x0400      # just under min normal rounds up
    assert gfp.round_pack("fp16", 0, 65520, 0) == 0x7C00             # 65520 -> Inf
    assert gfp.round_pack("fp16", 1, 65519, 0) == 0xFBFF
    assert gfp.round_pack("fp32", 0, 2**24 + 1, 0) == 0x4B800000     # tie to even
    assert gfp.round_pack("fp32", 0, 2**24 + 3, 0) == 0x4B800002
