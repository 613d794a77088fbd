"""The simulator build cache: keyed by the design, shared across keys, rebuilt on change.

The fingerprint tests are pure Python; the build tests run Icarus Verilog on a
four-bit adder in a private build root, and both simulators on the MXM
harness (:mod:`openlpu.verif.mxm_harness`), whose replay is checked against
the golden model like the cycle-driven testbench.
"""

import json

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from openlpu.config import preset
from openlpu.verif import runner
from openlpu.verif.design_cache import design_fingerprint
from openlpu.verif.mxm_harness import MxmGemmHarness
from openlpu.verif.runner import SIMULATORS, require_simulator, run_cocotb


class Adder(wiring.Component):
    def __init__(self, width, note="plain"):
        self._width = width
        self._note = note
        super().__init__({"a": In(width), "b": In(width), "o": Out(width + 1)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(self.a + self.b)
        return m


def test_fingerprint_follows_the_design():
    assert design_fingerprint(Adder(4), "add") == design_fingerprint(Adder(4), "add")
    assert design_fingerprint(Adder(4), "add") != design_fingerprint(Adder(5), "add")
    assert design_fingerprint(Adder(4), "add") != design_fingerprint(Adder(4, note="other"), "add")
    assert design_fingerprint(Adder(4), "add") != design_fingerprint(Adder(4), "add2")
    tiny = preset("tiny")
    assert design_fingerprint(MxmGemmHarness(tiny), "h") != design_fingerprint(MxmGemmHarness(tiny.replace(lanes=4)), "h")


def test_no_fingerprint_for_state_that_is_not_plain_data():
    assert design_fingerprint(Adder(4, note=object()), "add") is None
    assert design_fingerprint(Module(), "m") is None


@pytest.fixture
def counted(tmp_path, monkeypatch):
    """A private build root; counts conversions and the simulator builds asked of cocotb."""
    monkeypatch.setattr(runner, "BUILD_ROOT", tmp_path)
    counts = {"convert": 0, "build": 0}
    convert = runner.verilog_text

    def counting_convert(component, name):
        counts["convert"] += 1
        return convert(component, name)
    monkeypatch.setattr(runner, "verilog_text", counting_convert)
    sim_runner = runner._get_runner("icarus")
    commands = type(sim_runner)._build_command

    def counting_commands(self):
        counts["build"] += 1
        return commands(self)
    monkeypatch.setattr(type(sim_runner), "_build_command", counting_commands)
    return sim_runner, counts


def test_build_cache_hit_and_miss(counted):
    require_simulator("icarus")
    sim_runner, counts = counted
    first = runner._build(sim_runner, "icarus", "add", lambda: Adder(4), None)
    assert counts == {"convert": 1, "build": 1}
    assert (first / "built.stamp").exists()
    again = runner._build(sim_runner, "icarus", "add", lambda: Adder(4), None)
    assert again == first and counts == {"convert": 1, "build": 1}, "a hit converts and builds nothing"
    other = runner._build(sim_runner, "icarus", "add", lambda: Adder(5), None)
    assert other != first and counts == {"convert": 2, "build": 2}, "another design is a miss"
    (first / "built.stamp").write_text("stale")
    assert runner._build(sim_runner, "icarus", "add", lambda: Adder(4), None) == first
    assert counts == {"convert": 2, "build": 3}, "a stamp that does not match rebuilds"


@pytest.mark.parametrize("sim", SIMULATORS)
def test_mxm_replay_shared_across_keys(sim, tmp_path):
    """The GEMM replayed by the harness matches the golden model; two keys, one build."""
    require_simulator(sim)
    cfg = preset("tiny")
    reports = []
    for key in ("first", "second"):
        report = tmp_path / f"{key}.json"
        results = run_cocotb(
            sim=sim, toplevel="mxm_gemm_harness", component=lambda: MxmGemmHarness(cfg),
            test_module="openlpu.verif.tb_mxm_gemm", key=key, test_name=f"replay-{key}",
            extra_env={"OPENLPU_CONFIG": json.dumps(cfg.as_dict()), "OPENLPU_SEED": "3",
                       "OPENLPU_GEMM": "20,16,12", "OPENLPU_DTYPE": "int8", "OPENLPU_REPORT": str(report)})
        reports.append(json.loads(report.read_text()))
        reports[-1]["build_dir"] = str(results.parent.parent.parent)
    assert reports[0]["build_dir"] == reports[1]["build_dir"]
    assert reports[0]["numpy_match"] and reports[0]["replay_cycles_per_s"] > 0
    assert reports[0]["cycles"] == reports[1]["cycles"]
