"""Placement on the MXM: weight tiles into a plane, activation rows and fp16 passes through it.

Every function finds the earliest cycle at which its instructions' queues, the streams along
their values' whole flights (:class:`~openlpu.compiler.scheduler.Scheduler`) and their data
(``ready``: (slice, addr) -> first cycle a READ sees it) are free, takes them, and places
the instructions:

* :func:`place_tile`: READs + LWs of one weight tile's rows on consecutive cycles, up to
  ``mxm_load_rows`` rows per LW (:func:`load_plan`);
* :func:`place_row`: one int8 activation row (READ, ABC/ACC) and, after the last input tile,
  its requantization on the VXM (two VOPs) and WRITEs to every copy of the output;
* :func:`place_pass16`: one fp16 pass (the READs of both byte planes, ABC/ACC) and, after the
  last K-tile, its conversion on the VXM (one VOP) and the WRITEs of its byte planes;
* :func:`plane_reads`: READs of two byte planes that reach a consumer together on adjacent
  streams.
"""

from typing import NamedTuple

from openlpu import isa, timing

__all__ = ["ANY", "load_plan", "place_tile", "place_row", "place_pass16", "plane_reads"]


#: An intent entry for a stream the consumer reads but whose value does not matter: an LW's row
#: slot that a later LW of the tile rewrites (:func:`load_plan`). The checker skips it.
ANY = ()


def load_plan(cfg, rows):
    """The LWs that load a tile's ``rows`` (row ``k``: ``[(slice, addr)]`` of its byte planes, one
    for int8, low and high for fp16) into shadow rows ``0 ..``: ``[(addr, count, {slot: planes})]``,
    each LW writing rows ``addr .. addr + count - 1`` with the true rows in the slots named.

    One READ per slice per cycle, so an LW's true rows come from distinct slices. A group of
    ``mxm_load_rows`` rows whose planes lie in distinct slices is one LW. Otherwise the group
    loads from its top down (:func:`_group_plan`). The LWs are in rounds: every group's first
    LW, then every group's second..., so equal LWs follow each other and fold into REPEAT."""
    R = cfg.mxm_load_rows
    groups = [_group_plan(rows, g0, min(R, len(rows) - g0)) for g0 in range(0, len(rows), R)]
    return [grp[j] for j in range(max(map(len, groups))) for grp in groups if j < len(grp)]


def _group_plan(rows, g0, n):
    """The LWs of rows ``g0 .. g0 + n - 1`` (:func:`load_plan`), top down: each LW's count is one
    past its highest row still to load, and it carries that row and, below it, every further
    row whose slices are still free; its other slots are junk that a later LW (a smaller
    count) rewrites, and a row it carries that a later LW would rewrite is loaded again there.
    Rows from one slice take one LW each."""
    plan, pending = [], set(range(n))
    while pending:
        used, good = set(), {}
        for r in sorted(pending, reverse=True):
            slices = {s for s, _ in rows[g0 + r]}
            if len(slices) < len(rows[g0 + r]):
                raise ValueError(f"weight row {g0 + r}: its byte planes {rows[g0 + r]} share a slice")
            if not slices & used:
                good[r] = rows[g0 + r]
                used |= slices
        rest = pending - set(good)
        below = max(rest) + 1 if rest else 0
        plan.append((g0, max(pending) + 1, good))
        pending = rest | {r for r in good if r < below}
    return plan


