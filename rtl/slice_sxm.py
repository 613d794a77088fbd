"""The SXM's position on the stream fabric: its queue to the switch unit.

Queue ``sxm`` issues the lane ops and transpose rows of
:class:`openlpu.rtl.sxm.Sxm` with their stream operands ``a``, ``b`` (PERM,
SEL) and ``c`` (SEL); every output goes to the ``dst`` the unit returns with
it (a transposed column: the ``dst`` of its tile's last row).

Error: SXM_FAULT in the cycle the unit's sticky ``error`` rises (one cycle
after the offending instruction executes), with that instruction's pc.
"""

from amaranth.hdl import Module, Mux, ResetInserter, Signal
from amaranth.lib.wiring import In

from .. import timing
from ..golden.sxm import SxmOp
from ..isa import BY_NAME, ErrorCode
from .fabric import Operands
from .icu import field, is_op
from .pipeline import delay, register
from .slice import Slice
from .sxm import Sxm

__all__ = ["SxmSlice"]


class SxmSlice(Slice):
    """The switch unit and the decode of its queue ``sxm``.

    Members
    -------
    issue, unit_error, streams
        As for every :class:`~openlpu.rtl.slice.Slice`; ``unit_error`` carries
        SXM_FAULT (above).
    go : In(1)
        A run starts: restarts the unit (its tile, its sticky error).
    """

    PLANES = 1
    WRITERS = 1

    def __init__(self, cfg):
        super().__init__(cfg, ["sxm"], {"go": In(1)})

    def elaborate(self, platform):
        m = Module()
        si = self.issue[0]
        sw = si.word
        sxm = m.submodules.sxm = ResetInserter({"sync": self.go})(Sxm(self._cfg))
        operands = Operands(self.streams.tap, self._cfg.streams)
        base = BY_NAME["PASS"].opcode
        is_sxm = si.valid & (sw[:6] >= base) & (sw[:6] < base + 8)
        op = Signal(3, name="sxm_op")
        m.d.comb += op.eq(sw[:6] - base)
        cmd = sxm.cmd.payload
        m.d.comb += [
            sxm.cmd.valid.eq(is_sxm), cmd.op.eq(op),
            cmd.k.eq(field(sw, "SHUP", "k")),
            cmd.start.eq(is_sxm & (op == SxmOp.TRANSPOSE) & field(sw, "TRANS", "start")),
            cmd.a.as_value().eq(operands.read(field(sw, "PASS", "a"))),
            cmd.b.as_value().eq(Mux(is_op(sw, "PERM", "SEL"), operands.read(field(sw, "PERM", "b")), 0)),
            cmd.c.as_value().eq(Mux(is_op(sw, "SEL"), operands.read(field(sw, "SEL", "c")), 0)),
            cmd.dst.eq(field(sw, "PASS", "dst")),
        ]
        write = self.streams.write[0]
        m.d.comb += [write.valid.eq(sxm.out.valid), write.dst.eq(sxm.out.payload.dst),
                     write.data[0].eq(sxm.out.payload.data)]
        err_prev = register(m, sxm.error, "sxm_err_prev")
        pc = delay(m, si.pc, timing.SXM_LATENCY, "sxm_pc")
        ue = self.unit_error[0]
        m.d.comb += [ue.valid.eq(sxm.error & ~err_prev & ~self.go), ue.code.eq(ErrorCode.SXM_FAULT),
                     ue.pc.eq(pc)]
        return m
