"""Golden cross-lane reduction (int32 sum, wrapping; signed max; fp32 sum) of rtl/vxm_reduce.py.

Lanes combine in a fixed binary tree: level 1 pairs lanes (0,1), (2,3)...,
level 2 pairs those results the same way, and so on; a level with an odd
count is padded with the identity (0, int32 min, -0.0). Each level is
registered, so the latency is ``ceil(log2(lanes)) * VXM_REDUCE_LEVEL_LATENCY``
cycles (:func:`latency`). The fp32 sum rounds every addition to nearest
even in exactly this order (:func:`openlpu.golden.fp.f32_add`: subnormals
kept, NaN canonical), so it is not numpy's ``sum``.
"""

import numpy as np

from openlpu.golden.fp import f32_add
from openlpu.timing import vxm_reduce_latency

__all__ = ["reduce_lanes", "latency"]


def _wrap32(x):
    x = np.int64(x) & 0xFFFFFFFF
    return int(x - (1 << 32) if x >= (1 << 31) else x)


def reduce_lanes(values, op):
    """Reduce int32 lane values with ``op`` in {"sum", "max", "fsum"} in tree order.

    For ``"fsum"`` the values are raw fp32 bits and the result is raw fp32 bits (an int).
    """
    if op not in ("sum", "max", "fsum"):
        raise ValueError(f"illegal reduction {op!r} (sum, max or fsum)")
    if op == "fsum":
        level = [int(v) & 0xFFFFFFFF for v in values]
        while len(level) > 1:
            if len(level) % 2:
                level.append(0x80000000)
            level = [int(f32_add(a, b)) for a, b in zip(level[::2], level[1::2])]
        return level[0]
    level = [_wrap32(v) for v in values]
    while len(level) > 1:
        if len(level) % 2:
            level.append(0 if op == "sum" else -(1 << 31))
        level = [_wrap32(a + b) if op == "sum" else max(a, b) for a, b in zip(level[::2], level[1::2])]
    return level[0]


def latency(cfg):
    """Cycles from input vector to reduced scalar (:func:`openlpu.timing.vxm_reduce_latency`)."""
    return vxm_reduce_latency(cfg)
