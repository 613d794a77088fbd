"""IEEE-754 floating-point operators as combinational Amaranth logic.

Every function takes the :class:`~amaranth.hdl.Module` to add its
intermediate signals to and raw-bit operand :class:`~amaranth.hdl.Value` s,
and returns a raw-bit :class:`~amaranth.hdl.Value`. They hold no state:
callers place pipeline registers around them.

Policy (the golden model :mod:`openlpu.golden.fp` is the specification):
round to nearest, ties to even; subnormal inputs and results are supported
(no flush to zero); every NaN result is the canonical quiet NaN; signed zeros
follow IEEE-754 (``x + (-x) = +0``, ``-0 + -0 = -0``).
"""

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Mux, Signal, signed, unsigned

from openlpu.rtl.arith import leading_zeros, priority_select
from openlpu.rtl.pipeline import register

__all__ = ["FloatFormat", "F16", "F32", "f_add", "f_add_pipe", "F_ADD_PARTS", "f32_add", "f32_add_pipe", "f16_mul_f32", "f_mul", "FmaSum", "fma_exact",
           "fma_round", "f_fma", "low_mask", "Operand", "unpack", "unpack_f16_as_f32", "fma_exact_ops", "f_cmp", "f_minmax", "int_to_float", "float_to_int", "float_to_float"]


@dataclass(frozen=True)
class FloatFormat:
    """A binary IEEE-754 interchange format."""
    exp_bits: int
    man_bits: int

    @property
    def width(self):
        return 1 + self.exp_bits + self.man_bits

    @property
    def bias(self):
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def exp_max(self):
        """The all-ones exponent field (Inf and NaN)."""
        return (1 << self.exp_bits) - 1

    @property
    def qnan(self):
        """The canonical quiet NaN."""
        return (self.exp_max << self.man_bits) | (1 << (self.man_bits - 1))


F16 = FloatFormat(exp_bits=5, man_bits=10)
F32 = FloatFormat(exp_bits=8, man_bits=23)


def _inf(fmt, sign):
    """The raw bits of an infinity of ``fmt`` with sign bit ``sign``."""
    return Cat(Const(fmt.exp_max << fmt.man_bits, fmt.width - 1), sign)


def _select(m, width, name, cases, default):
    """A signal named ``{name}_result``: the first ``(condition, value)`` that holds, else ``default``
    (:func:`~openlpu.rtl.arith.priority_select`)."""
    result = Signal(width, name=f"{name}_result")
    m.d.comb += result.eq(priority_select(cases, default))
    return result


class _Unpacked:
    """Fields and classes of a raw float ``x`` of format ``fmt``."""

    def __init__(self, m, fmt, x, name):
        self.sign = Signal(name=f"{name}_sign")
        self.exp = Signal(fmt.exp_bits, name=f"{name}_exp")
        self.man = Signal(fmt.man_bits, name=f"{name}_man")
        m.d.comb += [
            self.man.eq(x[:fmt.man_bits]),
            self.exp.eq(x[fmt.man_bits:fmt.man_bits + fmt.exp_bits]),
            self.sign.eq(x[fmt.width - 1]),
        ]
        self.is_zero = (self.exp == 0) & (self.man == 0)
        self.is_inf = (self.exp == fmt.exp_max) & (self.man == 0)
        self.is_nan = (self.exp == fmt.exp_max) & (self.man != 0)
        # significand with its hidden bit; subnormals use exponent 1
        self.sig = Cat(self.man, self.exp != 0)
        self.eff_exp = Mux(self.exp == 0, 1, self.exp)
        self.magnitude = x[:fmt.width - 1]


def f_add(m, fmt, a, b, name="fadd"):
    """``a + b`` in format ``fmt``, rounded to nearest even (combinational)."""
    return f_add_pipe(m, fmt, a, b, stages=1, name=name)


