"""Softmax, layer norm and GELU as fixed recipes of VXM instructions.

An int8 tensor's row (or, for GELU, each ``lanes``-wide vector) is turned
into an int8 result by a small tree of VXM instructions: ``VOP`` chains in
fp32, cross-lane reductions (``VRED``) and transcendentals (``VFUNC``). The
tree *is* the definition of the op: :func:`evaluate` runs it with the
golden VXM models (:mod:`openlpu.golden.vxm`, :mod:`~openlpu.golden.vxm_reduce`,
:mod:`~openlpu.golden.vxm_func`) and is what :meth:`Graph.reference
<openlpu.compiler.graph.Graph.reference>` computes; the compiler places the
same tree on the chip (:mod:`openlpu.compiler.place_vxm`). How close each recipe
is to the real function is measured against float numpy in the tests.

Recipes (``x`` the int8 input, ``s`` its scale, ``t`` the output scale;
every step rounds to fp32 like the chip):

``softmax``     ``z = f32(x) * s``; ``e = exp(z)``; ``r = 1 / (sum(e) / 127)``;
                ``int8(e * r)``: probabilities in units of 1/127. No max is
                subtracted: ``|z| <= 128 s`` must stay below
                :data:`SOFTMAX_MAX_LOGIT` so that ``exp`` cannot overflow
                (checked when the op is built).
``layer_norm``  ``m = sum(f32(x) * (s / d))``; ``c = f32(x) * s - m``;
                ``v = sum(c*c * (1/d) + eps/d)``; ``int8(c * rsqrt(v) / t)``.
                No affine part: a trained ``gamma``/``beta`` folds into the
                next layer's weights and bias.
``gelu``        ``x1 = f32(x) * s``; ``u = x1 * (c + k x1^2)`` (``c = sqrt(2/pi)``,
                ``k = 0.044715 c``); ``int8((tanh(u) + 1) * x1 * (0.5 / t))``: the
                tanh form of GELU.

``int8(.)`` is the VXM's ``cvt``: round to nearest even, saturate. Softmax
and layer norm reduce across the row, so the row must be exactly one
vector (``cols == lanes``); GELU is element-wise and takes any width.

Data flow on the chip. A value a VXM instruction produces passes the VXM's
own position once, one cycle after the instruction's latency: the
instruction that consumes it issues exactly then, so every tree has fixed
relative issue cycles, and a value used twice is computed twice (its input
is read from SRAM again). A ``vop`` runs only the ALUs its slot uses
(:func:`chain_length`), in ``timing.vop_latency`` of them, on the ALU columns
of any VXM column queue it fits (:mod:`openlpu.compiler.scheduler`); ``VRED``
and ``VFUNC`` issue only from column 0's queue. Where two instructions of a
tree cannot get columns in their cycles, :func:`placed_tree` delays a branch
that carries a broadcast (every lane equal, e.g. a reduction's result)
through ``VRED max``, which returns such a vector unchanged.
"""

from dataclasses import dataclass
from itertools import product

import numpy as np

from openlpu import isa, timing
from openlpu.golden import vxm as gvxm
from openlpu.golden.vxm_func import VxmFuncOp, f32_func
from openlpu.golden.vxm_reduce import reduce_lanes

from .scheduler import assign_columns

__all__ = ["Node", "Recipe", "softmax_recipe", "layer_norm_recipe", "gelu_recipe", "evaluate",
           "placed_tree", "column_items", "chain_length", "SOFTMAX_MAX_LOGIT"]

#: Largest ``|x * s|`` a softmax input may reach: ``exp(80) * lanes`` stays far below the fp32 range.
SOFTMAX_MAX_LOGIT = 80.0


