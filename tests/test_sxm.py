"""SXM: golden-model checks, Amaranth-simulator tests, cocotb on Icarus and Verilator."""

import json

import numpy as np
import pytest
from amaranth.sim import Simulator

from openlpu import timing
from openlpu.config import preset
from openlpu.golden.sxm import SxmModel, SxmOp, lane_op
from openlpu.rtl.sxm import Sxm
from openlpu.verif.runner import SIMULATORS, require_simulator, run_cocotb
from openlpu.verif.sxm_scenarios import SCENARIOS, DstModel, scenario

TINY = preset("tiny")


def test_golden_lane_ops_by_definition():
    a = np.arange(10, 18, dtype=np.uint8)
    assert list(lane_op(SxmOp.SHIFT_UP, a, k=2)) == [0, 0, 10, 11, 12, 13, 14, 15]
    assert list(lane_op(SxmOp.SHIFT_DOWN, a, k=3)) == [13, 14, 15, 16, 17, 0, 0, 0]
    assert list(lane_op(SxmOp.SHIFT_UP, a, k=8)) == [0] * 8
    assert list(lane_op(SxmOp.ROTATE, a, k=1)) == [17, 10, 11, 12, 13, 14, 15, 16]
    assert list(lane_op(SxmOp.DISTRIBUTE, a, k=5)) == [15] * 8
    pattern = np.array([7, 6, 5, 4, 3, 2, 1, 200], dtype=np.uint8)
    assert list(lane_op(SxmOp.PERMUTE, a, b=pattern)) == [17, 16, 15, 14, 13, 12, 11, 0]
    b = np.full(8, 99, dtype=np.uint8)
    mask = np.array([0, 1, 0, 1, 0, 0, 0, 255], dtype=np.uint8)
    assert list(lane_op(SxmOp.SELECT, a, b=b, c=mask)) == [10, 99, 12, 99, 14, 15, 16, 99]


def test_golden_transpose_timing():
    model = SxmModel(TINY)
    tile = np.arange(64, dtype=np.uint8).reshape(8, 8)
    outs = [model.step(SxmOp.TRANSPOSE, tile[r], start=r == 0) for r in range(8)]
    outs += [model.step() for _ in range(12)]
    first = next(t for t, o in enumerate(outs) if o is not None)
    assert first == timing.sxm_transpose_latency(TINY)
    for j in range(8):
        assert np.array_equal(outs[first + j], tile[:, j])
    assert not model.error


def _amaranth_play(cfg, name, seed=5):
    dut = Sxm(cfg)
    model = SxmModel(cfg)
    dsts = DstModel(cfg)
    cmds = scenario(name, cfg, seed)
    checked = []

    async def bench(ctx):
        for t in range(len(cmds) + model.t_latency + cfg.lanes + 2):
            cmd = cmds[t] if t < len(cmds) else None
            ctx.set(dut.cmd.valid, cmd is not None)
            if cmd is not None:
                ctx.set(dut.cmd.payload, {"op": int(cmd["op"]), "k": cmd["k"], "start": cmd["start"],
                                          "a": [int(x) for x in cmd["a"]], "b": [int(x) for x in cmd["b"]],
                                          "c": [int(x) for x in cmd["c"]], "dst": cmd["dst"]})
                expected = model.step(cmd["op"], cmd["a"], cmd["b"], cmd["c"], cmd["k"], cmd["start"])
            else:
                expected = model.step()
            dst = dsts.step(cmd)
            assert ctx.get(dut.out.valid) == (expected is not None), f"{name} cycle {t}"
            if expected is not None:
                got = [ctx.get(dut.out.payload.data[i]) for i in range(cfg.lanes)]
                assert got == list(expected), f"{name} cycle {t}: {got} != {list(expected)}"
                assert ctx.get(dut.out.payload.dst) == dst, f"{name} cycle {t}: dst"
                checked.append(t)
            await ctx.tick()
        assert ctx.get(dut.error) == model.error

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return checked


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_amaranth_sim(name):
    assert _amaranth_play(TINY, name)


@pytest.mark.parametrize("sim", SIMULATORS)
def test_cocotb(sim):
    require_simulator(sim)
    run_cocotb(sim=sim, toplevel="sxm", component=lambda: Sxm(TINY), test_module="openlpu.verif.tb_sxm",
               key="tiny", extra_env={"OPENLPU_CONFIG": json.dumps(TINY.as_dict()), "OPENLPU_SEED": "3"})