#: The three parts of an addition, in order; :func:`f_add_pipe` registers
#: between them: with 3 stages after ``align`` and after ``add``, with 2 only
#: after ``add``, with 1 nowhere.
F_ADD_PARTS = ("align", "add", "round")
_F_ADD_CUTS = {1: (), 2: ("add",), 3: ("align", "add")}


def f_add_pipe(m, fmt, a, b, stages, name="fadd", domain="sync"):
    """``a + b`` in format ``fmt``, rounded to nearest even, cut into ``stages`` (1 to 3).

    The addition is done in three parts (:data:`F_ADD_PARTS`):

    ``align``
        unpack, order the operands by magnitude, shift the smaller one right
        to the larger one's exponent, keeping guard, round and a sticky bit;
        the special cases (NaN, Inf) are decided here;
    ``add``
        add or subtract the aligned significands and count the leading zeros
        of the sum (limited so that a subnormal result keeps exponent 1);
    ``round``
        normalise (one right shift on carry, else the left shift), round to
        nearest even, pack, and select the special results.

    ``stages - 1`` registers (reset-less, in ``domain``) are placed between
    the parts (3 stages: after ``align`` and after ``add``; 2: after ``add``);
    the returned value is combinational from the last of them, so a caller
    that registers it gets its sum exactly ``stages`` cycles after it
    presented ``a`` and ``b``. Operands may change every cycle (a new
    addition per cycle).
    """
    if stages not in _F_ADD_CUTS:
        raise ValueError(f"stages must be 1, 2 or 3, not {stages!r}")
    cuts = _F_ADD_CUTS[stages]

    def cut(part, values):
        """Register ``values`` (a dict of named values) when ``part`` ends at a cut."""
        if part not in cuts:
            return values
        return {key: register(m, v, f"{name}_{part}_{key}", shape=len(v), reset_less=True, domain=domain)
                for key, v in values.items()}

    s = cut("align", _add_align(m, fmt, a, b, name))
    s = cut("add", _add_sum(m, fmt, s, name))
    return _add_round(m, fmt, s, name)


def _add_align(m, fmt, a, b, name):
    """The ``align`` part of :func:`f_add_pipe`: the operands ordered and aligned, the specials."""
    E, M = fmt.exp_bits, fmt.man_bits
    W = M + 4                          # hidden + M + guard + round + sticky
    ua, ub = _Unpacked(m, fmt, a, f"{name}_a"), _Unpacked(m, fmt, b, f"{name}_b")
    # Order by magnitude: x is the larger operand, y the smaller.
    swap = ub.magnitude > ua.magnitude
    x_sign, y_sign = Mux(swap, ub.sign, ua.sign), Mux(swap, ua.sign, ub.sign)
    x_exp = Signal(E, name=f"{name}_xexp")
    y_exp = Signal(E, name=f"{name}_yexp")
    x_sig = Signal(M + 1, name=f"{name}_xsig")
    y_sig = Signal(M + 1, name=f"{name}_ysig")
    m.d.comb += [
        x_exp.eq(Mux(swap, ub.eff_exp, ua.eff_exp)), y_exp.eq(Mux(swap, ua.eff_exp, ub.eff_exp)),
        x_sig.eq(Mux(swap, ub.sig, ua.sig)), y_sig.eq(Mux(swap, ua.sig, ub.sig)),
    ]
    # Align y to x, keeping guard, round and sticky bits (3 extra bits suffice).
    dist = Signal(E, name=f"{name}_dist")
    m.d.comb += dist.eq(x_exp - y_exp)
    shift = Signal(range(W + 1), name=f"{name}_shamt")
    m.d.comb += shift.eq(Mux(dist > W, W, dist))
    y_ext = Cat(Const(0, 3), y_sig)
    y_shifted = Signal(W, name=f"{name}_yshift")
    lost = Signal(name=f"{name}_lost")
    mask = Signal(W + 1, name=f"{name}_mask")        # ones below the shift amount
    m.d.comb += [
        y_shifted.eq(y_ext >> shift),
        mask.eq((Const(1, W + 1) << shift) - 1),
        lost.eq((y_ext & mask[:W]) != 0),             # a one was shifted out
    ]
    subtract = x_sign ^ y_sign
    return {
        "x": Cat(Const(0, 3), x_sig),
        "y": Cat(y_shifted[0] | lost, y_shifted[1:]),
        "sub": subtract,
        "sign": x_sign,
        "exp": x_exp,
        "nan": ua.is_nan | ub.is_nan | (ua.is_inf & ub.is_inf & subtract),
        "inf": ua.is_inf | ub.is_inf,
    }


