"""One ICU instruction queue: instruction memory, program counter, sequencer.

An :class:`IcuQueue` is the part of the ICU (:class:`~openlpu.rtl.icu.Icu`)
that exists once per queue (:func:`openlpu.isa.queues`). It holds the queue's
instruction memory (written by the host one row, one host data beat, at a time),
fetches the word at its pc, checks it (:func:`~openlpu.rtl.icu_decode.check`),
steps NOP / REPEAT / SYNC / END in its :class:`QueueState`, and registers the
instruction it issues. Whatever couples the queues (start, the stop on an
error or deadlock, NOTIFY waking SYNC) is decided by the ``Icu`` and comes in
as ``go``, ``active``, ``advance`` and ``notified``.

Timing
------
The word at ``pc`` is read from instruction memory in the cycle before it is
needed (the read address is the next pc; row 0 while idle, for cycle 0). An
instruction issued in cycle ``t`` is on ``issue`` in cycle ``t + 1``
(``ICU_DISPATCH_LATENCY``). ``error``, ``notify``, ``stuck`` and ``ending``
describe the current cycle (combinational).

Members
-------
imem_wr : In(Flow(RowWriteLayout))
    Host write of one instruction-memory row.
go : In(1)
    A run starts: the queue returns to RUN at pc 0 with no previous instruction.
active : In(1)
    A program runs (cycles 0 .. stop).
advance : In(1)
    The run goes on after this cycle (active, and no stop): state, pc and
    counters move only then.
notified : In(1)
    Some queue consumes a NOTIFY this cycle (wakes a PARKED queue, and a SYNC
    consumed in the same cycle does not park).
unit_error : In(UnitErrorLayout)
    An error a unit detected for an instruction of this queue.
issue : Out(IssueLayout)
    The instruction the queue executes this cycle (REPEAT already stepped).
error : Out(UnitErrorLayout)
    This queue's error in this cycle: a unit error (it wins) or the decode
    error of the fetched word or of a repeat, with its code and pc.
notify : Out(1)
    The queue consumes a legal NOTIFY this cycle.
stuck : Out(1)
    The queue cannot move without a NOTIFY: PARKED, ENDED, or at a SYNC.
ending : Out(1)
    ENDED, or consuming END this cycle.
state : Out(QueueState)
pc : Out(ceil_log2(imem_depth + 1))
observe : Out(QueueObservation), only with ``observe=True``
    The queue's registers and fetched word, for property checking; nothing
    in the chip reads it.
"""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, enum, memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from openlpu import isa
from openlpu.config import require_config
from openlpu.isa import ErrorCode

from .icu_decode import CODE_BITS, address_error, check, field, is_op, stepped
from .streams import Flow

__all__ = ["QueueState", "IssueLayout", "UnitErrorLayout", "RowWriteLayout", "QueueObservation",
           "IcuQueue", "per_row", "rows"]

#: Width of the NOP / REPEAT counter and of the REPEAT step register.
COUNT_BITS = 16


class QueueState(enum.Enum, shape=3):
    """Sequencer state of one queue."""
    RUN = 0         #: fetches and consumes one instruction per live cycle
    WAIT = 1        #: the further idle cycles of a ``NOP n``
    REPEAT = 2      #: issues the further repeats of a ``REPEAT n, d``
    PARKED = 3      #: after a SYNC, until some queue consumes a NOTIFY
    ENDED = 4       #: after END


def per_row(cfg):
    """Instructions per instruction-memory row (one host data beat: ``cfg.imem_row``)."""
    return cfg.imem_row


def rows(cfg):
    """Rows of one queue's instruction memory."""
    return cfg.imem_depth // per_row(cfg)


def _pc_shape(cfg):
    return unsigned(ceil_log2(cfg.imem_depth + 1))


def RowWriteLayout(cfg):
    """One host write of a queue's instruction memory: the row and its ``host_beat`` bytes."""
    return data.StructLayout({"row": unsigned(max(1, ceil_log2(rows(cfg)))),
                              "data": unsigned(isa.WORD_BITS * per_row(cfg))})


def IssueLayout(cfg):
    """An issued instruction: ``valid``, ``word``, ``pc``."""
    return data.StructLayout({"valid": 1, "word": unsigned(isa.WORD_BITS), "pc": _pc_shape(cfg)})


def UnitErrorLayout(cfg):
    """An error report: ``valid``, ``code`` (:class:`~openlpu.isa.ErrorCode`), ``pc``."""
    return data.StructLayout({"valid": 1, "code": unsigned(CODE_BITS), "pc": _pc_shape(cfg)})


