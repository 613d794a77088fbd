"""Compiler: graph semantics, scheduling, predicted cycles == golden == RTL, the int8 MLP."""

import numpy as np
import pytest

from openlpu import isa
from openlpu import timing
from openlpu.compiler.graph import Graph, fp16_matmul, requant_params
from openlpu.compiler.lower import compile_graph
from openlpu.compiler.models import mlp_classifier, transformer_block
from openlpu.compiler.rowops import evaluate, gelu_recipe, layer_norm_recipe, softmax_recipe
from openlpu.compiler.runtime import ScheduleError, check_acc_reuse, check_schedule, issue_cycles, run
from openlpu.config import preset
from openlpu.golden.fp import f32_add
from openlpu.golden.lpu import LpuModel
from openlpu.golden.mxm import fp16_pass
from openlpu.golden.vxm import CORNERS
from openlpu.verif.runner import SIMULATORS, require_simulator

TINY, SMALL = preset("tiny"), preset("small")


def _random_chain(rng, rows, dims, bias=True):
    g = Graph()
    t = g.input("x", (rows, dims[0]))
    for i in range(len(dims) - 1):
        w = rng.integers(-128, 128, (dims[i], dims[i + 1])).astype(np.int8)
        b = rng.integers(-128, 128, dims[i + 1]).astype(np.int8) if bias else None
        t = g.dense(t, w, int(rng.integers(1, 8)), int(rng.integers(10, 14)), relu=i < len(dims) - 2, bias=b)
    g.output(t)
    return g, t, rng.integers(-128, 128, (rows, dims[0])).astype(np.int8)


def test_requantize_rounds_half_up_and_saturates():
    g = Graph()
    x = g.input("x", (1, 4))
    t = g.requantize(x, 1, 2)
    acc = np.array([[6, -6, 1000, -1000]], np.int32)      # 1.5 -> 2, -1.5 -> -1, saturate both ways
    np.testing.assert_array_equal(g.reference({"x": acc})[t], [[2, -1, 127, -128]])
    m, s = requant_params(0.0123)
    assert abs(m / 2 ** s - 0.0123) < 1e-5 and m < 2 ** 11


@pytest.mark.parametrize("cfg,rows,dims", [(TINY, 5, (8, 8)), (TINY, 37, (20, 13, 9)), (TINY, 18, (3, 30, 4)),
                                           (SMALL, 70, (40, 33, 10)), (SMALL, 1, (16, 16))])
def test_compiled_chain_matches_reference_and_prediction(cfg, rows, dims):
    g, out, x = _random_chain(np.random.default_rng(rows), rows, dims)
    c = compile_graph(g, cfg, rows)
    r = run(c, {"x": x})                     # also checks every stream read against the schedule
    assert r.done and r.error == 0
    assert r.cycles == c.predicted_cycles, "the golden ISA simulator disagrees with the compiler's prediction"
    np.testing.assert_array_equal(r.outputs[out], g.reference({"x": x})[out])


def _attention_scores(rng, T, D):
    """``S = requant(Q @ K.T)`` with ``Q = x Wq``, ``K = x Wk``: a transpose and a product of two
    computed tensors."""
    g = Graph()
    x = g.input("x", (T, D))
    q = g.dense(x, rng.integers(-128, 128, (D, D)).astype(np.int8), 3, 12, relu=False)
    k = g.dense(x, rng.integers(-128, 128, (D, D)).astype(np.int8), 3, 12, relu=False)
    s = g.output(g.dense(q, g.transpose(k), 5, 12, relu=False))
    return g, s, rng.integers(-128, 128, (T, D)).astype(np.int8)


@pytest.mark.parametrize("cfg,T,D", [(TINY, 8, 8), (TINY, 12, 20), (SMALL, 20, 24)])
def test_attention_scores_with_transpose(cfg, T, D):
    g, s, x = _attention_scores(np.random.default_rng(T), T, D)
    c = compile_graph(g, cfg, T)
    r = run(c, {"x": x})
    assert r.cycles == c.predicted_cycles
    np.testing.assert_array_equal(r.outputs[s], g.reference({"x": x})[s])