def _add_sum(m, fmt, s, name):
    """The ``add`` part of :func:`f_add_pipe`: the sum and its normalising left shift."""
    W = fmt.man_bits + 4
    total = Signal(W + 1, name=f"{name}_sum")
    m.d.comb += total.eq(Mux(s["sub"], s["x"] - s["y"], s["x"] + s["y"]))
    # Leading zeros, limited so that the exponent stays >= 1 (subnormal results).
    lz = Signal(range(W + 1), name=f"{name}_lz")
    m.d.comb += lz.eq(leading_zeros(total[:W], W, leaf=8))
    left = Signal(range(W + 1), name=f"{name}_left")
    m.d.comb += left.eq(Mux(lz < s["exp"], lz, s["exp"] - 1))
    return {
        "total": total, "left": left, "zero": total == 0,
        "sub": s["sub"], "sign": s["sign"], "exp": s["exp"], "nan": s["nan"], "inf": s["inf"],
    }


def _add_round(m, fmt, s, name):
    """The ``round`` part of :func:`f_add_pipe`: normalise, round to nearest even, pack."""
    E, M = fmt.exp_bits, fmt.man_bits
    W = M + 4
    total, left = s["total"], s["left"]
    carry = total[W]
    norm = Signal(W, name=f"{name}_norm")
    norm_exp = Signal(E + 1, name=f"{name}_nexp")
    m.d.comb += [
        norm.eq(Mux(carry, Cat(total[0] | total[1], total[2:W + 1]), (total[:W] << left)[:W])),
        norm_exp.eq(Mux(carry, s["exp"] + 1, s["exp"] - left)),
    ]
    # Round to nearest, ties to even.
    guard, rnd, sticky, lsb = norm[2], norm[1], norm[0], norm[3]
    round_up = guard & (rnd | sticky | lsb)
    rounded = Signal(M + 2, name=f"{name}_rounded")
    m.d.comb += rounded.eq(norm[3:] + round_up)
    r_carry = rounded[M + 1]
    r_man = Mux(r_carry, rounded[1:M + 1], rounded[:M])
    r_exp = Signal(E + 1, name=f"{name}_rexp")
    hidden = Mux(r_carry, 1, rounded[M])
    m.d.comb += r_exp.eq(Mux(hidden, norm_exp + r_carry, 0))

    sign = s["sign"]
    zero_sign = Mux(s["sub"], 0, sign)        # exact zero: +0 unless both operands are -0
    inf = _inf(fmt, sign)
    return _select(m, fmt.width, name, [
        (s["nan"], Const(fmt.qnan, fmt.width)),
        (s["inf"], inf),
        (s["zero"], Cat(Const(0, fmt.width - 1), zero_sign)),
        (r_exp >= fmt.exp_max, inf),
    ], Cat(r_man, r_exp[:E], sign))


def f32_add(m, a, b):
    """fp32 + fp32 -> fp32, rounded to nearest even (combinational)."""
    return f_add(m, F32, a, b)


def f32_add_pipe(m, a, b, stages, name="fadd32"):
    """fp32 + fp32 -> fp32 in ``stages`` (see :func:`f_add_pipe`); the MXM uses
    ``stages = timing.FP32_ADD_STAGES``."""
    return f_add_pipe(m, F32, a, b, stages, name=name)


