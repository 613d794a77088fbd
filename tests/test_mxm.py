"""MXM: golden-model checks, fast Amaranth-simulator tests, and the cocotb
testbench on Icarus and Verilator (bit- and cycle-exact against the golden model)."""

import json

import numpy as np
import pytest
from amaranth.hdl import Fragment

from openlpu import timing
from openlpu.config import preset
from openlpu.golden.fp import f16_mul_f32, f32_add
from openlpu.golden.mxm import (Act, Cycle, Load, MxmPlaneModel, acc_reuse_violations, fp16_pass,
                                gemm_schedule, int8_pass, run_schedule, tree_pairs)
from openlpu.rtl.mxm import Mxm, MxmPlane
from openlpu.verif.mxm_scenarios import SCENARIOS, scenario
from openlpu.verif.runner import SIMULATORS, amaranth_run, require_simulator, run_cocotb, valid_cycles

TINY = preset("tiny")


# --- golden model -------------------------------------------------------------------

def test_tree_order():
    assert tree_pairs(4) == [[(0, 1), (2, 3)], [(0, 1)]]
    assert tree_pairs(5) == [[(0, 1), (2, 3), (4,)], [(0, 1), (2,)], [(0, 1)]]
    tsp = preset("tsp")
    assert len(tree_pairs(320)) == 9 and len(tree_pairs(tsp.fp16_k)) == 7
    # the fp16 tree (7 levels of FP32_ADD_STAGES) is the deeper one at tsp size
    assert timing.mxm_tree_stages(tsp) == max(9, 7 * timing.FP32_ADD_STAGES)