def test_checker_catches_a_slipped_instruction():
    g, out, x = _random_chain(np.random.default_rng(3), 6, (8, 8), bias=False)
    c = compile_graph(g, TINY, 6)
    # delay the first WRITE by one cycle: it now reads the wrong point of its stream
    prog = c.program
    q = next(q for q in prog if any(i.op.name == "WRITE" for i in prog[q]))
    k = next(j for j, i in enumerate(prog[q]) if i.op.name == "WRITE")
    assert prog[q][k - 1].op.name == "NOP"
    prog[q][k - 1] = isa.make("NOP", prog[q][k - 1]["n"] + 1)
    model = LpuModel(TINY)
    for (s, a), v in c.sram_image({"x": x}).items():
        model.mem[s].load(a, v)
    model.load_program(c.words())
    r = model.run(provenance=True)
    with pytest.raises(ScheduleError, match="intended"):
        check_schedule(c, r.reads)


def test_clear_errors():
    g = Graph()
    x = g.input("x", (4, 8))
    with pytest.raises(ValueError, match="softmax input scale"):
        g.softmax(x, 1.0)
    g = Graph()
    g.output(g.softmax(g.input("x", (4, 12)), 0.05))
    with pytest.raises(NotImplementedError, match="softmax.*one vector"):
        compile_graph(g, TINY, 4)
    g = Graph()
    x = g.input("x", (4, 8))
    g.output(g.relu(g.concat(x, x)))
    with pytest.raises(NotImplementedError, match="concat"):
        compile_graph(g, TINY, 4)
    g2, _, _ = _random_chain(np.random.default_rng(1), 300, (64, 64))
    with pytest.raises(MemoryError, match="imem_depth|do not fit"):
        compile_graph(g2, TINY, 300)


def _per_channel_chain(rng, rows, k=20, n=22):
    g = Graph()
    x = g.input("x", (None, k))
    w = rng.integers(-128, 128, (k, n)).astype(np.int8)
    h = g.dense_per_channel(x, w, 0.0004, rng.uniform(0.05, 1, n), relu=True,
                            bias=rng.integers(-128, 128, n).astype(np.int8))
    y = g.output(g.dense_per_channel(h, rng.integers(-128, 128, (n, 5)).astype(np.int8), 0.001,
                                     rng.uniform(0.05, 1, 5), relu=False))
    return g, y, rng.integers(-128, 128, (rows, k)).astype(np.int8)


@pytest.mark.parametrize("cfg", [TINY, SMALL], ids=["tiny", "small"])
def test_per_channel_rescale_compiled_matches_reference(cfg):
    rng = np.random.default_rng(12)
    g, y, x = _per_channel_chain(rng, 37)
    c = compile_graph(g, cfg, 37)
    r = run(c, {"x": x})
    assert r.cycles == c.predicted_cycles
    np.testing.assert_array_equal(r.outputs[y], g.reference({"x": x})[y])
    # the fp16 recipe against exact per-channel requantization: at most one LSB apart
    g2 = Graph()
    t = g2.input("x", (None, 20))
    w = rng.integers(-128, 128, (20, 22)).astype(np.int8)
    c_j = rng.uniform(0.05, 1, 22)
    g2.output(out := g2.rescale(g2.matmul(t, g2.const(w)), 0.0004, c_j))
    acc = x.astype(np.int64) @ w
    exact = np.clip(np.round(acc * 0.0004 * c_j), -128, 127)
    assert np.abs(g2.reference({"x": x})[out] - exact).max() <= 1


@pytest.fixture(scope="module")
def mlp():
    return mlp_classifier(seed=0)