def f16_mul_f32(m, a, b, name="fmul16", mul=None):
    """fp16 x fp16 -> fp32, exact.

    Two 11-bit significands give at most 22 product bits, and the product's
    exponent (from 2**-48 to 2**32) is always in fp32's normal range, so the
    product is normalised by a left shift only and never rounded.

    ``mul(sig_a, sig_b)``, if given, returns the significands' product (at
    least its 22 low bits): a caller that shares one hard multiplier between
    this product and another passes it here. Default ``sig_a * sig_b``.
    """
    ua, ub = _Unpacked(m, F16, a, f"{name}_a"), _Unpacked(m, F16, b, f"{name}_b")
    sign = ua.sign ^ ub.sign
    prod = Signal(22, name=f"{name}_prod")
    m.d.comb += prod.eq(mul(ua.sig, ub.sig) if mul else ua.sig * ub.sig)
    lz = Signal(range(23), name=f"{name}_lz")
    m.d.comb += lz.eq(leading_zeros(prod, 22))
    shifted = Signal(22, name=f"{name}_norm")
    m.d.comb += shifted.eq((prod << lz)[:22])
    # value = prod * 2**(ea + eb - 30 - 20); leading one at bit 21 - lz
    exp = Signal(unsigned(8), name=f"{name}_exp")
    m.d.comb += exp.eq(98 + ua.eff_exp + ub.eff_exp - lz)
    man = Cat(Const(0, 2), shifted[:21])

    return _select(m, 32, name, [
        (ua.is_nan | ub.is_nan | (ua.is_inf & ub.is_zero) | (ua.is_zero & ub.is_inf), Const(F32.qnan, 32)),
        (ua.is_inf | ub.is_inf, Cat(Const(F32.exp_max << 23, 31), sign)),
        (ua.is_zero | ub.is_zero, Cat(Const(0, 31), sign)),
    ], Cat(man, exp, sign))


def low_mask(m, amount, width, name):
    """``width`` bits whose bit ``i`` is set when ``i < amount``: the bits a right shift
    by ``amount`` drops. A comparison per bit, cheaper than shifting back and comparing."""
    mask = Signal(width, name=name)
    m.d.comb += mask.eq(Cat(amount > i for i in range(width)))
    return mask


def _round_pack(m, fmt, sign, sig, exp, name, narrow=None, to_narrow=None):
    """``(-1)**sign * sig * 2**exp`` rounded to nearest even into ``fmt`` (finite inputs).

    ``sig`` is an unsigned value (its width is the working width), ``exp`` a
    signed value. Subnormal results are rounded once at their own precision;
    a result past the largest finite value becomes Inf; ``sig == 0`` gives a
    zero of sign ``sign``. Mirrors :func:`openlpu.golden.fp.round_pack`.

    With ``narrow`` (a format no wider than ``fmt``) and ``to_narrow`` (a
    1-bit value), rounds into ``narrow`` when ``to_narrow`` is high (its bits
    in the low ``narrow.width`` bits, the rest zero). Both share one
    normalise, one right shift and one increment: a ``narrow`` result is
    shifted ``fmt.man_bits - narrow.man_bits`` places further right, which
    puts its rounding position where ``fmt``'s is.
    """
    narrow = narrow or fmt
    to_narrow = Const(0, 1) if to_narrow is None else to_narrow
    E, M = fmt.exp_bits, fmt.man_bits
    extra = M - narrow.man_bits
    if extra < 0 or narrow.exp_bits > E:
        raise ValueError(f"narrow format {narrow} is wider than {fmt}")
    width = len(sig)
    W = max(width, M + 3)
    sig_p = Signal(W, name=f"{name}_sig")
    m.d.comb += sig_p.eq(sig << (W - width))
    lz = Signal(range(W + 1), name=f"{name}_lz")
    m.d.comb += lz.eq(leading_zeros(sig_p, W))
    norm = Signal(W, name=f"{name}_norm")
    m.d.comb += norm.eq((sig_p << lz)[:W])
    be = Signal(signed(18), name=f"{name}_be")           # biased exponent of the leading one
    m.d.comb += be.eq(exp - (W - width) + (W - 1) + Mux(to_narrow, narrow.bias, fmt.bias) - lz)
    sub = Signal(range(W + 2), name=f"{name}_sub")        # extra right shift of a subnormal
    m.d.comb += sub.eq(Mux(be >= 1, 0, Mux(be < 1 - W, W + 1, 1 - be)))
    rsh = Signal(range(W + 2 + extra), name=f"{name}_rsh")
    m.d.comb += rsh.eq(sub + Mux(to_narrow, extra, 0))
    shifted = Signal(W, name=f"{name}_shift")
    lost = Signal(name=f"{name}_lost")
    m.d.comb += [shifted.eq(norm >> rsh), lost.eq((norm & low_mask(m, rsh, W, f"{name}_lostm")) != 0)]
    top = shifted[W - 1 - M:W]
    guard = shifted[W - 2 - M]
    sticky = (shifted[:W - 2 - M] != 0) | lost
    q = Signal(M + 2, name=f"{name}_q")
    m.d.comb += q.eq(top + (guard & (sticky | top[0])))
    biased = Mux(be >= 1, be - 1, 0).as_unsigned()[:18]
    packed = Signal(20 + M, name=f"{name}_packed")
    m.d.comb += packed.eq(Mux(to_narrow, biased << narrow.man_bits, biased << M) + q)

    def pick(wide_value, narrow_value):
        return Mux(to_narrow, narrow_value, wide_value) if narrow is not fmt else wide_value
    inf = pick(_inf(fmt, sign), _inf(narrow, sign))
    return _select(m, fmt.width, name, [
        (sig == 0, pick(Cat(Const(0, fmt.width - 1), sign), Cat(Const(0, narrow.width - 1), sign))),
        (packed >= pick(fmt.exp_max << M, narrow.exp_max << narrow.man_bits), inf),
    ], pick(Cat(packed[:fmt.width - 1], sign), Cat(packed[:narrow.width - 1], sign)))


