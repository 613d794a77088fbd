"""Cycle-exact placement of instructions on queues and of values on streams.

The compiler decides on which cycle every instruction issues and which
stream carries every value; :class:`Scheduler` keeps the books so that no
two instructions share a queue cycle and no value is overwritten in flight.

Stream model (exact, from :func:`openlpu.timing.stream_delay`): a value a
unit outputs in cycle ``u`` at position ``p`` sits in the stream register at
``p`` in cycle ``u + 1`` and one position further each cycle. It is *in
flight* on the points ``(direction, stream, position, cycle)`` from its write
to its consumer. A write at ``(p, u + 1)`` replaces whatever is in that
register, so a write point may not be another value's flight point, and a
value's flight may not cross another's write point. Values nobody reads (an
MXM partial sum) only reserve their write point.

Every placed read records its *intent* — which instruction's output it must
see, on a stream or (for a ``READ``) in SRAM — so
:func:`openlpu.compiler.runtime.check_schedule` can compare the schedule with
what the golden ISA simulator actually delivers.

The placement passes (:mod:`.place_mxm`, :mod:`.place_vxm`, :mod:`.place_sxm`)
decide cycles and streams on these books; :meth:`Scheduler.program` turns them
into a queue's instructions (:mod:`.emit`).

VXM model: one queue per ALU column (:func:`openlpu.isa.vxm_column_queue`). A VOP issued
in cycle ``t`` by column ``k``'s queue with a chain of ``len`` ALUs occupies column ``k + i``
in cycle ``t + i * VXM_ALU_LATENCY`` for ``i < len`` (:func:`chain_points`); the
books hold every such point, and a VOP may issue only where its own chain meets none of
them (a VOP on a column a chain enters in its cycle stops the chip with VXM_FAULT).
:func:`assign_columns` picks the columns of VXM instructions that are placed together.
"""

from dataclasses import dataclass, field

from openlpu import isa, timing

__all__ = ["Scheduler", "Placement", "assign_columns", "chain_points"]


@dataclass
class Placement:
    queue: str
    cycle: int
    instr: isa.Instr


@dataclass
class _Streams:
    cfg: object
    flight: dict = field(default_factory=dict)     # (d, s, p, t) -> owner
    writes: dict = field(default_factory=dict)     # (d, s, p, t) -> owner
    journal: list = None                           # (dict, key) added since a checkpoint

    def path(self, d, s, p0, u, hops):
        step = 1 if d == 0 else -1
        return [(d, s, p0 + k * step, u + 1 + k) for k in range(hops + 1)]

    def free(self, d, s, p0, u, hops, read=True):
        pts = self.path(d, s, p0, u, hops if read else 0)
        if pts[0] in self.flight or pts[0] in self.writes:
            return False
        return all(pt not in self.writes for pt in pts)

    def take(self, d, s, p0, u, hops, owner, read=True):
        assert self.free(d, s, p0, u, hops, read), f"stream {'ew'[d]}{s} is not free for {owner}"
        pts = self.path(d, s, p0, u, hops if read else 0)
        self.writes[pts[0]] = owner
        for pt in pts:
            self.flight[pt] = owner
        if self.journal is not None:
            self.journal += [(self.writes, pts[0])] + [(self.flight, pt) for pt in pts]


