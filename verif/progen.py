"""Random legal programs for the whole chip.

:func:`random_case` builds a program that uses every instruction (weighted),
schedules every unit instruction on an exact cycle from the timing functions
of :mod:`openlpu.timing`, and never lets two values share a stream while
either is in flight, so every program computes something checkable: MEM
reads feed MEM writes, gathers and scatters (with in-range index vectors),
SXM ops (transposes included), VXM chains and reductions, and MXM weight
loads, installs and activations whose int32 results are written back to
SRAM. VOPs go to every VXM ALU column's queue (``vxm``, ``vxm1``, ...) with
chains of every length (``len`` 0 included), never into a column another
chain enters in that cycle. WRITEs and SCATTERs go to the slices' write queues (``mewN``), beside the
read queues' READs, GATHERs and SCRUBs: a slice may be read and written in one
cycle, and :func:`_overwrite` makes it so on purpose, the same address
included. The golden ISA simulator and the RTL must then agree on the final SRAM
windows, the status and the cycle count.

Layout of each slice's SRAM: data at ``[0, DATA)``, results written at
``[DATA, DATA + RESULT)``, index vectors (column addresses below ``DATA``) at
``[INDEX, INDEX + 8)``.
"""

from collections import Counter

import numpy as np

from openlpu import isa, timing
from openlpu.isa import make

__all__ = ["random_case", "misplaced_case", "DATA", "RESULT", "INDEX"]

DATA, RESULT, INDEX = 16, 24, 40


class _Schedule:
    """Cycle-exact placement of instructions on queues and values on streams."""

    def __init__(self, cfg, rng, start):
        self.cfg, self.rng = cfg, rng
        self.pos = timing.floorplan(cfg)
        self.q_busy = {q: set() for q in isa.queues(cfg)}
        self.at = {q: {} for q in isa.queues(cfg)}       # queue -> cycle -> Instr (or ("REPEAT", n, d))
        self.stream_busy = {}                             # (d, s) -> list of (t0, t1)
        self.start = start
        self.used = Counter()
        self.next_result = {s: DATA for s in range(cfg.mem_slices)}
        self.sxm_out = set()                              # cycles the SXM outputs in
        self.vxm_cols = set()                             # (ALU column, cycle) a VOP chain enters

    def position(self, q):
        return self.pos[isa.queue_slice(q)]

    def q_free(self, q, t, n=1):
        return all(c not in self.q_busy[q] for c in range(t, t + n))

    def put(self, q, t, ins, n=1, d=0):
        """``ins`` at cycle ``t``; ``n > 1`` repeats it with a REPEAT (address step ``d``)."""
        for c in range(t, t + n):
            self.q_busy[q].add(c)
        self.at[q][t] = (ins, n, d)
        self.used[ins.op.name] += 1
        if n > 1:
            self.used["REPEAT"] += 1

    def stream(self, direction, t0, t1, width=1):
        """A free stream group of ``width`` in ``direction`` for cycles ``[t0, t1]``, or ``None``."""
        cands = list(range(0, self.cfg.streams - width + 1))
        self.rng.shuffle(cands)
        for s in cands:
            if all(not any(a <= t1 and t0 <= b for a, b in self.stream_busy.get((direction, s + j), []))
                   for j in range(width)):
                for j in range(width):
                    self.stream_busy.setdefault((direction, s + j), []).append((t0, t1))
                return (direction, s)
        return None

    def arrival(self, q_from, t_out, q_to, direction):
        """Execute cycle at which ``q_to``'s unit can read a value ``q_from``'s unit outputs in ``t_out``."""
        delay = timing.stream_delay(self.position(q_from), self.position(q_to), direction)
        return None if delay is None else t_out + delay

    def direction(self, q_from, q_to):
        a, b = self.position(q_from), self.position(q_to)
        if a == b:
            return int(self.rng.integers(2))
        return 0 if b > a else 1

    def result_addr(self, s, n=1):
        a = self.next_result[s]
        if a + n > DATA + RESULT:
            return None
        self.next_result[s] = a + n
        return a


