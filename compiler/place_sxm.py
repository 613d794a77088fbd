"""Placement on the SXM: transposes (TRANS) and lane shifts (SHDN) between SRAM vectors.

* :func:`place_transpose`: a tensor's transpose, one ``lanes x lanes`` tile at a time, its
  rows READ on consecutive cycles into TRANS and its columns written to every copy of the
  result;
* :func:`place_shift`: READ -> SHDN -> WRITE of one vector, moving its lanes down (the fp16
  K-tile layout, :mod:`.layers`).

Both take the earliest cycles at which the queues, the streams and the SXM's output cycles
(``Scheduler.sxm_out``) are free and the source data is written.
"""

from openlpu import isa, timing

__all__ = ["place_transpose", "place_shift"]


def place_transpose(sch, cfg, xp, outs, ready, zero):
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
                t_issue = t_first_col + j - timing.ICU_DISPATCH_LATENCY - timing.sxm_chip_latency(cfg)
                far_t = far[2] + j
                sch.take_stream(s_out, "sxm", t_issue, timing.sxm_chip_latency(cfg), far[0], 1, "src", far_t)
                # the column's producer is the tile's last row (the intent names that TRANS)
                for q, o, t_w in writes:
                    sch.intents[(q, t_w + j, "src")] = [("sxm", t0 + L - 1)]
                    sch.place(q, t_w + j, isa.make("WRITE", o.addr(ct * L + j, rt), s_out))
                    ready[(o.slice, o.addr(ct * L + j, rt))] = t_w + j + timing.MEM_WRITE_LATENCY


def _try_transpose(sch, cfg, src, addrs, cols, outs, rt, ct, t0, delay, d_in, hops_in):
    """For a tile whose first TRANS issues in ``t0``: ``(input stream, output stream, cycle the
    first column leaves the SXM, [(queue, output place, first WRITE cycle)])``, or ``None``.
    Nothing is taken."""
    L = cfg.lanes
    lat = timing.MEM_READ_LATENCY
    if t0 - delay < 0 or not all(sch.free(src, t0 - delay + i) and sch.free("sxm", t0 + i) for i in range(L)):
        return None
    # the last row executes in t0 + L; column j leaves 1 + SXM_LATENCY + j cycles later
    t_first_col = t0 + L - 1 + timing.ICU_DISPATCH_LATENCY + 1 + timing.sxm_chip_latency(cfg)
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
        q = f"mew{o.slice}"                              # the slice's write queue
        t_w = sch.route("sxm", t_first_col - timing.ICU_DISPATCH_LATENCY - timing.sxm_chip_latency(cfg),
                        timing.sxm_chip_latency(cfg), q)[2]
        if not all(sch.free(q, t_w + j) for j in cols):
            return None
        writes.append((q, o, t_w))
    far = max(writes, key=lambda w: w[2])
    d_out, hops_out, _ = sch.route("sxm", 0, timing.sxm_chip_latency(cfg), far[0])
    for s in range(cfg.streams):
        ok = all(sch.streams.free(d_out, s, sch.position("sxm"), t_first_col + j, hops_out) for j in cols)
        if ok and (d_out, s) != s_in:
            return s_in, (d_out, s), t_first_col, writes
    return None


def place_shift(sch, cfg, src, k, dst, ready):
    """READ the vector ``src`` = (slice, addr), move its lanes down by ``k`` on the SXM (SHDN)
    and WRITE it to ``dst`` = (slice, addr), at the earliest cycles after ``src`` is written."""
    lat = timing.MEM_READ_LATENCY
    q_s, q_d = f"mem{src[0]}", f"mew{dst[0]}"          # read queue, write queue
    rel = sch.route(q_s, 0, lat, "sxm")[2]
    t = ready.get(src, 0) + rel                         # the SHDN's issue cycle
    while True:
        t_rd, t_w = t - rel, sch.route("sxm", t, timing.sxm_chip_latency(cfg), q_d)[2]
        t_out = t + timing.ICU_DISPATCH_LATENCY + timing.sxm_chip_latency(cfg)
        if sch.free(q_s, t_rd) and sch.free("sxm", t) and sch.free(q_d, t_w) and t_out not in sch.sxm_out:
            s_in = sch.find_stream(q_s, t_rd, lat, "sxm", hint=sch.hints.get("shift_in"))
            s_out = sch.find_stream("sxm", t, timing.sxm_chip_latency(cfg), q_d, hint=sch.hints.get("shift_out"))
            if s_in is not None and s_out is not None:
                break
        t += 1
    sch.take_stream(s_in, q_s, t_rd, lat, "sxm", 1, "a", t)
    sch.take_stream(s_out, "sxm", t, timing.sxm_chip_latency(cfg), q_d, 1, "src", t_w)
    sch.hints.update({"shift_in": s_in, "shift_out": s_out})
    sch.sxm_out.add(t_out)
    sch.place(q_s, t_rd, isa.make("READ", src[1], s_in))
    sch.place("sxm", t, isa.make("SHDN", k=k, a=s_in, dst=s_out))
    sch.place(q_d, t_w, isa.make("WRITE", dst[1], s_out))
    ready[dst] = t_w + timing.MEM_WRITE_LATENCY
