"""Formal property: an MXM plane's int8 path equals a reference at reduced size.

:class:`MxmPlaneRef` drives an :class:`~openlpu.rtl.mxm.MxmPlane` (by
default the int8-only plane, ``fp16=False``: the shipped plane's tiles, int8
products, tree and accumulators without its fp16 datapath; in the shipped
plane the int8 products of rows ``k < fp16_k`` come from a multiplier shared
with the fp16 significands, which simulation checks: proving two different
multiplier circuits equal is beyond the solver here) from free inputs on every cycle:
weight loads (``valid``, first ``row``, ``count``, the row slots), ``install``, activations
(``valid``, data, ``acc``, ``addr``) and the reset. Beside it, a small
reference written from the specification (not from the plane's structure):

* its own shadow / active weight tiles (a load writes rows ``row + i`` from slot
  ``i < count`` when ``row`` is a multiple of ``mxm_load_rows``, two here; ``install``
  copies shadow including rows loaded that cycle; an activation in the ``install`` cycle already uses
  the new tile, :data:`~openlpu.timing.MXM_INSTALL_DELAY` = 0);
* one combinational dot product per column, ``y[n] = sum_k a[k] * W[k][n]``
  in int32, on the activation's cycle;
* a delay line of :func:`~openlpu.timing.mxm_latency` cycles and its own
  accumulator rows (start with ``y`` or add ``y`` modulo ``2**32``).

Asserts: ``result.valid`` is exactly the activation's ``valid`` delayed by
``mxm_latency`` (through resets too), and when valid, ``result.addr`` and all
``lanes`` int32 results equal the reference.

Assumptions: int8 mode (``fp16 = 0``). With ``small_operands`` the int8
activations and weights are limited to signed 4-bit values (-8..7; the upper
bits of each byte a sign extension) to keep the SMT problem small; the
proof's table in docs/verification.md states which variant ran.
"""

from amaranth.hdl import Assert, Assume, Cat, Cover, Elaboratable, Module, Mux, Signal, signed, unsigned
from amaranth.hdl import ResetSignal
from amaranth.lib import data

from openlpu import timing
from openlpu.config import LpuConfig
from openlpu.golden.mxm import tree_pairs
from openlpu.rtl.mxm import MxmPlane
from openlpu.rtl.pipeline import register, taps
from openlpu.verif.formal import Proof, build_counted

__all__ = ["FORMAL_CFG", "MxmPlaneRef", "build", "PROOFS"]

#: Reduced configuration of the proof: a 4 x 4 plane (the smallest ``lanes``
#: the configuration accepts: the fp16 pass needs ``lanes % 4 == 0``) with two
#: accumulator rows, loading two weight rows per cycle.
FORMAL_CFG = LpuConfig(lanes=4, superlanes=1, streams=4, mxm_planes=1, mem_slices=1, mem_depth=16,
                       vxm_alus=1, mxm_acc_depth=2, imem_depth=16, mxm_load_rows=2)


