"""Golden chip models with the MEM ports' or the VXM columns' timing deliberately wrong, to show that tests see it.

Each mutant is a context manager that patches :class:`openlpu.golden.mem.MemTilesModel`
(whose :meth:`~openlpu.golden.mem.MemTilesModel.step_columns` the golden ISA simulator
:class:`openlpu.golden.lpu.LpuModel` steps) or :mod:`openlpu.timing` for the duration of
the ``with`` block:

* ``"write seen in its own cycle"``: a WRITE/SCATTER stores its words before the same cycle's
  read samples them (one cycle early: a read of the written address returns the new word);
* ``"write seen two cycles later"``: every write is applied one step late (one cycle late: a
  read ``MEM_WRITE_LATENCY`` after the write still returns the old word);
* ``"scrub rewrite wins"``: a SCRUB's rewrite of a corrected word replaces a chip write of the
  same column in its cycle, instead of being dropped;
* ``"VOP result one cycle late"``: :func:`openlpu.timing.vop_latency` (the golden models' VOP
  result time) is ``length * VXM_ALU_LATENCY + 1``.

A directed case that passes on the real golden model and fails on a mutant checks that rule.
"""

import contextlib
from unittest import mock

from openlpu import timing
from openlpu.golden.ecc import encode_vector
from openlpu.golden.mem import MemTilesModel, column_addresses
from openlpu.verif.lpu_cases import compare, expect

__all__ = ["MUTANTS", "PORT_MUTANTS", "mutant", "mutants_disagree"]

_step, _decode = MemTilesModel.step_columns, MemTilesModel._decode


def _early(self, rd=None, wr=None):
    if wr is not None:
        words = encode_vector(wr["data"])
        for w, a in enumerate(column_addresses(self.cfg, wr, "scatter")):
            if a < self.cfg.mem_depth:
                self.words[w][a] = words[w]
    return _step(self, rd, wr)


def _late(self, rd=None, wr=None):
    pending, self._late_write = getattr(self, "_late_write", None), wr
    return _step(self, rd, pending)


def _scrub_wins(self, scrub, addrs, raws, writes, oor):
    rewrites = {}
    out = _decode(self, scrub, addrs, raws, rewrites, oor)
    writes.update(rewrites)
    return out


def _vop_late(length):
    return length * timing.VXM_ALU_LATENCY + 1


MUTANTS = {"write seen in its own cycle": (MemTilesModel, "step_columns", _early),
           "write seen two cycles later": (MemTilesModel, "step_columns", _late),
           "scrub rewrite wins": (MemTilesModel, "_decode", _scrub_wins),
           "VOP result one cycle late": (timing, "vop_latency", _vop_late)}


@contextlib.contextmanager
def mutant(name):
    """The golden models with mutation ``name`` of :data:`MUTANTS` inside the block."""
    target, attr, func = MUTANTS[name]
    with mock.patch.object(target, attr, func):
        yield


#: The directed cases of a slice's read and write queues in one cycle
#: (:func:`openlpu.verif.lpu_directed.port_cases`) and of VXM columns on their own queues, and
#: the mutants each of them must reject.
PORT_MUTANTS = [("read_write_same_cycle", "write seen in its own cycle"),
                ("read_write_same_cycle", "write seen two cycles later"),
                *[("scrub_rewrite_vs_write", name) for name in MUTANTS if name != "VOP result one cycle late"],
                # VXM columns on their own queues (lpu_directed._vxm_column_cases)
                ("vxm_two_columns", "VOP result one cycle late"),
                ("vxm_chain_column1", "VOP result one cycle late")]


def mutants_disagree(cfg, cases, labels, got):
    """Assert that for every entry ``(case, mutant)`` of :data:`PORT_MUTANTS` the observations
    ``got`` (the RTL's) of the case labelled ``case`` differ from the golden model's with that
    mutant. The cases before it run first, as SRAM and ECC counters persist from case to case."""
    for case, name in PORT_MUTANTS:
        idx = labels.index(case)
        with mutant(name):
            wrong = expect(cfg, cases[:idx + 1])[idx]
        try:
            compare([wrong], [got[idx]], [case])
        except AssertionError as exc:
            assert "golden" in str(exc), exc
            continue
        raise AssertionError(f"{case}: the RTL agrees with a golden model whose {name}")