def test_tree_stages_are_the_deeper_tree():
    # tiny: log2(8) int8 levels against log2(2) fp16 levels of FP32_ADD_STAGES each
    assert timing.mxm_tree_stages(TINY) == max(-(-3 // timing.MXM_TREE_LEVELS_PER_STAGE), timing.FP32_ADD_STAGES)
    assert timing.MXM_ACC_STAGES == timing.FP32_ADD_STAGES == timing.MXM_ACC_REUSE_DISTANCE


def _latency_probe(cfg, fp16):
    """A tile loaded and installed, then one activation; returns its cycle and the cycles."""
    rng = np.random.default_rng(cfg.lanes)
    words = lambda: rng.integers(0, 1 << 16, cfg.lanes).astype(np.uint16)
    cycles = [Cycle(load=Load(r, words()), install=r == cfg.lanes - 1) for r in range(cfg.lanes)]
    return len(cycles), cycles + [Cycle(act=Act(words(), fp16=fp16))]


@pytest.mark.parametrize("fp16", [False, True], ids=["int8", "fp16"])
@pytest.mark.parametrize("lanes", [4, 8, 16])
def test_latency_measured(lanes, fp16):
    """Cycles from an activation to its result, counted on the plane in the Amaranth
    simulator and on the golden model, equal ``timing.mxm_latency``. Lanes 4, 8 and 16
    have 2, 3 and 6 tree stages (int8-bound, then fp16-bound), so 7, 8 and 11 cycles."""
    cfg = TINY.replace(lanes=lanes)
    t_act, cycles = _latency_probe(cfg, fp16)
    horizon = len(cycles) + 4 * timing.mxm_latency(cfg)
    model = MxmPlaneModel(cfg)
    golden = [t for t in range(horizon) if model.step(cycles[t] if t < len(cycles) else Cycle()) is not None]
    dut = MxmPlane(cfg)
    rtl = valid_cycles(dut, lambda ctx, t: _drive(ctx, dut, cfg, cycles[t] if t < len(cycles) else Cycle()),
                       dut.result.valid, horizon)
    assert len(rtl) == len(golden) == 1, (rtl, golden)
    assert rtl[0] - t_act == golden[0] - t_act == timing.mxm_latency(cfg) == {4: 7, 8: 8, 16: 11}[lanes]


def _tile_model(fp16=True):
    rng = np.random.default_rng(5)
    w = (rng.standard_normal((8, 8)) * 2).astype(np.float16).view(np.uint16)
    model = MxmPlaneModel(TINY)
    for r in range(8):
        model.step(Cycle(load=Load(r, w[r]), install=r == 7))
    return model, w, rng


@pytest.mark.parametrize("gap", range(1, timing.MXM_ACC_REUSE_DISTANCE + 2))
def test_golden_fp16_acc_reuse(gap):
    """An fp16 ACC ``gap`` cycles after the start of its row adds to the started value when
    gap >= MXM_ACC_REUSE_DISTANCE, else to the row as it was before (zero here)."""
    model, w, rng = _tile_model()
    k = TINY.fp16_k
    x, y = ((rng.standard_normal(8) * 2).astype(np.float16).view(np.uint16) for _ in range(2))
    model.step(Cycle(act=Act(x, fp16=True, acc=False, addr=3)))
    for _ in range(gap - 1):
        model.step(Cycle())
    model.step(Cycle(act=Act(y, fp16=True, acc=True, addr=3)))
    px, py = fp16_pass(x[:k], w[:k]), fp16_pass(y[:k], w[:k])
    seen = px if gap >= timing.MXM_ACC_REUSE_DISTANCE else np.zeros(8, np.uint32)
    assert np.array_equal(model.acc[3], f32_add(seen, py))
    # an int8 ACC always sees the previous pass
    model.step(Cycle(act=Act(x, fp16=False, acc=True, addr=3)))
    xi = (x & 0xFF).astype(np.uint8).view(np.int8)
    wi = (w & 0xFF).astype(np.uint8).view(np.int8)
    assert np.array_equal(model.acc[3], f32_add(seen, py) + int8_pass(xi, wi).astype(np.uint32))


def test_scenarios_keep_the_reuse_distance():
    for name in SCENARIOS:
        bad = acc_reuse_violations(scenario(name, TINY, seed=1))
        assert bool(bad) == (name == "acc_reuse"), (name, bad[:3])
    rng = np.random.default_rng(4)
    for M in (1, 2, 3, 5):      # short M chunks: K-tiles follow each other within the distance
        a = rng.standard_normal((M, 3 * TINY.fp16_k)).astype(np.float16)
        w = rng.standard_normal((3 * TINY.fp16_k, 8)).astype(np.float16)
        sched = gemm_schedule(TINY, a, w, fp16=True)
        assert not acc_reuse_violations(sched.cycles)
        c, _ = run_schedule(TINY, sched)
        ref = a.astype(np.float64) @ w.astype(np.float64)
        assert np.allclose(c.view(np.float32), ref, rtol=1e-3, atol=1e-3)


def _reads_before_start(cycles):
    """``[(cycle, row), ...]`` of the ACCs in ``cycles`` that read a row no earlier cycle
    of ``cycles`` wrote (for an fp16 ACC: none at least the reuse distance back). The
    accumulators are not reset, so on a simulator that runs scenarios one after another
    such a read finds the previous scenario's rows, where the golden model has zeros."""
    first, bad = {}, []
    for t, cyc in enumerate(cycles):
        act = cyc.act
        if act is None:
            continue
        if act.acc and (act.addr not in first
                        or t - first[act.addr] < timing.mxm_acc_reuse_distance(act.fp16, act.acc)):
            bad.append((t, act.addr))
        first.setdefault(act.addr, t)
    return bad


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_read_only_their_own_rows(name):
    for cfg in (TINY, preset("small")):
        assert not _reads_before_start(scenario(name, cfg, seed=1)), name


@pytest.mark.parametrize("shape", [(1, 8, 8), (9, 21, 13), (40, 16, 24), (3, 3, 3)])
def test_golden_int8_gemm_equals_numpy(shape):
    rng = np.random.default_rng(sum(shape))
    M, K, N = shape
    a = rng.integers(-128, 128, (M, K)).astype(np.int8)
    w = rng.integers(-128, 128, (K, N)).astype(np.int8)
    c, _ = run_schedule(TINY, gemm_schedule(TINY, a, w))
    assert np.array_equal(c, a.astype(np.int64) @ w.astype(np.int64))


def test_golden_fp16_pass_matches_explicit_order():
    """fp16_pass equals an independent scalar loop in tree order, exact rationals per step."""
    from fractions import Fraction
    rng = np.random.default_rng(7)
    a = (rng.standard_normal(4) * 3).astype(np.float16)
    w = (rng.standard_normal((4, 3)) * 3).astype(np.float16)
    got = fp16_pass(a.view(np.uint16), w.view(np.uint16)).view(np.float32)
    for n in range(3):
        p = [np.float32(Fraction(float(a[k])) * Fraction(float(w[k, n]))) for k in range(4)]
        assert all(Fraction(float(p[k])) == Fraction(float(a[k])) * Fraction(float(w[k, n])) for k in range(4))
        expect = np.float32(np.float32(p[0] + p[1]) + np.float32(p[2] + p[3]))
        assert got[n].view(np.uint32) == expect.view(np.uint32)


def test_golden_fp16_gemm_close_to_float64():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((10, 13)).astype(np.float16)
    w = rng.standard_normal((13, 9)).astype(np.float16)
    c, _ = run_schedule(TINY, gemm_schedule(TINY, a, w, fp16=True))
    ref = a.astype(np.float64) @ w.astype(np.float64)
    assert np.allclose(c.view(np.float32), ref, rtol=1e-5, atol=1e-5)


def test_golden_int32_wraps():
    a = np.full(8, -128, dtype=np.int8)
    w = np.full((8, 8), -128, dtype=np.int8)
    model = MxmPlaneModel(TINY)
    assert np.all(int8_pass(a, w) == 8 * 16384)
    from openlpu.golden.mxm import Act, Load
    for r in range(8):
        model.step(Cycle(load=Load(r, w[r].view(np.uint8).astype(np.uint16)), install=r == 7))
    words = a.view(np.uint8).astype(np.uint16)
    model.step(Cycle(act=Act(words, acc=False)))
    for _ in range(2**31 // (8 * 16384) - 1):   # 2**14 passes of 2**17 in all
        model.step(Cycle(act=Act(words, acc=True)))
    assert np.all(model.acc[0].view(np.int32) == -2**31)


def test_utilization_is_full_after_fill():
    """A long GEMM keeps the plane busy every cycle between first and last activation."""
    rng = np.random.default_rng(1)
    M, K, N = 64, 32, 16
    a = rng.integers(-128, 128, (M, K)).astype(np.int8)
    w = rng.integers(-128, 128, (K, N)).astype(np.int8)
    sched = gemm_schedule(TINY, a, w)
    acts = [t for t, c in enumerate(sched.cycles) if c.act is not None]
    assert acts == list(range(acts[0], acts[-1] + 1)), "no bubble in the activation stream"
    assert len(acts) * TINY.lanes ** 2 == M * K * N, "every pass does lanes^2 useful MACs"
    _, outputs = run_schedule(TINY, sched)
    valid = [t for t, o in enumerate(outputs) if o is not None]
    assert valid == list(range(valid[0], valid[-1] + 1)), "one result per cycle, no bubble"


# --- Amaranth simulator (fast) -------------------------------------------------------

def _drive(ctx, dut, cfg, cyc):
    """Set the plane's inputs for one :class:`Cycle`."""
    ctx.set(dut.load.valid, cyc.load is not None)
    if cyc.load is not None:
        ctx.set(dut.load.payload.row, cyc.load.row)
        ctx.set(dut.load.payload.count, cyc.load.count)
        for i, words in enumerate(cyc.load.block):
            for n in range(cfg.lanes):
                ctx.set(dut.load.payload.data[i][0][n], int(words[n]) & 0xFF)
                ctx.set(dut.load.payload.data[i][1][n], int(words[n]) >> 8)
    ctx.set(dut.install, cyc.install)
    ctx.set(dut.act.valid, cyc.act is not None)
    if cyc.act is not None:
        ctx.set(dut.act.payload.fp16, cyc.act.fp16)
        ctx.set(dut.act.payload.acc, cyc.act.acc)
        ctx.set(dut.act.payload.addr, cyc.act.addr)
        for k in range(cfg.lanes):
            ctx.set(dut.act.payload.data[0][k], int(cyc.act.words[k]) & 0xFF)
            ctx.set(dut.act.payload.data[1][k], int(cyc.act.words[k]) >> 8)


def _amaranth_play(cfg, cycles, dut=None, columns=None):
    dut = dut or MxmPlane(cfg)
    model = MxmPlaneModel(cfg)
    checked = []

    async def bench(ctx):
        for t in range(len(cycles) + model.latency + 1):
            cyc = cycles[t] if t < len(cycles) else Cycle()
            _drive(ctx, dut, cfg, cyc)
            expected = model.step(cyc)
            valid = ctx.get(dut.result.valid)
            assert valid == (expected is not None), f"cycle {t}: valid {valid}"
            if expected is not None:
                got = [sum(ctx.get(dut.result.payload.data[b][n]) << (8 * b) for b in range(4))
                       for n in range(cfg.lanes)]
                assert ctx.get(dut.result.payload.addr) == expected[0], f"cycle {t}: addr"
                want = [int(v) if columns is None or n < columns else 0 for n, v in enumerate(expected[1])]
                assert got == want, f"cycle {t}: {got} != {want}"
                checked.append(t)
            await ctx.tick()

    amaranth_run(dut, bench)
    return checked


#: Three weight rows per load on 8 lanes: groups of 3, 3 and a partial last group of 2.
TINY_R3 = TINY.replace(mxm_load_rows=3)


@pytest.mark.parametrize("cfg", [TINY, TINY_R3, preset("small")], ids=["r1", "r3", "small_r2"])
def test_amaranth_sim_load_rows(cfg):
    """Loads of every row count (whole groups, partial loads over earlier rows, one row at a
    time from the top, the partial last group) give the golden model's results every cycle."""
    cycles = scenario("load_rows", cfg, seed=2)
    counts = {c.load.count for c in cycles if c.load is not None}
    assert counts == set(range(1, cfg.mxm_load_rows + 1)), counts
    assert _amaranth_play(cfg, cycles)


@pytest.mark.parametrize("row, count", [(1, 1), (2, 1), (6, 3), (0, 0), (0, 4), (9, 1)])
def test_golden_rejects_loads_the_plane_does_not_take(row, count):
    """Misaligned first row, rows past lanes, no rows, more than mxm_load_rows rows."""
    model = MxmPlaneModel(TINY_R3)
    with pytest.raises(ValueError, match="multiple of mxm_load_rows"):
        model.step(Cycle(load=Load(row, np.zeros((count, 8), np.uint16))))


def test_golden_load_writes_exactly_its_rows():
    model = MxmPlaneModel(TINY_R3)
    model.step(Cycle(load=Load(3, np.full((3, 8), 7, np.uint16))))
    model.step(Cycle(load=Load(3, np.full((1, 8), 9, np.uint16)), install=True))
    assert [int(model.active[k, 0]) for k in range(8)] == [0, 0, 0, 9, 7, 7, 0, 0]


@pytest.mark.parametrize("cfg", [TINY, TINY_R3, preset("small")], ids=["r1", "r3", "small_r2"])
def test_gemm_schedule_loads_a_tile_in_ceil_lanes_over_r_cycles(cfg):
    """The first activation (and install) comes with the tile's last load, ceil(lanes / R) - 1
    cycles after the first; the plane's first result mxm_latency after it, counted on the RTL."""
    rng = np.random.default_rng(8)
    a = rng.integers(-128, 128, (3, cfg.lanes)).astype(np.int8)
    w = rng.integers(-128, 128, (cfg.lanes, cfg.lanes)).astype(np.int8)
    sched = gemm_schedule(cfg, a, w)
    loads = [t for t, c in enumerate(sched.cycles) if c.load is not None]
    assert loads == list(range(-(-cfg.lanes // cfg.mxm_load_rows))) and sched.first_act == loads[-1]
    c, _ = run_schedule(cfg, sched)
    assert np.array_equal(c, a.astype(np.int64) @ w.astype(np.int64))
    dut = MxmPlane(cfg)
    rtl = valid_cycles(dut, lambda ctx, t: _drive(ctx, dut, cfg, sched.cycles[t] if t < len(sched.cycles)
                                                  else Cycle()), dut.result.valid, sched.length)
    assert rtl[0] == loads[-1] + timing.mxm_latency(cfg)


@pytest.mark.parametrize("name", ["gemm_int8", "swaps", "corners_fp16", "acc_reuse"])
def test_amaranth_sim(name):
    cycles = scenario(name, TINY, seed=11)[:120]
    checked = _amaranth_play(TINY, cycles)
    assert checked, "no result was compared"


@pytest.mark.parametrize("lanes", [4, 16])
def test_amaranth_sim_other_lanes(lanes):
    """The lanes of the Fmax sweep (docs/synthesis.md): 4 (a one-product fp16 pass) and 16."""
    cfg = TINY.replace(lanes=lanes)
    cycles = scenario("swaps", cfg, seed=lanes)[:8 * lanes]
    assert any(c.act is not None and c.act.fp16 for c in cycles)
    assert _amaranth_play(cfg, cycles)


def test_int8_only_plane():
    """``fp16=False`` (the synthesis sweep's int8 array) computes int8 passes exactly."""
    cycles = scenario("corners_int8", TINY, seed=3)[:100]
    assert all(c.act is None or not c.act.fp16 for c in cycles)
    assert _amaranth_play(TINY, cycles, dut=MxmPlane(TINY, fp16=False))


@pytest.mark.parametrize("fp16", [False, True])
def test_plane_with_lut_products(fp16):
    """A plane with only some products on ``*`` (``dsp_products``) computes the same."""
    cycles = scenario("corners_int8", TINY, seed=5)[:100]
    assert _amaranth_play(TINY, cycles, dut=MxmPlane(TINY, fp16=fp16, dsp_products=21))


def test_column_slice():
    """``columns`` (the synthesis slice) computes its columns exactly, int8 and fp16,
    and gives 0 in the others."""
    cycles = scenario("swaps", TINY, seed=9)[:120]
    assert any(c.act is not None and c.act.fp16 for c in cycles)
    assert _amaranth_play(TINY, cycles, dut=MxmPlane(TINY, columns=3), columns=3)
    with pytest.raises(ValueError, match="columns must be None or an int in 1..8"):
        MxmPlane(TINY, columns=0)


# --- cocotb on Icarus and Verilator ---------------------------------------------------

@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("preset_name", ["tiny", "tiny_r3"])
def test_cocotb(sim, preset_name):
    """tiny, and tiny with 3 rows per load (a partial last group)."""
    require_simulator(sim)
    cfg = TINY_R3 if preset_name == "tiny_r3" else preset(preset_name)
    run_cocotb(
        sim=sim, toplevel="mxm_plane", component=lambda: MxmPlane(cfg),
        test_module="openlpu.verif.tb_mxm", key=preset_name,
        extra_env={"OPENLPU_CONFIG": json.dumps(cfg.as_dict()), "OPENLPU_SEED": "1"},
    )


def test_mxm_has_one_plane_per_config_plane():
    cfg = TINY.replace(mxm_planes=3)
    dut = Mxm(cfg)
    assert len(dut.planes) == 3
    Fragment.get(dut, None)    # elaborates (and marks it used)


def test_bad_arguments_are_rejected():
    with pytest.raises(TypeError, match="LpuConfig"):
        MxmPlane({"lanes": 8})
    with pytest.raises(TypeError, match="fp16 must be a bool"):
        MxmPlane(TINY, fp16="no")
    with pytest.raises(ValueError, match="dsp_products must be None or an int in 0..64"):
        MxmPlane(TINY, dsp_products=65)
