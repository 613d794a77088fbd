"""Compiler pass 1, legalisation: which graphs become which steps, and what is refused (naming
the node)."""

import numpy as np
import pytest

from openlpu.compiler.graph import Graph
from openlpu.compiler.legalize import Dense, Dense16, RowOp, Transpose, legalize, step_name

RNG = np.random.default_rng(0)


def _w(k, n, dtype=np.int8):
    if dtype == np.float16:
        return RNG.normal(0, 1, (k, n)).astype(np.float16)
    return RNG.integers(-128, 128, (k, n)).astype(np.int8)


def test_dense_chains_become_one_step_each():
    g = Graph()
    x = g.input("x", (None, 8))
    b = RNG.integers(-128, 128, 6).astype(np.int8)
    h = g.dense(x, _w(8, 6), 3, 11, relu=True, bias=b)
    y = g.output(g.dense(h, _w(6, 4), 5, 12, relu=False))
    s1, s2 = legalize(g)
    assert isinstance(s1, Dense) and s1.kind == "dense"
    assert s1.parts == [x] and s1.out == h and s1.relu and (s1.multiplier, s1.shift) == (3, 11)
    np.testing.assert_array_equal(s1.bias, b)
    assert s2.parts == [h] and s2.out == y and not s2.relu and s2.bias is None and s2.rescale is None


def test_per_channel_rescale_carries_its_scales_and_no_separate_relu():
    g = Graph()
    x = g.input("x", (None, 8))
    c = RNG.uniform(0.1, 1, 5)
    y = g.output(g.dense_per_channel(x, _w(8, 5), 0.001, c, relu=True))
    (s,) = legalize(g)
    assert s.out == y and s.multiplier is None and s.shift is None and not s.relu
    scale, channel_scales, relu = s.rescale
    assert scale == 0.001 and relu
    np.testing.assert_array_equal(channel_scales, c)


def test_fp16_transpose_rowops_and_concat_inputs():
    g = Graph()
    x = g.input("x", (None, 8), dtype="fp16")
    y = g.output(g.dense_fp16(x, _w(8, 8, np.float16), bias=np.zeros(8, np.float16), relu=True))
    (s,) = legalize(g)
    assert isinstance(s, Dense16) and s.x == x and s.out == y and s.relu and s.bias is not None
    g = Graph()
    x = g.input("x", (8, 8))
    t = g.transpose(x)
    p = g.softmax(x, 0.05)
    y = g.output(g.dense(g.concat(p, t), _w(16, 8), 3, 11))
    st = legalize(g)
    assert [type(s) for s in st] == [Transpose, RowOp, Dense]
    assert st[0] == Transpose(x, t) and st[1].recipe.name == "softmax" and step_name(st[1]) == "softmax"
    assert st[2].parts == [p, t] and step_name(st[2]) == "dense"
    assert st[2].relu and st[2].out == y                  # the ReLU is fused: its output is the step's


def test_computed_weights_are_names():
    g = Graph()
    x = g.input("x", (8, 8))
    k = g.transpose(x)
    g.output(g.dense(x, k, 3, 11, relu=False))
    assert legalize(g)[1].w == k


@pytest.mark.parametrize("build,match", [
    (lambda g, x: g.relu(g.concat(x, x)), r"node 1 \(relu\): a concat is lowered only as a matmul's input"),
    (lambda g, x: g.concat(x, x), r"output concat\d+: a concat is lowered only as a matmul's input"),
    (lambda g, x: g.relu(x), r"node 0 \(relu\): only matmul"),
    (lambda g, x: g.matmul(x, g.const(_w(8, 8))), r"node 0: a matmul must be followed by requantize or rescale"),
    (lambda g, x: g.requantize(g.bias(g.matmul(x, g.transpose(x)), np.ones(8, np.int8)), 3, 11),
     r"node 1: a bias on a product of two computed tensors"),
    (lambda g, x: g.requantize(g.matmul(g.concat(x, x), g.transpose(x)), 3, 11),
     r"node 2: a concat times a computed tensor"),
])
def test_refused_graphs_name_the_node(build, match):
    g = Graph()
    x = g.input("x", (8, 8))
    g.output(build(g, x))
    with pytest.raises(NotImplementedError, match=match):
        legalize(g)


def test_an_fp16_matmul_without_to_fp16_is_refused():
    g = Graph()
    x = g.input("x", (None, 8), dtype="fp16")
    g.output(g.matmul(x, g.const(_w(8, 8, np.float16))))
    with pytest.raises(NotImplementedError, match="node 0: an fp16 matmul must be followed by to_fp16"):
        legalize(g)
