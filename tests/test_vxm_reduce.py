"""Amaranth-simulator test of the VXM cross-lane reduction against the golden tree."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from openlpu.config import preset
from openlpu.golden.vxm_reduce import latency, reduce_lanes
from openlpu.rtl.vxm_reduce import VxmReduce


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_reduce_matches_golden(name):
    cfg = preset(name)
    dut = VxmReduce(cfg)
    rng = np.random.default_rng(2)
    corners = np.array([0, 1, -1, 2**31 - 1, -2**31])
    vecs = [np.where(rng.integers(2, size=cfg.lanes), rng.choice(corners, cfg.lanes),
                     rng.integers(-2**31, 2**31, cfg.lanes)) for _ in range(60)]
    ops = [int(rng.integers(2)) for _ in vecs]
    lat = latency(cfg)
    seen = []

    async def tb(ctx):
        for cyc in range(len(vecs) + lat + 1):
            if cyc < len(vecs):
                for lane, v in enumerate(vecs[cyc]):
                    for p in range(4):
                        ctx.set(dut.data.payload[p][lane], (int(v) >> (8 * p)) & 0xFF)
                ctx.set(dut.data.valid, 1)
                ctx.set(dut.op_max, ops[cyc])
            else:
                ctx.set(dut.data.valid, 0)
            if ctx.get(dut.result.valid):
                seen.append((cyc, ctx.get(dut.result.payload)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert [c for c, _ in seen] == [k + lat for k in range(len(vecs))]
    for (_, got), v, op in zip(seen, vecs, ops):
        assert got == reduce_lanes(v, "max" if op else "sum")


def test_reduce_rejects_bad_input():
    with pytest.raises(ValueError):
        reduce_lanes([1, 2], "min")
    with pytest.raises(TypeError):
        VxmReduce(8)
