"""Golden model of the VXM fp32 transcendentals: exp, reciprocal, rsqrt, tanh.

The specification of :mod:`openlpu.rtl.vxm_func`. Every function is computed
the way the hardware computes it, in two's-complement integer arithmetic
(numpy ``int64``; no intermediate exceeds 62 bits):

1. unpack the fp32 input (sign, biased exponent ``e``, 24-bit significand);
   subnormal inputs are flushed to a zero of the same sign;
2. range-reduce to a table index ``j`` and an offset ``u`` in ``[0, 1)``
   held as :data:`U_BITS`-bit unsigned fixed point, and a base exponent;
3. evaluate the segment's quadratic ``c0 + c1*u + c2*u**2`` by Horner's rule
   with the ROM coefficients of :func:`rom` (units of ``2**-FRAC``), each
   product truncated (arithmetic shift right by ``U_BITS``, towards minus
   infinity);
4. normalise the positive fixed-point result ``y`` and round it once to fp32,
   nearest-even; a biased exponent above 254 gives Inf, one below 1 gives a
   zero of the result's sign (results are never subnormal: flush to zero).

Functions and their reductions (details and measured error in
``docs/transcendentals.md``):

* ``exp``: ``t = x*log2(e)`` in fixed point with 32 fraction bits, from the
  exact 24 x 36-bit product of the significand and :data:`LOG2E`;
  ``n = floor(t)``, ``f = t - n``; ``2**f`` from 64 segments; result
  ``2**f * 2**n``.
* ``recip``: ``1/m`` for the significand ``m`` in ``[1, 2)`` from 128
  segments; exponent ``254 - e``.
* ``rsqrt``: ``m' = m * 2**(e-127 mod 2)`` in ``[1, 4)``; ``1/sqrt(m')`` from
  2 x 128 segments; exponent ``127 - floor((e-127)/2)``.
* ``tanh``: for ``2**-12 <= |x| < 16``, binade ``b`` (``2**b <= |x| < 2**(b+1)``,
  16 binades) x 128 segments of ``tanh(|x|) / 2**min(b, 0)``; ``tanh(x) = x``
  below ``2**-12`` and ``+-1`` from 16 up.

Special cases (NaN results are always the canonical quiet NaN 0x7FC00000):

=========  ======================================================================
exp        NaN -> NaN; +Inf -> +Inf; -Inf -> +0; +-0 and subnormals -> 1.0;
           overflow (x > 88.72...) -> +Inf; underflow (result < 2**-126) -> +0
recip      NaN -> NaN; +-0 and subnormals -> +-Inf; +-Inf -> +-0;
           |x| > 2**126 (result would be subnormal) -> +-0
rsqrt      NaN -> NaN; x < 0 (normal or -Inf) -> NaN; +0 and +subnormals -> +Inf;
           -0 and -subnormals -> -Inf; +Inf -> +0
tanh       NaN -> NaN; +-Inf -> +-1; +-0 and subnormals -> +-0; |x| < 2**-12 -> x;
           |x| >= 16 -> +-1; every result's magnitude is at most 1
=========  ======================================================================
"""

import enum
import functools
from decimal import Decimal, localcontext

import numpy as np

from openlpu.timing import VXM_FUNC_LATENCY

__all__ = [
    "VxmFuncOp", "FRAC", "U_BITS", "LOG2E", "LOG2E_BITS", "SEGMENT_BITS", "TANH_BINADES",
    "ROM_BASE", "ROM_DEPTH", "C0_BITS", "C1_BITS", "C2_BITS", "QNAN", "ONE", "INF",
    "CORNERS", "random_operands", "stimulus", "rom", "rom_arrays", "f32_exp", "f32_recip", "f32_rsqrt", "f32_tanh", "f32_func", "latency",
]


class VxmFuncOp(enum.IntEnum):
    """Function select codes (2 bits), shared with the RTL."""
    EXP = 0
    RECIP = 1
    RSQRT = 2
    TANH = 3


#: Fraction bits of the fixed-point function value ``y`` and of the coefficients.
FRAC = 32
#: Fraction bits of the in-segment offset ``u``.
U_BITS = 24
#: ``log2(e)`` rounded to :data:`LOG2E_BITS` fraction bits (36-bit unsigned).
LOG2E_BITS = 35
#: Fraction bits of ``t = x * log2(e)`` in the exp reduction.
T_FRAC = 32
#: log2 of the segment count per table (per binade for tanh, per parity for rsqrt).
SEGMENT_BITS = {VxmFuncOp.EXP: 6, VxmFuncOp.RECIP: 7, VxmFuncOp.RSQRT: 7, VxmFuncOp.TANH: 7}
#: Binades of ``|x|`` with a tanh table: ``2**b <= |x| < 2**(b+1)`` for ``b`` in this range.
TANH_BINADES = range(-12, 4)
#: Signed widths of the ROM coefficient fields.
C0_BITS, C1_BITS, C2_BITS = 35, 29, 21