def test_mlp_int8_accuracy_within_one_percent_of_float(mlp):
    xq = mlp.quantize_input(mlp.x_test)
    logits = mlp.graph.reference({"x": xq})[mlp.output]
    int8_acc = float((logits.argmax(1) == mlp.y_test).mean())
    float_acc = mlp.float_accuracy(mlp.x_test, mlp.y_test)
    assert float_acc > 0.85, float_acc
    assert int8_acc >= float_acc - 0.01, (int8_acc, float_acc)


def test_mlp_compiled_on_golden_is_bit_exact(mlp):
    rows = 64
    c = compile_graph(mlp.graph, SMALL, rows)
    xq = mlp.quantize_input(mlp.x_test[:rows])
    r = run(c, {"x": xq})
    assert r.cycles == c.predicted_cycles
    np.testing.assert_array_equal(r.outputs[mlp.output], mlp.graph.reference({"x": xq})[mlp.output])


@pytest.mark.parametrize("sim", SIMULATORS)
def test_ci_sized_mlp_on_rtl(sim):
    """A small MLP and a random GEMM on the RTL: outputs bit-exact, cycles == prediction, exactly."""
    require_simulator(sim)
    rng = np.random.default_rng(11)
    g, out, x = _random_chain(rng, 12, (12, 16, 4))
    c = compile_graph(g, TINY, 12)
    ref = g.reference({"x": x})[out]
    golden = run(c, {"x": x})
    rtl = run(c, {"x": x}, backend=sim, key="tiny")
    assert rtl.done and rtl.error == 0
    assert c.predicted_cycles == golden.cycles == rtl.cycles
    np.testing.assert_array_equal(rtl.outputs[out], ref)
    # attention scores: SXM transposes and a product of two computed tensors
    g, s, x = _attention_scores(rng, 8, 12)
    c = compile_graph(g, TINY, 8)
    rtl = run(c, {"x": x}, backend=sim, key="tiny")
    assert c.predicted_cycles == rtl.cycles
    np.testing.assert_array_equal(rtl.outputs[s], g.reference({"x": x})[s])
    # per-channel requantization: the factors' two fp16 planes read from two slices into VOP 2
    g, y, x = _per_channel_chain(rng, 9)
    c = compile_graph(g, TINY, 9)
    rtl = run(c, {"x": x}, backend=sim, key="tiny")
    assert c.predicted_cycles == rtl.cycles
    np.testing.assert_array_equal(rtl.outputs[y], g.reference({"x": x})[y])


# --- softmax, layer norm, GELU and the transformer block ----------------------------------------
def test_row_recipes_track_the_float_functions():
    """The recipes are the ops' definition; here they are held against float numpy."""
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (200, 16)).astype(np.int8)
    s, t = 0.05, 0.03
    xf = x * s
    e = np.exp(xf - xf.max(1, keepdims=True))
    p = evaluate(softmax_recipe(s), x)
    assert np.abs(p - 127 * e / e.sum(1, keepdims=True)).max() <= 0.5 + 1e-3     # rounding only
    ln = (xf - xf.mean(1, keepdims=True)) / np.sqrt(xf.var(1, keepdims=True) + 1e-5)
    y = evaluate(layer_norm_recipe(16, s, t), x)
    assert np.abs(y - np.clip(np.round(ln / t), -128, 127)).max() <= 1
    gelu = 0.5 * xf * (1 + np.tanh(np.sqrt(2 / np.pi) * (xf + 0.044715 * xf ** 3)))
    y = evaluate(gelu_recipe(s, t), x)
    assert np.abs(y - np.clip(np.round(gelu / t), -128, 127)).max() <= 1


