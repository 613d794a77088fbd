"""The regression command: chip programs and unit testbenches per seed on a local Dask cluster,
summary and exit status."""

import os
import time

import pytest

from openlpu.verif import regress
from openlpu.verif.cluster import SeedCluster
from openlpu.verif.runner import require_simulator


def test_unit_regression_runs_a_seed(capsys, live_seed):
    """The SXM testbench on the run's live seed (its fixed seeds run in tests/test_sxm.py)."""
    require_simulator("verilator")
    assert regress.main(["--units", "sxm", "--seeds", "1", "--start", str(live_seed)]) == 0
    assert "SUMMARY units tiny verilator: 1/1 runs passed" in capsys.readouterr().out


def test_unknown_unit_is_a_clear_error():
    with pytest.raises(SystemExit, match="unknown unit 'gpu'"):
        regress.main(["--units", "gpu", "--seeds", "1"])


def test_chip_regression_on_a_two_worker_cluster(capsys, live_seed):
    """Four random chip programs (from the run's live seed) in two batches on two local workers,
    each RTL run compared with the golden model; the summary counts every seed."""
    require_simulator("verilator")
    assert regress.main(["--seeds", "4", "--workers", "2", "--start", str(live_seed)]) == 0
    out = capsys.readouterr().out
    assert "Dask cluster: 2 workers (local)" in out
    assert "SUMMARY tiny verilator: 4/4 seeds passed" in out and "seeds/min on 2 workers" in out
    assert sorted(int(line.split()[1][:-1]) for line in out.splitlines() if line.startswith("seed ")) == \
        list(range(live_seed, live_seed + 4))


def test_cluster_prepares_every_worker_and_spreads_the_work():
    """prepare() runs once on each worker; map() runs tasks on both at once and returns each
    task's own result."""
    with SeedCluster(workers=2) as cluster:
        assert len(set(cluster.prepare(os.getpid))) == 2
        results = dict(cluster.map(lambda i: (time.sleep(1), os.getpid(), i * i)[1:], list(range(4)),
                                   weight=lambda _: 1))
    assert {i: r[1] for i, r in results.items()} == {0: 0, 1: 1, 2: 4, 3: 9}
    assert len({r[0] for r in results.values()}) == 2


def test_workers_must_be_positive():
    with pytest.raises(ValueError, match="workers must be at least 1"):
        SeedCluster(workers=0)
