"""Vector execution module (VXM): ALU columns over int8/int16/int32/fp16/fp32, one ALU per lane and column.

Control (:func:`VxmControl`, an ``amaranth.lib.data.StructLayout`` loaded by
CONFIG as :func:`vxm_control_words` little-endian 32-bit words), fields from
the least significant bit:

* ``etype`` (3 bits): 0 int8, 1 int16, 2 int32, 3 fp16, 4 fp32
  (:data:`openlpu.golden.vxm.TYPES`; 5..7 reserved, the assembler and
  :func:`openlpu.golden.vxm.pack_control` reject them).
* ``alu[i]`` for each of the ``vxm_alus`` ALUs: ``op`` (5 bits, codes in
  :data:`openlpu.golden.vxm.OPS`, all 32 defined), ``src`` (1 bit: 0 means
  ``y = b, z = imm``; 1 means ``y = imm, z = b``), ``imm`` (32 bits).

The ``vxm_alus`` ALU columns (``A``) each take their own entries. An entry on
column ``k`` with chain length ``len`` runs a chain of ``len`` ALUs on columns
``k .. k + len - 1``: column ``k + i`` applies ALU ``i`` of the entry's
control (the control travels with the chain, each column taking the first of
the entries still to come), its first operand ``x`` is ``a`` on column ``k``
and the previous column's result after that, and ``b`` travels with the
chain. Semantics (types, rounding, NaN, masks, requantize) are those of
:mod:`openlpu.golden.vxm` (``chain`` of the control's first ``len`` ALUs). Every
float op goes through one fused multiply-add core per ALU (fp16 operands
mapped exactly onto fp32) and one rounding to fp32 or fp16; int -> float
conversions share that rounding.

Ports
-----
entry : In(VxmEntry(cfg, tag_bits)).array(vxm_alus)
    Column ``k``'s new chain: ``valid``; operands ``a``, ``b``
    (``StreamGroup(lanes, 4)``, an element of ``w`` bits in the low ``w // 8``
    planes); ``ctrl`` (:func:`VxmControl`); ``len`` (0: through the last
    column, ``vxm_alus - k``; a length past the last column ends there too);
    ``tag``, opaque, returned with the result.
out : Out(VxmResult(cfg, tag_bits)).array(vxm_alus)
    Results of the chains ending on column ``j``: ``valid``, ``data``
    (planes above the final element type's width are zero), ``tag``.
fault : Out(1).array(vxm_alus)
    Combinational: column ``k``'s entry is valid in a cycle a chain from
    column ``k - 1`` enters column ``k``. The chain keeps the column; the
    entry is dropped (it produces no result).

Latency: a chain of ``len`` ALUs enters column ``k + i`` ``i * VXM_ALU_LATENCY``
cycles after its entry and its result is on ``out[k + len - 1]``
``timing.vop_latency(len) = len * VXM_ALU_LATENCY`` cycles after it, for every
op and type. Chains on different columns run independently, so one entry per
column per cycle is taken.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from openlpu.config import require_config
from openlpu.isa import VOP_LEN_BITS
from openlpu.rtl.arith import priority_select
from openlpu.rtl.pipeline import delay, register
from openlpu.rtl import fp
from openlpu.rtl.hier import shared
from openlpu.rtl.streams import StreamGroup, lane_word, word_planes
from openlpu.timing import VXM_ALU_LATENCY, vop_latency
# The control slot's layout is the ISA's (re-exported: the chip, the testbench and the tests take it from here).
from openlpu.vxm_control import ETYPE_BITS, OP_BITS, OPS, TYPES, AluControl, VxmControl, vxm_control_words

__all__ = ["AluControl", "VxmControl", "VxmEntry", "VxmResult", "Vxm", "VxmAlu", "vxm_control_words"]

I8, I16, I32, H, S = (TYPES[k] for k in ("int8", "int16", "int32", "fp16", "fp32"))


def _by_width(t, v8, v16, v32):
    """``v8``, ``v16`` or ``v32`` by the width of element type ``t``."""
    return priority_select([(t == I8, v8), ((t == I16) | (t == H), v16)], v32)


def _width_of(t):
    return _by_width(t, 8, 16, 32)


def _sext(m, t, x, name):
    """``x`` narrowed to type ``t``'s width and sign-extended, as signed(32)."""
    r = Signal(signed(32), name=name)
    m.d.comb += r.eq(_by_width(t, x[:8].as_signed(), x[:16].as_signed(), x[:32].as_signed()))
    return r


