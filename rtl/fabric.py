"""The stream fabric: one stream stop per floorplan position, linked to its neighbours.

For each direction (east, west), each of ``streams`` streams and each
floorplan position (:func:`openlpu.timing.floorplan`) there is one
``lanes``-byte register; a :class:`StreamStop` holds the ``2 * streams``
registers of one position. Every cycle each register takes its western
(east-flowing) or eastern (west-flowing) neighbour's value — zeros enter at
the edges — unless the unit at its position writes that stream, which wins.
A unit reads a stream at its own position; so a value output at position
``p`` in cycle ``t`` is readable at position ``q`` in cycle
``t + stream_delay(p, q, direction)``.

A stream operand (:data:`OPERAND_BITS` bits) names a stream as the ISA does:
bit 5 the direction (0 east, 1 west), bits [4:0] the stream. A group of
streams (a wider element type, one byte plane each) is named by its first
stream.
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .. import isa
from ..config import require_config
from .streams import StreamGroup, Vector

__all__ = ["OPERAND_BITS", "EAST", "WEST", "Link", "StreamWriteLayout", "StreamAccess", "StreamStop", "Operands"]

#: Bits of a stream operand (direction bit and stream number).
OPERAND_BITS = isa.BY_NAME["PASS"].field("dst").width

#: Directions, as bit 5 of a stream operand.
EAST, WEST = 0, 1


def Link(cfg):
    """Signature of the link between two neighbouring positions, from the western one.

    Members
    -------
    eastward : Out(Vector(lanes)).array(streams)
        The east-flowing stream registers of the western position.
    westward : In(Vector(lanes)).array(streams)
        The west-flowing stream registers of the eastern position.

    One port signal per stream, not one :func:`StreamGroup`: at ``tsp`` a group
    of 32 streams is 81,920 bits, past Amaranth's 65,536-bit limit on one value.
    """
    vector = Vector(cfg.lanes)
    return wiring.Signature({"eastward": Out(vector).array(cfg.streams),
                             "westward": In(vector).array(cfg.streams)})


def StreamWriteLayout(cfg, planes):
    """One unit output onto a group of streams.

    ``valid[j]``: plane ``j`` is written this cycle; ``dst``: the stream
    operand naming the group, plane ``j`` goes to stream ``dst + j``;
    ``data``: the planes.
    """
    return data.StructLayout({"valid": unsigned(planes), "dst": unsigned(OPERAND_BITS),
                              "data": StreamGroup(cfg.lanes, planes)})


def StreamAccess(cfg, planes, writers):
    """Signature of what a unit sees of the fabric at its position, from the unit.

    Members
    -------
    tap : In(Vector(lanes)).array(2 * streams)
        The stream registers at the position: the east-flowing streams
        ``0 .. streams - 1``, then the west-flowing ones (one signal per
        stream, as in :func:`Link`).
    write : Out(StreamWriteLayout(cfg, planes)).array(writers)
        The unit's outputs, in priority order: where two write the same stream
        in the same cycle, the lower index wins.
    """
    return wiring.Signature({"tap": In(Vector(cfg.lanes)).array(2 * cfg.streams),
                             "write": Out(StreamWriteLayout(cfg, planes)).array(writers)})


class StreamStop(wiring.Component):
    """The stream registers of one floorplan position.

    Arguments
    ---------
    cfg : LpuConfig
    planes, writers : int
        Shape of the unit's write port (:func:`StreamAccess`).

    Members
    -------
    west : In(Link(cfg))
        The link to the western neighbour; unconnected at the west edge, where
        its inputs stay 0 (zeros enter the east-flowing streams).
    east : Out(Link(cfg))
        The link to the eastern neighbour; unconnected at the east edge.
    unit : In(StreamAccess(cfg, planes, writers))
        The unit at this position.

    The registers' reset is the chip's start (the top wraps the stop in a
    ``ResetInserter``).
    """

    def __init__(self, cfg, planes, writers):
        self._cfg = require_config(cfg)
        super().__init__({"west": In(Link(cfg)), "east": Out(Link(cfg)),
                          "unit": In(StreamAccess(cfg, planes, writers))})

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        S = cfg.streams
        regs = [[Signal(Vector(cfg.lanes), name=f"s{'ew'[d]}{s}") for s in range(S)] for d in (EAST, WEST)]
        upstream = [self.west.eastward, self.east.westward]
        for d in (EAST, WEST):
            for s in range(S):
                nxt = upstream[d][s].as_value()
                for en, value in reversed(self._writes(d, s)):
                    nxt = Mux(en, value, nxt)
                m.d.sync += regs[d][s].eq(nxt)
                m.d.comb += self.unit.tap[d * S + s].eq(regs[d][s])
        m.d.comb += [self.east.eastward[s].eq(regs[EAST][s]) for s in range(S)]
        m.d.comb += [self.west.westward[s].eq(regs[WEST][s]) for s in range(S)]
        return m

    def _writes(self, d, s):
        """``(enable, value)`` of every plane that can write stream ``s`` of direction ``d``,
        in priority order."""
        out = []
        for write in self.unit.write:
            for j in range(len(write.data)):
                en = write.valid[j] & (write.dst[5] == d) & (write.dst[:5] + j == s)
                out.append((en, write.data[j].as_value()))
        return out


class Operands:
    """The stream operands a unit reads at its position, through one select table.

    ``tap`` is the position's :func:`StreamAccess` tap. The table is padded
    with zeros to a power of two so that every index value selects something;
    issued instructions name streams below ``streams`` (the ICU stops on
    anything else), so the index needs no range check.
    """

    def __init__(self, tap, streams):
        n = 2 * streams
        self._streams = streams
        self._bits = ceil_log2(n)
        width = len(tap[0].as_value())
        self._table = Array([tap[i].as_value() for i in range(n)]
                            + [Const(0, width)] * ((1 << self._bits) - n))

    def read(self, operand, offset=0):
        """The stream named by ``operand`` (+ ``offset`` streams)."""
        index = Mux(operand[5], self._streams, 0) + operand[:5] + offset
        return self._table[index[:self._bits]]

    def group(self, operand, n_max, n=None):
        """``n_max`` planes of the group named by ``operand``; planes ``>= n`` read as 0."""
        out = []
        for j in range(n_max):
            v = self.read(operand, j)
            out.append(v if n is None else Mux(j < n, v, 0))
        return out
