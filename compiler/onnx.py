"""ONNX import: int8 QDQ and fp16 models onto the graph API (:class:`~openlpu.compiler.graph.Graph`).

With :mod:`.onnx_bounds`, the only modules of the package that import :mod:`onnx`.

:func:`import_model` walks the ONNX graph in node order and evaluates every tensor
*symbolically*: each ONNX tensor becomes one of a few kinds of value, and graph ops are emitted
when a value is consumed in a way the chip can compute:

* ``Int8``: an int8 graph tensor ``q`` with scale ``s`` (zero point 0). An ONNX tensor of type
  int8 (a ``QuantizeLinear`` output, an int8 input), or its float view ``s * q`` (the
  ``DequantizeLinear`` of one).
* ``Weight``: a constant int8 (or int32 bias) array with a per-tensor or per-column scale
  (``DequantizeLinear`` of an initializer).
* ``Acc``: a float tensor ``scale * (x @ W + bias)`` over int32 accumulators, not yet emitted:
  ``MatMul`` / ``Gemm`` of an ``Int8`` view and a ``Weight`` (or another ``Int8`` view),
  ``MatMulInteger`` [-> ``Cast``] [-> ``Mul`` by a constant], then ``Add`` of a constant bias and
  ``Relu``. ``QuantizeLinear(s_y)`` emits it as one dense layer: per-tensor scales as
  ``Graph.dense`` with ``requant_params(scale / s_y)``, per-column weight scales as
  ``Graph.dense_per_channel``; the bias, in accumulator units ``b / scale``, as the int8
  operand ``round(b / (127 scale))`` of ``Graph.bias`` (which adds ``127 b``).
* ``Pending``: ``Gelu``, ``Softmax``, ``LayerNormalization`` of an ``Int8`` view, or ``Add`` of
  two: emitted by the ``QuantizeLinear`` after it, which gives the output scale.
* ``F16`` / ``F16Acc``: the fp16 path: an fp16 input, and ``MatMul`` / ``Gemm`` with float16
  weights [-> ``Add`` bias] [-> ``Relu``], emitted as ``Graph.dense_fp16`` (fp32 accumulation,
  one rounding to fp16).

Anything else raises :class:`OnnxImportError` naming the node, its op and what is supported.

How far from onnxruntime, and int8 calibration: :mod:`.onnx_bounds` (re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from .graph import Graph, requant_params
from .onnx_bounds import DenseInfo, F16Acc, OnnxImportError, _attr, _node_name
from .onnx_bounds import fp16_error_bound, int8_error_bound, quantize_model
from .package import graph_inputs, model_outputs

__all__ = ["OnnxImportError", "Imported", "SUPPORTED", "import_model", "int8_error_bound",
           "fp16_error_bound", "quantize_model"]


#: The ONNX ops :func:`import_model` maps, and how.
SUPPORTED = {
    "QuantizeLinear": "int8, zero point 0, per-tensor scale: ends a dense layer or row op",
    "DequantizeLinear": "int8 tensors and int8 / int32 constants, zero point 0 (per-column weights)",
    "MatMul": "int8 (QDQ) or float16 x constant; int8 x computed int8 tensor",
    "Gemm": "as MatMul, transA=0, alpha=beta=1, C a bias",
    "QLinearMatMul": "int8, zero points 0",
    "MatMulInteger": "int8, zero points 0; then Cast, Mul by a constant, QuantizeLinear",
    "Cast": "of a MatMulInteger result to float",
    "Mul": "of a pending layer or dequantized tensor by a positive constant",
    "Add": "a constant bias of a matmul; two int8 tensors (residual)",
    "Relu": "after a matmul, bias or residual add, before the QuantizeLinear",
    "Gelu": "approximate='tanh', int8 in and out",
    "Softmax": "last axis, int8 in, output scale 1/127",
    "LayerNormalization": "last axis, Scale all ones, no B",
    "Transpose": "2-D int8 tensors and constants",
    "Reshape": "to the same 2-D shape, or of a constant",
    "Concat": "int8 tensors of one scale, on the last axis (as a MatMul input)",
    "Identity": "anything",
    "Constant": "a tensor value",
}


def _supported_list():
    return ", ".join(SUPPORTED)

# --- symbolic values ------------------------------------------------------------------------------
@dataclass
class Int8:
    name: str
    scale: float | None         # None: an int8 graph input whose scale a consumer gives
    view: bool                  # the float view s * q (after DequantizeLinear)


@dataclass
class Const:
    value: np.ndarray


@dataclass
class Weight:
    q: np.ndarray               # int8 or int32
    scale: np.ndarray           # scalar or per-column (N,)


@dataclass
class Acc:
    x: str
    w: object                   # int8 (K, N) array, or the name of a computed int8 tensor
    scale: np.ndarray           # scalar or per-column: the float value is scale * int32
    k: int
    int32: bool = False         # a MatMulInteger result before its Cast
    bias: np.ndarray | None = None     # in accumulator units
    relu: bool = False


@dataclass
class Pending:
    op: str                     # gelu, softmax, layer_norm, add
    args: tuple
    relu: bool = False


@dataclass
class F16:
    name: str


@dataclass
class FloatInput:
    name: str
    shape: tuple


@dataclass
class Imported:
    """An imported model: the graph, how ONNX inputs become graph inputs and graph outputs ONNX
    outputs, the static batch (``rows``, ``None`` if symbolic) and the dense layers' figures."""
    graph: Graph
    inputs: dict                # onnx name -> (graph name, "int8" | "fp16", scale or None, float input?)
    outputs: dict               # onnx name -> (graph name, scale or None: int8 / fp16 as it is)
    rows: int | None
    layers: list = field(default_factory=list)   # DenseInfo (int8) or F16Acc (fp16), in order

    def graph_inputs(self, feeds):
        """``{graph input: array}`` from ``{onnx input: array}``
        (:func:`openlpu.compiler.package.graph_inputs`: a float input quantized as
        ``QuantizeLinear`` does)."""
        try:
            return graph_inputs(self.inputs, feeds)
        except ValueError as exc:
            raise OnnxImportError(str(exc)) from None

    def onnx_outputs(self, values):
        """``{onnx output: array}`` from the graph's ``{tensor: array}``: a dequantized output as
        ``DequantizeLinear`` computes it (``q * s`` in float32)."""
        return model_outputs(self.outputs, values)

    def io(self):
        """The input and output specs as a package keeps them (:mod:`openlpu.compiler.package`)."""
        return {"inputs": {k: list(v) for k, v in self.inputs.items()},
                "outputs": {k: list(v) for k, v in self.outputs.items()}}


