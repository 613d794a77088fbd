"""Golden, cycle-exact model of an SRAM slice (:class:`openlpu.rtl.mem.MemSlice`).

Each vector is ``lanes // 8`` ECC columns of 72-bit words
(:mod:`openlpu.golden.ecc`). Call :meth:`MemSliceModel.step` once per clock
cycle with that cycle's commands; it returns what the ``out`` port shows in
that cycle. Latencies come from :mod:`openlpu.timing`.
"""

import numpy as np

from openlpu import timing
from openlpu.golden.ecc import ECC_CORRECTED, ECC_DETECTED, WORD_BITS, ecc_decode, ecc_encode

__all__ = ["MemSliceModel", "COUNTER_MAX", "column_addresses", "host_address", "host_decode", "stride_addresses"]

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
        if cfg.lanes % 8:
            raise ValueError(f"MemSliceModel: lanes must be a multiple of 8, not {cfg.lanes!r}")
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


def host_address(cfg, slice_, vector):
    """Byte address of ``vector`` of ``slice_`` on the AXI4 host port.

    Slices are ``2**ceil_log2(mem_depth) * lanes`` bytes apart; ``lanes`` is a
    power of two (one vector per beat).
    """
    depth_pow2 = 1 << max(0, (cfg.mem_depth - 1).bit_length())
    return (slice_ * depth_pow2 + vector) * cfg.lanes


def host_decode(cfg, addr):
    """``(slice, vector)`` of a host byte address, or ``None`` when out of range (DECERR)."""
    depth_pow2 = 1 << max(0, (cfg.mem_depth - 1).bit_length())
    vec_index = addr // cfg.lanes
    s, v = divmod(vec_index, depth_pow2)
    if s >= cfg.mem_slices or v >= cfg.mem_depth:
        return None
    return s, v


def stride_addresses(base, stride, count):
    """Addresses of a strided sequence (:class:`openlpu.rtl.mem.MemAddrGen`), modulo 2**16,
    the first ``MEM_ADDRGEN_LATENCY`` cycles after the command, one per cycle."""
    return [(base + k * stride) & 0xFFFF for k in range(count)]
