"""How far the chip's results may be from onnxruntime's, and int8 calibration of float models.

Part of the ONNX import (:mod:`openlpu.compiler.onnx`, which re-exports these names; the
error type and the layer records both use are here):
:func:`int8_error_bound` and :func:`fp16_error_bound` derive the documented bounds between the
chip's outputs and onnxruntime's on the same inputs; :func:`quantize_model` turns a float MLP
into the int8 QDQ model the importer takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper


__all__ = ["OnnxImportError", "DenseInfo", "F16Acc", "int8_error_bound", "fp16_error_bound", "quantize_model"]


class OnnxImportError(ValueError):
    """An ONNX model (a node, an attribute, a tensor) the chip's graph API cannot express."""


@dataclass
class F16Acc:
    """An fp16 dense layer as imported (its input, float16 weights and bias)."""
    x: str
    w: np.ndarray
    bias: np.ndarray | None = None


def _node_name(node, index):
    return node.name or f"#{index}"


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


@dataclass
class DenseInfo:
    """One int8 dense layer as imported, for :func:`int8_error_bound`: ``abs_w_sum[j]`` is
    ``sum_i |W_ij|``, ``scale`` the exact requantization factor (``s_x s_w / s_y``, per column),
    ``used`` the one the chip applies, ``bias_acc`` the bias in accumulator units wanted and
    ``bias_err`` what the int8 ``127 b`` misses of it."""
    abs_w_sum: np.ndarray
    scale: np.ndarray
    used: np.ndarray
    per_channel: bool
    k: int
    bias_acc: np.ndarray
    bias_err: np.ndarray


# --- how far from onnxruntime -----------------------------------------------------------------------
#: Unit roundoff of fp32 and fp16, and half the fp16 subnormal spacing (the absolute error of a
#: rounding to fp16 near zero).
U32, U16, ETA16 = 2.0 ** -24, 2.0 ** -11, 2.0 ** -25


def _dense_chain(imported, kind):
    if not imported.layers or not all(isinstance(v, kind) for v in imported.layers):
        raise OnnxImportError(f"the bound covers chains of {kind.__name__} layers only (each layer's input "
                              "the one before's output, no other ops)")
    return imported.layers


def int8_error_bound(imported):
    """The largest difference, in output LSBs, between the chip's int8 output of an imported
    chain of dense layers and ONNX's QDQ semantics (onnxruntime with graph optimizations off:
    dequantize, float32 MatMul and Add, Relu, ``QuantizeLinear`` rounding half to even), for the
    same input.

    Per layer and column ``j``, with ``d`` the bound on the layer's input difference (0 for the
    first: both quantize the input alike), ``a_j = sum_i |W_ij|``, ``s_j`` the exact
    requantization factor and ``A_j = 128 a_j + |bias_j|`` a bound on the accumulator:
    the two values before rounding differ by at most

    ``delta_j = d a_j s_j``                           (the inputs differ)
    ``+ A_j (|m_j - s_j| + m_j rho)``                 (the chip's factor ``m_j``: ``M / 2**S``, exact
    in integers, ``rho = 0``; per channel, fp16 factors and two fp16 roundings,
    ``rho = (1 + 2**-24)**2 (1 + 2**-11)**2 - 1``)
    ``+ e_j s_j``                                     (the bias the int8 ``127 b`` misses)
    ``+ (K + 5) 2**-24 A_j s_j``                      (onnxruntime's float32 roundings);

    both then round to nearest (half up, half even or RNE: each within 1/2), ReLU and saturation
    are 1-Lipschitz, so the outputs differ by at most ``floor(delta_j) + 1`` LSB, the next
    layer's ``d``. The result is that of the last layer."""
    d = 0
    for lay in _dense_chain(imported, DenseInfo):
        acc = 128 * lay.abs_w_sum + np.abs(lay.bias_acc)
        rho = (1 + U32) ** 2 * (1 + U16) ** 2 - 1 if lay.per_channel else 0.0
        delta = (d * lay.abs_w_sum * lay.scale + acc * (np.abs(lay.used - lay.scale) + lay.used * rho)
                 + lay.bias_err * lay.scale + (lay.k + 5) * U32 * acc * lay.scale)
        d = int(np.floor(delta.max())) + 1
    return d


def fp16_error_bound(imported, x):
    """Elementwise bound on ``|chip - onnxruntime|`` of an imported fp16 chain of dense layers on
    the fp16 input ``x`` (float64 array of the output's shape).

    Per layer, on identical inputs, with ``S = |x| @ |W| + |b|`` (bounding ``|x W|``, ``|z|`` of
    the exact ``z = x W + b``, and the sum of the magnitudes summed), ``u = 2**-11`` and
    ``g = (K + 1) 2**-24`` (a float32 sum of ``K + 1`` terms in any order):

    * the chip (``Graph.dense_fp16``): float32 products summed, bias added, one rounding:
      ``|chip - z| <= g S (1 + u) + u S + 2**-25``;
    * onnxruntime: float32 accumulation (its CPU fp16 MatMul accumulates in float32), rounded to
      fp16, then the fp16 Add rounds again:
      ``|ort - z| <= g S + u (S + g S) + u (S + g S)(1 + u) + 2 * 2**-25``.

    Their sum is the layer's own term; an input difference ``D`` adds ``D @ |W|``, and the next
    layer's ``|x|`` is bounded by ``S`` plus the chip's error (ReLU only shrinks both)."""
    xa, dif = np.abs(np.asarray(x, np.float64)), 0.0
    for lay in _dense_chain(imported, F16Acc):
        w = np.abs(lay.w.astype(np.float64))
        b = 0.0 if lay.bias is None else np.abs(lay.bias.astype(np.float64))
        s = (xa + dif) @ w + b
        g = (w.shape[0] + 1) * U32
        chip = g * s * (1 + U16) + U16 * s + ETA16
        ort = g * s + U16 * (s + g * s) * (2 + U16) + 2 * ETA16
        dif = (dif @ w if np.ndim(dif) else 0.0) + chip + ort
        xa = s + chip
    return dif


