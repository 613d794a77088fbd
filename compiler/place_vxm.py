"""Placement on the VXM: one vector of a row through a softmax, layer-norm or GELU tree.

The tree (:func:`openlpu.compiler.rowops.placed_tree`) fixes every node's issue cycle relative
to its root; :func:`place_rowop` finds the earliest root cycle at which all of them get VXM
columns (:meth:`.scheduler.Scheduler.vxm_columns`) and the READs of the input (from any copy),
the WRITEs to every copy of the output and all the stream flights between them are free.
"""

from openlpu import isa, timing

from .rowops import column_items, instruction as rowop_instruction

__all__ = ["place_rowop"]


def place_rowop(sch, cfg, root, offs, xps, outs, r, ct, t_min, ready):
    """Vector ``ct`` of row ``r`` through a softmax / layer-norm / GELU tree (:mod:`.rowops`) and
    into every copy of the output, at the earliest root cycle >= ``t_min``; the root's cycle."""
    lat = timing.MEM_READ_LATENCY
    rel = {x.slice: sch.route(f"mem{x.slice}", 0, lat, "vxm")[2] for x in xps}
    ready_at = min(ready.get((x.slice, x.addr(r, ct)), 0) + rel[x.slice] for x in xps)
    t = max(t_min, ready_at - min(offs.values()))
    limit = _last_try(sch, offs, ready, rel, t)
    while not _try_rowop(sch, cfg, root, offs, xps, outs, r, ct, t, ready, rel):
        t += 1
        if t > limit:
            raise ValueError(f"row {r} vector {ct}: the VXM tree {root!r} finds no free streams even "
                             f"past every booked cycle (root cycle {limit}); its flights need more streams "
                             f"than the chip has in one cycle")
    return t


def _last_try(sch, offs, ready, rel, t):
    """A root cycle past which the tree meets nothing booked and no data still to come, so a
    root cycle that fails there fails in every later one."""
    booked = max((max(b) for b in sch.busy.values() if b), default=0)
    data = max(ready.values(), default=0) + max(rel.values())
    span = max(offs.values()) - min(offs.values())
    return max(t, booked - min(offs.values()), data - min(offs.values())) + span + 64


def _try_rowop(sch, cfg, root, offs, xps, outs, r, ct, T, ready, rel):
    """Place the tree with its root in cycle ``T`` if everything it needs is free; whether it was."""
    cols = sch.vxm_columns(column_items(offs, cfg, T))
    if cols is None:
        return False
    qs = {node: isa.vxm_column_queue(k) for node, k in zip(offs, cols)}
    vlat = root.latency(cfg)
    dsts = [f"mew{o.slice}" for o in outs]          # the WRITEs go to the slices' write queues
    t_ws = [sch.route(qs[root], T, vlat, q)[2] for q in dsts]
    taken = set(zip(dsts, t_ws))
    if not all(sch.free(q, t) for q, t in taken):
        return False
    reads = _pick_reads(sch, offs, xps, r, ct, T, ready, rel, taken)
    if reads is None:
        return False
    sch.checkpoint()
    instrs = _take_streams(sch, cfg, root, offs, qs, T, reads, dsts, t_ws)
    if instrs is None:
        sch.rollback()
        return False
    sch.commit()
    for q, t_w, o in zip(dsts, t_ws, outs):
        sch.intents[(q, t_w, "src")] = [(qs[root], T)]
        sch.place(q, t_w, isa.make("WRITE", o.addr(r, ct), instrs[root][2]))
        ready[(o.slice, o.addr(r, ct))] = t_w + timing.MEM_WRITE_LATENCY
    for node, f, x, t_rd in reads:
        sch.place(f"mem{x.slice}", t_rd, isa.make("READ", x.addr(r, ct), instrs[node]["ab".index(f)]))
    for node, t_node in offs.items():
        a, b, dst = instrs[node]
        q = qs[node]
        if node.kind == "vop" and node.b is None:
            b = a
            sch.intents[(q, T + t_node, "b")] = sch.intents[(q, T + t_node, "a")]
        sch.place(q, T + t_node, rowop_instruction(node, 0, a, b, dst))
    return True


def _pick_reads(sch, offs, xps, r, ct, T, ready, rel, taken):
    """Each input read of the tree (root in ``T``): from the copy whose slice is free when the
    read must issue, the copies taken in turn; ``[(consumer node, field, place, read cycle)]``
    (their cycles added to ``taken``), or ``None``."""
    reads, k = [], 0
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
                return None
            taken.add((q, t_rd))
            reads.append((node, f, x, t_rd))
            k += 1
    return reads


def _take_streams(sch, cfg, root, offs, qs, T, reads, dsts, t_ws):
    """Take the streams of the tree's flights (each node issued by its queue ``qs[node]``): the
    input reads, every node's result to its parent, the root's result past every output copy.
    ``{node: [a group, b group, dst group]}``, or ``None`` when one is not free (the caller
    rolls back)."""
    lat = timing.MEM_READ_LATENCY
    instrs = {}
    for node, f, x, t_rd in reads:
        src = f"mem{x.slice}"
        d, hops, _ = sch.route(src, 0, lat, "vxm")
        grp = next(((d, s) for s in range(cfg.streams - 3)
                    if sch.streams.free(d, s, sch.position(src), t_rd + timing.ICU_DISPATCH_LATENCY + lat, hops)),
                   None)
        if grp is None:
            return None
        sch.take_stream(grp, src, t_rd, lat, qs[node], 1, f, T + offs[node])
        instrs.setdefault(node, [None, None, None])["ab".index(f)] = grp
    for node, t_node in offs.items():
        for f in ("a", "b"):
            child = getattr(node, f)
            if child is None or child.kind == "read":
                continue
            t_c = T + offs[child]
            grp = sch.find_stream(qs[child], t_c, child.latency(cfg), qs[node], 4)
            if grp is None:
                return None
            sch.take_stream(grp, qs[child], t_c, child.latency(cfg), qs[node], 4, f, T + t_node)
            instrs.setdefault(node, [None, None, None])["ab".index(f)] = grp
            instrs.setdefault(child, [None, None, None])[2] = grp
    far = max(range(len(dsts)), key=lambda i: t_ws[i])
    grp = sch.find_stream(qs[root], T, root.latency(cfg), dsts[far], 4)
    if grp is None:
        return None
    sch.take_stream(grp, qs[root], T, root.latency(cfg), dsts[far], 4, "src", t_ws[far])
    instrs[root][2] = grp
    return instrs