@pytest.mark.parametrize("vxm_alu_latency", [1, 2, 3, 4])
def test_row_recipes_place_for_every_alu_latency(monkeypatch, vxm_alu_latency):
    """The recipes place for the VXM latency constants the RTL builds, and the placed tree
    computes the recipe. GELU at 2 cycles per ALU found no placement while every VOP ran all 4
    ALUs: its last VOP's operands, tanh(...) and x1 = VOP(x), came out of chains exactly as
    long as VFUNC (8 cycles); x1's VOP now runs the 2 ALUs it uses."""
    from openlpu.compiler import rowops
    monkeypatch.setattr(timing, "VXM_ALU_LATENCY", vxm_alu_latency)
    x = np.random.default_rng(3).integers(-128, 128, (6, 8)).astype(np.int8)
    for recipe in (softmax_recipe(0.05), layer_norm_recipe(8, 0.05, 0.03), gelu_recipe(0.05, 0.03)):
        root, offs = rowops.placed_tree(recipe, TINY)
        placed = rowops.Recipe(recipe.name, recipe.slots, root, recipe.whole_row)
        np.testing.assert_array_equal(evaluate(placed, x), evaluate(recipe, x))


def test_layer_norm_places_without_delays():
    """Layer norm's tree needed three VRED max re-broadcasts on the tiny chip while every VOP ran
    the full 4-ALU chain; with each VOP running the ALUs its slot uses it needs none."""
    from openlpu.compiler import rowops
    root, offs = rowops.placed_tree(layer_norm_recipe(8, 0.05, 0.03), TINY)
    assert [n for n in offs if n.kind == "vred" and n.arg == "max"] == []


def test_layer_norm_vops_share_cycles_on_different_columns(monkeypatch):
    """At 4 cycles per ALU two pairs of layer norm's VOPs fall in the same cycle: they issue on
    different VXM column queues, with no delay, and the golden model (which stops a program
    whose chains collide) agrees with the prediction, bit-exact."""
    monkeypatch.setattr(timing, "VXM_ALU_LATENCY", 4)
    g = Graph()
    x = g.input("x", (None, TINY.lanes))
    y = g.output(g.layer_norm(x, 0.05, 0.03))
    c = compile_graph(g, TINY, 3)
    shared = _shared_vop_cycles(TINY, c.program)
    assert len(shared) >= 2
    xv = np.random.default_rng(2).integers(-128, 128, (3, TINY.lanes)).astype(np.int8)
    r = run(c, {"x": xv})
    assert r.error == 0 and r.cycles == c.predicted_cycles
    np.testing.assert_array_equal(r.outputs[y], g.reference({"x": xv})[y])


def _shared_vop_cycles(cfg, program):
    """``{cycle: [queue of every VOP issued then]}`` for the cycles in which several VXM column
    queues issue a VOP."""
    by_cycle = {}
    for k in range(cfg.vxm_alus):
        q = isa.vxm_column_queue(k)
        for t, ins in issue_cycles(program[q]):
            if ins.op.name == "VOP":
                by_cycle.setdefault(t, []).append(q)
    return {t: qs for t, qs in by_cycle.items() if len(qs) > 1}


@pytest.mark.parametrize("op", ["softmax", "gelu"])
def test_row_op_vops_of_two_rows_share_a_cycle(op):
    """The trees of consecutive rows overlap on the VXM: some VOPs of one row issue in the cycle
    of another row's, on another column queue. Golden == predicted (the golden model stops a
    program whose chains collide), bit-exact."""
    g = Graph()
    x = g.input("x", (None, SMALL.lanes))
    y = g.output(g.softmax(x, 0.05) if op == "softmax" else g.gelu(x, 0.05, 0.03))
    c = compile_graph(g, SMALL, 11)
    assert _shared_vop_cycles(SMALL, c.program)
    xv = np.random.default_rng(5).integers(-128, 128, (11, SMALL.lanes)).astype(np.int8)
    r = run(c, {"x": xv})
    assert r.error == 0 and r.cycles == c.predicted_cycles
    np.testing.assert_array_equal(r.outputs[y], g.reference({"x": xv})[y])


