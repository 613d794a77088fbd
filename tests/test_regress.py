"""The regression command: chip programs and unit testbenches per seed, summary and exit status."""

import pytest

from openlpu.verif import regress
from openlpu.verif.runner import require_simulator


def test_unit_regression_runs_a_seed(capsys, live_seed):
    """The SXM testbench on the run's live seed (its fixed seeds run in tests/test_sxm.py)."""
    require_simulator("verilator")
    assert regress.main(["--units", "sxm", "--seeds", "1", "--start", str(live_seed)]) == 0
    assert "SUMMARY units tiny verilator: 1/1 runs passed" in capsys.readouterr().out


def test_unknown_unit_is_a_clear_error():
    with pytest.raises(SystemExit, match="unknown unit 'gpu'"):
        regress.main(["--units", "gpu", "--seeds", "1"])
