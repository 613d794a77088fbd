"""Lowering each step onto the chip: its SRAM (:mod:`.alloc`), its tiles (:mod:`.tiling`) and
its instructions, placed on the MXM, VXM and SXM (:mod:`.place_mxm`, :mod:`.place_vxm`,
:mod:`.place_sxm`).

* int8 dense layers (:meth:`Lowering.dense`): for each chunk of rows, output tile ``nt``
  (plane ``nt % planes``) and input tile ``kt``, the weight tile is loaded into the plane's
  shadow weights while the previous one computes and installed (IW, :meth:`Lowering.install`),
  and every row streams through (ABC for ``kt = 0``, ACC after). After the last tile each
  row's int32 result goes through two VOPs on the VXM (requantization, or the per-channel
  ``rescale``) and is written to every copy of the output.
* fp16 dense layers (:meth:`Lowering.dense16`): the same with ``fp16_k`` inputs a pass, one
  VOP (to fp16 [, ReLU]); an fp16 ACC waits ``timing.mxm_acc_reuse_distance(True)`` after the
  previous pass to its accumulator row. A result another fp16 layer reads is written in the
  K-tile layout, its lanes moved on the SXM (:meth:`Lowering.relayout`, docs/compiler.md).
* transposes on the SXM, softmax / layer norm / GELU as trees of VXM instructions.
"""

from openlpu import isa, timing
from openlpu.asm import vxm_slot_words

from .alloc import Sram, SramFull
from .emit import segment
from .place_mxm import place_pass16, place_row, place_tile
from .place_sxm import place_shift, place_transpose
from .place_vxm import place_rowop
from .rowops import chain_length, placed_tree, rescale_slots
from .scheduler import Scheduler
from .tiling import input_tiles, out_tiles, tile_order

__all__ = ["Lowering"]


