"""Golden model of the switch unit (SXM): lane movement on one stream vector.

Ops (``SxmOp``) act on byte vectors of ``lanes`` lanes; a wider type is moved
plane by plane with the same op. Inputs ``a``, ``b``, ``c`` are vectors.

``SHIFT_UP k``     ``out[i] = a[i - k]``, zeros shifted in (``k >= lanes``: all zero)
``SHIFT_DOWN k``   ``out[i] = a[i + k]``, zeros shifted in
``ROTATE k``       ``out[i] = a[(i - k) mod lanes]``
``PERMUTE``        ``out[i] = a[b[i]]`` (``b`` is the pattern; ``b[i] >= lanes`` gives 0)
``DISTRIBUTE k``   ``out[i] = a[k]`` (broadcast one lane)
``SELECT``         ``out[i] = b[i] if c[i] != 0 else a[i]`` (``c`` is the mask)
``TRANSPOSE``      ``lanes`` consecutive input vectors ``a`` (rows of a byte tile)
                   come out as its ``lanes`` columns, one per cycle
``PASS``           ``out = a``

Timing (:mod:`openlpu.timing`): every op but TRANSPOSE has latency
``SXM_LATENCY``. TRANSPOSE: rows enter with ``start`` on the first; once the
last row has entered (cycle ``t_last``), column ``j`` leaves on cycle
``t_last + 1 + SXM_LATENCY + j``: for rows on consecutive cycles from ``t0``
that is ``t0 + sxm_transpose_latency(cfg) + j``. The next tile's rows may enter right
after (double buffer), so transposes stream at one vector per cycle.

Errors: ``k`` out of range (``k > lanes`` for shifts, ``k >= lanes`` for
ROTATE and DISTRIBUTE), a TRANSPOSE row with no tile started, or a lane op
whose output would collide with a transpose column set the sticky ``error``
flag; an illegal op outputs zeros, a collision outputs the transpose column.
"""

import numpy as np

from .. import timing
# The sub-op codes and the range of k are the ISA's; re-exported for the RTL, testbenches and tests.
from ..isa import SxmOp, k_is_legal

__all__ = ["SxmOp", "k_is_legal", "lane_op", "SxmModel"]


def lane_op(op, a, b=None, c=None, k=0):
    """The result of a non-transpose op on ``uint8`` vectors (``k`` in range)."""
    a = np.asarray(a, dtype=np.uint8)
    lanes = len(a)
    b = np.zeros(lanes, np.uint8) if b is None else np.asarray(b, dtype=np.uint8)
    c = np.zeros(lanes, np.uint8) if c is None else np.asarray(c, dtype=np.uint8)
    idx = np.arange(lanes)
    op = SxmOp(op)
    if op == SxmOp.PASS:
        return a.copy()
    if op == SxmOp.SHIFT_UP:
        return np.where(idx >= k, a[(idx - k) % lanes], 0).astype(np.uint8)
    if op == SxmOp.SHIFT_DOWN:
        return np.where(idx + k < lanes, a[(idx + k) % lanes], 0).astype(np.uint8)
    if op == SxmOp.ROTATE:
        return a[(idx - k) % lanes]
    if op == SxmOp.PERMUTE:
        src = b.astype(np.int64)
        return np.where(src < lanes, a[np.minimum(src, lanes - 1)], 0).astype(np.uint8)
    if op == SxmOp.DISTRIBUTE:
        return np.full(lanes, a[k], dtype=np.uint8)
    if op == SxmOp.SELECT:
        return np.where(c != 0, b, a).astype(np.uint8)
    raise ValueError(f"{op!r} is not a lane op (TRANSPOSE is stateful: use SxmModel)")


class SxmModel:
    """Cycle-exact SXM: :meth:`step` takes one cycle's inputs, returns the output vector or ``None``."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.latency = timing.SXM_LATENCY
        self.t_latency = timing.sxm_transpose_latency(cfg)
        self.cycle = 0
        self._pending = {}
        self._rows = []
        self._tile_start = None
        self._transpose_out = set()
        self.error = False

    def step(self, op=None, a=None, b=None, c=None, k=0, start=False):
        lanes = self.cfg.lanes
        out = self._pending.pop(self.cycle, None)
        if op is not None:
            op = SxmOp(op)
            if op == SxmOp.TRANSPOSE:
                if start:
                    self._rows, self._tile_start = [], self.cycle
                if self._tile_start is None:
                    self.error = True
                else:
                    self._rows.append(np.asarray(a, dtype=np.uint8))
                    if len(self._rows) == lanes:
                        tile = np.stack(self._rows)
                        for j in range(lanes):
                            at = self.cycle + 1 + self.latency + j
                            self._pending[at] = tile[:, j].copy()
                            self._transpose_out.add(at)
                        self._rows, self._tile_start = [], None
            else:
                at = self.cycle + self.latency
                if at in self._transpose_out:
                    self.error = True
                elif not k_is_legal(op, k, lanes):
                    self.error = True
                    self._pending[at] = np.zeros(lanes, dtype=np.uint8)
                else:
                    self._pending[at] = lane_op(op, a, b, c, k)
        self._transpose_out.discard(self.cycle)
        self.cycle += 1
        return out

    def idle(self, cycles):
        """``cycles`` cycles without inputs in which no output is due: what that many
        :meth:`step` calls without an op do, without stepping each."""
        if cycles <= 0:
            return
        end = self.cycle + cycles
        assert not any(self.cycle <= c < end for c in self._pending), "an output is due in the idle cycles"
        self._transpose_out = {c for c in self._transpose_out if not self.cycle <= c < end}
        self.cycle = end
