"""Stream payload layouts shared by every unit.

A stream carries one *vector* of ``lanes`` bytes per cycle. A value wider
than a byte travels as a *group* of streams, one byte plane each, in
little-endian order: stream 0 of the group carries byte 0 of every lane.
int8 uses 1 stream, int16/fp16 2, int32/fp32 4 (:data:`STREAMS_PER_TYPE`).
"""

from amaranth.hdl import Cat, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import Out

__all__ = ["STREAMS_PER_TYPE", "Vector", "StreamGroup", "Flow", "lane_word", "word_planes"]

#: Streams (byte planes) a value of each element type occupies.
STREAMS_PER_TYPE = {"int8": 1, "int16": 2, "fp16": 2, "int32": 4, "fp32": 4}


def Vector(lanes):
    """Layout of one stream vector: ``lanes`` bytes."""
    return data.ArrayLayout(unsigned(8), lanes)


def StreamGroup(lanes, count):
    """Layout of ``count`` stream vectors travelling together (byte planes)."""
    return data.ArrayLayout(Vector(lanes), count)


def lane_word(group, lane):
    """The ``8 * len(group)``-bit value of ``lane`` in a :func:`StreamGroup` view."""
    return Cat(*(group[plane][lane] for plane in range(len(group))))


def word_planes(group, lane, value):
    """Statements that write ``value`` into ``lane`` of every byte plane of ``group``."""
    return [group[plane][lane].eq(value[8 * plane:8 * plane + 8]) for plane in range(len(group))]


def Flow(layout):
    """Signature of a deterministic stream port: ``valid`` and ``payload``, no ``ready``.

    Inside the chip nothing stalls: a producer's ``valid`` cycle is the
    consumer's input cycle, by construction of the static schedule. As seen
    from the producer (``Out``); a consumer takes ``In(Flow(layout))``.
    """
    return wiring.Signature({"valid": Out(1), "payload": Out(layout)})
