"""The chip: ISA tables, assembler, golden ISA simulator, and RTL == golden on both simulators."""

import json

import numpy as np
import pytest

from openlpu import isa
from openlpu.asm import AsmError, assemble, disassemble, load_image, save_image
from openlpu.config import preset
from openlpu.isa import ErrorCode
from openlpu.rtl.lpu import Lpu
from openlpu.verif.lpu_cases import expect, run_rtl, compare
from openlpu.verif.golden_mutants import PORT_MUTANTS, mutant, mutants_disagree
from openlpu.verif.lpu_directed import directed_cases
from openlpu.verif.regress import CI_SEEDS, seed_cases
from openlpu.verif.runner import SIMULATORS, lint, lint_modules, require_simulator, write_verilog

TINY = preset("tiny")
SMALL = preset("small")


def _random_instr(rng, op):
    args = []
    for f in op.fields:
        if f.kind == "stream":
            args.append((int(rng.integers(2)), int(rng.integers(32))))
        elif f.kind == "s":
            args.append(int(rng.integers(-(1 << (f.width - 1)), 1 << (f.width - 1))))
        else:
            args.append(int(rng.integers(0, 1 << f.width)))
    return isa.Instr(op, tuple(args))


def test_every_instruction_round_trips():
    rng = np.random.default_rng(1)
    for op in isa.OPS:
        for _ in range(50):
            ins = _random_instr(rng, op)
            word = isa.encode(ins)
            assert isa.decode(word) == ins
            assert assemble(f".queue mem0\n{ins}")["mem0"] == [word]


def test_decode_rejects_what_is_not_an_instruction():
    with pytest.raises(isa.IsaError, match="undefined opcode"):
        isa.decode(0)
    with pytest.raises(isa.IsaError, match="outside its fields"):
        isa.decode(isa.encode(isa.make("END")) | 1 << 63)
    with pytest.raises(isa.IsaError, match="does not fit"):
        isa.make("NOP", 1 << 16)


def test_assembler_names_the_bad_line():
    with pytest.raises(AsmError, match="line 3: unknown instruction 'FROB'"):
        assemble(".queue mem0\nNOP 1\nFROB 2\n", TINY)
    with pytest.raises(AsmError, match="line 2: .*not a stream"):
        assemble(".queue mem0\nREAD 1, x4\n", TINY)
    with pytest.raises(AsmError, match="does not exist"):
        assemble(".queue mem9\nEND\n", TINY)
    with pytest.raises(AsmError, match="before the first .queue"):
        assemble("END\n", TINY)


def test_random_programs_disassemble_and_image_round_trip(tmp_path):
    cases, usage = seed_cases(TINY, range(3))
    for case in cases:
        prog = case["program"]
        assert assemble(disassemble(prog), TINY) == prog
        save_image(prog, tmp_path / "p.lpu")
        assert load_image(tmp_path / "p.lpu") == prog
    (tmp_path / "bad.lpu").write_bytes(b"XXXX")
    with pytest.raises(AsmError, match="bad magic"):
        load_image(tmp_path / "bad.lpu")


def test_random_programs_use_every_instruction():
    _, usage = seed_cases(TINY, range(12))
    missing = [op.name for op in isa.OPS if usage[op.name] == 0]
    assert not missing, f"the generator never used {missing}"


@pytest.mark.parametrize("name", [c[0] for c in directed_cases(TINY)])
def test_golden_directed(name):
    """Each directed program does what the ISA says, on the golden ISA simulator."""
    cases = directed_cases(TINY)
    idx = [c[0] for c in cases].index(name)
    obs = expect(TINY, [c[1] for c in cases])[idx]
    cases[idx][2](obs)


#: Two weight rows per LW (duo), three on 8 lanes (a partial last row group).
LOAD_ROWS_CFGS = {"duo": preset("duo"), "tiny_r3": TINY.replace(mxm_load_rows=3)}


