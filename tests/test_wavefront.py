"""The superlane wavefront: each superlane runs ``superlane_offset(s)`` cycles behind superlane 0.

On the ``duo`` preset (2 superlanes) the chip's RTL runs every directed program and random
programs on both simulators and must equal the golden model in values and cycles, and every
stream register of every stop in every cycle, superlane 1's one cycle behind superlane 0's; the
same observations must disagree with a golden model whose wavefront is one cycle off, and with
the golden registers unshifted, so both comparisons do see the wavefront. The RTL helpers that
build it are checked on their own.
"""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from openlpu import timing
from openlpu.config import preset
from openlpu.golden import lpu as golden_lpu
from openlpu.rtl.wavefront import deskew, reskew, wave
from openlpu.verif.golden_mutants import mutants_disagree
from openlpu.verif.lpu_cases import compare, compare_streams, expect, run_rtl
from openlpu.verif.lpu_directed import directed_cases
from openlpu.verif.regress import CI_SEEDS, seed_cases
from openlpu.verif.runner import SIMULATORS, require_simulator

DUO = preset("duo")


def _cases(live_seed):
    directed = directed_cases(DUO)
    seeds = [*CI_SEEDS[:4], 20_000 + live_seed % 2 ** 30]
    rand, _ = seed_cases(DUO, seeds)
    return ([c[1] for c in directed] + rand, [c[0] for c in directed] + [f"seed {s}" for s in seeds],
            directed)


_RUNS = {}


def _duo_run(sim, live_seed):
    """The golden observations (with stream snapshots) and the RTL's (with the stream trace) of
    :func:`_cases` on ``sim``: run once per simulator, shared by the tests below."""
    if (sim, live_seed) not in _RUNS:
        cases, labels, directed = _cases(live_seed)
        expected = expect(DUO, cases, streams=True)
        got = run_rtl(DUO, sim, cases, "duo", stream_trace=True)
        _RUNS[(sim, live_seed)] = cases, labels, directed, expected, got
    return _RUNS[(sim, live_seed)]


@pytest.mark.parametrize("sim", SIMULATORS)
def test_superlane_chip_matches_golden(sim, live_seed, monkeypatch):
    """duo on the RTL: every directed program, 4 fixed random programs and one from the live
    seed give the golden model's stream registers in every cycle (each superlane at its offset),
    SRAM, status, errors, ECC counters and cycles; with the golden wavefront one cycle longer per
    superlane, or the golden MEM ports' or VOP results' timing off by one
    (``golden_mutants.PORT_MUTANTS``), the same RTL observations no longer match."""
    require_simulator(sim)
    cases, labels, directed, expected, got = _duo_run(sim, live_seed)
    for (name, _, check), obs in zip(directed, expected):
        check(obs)
    compare(expected, got, labels, cfg=DUO)
    mutants_disagree(DUO, cases, labels, got)
    monkeypatch.setattr(golden_lpu.timing, "wavefront_span", lambda cfg: cfg.superlanes)
    with pytest.raises(AssertionError, match="golden"):
        compare(expect(DUO, cases), got, labels)
    with pytest.raises(AssertionError, match="golden"):
        compare(expect(DUO, cases, streams=True), got, labels, cfg=DUO)


@pytest.mark.parametrize("sim", SIMULATORS)
def test_superlane_registers_are_golden_shifted_by_the_wavefront(sim, live_seed):
    """The wavefront observed directly: on duo, superlane 1's stream registers of clock cycle c
    equal lanes 8..15 of the golden registers of cycle c - 1 in every cycle of every program
    that puts data on the streams, and compared unshifted (c, as superlane 0's) they differ, on
    superlane 1, in each such program; superlane 0's match unshifted."""
    require_simulator(sim)
    cases, labels, directed, expected, got = _duo_run(sim, live_seed)
    assert timing.superlane_offset(1) == 1
    shifted = 0
    for label, e, g in zip(labels, expected, got):
        compare_streams(e["snapshots"], g["streams"], DUO, label)          # offsets 0, 1
        if not any(snap[..., DUO.lanes_per_superlane:].any() for snap in e["snapshots"]):
            continue              # superlane 1's registers stay zero: no shift to see
        with pytest.raises(AssertionError, match=r"superlane 1, "):
            compare_streams(e["snapshots"], g["streams"], DUO, label, offsets=[0, 0])
        shifted += 1
    assert shifted >= len(cases) // 2, f"only {shifted} of {len(cases)} programs put data on superlane 1's streams"


