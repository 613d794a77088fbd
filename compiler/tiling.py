"""Tiling: how a step is cut into weight tiles, input tiles and chunks of rows.

For a dense layer ``x (rows x K) @ W (K x N)``:

* ``NT = ceil(N / lanes)`` output tiles (:func:`out_tiles`), each ``lanes`` columns of ``W``;
* input tiles (:func:`input_tiles`): int8, each ``lanes``-wide vector of every part of the
  input (a ``concat``'s parts are cut separately, a part narrower than ``lanes`` padded), with
  the rows of ``W`` it multiplies; fp16, ``ceil(K / fp16_k)`` K-tiles of ``fp16_k`` inputs;
* one more tile for the bias, whose activation is a constant vector and whose weight row 0 is
  the bias (:func:`int8_weight_tile`, :func:`fp16_weight_bits`);
* rows in chunks of ``mxm_acc_depth`` (the accumulator rows), and per chunk every output tile,
  on plane ``nt % mxm_planes``, through every input tile (:func:`tile_order`).

A step longer than one program is cut by rows (:func:`step_rows`), halving the rows a program
takes until they fit (:func:`halve`).
"""

import numpy as np

__all__ = ["out_tiles", "input_tiles", "int8_weight_tile", "fp16_weight_bits", "tile_order",
           "step_rows", "halve"]


def out_tiles(n, lanes):
    """The number of ``lanes``-wide output tiles of ``n`` columns."""
    return -(-n // lanes)


def input_tiles(part_places, lanes):
    """The input tiles of an int8 layer whose input is the parts ``part_places`` (``[[TensorPlace]]``,
    the copies of each part): ``[(part, vector within the part's row, first row of W, rows of W)]``."""
    ktiles, off = [], 0
    for j, pp in enumerate(part_places):
        for kl in range(pp[0].ct):
            ktiles.append((j, kl, off + kl * lanes, min(lanes, pp[0].cols - kl * lanes)))
        off += pp[0].cols
    return ktiles


def int8_weight_tile(w, bias, ktiles, kt, nt, lanes):
    """The ``lanes x lanes`` int8 weight tile ``(kt, nt)``: rows of ``w`` for input tile ``kt``
    (``kt < len(ktiles)``), else the bias in row 0; zero padded."""
    tile = np.zeros((lanes, lanes), np.int8)
    if kt < len(ktiles):
        _, _, k0, nk = ktiles[kt]
        blk = w[k0:k0 + nk, nt * lanes:(nt + 1) * lanes]
        tile[:blk.shape[0], :blk.shape[1]] = blk
    else:
        seg = bias[nt * lanes:(nt + 1) * lanes]
        tile[0, :len(seg)] = seg
    return tile


def fp16_weight_bits(w, bias, KT, NT, K, lanes):
    """The fp16 weights as bits, ``(KT + bias) * K`` rows by ``NT * lanes`` columns: ``w`` zero
    padded, then the bias as row 0 of the last K-tile."""
    kin, N = w.shape
    bits = np.zeros(((KT + (bias is not None)) * K, NT * lanes), np.uint16)
    bits[:kin, :N] = w.view(np.uint16)
    if bias is not None:
        bits[KT * K, :N] = bias.view(np.uint16)
    return bits


def tile_order(cfg, rows_range, NT, KT_all):
    """A dense layer's placement order: ``(rows chunk, output tile, plane, K-tile)``, the rows in
    chunks of ``mxm_acc_depth`` (the accumulator rows)."""
    for r0 in range(rows_range.start, rows_range.stop, cfg.mxm_acc_depth):
        chunk = range(r0, min(rows_range.stop, r0 + cfg.mxm_acc_depth))
        for nt in range(NT):
            for kt in range(KT_all):
                yield chunk, nt, nt % cfg.mxm_planes, kt


def step_rows(step, rows, places):
    """The rows a step can be cut into (``None``: not cut): a row op's input rows, a dense
    layer's ``rows`` (the batch); ``places`` the tensors placed so far."""
    if step.kind == "rowop":
        return range(places[step.x][0].rows)
    return range(rows) if step.kind in ("dense", "dense16") else None


def halve(chunk):
    """The first half of the rows ``chunk`` (rounded up): what a program takes next when the
    whole chunk does not fit."""
    return chunk[:(len(chunk) + 1) // 2]
