"""SRAM controller and host port: address map, lint, cocotbext-axi on Icarus and Verilator."""

import json

import pytest
from amaranth.back import verilog

from openlpu.config import preset
from openlpu.golden.mem import host_address, host_decode, host_pack, host_span, host_unpack, imem_rows
from openlpu.rtl.host import MemWithHost
from openlpu.verif.runner import SIMULATORS, lint, require_simulator, run_cocotb

TINY = preset("tiny")
#: A vector of three 16-byte beats (and a padding beat): 48 lanes need not be a power of two.
WIDE = preset("tiny").replace(lanes=48, superlanes=3, host_bytes=16, mem_slices=2, mem_depth=64,
                              imem_depth=64)


def test_address_map_round_trip():
    for cfg in (TINY, preset("small"), WIDE, preset("tsp")):
        for s in range(cfg.mem_slices):
            for v in (0, 1, cfg.mem_depth - 1):
                assert host_decode(cfg, host_address(cfg, s, v)) == (s, v)
                assert host_decode(cfg, host_address(cfg, s, v) + cfg.host_vector_stride - 1) == (s, v)
        assert host_decode(cfg, host_address(cfg, cfg.mem_slices, 0)) is None


def test_address_map_of_wide_vectors():
    """One beat per vector up to 128 lanes by default; wider vectors (or a narrower bus) take
    ceil(lanes / host_beat) beats, vectors starting on power-of-two boundaries."""
    assert [(c.host_beat, c.host_vector_beats, c.host_vector_stride) for c in (TINY, preset("small"))] == \
        [(8, 1, 8), (16, 1, 16)]
    tsp = preset("tsp")
    assert (tsp.host_beat, tsp.host_vector_beats, tsp.host_vector_stride) == (128, 3, 512)
    assert (WIDE.host_beat, WIDE.host_vector_beats, WIDE.host_vector_stride) == (16, 3, 64)
    assert host_address(WIDE, 1, 2) == (64 + 2) * 64
    assert host_span(WIDE, 1) == 48 and host_span(WIDE, 3) == 2 * 64 + 48
    vecs = [bytes([k + 1] * 48) for k in range(3)]
    blob = host_pack(WIDE, vecs)
    assert blob[48:64] == bytes(16) and blob[64:112] == vecs[1]
    assert host_unpack(WIDE, blob, 3) == vecs


def test_instruction_rows_are_host_beats():
    """A row is host_beat // 8 instructions whatever lanes is; the last one zero-padded."""
    assert imem_rows(WIDE, [1, 2, 3]) == [1 | 2 << 64, 3]
    assert imem_rows(TINY, [5, 6]) == [5, 6]
    assert imem_rows(preset("tsp"), range(17)) == [sum(w << 64 * w for w in range(16)), 16]


def test_lint(tmp_path):
    path = tmp_path / "mem.v"
    path.write_text(verilog.convert(MemWithHost(TINY), name="mem", emit_src=False))
    result = lint(path, "mem")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("cfg", [TINY, WIDE], ids=["tiny", "lanes48_bus16"])
def test_cocotb(sim, cfg):
    require_simulator(sim)
    run_cocotb(sim=sim, toplevel="mem", component=lambda: MemWithHost(cfg, program=True),
               test_module="openlpu.verif.tb_host", key=f"lanes{cfg.lanes}",
               extra_env={"OPENLPU_CONFIG": json.dumps(cfg.as_dict()), "OPENLPU_SEED": "5"})


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


def _axi(**v):
    from openlpu.verif.axi_check import CHANNELS
    return {name: v.get(name, 0) for name in CHANNELS}


def _run_checker(cycles):
    from openlpu.verif.axi_check import AxiChecker
    checker = AxiChecker()
    for v in cycles:
        checker.sample(v)
    return checker


def test_axi_checker_passes_a_correct_write_and_read():
    _run_checker([_axi(awvalid=1, awready=1, awid=2, awlen=1), _axi(wvalid=1, wready=1),
                  _axi(wvalid=1, wready=1), _axi(bvalid=1, bid=2), _axi(bvalid=1, bready=1, bid=2),
                  _axi(arvalid=1, arready=1, arid=5, arlen=1), _axi(rvalid=1, rready=1, rid=5),
                  _axi(rvalid=1, rid=5, rlast=1, rdata=7), _axi(rvalid=1, rready=1, rid=5, rlast=1, rdata=7)])


@pytest.mark.parametrize("cycles, rule", [
    ([_axi(awvalid=1, awready=1, awlen=1), _axi(wvalid=1, wready=1), _axi(bvalid=1)], "BRESP_AFTER_WLAST"),
    ([_axi(awvalid=1, awready=1, awid=1), _axi(wvalid=1, wready=1), _axi(bvalid=1, bid=2)], "BRESP_AFTER_WLAST"),
    ([_axi(awvalid=1, awready=1), _axi(wvalid=1, wready=1), _axi(bvalid=1), _axi()], "BVALID_STABLE"),
    ([_axi(awvalid=1, awready=1), _axi(wvalid=1, wready=1), _axi(bvalid=1), _axi(bvalid=1, bresp=2)],
     "BVALID_STABLE"),
    ([_axi(arvalid=1, arready=1, arlen=1), _axi(rvalid=1, rready=1, rlast=1)], "RLAST"),
    ([_axi(arvalid=1, arready=1, arlen=0), _axi(rvalid=1, rready=1, rlast=0)], "RLAST"),
    ([_axi(arvalid=1, arready=1), _axi(rvalid=1, rlast=1, rdata=1), _axi(rvalid=1, rlast=1, rdata=2)], "RVALID_STABLE"),
    ([_axi(rvalid=1, rlast=1)], "RDATA_NO_AR"),
    ([_axi(wvalid=1, wready=1)], "W_NO_AW"),
])
def test_axi_checker_names_the_broken_rule(cycles, rule):
    with pytest.raises(AssertionError, match=f"AXI {rule} broken in cycle {len(cycles) - 1}"):
        _run_checker(cycles)
