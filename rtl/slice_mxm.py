"""An MXM plane's position on the stream fabric: its two queues to the plane.

Queue ``mxwN`` loads weight rows (LW: ``rows`` rows from ``rows`` stream groups
of one stream for int8, two for fp16) and installs the tile (IW); queue ``mxmN`` streams activations through the plane
(ABC/ACC, one or two streams). The plane's 32-bit results go to the 4-stream
group ``dst`` of their ABC/ACC, ``timing.mxm_chip_latency(cfg)`` cycles later:
the plane spans all superlanes, so it runs at the last one's time (operands
read by each superlane in its own cycle and deskewed, results skewed back,
:mod:`openlpu.rtl.wavefront`), ``wavefront_span(cfg)`` after superlane 0's.
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
from .wavefront import deskew, reskew, wave

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
        # LW's weight rows (2 streams each at fp16) and ABC's activation (2 at fp16)
        super().__init__(cfg, [f"mxm{plane}", f"mxw{plane}"], {"go": In(1)}, reads=2 * cfg.mxm_load_rows + 2)

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        plane = MxmPlane(cfg)
        name = f"mxm{self._plane}"
        m.submodules.plane = shared(plane, platform, "mxm_plane", reset=self.go)
        ops = [Operands(self.streams[s], cfg.streams, m) for s in range(cfg.superlanes)]
        a_wave, w_wave = wave(m, self.issue[0], cfg, f"{name}_a_wave"), wave(m, self.issue[1], cfg, f"{name}_w_wave")
        ai, wi = a_wave[-1], w_wave[-1]           # the plane runs at the last superlane's time
        aw, ww = ai.word, wi.word
        w_fp16, a_fp16 = field(ww, "LW", "fp16"), field(aw, "ABC", "fp16")
        wsrc = self._deskewed(m, w_wave, ops, "LW", f"{name}_w", 2 * cfg.mxm_load_rows)
        asrc = self._deskewed(m, a_wave, ops, "ABC", f"{name}_a", 2)
        m.d.comb += [
            plane.load.valid.eq(wi.valid & is_op(ww, "LW")),
            plane.load.payload.row.eq(field(ww, "LW", "addr")),
            plane.load.payload.count.eq(field(ww, "LW", "rows")),
            plane.load.payload.data.as_value().eq(Cat(*self._weight_slots(wsrc, w_fp16))),
            plane.install.eq(wi.valid & is_op(ww, "IW")),
            plane.act.valid.eq(ai.valid & is_op(aw, "ABC", "ACC")),
            plane.act.payload.data.as_value().eq(Cat(asrc[0], Mux(a_fp16, asrc[1], 0))),
            plane.act.payload.fp16.eq(a_fp16),
            plane.act.payload.acc.eq(is_op(aw, "ACC")),
            plane.act.payload.addr.eq(field(aw, "ABC", "addr")),
        ]
        dst = delay(m, field(aw, "ABC", "dst"), timing.mxm_latency(cfg), f"{name}_dst")
        lanes = cfg.lanes_per_superlane
        result = plane.result
        data = result.payload.data.as_value()           # byte plane j of lane i at bits 8 * (lanes * j + i)
        shares = [Cat(*(data[8 * (cfg.lanes * j + lanes * s):][:8 * lanes] for j in range(self.PLANES)))
                  for s in range(cfg.superlanes)]
        for s, (valid, d, share) in enumerate(zip(reskew(m, cfg, result.valid, f"{name}_valid"),
                                                  reskew(m, cfg, dst, f"{name}_dst"),
                                                  reskew(m, cfg, shares, f"{name}_data"))):
            write = self.streams[s].write[0]
            m.d.comb += [write.valid.eq(valid.replicate(self.PLANES)), write.dst.eq(d)]
            m.d.comb += [write.data[j].eq(share[8 * lanes * j:][:8 * lanes]) for j in range(self.PLANES)]
        return m

    def _deskewed(self, m, issues, ops, op, name, count):
        """Streams ``src .. src + count - 1`` of operand ``src`` of ``op``: each superlane's share
        read at its own time, lined up at the last superlane's."""
        return [deskew(m, self._cfg, [o.read(field(iss.word, op, "src"), j) for iss, o in zip(issues, ops)],
                       f"{name}{j}") for j in range(count)]

    def _weight_slots(self, streams, fp16):
        """The plane's row slots from the LW's streams ``src + j``: slot ``i`` is stream ``src + i``
        (int8, high byte plane 0) or streams ``src + 2i`` and ``src + 2i + 1`` (fp16)."""
        return [Cat(Mux(fp16, streams[2 * i], streams[i]), Mux(fp16, streams[2 * i + 1], 0))
                for i in range(self._cfg.mxm_load_rows)]
