"""Golden model of the matrix unit: bit-exact values, exact cycle timing.

:class:`MxmPlaneModel` steps one cycle at a time with the same inputs as the
RTL plane and returns what the RTL's ``result`` port shows in that cycle.
:func:`int8_pass` and :func:`fp16_pass` are the arithmetic of one pass,
written in hardware order. :func:`gemm_schedule` turns a GEMM into the
cycle-by-cycle inputs of one plane (double-buffered weight tiles), and
:func:`run_schedule` plays it on the model and reassembles the product.
"""

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .. import timing
from .fp import f16_mul_f32, f32_add

__all__ = [
    "tree_pairs", "int8_pass", "fp16_pass", "MxmPlaneModel",
    "Load", "Act", "Cycle", "acc_reuse_violations", "GemmSchedule", "gemm_schedule", "load_cycles",
    "run_schedule",
]


def tree_pairs(count):
    """The fixed reduction order of the MXM adder trees (shared with the RTL).

    A list of levels; each level lists index tuples into the previous level's
    values: ``(i, j)`` is ``value[i] + value[j]`` (``i`` the left operand),
    ``(i,)`` passes ``value[i]`` through. Adjacent values are paired and an
    odd last value passes through, so for 4 products the order is
    ``(p0 + p1) + (p2 + p3)``.
    """
    levels = []
    while count > 1:
        level = [(i, i + 1) for i in range(0, count - 1, 2)]
        if count % 2:
            level.append((count - 1,))
        levels.append(level)
        count = len(level)
    return levels


def _wrap_int32(x):
    return ((np.asarray(x, dtype=np.int64) + 2**31) % 2**32 - 2**31).astype(np.int64)


def int8_pass(a, w):
    """One int8 pass: ``a`` (K,) and ``w`` (K, N) int8 -> (N,) int32, exact."""
    a = np.asarray(a, dtype=np.int64)
    w = np.asarray(w, dtype=np.int64)
    return _wrap_int32((a[:, None] * w).sum(axis=0))


def fp16_pass(a, w):
    """One fp16 pass: ``a`` (K,) and ``w`` (K, N) fp16 bits -> (N,) fp32 bits.

    Products are exact (:func:`~openlpu.golden.fp.f16_mul_f32`); they are
    summed level by level in :func:`tree_pairs` order, each addition an fp32
    RNE addition. ``a`` may also be (rows, K): one pass per row, (rows, N).
    """
    a = np.asarray(a, dtype=np.uint16)
    w = np.asarray(w, dtype=np.uint16)
    values = [f16_mul_f32(a[..., k, None], w[k]) for k in range(a.shape[-1])]
    for level in tree_pairs(len(values)):
        values = [values[p[0]] if len(p) == 1 else f32_add(values[p[0]], values[p[1]]) for p in level]
    return values[0]


@dataclass(frozen=True)
class Load:
    """Load weight rows ``row .. row + count - 1`` of the shadow tile in one cycle.

    ``words``: ``(count, lanes)`` 16-bit words, row ``row + i`` in ``words[i]`` (a vector
    of ``lanes`` words is one row). :meth:`MxmPlaneModel.step` requires ``row`` a multiple of
    ``cfg.mxm_load_rows``, ``1 <= count <= mxm_load_rows`` and ``row + count <= lanes``.
    """
    row: int
    words: np.ndarray

    @property
    def block(self):
        """The loaded rows as a ``(count, lanes)`` array."""
        return np.atleast_2d(np.asarray(self.words, dtype=np.uint16))

    @property
    def count(self):
        return len(self.block)


@dataclass(frozen=True)
class Act:
    """An activation vector of ``lanes`` 16-bit words and its controls."""
    words: np.ndarray
    fp16: bool = False
    acc: bool = False
    addr: int = 0


@dataclass
class Cycle:
    """Inputs of one plane during one cycle."""
    load: Load | None = None
    install: bool = False
    act: Act | None = None


def acc_reuse_violations(cycles):
    """``[(cycle, row), ...]`` of the activations in ``cycles`` (a list of :class:`Cycle`)
    that accumulate into a row closer than :func:`~openlpu.timing.mxm_acc_reuse_distance`
    allows after the previous activation to that row (they read a stale row)."""
    last, bad = {}, []
    for t, cyc in enumerate(cycles):
        act = cyc.act
        if act is None:
            continue
        if act.addr in last and t - last[act.addr] < timing.mxm_acc_reuse_distance(act.fp16, act.acc):
            bad.append((t, act.addr))
        last[act.addr] = t
    return bad


