"""Formal properties of the ICU instruction queues (:mod:`openlpu.rtl.icu`).

:class:`IcuQueues` wraps an :class:`~openlpu.rtl.icu.Icu` of a reduced
configuration (:data:`FORMAL_CFG`: one SRAM slice, two VXM ALU columns and one
MXM plane, so seven queues ``mem0, mew0, vxm, vxm1, sxm, mxm0, mxw0`` -- the
slice's read and write queues and the VXM's column queues among them -- each
with a 4-instruction memory).
Its free inputs on every cycle are the host's instruction-memory writes,
``start``, every queue's ``unit_error`` and the reset; the only assumption is
the host protocol (no instruction-memory write while ``busy``). The solver
therefore picks any program (every word of every queue is symbolic) and any
unit error at any time. The ICU is built with ``observe=True``; the wrapper
reads each queue's state, pc, counters and fetched word from that documented
``observe`` port (:func:`~openlpu.rtl.icu.IcuObservation`) and checks, for
every queue:

* the state is one of RUN, WAIT, REPEAT, PARKED, ENDED
  (:class:`~openlpu.rtl.icu_queue.QueueState`);
* every issued word is an instruction of the queue's unit by its opcode (the
  tables of :data:`openlpu.isa.OPS`; CONFIG, VRED and VFUNC only from
  ``vxm``, VOP from ``vxm`` and ``vxm1``): READ, GATHER and SCRUB only from
  ``mem0``, WRITE and SCATTER only from ``mew0``;
* nothing issues unless the run was live in the cycle before, and nothing
  issues while ``error`` or ``done`` is set (no issue after a stop);
* an instruction is issued only from RUN or REPEAT;
* the pc is 0 after ``start``; otherwise it stays or moves forward by exactly
  one, it moves only when the queue consumed an instruction (RUN, live run),
  and every consumed instruction but END moves it;
* a consumed ``NOP n`` keeps the queue out of RUN (in WAIT, pc held, no issue)
  for exactly ``n - 1`` further cycles, then the queue is in RUN again;
* a consumed ``REPEAT n, d`` issues ``n`` instructions on ``n`` consecutive
  live cycles, each the previously issued instruction with its address field
  stepped by ``d`` (modulo its width; computed here from
  :data:`openlpu.isa.STEP_FIELD`, not with the ICU's own helper), and the
  queue is back in RUN afterwards.

The wrapper's own counters (NOP cycles left, REPEAT issues left) are tied to
the ICU's internal counter by helper assertions, which makes the properties
k-inductive: the proof is complete (every reachable state, every program), not
bounded.
"""

from types import SimpleNamespace

from amaranth.hdl import Assert, Assume, Cat, Cover, Elaboratable, Fragment, Module, Mux, Signal

from openlpu import isa
from openlpu.config import preset
from openlpu.rtl.icu import Icu
from openlpu.rtl.icu_queue import QueueState
from openlpu.verif.formal import Proof

__all__ = ["FORMAL_CFG", "IcuQueues", "build", "PROOFS", "spec_step"]

#: Reduced configuration: tiny with one SRAM slice and two VXM columns (seven queues) and 4-deep queues.
FORMAL_CFG = preset("tiny").replace(mem_slices=1, vxm_alus=2, mem_depth=16, mxm_acc_depth=2, imem_depth=4)


def _field(word, op, name):
    f = isa.BY_NAME[op].field(name)
    return word[f.lo:f.hi]


def _is(word, *names):
    opc = word[:isa.OPCODE_BITS]
    return Cat(*(opc == isa.BY_NAME[n].opcode for n in names)).any()


def spec_step(word, d):
    """``word`` with the :data:`~openlpu.isa.STEP_FIELD` of its instruction advanced by ``d``."""
    out = word
    for name, fname in isa.STEP_FIELD.items():
        f = isa.BY_NAME[name].field(fname)
        new = Cat(word[:f.lo], (word[f.lo:f.hi] + d)[:f.width], word[f.hi:])
        out = Mux(_is(word, name), new, out)
    return out