class Scheduler:
    """Books of one program: queue cycles, stream points, placed instructions, read intents."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.pos = timing.floorplan(cfg)
        self._queue_pos = {q: self.pos[isa.queue_slice(q)] for q in isa.queues(cfg)}
        self._queue_unit = {q: isa.queue_unit(q) for q in isa.queues(cfg)}
        self.busy = {q: set() for q in isa.queues(cfg)}
        self.placed = {q: {} for q in isa.queues(cfg)}
        self.streams = _Streams(cfg)
        self.intents = {}       # (consumer queue, cycle, field) -> [(producer queue, cycle) per plane]
        self.hints = {}         # flow -> the stream it used last (tried first, so runs fold into REPEAT)
        self.sxm_out = set()    # cycles in which the SXM outputs a transposed column
        self.writer = {}        # (slice, addr) -> (queue, cycle) of the WRITE that stores it in this program
        self.chains = {}        # (VXM column, cycle) -> (queue, cycle) of the VOP whose chain is there

    # --- queues ------------------------------------------------------------------------
    def position(self, q):
        """The floorplan position of queue ``q``'s unit (a MEM slice's two queues share one)."""
        return self._queue_pos[q]

    def placed_any(self):
        return any(self.placed.values())

    def free(self, q, t):
        return t >= 0 and t not in self.busy[q]

    def place(self, q, t, instr):
        """Issue ``instr`` on queue ``q`` in cycle ``t``; it must belong there (a MEM slice's
        READs on ``memN``, its WRITEs on ``mewN``, so a slice is read and written in one
        cycle). A ``READ`` also records its intent: the ``WRITE`` of this program that stores
        its word, if that WRITE issued ``MEM_WRITE_LATENCY`` or more cycles before it (a READ in
        the WRITE's own cycle sees the old word), or none: data loaded before the run."""
        assert self.free(q, t), f"{q} is busy in cycle {t}"
        unit, index = self._queue_unit[q]
        assert instr.op.unit in (isa.Unit.CTRL, unit), f"{instr.op.name} does not belong in queue {q}"
        if instr.op.name == "VOP":
            self._book_chain(q, t, instr)
        self.busy[q].add(t)
        self.placed[q][t] = instr
        if instr.op.name in ("READ", "WRITE"):
            key = (index, instr["addr"])
            if instr.op.name == "WRITE":
                assert key not in self.writer, f"slice {key[0]} address {key[1]} is written twice"
                self.writer[key] = (q, t)
            else:
                w = self.writer.get(key)
                seen = w is not None and w[1] + timing.MEM_WRITE_LATENCY <= t
                self.intents[(q, t, "mem")] = [w if seen else None]
        return Placement(q, t, instr)

    # --- VXM columns ---------------------------------------------------------------------
    def vxm_booked(self, column, t):
        """Whether VXM column ``column`` is taken in cycle ``t``: a chain is there, or its queue
        issues then (``t`` < 0 counts as taken)."""
        return (column, t) in self.chains or not self.free(isa.vxm_column_queue(column), t)

    def vxm_columns(self, items, high_first=True):
        """Columns for VXM instructions placed together, ``[(cycle, chain length or None)]``
        (``None``: a VRED, VFUNC or CONFIG, only on column 0): :func:`assign_columns` on
        these books, or ``None``."""
        return assign_columns(self.cfg, items, self.vxm_booked, high_first)

    def _book_chain(self, q, t, instr):
        column = self._queue_unit[q][1]
        pts = chain_points(column, t, len(isa.vop_columns(self.cfg, column, instr)))
        taken = [pt for pt in pts if pt in self.chains]
        assert not taken, (f"VOP on {q} in cycle {t}: its chain meets the chain of the VOP on "
                           f"{self.chains[taken[0]][0]} in cycle {self.chains[taken[0]][1]} at "
                           f"(column, cycle) {taken[0]}")
        for pt in pts:
            self.chains[pt] = (q, t)

    # --- streams -----------------------------------------------------------------------
    def route(self, producer, t_issue, latency, consumer, width=1):
        """The issue cycle of ``consumer`` that reads ``producer``'s output, for the direction
        the floorplan allows; ``(direction, hops, consumer issue cycle)`` or ``None``."""
        a, b = self.position(producer), self.position(consumer)
        d = 0 if b >= a else 1
        hops = abs(b - a)
        t_out = t_issue + timing.ICU_DISPATCH_LATENCY + latency
        t_exec = t_out + timing.stream_delay(a, b, d)
        return d, hops, t_exec - timing.ICU_DISPATCH_LATENCY

    def find_stream(self, producer, t_issue, latency, consumer=None, width=1, direction=None, hint=None):
        """A stream group free for the flight of ``producer``'s output to ``consumer``
        (or for its write only, when nobody reads it): ``(d, s)`` or ``None``. The
        ``hint`` stream is tried first, so that runs of instructions stay identical
        and fold into REPEAT. A consumer at the producer's own position (no hop) reads
        either direction's stream there: the westward streams are tried after the eastward."""
        a = self.position(producer)
        t_out = t_issue + timing.ICU_DISPATCH_LATENCY + latency
        if consumer is None:
            d, hops, read = (direction or 0), 0, False
        else:
            d, hops, _ = self.route(producer, t_issue, latency, consumer)
            read = True
        order = [(d, s) for s in range(self.cfg.streams - width + 1)]
        if read and hops == 0:
            order += [(1 - d, s) for s in range(self.cfg.streams - width + 1)]
        if hint is not None and tuple(hint) in order:
            order.remove(tuple(hint))
            order.insert(0, tuple(hint))
        for d_, s in order:
            if all(self.streams.free(d_, s + j, a, t_out, hops, read) for j in range(width)):
                return (d_, s)
        return None

    def take_stream(self, stream, producer, t_issue, latency, consumer=None, width=1, field_name=None,
                    consumer_issue=None):
        """Reserve ``stream`` for the value and record the consumer's intent."""
        d, s = stream
        a = self.position(producer)
        t_out = t_issue + timing.ICU_DISPATCH_LATENCY + latency
        hops = 0 if consumer is None else abs(self.position(consumer) - a)
        for j in range(width):
            self.streams.take(d, s + j, a, t_out, hops, (producer, t_issue), read=consumer is not None)
        if consumer is not None:
            key = (consumer, consumer_issue, field_name)
            self.intents.setdefault(key, [None] * width)
            for j in range(width):
                self.intents[key][j] = (producer, t_issue)

    def checkpoint(self):
        """Start recording stream reservations and intents, so that :meth:`rollback` can undo them."""
        self.streams.journal = []
        self._intents_before = set(self.intents)

    def commit(self):
        self.streams.journal = None

    def rollback(self):
        for d, key in reversed(self.streams.journal):
            d.pop(key, None)
        for key in set(self.intents) - self._intents_before:
            del self.intents[key]
        self.streams.journal = None

    # --- emission ----------------------------------------------------------------------
    def program(self):
        """``({queue: [Instr]}, cycles)``: NOPs in the gaps, runs folded into REPEAT, END last."""
        prog, end = {}, 0
        for q in isa.queues(self.cfg):
            out, cur = [], 0
            items = sorted(self.placed[q].items())
            i = 0
            while i < len(items):
                t, ins = items[i]
                if t > cur:
                    out.append(isa.make("NOP", t - cur))
                out.append(ins)
                # fold a run of the same instruction on consecutive cycles, stepped by a constant
                j, d = i + 1, None
                while j < len(items) and items[j][0] == t + (j - i):
                    step = _step_between(items[j - 1][1], items[j][1])
                    if step is None or (d is not None and step != d) or j - i >= 0xFFFF:
                        break
                    d = step
                    j += 1
                if j - i > 1:
                    out.append(isa.make("REPEAT", j - i - 1, d))
                cur = items[j - 1][0] + 1
                i = j
            out.append(isa.make("END"))
            end = max(end, cur)
            prog[q] = out
        return prog, end + 1 + timing.wavefront_span(self.cfg)   # the stop reaches the last superlane


def _step_between(a, b):
    """The REPEAT step ``d`` that turns ``a`` into ``b``, or ``None``."""
    if a.op is not b.op:
        return None
    f = isa.STEP_FIELD.get(a.op.name)
    if f is None:
        return 0 if a == b else None
    d = (b[f] - a[f]) & 0xFFFF
    d = d - 0x10000 if d >= 0x8000 else d
    return d if isa.step(a, d) == b else None


#: The ``(column, cycle)`` points of a VOP's chain: the timing rule's own function.
chain_points = timing.vop_chain_points


def assign_columns(cfg, items, booked, high_first=True):
    """A column for each VXM instruction of ``items`` (``[(cycle, chain length or None)]``,
    ``None`` for a VRED, VFUNC or CONFIG: column 0, no chain) such that no two of them and
    no point ``booked(column, cycle)`` share a ``(column, cycle)``; a VOP of length ``L`` on
    column ``k`` needs ``k + L <= cfg.vxm_alus``. With ``high_first`` the highest free column
    is tried first, so that column 0 (whose queue alone issues VRED, VFUNC and CONFIG) stays
    free; else the lowest, so that a stream of VOPs stays on few queues and folds into REPEAT.
    Returns the columns in ``items``' order, or ``None``."""
    if any(length is None and booked(0, t) for t, length in items):
        return None                  # a VRED, VFUNC or CONFIG without its only column: no search
    order = sorted(range(len(items)), key=lambda i: -(items[i][1] or cfg.vxm_alus + 1))
    cols, taken = [None] * len(items), set()

    def fill(j):
        if j == len(order):
            return True
        t, length = items[order[j]]
        last = cfg.vxm_alus - (length or 1)
        options = [0] if length is None else (range(last, -1, -1) if high_first else range(last + 1))
        for k in options:
            pts = chain_points(k, t, length or 1)
            if any(pt in taken or booked(*pt) for pt in pts):
                continue
            taken.update(pts)
            cols[order[j]] = k
            if fill(j + 1):
                return True
            taken.difference_update(pts)
        return False
    return cols if fill(0) else None
