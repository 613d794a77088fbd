"""Stimulus for the MXM plane, shared by the Amaranth-simulator tests and the
cocotb testbench: every scenario is a list of :class:`~openlpu.golden.mxm.Cycle`
inputs. The expected output of every cycle comes from the golden model.

Scenarios
---------
``gemm_int8`` / ``gemm_fp16``
    Random GEMMs with K and N spanning several tiles (double-buffered swaps).
``swaps``
    Weight tile swapped every ``lanes`` cycles with a continuous activation
    stream, int8 and fp16 passes interleaved: the result port must be valid
    every cycle after fill.
``corners_int8``
    All -128, all 127, mixed extremes, accumulation over several passes,
    high bytes ignored; tiles and activations of 0, 0xffff, 0 (every operand
    bit toggles both ways).
``corners_fp16``
    NaN, +-Inf, Inf x 0, subnormals, signed zeros, exact cancellation,
    max-normal products, RNE ties in the sums, rounding that carries into the
    next binade (tree and accumulator).
``acc_reuse``
    Accumulation into one row closer than
    :data:`~openlpu.timing.MXM_ACC_REUSE_DISTANCE` (fp16 ACCs read a stale
    row, exactly as the golden model says), at it and past it, back to back,
    and with int8 and fp16 mixed in one row in both orders. Every row is
    started first, so a stale read finds a value of this scenario.
``wrap_int8``
    Accumulates -128 x -128 products until int32 wraps (a long run with
    constant inputs; see :func:`wrap_plan`).
``load_rows``
    Weight loads of every row count: each group of ``mxm_load_rows`` rows
    written whole, one row at a time from its last row down (a load of ``c``
    rows rewrites the group's first ``c``), partially over a group written
    before (the rows past the count keep their value), the partial last group
    when ``lanes`` is not a multiple of ``mxm_load_rows``, groups in random
    order, and rows loaded in the install cycle; every tile then multiplies
    activations that reach each of its rows.

Every scenario loads a tile ``mxm_load_rows`` rows a cycle (:func:`tile_loads`)
unless it says otherwise.

All other scenarios keep the reuse distance: int8 ACCs follow their row's
previous pass in the next cycle, fp16 ACCs after the distance.
"""

import numpy as np

from .. import timing
from ..golden.mxm import Act, Cycle, Load, gemm_schedule

__all__ = ["SCENARIOS", "scenario", "wrap_plan", "tile_loads", "FP16_SPECIALS"]

#: fp16 bit patterns that every float corner test mixes in.
FP16_SPECIALS = np.array([
    0x0000, 0x8000,          # +0, -0
    0x7C00, 0xFC00,          # +Inf, -Inf
    0x7E00, 0x7C01, 0xFE00,  # NaNs (quiet, signalling, negative)
    0x0001, 0x8001,          # smallest subnormals
    0x03FF, 0x0400,          # largest subnormal, smallest normal
    0x7BFF, 0xFBFF,          # +-65504
    0x3C00, 0xBC00,          # +-1
    0x3C01, 0x3BFF,          # 1 + ulp, 1 - ulp/2
], dtype=np.uint16)


def tile_loads(cfg, rows):
    """The loads of a whole tile ``rows`` (``lanes x lanes`` words), ``mxm_load_rows`` rows each
    from row 0 (the last group shorter when ``lanes`` is not a multiple): one per cycle."""
    step = cfg.mxm_load_rows
    rows = np.asarray(rows, dtype=np.uint16)
    return [Load(r, rows[r:r + step]) for r in range(0, cfg.lanes, step)]


def _gemm(cfg, rng, fp16, shapes):
    cycles = []
    for (M, K, N) in shapes:
        if fp16:
            a = (rng.standard_normal((M, K)) * 4).astype(np.float16)
            w = (rng.standard_normal((K, N)) * 4).astype(np.float16)
        else:
            a = rng.integers(-128, 128, (M, K)).astype(np.int8)
            w = rng.integers(-128, 128, (K, N)).astype(np.int8)
        cycles += gemm_schedule(cfg, a, w, fp16=fp16).cycles
    return cycles


def _tile(cfg, rng, kind):
    lanes = cfg.lanes
    if kind == "int8":
        return rng.integers(0, 256, (lanes, lanes)).astype(np.uint16)
    return _fp16_bits(rng, (lanes, lanes))