class Lowering:
    """The state of a compilation: the program's SRAM (:class:`.alloc.Sram`, kept across
    segments) and the current segment's scheduler and timing books. ``chunked``: the fp16
    tensors an fp16 matmul reads (stored ``fp16_k`` values a vector)."""

    def __init__(self, graph, cfg, rows, chunked=()):
        self.cfg, self.rows = cfg, rows
        self.sram = Sram(cfg)
        (name, shape), = graph.inputs.items()
        self.fp16 = graph.dtype(name) == "fp16"
        self.chunked = set(chunked)
        try:
            self.sram.place_input(name, rows, shape[1], self.fp16)
        except SramFull as full:
            raise SramFull(f"input {name!r} ({rows} x {shape[1]}): {full}") from full
        self.macs = 0
        self.layer_shapes = []               # every dense layer's N, once per placement
        self.new_segment()

    def new_segment(self):
        planes = self.cfg.mxm_planes
        self.sch = Scheduler(self.cfg)
        self.ready = {}                      # (slice, addr) -> first cycle a read sees its data
        self.slot_free = [0] * isa.VXM_SLOTS  # first cycle a slot may be reconfigured
        self.prev_iw = [-1] * planes          # each plane's last install ...
        self.last_abc = [-1] * planes         # ... and last activation
        self.acc_last = {}                    # (plane, accumulator row) -> its last ABC/ACC

    def fits(self):
        """Every queue's program within ``imem_depth`` (instructions + NOP gaps + END bound it)."""
        bound = max(2 * len(p) + 1 for p in self.sch.placed.values())
        if bound <= self.cfg.imem_depth:
            return True
        program, _ = self.sch.program()
        return all(len(ins) <= self.cfg.imem_depth for ins in program.values())

    def segment(self):
        """The current segment's program (:func:`.emit.segment`)."""
        return segment(self.sch)

    def step(self, li, step, rows_range=None):
        """Place step ``li`` (its rows ``rows_range`` only, when given: the others are placed by
        further calls, in later segments)."""
        lower = {"dense": self.dense, "dense16": self.dense16, "transpose": self.transpose,
                 "rowop": self.rowop}[step.kind]
        lower(li, step, rows_range)

    # --- shared by the steps ---------------------------------------------------------------
    def configure(self, cfg_words, t):
        """CONFIG every ``(slot, [(word, value)])`` of ``cfg_words`` on the VXM queue from cycle
        ``t`` on, in free cycles; the last CONFIG's cycle."""
        wq, last_cfg = isa.vxm_control_words(self.cfg), -1
        for slot, pairs in cfg_words:
            for w_i, value in pairs:
                while not self.sch.free("vxm", t):
                    t += 1
                self.sch.place("vxm", t, isa.make("CONFIG", slot * wq + w_i, value))
                last_cfg, t = t, t + 1
        return last_cfg

    def install(self, p, rows):
        """Load the weight ``rows`` (each ``[(slice, addr)]`` of its byte planes,
        :func:`.place_mxm.place_tile`) into plane ``p`` once its previous tile is installed, and
        install them after its last activation; the IW's cycle."""
        t_lw0, lws = place_tile(self.sch, self.cfg, p, rows, self.prev_iw[p] + 1, self.ready)
        t_iw = max(t_lw0 + lws, self.last_abc[p] + 1)
        while not self.sch.free(f"mxw{p}", t_iw):
            t_iw += 1
        self.sch.place(f"mxw{p}", t_iw, isa.make("IW"))
        self.prev_iw[p] = t_iw
        return t_iw

    # --- transposes and row ops ------------------------------------------------------------
    def transpose(self, li, step, rows_range=None):
        """``step.out = step.x.T`` on the SXM, into every copy of the output."""
        sram = self.sram
        xp = sram.places[step.x][0]
        outs = sram.activations(li, step.out, xp.cols, xp.rows)
        place_transpose(self.sch, self.cfg, xp, outs, self.ready, sram.zero_vector(xp.slice))

    def rowop(self, li, step, rows_range=None):
        """Softmax, layer norm or GELU: the recipe's VXM slots configured, then the tree placed
        for every vector of every row in ``rows_range`` (default: all)."""
        cfg, L, recipe = self.cfg, self.cfg.lanes, step.recipe
        xps = self.sram.places[step.x]
        if recipe.whole_row and xps[0].cols != L:
            raise NotImplementedError(f"step {li} ({recipe.name}): reduces across a row, so the row must "
                                      f"be one vector ({L} columns), not {xps[0].cols}")
        outs = self.sram.activations(li, step.out, xps[0].rows, xps[0].cols)
        root, offs = placed_tree(recipe, cfg, copies=len(xps))
        used = range(len(recipe.slots))
        last_cfg = self.configure([(k, vxm_slot_words(cfg, etype, alus))
                                   for k, (etype, alus) in enumerate(recipe.slots)],
                                  max(self.slot_free[s] for s in used))
        t_min = last_cfg + 1 - min(offs.values())
        last = 0
        for r in rows_range or range(xps[0].rows):
            for ct in range(xps[0].ct):
                t_root = place_rowop(self.sch, cfg, root, offs, xps, outs, r, ct, t_min, self.ready)
                last = max(last, t_root)
        for s in used:
            self.slot_free[s] = last + 1

    # --- int8 dense layers -----------------------------------------------------------------
    def dense(self, li, step, rows_range=None):
        """An int8 dense layer (the module docstring) over the rows ``rows_range`` (default: all)."""
        cfg, L, sram = self.cfg, self.cfg.lanes, self.sram
        part_places = [sram.places[x] for x in step.parts]
        dynamic = isinstance(step.w, str)
        K, N = (sram.places[step.w][0].rows, sram.places[step.w][0].cols) if dynamic else step.w.shape
        self.layer_shapes.append(N)
        k_in = sum(pp[0].cols for pp in part_places)
        if k_in != K:
            raise ValueError(f"layer {li}: input has {k_in} features, W has {K} rows")
        ktiles = input_tiles(part_places, L)
        KT, NT = len(ktiles), out_tiles(N, L)
        KT_all = KT + (step.bias is not None)
        ones = {xp.slice: sram.ones_at(xp.slice) for xp in part_places[0]} if step.bias is not None else {}
        tile_rows = self._weight_rows(li, step, ktiles, NT, K)
        outs = sram.activations(li, step.out, self.rows, N)
        rows_range = rows_range or range(self.rows)
        self.macs += len(rows_range) * K * N
        slots, vop_ready, factors = self._requant_slots(li, step, NT)
        last_vop = 0
        for chunk, nt, p, kt in tile_order(cfg, rows_range, NT, KT_all):
            part, xct = (ktiles[kt][0], ktiles[kt][1]) if kt < KT else (0, 0)
            xp = part_places[part][p % len(part_places[part])]
            t_a = self.install(p, tile_rows(kt, nt))
            for r in chunk:
                t_a, v2 = place_row(self.sch, cfg, p, xp, outs, r, r - chunk.start, kt, nt, KT_all, t_a,
                                    self.ready, slots, vop_ready, ones.get(xp.slice) if kt == KT else None,
                                    xct, factors and factors[nt])
                self.last_abc[p] = t_a
                last_vop = max(last_vop, v2)
                t_a += 1
        self.slot_free[slots[0][0]] = self.slot_free[slots[1][0]] = last_vop + 1

    def _weight_rows(self, li, step, ktiles, NT, K):
        """``tile_rows(kt, nt) -> [[(slice, addr)] of each of the tile's lanes rows]``: a constant
        ``W``'s tiles (placed in SRAM here, rows striped over slices,
        :meth:`.alloc.Sram.int8_weights`), or the rows of a computed ``W`` where it was written,
        row ``i`` from copy ``i % copies`` so that rows of one LW come from different slices
        (rows past ``K`` read a zero vector of their copy's slice)."""
        L, sram = self.cfg.lanes, self.sram
        if isinstance(step.w, str):
            copies = sram.places[step.w]
            zero = {c.slice: sram.zero_vector(c.slice) for c in copies}

            def computed(kt, nt):
                rows = []
                for i in range(L):
                    c = copies[i % len(copies)]
                    rows.append([(c.slice, c.addr(kt * L + i, nt) if kt * L + i < K else zero[c.slice])])
                return rows
            return computed
        stripes = sram.int8_weights(li, step.w, step.bias, ktiles, NT)
        return lambda kt, nt: [stripes.row(kt * NT + nt, i) for i in range(L)]

    def _requant_slots(self, li, step, NT):
        """Configure the two VXM slots of step ``li``'s requantization (or per-channel rescale,
        whose factors it places in SRAM): ``(((slot a, its chain length), (slot b, its chain
        length)), first VOP cycle, factors or None)``."""
        cfg = self.cfg
        sa, sb = (2 * li) % isa.VXM_SLOTS, (2 * li + 1) % isa.VXM_SLOTS
        if step.rescale is None:
            lo, shift = (0 if step.relu else -128), step.shift
            chains = [("int32", [("mul", 1, step.multiplier), ("add", 1, 1 << (shift - 1)), ("sar", 1, shift),
                                 ("max", 1, lo)]),
                      ("int32", [("min", 1, 127)])]
            factors = None
        else:
            scale, channel_scales, relu = step.rescale
            chains = rescale_slots(scale, relu)
            factors = self.sram.channel_factors(li, channel_scales, NT)
        cfg_words = [(sl, vxm_slot_words(cfg, e, alus)) for sl, (e, alus) in zip((sa, sb), chains)]
        vop_ready = self.configure(cfg_words, max(self.slot_free[sa], self.slot_free[sb])) + 1
        return tuple((sl, chain_length(alus)) for sl, (_, alus) in zip((sa, sb), chains)), vop_ready, factors

    # --- fp16 dense layers -----------------------------------------------------------------
    def dense16(self, li, step, rows_range=None):
        """An fp16 dense layer (see the module docstring): per output tile and K-tile of
        ``fp16_k`` inputs, a weight tile of ``fp16_k`` fp16 rows, then one pass per row
        (ABC, then ACC no sooner than ``mxm_acc_reuse_distance(True)`` after the row's previous
        pass), then one VOP (``cvt`` to fp16 [, ``relu``]) per output vector."""
        cfg, L, K, sram = self.cfg, self.cfg.lanes, self.cfg.fp16_k, self.sram
        rows_range = rows_range or range(self.rows)
        xp = sram.places[step.x][0]
        kin, N = step.w.shape
        if xp.cols != kin:
            raise ValueError(f"layer {li}: input has {xp.cols} features, W has {kin} rows")
        KT, NT = xp.ct, out_tiles(N, L)                 # K-tiles, output tiles
        KT_all = KT + (step.bias is not None)
        self.layer_shapes.append(N)
        in_side = sram.side_of(xp.slice)
        wp = sram.fp16_weights(li, step.w, step.bias, KT, NT, in_side)
        ones = sram.ones16_at(xp) if step.bias is not None else None
        o, stage = sram.activations16(step.out, 1 - in_side, self.rows, N, step.out in self.chunked)
        self.macs += len(rows_range) * kin * N
        sa = (2 * li) % isa.VXM_SLOTS
        alus = [("cvt", 1, 3)] + ([("relu", 1, 0)] if step.relu else [])     # 3: the fp16 type code
        vop_ready = self.configure([(sa, vxm_slot_words(cfg, "fp32", alus))], self.slot_free[sa]) + 1
        last_vop = 0
        for chunk, nt, p, kt in tile_order(cfg, rows_range, NT, KT_all):
            t_a = self.install(p, [wp.row(kt * NT + nt, i) for i in range(K)])
            for r in chunk:
                row = (p, r - chunk.start)
                if kt:
                    t_a = max(t_a, self.acc_last[row] + timing.mxm_acc_reuse_distance(True))
                writes = _pass_writes(o, stage, r, nt, L // K) if kt == KT_all - 1 else []
                x_addr = xp.addr(r, kt) if kt < KT else ones
                t_a, v = place_pass16(self.sch, cfg, p, xp.slices, x_addr, row[1], kt, t_a, self.ready,
                                      (sa, chain_length(alus)), vop_ready, writes)
                self.acc_last[row] = self.last_abc[p] = t_a
                last_vop = max(last_vop, v)
                t_a += 1
                if stage is not None and writes:
                    self.relayout(o, stage, r, nt)
        self.slot_free[sa] = last_vop + 1

    def relayout(self, o, stage, r, nt):
        """The K-tiles of output vector ``nt`` of row ``r`` not written straight from the VXM,
        each moved from the full-width copy ``stage`` to lanes ``0 .. fp16_k - 1`` of its
        vector of ``o`` on the SXM, one byte plane per SHDN."""
        K = self.cfg.fp16_k
        per = self.cfg.lanes // K                       # K-tiles per output vector
        for j in range(1 if _direct0(o, stage) else 0, per):
            if per * nt + j < o.ct:
                for src_sl, dst_sl in zip(stage.slices, o.slices):
                    place_shift(self.sch, self.cfg, (src_sl, stage.addr(r, nt)), j * K,
                                (dst_sl, o.addr(r, per * nt + j)), self.ready)


def _direct0(o, stage):
    """Whether K-tile 0 of an output vector is written straight from the VXM: the staging copy
    (if any) shares no slice with the result."""
    return stage is None or not set(stage.slices) & set(o.slices)


def _pass_writes(o, stage, r, nt, per):
    """A layer's last pass's WRITEs of output vector ``nt`` of row ``r``: ``[(slice, addr, byte
    plane)]``, full width into ``o`` (no staging copy), else into the copy ``stage`` and, where
    it can, K-tile 0 into ``o`` (``per`` K-tiles to a vector)."""
    if stage is None:
        return [(sl, o.addr(r, nt), k) for k, sl in enumerate(o.slices)]
    writes = [(sl, stage.addr(r, nt), k) for k, sl in enumerate(stage.slices)]
    if _direct0(o, stage):
        writes += [(sl, o.addr(r, per * nt), k) for k, sl in enumerate(o.slices)]
    return writes