# --- the importer ----------------------------------------------------------------------------------
class _Importer:
    def __init__(self, model):
        self.model = model
        self.g = Graph()
        self.env = {}
        self.layers = []
        self.input_specs = {}
        self.shapes = _shapes(model)

    # helpers
    def fail(self, node, msg):
        raise OnnxImportError(f"node {_node_name(node, self.index)!r} ({node.op_type}): {msg}")

    def const(self, node, i, what="a constant"):
        v = self.value(node, i)
        if isinstance(v, Const):
            return v.value
        self.fail(node, f"input {i} ({node.input[i]}) must be {what}")

    def value(self, node, i):
        if i >= len(node.input) or not node.input[i]:
            return None
        return self.env[node.input[i]]

    def zero_point(self, node, i):
        zp = self.value(node, i)
        if zp is None:
            return None
        zp = zp.value if isinstance(zp, Const) else self.fail(node, f"zero point {node.input[i]} must be a constant")
        if np.any(zp != 0):
            self.fail(node, f"zero point {node.input[i]} is {zp.ravel()[:4]}: only symmetric (zero point 0) "
                      "quantization is supported")
        return zp

    # driving
    def run(self):
        graph = self.model.graph
        for t in graph.initializer:
            self.env[t.name] = Const(numpy_helper.to_array(t))
        rows = None
        for vi in graph.input:
            if vi.name not in self.env:
                r = self.add_input(vi)
                rows = r if rows is None else rows
        for self.index, node in enumerate(graph.node):
            handler = _HANDLERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
            if handler is None:
                self.fail(node, f"op not supported; supported ops: {_supported_list()}")
            outs = handler(self, node)
            for name, v in zip(node.output, outs):
                self.env[name] = v
        outputs = {vi.name: self.add_output(vi) for vi in graph.output}
        return Imported(self.g, self.input_specs, outputs, rows, self.layers)

    def add_input(self, vi):
        tt = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if len(dims) != 2 or dims[1] is None:
            raise OnnxImportError(f"input {vi.name!r}: shape {dims}; a rows x columns (2-D) tensor with "
                                  "a fixed number of columns is supported")
        rows, cols = dims
        if tt.elem_type == TensorProto.FLOAT:
            self.env[vi.name] = FloatInput(vi.name, (rows, cols))
        elif tt.elem_type == TensorProto.INT8:
            self.env[vi.name] = Int8(self.g.input(vi.name, (rows, cols)), None, False)
            self.input_specs[vi.name] = (vi.name, "int8", None, False)
        elif tt.elem_type == TensorProto.FLOAT16:
            self.env[vi.name] = F16(self.g.input(vi.name, (rows, cols), dtype="fp16"))
            self.input_specs[vi.name] = (vi.name, "fp16", None, False)
        else:
            raise OnnxImportError(f"input {vi.name!r}: element type {TensorProto.DataType.Name(tt.elem_type)}; "
                                  "float (quantized by a QuantizeLinear), int8 or float16 is supported")
        return rows

    def add_output(self, vi):
        v = self.env[vi.name]
        if isinstance(v, F16Acc):
            v = self.emit_f16(v, relu=False)
        if isinstance(v, F16):
            self.g.output(v.name)
            return v.name, None
        if isinstance(v, Int8):
            self.g.output(v.name)
            return v.name, (v.scale if v.view else None)
        raise OnnxImportError(f"output {vi.name!r} is a {type(v).__name__} value: the chip's outputs are int8 "
                              "tensors (end the model with QuantizeLinear [-> DequantizeLinear]) or fp16")

    def cols(self, name):
        return self.shapes.get(name, [None, None])[-1]

    def emit_f16(self, acc, relu):
        self.layers.append(acc)
        return F16(self.g.dense_fp16(acc.x, acc.w, bias=acc.bias, relu=relu))

    # int8 layers
    def emit_acc(self, node, acc, s_y):
        if acc.int32:
            self.fail(node, "an int32 MatMulInteger result must be Cast to float and scaled before it is quantized")
        g, per_channel = self.g, np.ndim(acc.scale) > 0 and np.ptp(acc.scale) > 0
        bias, bias_err, bias_acc = None, np.zeros(1), np.zeros(1)
        if acc.bias is not None:
            bias_acc = np.asarray(acc.bias, np.float64)
            bias = np.round(bias_acc / 127)
            if np.abs(bias).max() > 127:
                self.fail(node, f"the bias reaches {np.abs(bias_acc).max():.0f} accumulator units; the chip "
                          f"adds 127 b with b int8 (at most {127 * 127}): quantize the weights coarser")
            bias_err = np.abs(bias_acc - 127 * bias)
            bias = bias.astype(np.int8)
        scale = np.asarray(acc.scale, np.float64) / s_y
        try:
            if per_channel:
                big = float(scale.max())
                out = g.dense_per_channel(acc.x, acc.w, big, scale / big, relu=acc.relu, bias=bias)
                used = big * (scale / big).astype(np.float16).astype(np.float64)
            else:
                m, s = requant_params(float(np.max(scale)))
                out = g.dense(acc.x, acc.w, m, s, relu=acc.relu, bias=bias)
                used = np.full(np.shape(scale), m / 2 ** s)
        except ValueError as exc:
            self.fail(node, f"{exc} (the requantization factor is the accumulator's scale over the output's)")
        if not isinstance(acc.w, str):
            self.layers.append(DenseInfo(np.abs(acc.w.astype(np.int64)).sum(0), scale, used, per_channel,
                                         acc.k, bias_acc, bias_err))
        return out

    def emit_pending(self, node, p, s_y):
        g = self.g
        try:
            if p.op == "add":
                (a, b) = p.args
                out = g.add(a.name, b.name, a.scale, b.scale, s_y)
                return g.relu(out) if p.relu else out
            if p.relu:
                self.fail(node, f"a Relu after {p.op} is not supported")
            x = p.args[0]
            if p.op == "gelu":
                return g.gelu(x.name, x.scale, s_y)
            if p.op == "layer_norm":
                return g.layer_norm(x.name, x.scale, s_y, eps=p.args[1])
            if not np.isclose(s_y, 1 / 127, rtol=1e-6, atol=0):
                self.fail(node, f"a softmax's output scale must be 1/127 (int8 probabilities), not {s_y}")
            return g.softmax(x.name, x.scale)
        except ValueError as exc:
            self.fail(node, str(exc))


