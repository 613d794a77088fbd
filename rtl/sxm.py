"""Switch unit (SXM): moves bytes across the lanes of a stream vector.

The operations and their timing are specified by :mod:`openlpu.golden.sxm`:
shift up/down by ``k`` lanes, rotate by ``k``, permute by a pattern vector,
distribute (broadcast) lane ``k``, select between two vectors by a mask, and
transpose of a ``lanes x lanes`` byte tile streamed in as rows and out as
columns. Wider element types are moved plane by plane with the same op.

Every output carries the ``dst`` of the command it came from — for a
transposed column, of its tile's last row — so the unit is the one owner of
the transpose state: on the chip, :class:`~openlpu.rtl.slice_sxm.SxmSlice`
writes ``out.data`` to ``out.dst`` and tracks nothing itself.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .. import timing
from ..config import require_config
from ..golden.sxm import SxmOp
from .fabric import OPERAND_BITS
from .streams import Flow, Vector

__all__ = ["SxmCommandLayout", "SxmResultLayout", "Sxm"]


def SxmCommandLayout(cfg):
    """One SXM command: ``op`` (:class:`~openlpu.golden.sxm.SxmOp`), immediate ``k``,
    ``start`` (first row of a transposed tile), the input vectors ``a``, ``b``
    (pattern / second operand), ``c`` (select mask), and ``dst``, the stream
    operand the result goes to (carried to the output, not interpreted)."""
    return data.StructLayout({
        "op": unsigned(3),
        "k": unsigned(ceil_log2(cfg.lanes + 1)),
        "start": 1,
        "a": Vector(cfg.lanes),
        "b": Vector(cfg.lanes),
        "c": Vector(cfg.lanes),
        "dst": unsigned(OPERAND_BITS),
    })


def SxmResultLayout(cfg):
    """One SXM output: the vector ``data`` and the ``dst`` of the command it came from
    (a transposed column: the ``dst`` of its tile's last row)."""
    return data.StructLayout({"data": Vector(cfg.lanes), "dst": unsigned(OPERAND_BITS)})


class Sxm(wiring.Component):
    """The switch unit.

    Arguments
    ---------
    cfg : LpuConfig

    Members
    -------
    cmd : ``In(Flow(SxmCommandLayout(cfg)))``
        One command per cycle when ``valid``.
    out : ``Out(Flow(SxmResultLayout(cfg)))``
        The result, ``timing.SXM_LATENCY`` cycles after a lane op, with that
        command's ``dst``; transposed columns one per cycle from
        ``timing.sxm_transpose_latency(cfg)`` cycles after the tile's first
        row, with the ``dst`` of the tile's last row.
    error : ``Out(1)``
        Sticky: an immediate ``k`` out of range (the op outputs zeros), a
        TRANSPOSE row with no tile started, or a lane op scheduled onto a cycle
        that belongs to a transpose column (the column wins).
    """

    def __init__(self, cfg):
        self._cfg = require_config(cfg)
        super().__init__({
            "cmd": In(Flow(SxmCommandLayout(cfg))),
            "out": Out(Flow(SxmResultLayout(cfg))),
            "error": Out(1),
        })

    def elaborate(self, platform):
        assert timing.SXM_LATENCY == 1, "the RTL registers the output once"
        m = Module()
        cmd = self.cmd.payload
        lane_result, k_bad = self._lane_ops(m, cmd)
        is_t = self.cmd.valid & (cmd.op == SxmOp.TRANSPOSE)
        t_row_ok, reading, column, col_dst = self._transpose(m, cmd, is_t)

        # --- output register ---------------------------------------------------------------
        lane_valid = self.cmd.valid & (cmd.op != SxmOp.TRANSPOSE)
        out = self.out.payload
        m.d.sync += self.out.valid.eq(reading | lane_valid)
        with m.If(reading):
            m.d.sync += [out.data.eq(column), out.dst.eq(col_dst)]
        with m.Elif(lane_valid):
            m.d.sync += [out.data.eq(Mux(k_bad, 0, lane_result)), out.dst.eq(cmd.dst)]
        with m.If((lane_valid & (reading | k_bad)) | (is_t & ~t_row_ok)):
            m.d.sync += self.error.eq(1)
        return m

    def _lane_ops(self, m, cmd):
        """The combinational result of the lane op in ``cmd`` and whether its ``k`` is out of range."""
        lanes = self._cfg.lanes
        a = cmd.a.as_value()
        k = cmd.k
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
        results = {SxmOp.PASS: cmd.a, SxmOp.SHIFT_UP: up, SxmOp.SHIFT_DOWN: down, SxmOp.ROTATE: rot,
                   SxmOp.PERMUTE: perm, SxmOp.DISTRIBUTE: dist, SxmOp.SELECT: sel}
        with m.Switch(op):
            for case, value in results.items():
                with m.Case(case):
                    m.d.comb += lane_result.eq(value)
            with m.Default():   # TRANSPOSE: not a lane op
                m.d.comb += lane_result.eq(0)
        return lane_result, k_bad

    def _transpose(self, m, cmd, is_t):
        """Two row banks, written by rows, read by columns.

        Returns ``(t_row_ok, reading, column, col_dst)``: this cycle's row is
        part of a tile; a column is read this cycle; that column; and the
        ``dst`` of the last row of the tile being read.
        """
        lanes = self._cfg.lanes
        # one signal per row: a single lanes x lanes signal exceeds Amaranth's 65,536-bit
        # value limit at the tsp preset (320 x 320 bytes)
        bank = [[Signal(Vector(lanes), name=f"bank{b}_row{r}") for r in range(lanes)] for b in range(2)]
        wr_bank = Signal()
        wr_row = Signal(range(lanes))
        filling = Signal()
        rd_bank = Signal()
        rd_col = Signal(range(lanes))
        reading = Signal()
        col_dst = Signal(OPERAND_BITS)
        t_row_ok = is_t & (cmd.start | filling)
        row = Mux(cmd.start, 0, wr_row)

        with m.If(t_row_ok):
            for b in range(2):
                for r in range(lanes):
                    with m.If((wr_bank == b) & (row == r)):
                        m.d.sync += bank[b][r].eq(cmd.a)
            with m.If(row == lanes - 1):
                m.d.sync += [filling.eq(0), wr_row.eq(0), wr_bank.eq(~wr_bank),
                             reading.eq(1), rd_bank.eq(wr_bank), rd_col.eq(0), col_dst.eq(cmd.dst)]
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
        return t_row_ok, reading, column, col_dst
