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
    """Where a tensor lives: ``slice``, first vector ``base``, ``rows`` x ``ct`` vectors."""
    slice: int
    base: int
    rows: int
    cols: int
    ct: int

    def addr(self, r, ct):
        return self.base + r * self.ct + ct

    @property
    def vectors(self):
        return self.rows * self.ct


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
        """``{(slice, addr): bytes}``: the constants and the given input tensors."""
        image = dict(self.weights)
        for name, value in inputs.items():
            for place in self.places[name]:
                image.update(_tensor_vectors(self.cfg, place, np.asarray(value, np.int8)))
        return image

    def read_output(self, name, vectors):
        """The tensor ``name`` from its vectors (``rows * ct`` arrays of ``lanes`` bytes)."""
        p = self.places[name][0]
        data = np.stack(vectors).reshape(p.rows, p.ct * self.cfg.lanes)[:, :p.cols]
        return data.view(np.int8)


def _tensor_vectors(cfg, place, value):
    L = cfg.lanes
    out = {}
    for r in range(place.rows):
        for ct in range(place.ct):
            vec = np.zeros(L, np.uint8)
            seg = value[r, ct * L:(ct + 1) * L].view(np.uint8)
            vec[:len(seg)] = seg
            out[(place.slice, place.addr(r, ct))] = vec
    return out


