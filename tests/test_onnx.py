"""ONNX import (compiler/onnx.py): models built with onnx.helper, imported, compiled, run on the
golden ISA simulator (and the RTL), and held against onnxruntime on the same inputs.

Where the chip's semantics and ONNX's match, the test says which and checks equality; where they
differ, the bound is derived in :func:`~openlpu.compiler.onnx.int8_error_bound` /
:func:`~openlpu.compiler.onnx.fp16_error_bound` (and docs/compiler.md, "ONNX import"). onnxruntime
runs with graph optimizations off: the model's own ops, no fusions."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from openlpu.compiler import package  # noqa: E402
from openlpu.compiler.lower import compile_graph  # noqa: E402
from openlpu.compiler.onnx import (OnnxImportError, fp16_error_bound, import_model, int8_error_bound,  # noqa: E402
                                   quantize_model)
from openlpu.compiler.runtime import run  # noqa: E402
from openlpu.config import preset  # noqa: E402
from openlpu.verif.runner import SIMULATORS, require_simulator  # noqa: E402

TINY, SMALL = preset("tiny"), preset("small")


def _model(nodes, inputs, outputs, inits, opset=13):
    """A ModelProto: ``inputs`` / ``outputs`` as ``(name, elem type, shape)``, ``inits`` ``{name: array}``."""
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(nodes, "g", [vi(*i) for i in inputs], [vi(*o) for o in outputs],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset <= 17 else 9
    onnx.checker.check_model(model)
    return model


def _ort(model, feeds, outputs=None):
    """onnxruntime's values of ``outputs`` (any tensors of the model; default its outputs)."""
    if outputs:
        model = onnx.ModelProto.FromString(model.SerializeToString())
        have = {o.name for o in model.graph.output}
        types = {vi.name: vi.type.tensor_type.elem_type
                 for vi in onnx.shape_inference.infer_shapes(model).graph.value_info}
        model.graph.output.extend(helper.make_tensor_value_info(n, types[n], None) for n in outputs if n not in have)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(outputs, feeds)


def _on_golden(imp, cfg, feeds):
    """Compile ``imp`` for ``feeds``' rows, run it on the golden ISA simulator, check cycles ==
    prediction and the outputs == the graph reference bit for bit; the ONNX outputs."""
    gin = imp.graph_inputs(feeds)
    rows = next(iter(gin.values())).shape[0]
    c = compile_graph(imp.graph, cfg, rows)
    r = run(c, gin)
    assert r.done and r.error == 0
    assert r.cycles == c.predicted_cycles
    ref = imp.graph.reference(gin, cfg)
    for name in imp.graph.outputs:
        np.testing.assert_array_equal(np.asarray(r.outputs[name]).view(np.uint8),
                                      np.asarray(ref[name]).view(np.uint8))
    return imp.onnx_outputs(r.outputs)


def _float_mlp(rng, dims, gemm_layer=1):
    """A float MLP ``dims[0] -> ... -> dims[-1]``: MatMul + Add layers, one of them a Gemm with C,
    ReLU between layers, batch dimension symbolic."""
    nodes, inits, cur = [], {}, "x"
    for i in range(len(dims) - 1):
        inits[f"W{i}"] = rng.normal(0, 1 / np.sqrt(dims[i]), (dims[i], dims[i + 1])).astype(np.float32)
        inits[f"B{i}"] = rng.normal(0, 0.3, dims[i + 1]).astype(np.float32)
        last = i == len(dims) - 2
        out = "y" if last else f"h{i}"
        pre = out if last else f"a{i}"
        if i == gemm_layer:
            nodes.append(helper.make_node("Gemm", [cur, f"W{i}", f"B{i}"], [pre]))
        else:
            nodes += [helper.make_node("MatMul", [cur, f"W{i}"], [f"m{i}"]),
                      helper.make_node("Add", [f"m{i}", f"B{i}"], [pre])]
        if not last:
            nodes.append(helper.make_node("Relu", [pre], [out]))
        cur = out
    return _model(nodes, [("x", TensorProto.FLOAT, ["N", dims[0]])], [("y", TensorProto.FLOAT, ["N", dims[-1]])],
                  inits)