def _mask(t):
    return _by_width(t, 0xFF, 0xFFFF, 0xFFFFFFFF)


def next_type(t, op, imm):
    """Element type after an ALU (``cvt`` and ``rqout`` change it)."""
    dst = imm[:3]
    return Mux(op == OPS["cvt"], Mux(dst <= S, dst, t), Mux(op == OPS["rqout"], I8, t))


#: The fields of an fp32-core :class:`~openlpu.rtl.fp.Operand` and their widths.
_OPERAND_FIELDS = (("sign", 1), ("sig", 24), ("eff_exp", 9), ("is_zero", 1), ("is_inf", 1), ("is_nan", 1))


def _sel_op(m, cases, default, name):
    """Mux of core operands: the first ``(cond, operand)`` that holds, else ``default``."""
    o = {}
    for k, w in _OPERAND_FIELDS:
        sig = Signal(w, name=f"{name}_{k}")
        m.d.comb += sig.eq(priority_select([(cond, getattr(op, k)) for cond, op in cases], getattr(default, k)))
        o[k] = sig
    return fp.Operand(**o)


def _fop(m, is16, x, name):
    """A raw fp16/fp32 value (by ``is16``) as an fp32-core operand."""
    h = fp.unpack_f16_as_f32(m, x[:16], f"{name}_h")
    s = fp.unpack(m, fp.F32, x, f"{name}_s")
    return _sel_op(m, [(is16, h)], s, name)


def _const_op(sign, value_one):
    """+-1.0 (``value_one``) or +-0 as a core operand."""
    return fp.Operand(sign, Const(1 << 23 if value_one else 0, 24), Const(127 if value_one else 1, 9),
                      Const(0 if value_one else 1, 1), Const(0, 1), Const(0, 1))


def _neg(o, flip):
    return fp.Operand(o.sign ^ flip, o.sig, o.eff_exp, o.is_zero, o.is_inf, o.is_nan)


def _to_int(m, xo, t_is_float, name):
    """Float core operand -> ``(nan, big, sign, mag)``: magnitude rounded to nearest even
    (33 bits; ``big`` when ``|x| >= 2**32`` or Inf)."""
    M = 23
    t = Signal(signed(12), name=f"{name}_t")
    m.d.comb += t.eq(xo.eff_exp - (127 + M))
    # leading one at or below bit 23 of sig: |x| < 2**(t + 24)
    big = Signal(name=f"{name}_big")
    m.d.comb += big.eq(xo.is_inf | (t + M >= 32))
    lsh = Signal(range(33), name=f"{name}_lsh")
    rsh = Signal(range(M + 3), name=f"{name}_rsh")
    m.d.comb += [lsh.eq(Mux((t > 0) & ~big, t, 0)), rsh.eq(Mux(t >= 0, 0, Mux(t < -(M + 2), M + 2, -t)))]
    frac = Cat(Const(0, 2), xo.sig)
    sh = Signal(M + 3, name=f"{name}_sh")
    lost = Signal(name=f"{name}_lost")
    m.d.comb += [sh.eq(frac >> rsh), lost.eq((frac & fp.low_mask(m, rsh, M + 3, f"{name}_lostm")) != 0)]
    whole = sh[2:]
    mag = Signal(33, name=f"{name}_mag")
    m.d.comb += mag.eq(Mux(t > 0, (xo.sig << lsh)[:33], whole + (sh[1] & (sh[0] | lost | whole[0]))))
    return xo.is_nan, big, xo.sign, mag


def _core_b(m, op, fx, fy, name):
    """The FMA core's multiplicand: ``y`` for mul/fma/fms, ``x`` for sqr, -1 for rsub, else 1."""
    O = OPS
    one = _const_op(Const(0, 1), True)
    return _sel_op(m, [((op == O["mul"]) | (op == O["fma"]) | (op == O["fms"]), fy), (op == O["sqr"], fx),
                       (op == O["rsub"], _neg(one, Const(1, 1)))], one, f"{name}_cb")