def f_mul(m, fmt, a, b, name="fmul"):
    """``a * b`` in format ``fmt``, rounded to nearest even (subnormals in and out, overflow to Inf)."""
    ua, ub = _Unpacked(m, fmt, a, f"{name}_a"), _Unpacked(m, fmt, b, f"{name}_b")
    sign = ua.sign ^ ub.sign
    prod = Signal(2 * fmt.man_bits + 2, name=f"{name}_prod")
    m.d.comb += prod.eq(ua.sig * ub.sig)
    exp = Signal(signed(16), name=f"{name}_exp")
    m.d.comb += exp.eq(ua.eff_exp + ub.eff_exp - 2 * (fmt.bias + fmt.man_bits))
    rounded = _round_pack(m, fmt, sign, prod, exp, f"{name}_rnd")
    return _select(m, fmt.width, name, [
        (ua.is_nan | ub.is_nan | (ua.is_inf & ub.is_zero) | (ua.is_zero & ub.is_inf), Const(fmt.qnan, fmt.width)),
        (ua.is_inf | ub.is_inf, _inf(fmt, sign)),
    ], rounded)


class FmaSum:
    """The exact ``a * b + c`` of :func:`fma_exact`: specials and ``(-1)**sign * sig * 2**exp``."""

    def __init__(self, nan, inf, inf_sign, sign, sig, exp):
        self.nan, self.inf, self.inf_sign = nan, inf, inf_sign
        self.sign, self.sig, self.exp = sign, sig, exp


class Operand:
    """A float operand as the FMA core sees it: ``sign``, significand ``sig`` (hidden bit
    included, not necessarily normalised), ``eff_exp`` (the value is ``sig * 2**(eff_exp -
    bias - man_bits)`` of the core's format) and the class flags ``is_zero``, ``is_inf``,
    ``is_nan``. :func:`unpack` makes one from raw bits; any format whose values are
    exact in the core's format may be mapped onto it (fp16 onto fp32, see
    :func:`unpack_f16_as_f32`)."""

    def __init__(self, sign, sig, eff_exp, is_zero, is_inf, is_nan):
        self.sign, self.sig, self.eff_exp = sign, sig, eff_exp
        self.is_zero, self.is_inf, self.is_nan = is_zero, is_inf, is_nan