@pytest.fixture(scope="module")
def qdq_mlp():
    rng = np.random.default_rng(0)
    fmodel = _float_mlp(rng, (12, 16, 16, 4))
    return fmodel, quantize_model(fmodel, rng.normal(0, 1, (256, 12))), rng.normal(0, 1, (10, 12)).astype(np.float32)


def test_qdq_mlp_on_golden_within_the_derived_bound(qdq_mlp):
    """A 3-layer int8 QDQ MLP (calibrated by quantize_model): compiled == graph reference, cycles
    == prediction; against onnxruntime the input quantization is identical and the output within
    ``int8_error_bound`` LSBs (derived: one rounding per layer plus the weights carrying the
    previous layers' difference)."""
    fmodel, qmodel, x = qdq_mlp
    imp = import_model(qmodel)
    assert [n.op for n in imp.graph.nodes] == ["matmul", "bias", "requantize", "relu"] * 2 + \
        ["matmul", "bias", "requantize"]
    ours = _on_golden(imp, TINY, {"x": x})["y"]
    q_in, y = _ort(qmodel, {"x": x}, ["q_in", "y"])
    np.testing.assert_array_equal(imp.graph_inputs({"x": x})["x"], q_in)
    lsb = imp.outputs["y"][1]
    assert np.abs(ours - y).max() <= int8_error_bound(imp) * lsb * (1 + 1e-6)
    # and the int8 model tracks the float one it was calibrated from (the sanity of quantize_model)
    (yf,) = _ort(fmodel, {"x": x})
    assert np.abs(y - yf).max() < 0.1 * np.abs(yf).max()


def test_qdq_mlp_layer_by_layer_one_lsb(qdq_mlp):
    """Each layer on onnxruntime's own int8 input (the layer cut out with onnx.utils.Extractor):
    the derived bound is 1 LSB (the factor M/2**S and float32 move the value before rounding by
    far less than 1; the two roundings differ by at most one step), and the outputs stay within it."""
    _, qmodel, x = qdq_mlp
    names = ["q_in", "q0", "q1", "q2"]
    acts = dict(zip(names, _ort(qmodel, {"x": x}, names)))
    extractor = onnx.utils.Extractor(onnx.shape_inference.infer_shapes(qmodel))
    for src, dst in zip(names, names[1:]):
        layer = extractor.extract_model([src], [dst])
        imp = import_model(layer)
        assert int8_error_bound(imp) == 1
        ours = imp.graph.reference({src: acts[src]})[imp.outputs[dst][0]]
        assert np.abs(ours.astype(int) - acts[dst]).max() <= 1


def _ties_case(rows=400, k=8, n=6, seed=1):
    rng = np.random.default_rng(seed)
    w = rng.integers(-128, 128, (k, n)).astype(np.int8)
    x = rng.integers(-128, 128, (rows, k)).astype(np.int8)
    v = (x.astype(np.int64) @ w) / 2 ** 7          # the requantized value, exactly (dyadic factor)
    return w, x, v


def _check_rounding(ours, theirs, v, relu=False):
    """The chip rounds half up (floor(v + 1/2)), ONNX half to even (rint): equal everywhere but at
    ties with an even floor, where the chip is one higher; both saturate to int8."""
    v = np.maximum(v, 0) if relu else v
    np.testing.assert_array_equal(ours, np.clip(np.floor(v + 0.5), -128, 127))
    np.testing.assert_array_equal(theirs, np.clip(np.rint(v), -128, 127))
    differ = (v % 2 == 0.5) & (np.abs(v) < 127)
    assert differ.sum() > 0, "no tie with an even floor: the case does not exercise the rounding"
    np.testing.assert_array_equal(ours != theirs, differ)


