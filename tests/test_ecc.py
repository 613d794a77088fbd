"""SECDED (72, 64): golden code by exhaustive flips, RTL encoder/decoder bit-exact with it."""

import itertools

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from openlpu.golden.ecc import (ECC_CLEAN, ECC_CORRECTED, ECC_DETECTED, WORD_BITS, ecc_decode, ecc_encode)
from openlpu.rtl.ecc import EccDecoder, EccEncoder
from openlpu.verif.runner import SIMULATORS, require_simulator, run_cocotb
from openlpu.verif.tb_ecc import EccCodec

WORDS = [0, (1 << 64) - 1, 0x0123456789ABCDEF, 1 << 63, 1]


@pytest.mark.parametrize("data", WORDS)
def test_golden_every_single_and_double_flip(data):
    word = ecc_encode(data)
    assert ecc_decode(word) == (data, ECC_CLEAN, 0)
    syndromes = set()
    for b in range(WORD_BITS):
        got, status, syn = ecc_decode(word ^ (1 << b))
        assert (got, status) == (data, ECC_CORRECTED), b
        syndromes.add(syn)
    assert len(syndromes) == WORD_BITS          # every single flip has its own syndrome
    for a, b in itertools.combinations(range(WORD_BITS), 2):
        got, status, syn = ecc_decode(word ^ (1 << a) ^ (1 << b))
        assert status == ECC_DETECTED and got == 0 and syn and not syn >> 7, (a, b)


def test_golden_rejects_bad_widths():
    with pytest.raises(ValueError, match="64-bit"):
        ecc_encode(1 << 64)
    with pytest.raises(ValueError, match="72-bit"):
        ecc_decode(-1)


def test_rtl_matches_golden():
    m = Module()
    enc = m.submodules.enc = EccEncoder()
    dec = m.submodules.dec = EccDecoder()
    rng = np.random.default_rng(1)
    cases = []
    for data in WORDS + [int(x) for x in rng.integers(0, 1 << 63, 40, dtype=np.int64)]:
        word = ecc_encode(data)
        cases.append((data, word))
        for _ in range(6):
            bits = rng.choice(WORD_BITS, size=int(rng.integers(1, 4)), replace=False)
            cases.append((data, word ^ sum(1 << int(b) for b in bits)))

    async def bench(ctx):
        for data, word in cases:
            ctx.set(enc.data, data)
            ctx.set(dec.word, word)
            assert ctx.get(enc.word) == ecc_encode(data)
            got, status, syn = ecc_decode(word)
            assert ctx.get(dec.syndrome) == syn, hex(word)
            assert ctx.get(dec.corrected) == (status == ECC_CORRECTED), hex(word)
            assert ctx.get(dec.detected) == (status == ECC_DETECTED), hex(word)
            assert ctx.get(dec.data) == got, hex(word)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("sim", SIMULATORS)
def test_cocotb(sim):
    """The encoder and decoder's generated Verilog against the golden code (verif/tb_ecc.py)."""
    require_simulator(sim)
    run_cocotb(sim=sim, toplevel="ecc_codec", component=EccCodec, test_module="openlpu.verif.tb_ecc",
               key="ecc", extra_env={"OPENLPU_SEED": "1"})
