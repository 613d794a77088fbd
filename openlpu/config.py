"""The one configuration object every OpenLPU module takes.

:class:`LpuConfig` is frozen and validated on construction: an invalid
combination raises :class:`ConfigError` naming the field and the rule it
breaks, before any hardware is elaborated. The presets are plain data; no
module special-cases a preset.
"""

from dataclasses import dataclass, fields, replace

__all__ = ["ConfigError", "LpuConfig", "PRESETS", "preset", "require_config"]


class ConfigError(ValueError):
    """An :class:`LpuConfig` field breaks a rule. ``field`` names the field."""

    def __init__(self, field, rule, value):
        self.field = field
        self.rule = rule
        self.value = value
        super().__init__(f"LpuConfig.{field} = {value!r}: {rule}")


#: Multiple that ``lanes`` must respect. The MXM's fp16 pass reduces over
#: ``lanes // FP16_K_DIVISOR`` products (a quarter of the int8 rate, as on the
#: reference chip), so ``lanes`` must divide evenly.
FP16_K_DIVISOR = 4

#: int32 and fp32 values travel as a group of this many byte-plane streams;
#: a configuration needs at least one such group per direction.
MIN_STREAMS = 4


@dataclass(frozen=True)
class LpuConfig:
    """Generics of one OpenLPU instance.

    Arguments
    ---------
    lanes : int
        Vector length in bytes: one stream carries ``lanes`` bytes per cycle.
        The MXM plane is ``lanes x lanes``.
    superlanes : int
        Groups the lanes are cut into; instructions ripple across them one
        per cycle. ``lanes`` must be a multiple of ``superlanes``.
    streams : int
        Stream registers per direction (east and west).
    mxm_planes : int
        Independent weight-stationary matrix planes.
    mem_slices : int
        SRAM slices.
    mem_depth : int
        Vectors (addresses) per SRAM slice; a power of two.
    vxm_alus : int
        Chained ALUs per lane in the VXM.
    mxm_acc_depth : int
        Accumulator entries per MXM plane (rows of partial sums kept between
        weight tiles when K exceeds ``lanes``).
    imem_depth : int
        64-bit instructions per instruction queue; a power of two, and a
        multiple of ``lanes // 8`` when that is a power of two (the host
        loads instruction memory one ``lanes``-byte beat at a time).

    Raises
    ------
    ConfigError
        A field is not an integer, out of range, or breaks a divisibility rule.
    """

    lanes: int
    superlanes: int
    streams: int
    mxm_planes: int
    mem_slices: int
    mem_depth: int
    vxm_alus: int
    mxm_acc_depth: int
    imem_depth: int = 1024

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f.name, "must be an integer", value)
            if value < 1:
                raise ConfigError(f.name, "must be at least 1", value)
        if self.lanes % FP16_K_DIVISOR:
            raise ConfigError("lanes", f"must be a multiple of {FP16_K_DIVISOR} "
                              "(the fp16 MXM pass reduces over lanes/4 products)", self.lanes)
        if self.lanes % self.superlanes:
            raise ConfigError("lanes", f"must be a multiple of superlanes ({self.superlanes})",
                              self.lanes)
        if self.streams < MIN_STREAMS:
            raise ConfigError("streams", f"must be at least {MIN_STREAMS} "
                              "(an int32/fp32 value needs a group of 4 byte-plane streams)",
                              self.streams)
        if self.mem_depth & (self.mem_depth - 1):
            raise ConfigError("mem_depth", "must be a power of two", self.mem_depth)
        if self.imem_depth & (self.imem_depth - 1):
            raise ConfigError("imem_depth", "must be a power of two", self.imem_depth)
        if self.imem_depth * 8 < self.lanes:
            raise ConfigError("imem_depth", f"must hold at least one host beat ({self.lanes // 8} "
                              "instructions)", self.imem_depth)

    # Derived facts -----------------------------------------------------------------

    @property
    def lanes_per_superlane(self):
        return self.lanes // self.superlanes

    @property
    def fp16_k(self):
        """Products reduced per fp16 MXM pass (``lanes // 4``)."""
        return self.lanes // FP16_K_DIVISOR

    def replace(self, **changes):
        """A copy with ``changes`` applied (and validated)."""
        return replace(self, **changes)

    def as_dict(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, values):
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(sorted(unknown)[0], "is not an LpuConfig field", values[sorted(unknown)[0]])
        return cls(**values)


PRESETS = {
    # What CI simulates.
    "tiny": LpuConfig(lanes=8, superlanes=1, streams=8, mxm_planes=1,
                      mem_slices=4, mem_depth=256, vxm_alus=4, mxm_acc_depth=16,
                      imem_depth=512),
    # The everyday development size.
    "small": LpuConfig(lanes=16, superlanes=1, streams=16, mxm_planes=2,
                       mem_slices=8, mem_depth=1024, vxm_alus=4, mxm_acc_depth=64,
                       imem_depth=1024),
    # The reference chip: 20 superlanes x 16 lanes, 88 slices x 8192 x 320 B.
    "tsp": LpuConfig(lanes=320, superlanes=20, streams=32, mxm_planes=4,
                     mem_slices=88, mem_depth=8192, vxm_alus=16, mxm_acc_depth=1024,
                     imem_depth=4096),
}


def preset(name):
    """The preset called ``name`` (``tiny``, ``small`` or ``tsp``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError("preset", f"must be one of {', '.join(PRESETS)}", name) from None


def require_config(cfg):
    """``cfg`` itself if it is an :class:`LpuConfig`; a clear ``TypeError`` otherwise.

    Every unit constructor starts with this, so a wrong argument fails where it
    is passed, not deep inside elaboration.
    """
    if not isinstance(cfg, LpuConfig):
        raise TypeError(f"cfg must be an LpuConfig, not {cfg!r}")
    return cfg
