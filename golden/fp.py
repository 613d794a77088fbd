"""Bit-exact IEEE-754 reference arithmetic on raw bit patterns.

Values travel as raw bits (``uint16`` for fp16, ``uint32`` for fp32) so that
NaN payloads, signed zeros and subnormals are compared exactly.

Policy (shared with :mod:`openlpu.rtl.fp`):

* rounding is round-to-nearest, ties to even;
* subnormal inputs and outputs are supported (no flush to zero);
* every NaN result is the canonical quiet NaN (:data:`F32_QNAN`,
  :data:`F16_QNAN`); NaN payloads are not propagated.
"""

import numpy as np

__all__ = ["F32_QNAN", "F16_QNAN", "f32_add", "f16_mul_f32", "canonical_f32", "FORMATS", "INT_BITS", "CMP",
           "unpack", "round_pack", "fma", "fma_exact", "f_mul", "f_add", "is_nan", "f_cmp", "f_minmax", "int_to_float",
           "float_to_int", "float_to_float", "int_to_int"]

F32_QNAN = 0x7FC00000
F16_QNAN = 0x7E00


def canonical_f32(bits):
    """Replace every NaN in a ``uint32`` array by :data:`F32_QNAN`."""
    bits = np.asarray(bits, dtype=np.uint32)
    nan = ((bits & 0x7F800000) == 0x7F800000) & ((bits & 0x007FFFFF) != 0)
    return np.where(nan, np.uint32(F32_QNAN), bits).astype(np.uint32)


def f32_add(a, b):
    """fp32 + fp32 -> fp32 (RNE), on ``uint32`` bit patterns.

    numpy's float32 addition is a correctly rounded IEEE-754 addition with
    subnormals (numpy does not enable flush-to-zero), so it is the model; only
    the NaN encoding is normalised.
    """
    a = np.asarray(a, dtype=np.uint32)
    b = np.asarray(b, dtype=np.uint32)
    with np.errstate(all="ignore"):
        r = (a.view(np.float32) + b.view(np.float32)).astype(np.float32)
    return canonical_f32(r.view(np.uint32))


def f16_mul_f32(a, b):
    """fp16 x fp16 -> fp32, on ``uint16`` inputs and a ``uint32`` result.

    The product of two fp16 values is exact in fp32 (11 x 11 significand bits
    fit in 24; exponents from 2**-48 to 2**32 are in fp32's normal range), so
    no rounding happens. Inf x 0 and NaN operands give :data:`F32_QNAN`.
    """
    a = np.asarray(a, dtype=np.uint16).view(np.float16).astype(np.float32)
    b = np.asarray(b, dtype=np.uint16).view(np.float16).astype(np.float32)
    with np.errstate(all="ignore"):
        r = (a * b).astype(np.float32)
    return canonical_f32(r.view(np.uint32))


# --- exact reference arithmetic (Python integers, one rounding) ----------------------------

#: ``(exponent bits, mantissa bits)`` of the two formats.
FORMATS = {"fp16": (5, 10), "fp32": (8, 23)}
_QNAN = {"fp16": F16_QNAN, "fp32": F32_QNAN}
_UINT = {"fp16": np.uint16, "fp32": np.uint32}
_FLOAT = {"fp16": np.float16, "fp32": np.float32}


def _fields(fmt):
    e, m = FORMATS[fmt]
    return e, m, (1 << (e - 1)) - 1, (1 << e) - 1


def unpack(fmt, x):
    """Raw bits ``x`` (int) -> ``(sign, kind, sig, exp)``: kind is 'zero', 'num', 'inf' or 'nan';
    a number's value is ``(-1)**sign * sig * 2**exp`` (subnormals use the minimum exponent)."""
    e, m, bias, emax = _fields(fmt)
    x = int(x)
    sign, ex, man = (x >> (e + m)) & 1, (x >> m) & emax, x & ((1 << m) - 1)
    if ex == emax:
        return sign, ("nan" if man else "inf"), 0, 0
    if ex == 0 and man == 0:
        return sign, "zero", 0, 0
    sig = man | ((ex != 0) << m)
    return sign, "num", sig, max(ex, 1) - bias - m