def test_qlinear_matmul_bit_exact_but_at_ties():
    """QLinearMatMul with dyadic scales (2**-4 * 2**-5 / 2**-2 = 2**-7 = M / 2**S exactly, float32
    exact): the chip and onnxruntime compute the same value and differ only in rounding ties."""
    w, x, v = _ties_case()
    model = _model([helper.make_node("QLinearMatMul", ["x", "sa", "z", "W", "sb", "z", "sy", "z"], ["y"],
                                     name="qmm")],
                   [("x", TensorProto.INT8, ["N", 8])], [("y", TensorProto.INT8, ["N", 6])],
                   {"W": w, "sa": np.float32(2 ** -4), "sb": np.float32(2 ** -5), "sy": np.float32(2 ** -2),
                    "z": np.int8(0)})
    imp = import_model(model)
    ours = _on_golden(imp, SMALL, {"x": x})["y"]
    _check_rounding(ours, _ort(model, {"x": x})[0], v)


def test_qlinear_matmul_per_channel_within_one_lsb():
    """Per-column weight scales (``Graph.dense_per_channel``: fp16 factors, two fp16 roundings):
    the derived bound on one layer is 1 LSB, and onnxruntime's output is within it."""
    rng = np.random.default_rng(2)
    w = rng.integers(-128, 128, (16, 10)).astype(np.int8)
    x = rng.integers(-128, 128, (20, 16)).astype(np.int8)
    sb = rng.uniform(0.002, 0.01, 10).astype(np.float32)
    model = _model([helper.make_node("QLinearMatMul", ["x", "sa", "z", "W", "sb", "z", "sy", "z"], ["y"])],
                   [("x", TensorProto.INT8, ["N", 16])], [("y", TensorProto.INT8, ["N", 10])],
                   {"W": w, "sa": np.float32(0.05), "sb": sb, "sy": np.float32(0.6), "z": np.int8(0)})
    imp = import_model(model)
    assert imp.graph.nodes[-1].op == "rescale"
    assert int8_error_bound(imp) == 1
    ours = _on_golden(imp, TINY, {"x": x})["y"]
    assert np.abs(ours.astype(int) - _ort(model, {"x": x})[0]).max() <= 1


def test_matmul_integer_bit_exact_but_at_ties():
    """MatMulInteger -> Cast -> Mul(2**-7) -> Relu -> QuantizeLinear(1): the int32 product is
    exact on both sides, the factor dyadic; only rounding ties differ (ReLU on both)."""
    w, x, v = _ties_case(seed=3)
    nodes = [helper.make_node("MatMulInteger", ["x", "W"], ["acc"]),
             helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["accf", "c"], ["yf"]),
             helper.make_node("Relu", ["yf"], ["r"]),
             helper.make_node("QuantizeLinear", ["r", "sy", "z"], ["y"])]
    model = _model(nodes, [("x", TensorProto.INT8, ["N", 8])], [("y", TensorProto.INT8, ["N", 6])],
                   {"W": w, "c": np.float32(2 ** -7), "sy": np.float32(1.0), "z": np.int8(0)})
    imp = import_model(model)
    ours = _on_golden(imp, SMALL, {"x": x})["y"]
    _check_rounding(ours, _ort(model, {"x": x})[0], v, relu=True)


def _fp16_mlp():
    """The fp16 MLP of the tests: ``(model, x)``."""
    rng = np.random.default_rng(4)
    w0 = rng.normal(0, 0.3, (12, 20)).astype(np.float16)
    b0 = rng.normal(0, 0.5, 20).astype(np.float16)
    w1 = rng.normal(0, 0.25, (5, 20)).astype(np.float16)              # (N, K): transB
    b1 = rng.normal(0, 0.5, 5).astype(np.float16)
    nodes = [helper.make_node("MatMul", ["x", "W0"], ["m0"]), helper.make_node("Add", ["m0", "B0"], ["a0"]),
             helper.make_node("Relu", ["a0"], ["h0"]), helper.make_node("Gemm", ["h0", "W1", "B1"], ["y"], transB=1)]
    model = _model(nodes, [("x", TensorProto.FLOAT16, ["N", 12])], [("y", TensorProto.FLOAT16, ["N", 5])],
                   {"W0": w0, "B0": b0, "W1": w1, "B1": b1})
    return model, rng.normal(0, 1, (9, 12)).astype(np.float16)


