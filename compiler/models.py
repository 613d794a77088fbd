"""End-to-end models: trained in numpy from a seed, quantized to int8, compiled.

:func:`mlp_classifier` makes a synthetic classification task (no downloads:
Gaussian clusters, several per class, in ``features`` dimensions), trains a
3-layer float MLP on it with full-batch Adam, and quantizes it per tensor:

* activations: symmetric int8 with the scale ``max |a| / 127`` measured on the
  training set (ReLU outputs use ``[0, 127]``);
* weights: symmetric int8 per tensor; the bias as the ``bias`` op's int8
  operand (``b / (127 * s_x * s_w)``);
* each layer's requantization ``s_x * s_w / s_y`` as ``M / 2**S``
  (:func:`~openlpu.compiler.graph.requant_params`); the last layer keeps
  signed int8 logits, and the class is their argmax.
"""

from dataclasses import dataclass

import numpy as np

from .graph import Graph, quantize_bias, requant_params

__all__ = ["MlpModel", "mlp_classifier", "make_blobs"]


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

    def quantize_input(self, x):
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


def mlp_classifier(seed=0, features=16, hidden=(32, 32), classes=4, train=1000, test=500, steps=250):
    """Train and quantize a ``features -> hidden -> classes`` MLP; returns an :class:`MlpModel`."""
    rng = np.random.default_rng(seed)
    x, y = make_blobs(rng, train + test, features, classes)
    xtr, ytr, xte, yte = x[:train], y[:train], x[train:], y[train:]
    sizes = [features, *hidden, classes]
    params = _train(rng, xtr, ytr, sizes, classes, steps)
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
        # the weight scale also keeps the bias operand b / (127 s_x s_w) within int8
        s_w = max(float(np.abs(w).max()) / 127, float(np.abs(b).max()) / (127 * 127 * s_x))
        wq = np.clip(np.round(w / s_w), -127, 127).astype(np.int8)
        bq = quantize_bias(b, s_x, s_w)
        mult, shift = requant_params(s_x * s_w / s_y)
        t = g.dense(t, wq, mult, shift, relu=i < len(params) - 1, bias=bq)
    g.output(t)
    return MlpModel(g, t, s_in, params, xtr, ytr, xte, yte)