def unpack(m, fmt, x, name):
    """Raw ``fmt`` bits -> :class:`Operand`."""
    u = _Unpacked(m, fmt, x, name)
    return Operand(u.sign, u.sig, u.eff_exp, u.is_zero, u.is_inf, u.is_nan)


def unpack_f16_as_f32(m, x, name):
    """Raw fp16 bits -> an fp32-core :class:`Operand` of the same value (exact)."""
    u = _Unpacked(m, F16, x, name)
    sig = Signal(24, name=f"{name}_sig32")
    exp = Signal(9, name=f"{name}_exp32")
    m.d.comb += [sig.eq(u.sig << 13), exp.eq(u.eff_exp + (F32.bias - F16.bias))]
    return Operand(u.sign, sig, exp, u.is_zero, u.is_inf, u.is_nan)


def fma_exact(m, fmt, a, b, c, name="fma"):
    """``a * b + c`` of raw ``fmt`` operands (see :func:`fma_exact_ops`)."""
    return fma_exact_ops(m, fmt, *(unpack(m, fmt, x, f"{name}_{n}") for x, n in ((a, "a"), (b, "b"), (c, "c"))),
                         name=name)


def fma_exact_ops(m, fmt, ua, ub, uc, name="fma", mul=None):
    """``a * b + c`` of ``fmt`` operands, exact up to a sticky bit, ready for one rounding.

    ``mul(sig_a, sig_b)``, if given, returns the significands' product (at
    least its ``2p`` low bits), for a caller that shares one multiplier
    between it and another product. Default ``sig_a * sig_b``.

    The normalised product (``2p`` bits, ``p`` = significand bits) sits at a
    fixed place of a ``3p + 5``-bit window and ``c`` is aligned to it; when
    one addend is more than ``p + 2`` binades below the other it is replaced
    by a sticky bit under the other's rounding position, which rounds the
    same as the exact value. Round with :func:`fma_round` to any format whose
    precision is at most ``p``.
    """
    M = fmt.man_bits
    p = M + 1
    D = p + 2
    PM = 2 * p + 1
    WW = 3 * p + 4
    sp = ua.sign ^ ub.sign
    prod = Signal(2 * p, name=f"{name}_prod")
    m.d.comb += prod.eq(mul(ua.sig, ub.sig) if mul else ua.sig * ub.sig)
    lzp = Signal(range(2 * p + 1), name=f"{name}_lzp")
    lzc = Signal(range(p + 1), name=f"{name}_lzc")
    m.d.comb += [lzp.eq(leading_zeros(prod, 2 * p)), lzc.eq(leading_zeros(uc.sig, p))]
    pn = Signal(2 * p, name=f"{name}_pn")
    cn = Signal(p, name=f"{name}_cn")
    m.d.comb += [pn.eq((prod << lzp)[:2 * p]), cn.eq((uc.sig << lzc)[:p])]
    ep = Signal(signed(16), name=f"{name}_ep")      # exponent of the product's leading one
    ec = Signal(signed(16), name=f"{name}_ec")
    m.d.comb += [ep.eq(ua.eff_exp + ub.eff_exp - 2 * (fmt.bias + M) + 2 * p - 1 - lzp),
                 ec.eq(uc.eff_exp - (fmt.bias + M) + p - 1 - lzc)]
    d = Signal(signed(17), name=f"{name}_d")
    m.d.comb += d.eq(ec - ep)
    p_zero, c_zero = prod == 0, uc.sig == 0
    c_big = Signal(name=f"{name}_cbig")       # product below c's rounding: a sticky bit
    c_small = Signal(name=f"{name}_csmall")   # c below the product's rounding: a sticky bit
    m.d.comb += [c_big.eq(p_zero | ((d > D) & ~c_zero)), c_small.eq(~c_big & (d < -D))]
    dcl = Signal(range(2 * D + 1), name=f"{name}_dcl")
    m.d.comb += dcl.eq(Mux(c_big, D, Mux(c_small, -D, d)) + D)      # in 0 .. 2D
    pw = Signal(WW, name=f"{name}_pw")
    cw = Signal(WW, name=f"{name}_cw")
    m.d.comb += [
        pw.eq(Mux(c_big, ~p_zero, pn << (PM - 2 * p + 1))),
        cw.eq(Mux(c_small, ~c_zero, cn << dcl)),          # c's leading one at bit PM + d
    ]
    sub = sp ^ uc.sign
    diff = Signal(signed(WW + 2), name=f"{name}_diff")
    m.d.comb += diff.eq(Mux(sub, pw - cw, pw + cw))
    mag = Signal(WW + 1, name=f"{name}_mag")
    m.d.comb += mag.eq(Mux(diff < 0, -diff, diff))
    exp = Signal(signed(16), name=f"{name}_lsb")
    m.d.comb += exp.eq(Mux(c_big, ec - PM - D, ep - PM))
    zero_sign = Mux(p_zero & c_zero, sp & uc.sign, 0)
    sign = Mux(mag == 0, zero_sign, Mux(sub & (diff < 0), uc.sign, sp))
    p_inf = ua.is_inf | ub.is_inf
    nan = (ua.is_nan | ub.is_nan | uc.is_nan | (ua.is_inf & ub.is_zero) | (ua.is_zero & ub.is_inf)
           | (p_inf & uc.is_inf & sub))
    return FmaSum(nan, p_inf | uc.is_inf, Mux(p_inf, sp, uc.sign), sign, mag, exp)


