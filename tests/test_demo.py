"""The main job, ``openlpu demo``: its checks, its summary and exit status, and which chips it
simulates in RTL (``--rtl``, none at ``--preset tsp``)."""

import pytest

from openlpu import demo, workloads
from openlpu.cli import _rtl_preset, build_parser, main
from openlpu.config import preset
from openlpu.verif import lpu_cases, runner
from openlpu.verif.runner import require_simulator


def _no_rtl(monkeypatch):
    """Make every way into an RTL simulator (conversion, build, cocotb run) raise."""
    def refuse(*args, **kwargs):
        raise AssertionError("the demo elaborated RTL where it should not")
    for mod, name in ((runner, "design_verilog"), (runner, "build_model"), (runner, "run_cocotb"),
                      (demo, "run_cocotb"), (lpu_cases, "run_rtl"), (lpu_cases, "build_chip")):
        monkeypatch.setattr(mod, name, refuse)


def test_rtl_preset_choice():
    """``--rtl`` defaults to tiny, to none at ``--preset tsp``; ``--rtl none`` is no RTL."""
    parse = build_parser().parse_args
    assert _rtl_preset(parse(["demo", "--preset", "small"])) == "tiny"
    assert _rtl_preset(parse(["demo", "--preset", "tsp"])) is None
    assert _rtl_preset(parse(["demo", "--preset", "small", "--rtl", "none"])) is None
    assert _rtl_preset(parse(["demo", "--preset", "tsp", "--rtl", "duo"])) == "duo"


def test_demo_without_rtl_passes_on_golden(monkeypatch, capsys):
    """``--rtl none``: no RTL elaborated; the MLP and the block compiled for small and run on the
    golden simulator (cycles and output checks, all PASS), the MLP projected to tsp, last line PASS."""
    _no_rtl(monkeypatch)
    assert main(["demo", "--preset", "small", "--rtl", "none"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == "PASS"
    rows = [ln.split() for ln in out[out.index("\nSummary ("):].splitlines()[4:-1]]
    assert [(r[0], r[-1]) for r in rows if "small" in r] == [("mlp", "PASS")] * 2 + [("transformer", "PASS")] * 2
    assert all("golden" in r for r in rows)
    projected = [ln.split() for ln in out.splitlines() if ln.startswith("mlp ") and " tsp " in ln]
    assert len(projected) == 1 and "images/s" in projected[0]


def test_demo_fails_when_a_check_fails(monkeypatch, capsys):
    """A workload whose reference differs from what the chip computes (one value off): that
    check is FAIL in the summary, the last line FAIL, exit status 1."""
    _no_rtl(monkeypatch)
    real = workloads.Workload.reference
    monkeypatch.setattr(workloads.Workload, "reference", lambda self: real(self) + 1)
    assert main(["demo", "--preset", "small", "--rtl", "none"]) == 1
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == "FAIL"
    failed = [ln for ln in out.splitlines() if ln.endswith("FAIL") and "output == graph reference" in ln]
    assert len(failed) == 2                          # the MLP's and the block's


@pytest.mark.parametrize("sim", ["verilator"])
def test_demo_workloads_on_the_tiny_chip(sim, capsys):
    """The RTL step's compiled workloads at tiny: the MLP and the block on golden and on ``sim``,
    each program's cycles == the compiler's prediction and the output == the graph reference."""
    require_simulator(sim)
    checks = demo.workloads_on(preset("tiny"), "tiny", ["golden", sim], 1, {})
    assert [(c.step, c.where) for c in checks] == [
        (name, f"tiny / {backend}") for name in ("mlp", "transformer") for backend in ("golden", sim) for _ in (0, 1)]
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


@pytest.mark.slow
def test_demo_tsp_compiles_and_projects_without_rtl(monkeypatch, capsys):
    """``--preset tsp``: no RTL elaborated; the MLP runs on the golden simulator, the block (too
    large for it) is compiled only; both projected with images/s and tokens/s; PASS."""
    _no_rtl(monkeypatch)
    assert main(["demo", "--preset", "tsp"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == "PASS"
    table = out[out.index("3. Projection"):out.index("\nSummary (")]
    assert "images/s" in table and "tokens/s" in table
    assert all(" tsp " in ln for ln in table.splitlines()[3:] if ln.strip())
