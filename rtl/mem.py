"""MEM: SRAM slices with SECDED ECC, and the controller :class:`Mem` over them.

A :class:`MemSlice` stores ``mem_depth`` vectors of ``lanes`` bytes. A vector
is ``lanes // 8`` ECC *columns*; column ``w`` holds lanes ``8w .. 8w+7`` as one
72-bit word (64 data + 8 check bits, :mod:`openlpu.rtl.ecc`) in its own
single-read, single-write SRAM, so each column can take its own address
(gather / scatter at word granularity).

Timing (:mod:`openlpu.timing`): a read command in cycle ``t`` puts its data on
``out`` in cycle ``t + MEM_READ_LATENCY``; a write in cycle ``t`` is seen by
reads from cycle ``t + MEM_WRITE_LATENCY``; a read and a write of the same
address in the same cycle return the *old* data. Nothing stalls.

:class:`Mem` holds ``mem_slices`` slices, gives the chip their command and
data ports, and gives the host port (:class:`openlpu.rtl.host.HostPort`) the
slices' ports in the cycles where the chip does not own them.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from openlpu.config import MEM_INDEX_BITS, require_config, require_ecc_lanes

from openlpu import timing
from openlpu.golden.ecc import WORD_BITS
from openlpu.rtl.ecc import EccDecoder, EccEncoder
from openlpu.rtl.hier import shared
from openlpu.rtl.streams import Flow, Vector

__all__ = ["MemReadLayout", "MemWriteLayout", "MemOutLayout", "MemErrorsLayout", "MemHostSignature", "MemSlice",
           "Mem", "mem_chip_members", "MemAddrGen", "COUNTER_BITS", "INDEX_BITS"]

#: Width of the saturating error counters.
COUNTER_BITS = 32
#: Bits of a gather/scatter index: lanes ``8w`` and ``8w+1`` of the index
#: vector, little-endian, are column ``w``'s address (``mem_depth`` is at most
#: ``1 << INDEX_BITS``, a rule of :class:`~openlpu.config.LpuConfig`).
INDEX_BITS = MEM_INDEX_BITS


def _addr_bits(cfg):
    return max(1, ceil_log2(cfg.mem_depth))


def MemReadLayout(cfg):
    """Read command: ``addr``; ``gather`` takes per-column addresses from ``index``;
    ``scrub`` rewrites corrected words."""
    return data.StructLayout({"addr": unsigned(_addr_bits(cfg)), "gather": 1, "scrub": 1,
                              "index": Vector(cfg.lanes)})


def MemWriteLayout(cfg):
    """Write command: ``data`` to ``addr``, or with ``scatter`` column ``w`` to its
    address from ``index``."""
    return data.StructLayout({"addr": unsigned(_addr_bits(cfg)), "scatter": 1,
                              "index": Vector(cfg.lanes), "data": Vector(cfg.lanes)})


def MemOutLayout(cfg):
    """Read data: ``poison`` set when any column was uncorrectable or out of range
    (the whole vector then reads as zero: bad data is never passed on)."""
    return data.StructLayout({"data": Vector(cfg.lanes), "poison": 1})


def MemErrorsLayout():
    """A slice's error record: the :class:`MemSlice` members of the same names."""
    return data.StructLayout({"corrected": COUNTER_BITS, "detected": COUNTER_BITS, "range_errors": COUNTER_BITS,
                              "last_addr": INDEX_BITS, "last_syndrome": 8})


def MemHostSignature(cfg):
    """Signature of the host's access to the slices of a :class:`Mem`, as seen from the host.

    ``granted`` is high in the cycles where the host owns the slices (the chip
    is not busy); only then do ``rd`` and ``wr`` (one bit per slice) read or
    write ``data`` at vector ``addr``. ``out`` is each slice's read data,
    ``MEM_READ_LATENCY`` cycles after its ``rd``; ``errors`` each slice's error
    record.
    """
    n = cfg.mem_slices
    return wiring.Signature({
        "granted": In(1),
        "rd": Out(n), "wr": Out(n), "addr": Out(_addr_bits(cfg)), "data": Out(8 * cfg.lanes),
        "out": In(MemOutLayout(cfg)).array(n),
        "errors": In(MemErrorsLayout()).array(n),
    })