def place_tile(sch, cfg, p, rows, t_min, ready):
    """READs + LWs (:func:`load_plan`) of one weight tile's ``rows`` on consecutive cycles from
    ``t_min`` into plane ``p``, every READ after its row is written, all LWs on one stream group;
    ``(first LW cycle, LWs)``."""
    plan = load_plan(cfg, rows)
    g, mxw, lat = len(rows[0]), f"mxw{p}", timing.MEM_READ_LATENCY
    reads = [(i, slot * g + k, s, a) for i, (_, _, good) in enumerate(plan)
             for slot, planes in good.items() for k, (s, a) in enumerate(planes)]
    routes = {s: sch.route(f"mem{s}", 0, lat, mxw) for _, _, s, _ in reads}  # consumer issue relative to a READ at 0
    d = {rt[0] for rt in routes.values()}.pop()
    width = max(count for _, count, _ in plan) * g
    t0 = max(t_min, max(ready.get((s, a), 0) + routes[s][2] - i for i, _, s, a in reads))
    while True:
        st = _tile_streams(sch, cfg, plan, reads, routes, mxw, t0, d, width)
        if st is not None:
            break
        t0 += 1
    intents = {i: [ANY] * (count * g) for i, (_, count, _) in enumerate(plan)}
    for i, j, s, a in reads:
        q, t_rd = f"mem{s}", t0 + i - routes[s][2]
        sch.place(q, t_rd, isa.make("READ", a, (d, st + j)))
        sch.take_stream((d, st + j), q, t_rd, lat, mxw, 1, "src", t0 + i)
        intents[i][j] = (q, t_rd)
    for i, (addr, count, _) in enumerate(plan):
        sch.intents[(mxw, t0 + i, "src")] = intents[i]
        sch.place(mxw, t0 + i, isa.make("LW", addr, (d, st), int(g > 1), count))
    return t0, len(plan)


def _tile_streams(sch, cfg, plan, reads, routes, mxw, t0, d, width):
    """The first stream of a group of ``width`` that carries every READ of ``reads`` to the LWs
    of ``plan`` issued from ``t0`` on, when their queues are free then; else ``None``."""
    lat = timing.MEM_READ_LATENCY
    if not all(sch.free(mxw, t0 + i) for i in range(len(plan))):
        return None
    if not all(sch.free(f"mem{s}", t0 + i - routes[s][2]) for i, _, s, _ in reads):
        return None
    for st in range(cfg.streams - width + 1):
        if all(sch.streams.free(d, st + j, sch.position(f"mem{s}"),
                                t0 + i - routes[s][2] + timing.ICU_DISPATCH_LATENCY + lat, routes[s][1])
               for i, j, s, _ in reads):
            return st
    return None


class Requant(NamedTuple):
    """A row's two requantization VOPs: the result stream of the MXM ``s_res``; the first VOP
    on queue ``q1`` in ``t1`` onto stream ``s1``, the second on ``q2`` in ``t2`` onto ``s2``;
    the WRITE cycles ``t_ws``."""
    s_res: tuple
    q1: str
    t1: int
    s1: tuple
    q2: str
    t2: int
    s2: tuple
    t_ws: list


def place_row(sch, cfg, p, xp, outs, r, acc_row, kt, nt, KT, t_min, ready, slots, vop_ready, ones=None,
              xct=None, factors=None):
    """One activation row through plane ``p`` (and, after the last tile, through the VXM to
    every copy of the output), at the earliest cycle >= ``t_min``; returns (ABC cycle, last VOP cycle).
    ``slots``: the two VOPs' ``(slot, chain length)``.
    ``factors``: ``[(slice, addr)]`` of the fp16 per-channel factors' two byte planes (``rescale``),
    read so that they reach the second VOP as its operand ``b``."""
    src, mxm = f"mem{xp.slice}", f"mxm{p}"
    dsts = [f"mew{o.slice}" for o in outs]          # the WRITEs go to the slices' write queues
    x_addr = xp.addr(r, kt if xct is None else xct) if ones is None else ones.base
    last = kt == KT - 1
    lens = [n for _, n in slots] if last else None
    t_a, plan, b_reads = _take_row(sch, cfg, mxm, src, dsts, x_addr, t_min, lens, ready.get((xp.slice, x_addr), 0),
                                   vop_ready, factors)
    (t_rd, s_x), rq = plan
    sch.place(src, t_rd, isa.make("READ", x_addr, s_x))
    sch.place(mxm, t_a, isa.make("ACC" if kt else "ABC", acc_row, s_x, rq.s_res, 0))
    if not last:
        return t_a, 0
    _place_requant(sch, slots, rq, b_reads)
    for o, dst, t_w in zip(outs, dsts, rq.t_ws):
        sch.intents[(dst, t_w, "src")] = [(rq.q2, rq.t2)]
        y_addr = o.addr(r, nt)
        sch.place(dst, t_w, isa.make("WRITE", y_addr, rq.s2))
        ready[(o.slice, y_addr)] = t_w + timing.MEM_WRITE_LATENCY
    return t_a, rq.t2


