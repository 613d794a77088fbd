"""The graph API: quantized networks described with numpy tensors.

A :class:`Graph` is a list of nodes over named tensors. Every op has an
integer reference semantics in numpy (:meth:`Graph.reference`), which is the
specification the compiled program must reproduce bit for bit.

Ops and their semantics (int8 activations and weights, int32 accumulation,
wrapping like the chip):

``matmul(x, W)``        int32 ``x @ W`` (``x``: rows x K int8, ``W``: K x N int8)
``bias(t, b)``          ``t + 127 * b`` in int32 (``b``: N int8, in units of the
                        accumulator's scale times 127 — see :func:`quantize_bias`)
``requantize(t, M, S)`` ``(t * M + 2**(S-1)) >> S`` in int32 (round half up), then
                        saturate to int8 ``[-128, 127]``
``relu(t)``             ``max(t, 0)``
``rescale(t, s, c)``    per-channel requantization: column ``j`` of int32 ``t`` to
                        ``int8(f16(f16(f32(t) s) c[j]))`` on the VXM (fp16 factors
                        ``c`` in ``(0, 1]``, the weight scales over the largest)
``transpose(t)``        ``t.T`` (int8), for products of two computed tensors such as
                        ``Q @ K.T``: the transposed tensor can be ``matmul``'s ``W``
``concat(a, b, ..)``    the tensors side by side; as a ``matmul`` input (multi-head
                        attention's heads, the residual ``add``)
``softmax``, ``layer_norm``, ``gelu``
                        int8 -> int8 through fp32 on the VXM, defined by the
                        recipes of :mod:`openlpu.compiler.rowops`
``add(a, b, ..)``       residual sum, built from ``concat``, ``matmul`` with two
                        scaled identity blocks and ``requantize``

The fp16 path (``input(..., dtype="fp16")``, fp16 weights), in the chip's order
(``cfg.fp16_k = lanes // 4`` products per MXM pass, see :func:`fp16_matmul`):

``matmul(x, W)``        fp32 ``x @ W``: passes over ``fp16_k`` inputs at a time, each
                        a :func:`~openlpu.golden.mxm.fp16_pass`, accumulated in fp32
                        in input order
``bias(t, b)``          fp32 ``t + b`` (``b`` fp16), as one more pass (:func:`fp16_bias`)
``to_fp16(t)``          fp32 -> fp16, round to nearest even (overflow to Inf)
``relu(t)``             IEEE maximum(t, +0) in fp16 (NaN stays NaN)

The compiler lowers the chain ``matmul [-> bias] -> requantize [-> relu]``
(a *dense* layer) onto MXM + VXM; the bias is one more MXM pass whose
activation is the constant vector ``[127, 0, ..., 0]`` and whose weight row 0
is ``b``. Softmax, layer norm and GELU are trees of VXM instructions placed
row by row.
"""

from dataclasses import dataclass, field

import numpy as np

from openlpu.golden import fp as gfp
from openlpu.golden.mxm import fp16_pass

from .rowops import channel_bits, evaluate, gelu_recipe, layer_norm_recipe, rescale, softmax_recipe

__all__ = ["Graph", "Node", "quantize_bias", "requant_params", "fp16_matmul", "fp16_bias"]

#: Element types of graph tensors.
DTYPES = ("int8", "int32", "fp16", "fp32")


@dataclass
class Node:
    op: str
    inputs: tuple
    output: str
    attrs: dict = field(default_factory=dict)