def _mem(cfg, rng):
    """A random slice's read queue."""
    return f"mem{int(rng.integers(cfg.mem_slices))}"


def _w(q):
    """The write queue of the slice whose read queue is ``q``."""
    return f"mew{q[3:]}"


def _transfer(sch, rng, producer, t_issue, lat, consumer, n=1, width=1):
    """Route a producer's output (issued at ``t_issue``, ``n`` consecutive values) to
    ``consumer``: returns (stream, consumer issue cycle) or None."""
    d = sch.direction(producer, consumer)
    t_out = t_issue + timing.ICU_DISPATCH_LATENCY + lat
    t_exec = sch.arrival(producer, t_out, consumer, d)
    if t_exec is None:
        return None
    t_ci = t_exec - timing.ICU_DISPATCH_LATENCY
    if not sch.q_free(consumer, t_ci, n):
        return None
    s = sch.stream(d, t_out, t_exec + n, width)
    if s is None:
        return None
    return s, t_ci


def _copy(sch, rng, t):
    """READ (maybe repeated) from one slice, WRITE into another's result area."""
    cfg = sch.cfg
    src, dst = _mem(cfg, rng), _w(_mem(cfg, rng))
    n = int(rng.integers(1, 4))
    if not sch.q_free(src, t, n):
        return False
    a = int(rng.integers(0, DATA - n + 1))
    b = sch.result_addr(int(dst[3:]), n)
    if b is None:
        return False
    r = _transfer(sch, rng, src, t, timing.MEM_READ_LATENCY, dst, n)
    if r is None:
        return False
    s, tc = r
    sch.put(src, t, make("READ", a, s), n, 1)
    sch.put(dst, tc, make("WRITE", b, s), n, 1)
    return True


def _gather(sch, rng, t):
    """READ an index vector, GATHER with it, WRITE the gathered vector."""
    cfg = sch.cfg
    qi, qg, qw = _mem(cfg, rng), _mem(cfg, rng), _w(_mem(cfg, rng))
    if qi == qg or not sch.q_free(qi, t):
        return False
    b = sch.result_addr(int(qw[3:]))
    if b is None:
        return False
    r1 = _transfer(sch, rng, qi, t, timing.MEM_READ_LATENCY, qg)
    if r1 is None:
        return False
    s1, tg = r1
    r2 = _transfer(sch, rng, qg, tg, timing.MEM_READ_LATENCY, qw)
    if r2 is None:
        sch.stream_busy[s1].pop()
        return False
    s2, tw = r2
    sch.put(qi, t, make("READ", INDEX + int(rng.integers(8)), s1))
    sch.put(qg, tg, make("GATHER", s1, s2))
    sch.put(qw, tw, make("WRITE", b, s2))
    return True


def _scatter(sch, rng, t):
    """READ an index vector and a data vector so that both reach a SCATTER in the same cycle."""
    cfg = sch.cfg
    qi, qd, qs = _mem(cfg, rng), _mem(cfg, rng), _w(_mem(cfg, rng))
    if qi == qd or not sch.q_free(qi, t):
        return False
    r1 = _transfer(sch, rng, qi, t, timing.MEM_READ_LATENCY, qs)
    if r1 is None:
        return False
    s1, tsc = r1
    # the data read must arrive in the same cycle: find its issue cycle
    d = sch.direction(qd, qs)
    delay = timing.stream_delay(sch.position(qd), sch.position(qs), d)
    td = None if delay is None else (tsc + timing.ICU_DISPATCH_LATENCY - delay - timing.MEM_READ_LATENCY
                                      - timing.ICU_DISPATCH_LATENCY)
    if td is None or td < sch.start or not sch.q_free(qd, td):
        sch.stream_busy[s1].pop()
        return False
    t_out = td + timing.ICU_DISPATCH_LATENCY + timing.MEM_READ_LATENCY
    s2 = sch.stream(d, t_out, tsc + 2)
    if s2 is None:
        sch.stream_busy[s1].pop()
        return False
    sch.put(qi, t, make("READ", INDEX + int(rng.integers(8)), s1))
    sch.put(qd, td, make("READ", int(rng.integers(DATA)), s2))
    sch.put(qs, tsc, make("SCATTER", s1, s2))
    return True


