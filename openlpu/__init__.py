"""OpenLPU: an open tensor-streaming inference processor.

Subpackages: :mod:`openlpu.rtl` (Amaranth hardware), :mod:`openlpu.golden`
(bit- and cycle-exact numpy models), :mod:`openlpu.verif` (simulator runner
and cocotb testbenches), :mod:`openlpu.bench` (benchmarks).
"""

from .config import ConfigError, LpuConfig, PRESETS, preset

__all__ = ["ConfigError", "LpuConfig", "PRESETS", "preset"]
__version__ = "0.1.0"