def QueueObservation(cfg):
    """A queue's state, pc, counters, previous instruction and fetched word."""
    return data.StructLayout({"state": QueueState, "pc": _pc_shape(cfg), "count": COUNT_BITS,
                              "d": COUNT_BITS, "prev": isa.WORD_BITS, "has_prev": 1,
                              "word": isa.WORD_BITS})


class IcuQueue(wiring.Component):
    """One instruction queue of the ICU (see the module docstring).

    Arguments
    ---------
    cfg : LpuConfig
    name : str
        The queue's name (:func:`openlpu.isa.queues`); its unit and index (for the VXM, the ALU
        column) select the legality check.
    observe : bool
        Add the ``observe`` member.
    """

    def __init__(self, cfg, name, observe=False):
        self._cfg = require_config(cfg)
        self._unit, self._index = isa.queue_unit(name)
        self._name = name
        members = {
            "imem_wr": In(Flow(RowWriteLayout(cfg))),
            "go": In(1), "active": In(1), "advance": In(1), "notified": In(1),
            "unit_error": In(UnitErrorLayout(cfg)),
            "issue": Out(IssueLayout(cfg)), "error": Out(UnitErrorLayout(cfg)),
            "notify": Out(1), "stuck": Out(1), "ending": Out(1),
            "state": Out(QueueState), "pc": Out(_pc_shape(cfg)),
        }
        if observe:
            members["observe"] = Out(QueueObservation(cfg))
        super().__init__(members)

    @property
    def name(self):
        """The queue's name (:func:`openlpu.isa.queues`)."""
        return self._name

    def elaborate(self, platform):
        m = Module()
        st, pc = self.state, self.pc
        count = Signal(COUNT_BITS, name="count")     # NOP idle cycles / repeats left
        d = Signal(COUNT_BITS, name="d")             # the running REPEAT's step
        prev = Signal(isa.WORD_BITS, name="prev")    # last issued non-CONFIG instruction
        has_prev = Signal(name="has_prev")
        word, read = self._fetch(m)
        rep_word = Signal(isa.WORD_BITS, name="rep_word")
        m.d.comb += rep_word.eq(stepped(prev, Mux(st == QueueState.REPEAT, d, field(word, "REPEAT", "d"))))
        run = Signal(name="run")
        m.d.comb += run.eq(self.active & (st == QueueState.RUN))
        self._report(m, word, rep_word, run, has_prev)
        next_pc = self._sequence(m, word, rep_word, count, d, prev, has_prev)
        sel_bits = exact_log2(per_row(self._cfg))
        m.d.comb += read.addr.eq(Mux(self.active & ~self.go, next_pc[sel_bits:], 0))
        if "observe" in self.signature.members:
            seen = {"state": st, "pc": pc, "count": count, "d": d, "prev": prev, "has_prev": has_prev,
                    "word": word}
            m.d.comb += [self.observe[name].eq(value) for name, value in seen.items()]
        return m

    def _fetch(self, m):
        """The instruction memory; returns the word at ``pc`` and the read port."""
        cfg = self._cfg
        mem = m.submodules.imem = memory.Memory(shape=isa.WORD_BITS * per_row(cfg), depth=rows(cfg), init=[])
        write = mem.write_port()
        read = mem.read_port()
        m.d.comb += [write.en.eq(self.imem_wr.valid), write.addr.eq(self.imem_wr.payload.row),
                     write.data.eq(self.imem_wr.payload.data)]
        sel_bits = exact_log2(per_row(cfg))
        word = Signal(isa.WORD_BITS, name="word")
        if sel_bits:
            m.d.comb += word.eq(read.data.word_select(self.pc[:sel_bits], isa.WORD_BITS))
        else:
            m.d.comb += word.eq(read.data)
        return word, read

    def _report(self, m, word, rep_word, run, has_prev):
        """Drive ``error``, ``notify``, ``stuck`` and ``ending`` for this cycle."""
        st, pc = self.state, self.pc
        code = check(m, self._cfg, self._unit, word, "word", self._index)
        pc_ok = pc < self._cfg.imem_depth
        rep_bad = address_error(self._cfg, rep_word)
        repeating = st == QueueState.REPEAT
        dec_err = Signal(CODE_BITS, name="dec_err")   # decode of the fetched word, or a repeat
        m.d.comb += dec_err.eq(
            Mux(self.active & repeating & rep_bad, ErrorCode.BAD_ADDRESS,
                Mux(~run, ErrorCode.NONE,
                    Mux(~pc_ok, ErrorCode.BAD_ADDRESS,
                        Mux(code != 0, code,
                            Mux(is_op(word, "REPEAT") & ~has_prev, ErrorCode.REPEAT_EMPTY,
                                Mux(is_op(word, "REPEAT") & rep_bad, ErrorCode.BAD_ADDRESS,
                                    ErrorCode.NONE)))))))
        ue = self.unit_error
        m.d.comb += [
            self.error.valid.eq(ue.valid | (dec_err != 0)),
            self.error.code.eq(Mux(ue.valid, ue.code, dec_err)),
            self.error.pc.eq(Mux(ue.valid, ue.pc, Mux(repeating, pc - 1, pc))),
            self.notify.eq(run & pc_ok & (dec_err == 0) & is_op(word, "NOTIFY")),
            self.stuck.eq((st == QueueState.PARKED) | (st == QueueState.ENDED)
                          | (run & is_op(word, "SYNC"))),
            self.ending.eq((st == QueueState.ENDED) | (run & is_op(word, "END"))),
        ]

    def _sequence(self, m, word, rep_word, count, d, prev, has_prev):
        """The state machine: state, pc, counters and the issue register; returns the next pc."""
        st, pc = self.state, self.pc
        next_pc = Signal.like(pc, name="next_pc")
        m.d.comb += next_pc.eq(pc)
        issue_word = Signal(isa.WORD_BITS, name="issue_word")
        issue_now = Signal(name="issue_now")
        # an if-chain, not m.Switch: a case statement without a default for the three
        # unused encodings is a Verilator CASEINCOMPLETE warning; ENDED does nothing
        with m.If(self.advance):
            with m.If(st == QueueState.WAIT):
                m.d.sync += count.eq(count - 1)
                with m.If(count == 1):
                    m.d.sync += st.eq(QueueState.RUN)
            with m.Elif(st == QueueState.REPEAT):
                m.d.comb += [issue_now.eq(1), issue_word.eq(rep_word)]
                m.d.sync += [prev.eq(rep_word), count.eq(count - 1)]
                with m.If(count == 1):
                    m.d.sync += st.eq(QueueState.RUN)
            with m.Elif(st == QueueState.PARKED):
                with m.If(self.notified):
                    m.d.sync += st.eq(QueueState.RUN)
            with m.Elif(st == QueueState.RUN):
                self._consume(m, word, rep_word, count, d, prev, has_prev, next_pc, issue_now, issue_word)
        m.d.sync += pc.eq(next_pc)
        m.d.sync += [self.issue.valid.eq(issue_now), self.issue.word.eq(issue_word),
                     self.issue.pc.eq(Mux(st == QueueState.REPEAT, pc - 1, pc))]
        with m.If(self.go):
            m.d.sync += [st.eq(QueueState.RUN), pc.eq(0), has_prev.eq(0), count.eq(0)]
        return next_pc

    def _consume(self, m, word, rep_word, count, d, prev, has_prev, next_pc, issue_now, issue_word):
        """RUN: consume the fetched ``word`` (inside the RUN branch of a cycle that advances)."""
        st, pc = self.state, self.pc
        n = field(word, "NOP", "n")
        with m.If(is_op(word, "END")):
            m.d.sync += st.eq(QueueState.ENDED)
        with m.Else():
            m.d.comb += next_pc.eq(pc + 1)
        with m.If(is_op(word, "NOP") & (n > 1)):
            m.d.sync += [st.eq(QueueState.WAIT), count.eq(n - 1)]
        with m.If(is_op(word, "SYNC") & ~self.notified):
            m.d.sync += st.eq(QueueState.PARKED)
        with m.If(is_op(word, "REPEAT")):
            m.d.comb += [issue_now.eq(1), issue_word.eq(rep_word)]
            m.d.sync += prev.eq(rep_word)
            with m.If(n > 1):
                m.d.sync += [st.eq(QueueState.REPEAT), count.eq(n - 1), d.eq(field(word, "REPEAT", "d"))]
        with m.If(~is_op(word, "NOP", "REPEAT", "SYNC", "NOTIFY", "END")):     # a unit's instruction
            m.d.comb += [issue_now.eq(1), issue_word.eq(word)]
            with m.If(~is_op(word, "CONFIG")):
                m.d.sync += [prev.eq(word), has_prev.eq(1)]
