"""SRAM controller and host port: address map, lint, cocotbext-axi on Icarus and Verilator."""

import json

import pytest
from amaranth.back import verilog

from openlpu.config import preset
from openlpu.golden.mem import host_address, host_decode
from openlpu.rtl.host import Mem
from openlpu.verif.runner import SIMULATORS, lint, require_simulator, run_cocotb

TINY = preset("tiny")


def test_address_map_round_trip():
    for cfg in (TINY, preset("small")):
        for s in range(cfg.mem_slices):
            for v in (0, 1, cfg.mem_depth - 1):
                assert host_decode(cfg, host_address(cfg, s, v)) == (s, v)
        assert host_decode(cfg, host_address(cfg, cfg.mem_slices, 0)) is None


def test_rejects_non_power_of_two_lanes():
    with pytest.raises(ValueError, match="lanes"):
        Mem(preset("tsp"))


def test_lint(tmp_path):
    path = tmp_path / "mem.v"
    path.write_text(verilog.convert(Mem(TINY), name="mem", emit_src=False))
    result = lint(path, "mem")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("sim", SIMULATORS)
def test_cocotb(sim):
    require_simulator(sim)
    run_cocotb(sim=sim, toplevel="mem", component=lambda: Mem(TINY), test_module="openlpu.verif.tb_host",
               key="tiny", extra_env={"OPENLPU_CONFIG": json.dumps(TINY.as_dict()), "OPENLPU_SEED": "5"})