def _sxm(sch, rng, t):
    """READ -> an SXM lane op (or a whole transpose) -> WRITE."""
    cfg = sch.cfg
    lanes = cfg.lanes
    src, dst = _mem(cfg, rng), _w(_mem(cfg, rng))
    name = str(rng.choice(["PASS", "SHUP", "SHDN", "ROT", "PERM", "DIST", "SEL", "TRANS"],
                          p=[.08, .12, .12, .12, .14, .12, .15, .15]))
    n = lanes if name == "TRANS" else 1
    if not sch.q_free(src, t, n):
        return False
    b = sch.result_addr(int(dst[3:]), n)
    if b is None:
        return False
    r1 = _transfer(sch, rng, src, t, timing.MEM_READ_LATENCY, "sxm", n)
    if r1 is None:
        return False
    s1, tx = r1
    extra = {}
    if name in ("PERM", "SEL"):
        # the pattern/mask operands ride on the same stream as a (a permute of a by
        # itself, a select of a with itself by itself): no second route needed
        extra = {"b": s1} if name == "PERM" else {"b": s1, "c": s1}
    lat = timing.sxm_chip_latency(cfg)
    if name == "TRANS":
        # columns leave from 1 + SXM_LATENCY after the last row, for lanes cycles
        t_first_col = tx + timing.ICU_DISPATCH_LATENCY + (lanes - 1) + 1 + timing.sxm_chip_latency(cfg)
        d = sch.direction("sxm", dst)
        t_exec = sch.arrival("sxm", t_first_col, dst, d)
        tw = t_exec - timing.ICU_DISPATCH_LATENCY
        cols = set(range(t_first_col, t_first_col + lanes))
        ok = sch.q_free(dst, tw, lanes) and not cols & sch.sxm_out and sch.q_free("sxm", tx, lanes)
        s2 = sch.stream(d, t_first_col, t_exec + lanes) if ok else None
        if s2 is None:
            sch.stream_busy[s1].pop()
            return False
        sch.put(src, t, make("READ", int(rng.integers(0, DATA - lanes + 1)) if DATA >= lanes else 0, s1), n, 1)
        sch.put("sxm", tx, make("TRANS", s1, s2, 1))
        if lanes > 1:
            sch.put("sxm", tx + 1, make("TRANS", s1, s2, 0), lanes - 1, 0)
        sch.put(dst, tw, make("WRITE", b, s2), lanes, 1)
        sch.sxm_out |= cols
        return True
    t_lane_out = tx + timing.ICU_DISPATCH_LATENCY + lat
    if t_lane_out in sch.sxm_out:
        sch.stream_busy[s1].pop()
        return False
    r2 = _transfer(sch, rng, "sxm", tx, lat, dst)
    if r2 is None:
        sch.stream_busy[s1].pop()
        return False
    s2, tw = r2
    kmax = lanes if name in ("SHUP", "SHDN") else lanes - 1
    args = {"a": s1, "dst": s2, **extra}
    if name in ("SHUP", "SHDN", "ROT", "DIST"):
        args["k"] = int(rng.integers(0, kmax + 1))
    sch.put(src, t, make("READ", int(rng.integers(DATA)), s1))
    sch.put("sxm", tx, make(name, **args))
    sch.put(dst, tw, make("WRITE", b, s2))
    sch.sxm_out.add(t_lane_out)
    return True


