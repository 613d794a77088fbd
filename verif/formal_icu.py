"""Formal properties of the ICU instruction queues (:mod:`openlpu.rtl.icu`).

:class:`IcuQueues` wraps an :class:`~openlpu.rtl.icu.Icu` of a reduced
configuration (:data:`FORMAL_CFG`: one SRAM slice and one MXM plane, so five
queues ``mem0, vxm, sxm, mxm0, mxw0``, each with a 4-instruction memory).
Its free inputs on every cycle are the host's instruction-memory writes,
``start``, every queue's ``unit_error`` and the reset; the only assumption is
the host protocol (no instruction-memory write while ``busy``). The solver
therefore picks any program (every word of every queue is symbolic) and any
unit error at any time. The wrapper reads the queues' state registers by name
from the elaborated ICU and checks, for every queue:

* the state is one of RUN, WAIT, REPEAT, PARKED, ENDED;
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

from amaranth.hdl import Assert, Assume, Cat, Cover, Elaboratable, Fragment, Module, Mux, Signal

from openlpu import isa
from openlpu.config import preset
from openlpu.rtl.icu import ENDED, PARKED, REPEAT, RUN, WAIT, Icu
from openlpu.verif.formal import Proof

__all__ = ["FORMAL_CFG", "IcuQueues", "build", "PROOFS", "spec_step"]

#: Reduced configuration: tiny with one SRAM slice (five queues) and 4-deep queues.
FORMAL_CFG = preset("tiny").replace(mem_slices=1, mem_depth=16, mxm_acc_depth=2, imem_depth=4)


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


def _internal(module):
    """Signals driven by ``module`` (an elaborated :class:`Module`), by name."""
    return {sig.name: sig for sig in module._driving}


class IcuQueues(Elaboratable):
    """Property module: ICU queue invariants (see the module docstring).

    Arguments
    ---------
    cfg : LpuConfig
    wrong_nop : bool
        Claim a NOP n idles ``n`` further cycles (one too many): a false
        property the flow must reject.
    """

    def __init__(self, cfg=FORMAL_CFG, wrong_nop=False):
        self._cfg = cfg
        self._wrong_nop = wrong_nop
        self.icu = Icu(cfg)
        self.icu._MustUse__silence = True       # elaborated by hand in elaborate()
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

        icu = self.icu
        inner = icu.elaborate(platform)
        m.submodules.icu = inner
        sig = _internal(inner)
        active = sig["active"]

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

        nop_n = isa.BY_NAME["NOP"].field("n")
        for q, qname in enumerate(isa.queues(self._cfg)):
            st, pc, count, word = (sig[f"{qname}_state"], sig[f"{qname}_pc"], sig[f"{qname}_count"],
                                   sig[f"{qname}_word"])
            out = icu.issue[q]
            p_st = Signal.like(st, name=f"{qname}_p_st")
            p_pc = Signal.like(pc, name=f"{qname}_p_pc")
            p_word = Signal.like(word, name=f"{qname}_p_word")
            m.d.sync += [p_st.eq(st), p_pc.eq(pc), p_word.eq(word)]
            consumed = Signal(name=f"{qname}_consumed")      # an instruction was consumed last cycle
            m.d.comb += consumed.eq(ok_prev & (p_st == RUN))

            # legal state encodings
            check(0, Assert(st <= ENDED, f"{qname}: state is a legal encoding"))

            # no issue after a stop, none outside a live run, only from RUN or REPEAT
            check(0, Assert(~out.valid | ok_prev, f"{qname}: issue only from a live run"))
            check(0, Assert(~out.valid | ~(icu.error | icu.done), f"{qname}: no issue after a stop"))
            check(0, Assert(~out.valid | (p_st == RUN) | (p_st == REPEAT), f"{qname}: issue from RUN/REPEAT"))

            # the pc moves forward by one per consumed instruction
            with m.If(p_go):
                check(0, Assert(pc == 0, f"{qname}: pc 0 after start"))
            with m.Else():
                check(0, Assert((pc == p_pc) | (pc == p_pc + 1), f"{qname}: pc stays or steps by one"))
                check(0, Assert((pc == p_pc) | consumed, f"{qname}: pc moves only on a consumed instruction"))
                check(0, Assert(~consumed | _is(p_word, "END") | (pc == p_pc + 1),
                                f"{qname}: every consumed instruction but END moves the pc"))

            # NOP n: exactly n - 1 idle cycles after the NOP's own
            wait_reg = Signal(16, name=f"{qname}_wait_reg")
            left = Signal(16, name=f"{qname}_wait_left")      # idle cycles left, this one included
            nop = consumed & _is(p_word, "NOP")
            n_nop = p_word[nop_n.lo:nop_n.hi]
            idle = n_nop if self._wrong_nop else n_nop - 1
            m.d.comb += left.eq(Mux(nop, idle, wait_reg))
            m.d.sync += wait_reg.eq(Mux(left != 0, left - 1, 0))
            with m.If(go):
                m.d.sync += wait_reg.eq(0)
            p_left = Signal(16, name=f"{qname}_p_left")
            m.d.sync += p_left.eq(left)
            with m.If(active):
                check(0, Assert((left != 0) == (st == WAIT), f"{qname}: WAIT exactly while NOP cycles remain"))
                with m.If(st == WAIT):
                    check(0, Assert(count == left, f"{qname}: (helper) WAIT counter"))
                    check(0, Assert((p_st != WAIT) | (pc == p_pc), f"{qname}: pc held while waiting"))
                with m.If(~p_go & ((nop & (n_nop == 1)) | (p_left == 1))):
                    check(0, Assert(st == RUN, f"{qname}: back in RUN right after the NOP's cycles"))

            # REPEAT n, d: n issues on consecutive live cycles, each stepped by d
            last = Signal(64, name=f"{qname}_last")           # last issued non-CONFIG word
            has_last = Signal(name=f"{qname}_has_last")
            with m.If(out.valid & ~_is(out.word, "CONFIG")):
                m.d.sync += [last.eq(out.word), has_last.eq(1)]
            rep_reg = Signal(16, name=f"{qname}_rep_reg")     # repeats left after the previous cycle's
            rep_d = Signal(16, name=f"{qname}_rep_d")
            rep = consumed & _is(p_word, "REPEAT")
            n_rep = _field(p_word, "REPEAT", "n")
            d_rep = _field(p_word, "REPEAT", "d")
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
            with m.If(p_go):
                m.d.sync += [rep_reg.eq(0), has_last.eq(0)]
            with m.If(active & ~p_go):
                # helpers tying the wrapper's count to the queue's (k-induction)
                next_left = Mux(rep, n_rep - 1, Mux(rep_reg != 0, rep_reg - 1, 0))
                check(0, Assert((st == REPEAT) == (next_left != 0), f"{qname}: REPEAT exactly while repeats remain"))
                with m.If(st == REPEAT):
                    check(0, Assert(count == next_left, f"{qname}: (helper) REPEAT counter"))
                    check(0, Assert(has_last, f"{qname}: (helper) a repeat has a previous issue"))
                    check(0, Assert(sig[f"{qname}_d"] == Mux(rep, d_rep, rep_d), f"{qname}: (helper) step d"))
                seen = out.valid & ~_is(out.word, "CONFIG")
                check(0, Assert(sig[f"{qname}_has_prev"] == (has_last | seen), f"{qname}: (helper) has_prev"))
                with m.If(sig[f"{qname}_has_prev"]):
                    check(0, Assert(sig[f"{qname}_prev"] == Mux(seen, out.word, last), f"{qname}: (helper) prev"))

            if q == 0:
                check(2, Cover(active & (st == WAIT) & (count == 2)))
                check(2, Cover(rep & (n_rep == 3) & (d_rep == 5) & _is(last, "READ")))
                check(2, Cover(ok_prev & (rep_reg == 1) & out.valid))     # the last of a REPEAT 3
                check(2, Cover(icu.error & (pc == 2)))
        check(2, Cover(icu.done & (sig["mem0_pc"] == 3)))
        self.counts = counts
        return m


def build(**kwargs):
    """``build`` of a :class:`~openlpu.verif.formal.Proof`: ``(module, ports, counts)``."""
    probe = IcuQueues(**kwargs)
    Fragment.get(probe, None)
    mod = IcuQueues(**kwargs)
    return mod, mod.ports(), tuple(probe.counts)


PROOFS = [
    Proof("icu_queues", build, depth=8, induction=True, cover_depth=14,
          why_depth="k-induction with k = 8 (complete for every program and unit-error pattern); "
                    "covers searched 14 cycles from reset"),
]
