"""pytest options shared by every test file.

``--slow`` runs the long regressions (marked ``@pytest.mark.slow``); the
default run stays within CI's budget.
"""

import pytest


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False,
                     help="also run long regressions marked @pytest.mark.slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip_slow = pytest.mark.skip(reason="long regression: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