def _vxm(sch, rng, t):
    """READ n planes (one per slice) -> VOP (or VRED) -> WRITE the n result planes."""
    cfg = sch.cfg
    kind = str(rng.choice(["VOP", "VRED", "VFUNC"], p=[0.55, 0.25, 0.2]))
    red = kind != "VOP"                 # VRED and VFUNC read and write 4-stream groups
    n = 4 if red else int(rng.choice([1, 2, 4]))
    if n > cfg.mem_slices:
        return False
    d = 0 if rng.random() < 0.5 else 1
    # the planes of a group come from slices upstream of the VXM; with fewer such
    # slices than planes, the top planes read whatever their streams carry
    up = [f"mem{i}" for i in rng.permutation(cfg.mem_slices)
          if timing.stream_delay(sch.pos[f"mem{i}"], sch.pos["vxm"], d) is not None]
    srcs = up[:n]
    if not srcs:
        return False
    delays = [timing.stream_delay(sch.position(q), sch.pos["vxm"], d) for q in srcs]
    t_exec = t + max(delays) + timing.ICU_DISPATCH_LATENCY + timing.MEM_READ_LATENCY
    issues = [t_exec - x - timing.MEM_READ_LATENCY - timing.ICU_DISPATCH_LATENCY for x in delays]
    if not all(sch.q_free(q, ti) for q, ti in zip(srcs, issues)):
        return False
    tv = t_exec - timing.ICU_DISPATCH_LATENCY
    col, length = _vop_chain(cfg, rng) if kind == "VOP" else (0, 0)
    queue = isa.vxm_column_queue(col)
    chain = set(timing.vop_chain_points(col, t_exec, max(length, 1)))
    if not sch.q_free(queue, tv) or (kind == "VOP" and chain & sch.vxm_cols):
        return False
    group = sch.stream(d, min(issues) + 1, t_exec + 1, n)
    if group is None:
        return False
    lat = {"VOP": timing.vop_latency(length), "VRED": timing.vred_chip_latency(cfg),
           "VFUNC": timing.VXM_FUNC_LATENCY}[kind]
    t_out = tv + timing.ICU_DISPATCH_LATENCY + lat
    d2 = int(rng.integers(2))
    down = [f"mew{i}" for i in rng.permutation(cfg.mem_slices)
            if timing.stream_delay(sch.pos["vxm"], sch.pos[f"mem{i}"], d2) is not None]
    dsts = down[:n]          # planes past the reachable slices are not written back
    arrivals = [timing.stream_delay(sch.pos["vxm"], sch.position(q), d2) for q in dsts]
    if not dsts:
        for j in range(n):
            sch.stream_busy[(d, group[1] + j)].pop()
        return False
    writes = [t_out + x - timing.ICU_DISPATCH_LATENCY for x in arrivals]
    addrs = [sch.result_addr(int(q[3:])) for q in dsts]
    if not all(sch.q_free(q, tw) for q, tw in zip(dsts, writes)) or None in addrs:
        for j in range(n):
            sch.stream_busy[(d, group[1] + j)].pop()
        return False
    out = sch.stream(d2, t_out, max(writes) + 2, n)
    if out is None:
        for j in range(n):
            sch.stream_busy[(d, group[1] + j)].pop()
        return False
    for j, (q, ti) in enumerate(zip(srcs, issues)):
        sch.put(q, ti, make("READ", int(rng.integers(DATA)), (d, group[1] + j)))
    if kind == "VRED":
        sch.put("vxm", tv, make("VRED", int(rng.choice(list(isa.VRED_OPS.values()))), group, out))
    elif kind == "VFUNC":
        sch.put("vxm", tv, make("VFUNC", int(rng.integers(4)), group, out))
    else:
        encoded = 0 if col + length == cfg.vxm_alus and rng.random() < 0.3 else length
        sch.put(queue, tv, make("VOP", int(rng.integers(isa.VXM_SLOTS)), n, group, group, out, encoded))
        sch.vxm_cols |= chain
    for j, (q, tw, b) in enumerate(zip(dsts, writes, addrs)):
        sch.put(q, tw, make("WRITE", b, (d2, out[1] + j)))
    return True


def _vop_chain(cfg, rng):
    """``(column, length)`` of a random VOP chain: any column, any length that fits."""
    col = int(rng.integers(cfg.vxm_alus))
    return col, int(rng.integers(1, cfg.vxm_alus - col + 1))


