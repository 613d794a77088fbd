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
Rows are loaded one per cycle into a *shadow* tile while the *active* tile
computes, then ``install`` copies shadow to active in one cycle (a row loaded
in that same cycle is included). An activation presented in the same cycle as
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
from ..config import LpuConfig
from . import fp
from .streams import Flow, StreamGroup
from ..golden.mxm import tree_pairs  # the reduction order is part of the specification

__all__ = ["WeightRowLayout", "ActivationLayout", "ResultLayout", "plane_signature", "MxmPlane", "Mxm", "mul_s8_lut"]


def WeightRowLayout(cfg):
    """Payload of a weight-row load: ``row`` index and ``lanes`` 16-bit weights (2 streams)."""
    return data.StructLayout({
        "row": unsigned(ceil_log2(cfg.lanes)),
        "data": StreamGroup(cfg.lanes, 2),
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
        "load": In(Flow(WeightRowLayout(cfg))),
        "install": In(1),
        "act": In(Flow(ActivationLayout(cfg))),
        "result": Out(Flow(ResultLayout(cfg))),
    })


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
        shift-and-add logic (:func:`mul_s8_lut`), which stays in LUTs. ``None``
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

    Members
    -------
    load : ``In(Flow(WeightRowLayout(cfg)))``
        When ``valid``, writes weight row ``payload.row`` of the shadow tile.
        Row ``k`` holds ``W[k][0..lanes-1]``; each weight is 16 bits
        (byte planes 0 and 1; int8 uses plane 0).
    install : ``In(1)``
        Copies the shadow tile (including a row loaded this cycle) to the
        active tile.
    act : ``In(Flow(ActivationLayout(cfg)))``
        One activation vector per cycle when ``valid``.
    result : ``Out(Flow(ResultLayout(cfg)))``
        ``valid`` exactly :func:`~openlpu.timing.mxm_latency` cycles after the
        matching ``act.valid``; ``payload.data`` holds the updated accumulator
        row as 4 byte-plane streams.

    Latency
    -------
    ``timing.mxm_latency(cfg)`` = input register + multiplier register +
    ``timing.mxm_tree_stages(cfg)`` adder-tree registers +
    ``timing.MXM_ACC_STAGES`` accumulator stages (the last one loads the
    result register).
    """

    def __init__(self, cfg, fp16=True, dsp_products=None, columns=None):
        if not isinstance(cfg, LpuConfig):
            raise TypeError(f"cfg must be an LpuConfig, not {cfg!r}")
        if not isinstance(fp16, bool):
            raise TypeError(f"fp16 must be a bool, not {fp16!r}")
        if dsp_products is not None and (not isinstance(dsp_products, int) or isinstance(dsp_products, bool)
                                         or not 0 <= dsp_products <= cfg.lanes ** 2):
            raise ValueError(f"dsp_products must be None or an int in 0..{cfg.lanes ** 2} "
                             f"(lanes**2 products), not {dsp_products!r}")
        if columns is not None and (not isinstance(columns, int) or isinstance(columns, bool)
                                    or not 1 <= columns <= cfg.lanes):
            raise ValueError(f"columns must be None or an int in 1..{cfg.lanes}, not {columns!r}")
        self._cfg = cfg
        self._fp16 = fp16
        self._columns = cfg.lanes if columns is None else columns
        self._dsp_products = cfg.lanes ** 2 if dsp_products is None else dsp_products
        super().__init__(plane_signature(cfg))

    @property
    def cfg(self):
        return self._cfg

    @property
    def latency(self):
        """Cycles from ``act.valid`` to ``result.valid``."""
        return timing.mxm_latency(self._cfg)

    def elaborate(self, platform):
        cfg = self._cfg
        lanes, kf, cols = cfg.lanes, cfg.fp16_k, self._columns
        m = Module()

        tile = data.ArrayLayout(data.ArrayLayout(unsigned(16), lanes), lanes)  # [k][n]
        shadow = Signal(tile, reset_less=True)
        active = Signal(tile, reset_less=True)

        # --- weight rows -> shadow; install -> active --------------------------------
        row_word = Signal(data.ArrayLayout(unsigned(16), lanes))
        for n in range(lanes):
            m.d.comb += row_word[n].eq(Cat(self.load.payload.data[0][n], self.load.payload.data[1][n]))
        shadow_next = Signal(tile)
        for k in range(lanes):
            hit = self.load.valid & (self.load.payload.row == k)
            m.d.comb += shadow_next[k].eq(Mux(hit, row_word, shadow[k]))
        m.d.sync += shadow.eq(shadow_next)
        with m.If(self.install):
            m.d.sync += active.eq(shadow_next)

        # --- control pipeline: valid, fp16, acc, addr travel with the data ----------
        ctrl_layout = data.StructLayout({
            "valid": 1, "fp16": 1, "acc": 1, "addr": ActivationLayout(cfg)["addr"].shape,
        })
        # ctrl[s] is the control of the activation whose data is in stage s: the tree sums
        # are in stage p_sum; the accumulator stages follow it, the last one (ctrl[-1])
        # writes the row and loads the result register.
        n_stages = timing.MXM_INPUT_STAGES + timing.MXM_MUL_STAGES + timing.mxm_tree_stages(cfg)
        acc_stages = timing.MXM_ACC_STAGES
        p_sum = n_stages - 1
        ctrl = [Signal(ctrl_layout, name=f"ctrl{s}") for s in range(n_stages + acc_stages - 1)]
        m.d.sync += [
            ctrl[0].valid.eq(self.act.valid),
            ctrl[0].fp16.eq(self.act.payload.fp16),
            ctrl[0].acc.eq(self.act.payload.acc),
            ctrl[0].addr.eq(self.act.payload.addr),
        ]
        for s in range(1, len(ctrl)):
            m.d.sync += ctrl[s].eq(ctrl[s - 1])

        # --- stage 1: activation registers, one copy per output column ---------------
        # Each copy a_<n> feeds only column n's multipliers, so every register drives one
        # multiplier input, which the FPGA placer can put beside its DSP block; one shared
        # register would drive ``lanes`` DSP blocks spread over the device (at lanes 16 that
        # wire, not the multiplier, set the clock). The fan-out moves to the input port,
        # whose source is a register too. ``keep``: the copies hold the same value, and
        # synthesis would otherwise merge them back into one (openlpu.synth keeps the
        # flip-flops of every register so marked).
        a = [Signal(data.ArrayLayout(unsigned(16), lanes), name=f"a_{n}", reset_less=True,
                    attrs={"keep": 1}) for n in range(cols)]
        word = Signal(data.ArrayLayout(unsigned(16), lanes))
        for k in range(lanes):
            m.d.comb += word[k].eq(Cat(self.act.payload.data[0][k], self.act.payload.data[1][k]))
        for n in range(cols):
            m.d.sync += a[n].eq(word)

        # --- stage 2: products ------------------------------------------------------
        if not self._fp16:
            kf = 0
        int_prod = [[Signal(signed(16), name=f"ip_{k}_{n}", reset_less=True) for n in range(cols)]
                    for k in range(lanes)]
        fp_prod = [[Signal(32, name=f"fp_{k}_{n}", reset_less=True) for n in range(cols)]
                   for k in range(kf)]
        # Rows k < fp16_k compute an int8 product or an fp16 one, never both in one
        # cycle: one signed 12 x 12 multiplier (one DSP block) serves both, its operands
        # the int8 values or the 11-bit significands as the activation's fp16 bit says.
        is_fp16 = ctrl[0].fp16                 # the activation now in register ``a``
        for k in range(lanes):
            for n in range(cols):
                x, w = a[n][k][:8].as_signed(), active[k][n][:8].as_signed()
                if k < kf:
                    both = Signal(signed(24), name=f"mul_{k}_{n}")

                    def shared(sig_x, sig_w, x=x, w=w, both=both):
                        m.d.comb += both.eq(Mux(is_fp16, sig_x, x) * Mux(is_fp16, sig_w, w))
                        return both.as_unsigned()[:22]
                    m.d.sync += fp_prod[k][n].eq(fp.f16_mul_f32(m, a[n][k], active[k][n], mul=shared))
                    m.d.sync += int_prod[k][n].eq(both[:16].as_signed())
                    continue
                on_dsp = k * lanes + n < self._dsp_products
                m.d.sync += int_prod[k][n].eq(x * w if on_dsp else mul_s8_lut(x, w))

        # --- adder trees: int one register per level, fp32 FP32_ADD_STAGES per level --
        int_sum, fp_sum = [], []
        for n in range(cols):
            int_sum.append(self._int_tree(m, [int_prod[k][n] for k in range(lanes)], n))
            fp_sum.append(self._fp_tree(m, [fp_prod[k][n] for k in range(kf)], n) if kf else None)

        # --- accumulator memory ---------------------------------------------------------
        # One write, in the last stage. Two read ports, both registered and transparent
        # to the write: the fp16 port is addressed a cycle before the tree sums arrive,
        # so that the fp32 accumulate (FP32_ADD_STAGES cycles) starts with them; the
        # int8 port a cycle before the last stage, where the int32 add is done in one
        # cycle. An fp16 ACC therefore sees the rows written up to acc_stages - 1 cycles
        # before it reached the adder, and reads a stale row when the previous write to
        # that row is closer: the scheduling rule timing.MXM_ACC_REUSE_DISTANCE.
        acc_mem = memory.Memory(shape=data.ArrayLayout(unsigned(32), cols),
                                depth=cfg.mxm_acc_depth, init=[])
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
        for d in range(1, acc_stages):
            nxt = Signal.like(partial, name=f"partial{d}", reset_less=True)
            m.d.sync += nxt.eq(partial)
            partial = nxt

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

        # --- result register --------------------------------------------------------
        m.d.sync += [
            self.result.valid.eq(last.valid),
            self.result.payload.addr.eq(last.addr),
        ]
        result = Signal(ResultLayout(cfg)["data"].shape, reset_less=True)
        for n in range(cols):
            for b in range(4):
                m.d.sync += result[b][n].eq(out[n][8 * b:8 * b + 8])
        m.d.comb += self.result.payload.data.eq(result)
        return m

    def _int_tree(self, m, values, n):
        """Pairwise int tree, registered after every level, then delayed to
        ``timing.mxm_tree_stages``; returns the sign-extended int32 sum."""
        levels = tree_pairs(len(values))
        for depth, level in enumerate(levels):
            width = len(values[0]) + 1
            nxt = []
            for j, pair in enumerate(level):
                s = Signal(signed(width), name=f"it_{n}_{depth}_{j}", reset_less=True)
                expr = values[pair[0]] if len(pair) == 1 else values[pair[0]] + values[pair[1]]
                m.d.sync += s.eq(expr)
                nxt.append(s)
            values = nxt
        value = values[0]
        for pad in range(timing.mxm_tree_stages(self._cfg) - len(levels)):
            s = Signal(signed(len(value)), name=f"ipad_{n}_{pad}", reset_less=True)
            m.d.sync += s.eq(value)
            value = s
        total = Signal(signed(32), name=f"isum_{n}")
        m.d.comb += total.eq(value)
        return total

    def _fp_tree(self, m, values, n):
        """Pairwise fp32 tree, ``FP32_ADD_STAGES`` registers per level (the pipelined
        adder's and the level's own), padded to ``timing.mxm_tree_stages``."""
        stages = timing.FP32_ADD_STAGES
        levels = tree_pairs(len(values))
        for depth, level in enumerate(levels):
            nxt = []
            for j, pair in enumerate(level):
                name = f"ft_{n}_{depth}_{j}"
                if len(pair) == 2:
                    expr = fp.f32_add_pipe(m, values[pair[0]], values[pair[1]], stages, name=f"{name}_add")
                else:                          # an odd value passes the level's stages in a delay line
                    expr = values[pair[0]]
                    for d in range(stages - 1):
                        s = Signal(32, name=f"{name}_d{d}", reset_less=True)
                        m.d.sync += s.eq(expr)
                        expr = s
                s = Signal(32, name=name, reset_less=True)
                m.d.sync += s.eq(expr)
                nxt.append(s)
            values = nxt
        value = values[0]
        for pad in range(timing.mxm_tree_stages(self._cfg) - len(levels) * stages):
            s = Signal(32, name=f"fpad_{n}_{pad}", reset_less=True)
            m.d.sync += s.eq(value)
            value = s
        return value


def mul_s8_lut(x, w):
    """``x * w`` of two signed 8-bit values as a sum of shifted partial products.

    The same value as ``x * w`` (a signed 16-bit product), written so that
    synthesis does not see a multiplication and keeps it in LUTs and carry
    chains instead of a DSP block: bit ``i`` of ``x`` selects ``w << i``, and
    the sign bit's term is subtracted (two's complement weight ``-2**7``).
    The eight terms are summed by a balanced tree (depth 3).
    """
    terms = [Mux(x[i], w << i, 0) for i in range(7)]
    terms.append(-Mux(x[7], w << 7, 0))
    while len(terms) > 1:
        terms = [terms[j] + terms[j + 1] if j + 1 < len(terms) else terms[j]
                 for j in range(0, len(terms), 2)]
    return terms[0].as_signed()[:16].as_signed()


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
        if not isinstance(cfg, LpuConfig):
            raise TypeError(f"cfg must be an LpuConfig, not {cfg!r}")
        self._cfg = cfg
        super().__init__({"planes": Out(plane_signature(cfg)).array(cfg.mxm_planes)})

    @property
    def latency(self):
        return timing.mxm_latency(self._cfg)

    def elaborate(self, platform):
        m = Module()
        for i in range(self._cfg.mxm_planes):
            plane = MxmPlane(self._cfg)
            m.submodules[f"plane{i}"] = plane
            wiring.connect(m, wiring.flipped(self.planes[i]), plane)
        return m
