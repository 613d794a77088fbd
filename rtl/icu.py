"""Instruction control unit (ICU): one instruction queue per functional slice.

Each queue (:func:`openlpu.isa.queues`) has its own instruction memory,
loaded by the host one row (one host data beat, ``cfg.imem_row =
host_beat // 8`` instructions) at a time, and a program counter. After ``start`` all queues run in lock step,
one instruction per cycle each, with the semantics of
:mod:`openlpu.golden.lpu`: NOP/REPEAT/SYNC/NOTIFY/CONFIG/END, legality checks
from :func:`openlpu.isa.check` mirrored in hardware, and an error stop that
records the code, the queue and the program counter.

Floorplan: one :class:`~openlpu.rtl.icu_queue.IcuQueue` per queue (its
instruction memory, pc, NOP/REPEAT/SYNC state, issue register and decode
errors, named after the queue), and here what couples them: the run
(``active``, ``drain``), NOTIFY, the deadlock detector and the error record.
The word-level helpers (:func:`field`, :func:`is_op`, :func:`check`, ...) live
in :mod:`openlpu.rtl.icu_decode` and are re-exported here.

Timing
------
``start`` in cycle ``s`` makes cycle ``s + 1`` cycle 0 of the program. An
instruction issued in cycle ``t`` appears on ``issue[q]`` in cycle
``t + ICU_DISPATCH_LATENCY`` (its execute cycle). ``busy`` is high from cycle
0 until ``ICU_DRAIN_CYCLES`` cycles after the end of the run; ``done``/``error``
are set from the cycle after the end until the next start, and ``cycles`` holds
the cycle count of the run. The run ends ``wavefront_span(cfg)`` cycles after
the stop (the stop cycle itself with one superlane), when the stop has reached
the last superlane, so ``cycles`` is stop cycle + 1 + ``wavefront_span(cfg)``.

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
observe : Out(IcuObservation), only with ``observe=True``
    ``active`` and every queue's registers, for property checking
    (``verif/formal_icu.py``); nothing in the chip reads it.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from openlpu import isa, timing
from openlpu.config import require_config
from openlpu.isa import ErrorCode

from .icu_decode import CODE_BITS, address_error, check, field, is_op, stepped
from .icu_queue import (IcuQueue, IssueLayout, QueueObservation, QueueState, UnitErrorLayout, rows)
from .streams import Flow

__all__ = ["ImemWriteLayout", "IssueLayout", "UnitErrorLayout", "IcuObservation", "Icu", "field",
           "is_op", "check", "address_error", "stepped", "CODE_BITS"]


def _nq(cfg):
    return len(isa.queues(cfg))


def ImemWriteLayout(cfg):
    """A host write of instruction memory: queue number, row, and the row's ``host_beat`` bytes."""
    return data.StructLayout({"queue": unsigned(max(1, ceil_log2(_nq(cfg)))),
                              "row": unsigned(max(1, ceil_log2(rows(cfg)))),
                              "data": unsigned(8 * cfg.host_beat)})


def IcuObservation(cfg):
    """``active`` (a program runs) and every queue's :func:`~openlpu.rtl.icu_queue.QueueObservation`."""
    return data.StructLayout({"active": 1,
                              "queues": data.ArrayLayout(QueueObservation(cfg), _nq(cfg))})