def _fp16_bits(rng, shape, special_fraction=0.25):
    bits = (rng.standard_normal(shape) * 8).astype(np.float16).view(np.uint16)
    pick = rng.random(shape) < special_fraction
    return np.where(pick, rng.choice(FP16_SPECIALS, shape), bits).astype(np.uint16)


def _swaps(cfg, rng, tiles=6):
    """Tiles swapped every ``lanes`` cycles; activations never pause."""
    lanes = cfg.lanes
    cycles = [Cycle() for _ in range(lanes * (tiles + 1))]
    for t in range(tiles):
        kind = "fp16" if t % 2 else "int8"
        loads = tile_loads(cfg, _tile(cfg, rng, kind))
        base = t * lanes
        for j, load in enumerate(loads):     # the loads end with the tile's last cycle
            cycles[base + lanes - len(loads) + j].load = load
        # install with the last rows; activations of this tile start there
        cycles[base + lanes - 1].install = True
        # start rows, then accumulate into them: int8 in the next cycle, fp16 after
        # the reuse distance (runs of d starts then d accumulations)
        d = timing.mxm_acc_reuse_distance(kind == "fp16")
        for j in range(lanes):
            at = base + lanes - 1 + j
            words = rng.integers(0, 256, lanes).astype(np.uint16) if kind == "int8" else _fp16_bits(rng, lanes, 0.1)
            blk, i = divmod(j, 2 * d)
            cycles[at].act = Act(words, fp16=kind == "fp16", acc=i >= d,
                                 addr=(blk * d + i % d) % cfg.mxm_acc_depth)
    return cycles


def _directed_tile(cfg, weights, acts, fp16, passes=1):
    """Install one tile, stream ``acts`` (list of words) ``passes`` times, accumulating
    (with idle cycles where an accumulation would come closer to its row's previous
    pass than the accumulator reuse distance)."""
    cycles = [Cycle(load=load) for load in tile_loads(cfg, weights)]
    cycles[-1].install = True
    first = True
    last = {}
    for p in range(passes):
        for i, words in enumerate(acts):
            act = Act(np.asarray(words, dtype=np.uint16), fp16=fp16, acc=p > 0, addr=i % cfg.mxm_acc_depth)
            if first:
                cycles[-1].act = act
                first = False
            else:
                t = len(cycles)
                if act.addr in last:
                    t = max(t, last[act.addr] + timing.mxm_acc_reuse_distance(fp16, act.acc))
                cycles += [Cycle() for _ in range(t - len(cycles))] + [Cycle(act=act)]
            last[act.addr] = len(cycles) - 1
    return cycles


def _corners_int8(cfg, rng):
    lanes = cfg.lanes
    full = lambda v: np.full((lanes, lanes), v & 0xFF, dtype=np.uint16)
    vec = lambda v: np.full(lanes, v & 0xFF, dtype=np.uint16)
    cycles = []
    cycles += _directed_tile(cfg, full(-128), [vec(-128), vec(127), vec(0), vec(-1)], False, passes=3)
    cycles += _directed_tile(cfg, full(127), [vec(127), vec(-128), vec(1)], False, passes=3)
    extremes = rng.choice(np.array([0x80, 0x7F, 0x00, 0xFF, 0x01], dtype=np.uint16), (lanes, lanes))
    acts = [rng.choice(np.array([0x80, 0x7F, 0xFF], dtype=np.uint16), lanes) for _ in range(lanes)]
    cycles += _directed_tile(cfg, extremes, acts, False, passes=2)
    # high bytes of int8 words must be ignored
    junk = rng.integers(0, 2**16, (lanes, lanes)).astype(np.uint16)
    cycles += _directed_tile(cfg, junk, [rng.integers(0, 2**16, lanes).astype(np.uint16) for _ in range(4)], False)
    # every bit of every weight and activation word rises and falls: tiles of 0, 0xffff, 0
    words = lambda v: np.full((lanes, lanes), v, dtype=np.uint16)   # noqa: E731
    for v in (0x0000, 0xFFFF, 0x0000):
        cycles += _directed_tile(cfg, words(v), [words(v)[0]], False)
    return cycles


