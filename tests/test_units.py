"""The unit registry (openlpu/units.py): every unit builds, bad names fail clearly, the tools read it."""

import pytest

from openlpu import preset, units
from openlpu.units import UNITS, UnitError, UnitSpec, build_unit, unit_spec

TINY = preset("tiny")


@pytest.mark.parametrize("name", list(UNITS))
def test_every_unit_builds_at_tiny(name):
    spec = UNITS[name]
    assert isinstance(spec, UnitSpec) and spec.name == name
    assert spec.description and "\n" not in spec.description
    component = build_unit(name, TINY)
    assert type(component) is spec.component_class()
    assert type(component).__name__ == spec.target.split(":")[1]


def test_the_units_and_their_order_are_the_cli_s():
    assert list(UNITS) == ["mxm", "mxm_plane", "vxm", "vxm_func", "sxm", "mem", "icu", "lpu"]
    assert UNITS["mem"].target == "openlpu.rtl.host:MemWithHost"


def test_unknown_unit_is_a_clear_error():
    with pytest.raises(UnitError, match="unknown unit 'gpu'; choose from mxm, mxm_plane, .*, lpu$"):
        build_unit("gpu", TINY)
    with pytest.raises(UnitError, match="unknown unit 'gpu'"):
        unit_spec("gpu")


def test_a_missing_module_says_the_unit_is_not_built():
    spec = UnitSpec("nope", "openlpu.rtl.no_such_unit:Nope", "a unit that does not exist")
    with pytest.raises(UnitError, match=r"unit 'nope' is not built yet \(openlpu.rtl.no_such_unit is missing\)"):
        spec.build(TINY)


def test_cli_demo_synth_and_bench_use_the_registry():
    from openlpu import cli, demo, synth
    from openlpu.bench import bench_synth
    for module in (cli, demo, bench_synth):
        assert module.UNITS is units.UNITS and module.build_unit is units.build_unit, module.__name__
    assert synth.build_unit is units.build_unit


def test_cli_generate_builds_through_the_registry(monkeypatch, tmp_path, capsys):
    """``generate --unit all`` asks the registry for each unit, and skips one it cannot build."""
    from openlpu import cli
    asked = []

    def fake_build(name, cfg):
        asked.append(name)
        raise UnitError(f"unit {name!r} is not built yet (x is missing)")
    monkeypatch.setattr(cli, "build_unit", fake_build)
    assert cli.main(["generate", "--unit", "all", "-o", str(tmp_path)]) == 0
    assert asked == list(UNITS)
    assert "skip lpu: error: unit 'lpu' is not built yet (x is missing)" in capsys.readouterr().out


def test_chip_units_of_the_scaling_report_are_registry_units():
    from openlpu.scaling import CHIP_UNITS
    assert set(CHIP_UNITS) <= set(UNITS)
