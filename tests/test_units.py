"""The unit registry (openlpu/units.py): every unit builds, bad names fail clearly, the tools read it."""

import pytest
from amaranth.hdl import Fragment

from openlpu import PRESETS, ConfigError, preset, units
from openlpu.units import UNITS, UnitError, UnitSpec, build_unit, unit_spec

TINY = preset("tiny")
#: Every preset, and 48 lanes in 3 superlanes: lanes need not be a power of two.
CONFIGS = {**PRESETS, "lanes48": preset("small").replace(lanes=48, superlanes=3, host_bytes=16)}


def _parts():
    """The units' building blocks a test may build on their own, by name."""
    from openlpu.isa import queues
    from openlpu.rtl.host import HostPort
    from openlpu.rtl.icu_queue import IcuQueue
    from openlpu.rtl.mem import Mem, MemAddrGen, MemSlice
    return {"mem_slice": MemSlice, "mem_ctrl": Mem, "mem_addrgen": MemAddrGen,
            "host_port": lambda cfg: HostPort(cfg, program=True),
            "icu_queue": lambda cfg: IcuQueue(cfg, queues(cfg)[0])}


@pytest.mark.parametrize("cfg_name", list(CONFIGS))
def test_no_unit_rejects_a_valid_config(cfg_name):
    """Every rule lives in LpuConfig: no unit constructor raises on a config it accepted."""
    cfg = CONFIGS[cfg_name]
    for name in UNITS:
        assert type(build_unit(name, cfg)) is UNITS[name].component_class(), name
    for name, make in _parts().items():
        assert make(cfg) is not None, name


#: Elaboration where it is cheap (seconds): everything at tiny, all but the chip at small, and
#: the units whose size does not grow with lanes squared at 48 lanes.
CHEAP = ([("tiny", name) for name in UNITS] + [("small", name) for name in UNITS if name != "lpu"]
         + [("lanes48", name) for name in ("sxm", "mem", "icu", "vxm_func")])


@pytest.mark.parametrize("cfg_name, name", CHEAP)
def test_unit_elaborates(cfg_name, name):
    Fragment.get(build_unit(name, CONFIGS[cfg_name]), None)


def test_sram_units_name_the_ecc_rule():
    """At 4 lanes (a configuration for the MXM on its own) the units holding SRAM refuse with a
    ConfigError naming lanes; the others build."""
    cfg = TINY.replace(lanes=4, superlanes=1)
    for name in ("mem", "lpu"):
        with pytest.raises(ConfigError, match="lanes .* multiple of 8") as info:
            build_unit(name, cfg)
        assert info.value.field == "lanes"
    for name in ("mxm", "mxm_plane", "vxm", "sxm", "icu"):
        build_unit(name, cfg)


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
    for module in (cli, bench_synth):
        assert module.UNITS is units.UNITS and module.build_unit is units.build_unit, module.__name__
    assert synth.build_unit is units.build_unit and demo.build_unit is units.build_unit


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
