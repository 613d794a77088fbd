"""The VXM's position on the stream fabric: its column queues, its control table, its units.

The VXM has a queue per ALU column (:func:`openlpu.isa.vxm_column_queue`):
``vxm`` for column 0, ``vxm1`` .. ``vxm{A-1}`` for the others (``A =
vxm_alus``). Queue ``vxm`` writes the VXM control table (CONFIG:
``VXM_SLOTS`` slots of ``isa.vxm_control_words(cfg)`` 32-bit words) and
drives the reduction (VRED) and the function unit (VFUNC); every column
queue drives its column's ALU chains (VOP, with the slot's control, on
``n``-stream groups): a VOP of column ``k``'s queue runs ``len`` ALUs on
columns ``k ..`` (:func:`openlpu.isa.vop_columns`, :class:`~openlpu.rtl.vxm.Vxm`).
The table is written in superlane 0's cycle; a VOP reads its slot there and
takes that control up the superlanes with it. Each superlane has its own ALU
columns and function unit, ``superlane_offset(s)`` cycles behind superlane 0;
the reduction spans all superlanes and runs at the last one's time
(:mod:`openlpu.rtl.wavefront`). Results go to the group ``dst`` of their
instruction after each unit's latency (a VOP's: ``timing.vop_latency(len)``);
where two land on the same stream in the same cycle, the VOP ending on the
lower column wins, then VRED, then VFUNC.

Errors: a VOP of column ``k``'s queue whose column an earlier VOP's chain
enters in its execute cycle is not executed (the chain keeps the column) and
is VXM_FAULT on queue ``k`` with its pc, reported to the ICU in that cycle
(superlane 0's; the other superlanes follow the same schedule).
"""

from amaranth.hdl import Array, Cat, Module, ResetInserter, Signal
from amaranth.lib.wiring import In

from .. import isa, timing
from ..golden.vxm_reduce import latency as reduce_latency
from ..isa import ErrorCode
from .fabric import OPERAND_BITS, Operands
from .hier import shared
from .icu import field, is_op
from .pipeline import delay
from .slice import Slice
from .vxm import AluControl, Vxm, VxmControl
from .vxm_func import VxmFunc
from .vxm_reduce import VxmReduce
from .wavefront import deskew, reskew, wave

__all__ = ["VxmSlice"]

#: Bits of a VOP's ``n`` (its result planes), carried with its chain beside ``dst``.
N_BITS = isa.BY_NAME["VOP"].field("n").width