@pytest.mark.parametrize("cfg", [TINY, SMALL], ids=["tiny", "small"])
@pytest.mark.parametrize("op", ["softmax", "layer_norm", "gelu"])
def test_row_ops_compiled_match_reference_and_prediction(cfg, op):
    L = cfg.lanes
    g = Graph()
    x = g.input("x", (None, L if op != "gelu" else 2 * L + 3))
    y = {"softmax": lambda: g.softmax(x, 0.05), "layer_norm": lambda: g.layer_norm(x, 0.05, 0.03),
         "gelu": lambda: g.gelu(x, 0.05, 0.03)}[op]()
    g.output(y)
    xv = np.random.default_rng(7).integers(-128, 128, (11, g.inputs["x"][1])).astype(np.int8)
    c = compile_graph(g, cfg, 11)
    r = run(c, {"x": xv})
    assert r.cycles == c.predicted_cycles
    np.testing.assert_array_equal(r.outputs[y], g.reference({"x": xv})[y])


def _block_input(model, seed=5):
    L = model.d
    return model.quantize_input(np.random.default_rng(seed).normal(0, 1, (L, L)))


def test_transformer_block_int8_tracks_float():
    model = transformer_block(seed=0, d=16, seq=16)
    for seed in range(3):
        xq = _block_input(model, seed)
        got = model.dequantize_output(model.graph.reference({"x": xq})[model.output])
        want = model.float_forward(xq * model.scales["x"])
        assert np.linalg.norm(got - want) / np.linalg.norm(want) < 0.05


@pytest.mark.parametrize("cfg, heads", [(TINY, 2), (SMALL, 4)], ids=["tiny", "small"])
def test_transformer_block_compiled_on_golden_is_bit_exact(cfg, heads):
    model = transformer_block(seed=0, d=cfg.lanes, seq=cfg.lanes, heads=heads)
    xq = _block_input(model)
    c = compile_graph(model.graph, cfg, cfg.lanes)
    assert len(c.segments) > 1, "the block no longer needs several programs: test something bigger"
    r = run(c, {"x": xq})
    assert r.segment_cycles == [sg.cycles for sg in c.segments]
    np.testing.assert_array_equal(r.outputs[model.output], model.graph.reference({"x": xq})[model.output])


@pytest.mark.parametrize("sim", SIMULATORS)
def test_ci_sized_transformer_block_on_rtl(sim):
    """Attention with softmax, layer norms, GELU, residuals on the tiny chip, two programs:
    bit-exact, and every program's cycle count == prediction, exactly."""
    require_simulator(sim)
    model = transformer_block(seed=0, d=TINY.lanes, seq=TINY.lanes)
    xq = _block_input(model)
    c = compile_graph(model.graph, TINY, TINY.lanes)
    rtl = run(c, {"x": xq}, backend=sim, key="tiny")
    assert rtl.done and rtl.error == 0
    assert rtl.segment_cycles == [sg.cycles for sg in c.segments]
    np.testing.assert_array_equal(rtl.outputs[model.output], model.graph.reference({"x": xq})[model.output])


def test_checker_sees_which_write_a_read_returns():
    """Every READ's intent names the WRITE it must return (or none: data loaded before the run);
    the golden simulator records what it returned, so a read scheduled before its write is caught."""
    g = Graph()
    x = g.input("x", (None, 8))
    w = np.random.default_rng(2).integers(-128, 128, (8, 8)).astype(np.int8)
    g.output(g.gelu(g.dense(x, w, 3, 11, relu=False), 0.05, 0.03))
    c = compile_graph(g, TINY, 4)
    xv = np.random.default_rng(3).integers(-128, 128, (4, 8)).astype(np.int8)
    run(c, {"x": xv})                                    # the checker passes on the real schedule
    mem_reads = {k: v for k, v in c.intents.items() if k[2] == "mem"}
    computed = next(k for k, v in mem_reads.items() if v[0] is not None)
    loaded = next(k for k, v in mem_reads.items() if v[0] is None)
    for key, wrong in ((computed, [None]), (loaded, list(c.intents[computed]))):
        saved = c.intents[key]
        c.intents[key] = wrong
        with pytest.raises(ScheduleError, match="mem"):
            run(c, {"x": xv})
        c.intents[key] = saved


