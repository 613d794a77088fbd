"""numpy view of stream groups: lane values <-> byte planes.

Mirrors :mod:`openlpu.rtl.streams`: a group of ``n`` streams is an array of
shape ``(n, lanes)`` of ``uint8``; plane ``i`` holds byte ``i`` of each lane.
"""

import numpy as np

__all__ = ["to_planes", "from_planes"]


def to_planes(values, nbytes):
    """Split integer or raw-bit lane values into ``nbytes`` byte planes, shape ``(nbytes, lanes)``."""
    raw = np.asarray(values).astype(np.int64) & ((1 << (8 * nbytes)) - 1)
    return np.stack([(raw >> (8 * i)) & 0xFF for i in range(nbytes)]).astype(np.uint8)


def from_planes(planes, signed=False):
    """Join byte planes of shape ``(nbytes, lanes)`` into lane values (``int64``)."""
    planes = np.asarray(planes, dtype=np.int64)
    nbytes = planes.shape[0]
    raw = np.zeros(planes.shape[1:], dtype=np.int64)
    for i in range(nbytes):
        raw |= planes[i] << (8 * i)
    if signed:
        sign = 1 << (8 * nbytes - 1)
        raw = (raw ^ sign) - sign
    return raw
