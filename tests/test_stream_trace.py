"""The per-cycle stream comparison itself (no simulator): ``compare_streams`` against traces made
from the golden model's own snapshots, then altered by one byte or one cycle."""

import numpy as np
import pytest

from openlpu import timing
from openlpu.config import preset
from openlpu.verif.lpu_cases import compare_streams, expect, stream_register_names
from openlpu.verif.lpu_directed import directed_cases

TINY, DUO = preset("tiny"), preset("duo")


def _golden(cfg, name="read_write_repeat"):
    """The golden snapshots of one directed program (a copy between slices: stream traffic)."""
    case = dict((c[0], c[1]) for c in directed_cases(cfg))[name]
    return expect(cfg, [case], streams=True)[0]["snapshots"]


def _trace(cfg, snapshots, offsets=None, tail=3):
    """The trace the testbench would report for an RTL that follows ``snapshots`` exactly,
    superlane ``k`` ``offsets[k]`` clock cycles late (default: the chip's wavefront), ``tail``
    extra clock cycles sampled after the golden run's end (holding its last state)."""
    offsets = offsets or [timing.superlane_offset(k) for k in range(cfg.superlanes)]
    lps = cfg.lanes_per_superlane
    states = [np.zeros_like(snapshots[0]), *snapshots]
    n = len(states) + max(offsets) + tail
    names, changes = [], []
    for name, p, k, d, s in stream_register_names(cfg):
        last, ch = None, []
        for c in range(n):
            i = min(max(c - offsets[k], 0), len(states) - 1)
            vec = states[i][d, s, p, k * lps:(k + 1) * lps]
            value = format(int.from_bytes(bytes(vec), "little"), f"0{2 * lps}x")
            if value != last:
                ch.append([c, value])
                last = value
        names.append(name)
        changes.append(ch)
    return {"registers": names, "changes": changes, "cycles": n}


def _set(trace, name, cycle, value):
    """``trace`` with register ``name`` holding ``value`` (hex) from clock cycle ``cycle`` on."""
    i = trace["registers"].index(name)
    ch = [c for c in trace["changes"][i] if c[0] < cycle]
    later = [c for c in trace["changes"][i] if c[0] > cycle]
    trace["changes"][i] = ch + [[cycle, value]] + later
    return trace


def _busiest(snapshots):
    """(cycle t, direction, stream, position) of the first register value that changes after cycle t
    to a non-zero vector: a value the trace must carry in exactly that cycle."""
    states = [np.zeros_like(snapshots[0]), *snapshots]
    for i in range(1, len(states)):
        diff = np.argwhere((states[i] != states[i - 1]).any(axis=-1) & states[i].any(axis=-1))
        if len(diff):
            d, s, p = diff[0]
            return i - 1, int(d), int(s), int(p)
    raise AssertionError("the program writes no stream")


def test_golden_trace_passes():
    """A trace equal to the golden snapshots (each superlane at its offset) passes, on one and two
    superlanes."""
    for cfg in (TINY, DUO):
        snaps = _golden(cfg)
        compare_streams(snaps, _trace(cfg, snaps), cfg, "exact")


def test_single_byte_difference_is_reported_with_cycle_position_stream_and_values():
    """One byte of one register in one clock cycle differs: the message names that cycle, the
    position, superlane, direction and stream, and both values."""
    snaps = _golden(TINY)
    t, d, s, p = _busiest(snaps)
    name = next(n for n, pp, k, dd, ss in stream_register_names(TINY) if (pp, k, dd, ss) == (p, 0, d, s))
    trace = _trace(TINY, snaps)
    good = bytearray(snaps[t][d, s, p])
    bad = bytearray(good)
    bad[3] ^= 0x40
    trace = _set(trace, name, t + 1, bad[::-1].hex())
    trace = _set(trace, name, t + 2, bytes(snaps[t + 1][d, s, p])[::-1].hex())   # only this one cycle
    pos = {v: k for k, v in timing.floorplan(TINY).items()}[p]
    with pytest.raises(AssertionError) as err:
        compare_streams(snaps, trace, TINY, "one byte")
    msg = str(err.value)
    assert msg.startswith(f"one byte: stream registers differ first after cycle {t} ")
    assert f"position {p} ({pos}), superlane 0, {'east' if d == 0 else 'west'} stream {s}," in msg
    assert f"golden {bytes(good).hex()} != RTL {bytes(bad).hex()}" in msg


def test_one_cycle_late_is_reported_as_such():
    """Every register one clock cycle late (early): the first difference is the first value the
    golden run puts on a stream (one cycle before it), and the message says so."""
    snaps = _golden(TINY)
    t, d, s, p = _busiest(snaps)
    with pytest.raises(AssertionError, match=rf"after cycle {t} .*position {p} .*one cycle late"):
        compare_streams(snaps, _trace(TINY, snaps, offsets=[1]), TINY)
    with pytest.raises(AssertionError, match=rf"after cycle {t - 1} .*position {p} .*one cycle early"):
        compare_streams(snaps, _trace(TINY, snaps[1:]), TINY)


def test_superlane_shift_is_part_of_the_comparison():
    """duo: superlane 1 exactly one cycle behind passes; the same trace compared with no shift, or
    a trace whose superlane 1 is in step with superlane 0, fails naming superlane 1."""
    snaps = _golden(DUO)
    trace = _trace(DUO, snaps)
    compare_streams(snaps, trace, DUO)
    with pytest.raises(AssertionError, match=r"superlane 1, .*one cycle late"):
        compare_streams(snaps, trace, DUO, offsets=[0, 0])
    with pytest.raises(AssertionError, match=r"superlane 1, .*one cycle early"):
        compare_streams(snaps, _trace(DUO, snaps, offsets=[0, 0]), DUO)


def test_short_or_incomplete_trace_fails():
    """A trace that stops before the golden run's end (plus the wavefront), or lacks a register,
    fails."""
    snaps = _golden(DUO)
    trace = _trace(DUO, snaps, tail=0)
    trace["cycles"] -= 1
    with pytest.raises(AssertionError, match="superlane 1 needs"):
        compare_streams(snaps, trace, DUO)
    trace = _trace(DUO, snaps)
    del trace["registers"][5], trace["changes"][5]
    with pytest.raises(AssertionError, match="lacks 1 registers"):
        compare_streams(snaps, trace, DUO)
