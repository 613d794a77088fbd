"""Instruction control unit (ICU): one instruction queue per functional slice.

Each queue (:func:`openlpu.isa.queues`) has its own instruction memory,
loaded by the host one ``lanes``-byte beat (``lanes // 8`` instructions) at a
time, and a program counter. After ``start`` all queues run in lock step,
one instruction per cycle each, with the semantics of
:mod:`openlpu.golden.lpu`: NOP/REPEAT/SYNC/NOTIFY/CONFIG/END, legality checks
from :func:`openlpu.isa.check` mirrored in hardware, and an error stop that
records the code, the queue and the program counter.

Timing
------
``start`` in cycle ``s`` makes cycle ``s + 1`` cycle 0 of the program. An
instruction issued in cycle ``t`` appears on ``issue[q]`` in cycle
``t + ICU_DISPATCH_LATENCY`` (its execute cycle). ``busy`` is high from cycle
0 until ``ICU_DRAIN_CYCLES`` cycles after the stop; ``done``/``error`` are set
from the cycle after the stop until the next start, and ``cycles`` holds the
cycle count of the run (stop cycle + 1).

Ports
-----
imem_wr : In(Flow(ImemWriteLayout))
    Host writes of instruction memory (only while not ``busy``).
start : In(1)
    Starts a run (ignored while ``busy``).
issue : Out(IssueLayout).array(queues)
    The instruction each queue executes this cycle: ``valid``, ``word`` (REPEAT
    already stepped), ``pc``.
unit_error : In(UnitErrorLayout).array(queues)
    Errors units detect for an instruction of queue ``q`` (older than any
    instruction the queue issues in the same cycle).
busy, done, error, irq : Out(1)
code, err_queue, err_pc, cycles : Out(...)
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from openlpu import isa, timing
from openlpu.config import LpuConfig
from openlpu.isa import BY_NAME, OPS, ErrorCode, Unit

from .streams import Flow

__all__ = ["ImemWriteLayout", "IssueLayout", "UnitErrorLayout", "Icu", "field"]

CODE_BITS = 3
assert max(ErrorCode) < 1 << CODE_BITS

RUN, WAIT, REPEAT, PARKED, ENDED = range(5)


def _nq(cfg):
    return len(isa.queues(cfg))


def ImemWriteLayout(cfg):
    return data.StructLayout({"queue": unsigned(max(1, ceil_log2(_nq(cfg)))),
                              "row": unsigned(max(1, ceil_log2(_rows(cfg)))),
                              "data": unsigned(8 * cfg.lanes)})


def IssueLayout(cfg):
    return data.StructLayout({"valid": 1, "word": unsigned(isa.WORD_BITS),
                              "pc": unsigned(ceil_log2(cfg.imem_depth + 1))})


def UnitErrorLayout(cfg):
    return data.StructLayout({"valid": 1, "code": unsigned(CODE_BITS),
                              "pc": unsigned(ceil_log2(cfg.imem_depth + 1))})


def _per_row(cfg):
    return cfg.lanes // 8


def _rows(cfg):
    return cfg.imem_depth // _per_row(cfg)


def field(word, op_name, name):
    """The bits of field ``name`` of instruction ``op_name`` in ``word``."""
    f = BY_NAME[op_name].field(name)
    return word[f.lo:f.hi]


def is_op(word, *names):
    opc = word[:isa.OPCODE_BITS]
    return Cat(*(opc == BY_NAME[n].opcode for n in names)).any()


def check(m, cfg, unit, word, name):
    """Hardware twin of :func:`openlpu.isa.check` for a queue of ``unit``: the error code."""
    ops = [op for op in OPS if op.unit in (Unit.CTRL, unit)]
    opc = word[:isa.OPCODE_BITS]
    known = Cat(*(opc == op.opcode for op in ops)).any()
    stray = Cat(*((opc == op.opcode) & (word & (((1 << 64) - 1) ^ isa.used_mask(op))).any()
                  for op in ops)).any()
    bad = []
    bad.append(is_op(word, "NOP", "REPEAT") & (field(word, "NOP", "n") == 0))
    if unit is Unit.VXM:
        regs = isa.VXM_SLOTS * isa.vxm_control_words(cfg)
        reg = field(word, "CONFIG", "reg")
        bad.append(is_op(word, "CONFIG") & (reg >= regs))
        lsb, width, types = isa.vxm_etype_field(cfg)
        # reg % words == 0, as a set of compares: a modulo by a non-power of two is a
        # combinational divider, which set the ICU's clock (20 MHz on ECP5)
        words = isa.vxm_control_words(cfg)
        word0 = Cat(*(reg == r for r in range(0, 1 << len(reg), words))).any()
        etype = field(word, "CONFIG", "value")[lsb:lsb + width]
        bad.append(is_op(word, "CONFIG") & word0 & (etype >= types))
        n = field(word, "VOP", "n")
        bad.append(is_op(word, "VOP") & ~((n == 1) | (n == 2) | (n == 4)))
        bad.append(is_op(word, "VRED") & (field(word, "VRED", "op") >= len(isa.VRED_OPS)))
    else:
        bad.append(is_op(word, "CONFIG"))
    if unit is Unit.SXM:
        k = field(word, "SHUP", "k")
        bad.append(is_op(word, "SHUP", "SHDN") & (k > cfg.lanes))
        bad.append(is_op(word, "ROT", "DIST") & (k >= cfg.lanes))
    # stream operands and groups
    for op in ops:
        for f in op.fields:
            if f.kind != "stream":
                continue
            num = word[f.lo:f.lo + 5]
            if op.name in ("LW", "ABC", "ACC") and f.name == "src":
                width = Mux(field(word, op.name, "fp16"), 2, 1)
            elif op.name in ("ABC", "ACC") and f.name == "dst":
                width = 4
            elif op.name == "VOP":
                width = field(word, "VOP", "n")
            elif op.name in ("VRED", "VFUNC"):
                width = 4
            else:
                width = 1
            bad.append((opc == op.opcode) & (num + width > cfg.streams))
    bad_field = Signal(name=f"{name}_bad_field")
    m.d.comb += bad_field.eq(stray | Cat(*bad).any())
    bad_addr = Signal(name=f"{name}_bad_addr")
    m.d.comb += bad_addr.eq(address_error(cfg, word))
    code = Signal(CODE_BITS, name=f"{name}_code")
    m.d.comb += code.eq(Mux(~known, ErrorCode.ILLEGAL_OPCODE,
                            Mux(bad_field, ErrorCode.BAD_FIELD,
                                Mux(bad_addr, ErrorCode.BAD_ADDRESS, ErrorCode.NONE))))
    return code


def address_error(cfg, word):
    """Hardware twin of :func:`openlpu.isa.check_address`."""
    addr = field(word, "READ", "addr")
    for n in isa.STEP_FIELD:
        assert BY_NAME[n].field(isa.STEP_FIELD[n]) == BY_NAME["READ"].field("addr")
    return ((is_op(word, "READ", "WRITE", "SCRUB") & (addr >= cfg.mem_depth))
            | (is_op(word, "ABC", "ACC") & (addr >= cfg.mxm_acc_depth))
            | (is_op(word, "LW") & (addr >= cfg.lanes)))


def stepped(word, d):
    """``word`` with its address field advanced by ``d`` when it has a REPEAT step field."""
    f = BY_NAME["READ"].field("addr")
    steps = is_op(word, *isa.STEP_FIELD)
    new = (word[f.lo:f.hi] + d)[:f.width]
    return Mux(steps, Cat(word[:f.lo], new, word[f.hi:]), word)


class Icu(wiring.Component):
    """The instruction control unit (see the module docstring)."""

    def __init__(self, cfg):
        if not isinstance(cfg, LpuConfig):
            raise TypeError(f"cfg must be an LpuConfig, not {cfg!r}")
        if cfg.lanes % 8 or cfg.imem_depth % (cfg.lanes // 8):
            raise ValueError(f"Icu: lanes ({cfg.lanes}) must be a multiple of 8 and imem_depth "
                             f"({cfg.imem_depth}) a multiple of lanes // 8")
        self._cfg = cfg
        nq = _nq(cfg)
        pcw = ceil_log2(cfg.imem_depth + 1)
        super().__init__({
            "imem_wr": In(Flow(ImemWriteLayout(cfg))),
            "start": In(1),
            "issue": Out(IssueLayout(cfg)).array(nq),
            "unit_error": In(UnitErrorLayout(cfg)).array(nq),
            "busy": Out(1), "done": Out(1), "error": Out(1), "irq": Out(1),
            "code": Out(CODE_BITS), "err_queue": Out(8), "err_pc": Out(pcw), "cycles": Out(32),
        })

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        names = isa.queues(cfg)
        nq = len(names)
        per_row = _per_row(cfg)
        sel_bits = exact_log2(per_row)
        pcw = ceil_log2(cfg.imem_depth + 1)

        active = Signal()        # a program runs (cycles 0 .. stop)
        drain = Signal(range(timing.ICU_DRAIN_CYCLES + 1))
        go = self.start & ~self.busy
        m.d.comb += [self.busy.eq(active | (drain != 0)), self.irq.eq(self.done | self.error)]
        with m.If(drain != 0):
            m.d.sync += drain.eq(drain - 1)

        qs = []
        for q, qname in enumerate(names):
            unit, _ = isa.queue_unit(qname)
            mem = memory.Memory(shape=8 * cfg.lanes, depth=_rows(cfg), init=[])
            m.submodules[f"imem_{qname}"] = mem
            wp = mem.write_port()
            rp = mem.read_port()
            m.d.comb += [wp.en.eq(self.imem_wr.valid & (self.imem_wr.payload.queue == q)),
                         wp.addr.eq(self.imem_wr.payload.row), wp.data.eq(self.imem_wr.payload.data)]
            st = Signal(3, name=f"{qname}_state")
            pc = Signal(pcw, name=f"{qname}_pc")
            count = Signal(16, name=f"{qname}_count")
            d = Signal(16, name=f"{qname}_d")
            prev = Signal(64, name=f"{qname}_prev")
            has_prev = Signal(name=f"{qname}_has_prev")
            row_sel = pc[:sel_bits] if sel_bits else Const(0, 1)
            word = Signal(64, name=f"{qname}_word")
            m.d.comb += word.eq(rp.data.word_select(row_sel, 64) if sel_bits else rp.data)
            code = check(m, cfg, unit, word, qname)
            pc_ok = pc < cfg.imem_depth
            rep_word = Signal(64, name=f"{qname}_rep_word")
            m.d.comb += rep_word.eq(stepped(prev, Mux(st == REPEAT, d, field(word, "REPEAT", "d"))))
            rep_bad = address_error(cfg, rep_word)
            run = active & (st == RUN)
            # this queue's error in this cycle (decode of the fetched word, or a repeat)
            dec_err = Signal(CODE_BITS, name=f"{qname}_dec_err")
            m.d.comb += dec_err.eq(
                Mux(active & (st == REPEAT) & rep_bad, ErrorCode.BAD_ADDRESS,
                    Mux(~run, ErrorCode.NONE,
                        Mux(~pc_ok, ErrorCode.BAD_ADDRESS,
                            Mux(code != 0, code,
                                Mux(is_op(word, "REPEAT") & ~has_prev, ErrorCode.REPEAT_EMPTY,
                                    Mux(is_op(word, "REPEAT") & rep_bad, ErrorCode.BAD_ADDRESS,
                                        ErrorCode.NONE)))))))
            err_pc = Signal(pcw, name=f"{qname}_err_pc")
            ue = self.unit_error[q]
            m.d.comb += err_pc.eq(Mux(ue.valid, ue.pc, Mux(st == REPEAT, pc - 1, pc)))
            any_err = Signal(name=f"{qname}_any_err")
            m.d.comb += any_err.eq(ue.valid | (dec_err != 0))
            qs.append(dict(name=qname, st=st, pc=pc, count=count, d=d, prev=prev, has_prev=has_prev,
                           word=word, rp=rp, run=run, dec_err=dec_err, err_pc=err_pc, any_err=any_err,
                           ue=ue, pc_ok=pc_ok, rep_word=rep_word))

        errs = Cat(*(q["any_err"] for q in qs))
        notify = Cat(*(q["run"] & q["pc_ok"] & (q["dec_err"] == 0) & is_op(q["word"], "NOTIFY")
                       for q in qs)).any()
        live = Cat(*(q["st"] != ENDED for q in qs))
        stuck = Cat(*((q["st"] == PARKED) | (q["st"] == ENDED) | (q["run"] & is_op(q["word"], "SYNC"))
                  for q in qs)).all()
        deadlock = active & live.any() & stuck & ~notify & ~errs.any()
        ended_after = Cat(*((q["st"] == ENDED) | (q["run"] & is_op(q["word"], "END")) for q in qs)).all()
        stop_err = active & (errs.any() | deadlock)
        stop_done = active & ~stop_err & ended_after
        ok = active & ~stop_err

        # --- error record: lowest queue wins ------------------------------------------
        with m.If(stop_err):
            m.d.sync += [active.eq(0), self.error.eq(1), drain.eq(timing.ICU_DRAIN_CYCLES)]
            for q in reversed(range(nq)):
                qq = qs[q]
                with m.If(qq["any_err"]):
                    m.d.sync += [self.code.eq(Mux(qq["ue"].valid, qq["ue"].code, qq["dec_err"])),
                                 self.err_queue.eq(q), self.err_pc.eq(qq["err_pc"])]
            with m.If(deadlock):
                first = Signal(range(nq), name="first_live")
                pick = Const(0, first.shape())
                for q in reversed(range(nq)):
                    pick = Mux(live[q], q, pick)
                m.d.comb += first.eq(pick)
                m.d.sync += [self.code.eq(ErrorCode.DEADLOCK), self.err_queue.eq(first)]
                for q in range(nq):
                    with m.If(first == q):
                        m.d.sync += self.err_pc.eq(qs[q]["pc"])
        with m.If(stop_done):
            m.d.sync += [active.eq(0), self.done.eq(1), drain.eq(timing.ICU_DRAIN_CYCLES)]
        with m.If(active):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        with m.If(go):
            m.d.sync += [active.eq(1), self.done.eq(0), self.error.eq(0), self.code.eq(0),
                         self.err_queue.eq(0), self.err_pc.eq(0), self.cycles.eq(0)]

        # --- per-queue state machines ---------------------------------------------------
        for q, qq in enumerate(qs):
            st, pc, count, d, prev, word = qq["st"], qq["pc"], qq["count"], qq["d"], qq["prev"], qq["word"]
            out = self.issue[q]
            next_pc = Signal(pcw, name=f"{qq['name']}_next_pc")
            m.d.comb += next_pc.eq(pc)
            issue_word = Signal(64, name=f"{qq['name']}_issue_word")
            issue_now = Signal(name=f"{qq['name']}_issue_now")
            with m.If(ok):
                with m.If(st == WAIT):
                    m.d.sync += count.eq(count - 1)
                    with m.If(count == 1):
                        m.d.sync += st.eq(RUN)
                with m.Elif(st == REPEAT):
                    m.d.comb += [issue_now.eq(1), issue_word.eq(qq["rep_word"])]
                    m.d.sync += [prev.eq(qq["rep_word"]), count.eq(count - 1)]
                    with m.If(count == 1):
                        m.d.sync += st.eq(RUN)
                with m.Elif(st == PARKED):
                    with m.If(notify):
                        m.d.sync += st.eq(RUN)
                with m.Elif(st == RUN):
                    n = field(word, "NOP", "n")
                    with m.If(is_op(word, "END")):
                        m.d.sync += st.eq(ENDED)
                    with m.Else():
                        m.d.comb += next_pc.eq(pc + 1)
                    with m.If(is_op(word, "NOP") & (n > 1)):
                        m.d.sync += [st.eq(WAIT), count.eq(n - 1)]
                    with m.If(is_op(word, "SYNC") & ~notify):
                        m.d.sync += st.eq(PARKED)
                    with m.If(is_op(word, "REPEAT")):
                        m.d.comb += [issue_now.eq(1), issue_word.eq(qq["rep_word"])]
                        m.d.sync += prev.eq(qq["rep_word"])
                        with m.If(n > 1):
                            m.d.sync += [st.eq(REPEAT), count.eq(n - 1), d.eq(field(word, "REPEAT", "d"))]
                    unit_ins = ~is_op(word, "NOP", "REPEAT", "SYNC", "NOTIFY", "END")
                    with m.If(unit_ins):
                        m.d.comb += [issue_now.eq(1), issue_word.eq(word)]
                        with m.If(~is_op(word, "CONFIG")):
                            m.d.sync += [prev.eq(word), qq["has_prev"].eq(1)]
            m.d.sync += pc.eq(next_pc)
            m.d.sync += [out.valid.eq(issue_now), out.word.eq(issue_word),
                         out.pc.eq(Mux(st == REPEAT, pc - 1, pc))]
            with m.If(go):
                m.d.sync += [st.eq(RUN), pc.eq(0), qq["has_prev"].eq(0), count.eq(0)]
            # fetch: the row of the next instruction (row 0 while idle, for cycle 0)
            m.d.comb += qq["rp"].addr.eq(Mux(active & ~go, next_pc[sel_bits:], 0))
        return m
