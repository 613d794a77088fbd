"""Lowering a :class:`~openlpu.compiler.graph.Graph` to statically scheduled programs: the driver.

:func:`compile_graph` runs the passes, each a module of its own:

1. legalisation (:mod:`.legalize`): the graph as the steps the chip runs (int8 and fp16 dense
   layers, transposes, softmax / layer norm / GELU), or an error naming the node;
2. per step, in order (:class:`.layers.Lowering`):

   * tiling (:mod:`.tiling`): weight tiles, input tiles, chunks of rows;
   * allocation (:mod:`.alloc`): SRAM places of tensors and constants;
   * placement (:mod:`.place_mxm`, :mod:`.place_vxm`, :mod:`.place_sxm` on the books of
     :class:`.scheduler.Scheduler`): every instruction at the earliest cycle where its queue,
     its streams and its data are ready;

3. segmentation (here): steps go into one program until a queue would hold more than
   ``imem_depth`` instructions; that program ends and the step starts the next (a step too long
   on its own is cut by rows);
4. emission (:mod:`.emit`): the programs' words, the SRAM image, the readback of outputs, and
   the report. A schedule's length is its predicted cycle count.

The layouts and the lowering of each step are described in those modules and docs/compiler.md.
"""

import copy

from .alloc import SramFull, TensorPlace
from .batch import compile_chunked
from .emit import Compiled, Segment, report
from .graph import Graph
from .layers import Lowering
from .legalize import legalize, step_name
from .tiling import halve, step_rows

__all__ = ["Compiled", "Segment", "TensorPlace", "compile_graph"]


def compile_graph(graph: Graph, cfg, rows):
    """Compile ``graph`` for ``cfg`` with ``rows`` input rows (the batch).

    The steps are placed into one program until a queue would need more than ``imem_depth``
    instructions; the program then ends and the next step starts the next *segment*, run after
    it with the SRAM kept (:func:`openlpu.compiler.runtime.run` runs them in order). A batch
    whose tensors do not fit the SRAM is compiled as chunks of rows (:mod:`.batch`): a
    :class:`~.batch.Batched`, which the runtime runs chunk by chunk."""
    try:
        return _compile(graph, cfg, rows)
    except SramFull as full:
        return compile_chunked(graph, cfg, rows, lambda r: _compile(graph, cfg, r), full)


def _compile(graph, cfg, rows):
    steps = legalize(graph)
    low = Lowering(graph, cfg, rows, {st.x for st in steps if st.kind == "dense16"})
    segments, low = _segments(low, steps, cfg)
    sram = low.sram
    return Compiled(cfg, segments, sram.places, sram.weights, list(graph.outputs), report(cfg, segments, low))


def _segments(low, steps, cfg):
    """Place ``steps`` on ``low`` (:class:`.layers.Lowering`), cut into segments that fit the
    instruction memory: ``([Segment], the final Lowering)``.

    A step that does not fit is undone by replaying the segment from its starting state; the
    segment then ends and the step starts the next one. A step too long for an empty segment
    takes half of its rows (again, until they fit), the rest going to later segments."""
    segments = []
    seg_start, placed = copy.deepcopy(low), []      # the segment's starting state and its steps so far
    for li, step in enumerate(steps):
        todo = step_rows(step, low.rows, low.sram.places)
        while True:
            chunk = todo
            while True:
                try:
                    low.step(li, step, chunk)
                except SramFull as full:            # name the layer whose tensors do not fit
                    raise SramFull(f"step {li} ({step_name(step)}): {full}") from full
                if low.fits():
                    break
                low = _replay(seg_start, placed)
                if placed:                          # end the segment; the step starts the next one
                    segments.append(low.segment())
                    low.new_segment()
                    seg_start, placed = copy.deepcopy(low), []
                    continue
                if chunk is None or len(chunk) == 1:
                    raise MemoryError(f"step {li} ({step_name(step)}) alone needs more than imem_depth="
                                      f"{cfg.imem_depth} instructions in a queue (a configuration with "
                                      "deeper queues)")
                chunk = halve(chunk)                # fewer rows of the step per program
            placed.append((li, step, chunk))
            if chunk is None or len(chunk) == len(todo):
                break
            todo = todo[len(chunk):]
    segments.append(low.segment())
    return segments, low


def _replay(seg_start, placed):
    """A copy of the segment's starting state with the steps ``placed`` placed again."""
    low = copy.deepcopy(seg_start)
    for args in placed:
        low.step(*args)
    return low