def _product(m, t, op, x, y, name):
    """The ALU's one multiplier: the integer product ``x * y`` (``x * x`` for sqr) of the
    sign-extended operands (signed 32 x 32), or the FMA core's 24-bit significands. A float
    type uses the core, except rqmul, the one integer op that multiplies and also runs on
    the raw bits of a float type."""
    is_float = (t == H) | (t == S)
    xs, ys = (_sext(m, t, v, f"{name}_m{n}s") for v, n in ((x, "x"), (y, "y")))
    fx, fy = (_fop(m, t == H, v, f"{name}_mf{n}") for v, n in ((x, "x"), (y, "y")))
    core_mul = is_float & (op != OPS["rqmul"])
    mul_b = Mux(op == OPS["sqr"], xs, ys)
    product = Signal(signed(66), name=f"{name}_mul")
    m.d.comb += product.eq(Mux(core_mul, fx.sig, xs) * Mux(core_mul, _core_b(m, op, fx, fy, f"{name}_m").sig, mul_b))
    return product


def _alu(m, t, op, x, y, z, imm, name, stage):
    """One ALU on raw operands of type ``t``; returns the raw 32-bit result (upper bits zero).

    ``stage(cut, value, name)`` is called on every value that crosses one of
    the ALU's two pipeline cuts and returns the value the rest of the ALU
    uses, the value itself or a register of it (:class:`Vxm` decides):
    ``"mul"`` after the multiplier (the product and the ALU's inputs) and
    ``"sum"`` after the FMA core's exact sum (with every result that needs
    no rounding), before the rounding."""
    # --- cut "mul": the multiplier, on its own decode of the inputs -------------------------
    product = stage("mul", _product(m, t, op, x, y, name), f"{name}_s_mul")
    t, op, x, y, z, imm = (stage("mul", v, f"{name}_s_{n}") for v, n in (
        (t, "t"), (op, "op"), (x, "x"), (y, "y"), (z, "z"), (imm, "imm")))
    is_float = (t == H) | (t == S)
    xs, ys, zs = (_sext(m, t, v, f"{name}_{n}s") for v, n in ((x, "x"), (y, "y"), (z, "z")))
    O = OPS
    prod = Signal(signed(64), name=f"{name}_prod")
    m.d.comb += prod.eq(product[:64])
    int_res = _int_results(m, t, xs, ys, zs, prod, name)
    fx, fy, fz = (_fop(m, t == H, v, f"{name}_f{n}") for v, n in ((x, "x"), (y, "y"), (z, "z")))
    rsum = _float_sum(m, op, is_float, xs, fx, fy, fz, product, name)
    float_res = _float_results(m, t, op, x, y, xs, ys, zs, name)
    # result format of the rounding: the destination of a conversion, else the element type
    dst = Mux(imm[:3] <= S, imm[:3], t)
    to16 = Signal(name=f"{name}_to16")
    m.d.comb += to16.eq(Mux(op == O["cvt"], dst == H, t == H))
    conv = _convert(m, fx, xs, is_float, dst, name)
    r = _early_result(m, op, is_float, conv, float_res, int_res, name)
    # ops whose result is the rounded sum (absdiff: its magnitude)
    use_round = Mux(op == O["cvt"], (dst == H) | (dst == S),
                    is_float & Cat(op == O[k] for k in ("add", "sub", "rsub", "mul", "sqr", "fma", "fms",
                                                         "absdiff")).any())
    clear_sign = is_float & (op == O["absdiff"])

    # --- cut "sum" -------------------------------------------------------------------------------
    rsum = fp.FmaSum(*(stage("sum", v, f"{name}_s_{k}") for k, v in (
        ("nan", rsum.nan), ("inf", rsum.inf), ("inf_sign", rsum.inf_sign), ("sign", rsum.sign),
        ("sig", rsum.sig), ("exp", rsum.exp))))
    to16, use_round, clear_sign, early, nt = (stage("sum", v, f"{name}_s_{k}") for k, v in (
        ("to16", to16), ("use_round", use_round), ("clear_sign", clear_sign), ("early", r),
        ("type", next_type(t, op, imm))))
    # one rounding serves both formats
    rounded = fp.fma_round(m, fp.F32, rsum, f"{name}_rnd", narrow=fp.F16, to_narrow=to16)
    rounded = Mux(clear_sign, rounded & ~Mux(to16, 0x8000, 0x80000000), rounded)
    out = Signal(32, name=f"{name}_out")
    m.d.comb += out.eq(Mux(use_round, rounded, early) & _mask(nt))
    return out


