"""The one configuration object every OpenLPU module takes.

:class:`LpuConfig` is frozen and validated on construction: an invalid
combination raises :class:`ConfigError` naming the field and the rule it
breaks, before any hardware is elaborated. The presets are plain data; no
module special-cases a preset.
"""

from dataclasses import dataclass, fields, replace

from openlpu.isa import MAX_STREAMS, VOP_LEN_BITS

__all__ = ["ConfigError", "LpuConfig", "PRESETS", "preset", "require_config", "require_ecc_lanes",
           "ECC_LANES", "MEM_INDEX_BITS", "HOST_BYTES_RANGE"]


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

#: Bytes of one SRAM ECC word (64 data bits): a vector is ``lanes // ECC_LANES`` words.
ECC_LANES = 8

#: Bits of an SRAM address, and of a gather/scatter index (two lanes of the
#: index vector): ``mem_depth`` is at most ``1 << MEM_INDEX_BITS``.
MEM_INDEX_BITS = 16

#: Smallest and largest host data beat in bytes: one 64-bit instruction, and
#: AXI's widest data bus (1024 bits).
HOST_BYTES_RANGE = (8, 128)


def _is_pow2(value):
    return value & (value - 1) == 0


@dataclass(frozen=True)
class LpuConfig:
    """Generics of one OpenLPU instance.

    Arguments
    ---------
    lanes : int
        Vector length in bytes: one stream carries ``lanes`` bytes per cycle.
        The MXM plane is ``lanes x lanes``.
    superlanes : int
        Groups the lanes are cut into; an instruction reaches superlane ``s``
        ``s`` cycles after superlane 0, and the data of superlane ``s`` flows
        ``s`` cycles behind (:func:`openlpu.timing.superlane_offset`).
        ``lanes`` must be a multiple of ``superlanes``, and with more than one
        superlane each must hold a multiple of 8 lanes (its SRAM tile keeps
        64-bit ECC words).
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
        multiple of :attr:`imem_row` (the host loads instruction memory one
        data beat, ``host_beat // 8`` instructions, at a time).
    host_bytes : int or None
        Bytes per data beat of the host's AXI4 port: a power of two, 8 to
        128 (AXI data buses are 64 to 1024 bits). ``None`` (the default)
        means ``lanes`` rounded up to a power of two, clamped to 8..128
        (:attr:`host_beat`), so a vector of up to 128 lanes is one beat. A
        wider vector spans ``ceil(lanes / host_beat)`` beats
        (:func:`openlpu.golden.mem.host_address`).
    mxm_load_rows : int
        Weight rows an MXM plane's weight queue loads per cycle (one LW): at
        least 1, at most ``lanes``, and ``2 * mxm_load_rows <= streams`` (an fp16
        row arrives as two byte-plane streams, so a full-rate fp16 LW reads
        ``2 * mxm_load_rows`` streams). A full tile takes ``ceil(lanes /
        mxm_load_rows)`` LWs. Default 1.

    ``streams`` is at most 32: a stream operand names its stream in 5 bits
    (:data:`openlpu.isa.STREAM_NUMBER_BITS`); ``mem_depth`` is at most
    65536 (:data:`MEM_INDEX_BITS`-bit SRAM addresses). ``lanes`` must be a
    multiple of 8 (:data:`ECC_LANES`) wherever SRAM is built: the slices keep
    64-bit ECC words (:func:`require_ecc_lanes`; a unit-level configuration of
    4 lanes, as the MXM's formal proof uses, passes here).

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
    host_bytes: "int | None" = None
    mxm_load_rows: int = 1

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "host_bytes" and value is None:
                continue
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
        if self.superlanes > 1 and self.lanes_per_superlane % ECC_LANES:
            raise ConfigError("superlanes", f"must leave a multiple of {ECC_LANES} lanes per superlane "
                              f"(each superlane's SRAM tile holds whole 64-bit ECC words; lanes = "
                              f"{self.lanes})", self.superlanes)
        self._check_streams()
        self._check_load_rows()
        if self.vxm_alus >= 1 << VOP_LEN_BITS:
            raise ConfigError("vxm_alus", f"must be at most {(1 << VOP_LEN_BITS) - 1} (a VOP names its "
                              f"chain length in {VOP_LEN_BITS} bits)", self.vxm_alus)
        self._check_memories()
        self._check_host()

    def _check_streams(self):
        if self.streams < MIN_STREAMS:
            raise ConfigError("streams", f"must be at least {MIN_STREAMS} "
                              "(an int32/fp32 value needs a group of 4 byte-plane streams)",
                              self.streams)
        if self.streams > MAX_STREAMS:
            raise ConfigError("streams", f"must be at most {MAX_STREAMS} (a stream operand "
                              "names its stream in 5 bits)", self.streams)

    def _check_load_rows(self):
        if self.mxm_load_rows > self.lanes:
            raise ConfigError("mxm_load_rows", f"must be at most lanes ({self.lanes}): a plane has "
                              "lanes weight rows", self.mxm_load_rows)
        if 2 * self.mxm_load_rows > self.streams:
            raise ConfigError("mxm_load_rows", f"must be at most streams / 2 ({self.streams // 2}): an "
                              "fp16 LW of that many rows reads two byte-plane streams per row",
                              self.mxm_load_rows)

    def _check_memories(self):
        if not _is_pow2(self.mem_depth):
            raise ConfigError("mem_depth", "must be a power of two", self.mem_depth)
        if self.mem_depth > 1 << MEM_INDEX_BITS:
            raise ConfigError("mem_depth", f"must be at most {1 << MEM_INDEX_BITS} "
                              f"({MEM_INDEX_BITS}-bit SRAM addresses)", self.mem_depth)
        if not _is_pow2(self.imem_depth):
            raise ConfigError("imem_depth", "must be a power of two", self.imem_depth)

    def _check_host(self):
        low, high = HOST_BYTES_RANGE
        if self.host_bytes is not None and not (_is_pow2(self.host_bytes) and low <= self.host_bytes <= high):
            raise ConfigError("host_bytes", f"must be a power of two from {low} to {high} "
                              "(an AXI data beat of 64 to 1024 bits)", self.host_bytes)
        if self.imem_depth % self.imem_row:
            raise ConfigError("imem_depth", f"must be a multiple of {self.imem_row} (one host beat of "
                              "instructions, host_beat // 8)", self.imem_depth)

    # Derived facts -----------------------------------------------------------------

    @property
    def lanes_per_superlane(self):
        return self.lanes // self.superlanes

    @property
    def superlane(self):
        """The configuration of one superlane's share of a lane-wise unit: ``lanes_per_superlane``
        lanes, one superlane (``self`` when there is one superlane). The SRAM tiles, VXM
        ALU and function lanes and stream stops of one superlane are built with it."""
        if self.superlanes == 1:
            return self
        return replace(self, lanes=self.lanes_per_superlane, superlanes=1,
                       mxm_load_rows=min(self.mxm_load_rows, self.lanes_per_superlane))

    @property
    def fp16_k(self):
        """Products reduced per fp16 MXM pass (``lanes // 4``)."""
        return self.lanes // FP16_K_DIVISOR

    @property
    def host_beat(self):
        """Bytes per host AXI4 data beat: ``host_bytes``, or by default ``lanes`` rounded up
        to a power of two and clamped to 8..128."""
        if self.host_bytes is not None:
            return self.host_bytes
        low, high = HOST_BYTES_RANGE
        return min(high, max(low, 1 << (self.lanes - 1).bit_length()))

    @property
    def host_vector_beats(self):
        """Host data beats that carry one vector: ``ceil(lanes / host_beat)``."""
        return -(-self.lanes // self.host_beat)

    @property
    def host_vector_stride(self):
        """Bytes between consecutive vectors in the host's address map: the vector's beats
        rounded up to a power of two (the address decodes by bit fields)."""
        return self.host_beat << (self.host_vector_beats - 1).bit_length()

    @property
    def imem_row(self):
        """64-bit instructions per instruction-memory row: one host beat."""
        return self.host_beat // 8

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
                      imem_depth=512, mxm_load_rows=1),
    # The everyday development size.
    "small": LpuConfig(lanes=16, superlanes=1, streams=16, mxm_planes=2,
                       mem_slices=8, mem_depth=1024, vxm_alus=4, mxm_acc_depth=64,
                       imem_depth=1024, mxm_load_rows=2),
    # The smallest chip with a superlane wavefront: what CI simulates beside tiny.
    "duo": LpuConfig(lanes=16, superlanes=2, streams=8, mxm_planes=1,
                     mem_slices=4, mem_depth=256, vxm_alus=4, mxm_acc_depth=16,
                     imem_depth=512, mxm_load_rows=2),
    # Three superlanes and lanes that are not a power of two (the --slow regression).
    # 3 x 8 lanes: chosen while the VXM had one queue, where at 3 x 16 the reduction's
    # chip latency (6 tree levels + a 2-cycle wavefront) equalled VFUNC's 8 and softmax
    # found no collision-free placement; kept so the mid figures stay comparable.
    "mid": LpuConfig(lanes=24, superlanes=3, streams=16, mxm_planes=2,
                     mem_slices=8, mem_depth=1024, vxm_alus=4, mxm_acc_depth=64,
                     imem_depth=1024, mxm_load_rows=3),
    # The reference chip: 20 superlanes x 16 lanes, 88 slices x 8192 x 320 B; 8 weight rows
    # per cycle per plane load its 4 x 320 x 320 weights in 40 cycles.
    "tsp": LpuConfig(lanes=320, superlanes=20, streams=32, mxm_planes=4,
                     mem_slices=88, mem_depth=8192, vxm_alus=16, mxm_acc_depth=1024,
                     imem_depth=4096, mxm_load_rows=8),
}


def preset(name):
    """The preset called ``name`` (a key of :data:`PRESETS`)."""
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


def require_ecc_lanes(cfg):
    """``cfg`` if ``lanes`` is a multiple of :data:`ECC_LANES`; :class:`ConfigError` otherwise.

    The units that hold SRAM (and the chip) start with this: their slices keep
    64-bit ECC words. :class:`LpuConfig` itself accepts 4 lanes so that a unit
    without SRAM (the MXM's 4 x 4 formal proof) can be configured on its own.
    """
    require_config(cfg)
    if cfg.lanes % ECC_LANES:
        raise ConfigError("lanes", f"must be a multiple of {ECC_LANES} where SRAM is built "
                          "(64-bit ECC words)", cfg.lanes)
    return cfg