QNAN = 0x7FC00000
ONE = 0x3F800000
INF = 0x7F800000

_SIZES = {
    VxmFuncOp.EXP: 1 << SEGMENT_BITS[VxmFuncOp.EXP],
    VxmFuncOp.RECIP: 1 << SEGMENT_BITS[VxmFuncOp.RECIP],
    VxmFuncOp.RSQRT: 2 << SEGMENT_BITS[VxmFuncOp.RSQRT],
    VxmFuncOp.TANH: len(TANH_BINADES) << SEGMENT_BITS[VxmFuncOp.TANH],
}
#: First ROM address of each function's table (tables are stored back to back).
ROM_BASE = {}
_addr = 0
for _op in VxmFuncOp:
    ROM_BASE[_op] = _addr
    _addr += _SIZES[_op]
#: Entries in the combined coefficient ROM.
ROM_DEPTH = _addr
del _addr, _op

_PREC = 60


def _log2e():
    with localcontext() as ctx:
        ctx.prec = _PREC
        return 1 / Decimal(2).ln()


#: ``round(log2(e) * 2**LOG2E_BITS)``.
LOG2E = int((_log2e() * (1 << LOG2E_BITS)).to_integral_value())


def _segment_function(op, j):
    """``g(u)`` for ``u`` in ``[0, 1)`` on table entry ``j`` of ``op`` (Decimal in, Decimal out)."""
    k = SEGMENT_BITS[op]
    if op == VxmFuncOp.EXP:
        ln2 = Decimal(2).ln()
        return lambda u: ((j + u) / (1 << k) * ln2).exp()
    if op == VxmFuncOp.RECIP:
        return lambda u: 1 / (1 + (j + u) / (1 << k))
    if op == VxmFuncOp.RSQRT:
        parity, seg = divmod(j, 1 << k)
        return lambda u: 1 / ((1 + (seg + u) / (1 << k)) * (1 << parity)).sqrt()
    binade, seg = divmod(j, 1 << k)
    b = TANH_BINADES[binade]
    scale = Decimal(2) ** (-min(b, 0))

    def tanh(u):
        x = (1 + (seg + u) / (1 << k)) * Decimal(2) ** b
        e2 = (2 * x).exp()
        return (e2 - 1) / (e2 + 1) * scale
    return tanh


def _fit(g):
    """Quadratic through ``g`` at the three Chebyshev nodes of ``[0, 1]``, as ``(c0, c1, c2)`` in u."""
    d = Decimal(3).sqrt() / 4
    half = Decimal(1) / 2
    gm, g0, gp = g(half - d), g(half), g(half + d)
    a = g0
    b = (gp - gm) / (2 * d)
    c = (gp + gm - 2 * g0) / (2 * d * d)
    return a - b / 2 + c / 4, b - c, c


@functools.lru_cache(maxsize=None)
def rom():
    """The coefficient ROM: a tuple of ``(c0, c1, c2)`` signed integers, ``ROM_DEPTH`` long.

    Entry ``ROM_BASE[op] + j`` approximates ``op``'s reduced function on
    segment ``j`` as ``(c0 + c1*u + c2*u**2) * 2**-FRAC`` for ``u`` in
    ``[0, 1)``: the quadratic interpolating the function at the three
    Chebyshev nodes of the segment, each coefficient rounded to nearest.
    Computed with 60-digit decimal arithmetic, so the table does not depend
    on the platform's libm. The RTL builds its ROM from this function.
    """
    entries = []
    scale = Decimal(1 << FRAC)
    with localcontext() as ctx:
        ctx.prec = _PREC
        for op in VxmFuncOp:
            for j in range(_SIZES[op]):
                coeffs = _fit(_segment_function(op, j))
                entries.append(tuple(int((c * scale).to_integral_value()) for c in coeffs))
    for c0, c1, c2 in entries:
        assert -(1 << (C0_BITS - 1)) <= c0 < 1 << (C0_BITS - 1)
        assert -(1 << (C1_BITS - 1)) <= c1 < 1 << (C1_BITS - 1)
        assert -(1 << (C2_BITS - 1)) <= c2 < 1 << (C2_BITS - 1)
    return tuple(entries)


@functools.lru_cache(maxsize=None)
def rom_arrays():
    """:func:`rom` as three ``int64`` arrays ``(c0, c1, c2)``."""
    table = np.array(rom(), dtype=np.int64)
    return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy()


