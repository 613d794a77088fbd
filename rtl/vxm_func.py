"""VXM fp32 transcendental unit: exp, reciprocal, rsqrt, tanh on every lane.

The algorithm, stage by stage, is the golden model :mod:`openlpu.golden.vxm_func`
(its docstring states the reductions and every special case): fixed-point
range reduction, a quadratic per table segment from a coefficient ROM (one copy per ``ROM_LANES`` lanes)
(built by :func:`openlpu.golden.vxm_func.rom`), Horner's rule with truncated
products, one round to fp32 (nearest-even; subnormal inputs and results are
flushed to zero).

Pipeline (:data:`openlpu.timing.VXM_FUNC_LATENCY` = 8 stages, each ending in
a register; one multiplier per stage at most):

1. unpack; special-case detection and value
2. exp: 24-bit significand x log2(e), a 36-bit constant, as a sum of its 15
   signed-digit terms (:func:`csd_digits`), so it takes adders, not DSP blocks
3. range reduction to ROM address, offset ``u`` and base exponent; ROM read
4. ROM output register (the block RAM's read time stays out of the multiplier stage)
5. ``c2 * u`` (21 x 24 bits)
6. ``(c1 + .) * u`` (30 x 24 bits)
7. ``+ c0``; leading-one detection (a balanced tree) and normalising shift
8. round to nearest-even, exponent range, special-case override, pack

Ports
-----
a : In(Flow(StreamGroup(lanes, 4)))
    fp32 operands, one per lane, as 4 byte planes (little endian).
func : In(2)
    Function select (:class:`openlpu.golden.vxm_func.VxmFuncOp`), sampled
    with ``a``; a new function may be chosen every cycle.
out : Out(Flow(StreamGroup(lanes, 4)))
    fp32 results, ``VXM_FUNC_LATENCY`` cycles after the input; ``out.valid``
    is ``a.valid`` delayed by the same amount.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from openlpu.config import LpuConfig
from openlpu.golden import vxm_func as gold
from openlpu.golden.vxm_func import VxmFuncOp
from openlpu.rtl.streams import Flow, StreamGroup, lane_word, word_planes
from openlpu.timing import VXM_FUNC_LATENCY

__all__ = ["VxmFunc", "RomWord", "csd_digits", "mul_const"]

#: One coefficient ROM word.
RomWord = data.StructLayout({"c0": signed(gold.C0_BITS), "c1": signed(gold.C1_BITS),
                             "c2": signed(gold.C2_BITS)})

_STAGES = 8
_Y_BITS = 40             # width of the normalised fixed-point value
_EXP = signed(12)        # exponents before the range check


def _lzc(value, width):
    """``(zero, count)``: whether the ``width``-bit ``value`` (a power of two) is 0, and its leading zeros.

    A balanced tree, so the depth grows with ``log2(width)``; ``count`` is
    ``width - 1`` for a zero value (callers never pass one).
    """
    if width == 2:
        return ~value[1] & ~value[0], ~value[1]
    half = width // 2
    zh, ch = _lzc(value[half:], half)
    zl, cl = _lzc(value[:half], half)
    return zh & zl, Mux(zh, Cat(cl, Const(1, 1)), Cat(ch, Const(0, 1)))


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

    The shifted terms of :func:`csd_digits` summed by a balanced tree, so
    synthesis builds carry chains instead of a multiplier: on an FPGA whose DSP
    blocks are few, a multiplication by a constant need not take one.
    """
    terms = [(x << s) if d > 0 else -(x << s) for s, d in csd_digits(c)]
    if not terms:
        return Const(0, width)
    while len(terms) > 1:
        terms = [terms[j] + terms[j + 1] if j + 1 < len(terms) else terms[j]
                 for j in range(0, len(terms), 2)]
    return terms[0].as_unsigned()[:width]


def _priority(cases):
    """``(flag, value)``: any condition holds, and the value of the first that does."""
    flag, value = Const(0, 1), Const(0, 32)
    for cond, val in reversed(cases):
        flag = flag | cond
        value = Mux(cond, val, value)
    return flag, value


#: Lanes that read one copy of the coefficient ROM (the read ports of a block RAM).
ROM_LANES = 2


