"""Golden ISA simulator: the whole chip, cycle by cycle.

:class:`LpuModel` runs a program image (one list of 64-bit words per queue,
:func:`openlpu.isa.queues`) on the unit golden models — MEM slices
(:class:`~openlpu.golden.mem.MemSliceModel`), MXM planes
(:class:`~openlpu.golden.mxm.MxmPlaneModel`), the SXM
(:class:`~openlpu.golden.sxm.SxmModel`), the VXM chain and reduction — joined
by the stream fabric, and reports the final SRAM, the status and the cycle
count. It is the specification of :class:`openlpu.rtl.lpu.Lpu`.

One cycle ``t`` (cycle 0 is the first after start)
------------------------------------------------------
1. **Execute**: the instructions issued in cycle ``t - ICU_DISPATCH_LATENCY``
   drive their units; stream operands are read from the stream registers at
   the unit's floorplan position as they stand in cycle ``t``.
2. **Unit outputs** of cycle ``t`` (results of earlier instructions, after
   the unit's latency) are written into the stream registers at the unit's
   position at the end of the cycle, after every stream has moved one position
   (east streams east, west streams west; zeros enter at the edges).
3. **Issue**: every queue executes its control instruction or issues one unit
   instruction, unless an error was detected in this cycle.

Superlanes
----------
With ``superlanes`` > 1 the chip runs as a diagonal wavefront
(:func:`openlpu.timing.superlane_offset`): superlane ``s`` does what superlane
0 did ``s`` cycles earlier. This model runs in superlane 0's time, where the
lane-wise units (MEM tiles, VXM chain and function unit) and the stream fabric
behave as on one superlane, and the wavefront shows as
``wavefront_span = superlane_offset(superlanes - 1)`` cycles: added to the
latency of the units that combine superlanes (MXM planes, SXM, VXM reduction:
their inputs are applied that much later), to the cycle in which a MEM slice's
error reaches the ICU (it waits for the last superlane), and to the end of the
run (``cycles``: the stop has reached the last superlane; the drain follows).
Each superlane's SRAM tile is its own :class:`~openlpu.golden.mem.MemSliceModel`
(:class:`~openlpu.golden.mem.MemTilesModel`).

Queue semantics
---------------
``NOP n`` idles ``n`` cycles. ``REPEAT n, d`` issues the queue's previous unit
instruction ``n`` more times, one per cycle, stepping its address field by
``d`` each time. ``SYNC`` parks the queue until a ``NOTIFY`` (from any
queue): the queues parked in a cycle in which some queue executes ``NOTIFY``
(or that execute ``SYNC`` in that same cycle) resume with their next
instruction on the next cycle. ``CONFIG reg, value`` writes a 32-bit word of
the VXM control table (``VXM_SLOTS`` slots); it takes effect for VOPs executed
after it (a VOP of another VXM column queue executed in the CONFIG's cycle reads
the slot as it was). ``END`` stops the queue; the chip is done in the cycle its last
queue ends.

The VXM has a queue per ALU column (``vxm`` for column 0, ``vxm1``, ...). A
VOP executed in cycle ``t`` by column ``k``'s queue runs its chain of ``len``
ALUs (:func:`openlpu.isa.vop_columns`) on columns ``k .. k + len - 1``: the
operands and the slot's control are taken in ``t``, the chain enters column
``k + i`` in cycle ``t + i * VXM_ALU_LATENCY`` with ALU ``i`` of the slot, and
the result is written ``timing.vop_latency(len)`` after ``t``. A VOP whose
column an earlier VOP's chain enters in its cycle is not executed (the chain
keeps the column) and stops the chip with VXM_FAULT, detected in that cycle.
Of results written to the same stream in the same cycle, the VOP ending on the
lower column wins, then VRED, then VFUNC.

A MEM slice has two queues, ``memN`` (READ, GATHER, SCRUB: the SRAM's read
port) and ``mewN`` (WRITE, SCATTER: its write port), which may both execute in
one cycle. A read and a write of the same address executed in cycle ``t``:
the read returns the old data, and reads executed from ``t +
MEM_WRITE_LATENCY`` on see the new data. A SCRUB's rewrite of a corrected word
(``MEM_SCRUB_DELAY`` after it executes) is dropped for a column that a WRITE
or SCATTER writes in that cycle.

Errors stop the chip: no queue issues from the detecting cycle on. Detected
at issue: ILLEGAL_OPCODE, BAD_FIELD, BAD_ADDRESS, REPEAT_EMPTY (and
BAD_ADDRESS for a program counter past ``imem_depth``); at execute: a
gather/scatter index past ``mem_depth``, VXM_FAULT; later: ECC_POISON when a chip-side
read's data comes back poisoned, SXM_FAULT one cycle after the SXM flags a
transpose misuse; DEADLOCK when every queue has ended or is parked and one is
parked. In one cycle the lowest queue number wins, and within a queue the
oldest instruction. Units drain for ``ICU_DRAIN_CYCLES`` cycles after the
stop; errors in the drain are not recorded.

How this model runs
-------------------
The simulation is exact for every cycle but does no work for a cycle in
which nothing happens. A cycle is *idle* when no queue issues or wakes, no
instruction executes, no MEM slice has a command or a read in flight, no
unit output or error is due and no cross-superlane input is applied; the run
jumps over idle cycles to the next cycle with an event (a NOP ending, a due
output, the end of the drain). The stream registers are two rings (east,
west) with a moving origin, so one cycle's move is a change of the origin and
the zeroing of the slot entering at the edge; a jump of ``k`` cycles zeroes
``k`` slots. Units with nothing to do are not stepped (their ``step`` would
change nothing), an MXM plane's clock is advanced by
:meth:`~openlpu.golden.mxm.MxmPlaneModel.idle`. Decoded instructions and the
VXM control slots' fields are cached. :class:`openlpu.golden.lpu_reference.LpuReferenceModel`
is the straightforward model that steps every unit in every cycle; the two
agree on every observable (``tests/test_golden_speed.py``).
"""