@pytest.mark.parametrize("cfg_name", sorted(LOAD_ROWS_CFGS))
def test_golden_directed_multirow_loads(cfg_name):
    """With more than one weight row per LW, every directed program (the MXM tile loaded in
    ceil(lanes / R) LWs, the LW errors) does what the ISA says on both golden simulators,
    with equal cycles. duo runs them on the RTL too (tests/test_wavefront.py)."""
    from openlpu.golden.lpu import LpuModel
    from openlpu.golden.lpu_reference import LpuReferenceModel
    from openlpu.verif.lpu_cases import load_case
    cfg = LOAD_ROWS_CFGS[cfg_name]
    cases = directed_cases(cfg)
    assert any(name == "bad_address_lw_misaligned" for name, _, _ in cases)
    for (name, case, check), obs in zip(cases, expect(cfg, [c[1] for c in cases])):
        check(obs)
        runs = []
        for model in (LpuModel(cfg), LpuReferenceModel(cfg)):
            load_case(model, case)
            r = model.run(max_cycles=case["max_cycles"])
            runs.append((r.cycles, int(r.error), r.error_pc, [m.words for m in model.mem]))
        assert runs[0][:3] == runs[1][:3], name
        assert all(np.array_equal(a, b) for a, b in zip(runs[0][3], runs[1][3])), name


def test_random_programs_complete_on_golden():
    cases, _ = seed_cases(SMALL, range(4))
    for obs in expect(SMALL, cases):
        assert obs["done"] and not obs["error"], obs


def test_lint_tiny(tmp_path):
    path = write_verilog(Lpu(TINY), "lpu", tmp_path / "lpu.v")
    result = lint(path, "lpu")
    assert result.returncode == 0, result.stderr
    # module by module (how tsp is linted): clean too, and a connection to a port the child
    # does not have is found in the parent's run
    assert lint_modules(path) == []
    text = path.read_text()
    broken = tmp_path / "broken.v"
    broken.write_text(text.replace("    .go(go),", "    .go_typo(go),", 1))
    assert [name for name, _ in lint_modules(broken)] == ["lpu"]


@pytest.mark.slow
def test_lint_small(tmp_path):
    path = write_verilog(Lpu(SMALL), "lpu", tmp_path / "lpu.v")
    result = lint(path, "lpu")
    assert result.returncode == 0, result.stderr


#: Random programs every chip run checks besides the fixed CI_SEEDS: drawn from the live seed.
LIVE_PROGRAMS = 4


def live_seeds(live_seed, count):
    """``count`` program seeds from the run's live seed, clear of the fixed seed ranges."""
    return [10_000 + (live_seed * count + i) % 2 ** 31 for i in range(count)]


@pytest.mark.parametrize("sim", SIMULATORS)
def test_rtl_matches_golden(sim, live_seed):
    """Every directed program, 8 fixed random ones and 4 drawn from the live seed: every stream
    register of every stop equal to the golden model's in every cycle of the run
    (``compare_streams``), then equal SRAM, status, errors, ECC counters, cycles. Loaded and read
    back through the host port only, as a host driver would. The port and VXM column cases must
    disagree with the golden mutants of ``golden_mutants.PORT_MUTANTS`` (a VOP result a cycle
    late among them)."""
    require_simulator(sim)
    directed = directed_cases(TINY)
    seeds = [*CI_SEEDS, *live_seeds(live_seed, LIVE_PROGRAMS)]
    rand, _ = seed_cases(TINY, seeds)
    cases = [c[1] for c in directed] + rand
    labels = [c[0] for c in directed] + [f"seed {s}" for s in seeds]
    expected = expect(TINY, cases, streams=True)
    for (name, _, check), obs in zip(directed, expected):
        check(obs)
    got = run_rtl(TINY, sim, cases, "tiny", path="host", stream_trace=True)
    assert all("streams" in g for g in got), "the testbench returned no stream trace"
    compare(expected, got, labels, cfg=TINY)
    mutants_disagree(TINY, cases, labels, got)


#: Fixed seeds of the long random programs with faults (the golden model picks which run in RTL).
FAULT_SEEDS = range(2000, 2030)


