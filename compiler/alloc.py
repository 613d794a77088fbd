"""SRAM allocation: where every tensor and every constant vector of a program lives.

* Tensors live in SRAM as rows cut into vectors: element ``[r, c]`` is lane ``c % n`` of
  vector ``base + r * ct + c // n`` of the tensor's slice, ``n`` elements to a vector
  (``lanes``, or ``fp16_k`` for an fp16 tensor in the K-tile layout), ``ct = ceil(cols / n)``,
  padding zero. An fp16 tensor's high byte plane sits at the same addresses of a second slice.
* Each tensor gets a contiguous range of one slice (:class:`Alloc`, first fit from the bottom;
  nothing is ever freed).
* int8 activations alternate between two sets of slices, one on each side of the VXM, one copy
  per MXM plane in each (:func:`slice_sets`); constant weight tiles go to the other slices,
  each tile's rows striped over ``mxm_load_rows`` of them (:class:`Stripes`), so that an LW
  loads that many rows at once.
* fp16 tensors take slice pairs (low, high byte plane) on one side of the VXM
  (:meth:`Sram.pair`).

:class:`Sram` is the program's SRAM: the allocator, the tensors' places, and the constants
(weight tiles, per-channel factors, the constant activation vectors of bias passes, zero
vectors), whose bytes the emitted SRAM image holds.
"""

from dataclasses import dataclass

import numpy as np

from openlpu import timing

from .rowops import channel_bits
from .tiling import fp16_weight_bits, int8_weight_tile

__all__ = ["TensorPlace", "Stripes", "SramFull", "Alloc", "Sram", "slice_sets", "vxm_sides"]


@dataclass
class TensorPlace:
    """Where a tensor lives: ``slice``, first vector ``base``, ``rows`` x ``ct`` vectors.

    An fp16 tensor has its high byte plane at the same addresses of slice ``hi``; ``per_vec``
    elements sit in lanes ``0 .. per_vec - 1`` of each vector (0: ``lanes``, the full vector)."""
    slice: int
    base: int
    rows: int
    cols: int
    ct: int
    hi: int = None
    per_vec: int = 0

    def addr(self, r, ct):
        return self.base + r * self.ct + ct

    @property
    def vectors(self):
        return self.rows * self.ct

    @property
    def slices(self):
        """The slices of the byte planes, low first."""
        return [self.slice] if self.hi is None else [self.slice, self.hi]


class SramFull(MemoryError):
    """A tensor does not fit the SRAM left in its slice (what :func:`~openlpu.compiler.lower.compile_graph`
    answers by running the batch in chunks of rows)."""


