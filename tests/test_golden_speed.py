"""The fast golden ISA simulator (:class:`openlpu.golden.lpu.LpuModel`) against the slow reference
(:class:`openlpu.golden.lpu_reference.LpuReferenceModel`): the same programs, run one after the
other on one model of each, must leave every observable equal.

Compared after every run (:func:`observe`): the :class:`~openlpu.golden.lpu.RunResult` (cycles,
done, error code, queue and pc, and with ``trace`` and ``provenance`` the issue trace, the stream
write log, the ECC log and the provenance of every operand read), every stored 72-bit SRAM word
(data and check bits), every slice's ECC counters and last event, the stream registers, and each
MXM plane's weight tiles, accumulator rows (as written and as an fp16 ACC sees them), pending
visibility queue and clock (they carry over to the next run). The programs: random legal ones
(:func:`openlpu.verif.regress.seed_cases`) at tiny, small, duo (two superlanes) and mid (three),
the directed ones (every error path), and compiled networks.
"""

import numpy as np
import pytest

from openlpu.compiler.graph import Graph
from openlpu.compiler.lower import compile_graph
from openlpu.compiler.models import mlp_classifier, transformer_block
from openlpu.config import preset
from openlpu.golden import lpu as fast
from openlpu.golden.lpu import LpuModel
from openlpu.golden.lpu_reference import LpuReferenceModel
from openlpu.verif.lpu_cases import load_case
from openlpu.verif.lpu_directed import directed_cases
from openlpu.verif.regress import seed_cases

#: Random programs per preset (they run one after the other on one model pair).
SEEDS = {"tiny": range(500, 516), "small": range(600, 610), "duo": range(700, 712), "mid": range(800, 806)}


def observe(model, result):
    """Everything a run leaves that the host, a test or the next run can see."""
    planes = [{"shadow": p.shadow.tolist(), "active": p.active.tolist(), "acc": p.acc.tolist(),
               "acc_seen": p.acc_seen.tolist(), "cycle": p.cycle,
               "recent": [(c, r, v.tolist()) for c, r, v in p._recent]} for p in model.planes]
    return {
        "cycles": result.cycles, "done": result.done, "error": int(result.error),
        "error_queue": result.error_queue, "error_pc": result.error_pc,
        "trace": result.trace, "stream_log": result.stream_log, "reads": result.reads, "ecc_log": result.ecc_log,
        "sram": [m.words for m in model.mem],
        "ecc": [(m.corrected, m.detected, m.range_errors, m.last_addr, m.last_syndrome) for m in model.mem],
        "streams": np.asarray(model.streams).tolist(),
        "planes": planes,
    }


def assert_same(want, got, label):
    """Equal observations; the message names the run and the first observable that differs."""
    for key in want:
        if want[key] != got[key]:
            if isinstance(want[key], list) and isinstance(got[key], list):
                first = next((i for i, (a, b) in enumerate(zip(want[key], got[key])) if a != b),
                             min(len(want[key]), len(got[key])))
                detail = (f"lengths {len(want[key])} / {len(got[key])}, first difference at {first}: "
                          f"reference {want[key][first] if first < len(want[key]) else '-'!s:.300} "
                          f"fast {got[key][first] if first < len(got[key]) else '-'!s:.300}")
            else:
                detail = f"reference {want[key]!s:.300} fast {got[key]!s:.300}"
            raise AssertionError(f"{label}: {key} differs ({detail})")


def run_pair(cfg, cases, labels, **kw):
    """Run the cases one after the other on a reference and a fast model; compare after each."""
    ref, new = LpuReferenceModel(cfg), LpuModel(cfg)
    for case, label in zip(cases, labels):
        obs = []
        for model in (ref, new):
            load_case(model, case)
            obs.append(observe(model, model.run(max_cycles=case["max_cycles"], **kw)))
        assert_same(*obs, label)


@pytest.mark.parametrize("name", list(SEEDS))
def test_random_programs_match_the_reference(name):
    """Random legal programs, traced and with provenance: every observable equal after every run."""
    cfg = preset(name)
    cases, _ = seed_cases(cfg, SEEDS[name])
    run_pair(cfg, cases, [f"{name} seed {s}" for s in SEEDS[name]], trace=True, provenance=True)


