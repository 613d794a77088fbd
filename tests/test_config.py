import pytest

from openlpu.config import ConfigError, LpuConfig, PRESETS, preset


def test_presets_match_the_architecture():
    assert preset("tiny").lanes == 8 and preset("tiny").mem_slices == 4
    assert preset("small").lanes == 16 and preset("small").mxm_planes == 2
    tsp = preset("tsp")
    assert (tsp.lanes, tsp.superlanes, tsp.lanes_per_superlane) == (320, 20, 16)
    assert (tsp.streams, tsp.mxm_planes, tsp.mem_slices, tsp.mem_depth, tsp.vxm_alus) == (32, 4, 88, 8192, 16)
    # 88 slices x 8192 words x 320 B = 220 MiB
    assert tsp.mem_slices * tsp.mem_depth * tsp.lanes == 220 * 2**20


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        preset("tiny").lanes = 16


@pytest.mark.parametrize("field, value, rule", [
    ("lanes", 0, "at least 1"),
    ("lanes", -8, "at least 1"),
    ("lanes", 6, "multiple of 4"),
    ("lanes", 24, "multiple of superlanes"),
    ("streams", 2, "at least 4"),
    ("mem_depth", 1000, "power of two"),
    ("vxm_alus", 2.0, "integer"),
    ("mxm_planes", True, "integer"),
    ("mxm_acc_depth", 0, "at least 1"),
])
def test_bad_config_names_field_and_rule(field, value, rule):
    changes = {field: value}
    if field == "lanes" and value == 24:
        changes["superlanes"] = 5
    with pytest.raises(ConfigError) as info:
        PRESETS["tiny"].replace(**changes)
    assert info.value.field == field
    assert f"LpuConfig.{field}" in str(info.value) and rule in str(info.value)


def test_unknown_preset_and_field():
    with pytest.raises(ConfigError, match="preset"):
        preset("huge")
    with pytest.raises(ConfigError, match="not an LpuConfig field"):
        LpuConfig.from_dict({**PRESETS["tiny"].as_dict(), "lanez": 3})


def test_round_trip_dict():
    for cfg in PRESETS.values():
        assert LpuConfig.from_dict(cfg.as_dict()) == cfg