def _take_row(sch, cfg, mxm, src, dsts, x_addr, t_a, lens, x_ready, vop_ready, factors):
    """The earliest activation cycle >= ``t_a`` of a row whose streams (and, with ``factors`` on
    the last tile, the factors' reads) are free: ``(cycle, plan of _try_row, factor reads)``,
    the streams taken. ``lens``: the requantization VOPs' chain lengths (``None``: not the
    last tile, no VOPs)."""
    lat_m, mlat = timing.MEM_READ_LATENCY, timing.mxm_chip_latency(cfg)
    while True:
        plan = _try_row(sch, cfg, mxm, src, dsts, x_addr, t_a, lens, x_ready, vop_ready)
        if plan is not None:
            (t_rd, s_x), rq = plan
            sch.checkpoint()
            sch.take_stream(s_x, src, t_rd, lat_m, mxm, 1, "src", t_a)
            if lens is None:
                sch.take_stream(rq.s_res, mxm, t_a, mlat, None, 4)
            else:
                sch.take_stream(rq.s_res, mxm, t_a, mlat, rq.q1, 4, "a", rq.t1)
                sch.take_stream(rq.s1, rq.q1, rq.t1, timing.vop_latency(lens[0]), rq.q2, 4, "a", rq.t2)
                far = max(range(len(dsts)), key=lambda i: rq.t_ws[i])
                sch.take_stream(rq.s2, rq.q2, rq.t2, timing.vop_latency(lens[1]), dsts[far], 4, "src",
                                rq.t_ws[far])
            busy = {(src, t_rd), *zip(dsts, rq.t_ws)}
            b_reads = _factor_reads(sch, cfg, factors, rq.q2, rq.t2, busy) if lens and factors else None
            if not (lens and factors) or b_reads:
                sch.commit()
                return t_a, plan, b_reads
            sch.rollback()
        t_a += 1


def _place_requant(sch, slots, rq, b_reads):
    """The two VOPs of a row's requantization (``slots``: ``(slot, chain length)`` of each; the
    plan ``rq``); with ``b_reads`` (the factors' READs) the second one's operand ``b`` is the
    factor vector."""
    (sa, la), (sb, lb) = slots
    sch.place(rq.q1, rq.t1, isa.make("VOP", sa, 4, rq.s_res, rq.s_res, rq.s1, la))
    sch.intents[(rq.q1, rq.t1, "b")] = sch.intents[(rq.q1, rq.t1, "a")]
    if b_reads:
        group = b_reads[0][2]
        for q, t, grp, addr in b_reads:
            sch.place(q, t, isa.make("READ", addr, grp))
        sch.intents[(rq.q2, rq.t2, "a")] = sch.intents[(rq.q2, rq.t2, "a")][:2]    # VOP 2 reads two planes
        sch.place(rq.q2, rq.t2, isa.make("VOP", sb, 2, rq.s1, group, rq.s2, lb))
    else:
        sch.place(rq.q2, rq.t2, isa.make("VOP", sb, 4, rq.s1, rq.s1, rq.s2, lb))
        sch.intents[(rq.q2, rq.t2, "b")] = sch.intents[(rq.q2, rq.t2, "a")]


def plane_reads(sch, cfg, planes, consumer, t_c, field_name, busy=(), ready=None, hint=None):
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


