"""The main job's compiler step (``openlpu demo``, step 4) at ``tiny``: an MLP
compiled, run on the golden ISA simulator and on the RTL, cycle counts equal."""

import pytest

from openlpu.config import preset
from openlpu.verif.runner import require_simulator


@pytest.mark.parametrize("sim", ["verilator"])
def test_demo_mlp_step(sim, capsys):
    require_simulator(sim)
    from openlpu.demo import run_mlp
    assert run_mlp(preset("tiny"), "tiny", sim, seed=1, rows=8) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "cycles predicted" in ln)
    predicted, golden, rtl = (int(line.split(word)[1].split(";")[0].split(",")[0]) for word in
                              ("predicted ", "golden ISA simulator ", "RTL "))
    assert predicted == golden == rtl > 0
    assert "bit-exact with the graph reference: True" in line
