"""Cycle-by-cycle command scenarios of an SRAM slice, shared by the Amaranth
simulator tests and the cocotb testbench (:mod:`openlpu.verif.tb_mem`).

A scenario is a list of ``(rd, wr, fault)`` per cycle (each may be ``None``),
in the form :meth:`openlpu.golden.mem.MemSliceModel.step` takes.
"""

import numpy as np

from openlpu.golden.ecc import WORD_BITS

__all__ = ["SCENARIOS", "scenario", "fault_batch", "rd_value", "wr_value"]


def _index(rng, cfg, hi):
    idx = rng.integers(0, 256, cfg.lanes, dtype=np.uint8)
    for w in range(cfg.lanes // 8):
        a = int(rng.integers(0, hi))
        idx[8 * w], idx[8 * w + 1] = a & 0xFF, a >> 8
    return idx


def _flip_mask(rng, nbits):
    bits = rng.choice(WORD_BITS, size=nbits, replace=False)
    return sum(1 << int(b) for b in bits)


def _directed(cfg, rng):
    lanes, cols = cfg.lanes, cfg.lanes // 8
    v = lambda k: np.arange(k, k + lanes, dtype=np.uint8)   # noqa: E731
    z = np.zeros(lanes, dtype=np.uint8)
    top = cfg.mem_depth - 1
    cmds = [(None, {"addr": a, "data": z}, None) for a in range(16)] + [
        (None, {"addr": 0, "data": v(1)}, None),
        (None, {"addr": top, "data": v(100)}, None),
        ({"addr": 0}, {"addr": 0, "data": v(50)}, None),          # same cycle: old data (v(1))
        ({"addr": 0}, None, None),                                 # next cycle: new data (v(50))
        ({"addr": top}, None, None),
        (None, {"addr": 5, "data": v(7)}, [1 << 3] * cols),        # single-bit fault in data
        (None, {"addr": 6, "data": v(9)}, [1 << 66] * cols),       # single-bit fault in a check bit
        (None, {"addr": 7, "data": v(11)}, [1 << 71] * cols),      # fault in the parity bit
        (None, {"addr": 8, "data": v(13)}, [(1 << 2) | (1 << 40)] * cols),   # double
        ({"addr": 5, "scrub": True}, None, None),
        ({"addr": 6}, None, None),
        ({"addr": 7}, None, None),
        ({"addr": 8}, None, None),
        ({"addr": 5}, None, None),                                 # scrubbed: clean now
        ({"addr": 0, "gather": True, "index": _index(rng, cfg, 16)}, None, None),
        ({"addr": 0, "gather": True, "index": _index(rng, cfg, 1 << 16)}, None, None),   # likely out of range
        (None, {"addr": 0, "scatter": True, "index": _index(rng, cfg, cfg.mem_depth), "data": v(200)}, None),
        (None, {"addr": 0, "scatter": True, "index": _index(rng, cfg, 1 << 16), "data": v(3)}, None),
        ({"addr": 5, "scrub": True}, {"addr": 9, "data": z}, None),
    ]
    return cmds + _bit_walks(cfg) + [(None, None, None)] * 3


def _bit_walks(cfg):
    """Every bit of the command fields high, then low: row addresses 1 << b written with
    0xff bytes and read back; gathers and scatters whose column addresses walk all 16 index
    bits (the ones >= mem_depth are range errors); whole index vectors of 0xff, then 0x00."""
    lanes, cols = cfg.lanes, cfg.lanes // 8
    ff, z = np.full(lanes, 0xFF, dtype=np.uint8), np.zeros(lanes, dtype=np.uint8)

    def index(a):
        idx = np.zeros(lanes, dtype=np.uint8)
        for w in range(cols):
            idx[8 * w], idx[8 * w + 1] = a & 0xFF, a >> 8
        return idx
    rows = [1 << b for b in range((cfg.mem_depth - 1).bit_length())]
    cmds = [(None, {"addr": a, "data": ff}, None) for a in rows]
    cmds += [({"addr": a}, {"addr": a, "data": z}, None) for a in rows]
    for b in range(16):
        cmds.append(({"addr": 0, "gather": True, "index": index(1 << b)},
                     {"addr": 0, "scatter": True, "index": index(1 << b), "data": ff}, None))
    cmds.append(({"addr": 0, "gather": True, "index": ff}, {"addr": 0, "scatter": True, "index": ff, "data": ff}, None))
    cmds.append(({"addr": 0, "gather": True, "index": z}, {"addr": 0, "scatter": True, "index": z, "data": z}, None))
    return cmds


def _random(cfg, rng, n=300, hot=8):
    cols = cfg.lanes // 8
    # clear the hot addresses first: SRAM contents survive a reset
    cmds = [(None, {"addr": a, "data": np.zeros(cfg.lanes, dtype=np.uint8)}, None) for a in range(hot)]
    for _ in range(n):
        rd = wr = fault = None
        if rng.random() < 0.7:
            rd = {"addr": int(rng.integers(0, hot)), "gather": bool(rng.random() < 0.3),
                  "scrub": bool(rng.random() < 0.2), "index": _index(rng, cfg, hot if rng.random() < 0.95 else 1 << 16)}
        if rng.random() < 0.7:
            wr = {"addr": int(rng.integers(0, hot)), "scatter": bool(rng.random() < 0.3),
                  "index": _index(rng, cfg, hot), "data": rng.integers(0, 256, cfg.lanes, dtype=np.uint8)}
            if rng.random() < 0.2:
                fault = [_flip_mask(rng, int(rng.integers(0, 3))) for _ in range(cols)]
        cmds.append((rd, wr, fault))
    return cmds + [(None, None, None)] * 3


SCENARIOS = {"directed": _directed, "random": _random}


def scenario(name, cfg, seed):
    return SCENARIOS[name](cfg, np.random.default_rng(seed))


def fault_batch(cfg, rng, count):
    """``count`` addresses written with random data and a 1- or 2-bit fault in one
    random column each, then all read back: returns the commands and the
    ``(addr, column, nbits, data)`` of every fault."""
    cols = cfg.lanes // 8
    count = min(count, cfg.mem_depth)
    addrs = rng.permutation(cfg.mem_depth)[:count]
    cmds, faults = [], []
    for a in addrs:
        vec = rng.integers(0, 256, cfg.lanes, dtype=np.uint8)
        w = int(rng.integers(0, cols))
        nbits = int(rng.integers(1, 3))
        fault = [0] * cols
        fault[w] = _flip_mask(rng, nbits)
        cmds.append((None, {"addr": int(a), "data": vec}, fault))
        faults.append((int(a), w, nbits, vec))
    cmds += [({"addr": int(a)}, None, None) for a in addrs]
    return cmds + [(None, None, None)] * 3, faults


def rd_value(rd, lanes):
    """``rd`` as the dict an Amaranth ``MemReadLayout`` port takes."""
    index = rd.get("index", np.zeros(lanes, dtype=np.uint8))
    return {"addr": rd["addr"], "gather": bool(rd.get("gather", False)), "scrub": bool(rd.get("scrub", False)),
            "index": [int(x) for x in index]}


def wr_value(wr, lanes):
    """``wr`` as the dict an Amaranth ``MemWriteLayout`` port takes."""
    index = wr.get("index", np.zeros(lanes, dtype=np.uint8))
    return {"addr": wr["addr"], "scatter": bool(wr.get("scatter", False)),
            "index": [int(x) for x in index], "data": [int(x) for x in wr["data"]]}