def _factor_reads(sch, cfg, factors, q_v2, t_v2, busy):
    """READs of the two byte planes ``factors`` that reach the VXM for the VOP issued on queue
    ``q_v2`` in ``t_v2`` as its operand ``b`` (:func:`plane_reads`)."""
    return plane_reads(sch, cfg, factors, q_v2, t_v2, "b", busy)


def _try_row(sch, cfg, mxm, src, dsts, x_addr, t_a, lens, x_ready, vop_ready):
    """The READ cycle and stream of a row activated in ``t_a`` and, on the last tile (``lens``,
    the VOPs' chain lengths, given), its VOPs' queues and cycles, result streams and WRITE
    cycles: ``((t_rd, s_x), Requant)``, or ``None``. Nothing is taken; the streams found
    become the next hints."""
    lat_m = timing.MEM_READ_LATENCY
    _, _, rel = sch.route(src, 0, lat_m, mxm)
    t_rd = t_a - rel
    if t_rd < x_ready or not sch.free(src, t_rd) or not sch.free(mxm, t_a):
        return None
    hints = sch.hints
    s_x = sch.find_stream(src, t_rd, lat_m, mxm, hint=hints.get(("x", mxm)))
    if s_x is None:
        return None
    mlat = timing.mxm_chip_latency(cfg)
    if lens is None:
        s_res = sch.find_stream(mxm, t_a, mlat, None, 4, hint=hints.get(("res", mxm)))
        if s_res is None:
            return None
        hints.update({("x", mxm): s_x, ("res", mxm): s_res})
        return (t_rd, s_x), Requant(s_res, None, 0, None, None, 0, None, [])
    lat1, lat2 = map(timing.vop_latency, lens)
    _, _, t_v1 = sch.route(mxm, t_a, mlat, "vxm")
    t_v2 = t_v1 + lat1 + timing.stream_delay(0, 0, 0)
    t_ws = [sch.route("vxm", t_v2, lat2, d)[2] for d in dsts]
    cols = sch.vxm_columns([(t_v1, lens[0]), (t_v2, lens[1])], high_first=False) if t_v1 >= vop_ready else None
    if cols is None or not all(sch.free(d, t_w) for d, t_w in zip(dsts, t_ws)):
        return None
    q1, q2 = map(isa.vxm_column_queue, cols)
    far = max(range(len(dsts)), key=lambda i: t_ws[i])
    s_res = sch.find_stream(mxm, t_a, mlat, q1, 4, hint=hints.get(("res", mxm)))
    s_v1 = sch.find_stream(q1, t_v1, lat1, q2, 4, hint=hints.get("v1"))
    s_v2 = sch.find_stream(q2, t_v2, lat2, dsts[far], 4, hint=hints.get("v2"))
    if None in (s_res, s_v1, s_v2):
        return None
    hints.update({("x", mxm): s_x, ("res", mxm): s_res, "v1": s_v1, "v2": s_v2})
    return (t_rd, s_x), Requant(s_res, q1, t_v1, s_v1, q2, t_v2, s_v2, t_ws)


