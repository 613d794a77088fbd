"""SRAM controller and host port: address map, lint, cocotbext-axi on Icarus and Verilator."""

import json

import pytest
from amaranth.back import verilog

from openlpu.config import preset
from openlpu.golden.mem import host_address, host_decode
from openlpu.rtl.host import MemWithHost
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
        MemWithHost(preset("tsp"))


def test_lint(tmp_path):
    path = tmp_path / "mem.v"
    path.write_text(verilog.convert(MemWithHost(TINY), name="mem", emit_src=False))
    result = lint(path, "mem")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("sim", SIMULATORS)
def test_cocotb(sim):
    require_simulator(sim)
    run_cocotb(sim=sim, toplevel="mem", component=lambda: MemWithHost(TINY), test_module="openlpu.verif.tb_host",
               key="tiny", extra_env={"OPENLPU_CONFIG": json.dumps(TINY.as_dict()), "OPENLPU_SEED": "5"})


def test_axi_signatures():
    from amaranth.lib.wiring import In

    from openlpu.rtl.axi import AxiLiteSignature, AxiSignature
    axi = AxiSignature(data_width=64, addr_width=32, id_width=4)
    assert axi == AxiSignature(data_width=64, addr_width=32, id_width=4)
    assert axi != AxiSignature(data_width=64, addr_width=32, id_width=2)
    assert repr(axi) == "AxiSignature(data_width=64, addr_width=32, id_width=4)"
    assert (axi.data_width, axi.addr_width, axi.id_width) == (64, 32, 4)
    lite = AxiLiteSignature(data_width=32, addr_width=16)
    assert lite == AxiLiteSignature(data_width=32, addr_width=16) and lite != axi
    # a subordinate port is the flipped signature: the manager's outputs are its inputs
    sub = In(axi).signature.members
    assert sub["awaddr"].flow == In and sub["awready"].flow != In and sub["wstrb"].shape == 8
    with pytest.raises(ValueError, match="data_width"):
        AxiSignature(data_width=12, addr_width=32, id_width=4)


def test_port_names():
    """The AXI members become s_axi__<signal> / s_axil__<signal> Verilog ports."""
    text = verilog.convert(MemWithHost(TINY, program=True), name="mem", emit_src=False)
    header = text[text.index("module mem("):].split(";")[0]
    for port in ("s_axi__awaddr", "s_axi__wdata", "s_axi__rresp", "s_axil__araddr", "s_axil__bresp",
                 "imem_wr__valid", "start", "chip_busy", "rd__0__valid", "out__0__payload"):
        assert port in header, port