def _corners_fp16(cfg, rng):
    lanes, k = cfg.lanes, cfg.fp16_k
    cycles = []
    # every special against every special (one activation per special)
    w = np.resize(FP16_SPECIALS, (lanes, lanes)).astype(np.uint16)
    acts = [np.resize(np.roll(FP16_SPECIALS, i), lanes) for i in range(len(FP16_SPECIALS))]
    cycles += _directed_tile(cfg, w, acts, True, passes=2)
    # exact cancellation -> signed zero results; +-0 sums
    w = np.full((lanes, lanes), 0x3C00, dtype=np.uint16)   # 1.0
    cancel = np.zeros(lanes, dtype=np.uint16)
    cancel[:k] = [0x4200 if i % 2 == 0 else 0xC200 for i in range(k)]   # 3, -3, 3, -3...
    negzero = np.full(lanes, 0x8000, dtype=np.uint16)
    cycles += _directed_tile(cfg, w, [cancel, negzero, np.zeros(lanes, np.uint16)], True, passes=2)
    # subnormal products and large products
    tiny = _fp16_bits(rng, (lanes, lanes), 0.0) & 0x83FF
    big = np.full(lanes, 0x7BFF, dtype=np.uint16)
    cycles += _directed_tile(cfg, tiny, [big, tiny[0], tiny[1]], True, passes=2)
    # RNE ties in the sums: 1 + 2**-24 (a tie in fp32) and neighbours
    w = np.full((lanes, lanes), 0x3C00, dtype=np.uint16)
    ties = np.zeros(lanes, dtype=np.uint16)
    ties[:k] = [0x3C00, 0x0001, 0x3C01, 0x0001][:k] + [0] * max(0, k - 4)
    cycles += _directed_tile(cfg, w, [ties, np.roll(ties, 1)], True, passes=3)
    cycles += _rounding_carries(cfg)
    # random bits with many specials
    cycles += _directed_tile(cfg, _fp16_bits(rng, (lanes, lanes), 0.3),
                             [_fp16_bits(rng, lanes, 0.3) for _ in range(2 * lanes)], True, passes=2)
    return cycles


def _rounding_carries(cfg):
    """fp32 sums whose rounding carries into the next binade, in every column's first tree
    level and in its accumulator. Weights 615 * 2**-9 and 2**-9 (rows 0, 1); activations
    (1705 * 2**-5, 31 * 2**-10) sum to (2**25 - 1) * 2**-19: a tie above an odd significand,
    so it rounds up to 64.0; activations (1705 * 2**-6, 15 * 2**-10) sum exactly to
    (2**24 - 1) * 2**-19, which added to a row holding 2**-20 (half its ulp; from activation
    (0, 2**-11)) rounds up to 32.0. The ACC comes ``mxm_acc_reuse_distance`` after the row's write."""
    lanes = cfg.lanes
    f16 = lambda v: int(np.float16(v).view(np.uint16))   # noqa: E731  (all values below are exact)
    w = np.zeros((lanes, lanes), dtype=np.uint16)
    w[0], w[1] = f16(615 * 2**-9), f16(2**-9)

    def act(a0, a1):
        v = np.zeros(lanes, dtype=np.uint16)
        v[0], v[1] = f16(a0), f16(a1)
        return v
    half_ulp, carry, all_ones = act(0, 2**-11), act(1705 * 2**-5, 31 * 2**-10), act(1705 * 2**-6, 15 * 2**-10)
    zero = np.zeros(lanes, dtype=np.uint16)
    cycles = _directed_tile(cfg, w, [half_ulp, carry, zero], True)     # rows 0, 1, 2
    gap = max(0, timing.mxm_acc_reuse_distance(True) - 3)
    cycles += [Cycle() for _ in range(gap)]
    cycles.append(Cycle(act=Act(all_ones, fp16=True, acc=True, addr=0)))
    cycles += [Cycle(act=Act(zero, fp16=True, acc=False, addr=1)) for _ in range(2)]
    return cycles


def _acc_reuse(cfg, rng):
    lanes = cfg.lanes
    dist = timing.MXM_ACC_REUSE_DISTANCE
    w = _fp16_bits(rng, (lanes, lanes), 0.0)
    cycles = [Cycle(load=load) for load in tile_loads(cfg, w)]
    cycles[-1].install = True

    def act(fp16, acc, addr):
        words = _fp16_bits(rng, lanes, 0.0) if fp16 else rng.integers(0, 256, lanes).astype(np.uint16)
        return Cycle(act=Act(words, fp16=fp16, acc=acc, addr=addr % cfg.mxm_acc_depth))

    idle = lambda n: [Cycle() for _ in range(n)]
    # Start every row used below: the accumulators keep their contents across reset and
    # scenarios, so a stale or first read must find a row written here, not what ran before.
    cycles += [act(True, False, r) for r in range(7)] + idle(dist)
    for gap in range(1, dist + 2):          # start, then accumulate gap cycles later
        cycles += [act(True, False, 0)] + idle(gap - 1) + [act(True, True, 0)] + idle(dist)
    cycles += [act(True, False, 1)] + [act(True, True, 1) for _ in range(2 * dist + 1)]   # back to back
    cycles += [act(True, True, 1) for _ in range(3)] + idle(1) + [act(True, True, 1) for _ in range(2)]
    for gap in range(1, dist + 1):          # int8 and fp16 in one row, both orders
        cycles += [act(False, False, 2)] + idle(gap - 1) + [act(True, True, 2)]
        cycles += [act(True, False, 3)] + idle(gap - 1) + [act(False, True, 3)]
        cycles += [act(True, True, 4)] + idle(gap - 1) + [act(False, True, 4)] + [act(True, True, 4)]
    # two rows interleaved, each accumulated every other cycle
    cycles += [act(True, bool(j >= 2), 5 + j % 2) for j in range(4 * dist)]
    return cycles


