"""Lowering a :class:`~openlpu.compiler.graph.Graph` to a statically scheduled program.

Dense layers (``matmul -> requantize [-> relu]``) run on MXM plane 0 and the
VXM:

* Tensors live in SRAM as int8 rows cut into ``lanes``-byte vectors: element
  ``[r, c]`` is byte ``c % lanes`` of vector ``base + r * CT + c // lanes`` of
  the tensor's slice (``CT = ceil(C / lanes)``, padding zero).
* ``W`` (K x N) is stored as ``KT x NT`` tiles of ``lanes`` rows. For each
  output tile ``nt`` and input tile ``kt``: the tile's rows are read and
  loaded (LW) into the plane's shadow weights while the previous tile
  computes, installed (IW), and every activation row streams through (ABC for
  ``kt = 0``, ACC after). Rows are processed in chunks of ``mxm_acc_depth``.
* After the last ``kt`` each row's int32 result goes to the VXM: one VOP
  multiplies, rounds, shifts and applies the lower clamp (0 with ReLU, -128
  without), a second applies the upper clamp 127; byte plane 0 is the int8
  result, written to the output tensor.

fp16 dense layers (``Graph.dense_fp16``) run the MXM's fp16 passes, ``fp16_k =
lanes / 4`` inputs each: their activations are stored ``fp16_k`` values to a
vector (the *K-tile layout*, two slices for the two byte planes), so that
every pass finds its inputs in lanes ``0 .. fp16_k - 1``; a layer feeding
another writes its result in that layout, moving the lanes on the SXM
(:meth:`_Lowering.dense16`, docs/compiler.md).

Every instruction is placed by :class:`~openlpu.compiler.scheduler.Scheduler`
at the earliest cycle where its queue, its streams and its data are ready;
the schedule's length is the predicted cycle count.
"""

import copy
from dataclasses import dataclass, field

import numpy as np

from openlpu import isa, timing
from openlpu.asm import vxm_slot_words

from .graph import Graph
from .rowops import channel_bits, instruction as rowop_instruction, placed_tree, rescale_slots
from .scheduler import Scheduler

__all__ = ["Compiled", "Segment", "TensorPlace", "compile_graph"]


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


@dataclass
class Segment:
    """One program: it runs from start to END, then the next segment is loaded (SRAM is kept)."""
    program: dict                   # queue -> [Instr]
    cycles: int                     # predicted
    intents: dict                   # see Scheduler.intents

    def words(self):
        return {q: [isa.encode(i) for i in ins] for q, ins in self.program.items()}


@dataclass
class Compiled:
    cfg: object
    segments: list                  # [Segment], run in order
    places: dict                    # tensor -> [TensorPlace] (copies; the first is read back)
    weights: dict                   # (slice, addr) -> lanes bytes (constant data)
    outputs: list
    report: dict = field(default_factory=dict)

    @property
    def predicted_cycles(self):
        """Cycles of all segments together (each counted from its start to its last END, plus one)."""
        return sum(sg.cycles for sg in self.segments)

    def _single(self):
        if len(self.segments) != 1:
            raise ValueError(f"the program has {len(self.segments)} segments; use .segments")
        return self.segments[0]

    @property
    def program(self):
        return self._single().program

    @property
    def intents(self):
        return self._single().intents

    def words(self):
        return self._single().words()

    def sram_image(self, inputs):
        """``{(slice, addr): bytes}``: the constants and the given input tensors (int8, or
        float16 for an fp16 input)."""
        image = dict(self.weights)
        for name, value in inputs.items():
            for place in self.places[name]:
                image.update(_tensor_vectors(self.cfg, place, value))
        return image

    def windows(self, name):
        """``[(slice, first vector, vectors)]`` holding the tensor ``name`` (one per byte plane)."""
        p = self.places[name][0]
        return [(s, p.base, p.vectors) for s in p.slices]

    def read_output(self, name, vectors):
        """The tensor ``name`` from the vectors of its :meth:`windows`, in order (``lanes`` bytes
        each); int8, or float16 for an fp16 tensor."""
        p = self.places[name][0]
        n = p.per_vec or self.cfg.lanes
        data = np.stack(vectors).reshape(len(p.slices), p.rows, p.ct, self.cfg.lanes)[..., :n]
        data = data.reshape(len(p.slices), p.rows, p.ct * n)[:, :, :p.cols]
        if p.hi is None:
            return data[0].view(np.int8)
        return (data[0].astype(np.uint16) | data[1].astype(np.uint16) << 8).view(np.float16)


def _tensor_vectors(cfg, place, value):
    L, n = cfg.lanes, place.per_vec or cfg.lanes
    if place.hi is None:
        planes = [np.asarray(value, np.int8).view(np.uint8)]
    else:
        bits = np.asarray(value, np.float16).view(np.uint16)
        planes = [(bits & 0xFF).astype(np.uint8), (bits >> 8).astype(np.uint8)]
    out = {}
    for slice_, plane in zip(place.slices, planes):
        for r in range(place.rows):
            for ct in range(place.ct):
                vec = np.zeros(L, np.uint8)
                seg = plane[r, ct * n:(ct + 1) * n]
                vec[:len(seg)] = seg
                out[(slice_, place.addr(r, ct))] = vec
    return out


