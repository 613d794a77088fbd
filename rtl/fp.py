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

from amaranth.hdl import Cat, Const, Mux, Signal, unsigned

__all__ = ["FloatFormat", "F16", "F32", "f_add", "f32_add", "f16_mul_f32", "clz"]


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


def clz(value, width):
    """Leading zeros of the low ``width`` bits of ``value`` (``width`` if zero), as a priority mux."""
    count = Const(width, range(width + 1))
    for i in range(width):
        count = Mux(value[i], width - 1 - i, count)
    return count


def _select(m, width, name, cases, default):
    """A named signal equal to the first ``(condition, value)`` that holds, else ``default``.

    Built from ``Mux`` so the functions here may be called anywhere, even
    inside a caller's ``m.If`` block, without becoming conditional.
    """
    value = default
    for condition, choice in reversed(cases):
        value = Mux(condition, choice, value)
    result = Signal(width, name=f"{name}_result")
    m.d.comb += result.eq(value)
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
    """``a + b`` in format ``fmt``, rounded to nearest even."""
    E, M = fmt.exp_bits, fmt.man_bits
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
    W = M + 4                          # hidden + M + guard + round + sticky
    dist = Signal(E, name=f"{name}_dist")
    m.d.comb += dist.eq(x_exp - y_exp)
    shift = Mux(dist > W, W, dist)
    y_ext = Cat(Const(0, 3), y_sig)
    y_shifted = Signal(W, name=f"{name}_yshift")
    lost = Signal(name=f"{name}_lost")
    m.d.comb += [
        y_shifted.eq(y_ext >> shift),
        lost.eq((y_shifted << shift)[:W] != y_ext),     # a one was shifted out
    ]
    y_aligned = Cat(y_shifted[0] | lost, y_shifted[1:])
    x_ext = Cat(Const(0, 3), x_sig)

    subtract = x_sign ^ y_sign
    total = Signal(W + 1, name=f"{name}_sum")
    m.d.comb += total.eq(Mux(subtract, x_ext - y_aligned, x_ext + y_aligned))

    # Normalise: one right shift on carry, else left shift by the leading zeros,
    # limited so that the exponent stays >= 1 (subnormal results).
    carry = total[W]
    lz = Signal(range(W + 1), name=f"{name}_lz")
    m.d.comb += lz.eq(clz(total[:W], W))
    left = Signal(range(W + 1), name=f"{name}_left")
    m.d.comb += left.eq(Mux(lz < x_exp, lz, x_exp - 1))
    norm = Signal(W, name=f"{name}_norm")
    norm_exp = Signal(E + 1, name=f"{name}_nexp")
    m.d.comb += [
        norm.eq(Mux(carry, Cat(total[0] | total[1], total[2:W + 1]), (total[:W] << left)[:W])),
        norm_exp.eq(Mux(carry, x_exp + 1, x_exp - left)),
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

    zero_sign = Mux(subtract, 0, x_sign)        # exact zero: +0 unless both operands are -0
    inf = Cat(Const(fmt.exp_max << M, fmt.width - 1), x_sign)
    return _select(m, fmt.width, name, [
        (ua.is_nan | ub.is_nan | (ua.is_inf & ub.is_inf & subtract), Const(fmt.qnan, fmt.width)),
        (ua.is_inf | ub.is_inf, inf),
        (total == 0, Cat(Const(0, fmt.width - 1), zero_sign)),
        (r_exp >= fmt.exp_max, inf),
    ], Cat(r_man, r_exp[:E], x_sign))


def f32_add(m, a, b):
    """fp32 + fp32 -> fp32, rounded to nearest even."""
    return f_add(m, F32, a, b)


def f16_mul_f32(m, a, b, name="fmul16"):
    """fp16 x fp16 -> fp32, exact.

    Two 11-bit significands give at most 22 product bits, and the product's
    exponent (from 2**-48 to 2**32) is always in fp32's normal range, so the
    product is normalised by a left shift only and never rounded.
    """
    ua, ub = _Unpacked(m, F16, a, f"{name}_a"), _Unpacked(m, F16, b, f"{name}_b")
    sign = ua.sign ^ ub.sign
    prod = Signal(22, name=f"{name}_prod")
    m.d.comb += prod.eq(ua.sig * ub.sig)
    lz = Signal(range(23), name=f"{name}_lz")
    m.d.comb += lz.eq(clz(prod, 22))
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
