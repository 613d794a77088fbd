"""Switch unit (SXM): moves bytes across the lanes of a stream vector.

The operations and their timing are specified by :mod:`openlpu.golden.sxm`:
shift up/down by ``k`` lanes, rotate by ``k``, permute by a pattern vector,
distribute (broadcast) lane ``k``, select between two vectors by a mask, and
transpose of a ``lanes x lanes`` byte tile streamed in as rows and out as
columns. Wider element types are moved plane by plane with the same op.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .. import timing
from ..config import LpuConfig
from ..golden.sxm import SxmOp
from .streams import Flow, Vector

__all__ = ["SxmCommandLayout", "Sxm"]


def SxmCommandLayout(cfg):
    """One SXM command: ``op`` (:class:`~openlpu.golden.sxm.SxmOp`), immediate ``k``,
    ``start`` (first row of a transposed tile) and the input vectors ``a``, ``b``
    (pattern / second operand), ``c`` (select mask)."""
    return data.StructLayout({
        "op": unsigned(3),
        "k": unsigned(ceil_log2(cfg.lanes + 1)),
        "start": 1,
        "a": Vector(cfg.lanes),
        "b": Vector(cfg.lanes),
        "c": Vector(cfg.lanes),
    })


class Sxm(wiring.Component):
    """The switch unit.

    Arguments
    ---------
    cfg : LpuConfig

    Members
    -------
    cmd : ``In(Flow(SxmCommandLayout(cfg)))``
        One command per cycle when ``valid``.
    out : ``Out(Flow(Vector(lanes)))``
        The result, ``timing.SXM_LATENCY`` cycles after a lane op; transposed
        columns one per cycle from ``timing.sxm_transpose_latency(cfg)`` cycles
        after the tile's first row.
    error : ``Out(1)``
        Sticky: an immediate ``k`` out of range (the op outputs zeros), a
        TRANSPOSE row with no tile started, or a lane op scheduled onto a cycle
        that belongs to a transpose column (the column wins).
    """

    def __init__(self, cfg):
        if not isinstance(cfg, LpuConfig):
            raise TypeError(f"cfg must be an LpuConfig, not {cfg!r}")
        self._cfg = cfg
        super().__init__({
            "cmd": In(Flow(SxmCommandLayout(cfg))),
            "out": Out(Flow(Vector(cfg.lanes))),
            "error": Out(1),
        })

    def elaborate(self, platform):
        assert timing.SXM_LATENCY == 1, "the RTL registers the output once"
        lanes = self._cfg.lanes
        m = Module()
        cmd = self.cmd.payload
        valid = self.cmd.valid
        a = cmd.a.as_value()
        k = cmd.k

        # --- lane ops (combinational, registered at the output) -------------------------
        shift_bits = Cat(Const(0, 3), k)              # k lanes = 8k bits
        up = Signal(Vector(lanes))
        down = Signal(Vector(lanes))
        rot = Signal(Vector(lanes))
        perm = Signal(Vector(lanes))
        dist = Signal(Vector(lanes))
        sel = Signal(Vector(lanes))
        m.d.comb += [
            up.eq((a << shift_bits)[:8 * lanes]),
            down.eq(a >> shift_bits),
            rot.eq((Cat(a, a) << shift_bits)[8 * lanes:16 * lanes]),
        ]
        for i in range(lanes):
            src = cmd.b[i]
            m.d.comb += [
                perm[i].eq(Mux(src < lanes, cmd.a[src], 0)),
                dist[i].eq(cmd.a[k]),
                sel[i].eq(Mux(cmd.c[i] != 0, cmd.b[i], cmd.a[i])),
            ]

        op = cmd.op
        k_bad = Signal()
        m.d.comb += k_bad.eq((((op == SxmOp.SHIFT_UP) | (op == SxmOp.SHIFT_DOWN)) & (k > lanes))
                             | (((op == SxmOp.ROTATE) | (op == SxmOp.DISTRIBUTE)) & (k >= lanes)))
        lane_result = Signal(Vector(lanes))
        with m.Switch(cmd.op):
            with m.Case(SxmOp.PASS):
                m.d.comb += lane_result.eq(cmd.a)
            with m.Case(SxmOp.SHIFT_UP):
                m.d.comb += lane_result.eq(up)
            with m.Case(SxmOp.SHIFT_DOWN):
                m.d.comb += lane_result.eq(down)
            with m.Case(SxmOp.ROTATE):
                m.d.comb += lane_result.eq(rot)
            with m.Case(SxmOp.PERMUTE):
                m.d.comb += lane_result.eq(perm)
            with m.Case(SxmOp.DISTRIBUTE):
                m.d.comb += lane_result.eq(dist)
            with m.Case(SxmOp.SELECT):
                m.d.comb += lane_result.eq(sel)
            with m.Default():   # TRANSPOSE: not a lane op
                m.d.comb += lane_result.eq(0)

        # --- transpose: two row banks, written by rows, read by columns -----------------
        # one signal per row: a single lanes x lanes signal exceeds Amaranth's 65,536-bit
        # value limit at the tsp preset (320 x 320 bytes)
        bank = [[Signal(Vector(lanes), name=f"bank{b}_row{r}") for r in range(lanes)] for b in range(2)]
        wr_bank = Signal()
        wr_row = Signal(range(lanes))
        filling = Signal()
        rd_bank = Signal()
        rd_col = Signal(range(lanes))
        reading = Signal()
        is_t = valid & (cmd.op == SxmOp.TRANSPOSE)
        t_row_ok = is_t & (cmd.start | filling)
        row = Mux(cmd.start, 0, wr_row)

        with m.If(t_row_ok):
            for b in range(2):
                for r in range(lanes):
                    with m.If((wr_bank == b) & (row == r)):
                        m.d.sync += bank[b][r].eq(cmd.a)
            with m.If(row == lanes - 1):
                m.d.sync += [filling.eq(0), wr_row.eq(0), wr_bank.eq(~wr_bank),
                             reading.eq(1), rd_bank.eq(wr_bank), rd_col.eq(0)]
            with m.Else():
                m.d.sync += [filling.eq(1), wr_row.eq(row + 1)]

        column = Signal(Vector(lanes))
        for i in range(lanes):
            m.d.comb += column[i].eq(Mux(rd_bank, bank[1][i][rd_col], bank[0][i][rd_col]))
        with m.If(reading & ~(t_row_ok & (row == lanes - 1))):
            with m.If(rd_col == lanes - 1):
                m.d.sync += reading.eq(0)
            with m.Else():
                m.d.sync += rd_col.eq(rd_col + 1)

        # --- output register ---------------------------------------------------------------
        lane_valid = valid & (cmd.op != SxmOp.TRANSPOSE)
        m.d.sync += self.out.valid.eq(reading | lane_valid)
        with m.If(reading):
            m.d.sync += self.out.payload.eq(column)
        with m.Elif(lane_valid):
            m.d.sync += self.out.payload.eq(Mux(k_bad, 0, lane_result))
        with m.If((lane_valid & (reading | k_bad)) | (is_t & ~t_row_ok)):
            m.d.sync += self.error.eq(1)
        return m