def fma_round(m, fmt, s, name="fmar", narrow=None, to_narrow=None):
    """Round an :class:`FmaSum` once (nearest even) into ``fmt``; NaN canonical.

    With ``narrow`` and ``to_narrow``, into ``narrow`` when ``to_narrow`` is
    high, by one shared rounding (see :func:`_round_pack`)."""
    narrow = narrow or fmt
    to_narrow = Const(0, 1) if to_narrow is None else to_narrow
    rounded = _round_pack(m, fmt, s.sign, s.sig, s.exp, f"{name}_rnd", narrow, to_narrow)
    return _select(m, fmt.width, name, [
        (s.nan, Mux(to_narrow, Const(narrow.qnan, fmt.width), Const(fmt.qnan, fmt.width))),
        (s.inf, Mux(to_narrow, _inf(narrow, s.inf_sign), _inf(fmt, s.inf_sign))),
    ], rounded)


def f_fma(m, fmt, a, b, c, name="ffma"):
    """``a * b + c`` in ``fmt`` with one rounding (nearest even)."""
    return fma_round(m, fmt, fma_exact(m, fmt, a, b, c, name), f"{name}_r")


def f_cmp(m, fmt, a, b, name="fcmp"):
    """IEEE comparison flags ``(unordered, eq, lt)`` of raw ``a``, ``b`` (-0 == +0).

    ``a < b`` is ``lt & ~unordered``; every predicate but ``ne`` is false when unordered.
    """
    ua, ub = _Unpacked(m, fmt, a, f"{name}_a"), _Unpacked(m, fmt, b, f"{name}_b")
    unordered = Signal(name=f"{name}_un")
    eq = Signal(name=f"{name}_eq")
    lt = Signal(name=f"{name}_lt")
    both_zero = ua.is_zero & ub.is_zero
    m.d.comb += [
        unordered.eq(ua.is_nan | ub.is_nan),
        eq.eq(~unordered & ((ua.magnitude == ub.magnitude) & (ua.sign == ub.sign) | both_zero)),
        lt.eq(~unordered & ~both_zero & Mux(ua.sign != ub.sign, ua.sign,
                                            Mux(ua.sign, ua.magnitude > ub.magnitude, ua.magnitude < ub.magnitude))),
    ]
    return unordered, eq, lt