import heapq
from dataclasses import dataclass, field

import numpy as np

from openlpu import isa, timing
from openlpu.golden import vxm as vxm_golden
from openlpu.golden.mem import MemTilesModel
from openlpu.golden.mxm import Act, Cycle, Load, MxmPlaneModel
from openlpu.golden.sxm import SxmModel
from openlpu.golden.vxm_func import f32_func
from openlpu.golden.vxm_reduce import latency as reduce_latency, reduce_lanes
from openlpu.isa import ErrorCode, SxmOp, Unit
from openlpu.vxm_control import unpack_control

__all__ = ["LpuModel", "RunResult", "vxm_slot_fields"]


@dataclass
class RunResult:
    """What the host sees after a run."""
    cycles: int                      # cycles from start to the stop (done or error), inclusive
    done: bool
    error: ErrorCode = ErrorCode.NONE
    error_queue: int = 0
    error_pc: int = 0
    trace: list = field(default_factory=list)   # (cycle, queue, pc, Instr) of every issue
    stream_log: list = field(default_factory=list)  # (cycle, position, stream, hex) of every stream write
    reads: dict = field(default_factory=dict)       # with provenance: who produced each operand read
    ecc_log: list = field(default_factory=list)     # with trace: (cycle, slice, READ/GATHER/SCRUB, none/single/double)
    snapshots: list = field(default_factory=list)   # with snapshots: every stream register after each cycle


def vxm_slot_fields(cfg, words):
    """The VXM control of one slot from its CONFIG words: ``(etype, ops, srcs, imms)``, the
    immediates signed (:func:`openlpu.vxm_control.unpack_control` reads the packed
    :func:`~openlpu.vxm_control.VxmControl`)."""
    etype, ops, srcs, imms = unpack_control(cfg, words)
    return etype, ops, srcs, [imm - (1 << 32) if imm >> 31 else imm for imm in imms]


_VRED_NAMES = {v: k for k, v in isa.VRED_OPS.items()}


def _words_of(planes):
    """lanes x 16-bit words from 1 or 2 byte planes."""
    w = planes[0].astype(np.uint16)
    if len(planes) > 1:
        w |= planes[1].astype(np.uint16) << 8
    return w


def _weight_load(ins, planes):
    """The plane's :class:`Load` of LW ``ins`` from the byte planes it read
    (``isa.stream_width(ins, "src")`` of them): row ``addr + i`` from group ``i``."""
    g = 2 if ins["fp16"] else 1
    return Load(ins["addr"], np.stack([_words_of(planes[i * g:(i + 1) * g]) for i in range(ins["rows"])]))


def _ints_of(planes):
    """Lane values (``int64``) from byte planes, plane ``i`` the ``i``-th byte."""
    v = np.zeros(len(planes[0]), dtype=np.int64)
    for i, p in enumerate(planes):
        v |= p.astype(np.int64) << (8 * i)
    return v


def _byte_planes(values, n):
    return [((values >> (8 * i)) & 0xFF).astype(np.uint8) for i in range(n)]


