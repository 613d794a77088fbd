"""SECDED (72, 64) encoder and decoder of the SRAM, as combinational Amaranth.

The code is defined in :mod:`openlpu.golden.ecc` (positions, check masks,
syndrome and the decode rule); this module builds exactly that as pure
combinational components with no clock, so a formal proof can treat them in
isolation: every single-bit error corrected, every double-bit error flagged.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from openlpu.golden.ecc import CHECK_MASKS, DATA_BITS, DATA_POSITIONS, WORD_BITS

__all__ = ["EccEncoder", "EccDecoder"]


def _checks(data):
    return Cat(*((data & Const(mask, DATA_BITS)).xor() for mask in CHECK_MASKS))


class EccEncoder(wiring.Component):
    """64-bit data -> 72-bit stored word (combinational, latency 0).

    Members
    -------
    data : In(64)
    word : Out(72)
        ``data``, then check bits ``c0..c6``, then the overall parity bit.
    """

    def __init__(self):
        super().__init__({"data": In(DATA_BITS), "word": Out(WORD_BITS)})

    def elaborate(self, platform):
        m = Module()
        c = Signal(7)
        m.d.comb += c.eq(_checks(self.data))
        m.d.comb += self.word.eq(Cat(self.data, c, self.data.xor() ^ c.xor()))
        return m


class EccDecoder(wiring.Component):
    """72-bit stored word -> corrected data and status (combinational, latency 0).

    Members
    -------
    word : In(72)
    data : Out(64)
        Corrected data; 0 when ``detected`` (never the corrupted value).
    corrected : Out(1)
        A single-bit error was corrected (data, check or parity bit).
    detected : Out(1)
        An uncorrectable (double or worse) error.
    syndrome : Out(8)
        Bits 0..6 recomputed XOR stored checks, bit 7 overall parity.
    """

    def __init__(self):
        super().__init__({"word": In(WORD_BITS), "data": Out(DATA_BITS), "corrected": Out(1),
                          "detected": Out(1), "syndrome": Out(8)})

    def elaborate(self, platform):
        m = Module()
        raw = self.word[:DATA_BITS]
        low = Signal(7)
        overall = Signal()
        m.d.comb += [low.eq(_checks(raw) ^ self.word[DATA_BITS:DATA_BITS + 7]),
                     overall.eq(self.word.xor())]
        flips = Cat(*(low == pos for pos in DATA_POSITIONS))
        hits_data = flips.any()
        hits_check = (low & (low - 1))[:7] == 0   # 0 (the parity bit) or a power of two
        single = overall & (hits_data | hits_check)
        m.d.comb += [
            self.syndrome.eq(Cat(low, overall)),
            self.corrected.eq(single),
            self.detected.eq((low != 0) & ~single),
            self.data.eq(Mux(self.detected, 0, raw ^ Mux(overall, flips, 0))),
        ]
        return m