def round_pack(fmt, sign, sig, exp):
    """``(-1)**sign * sig * 2**exp`` (Python ints, ``sig >= 0``) rounded to nearest even into ``fmt`` bits.

    Results below the normal range become subnormal (rounded once), results
    that round past the largest finite value become Inf, ``sig == 0`` gives a
    zero of the given sign.
    """
    e, m, bias, emax = _fields(fmt)
    sign = int(sign) & 1
    sig, exp = int(sig), int(exp)
    if sig == 0:
        return sign << (e + m)
    lead = exp + sig.bit_length() - 1
    lsb = max(lead - m, 1 - bias - m)          # exponent of the result's last mantissa bit
    sh = lsb - exp
    if sh > 0:
        q, r = sig >> sh, sig & ((1 << sh) - 1)
        half = 1 << (sh - 1)
        if r > half or (r == half and q & 1):
            q += 1
    else:
        q = sig << -sh
    packed = ((lsb + m + bias - 1) << m) + q   # a carry out of the mantissa bumps the exponent
    if packed >= emax << m:
        packed = emax << m
    return (sign << (e + m)) | packed


def _vec(fn, *arrays, dtype):
    arrays = np.broadcast_arrays(*[np.asarray(a) for a in arrays])
    out = np.array([fn(*vals) for vals in zip(*[a.ravel() for a in arrays])], dtype=np.int64)
    return out.reshape(arrays[0].shape).astype(dtype)


def _fma1(fmt, a, b, c):
    sa, ka, ma, ea = unpack(fmt, a)
    sb, kb, mb, eb = unpack(fmt, b)
    sc, kc, mc, ec = unpack(fmt, c)
    sp = sa ^ sb
    if "nan" in (ka, kb, kc) or ({ka, kb} == {"inf", "zero"}):
        return _QNAN[fmt]
    p_inf = "inf" in (ka, kb)
    if p_inf and kc == "inf" and sp != sc:
        return _QNAN[fmt]
    e, m, _, emax = _fields(fmt)
    if p_inf or kc == "inf":
        return ((sp if p_inf else sc) << (e + m)) | (emax << m)
    p, ep = ma * mb, ea + eb
    lo = min(ep, ec)
    total = (-p if sp else p) * (1 << (ep - lo)) + (-mc if sc else mc) * (1 << (ec - lo))
    if total == 0:
        zero_sign = sp & sc if (p == 0 and mc == 0) else 0
        return zero_sign << (e + m)
    return round_pack(fmt, total < 0, abs(total), lo)


def fma_exact(fmt, a, b, c):
    """:func:`fma` by exact integer arithmetic then :func:`round_pack`, one element at a time:
    the definition :func:`fma` is tested against."""
    return _vec(lambda x, y, z: _fma1(fmt, x, y, z), a, b, c, dtype=_UINT[fmt])


def fma(fmt, a, b, c):
    """``a * b + c`` rounded once (RNE) in ``fmt`` ('fp16'/'fp32'), elementwise on raw bits.

    NaN if any operand is NaN, for Inf x 0, and for Inf - Inf; an exact zero
    sum is +0 unless both the product and ``c`` are -0 (:func:`fma_exact`
    says the same with integers).

    Vectorised in float64: the product of two fp32 (or fp16) values is exact
    there; the sum ``s`` and its error ``e`` (``p + c == s + e`` exactly,
    Knuth's TwoSum) give ``p + c`` rounded to odd at float64's 53 bits (an
    inexact ``s`` with an even last bit moves one ulp towards ``e``), and
    rounding that to the format's 24 (11) bits, subnormals included, is the
    single RNE rounding of the exact sum, since 53 >= 24 + 2.
    """
    uint, flt = _UINT[fmt], _FLOAT[fmt]
    with np.errstate(all="ignore"):
        fa, fb, fc = (np.asarray(v, dtype=np.int64).astype(uint).view(flt).astype(np.float64) for v in (a, b, c))
        p = fa * fb
        s = p + fc
        bv = s - p
        err = (p - (s - bv)) + (fc - bv)
        bits = s.view(np.int64)
        inexact_even = (err != 0) & ((bits & 1) == 0) & np.isfinite(s)
        away = (err > 0) == (s > 0)          # the exact sum is farther from zero than s
        bits = np.where(inexact_even, np.where(away, bits + 1, bits - 1), bits)
        r = bits.view(np.float64).astype(flt)
    return np.where(np.isnan(r), uint(_QNAN[fmt]), r.view(uint)).astype(uint)


