"""Every latency of the chip, in one place.

The RTL builds its pipelines from these numbers, the golden models delay
their outputs by them, and the compiler schedules with them. Changing a
pipeline means changing a constant here; the tests then check that RTL and
golden model still agree cycle for cycle.

Convention: a unit has latency ``L`` when an input sampled on the rising
edge that ends cycle ``t`` produces an output that is visible (and sampled by
the consumer) during cycle ``t + L``.
"""

from amaranth.utils import ceil_log2

__all__ = [
    "FP32_ADD_STAGES", "MXM_INPUT_STAGES", "MXM_MUL_STAGES", "MXM_TREE_LEVELS_PER_STAGE", "MXM_ACC_STAGES",
    "MXM_ACC_REUSE_DISTANCE", "mxm_acc_reuse_distance", "mxm_tree_stages", "mxm_latency",
    "MXM_INSTALL_DELAY", "WAVEFRONT_STEP", "superlane_offset", "wavefront_span", "mxm_chip_latency",
    "sxm_chip_latency", "vred_chip_latency",
]

# --- fp32 adder --------------------------------------------------------------------
#: Register stages of the pipelined fp32 adder (rtl/fp.f32_add_pipe) that the MXM's
#: fp16 tree levels and fp32 accumulator use: a sum is ready this many cycles after
#: its operands, one addition may start every cycle. 3 stages: align (magnitude
#: compare, swap, right shift with sticky bit, special cases) | add (28-bit add or
#: subtract, leading-zero count) | round (normalising shift, round to nearest even,
#: pack). 1 is the single combinational adder (about 52 ns on the ECP5 flow,
#: docs/synthesis.md); 2 registers only between add and round. The golden models
#: take it from here (the MXM's latency and its accumulator reuse distance).
FP32_ADD_STAGES = 3

# --- MXM (matrix unit) -------------------------------------------------------------
# Each constant is a number of cycles added to mxm_latency(cfg). What each stage
# holds, and what limits its clock on the ECP5 flow (docs/synthesis.md):
#   input    register only (activation vector, controls); fan-out to lanes columns.
#   mul      int8 x int8 (a MULT18X18D or LUTs) and fp16 x fp16 -> fp32
#            (rtl/fp.f16_mul_f32: 11x11 product, leading-zero count, shift).
#   tree     int8: one int add per level, one register each. fp16: one pipelined
#            fp32 add (rtl/fp.f32_add_pipe) per level, FP32_ADD_STAGES registers
#            each. The shallower tree (fp16 up to lanes 8, int8 beyond) is padded
#            with delay registers, so both share one latency.
#   acc      FP32_ADD_STAGES cycles: fp16: accumulator row read (registered,
#            write-transparent, addressed a cycle before the tree's sums are
#            complete, so the row arrives with them) + the pipelined fp32 add;
#            int8: the pass's int32 sum waits in delay registers, then the row read
#            (a second read port) + one int32 add in the last stage; both write the
#            row and load the result register in the last stage.
# An fp32 add was one combinational stage (~52 ns, 15.7 MHz for the plane at
# lanes 4); cut into FP32_ADD_STAGES it costs FP32_ADD_STAGES - 1 extra cycles per
# fp16 tree level and in the accumulator, and the plane's clock is now set by the
# align part of the accumulator's add behind the distributed-RAM read of its row
# (22.8 ns, 43.8 MHz at lanes 4; the multiplier stage is shorter). The accumulate
# loop cannot be shortened that way: an fp16 ACC must find the previous sum of its
# row written, hence MXM_ACC_REUSE_DISTANCE.
#: Register stage that captures the activation vector and its controls.
MXM_INPUT_STAGES = 1
#: Register stage after the lanes x lanes multipliers.
MXM_MUL_STAGES = 1
#: int8 adder-tree levels evaluated between two pipeline registers.
MXM_TREE_LEVELS_PER_STAGE = 1
#: Accumulator stages, ending in the result register: the pipelined fp32 add.
MXM_ACC_STAGES = FP32_ADD_STAGES
#: An fp16 ACC (``fp16 = 1, acc = 1``) to accumulator row ``r`` of a plane must
#: issue at least this many cycles after the previous ABC/ACC (either format) to row
#: ``r`` of that plane; closer, it reads the row as it was before that write (the
#: last write at least this far back), and the golden model does exactly the same.
#: An int8 ACC and every ABC may follow in the next cycle (the int8 accumulate is one
#: cycle in the last stage). Static scheduling keeps it: the compiler and the
#: program generators ask :func:`mxm_acc_reuse_distance`.
MXM_ACC_REUSE_DISTANCE = MXM_ACC_STAGES


def mxm_acc_reuse_distance(fp16, acc=True):
    """Minimum cycles from an ABC/ACC to a row to the next activation ``(fp16, acc)``
    to the same row that sees its result (1: the next cycle)."""
    return MXM_ACC_REUSE_DISTANCE if (fp16 and acc) else 1


