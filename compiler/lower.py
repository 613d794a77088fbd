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

from dataclasses import dataclass, field

import numpy as np

from openlpu import isa, timing
from openlpu.asm import vxm_slot_words

from .graph import Graph
from .scheduler import Scheduler

__all__ = ["Compiled", "TensorPlace", "compile_graph"]


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
class Compiled:
    cfg: object
    program: dict                   # queue -> [Instr]
    predicted_cycles: int
    places: dict                    # tensor -> [TensorPlace] (copies; the first is read back)
    weights: dict                   # (slice, addr) -> lanes bytes (constant data)
    intents: dict                   # see Scheduler.intents
    outputs: list
    report: dict = field(default_factory=dict)

    def words(self):
        return {q: [isa.encode(i) for i in ins] for q, ins in self.program.items()}

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
    """The graph as lowering steps: ``("dense", x, W, bias, M, S, relu, out)`` for
    ``matmul [-> bias] -> requantize [-> relu]`` (``W`` a constant array or a tensor name)
    and ``("transpose", x, out)``; a clear error for anything else."""
    steps, nodes, i = [], graph.nodes, 0

    def follows(j, op, src):
        return j < len(nodes) and nodes[j].op == op and nodes[j].inputs[0] == src

    while i < len(nodes):
        nd = nodes[i]
        if nd.op == "transpose":
            steps.append(("transpose", nd.inputs[0], nd.output))
            i += 1
            continue
        if nd.op != "matmul":
            raise NotImplementedError(f"node {i} ({nd.op}): only matmul [-> bias] -> requantize [-> relu] "
                                      "chains and transposes are lowered so far")
        j, cur, bias = i + 1, nd.output, None
        if follows(j, "bias", cur):
            bias, cur, j = graph.consts[nodes[j].inputs[1]], nodes[j].output, j + 1
        if not follows(j, "requantize", cur):
            raise NotImplementedError(f"node {i}: a matmul must be followed by requantize to be lowered")
        rq = nodes[j]
        cur, j = rq.output, j + 1
        relu = follows(j, "relu", cur)
        if relu:
            cur, j = nodes[j].output, j + 1
        w = graph.consts.get(nd.inputs[1], nd.inputs[1])
        if isinstance(w, str) and bias is not None:
            raise NotImplementedError(f"node {i}: a bias on a product of two computed tensors")
        steps.append(("dense", nd.inputs[0], w, bias, rq.attrs["multiplier"], rq.attrs["shift"], relu, cur))
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
    """Compile ``graph`` for ``cfg`` with ``rows`` input rows (the batch)."""
    L = cfg.lanes
    steps = _steps(graph)
    sch = Scheduler(cfg)
    alloc = _Alloc(cfg)
    planes = cfg.mxm_planes
    act_sets, w_slices, copies = _slice_sets(cfg, planes)
    places, weights, ready = {}, {}, {}
    (name, shape), = graph.inputs.items()
    # output tile nt runs on plane nt % planes, which reads copy (plane % copies) of its input
    places[name] = [alloc.take(s, rows, shape[1]) for s in act_sets[0]]
    wq = isa.vxm_control_words(cfg)
    slot_free = [0] * isa.VXM_SLOTS      # first cycle a slot may be reconfigured
    prev_iw = [-1] * planes              # each plane's last install ...
    last_abc = [-1] * planes             # ... and last activation
    macs = 0
    ones_in = {}                         # slice -> the constant activation [127, 0, ...] of bias passes
    zeros_in = {}                        # slice -> an all-zero vector (padding rows of tiles)

    def zero_vector(slice_):
        if slice_ not in zeros_in:
            zeros_in[slice_] = alloc.take(slice_, 1, 1)
            weights[(slice_, zeros_in[slice_].base)] = np.zeros(L, np.uint8)
        return zeros_in[slice_].base

    layer_shapes = []
    for li, step in enumerate(steps):
        if step[0] == "transpose":
            _, x, out = step
            xp = places[x][0]
            outs = [alloc.take(s, xp.cols, xp.rows) for s in act_sets[(li + 1) % 2]]
            places[out] = outs
            _place_transpose(sch, cfg, xp, outs, ready, zero_vector(xp.slice))
            continue
        _, x, w, bias, mult, shift, relu, out = step
        xps = places[x]
        dynamic = isinstance(w, str)
        K, N = (places[w][0].rows, places[w][0].cols) if dynamic else w.shape
        layer_shapes.append(N)
        if xps[0].cols != K:
            raise ValueError(f"layer {li}: input has {xps[0].cols} features, W has {K} rows")
        KT, NT = -(-K // L), -(-N // L)
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
            wp = alloc.take(wsl, KT_all * NT * L, L)

            def tile_rows(kt, nt, wsl=wsl, wp=wp, NT=NT):
                return wsl, [wp.base + (kt * NT + nt) * L + i for i in range(L)]
        for kt in range(KT_all if not dynamic else 0):
            for nt in range(NT):
                tile = np.zeros((L, L), np.int8)
                if kt < KT:
                    blk = w[kt * L:(kt + 1) * L, nt * L:(nt + 1) * L]
                    tile[:blk.shape[0], :blk.shape[1]] = blk
                else:
                    seg = bias[nt * L:(nt + 1) * L]
                    tile[0, :len(seg)] = seg
                for r in range(L):
                    weights[(wsl, wp.base + (kt * NT + nt) * L + r)] = tile[r].view(np.uint8).copy()
        outs = [alloc.take(s, rows, N) for s in act_sets[(li + 1) % 2]]
        places[out] = outs
        macs += rows * K * N
        # --- VXM slots for this layer's requantization ---------------------------------
        sa, sb = (2 * li) % isa.VXM_SLOTS, (2 * li + 1) % isa.VXM_SLOTS
        lo = 0 if relu else -128
        cfg_words = [(sa, vxm_slot_words(cfg, "int32", [("mul", 1, mult), ("add", 1, 1 << (shift - 1)),
                                                        ("sar", 1, shift), ("max", 1, lo)])),
                     (sb, vxm_slot_words(cfg, "int32", [("min", 1, 127)]))]
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
        for r0 in range(0, rows, cfg.mxm_acc_depth):
            chunk = range(r0, min(rows, r0 + cfg.mxm_acc_depth))
            for nt in range(NT):
                p = nt % planes
                xp = xps[p % len(xps)]
                for kt in range(KT_all):
                    t_lw0 = _place_tile(sch, cfg, p, *tile_rows(kt, nt), prev_iw[p] + 1, ready)
                    t_iw = max(t_lw0 + L, last_abc[p] + 1)
                    while not sch.free(f"mxw{p}", t_iw):
                        t_iw += 1
                    sch.place(f"mxw{p}", t_iw, isa.make("IW"))
                    prev_iw[p] = t_iw
                    t_a = t_iw
                    for r in chunk:
                        t_a, v2 = _place_row(sch, cfg, p, xp, outs, r, r - r0, kt, nt, KT_all, t_a, ready,
                                             (sa, sb), vop_ready, ones.get(xp.slice) if kt == KT else None)
                        last_abc[p] = t_a
                        last_vop = max(last_vop, v2)
                        t_a += 1
        slot_free[sa] = slot_free[sb] = last_vop + 1
    program, cycles = sch.program()
    for q, ins in program.items():
        if len(ins) > cfg.imem_depth:
            raise MemoryError(f"queue {q} needs {len(ins)} instructions; imem_depth is {cfg.imem_depth} "
                              "(fewer rows per program, or a configuration with deeper queues)")
    report = {"predicted_cycles": cycles, "macs": macs,
              "mxm_utilization": macs / (L * L * cfg.mxm_planes * cycles),
              "sram_vectors": sum(alloc.next), "sram_bytes": sum(alloc.next) * L,
              "instructions": sum(len(v) for v in program.values()),
              "planes_used": min(planes, max([-(-n // L) for n in layer_shapes] or [1])),
              "activation_copies": copies}
    return Compiled(cfg, program, cycles, places, weights, sch.intents, list(graph.outputs), report)


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


def _place_row(sch, cfg, p, xp, outs, r, acc_row, kt, nt, KT, t_min, ready, slots, vop_ready, ones=None):
    """One activation row through plane ``p`` (and, after the last tile, through the VXM to
    every copy of the output), at the earliest cycle >= ``t_min``; returns (ABC cycle, last VOP cycle)."""
    lat_m = timing.MEM_READ_LATENCY
    src = f"mem{xp.slice}"
    mxm = f"mxm{p}"
    dsts = [f"mem{o.slice}" for o in outs]
    x_addr = xp.addr(r, kt) if ones is None else ones.base
    last = kt == KT - 1
    t_a = t_min
    while True:
        plan = _try_row(sch, cfg, mxm, src, dsts, x_addr, t_a, last, ready.get((xp.slice, x_addr), 0),
                        vop_ready)
        if plan is not None:
            break
        t_a += 1
    (t_rd, s_x), (s_res, t_v1, s_v1, t_v2, s_v2, t_ws) = plan
    sch.place(src, t_rd, isa.make("READ", x_addr, s_x))
    sch.take_stream(s_x, src, t_rd, lat_m, mxm, 1, "src", t_a)
    sch.place(mxm, t_a, isa.make("ACC" if kt else "ABC", acc_row, s_x, s_res, 0))
    mlat = timing.mxm_latency(cfg)
    if not last:
        sch.take_stream(s_res, mxm, t_a, mlat, None, 4)
        return t_a, 0
    vlat = cfg.vxm_alus * timing.VXM_ALU_LATENCY
    sch.take_stream(s_res, mxm, t_a, mlat, "vxm", 4, "a", t_v1)
    sch.place("vxm", t_v1, isa.make("VOP", slots[0], 4, s_res, s_res, s_v1))
    sch.intents[("vxm", t_v1, "b")] = sch.intents[("vxm", t_v1, "a")]
    sch.take_stream(s_v1, "vxm", t_v1, vlat, "vxm", 4, "a", t_v2)
    sch.place("vxm", t_v2, isa.make("VOP", slots[1], 4, s_v1, s_v1, s_v2))
    sch.intents[("vxm", t_v2, "b")] = sch.intents[("vxm", t_v2, "a")]
    far = max(range(len(dsts)), key=lambda i: t_ws[i])
    sch.take_stream(s_v2, "vxm", t_v2, vlat, dsts[far], 4, "src", t_ws[far])
    for o, dst, t_w in zip(outs, dsts, t_ws):
        sch.intents[(dst, t_w, "src")] = [("vxm", t_v2)]
        y_addr = o.addr(r, nt)
        sch.place(dst, t_w, isa.make("WRITE", y_addr, s_v2))
        ready[(o.slice, y_addr)] = t_w + timing.MEM_WRITE_LATENCY
    return t_a, t_v2


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
