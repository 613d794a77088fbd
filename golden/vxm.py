"""Golden model of the VXM integer ALU chain (the specification of rtl/vxm.py).

Each lane runs ``vxm_alus`` ALUs in series; ALU 0 reads stream operand ``a``,
ALU ``i > 0`` reads the result of ALU ``i - 1``. The second operand of every
ALU is either stream operand ``b`` or that ALU's 32-bit immediate. Values are
two's-complement integers of the element type's width (int8/int16/int32);
arithmetic wraps. Shift amounts are the low 8 bits of the second operand,
unsigned; a shift by ``>=`` the width gives 0 (SHL, SHR) or the sign fill
(SAR). The chain's latency is ``vxm_alus * VXM_ALU_LATENCY`` cycles.
"""

import numpy as np

from openlpu.timing import VXM_ALU_LATENCY

__all__ = ["OPS", "TYPES", "WIDTH", "alu", "chain", "latency", "random_programs"]

#: Op codes (4 bits in the control word).
OPS = {"nop": 0, "add": 1, "sub": 2, "mul": 3, "min": 4, "max": 5, "and": 6, "or": 7,
       "xor": 8, "shl": 9, "shr": 10, "sar": 11, "relu": 12, "abs": 13, "neg": 14, "not": 15}
#: Element type codes (2 bits) and widths.
TYPES = {"int8": 0, "int16": 1, "int32": 2}
WIDTH = {0: 8, 1: 16, 2: 32}


def _wrap(x, w):
    x = np.asarray(x, dtype=np.int64) & ((1 << w) - 1)
    return np.where(x >= (1 << (w - 1)), x - (1 << w), x)


def alu(op, etype, a, b):
    """One ALU on signed lane values ``a``, ``b`` (numpy int64), result signed."""
    if op not in OPS.values() or etype not in WIDTH:
        raise ValueError(f"illegal VXM op {op!r} or type {etype!r}")
    w = WIDTH[etype]
    a = _wrap(a, w)
    b = _wrap(b, w)
    amt = b & 0xFF
    big = amt >= w
    sh = np.minimum(amt, w)
    res = {
        0: lambda: a,
        1: lambda: a + b,
        2: lambda: a - b,
        3: lambda: a * b,
        4: lambda: np.minimum(a, b),
        5: lambda: np.maximum(a, b),
        6: lambda: a & b,
        7: lambda: a | b,
        8: lambda: a ^ b,
        9: lambda: np.where(big, 0, (a << np.minimum(sh, w - 1)) if True else 0),
        10: lambda: np.where(big, 0, (a & ((1 << w) - 1)) >> np.minimum(sh, w - 1)),
        11: lambda: np.where(big, np.where(a < 0, -1, 0), a >> np.minimum(sh, w - 1)),
        12: lambda: np.maximum(a, 0),
        13: lambda: np.abs(a),
        14: lambda: -a,
        15: lambda: ~a,
    }[op]()
    return _wrap(res, w)


def chain(ops, etype, srcs, imms, a, b):
    """Run a chain: ``ops[i]`` with second operand ``b`` (``srcs[i] == 0``) or ``imms[i]``."""
    x = _wrap(a, WIDTH[etype])
    for op, src, imm in zip(ops, srcs, imms):
        x = alu(op, etype, x, b if src == 0 else np.full_like(x, imm))
    return x


def latency(cfg):
    """Cycles from an input vector to its result for ``cfg``."""
    return cfg.vxm_alus * VXM_ALU_LATENCY


def random_programs(cfg, rng, count):
    """``count`` instructions ``(etype, ops, srcs, imms, a, b)``; the first 48 put every op x type at the chain head."""
    progs = []
    corners = np.array([0, 1, -1, 127, -128, 32767, -32768, 2**31 - 1, -2**31, 7, 8, 16, 31, 32, 255])
    for k in range(count):
        etype = k % 3
        ops = [int(rng.integers(16)) for _ in range(cfg.vxm_alus)]
        if k < 3 * 16:  # every op x type as the first ALU
            ops[0] = (k // 3) % 16
        srcs = [int(rng.integers(2)) for _ in range(cfg.vxm_alus)]
        imms = [int(rng.choice(corners)) if rng.integers(2) else int(rng.integers(-2**31, 2**31))
                for _ in range(cfg.vxm_alus)]
        pick = lambda: np.where(rng.integers(2, size=cfg.lanes), rng.choice(corners, cfg.lanes),
                                rng.integers(-2**31, 2**31, cfg.lanes))
        progs.append((etype, ops, srcs, imms, pick(), pick()))
    return progs