def mxm_tree_stages(cfg):
    """Pipeline stages of the MXM reduction trees.

    The int8 tree reduces ``lanes`` products, one level per register; the fp16
    tree ``lanes // 4`` (``cfg.fp16_k``), ``FP32_ADD_STAGES`` registers per
    level. The shorter one is padded with delay registers so that both modes
    share one latency and may be interleaved cycle by cycle.
    """
    int_stages = -(-ceil_log2(cfg.lanes) // MXM_TREE_LEVELS_PER_STAGE)
    fp_stages = ceil_log2(cfg.fp16_k) * FP32_ADD_STAGES
    return max(int_stages, fp_stages)


def mxm_latency(cfg):
    """Cycles from an activation vector entering an MXM plane to its result."""
    return MXM_INPUT_STAGES + MXM_MUL_STAGES + mxm_tree_stages(cfg) + MXM_ACC_STAGES


#: Cycles from ``install`` to the first activation that uses the installed
#: weights: 0 means an activation presented in the same cycle as ``install``
#: already multiplies with the new weights. A weight row loaded in the same
#: cycle as ``install`` is included in the installed tile.
MXM_INSTALL_DELAY = 0

# --- VXM (vector unit) -------------------------------------------------------------
#: Cycles per ALU of the VXM chain, the same for every op class (integer,
#: float add/mul/fma, compare, select, conversion, requantize), so a chain of
#: ``vxm_alus`` ALUs has a latency of ``vxm_alus * VXM_ALU_LATENCY``. rtl.vxm
#: builds 1, 2 or 3 (``rtl.vxm.ALU_CUTS``); 3 registers each ALU after its
#: multiplier, after the FMA core's exact sum (every result that needs no
#: rounding is ready there too) and after the rounding and result select.
#: One ALU placed alone on the ECP5 flow (docs/synthesis.md): 1 stage 8.4 MHz,
#: 2 stages 13.8 MHz, 3 stages 19.3 MHz. The compiler places softmax, layer
#: norm and GELU for each of them but 2, where a 4-ALU chain is exactly as long
#: as VFUNC and GELU's two branches collide (compiler.rowops.placed_tree).
VXM_ALU_LATENCY = 3


def vop_latency(length):
    """Cycles from a VOP's operands to its result: ``length`` ALUs of the chain, one column
    each (``isa.vop_columns``), ``VXM_ALU_LATENCY`` cycles per column."""
    return length * VXM_ALU_LATENCY


def vop_chain_points(column, t, length):
    """The ``(column, cycle)`` points a VOP executed in cycle ``t`` by ``column``'s queue
    occupies with a chain of ``length`` ALUs: it enters column ``column + i`` in cycle
    ``t + i * VXM_ALU_LATENCY``. A VOP whose own point an earlier chain occupies is VXM_FAULT."""
    return [(column + i, t + i * VXM_ALU_LATENCY) for i in range(length)]

#: Cycles per level of the VXM cross-lane reduction tree (int32 sum/max, fp32 sum).
VXM_REDUCE_LEVEL_LATENCY = 1


def vxm_reduce_latency(cfg):
    """Cycles from a VRED input vector to its reduced scalar: one registered tree
    level per ``VXM_REDUCE_LEVEL_LATENCY`` cycles, ``ceil(log2(lanes))`` levels (at least one)."""
    return max(1, (cfg.lanes - 1).bit_length()) * VXM_REDUCE_LEVEL_LATENCY

#: Cycles of the fp32 transcendental unit (rtl/vxm_func.py: exp, reciprocal,
#: rsqrt, tanh), the same for every function. Stages, each ending in a register:
#: 1 unpack + special cases, 2 exp's significand x log2(e) multiply,
#: 3 range reduction + coefficient ROM read, 4 ROM output register, 5 c2*u
#: multiply, 6 (c1 + .)*u multiply, 7 c0 add + leading-one normalise,
#: 8 round to fp32 + pack.
VXM_FUNC_LATENCY = 8

# --- MEM (SRAM slices, ECC, host port) ---------------------------------------------
#: Cycles from a slice read (or gather) command to its data (and poison bit) on
#: the output stream: one for the synchronous SRAM read, one for the ECC
#: decode register.
MEM_READ_LATENCY = 2
#: Cycles from a write (or scatter) command to the first read command that
#: sees the new data. A read in the same cycle as a write to the same address
#: returns the old data (read-before-write).
MEM_WRITE_LATENCY = 1
#: Cycles from a scrub read command to the rewrite of its corrected word.
MEM_SCRUB_DELAY = 1
#: Cycles from a strided-sequence command to its first address.
MEM_ADDRGEN_LATENCY = 1

# --- SXM (switch unit) -------------------------------------------------------------
#: Cycles from an SXM lane op (shift, rotate, permute, distribute, select) to its output.
SXM_LATENCY = 1


def sxm_transpose_latency(cfg):
    """Cycles from the first row of a transposed tile to its first column.

    The ``lanes`` rows enter on consecutive cycles; the tile is read one
    cycle after the last row is written, through the output register.
    """
    return cfg.lanes + SXM_LATENCY

# --- superlanes: the wavefront ------------------------------------------------------
# An instruction reaches superlane 0 of its slice in its execute cycle and moves
# up one superlane per WAVEFRONT_STEP cycles; the data of superlane s (stream
# registers, SRAM tiles, VXM lanes) flows superlane_offset(s) cycles behind
# superlane 0's. Every latency above is per superlane: a lane-wise unit (MEM,
# VXM ALU chain and function unit) finishes an instruction for superlane s
# ICU_DISPATCH_LATENCY + d_func + superlane_offset(s) cycles after issue, and its
# result reaches a slice k hops away superlane_offset(s) cycles after superlane 0's.
# A unit that combines lanes across superlanes (the MXM planes, the SXM, the VXM
# reduction) waits for the last superlane: it deskews its operands (superlane s
# delayed by wavefront_span - superlane_offset(s)), executes
# wavefront_span(cfg) cycles after superlane 0 would, and skews its results back
# (superlane s delayed by superlane_offset(s)). In superlane 0's time, the frame in
# which the compiler schedules and the golden model runs, such a unit's latency
# is its own plus wavefront_span(cfg) (*_chip_latency below), a lane-wise unit's
# is its own, and a run ends wavefront_span(cfg) cycles after its last queue
# stops: when the stop has reached the last superlane.
#: Cycles an instruction (and the data it moves) takes from one superlane to the next.
WAVEFRONT_STEP = 1


def superlane_offset(s):
    """Cycles superlane ``s`` runs behind superlane 0."""
    return s * WAVEFRONT_STEP


def wavefront_span(cfg):
    """Cycles from superlane 0 to the last superlane: the extra latency of a
    cross-superlane unit, and the tail of a run."""
    return superlane_offset(cfg.superlanes - 1)


def mxm_chip_latency(cfg):
    """Cycles from an ABC/ACC's execute cycle to its result on the fabric, in superlane 0's time."""
    return mxm_latency(cfg) + wavefront_span(cfg)


def sxm_chip_latency(cfg):
    """``SXM_LATENCY`` in superlane 0's time: a lane op's output, and a transposed
    column's, leave the SXM this much later than on one superlane."""
    return SXM_LATENCY + wavefront_span(cfg)


def vred_chip_latency(cfg):
    """Cycles from a VRED's execute cycle to its broadcast result, in superlane 0's time."""
    return vxm_reduce_latency(cfg) + wavefront_span(cfg)


# --- ICU and stream fabric ---------------------------------------------------------
#: Cycles from a queue issuing an instruction to its unit executing it: the
#: issued word is registered, then decoded beside the unit. The unit reads its
#: stream operands in the execute cycle.
ICU_DISPATCH_LATENCY = 1
#: Cycles a stream value takes to move one slice position.
STREAM_HOP_LATENCY = 1
#: Cycles the chip stays busy after it stops (done or error) so that the
#: instructions already issued finish (a MEM read and a scrub rewrite); the
#: host port gets the SRAM back after them.
ICU_DRAIN_CYCLES = 4


def floorplan(cfg):
    """Slice positions, west to east: ``{name: position}``.

    Even MXM planes stand at the west end, then the SXM, the first half of the
    MEM slices, the VXM, the second half of the MEM slices, and the odd MXM
    planes at the east end (the reference chip's MXM | SXM | MEM | VXM | MEM |
    SXM | MXM, with one SXM).
    """
    west = [f"mxm{i}" for i in range(0, cfg.mxm_planes, 2)]
    east = [f"mxm{i}" for i in range(1, cfg.mxm_planes, 2)]
    half = cfg.mem_slices // 2
    order = (west + ["sxm"] + [f"mem{i}" for i in range(half)] + ["vxm"]
             + [f"mem{i}" for i in range(half, cfg.mem_slices)] + east)
    return {name: pos for pos, name in enumerate(order)}


def stream_delay(src_pos, dst_pos, direction):
    """Cycles from a unit writing a stream at ``src_pos`` to a unit at
    ``dst_pos`` reading it; ``None`` when the stream flows away from ``dst_pos``.

    A value a unit outputs in cycle ``t`` is in the stream register at its own
    position in cycle ``t + 1`` and moves one position per cycle east
    (``direction`` 0) or west (1).
    """
    hops = dst_pos - src_pos if direction == 0 else src_pos - dst_pos
    if hops < 0:
        return None
    return 1 + hops * STREAM_HOP_LATENCY
