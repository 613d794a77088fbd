"""The mutation-testing harness (verif/mutate.py) on the ECC codec, with chosen mutations.

The full runs per unit (``openlpu mutate``, verif/nightly_mutate.sh) are nightly; these tests
check that the harness tells the outcomes apart: the unmutated design passes its tests (``run``
raises otherwise) and so does a mutation that changes nothing (``-mode none``), an encoder
output bit tied to 0 is killed by a failing test, a mutation Yosys cannot apply is invalid,
and the runner builds the substituted Verilog only for the toplevel it names.
"""

import pytest

from openlpu.verif import mutate, runner

#: Encoder output bit 70 (check bit c6) tied to 0. (The data bits 0-63 of the encoder's word are
#: its input passed through, with no cell to mutate in the codec.)
KILLING_FILTER = "-mode const0 -module ecc_codec -wire enc_word -wirebit 70"
#: A cell the design does not have.
INVALID = "mutate -mode const0 -module ecc_codec -cell $no_such_cell -port Y -portbit 0"


@pytest.fixture
def tools():
    runner.require_simulator("icarus")
    runner.require_tool("yosys", mutate.yosys_missing())


def test_unknown_unit_names_the_unit_and_the_choices():
    with pytest.raises(ValueError, match=r"unknown unit 'foo'.*choose from ecc, mem, mxm, vxm, sxm, icu"):
        mutate.target("foo")


def test_substitution_only_for_the_named_toplevel(tmp_path, monkeypatch):
    path = tmp_path / "m.v"
    path.write_text("module ecc_codec; endmodule\n")
    monkeypatch.delenv(runner.SUBST_ENV, raising=False)
    assert runner.substituted_verilog("ecc_codec") is None
    monkeypatch.setenv(runner.SUBST_ENV, f"ecc_codec={path}")
    assert runner.substituted_verilog("ecc_codec") == path.read_text()
    assert runner.substituted_verilog("sxm") is None
    monkeypatch.setenv(runner.SUBST_ENV, str(path))
    with pytest.raises(ValueError, match="<toplevel>=<path>"):
        runner.substituted_verilog("ecc_codec")


def test_splice_replaces_only_the_modules_of_the_part():
    base = "(* top *)\nmodule top(a);\n  old;\nendmodule\n(* x *)\nmodule \\top.sub (b);\n  old;\nendmodule\n"
    part = "module \\top.sub (b);\n  new;\nendmodule\n"
    assert mutate.splice(base, part) == "(* top *)\nmodule top(a);\n  old;\nendmodule\n" + part


def test_output_bit_tied_to_zero_is_killed(tmp_path, tools):
    report = mutate.run("ecc", 1, workdir=tmp_path, filters=KILLING_FILTER)
    assert report.baseline.outcome == "survived" and report.baseline.why == "1 passed"   # the unmutated design
    [mutant] = report.mutants
    assert "-wire enc_word -wirebit 70" in mutant.command
    assert mutant.outcome == "killed", mutant.why
    assert "encode" in mutant.why          # the encoder's check in verif/tb_ecc.py failed
    assert report.as_dict()["kill_rate"] == 1.0


def test_no_change_survives_and_a_bad_mutation_is_invalid(tmp_path, tools):
    report = mutate.run("ecc", 0, workdir=tmp_path, commands=["mutate -mode none", INVALID])
    assert [m.outcome for m in report.mutants] == ["survived", "invalid"], [m.why for m in report.mutants]
    assert report.as_dict()["survivors"] == ["mutate -mode none"]
    assert "yosys" in report.mutants[1].why


def test_cli_unknown_unit_is_a_clear_error(capsys):
    from openlpu.cli import main
    assert main(["mutate", "--unit", "alu"]) == 2
    err = capsys.readouterr().err
    assert "unknown unit 'alu'" in err and "ecc, mem, mxm, vxm, sxm, icu" in err