class IcuQueues(Elaboratable):
    """Property module: ICU queue invariants (see the module docstring).

    Arguments
    ---------
    cfg : LpuConfig
    wrong_nop : bool
        Claim a NOP n idles ``n`` further cycles (one too many): a false
        property the flow must reject.
    swap_mem_units : bool
        Claim the read queue issues the write queue's instructions and the
        write queue the read queue's: a false property the flow must reject.
    """

    def __init__(self, cfg=FORMAL_CFG, wrong_nop=False, swap_mem_units=False):
        self._cfg = cfg
        self._wrong_nop = wrong_nop
        self._swap = {isa.Unit.MEM: isa.Unit.MEW, isa.Unit.MEW: isa.Unit.MEM} if swap_mem_units else {}
        self.icu = Icu(cfg, observe=True)
        self.counts = [0, 0, 0]

    def ports(self):
        icu = self.icu
        return ([icu.imem_wr.valid, icu.imem_wr.payload.as_value(), icu.start]
                + [ue.as_value() for ue in icu.unit_error])

    def elaborate(self, platform):
        m = Module()
        counts = [0, 0, 0]

        def check(kind, stmt):
            counts[kind] += 1
            m.d.comb += stmt

        icu = m.submodules.icu = self.icu
        run = self._run(m, check, icu)
        for q, qname in enumerate(isa.queues(self._cfg)):
            qs = self._snapshots(m, run, q, qname)
            self._issue_and_pc(m, check, run, qs)
            self._unit_of_issue(check, qs)
            self._nop(m, check, run, qs)
            rep = self._repeat(m, check, run, qs)
            if q == 0:
                check(2, Cover(run.active & (qs.st == QueueState.WAIT) & (qs.count == 2)))
                check(2, Cover(rep.rep & (rep.n == 3) & (rep.d == 5) & _is(rep.last, "READ")))
                check(2, Cover(run.ok_prev & (rep.left == 1) & qs.out.valid))     # the last of a REPEAT 3
                check(2, Cover(icu.error & (qs.pc == 2)))
            if qname == "mew0":
                check(2, Cover(rep.rep & (rep.n == 2) & _is(rep.last, "WRITE")))     # the write queue repeats
        names = isa.queues(self._cfg)
        check(2, Cover(icu.issue[names.index("mem0")].valid & icu.issue[names.index("mew0")].valid))
        check(2, Cover(icu.done & (icu.observe.queues[0].pc == 3)))
        self.counts = counts
        return m

    @staticmethod
    def _run(m, check, icu):
        """The host assumption, run-level helpers and previous-cycle snapshots of the run."""
        active = icu.observe.active
        check(1, Assume(~icu.imem_wr.valid | ~icu.busy))

        # previous-cycle snapshots
        go = icu.start & ~icu.busy
        p_active = Signal(name="p_active")
        p_go = Signal(name="p_go")
        m.d.sync += [p_active.eq(active), p_go.eq(go)]
        # the run was live (and not stopped by an error) in the previous cycle
        ok_prev = Signal(name="ok_prev")
        m.d.comb += ok_prev.eq(p_active & ~icu.error)

        # helpers (k-induction): a live run has no stop flag; start makes the run live
        check(0, Assert(~active | ~(icu.error | icu.done), "(helper) a live run has no stop flag"))
        check(0, Assert(~p_go | active, "(helper) start makes the run live"))
        return SimpleNamespace(icu=icu, active=active, go=go, p_go=p_go, ok_prev=ok_prev)

    @staticmethod
    def _snapshots(m, run, q, qname):
        """Queue ``q``'s observed registers, its issue, and their previous-cycle values."""
        obs = run.icu.observe.queues[q]
        st, pc, word = obs.state, obs.pc, obs.word
        p_st = Signal(QueueState, name=f"{qname}_p_st")
        p_pc = Signal(len(pc), name=f"{qname}_p_pc")
        p_word = Signal(len(word), name=f"{qname}_p_word")
        m.d.sync += [p_st.eq(st), p_pc.eq(pc), p_word.eq(word)]
        consumed = Signal(name=f"{qname}_consumed")      # an instruction was consumed last cycle
        m.d.comb += consumed.eq(run.ok_prev & (p_st == QueueState.RUN))
        return SimpleNamespace(name=qname, obs=obs, st=st, pc=pc, count=obs.count, out=run.icu.issue[q],
                               p_st=p_st, p_pc=p_pc, p_word=p_word, consumed=consumed)

    def _unit_of_issue(self, check, qs):
        """An issued word is an instruction of the queue's unit (VRED, VFUNC and CONFIG: of the
        VXM's column 0 queue only; its other column queues issue VOP)."""
        unit, index = isa.queue_unit(qs.name)
        unit = self._swap.get(unit, unit)
        names = [op.name for op in isa.OPS if op.unit is unit and not (index and op.name in ("VRED", "VFUNC"))]
        names += ["CONFIG"] if unit is isa.Unit.VXM and not index else []
        check(0, Assert(~qs.out.valid | _is(qs.out.word, *names), f"{qs.name}: issues only {unit.value} instructions"))
        units = [n for n in names if n != "CONFIG"]        # what a REPEAT may repeat (k-induction)
        check(0, Assert(~qs.obs.has_prev | _is(qs.obs.prev, *units), f"{qs.name}: (helper) prev of the unit"))

    @staticmethod
    def _issue_and_pc(m, check, run, qs):
        """Legal state; when an instruction may issue; how the pc moves."""
        qname, st, pc, p_pc, out, consumed = qs.name, qs.st, qs.pc, qs.p_pc, qs.out, qs.consumed
        icu = run.icu
        # legal state encodings
        check(0, Assert(Cat(*(st == s for s in QueueState)).any(), f"{qname}: state is a legal encoding"))

        # no issue after a stop, none outside a live run, only from RUN or REPEAT
        check(0, Assert(~out.valid | run.ok_prev, f"{qname}: issue only from a live run"))
        check(0, Assert(~out.valid | ~(icu.error | icu.done), f"{qname}: no issue after a stop"))
        check(0, Assert(~out.valid | (qs.p_st == QueueState.RUN) | (qs.p_st == QueueState.REPEAT),
                        f"{qname}: issue from RUN/REPEAT"))

        # the pc moves forward by one per consumed instruction
        with m.If(run.p_go):
            check(0, Assert(pc == 0, f"{qname}: pc 0 after start"))
        with m.Else():
            check(0, Assert((pc == p_pc) | (pc == p_pc + 1), f"{qname}: pc stays or steps by one"))
            check(0, Assert((pc == p_pc) | consumed, f"{qname}: pc moves only on a consumed instruction"))
            check(0, Assert(~consumed | _is(qs.p_word, "END") | (pc == p_pc + 1),
                            f"{qname}: every consumed instruction but END moves the pc"))

    def _nop(self, m, check, run, qs):
        """NOP n: exactly n - 1 idle cycles after the NOP's own."""
        qname, st = qs.name, qs.st
        nop_n = isa.BY_NAME["NOP"].field("n")
        wait_reg = Signal(16, name=f"{qname}_wait_reg")
        left = Signal(16, name=f"{qname}_wait_left")      # idle cycles left, this one included
        nop = qs.consumed & _is(qs.p_word, "NOP")
        n_nop = qs.p_word[nop_n.lo:nop_n.hi]
        idle = n_nop if self._wrong_nop else n_nop - 1
        m.d.comb += left.eq(Mux(nop, idle, wait_reg))
        m.d.sync += wait_reg.eq(Mux(left != 0, left - 1, 0))
        with m.If(run.go):
            m.d.sync += wait_reg.eq(0)
        p_left = Signal(16, name=f"{qname}_p_left")
        m.d.sync += p_left.eq(left)
        with m.If(run.active):
            check(0, Assert((left != 0) == (st == QueueState.WAIT),
                            f"{qname}: WAIT exactly while NOP cycles remain"))
            with m.If(st == QueueState.WAIT):
                check(0, Assert(qs.count == left, f"{qname}: (helper) WAIT counter"))
                check(0, Assert((qs.p_st != QueueState.WAIT) | (qs.pc == qs.p_pc), f"{qname}: pc held while waiting"))
            with m.If(~run.p_go & ((nop & (n_nop == 1)) | (p_left == 1))):
                check(0, Assert(st == QueueState.RUN, f"{qname}: back in RUN right after the NOP's cycles"))

    @staticmethod
    def _repeat(m, check, run, qs):
        """REPEAT n, d: n issues on consecutive live cycles, each stepped by d."""
        qname, st, out, obs, ok_prev = qs.name, qs.st, qs.out, qs.obs, run.ok_prev
        last = Signal(64, name=f"{qname}_last")           # last issued non-CONFIG word
        has_last = Signal(name=f"{qname}_has_last")
        with m.If(out.valid & ~_is(out.word, "CONFIG")):
            m.d.sync += [last.eq(out.word), has_last.eq(1)]
        rep_reg = Signal(16, name=f"{qname}_rep_reg")     # repeats left after the previous cycle's
        rep_d = Signal(16, name=f"{qname}_rep_d")
        rep = qs.consumed & _is(qs.p_word, "REPEAT")
        n_rep = _field(qs.p_word, "REPEAT", "n")
        d_rep = _field(qs.p_word, "REPEAT", "d")
        expect = Signal(name=f"{qname}_rep_expect")
        m.d.comb += expect.eq(rep | (ok_prev & (rep_reg != 0)))
        with m.If(rep):
            check(0, Assert(out.valid & (out.word == spec_step(last, d_rep)) & has_last,
                            f"{qname}: REPEAT issues the previous instruction stepped by d"))
            m.d.sync += [rep_reg.eq(n_rep - 1), rep_d.eq(d_rep)]
        with m.Elif(ok_prev & (rep_reg != 0)):
            check(0, Assert(out.valid & (out.word == spec_step(last, rep_d)),
                            f"{qname}: each repeat is the previous issue stepped by d"))
            m.d.sync += rep_reg.eq(rep_reg - 1)
        with m.If(run.p_go):
            m.d.sync += [rep_reg.eq(0), has_last.eq(0)]
        with m.If(run.active & ~run.p_go):
            # helpers tying the wrapper's count to the queue's (k-induction)
            next_left = Mux(rep, n_rep - 1, Mux(rep_reg != 0, rep_reg - 1, 0))
            check(0, Assert((st == QueueState.REPEAT) == (next_left != 0),
                            f"{qname}: REPEAT exactly while repeats remain"))
            with m.If(st == QueueState.REPEAT):
                check(0, Assert(qs.count == next_left, f"{qname}: (helper) REPEAT counter"))
                check(0, Assert(has_last, f"{qname}: (helper) a repeat has a previous issue"))
                check(0, Assert(obs.d == Mux(rep, d_rep, rep_d), f"{qname}: (helper) step d"))
            seen = out.valid & ~_is(out.word, "CONFIG")
            check(0, Assert(obs.has_prev == (has_last | seen), f"{qname}: (helper) has_prev"))
            with m.If(obs.has_prev):
                check(0, Assert(obs.prev == Mux(seen, out.word, last), f"{qname}: (helper) prev"))
        return SimpleNamespace(rep=rep, n=n_rep, d=d_rep, last=last, left=rep_reg)


def build(**kwargs):
    """``build`` of a :class:`~openlpu.verif.formal.Proof`: ``(module, ports, counts)``."""
    probe = IcuQueues(**kwargs)
    Fragment.get(probe, None)
    mod = IcuQueues(**kwargs)
    return mod, mod.ports(), tuple(probe.counts)


PROOFS = [
    Proof("icu_queues", build, depth=8, induction=True, cover_depth=15,
          why_depth="k-induction with k = 8 (complete for every program and unit-error pattern); "
                    "covers searched 15 cycles from reset (a program in each of the 7 queues, then the run)"),
]