def test_fp16_mlp_on_golden_within_the_derived_bound():
    """An fp16 MLP (MatMul + Add + Relu, then a Gemm with transB=1 and C): each layer one
    ``dense_fp16`` (fp32 accumulation in the chip's order, one rounding); onnxruntime rounds the
    product and the sum separately. Within ``fp16_error_bound`` element by element."""
    model, x = _fp16_mlp()
    imp = import_model(model)
    assert [n.op for n in imp.graph.nodes] == ["matmul", "bias", "to_fp16", "relu", "matmul", "bias", "to_fp16"]
    ours = _on_golden(imp, TINY, {"x": x})["y"].astype(np.float64)
    theirs = _ort(model, {"x": x})[0].astype(np.float64)
    bound = fp16_error_bound(imp, x)
    assert np.all(np.abs(ours - theirs) <= bound)
    assert bound.max() < 0.05 * np.abs(theirs).max()                 # the bound says something


def _qdq(x, s, name):
    """QuantizeLinear + DequantizeLinear of ``x`` at scale initializer ``s``: nodes, output name."""
    return [helper.make_node("QuantizeLinear", [x, s, "z"], [f"{name}_q"]),
            helper.make_node("DequantizeLinear", [f"{name}_q", s, "z"], [name])], name


def test_row_ops_residual_transpose_reshape_concat(tmp_path):
    """LayerNormalization, a QDQ MatMul, Gelu, Softmax, Transpose, Reshape, Concat and a residual
    Add in one int8 model on tiny (8 columns = lanes, as softmax and layer norm need): compiled ==
    reference bit for bit, cycles == prediction, and every op became the graph op it stands for.
    Saved as a package and loaded again (row ops rebuilt from their recipes' arguments), it runs
    to the same outputs and cycles."""
    rng = np.random.default_rng(5)
    inits = {"z": np.int8(0), "sx": np.float32(0.04), "sl": np.float32(0.03), "sm": np.float32(0.05),
             "sg": np.float32(0.04), "ss": np.float32(0.1), "sp": np.float32(1 / 127), "sa": np.float32(0.04),
             "sw": np.float32(0.01),
             "Wc": rng.integers(-127, 128, (16, 8)).astype(np.int8), "shape": np.array([-1, 8], np.int64)}
    nodes, x = _qdq("x", "sx", "xd")
    nodes.append(helper.make_node("LayerNormalization", [x, "ones"], ["ln"], epsilon=1e-5))
    inits["ones"] = np.ones(8, np.float32)
    n, ln = _qdq("ln", "sl", "lnd")
    nodes += n + [helper.make_node("Add", [ln, x], ["res"])]
    n, res = _qdq("res", "sa", "resd")
    nodes += n + [helper.make_node("Concat", [res, x], ["cat"], axis=1),
                  helper.make_node("DequantizeLinear", ["Wc", "sw", "z"], ["W2"]),
                  helper.make_node("MatMul", ["cat", "W2"], ["m"])]
    n, m = _qdq("m", "sm", "md")
    nodes += n + [helper.make_node("Gelu", [m], ["ge"], approximate="tanh")]
    n, ge = _qdq("ge", "sg", "ged")
    nodes += n + [helper.make_node("Transpose", [ge], ["t"], perm=[1, 0]),
                  helper.make_node("Reshape", [ln, "shape"], ["lnr"]),
                  helper.make_node("MatMul", ["lnr", "t"], ["sc"])]
    n, sc = _qdq("sc", "ss", "scd")
    nodes += n + [helper.make_node("Softmax", [sc], ["p"], axis=-1)]
    n, out = _qdq("p", "sp", "y")
    model = _model(nodes + n, [("x", TensorProto.FLOAT, [8, 8])], [(out, TensorProto.FLOAT, [8, 8])], inits,
                   opset=20)
    imp = import_model(model)
    ops = [nd.op for nd in imp.graph.nodes]
    for op in ("layer_norm", "gelu", "transpose", "softmax", "concat"):
        assert op in ops, op
    assert imp.rows == 8
    xf = rng.normal(0, 1.5, (8, 8)).astype(np.float32)
    ours = _on_golden(imp, TINY, {"x": xf})["y"]
    assert ours.shape == _ort(model, {"x": xf})[0].shape
    gin = imp.graph_inputs({"x": xf})
    c = compile_graph(imp.graph, TINY, 8)
    package.save(c, imp.graph, 8, tmp_path, imp.io())
    pkg = package.load(tmp_path)
    r = run(pkg.compiled, gin)
    assert r.segment_cycles == [sg.cycles for sg in c.segments]
    np.testing.assert_array_equal(imp.onnx_outputs(r.outputs)["y"], ours)
    y = imp.outputs["y"][0]
    np.testing.assert_array_equal(pkg.graph.reference(gin)[y], imp.graph.reference(gin)[y])