class Node:
    """One VXM instruction of a recipe (or, ``kind == "read"``, the input vector from SRAM).

    ``arg``: the recipe's slot index (``vop``), the ``VRED`` op name, or the ``VFUNC`` code.
    ``b``: the ``vop``'s second operand; ``None`` reads ``a``'s stream twice.
    ``length``: a ``vop``'s chain length (its slot's :func:`chain_length`, set by
    :class:`Recipe`); ``None`` runs every ALU of the VXM.
    Nodes compare by identity: the same expression written twice is computed twice.
    """

    __slots__ = ("kind", "arg", "a", "b", "length")

    def __init__(self, kind, arg=None, a=None, b=None, length=None):
        self.kind, self.arg, self.a, self.b, self.length = kind, arg, a, b, length

    def inputs(self):
        return [n for n in (self.a, self.b) if n is not None]

    @property
    def uniform(self):
        """Every lane holds the same value (true of a reduction's result and what follows only from such)."""
        if self.kind == "read":
            return False
        if self.kind == "vred":
            return True
        return all(n.uniform for n in self.inputs())

    def latency(self, cfg):
        if self.kind == "vop":
            return timing.vop_latency(self.length or cfg.vxm_alus)
        if self.kind == "vred":
            return timing.vred_chip_latency(cfg)
        if self.kind == "vfunc":
            return timing.VXM_FUNC_LATENCY
        raise ValueError(self.kind)

    def __repr__(self):
        args = ", ".join(repr(n) for n in self.inputs())
        return "x" if self.kind == "read" else f"{self.kind}:{self.arg}({args})"


def read():
    return Node("read")


def vop(slot, a, b=None):
    return Node("vop", slot, a, b)


def vred(op, a):
    return Node("vred", op, a)


def vfunc(fn, a):
    return Node("vfunc", int(fn), a)


@dataclass
class Recipe:
    """``slots``: ``[(element type, [(op, src, imm)])]``, the VXM chains the tree's ``vop`` nodes
    name; each ``vop`` node gets its slot's :func:`chain_length`."""
    name: str
    slots: list
    root: Node
    whole_row: bool

    def __post_init__(self):
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.kind == "vop":
                node.length = chain_length(self.slots[node.arg][1])
            stack += node.inputs()


def chain_length(alus):
    """The ALUs a VOP of a slot with ``alus`` (``[(op, src, imm)]``) runs: up to its last one
    that is not a ``nop`` (at least one; the ALUs past it are ``nop``s, which change neither
    the value nor its type)."""
    n = len(alus)
    while n > 1 and alus[n - 1][0] == "nop":
        n -= 1
    return max(n, 1)


def _f32(v):
    return int(np.float32(v).view(np.uint32))


F32, I8 = gvxm.TYPES["fp32"], gvxm.TYPES["int8"]


def softmax_recipe(in_scale):
    if not 0 < in_scale * 128 <= SOFTMAX_MAX_LOGIT:
        raise ValueError(f"softmax input scale {in_scale} lets |x * s| reach {128 * in_scale:.1f}; "
                         f"the recipe subtracts no maximum and needs it <= {SOFTMAX_MAX_LOGIT} "
                         "(requantize the scores to a smaller scale)")
    slots = [("int8", [("cvt", 1, F32), ("mul", 1, _f32(in_scale))]),         # 0: z = f32(x) s
             ("fp32", [("mul", 1, _f32(1 / 127))]),                           # 1: sum / 127
             ("fp32", [("mul", 0, 0), ("cvt", 1, I8)])]                       # 2: int8(e * r)

    def exp_of_input():
        return vfunc(VxmFuncOp.EXP, vop(0, read()))
    r = vfunc(VxmFuncOp.RECIP, vop(1, vred("fsum", exp_of_input())))
    return Recipe("softmax", slots, vop(2, exp_of_input(), r), whole_row=True)


def layer_norm_recipe(d, in_scale, out_scale, eps=1e-5):
    slots = [("int8", [("cvt", 1, F32), ("mul", 1, _f32(in_scale / d))]),                   # 0: x s / d
             ("int8", [("cvt", 1, F32), ("mul", 1, _f32(in_scale)), ("sub", 0, 0)]),        # 1: c = x s - m
             ("fp32", [("sqr", 1, 0), ("mul", 1, _f32(1 / d)), ("add", 1, _f32(eps / d))]),  # 2: c^2/d + eps/d
             ("fp32", [("mul", 0, 0), ("mul", 1, _f32(1 / out_scale)), ("cvt", 1, I8)])]    # 3: int8(c r / t)

    def centred():
        return vop(1, read(), vred("fsum", vop(0, read())))
    rstd = vfunc(VxmFuncOp.RSQRT, vred("fsum", vop(2, centred())))
    return Recipe("layer_norm", slots, vop(3, centred(), rstd), whole_row=True)