class VxmSlice(Slice):
    """The VXM: control table, ALU columns, reduction and function unit; queues ``vxm``,
    ``vxm1`` .. (one per ALU column).

    Members
    -------
    issue, unit_error, streams
        As for every :class:`~openlpu.rtl.slice.Slice`; ``unit_error[k]`` is
        column ``k``'s VXM_FAULT; ``streams.write`` is the VOPs ending on
        columns ``0 .. vxm_alus - 1``, then VRED, then VFUNC, in that
        priority order.
    go : In(1)
        A run starts: clears the control table and restarts the units'
        control pipelines.
    """

    PLANES = 4

    def __init__(self, cfg):
        self.WRITERS = cfg.vxm_alus + 2
        super().__init__(cfg, [isa.vxm_column_queue(k) for k in range(cfg.vxm_alus)], {"go": In(1)})

    @property
    def VRED(self):
        """The reduction's write port (after the columns')."""
        return self._cfg.vxm_alus

    @property
    def VFUNC(self):
        """The function unit's write port (last)."""
        return self._cfg.vxm_alus + 1

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        slots = self._control_table(m)
        issues = [wave(m, vi, cfg, f"{q}_wave") for q, vi in zip(self.queues, self.issue)]
        ctrls = []
        for k, vi in enumerate(self.issue):
            # the VOP's slot, read in superlane 0's cycle: etype and the ALUs column k can run
            ctrl = Signal(VxmControl(cfg)["alu"].offset + (cfg.vxm_alus - k) * AluControl.size, name=f"vop{k}_ctrl")
            m.d.comb += ctrl.eq(slots[field(vi.word, "VOP", "slot")][:len(ctrl)])
            ctrls.append(wave(m, ctrl, cfg, f"vop{k}_ctrl_wave"))
        operands = [Operands(self.streams[s], cfg.streams) for s in range(cfg.superlanes)]
        faults = [self._columns(m, platform, s, [i[s] for i in issues], [c[s] for c in ctrls], operands[s])
                  for s in range(cfg.superlanes)]
        for k, (ue, vi) in enumerate(zip(self.unit_error, self.issue)):
            m.d.comb += [ue.valid.eq(faults[0][k]), ue.code.eq(ErrorCode.VXM_FAULT), ue.pc.eq(vi.pc)]
        for s in range(cfg.superlanes):
            self._func(m, platform, s, issues[0][s], operands[s])
        self._reduce(m, issues[0], operands)
        return m

    def _restart(self, unit):
        return ResetInserter({"sync": self.go})(unit)

    def _control_table(self, m):
        """The CONFIG registers, cleared by ``go``; returns the slots as an ``Array``."""
        vi = self.issue[0]
        vw = vi.word
        words = isa.vxm_control_words(self._cfg)
        table = [Signal(32, name=f"vxm_cfg{r}") for r in range(isa.VXM_SLOTS * words)]
        with m.If(vi.valid & is_op(vw, "CONFIG")):
            for r, reg in enumerate(table):
                with m.If(field(vw, "CONFIG", "reg") == r):
                    m.d.sync += reg.eq(field(vw, "CONFIG", "value"))
        with m.If(self.go):
            m.d.sync += [reg.eq(0) for reg in table]
        return Array([Cat(*table[k * words:(k + 1) * words]) for k in range(isa.VXM_SLOTS)])

    def _columns(self, m, platform, s, issues, ctrls, operands):
        """The ALU columns of superlane ``s``, column ``k`` taking the VOP of ``issues[k]`` with
        its slot's control ``ctrls[k]``; plane ``j`` of a result goes to stream ``dst + j`` for
        ``j < n``, on the write port of the column its chain ends on. Returns the columns' fault
        flags."""
        vxm = Vxm(self._cfg.superlane, tag_bits=OPERAND_BITS + N_BITS)
        m.submodules[f"vxm{s}"] = shared(vxm, platform, "vxm_superlane", reset=self.go)
        for entry, vi, ctrl in zip(vxm.entry, issues, ctrls):
            vw = vi.word
            n = field(vw, "VOP", "n")
            m.d.comb += [
                entry.valid.eq(vi.valid & is_op(vw, "VOP")),
                entry.a.as_value().eq(Cat(*operands.group(field(vw, "VOP", "a"), 4, n))),
                entry.b.as_value().eq(Cat(*operands.group(field(vw, "VOP", "b"), 4, n))),
                entry.ctrl.as_value().eq(ctrl), entry.len.eq(field(vw, "VOP", "len")),
                entry.tag.eq(Cat(field(vw, "VOP", "dst"), n)),
            ]
        for out, write in zip(vxm.out, self.streams[s].write):
            n = out.tag[OPERAND_BITS:]
            m.d.comb += [write.valid.eq(Cat(*(out.valid & (j < n) for j in range(self.PLANES)))),
                         write.dst.eq(out.tag[:OPERAND_BITS]), write.data.eq(out.data)]
        return vxm.fault

    def _reduce(self, m, issues, operands):
        """VRED: across all superlanes, at the last one's time; the 32-bit result is broadcast
        to every lane of the group ``dst``, each superlane's share ``superlane_offset(s)`` later."""
        cfg = self._cfg
        red = m.submodules.vred = self._restart(VxmReduce(cfg))
        vw = issues[-1].word
        planes = [deskew(m, cfg, [ops.read(field(iss.word, "VRED", "a"), j) for iss, ops in zip(issues, operands)],
                         f"vred_a{j}") for j in range(4)]
        m.d.comb += [
            red.data.valid.eq(issues[-1].valid & is_op(vw, "VRED")),
            red.data.payload.as_value().eq(Cat(*planes)),
            red.op_max.eq(field(vw, "VRED", "op") == isa.VRED_OPS["max"]),
            red.op_fsum.eq(field(vw, "VRED", "op") == isa.VRED_OPS["fsum"]),
        ]
        r_dst = delay(m, field(vw, "VRED", "dst"), reduce_latency(cfg), "vred_dst")
        lanes = cfg.lanes_per_superlane
        for s, (valid, dst, rv) in enumerate(zip(reskew(m, cfg, red.result.valid, "vred_valid"),
                                                 reskew(m, cfg, r_dst, "vred_dst"),
                                                 reskew(m, cfg, red.result.payload.as_unsigned(), "vred_result"))):
            write = self.streams[s].write[self.VRED]
            m.d.comb += [write.valid.eq(valid.replicate(self.PLANES)), write.dst.eq(dst)]
            m.d.comb += [write.data[b].eq(rv[8 * b:8 * b + 8].replicate(lanes)) for b in range(self.PLANES)]

    def _func(self, m, platform, s, vi, operands):
        """VFUNC on superlane ``s``: its function unit, ``timing.VXM_FUNC_LATENCY`` later."""
        vw = vi.word
        fn = VxmFunc(self._cfg.superlane)
        m.submodules[f"vfunc{s}"] = shared(fn, platform, "vxm_func_superlane", reset=self.go)
        m.d.comb += [
            fn.a.valid.eq(vi.valid & is_op(vw, "VFUNC")),
            fn.a.payload.as_value().eq(Cat(*operands.group(field(vw, "VFUNC", "a"), 4))),
            fn.func.eq(field(vw, "VFUNC", "fn")),
        ]
        f_dst = delay(m, field(vw, "VFUNC", "dst"), timing.VXM_FUNC_LATENCY, f"vfunc{s}_dst")
        write = self.streams[s].write[self.VFUNC]
        m.d.comb += [write.valid.eq(fn.out.valid.replicate(self.PLANES)), write.dst.eq(f_dst),
                     write.data.eq(fn.out.payload)]
