"""The VXM's position on the stream fabric: its queue, its control table, its three units.

Queue ``vxm`` writes the VXM control table (CONFIG: ``VXM_SLOTS`` slots of
``isa.vxm_control_words(cfg)`` 32-bit words) and drives the ALU chain (VOP,
with the slot's control, on ``n``-stream groups), the reduction (VRED) and
the function unit (VFUNC). The table is written in superlane 0's cycle; a
VOP reads its slot there and takes that control up the superlanes with it.
Each superlane has its own ALU chain and function unit, ``superlane_offset(s)``
cycles behind superlane 0; the reduction spans all superlanes and runs at the
last one's time (:mod:`openlpu.rtl.wavefront`). Results go to the group
``dst`` of their instruction after each unit's latency; where two land on the same stream in
the same cycle, VOP wins over VRED, and VRED over VFUNC.
"""

from amaranth.hdl import Array, Cat, Module, ResetInserter, Signal
from amaranth.lib.wiring import In

from .. import isa, timing
from ..golden.vxm_reduce import latency as reduce_latency
from .fabric import Operands
from .hier import shared
from .icu import field, is_op
from .pipeline import delay
from .slice import Slice
from .vxm import Vxm, VxmControl
from .vxm_func import VxmFunc
from .vxm_reduce import VxmReduce
from .wavefront import deskew, reskew, wave

__all__ = ["VxmSlice"]

#: Write ports onto the fabric, in priority order.
VOP, VRED, VFUNC = range(3)


class VxmSlice(Slice):
    """The VXM: control table, ALU chain, reduction and function unit; queue ``vxm``.

    Members
    -------
    issue, unit_error, streams
        As for every :class:`~openlpu.rtl.slice.Slice`; ``unit_error`` is
        always 0; ``streams.write`` is VOP, VRED, VFUNC in that priority order.
    go : In(1)
        A run starts: clears the control table and restarts the units'
        control pipelines.
    """

    PLANES = 4
    WRITERS = 3

    def __init__(self, cfg):
        super().__init__(cfg, ["vxm"], {"go": In(1)})

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        vi = self.issue[0]
        slots = self._control_table(m)
        ctrl = Signal(VxmControl(cfg), name="vop_ctrl")   # the VOP's slot, read in superlane 0's cycle
        m.d.comb += ctrl.as_value().eq(slots[field(vi.word, "VOP", "slot")][:VxmControl(cfg).size])
        issues, ctrls = wave(m, vi, cfg, "vxm_wave"), wave(m, ctrl, cfg, "vop_ctrl_wave")
        operands = [Operands(self.streams[s].tap, cfg.streams) for s in range(cfg.superlanes)]
        for s in range(cfg.superlanes):
            self._chain(m, platform, s, issues[s], ctrls[s], operands[s])
            self._func(m, platform, s, issues[s], operands[s])
        self._reduce(m, issues, operands)
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

    def _chain(self, m, platform, s, vi, ctrl, operands):
        """VOP on superlane ``s``: its ALU chain; plane ``j`` of the result goes to stream
        ``dst + j`` for ``j < n``."""
        cfg = self._cfg
        vw = vi.word
        vxm = Vxm(cfg.superlane)
        m.submodules[f"vxm{s}"] = shared(vxm, platform, "vxm_superlane", reset=self.go)
        n = field(vw, "VOP", "n")
        is_vop = vi.valid & is_op(vw, "VOP")
        m.d.comb += [
            vxm.a.valid.eq(is_vop), vxm.b.valid.eq(is_vop),
            vxm.a.payload.as_value().eq(Cat(*operands.group(field(vw, "VOP", "a"), 4, n))),
            vxm.b.payload.as_value().eq(Cat(*operands.group(field(vw, "VOP", "b"), 4, n))),
            vxm.ctrl.eq(ctrl),
        ]
        vlat = cfg.vxm_alus * timing.VXM_ALU_LATENCY
        v_dst = delay(m, field(vw, "VOP", "dst"), vlat, f"vop{s}_dst")
        v_n = delay(m, n, vlat, f"vop{s}_n")
        write = self.streams[s].write[VOP]
        m.d.comb += [write.valid.eq(Cat(*(vxm.out.valid & (j < v_n) for j in range(self.PLANES)))),
                     write.dst.eq(v_dst), write.data.eq(vxm.out.payload)]

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
            write = self.streams[s].write[VRED]
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
        write = self.streams[s].write[VFUNC]
        m.d.comb += [write.valid.eq(fn.out.valid.replicate(self.PLANES)), write.dst.eq(f_dst),
                     write.data.eq(fn.out.payload)]