def _shapes(model):
    """``{tensor: dims}`` from ONNX shape inference (symbolic dims as ``None``)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:                               # noqa: BLE001 - a model shape inference rejects
        inferred = model
    out = {}
    for vi in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        out[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    return out


def _scalar(node, imp, i):
    s = np.asarray(imp.const(node, i, "a constant scale"), np.float64)
    if s.size != 1:
        imp.fail(node, f"scale {node.input[i]} has {s.size} values: activations take one scale")
    if not s.ravel()[0] > 0:
        imp.fail(node, f"scale {node.input[i]} must be positive, not {s.ravel()[0]}")
    return float(np.float32(s.ravel()[0]))


# --- op handlers: (importer, node) -> [values] -----------------------------------------------------
def _quantize(imp, node):
    if _attr(node, "block_size", 0) or _attr(node, "output_dtype", TensorProto.INT8) != TensorProto.INT8:
        imp.fail(node, "block quantization and output_dtype other than int8 are not supported")
    zp = imp.zero_point(node, 2)
    if zp is None or zp.dtype != np.int8:
        imp.fail(node, "the zero point must be given as int8 0 (a missing one means uint8)")
    s_y, x = _scalar(node, imp, 1), imp.value(node, 0)
    if isinstance(x, FloatInput):
        spec = imp.input_specs.get(x.name)
        if spec is not None and spec[2] != s_y:
            imp.fail(node, f"input {x.name!r} is quantized with two scales ({spec[2]} and {s_y})")
        if spec is None:
            imp.g.input(x.name, x.shape)
            imp.input_specs[x.name] = (x.name, "int8", s_y, True)
        return [Int8(x.name, s_y, False)]
    if isinstance(x, Int8) and x.view:
        if not np.isclose(x.scale, s_y, rtol=1e-6, atol=0):
            imp.fail(node, f"requantizing an int8 tensor from scale {x.scale} to {s_y} on its own is not "
                     "supported (fold it into the layer before)")
        return [Int8(x.name, x.scale, False)]
    if isinstance(x, Acc):
        return [Int8(imp.emit_acc(node, x, s_y), s_y, False)]
    if isinstance(x, Pending):
        return [Int8(imp.emit_pending(node, x, s_y), s_y, False)]
    imp.fail(node, f"cannot quantize a {type(x).__name__} value ({node.input[0]})")


def _dequantize(imp, node):
    x = imp.value(node, 0)
    imp.zero_point(node, 2)
    s = np.asarray(imp.const(node, 1, "a constant scale"), np.float64)
    if isinstance(x, Int8) and not x.view:
        scale = _scalar(node, imp, 1)
        if x.scale is not None and not np.isclose(x.scale, scale, rtol=1e-6, atol=0):
            imp.fail(node, f"dequantizes with scale {scale} a tensor quantized with {x.scale}")
        return [Int8(x.name, scale, True)]
    if isinstance(x, Const) and x.value.dtype in (np.int8, np.int32):
        if s.size > 1 and not (x.value.ndim == 2 and _attr(node, "axis", 1) in (1, -1) or x.value.ndim == 1):
            imp.fail(node, "per-channel scales are supported along the output columns (axis 1) only")
        return [Weight(x.value, s.astype(np.float32).astype(np.float64))]
    imp.fail(node, f"dequantizes a {type(x).__name__} value; int8 tensors and int8 / int32 constants "
             "are supported")


def _matmul_values(imp, node, a, b):
    if isinstance(a, Int8) and a.view and isinstance(b, Weight) and b.q.dtype == np.int8 and b.q.ndim == 2:
        return Acc(a.name, b.q, a.scale * b.scale, b.q.shape[0])
    if isinstance(a, Int8) and a.view and isinstance(b, Int8) and b.view:
        return Acc(a.name, b.name, np.float64(a.scale * b.scale), imp.cols(node.input[0]) or 0)
    if isinstance(a, F16) and isinstance(b, Const) and b.value.dtype == np.float16 and b.value.ndim == 2:
        return F16Acc(a.name, b.value)
    imp.fail(node, f"{type(a).__name__} x {type(b).__name__}: supported are a dequantized int8 tensor times "
             "dequantized int8 weights or another dequantized int8 tensor, and float16 times float16 weights")


def _matmul(imp, node):
    return [_matmul_values(imp, node, imp.value(node, 0), imp.value(node, 1))]


def _transposed(imp, node, v):
    if isinstance(v, Weight):
        if v.scale.size > 1:
            imp.fail(node, "transB=1 with per-channel weight scales is not supported")
        return Weight(v.q.T.copy(), v.scale)
    if isinstance(v, Const):
        return Const(v.value.T.copy())
    imp.fail(node, "transB=1 needs constant weights")


def _gemm(imp, node):
    for name, want in (("transA", 0), ("alpha", 1.0), ("beta", 1.0)):
        if _attr(node, name, want) != want:
            imp.fail(node, f"attribute {name}={_attr(node, name)} is not supported (only {name}={want})")
    b = imp.value(node, 1)
    if _attr(node, "transB", 0):
        b = _transposed(imp, node, b)
    out = _matmul_values(imp, node, imp.value(node, 0), b)
    c = imp.value(node, 2)
    return [out if c is None else _add_values(imp, node, out, c)]


def _qlinear_matmul(imp, node):
    a, b = imp.value(node, 0), imp.value(node, 3)
    for i in (2, 5, 7):
        imp.zero_point(node, i)
    if not (isinstance(a, Int8) and not a.view and isinstance(b, Const) and b.value.dtype == np.int8):
        imp.fail(node, "needs an int8 tensor and constant int8 weights")
    s_a = _scalar(node, imp, 1)
    s_b = np.asarray(imp.const(node, 4, "a constant scale"), np.float32).astype(np.float64)
    acc = Acc(a.name, b.value, s_a * (s_b if s_b.size > 1 else s_b.ravel()[0]), b.value.shape[0])
    s_y = _scalar(node, imp, 6)
    return [Int8(imp.emit_acc(node, acc, s_y), s_y, False)]


def _matmul_integer(imp, node):
    a, b = imp.value(node, 0), imp.value(node, 1)
    imp.zero_point(node, 2)
    imp.zero_point(node, 3)
    if not (isinstance(a, Int8) and not a.view and isinstance(b, Const) and b.value.dtype == np.int8):
        imp.fail(node, "needs an int8 tensor and constant int8 weights")
    return [Acc(a.name, b.value, np.float64(1.0), b.value.shape[0], int32=True)]


def _cast(imp, node):
    x = imp.value(node, 0)
    if isinstance(x, Acc) and x.int32 and _attr(node, "to") == TensorProto.FLOAT:
        return [Acc(x.x, x.w, x.scale, x.k, bias=x.bias, relu=x.relu)]
    imp.fail(node, "only a Cast of a MatMulInteger result to float is supported")


def _mul(imp, node):
    x, c = imp.value(node, 0), imp.value(node, 1)
    if isinstance(x, Const) and not isinstance(c, Const):
        x, c = c, x
    if not isinstance(c, Const):
        imp.fail(node, "a product of two computed tensors is not supported (one factor must be a constant)")
    c = np.asarray(c.value, np.float64)
    if np.any(c <= 0) or c.ndim > 1 or (isinstance(x, Int8) and c.size > 1):
        imp.fail(node, "the constant factor must be positive and a scalar (or one per column after a matmul)")
    if isinstance(x, Acc) and not x.int32 and not x.relu:
        return [Acc(x.x, x.w, x.scale * c.astype(np.float32).astype(np.float64), x.k, bias=x.bias)]
    if isinstance(x, Int8) and x.view:
        return [Int8(x.name, float(np.float32(x.scale * c.ravel()[0])), True)]
    imp.fail(node, f"Mul of a {type(x).__name__} value is not supported (a matmul's result before Relu, or "
             "a dequantized tensor)")


def _add_values(imp, node, a, b):
    if isinstance(b, (Acc, F16Acc)) and not isinstance(a, (Acc, F16Acc)):
        a, b = b, a
    if isinstance(a, Acc) and a.bias is None and not a.relu and not isinstance(a.w, str):
        if isinstance(b, Weight) and b.q.ndim == 1:
            return Acc(a.x, a.w, a.scale, a.k, a.int32, b.q.astype(np.float64) * b.scale / a.scale)
        if isinstance(b, Const) and b.value.ndim == 1 and not a.int32:
            return Acc(a.x, a.w, a.scale, a.k, False, b.value.astype(np.float64) / a.scale)
    if isinstance(a, F16Acc) and a.bias is None and isinstance(b, Const) and b.value.dtype == np.float16:
        return F16Acc(a.x, a.w, b.value.ravel())
    if all(isinstance(v, Int8) and v.view for v in (a, b)):
        return Pending("add", (a, b))
    imp.fail(node, f"{type(a).__name__} + {type(b).__name__}: supported are a matmul's result plus a constant "
             "bias vector, and two dequantized int8 tensors")


def _add(imp, node):
    return [_add_values(imp, node, imp.value(node, 0), imp.value(node, 1))]


def _relu(imp, node):
    x = imp.value(node, 0)
    if isinstance(x, (Acc, Pending)) and not x.relu:
        return [Acc(x.x, x.w, x.scale, x.k, x.int32, x.bias, True) if isinstance(x, Acc)
                else Pending(x.op, x.args, True)]
    if isinstance(x, F16Acc):
        return [imp.emit_f16(x, relu=True)]
    imp.fail(node, f"Relu of a {type(x).__name__} value: the chip applies ReLU while requantizing, so it must "
             "follow a matmul (and its bias) or a residual Add, before the QuantizeLinear")


def _int8_view(imp, node):
    x = imp.value(node, 0)
    if not (isinstance(x, Int8) and x.view):
        imp.fail(node, f"needs a dequantized int8 tensor, not a {type(x).__name__} value")
    return x


def _last_axis(imp, node, default):
    if _attr(node, "axis", default) not in (-1, 1):
        imp.fail(node, f"attribute axis={_attr(node, 'axis')} is not supported (only the last axis, -1)")


def _gelu(imp, node):
    if _attr(node, "approximate", b"none") not in (b"tanh", "tanh"):
        imp.fail(node, f"attribute approximate={_attr(node, 'approximate', b'none')!r} is not supported: the chip "
                 "computes the tanh form (approximate='tanh')")
    return [Pending("gelu", (_int8_view(imp, node),))]


def _softmax(imp, node):
    _last_axis(imp, node, -1)
    return [Pending("softmax", (_int8_view(imp, node),))]


def _layer_norm(imp, node):
    _last_axis(imp, node, -1)
    x = _int8_view(imp, node)
    gamma, beta = imp.const(node, 1, "a constant Scale"), imp.value(node, 2)
    if np.any(gamma != 1) or (beta is not None and np.any(imp.const(node, 2) != 0)):
        imp.fail(node, "Scale must be all ones and B absent or zero (the chip's layer norm has no affine "
                 "part: fold it into the next layer's weights)")
    return [Pending("layer_norm", (x, float(_attr(node, "epsilon", 1e-5))))]


def _transpose(imp, node):
    x, perm = imp.value(node, 0), _attr(node, "perm")
    if perm not in (None, [1, 0]):
        imp.fail(node, f"attribute perm={perm} is not supported (2-D tensors: perm=[1, 0])")
    if isinstance(x, Const):
        return [Const(x.value.T.copy())]
    if isinstance(x, Int8):
        return [Int8(imp.g.transpose(x.name), x.scale, x.view)]
    imp.fail(node, f"transposes a {type(x).__name__} value; int8 tensors and constants are supported")


def _reshape(imp, node):
    x, shape = imp.value(node, 0), imp.const(node, 1, "a constant shape")
    if isinstance(x, Const):
        return [Const(x.value.reshape(shape))]
    before, after = imp.shapes.get(node.input[0]), imp.shapes.get(node.output[0])
    if before and after and len(before) == len(after) == 2 and before[1] == after[1] is not None:
        return [x]
    imp.fail(node, f"reshapes {before} to {after}: only a reshape to the same 2-D shape (or of a constant) "
             "is supported")


def _concat(imp, node):
    vals = [imp.value(node, i) for i in range(len(node.input))]
    if all(isinstance(v, Const) for v in vals):
        return [Const(np.concatenate([v.value for v in vals], axis=_attr(node, "axis")))]
    _last_axis(imp, node, None)
    if not all(isinstance(v, Int8) and v.view for v in vals) or len({v.scale for v in vals}) != 1:
        imp.fail(node, "only dequantized int8 tensors of one scale are concatenated")
    return [Int8(imp.g.concat(*(v.name for v in vals)), vals[0].scale, True)]


def _identity(imp, node):
    return [imp.value(node, 0)]


def _constant(imp, node):
    t = _attr(node, "value")
    if t is None:
        imp.fail(node, "only the 'value' attribute (a tensor) is supported")
    return [Const(numpy_helper.to_array(t))]


_HANDLERS = {"QuantizeLinear": _quantize, "DequantizeLinear": _dequantize, "MatMul": _matmul, "Gemm": _gemm,
             "QLinearMatMul": _qlinear_matmul, "MatMulInteger": _matmul_integer, "Cast": _cast, "Mul": _mul,
             "Add": _add, "Relu": _relu, "Gelu": _gelu, "Softmax": _softmax, "LayerNormalization": _layer_norm,
             "Transpose": _transpose, "Reshape": _reshape, "Concat": _concat, "Identity": _identity,
             "Constant": _constant}


def import_model(model):
    """An :class:`Imported` from an ONNX ``ModelProto`` or the path of a ``.onnx`` file."""
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model))
    return _Importer(model).run()

