"""The SXM's position on the stream fabric: its queue to the switch unit.

Queue ``sxm`` issues the lane ops and transpose rows of
:class:`openlpu.rtl.sxm.Sxm` with their stream operands ``a``, ``b`` (PERM,
SEL) and ``c`` (SEL); every output goes to the ``dst`` the unit returns with
it (a transposed column: the ``dst`` of its tile's last row). The switch
works across all lanes, so it runs at the last superlane's time: each
superlane's operands are read in its own cycle and deskewed, and each
superlane's share of an output leaves ``superlane_offset(s)`` later
(:mod:`openlpu.rtl.wavefront`).

Error: SXM_FAULT in the cycle the unit's sticky ``error`` rises (one cycle
after the offending instruction executes), with that instruction's pc.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib.wiring import In

from .. import timing
from ..golden.sxm import SxmOp
from ..isa import BY_NAME, ErrorCode
from .fabric import Operands
from .hier import shared
from .icu import field, is_op
from .pipeline import delay, register
from .slice import Slice
from .sxm import Sxm
from .wavefront import deskew, reskew, wave

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
        super().__init__(cfg, ["sxm"], {"go": In(1)}, reads=3)          # PASS's a, PERM's b, SEL's c

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        issues = wave(m, self.issue[0], cfg, "sxm_wave")
        si = issues[-1]                           # the unit runs at the last superlane's time
        sw = si.word
        sxm = Sxm(cfg)
        m.submodules.sxm = shared(sxm, platform, "sxm", reset=self.go)
        base = BY_NAME["PASS"].opcode
        is_sxm = si.valid & (sw[:6] >= base) & (sw[:6] < base + 8)
        op = Signal(3, name="sxm_op")
        m.d.comb += op.eq(sw[:6] - base)
        a, b, c = self._operands(m, issues)
        cmd = sxm.cmd.payload
        m.d.comb += [
            sxm.cmd.valid.eq(is_sxm), cmd.op.eq(op),
            cmd.k.eq(field(sw, "SHUP", "k")),
            cmd.start.eq(is_sxm & (op == SxmOp.TRANSPOSE) & field(sw, "TRANS", "start")),
            cmd.a.as_value().eq(a),
            cmd.b.as_value().eq(Mux(is_op(sw, "PERM", "SEL"), b, 0)),
            cmd.c.as_value().eq(Mux(is_op(sw, "SEL"), c, 0)),
            cmd.dst.eq(field(sw, "PASS", "dst")),
        ]
        lanes = cfg.lanes_per_superlane
        out = sxm.out
        data = out.payload.data.as_value()
        shares = [data[8 * lanes * s:8 * lanes * (s + 1)] for s in range(cfg.superlanes)]
        for s, (valid, dst, share) in enumerate(zip(reskew(m, cfg, out.valid, "sxm_valid"),
                                                    reskew(m, cfg, out.payload.dst, "sxm_dst"),
                                                    reskew(m, cfg, shares, "sxm_data"))):
            write = self.streams[s].write[0]
            m.d.comb += [write.valid.eq(valid), write.dst.eq(dst), write.data[0].eq(share)]
        err_prev = register(m, sxm.error, "sxm_err_prev")
        pc = delay(m, si.pc, timing.SXM_LATENCY, "sxm_pc")
        ue = self.unit_error[0]
        m.d.comb += [ue.valid.eq(sxm.error & ~err_prev & ~self.go), ue.code.eq(ErrorCode.SXM_FAULT),
                     ue.pc.eq(pc)]
        return m

    def _operands(self, m, issues):
        """Operands ``a``, ``b``, ``c``: each superlane's share read at its own time, deskewed."""
        cfg = self._cfg
        ops = [Operands(self.streams[s], cfg.streams, m) for s in range(cfg.superlanes)]
        return [deskew(m, cfg, [o.read(field(iss.word, op, name)) for iss, o in zip(issues, ops)], f"sxm_{name}")
                for op, name in (("PASS", "a"), ("PERM", "b"), ("SEL", "c"))]