def _int_results(m, t, xs, ys, zs, prod, name):
    """Every op's integer result, ``{op code: value}``, on the sign-extended operands
    ``xs``, ``ys``, ``zs`` and their product ``prod``."""
    O = OPS
    w = _width_of(t)
    amt = ys.as_unsigned()[:8]
    big = amt >= w
    au = xs.as_unsigned() & _mask(t)
    diff = _sext(m, t, xs - ys, f"{name}_diff")
    rqmul, rqout = _requantize(m, t, xs, ys, prod, name)
    cmp_i = {O["eq"]: xs == ys, O["ne"]: xs != ys, O["lt"]: xs < ys, O["le"]: xs <= ys,
             O["gt"]: xs > ys, O["ge"]: xs >= ys}
    int_res = {
        O["nop"]: xs, O["add"]: xs + ys, O["sub"]: xs - ys, O["mul"]: prod, O["sqr"]: prod,
        O["min"]: Mux(xs < ys, xs, ys), O["max"]: Mux(xs > ys, xs, ys),
        O["and"]: xs & ys, O["or"]: xs | ys, O["xor"]: xs ^ ys,
        O["shl"]: Mux(big, 0, xs << amt[:5]), O["shr"]: Mux(big, 0, au >> amt[:5]),
        O["sar"]: Mux(big, Mux(xs < 0, -1, 0), xs >> amt[:5]),
        O["relu"]: Mux(xs < 0, 0, xs), O["abs"]: Mux(xs < 0, -xs, xs), O["neg"]: -xs, O["not"]: ~xs,
        O["fma"]: prod + zs, O["fms"]: prod - zs, O["rsub"]: ys - xs, O["mov"]: ys,
        O["sel"]: Mux(xs != 0, ys, zs), O["absdiff"]: Mux(diff < 0, -diff, diff),
        O["rqmul"]: rqmul, O["rqout"]: rqout,
    }
    for code, c in cmp_i.items():
        int_res[code] = Mux(c, -1, 0)
    return int_res


def _requantize(m, t, xs, ys, prod, name):
    """``(rqmul, rqout)``: gemmlowp's SaturatingRoundingDoublingHighMul in the element width,
    and RoundingDivideByPOT by ``ys[:5]`` plus the zero point ``ys[8:16]``, saturated to int8."""
    w_is8, is16 = t == I8, (t == I16) | (t == H)
    rq = {}
    for wd in (8, 16, 32):
        nudge = Mux(prod >= 0, 1 << (wd - 2), 1 - (1 << (wd - 2)))
        tt = Signal(signed(66), name=f"{name}_rq{wd}t")
        m.d.comb += tt.eq(prod + nudge)
        q = Mux(tt >= 0, tt >> (wd - 1), -((-tt) >> (wd - 1)))
        sat = (xs == -(1 << (wd - 1))) & (ys == -(1 << (wd - 1)))
        rq[wd] = Mux(sat, (1 << (wd - 1)) - 1, q)
    rqmul = Mux(w_is8, rq[8], Mux(is16, rq[16], rq[32]))
    s5 = ys.as_unsigned()[:5]
    pmask = Signal(32, name=f"{name}_pmask")
    m.d.comb += pmask.eq((Const(1, 33) << s5) - 1)
    rem = xs.as_unsigned() & pmask
    thr = (pmask >> 1) + (xs < 0)
    qd = Signal(signed(34), name=f"{name}_qd")
    m.d.comb += qd.eq((xs >> s5) + (rem > thr) + ys.as_unsigned()[8:16].as_signed())
    rqout = Mux(qd < -128, -128, Mux(qd > 127, 127, qd))
    return rqmul, rqout