class MxmPlaneModel:
    """Cycle-exact model of :class:`openlpu.rtl.mxm.MxmPlane`.

    :meth:`step` consumes one cycle's inputs and returns ``(addr, values)``
    (``values``: ``lanes`` raw 32-bit words as ``uint32``) when the plane's
    ``result.valid`` is high in that cycle, else ``None``.

    ``acc`` holds every row with all accumulations applied. An fp16 ACC reads
    its row as the RTL's fp32 accumulate does: with only the writes of the
    activations issued at least :data:`~openlpu.timing.MXM_ACC_REUSE_DISTANCE`
    cycles before it (``acc_seen``); an int8 ACC sees every earlier one.
    """

    def __init__(self, cfg):
        self.cfg = cfg
        self.latency = timing.mxm_latency(cfg)
        self.shadow = np.zeros((cfg.lanes, cfg.lanes), dtype=np.uint16)
        self.active = np.zeros((cfg.lanes, cfg.lanes), dtype=np.uint16)
        self.acc = np.zeros((cfg.mxm_acc_depth, cfg.lanes), dtype=np.uint32)
        self.acc_seen = self.acc.copy()
        self._recent = deque()     # (cycle, row, values) of the writes not yet in acc_seen
        self.cycle = 0
        self._pending = {}

    def step(self, cyc):
        cfg = self.cfg
        out = self._pending.pop(self.cycle, None)
        if cyc.load is not None:
            self._load(cyc.load)
        if cyc.install:
            assert timing.MXM_INSTALL_DELAY == 0
            self.active = self.shadow.copy()
        while self._recent and self._recent[0][0] <= self.cycle - timing.MXM_ACC_REUSE_DISTANCE:
            _, row, values = self._recent.popleft()
            self.acc_seen[row] = values
        if cyc.act is not None:
            act = cyc.act
            if not 0 <= act.addr < cfg.mxm_acc_depth:
                raise ValueError(f"accumulator row {act.addr} out of range 0..{cfg.mxm_acc_depth - 1}")
            words = np.asarray(act.words, dtype=np.uint16)
            if act.fp16:
                k = cfg.fp16_k
                partial = fp16_pass(words[:k], self.active[:k])
                # a row written fewer than MXM_ACC_REUSE_DISTANCE cycles ago reads stale
                total = f32_add(self.acc_seen[act.addr], partial) if act.acc else partial
            else:
                a = (words & 0xFF).astype(np.uint8).view(np.int8)
                w = (self.active & 0xFF).astype(np.uint8).view(np.int8)
                partial = int8_pass(a, w).astype(np.uint32)
                total = (self.acc[act.addr] + partial) if act.acc else partial
            self.acc[act.addr] = np.asarray(total, dtype=np.uint32)
            self._recent.append((self.cycle, act.addr, self.acc[act.addr].copy()))
            self._pending[self.cycle + self.latency] = (act.addr, self.acc[act.addr].copy())
        self.cycle += 1
        return out

    def _load(self, load):
        """Write ``load``'s rows into the shadow tile: the plane's rule, shadow row ``k`` takes
        row slot ``k % R`` of a load whose first row is ``(k // R) * R`` and that carries more
        than ``k % R`` rows (``R = mxm_load_rows``); a load no row can take is an error."""
        cfg, row, count = self.cfg, load.row, load.count
        if row % cfg.mxm_load_rows or not 1 <= count <= cfg.mxm_load_rows or not 0 <= row < row + count <= cfg.lanes:
            raise ValueError(f"weight load of rows {row}..{row + count - 1}: the first row must be a multiple "
                             f"of mxm_load_rows ({cfg.mxm_load_rows}), 1..{cfg.mxm_load_rows} rows, all below "
                             f"lanes ({cfg.lanes})")
        self.shadow[row:row + count] = load.block

    def idle(self, cycles):
        """``cycles`` cycles without inputs in which no result is due: what that many
        :meth:`step` calls with an empty :class:`Cycle` do (the clock runs, and rows written
        long enough ago become visible to fp16 ACCs), without stepping each."""
        if cycles <= 0:
            return
        end = self.cycle + cycles
        assert not any(self.cycle <= c < end for c in self._pending), "a result is due in the idle cycles"
        while self._recent and self._recent[0][0] <= end - 1 - timing.MXM_ACC_REUSE_DISTANCE:
            _, row, values = self._recent.popleft()
            self.acc_seen[row] = values
        self.cycle = end


@dataclass
class GemmSchedule:
    """Cycle-by-cycle inputs of one plane computing ``C = A @ W``.

    ``collect`` maps the cycle index (counted from the first input cycle) at
    which a final result row appears to ``(m, n0)``: row ``m`` of ``C``,
    columns ``n0 .. n0 + lanes - 1``.
    """
    cycles: list
    collect: dict
    shape: tuple
    fp16: bool
    macs: int = 0
    first_act: int = 0
    drain: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def length(self):
        """Cycles from the first input to the last result, inclusive."""
        return len(self.cycles) + self.drain


def _to_words(x, fp16):
    if fp16:
        return np.asarray(x, dtype=np.float16).view(np.uint16)
    return np.asarray(x, dtype=np.int8).view(np.uint8).astype(np.uint16)