def _group_loads(cfg, rng, g0):
    """Random loads of the row group starting at ``g0`` (``n`` rows: ``mxm_load_rows``, or fewer
    at the end of the tile), one of: the group whole; whole then a partial load of ``1..n-1``
    rows over it; ``n, n-1, .., 1`` rows (each load rewrites the group's first rows)."""
    n = min(cfg.mxm_load_rows, cfg.lanes - g0)
    how = int(rng.integers(3)) if n > 1 else 0
    counts = [[n], [n, int(rng.integers(1, max(2, n)))], list(range(n, 0, -1))][how]
    return [Load(g0, rng.integers(0, 1 << 16, (c, cfg.lanes)).astype(np.uint16)) for c in counts]


def _load_rows(cfg, rng, tiles=6):
    """Tiles loaded by :func:`_group_loads` in random group order while the previous tile
    computes; the install comes with the last load and the first activation, and the tile's
    ``lanes`` activations (int8 and fp16 tiles alternating) reach every row."""
    lanes, cycles = cfg.lanes, []

    def at(t):
        cycles.extend(Cycle() for _ in range(t + 1 - len(cycles)))
        return cycles[t]
    t_load = 0
    for tile in range(tiles):
        groups = list(range(0, lanes, cfg.mxm_load_rows))
        rng.shuffle(groups)
        loads = [load for g0 in groups for load in _group_loads(cfg, rng, g0)]
        for j, load in enumerate(loads):
            at(t_load + j).load = load
        t_act = t_load + len(loads) - 1
        at(t_act).install = True
        fp16 = bool(tile % 2)
        for j in range(lanes):
            words = _fp16_bits(rng, lanes, 0.1) if fp16 else rng.integers(0, 1 << 16, lanes).astype(np.uint16)
            at(t_act + j).act = Act(words, fp16=fp16, acc=False, addr=j % cfg.mxm_acc_depth)
        t_load = t_act + 1
    return cycles


def wrap_plan(cfg):
    """(weights, activation, passes) that overflow int32 by accumulation.

    Every pass adds ``lanes * 16384`` to each lane; ``passes`` is chosen so the
    sum passes 2**31 and wraps to negative, then runs 4 more passes.
    """
    per_pass = cfg.lanes * 128 * 128
    passes = 2**31 // per_pass + 5
    weights = np.full((cfg.lanes, cfg.lanes), 0x80, dtype=np.uint16)
    act = np.full(cfg.lanes, 0x80, dtype=np.uint16)
    return weights, act, passes


SCENARIOS = {
    "gemm_int8": lambda cfg, rng: _gemm(cfg, rng, False, [(cfg.lanes + 3, 2 * cfg.lanes + 5, cfg.lanes + 1),
                                                           (1, 3 * cfg.lanes, cfg.lanes),
                                                           (2 * cfg.lanes, cfg.lanes, 2 * cfg.lanes)]),
    "gemm_fp16": lambda cfg, rng: _gemm(cfg, rng, True, [(cfg.lanes, 3 * cfg.fp16_k + 1, cfg.lanes + 2),
                                                          (3, cfg.lanes, cfg.lanes)]),
    "swaps": _swaps,
    "corners_int8": _corners_int8,
    "corners_fp16": _corners_fp16,
    "acc_reuse": _acc_reuse,
    "load_rows": _load_rows,
}


def scenario(name, cfg, seed):
    """The input cycles of scenario ``name`` for ``cfg`` and ``seed``."""
    try:
        make = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown MXM scenario {name!r}; choose from {', '.join(SCENARIOS)}") from None
    return make(cfg, np.random.default_rng(seed))