class Icu(wiring.Component):
    """The instruction control unit (see the module docstring).

    Arguments
    ---------
    cfg : LpuConfig
    observe : bool
        Add the ``observe`` member (:func:`IcuObservation`) for property
        checking; the chip's ICU has none.
    """

    def __init__(self, cfg, observe=False):
        self._cfg = require_config(cfg)
        self._observe = observe
        nq = _nq(cfg)
        pcw = ceil_log2(cfg.imem_depth + 1)
        members = {
            "imem_wr": In(Flow(ImemWriteLayout(cfg))),
            "start": In(1),
            "issue": Out(IssueLayout(cfg)).array(nq),
            "unit_error": In(UnitErrorLayout(cfg)).array(nq),
            "busy": Out(1), "done": Out(1), "error": Out(1), "irq": Out(1),
            "code": Out(CODE_BITS), "err_queue": Out(8), "err_pc": Out(pcw), "cycles": Out(32),
        }
        if observe:
            members["observe"] = Out(IcuObservation(cfg))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        active = Signal(name="active")        # a program runs (cycles 0 .. stop)
        drain = Signal(range(timing.ICU_DRAIN_CYCLES + 1), name="drain")
        go = Signal(name="go")
        span = timing.wavefront_span(self._cfg)
        self._tail_left = Signal(range(span + 1), name="tail") if span else Const(0, 1)
        m.d.comb += [go.eq(self.start & ~self.busy), self.busy.eq(active | (self._tail_left != 0) | (drain != 0)),
                     self.irq.eq(self.done | self.error)]
        with m.If(drain != 0):
            m.d.sync += drain.eq(drain - 1)
        queues = self._queues(m, active, go)
        states, pcs = self._named_state(m, queues)

        errs = Cat(*(q.error.valid for q in queues))
        notify = Signal(name="notify")        # some queue consumes a NOTIFY
        m.d.comb += notify.eq(Cat(*(q.notify for q in queues)).any())
        live = Cat(*(state != QueueState.ENDED for state in states))
        stuck = Cat(*(q.stuck for q in queues)).all()
        deadlock = Signal(name="deadlock")
        m.d.comb += deadlock.eq(active & live.any() & stuck & ~notify & ~errs.any())
        ended_after = Cat(*(q.ending for q in queues)).all()
        stop_err = active & (errs.any() | deadlock)
        stop_done = active & ~stop_err & ended_after
        for q in queues:
            m.d.comb += [q.advance.eq(active & ~stop_err), q.notified.eq(notify)]

        finish = self._tail(m, drain)
        with m.If(stop_err):
            m.d.sync += active.eq(0)
            finish(self.error)
            self._record_error(m, queues, deadlock, live, pcs)
        with m.If(stop_done):
            m.d.sync += active.eq(0)
            finish(self.done)
        with m.If(active | self._tail_left):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        with m.If(go):
            m.d.sync += [active.eq(1), self.done.eq(0), self.error.eq(0), self.code.eq(0),
                         self.err_queue.eq(0), self.err_pc.eq(0), self.cycles.eq(0)]
        if self._observe:
            m.d.comb += self.observe.active.eq(active)
            for q, queue in enumerate(queues):
                m.d.comb += self.observe.queues[q].eq(queue.observe)
        return m

    def _tail(self, m, drain):
        """The end of a run: ``finish(flag)`` (inside the stop's ``m.If``) raises ``flag``
        (``done`` or ``error``) and starts the drain once the stop has reached the last
        superlane, ``wavefront_span(cfg)`` cycles later (at once with one superlane)."""
        span = timing.wavefront_span(self._cfg)
        tail = self._tail_left
        if span == 0:
            def finish(flag):
                m.d.sync += [flag.eq(1), drain.eq(timing.ICU_DRAIN_CYCLES)]
            return finish
        ending = Signal(name="ending_error")      # which flag the tail ends in
        with m.If(tail != 0):
            m.d.sync += tail.eq(tail - 1)
            with m.If(tail == 1):
                m.d.sync += drain.eq(timing.ICU_DRAIN_CYCLES)
                with m.If(ending):
                    m.d.sync += self.error.eq(1)
                with m.Else():
                    m.d.sync += self.done.eq(1)

        def finish(flag):
            m.d.sync += [tail.eq(span), ending.eq(flag is self.error)]
        return finish

    def _queues(self, m, active, go):
        """One :class:`IcuQueue` per queue, fed host writes, unit errors, ``go`` and ``active``."""
        queues = []
        for q, name in enumerate(isa.queues(self._cfg)):
            queue = m.submodules[name] = IcuQueue(self._cfg, name, observe=self._observe)
            wr = self.imem_wr
            m.d.comb += [queue.imem_wr.valid.eq(wr.valid & (wr.payload.queue == q)),
                         queue.imem_wr.payload.row.eq(wr.payload.row),
                         queue.imem_wr.payload.data.eq(wr.payload.data),
                         queue.go.eq(go), queue.active.eq(active),
                         queue.unit_error.eq(self.unit_error[q]), self.issue[q].eq(queue.issue)]
            queues.append(queue)
        return queues

    @staticmethod
    def _named_state(m, queues):
        """Every queue's state and pc as wires ``{queue}_state`` and ``{queue}_pc`` of this module.

        They name the queues' registers where waveforms and the chip
        testbench's report of a hung run (``verif/tb_lpu.py``) look for them.
        """
        states, pcs = [], []
        for queue in queues:
            name = queue.name
            states.append(Signal(QueueState, name=f"{name}_state"))
            pcs.append(Signal.like(queue.pc, name=f"{name}_pc"))
            m.d.comb += [states[-1].eq(queue.state), pcs[-1].eq(queue.pc)]
        return states, pcs

    def _record_error(self, m, queues, deadlock, live, pcs):
        """The error record of a stop (inside ``m.If(stop_err)``): the lowest erring queue wins."""
        for q in reversed(range(len(queues))):
            err = queues[q].error
            with m.If(err.valid):
                m.d.sync += [self.code.eq(err.code), self.err_queue.eq(q), self.err_pc.eq(err.pc)]
        with m.If(deadlock):
            first = Signal(range(len(queues)), name="first_live")
            pick = Const(0, first.shape())
            for q in reversed(range(len(queues))):
                pick = Mux(live[q], q, pick)
            m.d.comb += first.eq(pick)
            m.d.sync += [self.code.eq(ErrorCode.DEADLOCK), self.err_queue.eq(first)]
            for q, pc in enumerate(pcs):
                with m.If(first == q):
                    m.d.sync += self.err_pc.eq(pc)