def gelu_recipe(in_scale, out_scale):
    c = np.sqrt(2 / np.pi)
    slots = [("int8", [("cvt", 1, F32), ("mul", 1, _f32(in_scale))]),                      # 0: x1
             ("fp32", [("sqr", 1, 0), ("mul", 1, _f32(0.044715 * c)), ("add", 1, _f32(c)),
                       ("mul", 0, 0)]),                                                    # 1: u
             ("fp32", [("add", 1, _f32(1.0)), ("mul", 0, 0), ("mul", 1, _f32(0.5 / out_scale)),
                       ("cvt", 1, I8)])]                                                   # 2: result

    def x1():
        return vop(0, read())
    return Recipe("gelu", slots, vop(2, vfunc(VxmFuncOp.TANH, vop(1, x1())), x1()), whole_row=False)


# --- the specification ---------------------------------------------------------------------
def _chain(recipe, slot, a, b):
    etype, alus = recipe.slots[slot]
    ops = [gvxm.OPS[o] for o, _, _ in alus]
    srcs = [s for _, s, _ in alus]
    imms = [i for _, _, i in alus]
    et = gvxm.TYPES[etype]
    res = gvxm.chain(ops, et, srcs, imms, a, b)
    return np.asarray(res, np.int64) & ((1 << gvxm.WIDTH[gvxm.result_type(ops, et, imms)]) - 1)


def _eval(recipe, node, x):
    if node.kind == "read":
        return x.view(np.uint8).astype(np.int64)
    a = _eval(recipe, node.a, x)
    if node.kind == "vop":
        b = a if node.b is None else _eval(recipe, node.b, x)
        return _chain(recipe, node.arg, a, b)
    if node.kind == "vred":
        vals = a & 0xFFFFFFFF
        if node.arg != "fsum":
            vals = np.where(vals >= 1 << 31, vals - (1 << 32), vals)
        red = [reduce_lanes(row, node.arg) & 0xFFFFFFFF for row in vals]
        return np.repeat(np.asarray(red, np.int64)[:, None], x.shape[1], axis=1)
    if node.kind == "vfunc":
        return np.asarray(f32_func(node.arg, (a & 0xFFFFFFFF).astype(np.uint32)), np.int64)
    raise ValueError(node.kind)


def evaluate(recipe, x):
    """The recipe on int8 vectors ``x`` (one per row; reductions run across each row): int8."""
    x = np.ascontiguousarray(np.asarray(x, np.int8))
    return (_eval(recipe, recipe.root, x) & 0xFF).astype(np.uint8).view(np.int8)


# --- placement ------------------------------------------------------------------------------
def _offsets(node, cfg, t, out):
    """Issue cycle of every VXM node relative to the root, ``out[node] = t``."""
    out[node] = t
    for child in node.inputs():
        if child.kind == "read":
            continue
        _offsets(child, cfg, t - child.latency(cfg) - timing.stream_delay(0, 0, 0), out)
    return out


def _with_delays(node, delays):
    """A copy of the tree with ``delays[(id of parent, field)]`` ``VRED max`` nodes on that edge."""
    if node.kind == "read":
        return node
    kids = {}
    for f in ("a", "b"):
        child = getattr(node, f)
        if child is None:
            kids[f] = None
            continue
        c = _with_delays(child, delays)
        for _ in range(delays.get((id(node), f), 0)):
            c = vred("max", c)
        kids[f] = c
    return Node(node.kind, node.arg, kids["a"], kids["b"], node.length)


def column_items(offs, cfg, t=0):
    """The tree's VXM instructions with their root in cycle ``t``, as
    :func:`.scheduler.assign_columns` takes them: ``[(cycle, chain length or None)]`` in
    ``offs``' order."""
    return [(t + o, (n.length or cfg.vxm_alus) if n.kind == "vop" else None) for n, o in offs.items()]