class _Alloc:
    """SRAM allocation: each tensor gets a contiguous range in one slice."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.next = [0] * cfg.mem_slices

    def take(self, slice_, rows, cols):
        ct = -(-cols // self.cfg.lanes)
        base = self.next[slice_]
        if base + rows * ct > self.cfg.mem_depth:
            raise MemoryError(f"slice {slice_}: {rows * ct} vectors do not fit "
                              f"({self.cfg.mem_depth - base} of {self.cfg.mem_depth} left)")
        self.next[slice_] += rows * ct
        return TensorPlace(slice_, base, rows, cols, ct)


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
                                      "chains, transposes, softmax, layer norm and GELU are lowered")
        j, cur, bias = i + 1, nd.output, None
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
    low = _Lowering(graph, cfg, rows)
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
    report = {"predicted_cycles": cycles, "macs": low.macs,
              "mxm_utilization": low.macs / (L * L * cfg.mxm_planes * cycles),
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

    def __init__(self, graph, cfg, rows):
        self.cfg, self.rows = cfg, rows
        self.alloc = _Alloc(cfg)
        self.act_sets, self.w_slices, self.copies = _slice_sets(cfg, cfg.mxm_planes)
        self.places, self.weights = {}, {}
        self.wplaces = {}                    # step -> where its constant weight tiles are
        self.factor_places = {}              # step -> its per-channel factors (rescale)
        (name, shape), = graph.inputs.items()
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
        return range(self.rows) if step[0] == "dense" else None

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

    def zero_vector(self, slice_):
        if slice_ not in self.zeros_in:
            self.zeros_in[slice_] = self.alloc.take(slice_, 1, 1)
            self.weights[(slice_, self.zeros_in[slice_].base)] = np.zeros(self.cfg.lanes, np.uint8)
        return self.zeros_in[slice_].base

    def step(self, li, step, rows_range=None):
        """Place step ``li`` (its rows ``rows_range`` only, when given: the others are placed by
        further calls, in later segments)."""
        cfg, rows, L, planes = self.cfg, self.rows, self.cfg.lanes, self.cfg.mxm_planes
        sch, alloc, places, weights, ready = self.sch, self.alloc, self.places, self.weights, self.ready
        slot_free, prev_iw, last_abc = self.slot_free, self.prev_iw, self.last_abc
        act_sets, w_slices, ones_in = self.act_sets, self.w_slices, self.ones_in
        layer_shapes, zero_vector = self.layer_shapes, self.zero_vector
        wq = isa.vxm_control_words(cfg)
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
            t = max(slot_free[s] for s in used)
            last_cfg = -1
            for k, (etype, alus) in enumerate(recipe.slots):
                for w_i, value in vxm_slot_words(cfg, etype, alus):
                    while not sch.free("vxm", t):
                        t += 1
                    sch.place("vxm", t, isa.make("CONFIG", k * wq + w_i, value))
                    last_cfg, t = t, t + 1
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
        t = max(slot_free[sa], slot_free[sb])
        last_cfg = -1
        for slot, pairs in cfg_words:
            for w_i, value in pairs:
                while not sch.free("vxm", t):
                    t += 1
                sch.place("vxm", t, isa.make("CONFIG", slot * wq + w_i, value))
                last_cfg = t
                t += 1
        vop_ready = last_cfg + 1
        last_vop = 0
        # --- tiles ----------------------------------------------------------------------
        for r0 in range(rows_range.start, rows_range.stop, cfg.mxm_acc_depth):
            chunk = range(r0, min(rows_range.stop, r0 + cfg.mxm_acc_depth))
            for nt in range(NT):
                p = nt % planes
                for kt in range(KT_all):
                    part, xct = (ktiles[kt][0], ktiles[kt][1]) if kt < KT else (0, 0)
                    xp = part_places[part][p % len(part_places[part])]
                    t_lw0 = _place_tile(sch, cfg, p, *tile_rows(kt, nt), prev_iw[p] + 1, ready)
                    t_iw = max(t_lw0 + L, last_abc[p] + 1)
                    while not sch.free(f"mxw{p}", t_iw):
                        t_iw += 1
                    sch.place(f"mxw{p}", t_iw, isa.make("IW"))
                    prev_iw[p] = t_iw
                    t_a = t_iw
                    for r in chunk:
                        t_a, v2 = _place_row(sch, cfg, p, xp, outs, r, r - r0, kt, nt, KT_all, t_a, ready,
                                             (sa, sb), vop_ready, ones.get(xp.slice) if kt == KT else None,
                                             xct, factors and factors[nt])
                        last_abc[p] = t_a
                        last_vop = max(last_vop, v2)
                        t_a += 1
        slot_free[sa] = slot_free[sb] = last_vop + 1


def _place_tile(sch, cfg, p, wsl, addrs, t_min, ready):
    """READ + LW of one weight tile's ``lanes`` rows (``addrs`` in slice ``wsl``) on
    consecutive cycles from ``t_min`` into plane ``p``, after the rows are written;
    the first LW cycle."""
    L = cfg.lanes
    src, mxw = f"mem{wsl}", f"mxw{p}"
    lat = timing.MEM_READ_LATENCY
    d, hops, delay = sch.route(src, 0, lat, mxw)     # consumer issue relative to a READ at 0
    t0 = max(t_min, max(ready.get((wsl, a), 0) for a in addrs) + delay)
    while True:
        t_rd0 = t0 - delay
        streams = None
        if t_rd0 >= 0 and all(sch.free(src, t_rd0 + i) and sch.free(mxw, t0 + i) for i in range(L)):
            for s in range(cfg.streams):
                if all(sch.streams.free(d, s, sch.position(src), t_rd0 + i + timing.ICU_DISPATCH_LATENCY + lat,
                                        hops) for i in range(L)):
                    streams = (d, s)
                    break
        if streams is not None:
            break
        t0 += 1
    for i in range(L):
        sch.place(src, t_rd0 + i, isa.make("READ", addrs[i], streams))
        sch.take_stream(streams, src, t_rd0 + i, lat, mxw, 1, "src", t0 + i)
        sch.place(mxw, t0 + i, isa.make("LW", i, streams, 0))
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
        sch.intents[("vxm", t_v2, "b")] = [(q, t) for q, t, _, _ in b_reads]
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


def _factor_reads(sch, cfg, factors, t_v2, busy):
    """READs of the two byte planes ``factors`` that reach the VXM for the VOP issued in ``t_v2``
    on adjacent streams, their streams taken; ``[(queue, cycle, plane stream, addr)]`` or ``None``."""
    lat = timing.MEM_READ_LATENCY
    reads = []
    for s_, addr in factors:
        q = f"mem{s_}"
        d, hops, rel = sch.route(q, 0, lat, "vxm")
        t = t_v2 - rel
        if not sch.free(q, t) or (q, t) in busy:
            return None
        reads.append((q, t, d, hops, addr))
    d = reads[0][2]
    for s0 in range(cfg.streams - 1):
        if all(sch.streams.free(d, s0 + k, sch.position(q), t + timing.ICU_DISPATCH_LATENCY + lat, hops)
               for k, (q, t, _, hops, _) in enumerate(reads)):
            out = []
            for k, (q, t, _, hops, addr) in enumerate(reads):
                sch.take_stream((d, s0 + k), q, t, lat, "vxm", 1, f"b{k}", t_v2)
                out.append((q, t, (d, s0 + k), addr))
            for k in range(len(reads)):
                sch.intents.pop(("vxm", t_v2, f"b{k}"), None)
            return out
    return None


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