def f_mul(fmt, a, b):
    """``a * b`` in ``fmt`` (RNE, subnormals, overflow to Inf, canonical NaN): ``fma(a, b, -0)``."""
    return fma(fmt, a, b, 1 << (sum(FORMATS[fmt])))


def f_add(fmt, a, b):
    """``a + b`` in ``fmt``: ``fma(a, 1.0, b)``."""
    one = FORMATS[fmt][1]
    return fma(fmt, a, ((1 << (FORMATS[fmt][0] - 1)) - 1) << one, b)


def is_nan(fmt, x):
    e, m, _, emax = _fields(fmt)
    x = np.asarray(x, dtype=np.int64)
    return (((x >> m) & emax) == emax) & ((x & ((1 << m) - 1)) != 0)


def _as_float(fmt, x):
    return np.asarray(x, dtype=np.int64).astype(_UINT[fmt]).view(_FLOAT[fmt]).astype(np.float64)


#: Comparison predicates (IEEE-754: every predicate but ``ne`` is false when an operand is NaN;
#: -0 == +0).
CMP = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
       "gt": np.greater, "ge": np.greater_equal}


def f_cmp(fmt, pred, a, b):
    """IEEE comparison ``a pred b`` of raw bits -> bool array."""
    with np.errstate(invalid="ignore"):
        return CMP[pred](_as_float(fmt, a), _as_float(fmt, b))


def f_minmax(fmt, a, b, take_max):
    """IEEE-754-2019 ``minimum``/``maximum``: NaN (canonical) if either operand is NaN;
    -0 is below +0; otherwise the smaller (larger) operand's bits."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    fa, fb = _as_float(fmt, a), _as_float(fmt, b)
    sa = (a >> (sum(FORMATS[fmt]))) & 1
    sb = (b >> (sum(FORMATS[fmt]))) & 1
    # order as values, ties (only +-0 or equal bits) by sign: -0 < +0
    a_less = (fa < fb) | ((fa == fb) & (sa > sb))
    r = np.where(a_less != bool(take_max), a, b)
    r = np.where(is_nan(fmt, a) | is_nan(fmt, b), _QNAN[fmt], r)
    return r.astype(_UINT[fmt])


#: Integer element types and their widths.
INT_BITS = {"int8": 8, "int16": 16, "int32": 32}


def int_to_float(fmt, x):
    """Signed integers -> ``fmt`` bits, rounded to nearest even (int32 -> fp16 may overflow to Inf)."""
    return _vec(lambda v: round_pack(fmt, v < 0, abs(int(v)), 0), x, dtype=_UINT[fmt])


def float_to_int(fmt, x, itype):
    """``fmt`` bits -> signed ``itype`` values: round to nearest even, saturate to the
    integer range (+-Inf too), NaN -> 0."""
    w = INT_BITS[itype]
    lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1

    def one(v):
        s, k, sig, exp = unpack(fmt, v)
        if k == "nan" or k == "zero":
            return 0
        if k == "inf":
            return lo if s else hi
        if exp >= 0:
            q = sig << exp
        else:
            q, r = sig >> -exp, sig & ((1 << -exp) - 1)
            half = 1 << (-exp - 1)
            if r > half or (r == half and q & 1):
                q += 1
        q = -q if s else q
        return min(max(q, lo), hi)
    return _vec(one, x, dtype=np.int64)


def float_to_float(src, dst, x):
    """Raw ``src`` bits -> ``dst`` bits: fp16 -> fp32 exact, fp32 -> fp16 RNE (subnormal results,
    overflow to Inf); NaN becomes the canonical NaN of ``dst``."""
    def one(v):
        s, k, sig, exp = unpack(src, v)
        e, m, _, emax = _fields(dst)
        if k == "nan":
            return _QNAN[dst]
        if k == "inf":
            return (s << (e + m)) | (emax << m)
        return round_pack(dst, s, sig, exp)
    return _vec(one, x, dtype=_UINT[dst])


def int_to_int(x, itype):
    """Signed integers saturated to ``itype``'s range (widening is exact)."""
    w = INT_BITS[itype]
    return np.clip(np.asarray(x, dtype=np.int64), -(1 << (w - 1)), (1 << (w - 1)) - 1)
