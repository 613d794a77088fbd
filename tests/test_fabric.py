"""Stream fabric: stops linked east/west, write priority, zeros at the edges, the operand table."""

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import wiring
from amaranth.sim import Simulator

from openlpu.config import preset
from openlpu.rtl.fabric import EAST, WEST, Operands, StreamRow, StreamStop

TINY = preset("tiny")
S = TINY.streams


class _Line(Elaboratable):
    """Three stops in a row, each with two writers of two planes; the middle one's tap
    read through an operand table."""

    def __init__(self):
        self.stops = [StreamStop(TINY, 2, 2) for _ in range(3)]
        self.operand = Signal(6)
        self.read = Signal(8 * TINY.lanes)

    def elaborate(self, platform):
        m = Module()
        for i, stop in enumerate(self.stops):
            m.submodules[f"stop{i}"] = stop
        for west, east in zip(self.stops, self.stops[1:]):
            wiring.connect(m, west.east, east.west)
        m.d.comb += self.read.eq(Operands(self.stops[1].unit.tap, S).read(self.operand, 1))
        return m


def _vector(byte):
    return [byte] * TINY.lanes


def test_stops_move_values_one_position_per_cycle_and_the_first_writer_wins():
    dut = _Line()
    left, mid, right = dut.stops

    async def bench(ctx):
        w0, w1 = mid.unit.write
        # writer 0: planes to east streams 3, 4; writer 1: streams 4, 5 (stream 4 collides)
        ctx.set(w0, {"valid": 0b11, "dst": (EAST << 5) | 3, "data": [_vector(0x10), _vector(0x11)]})
        ctx.set(w1, {"valid": 0b11, "dst": (EAST << 5) | 4, "data": [_vector(0x20), _vector(0x21)]})
        await ctx.tick()
        ctx.set(w0.valid, 0)
        ctx.set(w1, {"valid": 0b01, "dst": (WEST << 5) | 7, "data": [_vector(0x30), _vector(0x31)]})
        east = [ctx.get(mid.unit.tap[EAST * S + s][0]) for s in range(S)]
        assert east == [0, 0, 0, 0x10, 0x11, 0x21, 0, 0]
        ctx.set(dut.operand, (EAST << 5) | 3)            # operand + 1: east stream 4
        assert ctx.get(dut.read) == int.from_bytes(bytes(_vector(0x11)), "little")
        await ctx.tick()
        ctx.set(w1.valid, 0)
        # one hop east per cycle; the west-flowing write is in the middle stop, then moves west
        assert [ctx.get(right.unit.tap[EAST * S + s][0]) for s in (3, 4, 5)] == [0x10, 0x11, 0x21]
        assert ctx.get(mid.unit.tap[WEST * S + 7][0]) == 0x30
        assert ctx.get(left.unit.tap[WEST * S + 7][0]) == 0
        assert all(ctx.get(mid.unit.tap[EAST * S + s][0]) == 0 for s in range(S))   # zeros from the west edge
        await ctx.tick()
        assert ctx.get(left.unit.tap[WEST * S + 7][0]) == 0x30
        assert ctx.get(right.unit.tap[EAST * S + 4][0]) == 0
        await ctx.tick()                                  # values leave at the edges
        assert all(ctx.get(stop.unit.tap[i][0]) == 0 for stop in dut.stops for i in range(2 * S))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


class _Row(Elaboratable):
    """A :class:`StreamRow` of two positions: ``a`` with read ports, ``b`` with the whole tap."""

    def __init__(self):
        self.row = StreamRow(TINY, (("a", 1, 1, 2), ("b", 1, 1, None)))
        self.operands = [Signal(6, name=f"operand{i}") for i in range(2)]
        self.reads = [Signal(8 * TINY.lanes, name=f"read{i}") for i in range(2)]

    def elaborate(self, platform):
        m = Module()
        m.submodules.row = self.row
        ops = Operands(wiring.flipped(self.row.a), S, m)
        m.d.comb += [r.eq(ops.read(o, 1)) for r, o in zip(self.reads, self.operands)]
        return m


def test_read_ports_select_like_the_tap_and_rows_link_their_stops():
    dut = _Row()
    a, b = dut.row.a, dut.row.b

    async def bench(ctx):
        ctx.set(b.write[0], {"valid": 1, "dst": (WEST << 5) | 2, "data": [_vector(0x42)]})
        ctx.set(a.write[0], {"valid": 1, "dst": (EAST << 5) | 5, "data": [_vector(0x17)]})
        await ctx.tick()
        ctx.set(a.write[0].valid, 0)
        ctx.set(b.write[0].valid, 0)
        ctx.set(dut.operands[0], (EAST << 5) | 4)        # + 1: east 5, written at a
        ctx.set(dut.operands[1], (WEST << 5) | 1)        # + 1: west 2, written at b, not yet at a
        assert [ctx.get(r) for r in dut.reads] == [int.from_bytes(bytes(_vector(0x17)), "little"), 0]
        await ctx.tick()                                  # west 2 moves from b to a; east 5 to b
        assert ctx.get(dut.reads[1]) == int.from_bytes(bytes(_vector(0x42)), "little")
        assert ctx.get(b.tap[EAST * S + 5][0]) == 0x17

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_more_reads_than_ports_is_an_error():
    import pytest
    m = Module()
    ops = Operands(wiring.flipped(StreamStop(TINY, 1, 1, 1).unit), S, m)
    ops.read(Signal(6))
    with pytest.raises(ValueError, match="more operand reads than the 1 read ports"):
        ops.read(Signal(6))