def f_minmax(m, fmt, a, b, take_max, name="fminmax"):
    """IEEE-754-2019 minimum (``take_max`` low) / maximum: canonical NaN if either operand is
    NaN, -0 below +0, else the smaller (larger) operand's bits. ``take_max`` may be a signal."""
    ua, ub = _Unpacked(m, fmt, a, f"{name}_a"), _Unpacked(m, fmt, b, f"{name}_b")
    a_less = Mux(ua.sign != ub.sign, ua.sign,
                 Mux(ua.sign, ua.magnitude > ub.magnitude, ua.magnitude < ub.magnitude))
    return _select(m, fmt.width, name, [(ua.is_nan | ub.is_nan, Const(fmt.qnan, fmt.width))],
                   Mux(a_less ^ take_max, a, b))


def int_to_float(m, fmt, x, name="i2f"):
    """Signed integer value ``x`` (its width) -> ``fmt``, rounded to nearest even."""
    w = len(x)
    neg = x[w - 1]
    mag = Signal(w, name=f"{name}_mag")
    m.d.comb += mag.eq(Mux(neg, -x.as_signed(), x))
    return _round_pack(m, fmt, neg, mag, Const(0, signed(2)), f"{name}_rnd")


def float_to_int(m, fmt, x, width, name="f2i"):
    """``fmt`` -> signed ``width``-bit integer: nearest even, saturating (+-Inf too), NaN -> 0."""
    M = fmt.man_bits
    u = _Unpacked(m, fmt, x, f"{name}_x")
    t = Signal(signed(16), name=f"{name}_t")       # value = sig * 2**t
    m.d.comb += t.eq(u.eff_exp - (fmt.bias + M))
    big = Signal(name=f"{name}_big")               # |x| >= 2**width: saturates whatever the sign
    m.d.comb += big.eq(u.is_inf | (t + M >= width))
    lsh = Signal(range(width + 1), name=f"{name}_lsh")
    rsh = Signal(range(M + 3), name=f"{name}_rsh")
    m.d.comb += [lsh.eq(Mux((t > 0) & ~big, t, 0)), rsh.eq(Mux(t >= 0, 0, Mux(t < -(M + 2), M + 2, -t)))]
    frac = Cat(Const(0, 2), u.sig)                 # two bits below the point: guard, sticky
    sh = Signal(M + 3, name=f"{name}_sh")
    lost = Signal(name=f"{name}_lost")
    m.d.comb += [sh.eq(frac >> rsh), lost.eq((frac & low_mask(m, rsh, M + 3, f"{name}_lostm")) != 0)]
    whole = sh[2:]
    rq = Signal(M + 2, name=f"{name}_rq")
    m.d.comb += rq.eq(whole + (sh[1] & (sh[0] | lost | whole[0])))
    mag = Signal(width + 1, name=f"{name}_mag")
    m.d.comb += mag.eq(Mux(t > 0, (u.sig << lsh)[:width + 1], rq))
    hi = (1 << (width - 1)) - 1
    lo = Const(1 << (width - 1), width)
    return _select(m, width, name, [
        (u.is_nan, Const(0, width)),
        (big | (~u.sign & (mag > hi)), Mux(u.sign, lo, hi)),
        (u.sign & (mag >= (1 << (width - 1))), lo),
    ], Mux(u.sign, -mag, mag)[:width])


def float_to_float(m, src, dst, x, name="f2f"):
    """``src`` -> ``dst`` format: widening exact, narrowing nearest even (subnormal results,
    overflow to Inf); NaN canonical."""
    u = _Unpacked(m, src, x, f"{name}_x")
    exp = Signal(signed(16), name=f"{name}_exp")
    m.d.comb += exp.eq(u.eff_exp - (src.bias + src.man_bits))
    rounded = _round_pack(m, dst, u.sign, u.sig, exp, f"{name}_rnd")
    return _select(m, dst.width, name, [
        (u.is_nan, Const(dst.qnan, dst.width)),
        (u.is_inf, _inf(dst, u.sign)),
    ], rounded)