def test_a_step_too_long_for_one_program_is_cut_by_rows():
    """A layer norm over 200 rows needs ~2,200 VXM instructions, more than tiny's four 512-deep
    VXM column queues hold: its rows are spread over several programs, and the dense layer
    after it too."""
    rng = np.random.default_rng(4)
    g = Graph()
    x = g.input("x", (None, 8))
    h = g.layer_norm(x, 0.05, 0.03)
    g.output(y := g.dense(h, rng.integers(-128, 128, (8, 8)).astype(np.int8), 3, 11, relu=True))
    xv = rng.integers(-128, 128, (200, 8)).astype(np.int8)
    c = compile_graph(g, TINY, 200)
    assert len(c.segments) >= 3
    r = run(c, {"x": xv})
    assert r.segment_cycles == [sg.cycles for sg in c.segments]
    np.testing.assert_array_equal(r.outputs[y], g.reference({"x": xv})[y])


def test_mlp_per_channel_int8_accuracy_and_compiled_bit_exact():
    model = mlp_classifier(seed=0, per_channel=True)
    xq = model.quantize_input(model.x_test)
    logits = model.graph.reference({"x": xq})[model.output]
    assert float((logits.argmax(1) == model.y_test).mean()) >= model.float_accuracy(model.x_test, model.y_test) - 0.01
    c = compile_graph(model.graph, SMALL, 64)
    r = run(c, {"x": xq[:64]})
    assert r.cycles == c.predicted_cycles
    np.testing.assert_array_equal(r.outputs[model.output], logits[:64])


# --- the fp16 path ------------------------------------------------------------------------------
def _fp16_values(rng, shape, special=0.0, scale=1.0):
    """Random fp16 values; a fraction ``special`` replaced by corner cases (zeros, subnormals,
    extremes, Inf, NaN)."""
    v = rng.normal(0, scale, shape).astype(np.float16).view(np.uint16)
    hit = rng.random(shape) < special
    v[hit] = rng.choice(np.array(CORNERS[3], np.uint16), int(hit.sum()))
    return v.view(np.float16)


def _fp16_chain(rng, rows, dims, bias=True, relu=True, special=0.0):
    g = Graph()
    t = g.input("x", (rows, dims[0]), dtype="fp16")
    for i in range(len(dims) - 1):
        w = _fp16_values(rng, (dims[i], dims[i + 1]), special, 1 / np.sqrt(dims[i]))
        b = _fp16_values(rng, dims[i + 1], special, 0.5) if bias else None
        t = g.dense_fp16(t, w, bias=b, relu=relu and i < len(dims) - 2)
    g.output(t)
    return g, t, _fp16_values(rng, (rows, dims[0]), special)


def _same_bits(a, b):
    np.testing.assert_array_equal(np.asarray(a).view(np.uint16), np.asarray(b).view(np.uint16))


