"""Amaranth-simulator tests of the VXM integer chain against the golden model."""

import json

import numpy as np
import pytest
from amaranth.sim import Simulator

from openlpu.config import preset
from openlpu.golden import vxm as gold
from openlpu.rtl.vxm import Vxm, VxmControl
from openlpu.verif.runner import SIMULATORS, require_simulator, run_cocotb

TINY = preset("tiny")


def _run(cfg, programs):
    """Stream one instruction per cycle; check each result appears exactly latency cycles later."""
    dut = Vxm(cfg)
    lat = gold.latency(cfg)
    seen = []

    async def tb(ctx):
        outs = []
        for cyc in range(len(programs) + lat + 1):
            if cyc < len(programs):
                etype, ops, srcs, imms, a, b = programs[cyc]
                for lane in range(cfg.lanes):
                    for p in range(4):
                        ctx.set(dut.a.payload[p][lane], (int(a[lane]) >> (8 * p)) & 0xFF)
                        ctx.set(dut.b.payload[p][lane], (int(b[lane]) >> (8 * p)) & 0xFF)
                ctx.set(dut.a.valid, 1)
                ctx.set(dut.ctrl, {"etype": etype,
                                   "alu": [{"op": o, "src": s, "imm": i & 0xFFFFFFFF}
                                           for o, s, i in zip(ops, srcs, imms)]})
            else:
                ctx.set(dut.a.valid, 0)
            if ctx.get(dut.out.valid):
                outs.append((cyc, [sum(ctx.get(dut.out.payload[p][lane]) << (8 * p) for p in range(4))
                                   for lane in range(cfg.lanes)]))
            await ctx.tick()
        seen.extend(outs)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert [c for c, _ in seen] == [k + lat for k in range(len(programs))]
    for (_, got), (etype, ops, srcs, imms, a, b) in zip(seen, programs):
        w = gold.WIDTH[etype]
        exp = gold.chain(ops, etype, srcs, imms, a, b) & ((1 << w) - 1)
        assert got == [int(v) for v in exp], (etype, ops, srcs, imms)


def test_chain_matches_golden():
    cfg = preset("tiny")
    _run(cfg, gold.random_programs(cfg, np.random.default_rng(1), 120))


def test_bad_config_rejected():
    with pytest.raises(TypeError):
        Vxm("tiny")
    with pytest.raises(ValueError):
        gold.alu(99, 0, np.zeros(1), np.zeros(1))


@pytest.mark.parametrize("sim", SIMULATORS)
def test_cocotb(sim):
    require_simulator(sim)
    run_cocotb(sim=sim, toplevel="vxm", component=lambda: Vxm(TINY), test_module="openlpu.verif.tb_vxm",
               key="tiny", extra_env={"OPENLPU_CONFIG": json.dumps(TINY.as_dict()), "OPENLPU_SEED": "5"})