def placed_tree(recipe, cfg, max_delays=4, copies=1):
    """The recipe's tree for ``cfg`` with its VXM instructions on ALU columns that do not
    collide (:func:`.scheduler.assign_columns`) and at most ``copies`` reads of the input (one
    per copy, each in its own SRAM slice) for the instructions of one cycle, and its offsets.

    Returns ``(root, {node: issue cycle relative to the root})``; raises ``ValueError`` when
    no placement with at most ``max_delays`` re-broadcasts exists."""
    edges = []

    def walk(n):
        for f in ("a", "b"):
            c = getattr(n, f)
            if c is not None and c.kind != "read":
                if c.uniform:
                    edges.append((id(n), f))
                walk(c)
    walk(recipe.root)
    for total in range(max_delays + 1):
        for counts in product(range(total + 1), repeat=len(edges)):
            if sum(counts) != total:
                continue
            root = _with_delays(recipe.root, dict(zip(edges, counts)))
            offs = _offsets(root, cfg, 0, {})
            if _reads_fit(offs, copies) and assign_columns(cfg, column_items(offs, cfg), lambda k, t: False):
                return root, offs
    lat = sorted({n.latency(cfg) for n in _offsets(recipe.root, cfg, 0, {}) if n.kind == "vop"})
    lat = {"vop": "/".join(map(str, lat)), "vred": timing.vred_chip_latency(cfg), "vfunc": timing.VXM_FUNC_LATENCY}
    raise ValueError(f"{recipe.name}: no collision-free VXM placement for lanes={cfg.lanes}: two branches "
                     f"whose instructions have equal latencies (VOP {lat['vop']}, VRED {lat['vred']}, "
                     f"VFUNC {lat['vfunc']} cycles) issue in the same cycle on ALU columns none can leave, "
                     f"or read the input more often than its {copies} copies allow")


def _reads_fit(offs, copies):
    """Whether no cycle of the tree reads the input more than ``copies`` times."""
    reads = {}
    for node, t in offs.items():
        n = sum(1 for c in node.inputs() if c.kind == "read")
        reads[t] = reads.get(t, 0) + n
    return max(reads.values(), default=0) <= copies


def instruction(node, slot_base, a, b, dst):
    """The VXM instruction of ``node`` with stream groups ``a``, ``b``, ``dst``."""
    if node.kind == "vop":
        return isa.make("VOP", slot_base + node.arg, 4, a, b, dst, node.length or 0)
    if node.kind == "vred":
        return isa.make("VRED", isa.VRED_OPS[node.arg], a, dst)
    return isa.make("VFUNC", node.arg, a, dst)


# --- per-channel requantization ---------------------------------------------------------------
def rescale_slots(scale, relu):
    """The two VXM chains of a per-channel requantization (``Graph.rescale``): ``VOP 4`` on the
    int32 accumulators, then ``VOP 2`` with the per-channel factors (fp16, two stream planes)."""
    first = ("int32", [("cvt", 1, F32), ("mul", 1, _f32(scale)), ("cvt", 1, gvxm.TYPES["fp16"])])
    second = ("fp16", [("mul", 0, 0)] + ([("max", 1, 0)] if relu else []) + [("cvt", 1, I8)])
    return [first, second]


def channel_bits(channel_scales):
    """The per-channel factors as fp16 bit patterns (``uint16``)."""
    c = np.asarray(channel_scales, np.float64)
    if not (np.all(c > 0) and np.all(c <= 1)):
        raise ValueError("per-channel factors must lie in (0, 1] (each channel's scale over the largest)")
    return c.astype(np.float16).view(np.uint16)


def rescale(acc, scale, channel_scales, relu):
    """``int8(f16(f16(f32(acc) * scale) * c[col]))`` (``max(., 0)`` first with ``relu``), as the
    chip computes it: the specification of ``Graph.rescale``."""
    (e1, s1), (e2, s2) = rescale_slots(scale, relu)
    acc = np.asarray(acc, np.int64) & 0xFFFFFFFF
    v = gvxm.chain([gvxm.OPS[o] for o, _, _ in s1], gvxm.TYPES[e1], [s for _, s, _ in s1],
                   [i for _, _, i in s1], acc, acc)
    c = np.broadcast_to(channel_bits(channel_scales).astype(np.int64), acc.shape)
    out = gvxm.chain([gvxm.OPS[o] for o, _, _ in s2], gvxm.TYPES[e2], [s for _, s, _ in s2],
                     [i for _, _, i in s2], np.asarray(v, np.int64) & 0xFFFF, c)
    return (np.asarray(out, np.int64) & 0xFF).astype(np.uint8).view(np.int8)