def latency():
    """Cycles from an input vector to its result (:data:`openlpu.timing.VXM_FUNC_LATENCY`)."""
    return VXM_FUNC_LATENCY


# --- the datapath, stage by stage ------------------------------------------------------

def _unpack(bits):
    bits = np.asarray(bits)
    if bits.dtype != np.uint32:
        raise TypeError(f"fp32 inputs must be a uint32 bit-pattern array, not {bits.dtype}")
    b = bits.astype(np.int64)
    sign = (b >> 31) & 1
    e = (b >> 23) & 0xFF
    man = b & 0x7FFFFF
    return sign, e, man


def _reduce(op, sign, e, man):
    """Stage 2-3: ROM address, offset ``u`` and base exponent for each lane."""
    k = SEGMENT_BITS[op]
    if op == VxmFuncOp.EXP:
        sig = man | (1 << 23)
        prod = sig * LOG2E                                      # < 2**60, exact
        shift = np.clip(150 + LOG2E_BITS - T_FRAC - e, 0, 63)   # 153 - e, clamped
        tmag = prod >> shift
        t = np.where(sign == 1, -tmag, tmag)
        n = t >> T_FRAC
        f = t & ((1 << T_FRAC) - 1)
        j = f >> (T_FRAC - k)
        u = (f >> (T_FRAC - k - U_BITS)) & ((1 << U_BITS) - 1)
        base = 127 + n
    elif op == VxmFuncOp.RECIP:
        j = man >> (23 - k)
        u = (man & ((1 << (23 - k)) - 1)) << (U_BITS - (23 - k))
        base = 254 - e
    elif op == VxmFuncOp.RSQRT:
        parity = (e & 1) ^ 1                        # e - 127 odd
        j = (parity << k) | (man >> (23 - k))
        u = (man & ((1 << (23 - k)) - 1)) << (U_BITS - (23 - k))
        base = 127 - ((e - 127) >> 1)
    else:
        b = np.clip(e - 127, TANH_BINADES[0], TANH_BINADES[-1])
        j = ((b - TANH_BINADES[0]) << k) | (man >> (23 - k))
        u = (man & ((1 << (23 - k)) - 1)) << (U_BITS - (23 - k))
        base = 127 + np.minimum(b, 0)
    return ROM_BASE[op] + j, u, base


def _poly(addr, u):
    """Stages 4-6: Horner's rule on the ROM coefficients, truncating each product."""
    c0, c1, c2 = (c[addr] for c in rom_arrays())
    a = (c2 * u) >> U_BITS
    b = ((c1 + a) * u) >> U_BITS
    return c0 + b


def _round(y, base, sign):
    """Stages 6-7: normalise ``y * 2**(base - 127 - FRAC)`` and round to fp32 (RNE, flush to zero)."""
    y = np.maximum(y, 1)
    p = np.zeros_like(y)
    for i in range(1, 40):
        p = np.where((y >> i) != 0, i, p)
    # 24 significant bits, then guard and sticky
    shift = p - 23
    mant = np.where(shift >= 0, y >> np.maximum(shift, 0), y << np.maximum(-shift, 0))
    guard = np.where(shift >= 1, (y >> np.maximum(shift - 1, 0)) & 1, 0)
    sticky = np.where(shift >= 2, (y & ((1 << np.maximum(shift - 1, 0)) - 1)) != 0, False)
    up = guard & (sticky | (mant & 1))
    mant = mant + up
    carry = mant >> 24
    mant = np.where(carry == 1, mant >> 1, mant)
    exp = base + p - FRAC + carry
    out = (sign << 31) | (exp << 23) | (mant & 0x7FFFFF)
    out = np.where(exp >= 255, (sign << 31) | INF, out)
    out = np.where(exp <= 0, sign << 31, out)
    return out


def _run(op, x):
    sign, e, man = _unpack(x)
    addr, u, base = _reduce(op, sign, e, man)
    y = _poly(addr, u)
    res_sign = sign if op in (VxmFuncOp.RECIP, VxmFuncOp.TANH) else np.zeros_like(sign)
    out = _round(y, base, res_sign)
    if op == VxmFuncOp.TANH:                        # |tanh| <= 1 whatever the table's error
        out = np.where((out & 0x7FFFFFFF) > ONE, (sign << 31) | ONE, out)
    special, value = _specials(op, sign, e, man)
    out = np.where(special, value, out)
    return out.astype(np.uint32)