# --- calibration ------------------------------------------------------------------------------------
def _float_layers(model):
    """``[(W, b or None, relu)]`` of a float MLP: MatMul [-> Add] or Gemm, each [-> Relu]."""
    inits = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    layers = []
    for i, node in enumerate(model.graph.node):
        op, name = node.op_type, _node_name(node, i)
        if op in ("MatMul", "Gemm") and node.input[1] in inits:
            if op == "Gemm" and (_attr(node, "transA", 0) or _attr(node, "alpha", 1.0) != 1.0
                                 or _attr(node, "beta", 1.0) != 1.0):
                raise OnnxImportError(f"node {name!r} (Gemm): only transA=0, alpha=beta=1 is calibrated")
            w = inits[node.input[1]]
            w = w.T if op == "Gemm" and _attr(node, "transB", 0) else w
            b = inits[node.input[2]] if op == "Gemm" and len(node.input) > 2 and node.input[2] else None
            layers.append([w, b, False])
        elif op == "Add" and layers and layers[-1][1] is None and node.input[1] in inits:
            layers[-1][1] = inits[node.input[1]].ravel()
        elif op == "Relu" and layers:
            layers[-1][2] = True
        else:
            raise OnnxImportError(f"node {name!r} ({op}): quantize_model calibrates MLPs of MatMul [-> Add] or "
                                  "Gemm layers with constant weights, each [-> Relu]")
    return layers


def _tensor(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def quantize_model(float_model, samples):
    """An int8 QDQ ``ModelProto`` of the float MLP ``float_model`` (MatMul/Gemm [+ bias] [+ Relu]
    layers), with symmetric scales calibrated on ``samples`` (float rows of the input):

    * each activation (the input, every layer's output after its Relu): ``max |a| / 127``;
    * weights per tensor, ``s_w = max(max |W| / 127, max |b| / (127**2 s_x))``, so that the bias
      in accumulator units ``b / (s_x s_w)`` is at most ``127**2``;
    * the bias as int32 at scale ``s_x s_w`` rounded to a multiple of 127: exactly what the chip's
      ``bias`` op adds (``127 b``, ``b`` int8), so the import loses nothing there.

    Every layer is ``DequantizeLinear(W) -> MatMul -> Add(DequantizeLinear(b)) [-> Relu] ->
    QuantizeLinear -> DequantizeLinear``; the output is the last one's float."""
    layers = _float_layers(float_model)
    x = np.asarray(samples, np.float64)
    inp, out = float_model.graph.input[0], float_model.graph.output[0]
    s_x = np.float32(np.abs(x).max() / 127)
    nodes, inits = [], [_tensor("zp8", np.int8(0)), _tensor("zp32", np.int32(0)), _tensor("s_in", s_x)]
    cur, s_cur = inp.name, "s_in"
    nodes.append(helper.make_node("QuantizeLinear", [cur, s_cur, "zp8"], ["q_in"], name="quantize_in"))
    nodes.append(helper.make_node("DequantizeLinear", ["q_in", s_cur, "zp8"], ["x_in"], name="dequantize_in"))
    cur, h = "x_in", x
    for i, (w, b, relu) in enumerate(layers):
        b = np.zeros(w.shape[1]) if b is None else b
        h = h @ w + b
        h = np.maximum(h, 0) if relu else h
        s_w = np.float32(max(np.abs(w).max() / 127, np.abs(b).max() / (127 * 127 * float(s_x))))
        s_b = np.float32(float(s_x) * float(s_w))
        s_y = np.float32(max(np.abs(h).max(), 1e-30) / 127)
        wq = np.clip(np.round(w / s_w), -127, 127).astype(np.int8)
        bq = (127 * np.clip(np.round(b / (127 * float(s_b))), -127, 127)).astype(np.int32)
        inits += [_tensor(f"w{i}_q", wq), _tensor(f"w{i}_s", s_w), _tensor(f"b{i}_q", bq), _tensor(f"b{i}_s", s_b),
                  _tensor(f"y{i}_s", s_y)]
        name = out.name if i == len(layers) - 1 else f"h{i}"
        nodes += [helper.make_node("DequantizeLinear", [f"w{i}_q", f"w{i}_s", "zp8"], [f"w{i}"], name=f"dq_w{i}"),
                  helper.make_node("DequantizeLinear", [f"b{i}_q", f"b{i}_s", "zp32"], [f"b{i}"], name=f"dq_b{i}"),
                  helper.make_node("MatMul", [cur, f"w{i}"], [f"mm{i}"], name=f"matmul{i}"),
                  helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"acc{i}"], name=f"bias{i}")]
        last = f"acc{i}"
        if relu:
            nodes.append(helper.make_node("Relu", [last], [f"relu{i}"], name=f"relu{i}"))
            last = f"relu{i}"
        nodes += [helper.make_node("QuantizeLinear", [last, f"y{i}_s", "zp8"], [f"q{i}"], name=f"quantize{i}"),
                  helper.make_node("DequantizeLinear", [f"q{i}", f"y{i}_s", "zp8"], [name], name=f"dequantize{i}")]
        cur, s_x = name, s_y
    graph = helper.make_graph(nodes, float_model.graph.name + "_qdq", [inp], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = min(float_model.ir_version or 8, 8) or 8
    onnx.checker.check_model(model)
    return model
