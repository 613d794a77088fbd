"""An MXM plane's position on the stream fabric: its two queues to the plane.

Queue ``mxwN`` loads weight rows (LW, one stream for int8, two for fp16) and
installs the tile (IW); queue ``mxmN`` streams activations through the plane
(ABC/ACC, one or two streams). The plane's 32-bit results go to the 4-stream
group ``dst`` of their ABC/ACC, ``timing.mxm_latency(cfg)`` cycles later.
"""

from amaranth.hdl import Cat, Module, Mux
from amaranth.lib.wiring import In

from .. import timing
from .fabric import Operands
from .hier import shared
from .icu import field, is_op
from .mxm import MxmPlane
from .pipeline import delay
from .slice import Slice

__all__ = ["MxmSlice"]


class MxmSlice(Slice):
    """MXM plane ``plane`` and the decode of its queues.

    Members
    -------
    issue, unit_error, streams
        As for every :class:`~openlpu.rtl.slice.Slice`; ``issue`` has the
        instructions of queues ``mxm{plane}`` (activations) and ``mxw{plane}``
        (weights), in that order; ``unit_error`` is always 0.
    go : In(1)
        A run starts: restarts the plane's control pipeline (its weight
        tiles and accumulator rows keep their contents).
    """

    PLANES = 4
    WRITERS = 1

    def __init__(self, cfg, plane):
        self._plane = plane
        super().__init__(cfg, [f"mxm{plane}", f"mxw{plane}"], {"go": In(1)})

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        plane = MxmPlane(cfg)
        m.submodules.plane = shared(plane, platform, "mxm_plane", reset=self.go)
        operands = Operands(self.streams.tap, cfg.streams)
        ai, wi = self.issue
        aw, ww = ai.word, wi.word
        w_fp16, a_fp16 = field(ww, "LW", "fp16"), field(aw, "ABC", "fp16")
        wsrc = operands.group(field(ww, "LW", "src"), 2, Mux(w_fp16, 2, 1))
        asrc = operands.group(field(aw, "ABC", "src"), 2, Mux(a_fp16, 2, 1))
        m.d.comb += [
            plane.load.valid.eq(wi.valid & is_op(ww, "LW")),
            plane.load.payload.row.eq(field(ww, "LW", "addr")),
            plane.load.payload.data.as_value().eq(Cat(*wsrc)),
            plane.install.eq(wi.valid & is_op(ww, "IW")),
            plane.act.valid.eq(ai.valid & is_op(aw, "ABC", "ACC")),
            plane.act.payload.data.as_value().eq(Cat(*asrc)),
            plane.act.payload.fp16.eq(a_fp16),
            plane.act.payload.acc.eq(is_op(aw, "ACC")),
            plane.act.payload.addr.eq(field(aw, "ABC", "addr")),
        ]
        dst = delay(m, field(aw, "ABC", "dst"), timing.mxm_latency(cfg), f"mxm{self._plane}_dst")
        write = self.streams.write[0]
        m.d.comb += [write.valid.eq(plane.result.valid.replicate(self.PLANES)), write.dst.eq(dst),
                     write.data.eq(plane.result.payload.data)]
        return m
