"""Golden, cycle-exact model of an SRAM slice (:class:`openlpu.rtl.mem.MemSlice`).

Each vector is ``lanes // 8`` ECC columns of 72-bit words
(:mod:`openlpu.golden.ecc`). Call :meth:`MemSliceModel.step` once per clock
cycle with that cycle's commands; it returns what the ``out`` port shows in
that cycle. Latencies come from :mod:`openlpu.timing`.
"""

import numpy as np

from openlpu import timing
from openlpu.config import require_ecc_lanes
from openlpu.golden.ecc import ECC_CORRECTED, ECC_DETECTED, WORD_BITS, ecc_decode, ecc_encode, encode_vector, syndromes

__all__ = ["MemSliceModel", "MemTilesModel", "COUNTER_MAX", "column_addresses", "host_address", "host_decode", "host_span",
           "host_pack", "host_unpack", "imem_rows", "stride_addresses"]

COUNTER_MAX = (1 << 32) - 1


def column_addresses(cfg, cmd, select):
    """Per-column addresses of a command: ``addr`` for all, or from ``index`` lanes 8w, 8w+1."""
    cols = cfg.lanes // 8
    if not cmd.get(select, False):
        return [int(cmd["addr"])] * cols
    index = np.asarray(cmd["index"], dtype=np.uint8)
    return [int(index[8 * w]) | int(index[8 * w + 1]) << 8 for w in range(cols)]


class MemSliceModel:
    """Cycle-exact slice: ``step(rd, wr, fault)`` -> ``None`` or ``(data, poison)``.

    ``rd``: dict ``addr``, optional ``gather``, ``scrub``, ``index``;
    ``wr``: dict ``addr``, ``data``, optional ``scatter``, ``index``;
    ``fault``: list of per-column 72-bit XOR masks applied to ``wr``'s words.
    """

    def __init__(self, cfg):
        require_ecc_lanes(cfg)
        assert timing.MEM_READ_LATENCY == 2 and timing.MEM_WRITE_LATENCY == 1
        self.cfg = cfg
        self.cols = cfg.lanes // 8
        self.words = [[0] * cfg.mem_depth for _ in range(self.cols)]
        self.corrected = self.detected = self.range_errors = 0
        self.last_addr = self.last_syndrome = 0
        self._s1 = None      # read sampled last cycle: (scrub, addrs, raw words or None)
        self._out = None     # output register

    def step(self, rd=None, wr=None, fault=None):
        cfg, depth = self.cfg, self.cfg.mem_depth
        out = self._out
        # cycle t: sample this cycle's read (old data), decode last cycle's read
        s1 = None
        if rd is not None:
            addrs = column_addresses(cfg, rd, "gather")
            raws = [self.words[w][a] if a < depth else None for w, a in enumerate(addrs)]
            s1 = (bool(rd.get("scrub", False)), addrs, raws)
        writes = {}
        oor = 0
        if wr is not None:
            addrs = column_addresses(cfg, wr, "scatter")
            vec = np.asarray(wr["data"], dtype=np.uint8)
            for w, a in enumerate(addrs):
                if a >= depth:
                    oor += 1
                    continue
                word = ecc_encode(int.from_bytes(vec[8 * w:8 * w + 8].tobytes(), "little"))
                if fault is not None:
                    word ^= int(fault[w])
                writes[w] = (a, word)
        self._out = None
        if self._s1 is not None:
            scrub, addrs, raws = self._s1
            datas, poison = [], False
            events = []
            for w, (a, raw) in enumerate(zip(addrs, raws)):
                if raw is None:
                    oor += 1
                    poison = True
                    datas.append(0)
                    continue
                d, status, syn = ecc_decode(raw)
                datas.append(d)
                if status == ECC_CORRECTED:
                    self.corrected = min(self.corrected + 1, COUNTER_MAX)
                    events.append((a, syn))
                    if scrub and w not in writes:
                        writes[w] = (a, ecc_encode(d))
                elif status == ECC_DETECTED:
                    self.detected = min(self.detected + 1, COUNTER_MAX)
                    events.append((a, syn))
                    poison = True
            if events:
                self.last_addr, self.last_syndrome = events[0]
            data = np.zeros(cfg.lanes, dtype=np.uint8)
            if not poison:
                data = np.frombuffer(b"".join(d.to_bytes(8, "little") for d in datas), dtype=np.uint8).copy()
            self._out = (data, poison)
        self.range_errors = min(self.range_errors + oor, COUNTER_MAX)
        for w, (a, word) in writes.items():
            self.words[w][a] = word
        self._s1 = s1
        return out

    def load(self, addr, vec):
        """Backdoor: store ``vec`` (lanes bytes) at ``addr`` with correct ECC."""
        vec = np.asarray(vec, dtype=np.uint8)
        for w in range(self.cols):
            self.words[w][addr] = ecc_encode(int.from_bytes(vec[8 * w:8 * w + 8].tobytes(), "little"))

    def peek(self, addr):
        """Backdoor: the stored data of ``addr`` as ``lanes`` bytes (no ECC check)."""
        mask = (1 << 64) - 1
        return np.frombuffer(b"".join((self.words[w][addr] & mask).to_bytes(8, "little")
                                      for w in range(self.cols)), dtype=np.uint8).copy()


