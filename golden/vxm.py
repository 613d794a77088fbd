"""Golden model of the VXM ALU chain (the specification of rtl/vxm.py).

Each lane runs ``vxm_alus`` ALUs in series. ALU 0 reads stream operand ``a``
(the chain value ``x``), ALU ``i > 0`` reads the result of ALU ``i - 1``.
Every ALU also sees two more operands, chosen by its ``src`` bit::

    src = 0:  y = stream b,   z = imm
    src = 1:  y = imm,        z = stream b

Values travel as raw bits of the chain's current element type (int8, int16,
int32, fp16, fp32; wider types use more stream planes). The chain starts in
the instruction's ``etype``; ``cvt`` and ``rqout`` change the type for the
ALUs after them, and the result is the raw bits of the final type. ``y`` and
``z`` are read in the current type (their low bits).

Integer ops (two's complement, wrapping): ``add sub rsub mul sqr fma fms
min max abs neg absdiff relu``; ``and or xor not``; ``shl shr sar`` by the
low 8 bits of ``y`` read unsigned (a shift by ``>=`` the width gives 0, or
the sign fill for ``sar``).

Float ops (IEEE-754, round to nearest even, subnormals kept, canonical NaN
results, see :mod:`openlpu.golden.fp`): ``add sub rsub mul sqr`` round once;
``fma fms`` round once (fused); ``min max`` are IEEE-754-2019 minimum/maximum
(NaN if an operand is NaN, -0 < +0); ``relu`` is ``maximum(x, +0)``; ``abs``
and ``neg`` clear / flip the sign bit (NaN payloads kept); ``absdiff`` is
``abs(x - y)``.

Every type: ``nop`` (``x``), ``mov`` (``y``); ``eq ne lt le gt ge`` give a
mask, all ones in the element width when true and 0 when false (IEEE rules
for floats: false on NaN except ``ne``; -0 == +0); ``sel`` gives ``y`` where
``x`` (a mask) is non-zero, else ``z``; ``cvt`` converts to the type whose
code is ``imm & 7`` (codes 5..7: the current type) -- int -> int saturates, float ->
int rounds to nearest even and saturates (NaN -> 0), int -> float and fp32 ->
fp16 round to nearest even (overflow to Inf), fp16 -> fp32 is exact.

Requantize (gemmlowp / TFLite ``MultiplyByQuantizedMultiplier``), two ALUs:
``rqmul`` is the saturating rounding doubling high multiply of ``x`` and the
multiplier ``y`` in the element width ``w`` (``(x * y + nudge) / 2**(w-1)``
truncated toward zero, nudge ``2**(w-2)`` or ``1 - 2**(w-2)`` by the product's
sign, i.e. round half toward +infinity; ``x = y = min`` saturates to max); ``rqout``
divides by ``2**s`` rounding half away from zero (``s = y & 31``), adds the
zero point ``zp`` (``y[8:16]``, signed) and saturates to int8; the chain is
int8 from there. Order: scale, round, add zero point, saturate.

Integer-only ops on an fp type (``and or xor not shl shr sar rqmul rqout``)
act on the raw bits as the integer of the same width (fp16 as int16, fp32 as
int32); they are listed as not applicable in the coverage table.

The full chain's latency is ``timing.vop_latency(vxm_alus)`` cycles for every op.
"""

import numpy as np

from openlpu.golden import fp as gfp
from openlpu.timing import vop_latency
# The control slot's encoding is the ISA's; re-exported here for the models, benches and tests
# that read the codes beside the semantics.
from openlpu.vxm_control import OPS, TYPES, control_fields, pack_control, unpack_control, vxm_control_words

__all__ = ["OPS", "TYPES", "WIDTH", "FLOAT", "INT_ONLY", "applicable", "alu", "chain", "result_type",
           "latency", "random_programs", "saturation_programs", "pack_control", "unpack_control", "control_fields",
           "vxm_control_words"]