@pytest.mark.parametrize("name", ["tiny", "duo"])
def test_directed_programs_match_the_reference(name):
    """Every directed program (each error path: poisoned reads, bad addresses, deadlock, SXM
    fault, ...), with and without trace and provenance."""
    cfg = preset(name)
    directed = directed_cases(cfg)
    cases, labels = [c[1] for c in directed], [c[0] for c in directed]
    run_pair(cfg, cases, labels, trace=True, provenance=True)
    run_pair(cfg, cases, labels)


def _compiled_runs(cfg, compiled, inputs, **kw):
    """Run every segment of a compiled program on both models (SRAM loaded once); compare."""
    ref, new = LpuReferenceModel(cfg), LpuModel(cfg)
    for model in (ref, new):
        for (s, a), vec in compiled.sram_image(inputs).items():
            model.mem[s].load(a, vec)
    for k, sg in enumerate(compiled.segments):
        obs = []
        for model in (ref, new):
            model.load_program(sg.words())
            obs.append(observe(model, model.run(max_cycles=sg.cycles + 1000, **kw)))
        assert_same(*obs, f"segment {k}")
        assert obs[1]["done"] and obs[1]["cycles"] == sg.cycles


def _chain(cfg, rows, dims, seed):
    rng = np.random.default_rng(seed)
    g = Graph()
    t = g.input("x", (rows, dims[0]))
    for i in range(len(dims) - 1):
        t = g.dense(t, rng.integers(-128, 128, (dims[i], dims[i + 1])).astype(np.int8), 3, 12, relu=i == 0)
    g.output(t)
    return compile_graph(g, cfg, rows), {"x": rng.integers(-128, 128, (rows, dims[0])).astype(np.int8)}


def test_compiled_mlp_matches_the_reference():
    """The compiler's MLP classifier on small, as the runtime runs it (provenance) and traced."""
    cfg = preset("small")
    mlp = mlp_classifier(seed=0)
    c = compile_graph(mlp.graph, cfg, 64)
    _compiled_runs(cfg, c, {"x": mlp.quantize_input(mlp.x_test[:64])}, trace=True, provenance=True)


@pytest.mark.parametrize("name,rows,dims", [("duo", 20, (40, 24, 16)), ("mid", 30, (48, 30, 20))])
def test_compiled_chains_on_superlanes_match_the_reference(name, rows, dims):
    """Dense chains compiled for two and three superlanes (the wavefront delays)."""
    cfg = preset(name)
    _compiled_runs(cfg, *_chain(cfg, rows, dims, rows), trace=True, provenance=True)


def test_compiled_transformer_block_matches_the_reference():
    """The transformer block on tiny: several programs, softmax, layer norm, GELU, transposes."""
    cfg = preset("tiny")
    model = transformer_block(seed=0, d=cfg.lanes, seq=cfg.lanes)
    xq = model.quantize_input(np.random.default_rng(5).normal(0, 1, (cfg.lanes, cfg.lanes)))
    c = compile_graph(model.graph, cfg, cfg.lanes)
    assert len(c.segments) > 1
    _compiled_runs(cfg, c, {"x": xq}, trace=True, provenance=True)


def test_a_skip_one_cycle_too_far_is_caught(monkeypatch):
    """The skip is checked: with the idle skip landing one cycle after the next event, the random
    programs no longer match the reference, or a unit model's guard against idling over an
    output it has due (``MxmPlaneModel.idle``, ``SxmModel.idle``) stops the fast run first."""
    right = fast._Run.next_cycle

    def one_too_far(self, t):
        nxt = right(self, t)
        return nxt + 1 if nxt > t + 1 else nxt
    monkeypatch.setattr(fast._Run, "next_cycle", one_too_far)
    cfg = preset("tiny")
    cases, _ = seed_cases(cfg, SEEDS["tiny"])
    with pytest.raises(AssertionError, match="differs|due in the idle cycles"):
        run_pair(cfg, cases, [f"seed {s}" for s in SEEDS["tiny"]], trace=True, provenance=True)