class _Alloc:
    """SRAM allocation: each tensor gets a contiguous range in one slice."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.next = [0] * cfg.mem_slices

    def take(self, slice_, rows, cols, hi=None, per_vec=0):
        """``rows`` x ``cols`` elements, ``per_vec`` to a vector (0: ``lanes``); an fp16 tensor's
        high byte plane at the same addresses of slice ``hi``."""
        ct = -(-cols // (per_vec or self.cfg.lanes))
        slices = [slice_] if hi is None else [slice_, hi]
        base = max(self.next[s] for s in slices)
        if base + rows * ct > self.cfg.mem_depth:
            raise MemoryError(f"slice {slice_}: {rows * ct} vectors do not fit "
                              f"({self.cfg.mem_depth - base} of {self.cfg.mem_depth} left)")
        for s in slices:
            self.next[s] = base + rows * ct
        return TensorPlace(slice_, base, rows, cols, ct, hi, per_vec)


def _steps(graph):
    """The graph as lowering steps: ``("dense", [x parts], W, bias, M, S, relu, out)`` for
    ``matmul [-> bias] -> requantize [-> relu]`` (``W`` a constant array or a tensor name; the
    input a tensor or a ``concat`` of tensors), ``("transpose", x, out)`` and ``("rowop", x,
    recipe, out)`` for softmax, layer norm and GELU; a clear error for anything else."""
    steps, nodes, i = [], graph.nodes, 0
    concats = {nd.output: list(nd.inputs) for nd in nodes if nd.op == "concat"}
    for j, nd in enumerate(nodes):
        for k, t in enumerate(nd.inputs):
            if t in concats and not (nd.op == "matmul" and k == 0):
                raise NotImplementedError(f"node {j} ({nd.op}): a concat is lowered only as a matmul's input")
    for t in graph.outputs:
        if t in concats:
            raise NotImplementedError(f"output {t}: a concat is lowered only as a matmul's input")

    def follows(j, op, src):
        return j < len(nodes) and nodes[j].op == op and nodes[j].inputs[0] == src

    while i < len(nodes):
        nd = nodes[i]
        if nd.op == "concat":
            i += 1
            continue
        if nd.op == "transpose":
            steps.append(("transpose", nd.inputs[0], nd.output))
            i += 1
            continue
        if nd.op in ("softmax", "layer_norm", "gelu"):
            steps.append(("rowop", nd.inputs[0], nd.attrs["recipe"], nd.output))
            i += 1
            continue
        if nd.op != "matmul":
            raise NotImplementedError(f"node {i} ({nd.op}): only matmul [-> bias] -> requantize [-> relu] "
                                      "chains, their fp16 form matmul [-> bias] -> to_fp16 [-> relu], "
                                      "transposes, softmax, layer norm and GELU are lowered")
        j, cur, bias = i + 1, nd.output, None
        if graph.dtype(cur) == "fp32":
            if follows(j, "bias", cur):
                bias, cur, j = graph.consts[nodes[j].inputs[1]], nodes[j].output, j + 1
            if not follows(j, "to_fp16", cur):
                raise NotImplementedError(f"node {i}: an fp16 matmul must be followed by to_fp16 to be lowered")
            cur, j = nodes[j].output, j + 1
            relu = follows(j, "relu", cur)
            if relu:
                cur, j = nodes[j].output, j + 1
            steps.append(("dense16", nd.inputs[0], graph.consts[nd.inputs[1]], bias, relu, cur))
            i = j
            continue
        if follows(j, "bias", cur):
            bias, cur, j = graph.consts[nodes[j].inputs[1]], nodes[j].output, j + 1
        if not (follows(j, "requantize", cur) or follows(j, "rescale", cur)):
            raise NotImplementedError(f"node {i}: a matmul must be followed by requantize or rescale to be lowered")
        rq = nodes[j]
        cur, j = rq.output, j + 1
        pc = (rq.attrs["scale"], rq.attrs["channel_scales"], rq.attrs["relu"]) if rq.op == "rescale" else None
        relu = follows(j, "relu", cur) and pc is None
        if relu:
            cur, j = nodes[j].output, j + 1
        w = graph.consts.get(nd.inputs[1], nd.inputs[1])
        if isinstance(w, str) and bias is not None:
            raise NotImplementedError(f"node {i}: a bias on a product of two computed tensors")
        parts = concats.get(nd.inputs[0], [nd.inputs[0]])
        if isinstance(w, str) and len(parts) > 1:
            raise NotImplementedError(f"node {i}: a concat times a computed tensor")
        steps.append(("dense", parts, w, bias, rq.attrs.get("multiplier"), rq.attrs.get("shift"), relu, cur, pc))
        i = j
    return steps


def _slice_sets(cfg, copies):
    """Activation slices (two sets of ``copies`` slices, alternating per layer; each set on one
    side of the VXM, so that one VXM output flows past all its copies) and weight slices."""
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


def compile_graph(graph: Graph, cfg, rows):
    """Compile ``graph`` for ``cfg`` with ``rows`` input rows (the batch).

    The steps are placed into one program until a queue would need more than ``imem_depth``
    instructions; the program then ends and the next step starts the next *segment*, run after
    it with the SRAM kept (:func:`openlpu.compiler.runtime.run` runs them in order)."""
    steps = _steps(graph)
    low = _Lowering(graph, cfg, rows, {st[1] for st in steps if st[0] == "dense16"})
    segments = []
    seg_start, placed = copy.deepcopy(low), []      # the segment's starting state and its steps so far
    for li, step in enumerate(steps):
        todo = low.step_rows(step)
        while True:
            chunk = todo
            while True:
                low.step(li, step, chunk)
                if low.fits():
                    break
                # undo: back to the segment's start, replay what it already holds
                low = copy.deepcopy(seg_start)
                for args in placed:
                    low.step(*args)
                if placed:                          # end the segment; the step starts the next one
                    segments.append(low.segment())
                    low.new_segment()
                    seg_start, placed = copy.deepcopy(low), []
                    continue
                if chunk is None or len(chunk) == 1:
                    raise MemoryError(f"step {li} ({_step_name(step)}) alone needs more than imem_depth="
                                      f"{cfg.imem_depth} instructions in a queue (a configuration with "
                                      "deeper queues)")
                chunk = chunk[:(len(chunk) + 1) // 2]   # fewer rows of the step per program
            placed.append((li, step, chunk))
            if chunk is None or len(chunk) == len(todo):
                break
            todo = todo[len(chunk):]
    segments.append(low.segment())
    L, cycles = cfg.lanes, sum(sg.cycles for sg in segments)
    peak = cfg.fp16_k if low.fp16 else L       # products per lane column per pass
    report = {"predicted_cycles": cycles, "macs": low.macs,
              "mxm_utilization": low.macs / (L * peak * cfg.mxm_planes * cycles),
              "mxm_peak": "fp16" if low.fp16 else "int8",
              "sram_vectors": sum(low.alloc.next), "sram_bytes": sum(low.alloc.next) * L,
              "instructions": sum(len(v) for sg in segments for v in sg.program.values()),
              "segments": len(segments), "segment_cycles": [sg.cycles for sg in segments],
              "planes_used": min(cfg.mxm_planes, max([-(-n // L) for n in low.layer_shapes] or [1])),
              "activation_copies": low.copies}
    return Compiled(cfg, segments, low.places, low.weights, list(graph.outputs), report)


def _step_name(step):
    return step[2].name if step[0] == "rowop" else step[0]


class _Lowering:
    """The state of a compilation: SRAM (allocation, tensors, constants) for the whole program
    and the current segment's scheduler and timing books."""

    def __init__(self, graph, cfg, rows, chunked=()):
        self.cfg, self.rows = cfg, rows
        self.alloc = _Alloc(cfg)
        self.act_sets, self.w_slices, self.copies = _slice_sets(cfg, cfg.mxm_planes)
        self.places, self.weights = {}, {}
        self.wplaces = {}                    # step -> where its constant weight tiles are
        self.factor_places = {}              # step -> its per-channel factors (rescale)
        (name, shape), = graph.inputs.items()
        self.fp16 = graph.dtype(name) == "fp16"
        self.chunked = set(chunked)          # fp16 tensors an fp16 matmul reads: fp16_k values a vector
        self.stages = {}                     # chunked tensor -> its full-width copy (the SXM's source)
        self.ones16 = {}                     # slice pair -> the fp16 activation [1.0, 0, ...] of bias passes
        pos = timing.floorplan(cfg)
        self.sides = [[s for s in range(cfg.mem_slices) if (pos[f"mem{s}"] < pos["vxm"]) == west]
                      for west in (True, False)]
        if self.fp16:
            if min(len(sd) for sd in self.sides) < 2:
                raise NotImplementedError("the fp16 path needs two SRAM slices on each side of the VXM")
            lo, hi = self.pair(0, 0)
            self.places[name] = [self.alloc.take(lo, rows, shape[1], hi, cfg.fp16_k)]
        else:
            # output tile nt runs on plane nt % planes, which reads copy (plane % copies) of its input
            self.places[name] = [self.alloc.take(s, rows, shape[1]) for s in self.act_sets[0]]
        self.macs = 0
        self.ones_in = {}                    # slice -> the constant activation [127, 0, ...] of bias passes
        self.zeros_in = {}                   # slice -> an all-zero vector (padding rows of tiles)
        self.layer_shapes = []
        self.new_segment()

    def new_segment(self):
        planes = self.cfg.mxm_planes
        self.sch = Scheduler(self.cfg)
        self.ready = {}                      # (slice, addr) -> first cycle a read sees its data
        self.slot_free = [0] * isa.VXM_SLOTS  # first cycle a slot may be reconfigured
        self.prev_iw = [-1] * planes          # each plane's last install ...
        self.last_abc = [-1] * planes         # ... and last activation
        self.acc_last = {}                    # (plane, accumulator row) -> its last ABC/ACC

    def fits(self):
        """Every queue's program within ``imem_depth`` (instructions + NOP gaps + END bound it)."""
        bound = max(2 * len(p) + 1 for p in self.sch.placed.values())
        if bound <= self.cfg.imem_depth:
            return True
        program, _ = self.sch.program()
        return all(len(ins) <= self.cfg.imem_depth for ins in program.values())

    def step_rows(self, step):
        """The rows a step can be cut into (``None``: not cut)."""
        if step[0] == "rowop":
            return range(self.places[step[1]][0].rows)
        return range(self.rows) if step[0] in ("dense", "dense16") else None

    def pair(self, side, k):
        """The ``k``-th pair of slices (low, high byte plane) on ``side`` (0 west of the VXM, 1
        east) for fp16 tensors; the first pair when the side has only one."""
        sd = self.sides[side]
        k = k if len(sd) >= 2 * (k + 1) else 0
        return sd[2 * k], sd[2 * k + 1]

    def side_of(self, slice_):
        return 0 if slice_ in self.sides[0] else 1

    def configure(self, cfg_words, t):
        """CONFIG every ``(slot, [(word, value)])`` of ``cfg_words`` on the VXM queue from cycle
        ``t`` on, in free cycles; the last CONFIG's cycle."""
        wq, last_cfg = isa.vxm_control_words(self.cfg), -1
        for slot, pairs in cfg_words:
            for w_i, value in pairs:
                while not self.sch.free("vxm", t):
                    t += 1
                self.sch.place("vxm", t, isa.make("CONFIG", slot * wq + w_i, value))
                last_cfg, t = t, t + 1
        return last_cfg

    def segment(self):
        program, cycles = self.sch.program()
        return Segment(program, cycles, self.sch.intents)

    def channel_factors(self, li, channel_scales, NT):
        """Step ``li``'s per-channel factors in SRAM: for output tile ``nt``, ``[(slice, addr)]`` of its
        fp16 low and high byte planes, in two slices on one side of the VXM (so that both planes
        reach it on adjacent streams of one direction)."""
        if li in self.factor_places:
            return self.factor_places[li]
        pos = timing.floorplan(self.cfg)
        sides = [[s for s in range(self.cfg.mem_slices) if (pos[f"mem{s}"] < pos["vxm"]) == west]
                 for west in (True, False)]
        pair = next((sd[-2:] for sd in sides if len(sd) >= 2), None)
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

    def dense16(self, li, step, rows_range):
        """An fp16 dense layer (see the module docstring): per output tile and K-tile of
        ``fp16_k`` inputs, a weight tile of ``fp16_k`` fp16 rows, then one pass per row
        (ABC, then ACC no sooner than ``mxm_acc_reuse_distance(True)`` after the row's previous
        pass), then one VOP (``cvt`` to fp16 [, ``relu``]) per output vector."""
        _, x, w, bias, relu, out = step
        cfg, L, K = self.cfg, self.cfg.lanes, self.cfg.fp16_k
        sch, alloc, ready = self.sch, self.alloc, self.ready
        xp = self.places[x][0]
        kin, N = w.shape
        if xp.cols != kin:
            raise ValueError(f"layer {li}: input has {xp.cols} features, W has {kin} rows")
        KT, NT, per = xp.ct, -(-N // L), L // K        # K-tiles, output tiles, K-tiles per output vector
        KT_all = KT + (bias is not None)
        self.layer_shapes.append(N)
        in_side = self.side_of(xp.slice)
        if li not in self.wplaces:
            # the input's side, away from the input when it has two pairs; else wherever they fit
            pairs = [self.pair(in_side, 1), self.pair(1 - in_side, 1), self.pair(1 - in_side, 0)]
            wpair = next((pr for pr in pairs if max(alloc.next[s] for s in pr) + KT_all * NT * K
                          <= cfg.mem_depth), pairs[0])
            wp = self.wplaces[li] = alloc.take(wpair[0], KT_all * NT * K, L, wpair[1])
            bits = np.zeros((KT_all * K, NT * L), np.uint16)
            bits[:kin, :N] = w.view(np.uint16)
            if bias is not None:
                bits[KT * K, :N] = bias.view(np.uint16)
            for kt in range(KT_all):
                for nt in range(NT):
                    for i in range(K):
                        row = bits[kt * K + i, nt * L:(nt + 1) * L]
                        a = wp.base + (kt * NT + nt) * K + i
                        self.weights[(wpair[0], a)] = (row & 0xFF).astype(np.uint8)
                        self.weights[(wpair[1], a)] = (row >> 8).astype(np.uint8)
        wp = self.wplaces[li]
        wpair = (wp.slice, wp.hi)
        ones = self.ones16_at(xp) if bias is not None else None
        if out not in self.places:
            olo, ohi = self.pair(1 - in_side, 0)
            self.places[out] = [alloc.take(olo, self.rows, N, ohi, K if out in self.chunked else 0)]
            if out in self.chunked:
                slo, shi = self.pair(1 - in_side, 1)
                self.stages[out] = alloc.take(slo, self.rows, N, shi)
        o, stage = self.places[out][0], self.stages.get(out)
        direct0 = stage is None or not set(stage.slices) & set(o.slices)
        self.macs += len(rows_range) * kin * N
        sa = (2 * li) % isa.VXM_SLOTS
        alus = [("cvt", 1, 3)] + ([("relu", 1, 0)] if relu else [])     # 3: the fp16 type code
        vop_ready = self.configure([(sa, vxm_slot_words(cfg, "fp32", alus))], self.slot_free[sa]) + 1
        last_vop = 0
        for chunk, nt, p, kt in self.tiles(rows_range, NT, KT_all):
            t_a = self.install(p, wpair, [wp.base + (kt * NT + nt) * K + i for i in range(K)])
            for r in chunk:
                row = (p, r - chunk.start)
                if kt:
                    t_a = max(t_a, self.acc_last[row] + timing.mxm_acc_reuse_distance(True))
                if kt < KT_all - 1:
                    writes = []
                elif stage is None:
                    writes = [(sl, o.addr(r, nt), k) for k, sl in enumerate(o.slices)]
                else:
                    writes = [(sl, stage.addr(r, nt), k) for k, sl in enumerate(stage.slices)]
                    if direct0:
                        writes += [(sl, o.addr(r, per * nt), k) for k, sl in enumerate(o.slices)]
                x_addr = xp.addr(r, kt) if kt < KT else ones
                t_a, v = _place_pass16(sch, cfg, p, xp.slices, x_addr, row[1], kt, t_a, ready, sa, vop_ready, writes)
                self.acc_last[row] = self.last_abc[p] = t_a
                last_vop = max(last_vop, v)
                t_a += 1
                if writes and stage is not None:
                    # the other K-tiles of this output vector, each moved to lanes 0 .. K-1
                    for j in range(1 if direct0 else 0, per):
                        if per * nt + j < o.ct:
                            for src_sl, dst_sl in zip(stage.slices, o.slices):
                                _place_shift(sch, cfg, (src_sl, stage.addr(r, nt)), j * K,
                                             (dst_sl, o.addr(r, per * nt + j)), ready)
        self.slot_free[sa] = last_vop + 1

    def ones16_at(self, xp):
        """The address of the fp16 vector ``[1.0, 0, ...]`` in ``xp``'s slice pair (bias passes)."""
        key = tuple(xp.slices)
        if key not in self.ones16:
            a = self.ones16[key] = self.alloc.take(key[0], 1, 1, key[1]).base
            self.weights[(key[0], a)] = np.zeros(self.cfg.lanes, np.uint8)
            self.weights[(key[1], a)] = np.eye(1, self.cfg.lanes, dtype=np.uint8)[0] * 0x3C
        return self.ones16[key]

    def zero_vector(self, slice_):
        if slice_ not in self.zeros_in:
            self.zeros_in[slice_] = self.alloc.take(slice_, 1, 1)
            self.weights[(slice_, self.zeros_in[slice_].base)] = np.zeros(self.cfg.lanes, np.uint8)
        return self.zeros_in[slice_].base

    def step(self, li, step, rows_range=None):
        """Place step ``li`` (its rows ``rows_range`` only, when given: the others are placed by
        further calls, in later segments)."""
        cfg, rows, L = self.cfg, self.rows, self.cfg.lanes
        sch, alloc, places, weights, ready = self.sch, self.alloc, self.places, self.weights, self.ready
        slot_free, last_abc = self.slot_free, self.last_abc
        act_sets, w_slices, ones_in = self.act_sets, self.w_slices, self.ones_in
        layer_shapes, zero_vector = self.layer_shapes, self.zero_vector
        if step[0] == "dense16":
            self.dense16(li, step, rows_range or range(rows))
            return
        if step[0] == "transpose":
            _, x, out = step
            xp = places[x][0]
            outs = [alloc.take(s, xp.cols, xp.rows) for s in act_sets[(li + 1) % 2]]
            places[out] = outs
            _place_transpose(sch, cfg, xp, outs, ready, zero_vector(xp.slice))
            return
        if step[0] == "rowop":
            _, x, recipe, out = step
            xps = places[x]
            if recipe.whole_row and xps[0].cols != L:
                raise NotImplementedError(f"step {li} ({recipe.name}): reduces across a row, so the row must "
                                          f"be one vector ({L} columns), not {xps[0].cols}")
            if out not in places:
                places[out] = [alloc.take(s, xps[0].rows, xps[0].cols) for s in act_sets[(li + 1) % 2]]
            outs = places[out]
            root, offs = placed_tree(recipe, cfg)
            used = range(len(recipe.slots))
            last_cfg = self.configure([(k, vxm_slot_words(cfg, etype, alus))
                                       for k, (etype, alus) in enumerate(recipe.slots)],
                                      max(slot_free[s] for s in used))
            t_min = last_cfg + 1 - min(offs.values())
            last = 0
            for r in rows_range or range(xps[0].rows):
                for ct in range(xps[0].ct):
                    t_root = _place_rowop(sch, cfg, root, offs, xps, outs, r, ct, t_min, ready)
                    last = max(last, t_root)
            for s in used:
                slot_free[s] = last + 1
            return
        _, parts, w, bias, mult, shift, relu, out, pc = step
        part_places = [places[x] for x in parts]
        xps = part_places[0]
        dynamic = isinstance(w, str)
        K, N = (places[w][0].rows, places[w][0].cols) if dynamic else w.shape
        layer_shapes.append(N)
        k_in = sum(pp[0].cols for pp in part_places)
        if k_in != K:
            raise ValueError(f"layer {li}: input has {k_in} features, W has {K} rows")
        # input tiles: (part, vector within the part's row, first row of W, rows of W)
        ktiles, off = [], 0
        for j, pp in enumerate(part_places):
            for kl in range(pp[0].ct):
                ktiles.append((j, kl, off + kl * L, min(L, pp[0].cols - kl * L)))
            off += pp[0].cols
        KT, NT = len(ktiles), -(-N // L)
        KT_all = KT + (bias is not None)
        ones = {}
        if bias is not None:
            for xp in xps:
                if xp.slice not in ones_in:
                    ones_in[xp.slice] = alloc.take(xp.slice, 1, 1)
                    weights[(xp.slice, ones_in[xp.slice].base)] = np.eye(1, L, dtype=np.uint8)[0] * 127
                ones[xp.slice] = ones_in[xp.slice]
        if dynamic:
            # weight rows straight from the computed tensor; rows past K read a zero vector
            wt = places[w][0]
            zero = zero_vector(wt.slice)

            def tile_rows(kt, nt, wt=wt, zero=zero, K=K):
                return wt.slice, [wt.addr(kt * L + i, nt) if kt * L + i < K else zero for i in range(L)]
        else:
            wsl = w_slices[li % len(w_slices)]
            if li not in self.wplaces:
                self.wplaces[li] = alloc.take(wsl, KT_all * NT * L, L)
            wp = self.wplaces[li]

            def tile_rows(kt, nt, wsl=wsl, wp=wp, NT=NT):
                return wsl, [wp.base + (kt * NT + nt) * L + i for i in range(L)]
        for kt in range(KT_all if not dynamic else 0):
            for nt in range(NT):
                tile = np.zeros((L, L), np.int8)
                if kt < KT:
                    _, _, k0, nk = ktiles[kt]
                    blk = w[k0:k0 + nk, nt * L:(nt + 1) * L]
                    tile[:blk.shape[0], :blk.shape[1]] = blk
                else:
                    seg = bias[nt * L:(nt + 1) * L]
                    tile[0, :len(seg)] = seg
                for r in range(L):
                    weights[(wsl, wp.base + (kt * NT + nt) * L + r)] = tile[r].view(np.uint8).copy()
        if out not in places:
            places[out] = [alloc.take(s, rows, N) for s in act_sets[(li + 1) % 2]]
        outs = places[out]
        rows_range = rows_range or range(rows)
        self.macs += len(rows_range) * K * N
        # --- VXM slots for this layer's requantization ---------------------------------
        sa, sb = (2 * li) % isa.VXM_SLOTS, (2 * li + 1) % isa.VXM_SLOTS
        if pc is None:
            lo = 0 if relu else -128
            cfg_words = [(sa, vxm_slot_words(cfg, "int32", [("mul", 1, mult), ("add", 1, 1 << (shift - 1)),
                                                            ("sar", 1, shift), ("max", 1, lo)])),
                         (sb, vxm_slot_words(cfg, "int32", [("min", 1, 127)]))]
            factors = None
        else:
            (e1, s1), (e2, s2) = rescale_slots(pc[0], pc[2])
            cfg_words = [(sa, vxm_slot_words(cfg, e1, s1)), (sb, vxm_slot_words(cfg, e2, s2))]
            factors = self.channel_factors(li, pc[1], NT)
        vop_ready = self.configure(cfg_words, max(slot_free[sa], slot_free[sb])) + 1
        last_vop = 0
        # --- tiles ----------------------------------------------------------------------
        for chunk, nt, p, kt in self.tiles(rows_range, NT, KT_all):
            part, xct = (ktiles[kt][0], ktiles[kt][1]) if kt < KT else (0, 0)
            xp = part_places[part][p % len(part_places[part])]
            t_a = self.install(p, *tile_rows(kt, nt))
            for r in chunk:
                t_a, v2 = _place_row(sch, cfg, p, xp, outs, r, r - chunk.start, kt, nt, KT_all, t_a, ready,
                                     (sa, sb), vop_ready, ones.get(xp.slice) if kt == KT else None,
                                     xct, factors and factors[nt])
                last_abc[p] = t_a
                last_vop = max(last_vop, v2)
                t_a += 1
        slot_free[sa] = slot_free[sb] = last_vop + 1

    def tiles(self, rows_range, NT, KT_all):
        """A dense layer's placement order: ``(rows chunk, output tile, plane, K-tile)``, the rows in
        chunks of ``mxm_acc_depth`` (the accumulator rows)."""
        for r0 in range(rows_range.start, rows_range.stop, self.cfg.mxm_acc_depth):
            chunk = range(r0, min(rows_range.stop, r0 + self.cfg.mxm_acc_depth))
            for nt in range(NT):
                for kt in range(KT_all):
                    yield chunk, nt, nt % self.cfg.mxm_planes, kt

    def install(self, p, wsl, addrs):
        """Load the weight rows ``addrs`` (slice ``wsl`` or a pair, :func:`_place_tile`) into plane
        ``p`` once its previous tile is installed, and install them after its last activation;
        the IW's cycle."""
        t_lw0 = _place_tile(self.sch, self.cfg, p, wsl, addrs, self.prev_iw[p] + 1, self.ready)
        t_iw = max(t_lw0 + len(addrs), self.last_abc[p] + 1)
        while not self.sch.free(f"mxw{p}", t_iw):
            t_iw += 1
        self.sch.place(f"mxw{p}", t_iw, isa.make("IW"))
        self.prev_iw[p] = t_iw
        return t_iw


def _place_tile(sch, cfg, p, wsl, addrs, t_min, ready):
    """READ + LW of one weight tile's rows (``addrs`` in slice ``wsl``, or in each slice of the
    pair ``wsl`` for fp16 rows: their low and high byte planes) on consecutive cycles from
    ``t_min`` into plane ``p``, after the rows are written; the first LW cycle."""
    srcs = [wsl] if isinstance(wsl, int) else list(wsl)
    n, mxw, lat = len(addrs), f"mxw{p}", timing.MEM_READ_LATENCY
    routes = [sch.route(f"mem{s}", 0, lat, mxw) for s in srcs]     # consumer issue relative to a READ at 0
    d = routes[0][0]
    t0 = max(t_min, max(ready.get((s, a), 0) + rt[2] for s, rt in zip(srcs, routes) for a in addrs))
    while True:
        streams = None
        if all(t0 - rt[2] >= 0 and all(sch.free(f"mem{s}", t0 - rt[2] + i) for i in range(n))
               for s, rt in zip(srcs, routes)) and all(sch.free(mxw, t0 + i) for i in range(n)):
            for st in range(cfg.streams - len(srcs) + 1):
                if all(sch.streams.free(d, st + k, sch.position(f"mem{s}"),
                                        t0 - rt[2] + i + timing.ICU_DISPATCH_LATENCY + lat, rt[1])
                       for k, (s, rt) in enumerate(zip(srcs, routes)) for i in range(n)):
                    streams = (d, st)
                    break
        if streams is not None:
            break
        t0 += 1
    for i in range(n):
        for k, (s, rt) in enumerate(zip(srcs, routes)):
            q, t_rd = f"mem{s}", t0 - rt[2] + i
            sch.place(q, t_rd, isa.make("READ", addrs[i], (d, streams[1] + k)))
            sch.take_stream((d, streams[1] + k), q, t_rd, lat, mxw, 1, "src", t0 + i)
        sch.intents[(mxw, t0 + i, "src")] = [(f"mem{s}", t0 - rt[2] + i) for s, rt in zip(srcs, routes)]
        sch.place(mxw, t0 + i, isa.make("LW", i, streams, int(len(srcs) > 1)))
    return t0


def _place_transpose(sch, cfg, xp, outs, ready, zero):
    """``outs = xp.T`` through the SXM, one ``lanes x lanes`` tile at a time: the tile's rows
    are READ on consecutive cycles into TRANS (rows past the tensor read ``zero``), and
    every column that belongs to the result is written to each copy of the output."""
    L = cfg.lanes
    src = f"mem{xp.slice}"
    lat = timing.MEM_READ_LATENCY
    d_in, hops_in, delay = sch.route(src, 0, lat, "sxm")
    for rt in range(-(-xp.rows // L)):
        for ct in range(xp.ct):
            addrs = [xp.addr(rt * L + i, ct) if rt * L + i < xp.rows else zero for i in range(L)]
            cols = [j for j in range(L) if ct * L + j < xp.cols]
            t0 = max(ready.get((xp.slice, a), 0) for a in addrs) + delay
            while True:
                plan = _try_transpose(sch, cfg, src, addrs, cols, outs, rt, ct, t0, delay, d_in, hops_in)
                if plan is not None:
                    break
                t0 += 1
            s_in, s_out, t_first_col, writes = plan
            for i in range(L):
                sch.place(src, t0 - delay + i, isa.make("READ", addrs[i], s_in))
                sch.take_stream(s_in, src, t0 - delay + i, lat, "sxm", 1, "a", t0 + i)
                sch.place("sxm", t0 + i, isa.make("TRANS", s_in, s_out, int(i == 0)))
            sch.sxm_out |= set(range(t_first_col, t_first_col + L))
            far = max(writes, key=lambda w: w[2])
            for j in cols:
                # the column leaves the SXM in cycle t_first_col + j: one flight past every copy
                t_issue = t_first_col + j - timing.ICU_DISPATCH_LATENCY - timing.SXM_LATENCY
                far_t = far[2] + j
                sch.take_stream(s_out, "sxm", t_issue, timing.SXM_LATENCY, far[0], 1, "src", far_t)
                # the column's producer is the tile's last row (the intent names that TRANS)
                for q, o, t_w in writes:
                    sch.intents[(q, t_w + j, "src")] = [("sxm", t0 + L - 1)]
                    sch.place(q, t_w + j, isa.make("WRITE", o.addr(ct * L + j, rt), s_out))
                    ready[(o.slice, o.addr(ct * L + j, rt))] = t_w + j + timing.MEM_WRITE_LATENCY


def _try_transpose(sch, cfg, src, addrs, cols, outs, rt, ct, t0, delay, d_in, hops_in):
    L = cfg.lanes
    lat = timing.MEM_READ_LATENCY
    if t0 - delay < 0 or not all(sch.free(src, t0 - delay + i) and sch.free("sxm", t0 + i) for i in range(L)):
        return None
    # the last row executes in t0 + L; column j leaves 1 + SXM_LATENCY + j cycles later
    t_first_col = t0 + L - 1 + timing.ICU_DISPATCH_LATENCY + 1 + timing.SXM_LATENCY
    if set(range(t_first_col, t_first_col + L)) & sch.sxm_out:
        return None
    s_in = None
    for s in range(cfg.streams):
        if all(sch.streams.free(d_in, s, sch.position(src), t0 - delay + i + timing.ICU_DISPATCH_LATENCY + lat,
                                hops_in) for i in range(L)):
            s_in = (d_in, s)
            break
    if s_in is None:
        return None
    writes = []
    for o in outs:
        q = f"mem{o.slice}"
        t_w = sch.route("sxm", t_first_col - timing.ICU_DISPATCH_LATENCY - timing.SXM_LATENCY,
                        timing.SXM_LATENCY, q)[2]
        if not all(sch.free(q, t_w + j) for j in cols):
            return None
        writes.append((q, o, t_w))
    far = max(writes, key=lambda w: w[2])
    d_out, hops_out, _ = sch.route("sxm", 0, timing.SXM_LATENCY, far[0])
    for s in range(cfg.streams):
        ok = all(sch.streams.free(d_out, s, sch.position("sxm"), t_first_col + j, hops_out) for j in cols)
        if ok and (d_out, s) != s_in:
            return s_in, (d_out, s), t_first_col, writes
    return None


def _place_row(sch, cfg, p, xp, outs, r, acc_row, kt, nt, KT, t_min, ready, slots, vop_ready, ones=None,
               xct=None, factors=None):
    """One activation row through plane ``p`` (and, after the last tile, through the VXM to
    every copy of the output), at the earliest cycle >= ``t_min``; returns (ABC cycle, last VOP cycle).
    ``factors``: ``[(slice, addr)]`` of the fp16 per-channel factors' two byte planes (``rescale``),
    read so that they reach the second VOP as its operand ``b``."""
    lat_m = timing.MEM_READ_LATENCY
    src = f"mem{xp.slice}"
    mxm = f"mxm{p}"
    dsts = [f"mem{o.slice}" for o in outs]
    x_addr = xp.addr(r, kt if xct is None else xct) if ones is None else ones.base
    last = kt == KT - 1
    mlat = timing.mxm_latency(cfg)
    vlat = cfg.vxm_alus * timing.VXM_ALU_LATENCY
    t_a = t_min
    while True:
        plan = _try_row(sch, cfg, mxm, src, dsts, x_addr, t_a, last, ready.get((xp.slice, x_addr), 0),
                        vop_ready)
        if plan is not None:
            (t_rd, s_x), (s_res, t_v1, s_v1, t_v2, s_v2, t_ws) = plan
            sch.checkpoint()
            sch.take_stream(s_x, src, t_rd, lat_m, mxm, 1, "src", t_a)
            if not last:
                sch.take_stream(s_res, mxm, t_a, mlat, None, 4)
            else:
                sch.take_stream(s_res, mxm, t_a, mlat, "vxm", 4, "a", t_v1)
                sch.take_stream(s_v1, "vxm", t_v1, vlat, "vxm", 4, "a", t_v2)
                far = max(range(len(dsts)), key=lambda i: t_ws[i])
                sch.take_stream(s_v2, "vxm", t_v2, vlat, dsts[far], 4, "src", t_ws[far])
            busy = {(src, t_rd), *zip(dsts, t_ws)}
            b_reads = _factor_reads(sch, cfg, factors, t_v2, busy) if last and factors else None
            if not (last and factors) or b_reads:
                sch.commit()
                break
            sch.rollback()
        t_a += 1
    sch.place(src, t_rd, isa.make("READ", x_addr, s_x))
    sch.place(mxm, t_a, isa.make("ACC" if kt else "ABC", acc_row, s_x, s_res, 0))
    if not last:
        return t_a, 0
    sch.place("vxm", t_v1, isa.make("VOP", slots[0], 4, s_res, s_res, s_v1))
    sch.intents[("vxm", t_v1, "b")] = sch.intents[("vxm", t_v1, "a")]
    if b_reads:
        group = b_reads[0][2]
        for q, t, grp, addr in b_reads:
            sch.place(q, t, isa.make("READ", addr, grp))
        sch.intents[("vxm", t_v2, "a")] = sch.intents[("vxm", t_v2, "a")][:2]    # VOP 2 reads two planes
        sch.place("vxm", t_v2, isa.make("VOP", slots[1], 2, s_v1, group, s_v2))
    else:
        sch.place("vxm", t_v2, isa.make("VOP", slots[1], 4, s_v1, s_v1, s_v2))
        sch.intents[("vxm", t_v2, "b")] = sch.intents[("vxm", t_v2, "a")]
    for o, dst, t_w in zip(outs, dsts, t_ws):
        sch.intents[(dst, t_w, "src")] = [("vxm", t_v2)]
        y_addr = o.addr(r, nt)
        sch.place(dst, t_w, isa.make("WRITE", y_addr, s_v2))
        ready[(o.slice, y_addr)] = t_w + timing.MEM_WRITE_LATENCY
    return t_a, t_v2


def _plane_reads(sch, cfg, planes, consumer, t_c, field_name, busy=(), ready=None, hint=None):
    """READs of the byte planes ``planes`` (``[(slice, addr)]``, low first) that reach
    ``consumer``, issued in ``t_c``, together on adjacent streams (so the slices must lie on one
    side of it): their streams taken and the consumer's intent on ``field_name`` recorded;
    ``[(queue, cycle, plane stream, addr)]`` or ``None``. ``busy``: (queue, cycle) already taken;
    ``ready``: (slice, addr) -> first cycle a read sees the data; ``hint``: a first stream to try."""
    lat = timing.MEM_READ_LATENCY
    reads = []
    for s_, addr in planes:
        q = f"mem{s_}"
        d, hops, rel = sch.route(q, 0, lat, consumer)
        t = t_c - rel
        if not sch.free(q, t) or (q, t) in busy or (ready and t < ready.get((s_, addr), 0)):
            return None
        reads.append((q, t, d, hops, addr))
    d = reads[0][2]
    if any(r[2] != d for r in reads):
        return None
    order = list(range(cfg.streams - len(reads) + 1))
    if hint is not None and hint[0] == d and hint[1] in order:
        order.remove(hint[1])
        order.insert(0, hint[1])
    for s0 in order:
        if all(sch.streams.free(d, s0 + k, sch.position(q), t + timing.ICU_DISPATCH_LATENCY + lat, hops)
               for k, (q, t, _, hops, _) in enumerate(reads)):
            out = []
            for k, (q, t, _, hops, addr) in enumerate(reads):
                sch.take_stream((d, s0 + k), q, t, lat, consumer, 1, "plane", t_c)
                out.append((q, t, (d, s0 + k), addr))
            sch.intents.pop((consumer, t_c, "plane"), None)
            sch.intents[(consumer, t_c, field_name)] = [(q, t) for q, t, _, _ in out]
            return out
    return None


def _factor_reads(sch, cfg, factors, t_v2, busy):
    """READs of the two byte planes ``factors`` that reach the VXM for the VOP issued in ``t_v2``
    as its operand ``b`` (:func:`_plane_reads`)."""
    return _plane_reads(sch, cfg, factors, "vxm", t_v2, "b", busy)


def _try_row(sch, cfg, mxm, src, dsts, x_addr, t_a, last, x_ready, vop_ready):
    lat_m = timing.MEM_READ_LATENCY
    _, _, rel = sch.route(src, 0, lat_m, mxm)
    t_rd = t_a - rel
    if t_rd < x_ready or not sch.free(src, t_rd) or not sch.free(mxm, t_a):
        return None
    hints = sch.hints
    s_x = sch.find_stream(src, t_rd, lat_m, mxm, hint=hints.get(("x", mxm)))
    if s_x is None:
        return None
    mlat = timing.mxm_latency(cfg)
    if not last:
        s_res = sch.find_stream(mxm, t_a, mlat, None, 4, hint=hints.get(("res", mxm)))
        if s_res is None:
            return None
        hints.update({("x", mxm): s_x, ("res", mxm): s_res})
        return (t_rd, s_x), (s_res, 0, None, 0, None, [])
    vlat = cfg.vxm_alus * timing.VXM_ALU_LATENCY
    _, _, t_v1 = sch.route(mxm, t_a, mlat, "vxm")
    t_v2 = t_v1 + vlat + 1
    t_ws = [sch.route("vxm", t_v2, vlat, d)[2] for d in dsts]
    if t_v1 < vop_ready or not (sch.free("vxm", t_v1) and sch.free("vxm", t_v2)):
        return None
    if not all(sch.free(d, t_w) for d, t_w in zip(dsts, t_ws)) or (src, t_rd) in zip(dsts, t_ws):
        return None
    far = max(range(len(dsts)), key=lambda i: t_ws[i])
    s_res = sch.find_stream(mxm, t_a, mlat, "vxm", 4, hint=hints.get(("res", mxm)))
    s_v1 = sch.find_stream("vxm", t_v1, vlat, "vxm", 4, hint=hints.get("v1"))
    s_v2 = sch.find_stream("vxm", t_v2, vlat, dsts[far], 4, hint=hints.get("v2"))
    if None in (s_res, s_v1, s_v2):
        return None
    hints.update({("x", mxm): s_x, ("res", mxm): s_res, "v1": s_v1, "v2": s_v2})
    return (t_rd, s_x), (s_res, t_v1, s_v1, t_v2, s_v2, t_ws)


def _place_rowop(sch, cfg, root, offs, xps, outs, r, ct, t_min, ready):
    """Vector ``ct`` of row ``r`` through a softmax / layer-norm / GELU tree (:mod:`.rowops`) and
    into every copy of the output, at the earliest root cycle >= ``t_min``; the root's cycle."""
    lat = timing.MEM_READ_LATENCY
    rel = {x.slice: sch.route(f"mem{x.slice}", 0, lat, "vxm")[2] for x in xps}
    ready_at = min(ready.get((x.slice, x.addr(r, ct)), 0) + rel[x.slice] for x in xps)
    t = max(t_min, ready_at - min(offs.values()))
    while not _try_rowop(sch, cfg, root, offs, xps, outs, r, ct, t, ready, rel):
        t += 1
    return t


def _try_rowop(sch, cfg, root, offs, xps, outs, r, ct, T, ready, rel):
    lat = timing.MEM_READ_LATENCY
    if not all(sch.free("vxm", T + o) for o in offs.values()):
        return False
    vlat = root.latency(cfg)
    dsts = [f"mem{o.slice}" for o in outs]
    t_ws = [sch.route("vxm", T, vlat, q)[2] for q in dsts]
    taken = set(zip(dsts, t_ws))
    if not all(sch.free(q, t) for q, t in taken):
        return False
    # each input read: the copy whose slice is free when the read must issue
    reads, k = [], 0                                # (consumer node, field, place, read cycle)
    for node, t_node in offs.items():
        for f in ("a", "b"):
            child = getattr(node, f)
            if child is None or child.kind != "read":
                continue
            for j in range(len(xps)):
                x = xps[(k + j) % len(xps)]
                q, t_rd = f"mem{x.slice}", T + t_node - rel[x.slice]
                if sch.free(q, t_rd) and (q, t_rd) not in taken and t_rd >= ready.get((x.slice, x.addr(r, ct)), 0):
                    break
            else:
                return False
            taken.add((q, t_rd))
            reads.append((node, f, x, t_rd))
            k += 1
    sch.checkpoint()
    instrs = {}                                     # node -> [a group, b group, dst group]
    ok = True
    for node, f, x, t_rd in reads:
        src = f"mem{x.slice}"
        d, hops, _ = sch.route(src, 0, lat, "vxm")
        grp = next(((d, s) for s in range(cfg.streams - 3)
                    if sch.streams.free(d, s, sch.position(src), t_rd + timing.ICU_DISPATCH_LATENCY + lat, hops)),
                   None)
        if grp is None:
            ok = False
            break
        sch.take_stream(grp, src, t_rd, lat, "vxm", 1, f, T + offs[node])
        instrs.setdefault(node, [None, None, None])["ab".index(f)] = grp
    if ok:
        for node, t_node in offs.items():
            for f in ("a", "b"):
                child = getattr(node, f)
                if child is None or child.kind == "read":
                    continue
                t_c = T + offs[child]
                grp = sch.find_stream("vxm", t_c, child.latency(cfg), "vxm", 4)
                if grp is None:
                    ok = False
                    break
                sch.take_stream(grp, "vxm", t_c, child.latency(cfg), "vxm", 4, f, T + t_node)
                instrs.setdefault(node, [None, None, None])["ab".index(f)] = grp
                instrs.setdefault(child, [None, None, None])[2] = grp
            if not ok:
                break
    if ok:
        far = max(range(len(dsts)), key=lambda i: t_ws[i])
        grp = sch.find_stream("vxm", T, vlat, dsts[far], 4)
        if grp is None:
            ok = False
        else:
            sch.take_stream(grp, "vxm", T, vlat, dsts[far], 4, "src", t_ws[far])
            instrs[root][2] = grp
    if not ok:
        sch.rollback()
        return False
    sch.commit()
    for q, t_w, o in zip(dsts, t_ws, outs):
        sch.intents[(q, t_w, "src")] = [("vxm", T)]
        sch.place(q, t_w, isa.make("WRITE", o.addr(r, ct), instrs[root][2]))
        ready[(o.slice, o.addr(r, ct))] = t_w + timing.MEM_WRITE_LATENCY
    for node, f, x, t_rd in reads:
        sch.place(f"mem{x.slice}", t_rd, isa.make("READ", x.addr(r, ct), instrs[node]["ab".index(f)]))
    for node, t_node in offs.items():
        a, b, dst = instrs[node]
        if node.kind == "vop" and node.b is None:
            b = a
            sch.intents[("vxm", T + t_node, "b")] = sch.intents[("vxm", T + t_node, "a")]
        sch.place("vxm", T + t_node, rowop_instruction(node, 0, a, b, dst))
    return True


def _place_pass16(sch, cfg, p, xslices, x_addr, acc_row, kt, t_min, ready, slot, vop_ready, writes):
    """One fp16 pass of an activation vector (its two byte planes at ``x_addr`` of ``xslices``)
    through plane ``p`` at the earliest cycle >= ``t_min``: ABC for ``kt = 0``, ACC after. With
    ``writes`` (the layer's last pass: ``[(slice, addr, byte plane)]``) the fp32 result goes
    through the VXM (slot ``slot``: to fp16 [, ReLU]) into them. Returns (pass cycle, VOP cycle)."""
    mxm, lat_m = f"mxm{p}", timing.MEM_READ_LATENCY
    rels = [sch.route(f"mem{s}", 0, lat_m, mxm)[2] for s in xslices]
    t_a = max(t_min, max(ready.get((s, x_addr), 0) + rel for s, rel in zip(xslices, rels)))
    hints = sch.hints
    while True:
        plan = _try_pass16(sch, cfg, mxm, xslices, x_addr, t_a, ready, vop_ready, writes, hints)
        if plan is not None:
            break
        t_a += 1
    reads, s_res, t_v, s_v, t_ws = plan
    for q, t, grp, addr in reads:
        sch.place(q, t, isa.make("READ", addr, grp))
    sch.place(mxm, t_a, isa.make("ACC" if kt else "ABC", acc_row, reads[0][2], s_res, 1))
    if not writes:
        return t_a, 0
    sch.place("vxm", t_v, isa.make("VOP", slot, 4, s_res, s_res, s_v))
    sch.intents[("vxm", t_v, "b")] = sch.intents[("vxm", t_v, "a")]
    for (sl, addr, k), t_w in zip(writes, t_ws):
        q = f"mem{sl}"
        sch.intents[(q, t_w, "src")] = [("vxm", t_v)]
        sch.place(q, t_w, isa.make("WRITE", addr, (s_v[0], s_v[1] + k)))
        ready[(sl, addr)] = t_w + timing.MEM_WRITE_LATENCY
    return t_a, t_v


def _try_pass16(sch, cfg, mxm, xslices, x_addr, t_a, ready, vop_ready, writes, hints):
    """The reads, result streams, VOP cycle and write cycles of a pass in ``t_a`` (taken), or ``None``."""
    mlat, vlat = timing.mxm_latency(cfg), cfg.vxm_alus * timing.VXM_ALU_LATENCY
    if not sch.free(mxm, t_a):
        return None
    t_v, t_ws, busy = None, [], set()
    if writes:
        t_v = sch.route(mxm, t_a, mlat, "vxm")[2]
        if t_v < vop_ready or not sch.free("vxm", t_v):
            return None
        t_ws = [sch.route("vxm", t_v, vlat, f"mem{sl}")[2] for sl, _, _ in writes]
        busy = {(f"mem{sl}", t) for (sl, _, _), t in zip(writes, t_ws)}
        if len(busy) < len(writes) or not all(sch.free(q, t) for q, t in busy):
            return None
    sch.checkpoint()
    reads = _plane_reads(sch, cfg, [(s, x_addr) for s in xslices], mxm, t_a, "src", busy, ready,
                         hints.get(("x16", mxm)))
    s_res = s_v = None
    if reads is not None and not writes:
        s_res = sch.find_stream(mxm, t_a, mlat, None, 4, hint=hints.get(("res", mxm)))
        if s_res is not None:
            sch.take_stream(s_res, mxm, t_a, mlat, None, 4)
    elif reads is not None:
        far = max(range(len(writes)), key=lambda i: t_ws[i])
        s_res = sch.find_stream(mxm, t_a, mlat, "vxm", 4, hint=hints.get(("res", mxm)))
        if s_res is not None:
            sch.take_stream(s_res, mxm, t_a, mlat, "vxm", 4, "a", t_v)
            s_v = sch.find_stream("vxm", t_v, vlat, f"mem{writes[far][0]}", 4, hint=hints.get("v16"))
            if s_v is not None:
                sch.take_stream(s_v, "vxm", t_v, vlat, f"mem{writes[far][0]}", 4, "src", t_ws[far])
    if reads is None or s_res is None or (writes and s_v is None):
        sch.rollback()
        return None
    sch.commit()
    hints.update({("x16", mxm): reads[0][2], ("res", mxm): s_res})
    if s_v is not None:
        hints["v16"] = s_v
    return reads, s_res, t_v, s_v, t_ws


def _place_shift(sch, cfg, src, k, dst, ready):
    """READ the vector ``src`` = (slice, addr), move its lanes down by ``k`` on the SXM (SHDN)
    and WRITE it to ``dst`` = (slice, addr), at the earliest cycles after ``src`` is written."""
    lat = timing.MEM_READ_LATENCY
    q_s, q_d = f"mem{src[0]}", f"mem{dst[0]}"
    rel = sch.route(q_s, 0, lat, "sxm")[2]
    t = ready.get(src, 0) + rel                         # the SHDN's issue cycle
    while True:
        t_rd, t_w = t - rel, sch.route("sxm", t, timing.SXM_LATENCY, q_d)[2]
        t_out = t + timing.ICU_DISPATCH_LATENCY + timing.SXM_LATENCY
        if (sch.free(q_s, t_rd) and sch.free("sxm", t) and sch.free(q_d, t_w) and (q_s, t_rd) != (q_d, t_w)
                and t_out not in sch.sxm_out):
            s_in = sch.find_stream(q_s, t_rd, lat, "sxm", hint=sch.hints.get("shift_in"))
            s_out = sch.find_stream("sxm", t, timing.SXM_LATENCY, q_d, hint=sch.hints.get("shift_out"))
            if s_in is not None and s_out is not None:
                break
        t += 1
    sch.take_stream(s_in, q_s, t_rd, lat, "sxm", 1, "a", t)
    sch.take_stream(s_out, "sxm", t, timing.SXM_LATENCY, q_d, 1, "src", t_w)
    sch.hints.update({"shift_in": s_in, "shift_out": s_out})
    sch.sxm_out.add(t_out)
    sch.place(q_s, t_rd, isa.make("READ", src[1], s_in))
    sch.place("sxm", t, isa.make("SHDN", k=k, a=s_in, dst=s_out))
    sch.place(q_d, t_w, isa.make("WRITE", dst[1], s_out))
    ready[dst] = t_w + timing.MEM_WRITE_LATENCY