def place_pass16(sch, cfg, p, xslices, x_addr, acc_row, kt, t_min, ready, slot, vop_ready, writes):
    """One fp16 pass of an activation vector (its two byte planes at ``x_addr`` of ``xslices``)
    through plane ``p`` at the earliest cycle >= ``t_min``: ABC for ``kt = 0``, ACC after. With
    ``writes`` (the layer's last pass: ``[(slice, addr, byte plane)]``) the fp32 result goes
    through the VXM (``slot``: its ``(slot, chain length)``, to fp16 [, ReLU]) into them.
    Returns (pass cycle, VOP cycle)."""
    mxm, lat_m = f"mxm{p}", timing.MEM_READ_LATENCY
    rels = [sch.route(f"mem{s}", 0, lat_m, mxm)[2] for s in xslices]
    t_a = max(t_min, max(ready.get((s, x_addr), 0) + rel for s, rel in zip(xslices, rels)))
    hints = sch.hints
    while True:
        plan = _try_pass16(sch, cfg, mxm, xslices, x_addr, t_a, ready, (slot[1], vop_ready), writes, hints)
        if plan is not None:
            break
        t_a += 1
    reads, s_res, (q_v, t_v), s_v, t_ws = plan
    for q, t, grp, addr in reads:
        sch.place(q, t, isa.make("READ", addr, grp))
    sch.place(mxm, t_a, isa.make("ACC" if kt else "ABC", acc_row, reads[0][2], s_res, 1))
    if not writes:
        return t_a, 0
    sch.place(q_v, t_v, isa.make("VOP", slot[0], 4, s_res, s_res, s_v, slot[1]))
    sch.intents[(q_v, t_v, "b")] = sch.intents[(q_v, t_v, "a")]
    for (sl, addr, k), t_w in zip(writes, t_ws):
        q = f"mew{sl}"
        sch.intents[(q, t_w, "src")] = [(q_v, t_v)]
        sch.place(q, t_w, isa.make("WRITE", addr, (s_v[0], s_v[1] + k)))
        ready[(sl, addr)] = t_w + timing.MEM_WRITE_LATENCY
    return t_a, t_v


def _try_pass16(sch, cfg, mxm, xslices, x_addr, t_a, ready, vop, writes, hints):
    """The reads, result streams, VOP (queue, cycle) and write cycles of a pass in ``t_a``
    (taken), or ``None``. ``vop``: the VOP's chain length and first possible cycle."""
    (length, vop_ready), mlat = vop, timing.mxm_chip_latency(cfg)
    vlat = timing.vop_latency(length)
    if not sch.free(mxm, t_a):
        return None
    q_v, t_v, t_ws, busy = None, None, [], set()
    if writes:
        t_v = sch.route(mxm, t_a, mlat, "vxm")[2]
        cols = sch.vxm_columns([(t_v, length)], high_first=False) if t_v >= vop_ready else None
        if cols is None:
            return None
        q_v = isa.vxm_column_queue(cols[0])
        t_ws = [sch.route(q_v, t_v, vlat, f"mew{sl}")[2] for sl, _, _ in writes]
        busy = {(f"mew{sl}", t) for (sl, _, _), t in zip(writes, t_ws)}
        if len(busy) < len(writes) or not all(sch.free(q, t) for q, t in busy):
            return None
    sch.checkpoint()
    reads = plane_reads(sch, cfg, [(s, x_addr) for s in xslices], mxm, t_a, "src", busy, ready,
                         hints.get(("x16", mxm)))
    s_res = s_v = None
    if reads is not None and not writes:
        s_res = sch.find_stream(mxm, t_a, mlat, None, 4, hint=hints.get(("res", mxm)))
        if s_res is not None:
            sch.take_stream(s_res, mxm, t_a, mlat, None, 4)
    elif reads is not None:
        far = max(range(len(writes)), key=lambda i: t_ws[i])
        s_res = sch.find_stream(mxm, t_a, mlat, q_v, 4, hint=hints.get(("res", mxm)))
        if s_res is not None:
            sch.take_stream(s_res, mxm, t_a, mlat, q_v, 4, "a", t_v)
            s_v = sch.find_stream(q_v, t_v, vlat, f"mew{writes[far][0]}", 4, hint=hints.get("v16"))
            if s_v is not None:
                sch.take_stream(s_v, q_v, t_v, vlat, f"mew{writes[far][0]}", 4, "src", t_ws[far])
    if reads is None or s_res is None or (writes and s_v is None):
        sch.rollback()
        return None
    sch.commit()
    hints.update({("x16", mxm): reads[0][2], ("res", mxm): s_res})
    if s_v is not None:
        hints["v16"] = s_v
    return reads, s_res, (q_v, t_v), s_v, t_ws
