"""The VXM's position on the stream fabric: its queue, its control table, its three units.

Queue ``vxm`` writes the VXM control table (CONFIG: ``VXM_SLOTS`` slots of
``isa.vxm_control_words(cfg)`` 32-bit words) and drives the ALU chain (VOP,
with the slot's control, on ``n``-stream groups), the reduction (VRED) and
the function unit (VFUNC). Their results go to the group ``dst`` of their
instruction after each unit's latency; where two land on the same stream in
the same cycle, VOP wins over VRED, and VRED over VFUNC.
"""

from amaranth.hdl import Array, Cat, Module, ResetInserter, Signal
from amaranth.lib.wiring import In

from .. import isa, timing
from ..golden.vxm_reduce import latency as reduce_latency
from .fabric import Operands
from .icu import field, is_op
from .pipeline import delay
from .slice import Slice
from .vxm import Vxm, VxmControl
from .vxm_func import VxmFunc
from .vxm_reduce import VxmReduce

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
        m = Module()
        operands = Operands(self.streams.tap, self._cfg.streams)
        slots = self._control_table(m)
        self._chain(m, operands, slots)
        self._reduce(m, operands)
        self._func(m, operands)
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

    def _chain(self, m, operands, slots):
        """VOP: the ALU chain; plane ``j`` of the result goes to stream ``dst + j`` for ``j < n``."""
        cfg = self._cfg
        vi = self.issue[0]
        vw = vi.word
        vxm = m.submodules.vxm = self._restart(Vxm(cfg))
        n = field(vw, "VOP", "n")
        is_vop = vi.valid & is_op(vw, "VOP")
        m.d.comb += [
            vxm.a.valid.eq(is_vop), vxm.b.valid.eq(is_vop),
            vxm.a.payload.as_value().eq(Cat(*operands.group(field(vw, "VOP", "a"), 4, n))),
            vxm.b.payload.as_value().eq(Cat(*operands.group(field(vw, "VOP", "b"), 4, n))),
            vxm.ctrl.as_value().eq(slots[field(vw, "VOP", "slot")][:VxmControl(cfg).size]),
        ]
        vlat = cfg.vxm_alus * timing.VXM_ALU_LATENCY
        v_dst = delay(m, field(vw, "VOP", "dst"), vlat, "vop_dst")
        v_n = delay(m, n, vlat, "vop_n")
        write = self.streams.write[VOP]
        m.d.comb += [write.valid.eq(Cat(*(vxm.out.valid & (j < v_n) for j in range(self.PLANES)))),
                     write.dst.eq(v_dst), write.data.eq(vxm.out.payload)]

    def _reduce(self, m, operands):
        """VRED: the 32-bit result, broadcast to every lane of the group ``dst``."""
        cfg = self._cfg
        vi = self.issue[0]
        vw = vi.word
        red = m.submodules.vred = self._restart(VxmReduce(cfg))
        m.d.comb += [
            red.data.valid.eq(vi.valid & is_op(vw, "VRED")),
            red.data.payload.as_value().eq(Cat(*operands.group(field(vw, "VRED", "a"), 4))),
            red.op_max.eq(field(vw, "VRED", "op") == isa.VRED_OPS["max"]),
            red.op_fsum.eq(field(vw, "VRED", "op") == isa.VRED_OPS["fsum"]),
        ]
        r_dst = delay(m, field(vw, "VRED", "dst"), reduce_latency(cfg), "vred_dst")
        rv = red.result.payload.as_unsigned()
        write = self.streams.write[VRED]
        m.d.comb += [write.valid.eq(red.result.valid.replicate(self.PLANES)), write.dst.eq(r_dst)]
        m.d.comb += [write.data[b].eq(rv[8 * b:8 * b + 8].replicate(cfg.lanes)) for b in range(self.PLANES)]

    def _func(self, m, operands):
        """VFUNC: the function unit, ``timing.VXM_FUNC_LATENCY`` later."""
        vi = self.issue[0]
        vw = vi.word
        fn = m.submodules.vfunc = self._restart(VxmFunc(self._cfg))
        m.d.comb += [
            fn.a.valid.eq(vi.valid & is_op(vw, "VFUNC")),
            fn.a.payload.as_value().eq(Cat(*operands.group(field(vw, "VFUNC", "a"), 4))),
            fn.func.eq(field(vw, "VFUNC", "fn")),
        ]
        f_dst = delay(m, field(vw, "VFUNC", "dst"), timing.VXM_FUNC_LATENCY, "vfunc_dst")
        write = self.streams.write[VFUNC]
        m.d.comb += [write.valid.eq(fn.out.valid.replicate(self.PLANES)), write.dst.eq(f_dst),
                     write.data.eq(fn.out.payload)]
