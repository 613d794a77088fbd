"""The `openlpu` command: generate + lint, and clear errors."""

import pytest

from openlpu.cli import main
from openlpu.verif.runner import require_simulator


def test_generate_mxm_tiny_lints_clean(tmp_path, capsys):
    require_simulator("verilator")  # the linter
    assert main(["generate", "--preset", "tiny", "--unit", "mxm", "-o", str(tmp_path), "--lint"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "openlpu_mxm_tiny.v").exists()
    assert "lint clean" in out


def test_unknown_unit_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="unknown unit 'mxx'"):
        main(["generate", "--unit", "mxx", "-o", str(tmp_path)])


def test_unknown_preset_is_rejected(tmp_path):
    with pytest.raises(SystemExit):
        main(["generate", "--preset", "huge", "-o", str(tmp_path)])


def test_asm_disasm_round_trip(tmp_path, capsys):
    src = tmp_path / "p.s"
    src.write_text(".queue mem0\nREAD 3, e1\nREPEAT 2, 1\nEND\n.queue vxm\nCONFIG 2, 0x1234\nEND\n")
    assert main(["asm", str(src), "-o", str(tmp_path / "p.lpu")]) == 0
    assert main(["disasm", str(tmp_path / "p.lpu"), "-o", str(tmp_path / "back.s")]) == 0
    assert main(["asm", str(tmp_path / "back.s"), "-o", str(tmp_path / "q.lpu")]) == 0
    assert (tmp_path / "p.lpu").read_bytes() == (tmp_path / "q.lpu").read_bytes()


def test_asm_error_names_file_and_line(tmp_path, capsys):
    src = tmp_path / "bad.s"
    src.write_text(".queue mem0\nREAD 3\n")
    assert main(["asm", str(src)]) == 2
    assert "bad.s: line 2: READ takes 2 operands" in capsys.readouterr().err
