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
after it. ``END`` stops the queue; the chip is done in the cycle its last
queue ends.

Errors stop the chip: no queue issues from the detecting cycle on. Detected
at issue: ILLEGAL_OPCODE, BAD_FIELD, BAD_ADDRESS, REPEAT_EMPTY (and
BAD_ADDRESS for a program counter past ``imem_depth``); at execute: a
gather/scatter index past ``mem_depth``; later: ECC_POISON when a chip-side
read's data comes back poisoned, SXM_FAULT one cycle after the SXM flags a
transpose misuse; DEADLOCK when every queue has ended or is parked and one is
parked. In one cycle the lowest queue number wins, and within a queue the
oldest instruction. Units drain for ``ICU_DRAIN_CYCLES`` cycles after the
stop; errors in the drain are not recorded.
"""

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


class _Queue:
    def __init__(self, name):
        self.name = name
        self.unit, self.index = isa.queue_unit(name)
        self.pc = 0
        self.state = "run"      # run, wait (NOP), repeat, parked, ended
        self.count = 0
        self.d = 0
        self.prev = None        # last unit instruction issued


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
        """
        cfg = self.cfg
        lanes, S = cfg.lanes, cfg.streams
        P = len(self.pos)
        self.streams = np.zeros((2, S, P, lanes), dtype=np.uint8)
        tags = np.full((2, S, P), None, dtype=object)   # producer of each stream register's value
        mem_tags = {}                                   # (slice, addr) -> the WRITE that stored it (this run)
        queues = [_Queue(n) for n in self.names]
        planes = self.planes
        for plane in planes:            # a start clears the planes' control pipelines, not their state
            plane._pending.clear()
        sxm = SxmModel(cfg)
        words = isa.vxm_control_words(cfg)
        vxm_table = [[0] * words for _ in range(isa.VXM_SLOTS)]
        # outputs due in a future cycle: cycle -> list of (unit key, ...)
        due = {}
        mem_reads = [{} for _ in range(cfg.mem_slices)]   # cycle -> (dst or None, queue, pc)
        mxm_dst = [{} for _ in range(cfg.mxm_planes)]     # cycle -> dst
        sxm_dst = {}                                      # cycle -> dst (lane ops)
        sxm_rows = 0
        sxm_col_dst = {}                                  # cycle -> dst (transpose columns)
        sxm_err_seen = False
        dispatch = []      # (queue, pc, Instr) issued last cycle
        stopped_at = None
        result = RunResult(cycles=0, done=False)
        vlat = vxm_golden.latency(cfg)
        span = timing.wavefront_span(cfg)     # the cross-superlane units run this much later
        rlat = span + reduce_latency(cfg)
        mxm_in = {}          # cycle -> the planes' Cycle inputs, applied wavefront_span after execute
        sxm_q = {}           # cycle -> (SXM step inputs, (queue, pc)), likewise
        err_due = {}         # cycle -> errors MEM slices detected, deskewed to the last superlane

        def read(pos, stream, n=1, who=None):
            d, s = stream
            if provenance and who is not None:
                result.reads[who] = [tags[d, s + i, pos] for i in range(n)]
            return [self.streams[d, s + i, pos].copy() for i in range(n)]

        def words_of(planes_):
            """lanes x 16-bit words from 1 or 2 byte planes."""
            w = planes_[0].astype(np.uint16)
            if len(planes_) > 1:
                w |= planes_[1].astype(np.uint16) << 8
            return w

        def ints_of(planes_):
            v = np.zeros(lanes, dtype=np.int64)
            for i, p in enumerate(planes_):
                v |= p.astype(np.int64) << (8 * i)
            return v

        t = 0
        while True:
            errors = []          # (queue, age, code, pc): age 0 oldest
            writes = []          # (pos, stream, n, [planes], priority)
            running = stopped_at is None
            # ---- 1. execute ---------------------------------------------------------------
            mem_rd = [None] * cfg.mem_slices
            mem_wr = [None] * cfg.mem_slices
            mxm_cyc = [Cycle() for _ in planes]
            sxm_in = None
            for q, pc, ins in dispatch:
                qu = queues[q]
                name = ins.op.name
                pos = self.pos[qu.name if qu.unit is not Unit.MXW else f"mxm{qu.index}"]
                if qu.unit is Unit.MEM:
                    s = qu.index
                    if name == "READ":
                        mem_rd[s] = {"addr": ins["addr"]}
                        if provenance:
                            result.reads[(q, t - 1, "mem")] = [mem_tags.get((s, ins["addr"]))]
                        mem_reads[s][t + timing.MEM_READ_LATENCY] = (ins["dst"], q, pc, (q, t - 1), name)
                    elif name == "SCRUB":
                        mem_rd[s] = {"addr": ins["addr"], "scrub": True}
                        mem_reads[s][t + timing.MEM_READ_LATENCY] = (None, q, pc, None, name)
                    elif name == "GATHER":
                        idx = read(pos, ins["idx"], 1, (q, t - 1, "idx"))[0]
                        mem_rd[s] = {"addr": 0, "gather": True, "index": idx}
                        mem_reads[s][t + timing.MEM_READ_LATENCY] = (ins["dst"], q, pc, (q, t - 1), name)
                    elif name == "WRITE":
                        mem_wr[s] = {"addr": ins["addr"], "data": read(pos, ins["src"], 1, (q, t - 1, "src"))[0]}
                        if provenance:
                            mem_tags[(s, ins["addr"])] = (q, t - 1)
                    elif name == "SCATTER":
                        idx = read(pos, ins["idx"], 1, (q, t - 1, "idx"))[0]
                        mem_wr[s] = {"addr": 0, "scatter": True, "index": idx,
                                     "data": read(pos, ins["src"], 1, (q, t - 1, "src"))[0]}
                    if name in ("GATHER", "SCATTER"):
                        cols = idx[0::8].astype(np.int64) | idx[1::8].astype(np.int64) << 8
                        if (cols >= cfg.mem_depth).any():
                            err_due.setdefault(t + span, []).append((q, 1, ErrorCode.BAD_ADDRESS, pc))
                elif qu.unit is Unit.MXW:
                    cyc = mxm_cyc[qu.index]
                    if name == "LW":
                        cyc.load = Load(ins["addr"], words_of(read(pos, ins["src"], 2 if ins["fp16"] else 1,
                                                                   (q, t - 1, "src"))))
                    elif name == "IW":
                        cyc.install = True
                elif qu.unit is Unit.MXM:
                    wds = words_of(read(pos, ins["src"], 2 if ins["fp16"] else 1, (q, t - 1, "src")))
                    mxm_cyc[qu.index].act = Act(wds, bool(ins["fp16"]), acc=name == "ACC", addr=ins["addr"])
                    mxm_dst[qu.index][t + span + timing.mxm_latency(cfg)] = (ins["dst"], (q, t - 1))
                elif qu.unit is Unit.VXM:
                    if name == "CONFIG":
                        slot, w = divmod(ins["reg"], words)
                        vxm_table[slot][w] = ins["value"]
                    elif name == "VOP":
                        n = ins["n"]
                        etype, ops, srcs, imms = vxm_slot_fields(cfg, vxm_table[ins["slot"]])
                        res = vxm_golden.chain(ops, etype, srcs, imms, ints_of(read(pos, ins["a"], n, (q, t - 1, "a"))),
                                               ints_of(read(pos, ins["b"], n, (q, t - 1, "b"))))
                        # planes above the element width read as zero
                        res = np.asarray(res, dtype=np.int64) & ((1 << vxm_golden.WIDTH[vxm_golden.result_type(ops, etype, imms)]) - 1)
                        out = [((res >> (8 * i)) & 0xFF).astype(np.uint8) for i in range(n)]
                        due.setdefault(t + vlat, []).append((pos, ins["dst"], out, 0, (q, t - 1)))
                    elif name == "VRED":
                        vals = ints_of(read(pos, ins["a"], 4, (q, t - 1, "a")))
                        vals = np.where(vals >= 1 << 31, vals - (1 << 32), vals)
                        op = {v: k for k, v in isa.VRED_OPS.items()}[ins["op"]]
                        if op == "fsum":
                            vals = vals & 0xFFFFFFFF                     # raw fp32 bits
                        r = reduce_lanes(vals, op) & 0xFFFFFFFF
                        out = [np.full(lanes, (r >> (8 * i)) & 0xFF, dtype=np.uint8) for i in range(4)]
                        due.setdefault(t + rlat, []).append((pos, ins["dst"], out, 1, (q, t - 1)))
                    elif name == "VFUNC":
                        vals = ints_of(read(pos, ins["a"], 4, (q, t - 1, "a"))).astype(np.uint32)
                        res = np.asarray(f32_func(ins["fn"], vals), dtype=np.uint32)
                        out = [((res >> (8 * i)) & 0xFF).astype(np.uint8) for i in range(4)]
                        due.setdefault(t + timing.VXM_FUNC_LATENCY, []).append((pos, ins["dst"], out, 2, (q, t - 1)))
                elif qu.unit is Unit.SXM:
                    op = isa.sxm_op(ins.op)
                    fields = [f.name for f in ins.op.fields]
                    a = read(pos, ins["a"], 1, (q, t - 1, "a"))[0]
                    b = read(pos, ins["b"], 1, (q, t - 1, "b"))[0] if "b" in fields else None
                    c = read(pos, ins["c"], 1, (q, t - 1, "c"))[0] if "c" in fields else None
                    start = bool(ins.get("start", 0))
                    sxm_in = dict(op=op, a=a, b=b, c=c, k=ins.get("k", 0), start=start)
                    if op == SxmOp.TRANSPOSE:
                        if start or sxm_rows:
                            sxm_rows = 1 if start else sxm_rows + 1
                            if sxm_rows == lanes:
                                for j in range(lanes):
                                    sxm_col_dst[t + span + 1 + timing.SXM_LATENCY + j] = (ins["dst"], (q, t - 1))
                                sxm_rows = 0
                    else:
                        sxm_dst[t + span + timing.SXM_LATENCY] = (ins["dst"], (q, t - 1))
                    sxm_q[t + span] = (sxm_in, (q, pc))
            # the cross-superlane units take this cycle's operands wavefront_span later
            mxm_in[t + span] = mxm_cyc
            # ---- 2. unit outputs ----------------------------------------------------------------
            for s, m in enumerate(self.mem):
                before = (m.corrected, m.detected)
                out = m.step(mem_rd[s], mem_wr[s])
                if trace and t + 1 in mem_reads[s]:    # the slice decoded this read's words in this step
                    kind = "double" if m.detected > before[1] else "single" if m.corrected > before[0] else "none"
                    result.ecc_log.append((t, s, mem_reads[s][t + 1][4], kind))
                info = mem_reads[s].pop(t, None)
                if out is not None:
                    data, poison = out
                    dst, q, pc, tag, _ = info
                    if poison:
                        err_due.setdefault(t + span, []).append((q, 0, ErrorCode.ECC_POISON, pc))
                    if dst is not None:
                        writes.append((self.pos[f"mem{s}"], dst, [data], 0, tag))
            stepped = mxm_in.pop(t, None) or [Cycle() for _ in planes]
            for i, plane in enumerate(planes):
                out = plane.step(stepped[i])
                dst, tag = mxm_dst[i].pop(t, (None, None))
                if out is not None:
                    vals = out[1].astype(np.uint32)
                    writes.append((self.pos[f"mxm{i}"], dst,
                                   [((vals >> (8 * b)) & 0xFF).astype(np.uint8) for b in range(4)], 0, tag))
            sxm_in, sxm_who = sxm_q.pop(t, (None, None))
            sxm_out = sxm.step(**sxm_in) if sxm_in else sxm.step()
            col = sxm_col_dst.pop(t, None)
            lane = sxm_dst.pop(t, None)
            if sxm_out is not None:
                dst, tag = col if col is not None else lane
                writes.append((self.pos["sxm"], dst, [sxm_out], 0, tag))
            if sxm.error and not sxm_err_seen:
                sxm_err_seen = True
                sxm_err_at = t + timing.SXM_LATENCY
                sxm_err_who = sxm_who
            if sxm_err_seen and sxm_err_at == t:
                errors.append((sxm_err_who[0], 0, ErrorCode.SXM_FAULT, sxm_err_who[1]))
            writes += sorted(due.pop(t, []), key=lambda w: w[3])   # VOP before VRED before VFUNC
            errors += err_due.pop(t, [])
            # ---- 3. issue ------------------------------------------------------------------------
            issued = []
            if running:
                decisions = []
                for q, qu in enumerate(queues):
                    decisions.append(self._decide(qu, q))
                notify = any(d[0] == "notify" for d in decisions)
                for q, d in enumerate(decisions):
                    if d[0] == "error":
                        errors.append((q, 2, d[1], d[2]))
                live = [qu for qu in queues if qu.state != "ended"]
                if not errors and live and not notify and all(
                        qu.state == "parked" or (qu.state == "run" and d[0] == "sync")
                        for qu, d in zip(queues, decisions) if qu.state != "ended"):
                    first = next(q for q, qu in enumerate(queues) if qu.state != "ended")
                    errors.append((first, 2, ErrorCode.DEADLOCK, queues[first].pc))
                if errors:
                    q, _, code, pc = min(errors, key=lambda e: (e[0], e[1]))
                    result.error, result.error_queue, result.error_pc = code, q, pc
                    stopped_at = t
                else:
                    for q, (qu, d) in enumerate(zip(queues, decisions)):
                        issued += self._apply(qu, q, d, notify)
                    if all(qu.state == "ended" for qu in queues):
                        result.done = True
                        stopped_at = t
                    if trace:
                        result.trace += [(t, q, pc, ins) for q, pc, ins in issued]
            dispatch = issued
            # ---- stream registers at the end of cycle t ------------------------------------------
            self.streams[0, :, 1:] = self.streams[0, :, :-1].copy()
            self.streams[0, :, 0] = 0
            self.streams[1, :, :-1] = self.streams[1, :, 1:].copy()
            self.streams[1, :, -1] = 0
            if provenance:
                tags[0, :, 1:] = tags[0, :, :-1].copy()
                tags[0, :, 0] = None
                tags[1, :, :-1] = tags[1, :, 1:].copy()
                tags[1, :, -1] = None
            written = set()
            for pos, (d, s), out, prio, tag in writes:
                for i, plane in enumerate(out):
                    if (d, s + i, pos) not in written:      # the first (highest priority) write wins
                        self.streams[d, s + i, pos] = plane
                        tags[d, s + i, pos] = tag
                        written.add((d, s + i, pos))
                        if trace:
                            result.stream_log.append((t, pos, (d, s + i), bytes(plane).hex()))
            if snapshots:
                result.snapshots.append(self.streams.copy())
            t += 1
            if stopped_at is not None and t > stopped_at + span + timing.ICU_DRAIN_CYCLES:
                break
            if stopped_at is None and t >= max_cycles:
                raise RuntimeError(f"program did not stop within {max_cycles} cycles")
        result.cycles = stopped_at + 1 + span     # the stop has reached the last superlane
        return result

    # --- one queue, one cycle --------------------------------------------------------------------
    def _decide(self, qu, q):
        """What queue ``qu`` does this cycle, without changing it: ``("idle",)``,
        ``("sync",)``, ``("notify",)``, ``("end",)``, ``("nop", n)``, ``("repeat",
        stepped Instr, REPEAT Instr)``, ``("issue", Instr, pc)`` or ``("error", code, pc)``."""
        cfg = self.cfg
        if qu.state in ("ended", "parked", "wait"):
            return ("idle",)
        if qu.state == "repeat":
            ins = isa.step(qu.prev, qu.d)
            code = isa.check_address(cfg, ins)
            if code:
                return ("error", code, qu.pc - 1)
            return ("issue", ins, qu.pc - 1)
        if qu.pc >= cfg.imem_depth:
            return ("error", ErrorCode.BAD_ADDRESS, qu.pc)
        code, ins = isa.check(cfg, qu.unit, self.imem[self.names.index(qu.name)][qu.pc])
        if code:
            return ("error", code, qu.pc)
        name = ins.op.name
        if name == "REPEAT":
            if qu.prev is None:
                return ("error", ErrorCode.REPEAT_EMPTY, qu.pc)
            stepped = isa.step(qu.prev, ins["d"])
            code = isa.check_address(cfg, stepped)
            if code:
                return ("error", code, qu.pc)
            return ("repeat", stepped, ins)
        if name == "SYNC":
            return ("sync",)
        if name == "NOTIFY":
            return ("notify",)
        if name == "END":
            return ("end",)
        if name == "NOP":
            return ("nop", ins["n"])
        return ("issue", ins, qu.pc)          # a unit instruction or CONFIG

    def _apply(self, qu, q, d, notify):
        """Advance queue ``qu`` by decision ``d``; returns the issued ``[(q, pc, Instr)]``."""
        kind = d[0]
        if qu.state == "parked":
            if notify:
                qu.state = "run"
            return []
        if qu.state == "wait":
            qu.count -= 1
            if qu.count == 0:
                qu.state = "run"
            return []
        if qu.state == "repeat":
            ins, pc = d[1], d[2]
            qu.prev = ins
            qu.count -= 1
            if qu.count == 0:
                qu.state = "run"
            return [(q, pc, ins)]
        if kind == "idle":
            return []
        pc = qu.pc
        qu.pc += 1
        if kind == "sync":
            if not notify:
                qu.state = "parked"
            return []
        if kind == "notify":
            return []
        if kind == "end":
            qu.state = "ended"
            qu.pc -= 1
            return []
        if kind == "nop":
            if d[1] > 1:
                qu.state, qu.count = "wait", d[1] - 1
            return []
        if kind == "repeat":
            stepped, rep = d[1], d[2]
            qu.prev = stepped
            if rep["n"] > 1:
                qu.state, qu.count, qu.d = "repeat", rep["n"] - 1, rep["d"]
            return [(q, pc, stepped)]
        ins = d[1]
        if ins.op.unit is not Unit.CTRL:
            qu.prev = ins
        return [(q, pc, ins)]