def _float_sum(m, op, is_float, xs, fx, fy, fz, product, name):
    """The FMA core's exact sum for the op (an int -> float conversion: ``|xs|`` with
    exponent 0, which shares the rounding), as an :class:`~openlpu.rtl.fp.FmaSum`."""
    O = OPS

    def significand_product(sig_a, sig_b):
        # the product of these very operands (ca = x, cb = _core_b), from _product
        return product.as_unsigned()[:len(sig_a) + len(sig_b)]
    mzero = _const_op(Const(1, 1), False)
    is_sub = (op == O["sub"]) | (op == O["absdiff"])
    ca = fx
    cb = _core_b(m, op, fx, fy, name)
    cc = _sel_op(m, [((op == O["add"]) | (op == O["rsub"]), fy), (is_sub, _neg(fy, Const(1, 1))),
                     (op == O["fma"], fz), (op == O["fms"], _neg(fz, Const(1, 1)))], mzero, f"{name}_cc")
    core = fp.fma_exact_ops(m, fp.F32, ca, cb, cc, name=f"{name}_fma", mul=significand_product)
    i2f = (op == O["cvt"]) & ~is_float
    imag = Signal(32, name=f"{name}_imag")
    m.d.comb += imag.eq(Mux(xs < 0, -xs, xs))
    return fp.FmaSum(core.nan & ~i2f, core.inf & ~i2f, core.inf_sign,
                     Mux(i2f, xs < 0, core.sign), Mux(i2f, imag, core.sig), Mux(i2f, 0, core.exp))


def _float_results(m, t, op, x, y, xs, ys, zs, name):
    """The float ops' results that need no rounding, ``{op code: value}`` (compare, min,
    max, relu, sign ops, moves); the others round the FMA core's sum after the cut."""
    O = OPS
    sign_bit = Mux(t == H, 0x8000, 0x80000000)
    un16, eq16, lt16 = fp.f_cmp(m, fp.F16, x[:16], y[:16], f"{name}_c16")
    un32, eq32, lt32 = fp.f_cmp(m, fp.F32, x, y, f"{name}_c32")
    un, eq, lt = Mux(t == H, un16, un32), Mux(t == H, eq16, eq32), Mux(t == H, lt16, lt32)
    cmp_f = {O["eq"]: eq, O["ne"]: ~eq, O["lt"]: lt, O["le"]: lt | eq,
             O["gt"]: ~un & ~lt & ~eq, O["ge"]: ~un & ~lt}
    relu = op == O["relu"]
    take_max = (op == O["max"]) | relu
    my = Mux(relu, 0, y)
    mm16 = fp.f_minmax(m, fp.F16, x[:16], my[:16], take_max, f"{name}_mm16")
    mm32 = fp.f_minmax(m, fp.F32, x, my, take_max, f"{name}_mm32")
    minmax = Mux(t == H, mm16, mm32)
    xr = x & _mask(t)
    float_res = {
        O["nop"]: xr, O["min"]: minmax, O["max"]: minmax, O["relu"]: minmax,
        O["abs"]: xr & ~sign_bit, O["neg"]: xr ^ sign_bit, O["mov"]: ys, O["sel"]: Mux(xs != 0, ys, zs),
    }
    for code, c in cmp_f.items():
        float_res[code] = Mux(c, -1, 0)
    return float_res


def _convert(m, fx, xs, is_float, dst, name):
    """``cvt`` to an integer type ``dst``: a float (``fx``) rounded to nearest even, or an
    integer (``xs``), saturated to ``dst``'s range (NaN -> 0)."""
    nan, fbig, fsign, fmag = _to_int(m, fx, is_float, f"{name}_f2i")

    def sat_int(wd):
        lo, hi = -(1 << (wd - 1)), (1 << (wd - 1)) - 1
        from_float = Mux(nan, 0, Mux(fbig | (~fsign & (fmag > hi)), Mux(fsign, lo, hi),
                                     Mux(fsign & (fmag >= (1 << (wd - 1))), lo, Mux(fsign, -fmag, fmag))))
        # xs is an int32: to int32 there is nothing to clamp
        from_int = xs if wd == 32 else Mux(xs < lo, lo, Mux(xs > hi, hi, xs))
        return Mux(is_float, from_float, from_int)
    return Mux(dst == I8, sat_int(8), Mux(dst == I16, sat_int(16), sat_int(32)))


