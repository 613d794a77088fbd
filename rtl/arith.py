"""Combinational arithmetic every unit builds from: leading-zero count,
priority select and shift-and-add multiplication.

Each function takes :class:`~amaranth.hdl.Value` s and returns one (no
:class:`~amaranth.hdl.Module`, no signal of its own), so it may be used
anywhere, even inside a caller's ``m.If`` block, without becoming conditional.
"""

from amaranth.hdl import Cat, Const, Mux

__all__ = ["leading_zeros", "priority_select", "sum_tree", "csd_digits", "mul_const", "mul_s8_lut"]


def leading_zeros(value, width, leaf=32, balanced=False):
    """Leading zeros of the low ``width`` bits of ``value``.

    By default a priority mux up to ``leaf`` bits; wider values split in two
    halves whose counts are joined by a mux and an adder (a tree, so the mux
    chains stay short); a zero value gives ``width``.

    ``balanced=True``: ``width`` is a power of two (at least 2) and the count
    is a balanced tree of 2-bit leaves whose counts are concatenated, not
    added, so the depth grows with ``log2(width)`` and there is no adder; a
    zero value gives ``width - 1`` (callers never pass one).
    """
    if balanced:
        return _leading_zeros_pow2(value, width)[1]
    if width > leaf:
        lo_w = width // 2
        hi_w = width - lo_w
        hi, lo = value[lo_w:width], value[:lo_w]
        return Mux(hi != 0, leading_zeros(hi, hi_w, leaf), hi_w + leading_zeros(lo, lo_w, leaf))
    count = Const(width, range(width + 1))
    for i in range(width):
        count = Mux(value[i], width - 1 - i, count)
    return count


def _leading_zeros_pow2(value, width):
    """``(zero, count)`` of the balanced form of :func:`leading_zeros`."""
    if width == 2:
        return ~value[1] & ~value[0], ~value[1]
    half = width // 2
    zh, ch = _leading_zeros_pow2(value[half:], half)
    zl, cl = _leading_zeros_pow2(value[:half], half)
    return zh & zl, Mux(zh, Cat(cl, Const(1, 1)), Cat(ch, Const(0, 1)))


def priority_select(cases, default):
    """The value of the first ``(condition, value)`` of ``cases`` that holds, else ``default``.

    A chain of ``Mux``: the first case is the outermost.
    """
    value = default
    for condition, choice in reversed(cases):
        value = Mux(condition, choice, value)
    return value


def sum_tree(terms):
    """The sum of ``terms`` (a non-empty list) by a balanced tree of adders.

    Pairs ``(0, 1), (2, 3), ...`` at each level, an odd last term passed on;
    each sum has Amaranth's width (one bit wider than its operands).
    """
    while len(terms) > 1:
        terms = [terms[j] + terms[j + 1] if j + 1 < len(terms) else terms[j]
                 for j in range(0, len(terms), 2)]
    return terms[0]


def csd_digits(c):
    """The canonical signed-digit form of the non-negative int ``c``: ``[(shift, ±1), ...]``.

    ``sum(d << s for s, d in csd_digits(c)) == c``, with no two adjacent
    nonzero digits, so the fewest additions and subtractions of shifted terms.
    """
    if c < 0:
        raise ValueError(f"csd_digits takes a non-negative int, not {c}")
    digits, shift = [], 0
    while c:
        if c & 1:
            d = 2 - (c & 3)               # +1 when c ends in 01, -1 when it ends in 11
            digits.append((shift, d))
            c -= d
        c >>= 1
        shift += 1
    return digits


def mul_const(x, c, width):
    """``x * c`` (unsigned ``x``, constant ``c`` >= 0), the low ``width`` bits, from adders.

    The shifted terms of :func:`csd_digits` summed by :func:`sum_tree`, so
    synthesis builds carry chains instead of a multiplier: on an FPGA whose DSP
    blocks are few, a multiplication by a constant need not take one.
    """
    terms = [(x << s) if d > 0 else -(x << s) for s, d in csd_digits(c)]
    if not terms:
        return Const(0, width)
    return sum_tree(terms).as_unsigned()[:width]


def mul_s8_lut(x, w):
    """``x * w`` of two signed 8-bit values as a sum of shifted partial products.

    The same value as ``x * w`` (a signed 16-bit product), written so that
    synthesis does not see a multiplication and keeps it in LUTs and carry
    chains instead of a DSP block: bit ``i`` of ``x`` selects ``w << i``, and
    the sign bit's term is subtracted (two's complement weight ``-2**7``).
    The eight terms are summed by :func:`sum_tree` (depth 3).
    """
    terms = [Mux(x[i], w << i, 0) for i in range(7)]
    terms.append(-Mux(x[7], w << 7, 0))
    return sum_tree(terms).as_signed()[:16].as_signed()
