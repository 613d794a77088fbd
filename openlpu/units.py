"""The units of the chip that the tools build on their own: the unit registry.

``openlpu generate`` and ``openlpu synth`` (:mod:`openlpu.cli`), the demo
(:mod:`openlpu.demo`), the synthesis flow (:mod:`openlpu.synth`) and the
synthesis bench (:mod:`openlpu.bench.bench_synth`) all read :data:`UNITS`;
nothing else lists the units.

Each :class:`UnitSpec` says what a unit is: its name (as on the command line
and in the Verilog module name ``openlpu_<unit>_<preset>``), the component
class, a one-line description, and how to build it for a configuration (the
class called with the :class:`~openlpu.config.LpuConfig` as its only
argument). The class is named as ``"module:Class"`` and imported only when
the unit is built, so reading the registry imports no hardware description.
"""

import importlib
from dataclasses import dataclass

__all__ = ["UnitError", "UnitSpec", "UNITS", "unit_spec", "build_unit"]


class UnitError(LookupError):
    """An unknown unit name, or a unit whose module is not there; the message says which."""


@dataclass(frozen=True)
class UnitSpec:
    """One buildable unit: ``name``, ``target`` (``"module:Class"``) and ``description``."""
    name: str
    target: str
    description: str

    def component_class(self):
        """The component class (its module is imported now); :class:`UnitError` if the module is missing."""
        module_name, cls_name = self.target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise UnitError(f"unit {self.name!r} is not built yet ({exc.name} is missing)") from None
        return getattr(module, cls_name)

    def build(self, cfg):
        """The unit's component for ``cfg`` (constructed, not elaborated)."""
        return self.component_class()(cfg)


#: Every unit, by name, in the order the tools list them (the whole chip last).
UNITS = {spec.name: spec for spec in (
    UnitSpec("mxm", "openlpu.rtl.mxm:Mxm", "matrix unit: mxm_planes independent weight-stationary planes"),
    UnitSpec("mxm_plane", "openlpu.rtl.mxm:MxmPlane", "one MXM plane: lanes x lanes int8/fp16 MACs"),
    UnitSpec("vxm", "openlpu.rtl.vxm:Vxm", "vector unit: vxm_alus chained ALUs per lane, int8/16/32, fp16/fp32"),
    UnitSpec("vxm_func", "openlpu.rtl.vxm_func:VxmFunc", "VXM fp32 exp, reciprocal, rsqrt and tanh on every lane"),
    UnitSpec("sxm", "openlpu.rtl.sxm:Sxm", "switch unit: moves bytes across the lanes of a stream vector"),
    UnitSpec("mem", "openlpu.rtl.host:MemWithHost", "MEM controller: mem_slices SRAM slices and the AXI4 host port"),
    UnitSpec("icu", "openlpu.rtl.icu:Icu", "instruction control unit: one instruction queue per slice"),
    UnitSpec("lpu", "openlpu.rtl.lpu:Lpu", "the whole chip: ICU, stream fabric and every unit behind the host port"),
)}


def unit_spec(name):
    """The :class:`UnitSpec` called ``name``; :class:`UnitError` naming the choices otherwise."""
    try:
        return UNITS[name]
    except KeyError:
        raise UnitError(f"unknown unit {name!r}; choose from {', '.join(UNITS)}") from None


def build_unit(name, cfg):
    """Unit ``name``'s component for ``cfg``; :class:`UnitError` for an unknown or missing unit."""
    return unit_spec(name).build(cfg)
