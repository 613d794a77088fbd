"""End-to-end models: trained in numpy from a seed, quantized to int8, compiled.

:func:`mlp_classifier` makes a synthetic classification task (no downloads:
Gaussian clusters, several per class, in ``features`` dimensions), trains a
3-layer float MLP on it with full-batch Adam, and quantizes it per tensor:

* activations: symmetric int8 with the scale ``max |a| / 127`` measured on the
  training set (ReLU outputs use ``[0, 127]``);
* weights: symmetric int8 per tensor, or per output column with
  ``per_channel=True`` (requantized by ``Graph.rescale``); the bias as the
  ``bias`` op's int8 operand (``b / (127 * s_x * s_w)``);
* each layer's requantization ``s_x * s_w / s_y`` as ``M / 2**S``
  (:func:`~openlpu.compiler.graph.requant_params`); the last layer keeps
  signed int8 logits, and the class is their argmax.

With ``fp16=True`` the same trained network is kept in fp16 instead (weights,
biases and the input rounded to fp16, fp32 accumulation on the MXM, each
layer's result rounded to fp16: ``Graph.dense_fp16``); nothing is calibrated.
"""

import functools
from dataclasses import dataclass

import numpy as np

from .graph import Graph, quantize_bias, requant_params

__all__ = ["MlpModel", "mlp_classifier", "make_blobs", "TransformerModel", "transformer_block"]


def make_blobs(rng, n, features, classes, clusters=4, spread=1.4):
    centers = rng.normal(0, 1.6, (classes * clusters, features))
    labels = rng.integers(0, classes * clusters, n)
    x = centers[labels] + rng.normal(0, spread, (n, features))
    return x.astype(np.float32), labels % classes


@dataclass
class MlpModel:
    graph: Graph
    output: str
    x_scale: float
    float_params: list
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    fp16: bool = False

    def quantize_input(self, x):
        """The graph's input: int8 at ``x_scale``, or fp16 (rounded to nearest) for an fp16 model."""
        if self.fp16:
            return np.asarray(x, np.float16)
        return np.clip(np.round(x / self.x_scale), -127, 127).astype(np.int8)

    def float_logits(self, x):
        h = x
        for i, (w, b) in enumerate(self.float_params):
            h = h @ w + b
            if i < len(self.float_params) - 1:
                h = np.maximum(h, 0)
        return h

    def float_accuracy(self, x, y):
        return float((self.float_logits(x).argmax(1) == y).mean())