def gemm_schedule(cfg, a, w, fp16=False):
    """Plan ``C = A @ W`` on one plane, with weight tiles double-buffered.

    ``A`` is (M, K), ``W`` is (K, N), int8 or fp16 (with ``fp16=True``).
    Tiles: K in steps of ``lanes`` (int8) or ``lanes // 4`` (fp16), N in steps
    of ``lanes``, M in chunks of ``mxm_acc_depth``. A tile's ``kt`` rows load
    ``mxm_load_rows`` a cycle (:func:`load_cycles`); the rows of the next tile
    load while the current tile streams; ``install`` coincides with the first
    activation of the next tile. A tile whose M chunk is shorter than its row
    count waits for its rows, which costs bubbles (and shows in utilization),
    and an fp16 K-tile accumulating into rows fewer than
    :data:`~openlpu.timing.MXM_ACC_REUSE_DISTANCE` cycles after the previous
    tile wrote them waits for that distance.
    """
    a = np.asarray(a)
    w = np.asarray(w)
    (M, K), (K2, N) = a.shape, w.shape
    if K != K2:
        raise ValueError(f"A is {a.shape} but W is {w.shape}: inner dimensions differ")
    lanes = cfg.lanes
    kt = cfg.fp16_k if fp16 else lanes
    aw, ww = _to_words(a, fp16), _to_words(w, fp16)
    tiles = []  # (m0, mlen, k0, n0)
    for m0 in range(0, M, cfg.mxm_acc_depth):
        for n0 in range(0, N, lanes):
            for k0 in range(0, K, kt):
                tiles.append((m0, min(cfg.mxm_acc_depth, M - m0), k0, n0))

    def tile_rows(k0, n0):
        rows = np.zeros((kt, lanes), dtype=np.uint16)
        blk = ww[k0:k0 + kt, n0:n0 + lanes]
        rows[:blk.shape[0], :blk.shape[1]] = blk
        return rows

    cycles = []
    collect = {}

    def at(t):
        while len(cycles) <= t:
            cycles.append(Cycle())
        return cycles[t]

    # Rows of tile 0 load in cycles 0 .. nl-1; the first activation (and its
    # install) shares the cycle of the last rows.
    R, nl = cfg.mxm_load_rows, load_cycles(cfg, kt)
    t_act = nl - 1
    for i, (m0, mlen, k0, n0) in enumerate(tiles):
        rows = tile_rows(k0, n0)
        load_start = t_act - (nl - 1)
        for j in range(nl):
            at(load_start + j).load = Load(j * R, rows[j * R:(j + 1) * R])
        at(t_act).install = True
        last_k = k0 + kt >= K
        for j in range(mlen):
            words = np.zeros(lanes, dtype=np.uint16)
            seg = aw[m0 + j, k0:k0 + kt]
            words[:len(seg)] = seg
            at(t_act + j).act = Act(words, fp16, acc=k0 > 0, addr=j)
            if last_k:
                collect[t_act + j + timing.mxm_latency(cfg)] = (m0 + j, n0)
        # The next tile's rows load during this tile (from its first cycle),
        # so it may start after max(mlen, kt) cycles; when it accumulates into
        # these rows, not before the accumulator reuse distance (fp16).
        gap = max(mlen, nl)
        if i + 1 < len(tiles) and tiles[i + 1][2] > 0:
            gap = max(gap, timing.mxm_acc_reuse_distance(fp16))
        t_act = t_act + gap
    sched = GemmSchedule(cycles=cycles, collect=collect, shape=(M, K, N), fp16=fp16,
                         macs=M * K * N, first_act=nl - 1, drain=timing.mxm_latency(cfg))
    return sched


def load_cycles(cfg, rows):
    """Cycles (LWs) that load ``rows`` weight rows from row 0: ``ceil(rows / mxm_load_rows)``."""
    return -(-rows // cfg.mxm_load_rows)


def run_schedule(cfg, sched, model=None):
    """Play ``sched`` on a :class:`MxmPlaneModel`; return ``(C, outputs)``.

    ``C`` is int32 (M, N) or fp32 bits as ``uint32`` (M, N); ``outputs`` is
    the per-cycle list of what the result port shows (``None`` or
    ``(addr, values)``), ``sched.length`` entries long.
    """
    model = model or MxmPlaneModel(cfg)
    M, _, N = sched.shape
    c = np.zeros((M, N), dtype=np.uint32)
    outputs = []
    for t in range(sched.length):
        cyc = sched.cycles[t] if t < len(sched.cycles) else Cycle()
        out = model.step(cyc)
        outputs.append(out)
        if t in sched.collect:
            m, n0 = sched.collect[t]
            assert out is not None, f"no result in cycle {t}"
            width = min(cfg.lanes, N - n0)
            c[m, n0:n0 + width] = out[1][:width]
    if not sched.fp16:
        c = c.view(np.int32)
    return c, outputs