#: Element widths in bits, by type code (:data:`TYPES`).
WIDTH = {0: 8, 1: 16, 2: 32, 3: 16, 4: 32}
#: Float types and their golden format names.
FLOAT = {3: "fp16", 4: "fp32"}
_INT_OF = {0: "int8", 1: "int16", 2: "int32"}
#: Ops that only make sense on integers (on fp types they act on the raw bits).
INT_ONLY = {"and", "or", "xor", "not", "shl", "shr", "sar", "rqmul", "rqout"}
_CMP = {17: "eq", 18: "ne", 19: "lt", 20: "le", 21: "gt", 22: "ge"}


def applicable(op, etype):
    """Whether op (name) is meaningful for element type ``etype`` (code)."""
    return not (etype in FLOAT and op in INT_ONLY)


def _bits(x, w):
    return np.asarray(x, dtype=np.int64) & ((1 << w) - 1)


def _signed(x, w):
    x = _bits(x, w)
    return np.where(x >= (1 << (w - 1)), x - (1 << w), x)


def _int_alu(op, w, x, y, z):
    """Integer op on signed ``w``-bit values; result signed (wraps at the caller)."""
    amt = _bits(y, 8)
    big = amt >= w
    sh = np.minimum(amt, w - 1)
    ones = -1
    if op in _CMP:
        r = {17: x == y, 18: x != y, 19: x < y, 20: x <= y, 21: x > y, 22: x >= y}[op]
        return np.where(r, ones, 0)
    return {
        0: lambda: x, 1: lambda: x + y, 2: lambda: x - y, 3: lambda: x * y,
        4: lambda: np.minimum(x, y), 5: lambda: np.maximum(x, y),
        6: lambda: x & y, 7: lambda: x | y, 8: lambda: x ^ y,
        9: lambda: np.where(big, 0, x << sh),
        10: lambda: np.where(big, 0, _bits(x, w) >> sh),
        11: lambda: np.where(big, np.where(x < 0, -1, 0), x >> sh),
        12: lambda: np.maximum(x, 0), 13: lambda: np.abs(x), 14: lambda: -x, 15: lambda: ~x,
        16: lambda: x * y + z, 23: lambda: np.where(x != 0, y, z),
        25: lambda: _rqmul(w, x, y), 26: lambda: _rqout(x, y),
        27: lambda: y - x, 28: lambda: y, 29: lambda: x * y - z,
        30: lambda: np.abs(_signed(x - y, w)), 31: lambda: x * x,
    }[op]()


def _rqmul(w, x, y):
    """gemmlowp SaturatingRoundingDoublingHighMul in width ``w`` (Python ints: no overflow)."""
    lo = -(1 << (w - 1))
    out = []
    for a, b in zip(np.ravel(x), np.ravel(y)):
        a, b = int(a), int(b)
        if a == lo and b == lo:
            out.append((1 << (w - 1)) - 1)
            continue
        ab = a * b
        nudge = (1 << (w - 2)) if ab >= 0 else 1 - (1 << (w - 2))
        t = ab + nudge
        q = abs(t) >> (w - 1)
        out.append(q if t >= 0 else -q)      # C division: truncation toward zero
    return np.array(out, dtype=np.int64).reshape(np.shape(x))


def _rqout(x, y):
    """gemmlowp RoundingDivideByPOT by ``y & 31``, plus the zero point ``y[8:16]``, saturated to int8."""
    s = _bits(y, 5)
    zp = _signed(np.asarray(y, dtype=np.int64) >> 8, 8)
    mask = (np.int64(1) << s) - 1
    rem = x & mask
    thr = (mask >> 1) + (x < 0)
    q = (x >> s) + (rem > thr)
    return np.clip(q + zp, -128, 127)


def _convert(t, dst, x):
    """Raw bits of type ``t`` -> raw bits of type ``dst``."""
    if t == dst:
        return _bits(x, WIDTH[t]) if t not in FLOAT else \
            np.where(gfp.is_nan(FLOAT[t], x), gfp._QNAN[FLOAT[t]], _bits(x, WIDTH[t]))
    if t in FLOAT:
        if dst in FLOAT:
            return gfp.float_to_float(FLOAT[t], FLOAT[dst], _bits(x, WIDTH[t])).astype(np.int64)
        return _bits(gfp.float_to_int(FLOAT[t], _bits(x, WIDTH[t]), _INT_OF[dst]), WIDTH[dst])
    v = _signed(x, WIDTH[t])
    if dst in FLOAT:
        return gfp.int_to_float(FLOAT[dst], v).astype(np.int64)
    return _bits(gfp.int_to_int(v, _INT_OF[dst]), WIDTH[dst])


