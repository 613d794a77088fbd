"""Exhaustive ECC fault injection: every single (72) and double (2,556) bit flip of a
(72, 64) codeword, for a set of data words, through the golden decoder, the RTL
decoder (Amaranth simulator) and a MemSlice's write -> SRAM -> read path.

Each injected fault is classified as

* corrected: flagged single and the original data returned;
* detected: flagged uncorrectable and no data passed on (0 / poisoned);
* miscorrected: flagged corrected but the data differs, or a double error
  flagged as corrected;
* silent: not flagged at all.

A tally is printed (``pytest -s`` shows it) and any miscorrected or silent
fault fails the test; every single flip must be corrected and every double
flip detected.
"""

import itertools
from collections import Counter

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from openlpu.config import preset
from openlpu.golden.ecc import (DATA_BITS, ECC_CORRECTED, ECC_DETECTED, WORD_BITS, ecc_decode, ecc_encode)
from openlpu.rtl.ecc import EccDecoder
from openlpu.rtl.mem import MemSlice
from openlpu.verif.tb_mem_scenarios import rd_value, wr_value

ALL_ONES = (1 << DATA_BITS) - 1
_rng = np.random.default_rng(72)
RANDOM = [int(x) for x in _rng.integers(0, 1 << 64, 8, dtype=np.uint64)]
WALKING = [1 << i for i in range(DATA_BITS)]
#: Data words of the golden and RTL-decoder campaigns.
WORDS = [0, ALL_ONES] + WALKING + RANDOM
#: Data words of the RTL-decoder campaign in the default run (all of WORDS with --slow).
RTL_WORDS = [0, ALL_ONES, 1, 1 << 31, 1 << 32, 1 << 63] + RANDOM[:4]
#: Data words of the (slower, cycle-by-cycle) MemSlice campaign.
MEM_WORDS = [0, ALL_ONES, 1 << 37, RANDOM[0]]

SINGLES = [(b,) for b in range(WORD_BITS)]
DOUBLES = list(itertools.combinations(range(WORD_BITS), 2))
assert len(SINGLES) == 72 and len(DOUBLES) == 2556


def _classify(flips, data, got, corrected, detected):
    if not corrected and not detected:
        return "silent"
    if corrected:
        return "corrected" if len(flips) == 1 and got == data else "miscorrected"
    return "detected" if got == 0 else "miscorrected"


def _report(path, tally, words):
    injected = sum(tally.values())
    line = (f"ECC fault injection via {path}: {words} data words, injected {injected}, "
            f"corrected {tally['corrected']}, detected {tally['detected']}, "
            f"miscorrected {tally['miscorrected']}, silent {tally['silent']}")
    print(line)
    assert tally["miscorrected"] == 0 and tally["silent"] == 0, line
    assert tally["corrected"] == len(SINGLES) * words and tally["detected"] == len(DOUBLES) * words, line


def _flip(word, flips):
    for b in flips:
        word ^= 1 << b
    return word


def test_golden_exhaustive():
    tally = Counter()
    for data in WORDS:
        word = ecc_encode(data)
        assert ecc_decode(word)[:2] == (data, 0)
        for flips in SINGLES + DOUBLES:
            got, status, _ = ecc_decode(_flip(word, flips))
            tally[_classify(flips, data, got, status == ECC_CORRECTED, status == ECC_DETECTED)] += 1
    _report("golden ecc_decode", tally, len(WORDS))


@pytest.mark.parametrize("words", [pytest.param(RTL_WORDS, id="10words"),
                                   pytest.param(WORDS, id="74words", marks=pytest.mark.slow)])
def test_rtl_decoder_exhaustive(words):
    """72 RTL decoders side by side: decoder ``i`` always has bit ``i`` flipped; step ``b``
    also flips bit ``b`` (``b == i`` restores the clean word). One step per ``b``."""
    m = Module()
    decs = [EccDecoder() for _ in range(WORD_BITS)]
    for i, dec in enumerate(decs):
        m.submodules[f"dec{i}"] = dec
    tally = Counter()

    async def bench(ctx):
        for data in words:
            word = ecc_encode(data)
            for b in [None] + list(range(WORD_BITS)):
                for i, dec in enumerate(decs):
                    ctx.set(dec.word, _flip(word, (i,) if b is None else (i, b)))
                for i, dec in enumerate(decs):
                    got, corr, det = ctx.get(dec.data), ctx.get(dec.corrected), ctx.get(dec.detected)
                    if b == i:
                        assert (got, corr, det) == (data, 0, 0), f"clean word of {data:#x} flagged"
                        continue
                    flips = (i,) if b is None else tuple(sorted((i, b)))
                    if len(flips) == 2 and i < b:
                        continue        # each unordered pair once (i > b)
                    tally[_classify(flips, data, got, corr, det)] += 1

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    _report("RTL EccDecoder (Amaranth sim)", tally, len(words))


def test_mem_slice_read_path_exhaustive():
    """Write each word with one fault pattern per address through the ``fault`` backdoor
    (as tests/test_mem.py does), read every address back, check data, poison and counters."""
    cfg = preset("tiny")
    assert cfg.lanes == 8      # one ECC column per vector
    dut = MemSlice(cfg)
    depth = cfg.mem_depth
    jobs = [(data, flips) for data in MEM_WORDS for flips in SINGLES + DOUBLES]
    tally = Counter()

    def vector(value):
        return np.frombuffer(int(value).to_bytes(8, "little"), dtype=np.uint8)

    async def bench(ctx):
        for start in range(0, len(jobs), depth):
            batch = jobs[start:start + depth]
            c0, d0 = ctx.get(dut.corrected), ctx.get(dut.detected)
            ctx.set(dut.rd.valid, 0)
            for addr, (data, flips) in enumerate(batch):
                ctx.set(dut.wr.valid, 1)
                ctx.set(dut.wr.payload, wr_value({"addr": addr, "data": vector(data)}, cfg.lanes))
                ctx.set(dut.fault, _flip(0, flips))
                await ctx.tick()
            ctx.set(dut.wr.valid, 0)
            ctx.set(dut.fault, 0)
            outs = []
            for addr in range(len(batch) + 2):
                ctx.set(dut.rd.valid, addr < len(batch))
                if addr < len(batch):
                    ctx.set(dut.rd.payload, rd_value({"addr": addr}, cfg.lanes))
                if ctx.get(dut.out.valid):
                    got = sum(ctx.get(dut.out.payload.data[i]) << (8 * i) for i in range(cfg.lanes))
                    outs.append((got, ctx.get(dut.out.payload.poison)))
                await ctx.tick()
            assert len(outs) == len(batch)
            for (data, flips), (got, poison) in zip(batch, outs):
                # the slice flags a correction only through its counter; a single flip
                # that returns the data unpoisoned is a correction, a poisoned zero a detection
                cls = _classify(flips, data, got, corrected=(not poison and got == data and len(flips) == 1),
                                detected=bool(poison))
                if not poison and got != data:
                    cls = "silent" if len(flips) == 2 else "miscorrected"
                tally[cls] += 1
            singles = sum(len(f) == 1 for _, f in batch)
            assert ctx.get(dut.corrected) - c0 == singles, "corrected counter"
            assert ctx.get(dut.detected) - d0 == len(batch) - singles, "detected counter"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    _report("MemSlice write/read path (Amaranth sim)", tally, len(MEM_WORDS))