class VxmFunc(wiring.Component):
    """fp32 exp / reciprocal / rsqrt / tanh on ``cfg.lanes`` lanes (see the module docstring).

    Arguments
    ---------
    cfg : LpuConfig
        Uses ``cfg.lanes``.

    Raises
    ------
    TypeError
        ``cfg`` is not an :class:`~openlpu.config.LpuConfig`.
    """

    def __init__(self, cfg):
        if not isinstance(cfg, LpuConfig):
            raise TypeError(f"cfg must be an LpuConfig, not {cfg!r}")
        self._cfg = cfg
        group = StreamGroup(cfg.lanes, 4)
        super().__init__({"a": In(Flow(group)), "func": In(2), "out": Out(Flow(group))})

    @property
    def latency(self):
        """Cycles from ``a`` to ``out``."""
        return VXM_FUNC_LATENCY

    def elaborate(self, platform):
        if VXM_FUNC_LATENCY != _STAGES:
            raise NotImplementedError(f"VxmFunc has {_STAGES} stages, timing says {VXM_FUNC_LATENCY}")
        m = Module()
        lanes = self._cfg.lanes

        # One copy of the coefficient ROM per pair of lanes: a block RAM has two read ports.
        # (One ROM with a read port per lane is the same logic, but Yosys 0.23's memory
        # mapping ran out of memory on it at 16 lanes.)
        init = [{"c0": c0, "c1": c1, "c2": c2} for c0, c1, c2 in gold.rom()]
        roms = []
        for k in range(-(-lanes // ROM_LANES)):
            rom = Memory(shape=RomWord, depth=gold.ROM_DEPTH, init=init)
            m.submodules[f"rom{k}"] = rom
            roms.append(rom)

        # control pipeline: valid (the only registers with a reset) and function select
        valid = [self.a.valid]
        func = [self.func]
        for s in range(1, _STAGES + 1):
            v = Signal(name=f"valid{s}")
            f = Signal(2, name=f"func{s}", reset_less=True)
            m.d.sync += [v.eq(valid[-1]), f.eq(func[-1])]
            valid.append(v)
            func.append(f)
        m.d.comb += self.out.valid.eq(valid[_STAGES])

        for lane in range(lanes):
            port = roms[lane // ROM_LANES].read_port(domain="sync")
            result = self._lane(m, port, lane_word(self.a.payload, lane), func, f"l{lane}")
            m.d.comb += word_planes(self.out.payload, lane, result)
        return m

    def _lane(self, m, port, x, func, p):
        def reg(shape, name, value):
            r = Signal(shape, name=f"{p}_{name}", reset_less=True)
            m.d.sync += r.eq(value)
            return r

        # --- stage 1: unpack, special cases --------------------------------------------
        sign, e, man = x[31], x[23:31], x[:23]
        nan = (e == 255) & (man != 0)
        inf = (e == 255) & (man == 0)
        zero = e == 0
        s31 = Cat(Const(0, 31), sign)
        specials = {
            VxmFuncOp.EXP: [(nan, gold.QNAN), (inf | ((e >= 134) & ~nan & ~inf), Mux(sign, 0, gold.INF)),
                            (zero, gold.ONE)],
            VxmFuncOp.RECIP: [(nan, gold.QNAN), (inf, s31), (zero, s31 | gold.INF)],
            VxmFuncOp.RSQRT: [(nan, gold.QNAN), (zero, s31 | gold.INF), (sign, gold.QNAN), (inf, 0)],
            VxmFuncOp.TANH: [(nan, gold.QNAN), (inf | ((e >= 131) & ~nan), s31 | gold.ONE), (zero, s31),
                             (e < 127 + gold.TANH_BINADES[0], x)],
        }
        flag, value = Const(0, 1), Const(0, 32)
        for op in reversed(VxmFuncOp):
            f, v = _priority(specials[op])
            flag = Mux(func[0] == op, f, flag)
            value = Mux(func[0] == op, v, value)
        sp = [None, reg(1, "sp1", flag)]
        spv = [None, reg(32, "spv1", value)]
        sign1, e1, man1 = reg(1, "sign1", sign), reg(8, "e1", e), reg(23, "man1", man)

        # --- stage 2: exp's significand x log2(e) ---------------------------------------
        prod = reg(60, "prod2", mul_const(Cat(man1, Const(1, 1)), gold.LOG2E, 60))
        sign2, e2, man2 = reg(1, "sign2", sign1), reg(8, "e2", e1), reg(23, "man2", man1)
        sp.append(reg(1, "sp2", sp[1]))
        spv.append(reg(32, "spv2", spv[1]))

        # --- stage 3: range reduction, ROM read -----------------------------------------
        top = 153                                              # 150 + LOG2E_BITS - T_FRAC
        shift = Signal(6, name=f"{p}_shift3")
        m.d.comb += shift.eq(Mux(e2 > top, 0, Mux(e2 < top - 63, 63, top - e2)))
        tmag = Signal(60, name=f"{p}_tmag3")
        m.d.comb += tmag.eq(prod >> shift)
        t = Signal(signed(62), name=f"{p}_t3")
        m.d.comb += t.eq(Mux(sign2, -tmag, tmag))
        n = t[32:].as_signed()
        f = t[:32]
        low = 23 - gold.SEGMENT_BITS[VxmFuncOp.RECIP]          # mantissa bits below the index
        assert all(gold.SEGMENT_BITS[op] == 23 - low for op in (VxmFuncOp.RSQRT, VxmFuncOp.TANH))
        man_u = Cat(Const(0, gold.U_BITS - low), man2[:low])
        man_j = man2[low:]
        parity = ~e2[0]
        half = (e2 - 127).as_signed() >> 1
        b = Signal(signed(9), name=f"{p}_binade3")
        lo_b, hi_b = gold.TANH_BINADES[0], gold.TANH_BINADES[-1]
        eb = (e2 - 127).as_signed()
        m.d.comb += b.eq(Mux(eb < lo_b, lo_b, Mux(eb > hi_b, hi_b, eb)))
        k_exp = gold.SEGMENT_BITS[VxmFuncOp.EXP]
        u_exp = f[32 - k_exp - gold.U_BITS:32 - k_exp]
        cases = {
            VxmFuncOp.EXP: (gold.ROM_BASE[VxmFuncOp.EXP] + f[32 - k_exp:], u_exp, 127 + n),
            VxmFuncOp.RECIP: (gold.ROM_BASE[VxmFuncOp.RECIP] + man_j, man_u, 254 - e2),
            VxmFuncOp.RSQRT: (gold.ROM_BASE[VxmFuncOp.RSQRT] + Cat(man_j, parity), man_u, 127 - half),
            VxmFuncOp.TANH: (gold.ROM_BASE[VxmFuncOp.TANH] + Cat(man_j, (b - lo_b)[:4]), man_u,
                             127 + Mux(b < 0, b, 0)),
        }
        addr = Signal(range(gold.ROM_DEPTH), name=f"{p}_addr3")
        u3 = Signal(gold.U_BITS, name=f"{p}_u3")
        base3 = Signal(_EXP, name=f"{p}_base3")
        a_v, u_v, b_v = cases[VxmFuncOp.EXP]
        for op in (VxmFuncOp.RECIP, VxmFuncOp.RSQRT, VxmFuncOp.TANH):
            sel = func[2] == op
            a_v, u_v, b_v = Mux(sel, cases[op][0], a_v), Mux(sel, cases[op][1], u_v), Mux(sel, cases[op][2], b_v)
        m.d.comb += [addr.eq(a_v), u3.eq(u_v), base3.eq(b_v), port.addr.eq(addr)]
        res_sign = sign2 & ((func[2] == VxmFuncOp.RECIP) | (func[2] == VxmFuncOp.TANH))
        u = reg(gold.U_BITS, "u3", u3)
        base = reg(_EXP, "base3", base3)
        rsign = [reg(1, "rsign3", res_sign)]
        sp.append(reg(1, "sp3", sp[2]))
        spv.append(reg(32, "spv3", spv[2]))

        # --- stage 4: ROM output register ---------------------------------------------------
        word = reg(RomWord, "rom4", port.data)
        u = reg(gold.U_BITS, "u5", u)
        base = reg(_EXP, "base5", base)
        rsign.append(reg(1, "rsign4", rsign[-1]))
        sp.append(reg(1, "sp4", sp[3]))
        spv.append(reg(32, "spv4", spv[3]))

        # --- stage 5: c2 * u -------------------------------------------------------------
        a5 = reg(signed(gold.C2_BITS + 1), "a5", (word.c2 * u) >> gold.U_BITS)
        c1_5 = reg(signed(gold.C1_BITS), "c1_5", word.c1)
        c0_5 = reg(signed(gold.C0_BITS), "c0_6", word.c0)
        u5 = reg(gold.U_BITS, "u5", u)
        base5 = reg(_EXP, "base6", base)
        rsign.append(reg(1, "rsign5", rsign[-1]))
        sp.append(reg(1, "sp5", sp[4]))
        spv.append(reg(32, "spv5", spv[4]))

        # --- stage 6: (c1 + a) * u ---------------------------------------------------------
        b6 = reg(signed(gold.C1_BITS + 2), "b6", ((c1_5 + a5) * u5) >> gold.U_BITS)
        c0_6 = reg(signed(gold.C0_BITS), "c0_6", c0_5)
        base6 = reg(_EXP, "base6", base5)
        rsign.append(reg(1, "rsign6", rsign[-1]))
        sp.append(reg(1, "sp6", sp[5]))
        spv.append(reg(32, "spv6", spv[5]))

        # --- stage 7: + c0, normalise ------------------------------------------------------
        y = Signal(signed(gold.C0_BITS + 2), name=f"{p}_y7")
        m.d.comb += y.eq(c0_6 + b6)
        ypos = Signal(_Y_BITS, name=f"{p}_ypos7")
        m.d.comb += ypos.eq(Mux(y < 1, 1, y))
        lz = Signal(range(_Y_BITS + 1), name=f"{p}_lz7")
        pad = (1 << (_Y_BITS - 1).bit_length()) - _Y_BITS
        m.d.comb += lz.eq(_lzc(Cat(Const(0, pad), ypos), _Y_BITS + pad)[1])
        norm = reg(_Y_BITS, "norm7", ypos << lz)
        # leading one at bit p = _Y_BITS - 1 - lz
        exp7 = reg(_EXP, "exp7", base6 + (_Y_BITS - 1 - gold.FRAC) - lz)
        rsign.append(reg(1, "rsign7", rsign[-1]))
        sp.append(reg(1, "sp7", sp[6]))
        spv.append(reg(32, "spv7", spv[6]))

        # --- stage 8: round, range, specials ---------------------------------------------
        g_pos = _Y_BITS - 25                               # guard bit below 24 significant bits
        mant = norm[g_pos + 1:]
        guard = norm[g_pos]
        sticky = norm[:g_pos] != 0
        up = guard & (sticky | mant[0])
        rounded = Signal(25, name=f"{p}_rounded8")
        m.d.comb += rounded.eq(mant + up)
        carry = rounded[24]
        frac = Mux(carry, rounded[1:24], rounded[:23])
        # exponent range of exp7 and exp7 + 1, decided beside the rounding adder
        exp_up = Signal(8, name=f"{p}_expup8")
        m.d.comb += exp_up.eq(exp7 + 1)
        exp = Mux(carry, exp_up, exp7[:8])
        inf = Mux(carry, exp7 >= 254, exp7 >= 255)
        tiny = Mux(carry, exp7 <= -1, exp7 <= 0)
        s = rsign[-1]
        sbit = Cat(Const(0, 31), s)
        packed = Mux(inf, sbit | gold.INF, Mux(tiny, sbit, Cat(frac, exp, s)))
        # tanh: |result| > 1.0; without a carry the fraction is non-zero unless mant is
        # exactly the hidden bit and nothing is added
        above_one = Mux(carry, exp7 >= 127, (exp7 >= 128) | ((exp7 == 127) & ((mant[:23] != 0) | up)))
        clamp = (func[7] == VxmFuncOp.TANH) & above_one
        packed = Mux(clamp, Cat(Const(gold.ONE, 31), s), packed)
        return reg(32, "out8", Mux(sp[7], spv[7], packed))
