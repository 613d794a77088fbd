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
   signed-digit terms (:func:`openlpu.rtl.arith.mul_const`), so it takes adders, not DSP blocks
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

import operator
from functools import reduce
from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from openlpu.config import require_config
from openlpu.golden import vxm_func as gold
from openlpu.golden.vxm_func import VxmFuncOp
from openlpu.rtl.arith import leading_zeros, mul_const, priority_select
from openlpu.rtl.hier import shared
from openlpu.rtl.pipeline import register
from openlpu.rtl.streams import Flow, StreamGroup, lane_word, word_planes
from openlpu.timing import VXM_FUNC_LATENCY

__all__ = ["VxmFunc", "VxmFuncLane", "RomWord", "ROM_LANES"]

#: One coefficient ROM word.
RomWord = data.StructLayout({"c0": signed(gold.C0_BITS), "c1": signed(gold.C1_BITS),
                             "c2": signed(gold.C2_BITS)})

_STAGES = 8
_Y_BITS = 40             # width of the normalised fixed-point value
_EXP = signed(12)        # exponents before the range check


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
        self._cfg = require_config(cfg)
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
        valid, func = [self.a.valid], [self.func]
        for s in range(1, _STAGES + 1):
            valid.append(register(m, valid[-1], f"valid{s}"))
            func.append(register(m, func[-1], f"func{s}", reset_less=True))
        m.d.comb += self.out.valid.eq(valid[_STAGES])

        for lane in range(lanes):
            port = roms[lane // ROM_LANES].read_port(domain="sync")
            unit = VxmFuncLane()
            m.submodules[f"lane{lane}"] = shared(unit, platform, "vxm_func_lane")
            m.d.comb += [unit.x.eq(lane_word(self.a.payload, lane)), unit.func0.eq(func[0]),
                         unit.func2.eq(func[2]), unit.func7.eq(func[7]),
                         port.addr.eq(unit.rom_addr), unit.rom_data.eq(port.data)]
            m.d.comb += word_planes(self.out.payload, lane, unit.out)
        return m


class VxmFuncLane(wiring.Component):
    """One lane of :class:`VxmFunc`: its 8 stages on fp32 ``x``, the result registered.

    The coefficient ROM is the parent's (shared by ``ROM_LANES`` lanes): the lane
    drives ``rom_addr`` in stage 3 and takes ``rom_data`` a cycle later. The
    function select travels in the parent's control pipeline; ``funcN`` is its
    stage-``N + 1`` copy. The VXM repeats the lane ``lanes`` times;
    hierarchical Verilog (:mod:`openlpu.rtl.hier`) emits it once.
    """

    def __init__(self):
        super().__init__({"x": In(32), "func0": In(2), "func2": In(2), "func7": In(2),
                          "rom_addr": Out(range(gold.ROM_DEPTH)), "rom_data": In(RomWord), "out": Out(32)})

    def elaborate(self, platform):
        m = Module()
        port = SimpleNamespace(addr=self.rom_addr, data=self.rom_data)
        func = {0: self.func0, 2: self.func2, 7: self.func7}
        m.d.comb += self.out.eq(_lane(m, port, self.x, func, "l"))
        return m


def _lane(m, port, x, func, p):
    """One lane's 8 stages on fp32 ``x``; ``func[s]`` is the function select in stage ``s + 1``
    (stages 1, 3 and 8 read it).
    Returns the result register."""
    def reg(shape, name, value):
        """A reset-less register ``{p}_{name}`` loading ``value``."""
        return register(m, value, f"{p}_{name}", shape=shape, reset_less=True)

    def carry(s, sign=True):
        """The special case (and from stage 4 the result's sign) travel beside the datapath:
        stage ``s``'s registers of them."""
        if sign:
            rsign.append(reg(1, f"rsign{s}", rsign[-1]))
        sp.append(reg(1, f"sp{s}", sp[-1]))
        spv.append(reg(32, f"spv{s}", spv[-1]))

    # --- stage 1: unpack, special cases --------------------------------------------
    flag, value = _specials(x, func[0])
    sp, spv, rsign = [None, reg(1, "sp1", flag)], [None, reg(32, "spv1", value)], []
    sign1, e1, man1 = reg(1, "sign1", x[31]), reg(8, "e1", x[23:31]), reg(23, "man1", x[:23])
    # --- stage 2: exp's significand x log2(e) ---------------------------------------
    prod = reg(60, "prod2", mul_const(Cat(man1, Const(1, 1)), gold.LOG2E, 60))
    sign2, e2, man2 = reg(1, "sign2", sign1), reg(8, "e2", e1), reg(23, "man2", man1)
    carry(2, sign=False)
    # --- stage 3: range reduction, ROM read -----------------------------------------
    addr, u3, base3, res_sign = _reduce(m, p, prod, sign2, e2, man2, func[2])
    m.d.comb += port.addr.eq(addr)
    u, base = reg(gold.U_BITS, "u3", u3), reg(_EXP, "base3", base3)
    rsign.append(reg(1, "rsign3", res_sign))
    carry(3, sign=False)
    # --- stage 4: ROM output register (the block RAM's read time stays out of the multiplier stage)
    word = reg(RomWord, "rom4", port.data)
    u, base = reg(gold.U_BITS, "u5", u), reg(_EXP, "base5", base)
    carry(4)
    # --- stage 5: c2 * u -------------------------------------------------------------
    a5 = reg(signed(gold.C2_BITS + 1), "a5", (word.c2 * u) >> gold.U_BITS)
    c1_5 = reg(signed(gold.C1_BITS), "c1_5", word.c1)
    c0_5 = reg(signed(gold.C0_BITS), "c0_6", word.c0)
    u5, base5 = reg(gold.U_BITS, "u5", u), reg(_EXP, "base6", base)
    carry(5)
    # --- stage 6: (c1 + a) * u ---------------------------------------------------------
    b6 = reg(signed(gold.C1_BITS + 2), "b6", ((c1_5 + a5) * u5) >> gold.U_BITS)
    c0_6, base6 = reg(signed(gold.C0_BITS), "c0_6", c0_5), reg(_EXP, "base6", base5)
    carry(6)
    # --- stage 7: + c0, normalise ------------------------------------------------------
    norm, exp7 = _normalise(m, p, c0_6 + b6, base6)
    carry(7)
    # --- stage 8: round, range, specials ---------------------------------------------
    packed = _round(m, p, norm, exp7, rsign[-1], func[7])
    return reg(32, "out8", Mux(sp[7], spv[7], packed))


def _specials(x, func):
    """``(flag, value)`` of the stage-1 special cases of fp32 ``x`` for function ``func``:
    whether the result is a special value, and that value."""
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
    def any_case(cases):
        return reduce(operator.or_, [condition for condition, _ in reversed(cases)], Const(0, 1))
    flag = priority_select([(func == op, any_case(specials[op])) for op in VxmFuncOp], Const(0, 1))
    value = priority_select([(func == op, priority_select(specials[op], Const(0, 32))) for op in VxmFuncOp],
                            Const(0, 32))
    return flag, value


def _reduce(m, p, prod, sign, e, man, func):
    """Stage 3, range reduction: ``(addr, u, base, res_sign)``: the ROM address, the offset
    in the segment, the result's base exponent and sign."""
    top = 153                                              # 150 + LOG2E_BITS - T_FRAC
    shift = Signal(6, name=f"{p}_shift3")
    m.d.comb += shift.eq(Mux(e > top, 0, Mux(e < top - 63, 63, top - e)))
    tmag = Signal(60, name=f"{p}_tmag3")
    m.d.comb += tmag.eq(prod >> shift)
    t = Signal(signed(62), name=f"{p}_t3")
    m.d.comb += t.eq(Mux(sign, -tmag, tmag))
    n = t[32:].as_signed()
    f = t[:32]
    low = 23 - gold.SEGMENT_BITS[VxmFuncOp.RECIP]          # mantissa bits below the index
    assert all(gold.SEGMENT_BITS[op] == 23 - low for op in (VxmFuncOp.RSQRT, VxmFuncOp.TANH))
    man_u = Cat(Const(0, gold.U_BITS - low), man[:low])
    man_j = man[low:]
    parity = ~e[0]
    half = (e - 127).as_signed() >> 1
    b = Signal(signed(9), name=f"{p}_binade3")
    lo_b, hi_b = gold.TANH_BINADES[0], gold.TANH_BINADES[-1]
    eb = (e - 127).as_signed()
    m.d.comb += b.eq(Mux(eb < lo_b, lo_b, Mux(eb > hi_b, hi_b, eb)))
    k_exp = gold.SEGMENT_BITS[VxmFuncOp.EXP]
    u_exp = f[32 - k_exp - gold.U_BITS:32 - k_exp]
    cases = {
        VxmFuncOp.EXP: (gold.ROM_BASE[VxmFuncOp.EXP] + f[32 - k_exp:], u_exp, 127 + n),
        VxmFuncOp.RECIP: (gold.ROM_BASE[VxmFuncOp.RECIP] + man_j, man_u, 254 - e),
        VxmFuncOp.RSQRT: (gold.ROM_BASE[VxmFuncOp.RSQRT] + Cat(man_j, parity), man_u, 127 - half),
        VxmFuncOp.TANH: (gold.ROM_BASE[VxmFuncOp.TANH] + Cat(man_j, (b - lo_b)[:4]), man_u,
                         127 + Mux(b < 0, b, 0)),
    }
    addr = Signal(range(gold.ROM_DEPTH), name=f"{p}_addr3")
    u = Signal(gold.U_BITS, name=f"{p}_u3")
    base = Signal(_EXP, name=f"{p}_base3")
    others = [(func == op, cases[op]) for op in (VxmFuncOp.TANH, VxmFuncOp.RSQRT, VxmFuncOp.RECIP)]
    for i, part in enumerate((addr, u, base)):
        m.d.comb += part.eq(priority_select([(sel, c[i]) for sel, c in others], cases[VxmFuncOp.EXP][i]))
    res_sign = sign & ((func == VxmFuncOp.RECIP) | (func == VxmFuncOp.TANH))
    return addr, u, base, res_sign


def _normalise(m, p, y_sum, base):
    """Stage 7: ``(norm, exp)`` registers: ``y_sum`` (at least 1) shifted so its leading one
    is the top bit of ``_Y_BITS``, and the exponent of that bit."""
    y = Signal(signed(gold.C0_BITS + 2), name=f"{p}_y7")
    m.d.comb += y.eq(y_sum)
    ypos = Signal(_Y_BITS, name=f"{p}_ypos7")
    m.d.comb += ypos.eq(Mux(y < 1, 1, y))
    lz = Signal(range(_Y_BITS + 1), name=f"{p}_lz7")
    pad = (1 << (_Y_BITS - 1).bit_length()) - _Y_BITS
    m.d.comb += lz.eq(leading_zeros(Cat(Const(0, pad), ypos), _Y_BITS + pad, balanced=True))
    norm = register(m, ypos << lz, f"{p}_norm7", shape=_Y_BITS, reset_less=True)
    # leading one at bit p = _Y_BITS - 1 - lz
    exp = register(m, base + (_Y_BITS - 1 - gold.FRAC) - lz, f"{p}_exp7", shape=_EXP, reset_less=True)
    return norm, exp


def _round(m, p, norm, exp7, s, func):
    """Stage 8: ``norm`` rounded to nearest-even and packed with exponent ``exp7`` and sign ``s``
    (overflow to Inf, underflow to 0, tanh clamped to 1.0)."""
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
    sbit = Cat(Const(0, 31), s)
    packed = Mux(inf, sbit | gold.INF, Mux(tiny, sbit, Cat(frac, exp, s)))
    # tanh: |result| > 1.0; without a carry the fraction is non-zero unless mant is
    # exactly the hidden bit and nothing is added
    above_one = Mux(carry, exp7 >= 127, (exp7 >= 128) | ((exp7 == 127) & ((mant[:23] != 0) | up)))
    clamp = (func == VxmFuncOp.TANH) & above_one
    return Mux(clamp, Cat(Const(gold.ONE, 31), s), packed)