class MxmPlaneRef(Elaboratable):
    """Property module: MxmPlane vs. reference (see the module docstring).

    Arguments
    ---------
    cfg : LpuConfig
    small_operands : bool
        Assume signed 4-bit int8 operands.
    skew : int
        Compare against the reference delayed by ``mxm_latency + skew``; any
        ``skew != 0`` is a deliberately wrong latency claim (negative check).
    part : str
        ``"whole"`` (the plane against the full reference), or one half of the
        assume-guarantee split: ``"tiles"`` proves the weight tiles and the
        activation register equal the reference's, ``"datapath"`` assumes that
        and proves products, adder tree, accumulators and latency. The halves
        observe the plane's state through its ``probe`` port
        (``MxmPlane(probe=True)``, :func:`~openlpu.rtl.mxm.plane_probe`).
    stale_install : bool
        A deliberately wrong reference (negative check of ``"tiles"``).
    """

    def __init__(self, cfg=FORMAL_CFG, small_operands=True, skew=0, fp16=False, part="whole",
                 stale_install=False):
        if part not in ("whole", "tiles", "datapath"):
            raise ValueError(f"part must be whole, tiles or datapath, not {part!r}")
        self._cfg = cfg
        self._small = small_operands
        self._skew = skew
        self._part = part
        self._stale = stale_install
        self.dut = MxmPlane(cfg, fp16=fp16, probe=part != "whole")
        self.counts = [0, 0, 0]

    def ports(self):
        d = self.dut
        return [d.load.valid, d.load.payload.as_value(), d.install, d.act.valid, d.act.payload.as_value()]

    def elaborate(self, platform):
        m = Module()
        counts = [0, 0, 0]

        def check(kind, stmt):
            counts[kind] += 1
            m.d.comb += stmt

        m.submodules.dut = dut = self.dut
        probe = dut.probe if self._part != "whole" else None
        self._assume_operands(check)
        active, shadow, weights = self._reference_tiles(m)
        if self._part == "tiles":
            self._check_tiles(m, check, probe, active, shadow)
        else:
            self._check_datapath(m, check, probe, weights)
        self.counts = counts
        return m

    def _assume_operands(self, check):
        """int8 mode; with ``small_operands``, signed 4-bit activations and weights."""
        dut, lanes = self.dut, self._cfg.lanes
        act, load = dut.act.payload, dut.load.payload
        check(1, Assume(~act.fp16))
        if self._small:
            def small(byte):
                return (byte[3:8] == 0) | (byte[3:8] == 0b11111)
            for k in range(lanes):
                check(1, Assume(~dut.act.valid | small(act.data[0][k])))
                for i in range(self._cfg.mxm_load_rows):
                    check(1, Assume(~dut.load.valid | small(load.data[i][0][k])))

    def _reference_tiles(self, m):
        """The reference weight tiles (int8: byte plane 0): ``(active, shadow, weights)``,
        ``weights`` the tile an activation of this cycle uses."""
        dut, lanes = self.dut, self._cfg.lanes
        load = dut.load.payload
        tile = data.ArrayLayout(data.ArrayLayout(signed(8), lanes), lanes)
        # like the plane's tiles and accumulators, the reference's are not reset
        shadow = Signal(tile, reset_less=True)
        active = Signal(tile, reset_less=True)
        shadow_next = Signal(tile)
        # a load writes rows row + i from slot i, i < count, when row is a multiple of
        # mxm_load_rows (and nothing otherwise)
        rows = self._cfg.mxm_load_rows
        aligned = Cat(*(load.row == r for r in range(0, lanes, rows))).any()
        for k in range(lanes):
            for n in range(lanes):
                nxt = shadow[k][n]
                for i in range(rows):
                    hit = dut.load.valid & aligned & (i < load.count) & (load.row + i == k)
                    nxt = Mux(hit, load.data[i][0][n], nxt)
                m.d.comb += shadow_next[k][n].eq(nxt)
        m.d.sync += shadow.eq(shadow_next)
        weights = Signal(tile)
        m.d.comb += weights.eq(Mux(dut.install, shadow_next, active))
        with m.If(dut.install):
            # stale_install: the false claim that a row loaded in the install cycle is missed
            m.d.sync += active.eq(shadow if self._stale else shadow_next)
        return active, shadow, weights

    def _check_tiles(self, m, check, probe, active, shadow):
        """Assume-guarantee split, first half: the plane's weight tiles equal the
        reference's (int8 byte of every entry), its activation register holds the last
        activation, and every product register holds the signed int8 product of the
        reference's activation and weight one cycle earlier. "datapath" takes the
        product registers as free values (a cut point) and proves the rest."""
        dut, lanes = self.dut, self._cfg.lanes
        act = dut.act.payload
        a_prev = Signal(data.ArrayLayout(signed(8), lanes), reset_less=True)
        for k in range(lanes):
            m.d.sync += a_prev[k].eq(act.data[0][k])
        for n in range(lanes):
            for k in range(lanes):
                check(0, Assert(probe.a[n][k][:8] == a_prev[k].as_unsigned(),
                                f"activation register of column {n}, lane {k}"))
            for n in range(lanes):
                for name, ref in (("active", active), ("shadow", shadow)):
                    check(0, Assert(getattr(probe, name)[k][n][:8] == ref[k][n].as_unsigned(),
                                    f"{name} tile [{k}][{n}]"))
                # the product register holds the product of the plane's own activation
                # and weight registers one cycle earlier; with the two asserts above
                # (those registers equal the reference's) it is a_prev[k] * active[k][n]
                # one cycle back. Stated on the plane's registers, the solver never has
                # to prove two different multiplier circuits equal.
                prod = register(m, probe.a[n][k][:8].as_signed() * probe.active[k][n][:8].as_signed(),
                                f"prod_{k}_{n}", shape=signed(16), reset_less=True)
                check(0, Assert(probe.int_prod[k][n] == prod, f"product [{k}][{n}]"))
        check(2, Cover(dut.install & dut.load.valid))

    def _check_datapath(self, m, check, probe, weights):
        """The whole plane (``probe`` None) or the datapath half: latency, result rows
        and columns against the reference delay line, dot products and accumulators."""
        dut = self.dut
        latency = timing.mxm_latency(self._cfg) + self._skew
        if latency < 3:
            raise ValueError(f"latency {latency} below the plane's input and product stages")
        vld, line = self._reference_line(m, weights, latency, whole=probe is None)
        # the accumulator stage: the row is read (int8) and written in the cycle before the
        # result appears; a reset in that cycle does not undo the write, it only drops the
        # result. The tree sums are complete MXM_ACC_STAGES - 1 cycles before it, where the
        # fp32 accumulate starts (stage p_sum of the line).
        acv, acs = vld[latency - 2], line[latency - 2]
        p_sum = latency - 1 - timing.MXM_ACC_STAGES
        if p_sum < 2:
            raise ValueError(f"latency {latency} leaves no adder-tree stage")
        dots = self._dots(m, check, probe, acs, latency, p_sum)
        res, want = self._accumulators(m, check, probe, acv, acs, dots)
        self._check_results(m, check, vld, line, acv, res, want)

    def _reference_line(self, m, weights, latency, whole):
        """``(vld, line)``: the delay line of ``latency`` stages carrying the activation
        (its ``acc`` and ``addr``; for the whole plane its int8 data and weights too).
        valid is cleared by reset; the payload travels unreset, like the plane's datapath."""
        dut, lanes = self.dut, self._cfg.lanes
        act = dut.act.payload
        fields = {"acc": 1, "addr": act.addr.shape()}
        if whole:
            fields.update(a=data.ArrayLayout(signed(8), lanes), w=weights.shape())
        stage = data.StructLayout(fields)
        line_in = Signal(stage, name="ref_in")
        m.d.comb += [line_in.acc.eq(act.acc), line_in.addr.eq(act.addr)]
        if whole:
            m.d.comb += line_in.w.eq(weights)
            for k in range(lanes):
                m.d.comb += line_in.a[k].eq(act.data[0][k])
        vld = taps(m, dut.act.valid, latency, "ref_valid")[1:]
        line = taps(m, line_in, latency, "ref", reset_less=True)[1:]
        return vld, line

    def _dots(self, m, check, probe, acs, latency, p_sum):
        """The reference dot products at the accumulator stage, ``y[n] = sum_k a[k] *
        W[k][n]``, summed pairwise in the specified order (golden.mxm.tree_pairs)."""
        lanes = self._cfg.lanes
        dots = Signal(data.ArrayLayout(signed(32), lanes))

        def tree(terms):
            for level in tree_pairs(lanes):
                terms = [terms[p[0]] if len(p) == 1 else terms[p[0]] + terms[p[1]] for p in level]
            return terms[0]
        if probe is None:
            for n in range(lanes):
                m.d.comb += dots[n].eq(tree([acs.a[k] * acs.w[k][n] for k in range(lanes)]))
            return dots
        # datapath: the reference sums are taken over the plane's product registers
        # (what they hold is proven by "tiles"; here they are free, see DATAPATH.cut)
        now = Signal(data.ArrayLayout(signed(32), lanes))
        for n in range(lanes):
            m.d.comb += now[n].eq(tree([probe.int_prod[k][n].as_signed() for k in range(lanes)]))
        # the product registers belong to line[1]: sums[i] to line[1 + i]; the plane's
        # tree sums are at stage p_sum, the reference's are delayed on to the
        # accumulator stage
        sums = taps(m, now, latency - 3, "sum", reset_less=True)
        m.d.comb += dots.eq(sums[-1])
        for n in range(lanes):
            check(0, Assert(probe.int_sum[n] == sums[p_sum - 1][n], f"tree sum of column {n}"))
        return dots

    def _accumulators(self, m, check, probe, acv, acs, dots):
        """The reference accumulator rows; returns ``(res, want)``: the result register
        and the row written at the accumulator stage."""
        cfg, lanes = self._cfg, self._cfg.lanes
        rows = [Signal(data.ArrayLayout(unsigned(32), lanes), name=f"acc{r}", reset_less=True)
                for r in range(cfg.mxm_acc_depth)]
        old = Signal(data.ArrayLayout(unsigned(32), lanes))
        m.d.comb += old.eq(rows[0])
        for r in range(1, cfg.mxm_acc_depth):
            with m.If(acs.addr == r):
                m.d.comb += old.eq(rows[r])
        want = Signal(data.ArrayLayout(unsigned(32), lanes))
        for n in range(lanes):
            m.d.comb += want[n].eq(Mux(acs.acc, old[n] + dots[n].as_unsigned(), dots[n].as_unsigned()))
        for r in range(cfg.mxm_acc_depth):
            with m.If(acv & (acs.addr == r)):
                m.d.sync += rows[r].eq(want)
        res = register(m, want, "res", reset_less=True)
        if probe is not None:
            # lemmas for the result check, each proven at every step and then known to the
            # solver at later steps: the plane's accumulator write port cycle by cycle, and
            # the accumulator memory's contents (read by the probe's own read ports, which
            # do not change the plane) equal the reference rows, written on the same clock edge
            write = probe.acc_write
            check(0, Assert(write.en == acv, "accumulator write exactly at the accumulator stage"))
            with m.If(acv):
                check(0, Assert(write.addr == acs.addr, "accumulator write row"))
                check(0, Assert(write.data.as_value() == want.as_value(), "accumulator write data"))
            for r in range(cfg.mxm_acc_depth):
                check(0, Assert(probe.acc_rows[r].as_value() == rows[r].as_value(), f"accumulator row {r}"))
        return res, want

    def _check_results(self, m, check, vld, line, acv, res, want):
        """The properties: ``result.valid`` is the delayed ``act.valid``; the result row
        and every column equal the reference; covers of the interesting cases."""
        dut, cfg, lanes = self.dut, self._cfg, self._cfg.lanes
        last = line[-1]
        got = [Signal(32, name=f"got{n}") for n in range(lanes)]
        for n in range(lanes):
            m.d.comb += got[n].eq(sum(dut.result.payload.data[b][n] << (8 * b) for b in range(4))[:32])
        check(0, Assert(dut.result.valid == vld[-1], "result.valid exactly mxm_latency after act.valid"))
        with m.If(vld[-1]):
            check(0, Assert(dut.result.payload.addr == last.addr, "result row"))
            for n in range(lanes):
                check(0, Assert(got[n] == res[n], f"column {n} equals the reference"))

        rst = ResetSignal()
        check(2, Cover(vld[-1] & last.acc & (got[0] != 0) & (got[lanes - 1] != got[0])))
        check(2, Cover(vld[-1] & ~last.acc & (last.addr == cfg.mxm_acc_depth - 1) & (got[1] != 0)))
        check(2, Cover(vld[-1] & vld[-2] & line[-2].acc & (line[-2].addr == last.addr)
                       & (got[0] != 0)))   # back-to-back accumulation into one row
        check(2, Cover(dut.install & dut.load.valid & dut.act.valid))
        check(2, Cover(rst & vld[0]))
        check(2, Cover(rst & acv & (want[0] != 0)))   # a write committed in a reset cycle


