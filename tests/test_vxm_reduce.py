"""Amaranth-simulator test of the VXM cross-lane reduction against the golden tree."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from amaranth.utils import ceil_log2

from openlpu import timing
from openlpu.config import preset
from openlpu.golden.vxm_reduce import latency, reduce_lanes
from openlpu.rtl.vxm_reduce import VxmReduce


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_reduce_matches_golden(name):
    cfg = preset(name)
    dut = VxmReduce(cfg)
    rng = np.random.default_rng(2)
    corners = np.array([0, 1, -1, 2**31 - 1, -2**31])
    fcorners = np.array([0, 0x80000000, 1, 0x80000001, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000,
                         0xFF800000, 0x7FC00000, 0x3F800000, 0xBF800000, 0x33800000, 0x4B800000], dtype=np.int64)
    ops = [k % 3 for k in range(90)]              # 0 sum, 1 max, 2 fp32 sum
    vecs = []
    for op in ops:
        if op == 2:
            near = rng.integers(0x3F000000, 0x40000000, cfg.lanes) | (rng.integers(0, 2, cfg.lanes) << 31)
            v = np.where(rng.integers(4, size=cfg.lanes) == 0, rng.choice(fcorners, cfg.lanes),
                         np.where(rng.integers(2, size=cfg.lanes), near, rng.integers(0, 2**32, cfg.lanes)))
        else:
            v = np.where(rng.integers(2, size=cfg.lanes), rng.choice(corners, cfg.lanes),
                         rng.integers(-2**31, 2**31, cfg.lanes))
        vecs.append(v)
    lat = latency(cfg)
    assert lat == timing.vxm_reduce_latency(cfg) == ceil_log2(cfg.lanes) * timing.VXM_REDUCE_LEVEL_LATENCY
    seen = []

    async def tb(ctx):
        for cyc in range(len(vecs) + lat + 1):
            if cyc < len(vecs):
                for lane, v in enumerate(vecs[cyc]):
                    for p in range(4):
                        ctx.set(dut.data.payload[p][lane], (int(v) >> (8 * p)) & 0xFF)
                ctx.set(dut.data.valid, 1)
                ctx.set(dut.op_max, ops[cyc] == 1)
                ctx.set(dut.op_fsum, ops[cyc] == 2)
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
        want = reduce_lanes(v, ("sum", "max", "fsum")[op])
        assert (got & 0xFFFFFFFF) == (want & 0xFFFFFFFF), (op, [hex(int(x) & 0xFFFFFFFF) for x in v])


def test_fsum_tree_order():
    """The fp32 sum follows the documented pairing: ((l0 + l1) + (l2 + l3)) + ..., each rounded once."""
    rng = np.random.default_rng(3)
    for lanes in (2, 3, 5, 8, 16):
        for _ in range(50):
            v = (rng.standard_normal(lanes) * 10.0 ** rng.integers(-8, 8, lanes)).astype(np.float32)
            level = list(v)
            while len(level) > 1:
                if len(level) % 2:
                    level.append(np.float32(-0.0))
                level = [np.float32(a + b) for a, b in zip(level[::2], level[1::2])]
            assert reduce_lanes(v.view(np.uint32), "fsum") == int(np.float32(level[0]).view(np.uint32))
    # a pairing different from sequential order: 1e8 + 1 - 1e8 + 1 ... differs from numpy's sum order
    big = np.array([1e8, 1, -1e8, 1], dtype=np.float32)
    assert np.uint32(reduce_lanes(big.view(np.uint32), "fsum")).view(np.float32) == np.float32(0.0)
    assert reduce_lanes([0x80000000, 0x80000000, 0x80000000], "fsum") == 0x80000000     # -0 pads keep -0
    assert reduce_lanes([0x7F800000, 0xFF800000], "fsum") == 0x7FC00000


def test_reduce_rejects_bad_input():
    with pytest.raises(ValueError):
        reduce_lanes([1, 2], "min")
    with pytest.raises(TypeError):
        VxmReduce(8)