def _mxm(sch, rng, t):
    """Load a weight tile (READs -> LWs, :func:`_load_tile`), install it, stream activations
    (READ -> ABC/ACC) and write the int32 results (4 planes) back."""
    cfg = sch.cfg
    p = int(rng.integers(cfg.mxm_planes))
    qw, qa = f"mxw{p}", f"mxm{p}"
    t_iw = _load_tile(sch, rng, t, qw)
    if t_iw is None:
        return False
    # activations: a few rows, started then maybe accumulated
    row = int(rng.integers(cfg.mxm_acc_depth))
    started = False
    for k in range(int(rng.integers(1, 4))):
        asrc = _mem(cfg, rng)
        ta = t_iw + 1 + int(rng.integers(0, 4)) + 3 * k
        d = sch.direction(asrc, qa)
        delay = timing.stream_delay(sch.position(asrc), sch.position(qa), d)
        if delay is None:
            continue
        tr = ta + timing.ICU_DISPATCH_LATENCY - delay - timing.MEM_READ_LATENCY - timing.ICU_DISPATCH_LATENCY
        if tr < sch.start or not sch.q_free(asrc, tr) or not sch.q_free(qa, ta):
            continue
        t_out = ta + timing.ICU_DISPATCH_LATENCY + timing.mxm_chip_latency(cfg)
        dsts = [f"mew{i}" for i in rng.permutation(cfg.mem_slices)[:4]]
        if len(dsts) < 4:
            continue
        d2 = sch.direction(qa, dsts[0])
        arr = [timing.stream_delay(sch.position(qa), sch.position(q), d2) for q in dsts]
        if any(x is None for x in arr):
            continue
        writes = [t_out + x - timing.ICU_DISPATCH_LATENCY for x in arr]
        if not all(sch.q_free(q, tw) for q, tw in zip(dsts, writes)):
            continue
        s_in = sch.stream(d, tr + 1, ta + 2)
        if s_in is None:
            continue
        s_out = sch.stream(d2, t_out, max(writes) + 2, 4)
        if s_out is None:
            sch.stream_busy[s_in].pop()
            continue
        addrs = [sch.result_addr(int(q[3:])) for q in dsts]
        if None in addrs:
            return True
        sch.put(asrc, tr, make("READ", int(rng.integers(DATA)), s_in))
        sch.put(qa, ta, make("ACC" if started else "ABC", row, s_in, s_out, 0))
        started = True
        for j, (q, tw, b) in enumerate(zip(dsts, writes, addrs)):
            sch.put(q, tw, make("WRITE", b, (d2, s_out[1] + j)))
    return True


def _load_tile(sch, rng, t, qw):
    """READs from ``g * rows`` slices (``rows`` drawn from 1..mxm_load_rows, ``g`` 2 for an fp16
    LW, else 1), the earliest in cycle ``t``, onto one stream group, and ``LW 0, src, fp16,
    rows`` REPEATed with step ``mxm_load_rows`` over every row group that has ``rows`` rows
    left, then IW. Groups loaded partly keep the rest of their rows. The IW's cycle, or
    ``None`` (nothing placed)."""
    cfg, R = sch.cfg, sch.cfg.mxm_load_rows
    rows = int(rng.integers(1, R + 1))
    fp16 = int(rng.integers(2)) if 2 * rows <= cfg.mem_slices else 0
    srcs = [f"mem{i}" for i in rng.permutation(cfg.mem_slices)[:rows * (1 + fp16)]]
    n = (cfg.lanes - rows) // R + 1                         # LWs: groups g * R with g * R + rows <= lanes
    d = sch.direction(srcs[0], qw)
    delays = [timing.stream_delay(sch.position(q), sch.position(qw), d) for q in srcs]
    if DATA < n or None in delays:
        return None
    t_lw = t + timing.MEM_READ_LATENCY + max(delays)
    t_rd = [t_lw - timing.MEM_READ_LATENCY - x for x in delays]
    if not (all(sch.q_free(q, tr, n) for q, tr in zip(srcs, t_rd)) and sch.q_free(qw, t_lw, n + 1)):
        return None
    s = sch.stream(d, t + timing.ICU_DISPATCH_LATENCY + timing.MEM_READ_LATENCY, t_lw + n + 1, len(srcs))
    if s is None:
        return None
    for j, (q, tr) in enumerate(zip(srcs, t_rd)):
        sch.put(q, tr, make("READ", int(rng.integers(0, DATA - n + 1)), (d, s[1] + j)), n, 1)
    sch.put(qw, t_lw, make("LW", 0, s, fp16, rows), n, R)
    sch.put(qw, t_lw + n, make("IW"))
    return t_lw + n


