"""Amaranth-simulator tests of the VXM integer chain against the golden model."""

import json
import math

import numpy as np
import pytest
from amaranth.sim import Simulator

from openlpu.config import preset
from openlpu.golden import vxm as gold
from openlpu.rtl.vxm import Vxm, VxmControl
from openlpu.verif.runner import SIMULATORS, require_simulator, run_cocotb
from openlpu.verif.vxm_columns import column_schedule, coverage, expected, head_schedule

TINY = preset("tiny")


def _run(cfg, schedule, lanes=None):
    """Drive ``schedule`` (:mod:`openlpu.verif.vxm_columns`, one element per cycle) and check,
    every cycle, each column's result (valid, value, tag) and fault flag against
    :func:`~openlpu.verif.vxm_columns.expected` (``lanes``: build that lane slice, whose other
    lanes give 0); returns the number of results checked."""
    dut = Vxm(cfg, lanes=lanes)
    faults, results = expected(cfg, schedule)
    A = cfg.vxm_alus
    seen, flagged = {}, set()

    async def tb(ctx):
        for cyc, entries in enumerate(schedule):
            for k in range(A):
                e = entries.get(k)
                port = dut.entry[k]
                ctx.set(port.valid, e is not None)
                if e is None:
                    continue
                for lane in range(cfg.lanes):
                    for p in range(4):
                        ctx.set(port.a[p][lane], (int(e.a[lane]) >> (8 * p)) & 0xFF)
                        ctx.set(port.b[p][lane], (int(e.b[lane]) >> (8 * p)) & 0xFF)
                ctx.set(port.ctrl, {"etype": e.etype, "alu": [{"op": o, "src": s, "imm": i & 0xFFFFFFFF}
                                                              for o, s, i in zip(e.ops, e.srcs, e.imms)]})
                ctx.set(port.len, e.len)
                ctx.set(port.tag, e.tag)
            for k in range(A):
                if ctx.get(dut.fault[k]):
                    flagged.add((cyc, k))
                out = dut.out[k]
                if ctx.get(out.valid):
                    seen[(cyc, k)] = (ctx.get(out.tag), [sum(ctx.get(out.data[p][lane]) << (8 * p) for p in range(4))
                                                         for lane in range(cfg.lanes)])
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert flagged == faults
    assert seen.keys() == results.keys()
    for key, (tag, values) in results.items():
        want = [v if lanes is None or lane < lanes else 0 for lane, v in enumerate(values)]
        assert seen[key] == (tag, want), (key, [hex(v) for v in seen[key][1]], [hex(v) for v in want])
    return len(results)


#: A narrow VXM for the Amaranth simulator (the full tiny VXM runs in cocotb below).
NARROW = TINY.replace(lanes=4, vxm_alus=2)


def _full_chains(cfg, programs):
    return head_schedule(programs) + [{}] * (gold.latency(cfg) + 1)


def test_chain_matches_golden():
    """Every op x type at the chain head, then random chains, one per cycle on column 0."""
    progs = gold.random_programs(NARROW, np.random.default_rng(1), 32 * 5 + 20)
    assert _run(NARROW, _full_chains(NARROW, progs)) == len(progs)


def test_lane_slice():
    """``lanes`` (the synthesis slice) computes its lanes exactly; the others are 0."""
    progs = gold.random_programs(NARROW, np.random.default_rng(2), 24)
    assert _run(NARROW, _full_chains(NARROW, progs), lanes=1) == len(progs)


@pytest.mark.parametrize("alus", [2, 3])
def test_columns_match_golden(alus):
    """Every chain length from every column, two columns with different ops in one cycle, a
    chain meeting an entry on its next column (fault; the chain wins), then random entries."""
    cfg = NARROW.replace(vxm_alus=alus)
    sched = column_schedule(cfg, np.random.default_rng(3), 60)
    chains, per_cycle, faults = coverage(cfg, sched)
    assert chains == {(k, n) for k in range(alus) for n in range(1, alus - k + 1)}
    assert per_cycle >= 2 and faults >= 1
    assert _run(cfg, sched) > 0


def test_bad_config_rejected():
    with pytest.raises(TypeError):
        Vxm("tiny")
    for lanes in (0, NARROW.lanes + 1, True):
        with pytest.raises(ValueError, match="lanes must be None or an int in 1..4"):
            Vxm(NARROW, lanes=lanes)
    with pytest.raises(ValueError):
        gold.alu(99, 0, np.zeros(1), np.zeros(1))


@pytest.mark.parametrize("sim", SIMULATORS)
def test_cocotb(sim):
    require_simulator(sim)
    from cocotb_tools.runner import get_results
    results = run_cocotb(sim=sim, toplevel="vxm", component=lambda: Vxm(TINY), test_module="openlpu.verif.tb_vxm",
                         key="tiny", extra_env={"OPENLPU_CONFIG": json.dumps(TINY.as_dict()), "OPENLPU_SEED": "5"})
    assert get_results(results) == (2, 0)       # random_chains and columns


