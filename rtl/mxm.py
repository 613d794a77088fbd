"""Matrix unit (MXM): weight-stationary planes of ``lanes x lanes`` MACs.

One :class:`MxmPlane` holds a tile of weights ``W`` (``K x N``, ``K = N =
lanes``) and, every cycle, multiplies one streamed activation vector ``a``
(length ``K``) by it: ``y[n] = sum_k a[k] * W[k][n]``. It sustains
``lanes**2`` int8 MACs per cycle. :class:`Mxm` is ``mxm_planes`` independent
planes.

Data types
----------
``int8 x int8 -> int32``
    Products and the reduction of one pass are exact; accumulation across
    passes wraps modulo ``2**32`` (two's complement), like C ``int32_t``
    arithmetic with ``-fwrapv``.
``fp16 x fp16 -> fp32``
    A pass reduces ``K = lanes // 4`` products (a quarter of the int8 MAC
    rate, as on the reference chip) over activation lanes ``0 .. K-1`` and
    weight rows ``0 .. K-1``. Each product is exact in fp32; the products are
    summed by a pairwise tree in a fixed order
    (:func:`openlpu.golden.mxm.tree_pairs`), every
    addition rounded to nearest even, then added to the accumulator. NaN
    results are the canonical quiet NaN; subnormals are kept.

Weights
-------
Rows are loaded into a *shadow* tile while the *active* tile computes, up to
``R = mxm_load_rows`` a cycle: a load names its first row ``row`` (a multiple
of ``R``) and carries ``count`` rows (``1..R``) in row slots ``0..count-1``.
Shadow row ``k`` takes slot ``k % R`` when a load's ``row`` is ``(k // R) * R``
and ``k % R < count``: one compare per group of ``R`` rows, no row selects
among the slots. ``install`` copies shadow to active in one cycle (rows loaded
in that same cycle are included). An activation presented in the same cycle as
``install`` already uses the new tile (:data:`~openlpu.timing.MXM_INSTALL_DELAY`
is 0), so swapping tiles costs no compute cycle.

Accumulators
------------
Each plane has ``mxm_acc_depth`` accumulator rows of ``lanes`` 32-bit
values. Every activation names a row ``addr`` and says whether to start it
(``acc = 0``: the row becomes this pass's result) or add to it (``acc = 1``).
The updated row is the plane's result for that activation.

The fp32 accumulate of an fp16 pass takes :data:`~openlpu.timing.MXM_ACC_STAGES`
cycles and reads its row when it starts, so an fp16 ``acc = 1`` sees the
previous write to its row only if it comes at least
:data:`~openlpu.timing.MXM_ACC_REUSE_DISTANCE` cycles after it; closer, it adds
to the row as it was before that write (the golden model does the same, and
the schedulers keep the distance). An int8 ``acc = 1`` reads its row in the
last stage and may follow the previous write in the next cycle.

Latency
-------
:func:`openlpu.timing.mxm_latency` cycles from activation to result, the same
for both data types; one result per cycle.

Reset
-----
Reset clears the control pipeline (no result is valid after reset); the
datapath registers, the weight tiles and the accumulators are not reset
(they start at zero at power-up). An activation whose accumulator-row write
falls in a reset cycle still writes the row (the memory's write port has no
reset) but gives no result; the formal reference (``verif/formal_mxm.py``)
states the same. Keeping reset off the ``lanes**2`` weight
and product registers keeps the reset net's fan-out, and the FPGA area, from
growing with the array (see ``docs/synthesis.md``).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .. import timing
from ..config import require_config
from . import fp
from .arith import mul_s8_lut
from .hier import shared
from .pipeline import delay, register, taps
from .streams import Flow, StreamGroup
from ..golden.mxm import tree_pairs  # the reduction order is part of the specification

__all__ = ["WeightLoadLayout", "ActivationLayout", "ResultLayout", "plane_signature", "plane_probe", "MxmColumn", "MxmPlane", "Mxm"]


def WeightLoadLayout(cfg):
    """Payload of a weight load: first ``row`` (a multiple of ``mxm_load_rows``), ``count``
    rows (1..``mxm_load_rows``), and ``mxm_load_rows`` row slots ``data[i]`` of ``lanes``
    16-bit weights each (2 streams); slot ``i`` is row ``row + i``, slots ``>= count`` unused."""
    return data.StructLayout({
        "row": unsigned(ceil_log2(cfg.lanes)),
        "count": unsigned(ceil_log2(cfg.mxm_load_rows + 1)),
        "data": data.ArrayLayout(StreamGroup(cfg.lanes, 2), cfg.mxm_load_rows),
    })


def ActivationLayout(cfg):
    """Payload of an activation vector and the controls that travel with it.

    ``data``: ``lanes`` 16-bit values (2 streams; int8 uses plane 0 only).
    ``fp16``: 1 selects fp16 x fp16 -> fp32, 0 int8 x int8 -> int32.
    ``acc``: 0 starts accumulator row ``addr`` with this result, 1 adds to it.
    """
    return data.StructLayout({
        "data": StreamGroup(cfg.lanes, 2),
        "fp16": 1,
        "acc": 1,
        "addr": unsigned(max(1, ceil_log2(cfg.mxm_acc_depth))),
    })


def ResultLayout(cfg):
    """Payload of a result vector: ``lanes`` 32-bit values (4 streams) and its accumulator row."""
    return data.StructLayout({
        "data": StreamGroup(cfg.lanes, 4),
        "addr": unsigned(max(1, ceil_log2(cfg.mxm_acc_depth))),
    })


def plane_signature(cfg):
    """Ports of one plane (see :class:`MxmPlane`)."""
    return wiring.Signature({
        "load": In(Flow(WeightLoadLayout(cfg))),
        "install": In(1),
        "act": In(Flow(ActivationLayout(cfg))),
        "result": Out(Flow(ResultLayout(cfg))),
    })


def plane_probe(cfg, columns):
    """The ``probe`` port of ``MxmPlane(cfg, columns=columns, probe=True)``: what a formal
    proof observes of the plane's state (each member a copy of the plane's own signal).

    ``a[n]``: column ``n``'s activation register (``lanes`` 16-bit words);
    ``shadow``, ``active``: the weight tiles ``[k][n]``; ``int_prod[k][n]``: the int8
    product registers; ``int_sum[n]``: column ``n``'s int tree sum (sign-extended);
    ``acc_write``: the accumulator memory's write port (``en``, ``addr``, ``data``);
    ``acc_rows[r]``: accumulator row ``r`` as the memory holds it now.
    """
    lanes = cfg.lanes
    word = data.ArrayLayout(unsigned(16), lanes)
    row = data.ArrayLayout(unsigned(32), columns)
    return wiring.Signature({
        "a": Out(data.ArrayLayout(word, columns)),
        "shadow": Out(data.ArrayLayout(word, lanes)),
        "active": Out(data.ArrayLayout(word, lanes)),
        "int_prod": Out(data.ArrayLayout(data.ArrayLayout(signed(16), columns), lanes)),
        "int_sum": Out(data.ArrayLayout(signed(32), columns)),
        "acc_write": Out(data.StructLayout({"en": 1, "addr": ActivationLayout(cfg)["addr"].shape, "data": row})),
        "acc_rows": Out(data.ArrayLayout(row, cfg.mxm_acc_depth)),
    })


class MxmColumn(wiring.Component):
    """Output column ``n`` of a plane: its activation copy, its column of the weight tiles,
    its ``lanes`` products and adder trees.

    The state that grows with ``lanes**2`` lives here, ``lanes`` 16-bit words of each
    kind per column, so that a plane is ``lanes`` instances of one small module
    (:mod:`openlpu.rtl.hier`) rather than one module of ``3 * lanes**2 * 16`` flip-flops
    (4.9 M at ``tsp``), which Amaranth's netlist builder handles one bit at a time.

    Arguments
    ---------
    cfg : LpuConfig
    fp16 : bool
        Build the fp16 products and tree (rows ``k < fp16_k``), as :class:`MxmPlane`.
    dsp_rows : int
        Rows ``k < dsp_rows`` write their int8 product as ``*`` (a hard
        multiplier); the others as shift-and-add logic. Rows ``k < fp16_k`` of
        an fp16 column always use ``*``.
    probe : bool
        Add the ``prod`` output: the int8 product registers.

    Members
    -------
    act : ``In(ArrayLayout(unsigned(16), lanes))``
        The plane's activation vector; the column registers its own copy ``a``
        (stage 1), which drives only this column's multipliers.
    load_en, load_w : ``In(lanes)``, ``In(ArrayLayout(unsigned(16), mxm_load_rows))``
        Shadow row ``k`` takes ``load_w[k % mxm_load_rows]`` (this column's weight of
        that row slot) when ``load_en[k]``; the plane decodes ``load_en`` once for all
        columns.
    install : ``In(1)``
        Copies the shadow column (including rows loaded this cycle) to the active one.
    is_fp16 : ``In(1)``
        The activation in ``a`` is fp16.
    int_sum : ``Out(signed(32))``
        The int tree's sum, ``MXM_MUL_STAGES + mxm_tree_stages`` cycles after ``a``.
    fp_sum : ``Out(32)``
        The fp32 tree's sum, as many cycles after ``a`` (only with ``fp16``).
    prod, a_q, shadow_q, active_q : ``Out(...)``
        Only with ``probe``: the int8 product registers, the activation copy and
        the shadow and active weights of the column.
    """

    def __init__(self, cfg, fp16=True, dsp_rows=None, probe=False):
        self._cfg = require_config(cfg)
        self._fp16 = fp16
        self._dsp_rows = cfg.lanes if dsp_rows is None else dsp_rows
        self._probe = probe
        word = data.ArrayLayout(unsigned(16), cfg.lanes)
        members = {"act": In(word), "load_en": In(cfg.lanes),
                   "load_w": In(data.ArrayLayout(unsigned(16), cfg.mxm_load_rows)),
                   "install": In(1), "is_fp16": In(1), "int_sum": Out(signed(32))}
        if fp16:
            members["fp_sum"] = Out(32)
        if probe:
            members.update({"prod": Out(data.ArrayLayout(signed(16), cfg.lanes)), "a_q": Out(word),
                            "shadow_q": Out(word), "active_q": Out(word)})
        super().__init__(members)

    @property
    def _kf(self):
        return self._cfg.fp16_k if self._fp16 else 0

    def elaborate(self, platform):
        m = Module()
        # Stage 1: this column's activation copy. ``keep``: the copies of all columns hold
        # the same value, and synthesis would otherwise merge them back into one register
        # driving every column's multipliers (openlpu.synth keeps registers so marked).
        a = Signal(data.ArrayLayout(unsigned(16), self._cfg.lanes), name="a", reset_less=True,
                   attrs={"keep": 1})
        m.d.sync += a.eq(self.act)
        shadow, active = self._weights(m)
        int_prod, fp_prod = self._products(m, a, active)
        m.d.comb += self.int_sum.eq(self._int_tree(m, int_prod))
        if self._kf:
            m.d.comb += self.fp_sum.eq(self._fp_tree(m, fp_prod))
        if self._probe:
            m.d.comb += [self.prod[k].eq(p) for k, p in enumerate(int_prod)]
            m.d.comb += [self.a_q.eq(a)] + [self.shadow_q[k].eq(shadow[k]) for k in range(len(shadow))]
            m.d.comb += [self.active_q[k].eq(active[k]) for k in range(len(active))]
        return m

    def _weights(self, m):
        """The column's shadow and active weights ``[k]`` (16 bits each): shadow ``k`` takes
        row slot ``k % mxm_load_rows`` when ``load_en[k]``; ``install`` copies shadow (with
        this cycle's rows) to active."""
        lanes, rows = self._cfg.lanes, self._cfg.mxm_load_rows
        shadow = [Signal(16, name=f"shadow_{k}", reset_less=True) for k in range(lanes)]
        active = [Signal(16, name=f"active_{k}", reset_less=True) for k in range(lanes)]
        for k in range(lanes):
            nxt = Mux(self.load_en[k], self.load_w[k % rows], shadow[k])
            m.d.sync += shadow[k].eq(nxt)
            with m.If(self.install):
                m.d.sync += active[k].eq(nxt)
        return shadow, active

    def _products(self, m, a, wt):
        """Stage 2: the product registers ``(int_prod[k], fp_prod[k])``.

        Rows k < fp16_k compute an int8 product or an fp16 one, never both in one
        cycle: one signed 12 x 12 multiplier (one DSP block) serves both, its operands
        the int8 values or the 11-bit significands as the activation's fp16 bit
        (``is_fp16``, of the activation now in register ``a``) says.
        """
        lanes, kf, is_fp16 = self._cfg.lanes, self._kf, self.is_fp16
        int_prod = [Signal(signed(16), name=f"ip_{k}", reset_less=True) for k in range(lanes)]
        fp_prod = [Signal(32, name=f"fp_{k}", reset_less=True) for k in range(kf)]
        for k in range(lanes):
            x, w = a[k][:8].as_signed(), wt[k][:8].as_signed()
            if k < kf:
                both = Signal(signed(24), name=f"mul_{k}")

                def one_multiplier(sig_x, sig_w, x=x, w=w, both=both):
                    m.d.comb += both.eq(Mux(is_fp16, sig_x, x) * Mux(is_fp16, sig_w, w))
                    return both.as_unsigned()[:22]
                m.d.sync += fp_prod[k].eq(fp.f16_mul_f32(m, a[k], wt[k], mul=one_multiplier))
                m.d.sync += int_prod[k].eq(both[:16].as_signed())
                continue
            m.d.sync += int_prod[k].eq(x * w if k < self._dsp_rows else mul_s8_lut(x, w))
        return int_prod, fp_prod

    def _int_tree(self, m, values):
        """Pairwise int tree, registered after every level, then delayed to
        ``timing.mxm_tree_stages``; returns the sign-extended int32 sum."""
        levels = tree_pairs(len(values))
        for depth, level in enumerate(levels):
            width = len(values[0]) + 1
            values = [register(m, values[pair[0]] if len(pair) == 1 else values[pair[0]] + values[pair[1]],
                               f"it_{depth}_{j}", shape=signed(width), reset_less=True)
                      for j, pair in enumerate(level)]
        value = delay(m, values[0], timing.mxm_tree_stages(self._cfg) - len(levels), "ipad",
                      reset_less=True)
        total = Signal(signed(32), name="isum")
        m.d.comb += total.eq(value)
        return total

    def _fp_tree(self, m, values):
        """Pairwise fp32 tree, ``FP32_ADD_STAGES`` registers per level (the pipelined
        adder's and the level's own), padded to ``timing.mxm_tree_stages``."""
        stages = timing.FP32_ADD_STAGES
        levels = tree_pairs(len(values))
        for depth, level in enumerate(levels):
            nxt = []
            for j, pair in enumerate(level):
                name = f"ft_{depth}_{j}"
                if len(pair) == 2:
                    add = fp.f32_add_pipe(m, values[pair[0]], values[pair[1]], stages, name=f"{name}_add")
                    nxt.append(register(m, add, name, shape=32, reset_less=True))
                else:                          # an odd value passes the level's stages in a delay line
                    nxt.append(delay(m, values[pair[0]], stages, name, shape=32, reset_less=True, last_name=name))
            values = nxt
        return delay(m, values[0], timing.mxm_tree_stages(self._cfg) - len(levels) * stages, "fpad",
                     shape=32, reset_less=True)


class MxmPlane(wiring.Component):
    """One weight-stationary ``lanes x lanes`` plane.

    Arguments
    ---------
    cfg : LpuConfig
    fp16 : bool
        Build the fp16 datapath (default). ``False`` builds an int8-only plane
        (an fp16 activation is then computed as int8); it exists to measure
        how the int8 array scales on FPGAs too small for the fp16 datapath.
    dsp_products : int or None
        How many of the ``lanes**2`` int8 products are written as ``*``
        (which synthesis maps onto a hard multiplier, one DSP block each);
        the others, the last in ``(k, n)`` row-major order, are built as
        shift-and-add logic (:func:`~openlpu.rtl.arith.mul_s8_lut`), which stays in LUTs. ``None``
        (default): all of them use ``*``. This fits an array larger than the
        device's DSP blocks (the lanes-16 plane needs 256 on an FPGA with 156)
        without moving every product into LUTs; the results are the same.
        The products of rows ``k < fp16_k`` of the fp16 plane always use
        ``*``: one multiplier serves their int8 and fp16 products.
    columns : int or None
        Build only output columns ``0 .. columns-1`` (their products, trees and
        accumulator words); the other result words are 0. ``None`` (default):
        all ``lanes``. Only for synthesis: a column slice has the full
        ``K = lanes`` depth of every path (tree, accumulate, activation
        fan-out to its columns) and so measures the Fmax of a plane too large
        for the FPGA (``bench/bench_synth.py``, sweep ``fp16_slice``).
    probe : bool
        Add the ``probe`` port (:func:`plane_probe`): the plane's weight tiles,
        activation and product registers, tree sums and accumulator rows, for a
        formal proof (``verif/formal_mxm.py``). Default ``False``: no such port,
        and the plane's logic is the same either way.

    Members
    -------
    load : ``In(Flow(WeightLoadLayout(cfg)))``
        When ``valid``, writes shadow rows ``payload.row .. payload.row +
        payload.count - 1`` from row slots ``payload.data[0..count-1]`` (the
        rule in the module docstring: a ``row`` that is not a multiple of
        ``mxm_load_rows`` writes nothing). Row ``k`` holds ``W[k][0..lanes-1]``;
        each weight is 16 bits (byte planes 0 and 1; int8 uses plane 0).
    install : ``In(1)``
        Copies the shadow tile (including rows loaded this cycle) to the
        active tile.
    act : ``In(Flow(ActivationLayout(cfg)))``
        One activation vector per cycle when ``valid``.
    result : ``Out(Flow(ResultLayout(cfg)))``
        ``valid`` exactly :func:`~openlpu.timing.mxm_latency` cycles after the
        matching ``act.valid``; ``payload.data`` holds the updated accumulator
        row as 4 byte-plane streams.
    probe : ``Out(plane_probe(cfg, columns))``
        Only with ``probe=True``.

    Latency
    -------
    ``timing.mxm_latency(cfg)`` = input register + multiplier register +
    ``timing.mxm_tree_stages(cfg)`` adder-tree registers +
    ``timing.MXM_ACC_STAGES`` accumulator stages (the last one loads the
    result register).
    """

    def __init__(self, cfg, fp16=True, dsp_products=None, columns=None, probe=False):
        require_config(cfg)
        if not isinstance(fp16, bool):
            raise TypeError(f"fp16 must be a bool, not {fp16!r}")
        if dsp_products is not None and (not isinstance(dsp_products, int) or isinstance(dsp_products, bool)
                                         or not 0 <= dsp_products <= cfg.lanes ** 2):
            raise ValueError(f"dsp_products must be None or an int in 0..{cfg.lanes ** 2} "
                             f"(lanes**2 products), not {dsp_products!r}")
        if columns is not None and (not isinstance(columns, int) or isinstance(columns, bool)
                                    or not 1 <= columns <= cfg.lanes):
            raise ValueError(f"columns must be None or an int in 1..{cfg.lanes}, not {columns!r}")
        if not isinstance(probe, bool):
            raise TypeError(f"probe must be a bool, not {probe!r}")
        self._cfg = cfg
        self._fp16 = fp16
        self._columns = cfg.lanes if columns is None else columns
        self._dsp_products = cfg.lanes ** 2 if dsp_products is None else dsp_products
        self._probe = probe
        signature = plane_signature(cfg)
        if probe:
            signature = wiring.Signature({**signature.members, "probe": Out(plane_probe(cfg, self._columns))})
        super().__init__(signature)

    @property
    def cfg(self):
        return self._cfg

    @property
    def latency(self):
        """Cycles from ``act.valid`` to ``result.valid``."""
        return timing.mxm_latency(self._cfg)

    def elaborate(self, platform):
        m = Module()
        ctrl = self._control(m)
        columns = self._column_units(m, platform, is_fp16=ctrl[0].fp16)
        int_sum = [col.int_sum for col in columns]
        fp_sum = [col.fp_sum if self._kf else None for col in columns]
        wr, acc_mem = self._accumulate(m, ctrl, int_sum, fp_sum)
        self._result(m, ctrl[-1], wr.data)
        if self._probe:
            self._drive_probe(m, columns, wr, acc_mem)
        return m

    def _load_enables(self, m):
        """``lanes`` bits: shadow row ``k`` is written this cycle (``load.valid``, ``row ==
        (k // R) * R`` and ``k % R < count``, ``R = mxm_load_rows``)."""
        lanes, rows, load = self._cfg.lanes, self._cfg.mxm_load_rows, self.load.payload
        group = [self.load.valid & (load.row == g) for g in range(0, lanes, rows)]
        slot = [load.count > i for i in range(rows)]
        en = Signal(lanes, name="load_en")
        m.d.comb += [en[k].eq(group[k // rows] & slot[k % rows]) for k in range(lanes)]
        return en

    def _column_units(self, m, platform, is_fp16):
        """One :class:`MxmColumn` per output column: the activation vector, this column's
        word of each weight row slot, the row enables, ``install``. Columns with equal
        parameters are one design, so hierarchical Verilog (:mod:`openlpu.rtl.hier`) emits it once."""
        lanes = self._cfg.lanes
        act = Signal(data.ArrayLayout(unsigned(16), lanes))
        for k in range(lanes):
            m.d.comb += act[k].eq(Cat(self.act.payload.data[0][k], self.act.payload.data[1][k]))
        load = self.load.payload
        load_en = self._load_enables(m)
        columns = []
        for n in range(self._columns):
            dsp_rows = min(lanes, max(0, -(-(self._dsp_products - n) // lanes)))  # rows k with k*lanes+n < dsp
            col = MxmColumn(self._cfg, fp16=self._fp16, dsp_rows=dsp_rows, probe=self._probe)
            m.submodules[f"col{n}"] = shared(col, platform, "mxm_column")
            m.d.comb += [col.act.eq(act), col.is_fp16.eq(is_fp16), col.install.eq(self.install),
                         col.load_en.eq(load_en)]
            m.d.comb += [col.load_w[i].eq(Cat(load.data[i][0][n], load.data[i][1][n]))
                         for i in range(self._cfg.mxm_load_rows)]
            columns.append(col)
        return columns

    @property
    def _kf(self):
        """Rows whose products are fp16 too (0 in an int8-only plane)."""
        return self._cfg.fp16_k if self._fp16 else 0

    def _control(self, m):
        """The control pipeline: valid, fp16, acc, addr travel with the data.

        ``ctrl[s]`` is the control of the activation whose data is in stage ``s``: the
        tree sums are in stage ``p_sum``; the accumulator stages follow it, the last one
        (``ctrl[-1]``) writes the row and loads the result register.
        """
        ctrl_layout = data.StructLayout({      # the fields in the order of ``act`` below
            "valid": 1, "fp16": 1, "acc": 1, "addr": ActivationLayout(self._cfg)["addr"].shape,
        })
        act = Cat(self.act.valid, self.act.payload.fp16, self.act.payload.acc, self.act.payload.addr)
        return taps(m, act, self._p_sum + timing.MXM_ACC_STAGES, "ctrl", shape=ctrl_layout)[1:]

    @property
    def _p_sum(self):
        """The stage of the control pipeline whose data are the tree sums."""
        return timing.MXM_INPUT_STAGES + timing.MXM_MUL_STAGES + timing.mxm_tree_stages(self._cfg) - 1

    def _accumulate(self, m, ctrl, int_sum, fp_sum):
        """The accumulator memory and the last stages; returns ``(write port, memory)``
        (the write port's ``data`` is the updated row, the plane's result).

        One write, in the last stage. Two read ports, both registered and transparent
        to the write: the fp16 port is addressed a cycle before the tree sums arrive,
        so that the fp32 accumulate (FP32_ADD_STAGES cycles) starts with them; the
        int8 port a cycle before the last stage, where the int32 add is done in one
        cycle. An fp16 ACC therefore sees the rows written up to acc_stages - 1 cycles
        before it reached the adder, and reads a stale row when the previous write to
        that row is closer: the scheduling rule timing.MXM_ACC_REUSE_DISTANCE.
        """
        kf, cols, p_sum, acc_stages = self._kf, self._columns, self._p_sum, timing.MXM_ACC_STAGES
        acc_mem = memory.Memory(shape=data.ArrayLayout(unsigned(32), cols),
                                depth=self._cfg.mxm_acc_depth, init=[])
        m.submodules.acc_mem = acc_mem
        wr = acc_mem.write_port()
        rd_int = acc_mem.read_port(transparent_for=(wr,))
        last = ctrl[-1]
        m.d.comb += rd_int.addr.eq(ctrl[-2].addr)
        if kf:
            rd_fp = acc_mem.read_port(transparent_for=(wr,))
            m.d.comb += rd_fp.addr.eq(ctrl[p_sum - 1].addr)

        # the pass's own sum (a start, acc = 0; and the int8 addend) travels to the last stage
        partial = Signal(data.ArrayLayout(unsigned(32), cols), name="partial0")
        for n in range(cols):
            isum = int_sum[n].as_unsigned()[:32]
            m.d.comb += partial[n].eq(Mux(ctrl[p_sum].fp16, fp_sum[n], isum) if kf else isum)
        partial = delay(m, partial, acc_stages - 1, "partial", reset_less=True)

        out = Signal(data.ArrayLayout(unsigned(32), cols))
        for n in range(cols):
            total = (rd_int.data[n] + partial[n])[:32]
            if kf:
                fp_acc = fp.f32_add_pipe(m, rd_fp.data[n], fp_sum[n], acc_stages, name=f"facc_{n}")
                total = Mux(last.fp16, fp_acc, total)
            m.d.comb += out[n].eq(Mux(last.acc, total, partial[n]))
        m.d.comb += [
            wr.en.eq(last.valid),
            wr.addr.eq(last.addr),
            wr.data.eq(out),
        ]
        return wr, acc_mem

    def _result(self, m, last, out):
        """The result register: ``out`` (the updated row) and the control of the last stage."""
        m.d.sync += [
            self.result.valid.eq(last.valid),
            self.result.payload.addr.eq(last.addr),
        ]
        result = Signal(ResultLayout(self._cfg)["data"].shape, reset_less=True)
        for n in range(self._columns):
            for b in range(4):
                m.d.sync += result[b][n].eq(out[n][8 * b:8 * b + 8])
        m.d.comb += self.result.payload.data.eq(result)

    def _drive_probe(self, m, columns, wr, acc_mem):
        """Drive the ``probe`` port (see :func:`plane_probe`) from the columns' probes."""
        probe = self.probe
        for n, col in enumerate(columns):
            m.d.comb += [probe.a[n].eq(col.a_q), probe.int_sum[n].eq(col.int_sum)]
            for k in range(self._cfg.lanes):
                m.d.comb += [probe.int_prod[k][n].eq(col.prod[k]), probe.shadow[k][n].eq(col.shadow_q[k]),
                             probe.active[k][n].eq(col.active_q[k])]
        m.d.comb += [probe.acc_write.en.eq(wr.en), probe.acc_write.addr.eq(wr.addr),
                     probe.acc_write.data.eq(wr.data)]
        for r in range(self._cfg.mxm_acc_depth):
            peek = acc_mem.read_port(domain="comb")
            m.d.comb += [peek.addr.eq(r), probe.acc_rows[r].eq(peek.data)]

class Mxm(wiring.Component):
    """The matrix unit: ``cfg.mxm_planes`` independent :class:`MxmPlane` s.

    Members
    -------
    planes : array of ``mxm_planes`` plane interfaces (``load``, ``install``,
        ``act``, ``result``; see :class:`MxmPlane`). Verilog ports are named
        ``planes__<i>__act__payload`` etc.

    Latency
    -------
    As :class:`MxmPlane`.
    """

    def __init__(self, cfg):
        self._cfg = require_config(cfg)
        super().__init__({"planes": Out(plane_signature(cfg)).array(cfg.mxm_planes)})

    @property
    def latency(self):
        return timing.mxm_latency(self._cfg)

    def elaborate(self, platform):
        m = Module()
        for i in range(self._cfg.mxm_planes):
            plane = MxmPlane(self._cfg)
            m.submodules[f"plane{i}"] = shared(plane, platform, "mxm_plane")
            wiring.connect(m, wiring.flipped(self.planes[i]), plane)
        return m