def _float_alu(op, f, x, y, z):
    """Float op on raw bits of format ``f`` ('fp16'/'fp32')."""
    w = 16 if f == "fp16" else 32
    sign = 1 << (w - 1)
    if op in _CMP:
        return np.where(gfp.f_cmp(f, _CMP[op], x, y), (1 << w) - 1, 0)
    neg = lambda v: np.asarray(v, dtype=np.int64) ^ sign
    zero_m = np.full_like(x, sign)
    r = {
        0: lambda: x, 1: lambda: gfp.f_add(f, x, y), 2: lambda: gfp.f_add(f, x, neg(y)),
        3: lambda: gfp.f_mul(f, x, y), 4: lambda: gfp.f_minmax(f, x, y, 0), 5: lambda: gfp.f_minmax(f, x, y, 1),
        12: lambda: gfp.f_minmax(f, x, np.zeros_like(x), 1), 13: lambda: x & (sign - 1), 14: lambda: neg(x),
        16: lambda: gfp.fma(f, x, y, z), 23: lambda: np.where(x != 0, y, z),
        27: lambda: gfp.f_add(f, neg(x), y), 28: lambda: y, 29: lambda: gfp.fma(f, x, y, neg(z)),
        30: lambda: gfp.f_add(f, x, neg(y)).astype(np.int64) & (sign - 1), 31: lambda: gfp.fma(f, x, x, zero_m),
    }[op]()
    return _bits(r, w)


def alu(op, etype, x, y, z=None, imm=0):
    """One ALU: ``(result bits, result type)`` for raw operand bits ``x``, ``y``, ``z`` of type ``etype``.

    ``imm`` is the ALU's immediate (the destination type of ``cvt``).
    """
    if op not in OPS.values() or etype not in WIDTH:
        raise ValueError(f"illegal VXM op {op!r} or element type {etype!r} "
                         f"(ops 0..{len(OPS) - 1}, types {sorted(WIDTH)})")
    w = WIDTH[etype]
    x = _bits(x, w)
    y = _bits(np.broadcast_to(y, x.shape), w)
    z = _bits(np.broadcast_to(0 if z is None else z, x.shape), w)
    if op == OPS["cvt"]:
        dst = int(imm) & 7
        dst = dst if dst in WIDTH else etype
        return _bits(_convert(etype, dst, x), WIDTH[dst]), dst
    if op == OPS["rqout"]:
        return _bits(_rqout(_signed(x, w), _signed(y, w)), 8), TYPES["int8"]
    if etype in FLOAT and OPS_NAME[op] not in INT_ONLY:
        return _float_alu(op, FLOAT[etype], x, y, z), etype
    return _bits(_int_alu(op, w, _signed(x, w), _signed(y, w), _signed(z, w)), w), etype


OPS_NAME = {v: k for k, v in OPS.items()}


def chain(ops, etype, srcs, imms, a, b):
    """Run a chain on lane vectors ``a``, ``b``: raw bits of the final type (non-negative).

    ``ops[i]`` reads ``y = b, z = imms[i]`` when ``srcs[i] == 0`` and
    ``y = imms[i], z = b`` otherwise (see the module docstring).
    """
    t = etype
    if t not in WIDTH:
        raise ValueError(f"illegal VXM element type {etype!r} (one of {sorted(WIDTH)})")
    x = _bits(a, WIDTH[t])
    b = np.asarray(b, dtype=np.int64)
    for op, src, imm in zip(ops, srcs, imms):
        immv = np.full_like(x, int(imm) & 0xFFFFFFFF)
        y, z = (b, immv) if src == 0 else (immv, b)
        x, t = alu(op, t, x, y, z, imm)
    return x


def result_type(ops, etype, imms):
    """Element type code at the end of a chain (``cvt`` and ``rqout`` change it)."""
    t = etype
    for op, imm in zip(ops, imms):
        if op == OPS["cvt"] and (int(imm) & 7) in WIDTH:
            t = int(imm) & 7
        elif op == OPS["rqout"]:
            t = TYPES["int8"]
    return t