def _to_result(sch, rng, q, t, avoid):
    """Route the word a READ on read queue ``q`` issued in ``t`` puts on a stream to a WRITE
    into the result area of a slice other than ``avoid``: ``(stream, write queue, cycle,
    address)`` with the stream reserved, or ``None``."""
    dst = _w(_mem(sch.cfg, rng))
    if dst == _w(avoid):
        return None
    b = sch.result_addr(int(dst[3:]))
    r = None if b is None else _transfer(sch, rng, q, t, timing.MEM_READ_LATENCY, dst)
    return None if r is None else (r[0], dst, r[1], b)


def _overwrite(sch, rng, t):
    """A slice read and written in one cycle: a READ from another slice feeds a WRITE of
    address ``b`` of slice ``s`` in cycle ``tw``, and ``s``'s read queue READs in ``tw`` too,
    mostly ``b`` itself (the old word), else a data address; half of the time it reads ``b``
    again ``MEM_WRITE_LATENCY`` later (the new word). What the reads return is written to other
    slices' result areas, so the final SRAM shows it."""
    cfg = sch.cfg
    y, s = _mem(cfg, rng), _mem(cfg, rng)
    b = sch.result_addr(int(s[3:]))
    if y == s or b is None or not sch.q_free(y, t):
        return False
    r = _transfer(sch, rng, y, t, timing.MEM_READ_LATENCY, _w(s))
    if r is None:
        return False
    s1, tw = r
    reads = [(tw, b if rng.random() < 0.7 else int(rng.integers(DATA)))]
    if rng.random() < 0.5:
        reads.append((tw + timing.MEM_WRITE_LATENCY, b))
    routes = []
    for tr, a in reads:
        route = _to_result(sch, rng, s, tr, s) if sch.q_free(s, tr) else None
        if route is None:
            for st in [s1] + [rt[0] for rt in routes]:
                sch.stream_busy[st].pop()
            return False
        routes.append(route)
    sch.put(y, t, make("READ", int(rng.integers(DATA)), s1))
    sch.put(_w(s), tw, make("WRITE", b, s1))
    for (tr, a), (st, dst, tc, c) in zip(reads, routes):
        sch.put(s, tr, make("READ", a, st))
        sch.put(dst, tc, make("WRITE", c, st))
    return True


def _config(sch, rng, t):
    words = isa.vxm_control_words(sch.cfg)
    if not sch.q_free("vxm", t):
        return False
    reg = int(rng.integers(isa.VXM_SLOTS * words))
    sch.put("vxm", t, make("CONFIG", reg, _vxm_word(sch.cfg, rng, reg % words)))
    return True


def _scrub(sch, rng, t):
    q = _mem(sch.cfg, rng)
    if not sch.q_free(q, t):
        return False
    sch.put(q, t, make("SCRUB", int(rng.integers(DATA))))
    return True


ACTIONS = [(_copy, 4), (_gather, 2), (_scatter, 2), (_sxm, 4), (_vxm, 3), (_mxm, 3), (_config, 0.4),
           (_scrub, 0.4), (_overwrite, 1.5)]


