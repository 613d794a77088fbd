"""A MEM slice's position on the stream fabric: its two queues' instructions to the slice.

The SRAM slices themselves stand in the MEM controller
(:class:`openlpu.rtl.host.Mem`); :class:`MemSliceControl` turns the
instructions of the slice's two queues into its chip-side commands: queue
``memN`` drives the read port (READ, GATHER, SCRUB), queue ``mewN`` the
write port (WRITE, SCATTER), both in the same cycle when both issue. Stream
operands (``idx``, ``src``) are read at the slice's position in the execute
cycle. READ and GATHER data goes onto the stream ``dst``
``timing.MEM_READ_LATENCY`` cycles later. Each superlane does so for its lanes
``superlane_offset(s)`` cycles after superlane 0 (its SRAM tile, its stream stop).

A read and a write of the same address in one cycle: the read returns the old
data and the write is seen by reads from ``MEM_WRITE_LATENCY`` later; a
SCRUB's rewrite loses to a write of the same column in its cycle (both the
rule of :class:`~openlpu.rtl.mem.MemSlice`).

Errors (:class:`openlpu.isa.ErrorCode`), per queue: BAD_ADDRESS in the
execute cycle of a GATHER (queue ``memN``) or SCATTER (``mewN``) whose index
vector names a row past ``mem_depth``; ECC_POISON (``memN``) when a read's
data comes back uncorrectable, with the pc of that read (it wins over a
GATHER's BAD_ADDRESS of the same cycle: the older instruction). All reach the
ICU ``wavefront_span(cfg)`` cycles after superlane 0 would see them, when the
last superlane has its share; the ICU reports the lower queue, ``memN``, when
both queues report in one cycle.
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
    """Chip-side control of MEM slice ``index``: queues ``mem{index}`` (reads) and
    ``mew{index}`` (writes).

    Each superlane's share runs on its own: superlane ``s`` takes the
    instructions ``superlane_offset(s)`` cycles after superlane 0
    (:func:`~openlpu.rtl.wavefront.wave`, one wave per queue), reads its
    operands from its own stream stop and commands its own SRAM tile. The
    errors of all superlanes reach the ICU together, at the last superlane's
    time (:func:`~openlpu.rtl.wavefront.deskew`).

    Members
    -------
    issue, unit_error, streams
        As for every :class:`~openlpu.rtl.slice.Slice`; element 0 is the read
        queue's, element 1 the write queue's; ``unit_error`` carries the
        errors of the module docstring.
    rd, wr : Out(Flow(MemReadLayout(tile))).array(superlanes), Out(Flow(MemWriteLayout(tile))).array(superlanes)
        The chip-side read and write commands of each superlane's tile.
    out : In(Flow(MemOutLayout(tile))).array(superlanes)
        Each tile's read data.
    """

    PLANES = 1
    WRITERS = 1

    def __init__(self, cfg, index):
        tile, n = cfg.superlane, cfg.superlanes
        super().__init__(cfg, [f"mem{index}", f"mew{index}"], {
            "rd": Out(Flow(MemReadLayout(tile))).array(n),
            "wr": Out(Flow(MemWriteLayout(tile))).array(n),
            "out": In(Flow(MemOutLayout(tile))).array(n),
        }, reads=3)             # GATHER's index; SCATTER's index and WRITE's data

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        rq, wq = self.queues
        reads = wave(m, self.issue[0], cfg, f"{rq}_wave")
        writes = wave(m, self.issue[1], cfg, f"{wq}_wave")
        errors = [self._superlane(m, s, r, w) for s, (r, w) in enumerate(zip(reads, writes))]
        # unit errors as plain expressions (continuous assignments: no process that
        # Icarus would leave unevaluated, and X, when its inputs never change)
        poisoned = deskew(m, cfg, [e[0] for e in errors], f"{rq}_poisoned").any()
        bad_gather = deskew(m, cfg, [e[1] for e in errors], f"{rq}_bad_idx").any()
        bad_scatter = deskew(m, cfg, [e[2] for e in errors], f"{wq}_bad_idx").any()
        rd_pc = errors[-1][3]          # the last superlane's, of the same instructions
        ue_r, ue_w = self.unit_error
        m.d.comb += [ue_r.valid.eq(poisoned | bad_gather),
                     ue_r.code.eq(Mux(poisoned, ErrorCode.ECC_POISON, ErrorCode.BAD_ADDRESS)),
                     ue_r.pc.eq(Mux(poisoned, rd_pc, reads[-1].pc)),
                     ue_w.valid.eq(bad_scatter), ue_w.code.eq(ErrorCode.BAD_ADDRESS), ue_w.pc.eq(writes[-1].pc)]
        return m

    def _bad_index(self, idx):
        """Whether an index vector of a tile names a column address ``>= mem_depth``."""
        cols = [Cat(idx.word_select(8 * c, 8), idx.word_select(8 * c + 1, 8))
                for c in range(self._cfg.superlane.lanes // 8)]
        return Cat(*(c >= self._cfg.mem_depth for c in cols)).any()

    def _superlane(self, m, s, rd_iss, wr_iss):
        """Superlane ``s``'s share, for its read-queue instruction ``rd_iss`` and write-queue
        instruction ``wr_iss``: its tile's commands and read data; returns its ``(poisoned,
        bad gather index, bad scatter index, pc of the read whose data is out)``."""
        cfg = self._cfg
        name = f"{self.queues[0]}_sl{s}"
        rw, ww = rd_iss.word, wr_iss.word
        rd, wr, out = self.rd[s], self.wr[s], self.out[s]
        operands = Operands(self.streams[s], cfg.streams, m)
        is_read, is_gather, is_scrub = is_op(rw, "READ"), is_op(rw, "GATHER"), is_op(rw, "SCRUB")
        is_write, is_scatter = is_op(ww, "WRITE"), is_op(ww, "SCATTER")
        g_idx = operands.read(field(rw, "GATHER", "idx"))
        s_idx = operands.read(field(ww, "SCATTER", "idx"))
        m.d.comb += [
            rd.valid.eq(rd_iss.valid & (is_read | is_gather | is_scrub)),
            rd.payload.addr.eq(field(rw, "READ", "addr")),
            rd.payload.gather.eq(is_gather), rd.payload.scrub.eq(is_scrub),
            rd.payload.index.as_value().eq(g_idx),
            wr.valid.eq(wr_iss.valid & (is_write | is_scatter)),
            wr.payload.addr.eq(field(ww, "WRITE", "addr")),
            wr.payload.scatter.eq(is_scatter),
            wr.payload.index.as_value().eq(s_idx),
            wr.payload.data.as_value().eq(operands.read(field(ww, "WRITE", "src"))),
        ]
        # execute-time check of gather/scatter column addresses
        bad_gather = rd_iss.valid & is_gather & self._bad_index(g_idx)
        bad_scatter = wr_iss.valid & is_scatter & self._bad_index(s_idx)
        # read data back onto the stream, MEM_READ_LATENCY later
        lat = timing.MEM_READ_LATENCY
        dst = delay(m, field(rw, "READ", "dst"), lat, f"{name}_dst")
        to_stream = delay(m, rd_iss.valid & (is_read | is_gather), lat, f"{name}_tostream")
        chip_rd = delay(m, rd.valid, lat, f"{name}_chiprd")
        rd_pc = delay(m, rd_iss.pc, lat, f"{name}_pc")
        write = self.streams[s].write[0]
        m.d.comb += [write.valid.eq(out.valid & to_stream), write.dst.eq(dst),
                     write.data[0].eq(out.payload.data)]
        return out.valid & chip_rd & out.payload.poison, bad_gather, bad_scatter, rd_pc