def test_fp16_reference_is_the_mxm_order():
    """``fp16_matmul`` is the MXM's arithmetic: one ``fp16_pass`` per ``fp16_k`` inputs and row,
    added into the accumulator in input order; the fp16 dense layer stays within fp16 rounding of
    float64."""
    rng = np.random.default_rng(0)
    k = SMALL.fp16_k
    x = _fp16_values(rng, (5, 3 * k)).view(np.uint16)
    w = _fp16_values(rng, (3 * k - 1, 7)).view(np.uint16)
    got = fp16_matmul(x, w, k)
    wp = np.zeros((3 * k, 2 * k), np.uint16)
    wp[:w.shape[0], :7] = w
    for r in range(5):
        acc = fp16_pass(x[r, :k], wp[:k])
        for j in (1, 2):
            acc = f32_add(acc, fp16_pass(x[r, j * k:(j + 1) * k], wp[j * k:(j + 1) * k]))
        np.testing.assert_array_equal(got[r], acc)
    g, y, xv = _fp16_chain(rng, 50, (40, 33), relu=False)
    w16, b16 = (g.consts[n] for n in sorted(g.consts))
    exact = xv.astype(np.float64) @ w16.astype(np.float64) + b16.astype(np.float64)
    ref = g.reference({"x": xv}, SMALL)[y].astype(np.float64)
    assert np.all(np.abs(ref - exact) <= 2 ** -10 * np.abs(exact) + 2 ** -14)     # one fp16 rounding, and a bit
    with pytest.raises(ValueError, match="cfg"):
        g.reference({"x": xv})
    with pytest.raises(TypeError, match="float16"):
        g.matmul(g.input("z", (None, 4), dtype="fp16"), g.const(np.zeros((4, 4), np.int8)))


@pytest.mark.parametrize("cfg,rows,dims,bias", [
    (TINY, 5, (8, 8), True), (TINY, 7, (13, 9), False), (TINY, 8, (3, 30, 4), True),
    (SMALL, 1, (16, 16), True), (SMALL, 1, (40, 21), False), (SMALL, 70, (40, 33, 10), True)])
def test_compiled_fp16_chain_matches_reference_and_prediction(cfg, rows, dims, bias):
    """fp16 GEMMs (K and N not multiples of lanes, GEMV) and chains of fp16 layers (the SXM moves
    each result into the next layer's layout): bit-exact, cycles == prediction."""
    g, out, x = _fp16_chain(np.random.default_rng(rows), rows, dims, bias)
    c = compile_graph(g, cfg, rows)
    assert c.report["mxm_peak"] == "fp16"
    r = run(c, {"x": x})                     # also checks every read against the schedule
    assert r.done and r.error == 0
    assert r.cycles == c.predicted_cycles
    _same_bits(r.outputs[out], g.reference({"x": x}, cfg)[out])


def test_compiled_fp16_special_values():
    """Inf, NaN, subnormals and signed zeros flow through the pad lanes as the reference says."""
    rng = np.random.default_rng(9)
    for bias, relu in ((False, False), (True, True)):
        g, out, x = _fp16_chain(rng, 9, (7, 11, 6), bias, relu, special=0.05)
        c = compile_graph(g, TINY, 9)
        r = run(c, {"x": x})
        ref = g.reference({"x": x}, TINY)[out]
        assert np.isnan(ref.astype(np.float32)).any()
        _same_bits(r.outputs[out], ref)


def test_fp16_accumulator_reuse_distance(monkeypatch):
    """An fp16 ACC to an accumulator row waits ``mxm_acc_reuse_distance(True)`` cycles after the
    row's previous pass: the scheduler keeps it, and the checker catches a program that does not."""
    g, out, x = _fp16_chain(np.random.default_rng(2), 1, (8, 8), bias=True)     # GEMV: row 0 back to back
    c = compile_graph(g, TINY, 1)
    gaps = _acc_gaps(c)
    assert min(gaps) < 12
    monkeypatch.setattr(timing, "mxm_acc_reuse_distance", lambda fp16, acc=True: 12 if fp16 and acc else 1)
    with pytest.raises(ScheduleError, match="accumulator row 0"):
        check_acc_reuse(TINY, c.program)
    c = compile_graph(g, TINY, 1)
    assert min(_acc_gaps(c)) >= 12
    r = run(c, {"x": x})
    assert r.cycles == c.predicted_cycles
    _same_bits(r.outputs[out], g.reference({"x": x}, TINY)[out])


def _acc_gaps(c):
    from openlpu.compiler.runtime import issue_cycles
    passes = [t for t, ins in issue_cycles(c.program["mxm0"]) if ins.op.name in ("ABC", "ACC")]
    return np.diff(passes)


