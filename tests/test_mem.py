"""MEM slice: golden model, Amaranth simulator, cocotb on Icarus and Verilator."""

import json

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from openlpu import timing
from openlpu.config import preset
from openlpu.golden.mem import MemSliceModel
from openlpu.rtl.mem import MemSlice
from openlpu.verif.runner import SIMULATORS, lint, require_simulator, run_cocotb
from openlpu.verif.tb_mem_scenarios import SCENARIOS, rd_value, scenario, wr_value

TINY = preset("tiny")
SMALL = preset("small")


def test_golden_read_before_write_and_latency():
    model = MemSliceModel(TINY)
    v1, v2 = np.arange(8, dtype=np.uint8), np.arange(10, 18, dtype=np.uint8)
    outs = [model.step(wr={"addr": 3, "data": v1}),
            model.step(rd={"addr": 3}, wr={"addr": 3, "data": v2}),
            model.step(rd={"addr": 3}), model.step(), model.step()]
    assert outs[0] is None and outs[1] is None and outs[2] is None
    assert np.array_equal(outs[1 + timing.MEM_READ_LATENCY][0], v1)
    assert np.array_equal(outs[2 + timing.MEM_READ_LATENCY][0], v2)


def test_golden_double_error_poisons():
    model = MemSliceModel(TINY)
    model.step(wr={"addr": 1, "data": np.full(8, 0xAB, np.uint8)}, fault=[0b11])
    model.step(rd={"addr": 1})
    model.step()
    data, poison = model.step()
    assert poison and not data.any() and model.detected == 1 and model.corrected == 0


def _play(cfg, name, seed=4):
    dut = MemSlice(cfg)
    model = MemSliceModel(cfg)
    cmds = scenario(name, cfg, seed)
    checked = []

    async def bench(ctx):
        for t, (rd, wr, fault) in enumerate(cmds):
            ctx.set(dut.rd.valid, rd is not None)
            if rd is not None:
                ctx.set(dut.rd.payload, rd_value(rd, cfg.lanes))
            ctx.set(dut.wr.valid, wr is not None)
            if wr is not None:
                ctx.set(dut.wr.payload, wr_value(wr, cfg.lanes))
            ctx.set(dut.fault, sum(f << (72 * w) for w, f in enumerate(fault or [])))
            expected = model.step(rd, wr, fault)
            assert ctx.get(dut.out.valid) == (expected is not None), f"{name} cycle {t}"
            if expected is not None:
                got = [ctx.get(dut.out.payload.data[i]) for i in range(cfg.lanes)]
                assert got == list(expected[0]), f"{name} cycle {t}: {got} != {list(expected[0])}"
                assert ctx.get(dut.out.payload.poison) == expected[1], f"{name} cycle {t}"
                checked.append(t)
            await ctx.tick()
        for port in ("corrected", "detected", "range_errors", "last_addr", "last_syndrome"):
            assert ctx.get(getattr(dut, port)) == getattr(model, port), port

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return model, checked


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_amaranth_sim(name):
    model, checked = _play(TINY, name)
    assert checked and model.corrected and model.detected and model.range_errors


def test_amaranth_sim_small_multicolumn():
    model, checked = _play(SMALL, "random", seed=9)
    assert checked and model.corrected and model.detected


def test_amaranth_sim_live_seed(live_seed):
    """The random scenario from the run's live seed, at both presets."""
    for cfg in (TINY, SMALL):
        _, checked = _play(cfg, "random", seed=live_seed)
        assert checked


def test_bad_generics():
    with pytest.raises(ValueError, match="lanes"):
        MemSlice(TINY.replace(lanes=12) if hasattr(TINY, "replace") else type(TINY)(**{**TINY.as_dict(), "lanes": 12}))


@pytest.mark.parametrize("name", ["MemSlice", "Mem", "MemAddrGen"])
def test_lint(tmp_path, name):
    from openlpu.rtl import mem
    path = tmp_path / f"{name}.v"
    path.write_text(verilog.convert(getattr(mem, name)(TINY), name=name, emit_src=False))
    result = lint(path, name)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("sim", SIMULATORS)
def test_cocotb(sim):
    require_simulator(sim)
    run_cocotb(sim=sim, toplevel="mem_slice", component=lambda: MemSlice(TINY), test_module="openlpu.verif.tb_mem",
               key="tiny", extra_env={"OPENLPU_CONFIG": json.dumps(TINY.as_dict()), "OPENLPU_SEED": "3",
                                      "OPENLPU_FAULTS": "10240"})


@pytest.mark.parametrize("base,stride,count", [(0, 1, 5), (250, 3, 4), (7, 0xFFFF, 3), (9, 2, 0), (0, 64, 4)])
def test_addrgen_against_golden(base, stride, count):
    from openlpu.golden.mem import stride_addresses
    from openlpu.rtl.mem import MemAddrGen
    dut = MemAddrGen(TINY)
    want = stride_addresses(base, stride, count)
    seen = []

    async def bench(ctx):
        ctx.set(dut.cmd.valid, 1)
        ctx.set(dut.cmd.payload, {"base": base, "stride": stride, "count": count})
        await ctx.tick()
        ctx.set(dut.cmd.valid, 0)
        for t in range(count + 3):
            if ctx.get(dut.addr.valid):
                seen.append((t + timing.MEM_ADDRGEN_LATENCY, ctx.get(dut.addr.payload)))
            await ctx.tick()
        assert ctx.get(dut.error) == any(a >= TINY.mem_depth for a in want)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [(timing.MEM_ADDRGEN_LATENCY + k, a) for k, a in enumerate(want)]


@pytest.mark.slow
@pytest.mark.parametrize("sim", SIMULATORS)
def test_cocotb_small_long_fault_campaign(sim):
    """Two ECC columns per vector, 51,200 injected faults."""
    require_simulator(sim)
    run_cocotb(sim=sim, toplevel="mem_slice", component=lambda: MemSlice(SMALL), test_module="openlpu.verif.tb_mem",
               key="small", extra_env={"OPENLPU_CONFIG": json.dumps(SMALL.as_dict()), "OPENLPU_SEED": "11",
                                       "OPENLPU_FAULTS": "51200"})