def latency(cfg):
    """Cycles from an input vector to its result for ``cfg``."""
    return vop_latency(cfg.vxm_alus)


# --- stimulus ------------------------------------------------------------------------------------

#: Directed operand values per type: extremes, saturation edges, shift amounts, float specials.
CORNERS = {
    0: [0, 1, -1, 127, -128, 7, 8, 9, 100, -100],
    1: [0, 1, -1, 32767, -32768, 15, 16, 17, 255, -256, 0x4000],
    2: [0, 1, -1, 2**31 - 1, -2**31, 31, 32, 33, 255, 2**30, -2**30, 65519, 65520, 2**24 + 1],
    3: [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01,
        0x3C00, 0xBC00, 0x3C01, 0x3800, 0x4000, 0x5BF8, 0xD800, 0x1400],
    4: [0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000,
        0xFF800000, 0x7FC00000, 0x7F800001, 0x3F800000, 0xBF800000, 0x3F800001, 0x3F000000, 0x4B000001,
        0x4F000000, 0xCF000000, 0x477FF000, 0x3EFFFFFF],
}


def _pick(rng, etype, n):
    corner = rng.choice(np.array(CORNERS[etype], dtype=np.int64), n)
    rnd = rng.integers(0, 1 << WIDTH[etype], n)
    if etype in FLOAT:          # values near 1 (RNE ties on add/mul) as well as random bits
        e, m = gfp.FORMATS[FLOAT[etype]]
        near = (((1 << (e - 1)) - 1) << m) + rng.integers(-(1 << m), 1 << m, n)
        rnd = np.where(rng.integers(2, size=n), rnd, near | (rng.integers(0, 2, n) << (WIDTH[etype] - 1)))
    return np.where(rng.integers(2, size=n), corner, rnd)


def saturation_programs(cfg):
    """``rqmul`` of INT_MIN by INT_MIN (the one saturating case) in every lane, at every ALU
    of the chain (the others ``nop``) and for every integer type; programs as from
    :func:`random_programs`."""
    progs = []
    for name in ("int8", "int16", "int32"):
        etype = TYPES[name]
        lo = np.full(cfg.lanes, -(1 << (WIDTH[etype] - 1)), dtype=np.int64)
        for i in range(cfg.vxm_alus):
            ops = [OPS["nop"]] * cfg.vxm_alus
            ops[i] = OPS["rqmul"]
            progs.append((etype, ops, [0] * cfg.vxm_alus, [0] * cfg.vxm_alus, lo, lo))
    return progs


def _imm(rng, op, etype):
    name = OPS_NAME[op]
    if name == "cvt":
        return int(rng.integers(0, 8))
    if name == "rqout":
        return int(rng.integers(0, 32)) | int(rng.integers(0, 256)) << 8
    if name in ("shl", "shr", "sar"):
        return int(rng.choice([0, 1, WIDTH[etype] - 1, WIDTH[etype], WIDTH[etype] + 1, 255, 256 + 3]))
    if name == "rqmul" and rng.integers(2):
        return int(rng.integers(1 << 30, 1 << 31))        # a multiplier in [0.5, 1)
    return int(_pick(rng, etype, 1)[0])


def random_programs(cfg, rng, count, head=True):
    """``count`` instructions ``(etype, ops, srcs, imms, a, b)``; with ``head`` the first
    ``32 x 5`` put every op x type at the chain head (operands drawn for that type)."""
    progs = []
    n_ops, n_types = len(OPS), len(TYPES)
    for k in range(count):
        if head and k < n_ops * n_types:
            etype, first = k % n_types, (k // n_types) % n_ops
        else:
            etype, first = int(rng.integers(n_types)), int(rng.integers(n_ops))
        ops = [first] + [int(rng.integers(n_ops)) for _ in range(cfg.vxm_alus - 1)]
        srcs = [int(rng.integers(2)) for _ in range(cfg.vxm_alus)]
        imms, t = [], etype
        for op in ops:
            imm = _imm(rng, op, t)
            imms.append(imm & 0xFFFFFFFF)
            t = result_type([op], t, [imm])
        progs.append((etype, ops, srcs, imms, _pick(rng, etype, cfg.lanes), _pick(rng, etype, cfg.lanes)))
    return progs