def test_control_pack_matches_layout():
    """golden pack/unpack == the RTL StructLayout packing; word count from both sides."""
    from amaranth.hdl import Const
    from openlpu import isa
    from openlpu.rtl.vxm import vxm_control_words
    for cfg in (TINY, preset("small"), preset("tsp")):
        assert vxm_control_words(cfg) == gold.vxm_control_words(cfg) == isa.vxm_control_words(cfg)
        assert [f[1] + f[2] for f in gold.control_fields(cfg)][-1] == VxmControl(cfg).size
    rng = np.random.default_rng(9)
    layout = VxmControl(TINY)
    for etype, ops, srcs, imms, _, _ in gold.random_programs(TINY, rng, 40, head=False):
        words = gold.pack_control(TINY, etype, ops, srcs, imms)
        value = Const.cast(layout.const({"etype": etype, "alu": [{"op": o, "src": s, "imm": i}
                                                                 for o, s, i in zip(ops, srcs, imms)]})).value
        assert sum(w << (32 * k) for k, w in enumerate(words)) == value
        assert gold.unpack_control(TINY, words) == (etype, ops, srcs, imms)
    with pytest.raises(ValueError, match="element type"):
        gold.pack_control(TINY, 7, [0] * 4, [0] * 4, [0] * 4)
    with pytest.raises(ValueError, match="op"):
        gold.pack_control(TINY, 0, [32, 0, 0, 0], [0] * 4, [0] * 4)
    with pytest.raises(ValueError, match="words"):
        gold.unpack_control(TINY, [0])


def _ref_requantize(acc, mult, shift, zp):
    """TFLite MultiplyByQuantizedMultiplier (right shift) + zero point + int8 clamp, from fractions."""
    from fractions import Fraction
    out = []
    for x in acc:
        x = int(x)
        if x == mult == -2**31:
            hi = 2**31 - 1
        else:
            p = Fraction(x * mult, 2**31)                  # doubling high mul: gemmlowp's nudge rounds
            hi = math.floor(p + Fraction(1, 2))            # ties toward +infinity
        q = Fraction(hi, 2**shift)                          # rounding divide by 2**shift, half away from zero
        r = int(abs(q) + Fraction(1, 2)) * (1 if q >= 0 else -1)
        out.append(min(127, max(-128, r + zp)))
    return out


def test_requantize_matches_reference():
    rng = np.random.default_rng(10)
    acc = np.concatenate([rng.integers(-2**31, 2**31, 400), [0, 1, -1, 2**31 - 1, -2**31, 3, -3, 5, -5]])
    for mult, shift, zp in ((1 << 30, 0, 0), (1518500250, 7, -3), (2**31 - 1, 31, 5), (-2**31, 1, 0),
                            (1 << 30, 1, 0), (1234567890, 12, 127), (1 << 30, 2, -128)):
        imm = shift | ((zp & 0xFF) << 8)
        got = gold.chain([gold.OPS["rqmul"], gold.OPS["rqout"]], gold.TYPES["int32"], [1, 1],
                         [mult & 0xFFFFFFFF, imm], acc, np.zeros_like(acc))
        want = np.array(_ref_requantize(acc, mult, shift, zp), dtype=np.int64) & 0xFF
        assert (got == want).all(), (mult, shift, zp)
    # ties: half away from zero at both roundings
    t = gold.chain([gold.OPS["rqmul"], gold.OPS["rqout"]], 2, [1, 1], [1 << 30, 1], np.array([3, -3, 5, -5]),
                   np.zeros(4))
    # 3/2 = 1.5 -> 2, 2/2 = 1;  -1.5 -> -1, -1/2 = -0.5 -> -1;  2.5 -> 3, 3/2 = 1.5 -> 2;  -2.5 -> -2, -2/2 = -1
    assert list(t) == [1, 0xFF, 2, 0xFF]


@pytest.mark.slow
@pytest.mark.parametrize("sim", SIMULATORS)
def test_cocotb_regression(sim):
    """Many more vectors: 3,000 instructions on the tiny VXM, another seed."""
    require_simulator(sim)
    run_cocotb(sim=sim, toplevel="vxm", component=lambda: Vxm(TINY), test_module="openlpu.verif.tb_vxm",
               key="tiny", test_name="regression",
               extra_env={"OPENLPU_CONFIG": json.dumps(TINY.as_dict()), "OPENLPU_SEED": "77",
                          "OPENLPU_COUNT": "3000"})


def test_fp16_unary_ops_exhaustive_golden():
    """abs, neg, relu, cvt to fp32 and to int16 over all 65,536 fp16 inputs against numpy."""
    x = np.arange(1 << 16, dtype=np.int64)
    f = x.astype(np.uint16).view(np.float16)
    H = gold.TYPES["fp16"]
    nan = np.isnan(f)
    run = lambda op, imm=0: gold.chain([gold.OPS[op]], H, [1], [imm], x, np.zeros_like(x))
    assert (run("abs") == np.abs(f).view(np.uint16)).all()          # numpy abs/neg are sign-bit ops
    assert (run("neg") == (-f).view(np.uint16)).all()
    relu = np.where(nan, 0x7E00, np.where(f > 0, x, 0))              # maximum(x, +0): -0 -> +0
    assert (run("relu") == relu).all()
    up = np.where(nan, 0x7FC00000, f.astype(np.float32).view(np.uint32))
    assert (run("cvt", gold.TYPES["fp32"]) == up).all()
    ref16 = np.clip(np.rint(np.nan_to_num(f.astype(np.float64), nan=0, posinf=1e9, neginf=-1e9)), -32768, 32767)
    assert (run("cvt", gold.TYPES["int16"]) == (ref16.astype(np.int64) & 0xFFFF)).all()