@pytest.mark.parametrize("sim", SIMULATORS)
def test_long_programs_with_faults(sim, live_seed):
    """Random programs of about 500 cycles with two faults each at random points (illegal
    words, bad addresses, ECC errors: verif/progen_faults.py). Of 30 fixed seeds, the first
    that ends in each outcome (done, or each error code) runs in RTL, with 2 live-seed
    programs: every stream register in every cycle, then SRAM, status, error queue and pc, ECC
    counters and the stop cycle equal to the golden model's."""
    require_simulator(sim)
    fixed, _ = seed_cases(TINY, FAULT_SEEDS, length=500, faults=2)
    outcomes = {}
    for seed, case, obs in zip(FAULT_SEEDS, fixed, expect(TINY, fixed)):
        outcomes.setdefault(obs["code"], (seed, case))
    assert len(outcomes) >= 4, f"the faults reached only {sorted(outcomes)}"
    live = live_seeds(live_seed, 2)
    rand, _ = seed_cases(TINY, live, length=500, faults=2)
    cases = [c for _, c in outcomes.values()] + rand
    labels = [f"seed {s} (length 500, faults 2)" for s, _ in outcomes.values()] + \
        [f"live seed {s} (length 500, faults 2)" for s in live]
    expected = expect(TINY, cases, streams=True)
    got = run_rtl(TINY, sim, cases, "tiny", stream_trace=True)
    assert all("streams" in g for g in got), "the testbench returned no stream trace"
    compare(expected, got, labels, cfg=TINY)


def test_rtl_host_port_with_vectors_of_two_beats():
    """16 lanes on a 64-bit host bus: every vector is two AXI beats and every instruction row one
    instruction; random programs loaded and read back through the host port match the golden
    model (SRAM, status, ECC counters, cycles)."""
    require_simulator("icarus")
    cfg = TINY.replace(lanes=16, host_bytes=8)
    assert (cfg.host_vector_beats, cfg.imem_row) == (2, 1)
    cases, _ = seed_cases(cfg, range(3000, 3002))
    compare(expect(cfg, cases), run_rtl(cfg, "icarus", cases, "tiny16-bus8", path="host"),
            [f"seed {s}" for s in range(3000, 3002)])


@pytest.mark.slow
def test_rtl_small_random_programs():
    require_simulator("verilator")
    cases, _ = seed_cases(SMALL, range(2000, 2020))
    compare(expect(SMALL, cases), run_rtl(SMALL, "verilator", cases, "small"),
            [f"seed {s}" for s in range(2000, 2020)])


def test_docs_encoding_table_is_current():
    from pathlib import Path
    text = (Path(__file__).resolve().parent.parent / "docs" / "chip.md").read_text()
    assert isa.encoding_table() in text, "docs/chip.md: regenerate the table with python -m openlpu.isa"


def test_linear_layer_program_on_golden():
    """The hand-written int8 linear layer computes numpy's requant(x @ W + b) with ReLU."""
    from openlpu.verif.linear_demo import linear_case, read_y
    for seed in (1, 2):
        case, ref = linear_case(SMALL, seed)
        obs = expect(SMALL, [case])[0]
        assert obs["done"], obs
        np.testing.assert_array_equal(read_y(SMALL, obs), ref)


@pytest.mark.slow
def test_linear_layer_program_on_rtl():
    from openlpu.verif.linear_demo import linear_case, read_y
    require_simulator("verilator")
    case, ref = linear_case(SMALL, 3)
    expected = expect(SMALL, [case])
    got = run_rtl(SMALL, "verilator", [case], "small", path="host")     # the small chip's host-port test
    compare(expected, got)
    np.testing.assert_array_equal(read_y(SMALL, got[0]), ref)


def test_functional_coverage_of_the_ci_programs(capsys):
    """The programs the RTL runs in every CI run (directed and fixed seeds) cover every bin of every cover point and cross
    (the sign-off target is 100% of points and >= 75% of crosses; all are full, keep them so)."""
    from openlpu.verif import fcov
    cases = [c[1] for c in directed_cases(TINY)] + seed_cases(TINY, CI_SEEDS)[0]
    fcov.sample_cases(TINY, cases)
    print("\n".join(fcov.report()))
    for name, item in fcov._items():
        assert item.cover_percentage == 100.0, f"{name}: {item.cover_percentage:.1f}%, holes {fcov.holes()}"


@pytest.mark.parametrize("case, mutation", PORT_MUTANTS)
def test_port_cases_reject_a_golden_model_with_wrong_mem_timing(case, mutation):
    """The same-cycle read/write and scrub/write checks fail on a golden model whose write is
    seen one cycle early or late, or whose scrub rewrite wins, and the VXM column checks on one
    whose VOP results come a cycle late (and pass on the real one: ``test_golden_directed``)."""
    cases = directed_cases(TINY)
    idx = [c[0] for c in cases].index(case)
    with mutant(mutation):
        obs = expect(TINY, [c[1] for c in cases[:idx + 1]])[idx]
    with pytest.raises(AssertionError):
        cases[idx][2](obs)
