"""A MEM slice's position on the stream fabric: its queue's instructions to the slice.

The SRAM slices themselves stand in the MEM controller
(:class:`openlpu.rtl.host.Mem`); :class:`MemSliceControl` turns the
instructions of queue ``memN`` into that slice's chip-side commands:
READ, GATHER and SCRUB issue a read, WRITE and SCATTER a write, with their
stream operands (``src``, ``idx``) read at the slice's position in the
execute cycle. READ and GATHER data goes onto the stream ``dst``
``timing.MEM_READ_LATENCY`` cycles later.

Errors (:class:`openlpu.isa.ErrorCode`): BAD_ADDRESS in the execute cycle of
a GATHER/SCATTER whose index vector names a row past ``mem_depth``;
ECC_POISON when a read's data comes back uncorrectable, with the pc of that
read.
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

__all__ = ["MemSliceControl"]


class MemSliceControl(Slice):
    """Chip-side control of MEM slice ``index``: queue ``mem{index}``.

    Members
    -------
    issue, unit_error, streams
        As for every :class:`~openlpu.rtl.slice.Slice`; ``unit_error`` carries
        the errors above.
    rd, wr : Out(Flow(MemReadLayout(cfg))), Out(Flow(MemWriteLayout(cfg)))
        The slice's chip-side read and write commands.
    out : In(Flow(MemOutLayout(cfg)))
        The slice's read data.
    """

    PLANES = 1
    WRITERS = 1

    def __init__(self, cfg, index):
        super().__init__(cfg, [f"mem{index}"], {
            "rd": Out(Flow(MemReadLayout(cfg))),
            "wr": Out(Flow(MemWriteLayout(cfg))),
            "out": In(Flow(MemOutLayout(cfg))),
        })

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        qn = self.queues[0]
        iss = self.issue[0]
        w = iss.word
        rd, wr = self.rd, self.wr
        operands = Operands(self.streams.tap, cfg.streams)
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
        cols = [Cat(idx.word_select(8 * c, 8), idx.word_select(8 * c + 1, 8)) for c in range(cfg.lanes // 8)]
        bad_idx = iss.valid & (is_gather | is_scatter) & Cat(*(c >= cfg.mem_depth for c in cols)).any()
        # read data back onto the stream, MEM_READ_LATENCY later
        lat = timing.MEM_READ_LATENCY
        dst = delay(m, field(w, "READ", "dst"), lat, f"{qn}_dst")
        to_stream = delay(m, iss.valid & (is_read | is_gather), lat, f"{qn}_tostream")
        chip_rd = delay(m, rd.valid, lat, f"{qn}_chiprd")
        rd_pc = delay(m, iss.pc, lat, f"{qn}_pc")
        write = self.streams.write[0]
        m.d.comb += [write.valid.eq(self.out.valid & to_stream), write.dst.eq(dst),
                     write.data[0].eq(self.out.payload.data)]
        # unit errors as plain expressions (continuous assignments: no process that
        # Icarus would leave unevaluated, and X, when its inputs never change)
        ue = self.unit_error[0]
        poisoned = self.out.valid & chip_rd & self.out.payload.poison
        m.d.comb += [ue.valid.eq(poisoned | bad_idx),
                     ue.code.eq(Mux(poisoned, ErrorCode.ECC_POISON, ErrorCode.BAD_ADDRESS)),
                     ue.pc.eq(Mux(poisoned, rd_pc, iss.pc))]
        return m