class _Streams:
    """The stream registers ``(direction, stream, position, lanes)`` as rings.

    Position ``p`` of an east stream is slot ``(p - moved) % P``, of a west
    stream slot ``(p + moved) % P``: moving every stream one position is
    ``moved += 1`` and zeroing the slot that enters at the edge (it held the
    value that left at the other edge). ``tags`` (the producer of each value,
    for provenance) live in the same slots, when kept.
    """

    def __init__(self, streams, positions, lanes, tags):
        self.P = positions
        self.moved = 0
        self.data = np.zeros((2, streams, positions, lanes), dtype=np.uint8)
        self.tags = np.full((2, streams, positions), None, dtype=object) if tags else None

    def slot(self, d, pos):
        return (pos - self.moved) % self.P if d == 0 else (pos + self.moved) % self.P

    def read(self, pos, stream, n):
        """Copies of the ``n`` streams from ``stream = (direction, first)`` at ``pos``, and their tags."""
        d, s = stream
        k = self.slot(d, pos)
        planes = [self.data[d, s + i, k].copy() for i in range(n)]
        tags = None if self.tags is None else [self.tags[d, s + i, k] for i in range(n)]
        return planes, tags

    def write(self, pos, d, s, plane, tag):
        k = self.slot(d, pos)
        self.data[d, s, k] = plane
        if self.tags is not None:
            self.tags[d, s, k] = tag

    def move(self, k):
        """Every stream moves ``k`` positions (east streams east, west streams west; zeros enter)."""
        if k <= 0:
            return
        if k >= self.P:
            east = west = slice(None)
        elif k == 1:
            east, west = (-self.moved - 1) % self.P, self.moved % self.P
        else:
            steps = np.arange(1, k + 1)
            east = (-(self.moved + steps)) % self.P
            west = (self.moved + steps - 1) % self.P
        self.moved = (self.moved + k) % self.P
        self.data[0][:, east] = 0
        self.data[1][:, west] = 0
        if self.tags is not None:
            self.tags[0][:, east] = None
            self.tags[1][:, west] = None

    def logical(self):
        """The registers in position order, as the reference model holds them."""
        idx = np.arange(self.P)
        return np.stack([self.data[0][:, (idx - self.moved) % self.P],
                         self.data[1][:, (idx + self.moved) % self.P]])


class _Queue:
    def __init__(self, name):
        self.name = name
        self.unit, self.index = isa.queue_unit(name)
        self.pc = 0
        self.state = "run"      # run, wait (NOP), repeat, parked, ended
        self.count = 0
        self.d = 0
        self.prev = None        # last unit instruction issued


def _issue(qu, q, pc, d):
    """Queue ``qu`` (number ``q``) issues decision ``d`` (``("repeat", stepped Instr, REPEAT
    Instr)`` or ``("issue", Instr, pc)``) from ``pc``; returns the issued ``[(q, pc, Instr)]``."""
    if d[0] == "repeat":
        stepped, rep = d[1], d[2]
        qu.prev = stepped
        if rep["n"] > 1:
            qu.state, qu.count, qu.d = "repeat", rep["n"] - 1, rep["d"]
        return [(q, pc, stepped)]
    ins = d[1]
    if ins.op.unit is not Unit.CTRL:
        qu.prev = ins
    return [(q, pc, ins)]


class LpuModel:
    """Cycle-accurate golden model of the chip.

    SRAM (``mem``), instruction memory and the MXM planes' weight tiles and
    accumulator rows persist across :meth:`run` calls, as on the chip (a start
    clears control state only); everything else starts from reset on each run.
    """

    def __init__(self, cfg):
        self.cfg = cfg
        self.names = isa.queues(cfg)
        self.mem = [MemTilesModel(cfg) for _ in range(cfg.mem_slices)]
        self.imem = [[0] * cfg.imem_depth for _ in self.names]
        self.pos = timing.floorplan(cfg)
        self.planes = [MxmPlaneModel(cfg) for _ in range(cfg.mxm_planes)]
        self._decoded = {}      # (unit, index, word) -> isa.check's (code, Instr)
        self._slots = {}        # CONFIG words of a slot -> vxm_slot_fields
        self._streams = None

    # --- host view ------------------------------------------------------------------
    def load_program(self, program):
        """``program``: ``{queue name: [64-bit words]}`` (missing queues stay as loaded)."""
        for name, words in program.items():
            q = self.names.index(name)
            if len(words) > self.cfg.imem_depth:
                raise ValueError(f"queue {name}: {len(words)} instructions exceed imem_depth "
                                 f"{self.cfg.imem_depth}")
            self.imem[q][:len(words)] = [int(w) for w in words]

    def sram(self):
        """Final SRAM contents: ``uint8`` array ``(mem_slices, mem_depth, lanes)`` (stored data bits)."""
        return np.stack([np.stack([m.peek(a) for a in range(self.cfg.mem_depth)]) for m in self.mem])

    @property
    def streams(self):
        """The stream registers after the last run: ``(2, streams, positions, lanes)`` ``uint8``."""
        return None if self._streams is None else self._streams.logical()

    # --- the run ---------------------------------------------------------------------------
    def run(self, max_cycles=1_000_000, trace=False, provenance=False, snapshots=False):
        """Run from cycle 0 to the stop; returns a :class:`RunResult`.

        ``trace`` records every issue and stream write; ``provenance`` records,
        for every stream operand a unit reads, which instruction produced each
        plane (``RunResult.reads``: ``{(queue, issue cycle, field): [(producer
        queue, producer issue cycle) or None per plane]}``) — what the
        compiler's checker compares with the schedule's intent. A ``READ`` is
        recorded too, as field ``"mem"``: ``[(queue, issue cycle)]`` of the
        ``WRITE`` of this run that stored the word it reads, or ``[None]``.
        ``snapshots`` records, after each cycle ``t``, a copy of every stream
        register (``RunResult.snapshots[t]``: ``uint8`` array ``(2, streams,
        positions, lanes)``, direction 0 east, positions in floorplan order) as
        it stands at the start of cycle ``t + 1``; before cycle 0 all are zero.
        A run with snapshots steps every cycle (no idle cycle is skipped).
        """
        r = _Run(self, trace, provenance, snapshots)
        self._streams = r.streams
        return r.run(max_cycles)

    def decode(self, unit, word, index=0):
        """:func:`openlpu.isa.check` of ``word`` in queue ``index`` of ``unit``, cached."""
        key = (unit, index, word)
        got = self._decoded.get(key)
        if got is None:
            got = self._decoded[key] = isa.check(self.cfg, unit, word, index)
        return got

    def slot_fields(self, words):
        """:func:`vxm_slot_fields` of a slot's CONFIG words, cached."""
        key = tuple(words)
        got = self._slots.get(key)
        if got is None:
            got = self._slots[key] = vxm_slot_fields(self.cfg, list(key))
        return got


