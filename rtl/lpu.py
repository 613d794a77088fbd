"""The chip: ICU, stream fabric, MEM slices, VXM, SXM and MXM planes behind the host port.

:class:`Lpu` is the hardware of :class:`openlpu.golden.lpu.LpuModel`; that
module's docstring is the specification (cycle order, queue semantics,
errors). This file only wires units to the streams.

Stream fabric
-------------
For each direction (east, west), each of ``streams`` streams and each
floorplan position (:func:`openlpu.timing.floorplan`) there is one
``lanes``-byte register. Every cycle each register takes its western
(east-flowing) or eastern (west-flowing) neighbour's value — zeros enter at
the edges — unless the unit at its position writes that stream, which wins.
A unit reads a stream at its own position; so a value output at position
``p`` in cycle ``t`` is readable at position ``q`` in cycle
``t + stream_delay(p, q, direction)``.

Ports
-----
s_axi_*, s_axil_* : the host port of :class:`openlpu.rtl.host.Mem` with the
    program window and the control/status registers.
irq : Out(1)
    High while the last run is done or stopped on an error.
fault : In(72 * lanes // 8).array(mem_slices)
    Test-only backdoor: XOR masks applied to each slice's stored words on a
    write (tie to 0).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from openlpu import isa, timing
from openlpu.config import LpuConfig
from openlpu.golden.sxm import SxmOp
from openlpu.golden.vxm_reduce import latency as reduce_latency
from openlpu.isa import BY_NAME, ErrorCode

from .host import Mem, _axi_signature, _axil_signature
from .icu import Icu, field, is_op
from .mxm import MxmPlane
from .sxm import Sxm
from .vxm import Vxm, VxmControl
from .vxm_func import VxmFunc
from .vxm_reduce import VxmReduce

__all__ = ["Lpu"]


def _delay(m, value, cycles, name):
    """``value`` delayed by ``cycles`` registers."""
    for i in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{i + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


class Lpu(wiring.Component):
    """The OpenLPU chip for ``cfg`` (see the module docstring)."""

    def __init__(self, cfg):
        if not isinstance(cfg, LpuConfig):
            raise TypeError(f"cfg must be an LpuConfig, not {cfg!r}")
        if cfg.streams > 32:
            raise ValueError(f"Lpu: stream operands address at most 32 streams, not {cfg.streams}")
        self._cfg = cfg
        sig = {}
        sig.update(_axi_signature(8 * cfg.lanes))
        sig.update(_axil_signature())
        sig.update({"irq": Out(1), "fault": In(72 * cfg.lanes // 8).array(cfg.mem_slices)})
        super().__init__(sig)

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        lanes, S = cfg.lanes, cfg.streams
        names = isa.queues(cfg)
        qi = {n: i for i, n in enumerate(names)}
        fp = timing.floorplan(cfg)
        P = len(fp)

        host = m.submodules.host = Mem(cfg, program=True)
        icu = m.submodules.icu = Icu(cfg)
        go = Signal()
        m.d.comb += go.eq(host.start & ~icu.busy)
        restart = lambda unit: ResetInserter({"sync": go})(unit)

        # --- host port pass-through ---------------------------------------------------
        for name, member in {**_axi_signature(8), **_axil_signature()}.items():
            if member.flow == In:
                m.d.comb += getattr(host, name).eq(getattr(self, name))
            else:
                m.d.comb += getattr(self, name).eq(getattr(host, name))
        m.d.comb += [
            icu.imem_wr.valid.eq(host.imem_wr.valid), icu.imem_wr.payload.eq(host.imem_wr.payload),
            icu.start.eq(host.start), host.chip_busy.eq(icu.busy), self.irq.eq(icu.irq),
            host.status.busy.eq(icu.busy), host.status.done.eq(icu.done), host.status.error.eq(icu.error),
            host.status.code.eq(icu.code), host.status.queue.eq(icu.err_queue), host.status.pc.eq(icu.err_pc),
            host.status.cycles.eq(icu.cycles),
        ]
        for s in range(cfg.mem_slices):
            m.d.comb += host.fault[s].eq(self.fault[s])

        # --- stream registers -----------------------------------------------------------
        regs = [[[Signal(8 * lanes, name=f"s{'ew'[d]}{s}_p{p}") for p in range(P)] for s in range(S)]
                for d in range(2)]
        # writes[d][s][p]: list of (enable, value) in priority order
        writes = [[[[] for _ in range(P)] for _ in range(S)] for _ in range(2)]

        sel_bits = ceil_log2(2 * S)

        def read(pos, operand, offset=0):
            """The stream named by the 6-bit ``operand`` (+ ``offset``) at position ``pos``.

            Issued instructions name streams below ``streams`` (the ICU stops on
            anything else), so the index needs no range check; the table is padded
            to a power of two so that every index value selects something."""
            table = Array([regs[d][s][pos] for d in range(2) for s in range(S)]
                          + [Const(0, 8 * lanes)] * ((1 << sel_bits) - 2 * S))
            return table[(Mux(operand[5], S, 0) + operand[:5] + offset)[:sel_bits]]

        def write(pos, valid, operand, planes):
            """Unit output ``planes`` (list of byte vectors) onto the group named by ``operand``."""
            for d in range(2):
                for s in range(S):
                    for j, plane in enumerate(planes):
                        en = valid & (operand[5] == d) & (operand[:5] + j == s)
                        writes[d][s][pos].append((en, plane))

        def group(pos, operand, n_max, n=None):
            """``n_max`` planes read from the group at ``operand``; planes >= ``n`` read as 0."""
            out = []
            for j in range(n_max):
                v = read(pos, operand, j)
                out.append(v if n is None else Mux(j < n, v, 0))
            return out

        issue = {n: icu.issue[qi[n]] for n in names}

        # --- MEM slices ---------------------------------------------------------------------
        for s in range(cfg.mem_slices):
            qn = f"mem{s}"
            pos = fp[qn]
            iss = issue[qn]
            w = iss.word
            rd, wr = host.rd[s], host.wr[s]
            is_read, is_write = is_op(w, "READ"), is_op(w, "WRITE")
            is_gather, is_scatter, is_scrub = is_op(w, "GATHER"), is_op(w, "SCATTER"), is_op(w, "SCRUB")
            idx = read(pos, field(w, "GATHER", "idx"))
            m.d.comb += [
                rd.valid.eq(iss.valid & (is_read | is_gather | is_scrub)),
                rd.payload.addr.eq(field(w, "READ", "addr")),
                rd.payload.gather.eq(is_gather), rd.payload.scrub.eq(is_scrub),
                rd.payload.index.as_value().eq(idx),
                wr.valid.eq(iss.valid & (is_write | is_scatter)),
                wr.payload.addr.eq(field(w, "WRITE", "addr")),
                wr.payload.scatter.eq(is_scatter),
                wr.payload.index.as_value().eq(idx),
                wr.payload.data.as_value().eq(read(pos, field(w, "WRITE", "src"))),
            ]
            # execute-time check of gather/scatter column addresses
            cols = [Cat(idx.word_select(8 * c, 8), idx.word_select(8 * c + 1, 8)) for c in range(lanes // 8)]
            bad_idx = iss.valid & (is_gather | is_scatter) & Cat(*(c >= cfg.mem_depth for c in cols)).any()
            # read data back onto the stream, MEM_READ_LATENCY later
            lat = timing.MEM_READ_LATENCY
            dst = _delay(m, field(w, "READ", "dst"), lat, f"{qn}_dst")
            to_stream = _delay(m, iss.valid & (is_read | is_gather), lat, f"{qn}_tostream")
            chip_rd = _delay(m, rd.valid, lat, f"{qn}_chiprd")
            rd_pc = _delay(m, iss.pc, lat, f"{qn}_pc")
            out = host.out[s]
            write(pos, out.valid & to_stream, dst, [out.payload.data.as_value()])
            # unit errors as plain expressions (continuous assignments: no process that
            # Icarus would leave unevaluated, and X, when its inputs never change)
            ue = icu.unit_error[qi[qn]]
            poisoned = out.valid & chip_rd & out.payload.poison
            m.d.comb += [ue.valid.eq(poisoned | bad_idx),
                         ue.code.eq(Mux(poisoned, ErrorCode.ECC_POISON, ErrorCode.BAD_ADDRESS)),
                         ue.pc.eq(Mux(poisoned, rd_pc, iss.pc))]

        # --- MXM planes -----------------------------------------------------------------------
        for p in range(cfg.mxm_planes):
            plane = m.submodules[f"mxm{p}"] = restart(MxmPlane(cfg))
            pos = fp[f"mxm{p}"]
            wi, ai = issue[f"mxw{p}"], issue[f"mxm{p}"]
            ww, aw = wi.word, ai.word
            w_fp16, a_fp16 = field(ww, "LW", "fp16"), field(aw, "ABC", "fp16")
            wsrc = group(pos, field(ww, "LW", "src"), 2, Mux(w_fp16, 2, 1))
            asrc = group(pos, field(aw, "ABC", "src"), 2, Mux(a_fp16, 2, 1))
            m.d.comb += [
                plane.load.valid.eq(wi.valid & is_op(ww, "LW")),
                plane.load.payload.row.eq(field(ww, "LW", "addr")),
                plane.load.payload.data.as_value().eq(Cat(*wsrc)),
                plane.install.eq(wi.valid & is_op(ww, "IW")),
                plane.act.valid.eq(ai.valid & is_op(aw, "ABC", "ACC")),
                plane.act.payload.data.as_value().eq(Cat(*asrc)),
                plane.act.payload.fp16.eq(a_fp16),
                plane.act.payload.acc.eq(is_op(aw, "ACC")),
                plane.act.payload.addr.eq(field(aw, "ABC", "addr")),
            ]
            dst = _delay(m, field(aw, "ABC", "dst"), timing.mxm_latency(cfg), f"mxm{p}_dst")
            res = plane.result.payload.data
            write(pos, plane.result.valid, dst, [res[b].as_value() for b in range(4)])

        # --- VXM: control table, ALU chain, reduction -------------------------------------------
        pos = fp["vxm"]
        vi = issue["vxm"]
        vw = vi.word
        words = isa.vxm_control_words(cfg)
        table = [Signal(32, name=f"vxm_cfg{r}") for r in range(isa.VXM_SLOTS * words)]
        with m.If(vi.valid & is_op(vw, "CONFIG")):
            for r, reg in enumerate(table):
                with m.If(field(vw, "CONFIG", "reg") == r):
                    m.d.sync += reg.eq(field(vw, "CONFIG", "value"))
        with m.If(go):
            m.d.sync += [reg.eq(0) for reg in table]
        slots = Array([Cat(*table[k * words:(k + 1) * words]) for k in range(isa.VXM_SLOTS)])
        vxm = m.submodules.vxm = restart(Vxm(cfg))
        n = field(vw, "VOP", "n")
        is_vop = vi.valid & is_op(vw, "VOP")
        m.d.comb += [
            vxm.a.valid.eq(is_vop), vxm.b.valid.eq(is_vop),
            vxm.a.payload.as_value().eq(Cat(*group(pos, field(vw, "VOP", "a"), 4, n))),
            vxm.b.payload.as_value().eq(Cat(*group(pos, field(vw, "VOP", "b"), 4, n))),
            vxm.ctrl.as_value().eq(slots[field(vw, "VOP", "slot")][:VxmControl(cfg).size]),
        ]
        vlat = cfg.vxm_alus * timing.VXM_ALU_LATENCY
        v_dst = _delay(m, field(vw, "VOP", "dst"), vlat, "vop_dst")
        v_n = _delay(m, n, vlat, "vop_n")
        # VOP output: plane j goes to stream dst + j for j < n
        for d in range(2):
            for s in range(S):
                for j in range(4):
                    en = vxm.out.valid & (j < v_n) & (v_dst[5] == d) & (v_dst[:5] + j == s)
                    writes[d][s][pos].append((en, vxm.out.payload[j].as_value()))
        red = m.submodules.vred = restart(VxmReduce(cfg))
        m.d.comb += [
            red.data.valid.eq(vi.valid & is_op(vw, "VRED")),
            red.data.payload.as_value().eq(Cat(*group(pos, field(vw, "VRED", "a"), 4))),
            red.op_max.eq(field(vw, "VRED", "op") == isa.VRED_OPS["max"]),
            red.op_fsum.eq(field(vw, "VRED", "op") == isa.VRED_OPS["fsum"]),
        ]
        r_dst = _delay(m, field(vw, "VRED", "dst"), reduce_latency(cfg), "vred_dst")
        rv = red.result.payload.as_unsigned()
        write(pos, red.result.valid, r_dst, [rv[8 * b:8 * b + 8].replicate(lanes) for b in range(4)])
        fn = m.submodules.vfunc = restart(VxmFunc(cfg))
        m.d.comb += [
            fn.a.valid.eq(vi.valid & is_op(vw, "VFUNC")),
            fn.a.payload.as_value().eq(Cat(*group(pos, field(vw, "VFUNC", "a"), 4))),
            fn.func.eq(field(vw, "VFUNC", "fn")),
        ]
        f_dst = _delay(m, field(vw, "VFUNC", "dst"), timing.VXM_FUNC_LATENCY, "vfunc_dst")
        write(pos, fn.out.valid, f_dst, [fn.out.payload[b].as_value() for b in range(4)])

        # --- SXM ------------------------------------------------------------------------------------
        pos = fp["sxm"]
        si = issue["sxm"]
        sw = si.word
        sxm = m.submodules.sxm = restart(Sxm(cfg))
        base = BY_NAME["PASS"].opcode
        is_sxm = si.valid & (sw[:6] >= base) & (sw[:6] < base + 8)
        op = Signal(3, name="sxm_op")
        m.d.comb += op.eq(sw[:6] - base)
        is_trans = is_sxm & (op == SxmOp.TRANSPOSE)
        m.d.comb += [
            sxm.cmd.valid.eq(is_sxm), sxm.cmd.payload.op.eq(op),
            sxm.cmd.payload.k.eq(field(sw, "SHUP", "k")),
            sxm.cmd.payload.start.eq(is_trans & field(sw, "TRANS", "start")),
            sxm.cmd.payload.a.as_value().eq(read(pos, field(sw, "PASS", "a"))),
            sxm.cmd.payload.b.as_value().eq(Mux(is_op(sw, "PERM", "SEL"), read(pos, field(sw, "PERM", "b")), 0)),
            sxm.cmd.payload.c.as_value().eq(Mux(is_op(sw, "SEL"), read(pos, field(sw, "SEL", "c")), 0)),
        ]
        lane_dst = _delay(m, field(sw, "PASS", "dst"), timing.SXM_LATENCY, "sxm_lane_dst")
        rows = Signal(range(lanes + 1), name="sxm_rows")
        done_tile = Signal(name="sxm_tile_done")
        start = field(sw, "TRANS", "start")
        row_in = is_trans & (start | (rows != 0))
        m.d.comb += done_tile.eq(row_in & (Mux(start, 1, rows + 1) == lanes))
        with m.If(row_in):
            m.d.sync += rows.eq(Mux(done_tile, 0, Mux(start, 1, rows + 1)))
        tile_dst = _delay(m, field(sw, "PASS", "dst"), timing.SXM_LATENCY, "sxm_tile_dst")
        tile_go = _delay(m, done_tile, timing.SXM_LATENCY, "sxm_tile_go")
        col_dst = Signal(6, name="sxm_col_dst")
        cols_left = Signal(range(lanes + 1), name="sxm_cols_left")
        with m.If(tile_go):
            m.d.sync += [col_dst.eq(tile_dst), cols_left.eq(lanes)]
        with m.Elif(cols_left != 0):
            m.d.sync += cols_left.eq(cols_left - 1)
        with m.If(go):
            m.d.sync += [rows.eq(0), cols_left.eq(0)]
        write(pos, sxm.out.valid, Mux(cols_left != 0, col_dst, lane_dst), [sxm.out.payload.as_value()])
        err_prev = Signal(name="sxm_err_prev")
        m.d.sync += err_prev.eq(sxm.error)
        s_pc = _delay(m, si.pc, timing.SXM_LATENCY, "sxm_pc")
        ue = icu.unit_error[qi["sxm"]]
        m.d.comb += [ue.valid.eq(sxm.error & ~err_prev & ~go), ue.code.eq(ErrorCode.SXM_FAULT), ue.pc.eq(s_pc)]

        # --- stream register update ------------------------------------------------------------------
        for d in range(2):
            for s in range(S):
                for p in range(P):
                    up = p - 1 if d == 0 else p + 1
                    nxt = regs[d][s][up] if 0 <= up < P else Const(0, 8 * lanes)
                    for en, value in reversed(writes[d][s][p]):
                        nxt = Mux(en, value, nxt)
                    m.d.sync += regs[d][s][p].eq(nxt)
                    with m.If(go):
                        m.d.sync += regs[d][s][p].eq(0)
        return m
