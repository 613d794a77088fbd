"""Golden cross-lane reduction (int32 sum, wrapping, and signed max) of rtl/vxm_reduce.py.

Lanes combine in a fixed binary tree: level 1 pairs lanes (0,1), (2,3)...,
each level registered, so the latency is ``ceil(log2(lanes))`` cycles
(:func:`latency`). Integer sums are order-independent; the tree order is the
one an fp32 sum will use.
"""

import numpy as np

__all__ = ["reduce_lanes", "latency"]


def _wrap32(x):
    x = np.int64(x) & 0xFFFFFFFF
    return int(x - (1 << 32) if x >= (1 << 31) else x)


def reduce_lanes(values, op):
    """Reduce signed int32 lane values with ``op`` in {"sum", "max"} in tree order."""
    if op not in ("sum", "max"):
        raise ValueError(f"illegal reduction {op!r}")
    level = [_wrap32(v) for v in values]
    while len(level) > 1:
        if len(level) % 2:
            level.append(0 if op == "sum" else -(1 << 31))
        level = [_wrap32(a + b) if op == "sum" else max(a, b) for a, b in zip(level[::2], level[1::2])]
    return level[0]


def latency(cfg):
    """Cycles from input vector to reduced scalar."""
    return max(1, (cfg.lanes - 1).bit_length())
