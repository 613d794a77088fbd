"""Stimulus for the SXM, shared by the Amaranth-simulator tests and the cocotb testbench.

A scenario is a list of per-cycle commands: ``None`` (idle) or a dict with
``op``, ``k``, ``start``, ``a``, ``b``, ``c`` (``uint8`` vectors) and ``dst``
(a stream operand the unit carries to its output). :class:`DstModel` says
which ``dst`` each output carries.
"""

import numpy as np

from .. import timing
from ..golden.sxm import SxmOp
from ..rtl.fabric import OPERAND_BITS

__all__ = ["SCENARIOS", "scenario", "DstModel"]

LANE_OPS = [SxmOp.PASS, SxmOp.SHIFT_UP, SxmOp.SHIFT_DOWN, SxmOp.ROTATE, SxmOp.PERMUTE,
            SxmOp.DISTRIBUTE, SxmOp.SELECT]


def _vec(rng, lanes):
    return rng.integers(0, 256, lanes).astype(np.uint8)


def _lane_cmd(rng, lanes, op, k=None):
    if k is None:
        k = {SxmOp.SHIFT_UP: rng.integers(0, lanes + 1), SxmOp.SHIFT_DOWN: rng.integers(0, lanes + 1),
             SxmOp.ROTATE: rng.integers(0, lanes), SxmOp.DISTRIBUTE: rng.integers(0, lanes)}.get(op, 0)
    b = _vec(rng, lanes)
    if op == SxmOp.PERMUTE:   # mostly in range, some out of range (-> 0)
        b = np.where(rng.random(lanes) < 0.85, rng.integers(0, lanes, lanes), b).astype(np.uint8)
    c = np.where(rng.random(lanes) < 0.5, 0, _vec(rng, lanes)).astype(np.uint8)
    return {"op": op, "k": int(k), "start": False, "a": _vec(rng, lanes), "b": b, "c": c}


def _transpose(rng, lanes, fill=None):
    """The ``lanes`` row commands of one tile: random bytes, or every byte ``fill``."""
    def vec():
        return _vec(rng, lanes) if fill is None else np.full(lanes, fill, dtype=np.uint8)
    return [{"op": SxmOp.TRANSPOSE, "k": 0, "start": r == 0, "a": vec(), "b": vec(), "c": vec()}
            for r in range(lanes)]


def _lane_ops(cfg, rng, count=200):
    cmds = []
    for _ in range(count):
        if rng.random() < 0.1:
            cmds.append(None)
        else:
            cmds.append(_lane_cmd(rng, cfg.lanes, rng.choice(LANE_OPS)))
    # corners: shift/rotate by 0 and by the extremes, distribute first/last lane
    for op, k in [(SxmOp.SHIFT_UP, 0), (SxmOp.SHIFT_UP, cfg.lanes), (SxmOp.SHIFT_DOWN, 0),
                  (SxmOp.SHIFT_DOWN, cfg.lanes), (SxmOp.ROTATE, 0), (SxmOp.ROTATE, cfg.lanes - 1),
                  (SxmOp.DISTRIBUTE, 0), (SxmOp.DISTRIBUTE, cfg.lanes - 1)]:
        cmds.append(_lane_cmd(rng, cfg.lanes, op, k))
    return cmds


def _transposes(cfg, rng):
    """Three tiles back to back, a gap, a tile with idle cycles between rows, six constant tiles,
    then lane ops after the drain."""
    lanes = cfg.lanes
    cmds = _transpose(rng, lanes) + _transpose(rng, lanes) + _transpose(rng, lanes)
    cmds += [None] * (lanes + 2)
    for row in _transpose(rng, lanes):
        cmds += [row, None]
    cmds += [None] * (lanes + 2)
    # constant tiles 00, 00, ff, ff, 00, 00: tiles alternate between the two banks, so every
    # bit of both banks rises and falls whatever bank the sequence starts in
    for byte in (0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00):
        cmds += _transpose(rng, lanes, fill=byte)
    cmds += [None] * (lanes + 2)
    cmds += [_lane_cmd(rng, lanes, op) for op in LANE_OPS]
    return cmds


def _errors(cfg, rng):
    """Illegal immediates, a row with no tile, a lane op colliding with a transpose column."""
    lanes = cfg.lanes
    cmds = [_lane_cmd(rng, lanes, SxmOp.ROTATE, lanes), _lane_cmd(rng, lanes, SxmOp.DISTRIBUTE, lanes),
            _lane_cmd(rng, lanes, SxmOp.SHIFT_UP, lanes + 1)]
    row = _transpose(rng, lanes)[1]           # start = False with no tile open
    cmds += [row, None]
    cmds += _transpose(rng, lanes)
    cmds += [_lane_cmd(rng, lanes, SxmOp.PASS) for _ in range(3)]   # collide with columns 0..2
    cmds += [None] * (lanes + 2)
    return cmds


SCENARIOS = {"lane_ops": _lane_ops, "transposes": _transposes, "errors": _errors}


def scenario(name, cfg, seed):
    try:
        make = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown SXM scenario {name!r}; choose from {', '.join(SCENARIOS)}") from None
    cmds = make(cfg, np.random.default_rng(seed))
    # the destinations come from a second generator, so the vectors are those of the seed alone
    dsts = np.random.default_rng([seed, 1]).integers(0, 1 << OPERAND_BITS, len(cmds))
    for cmd, dst in zip(cmds, dsts):
        if cmd is not None:
            cmd["dst"] = int(dst)
    return cmds


class DstModel:
    """The ``dst`` each SXM output carries, cycle by cycle, by the rule of
    :class:`openlpu.golden.lpu.LpuModel`: a lane op's own, ``SXM_LATENCY``
    later; every column of a transposed tile, the one of the tile's last row.

    :meth:`step` takes the cycle's command (or ``None``), like
    :meth:`openlpu.golden.sxm.SxmModel.step`, and returns the ``dst`` of this
    cycle's output (``None`` when there is none).
    """

    def __init__(self, cfg):
        self.lanes = cfg.lanes
        self.cycle = 0
        self.rows = 0
        self.lane_dst = {}
        self.col_dst = {}

    def step(self, cmd=None):
        t = self.cycle
        if cmd is not None and cmd["op"] == SxmOp.TRANSPOSE:
            if cmd["start"] or self.rows:
                self.rows = 1 if cmd["start"] else self.rows + 1
                if self.rows == self.lanes:
                    for j in range(self.lanes):
                        self.col_dst[t + 1 + timing.SXM_LATENCY + j] = cmd["dst"]
                    self.rows = 0
        elif cmd is not None:
            self.lane_dst[t + timing.SXM_LATENCY] = cmd["dst"]
        col, lane = self.col_dst.pop(t, None), self.lane_dst.pop(t, None)
        self.cycle += 1
        return col if col is not None else lane


def _uneven_tiles(cfg, rng):
    """Four tiles, all 0 twice then random twice (so each bank gets both kinds), each with one
    idle cycle before its last row: every other row's columns are read one cycle later after
    their write than in a back-to-back tile, so a bank value that does not hold still between
    write and read is caught whichever phase the other scenarios read it in."""
    cmds = []
    for fill in (0x00, 0x00, None, None):
        rows = _transpose(rng, cfg.lanes, fill=fill)
        cmds += rows[:-1] + [None] + rows[-1:]
    return cmds + [None] * (cfg.lanes + 2)


SCENARIOS["uneven_tiles"] = _uneven_tiles
