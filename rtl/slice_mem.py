"""A MEM slice's position on the stream fabric: its queue's instructions to the slice.

The SRAM slices themselves stand in the MEM controller
(:class:`openlpu.rtl.host.Mem`); :class:`MemSliceControl` turns the
instructions of queue ``memN`` into that slice's chip-side commands:
READ, GATHER and SCRUB issue a read, WRITE and SCATTER a write, with their
stream operands (``src``, ``idx``) read at the slice's position in the
execute cycle. READ and GATHER data goes onto the stream ``dst``
``timing.MEM_READ_LATENCY`` cycles later. Each superlane does so for its lanes
``superlane_offset(s)`` cycles after superlane 0 (its SRAM tile, its stream stop).

Errors (:class:`openlpu.isa.ErrorCode`): BAD_ADDRESS in the execute cycle of
a GATHER/SCATTER whose index vector names a row past ``mem_depth``;
ECC_POISON when a read's data comes back uncorrectable, with the pc of that
read; both reach the ICU ``wavefront_span(cfg)`` cycles after superlane 0
would see them, when the last superlane has its share.
"""

from amaranth.hdl import Cat, Module, Mux
from amaranth.lib.wiring import In, Out

from .. import timing
from ..isa import ErrorCode
from .fabric import Operands
from .icu import field, is_op
from .mem import MemOutLayout, MemReadLayout, MemWriteLayout
from .pipeline import delay
from .slice import Slice
from .streams import Flow
from .wavefront import deskew, wave

__all__ = ["MemSliceControl"]


class MemSliceControl(Slice):
    """Chip-side control of MEM slice ``index``: queue ``mem{index}``.

    Each superlane's share runs on its own: superlane ``s`` takes the
    instruction ``superlane_offset(s)`` cycles after superlane 0
    (:func:`~openlpu.rtl.wavefront.wave`), reads its operands from its own
    stream stop and commands its own SRAM tile. The errors of all superlanes
    reach the ICU together, at the last superlane's time
    (:func:`~openlpu.rtl.wavefront.deskew`).

    Members
    -------
    issue, unit_error, streams
        As for every :class:`~openlpu.rtl.slice.Slice`; ``unit_error`` carries
        the errors above.
    rd, wr : Out(Flow(MemReadLayout(tile))).array(superlanes), Out(Flow(MemWriteLayout(tile))).array(superlanes)
        The chip-side read and write commands of each superlane's tile.
    out : In(Flow(MemOutLayout(tile))).array(superlanes)
        Each tile's read data.
    """

    PLANES = 1
    WRITERS = 1

    def __init__(self, cfg, index):
        tile, n = cfg.superlane, cfg.superlanes
        super().__init__(cfg, [f"mem{index}"], {
            "rd": Out(Flow(MemReadLayout(tile))).array(n),
            "wr": Out(Flow(MemWriteLayout(tile))).array(n),
            "out": In(Flow(MemOutLayout(tile))).array(n),
        })

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        qn = self.queues[0]
        issues = wave(m, self.issue[0], cfg, f"{qn}_wave")
        errors = [self._superlane(m, s, iss) for s, iss in enumerate(issues)]
        # unit errors as plain expressions (continuous assignments: no process that
        # Icarus would leave unevaluated, and X, when its inputs never change)
        poisoned = deskew(m, cfg, [e[0] for e in errors], f"{qn}_poisoned").any()
        bad_idx = deskew(m, cfg, [e[1] for e in errors], f"{qn}_bad_idx").any()
        rd_pc, iss_pc = errors[-1][2], issues[-1].pc        # the last superlane's, of the same instructions
        ue = self.unit_error[0]
        m.d.comb += [ue.valid.eq(poisoned | bad_idx),
                     ue.code.eq(Mux(poisoned, ErrorCode.ECC_POISON, ErrorCode.BAD_ADDRESS)),
                     ue.pc.eq(Mux(poisoned, rd_pc, iss_pc))]
        return m

    def _superlane(self, m, s, iss):
        """Superlane ``s``'s share, for its instruction ``iss``: its tile's commands and
        read data; returns its ``(poisoned, bad index, pc of the read whose data is out)``."""
        cfg, tile = self._cfg, self._cfg.superlane
        name = f"{self.queues[0]}_sl{s}"
        w = iss.word
        rd, wr, out = self.rd[s], self.wr[s], self.out[s]
        operands = Operands(self.streams[s].tap, cfg.streams)
        is_read, is_write = is_op(w, "READ"), is_op(w, "WRITE")
        is_gather, is_scatter, is_scrub = is_op(w, "GATHER"), is_op(w, "SCATTER"), is_op(w, "SCRUB")
        idx = operands.read(field(w, "GATHER", "idx"))
        m.d.comb += [
            rd.valid.eq(iss.valid & (is_read | is_gather | is_scrub)),
            rd.payload.addr.eq(field(w, "READ", "addr")),
            rd.payload.gather.eq(is_gather), rd.payload.scrub.eq(is_scrub),
            rd.payload.index.as_value().eq(idx),
            wr.valid.eq(iss.valid & (is_write | is_scatter)),
            wr.payload.addr.eq(field(w, "WRITE", "addr")),
            wr.payload.scatter.eq(is_scatter),
            wr.payload.index.as_value().eq(idx),
            wr.payload.data.as_value().eq(operands.read(field(w, "WRITE", "src"))),
        ]
        # execute-time check of gather/scatter column addresses
        cols = [Cat(idx.word_select(8 * c, 8), idx.word_select(8 * c + 1, 8)) for c in range(tile.lanes // 8)]
        bad_idx = iss.valid & (is_gather | is_scatter) & Cat(*(c >= cfg.mem_depth for c in cols)).any()
        # read data back onto the stream, MEM_READ_LATENCY later
        lat = timing.MEM_READ_LATENCY
        dst = delay(m, field(w, "READ", "dst"), lat, f"{name}_dst")
        to_stream = delay(m, iss.valid & (is_read | is_gather), lat, f"{name}_tostream")
        chip_rd = delay(m, rd.valid, lat, f"{name}_chiprd")
        rd_pc = delay(m, iss.pc, lat, f"{name}_pc")
        write = self.streams[s].write[0]
        m.d.comb += [write.valid.eq(out.valid & to_stream), write.dst.eq(dst),
                     write.data[0].eq(out.payload.data)]
        return out.valid & chip_rd & out.payload.poison, bad_idx, rd_pc