def _simulate(build, inputs, cycles):
    """Run ``build(m) -> outputs`` with ``inputs`` driven to the values of each cycle;
    returns each output's value per cycle."""
    m = Module()
    outs = build(m)
    sim = Simulator(m)
    sim.add_clock(1e-6)
    seen = []

    async def bench(ctx):
        for t in range(cycles):
            for sig, values in inputs:
                ctx.set(sig, int(values[t]))
            seen.append([ctx.get(o) for o in outs])
            await ctx.tick()
    sim.add_testbench(bench)
    sim.run()
    return np.array(seen).T


def test_wavefront_delays_superlane_s_by_its_offset():
    """``wave``: superlane ``s`` sees a value ``superlane_offset(s)`` cycles after superlane 0."""
    cfg = preset("mid")
    x = Signal(8)
    xs = list(np.random.default_rng(1).integers(0, 256, 12))
    got = _simulate(lambda m: wave(m, x, cfg, "x"), [(x, xs)], 12)
    for s, row in enumerate(got):
        off = timing.superlane_offset(s)
        assert list(row[off:]) == xs[:12 - off], f"superlane {s}"


def test_wavefront_deskew_and_reskew_line_superlanes_up_and_back():
    """``deskew`` lines up shares read in their superlane's own cycle (superlane ``s`` behind by its
    offset) at the last superlane's time; ``reskew`` hands superlane ``s`` its share that much later."""
    cfg = preset("mid")
    n = cfg.superlanes
    parts = [Signal(8, name=f"p{s}") for s in range(n)]
    rng = np.random.default_rng(2)
    logical = rng.integers(0, 256, (n, 16))               # what superlane s carries in its own frame
    span = timing.wavefront_span(cfg)
    drive = [(p, [0] * timing.superlane_offset(s) + list(logical[s]) + [0] * span) for s, p in enumerate(parts)]

    def build(m):
        lined = deskew(m, cfg, parts, "d")
        return [lined[8 * s:8 * s + 8] for s in range(n)] + reskew(m, cfg, parts[0], "r")
    got = _simulate(build, drive, 16)
    for s in range(n):
        assert list(got[s][span:]) == list(logical[s][:16 - span]), f"deskew superlane {s}"
        off = timing.superlane_offset(s)
        assert list(got[n + s][off:]) == list(logical[0][:16 - off]), f"reskew superlane {s}"


def test_superlane_timing_rule():
    """The rule of ARCHITECTURE "control": superlane ``s`` finishes ``s`` cycles after superlane 0,
    a cross-superlane unit waits for the last one, and a run ends when its stop reaches it."""
    tsp, mid, tiny = preset("tsp"), preset("mid"), preset("tiny")
    assert [timing.superlane_offset(s) for s in range(4)] == [0, 1, 2, 3]
    assert (timing.wavefront_span(tsp), timing.wavefront_span(mid), timing.wavefront_span(tiny)) == (19, 2, 0)
    assert timing.mxm_chip_latency(mid) == timing.mxm_latency(mid) + 2
    assert timing.sxm_chip_latency(tsp) == timing.SXM_LATENCY + 19


@pytest.mark.slow
@pytest.mark.parametrize("sim", SIMULATORS)
def test_superlane_mid_regression(sim, capsys):
    """``mid`` (3 superlanes, 24 lanes): 20 random programs, RTL == golden in values and cycles."""
    from openlpu.verif import regress
    require_simulator(sim)
    assert regress.main(["--preset", "mid", "--sim", sim, "--seeds", "20"]) == 0
    assert "SUMMARY mid" in capsys.readouterr().out