def _tile_part(cmd, k, lanes):
    """Superlane ``k``'s share of a command: its lanes of ``index`` and ``data``."""
    if cmd is None:
        return None
    part = dict(cmd)
    for key in ("index", "data"):
        if key in cmd:
            part[key] = np.asarray(cmd[key], dtype=np.uint8)[k * lanes:(k + 1) * lanes]
    return part


class MemTilesModel:
    """A MEM slice of the chip: one :class:`MemSliceModel` *tile* per superlane.

    Tile ``k`` holds lanes ``k * lanes_per_superlane ..`` of every vector (its
    ECC columns) and takes the slice's commands for those lanes; on the chip it
    runs ``superlane_offset(k)`` cycles behind tile 0, and this model, like the
    golden chip, steps all tiles in superlane 0's time. A tile with an
    uncorrectable or out-of-range column reads as zeros (its lanes only: the
    other tiles' data has left by then); ``poison`` is set if any tile's is.
    The counters are the sums over the tiles; ``last_addr``/``last_syndrome``
    are those of the lowest tile that has had an ECC event. With one superlane
    this is exactly :class:`MemSliceModel`.
    """

    def __init__(self, cfg):
        require_ecc_lanes(cfg)
        self.cfg = cfg
        self.cols = cfg.lanes // 8
        self._lanes = cfg.lanes_per_superlane
        self.tiles = [MemSliceModel(cfg.superlane) for _ in range(cfg.superlanes)]
        self.words = [col for tile in self.tiles for col in tile.words]   # the tiles' own lists
        self._s1 = self._out = None     # step_columns: the read in flight

    def step(self, rd=None, wr=None, fault=None):
        per = self.tiles[0].cols
        outs = [tile.step(_tile_part(rd, k, self._lanes), _tile_part(wr, k, self._lanes),
                          None if fault is None else fault[k * per:(k + 1) * per])
                for k, tile in enumerate(self.tiles)]
        if outs[0] is None:
            return None
        return np.concatenate([o[0] for o in outs]), any(o[1] for o in outs)

    def step_columns(self, rd=None, wr=None):
        """What :meth:`step` does (without fault injection), for all the tiles' ECC columns at
        once: the columns are encoded and their syndromes computed with numpy; a column with a
        non-zero syndrome or an out-of-range address takes :meth:`MemSliceModel.step`'s path.
        The read in flight is the slice's, not the tiles': step a model with one of the two."""
        tiles, per, depth = self.tiles, self.tiles[0].cols, self.cfg.mem_depth
        out = self._out
        s1 = None
        if rd is not None:
            addrs = column_addresses(self.cfg, rd, "gather")
            s1 = (bool(rd.get("scrub", False)), addrs,
                  [col[a] if a < depth else None for col, a in zip(self.words, addrs)])
        writes, oor = {}, [0] * len(tiles)
        if wr is not None:
            words = encode_vector(wr["data"])
            for w, a in enumerate(column_addresses(self.cfg, wr, "scatter")):
                if a >= depth:
                    oor[w // per] += 1
                else:
                    writes[w] = (a, words[w])
        self._out = None if self._s1 is None else self._decode(*self._s1, writes, oor)
        for tile, n in zip(tiles, oor):
            if n:
                tile.range_errors = min(tile.range_errors + n, COUNTER_MAX)
        for w, (a, word) in writes.items():
            self.words[w][a] = word
        self._s1 = s1
        return out

    def _decode(self, scrub, addrs, raws, writes, oor):
        """The output ``(data, poison)`` of a read sampled last cycle (:meth:`step_columns`)."""
        per = self.tiles[0].cols
        data, syn = syndromes([0 if raw is None else raw for raw in raws])
        poison = [False] * len(self.tiles)
        first = [None] * len(self.tiles)      # each tile's first ECC event
        for w in np.flatnonzero(syn).tolist() + [w for w, raw in enumerate(raws) if raw is None]:
            k, tile, a = w // per, self.tiles[w // per], addrs[w]
            if raws[w] is None:
                oor[k] += 1
                poison[k] = True
                continue
            d, status, syndrome = ecc_decode(raws[w])
            data[w] = np.frombuffer(d.to_bytes(8, "little"), np.uint8)
            if status == ECC_CORRECTED:
                tile.corrected = min(tile.corrected + 1, COUNTER_MAX)
                if scrub and w not in writes:
                    writes[w] = (a, ecc_encode(d))
            else:
                tile.detected = min(tile.detected + 1, COUNTER_MAX)
                poison[k] = True
            if first[k] is None or w < first[k][0]:
                first[k] = (w, a, syndrome)
        for tile, event in zip(self.tiles, first):
            if event is not None:
                tile.last_addr, tile.last_syndrome = event[1:]
        vec = data.reshape(len(self.tiles), -1)
        for k in np.flatnonzero(poison):
            vec[k] = 0
        return vec.reshape(-1), any(poison)

    def _total(self, name):
        return min(sum(getattr(t, name) for t in self.tiles), COUNTER_MAX)

    corrected = property(lambda self: self._total("corrected"))
    detected = property(lambda self: self._total("detected"))
    range_errors = property(lambda self: self._total("range_errors"))

    def _last(self):
        return next((t for t in self.tiles if t.corrected or t.detected), self.tiles[0])

    last_addr = property(lambda self: self._last().last_addr)
    last_syndrome = property(lambda self: self._last().last_syndrome)

    def load(self, addr, vec):
        """Backdoor: store ``vec`` (lanes bytes) at ``addr`` with correct ECC."""
        vec = np.asarray(vec, dtype=np.uint8)
        for k, tile in enumerate(self.tiles):
            tile.load(addr, vec[k * self._lanes:(k + 1) * self._lanes])

    def peek(self, addr):
        """Backdoor: the stored data of ``addr`` as ``lanes`` bytes (no ECC check)."""
        return np.concatenate([tile.peek(addr) for tile in self.tiles])


def host_address(cfg, slice_, vector):
    """Byte address of ``vector`` of ``slice_`` on the AXI4 host port.

    A vector is ``cfg.host_vector_beats`` data beats of ``cfg.host_beat``
    bytes (its lanes in order, the last beat zero-padded), and vectors are
    ``cfg.host_vector_stride`` bytes apart (those beats rounded up to a power
    of two; a beat in the gap is padding). Slices are ``2**ceil_log2(mem_depth)``
    vectors apart.
    """
    return (slice_ * _depth_pow2(cfg) + vector) * cfg.host_vector_stride


def host_decode(cfg, addr):
    """``(slice, vector)`` of the vector a host byte address falls in, or ``None`` when out of
    range (DECERR)."""
    s, v = divmod(addr // cfg.host_vector_stride, _depth_pow2(cfg))
    if s >= cfg.mem_slices or v >= cfg.mem_depth:
        return None
    return s, v


def host_span(cfg, count):
    """Bytes of a host burst that carries ``count`` consecutive vectors (the padding between
    them included, none after the last)."""
    return (count - 1) * cfg.host_vector_stride + cfg.host_vector_beats * cfg.host_beat


def host_pack(cfg, vectors):
    """The ``host_span`` bytes a host writes to store ``vectors`` (each ``lanes`` bytes) at
    consecutive addresses from :func:`host_address`; padding is zero."""
    vectors = [bytes(v) for v in vectors]
    out = bytearray(host_span(cfg, len(vectors)))
    for k, vec in enumerate(vectors):
        assert len(vec) == cfg.lanes, f"vector {k} has {len(vec)} bytes, not lanes = {cfg.lanes}"
        out[k * cfg.host_vector_stride:k * cfg.host_vector_stride + cfg.lanes] = vec
    return bytes(out)


def host_unpack(cfg, data, count):
    """The ``count`` vectors (``lanes`` bytes each) in the bytes of a host read of
    ``host_span(cfg, count)`` bytes."""
    stride = cfg.host_vector_stride
    return [bytes(data[k * stride:k * stride + cfg.lanes]) for k in range(count)]


def imem_rows(cfg, words):
    """Instruction-memory rows holding ``words`` from pc 0: ``cfg.imem_row`` 64-bit words per
    row (one host data beat), the first in the low bits; a last partial row is padded with zero
    words, as the host writes it."""
    per_row = cfg.imem_row
    words = [int(w) for w in words]
    return [sum(w << 64 * k for k, w in enumerate(words[r:r + per_row])) for r in range(0, len(words), per_row)]


def _depth_pow2(cfg):
    return 1 << max(0, (cfg.mem_depth - 1).bit_length())


def stride_addresses(base, stride, count):
    """Addresses of a strided sequence (:class:`openlpu.rtl.mem.MemAddrGen`), modulo 2**16,
    the first ``MEM_ADDRGEN_LATENCY`` cycles after the command, one per cycle."""
    return [(base + k * stride) & 0xFFFF for k in range(count)]
