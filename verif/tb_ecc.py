"""cocotb testbench of the SECDED (72, 64) encoder and decoder (toplevel :class:`EccCodec`).

:class:`EccCodec` puts an :class:`openlpu.rtl.ecc.EccEncoder` and an
:class:`openlpu.rtl.ecc.EccDecoder` side by side in one combinational design
(no clock), so their generated Verilog can be simulated. The tests drive the
cases of :func:`cases`, and every single-bit flip of :data:`WORDS`, and compare every output with
:func:`openlpu.golden.ecc.ecc_encode` and :func:`openlpu.golden.ecc.ecc_decode`
bit for bit: the encoder's word, and the decoder's data, corrected and
detected flags and syndrome. Environment: ``OPENLPU_SEED`` (the random words
and flips; default 1).
"""

import os

import cocotb
import numpy as np
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from cocotb.triggers import Timer

from openlpu.golden.ecc import DATA_BITS, ECC_CORRECTED, ECC_DETECTED, WORD_BITS, ecc_decode, ecc_encode
from openlpu.rtl.ecc import EccDecoder, EccEncoder

#: Fixed data words of every run (as in tests/test_ecc.py).
WORDS = [0, (1 << 64) - 1, 0x0123456789ABCDEF, 1 << 63, 1]


class EccCodec(wiring.Component):
    """Encoder (``enc_data`` -> ``enc_word``) and decoder (``dec_word`` -> ``dec_*``), unconnected."""

    def __init__(self):
        super().__init__({"enc_data": In(DATA_BITS), "enc_word": Out(WORD_BITS), "dec_word": In(WORD_BITS),
                          "dec_data": Out(DATA_BITS), "dec_corrected": Out(1), "dec_detected": Out(1),
                          "dec_syndrome": Out(8)})

    def elaborate(self, platform):
        m = Module()
        enc = m.submodules.enc = EccEncoder()
        dec = m.submodules.dec = EccDecoder()
        m.d.comb += [enc.data.eq(self.enc_data), self.enc_word.eq(enc.word), dec.word.eq(self.dec_word),
                     self.dec_data.eq(dec.data), self.dec_corrected.eq(dec.corrected),
                     self.dec_detected.eq(dec.detected), self.dec_syndrome.eq(dec.syndrome)]
        return m


def cases(seed):
    """``(data, word)`` pairs: each of :data:`WORDS` and 40 random words, encoded, then with
    six random flips of 1 to 3 distinct bits each."""
    rng = np.random.default_rng(seed)
    out = []
    for data in WORDS + [int(x) for x in rng.integers(0, 1 << 63, 40, dtype=np.int64)]:
        word = ecc_encode(data)
        out.append((data, word))
        for _ in range(6):
            bits = rng.choice(WORD_BITS, size=int(rng.integers(1, 4)), replace=False)
            out.append((data, word ^ sum(1 << int(b) for b in bits)))
    return out


async def _check(dut, data, word):
    """Drive ``data`` into the encoder and ``word`` into the decoder; assert every output equals the golden code's."""
    dut.enc_data.value = data
    dut.dec_word.value = word
    await Timer(1, unit="ns")
    assert int(dut.enc_word.value) == ecc_encode(data), f"encode {data:#x}"
    got, status, syn = ecc_decode(word)
    seen = (int(dut.dec_data.value), int(dut.dec_corrected.value), int(dut.dec_detected.value),
            int(dut.dec_syndrome.value))
    assert seen == (got, int(status == ECC_CORRECTED), int(status == ECC_DETECTED), syn), \
        f"decode {word:#x}: got {seen}"


@cocotb.test()
async def encode_and_decode_match_golden(dut):
    """Every case of :func:`cases`: encoder word and decoder outputs equal the golden code's."""
    checked = 0
    for data, word in cases(int(os.environ.get("OPENLPU_SEED", "1"))):
        await _check(dut, data, word)
        checked += 1
    dut._log.info("%d encode/decode cases bit-exact", checked)


@cocotb.test()
async def every_single_flip_is_corrected(dut):
    """Each of :data:`WORDS` encoded, then with each of its 72 bits flipped in turn: encoder and
    decoder outputs equal the golden code's. The random flips above need not hit every position
    (about 80 single flips over 72 positions)."""
    for data in WORDS:
        word = ecc_encode(data)
        for bit in range(WORD_BITS):
            await _check(dut, data, word ^ (1 << bit))
    dut._log.info("%d single flips corrected", len(WORDS) * WORD_BITS)
