"""Cross-lane reduction of the VXM: int32 sum (wrapping), signed max, or fp32 sum over all lanes.

Ports
-----
data : In(Flow(StreamGroup(lanes, 4)))
    int32 or fp32 lane values (4 byte planes).
op_max : In(1)
    1 = int32 max; sampled with ``data``.
op_fsum : In(1)
    1 = fp32 sum (when ``op_max`` is 0); both 0 = int32 sum.
result : Out(Flow(signed(32)))
    The reduced value (raw fp32 bits for the fp32 sum),
    :func:`openlpu.golden.vxm_reduce.latency` cycles later: one registered
    tree level per ``VXM_REDUCE_LEVEL_LATENCY`` cycle, pairs (0,1), (2,3), ...
    at each level, an odd level padded with the identity (0, int32 min, -0.0).
    Each fp32 addition rounds to nearest even (:func:`openlpu.rtl.fp.f32_add`).
"""

from amaranth.hdl import Module, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from openlpu.config import require_config
from openlpu.rtl.fp import f32_add
from openlpu.rtl.pipeline import register
from openlpu.rtl.streams import Flow, StreamGroup, lane_word

__all__ = ["VxmReduce"]


class VxmReduce(wiring.Component):
    """Pipelined binary-tree reduction across lanes (see module docstring)."""

    def __init__(self, cfg):
        self.cfg = require_config(cfg)
        super().__init__({"data": In(Flow(StreamGroup(cfg.lanes, 4))), "op_max": In(1),
                          "op_fsum": In(1), "result": Out(Flow(signed(32)))})

    def elaborate(self, platform):
        m = Module()
        level = [lane_word(self.data.payload, lane).as_signed() for lane in range(self.cfg.lanes)]
        valid, op_max, fsum = self.data.valid, self.op_max, self.op_fsum & ~self.op_max
        depth = max(1, (self.cfg.lanes - 1).bit_length())
        for d in range(depth):
            if len(level) % 2:
                level.append(Mux(op_max | fsum, -(1 << 31), 0))      # int32 min / fp32 -0.0
            nxt = []
            for j in range(len(level) // 2):
                a, b = level[2 * j], level[2 * j + 1]
                fs = f32_add(m, a.as_unsigned(), b.as_unsigned())
                nxt.append(register(m, Mux(op_max, Mux(a > b, a, b), Mux(fsum, fs.as_signed(), a + b)),
                                    f"red{d}_{j}", shape=signed(32)))
            level = nxt
            valid, op_max, fsum = (register(m, v, f"red_{n}{d}", shape=1)
                                   for v, n in ((valid, "valid"), (op_max, "op"), (fsum, "fsum")))
        m.d.comb += [self.result.valid.eq(valid), self.result.payload.eq(level[0])]
        return m
