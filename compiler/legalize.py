"""Graph legalisation: the graph as the steps the chip runs, or a clear error naming the node.

A step is one of

* :class:`Dense`: ``matmul [-> bias] -> requantize [-> relu]`` or ``matmul [-> bias] ->
  rescale`` (int8; ``W`` a constant array or a computed tensor's name; the input a tensor or
  the parts of a ``concat``),
* :class:`Dense16`: ``matmul [-> bias] -> to_fp16 [-> relu]`` (fp16),
* :class:`Transpose`,
* :class:`RowOp`: softmax, layer norm or GELU (a recipe of :mod:`.rowops`).

A ``concat`` is no step of its own: it is legal only as a matmul's input, whose parts it
names. Anything else is refused with ``NotImplementedError`` naming the node (its index in
``graph.nodes`` and its op) or the output.
"""

from typing import NamedTuple

__all__ = ["Dense", "Dense16", "Transpose", "RowOp", "legalize", "step_name"]


class Dense(NamedTuple):
    """An int8 dense layer. ``rescale``: ``(scale, channel_scales, relu)`` of a per-channel
    ``rescale`` (then ``multiplier``, ``shift`` are ``None`` and ``relu`` is ``False``)."""
    parts: list
    w: object
    bias: object
    multiplier: object
    shift: object
    relu: bool
    out: str
    rescale: tuple
    kind = "dense"


class Dense16(NamedTuple):
    """An fp16 dense layer: input tensor ``x``, float16 ``w`` and ``bias`` (or ``None``)."""
    x: str
    w: object
    bias: object
    relu: bool
    out: str
    kind = "dense16"


class Transpose(NamedTuple):
    x: str
    out: str
    kind = "transpose"


class RowOp(NamedTuple):
    """Softmax, layer norm or GELU: ``recipe`` applied to every row of ``x``."""
    x: str
    recipe: object
    out: str
    kind = "rowop"


_ROW_OPS = ("softmax", "layer_norm", "gelu")


def step_name(step):
    """The name errors use for a step: its recipe's for a row op, else its kind."""
    return step.recipe.name if step.kind == "rowop" else step.kind


def legalize(graph):
    """``graph``'s nodes as steps (in node order), after checking every ``concat`` use."""
    nodes = graph.nodes
    concats = {nd.output: list(nd.inputs) for nd in nodes if nd.op == "concat"}
    _check_concats(graph, concats)
    steps, i = [], 0
    while i < len(nodes):
        nd = nodes[i]
        if nd.op == "concat":
            i += 1
        elif nd.op == "transpose":
            steps.append(Transpose(nd.inputs[0], nd.output))
            i += 1
        elif nd.op in _ROW_OPS:
            steps.append(RowOp(nd.inputs[0], nd.attrs["recipe"], nd.output))
            i += 1
        elif nd.op != "matmul":
            raise NotImplementedError(f"node {i} ({nd.op}): only matmul [-> bias] -> requantize [-> relu] "
                                      "chains, their fp16 form matmul [-> bias] -> to_fp16 [-> relu], "
                                      "transposes, softmax, layer norm and GELU are lowered")
        elif graph.dtype(nd.output) == "fp32":
            step, i = _dense16(graph, i)
            steps.append(step)
        else:
            step, i = _dense(graph, i, concats)
            steps.append(step)
    return steps


def _check_concats(graph, concats):
    for j, nd in enumerate(graph.nodes):
        for k, t in enumerate(nd.inputs):
            if t in concats and not (nd.op == "matmul" and k == 0):
                raise NotImplementedError(f"node {j} ({nd.op}): a concat is lowered only as a matmul's input")
    for t in graph.outputs:
        if t in concats:
            raise NotImplementedError(f"output {t}: a concat is lowered only as a matmul's input")


def _follows(nodes, j, op, src):
    """Whether node ``j`` is an ``op`` on ``src``."""
    return j < len(nodes) and nodes[j].op == op and nodes[j].inputs[0] == src


def _bias(graph, j, cur):
    """``(bias constant or None, tensor after it, next node)`` for a bias at node ``j``."""
    if _follows(graph.nodes, j, "bias", cur):
        nd = graph.nodes[j]
        return graph.consts[nd.inputs[1]], nd.output, j + 1
    return None, cur, j


def _relu(graph, j, cur):
    """``(relu?, tensor after it, next node)`` for a ReLU at node ``j``."""
    if _follows(graph.nodes, j, "relu", cur):
        return True, graph.nodes[j].output, j + 1
    return False, cur, j


def _dense16(graph, i):
    """The fp16 dense step starting at matmul node ``i`` and the node after it."""
    nodes, nd = graph.nodes, graph.nodes[i]
    bias, cur, j = _bias(graph, i + 1, nd.output)
    if not _follows(nodes, j, "to_fp16", cur):
        raise NotImplementedError(f"node {i}: an fp16 matmul must be followed by to_fp16 to be lowered")
    relu, cur, j = _relu(graph, j + 1, nodes[j].output)
    return Dense16(nd.inputs[0], graph.consts[nd.inputs[1]], bias, relu, cur), j


def _dense(graph, i, concats):
    """The int8 dense step starting at matmul node ``i`` and the node after it."""
    nodes, nd = graph.nodes, graph.nodes[i]
    bias, cur, j = _bias(graph, i + 1, nd.output)
    if not (_follows(nodes, j, "requantize", cur) or _follows(nodes, j, "rescale", cur)):
        raise NotImplementedError(f"node {i}: a matmul must be followed by requantize or rescale to be lowered")
    rq = nodes[j]
    pc = (rq.attrs["scale"], rq.attrs["channel_scales"], rq.attrs["relu"]) if rq.op == "rescale" else None
    relu, cur, j = (False, rq.output, j + 1) if pc is not None else _relu(graph, j + 1, rq.output)
    w = graph.consts.get(nd.inputs[1], nd.inputs[1])
    if isinstance(w, str) and bias is not None:
        raise NotImplementedError(f"node {i}: a bias on a product of two computed tensors")
    parts = concats.get(nd.inputs[0], [nd.inputs[0]])
    if isinstance(w, str) and len(parts) > 1:
        raise NotImplementedError(f"node {i}: a concat times a computed tensor")
    return Dense(parts, w, bias, rq.attrs.get("multiplier"), rq.attrs.get("shift"), relu, cur, pc), j
