"""Vector execution module (VXM): integer ALU chains, one chain per lane.

Control (:func:`VxmControl`, an ``amaranth.lib.data.StructLayout`` for the ISA):

* ``etype`` (2 bits): 0 int8, 1 int16, 2 int32 (element width 8/16/32).
* ``alu[i]`` for each of the ``vxm_alus`` ALUs: ``op`` (4 bits, codes in
  :data:`openlpu.golden.vxm.OPS`), ``src`` (1 bit: 0 = stream operand ``b``,
  1 = ``imm``), ``imm`` (32 bits).

ALU 0's first operand is stream operand ``a``; ALU ``i > 0`` takes ALU
``i - 1``'s result in the same instruction. Semantics are those of
:mod:`openlpu.golden.vxm` (wrapping arithmetic, shifts by the low 8 bits).

Ports
-----
a, b : In(Flow(StreamGroup(lanes, 4)))
    Operands; an element of ``w`` bits uses the low ``w // 8`` planes.
ctrl : In(VxmControl(cfg))
    Sampled with ``a``/``b`` and carried down the pipeline with the data.
out : Out(Flow(StreamGroup(lanes, 4)))
    Result ``vxm_alus * VXM_ALU_LATENCY`` cycles after the input (planes
    above the element width are zero).

Not yet implemented: floating point, compare/select, conversions,
requantize, transcendentals, cross-lane reductions.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from openlpu.config import LpuConfig
from openlpu.rtl.streams import Flow, StreamGroup, lane_word, word_planes
from openlpu.timing import VXM_ALU_LATENCY

__all__ = ["AluControl", "VxmControl", "Vxm"]

AluControl = data.StructLayout({"op": unsigned(4), "src": unsigned(1), "imm": unsigned(32)})


def VxmControl(cfg):
    """Per-instruction control layout for ``cfg.vxm_alus`` chained ALUs."""
    return data.StructLayout({"etype": unsigned(2),
                              "alu": data.ArrayLayout(AluControl, cfg.vxm_alus)})


def _narrow(m, etype, x):
    """``x`` (32 bits) truncated to the element width and sign-extended, as signed(32)."""
    r = Signal(signed(32))
    m.d.comb += r.eq(Mux(etype == 0, x[:8].as_signed(),
                         Mux(etype == 1, x[:16].as_signed(), x[:32].as_signed())))
    return r


def _alu(m, etype, op, a, b):
    """Combinational ALU on sign-extended operands; returns the narrowed result."""
    w = Mux(etype == 0, 8, Mux(etype == 1, 16, 32))
    amt = b.as_unsigned()[:8]
    big = amt >= w
    mask = Mux(etype == 0, 0xFF, Mux(etype == 1, 0xFFFF, 0xFFFFFFFF))
    au = a.as_unsigned() & mask
    r = Signal(signed(32))
    with m.Switch(op):
        for code, expr in {
            0: a, 1: a + b, 2: a - b, 3: a * b,
            4: Mux(a < b, a, b), 5: Mux(a > b, a, b),
            6: a & b, 7: a | b, 8: a ^ b,
            9: Mux(big, 0, a << amt[:5]),
            10: Mux(big, 0, au >> amt[:5]),
            11: Mux(big, Mux(a < 0, -1, 0), a >> amt[:5]),
            12: Mux(a < 0, 0, a), 13: Mux(a < 0, -a, a), 14: -a, 15: ~a,
        }.items():
            with m.Case(code):
                m.d.comb += r.eq(expr)
    return _narrow(m, etype, r)


class Vxm(wiring.Component):
    """VXM: ``lanes`` lanes of ``vxm_alus`` chained integer ALUs (see module docstring)."""

    def __init__(self, cfg):
        if not isinstance(cfg, LpuConfig):
            raise TypeError(f"cfg must be an LpuConfig, not {cfg!r}")
        self.cfg = cfg
        group = StreamGroup(cfg.lanes, 4)
        super().__init__({"a": In(Flow(group)), "b": In(Flow(group)),
                          "ctrl": In(VxmControl(cfg)), "out": Out(Flow(group))})

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        ctrl = self.ctrl
        valid = self.a.valid
        xs = [_narrow(m, ctrl.etype, lane_word(self.a.payload, lane)) for lane in range(cfg.lanes)]
        bs = [_narrow(m, ctrl.etype, lane_word(self.b.payload, lane)) for lane in range(cfg.lanes)]
        for i in range(cfg.vxm_alus):
            alu = ctrl.alu[i]
            nxs = []
            for lane in range(cfg.lanes):
                b2 = _narrow(m, ctrl.etype, Mux(alu.src, alu.imm, bs[lane]))
                res = _alu(m, ctrl.etype, alu.op, xs[lane], b2)
                reg = Signal(signed(32), name=f"alu{i}_lane{lane}")
                m.d.sync += reg.eq(res)
                nxs.append(reg)
            for _ in range(VXM_ALU_LATENCY - 1):
                raise NotImplementedError("VXM_ALU_LATENCY > 1")
            nb = []
            for lane in range(cfg.lanes):
                r = Signal(signed(32), name=f"b{i}_lane{lane}")
                m.d.sync += r.eq(bs[lane])
                nb.append(r)
            nctrl = Signal(VxmControl(cfg), name=f"ctrl{i}")
            nvalid = Signal(name=f"valid{i}")
            m.d.sync += [nctrl.eq(ctrl), nvalid.eq(valid)]
            xs, bs, ctrl, valid = nxs, nb, nctrl, nvalid
        mask = Mux(ctrl.etype == 0, 0xFF, Mux(ctrl.etype == 1, 0xFFFF, 0xFFFFFFFF))
        m.d.comb += self.out.valid.eq(valid)
        for lane in range(cfg.lanes):
            m.d.comb += word_planes(self.out.payload, lane, xs[lane].as_unsigned() & mask)
        return m
