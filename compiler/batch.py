"""A batch larger than the SRAM, run as chunks of rows.

When a graph's tensors for the whole batch do not fit the SRAM
(:class:`~openlpu.compiler.alloc.SramFull`), :func:`~openlpu.compiler.lower.compile_graph`
compiles the largest number of rows that fits, ``chunk``, and returns a :class:`Batched`:
the batch is ``ceil(rows / chunk)`` runs of that program (and one more program for a
shorter last chunk), each fed its rows through the SRAM and read back before the next, as a
host driver would. This is only valid for a graph whose rows are independent (dense layers and
row ops); a graph that mixes rows (a ``transpose``: attention's ``Q @ K.T``) is refused, naming
the node. The predicted cycles are the sum of the chunks' runs; the host's loading and reading
between them is not counted (it is the host port's time, not the chip's).
"""

from dataclasses import dataclass, field

import numpy as np

from .alloc import SramFull
from .legalize import legalize

__all__ = ["Batched", "compile_chunked", "run_chunked"]


@dataclass
class Batched:
    """A compiled graph run as chunks: ``chunks`` is ``[(first row, end row, Compiled)]``."""
    cfg: object
    chunks: list
    outputs: list
    report: dict = field(default_factory=dict)

    @property
    def predicted_cycles(self):
        return sum(c.predicted_cycles for _, _, c in self.chunks)

    @property
    def segments(self):
        """Every program in the order the runs load them."""
        return [sg for _, _, c in self.chunks for sg in c.segments]


def _row_mixing_node(graph):
    """The first node whose result mixes rows of the batch, or ``None``."""
    for i, nd in enumerate(graph.nodes):
        if nd.op == "transpose":
            return i, nd
    return None


def _fits(compile_rows, rows):
    try:
        return compile_rows(rows)
    except SramFull:
        return None


def compile_chunked(graph, cfg, rows, compile_rows, full_error):
    """The batch of ``rows`` as chunks (see the module docstring). ``compile_rows(r)`` compiles
    ``r`` rows; ``full_error`` is the :class:`SramFull` of the whole batch, raised again (with the
    reason) when no chunk of rows fits or the graph mixes rows."""
    mixing = _row_mixing_node(graph)
    if mixing is not None:
        i, nd = mixing
        raise SramFull(f"{full_error}; the batch of {rows} rows cannot run in chunks: node {i} "
                       f"({nd.op}) mixes rows") from full_error
    lo, hi, best = 1, rows - 1, None           # the largest chunk that compiles
    while lo <= hi:
        mid = (lo + hi) // 2
        c = _fits(compile_rows, mid)
        if c is None:
            hi = mid - 1
        else:
            lo, best = mid + 1, (mid, c)
    if best is None:
        raise SramFull(f"{full_error}; not even one row of the graph fits the SRAM "
                       f"({cfg.mem_slices} slices x {cfg.mem_depth} vectors)") from full_error
    chunk, compiled = best
    chunks = [(start, min(start + chunk, rows)) for start in range(0, rows, chunk)]
    last = chunks[-1][1] - chunks[-1][0]
    tail = compiled if last == chunk else compile_rows(last)
    parts = [(a, b, compiled if b - a == chunk else tail) for a, b in chunks]
    report = {**compiled.report, "predicted_cycles": sum(c.predicted_cycles for _, _, c in parts),
              "chunks": len(parts), "chunk_rows": chunk}
    return Batched(cfg, parts, list(graph.outputs), report)


def run_chunked(batched, inputs, run_one):
    """Run every chunk with its rows of ``inputs`` (``run_one(compiled, inputs)`` runs one) and
    join the outputs by rows; returns ``(outputs, [cycles per program], done, error)``."""
    outs, cycles, done, error = {}, [], True, 0
    for a, b, compiled in batched.chunks:
        r = run_one(compiled, {name: np.asarray(v)[a:b] for name, v in inputs.items()})
        for name, value in r.outputs.items():
            outs.setdefault(name, []).append(value)
        cycles += r.segment_cycles
        done, error = done and r.done, error or r.error
        if error:
            break
    return {name: np.concatenate(parts) for name, parts in outs.items()}, cycles, done, error