class MemSlice(wiring.Component):
    """One SRAM slice: one read and one write per cycle, SECDED on every word.

    Arguments
    ---------
    cfg : LpuConfig
        Uses ``lanes`` (multiple of 8) and ``mem_depth`` (1..65536).

    Members
    -------
    rd : In(Flow(MemReadLayout))
        Read / gather / scrub command; data on ``out`` ``MEM_READ_LATENCY`` later.
    wr : In(Flow(MemWriteLayout))
        Write / scatter command.
    fault : In(72 * lanes // 8)
        Test-only backdoor: XORed into the words stored by this cycle's ``wr``
        (column ``w`` is bits ``72w..72w+71``). Tie to 0 in a chip.
    out : Out(Flow(MemOutLayout))
    corrected : Out(32)
        Saturating count of corrected words.
    detected : Out(32)
        Saturating count of uncorrectable words.
    range_errors : Out(32)
        Saturating count of gather/scatter column addresses ``>= mem_depth``
        (such a read column is poisoned, such a write column dropped).
    last_addr : Out(16), last_syndrome : Out(8)
        Address and syndrome of the last ECC event (lowest column wins).

    A scrub read rewrites the corrected word of each column that had a
    single-bit error ``MEM_SCRUB_DELAY`` cycles after the command, unless a
    ``wr`` command writes that column in that cycle (the chip write wins).

    Raises
    ------
    ConfigError
        ``lanes`` not a multiple of 8 (:func:`~openlpu.config.require_ecc_lanes`).
    """

    def __init__(self, cfg):
        require_ecc_lanes(cfg)
        self._cfg = cfg
        self._cols = cfg.lanes // 8
        super().__init__({
            "rd": In(Flow(MemReadLayout(cfg))),
            "wr": In(Flow(MemWriteLayout(cfg))),
            "fault": In(WORD_BITS * self._cols),
            "out": Out(Flow(MemOutLayout(cfg))),
            "corrected": Out(COUNTER_BITS),
            "detected": Out(COUNTER_BITS),
            "range_errors": Out(COUNTER_BITS),
            "last_addr": Out(INDEX_BITS),
            "last_syndrome": Out(8),
        })

    @property
    def read_latency(self):
        return timing.MEM_READ_LATENCY

    def elaborate(self, platform):
        m = Module()
        cfg, cols = self._cfg, self._cols
        depth = cfg.mem_depth
        rd, wr = self.rd.payload, self.wr.payload
        assert timing.MEM_READ_LATENCY == 2 and timing.MEM_WRITE_LATENCY == 1 and timing.MEM_SCRUB_DELAY == 1

        def col_addr(cmd, sel, w):
            idx = Cat(cmd.index[8 * w], cmd.index[8 * w + 1])
            return Mux(sel, idx, cmd.addr)

        # stage 1 (cycle t+1): registered read controls
        s1_valid = Signal()
        s1_scrub = Signal()
        s1_addr = [Signal(INDEX_BITS, name=f"s1_addr{w}") for w in range(cols)]
        s1_oor = Signal(cols)
        m.d.sync += [s1_valid.eq(self.rd.valid), s1_scrub.eq(self.rd.valid & rd.scrub)]

        wr_oor = Signal(cols)
        out_data = []
        corr = Signal(cols)
        det = Signal(cols)
        synd = []
        for w in range(cols):
            mem = Memory(shape=WORD_BITS, depth=depth, init=[])
            m.submodules[f"col{w}"] = mem
            rport = mem.read_port()
            wport = mem.write_port()
            ra = Signal(INDEX_BITS, name=f"ra{w}")
            m.d.comb += ra.eq(col_addr(rd, rd.gather, w))
            m.d.comb += rport.addr.eq(ra[:len(rport.addr)])
            m.d.sync += [s1_addr[w].eq(ra), s1_oor[w].eq(ra >= depth)]
            dec = m.submodules[f"dec{w}"] = EccDecoder()
            m.d.comb += dec.word.eq(rport.data)
            bad = s1_oor[w]
            m.d.comb += [corr[w].eq(s1_valid & ~bad & dec.corrected),
                         det[w].eq(s1_valid & ~bad & dec.detected)]
            out_data.append(Mux(bad, 0, dec.data))
            synd.append(dec.syndrome)
            # write side: chip write wins over the scrub rewrite
            wa = Signal(INDEX_BITS, name=f"wa{w}")
            m.d.comb += [wa.eq(col_addr(wr, wr.scatter, w)), wr_oor[w].eq(self.wr.valid & (wa >= depth))]
            enc = m.submodules[f"enc{w}"] = EccEncoder()
            senc = m.submodules[f"senc{w}"] = EccEncoder()
            m.d.comb += [enc.data.eq(Cat(*(wr.data[8 * w + i] for i in range(8)))), senc.data.eq(dec.data)]
            chip_we = self.wr.valid & (wa < depth)
            with m.If(chip_we):
                m.d.comb += [wport.en.eq(1), wport.addr.eq(wa[:len(wport.addr)]),
                             wport.data.eq(enc.word ^ self.fault[WORD_BITS * w:WORD_BITS * (w + 1)])]
            with m.Elif(s1_scrub & corr[w]):
                m.d.comb += [wport.en.eq(1), wport.addr.eq(s1_addr[w][:len(wport.addr)]),
                             wport.data.eq(senc.word)]

        # stage 2 (cycle t+2): output register
        poison = (det | (s1_oor & s1_valid.replicate(cols))).any()
        m.d.sync += [self.out.valid.eq(s1_valid),
                     self.out.payload.data.as_value().eq(Mux(poison, 0, Cat(*out_data))),
                     self.out.payload.poison.eq(s1_valid & poison)]

        def bump(counter, amount):
            total = counter + amount
            limit = (1 << COUNTER_BITS) - 1
            m.d.sync += counter.eq(Mux(total > limit, limit, total))

        def popcount(v):
            return sum(v[i] for i in range(len(v)))

        bump(self.corrected, popcount(corr))
        bump(self.detected, popcount(det))
        bump(self.range_errors, popcount(s1_oor & s1_valid.replicate(cols)) + popcount(wr_oor))
        events = corr | det
        for w in reversed(range(cols)):
            with m.If(events[w]):
                m.d.sync += [self.last_addr.eq(s1_addr[w]), self.last_syndrome.eq(synd[w])]
        return m