# --- errors --------------------------------------------------------------------------------------
def _one_node(node, inits=None, in_type=TensorProto.INT8, out_type=TensorProto.INT8, opset=13):
    return _model([node], [("x", in_type, ["N", 8])], [("y", out_type, ["N", 8])], inits or {}, opset)


def test_unsupported_op_names_node_op_and_the_supported_ops():
    model = _one_node(helper.make_node("Sigmoid", ["x"], ["y"], name="act3"), in_type=TensorProto.FLOAT,
                      out_type=TensorProto.FLOAT)
    with pytest.raises(OnnxImportError, match=r"node 'act3' \(Sigmoid\): op not supported; supported ops: "
                                              r"QuantizeLinear, DequantizeLinear, MatMul, Gemm"):
        import_model(model)


@pytest.mark.parametrize("attrs,match", [({"transA": 1}, r"attribute transA=1 is not supported"),
                                         ({"alpha": 2.0}, r"attribute alpha=2.0 is not supported")])
def test_gemm_bad_attributes(attrs, match):
    model = _model([helper.make_node("Gemm", ["x", "W"], ["y"], name="fc", **attrs)],
                   [("x", TensorProto.FLOAT16, [8, 8])], [("y", TensorProto.FLOAT16, [8, 8])],
                   {"W": np.zeros((8, 8), np.float16)})
    with pytest.raises(OnnxImportError, match=r"node 'fc' \(Gemm\): " + match):
        import_model(model)


def test_bad_attributes_and_inexpressible_ops():
    """Each refusal names the node, its op and what is wrong."""
    gelu = _model([helper.make_node("DequantizeLinear", ["x", "s"], ["xd"]),
                   helper.make_node("Gelu", ["xd"], ["y"], name="g")],
                  [("x", TensorProto.INT8, ["N", 8])], [("y", TensorProto.FLOAT, ["N", 8])], {"s": np.float32(0.1)},
                  opset=20)
    with pytest.raises(OnnxImportError, match=r"node 'g' \(Gelu\): attribute approximate=.*tanh"):
        import_model(gelu)
    zp = _one_node(helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["y"], name="q"),
                   {"s": np.float32(0.1), "zp": np.int8(3)}, in_type=TensorProto.FLOAT)
    with pytest.raises(OnnxImportError, match=r"node 'q' \(QuantizeLinear\): zero point zp .*symmetric"):
        import_model(zp)
    mul = _model([helper.make_node("DequantizeLinear", ["x", "s"], ["xd"]),
                  helper.make_node("Mul", ["xd", "xd"], ["y"], name="sq")],
                 [("x", TensorProto.INT8, ["N", 8])], [("y", TensorProto.FLOAT, ["N", 8])], {"s": np.float32(0.1)})
    with pytest.raises(OnnxImportError, match=r"node 'sq' \(Mul\): a product of two computed tensors"):
        import_model(mul)
    soft = _model([helper.make_node("DequantizeLinear", ["x", "s"], ["xd"]),
                   helper.make_node("Softmax", ["xd"], ["y"], name="sm", axis=0)],
                  [("x", TensorProto.INT8, ["N", 8])], [("y", TensorProto.FLOAT, ["N", 8])], {"s": np.float32(0.1)})
    with pytest.raises(OnnxImportError, match=r"node 'sm' \(Softmax\): attribute axis=0"):
        import_model(soft)
    unquantized = _model([helper.make_node("DequantizeLinear", ["x", "s"], ["xd"]),
                          helper.make_node("DequantizeLinear", ["W", "s"], ["Wd"]),
                          helper.make_node("MatMul", ["xd", "Wd"], ["y"], name="mm")],
                         [("x", TensorProto.INT8, ["N", 8])], [("y", TensorProto.FLOAT, ["N", 8])],
                         {"s": np.float32(0.1), "W": np.ones((8, 8), np.int8)})
    with pytest.raises(OnnxImportError, match=r"output 'y' is a Acc value.*QuantizeLinear"):
        import_model(unquantized)
    assert issubclass(OnnxImportError, ValueError)