class Graph:
    """A network: ``g.input(...)``, then ops returning tensor names, then ``g.output(name)``.

    A row op's node keeps its recipe's arguments (``attrs["args"]``) beside the recipe, so a graph
    can be saved and rebuilt (:mod:`openlpu.compiler.package`)."""

    def __init__(self):
        self.nodes = []
        self.inputs = {}
        self.consts = {}
        self.outputs = []
        self.dtypes = {}
        self._n = 0

    def _name(self, op):
        self._n += 1
        return f"{op}{self._n}"

    def input(self, name, shape, dtype="int8"):
        """An input tensor ``rows x cols`` (rows may be ``None``: the batch), ``int8`` or ``fp16``."""
        if dtype not in ("int8", "fp16"):
            raise TypeError(f"input {name}: dtype must be 'int8' or 'fp16', not {dtype!r}")
        self.inputs[name] = tuple(shape)
        self.dtypes[name] = dtype
        return name

    def const(self, value, name=None):
        name = name or self._name("const")
        self.consts[name] = np.asarray(value)
        self.dtypes[name] = {np.dtype(np.int8): "int8", np.dtype(np.float16): "fp16"}.get(self.consts[name].dtype)
        return name

    def _add(self, op, inputs, dtype=None, **attrs):
        out = self._name(op)
        self.nodes.append(Node(op, tuple(inputs), out, attrs))
        self.dtypes[out] = dtype or self.dtypes.get(inputs[0])
        return out

    def dtype(self, t):
        """The element type of tensor ``t``: int8, int32 (a matmul's accumulators), fp16 or fp32."""
        return self.dtypes.get(t)

    def _expect(self, op, t, *dtypes):
        if self.dtype(t) not in dtypes:
            raise TypeError(f"{op}: {t} is {self.dtype(t)}, not {' or '.join(dtypes)}")

    def matmul(self, x, w):
        """``x @ w``; ``w`` a 2-D int8 constant or a tensor computed by the graph (e.g. a transpose).
        An fp16 ``x`` takes a 2-D float16 constant ``w``; the result is fp32 (:func:`fp16_matmul`)."""
        if self.dtype(x) == "fp16":
            w_val = self.consts.get(w)
            if w_val is None or w_val.dtype != np.float16 or w_val.ndim != 2:
                raise TypeError(f"an fp16 matmul's weights must be a 2-D float16 constant, not {w}")
            return self._add("matmul", (x, w), dtype="fp32")
        self._expect("matmul", x, "int8")
        if w in self.consts:
            w_val = self.consts[w]
            if w_val.dtype != np.int8 or w_val.ndim != 2:
                raise TypeError(f"matmul weights must be a 2-D int8 constant, not {w_val.dtype} {w_val.shape}")
        return self._add("matmul", (x, w), dtype="int32")

    def transpose(self, t):
        """The transpose of a 2-D int8 tensor (lowered onto the SXM's tile transpose)."""
        return self._add("transpose", (t,))

    def bias(self, t, b):
        """``t + 127 b`` (int32 ``t``, int8 ``b``) or, on an fp32 ``t``, ``t + b`` with ``b`` fp16
        (:func:`fp16_bias`)."""
        b = np.asarray(b)
        want = np.float16 if self.dtype(t) == "fp32" else np.int8
        if b.dtype != want or b.ndim != 1:
            raise TypeError(f"bias must be a 1-D {np.dtype(want)} vector, not {b.dtype} {b.shape}")
        return self._add("bias", (t, self.const(b)))

    def to_fp16(self, t):
        """An fp32 tensor rounded to fp16 (nearest even; overflow gives Inf)."""
        self._expect("to_fp16", t, "fp32")
        return self._add("to_fp16", (t,), dtype="fp16")

    def dense_fp16(self, x, w, bias=None, relu=True):
        """``relu(to_fp16(x @ W [+ b]))`` with fp16 ``x``, ``W`` and ``b``: fp32 accumulation in the
        chip's order, one rounding to fp16."""
        t = self.matmul(x, self.const(np.asarray(w, np.float16)))
        if bias is not None:
            t = self.bias(t, np.asarray(bias, np.float16))
        t = self.to_fp16(t)
        return self.relu(t) if relu else t

    def requantize(self, t, multiplier, shift):
        self._expect("requantize", t, "int32", "int8")
        if not (0 < multiplier < 1 << 31 and 0 < shift < 32):
            raise ValueError(f"requantize: multiplier {multiplier} and shift {shift} out of range")
        return self._add("requantize", (t,), dtype="int8", multiplier=int(multiplier), shift=int(shift))

    def rescale(self, t, scale, channel_scales, relu=False):
        """Per-channel requantization of int32 ``t`` (a matmul's result): column ``j`` becomes
        ``int8(f16(f16(f32(t) * scale) * c[j]))``, with ``max(., 0)`` before the conversion
        when ``relu`` (:func:`~openlpu.compiler.rowops.rescale`). ``scale``: the input scale times
        the largest weight scale over the output scale; ``c[j]`` in ``(0, 1]``: channel ``j``'s
        weight scale over the largest."""
        channel_bits(channel_scales)
        self._expect("rescale", t, "int32", "int8")
        return self._add("rescale", (t,), dtype="int8", scale=float(scale),
                         channel_scales=np.asarray(channel_scales, np.float64), relu=bool(relu))

    def dense_per_channel(self, x, w, scale, channel_scales, relu=True, bias=None):
        """``rescale(x @ W [+ 127 b])``: a dense layer with per-channel weight scales."""
        t = self.matmul(x, w if isinstance(w, str) else self.const(w))
        if bias is not None:
            t = self.bias(t, bias)
        return self.rescale(t, scale, channel_scales, relu)

    def relu(self, t):
        self._expect("relu", t, "int8", "fp16")
        return self._add("relu", (t,))

    def dense(self, x, w, multiplier, shift, relu=True, bias=None):
        """``relu(requantize(x @ W [+ 127 b]))``: the layer the compiler lowers in one piece.
        ``W`` is an int8 array (a constant) or the name of a computed tensor."""
        t = self.matmul(x, w if isinstance(w, str) else self.const(w))
        if bias is not None:
            t = self.bias(t, bias)
        t = self.requantize(t, multiplier, shift)
        return self.relu(t) if relu else t

    def softmax(self, t, in_scale):
        """Row softmax of int8 ``t`` (scale ``in_scale``) as int8 probabilities in units of 1/127
        (:func:`~openlpu.compiler.rowops.softmax_recipe`)."""
        return self._add("softmax", (t,), recipe=softmax_recipe(in_scale), args=(float(in_scale),))

    def layer_norm(self, t, in_scale, out_scale, eps=1e-5):
        """Row layer norm (no affine part) of int8 ``t``; int8 result with scale ``out_scale``."""
        d = self._cols(t)
        args = (d, float(in_scale), float(out_scale), float(eps))
        return self._add("layer_norm", (t,), recipe=layer_norm_recipe(*args), args=args)

    def gelu(self, t, in_scale, out_scale):
        """GELU (tanh form) of every element of int8 ``t``; int8 result with scale ``out_scale``."""
        args = (float(in_scale), float(out_scale))
        return self._add("gelu", (t,), recipe=gelu_recipe(*args), args=args)

    def concat(self, *ts):
        """``ts`` side by side (columns); lowered as the input of a ``matmul``."""
        return self._add("concat", tuple(ts))

    def add(self, a, b, a_scale, b_scale, out_scale):
        """Residual ``a + b`` of two int8 tensors with their scales, requantized to ``out_scale``:
        ``concat(a, b) @ [diag(ma); diag(mb)]`` then requantize, with ``ma``, ``mb`` the scales'
        ratio in int8 (the larger scale is 127), so it runs on the matrix unit."""
        d = self._cols(a)
        if self._cols(b) != d:
            raise ValueError(f"add: {a} has {d} columns, {b} has {self._cols(b)}")
        big = max(a_scale, b_scale)
        ma, mb = (int(round(127 * s / big)) for s in (a_scale, b_scale))
        w = np.concatenate([np.eye(d, dtype=np.int64) * ma, np.eye(d, dtype=np.int64) * mb]).astype(np.int8)
        mult, shift = requant_params(big / 127 / out_scale)
        return self.requantize(self.matmul(self.concat(a, b), self.const(w)), mult, shift)

    def _cols(self, t):
        """Columns of tensor ``t`` (known for inputs, constants and every op's result)."""
        if t in self.inputs:
            return self.inputs[t][1]
        if t in self.consts:
            return self.consts[t].shape[1]
        nd = next(n for n in self.nodes if n.output == t)
        if nd.op == "matmul":
            return self._cols(nd.inputs[1])
        if nd.op == "transpose":
            return self._rows(nd.inputs[0])
        if nd.op == "concat":
            return sum(self._cols(i) for i in nd.inputs)
        return self._cols(nd.inputs[0])

    def _rows(self, t):
        nd = next((n for n in self.nodes if n.output == t), None)
        if t in self.consts:
            return self.consts[t].shape[0]
        if nd is not None and nd.op == "transpose":
            return self._cols(nd.inputs[0])
        raise ValueError(f"the rows of {t} are the batch, known only at compile time")

    def output(self, name):
        self.outputs.append(name)
        return name

    # --- the specification ------------------------------------------------------------
    def reference(self, inputs, cfg=None):
        """Run the graph in numpy integer arithmetic; ``{tensor: array}``.

        fp16 and fp32 tensors are computed on raw bits with the golden fp models, in the order of
        the chip ``cfg`` (needed when the graph has an fp16 matmul): its pass size ``fp16_k``
        fixes the summation order. They are carried padded to a multiple of ``fp16_k`` columns,
        as the chip holds them (padding: +0 for inputs, the layer's result on zero weights and
        biases for computed tensors), and returned as float16 / float32 arrays without the pad."""
        env = {k: np.asarray(v) for k, v in inputs.items()}
        env.update(self.consts)
        wide = {}                       # fp16 / fp32 tensor -> raw bits, padded columns
        for nd in self.nodes:
            a = env[nd.inputs[0]]
            if self.dtype(nd.output) in ("fp16", "fp32"):
                env[nd.output] = self._reference_float(nd, env, wide, cfg, inputs)
            elif nd.op == "matmul":
                env[nd.output] = (a.astype(np.int64) @ env[nd.inputs[1]].astype(np.int64)).astype(np.int32)
            elif nd.op == "bias":
                env[nd.output] = (a.astype(np.int64) + 127 * env[nd.inputs[1]].astype(np.int64)).astype(np.int32)
            elif nd.op == "requantize":
                m, s = nd.attrs["multiplier"], nd.attrs["shift"]
                v = (a.astype(np.int64) * m).astype(np.int32).astype(np.int64) + (1 << (s - 1))
                v = v.astype(np.int32) >> s
                env[nd.output] = np.clip(v, -128, 127).astype(np.int8)
            elif nd.op == "transpose":
                env[nd.output] = np.ascontiguousarray(a.T)
            elif nd.op == "relu":
                env[nd.output] = np.maximum(a, 0).astype(a.dtype)
            elif nd.op == "rescale":
                env[nd.output] = rescale(a, nd.attrs["scale"], nd.attrs["channel_scales"], nd.attrs["relu"])
            elif nd.op == "concat":
                env[nd.output] = np.concatenate([env[i] for i in nd.inputs], axis=1)
            elif nd.op in ("softmax", "layer_norm", "gelu"):
                env[nd.output] = evaluate(nd.attrs["recipe"], a)
            else:
                raise NotImplementedError(nd.op)
        return env

    def _reference_float(self, nd, env, wide, cfg, inputs):
        """One fp16-path node of :meth:`reference`: its padded bits into ``wide``, its value out."""
        x = nd.inputs[0]
        if nd.op == "matmul":
            if cfg is None:
                raise ValueError("the reference of an fp16 matmul needs the chip (cfg): its pass size "
                                 "fixes the summation order")
            if x not in wide:               # an input: +0 in the pad
                v = np.asarray(inputs[x], np.float16).view(np.uint16)
                wide[x] = np.zeros((v.shape[0], -(-v.shape[1] // cfg.fp16_k) * cfg.fp16_k), np.uint16)
                wide[x][:, :v.shape[1]] = v
            y = fp16_matmul(wide[x], self.consts[nd.inputs[1]].view(np.uint16), cfg.fp16_k)
        elif nd.op == "bias":
            y = fp16_bias(wide[x], self.consts[nd.inputs[1]].view(np.uint16), cfg.fp16_k)
        elif nd.op == "to_fp16":
            y = gfp.float_to_float("fp32", "fp16", wide[x])
        elif nd.op == "relu":
            y = gfp.f_minmax("fp16", wide[x], np.zeros_like(wide[x]), True)
        else:
            raise NotImplementedError(f"{nd.op} on {self.dtype(x)}")
        wide[nd.output] = y
        cols = self._cols(nd.output)
        return y[:, :cols].view(np.float16 if y.dtype == np.uint16 else np.float32)


def quantize_bias(b, x_scale, w_scale):
    """A float bias as the int8 ``bias`` op's operand: ``round(b / (127 * x_scale * w_scale))``."""
    return np.clip(np.round(b / (127 * x_scale * w_scale)), -127, 127).astype(np.int8)


def requant_params(scale, bits=11):
    """``(M, S)`` with ``M / 2**S ~= scale`` and ``M < 2**bits`` (so that int32 products of
    accumulators up to ``2**(31 - bits)`` never wrap)."""
    if not 0 < scale < 1:
        raise ValueError(f"requantize scale {scale} must be in (0, 1)")
    s = 0
    while scale * (1 << (s + 1)) < (1 << bits) and s < 31:
        s += 1
    m = int(round(scale * (1 << s)))
    return max(m, 1), max(s, 1)


def fp16_matmul(x, w, k):
    """``x @ w`` as the MXM computes it: ``x`` (rows, KP) fp16 bits with ``KP`` a multiple of the
    pass size ``k`` and at least ``w``'s rows, ``w`` (K, N) fp16 bits -> (rows, NP) fp32 bits,
    ``NP = ceil(N / k) * k`` (``w`` zero-padded). Pass ``j`` reduces inputs ``jk .. jk + k - 1``
    (:func:`~openlpu.golden.mxm.fp16_pass`: exact products, fp32 tree in
    :func:`~openlpu.golden.mxm.tree_pairs` order); the passes are added in ``j`` order, each an
    fp32 RNE addition, as the accumulator adds them."""
    kp = x.shape[1]
    if kp % k or w.shape[0] > kp:
        raise ValueError(f"fp16_matmul: x has {kp} columns, not a multiple of {k} covering W's {w.shape[0]} rows")
    wp = np.zeros((kp, -(-w.shape[1] // k) * k), np.uint16)
    wp[:w.shape[0], :w.shape[1]] = w
    acc = None
    for j in range(0, kp, k):
        part = fp16_pass(x[:, j:j + k], wp[j:j + k])
        acc = part if acc is None else gfp.f32_add(acc, part)
    return acc


def fp16_bias(t, b, k):
    """fp32 ``t`` (rows, NP) plus fp16 ``b`` as the MXM adds it: one more pass whose activation is
    ``[1.0, 0, ..., 0]`` (``k`` lanes) and whose weight row 0 is ``b`` (zero-padded)."""
    ones = np.zeros(k, np.uint16)
    ones[0] = 0x3C00
    bp = np.zeros((k, t.shape[1]), np.uint16)
    bp[0, :len(b)] = b
    return gfp.f32_add(t, fp16_pass(ones, bp)[None, :])