def random_case(cfg, rng, length=60, actions=None):
    """``(program, sram, used)``: a random legal program of about ``length`` cycles,
    the SRAM it starts from and the instruction-usage counter."""
    from openlpu.golden.vxm import random_programs  # noqa: F401  (op coverage comes from CONFIG words)
    queues = isa.queues(cfg)
    notifier = queues[int(rng.integers(len(queues)))]
    wait = int(rng.integers(1, 4))
    start = wait + 1                   # the first cycle after the release
    sch = _Schedule(cfg, rng, start)
    # the VXM slots are configured before any VOP can run
    words = isa.vxm_control_words(cfg)
    t = start
    for slot in range(isa.VXM_SLOTS):
        for w in range(words):
            sch.put("vxm", t, make("CONFIG", slot * words + w, _vxm_word(cfg, rng, w)))
            t += 1
    acts = actions or ACTIONS
    funcs, weights = zip(*acts)
    weights = np.array(weights, dtype=float) / sum(weights)
    tries = 0
    while tries < 6 * length:
        tries += 1
        t = start + int(rng.integers(0, length))
        funcs[int(rng.choice(len(funcs), p=weights))](sch, rng, t)
    program = {}
    for q in queues:
        words_ = []
        if q == notifier:
            words_ += [make("NOP", wait), make("NOTIFY")]
            sch.used["NOTIFY"] += 1
            sch.used["NOP"] += 1
            cur = start
        else:
            words_.append(make("SYNC"))
            sch.used["SYNC"] += 1
            cur = start
        for c in sorted(sch.at[q]):
            ins, n, d = sch.at[q][c]
            if c > cur:
                words_.append(make("NOP", c - cur))
                sch.used["NOP"] += 1
            words_.append(ins)
            if n > 1:
                words_.append(make("REPEAT", n - 1, d))
            cur = c + n
        words_.append(make("END"))
        sch.used["END"] += 1
        program[q] = words_
    sram = {}
    for s in range(cfg.mem_slices):
        for a in range(DATA):
            sram[(s, a)] = rng.integers(0, 256, cfg.lanes, dtype=np.uint8)
        for a in range(INDEX, INDEX + 8):
            idx = np.zeros(cfg.lanes, dtype=np.uint8)
            idx[0::8] = rng.integers(0, DATA + RESULT, cfg.lanes // 8)
            sram[(s, a)] = idx
    return program, sram, sch.used


def misplaced_case(cfg, rng, length=40):
    """``(program, sram, (queue, pc))``: a random legal program (:func:`random_case`) with one
    word after a queue's leading SYNC or NOP replaced by a unit instruction of the slice's other
    MEM queue (a WRITE or SCATTER in a read queue ``memN``, a READ, GATHER or SCRUB in a write
    queue ``mewN``); the run must stop on ILLEGAL_OPCODE at that queue and pc, the only error."""
    program, sram, _ = random_case(cfg, rng, length=length)
    queue = str(rng.choice([q for q in program if isa.queue_unit(q)[0] in (isa.Unit.MEM, isa.Unit.MEW)]))
    pc = int(rng.integers(1, len(program[queue])))
    reads = isa.queue_unit(queue)[0] is isa.Unit.MEM
    wrong = [make("WRITE", int(rng.integers(DATA)), (0, 0)), make("SCATTER", (0, 0), (0, 1))] if reads else \
        [make("READ", int(rng.integers(DATA)), (0, 0)), make("GATHER", (0, 0), (0, 1)), make("SCRUB", 0)]
    program[queue][pc] = wrong[int(rng.integers(len(wrong)))]
    return program, sram, (queue, pc)


def _vxm_word(cfg, rng, w):
    """A random CONFIG word; word 0 carries the element type in its low bits."""
    from openlpu.rtl.vxm import VxmControl
    layout = VxmControl(cfg)
    value = int(rng.integers(0, 1 << 32))
    if w == 0:
        et = layout["etype"]
        # keep the element type legal for the ALU chain
        from openlpu.golden.vxm import WIDTH
        legal = sorted(WIDTH)
        mask = ((1 << et.shape.width) - 1) << et.offset
        value = (value & ~mask) | (int(rng.choice(legal)) << et.offset)
    return value & 0xFFFFFFFF