def test_quantize_model_refuses_what_it_cannot_calibrate():
    model = _one_node(helper.make_node("Sigmoid", ["x"], ["y"], name="s"), in_type=TensorProto.FLOAT,
                      out_type=TensorProto.FLOAT)
    with pytest.raises(OnnxImportError, match=r"node 's' \(Sigmoid\): quantize_model calibrates MLPs"):
        quantize_model(model, np.zeros((4, 8)))


# --- on the RTL ------------------------------------------------------------------------------------
@pytest.mark.parametrize("sim", SIMULATORS)
def test_imported_qdq_mlp_on_rtl(sim, qdq_mlp):
    """The imported QDQ MLP, 6 rows, on the tiny chip's RTL: outputs == golden, cycles ==
    prediction == golden, exactly."""
    require_simulator(sim)
    _, qmodel, x = qdq_mlp
    imp = import_model(qmodel)
    gin = imp.graph_inputs({"x": x[:6]})
    c = compile_graph(imp.graph, TINY, 6)
    golden = run(c, gin)
    rtl = run(c, gin, backend=sim, key="tiny")
    assert rtl.done and rtl.error == 0
    assert c.predicted_cycles == golden.cycles == rtl.cycles
    for name in imp.graph.outputs:
        np.testing.assert_array_equal(rtl.outputs[name], golden.outputs[name])


@pytest.mark.parametrize("sim", SIMULATORS)
def test_imported_fp16_mlp_on_rtl(sim):
    """The imported fp16 MLP, 9 rows, on the tiny chip's RTL: outputs == golden (which is within
    the documented bound of onnxruntime, above), cycles == prediction == golden, exactly."""
    require_simulator(sim)
    model, x = _fp16_mlp()
    imp = import_model(model)
    gin = imp.graph_inputs({"x": x})
    c = compile_graph(imp.graph, TINY, len(x))
    golden = run(c, gin)
    rtl = run(c, gin, backend=sim, key="tiny")
    assert rtl.done and rtl.error == 0
    assert c.predicted_cycles == golden.cycles == rtl.cycles
    for name in imp.graph.outputs:
        np.testing.assert_array_equal(rtl.outputs[name], golden.outputs[name])


@pytest.mark.parametrize("sim", SIMULATORS)
def test_cli_run_package_on_rtl(sim, qdq_mlp, tmp_path, capsys):
    """From the command line: `openlpu compile` of the QDQ MLP at tiny (6 rows), then
    `openlpu run OUT/ --backend SIM -o y.npy`: exit status 0, the printed cycles == the package's
    predicted cycles (report.json), y.npy == the golden backend's y.npy exactly."""
    import json
    import re

    from openlpu.cli import main
    require_simulator(sim)
    _, qmodel, x = qdq_mlp
    onnx.save(qmodel, tmp_path / "m.onnx")
    np.save(tmp_path / "x.npy", x[:6])
    out = tmp_path / "pkg"
    assert main(["compile", str(tmp_path / "m.onnx"), "--preset", "tiny", "--rows", "6", "-o", str(out)]) == 0
    predicted = json.loads((out / "report.json").read_text())["predicted_cycles"]
    capsys.readouterr()
    y = {}
    for backend in (sim, "golden"):
        y[backend] = tmp_path / f"y-{backend}.npy"
        assert main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--backend", backend,
                     "-o", str(y[backend])]) == 0
        printed = re.search(rf"^{backend}: (\d+) cycles", capsys.readouterr().out, re.M)
        assert printed and int(printed.group(1)) == predicted
    np.testing.assert_array_equal(np.load(y[sim]), np.load(y["golden"]))
