"""A missing tool skips its tests, and fails them under ``OPENLPU_REQUIRE_SIMS=1`` (CI).

Each case runs pytest in a subprocess on one test that needs a tool, with a
plugin that makes the tool's lookup report it missing before the test files
are collected (so a module-level ``skipif`` on the lookup would see it too),
and reads each test's outcome from the JUnit XML report. The hidden test
fails or skips in its setup, so no tool runs.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: test id -> (module whose lookup is replaced, lookup function)
CASES = {
    "tests/test_formal.py::test_cut_point_must_match": ("openlpu.verif.formal", "tools_missing"),
    "tests/test_synth.py::test_unit_through_cli": ("openlpu.synth", "yosys_missing"),
    "tests/test_cli.py::test_generate_mxm_tiny_lints_clean": ("openlpu.verif.runner", "simulator_missing"),
}

_PLUGIN = "import importlib\n" + "".join(
    f"importlib.import_module({module!r}).{func} = lambda *args: 'hidden by test_require_tools'\n"
    for module, func in CASES.values())


def _outcomes(tmp_path, require):
    (tmp_path / "hide_tools.py").write_text(_PLUGIN)
    env = {k: v for k, v in os.environ.items() if k != "OPENLPU_REQUIRE_SIMS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    if require:
        env["OPENLPU_REQUIRE_SIMS"] = "1"
    report = tmp_path / "report.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "hide_tools", "-p", "no:cacheprovider",
                           f"--junitxml={report}", *CASES], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        messages = " ".join(child.get("message", "") for child in case)
        outcomes[case.get("name")] = (kinds[0] if kinds else "passed", messages)
    assert len(outcomes) == len(CASES), proc.stdout + proc.stderr
    return proc.returncode, outcomes


def test_missing_tool_fails_when_required(tmp_path):
    code, outcomes = _outcomes(tmp_path, require=True)
    assert code != 0
    for name, (kind, message) in outcomes.items():
        # a pytest.fail in a fixture is an error, in the test body a failure: neither is a skip
        assert kind in ("failure", "error"), f"{name}: {kind}"
        assert "OPENLPU_REQUIRE_SIMS=1" in message and "hidden by test_require_tools" in message, message


def test_missing_tool_skips_with_the_reason(tmp_path):
    code, outcomes = _outcomes(tmp_path, require=False)
    assert code == 0
    for name, (kind, message) in outcomes.items():
        assert kind == "skipped", f"{name}: {kind}"
        assert "unavailable: hidden by test_require_tools" in message, message

