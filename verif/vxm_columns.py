"""Schedules of VXM column entries and what :class:`openlpu.rtl.vxm.Vxm` must do with them.

A schedule is a list, one element per cycle, of ``{column: Entry}``: the
entries driven on the VXM's columns in that cycle. :func:`expected` is the
reference the unit tests hold the RTL to: the golden model's conflict rule
(:func:`openlpu.golden.lpu`'s ``vop_columns_free``: an entry on a column an
earlier chain enters in its cycle faults and is dropped) with the values of
:func:`openlpu.golden.vxm.chain` on the control's first ``len`` ALUs, due
``timing.vop_latency(len)`` cycles later on the chain's last column.
"""

from collections import namedtuple

import numpy as np

from openlpu import timing
from openlpu.golden import vxm as gold

__all__ = ["Entry", "expected", "head_schedule", "column_schedule", "length"]

#: One column entry: a program of :func:`openlpu.golden.vxm.random_programs` (control of all
#: ``vxm_alus`` ALUs, operands), its chain length ``len`` (0: through the last column) and tag.
Entry = namedtuple("Entry", "etype ops srcs imms a b len tag")


def length(cfg, column, entry):
    """The ALUs ``entry``'s chain runs on ``column`` (its ``len``; 0 is through the last column)."""
    return entry.len or cfg.vxm_alus - column


def expected(cfg, schedule):
    """``(faults, results)`` of ``schedule``: the set of ``(cycle, column)`` whose entry faults,
    and ``{(cycle, column): (tag, values)}``, each chain's result on its last column."""
    busy, faults, results = set(), set(), {}
    for cycle, entries in enumerate(schedule):
        for k, e in sorted(entries.items()):
            if (cycle, k) in busy:
                faults.add((cycle, k))
                continue
            n = length(cfg, k, e)
            busy.update((t, c) for c, t in timing.vop_chain_points(k, cycle, n)[1:])
            values = gold.chain(e.ops[:n], e.etype, e.srcs[:n], e.imms[:n], e.a, e.b)
            results[(cycle + timing.vop_latency(n), k + n - 1)] = (e.tag, [int(v) for v in values])
    return faults, results


def head_schedule(programs):
    """Each program on column 0, full length, one per cycle (the chain of a single-queue VXM)."""
    return [{0: Entry(*p, 0, k & 0xFF)} for k, p in enumerate(programs)]


def column_schedule(cfg, rng, count):
    """Entries on every column: first each ``(column, len)`` alone (every length from every
    column), then two columns in one cycle with different first ops, a chain meeting an entry
    on its next column (a fault), and ``count`` cycles of random entries on random columns."""
    A, L = cfg.vxm_alus, timing.VXM_ALU_LATENCY
    progs = iter(gold.random_programs(cfg, rng, 4 * count + 8 * A * A + 16, head=False))
    tags = iter(range(1 << 20))

    def entry(n, first_op=None):
        p = next(progs)
        ops = list(p[1]) if first_op is None else [first_op] + list(p[1][1:])
        return Entry(p[0], ops, *p[2:], n, next(tags) & 0xFF)
    sched = []
    for k in range(A):
        for n in range(A - k + 1):
            sched += [{k: entry(n)}] + [{}] * (A * L)
    if A > 1:
        sched += [{0: entry(1, gold.OPS["add"]), 1: entry(1, gold.OPS["xor"])}] + [{}] * (A * L)
        sched += [{0: entry(2)}] + [{}] * (L - 1) + [{1: entry(1)}] + [{}] * (A * L)
    for _ in range(count):
        sched.append({k: entry(int(rng.integers(A - k + 1))) for k in range(A) if rng.random() < 0.4})
    return sched + [{}] * (A * L + 1)


def coverage(cfg, schedule):
    """What ``schedule`` exercises: the ``(column, ALUs)`` chains that run, the most columns
    whose entries run in one cycle, and the number of faults."""
    faults, _ = expected(cfg, schedule)
    runs = [(c, k, length(cfg, k, e)) for c, es in enumerate(schedule) for k, e in es.items() if (c, k) not in faults]
    per_cycle = max(np.bincount([c for c, _, _ in runs])) if runs else 0
    return {(k, n) for _, k, n in runs}, int(per_cycle), len(faults)