def _train(rng, x, y, sizes, classes, steps, lr=0.01):
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params.append([rng.normal(0, np.sqrt(2 / a), (a, b)).astype(np.float64), np.zeros(b)])
    m = [[np.zeros_like(p) for p in layer] for layer in params]
    v = [[np.zeros_like(p) for p in layer] for layer in params]
    onehot = np.eye(classes)[y]
    for step in range(1, steps + 1):
        acts = [x]
        for i, (w, b) in enumerate(params):
            h = acts[-1] @ w + b
            acts.append(np.maximum(h, 0) if i < len(params) - 1 else h)
        z = acts[-1] - acts[-1].max(1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        grad = (p - onehot) / len(x)
        for i in reversed(range(len(params))):
            w, b = params[i]
            gw, gb = acts[i].T @ grad, grad.sum(0)
            if i:
                grad = (grad @ w.T) * (acts[i] > 0)
            for j, g in enumerate((gw, gb)):
                m[i][j] = 0.9 * m[i][j] + 0.1 * g
                v[i][j] = 0.999 * v[i][j] + 0.001 * g * g
                mh, vh = m[i][j] / (1 - 0.9 ** step), v[i][j] / (1 - 0.999 ** step)
                params[i][j] -= lr * mh / (np.sqrt(vh) + 1e-8)
    return [(w, b) for w, b in params]


@functools.lru_cache(maxsize=4)
def _trained_mlp(seed, features, hidden, classes, train, test, steps):
    """The data and the trained float network (shared by the int8, per-channel and fp16 models)."""
    rng = np.random.default_rng(seed)
    x, y = make_blobs(rng, train + test, features, classes)
    xtr, ytr, xte, yte = x[:train], y[:train], x[train:], y[train:]
    params = _train(rng, xtr, ytr, [features, *hidden, classes], classes, steps)
    for a in (xtr, ytr, xte, yte, *(p for layer in params for p in layer)):
        a.flags.writeable = False
    return xtr, ytr, xte, yte, params


def mlp_classifier(seed=0, features=16, hidden=(32, 32), classes=4, train=1000, test=500, steps=250,
                   per_channel=False, fp16=False):
    """Train and quantize a ``features -> hidden -> classes`` MLP; returns an :class:`MlpModel`.
    ``per_channel``: one weight scale per output column (``Graph.dense_per_channel``) instead of
    one per tensor; ``fp16``: the network in fp16 (``Graph.dense_fp16``) instead of int8."""
    xtr, ytr, xte, yte, params = _trained_mlp(seed, features, tuple(hidden), classes, train, test, steps)
    if fp16:
        g = Graph()
        t = g.input("x", (None, features), dtype="fp16")
        for i, (w, b) in enumerate(params):
            t = g.dense_fp16(t, w.astype(np.float16), bias=b.astype(np.float16), relu=i < len(params) - 1)
        g.output(t)
        return MlpModel(g, t, 1.0, params, xtr, ytr, xte, yte, fp16=True)
    # calibrate activation scales on the training set
    s_in = float(np.abs(xtr).max()) / 127
    scales = [s_in]
    h = xtr
    for i, (w, b) in enumerate(params[:-1]):
        h = np.maximum(h @ w + b, 0)
        scales.append(float(h.max()) / 127)
    logits = h @ params[-1][0] + params[-1][1]
    scales.append(float(np.abs(logits).max()) / 127)
    g = Graph()
    t = g.input("x", (None, features))
    for i, (w, b) in enumerate(params):
        s_x, s_y = scales[i], scales[i + 1]
        relu = i < len(params) - 1
        if per_channel:
            # one scale per output column; each also keeps its bias operand within int8
            s_w = np.maximum(np.abs(w).max(0) / 127, np.abs(b) / (127 * 127 * s_x))
            s_w = np.maximum(s_w, s_w.max() / 1000)          # factors stay well inside fp16's range
            wq = np.clip(np.round(w / s_w), -127, 127).astype(np.int8)
            bq = np.clip(np.round(b / (127 * s_x * s_w)), -127, 127).astype(np.int8)
            t = g.dense_per_channel(t, wq, s_x * s_w.max() / s_y, s_w / s_w.max(), relu=relu, bias=bq)
            continue
        # the weight scale also keeps the bias operand b / (127 s_x s_w) within int8
        s_w = max(float(np.abs(w).max()) / 127, float(np.abs(b).max()) / (127 * 127 * s_x))
        wq = np.clip(np.round(w / s_w), -127, 127).astype(np.int8)
        bq = quantize_bias(b, s_x, s_w)
        mult, shift = requant_params(s_x * s_w / s_y)
        t = g.dense(t, wq, mult, shift, relu=relu, bias=bq)
    g.output(t)
    return MlpModel(g, t, s_in, params, xtr, ytr, xte, yte)


# --- a transformer block ------------------------------------------------------------------
def _gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _layer_norm(x, eps=1e-5):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@dataclass
class TransformerModel:
    """A pre-norm transformer block (see :func:`transformer_block`) in float and as an int8 graph."""
    graph: Graph
    output: str
    d: int
    heads: int
    weights: dict
    scales: dict

    def float_forward(self, x, record=None):
        """The block in float64; ``record`` (a dict) collects every intermediate tensor."""
        w, rec = self.weights, {} if record is None else record
        dh = self.d // self.heads
        rec["x"] = x
        rec["h1"] = h1 = _layer_norm(x)
        heads = []
        for i in range(self.heads):
            q, k, v = (h1 @ w[f"w{n}{i}"] for n in "qkv")
            rec[f"q{i}"], rec[f"k{i}"], rec[f"v{i}"] = q, k, v
            rec[f"s{i}"] = s = q @ k.T / np.sqrt(dh)
            rec[f"p{i}"] = p = _softmax(s)
            rec[f"o{i}"] = o = p @ v
            heads.append(o)
        rec["a"] = a = np.concatenate(heads, axis=1) @ w["wo"]
        rec["x2"] = x2 = x + a
        rec["h2"] = h2 = _layer_norm(x2)
        rec["m1"] = m1 = h2 @ w["w1"]
        rec["m"] = m = _gelu(m1)
        rec["y"] = y = m @ w["w2"]
        rec["out"] = out = x2 + y
        return out

    def quantize_input(self, x):
        return np.clip(np.round(x / self.scales["x"]), -127, 127).astype(np.int8)

    def dequantize_output(self, q):
        return q.astype(np.float64) * self.scales["out"]


def transformer_block(seed=0, d=16, seq=16, heads=2, hidden=None, calib=8):
    """A pre-norm transformer block at width ``d`` (multi-head attention with softmax, layer norm,
    an MLP with GELU, two residuals), weights drawn from ``seed``, quantized to int8 per tensor
    with scales calibrated on ``calib`` random sequences; returns a :class:`TransformerModel`.

    The int8 graph: ``layer_norm`` -> per head ``q, k, v = dense``, ``transpose(k)``, scores
    ``dense(q, k.T)`` (the ``1/sqrt(d/heads)`` folded into its requantization), ``softmax``,
    ``dense(p, v)``; ``dense(concat(heads), Wo)``; residual ``add``; ``layer_norm``;
    ``dense`` -> ``gelu`` -> ``dense``; residual ``add``. Layer norms have no affine part."""
    hidden = hidden or 2 * d
    if d % heads:
        raise ValueError(f"d={d} is not a multiple of heads={heads}")
    dh = d // heads
    rng = np.random.default_rng(seed)
    w = {}
    for i in range(heads):
        for n in "qkv":
            w[f"w{n}{i}"] = rng.normal(0, 1 / np.sqrt(d), (d, dh))
    w["wo"] = rng.normal(0, 1 / np.sqrt(d), (d, d))
    w["w1"] = rng.normal(0, 1 / np.sqrt(d), (d, hidden))
    w["w2"] = rng.normal(0, 1 / np.sqrt(hidden), (hidden, d))
    model = TransformerModel(None, None, d, heads, w, {})
    # calibration: the largest magnitude of every tensor over a few random sequences
    amax = {}
    for _ in range(calib):
        rec = {}
        model.float_forward(rng.normal(0, 1, (seq, d)), rec)
        for k, v in rec.items():
            amax[k] = max(amax.get(k, 0.0), float(np.abs(v).max()))
    sc = {k: v / 127 for k, v in amax.items()}
    sc["o"] = max(sc[f"o{i}"] for i in range(heads))      # the heads are concatenated: one scale
    sc["s"] = max(sc[f"s{i}"] for i in range(heads))
    sc["p"] = 1 / 127
    model.scales = sc

    def wq(a):
        s = float(np.abs(a).max()) / 127
        return np.clip(np.round(a / s), -127, 127).astype(np.int8), s

    def dense(x, s_x, wname, s_y):
        q, s_w = wq(w[wname])
        return g.dense(x, q, *requant_params(s_x * s_w / s_y), relu=False)

    g = Graph()
    x = g.input("x", (None, d))
    h1 = g.layer_norm(x, sc["x"], sc["h1"])
    heads_out = []
    for i in range(heads):
        q = dense(h1, sc["h1"], f"wq{i}", sc[f"q{i}"])
        k = dense(h1, sc["h1"], f"wk{i}", sc[f"k{i}"])
        v = dense(h1, sc["h1"], f"wv{i}", sc[f"v{i}"])
        s = g.dense(q, g.transpose(k), *requant_params(sc[f"q{i}"] * sc[f"k{i}"] / np.sqrt(dh) / sc["s"]),
                    relu=False)
        p = g.softmax(s, sc["s"])
        heads_out.append(g.dense(p, v, *requant_params(sc["p"] * sc[f"v{i}"] / sc["o"]), relu=False))
    a = dense(g.concat(*heads_out), sc["o"], "wo", sc["a"])
    x2 = g.add(x, a, sc["x"], sc["a"], sc["x2"])
    h2 = g.layer_norm(x2, sc["x2"], sc["h2"])
    m = g.gelu(dense(h2, sc["h2"], "w1", sc["m1"]), sc["m1"], sc["m"])
    y = dense(m, sc["m"], "w2", sc["y"])
    out = g.output(g.add(x2, y, sc["x2"], sc["y"], sc["out"]))
    model.graph, model.output = g, out
    return model
