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