def _early_result(m, op, is_float, conv, float_res, int_res, name):
    """The result of every op that needs no rounding (``{name}_r``), selected by ``op``."""
    O = OPS
    r = Signal(32, name=f"{name}_r")
    with m.Switch(op):
        for code in range(1 << OP_BITS):
            with m.Case(code):
                if code == O["cvt"]:
                    m.d.comb += r.eq(conv)
                elif code in float_res:
                    m.d.comb += r.eq(Mux(is_float, float_res[code], int_res[code]))
                else:
                    m.d.comb += r.eq(int_res[code])
    return r


#: The ALU's registered pipeline cuts (see :func:`_alu`) for each ``VXM_ALU_LATENCY``.
ALU_CUTS = {1: (), 2: ("sum",), 3: ("mul", "sum")}


class VxmAlu(wiring.Component):
    """One ALU of one lane (see :func:`_alu`), its result registered:
    ``VXM_ALU_LATENCY`` cycles from ``x``/``b`` and the control to ``out``.

    The VXM repeats it ``vxm_alus * lanes`` times; hierarchical Verilog
    (:mod:`openlpu.rtl.hier`) emits it once.
    """

    def __init__(self):
        super().__init__({"t": In(ETYPE_BITS), "op": In(OP_BITS), "src": In(1), "imm": In(32),
                          "x": In(32), "b": In(32), "out": Out(32)})

    def elaborate(self, platform):
        m = Module()

        def cut(where, value, name):
            """An ALU pipeline cut (see _alu): a register if ``where`` is one of ALU_CUTS."""
            return register(m, value, name) if where in ALU_CUTS[VXM_ALU_LATENCY] else value
        y = Mux(self.src, self.imm, self.b)
        z = Mux(self.src, self.b, self.imm)
        res = _alu(m, self.t, self.op, self.x, y, z, self.imm, "alu", cut)
        m.d.sync += self.out.eq(res)
        return m


def VxmEntry(cfg, tag_bits):
    """Signature of a column's new chain, from its producer: ``valid``, ``a``, ``b``, ``ctrl``,
    ``len``, ``tag`` (see the module docstring)."""
    group = StreamGroup(cfg.lanes, 4)
    return wiring.Signature({"valid": Out(1), "a": Out(group), "b": Out(group), "ctrl": Out(VxmControl(cfg)),
                             "len": Out(VOP_LEN_BITS), "tag": Out(tag_bits)})


def VxmResult(cfg, tag_bits):
    """Signature of a column's results, from the VXM: ``valid``, ``data``, ``tag``."""
    return wiring.Signature({"valid": Out(1), "data": Out(StreamGroup(cfg.lanes, 4)), "tag": Out(tag_bits)})


