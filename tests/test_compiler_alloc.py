"""Compiler allocation: tensors and constants placed in SRAM without overlap and in range, on the
sides of the VXM the lowering needs."""

import numpy as np
import pytest

from openlpu import timing
from openlpu.compiler.alloc import Alloc, Sram, slice_sets, vxm_sides
from openlpu.compiler.lower import compile_graph
from openlpu.compiler.models import mlp_classifier, transformer_block
from openlpu.config import preset

TINY, SMALL = preset("tiny"), preset("small")


def _ranges(place):
    return [(s, place.base, place.base + place.vectors) for s in place.slices]


def _assert_disjoint(ranges, cfg):
    by_slice = {}
    for s, a, b in ranges:
        assert 0 <= a <= b <= cfg.mem_depth, (s, a, b)
        by_slice.setdefault(s, []).append((a, b))
    for s, rs in by_slice.items():
        rs.sort()
        for (a0, b0), (a1, b1) in zip(rs, rs[1:]):
            assert b0 <= a1, f"slice {s}: [{a0}, {b0}) overlaps [{a1}, {b1})"


def test_alloc_places_without_overlap_and_in_range():
    rng = np.random.default_rng(0)
    alloc, got = Alloc(TINY), []
    for _ in range(100):
        s = int(rng.integers(TINY.mem_slices))
        hi = int(rng.integers(TINY.mem_slices)) if rng.random() < 0.3 else None
        hi = None if hi == s else hi
        per_vec = int(rng.choice([0, TINY.fp16_k])) if hi is not None else 0
        rows, cols = int(rng.integers(1, 6)), int(rng.integers(1, 30))
        before = list(alloc.next)
        try:
            p = alloc.take(s, rows, cols, hi, per_vec)
        except MemoryError:
            assert alloc.next == before                   # a refused tensor takes nothing
            continue
        assert p.ct == -(-cols // (per_vec or TINY.lanes)) and p.vectors == rows * p.ct
        assert p.slices == ([s] if hi is None else [s, hi])
        got.append(p)
    _assert_disjoint([r for p in got for r in _ranges(p)], TINY)
    assert max(alloc.next) <= TINY.mem_depth


def test_alloc_refuses_what_does_not_fit():
    alloc = Alloc(TINY)
    alloc.take(0, TINY.mem_depth - 2, 1)
    with pytest.raises(MemoryError, match=f"slice 0: 3 vectors do not fit \\(2 of {TINY.mem_depth} left\\)"):
        alloc.take(0, 3, 1)
    assert alloc.take(0, 2, 1).base == TINY.mem_depth - 2


@pytest.mark.parametrize("cfg", [TINY, SMALL, preset("tsp")], ids=["tiny", "small", "tsp"])
def test_slice_sets_one_side_each_and_apart_from_weights(cfg):
    sets, w_slices, copies = slice_sets(cfg, cfg.mxm_planes)
    pos = timing.floorplan(cfg)
    west, east = vxm_sides(cfg)
    assert sorted(west + east) == list(range(cfg.mem_slices))
    assert all(pos[f"mem{s}"] < pos["vxm"] for s in west) and all(pos[f"mem{s}"] > pos["vxm"] for s in east)
    assert all(len(st) == copies for st in sets) and 1 <= copies <= cfg.mxm_planes
    if copies > 1:
        assert set(sets[0]) <= set(west) and set(sets[1]) <= set(east)
        assert not set(w_slices) & (set(sets[0]) | set(sets[1]))


def test_fp16_pairs_sit_on_their_side_and_share_addresses():
    sram = Sram(SMALL)
    for side in (0, 1):
        for k in (0, 1):
            lo, hi = sram.pair(side, k)
            assert lo != hi and {lo, hi} <= set(sram.sides[side]) and sram.side_of(lo) == side
    sram.alloc.take(sram.pair(0, 0)[1], 3, 1)            # the high plane's slice is fuller
    sram.place_input("x", 5, 10, fp16=True)
    (p,) = sram.places["x"]
    assert p.slices == list(sram.pair(0, 0)) and p.base == 3 and p.ct == -(-10 // SMALL.fp16_k)


def _model_cases():
    return [("mlp", mlp_classifier(seed=0).graph, SMALL, 64),
            ("mlp_fp16", mlp_classifier(seed=0, fp16=True).graph, SMALL, 64),
            ("mlp_per_channel", mlp_classifier(seed=0, per_channel=True).graph, SMALL, 64),
            ("block_tiny", transformer_block(seed=0, d=8, seq=8).graph, TINY, 8)]


@pytest.mark.parametrize("name,graph,cfg,rows", _model_cases(), ids=[c[0] for c in _model_cases()])
def test_compiled_tensors_and_constants_do_not_overlap(name, graph, cfg, rows):
    c = compile_graph(graph, cfg, rows)
    tensors = [r for places in c.places.values() for p in places for r in _ranges(p)]
    _assert_disjoint(tensors, cfg)
    for (s, a), vec in c.weights.items():
        assert 0 <= a < cfg.mem_depth and len(vec) == cfg.lanes and vec.dtype == np.uint8
        assert not any(s == s2 and a0 <= a < a1 for s2, a0, a1 in tensors), (name, s, a)
    assert c.report["sram_vectors"] >= len(c.weights) + sum(b - a for _, a, b in tensors)
