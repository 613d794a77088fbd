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

A unit reads its operands through *read ports* of its stop (``reads`` of
them: the stop selects the stream a port's ``index`` names), or, when it
reads more streams at once than the stop holds (the VXM's ALU columns), from
the stop's whole *tap*. Read ports keep the wires between a unit and its stop
to what the unit uses: at ``tsp`` a MEM slice's share reads 3 of 64 streams.

A :class:`StreamRow` is the stops of one superlane, west to east, linked to
each other: the chip top holds one row per superlane and connects each
position's unit to it, so the links between stops stay inside the row's
module (:mod:`openlpu.rtl.hier`).
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .. import isa
from ..config import require_config
from .hier import shared
from .streams import StreamGroup, Vector

__all__ = ["OPERAND_BITS", "EAST", "WEST", "Link", "StreamWriteLayout", "StreamAccess", "StreamStop",
           "StreamRow", "Operands"]

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


def _index_bits(streams):
    """Bits of a stream's index in a stop's table (east ``0 .. streams-1``, then west)."""
    return ceil_log2(2 * streams)


def StreamAccess(cfg, planes, writers, reads=None):
    """Signature of what a unit sees of the fabric at its position, from the unit.

    Members
    -------
    read_index : Out(ceil_log2(2 * streams)).array(reads)
        With ``reads`` given, the unit's operand reads: read port ``i`` selects
        the stream numbered ``read_index[i]`` as in ``tap`` (indices past
        ``2 * streams`` read 0) ...
    read_data : In(Vector(lanes)).array(reads)
        ... and returns its register in ``read_data[i]``, in the same cycle.
        (Two arrays rather than an array of port interfaces: Amaranth 0.5
        cannot flatten an array of interfaces inside a flipped signature.)
    tap : In(Vector(lanes)).array(2 * streams)
        With ``reads=None``: every stream register at the position, the
        east-flowing streams ``0 .. streams - 1``, then the west-flowing ones
        (one signal per stream, as in :func:`Link`).
    write : Out(StreamWriteLayout(cfg, planes)).array(writers)
        The unit's outputs, in priority order: where two write the same stream
        in the same cycle, the lower index wins.
    """
    reads_member = ({"tap": In(Vector(cfg.lanes)).array(2 * cfg.streams)} if reads is None
                    else {"read_index": Out(_index_bits(cfg.streams)).array(reads),
                          "read_data": In(Vector(cfg.lanes)).array(reads)})
    return wiring.Signature({**reads_member, "write": Out(StreamWriteLayout(cfg, planes)).array(writers)})


class StreamStop(wiring.Component):
    """The stream registers of one floorplan position.

    Arguments
    ---------
    cfg : LpuConfig
    planes, writers, reads : int (``reads`` may be None)
        Shape of the unit's access (:func:`StreamAccess`).

    Members
    -------
    west : In(Link(cfg))
        The link to the western neighbour; unconnected at the west edge, where
        its inputs stay 0 (zeros enter the east-flowing streams).
    east : Out(Link(cfg))
        The link to the eastern neighbour; unconnected at the east edge.
    unit : In(StreamAccess(cfg, planes, writers, reads))
        The unit at this position.

    The registers' reset is the chip's start (the top wraps the stop in a
    ``ResetInserter``).
    """

    def __init__(self, cfg, planes, writers, reads=None):
        self._cfg = require_config(cfg)
        self._reads = reads
        super().__init__({"west": In(Link(cfg)), "east": Out(Link(cfg)),
                          "unit": In(StreamAccess(cfg, planes, writers, reads))})

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
        table = regs[EAST] + regs[WEST]
        if self._reads is None:
            m.d.comb += [self.unit.tap[i].eq(reg) for i, reg in enumerate(table)]
        else:
            select = Operands(table, S)
            m.d.comb += [data.eq(select.at(index)) for index, data in zip(self.unit.read_index, self.unit.read_data)]
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


class StreamRow(wiring.Component):
    """The stream stops of one superlane, west to east, each linked to its neighbours.

    Arguments
    ---------
    cfg : LpuConfig
        The superlane's configuration (:attr:`~openlpu.config.LpuConfig.superlane`).
    positions : tuple of (name, planes, writers, reads)
        The floorplan positions west to east and the shape of each unit's
        access (:func:`StreamAccess`).

    Members
    -------
    <name> : In(StreamAccess(cfg, planes, writers, reads)), one per position
        The unit at that position.

    The stop of position ``name`` is the submodule ``name``; the registers'
    reset is the chip's start (the top wraps the row in a ``ResetInserter``).
    """

    def __init__(self, cfg, positions):
        self._cfg = require_config(cfg)
        self._positions = tuple(tuple(p) for p in positions)
        super().__init__({name: In(StreamAccess(cfg, planes, writers, reads))
                          for name, planes, writers, reads in self._positions})

    def elaborate(self, platform):
        m = Module()
        west = None
        for name, planes, writers, reads in self._positions:
            stop = StreamStop(self._cfg, planes, writers, reads)
            m.submodules[name] = shared(stop, platform, "stream_stop")
            wiring.connect(m, wiring.flipped(getattr(self, name)), stop.unit)
            if west is not None:
                wiring.connect(m, west.east, stop.west)
            west = stop
        return m


class Operands:
    """The stream operands a unit reads at its position.

    ``source`` is the position's :func:`StreamAccess` (``m`` drives its read
    ports), or a list of the ``2 * streams`` stream registers (the stop's own
    table; then :meth:`at` selects). The table is padded with zeros to a
    power of two so that every index value selects something; issued
    instructions name streams below ``streams`` (the ICU stops on anything
    else), so the index needs no range check.
    """

    def __init__(self, source, streams, m=None):
        n = 2 * streams
        self._streams = streams
        self._bits = _index_bits(streams)
        self._m, self._ports, self._used = m, None, 0
        if isinstance(source, (list, tuple)):
            tap = source
        elif hasattr(source, "read_index"):
            self._ports, tap = list(zip(source.read_index, source.read_data)), None
        else:
            tap = source.tap
        if tap is not None:
            width = len(tap[0].as_value())
            self._table = Array([tap[i].as_value() for i in range(n)]
                                + [Const(0, width)] * ((1 << self._bits) - n))

    def at(self, index):
        """The register at table ``index`` (the stop's side of a read port)."""
        return self._table[index[:self._bits]]

    def read(self, operand, offset=0):
        """The stream named by ``operand`` (+ ``offset`` streams), through the next read port
        when the access has them."""
        index = Mux(operand[5], self._streams, 0) + operand[:5] + offset
        if self._ports is None:
            return self.at(index)
        if self._used == len(self._ports):
            raise ValueError(f"more operand reads than the {len(self._ports)} read ports of this access")
        port_index, port_data = self._ports[self._used]
        self._used += 1
        self._m.d.comb += port_index.eq(index[:self._bits])
        return port_data.as_value()

    def group(self, operand, n_max, n=None):
        """``n_max`` planes of the group named by ``operand``; planes ``>= n`` read as 0."""
        out = []
        for j in range(n_max):
            v = self.read(operand, j)
            out.append(v if n is None else Mux(j < n, v, 0))
        return out