def _specials(op, sign, e, man):
    """Stage 1: which lanes bypass the datapath, and with what result."""
    nan = (e == 255) & (man != 0)
    inf = (e == 255) & (man == 0)
    zero = e == 0                                   # zeros and (flushed) subnormals
    s31 = sign << 31
    if op == VxmFuncOp.EXP:
        big = (e >= 134) & ~nan & ~inf              # |x| >= 128
        cases = [(nan, QNAN), (inf | big, np.where(sign == 1, 0, INF)), (zero, ONE)]
    elif op == VxmFuncOp.RECIP:
        cases = [(nan, QNAN), (inf, s31), (zero, s31 | INF)]
    elif op == VxmFuncOp.RSQRT:
        cases = [(nan, QNAN), (zero, s31 | INF), (sign == 1, QNAN), (inf, 0)]
    else:
        cases = [(nan, QNAN), (inf | ((e >= 131) & ~nan), s31 | ONE), (zero, s31),
                 (e < 127 + TANH_BINADES[0], s31 | (e << 23) | man)]
    special = np.zeros(e.shape, dtype=bool)
    value = np.zeros(e.shape, dtype=np.int64)
    for cond, val in reversed(cases):
        special = special | cond
        value = np.where(cond, val, value)
    return special, value


def _checked(op, x):
    return _run(op, np.asarray(x))


def f32_exp(x):
    """``exp(x)`` on a ``uint32`` array of fp32 bit patterns (see module docstring)."""
    return _checked(VxmFuncOp.EXP, x)


def f32_recip(x):
    """``1/x`` on a ``uint32`` array of fp32 bit patterns."""
    return _checked(VxmFuncOp.RECIP, x)


def f32_rsqrt(x):
    """``1/sqrt(x)`` on a ``uint32`` array of fp32 bit patterns."""
    return _checked(VxmFuncOp.RSQRT, x)


def f32_tanh(x):
    """``tanh(x)`` on a ``uint32`` array of fp32 bit patterns."""
    return _checked(VxmFuncOp.TANH, x)


def f32_func(op, x):
    """The function selected by ``op`` (a :class:`VxmFuncOp` code) on ``uint32`` bit patterns."""
    try:
        op = VxmFuncOp(op)
    except ValueError:
        raise ValueError(f"VXM function select must be one of "
                         f"{[int(o) for o in VxmFuncOp]}, not {op!r}") from None
    return _run(op, np.asarray(x))


#: Directed fp32 operands: zeros, subnormals, ones, Inf, NaNs, the extremes, and the
#: edges of every special-case range (exp overflow/underflow, tanh's ends, recip's flush).
CORNERS = np.array([
    0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000, 0x80800000,
    0x3F800000, 0xBF800000, 0x40000000, 0x40800000, 0x3F000000, 0x7F7FFFFF, 0xFF7FFFFF,
    0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFFFFFFF, 0x7FBFFFFF,
    0x42B17217, 0x42B17218, 0x42B17219, 0xC2AEAC4F, 0xC2AEAC50, 0xC2AEAC51, 0xC2CE8ED0,
    0x42FFFFFF, 0x43000000, 0xC2FFFFFF, 0xC3000000, 0x33000000, 0xB3000000, 0x2F800000,
    0x39800000, 0x397FFFFF, 0xB9800000, 0x41800000, 0x417FFFFF, 0xC17FFFFF, 0x41102000,
    0x7E800000, 0x7E7FFFFF, 0x7E800001, 0xFE800001, 0x7F000000, 0x3FFFFFFF, 0x3F7FFFFF,
], dtype=np.uint32)


def random_operands(rng, size):
    """``size`` fp32 operands (``uint32``): corners, raw bit patterns and values in each function's useful range."""
    kind = rng.integers(4, size=size)
    raw = rng.integers(0, 1 << 32, size=size, dtype=np.uint64).astype(np.uint32)
    corner = rng.choice(CORNERS, size=size)
    small = rng.uniform(-100, 100, size=size).astype(np.float32).view(np.uint32)
    mag = (rng.choice([-1.0, 1.0], size=size) * np.exp2(rng.uniform(-30, 30, size=size))).astype(np.float32)
    return np.select([kind == 0, kind == 1, kind == 2], [raw, corner, small], mag.view(np.uint32)).astype(np.uint32)


def stimulus(lanes, seed, count):
    """Test cycles ``(valid, func, operands)``: the corners under every function, then random.

    Random cycles choose the function at random and leave ``valid`` low one
    time in five.
    """
    rng = np.random.default_rng(seed)
    corners = np.resize(CORNERS, -(-len(CORNERS) // lanes) * lanes).reshape(-1, lanes)
    cycles = [(True, int(op), row.astype(np.uint32)) for op in VxmFuncOp for row in corners]
    while len(cycles) < count:
        cycles.append((bool(rng.integers(5) != 0), int(rng.integers(4)), random_operands(rng, lanes)))
    return cycles
