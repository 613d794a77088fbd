"""The built-in workloads of ``openlpu demo`` and ``openlpu trace``, compiled for a configuration.

* :func:`mlp`: the int8 (or fp16) MLP classifier 16-32-32-4 of :func:`openlpu.compiler.models.mlp_classifier`,
  trained in numpy, on the largest batch up to ``rows`` that fits the chip (halving).
* :func:`transformer`: the transformer block of :func:`openlpu.compiler.models.transformer_block`
  at width = tokens = the chip's lanes (a row op reduces across one vector).

Each returns a :class:`Workload`: the compiled program, its inputs and the model.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["Workload", "compile_fitting", "mlp", "transformer", "heads_for"]


@dataclass
class Workload:
    name: str
    compiled: object                # openlpu.compiler.emit.Compiled
    inputs: dict                    # {graph input: int8 array}
    rows: int                       # input rows (images of the MLP, tokens of the block)
    model: object                   # MlpModel or TransformerModel

    @property
    def output(self):
        return self.model.output

    def reference(self):
        """The graph reference's output (numpy, bit for bit what the chip must compute)."""
        return self.model.graph.reference(self.inputs)[self.output]


def compile_fitting(graph, cfg, rows):
    """``(compiled, rows)``: ``compile_graph`` with the largest batch up to ``rows`` that fits
    SRAM and the queues (halving; ``MemoryError`` if not even one row fits)."""
    from .compiler.lower import compile_graph
    while True:
        try:
            return compile_graph(graph, cfg, rows), rows
        except MemoryError:
            if rows == 1:
                raise
            rows //= 2


def mlp(cfg, seed=1, rows=64, fp16=False):
    """The MLP classifier compiled for ``cfg``, its inputs the first test samples."""
    from .compiler.models import mlp_classifier
    model = mlp_classifier(seed=seed, fp16=fp16)
    compiled, rows = compile_fitting(model.graph, cfg, min(rows, len(model.x_test)))
    return Workload("mlp-fp16" if fp16 else "mlp", compiled, {"x": model.quantize_input(model.x_test[:rows])},
                    rows, model)


def heads_for(cfg):
    """Attention heads of the block at ``cfg``: heads of 64 columns on a wide chip, else 2."""
    return cfg.lanes // 64 if cfg.lanes >= 128 and cfg.lanes % 64 == 0 else 2


def transformer(cfg, seed=1, heads=None):
    """The transformer block at width = tokens = ``cfg.lanes`` compiled for ``cfg``; its input
    normal random numbers from ``seed``, quantized. Weight scales are calibrated on 8 random
    sequences (1 on a chip wider than 64 lanes, where calibrating is slow)."""
    from .compiler.models import transformer_block
    d = cfg.lanes
    model = transformer_block(seed=seed, d=d, seq=d, heads=heads or heads_for(cfg), calib=8 if d <= 64 else 1)
    x = model.quantize_input(np.random.default_rng(seed).normal(0, 1, (d, d)))
    compiled, rows = compile_fitting(model.graph, cfg, d)
    return Workload("transformer", compiled, {"x": x}, rows, model)
