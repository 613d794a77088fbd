import pytest

from openlpu.config import ConfigError, LpuConfig, PRESETS, preset, require_ecc_lanes


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
    # the rules the units' constructors used to enforce themselves
    ("streams", 33, "at most 32"),                      # 5-bit stream numbers (Lpu)
    ("mem_depth", 1 << 17, "at most 65536"),            # 16-bit SRAM addresses (MemSlice)
    ("imem_depth", 1000, "power of two"),
    ("host_bytes", 24, "power of two from 8 to 128"),   # AXI data widths (HostPort)
    ("host_bytes", 4, "power of two from 8 to 128"),
    ("host_bytes", 256, "power of two from 8 to 128"),
    ("host_bytes", 16.0, "integer"),
])
def test_bad_config_names_field_and_rule(field, value, rule):
    changes = {field: value}
    if field == "lanes" and value == 24:
        changes["superlanes"] = 5
    with pytest.raises(ConfigError) as info:
        PRESETS["tiny"].replace(**changes)
    assert info.value.field == field
    assert f"LpuConfig.{field}" in str(info.value) and rule in str(info.value)


def test_imem_depth_holds_whole_host_beats():
    """Instruction memory is loaded one host beat (host_beat // 8 instructions) per row (Icu)."""
    with pytest.raises(ConfigError) as info:
        PRESETS["tiny"].replace(host_bytes=64, imem_depth=4)
    assert info.value.field == "imem_depth" and "multiple of 8" in str(info.value)
    assert PRESETS["tiny"].replace(host_bytes=64, imem_depth=8).imem_row == 8
    # by default a beat is lanes rounded up to a power of two, 8..128: tiny's 8 instructions fit
    assert PRESETS["tiny"].replace(lanes=48, superlanes=1, imem_depth=8).host_beat == 64


def test_host_beat_default_keeps_one_vector_per_beat_up_to_128_lanes():
    assert [PRESETS[n].host_beat for n in ("tiny", "small", "tsp")] == [8, 16, 128]
    assert [PRESETS["tiny"].replace(lanes=n, superlanes=1).host_beat for n in (12, 48, 128, 136)] == [16, 64, 128, 128]
    assert PRESETS["tiny"].replace(host_bytes=8).host_beat == 8


def test_sram_needs_whole_ecc_words():
    """lanes multiple of 4 is a configuration (the MXM's formal proof uses 4); the units that
    hold SRAM need 64-bit ECC words and say so with a ConfigError naming lanes."""
    cfg = PRESETS["tiny"].replace(lanes=12, superlanes=1)
    with pytest.raises(ConfigError) as info:
        require_ecc_lanes(cfg)
    assert info.value.field == "lanes" and "multiple of 8" in str(info.value)
    assert require_ecc_lanes(PRESETS["tiny"]) is PRESETS["tiny"]


def test_unknown_preset_and_field():
    with pytest.raises(ConfigError, match="preset"):
        preset("huge")
    with pytest.raises(ConfigError, match="not an LpuConfig field"):
        LpuConfig.from_dict({**PRESETS["tiny"].as_dict(), "lanez": 3})


def test_round_trip_dict():
    for cfg in PRESETS.values():
        assert LpuConfig.from_dict(cfg.as_dict()) == cfg


def test_superlanes_hold_whole_ecc_words():
    """With more than one superlane, each superlane's SRAM tile keeps 64-bit ECC words: 8 lanes
    in 2 superlanes is refused naming ``superlanes``; 16 in 2 gives 8-lane superlanes."""
    with pytest.raises(ConfigError) as info:
        PRESETS["tiny"].replace(superlanes=2)
    assert info.value.field == "superlanes" and "multiple of 8 lanes per superlane" in str(info.value)
    duo = PRESETS["tiny"].replace(lanes=16, superlanes=2)
    assert duo.superlane.lanes == 8 and duo.superlane.superlanes == 1
    assert PRESETS["tiny"].superlane is PRESETS["tiny"]
    assert (PRESETS["mid"].superlanes, PRESETS["mid"].lanes & (PRESETS["mid"].lanes - 1) != 0) == (3, True)