def mem_chip_members(cfg):
    """The members of :class:`Mem` on the chip's side (all but ``host``)."""
    n, tile = cfg.mem_slices * cfg.superlanes, cfg.superlane
    return {"rd": In(Flow(MemReadLayout(tile))).array(n), "wr": In(Flow(MemWriteLayout(tile))).array(n),
            "out": Out(Flow(MemOutLayout(tile))).array(n), "chip_busy": In(1),
            "fault": In(WORD_BITS * cfg.lanes // 8).array(cfg.mem_slices)}


class Mem(wiring.Component):
    """The MEM controller: ``mem_slices`` slices shared by the chip and the host.

    A slice is one :class:`MemSlice` *tile* per superlane, of
    ``lanes_per_superlane`` lanes (:attr:`~openlpu.config.LpuConfig.superlane`):
    on the chip's side each tile takes its own commands, which run
    ``superlane_offset(s)`` cycles behind tile 0's; the host reads and writes
    all tiles of a slice together. The host's error record of a slice sums the
    tiles' counters (saturating) and shows ``last_addr``/``last_syndrome`` of
    the lowest tile that has had an ECC event (as
    :class:`openlpu.golden.mem.MemTilesModel`).

    Arbitration (deterministic for the chip): while ``chip_busy`` is high the
    slices take the chip's ``rd`` / ``wr`` commands, with no added latency;
    while it is low they take the host's (``host.granted`` is high) and the
    chip's commands are ignored. The chip never waits.

    Arguments
    ---------
    cfg : LpuConfig
        Uses ``mem_slices``, ``lanes`` (multiple of 8) and ``mem_depth``.

    Members
    -------
    rd, wr : In(Flow(MemReadLayout / MemWriteLayout)).array(mem_slices * superlanes)
        Chip-side commands of each tile (``slice * superlanes + superlane``), in
        the tile's lanes (honoured whenever ``chip_busy``).
    out : Out(Flow(MemOutLayout)).array(mem_slices * superlanes)
        Read data of each tile, ``MEM_READ_LATENCY`` after its command.
    chip_busy : In(1)
        High while a program runs: the slices belong to the chip.
    fault : In(72 * lanes // 8).array(mem_slices)
        Test-only backdoor of each slice (see :class:`MemSlice`); tie to 0.
    host : In(MemHostSignature(cfg))
        The host port's access to the slices.

    Raises
    ------
    ConfigError
        As :class:`MemSlice`.
    """

    def __init__(self, cfg):
        self._cfg = require_ecc_lanes(cfg)
        super().__init__({**mem_chip_members(cfg), "host": In(MemHostSignature(cfg))})

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        host = self.host
        m.d.comb += host.granted.eq(~self.chip_busy)
        bits, fbits = 8 * cfg.lanes_per_superlane, WORD_BITS * cfg.lanes_per_superlane // 8
        for s in range(cfg.mem_slices):
            tiles = []
            for k in range(cfg.superlanes):
                t = s * cfg.superlanes + k
                sl = MemSlice(cfg.superlane)
                m.submodules[f"slice{s}_{k}"] = shared(sl, platform, "mem_tile")
                with m.If(self.chip_busy):
                    m.d.comb += [sl.rd.valid.eq(self.rd[t].valid), sl.rd.payload.eq(self.rd[t].payload),
                                 sl.wr.valid.eq(self.wr[t].valid), sl.wr.payload.eq(self.wr[t].payload)]
                with m.Else():
                    m.d.comb += [sl.rd.valid.eq(host.rd[s]), sl.rd.payload.addr.eq(host.addr),
                                 sl.wr.valid.eq(host.wr[s]), sl.wr.payload.addr.eq(host.addr),
                                 sl.wr.payload.data.as_value().eq(host.data[bits * k:bits * (k + 1)])]
                m.d.comb += [sl.fault.eq(self.fault[s][fbits * k:fbits * (k + 1)]),
                             self.out[t].valid.eq(sl.out.valid), self.out[t].payload.eq(sl.out.payload)]
                tiles.append(sl)
            m.d.comb += [host.out[s].data.as_value().eq(Cat(*(sl.out.payload.data for sl in tiles))),
                         host.out[s].poison.eq(Cat(*(sl.out.payload.poison for sl in tiles)).any())]
            self._errors(m, host.errors[s], tiles)
        return m

    @staticmethod
    def _errors(m, record, tiles):
        """A slice's error record from its tiles' (see the class docstring)."""
        for name in ("corrected", "detected", "range_errors"):
            total = sum(getattr(sl, name).as_unsigned() for sl in tiles)
            limit = (1 << COUNTER_BITS) - 1
            m.d.comb += getattr(record, name).eq(Mux(total > limit, limit, total))
        addr, syndrome = tiles[-1].last_addr, tiles[-1].last_syndrome
        for sl in reversed(tiles[:-1]):
            seen = (sl.corrected != 0) | (sl.detected != 0)
            addr, syndrome = Mux(seen, sl.last_addr, addr), Mux(seen, sl.last_syndrome, syndrome)
        m.d.comb += [record.last_addr.eq(addr), record.last_syndrome.eq(syndrome)]


class MemAddrGen(wiring.Component):
    """Strided address sequence for REPEAT-style reads and writes.

    A command ``(base, stride, count)`` in cycle ``t`` emits ``base + k * stride``
    (modulo 2**16) for ``k = 0 .. count - 1`` on ``addr`` in cycles
    ``t + MEM_ADDRGEN_LATENCY + k``; ``count = 0`` emits nothing. A new command
    replaces a running sequence. ``error`` is sticky: set when an emitted
    address is ``>= mem_depth``.

    Members
    -------
    cmd : In(Flow(StructLayout(base: 16, stride: 16, count: 16)))
    addr : Out(Flow(unsigned(16)))
    error : Out(1)
    """

    def __init__(self, cfg):
        require_ecc_lanes(cfg)
        self._depth = cfg.mem_depth
        layout = data.StructLayout({"base": INDEX_BITS, "stride": INDEX_BITS, "count": INDEX_BITS})
        super().__init__({"cmd": In(Flow(layout)), "addr": Out(Flow(unsigned(INDEX_BITS))), "error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        assert timing.MEM_ADDRGEN_LATENCY == 1
        cur = Signal(INDEX_BITS)
        stride = Signal(INDEX_BITS)
        left = Signal(INDEX_BITS)
        with m.If(self.cmd.valid):
            m.d.sync += [cur.eq(self.cmd.payload.base), stride.eq(self.cmd.payload.stride),
                         left.eq(self.cmd.payload.count)]
        with m.Elif(left != 0):
            m.d.sync += [cur.eq(cur + stride), left.eq(left - 1)]
        m.d.comb += [self.addr.valid.eq(left != 0), self.addr.payload.eq(cur)]
        with m.If((left != 0) & (cur >= self._depth)):
            m.d.sync += self.error.eq(1)
        return m
