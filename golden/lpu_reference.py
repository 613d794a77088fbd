"""The slow reference of the golden ISA simulator: :class:`LpuReferenceModel`.

This is the straightforward implementation of :mod:`openlpu.golden.lpu` (whose
module docstring is the chip's specification), kept verbatim as it was before
the simulator was made fast: every cycle is stepped, every queue decoded, every
stream register shifted by a full copy. It is slow (a few thousand cycles/s at
``small``) and is not used to run programs; it is what the fast
:class:`~openlpu.golden.lpu.LpuModel` is checked against
(``tests/test_golden_speed.py``: every observable of random and compiled
programs equal) and measured against (``python -m openlpu.bench.bench_golden``).
Do not optimise it: its value is that it is obviously the specification.
"""

import numpy as np

from openlpu import isa, timing
from openlpu.golden import vxm as vxm_golden
from openlpu.golden.mxm import Act, Cycle
from openlpu.golden.sxm import SxmModel
from openlpu.golden.vxm_func import f32_func
from openlpu.golden.vxm_reduce import latency as reduce_latency, reduce_lanes
from openlpu.isa import ErrorCode, SxmOp, Unit
from openlpu.golden.lpu import LpuModel, RunResult, _Queue, _issue, _ints_of as ints_of, _words_of as words_of, _weight_load as weight_load, vxm_slot_fields

__all__ = ["LpuReferenceModel", "RunResult", "vxm_slot_fields"]


class LpuReferenceModel(LpuModel):
    """Cycle-accurate golden model of the chip, stepped cycle by cycle (the host view, SRAM and
    MXM planes are :class:`~openlpu.golden.lpu.LpuModel`'s).

    SRAM (``mem``), instruction memory and the MXM planes' weight tiles and
    accumulator rows persist across :meth:`run` calls, as on the chip (a start
    clears control state only); everything else starts from reset on each run.
    """

    streams = None      # the stream registers of the last run, a plain array here

    # --- the run ---------------------------------------------------------------------------
    def run(self, max_cycles=1_000_000, trace=False, provenance=False):
        """:meth:`openlpu.golden.lpu.LpuModel.run`, every cycle stepped."""
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
        vxm_entering = set()  # (cycle, ALU column) a chain enters
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
            config_writes = []   # applied after the cycle's VOPs have read their slots
            for q, pc, ins in dispatch:
                qu = queues[q]
                name = ins.op.name
                pos = self.pos[isa.queue_slice(qu.name)]
                if qu.unit in (Unit.MEM, Unit.MEW):     # read port (memN), write port (mewN)
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
                        cyc.load = weight_load(ins, read(pos, ins["src"], isa.stream_width(ins, "src"),
                                                         (q, t - 1, "src")))
                    elif name == "IW":
                        cyc.install = True
                elif qu.unit is Unit.MXM:
                    wds = words_of(read(pos, ins["src"], 2 if ins["fp16"] else 1, (q, t - 1, "src")))
                    mxm_cyc[qu.index].act = Act(wds, bool(ins["fp16"]), acc=name == "ACC", addr=ins["addr"])
                    mxm_dst[qu.index][t + span + timing.mxm_latency(cfg)] = (ins["dst"], (q, t - 1))
                elif qu.unit is Unit.VXM:
                    if name == "CONFIG":
                        config_writes.append((ins["reg"], ins["value"]))
                    elif name == "VOP":
                        cols = isa.vop_columns(cfg, qu.index, ins)
                        if (t, cols[0]) in vxm_entering:     # an earlier chain has the column
                            err_due.setdefault(t, []).append((q, 1, ErrorCode.VXM_FAULT, pc))
                            continue
                        vxm_entering.update((t2, c) for c, t2 in timing.vop_chain_points(cols[0], t, len(cols)))
                        n, length = ins["n"], len(cols)
                        etype, ops, srcs, imms = vxm_slot_fields(cfg, vxm_table[ins["slot"]])
                        ops, srcs, imms = ops[:length], srcs[:length], imms[:length]
                        res = vxm_golden.chain(ops, etype, srcs, imms, ints_of(read(pos, ins["a"], n, (q, t - 1, "a"))),
                                               ints_of(read(pos, ins["b"], n, (q, t - 1, "b"))))
                        # planes above the element width read as zero
                        res = np.asarray(res, dtype=np.int64) & ((1 << vxm_golden.WIDTH[vxm_golden.result_type(ops, etype, imms)]) - 1)
                        out = [((res >> (8 * i)) & 0xFF).astype(np.uint8) for i in range(n)]
                        due.setdefault(t + timing.vop_latency(length), []).append((pos, ins["dst"], out, cols[-1], (q, t - 1)))
                    elif name == "VRED":
                        vals = ints_of(read(pos, ins["a"], 4, (q, t - 1, "a")))
                        vals = np.where(vals >= 1 << 31, vals - (1 << 32), vals)
                        op = {v: k for k, v in isa.VRED_OPS.items()}[ins["op"]]
                        if op == "fsum":
                            vals = vals & 0xFFFFFFFF                     # raw fp32 bits
                        r = reduce_lanes(vals, op) & 0xFFFFFFFF
                        out = [np.full(lanes, (r >> (8 * i)) & 0xFF, dtype=np.uint8) for i in range(4)]
                        due.setdefault(t + rlat, []).append((pos, ins["dst"], out, cfg.vxm_alus, (q, t - 1)))
                    elif name == "VFUNC":
                        vals = ints_of(read(pos, ins["a"], 4, (q, t - 1, "a"))).astype(np.uint32)
                        res = np.asarray(f32_func(ins["fn"], vals), dtype=np.uint32)
                        out = [((res >> (8 * i)) & 0xFF).astype(np.uint8) for i in range(4)]
                        due.setdefault(t + timing.VXM_FUNC_LATENCY, []).append((pos, ins["dst"], out, cfg.vxm_alus + 1, (q, t - 1)))
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
            for reg, value in config_writes:
                slot, w = divmod(reg, words)
                vxm_table[slot][w] = value
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
            writes += sorted(due.pop(t, []), key=lambda w: w[3])   # VOPs by column, VRED, VFUNC
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
        code, ins = isa.check(cfg, qu.unit, self.imem[self.names.index(qu.name)][qu.pc], qu.index)
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
        return _issue(qu, q, pc, d)
