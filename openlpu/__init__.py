"""OpenLPU: an open tensor-streaming inference processor.

Subpackages: :mod:`openlpu.rtl` (Amaranth hardware), :mod:`openlpu.golden`
(bit- and cycle-exact numpy models), :mod:`openlpu.verif` (simulator runner
and cocotb testbenches), :mod:`openlpu.bench` (benchmarks).
"""

import os as _os

from .config import ConfigError, LpuConfig, PRESETS, preset


def _add_checkout_subpackages():
    """In a source checkout, find ``openlpu.rtl`` etc. in the sibling top-level folders.

    The install maps them with ``package-dir``; this covers Python started from the
    checkout's root, where the plain ``openlpu/`` folder is found before the install.
    """
    here = _os.path.dirname(_os.path.abspath(__file__))
    root = _os.path.dirname(here)
    if (_os.path.isfile(_os.path.join(root, "pyproject.toml")) and _os.path.isdir(_os.path.join(root, "rtl"))
            and not _os.path.isdir(_os.path.join(here, "rtl")) and root not in __path__):
        __path__.append(root)


_add_checkout_subpackages()

__all__ = ["ConfigError", "LpuConfig", "PRESETS", "preset"]
__version__ = "0.1.0"