class Vxm(wiring.Component):
    """VXM: ``vxm_alus`` ALU columns of ``lanes`` ALUs each, an entry, a result and a fault flag
    per column (see the module docstring).

    A chain entering column ``j`` from column ``j - 1`` takes precedence over
    column ``j``'s entry of that cycle, which is dropped and raises
    ``fault[j]``. Latency: ``timing.vop_latency(len)`` cycles from an entry to
    its result (``VXM_ALU_LATENCY`` stages per ALU, :data:`ALU_CUTS`), the same
    for every op and type.

    Parameters
    ----------
    cfg : LpuConfig
    lanes : int or None
        Build the ALUs of lanes ``0 .. lanes-1`` only; the other lanes'
        results are 0. ``None`` (default): all ``cfg.lanes``. Only for
        synthesis: the lanes are independent copies, so one lane's chain
        gives the VXM's Fmax and a ``cfg.lanes``-th of its area when the whole
        unit does not fit the FPGA (``bench/bench_synth.py``, unit ``vxm_slice``).
    tag_bits : int
        Width of the opaque ``tag`` an entry passes to its result.
    """

    def __init__(self, cfg, lanes=None, tag_bits=8):
        require_config(cfg)
        if VXM_ALU_LATENCY not in ALU_CUTS:
            raise ValueError(f"rtl.vxm builds an ALU of 1 to 3 stages; VXM_ALU_LATENCY is {VXM_ALU_LATENCY}")
        if lanes is not None and (not isinstance(lanes, int) or isinstance(lanes, bool)
                                  or not 1 <= lanes <= cfg.lanes):
            raise ValueError(f"lanes must be None or an int in 1..{cfg.lanes}, not {lanes!r}")
        self.cfg = cfg
        self._lanes = cfg.lanes if lanes is None else lanes
        cols = cfg.vxm_alus
        super().__init__({"entry": In(VxmEntry(cfg, tag_bits)).array(cols),
                          "out": Out(VxmResult(cfg, tag_bits)).array(cols), "fault": Out(1).array(cols)})

    @property
    def latency(self):
        """Cycles from an entry on column 0 to the result of its full-length chain."""
        return vop_latency(self.cfg.vxm_alus)

    def elaborate(self, platform):
        m = Module()
        cols = self.cfg.vxm_alus
        chain = None        # what enters column j from column j - 1 (None for column 0)
        for j in range(cols):
            cur = self._entry(j)
            if chain is not None:
                take = chain["valid"]
                m.d.comb += self.fault[j].eq(take & self.entry[j].valid)
                cur = {"valid": take | cur["valid"],
                       **{k: Mux(take, chain[k], cur[k]) for k in ("t", "alus", "rem", "tag")},
                       **{k: [Mux(take, c, e) for c, e in zip(chain[k], cur[k])] for k in ("x", "b")}}
            chain = self._column(m, platform, j, cur)
        return m

    def _entry(self, j):
        """Column ``j``'s entry as a chain entering it: the control's first ``vxm_alus - j``
        ALUs (the ones left to run here and beyond), ``len`` resolved to the ALUs left."""
        e, left = self.entry[j], self.cfg.vxm_alus - j
        return {"valid": e.valid, "t": e.ctrl.etype, "alus": e.ctrl.alu.as_value()[:left * AluControl.size],
                "rem": Mux((e.len == 0) | (e.len > left), left, e.len), "tag": e.tag,
                "x": [lane_word(e.a, lane) for lane in range(self._lanes)],
                "b": [lane_word(e.b, lane) for lane in range(self._lanes)]}

    def _column(self, m, platform, j, cur):
        """Column ``j``'s ALUs on the chain ``cur`` entering it; drives ``out[j]`` for a chain
        ending here and returns the chain entering column ``j + 1`` (``None`` past the last)."""
        cols = self.cfg.vxm_alus
        alu = AluControl(cur["alus"][:AluControl.size])
        xs = []
        for lane in range(self._lanes):
            unit = VxmAlu()
            m.submodules[f"alu{j}_lane{lane}"] = shared(unit, platform, "vxm_alu")
            m.d.comb += [unit.t.eq(cur["t"]), unit.op.eq(alu.op), unit.src.eq(alu.src), unit.imm.eq(alu.imm),
                         unit.x.eq(cur["x"][lane]), unit.b.eq(cur["b"][lane])]
            xs.append(unit.out)

        def alu_delay(value, name, shape):
            """``value`` after the ALU's VXM_ALU_LATENCY registers (the last one named ``name``)."""
            return delay(m, value, VXM_ALU_LATENCY, name, shape=shape, last_name=name)
        valid = alu_delay(cur["valid"], f"valid{j}", 1)
        tag = alu_delay(cur["tag"], f"tag{j}", len(self.entry[j].tag))
        t = alu_delay(next_type(cur["t"], alu.op, alu.imm), f"type{j + 1}", ETYPE_BITS)
        out = self.out[j]
        if j == cols - 1:
            end = Const(1)
            nxt = None
        else:
            rem = alu_delay(cur["rem"], f"rem{j}", range(cols + 1))
            end = rem <= 1
            nxt = {"valid": valid & ~end, "x": xs, "t": t, "rem": rem - 1, "tag": tag,
                   "b": [alu_delay(b, f"b{j}_lane{lane}", 32) for lane, b in enumerate(cur["b"])],
                   "alus": alu_delay(cur["alus"][AluControl.size:], f"ctrl{j}", (cols - 1 - j) * AluControl.size)}
        m.d.comb += [out.valid.eq(valid & end), out.tag.eq(tag)]
        for lane in range(self._lanes):
            m.d.comb += word_planes(out.data, lane, xs[lane])
        return nxt