def test_mlp_fp16_accuracy_and_compiled_bit_exact():
    model = mlp_classifier(seed=0, fp16=True)
    x = model.quantize_input(model.x_test)
    logits = model.graph.reference({"x": x}, SMALL)[model.output]
    fp16_acc = float((logits.astype(np.float32).argmax(1) == model.y_test).mean())
    assert fp16_acc >= model.float_accuracy(model.x_test, model.y_test) - 0.005
    rows = 64
    c = compile_graph(model.graph, SMALL, rows)
    r = run(c, {"x": x[:rows]})
    assert r.segment_cycles == [sg.cycles for sg in c.segments]
    _same_bits(r.outputs[model.output], logits[:rows])


@pytest.mark.parametrize("sim", SIMULATORS)
def test_ci_sized_fp16_chain_on_rtl(sim):
    """Two fp16 layers on the tiny chip's RTL (bias, ReLU, the SXM moving the hidden layer into
    the second layer's layout): bit-exact, cycles == prediction, exactly."""
    require_simulator(sim)
    g, out, x = _fp16_chain(np.random.default_rng(13), 4, (6, 10, 3))
    c = compile_graph(g, TINY, 4)
    rtl = run(c, {"x": x}, backend=sim, key="tiny")
    assert rtl.done and rtl.error == 0
    assert c.predicted_cycles == rtl.cycles
    _same_bits(rtl.outputs[out], g.reference({"x": x}, TINY)[out])


def test_batch_larger_than_sram_runs_in_chunks():
    """A 360-row batch of a 64-64-32-10 MLP does not fit small's SRAM (1,440 vectors for the input
    alone in one 1,024-vector slice): it compiles as chunks of rows, runs chunk by chunk on the
    golden simulator bit-exact with the graph reference, in exactly the predicted cycles."""
    from openlpu.compiler.batch import Batched
    rng = np.random.default_rng(360)
    g = Graph()
    t = g.input("x", (360, 64))
    dims = [64, 64, 32, 10]
    for i in range(3):
        t = g.dense(t, rng.integers(-128, 128, (dims[i], dims[i + 1])).astype(np.int8), 3, 12, relu=i < 2)
    g.output(t)
    x = rng.integers(-128, 128, (360, 64)).astype(np.int8)
    c = compile_graph(g, SMALL, 360)
    assert isinstance(c, Batched) and len(c.chunks) > 1 and c.chunks[-1][1] == 360
    r = run(c, {"x": x})
    assert r.cycles == c.predicted_cycles
    np.testing.assert_array_equal(r.outputs[t], g.reference({"x": x})[t])


def test_batch_that_mixes_rows_is_not_chunked():
    """Attention scores (``Q @ K.T``) mix the rows of the batch: too many rows for the SRAM is an
    error naming the transpose, not a wrong chunked result."""
    from openlpu.compiler.alloc import SramFull
    g, _, _ = _attention_scores(np.random.default_rng(1), 700, 8)
    with pytest.raises(SramFull, match=r"node \d+ \(transpose\) mixes rows"):
        compile_graph(g, TINY, 700)


def test_weights_larger_than_the_sram_name_the_layer_and_sizes():
    """A 256 x 2048 int8 layer needs more weight vectors than a tiny slice holds: no chunk of rows
    helps, and the error names the step, its kind, the slice and the vectors."""
    from openlpu.compiler.alloc import SramFull
    rng = np.random.default_rng(5)
    g = Graph()
    x = g.input("x", (2, 256))
    g.output(g.dense(x, rng.integers(-128, 128, (256, 2048)).astype(np.int8), 3, 12, relu=False))
    with pytest.raises(SramFull, match=r"step 0 \(dense\): slice \d+: \d+ vectors do not fit .*not even one row"):
        compile_graph(g, TINY, 2)