class _Run:
    """One run of an :class:`LpuModel`: the state that a start resets, and the cycle's phases."""

    def __init__(self, model, trace, provenance, snapshots=False):
        cfg = self.cfg = model.cfg
        self.model, self.trace, self.provenance, self.snapshots = model, trace, provenance, snapshots
        self.pos = model.pos
        self.streams = _Streams(cfg.streams, len(model.pos), cfg.lanes, provenance)
        self.mem_tags = {}                   # (slice, addr) -> the WRITE that stored it (this run)
        self.queues = [_Queue(n) for n in model.names]
        self.unit_pos = [model.pos[isa.queue_slice(qu.name)] for qu in self.queues]
        self.planes = model.planes
        for plane in self.planes:       # a start clears the planes' control pipelines, not their state
            plane._pending.clear()
        self.plane_t0 = [plane.cycle for plane in self.planes]   # each plane's clock at cycle 0
        self.sxm = SxmModel(cfg)
        self.words = isa.vxm_control_words(cfg)
        self.vxm_table = [[0] * self.words for _ in range(isa.VXM_SLOTS)]
        self.due = {}                                      # cycle -> VXM outputs
        self.vops = []       # VOPs executed, their results not yet computed: (slot words, a, b, n, out, len)
        self.vxm_busy = {}   # cycle -> the ALU columns an executed VOP's chain enters then
        self.mem_reads = [{} for _ in range(cfg.mem_slices)]   # cycle -> (dst or None, queue, pc, tag, op)
        self.mem_busy = {}                                 # slice -> last cycle it has work in
        self.mxm_dst = [{} for _ in range(cfg.mxm_planes)]     # cycle -> (dst, tag)
        self.sxm_dst = {}                                  # cycle -> (dst, tag) (lane ops)
        self.sxm_rows = 0
        self.sxm_col_dst = {}                              # cycle -> (dst, tag) (transpose columns)
        self.sxm_err = None                                # (cycle, (queue, pc)) of the SXM_FAULT
        self.dispatch = []                                 # (queue, pc, Instr) issued last cycle
        self.stopped_at = None
        self.result = RunResult(cycles=0, done=False)
        self.span = timing.wavefront_span(cfg)   # the cross-superlane units run this much later
        self.rlat = self.span + reduce_latency(cfg)
        self.mxm_in = {}     # cycle -> {plane: Cycle}, applied wavefront_span after execute
        self.sxm_q = {}      # cycle -> (SXM step inputs, (queue, pc)), likewise
        self.err_due = {}    # cycle -> errors MEM slices detected, deskewed to the last superlane
        self.events = []     # heap of cycles in which a unit has something due
        # the queues: those that decide in a cycle (run or repeat), those waiting out a NOP
        self.active = set(range(len(self.queues)))
        self.wakes = []      # heap of (cycle, queue): NOP over, the queue decides again
        self.parked = set()
        self.live = len(self.queues)

    def at(self, cycle):
        heapq.heappush(self.events, cycle)

    # --- the cycle loop ---------------------------------------------------------------------
    def run(self, max_cycles):
        t = 0
        while True:
            errors, writes = [], []
            self.execute(t)
            self.unit_outputs(t, writes, errors)
            issued = self.issue(t, errors) if self.stopped_at is None else []
            self.dispatch = issued
            nxt = self.next_cycle(t)
            if self.snapshots:
                nxt = t + 1                 # every cycle's registers are recorded: none is skipped
            self.streams.move(1)
            self.write_streams(t, writes)
            if self.snapshots:
                self.result.snapshots.append(self.streams.logical().copy())
            end = None if self.stopped_at is None else self.stopped_at + self.span + timing.ICU_DRAIN_CYCLES
            if end is not None and nxt > end:
                self.finish(t, end)
                break
            if end is None and nxt >= max_cycles:
                raise RuntimeError(f"program did not stop within {max_cycles} cycles")
            self.streams.move(nxt - t - 1)
            t = nxt
        self.result.cycles = self.stopped_at + 1 + self.span     # the stop has reached the last superlane
        return self.result

    def next_cycle(self, t):
        """The next cycle in which anything happens (every cycle before it is idle)."""
        if self.dispatch or (self.stopped_at is None and self.active):
            return t + 1
        if any(last > t for last in self.mem_busy.values()):
            return t + 1
        events = self.events
        while events and events[0] <= t:
            heapq.heappop(events)
        nxt = events[0] if events else float("inf")
        if self.stopped_at is None:
            if self.wakes:
                nxt = min(nxt, self.wakes[0][0])
            elif self.live:
                return t + 1        # every live queue is parked: the next cycle sees the deadlock
        return nxt

    def finish(self, t, end):
        """After cycle ``t``, nothing happens up to the run's last cycle ``end``: the streams move
        and the planes' clocks run on as if every cycle had been stepped."""
        self.streams.move(end - t)
        for plane, t0 in zip(self.planes, self.plane_t0):
            plane.idle(t0 + end + 1 - plane.cycle)

    # --- 1. execute ---------------------------------------------------------------------------
    def read(self, pos, stream, n, who):
        planes, tags = self.streams.read(pos, stream, n)
        if self.provenance:
            self.result.reads[who] = tags
        return planes

    def execute(self, t):
        self.mem_cmd = {}           # slice -> [rd, wr]
        self.mxm_cyc = {}           # plane -> Cycle
        self.config_writes = []     # CONFIGs of this cycle: (register, value)
        for q, pc, ins in self.dispatch:
            qu = self.queues[q]
            unit = qu.unit
            if unit is Unit.MEM or unit is Unit.MEW:
                self.execute_mem(t, q, pc, ins)
            elif unit is Unit.MXW or unit is Unit.MXM:
                self.execute_mxm(t, q, ins)
            elif unit is Unit.VXM:
                self.execute_vxm(t, q, pc, ins)
            elif unit is Unit.SXM:
                self.execute_sxm(t, q, pc, ins)
        for reg, value in self.config_writes:
            slot, w = divmod(reg, self.words)
            self.vxm_table[slot][w] = value
        if self.mxm_cyc:
            # the cross-superlane units take this cycle's operands wavefront_span later
            self.mxm_in[t + self.span] = self.mxm_cyc
            self.at(t + self.span)

    def execute_mem(self, t, q, pc, ins):
        """A MEM slice's command of cycle ``t``: the read port's (queue ``memN``) or the write
        port's (``mewN``); both go to the slice in the same step, where a read of the address
        a write stores returns the old word. ``dispatch`` is in queue order, reads first, so a
        READ's provenance is the word before a same-cycle WRITE too."""
        cfg, s, name = self.cfg, self.queues[q].index, ins.op.name
        pos = self.unit_pos[q]
        cmd = self.mem_cmd.setdefault(s, [None, None])
        lat = timing.MEM_READ_LATENCY
        if name == "READ":
            cmd[0] = {"addr": ins["addr"]}
            if self.provenance:
                self.result.reads[(q, t - 1, "mem")] = [self.mem_tags.get((s, ins["addr"]))]
            self.mem_reads[s][t + lat] = (ins["dst"], q, pc, (q, t - 1), name)
        elif name == "SCRUB":
            cmd[0] = {"addr": ins["addr"], "scrub": True}
            self.mem_reads[s][t + lat] = (None, q, pc, None, name)
        elif name == "GATHER":
            idx = self.read(pos, ins["idx"], 1, (q, t - 1, "idx"))[0]
            cmd[0] = {"addr": 0, "gather": True, "index": idx}
            self.mem_reads[s][t + lat] = (ins["dst"], q, pc, (q, t - 1), name)
        elif name == "WRITE":
            cmd[1] = {"addr": ins["addr"], "data": self.read(pos, ins["src"], 1, (q, t - 1, "src"))[0]}
            if self.provenance:
                self.mem_tags[(s, ins["addr"])] = (q, t - 1)
        elif name == "SCATTER":
            idx = self.read(pos, ins["idx"], 1, (q, t - 1, "idx"))[0]
            cmd[1] = {"addr": 0, "scatter": True, "index": idx,
                      "data": self.read(pos, ins["src"], 1, (q, t - 1, "src"))[0]}
        if name in ("GATHER", "SCATTER"):
            cols = idx[0::8].astype(np.int64) | idx[1::8].astype(np.int64) << 8
            if (cols >= cfg.mem_depth).any():
                self.err_due.setdefault(t + self.span, []).append((q, 1, ErrorCode.BAD_ADDRESS, pc))
                self.at(t + self.span)
        last = t + lat if cmd[0] is not None else t
        self.mem_busy[s] = max(self.mem_busy.get(s, t), last)

    def execute_mxm(self, t, q, ins):
        qu, name, pos = self.queues[q], ins.op.name, self.unit_pos[q]
        cyc = self.mxm_cyc.setdefault(qu.index, Cycle())
        if name == "LW":
            cyc.load = _weight_load(ins, self.read(pos, ins["src"], isa.stream_width(ins, "src"),
                                                   (q, t - 1, "src")))
        elif name == "IW":
            cyc.install = True
        elif qu.unit is Unit.MXM:
            wds = _words_of(self.read(pos, ins["src"], 2 if ins["fp16"] else 1, (q, t - 1, "src")))
            cyc.act = Act(wds, bool(ins["fp16"]), acc=name == "ACC", addr=ins["addr"])
            due = t + self.span + timing.mxm_latency(self.cfg)
            self.mxm_dst[qu.index][due] = (ins["dst"], (q, t - 1))
            self.at(due)

    def execute_vxm(self, t, q, pc, ins):
        name, pos, lanes = ins.op.name, self.unit_pos[q], self.cfg.lanes
        if name == "CONFIG":         # written at the end of the cycle: a VOP of this cycle reads the old word
            self.config_writes.append((ins["reg"], ins["value"]))
            return
        if name == "VOP":
            cols = isa.vop_columns(self.cfg, self.queues[q].index, ins)
            if not self.vop_columns_free(t, cols):
                self.err_due.setdefault(t, []).append((q, 1, ErrorCode.VXM_FAULT, pc))
                return
            n, out = ins["n"], []       # out: filled by run_vops before it is due
            self.vops.append((tuple(self.vxm_table[ins["slot"]]), _ints_of(self.read(pos, ins["a"], n, (q, t - 1, "a"))),
                              _ints_of(self.read(pos, ins["b"], n, (q, t - 1, "b"))), n, out, len(cols)))
            due, prio = t + timing.vop_latency(len(cols)), cols[-1]
        elif name == "VRED":
            vals = _ints_of(self.read(pos, ins["a"], 4, (q, t - 1, "a")))
            vals = np.where(vals >= 1 << 31, vals - (1 << 32), vals)
            op = _VRED_NAMES[ins["op"]]
            if op == "fsum":
                vals = vals & 0xFFFFFFFF                     # raw fp32 bits
            r = reduce_lanes(vals, op) & 0xFFFFFFFF
            due, out, prio = (t + self.rlat, [np.full(lanes, (r >> (8 * i)) & 0xFF, dtype=np.uint8) for i in range(4)],
                              self.cfg.vxm_alus)
        elif name == "VFUNC":
            vals = _ints_of(self.read(pos, ins["a"], 4, (q, t - 1, "a"))).astype(np.uint32)
            res = np.asarray(f32_func(ins["fn"], vals), dtype=np.uint32)
            due, out, prio = t + timing.VXM_FUNC_LATENCY, _byte_planes(res, 4), self.cfg.vxm_alus + 1
        else:
            return
        self.due.setdefault(due, []).append((pos, ins["dst"], out, prio, (q, t - 1)))
        self.at(due)

    def vop_columns_free(self, t, cols):
        """Whether no earlier VOP's chain enters column ``cols[0]`` in cycle ``t``; if so, the
        chain on ``cols`` is booked (column ``cols[i]`` in cycle ``t + i * VXM_ALU_LATENCY``)."""
        busy = self.vxm_busy
        if cols[0] in busy.get(t, ()):
            return False
        for c, cycle in timing.vop_chain_points(cols[0], t, len(cols))[1:]:
            busy.setdefault(cycle, set()).add(c)
        if len(busy) > 4 * self.cfg.vxm_alus * timing.VXM_ALU_LATENCY:
            for k in [k for k in busy if k < t]:
                del busy[k]
        return True

    def execute_sxm(self, t, q, pc, ins):
        lanes, span, pos = self.cfg.lanes, self.span, self.unit_pos[q]
        op = isa.sxm_op(ins.op)
        fields = [f.name for f in ins.op.fields]
        a = self.read(pos, ins["a"], 1, (q, t - 1, "a"))[0]
        b = self.read(pos, ins["b"], 1, (q, t - 1, "b"))[0] if "b" in fields else None
        c = self.read(pos, ins["c"], 1, (q, t - 1, "c"))[0] if "c" in fields else None
        start = bool(ins.get("start", 0))
        if op == SxmOp.TRANSPOSE:
            if start or self.sxm_rows:
                self.sxm_rows = 1 if start else self.sxm_rows + 1
                if self.sxm_rows == lanes:
                    for j in range(lanes):
                        self.sxm_col_dst[t + span + 1 + timing.SXM_LATENCY + j] = (ins["dst"], (q, t - 1))
                    self.sxm_rows = 0
        else:
            self.sxm_dst[t + span + timing.SXM_LATENCY] = (ins["dst"], (q, t - 1))
        self.sxm_q[t + span] = (dict(op=op, a=a, b=b, c=c, k=ins.get("k", 0), start=start), (q, pc))
        self.at(t + span)

    def run_vops(self):
        """The results of the VOPs executed so far: one chain per VXM control for all its VOPs'
        lanes at once (the chain works lane by lane, so this is each VOP's chain)."""
        groups = {}
        for vop in self.vops:
            groups.setdefault((vop[0], vop[5]), []).append(vop)
        lanes = self.cfg.lanes
        for (words, length), vops in groups.items():
            etype, ops, srcs, imms = (f[:length] if k else f for k, f in enumerate(self.model.slot_fields(words)))
            res = vxm_golden.chain(ops, etype, srcs, imms, np.concatenate([v[1] for v in vops]),
                                   np.concatenate([v[2] for v in vops]))
            # planes above the element width read as zero
            width = vxm_golden.WIDTH[vxm_golden.result_type(ops, etype, imms)]
            res = np.asarray(res, dtype=np.int64) & ((1 << width) - 1)
            for k, (_, _, _, n, out, _) in enumerate(vops):
                out += _byte_planes(res[k * lanes:(k + 1) * lanes], n)
        self.vops = []

    # --- 2. unit outputs ----------------------------------------------------------------------
    def unit_outputs(self, t, writes, errors):
        if self.vops and any(not w[2] for w in self.due.get(t, ())):     # a VOP due, not yet computed
            self.run_vops()
        self.mem_outputs(t, writes)
        self.mxm_outputs(t, writes)
        self.sxm_outputs(t, writes, errors)
        writes += sorted(self.due.pop(t, []), key=lambda w: w[3])   # VOPs by column, VRED, VFUNC
        errors += self.err_due.pop(t, [])

    def mem_outputs(self, t, writes):
        for s in sorted(self.mem_busy):
            if self.mem_busy[s] < t:
                continue
            m, (rd, wr) = self.model.mem[s], self.mem_cmd.get(s, (None, None))
            reads = self.mem_reads[s]
            logged = self.trace and t + 1 in reads     # the slice decodes this read's words in this step
            if logged:
                before = (m.corrected, m.detected)
            out = m.step_columns(rd, wr)
            if logged:
                kind = "double" if m.detected > before[1] else "single" if m.corrected > before[0] else "none"
                self.result.ecc_log.append((t, s, reads[t + 1][4], kind))
            info = reads.pop(t, None)
            if out is not None:
                data, poison = out
                dst, q, pc, tag, _ = info
                if poison:
                    self.err_due.setdefault(t + self.span, []).append((q, 0, ErrorCode.ECC_POISON, pc))
                    self.at(t + self.span)
                if dst is not None:
                    writes.append((self.pos[f"mem{s}"], dst, [data], 0, tag))
        for s in [s for s, last in self.mem_busy.items() if last <= t]:
            del self.mem_busy[s]

    def mxm_outputs(self, t, writes):
        stepped = self.mxm_in.pop(t, {})
        for i, plane in enumerate(self.planes):
            cyc = stepped.get(i)
            dst, tag = self.mxm_dst[i].pop(t, (None, None))
            if cyc is None and dst is None:
                continue
            plane.idle(self.plane_t0[i] + t - plane.cycle)
            out = plane.step(cyc or Cycle())
            if out is not None:
                writes.append((self.pos[f"mxm{i}"], dst, _byte_planes(out[1].astype(np.uint32), 4), 0, tag))

    def sxm_outputs(self, t, writes, errors):
        sxm = self.sxm
        sxm_in, who = self.sxm_q.pop(t, (None, None))
        col = self.sxm_col_dst.pop(t, None)
        lane = self.sxm_dst.pop(t, None)
        if sxm_in is not None or t in sxm._pending:
            sxm.idle(t - sxm.cycle)
            before = set(sxm._pending)
            out = sxm.step(**sxm_in) if sxm_in else sxm.step()
            if out is not None:
                dst, tag = col if col is not None else lane
                writes.append((self.pos["sxm"], dst, [out], 0, tag))
            for due in set(sxm._pending) - before:
                self.at(due)
            if sxm.error and self.sxm_err is None:
                self.sxm_err = (t + timing.SXM_LATENCY, who)
                self.at(t + timing.SXM_LATENCY)
        if self.sxm_err is not None and self.sxm_err[0] == t:
            q, pc = self.sxm_err[1]
            errors.append((q, 0, ErrorCode.SXM_FAULT, pc))

    # --- 3. issue -----------------------------------------------------------------------------
    def issue(self, t, errors):
        """Every queue's control instruction or unit instruction of cycle ``t``; the issued list."""
        queues, result = self.queues, self.result
        while self.wakes and self.wakes[0][0] <= t:
            self.active.add(heapq.heappop(self.wakes)[1])
        order = sorted(self.active)
        decisions = [self.decide(q) for q in order]
        notify = any(d[0] == "notify" for d in decisions)
        for q, d in zip(order, decisions):
            if d[0] == "error":
                errors.append((q, 2, d[1], d[2]))
        if (not errors and self.live and not notify and not self.wakes
                and all(queues[q].state == "run" and d[0] == "sync" for q, d in zip(order, decisions))):
            first = next(q for q, qu in enumerate(queues) if qu.state != "ended")
            errors.append((first, 2, ErrorCode.DEADLOCK, queues[first].pc))
        if errors:
            q, _, code, pc = min(errors, key=lambda e: (e[0], e[1]))
            result.error, result.error_queue, result.error_pc = code, q, pc
            self.stopped_at = t
            return []
        issued = []
        for q, d in zip(order, decisions):
            issued += self.apply(t, q, d, notify)
        if notify:
            for q in self.parked:
                queues[q].state = "run"
            self.active |= self.parked
            self.parked = set()
        if self.live == 0:
            result.done = True
            self.stopped_at = t
        if self.trace:
            result.trace += [(t, q, pc, ins) for q, pc, ins in issued]
        return issued

    def decide(self, q):
        """What queue ``q`` (running or repeating) does this cycle, without changing it:
        ``("sync",)``, ``("notify",)``, ``("end",)``, ``("nop", n)``, ``("repeat", stepped Instr,
        REPEAT Instr)``, ``("issue", Instr, pc)`` or ``("error", code, pc)``."""
        cfg, qu = self.cfg, self.queues[q]
        if qu.state == "repeat":
            ins = isa.step(qu.prev, qu.d)
            code = isa.check_address(cfg, ins)
            return ("error", code, qu.pc - 1) if code else ("issue", ins, qu.pc - 1)
        if qu.pc >= cfg.imem_depth:
            return ("error", ErrorCode.BAD_ADDRESS, qu.pc)
        code, ins = self.model.decode(qu.unit, self.model.imem[q][qu.pc], qu.index)
        if code:
            return ("error", code, qu.pc)
        name = ins.op.name
        if name == "REPEAT":
            if qu.prev is None:
                return ("error", ErrorCode.REPEAT_EMPTY, qu.pc)
            stepped = isa.step(qu.prev, ins["d"])
            code = isa.check_address(cfg, stepped)
            return ("error", code, qu.pc) if code else ("repeat", stepped, ins)
        if name in ("SYNC", "NOTIFY", "END"):
            return (name.lower(),)
        if name == "NOP":
            return ("nop", ins["n"])
        return ("issue", ins, qu.pc)          # a unit instruction or CONFIG

    def apply(self, t, q, d, notify):
        """Advance running or repeating queue ``q`` by decision ``d``; returns the issued ``[(q, pc, Instr)]``."""
        qu, kind = self.queues[q], d[0]
        if qu.state == "repeat":
            qu.prev = d[1]
            qu.count -= 1
            if qu.count == 0:
                qu.state = "run"
            return [(q, d[2], d[1])]
        pc = qu.pc
        qu.pc += 1
        if kind == "sync":
            if not notify:
                self.idle(q, "parked")
                self.parked.add(q)
            return []
        if kind == "notify":
            return []
        if kind == "end":
            qu.pc -= 1
            self.idle(q, "ended")
            self.live -= 1
            return []
        if kind == "nop":
            if d[1] > 1:
                self.idle(q, "wait")
                heapq.heappush(self.wakes, (t + d[1], q))
            return []
        return _issue(qu, q, pc, d)

    def idle(self, q, state):
        """Queue ``q`` stops deciding: it waits out a NOP, is parked or has ended."""
        self.queues[q].state = state
        self.active.discard(q)

    # --- stream registers at the end of cycle t -----------------------------------------------
    def write_streams(self, t, writes):
        """The unit outputs of cycle ``t`` into the stream registers (already moved): the first
        (highest priority) write to a register wins."""
        written = set()
        for pos, (d, s), out, prio, tag in writes:
            for i, plane in enumerate(out):
                if (d, s + i, pos) not in written:
                    self.streams.write(pos, d, s + i, plane, tag)
                    written.add((d, s + i, pos))
                    if self.trace:
                        self.result.stream_log.append((t, pos, (d, s + i), bytes(plane).hex()))
