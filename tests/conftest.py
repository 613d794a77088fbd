"""pytest options shared by every test file.

``--slow`` runs the long regressions (marked ``@pytest.mark.slow``); the
default run stays within CI's budget.

``--seed N`` sets the *live seed*. Tests that take the ``live_seed`` fixture
draw their random programs and scenarios from it, on top of their fixed
seeds, so each run explores new cases. Without ``--seed`` a new one is drawn
per run; it is printed in the header of the run and in every failure that
used it, and ``pytest --seed N`` replays that run's cases.
"""

import secrets

import pytest


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False,
                     help="also run long regressions marked @pytest.mark.slow")
    parser.addoption("--seed", type=int, default=None,
                     help="live seed of the random tests (default: a new one per run)")


def pytest_configure(config):
    # drawn once, in the controlling process; pytest-xdist workers take it from there
    if hasattr(config, "workerinput"):
        config.option.seed = config.workerinput["live_seed"]
    elif config.getoption("--seed") is None:
        config.option.seed = secrets.randbelow(2 ** 31)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist, controller side: hand the live seed to each worker."""
    node.workerinput["live_seed"] = node.config.getoption("--seed")


def pytest_report_header(config):
    return f"live seed: {config.getoption('--seed')}"


def pytest_terminal_summary(terminalreporter, config):
    """The live seed at the end of every run, also under ``-q``."""
    if not hasattr(config, "workerinput"):
        terminalreporter.write_line(f"live seed: {config.getoption('--seed')} (replay with --seed)")


@pytest.fixture
def live_seed(request):
    """This run's live seed (see the module docstring)."""
    return request.config.getoption("--seed")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that used the live seed says how to replay it."""
    report = yield
    seed = getattr(item, "funcargs", {}).get("live_seed")
    if report.failed and seed is not None:
        report.sections.append(("live seed", f"replay with: pytest --seed {seed} '{item.nodeid}'"))
    return report


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip_slow = pytest.mark.skip(reason="long regression: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