@dataclass
class Stripes:
    """Weight tiles striped over slices: row ``r`` of tile ``i`` is vector ``i * per + r // S``
    of ``places[r % S]`` (``S`` places, each in its own slice or, fp16, slice pair; ``per``
    rows of a tile in each)."""
    places: list
    per: int

    def row(self, tile, r):
        """``[(slice, addr)]`` of the byte planes of row ``r`` of tile ``tile``, low first."""
        place = self.places[r % len(self.places)]
        return [(s, place.base + tile * self.per + r // len(self.places)) for s in place.slices]


class Alloc:
    """SRAM allocation: each tensor gets a contiguous range in one slice (in both slices of a
    pair, at the same addresses), above everything allocated there before."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.next = [0] * cfg.mem_slices

    def take(self, slice_, rows, cols, hi=None, per_vec=0):
        """``rows`` x ``cols`` elements, ``per_vec`` to a vector (0: ``lanes``); an fp16 tensor's
        high byte plane at the same addresses of slice ``hi``. ``MemoryError`` when they do not fit."""
        ct = -(-cols // (per_vec or self.cfg.lanes))
        slices = [slice_] if hi is None else [slice_, hi]
        base = max(self.next[s] for s in slices)
        if base + rows * ct > self.cfg.mem_depth:
            raise SramFull(f"slice {slice_}: {rows * ct} vectors do not fit "
                              f"({self.cfg.mem_depth - base} of {self.cfg.mem_depth} left)")
        for s in slices:
            self.next[s] = base + rows * ct
        return TensorPlace(slice_, base, rows, cols, ct, hi, per_vec)


def vxm_sides(cfg):
    """``[west, east]``: the slices west and east of the VXM on the floorplan, in slice order."""
    pos = timing.floorplan(cfg)
    return [[s for s in range(cfg.mem_slices) if (pos[f"mem{s}"] < pos["vxm"]) == west]
            for west in (True, False)]


def slice_sets(cfg, copies):
    """Activation slices (two sets of ``copies`` slices, alternating per layer; each set on one
    side of the VXM, so that one VXM output flows past all its copies) and weight slices;
    ``(sets, weight slices, copies)``, with ``copies`` 1 where the sides are too small."""
    pos = timing.floorplan(cfg)
    west = [s for s in range(cfg.mem_slices) if pos[f"mem{s}"] < pos["vxm"]]
    east = [s for s in range(cfg.mem_slices) if pos[f"mem{s}"] > pos["vxm"]]
    if copies > 1 and len(west) > copies and len(east) > copies:
        sets = [west[:copies], east[-copies:]]
    else:
        copies = 1
        sets = [[0], [cfg.mem_slices - 1]] if cfg.mem_slices > 2 else [[0], [0]]
    used = {s for st in sets for s in st}
    return sets, [s for s in range(cfg.mem_slices) if s not in used] or [1 % cfg.mem_slices], copies


class Sram:
    """The program's SRAM: tensors (``places``: name -> [TensorPlace], its copies) and constants
    (``weights``: (slice, addr) -> ``lanes`` bytes)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.alloc = Alloc(cfg)
        self.act_sets, self.w_slices, self.copies = slice_sets(cfg, cfg.mxm_planes)
        self.sides = vxm_sides(cfg)
        self.places, self.weights = {}, {}
        self.wplaces = {}                    # step -> where its constant weight tiles are
        self.factor_places = {}              # step -> its per-channel factors (rescale)
        self.stages = {}                     # chunked tensor -> its full-width copy (the SXM's source)
        self.ones16 = {}                     # slice pair -> the fp16 activation [1.0, 0, ...] of bias passes
        self.ones_in = {}                    # slice -> the constant activation [127, 0, ...] of bias passes
        self.zeros_in = {}                   # slice -> an all-zero vector (padding rows of tiles)

    # --- tensors ---------------------------------------------------------------------------
    def place_input(self, name, rows, cols, fp16):
        """The graph's input: one copy per activation slice of the first set (output tile ``nt``
        runs on plane ``nt % planes``, which reads copy ``plane % copies``); fp16: the K-tile
        layout in the first west pair."""
        if fp16:
            if min(len(sd) for sd in self.sides) < 2:
                raise NotImplementedError("the fp16 path needs two SRAM slices on each side of the VXM")
            lo, hi = self.pair(0, 0)
            self.places[name] = [self.alloc.take(lo, rows, cols, hi, self.cfg.fp16_k)]
        else:
            self.places[name] = [self.alloc.take(s, rows, cols) for s in self.act_sets[0]]

    def activations(self, li, out, rows, cols):
        """Step ``li``'s int8 result ``out``: a copy in every slice of the set step ``li``
        writes (allocated on first use)."""
        if out not in self.places:
            self.places[out] = [self.alloc.take(s, rows, cols) for s in self.act_sets[(li + 1) % 2]]
        return self.places[out]

    def activations16(self, out, side, rows, cols, chunked):
        """An fp16 result on ``side``: its place and, for a ``chunked`` one (the K-tile layout),
        its full-width staging copy in the side's second pair (else ``None``)."""
        if out not in self.places:
            olo, ohi = self.pair(side, 0)
            self.places[out] = [self.alloc.take(olo, rows, cols, ohi, self.cfg.fp16_k if chunked else 0)]
            if chunked:
                slo, shi = self.pair(side, 1)
                self.stages[out] = self.alloc.take(slo, rows, cols, shi)
        return self.places[out][0], self.stages.get(out)

    def pair(self, side, k):
        """The ``k``-th pair of slices (low, high byte plane) on ``side`` (0 west of the VXM, 1
        east) for fp16 tensors; the first pair when the side has only one."""
        sd = self.sides[side]
        k = k if len(sd) >= 2 * (k + 1) else 0
        return sd[2 * k], sd[2 * k + 1]

    def side_of(self, slice_):
        return 0 if slice_ in self.sides[0] else 1

    # --- constants -------------------------------------------------------------------------
    def zero_vector(self, slice_):
        """The address of an all-zero vector in ``slice_``."""
        if slice_ not in self.zeros_in:
            self.zeros_in[slice_] = self.alloc.take(slice_, 1, 1)
            self.weights[(slice_, self.zeros_in[slice_].base)] = np.zeros(self.cfg.lanes, np.uint8)
        return self.zeros_in[slice_].base

    def ones_at(self, slice_):
        """The place of the int8 activation ``[127, 0, ...]`` of bias passes in ``slice_``."""
        if slice_ not in self.ones_in:
            self.ones_in[slice_] = self.alloc.take(slice_, 1, 1)
            self.weights[(slice_, self.ones_in[slice_].base)] = np.eye(1, self.cfg.lanes, dtype=np.uint8)[0] * 127
        return self.ones_in[slice_]

    def ones16_at(self, xp):
        """The address of the fp16 vector ``[1.0, 0, ...]`` in ``xp``'s slice pair (bias passes)."""
        key = tuple(xp.slices)
        if key not in self.ones16:
            a = self.ones16[key] = self.alloc.take(key[0], 1, 1, key[1]).base
            self.weights[(key[0], a)] = np.zeros(self.cfg.lanes, np.uint8)
            self.weights[(key[1], a)] = np.eye(1, self.cfg.lanes, dtype=np.uint8)[0] * 0x3C
        return self.ones16[key]

    def int8_weights(self, li, w, bias, ktiles, NT):
        """Step ``li``'s constant weight tiles (``ktiles`` input tiles, :func:`.tiling.input_tiles`,
        then the bias tile; ``NT`` output tiles), ``lanes`` rows each, striped over up to
        ``mxm_load_rows`` weight slices (:class:`Stripes`) so that an LW's rows come from
        different slices; the :class:`Stripes`."""
        L, R = self.cfg.lanes, self.cfg.mxm_load_rows
        slices = list(dict.fromkeys(self.w_slices[(li * R + j) % len(self.w_slices)] for j in range(R)))
        KT_all = len(ktiles) + (bias is not None)
        per = -(-L // len(slices))
        if li not in self.wplaces:
            self.wplaces[li] = Stripes([self.alloc.take(s, KT_all * NT * per, L) for s in slices], per)
        stripes = self.wplaces[li]
        for kt in range(KT_all):
            for nt in range(NT):
                tile = int8_weight_tile(w, bias, ktiles, kt, nt, L)
                for r in range(L):
                    self.weights[stripes.row(kt * NT + nt, r)[0]] = tile[r].view(np.uint8).copy()
        return stripes

    def fp16_weights(self, li, w, bias, KT, NT, in_side):
        """Step ``li``'s fp16 weight tiles (``KT`` K-tiles, then the bias tile; ``NT`` output tiles),
        ``fp16_k`` rows each, tile ``(kt, nt)`` at vector ``(kt * NT + nt) * fp16_k`` of a slice
        pair: on the input's side (``in_side``), away from the input when it has two pairs, else
        wherever they fit; as :class:`Stripes` of that one pair.

        One pair, so an LW carries one row (:func:`.place_mxm.load_plan`): striping the rows
        over ``mxm_load_rows`` pairs takes the slices of the fp16 outputs and their staging
        copies, and measured at ``small`` (bench_compiler) it made two layer shapes 3 cycles
        slower while it sped the one-row ones up."""
        if li in self.wplaces:
            return self.wplaces[li]
        cfg, L, K = self.cfg, self.cfg.lanes, self.cfg.fp16_k
        KT_all = KT + (bias is not None)
        pairs = [self.pair(in_side, 1), self.pair(1 - in_side, 1), self.pair(1 - in_side, 0)]
        wpair = next((pr for pr in pairs if max(self.alloc.next[s] for s in pr) + KT_all * NT * K
                      <= cfg.mem_depth), pairs[0])
        stripes = self.wplaces[li] = Stripes([self.alloc.take(wpair[0], KT_all * NT * K, L, wpair[1])], K)
        bits = fp16_weight_bits(w, bias, KT, NT, K, L)
        for kt in range(KT_all):
            for nt in range(NT):
                for i in range(K):
                    row = bits[kt * K + i, nt * L:(nt + 1) * L]
                    (lo, a), (hi, _) = stripes.row(kt * NT + nt, i)
                    self.weights[(lo, a)] = (row & 0xFF).astype(np.uint8)
                    self.weights[(hi, a)] = (row >> 8).astype(np.uint8)
        return stripes

    def channel_factors(self, li, channel_scales, NT):
        """Step ``li``'s per-channel factors in SRAM: for output tile ``nt``, ``[(slice, addr)]`` of its
        fp16 low and high byte planes, in two slices on one side of the VXM (so that both planes
        reach it on adjacent streams of one direction)."""
        if li in self.factor_places:
            return self.factor_places[li]
        pair = next((sd[-2:] for sd in self.sides if len(sd) >= 2), None)
        if pair is None:
            raise NotImplementedError("per-channel factors need two SRAM slices on one side of the VXM")
        L = self.cfg.lanes
        bits = np.zeros(NT * L, np.uint16)
        bits[:len(channel_scales)] = channel_bits(channel_scales)
        out = [[] for _ in range(NT)]
        for plane, s in enumerate(pair):
            base = self.alloc.take(s, NT, L).base
            for nt in range(NT):
                vec = ((bits[nt * L:(nt + 1) * L] >> (8 * plane)) & 0xFF).astype(np.uint8)
                self.weights[(s, base + nt)] = vec
                out[nt].append((s, base + nt))
        self.factor_places[li] = out
        return out