def build_part(part):
    """``build`` for one half of the split proof (``"tiles"`` or ``"datapath"``), with
    full signed 8-bit operands (no ``small_operands`` assumption)."""
    def build_(**kwargs):
        kwargs.setdefault("small_operands", False)
        return build(part=part, **kwargs)
    return build_


def build(**kwargs):
    """``build`` of a :class:`~openlpu.verif.formal.Proof`: ``(module, ports, counts)``."""
    return build_counted(MxmPlaneRef, **kwargs)


_L = timing.mxm_latency(FORMAL_CFG)

#: The split proof. "tiles" proves the weight tiles, the activation register and the
#: product registers against the reference; "datapath" proves adder tree, accumulator rows,
#: result row and latency for any values of the product registers (a cut point), so the two
#: together state the plane's int8 results from reset, to the same depth.
TILES = Proof("mxm_int8_tiles", build_part("tiles"), depth=_L + 8, cover_depth=4,
              why_depth=f"BMC depth mxm_latency + 8 = {_L} + 8 from reset state")
DATAPATH = Proof("mxm_int8_datapath", build_part("datapath"), depth=_L + 8, cover_depth=_L + 4,
                 cut=("dut.col*.ip_*",),
                 why_depth=f"BMC depth mxm_latency + 8 = {_L} + 8 from reset state; products free")

#: Not in the CI set: the whole 4 x 4 int8 proof in one piece does not finish within the
#: budget (the solver meets every multiplier once per unrolled reference path; see
#: docs/verification.md). Run it with ``formal.prove(proof, workdir)``.
EXPERIMENTAL = [
    Proof("mxm_int8_4x4", build, depth=_L + 8, cover_depth=_L + 4,
          why_depth=f"BMC depth mxm_latency + 8 = {_L} + 8 from reset state"),
]

PROOFS = [TILES, DATAPATH]
