"""Compiler tiling: every row, input column and output column is covered exactly once."""

import numpy as np
import pytest

from openlpu.compiler.alloc import TensorPlace
from openlpu.compiler.legalize import Dense, RowOp, Transpose
from openlpu.compiler.tiling import (fp16_weight_bits, halve, input_tiles, int8_weight_tile, out_tiles,
                                     step_rows, tile_order)
from openlpu.config import preset

TINY, SMALL = preset("tiny"), preset("small")


def _place(cols, lanes):
    return TensorPlace(0, 0, 1, cols, -(-cols // lanes))


@pytest.mark.parametrize("cfg", [TINY, SMALL], ids=["tiny", "small"])
@pytest.mark.parametrize("rows,NT,KT_all", [(1, 1, 1), (37, 3, 2), (70, 2, 4)])
def test_tile_order_covers_every_row_tile_pair_once(cfg, rows, NT, KT_all):
    rows_range = range(3, 3 + rows)
    seen = {}
    for chunk, nt, p, kt in tile_order(cfg, rows_range, NT, KT_all):
        assert 0 < len(chunk) <= cfg.mxm_acc_depth and p == nt % cfg.mxm_planes
        for r in chunk:
            seen[(r, nt, kt)] = seen.get((r, nt, kt), 0) + 1
    assert seen == {(r, nt, kt): 1 for r in rows_range for nt in range(NT) for kt in range(KT_all)}


def test_tile_order_runs_all_input_tiles_of_an_output_tile_per_chunk():
    order = [(chunk.start, nt, kt) for chunk, nt, _, kt in tile_order(TINY, range(0, 2 * TINY.mxm_acc_depth), 2, 3)]
    assert order[:6] == [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0), (0, 1, 1), (0, 1, 2)]


@pytest.mark.parametrize("widths", [(8,), (20,), (3, 5), (8, 13, 4)])
def test_input_tiles_cover_every_row_of_w_once(widths):
    L = TINY.lanes
    parts = [[_place(c, L)] for c in widths]
    tiles = input_tiles(parts, L)
    rows = [k for _, _, k0, nk in tiles for k in range(k0, k0 + nk)]
    assert rows == list(range(sum(widths)))
    for part, kl, k0, nk in tiles:
        assert 0 < nk <= L and kl < parts[part][0].ct
        assert k0 == sum(widths[:part]) + kl * L      # a part's vectors start its own tiles


@pytest.mark.parametrize("k,n,bias", [(8, 8, False), (13, 9, True), (20, 30, True), (3, 5, False)])
def test_int8_weight_tiles_reassemble_w_and_bias(k, n, bias):
    L = TINY.lanes
    rng = np.random.default_rng(k * n)
    w = rng.integers(-128, 128, (k, n)).astype(np.int8)
    b = rng.integers(-128, 128, n).astype(np.int8) if bias else None
    tiles = input_tiles([[_place(k, L)]], L)
    NT = out_tiles(n, L)
    got = np.zeros((len(tiles) * L, NT * L), np.int8)
    for kt, (_, _, k0, _) in enumerate(tiles):
        for nt in range(NT):
            got[kt * L:(kt + 1) * L, nt * L:(nt + 1) * L] = int8_weight_tile(w, b, tiles, kt, nt, L)
    np.testing.assert_array_equal(got[:k, :n], w)
    assert not got[k:].any() and not got[:, n:].any()        # padding zero
    if bias:
        bt = np.concatenate([int8_weight_tile(w, b, tiles, len(tiles), nt, L) for nt in range(NT)], axis=1)
        np.testing.assert_array_equal(bt[0, :n], b)
        assert not bt[1:].any() and not bt[0, n:].any()


def test_fp16_weight_bits_hold_w_then_the_bias_row():
    L, K = SMALL.lanes, SMALL.fp16_k
    w = np.random.default_rng(1).normal(0, 1, (10, 21)).astype(np.float16)
    b = np.arange(21).astype(np.float16)
    KT, NT = -(-10 // K), out_tiles(21, L)
    bits = fp16_weight_bits(w, b, KT, NT, K, L)
    assert bits.shape == ((KT + 1) * K, NT * L)
    np.testing.assert_array_equal(bits[:10, :21], w.view(np.uint16))
    np.testing.assert_array_equal(bits[KT * K, :21], b.view(np.uint16))
    bits[:10, :21] = 0
    bits[KT * K, :21] = 0
    assert not bits.any()
    assert fp16_weight_bits(w, None, KT, NT, K, L).shape == (KT * K, NT * L)


def test_rows_a_step_is_cut_into_and_halving():
    places = {"x": [TensorPlace(0, 0, 11, 8, 1)]}
    assert step_rows(Dense(["x"], None, None, 1, 1, False, "y", None), 40, places) == range(40)
    assert step_rows(RowOp("x", None, "y"), 40, places) == range(11)
    assert step_rows(Transpose("x", "y"), 40, places) is None
    chunk, covered = range(5, 16), []
    while chunk:
        first = halve(chunk)
        assert len(first) == (len(chunk) + 1) // 2 and first.start == chunk.start
        covered += list(first)
        chunk = chunk[len(first):]
    assert covered == list(range(5, 16))
