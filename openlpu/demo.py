"""The main job: Verilog for a preset, GEMMs on the simulated MXM, a program on the chip.

The demo generates (and lints) the Verilog of every unit and of the whole
chip, streams an int8 and an fp16 GEMM through one MXM plane in a real
simulator (Verilator by default) via cocotb, checking the result against
numpy and the golden model cycle by cycle, then runs the hand-written int8
linear layer (``verif/programs/linear.s``) on the whole chip through its host
port and compares ``y`` with numpy and the cycle count with the golden ISA
simulator's prediction. Last, the compiler's int8 MLP classifier and a
transformer block run on the chip, bit-exact with their graph reference and
with every program's cycle count equal to the compiler's prediction, and are
projected to the ``tsp`` preset at 900 MHz.
"""

import json
import tempfile
import time
from pathlib import Path

from . import timing
from .config import PRESETS
from .units import UNITS, UnitError, build_unit
from .verif.runner import BUILD_ROOT, lint, run_cocotb, simulator_missing, write_verilog

__all__ = ["run_demo", "run_gemm"]


def run_gemm(cfg, key, shape, dtype="int8", sim="verilator", seed=1, free_cycles=0, log_file=None):
    """Stream one GEMM through an MXM plane on ``sim``; returns the report dict.

    The simulator's output goes to ``log_file`` (default: ``build/logs/``).
    """
    if log_file is None:
        log_file = BUILD_ROOT / "logs" / f"gemm-{key}-{sim}-{dtype}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        run_cocotb(
            sim=sim, toplevel="mxm_plane", component=lambda: build_unit("mxm_plane", cfg),
            test_module="openlpu.verif.tb_mxm_gemm", key=key,
            test_name=f"gemm-{dtype}-{'x'.join(map(str, shape))}",
            extra_env={
                "OPENLPU_CONFIG": json.dumps(cfg.as_dict()), "OPENLPU_SEED": str(seed),
                "OPENLPU_GEMM": ",".join(map(str, shape)), "OPENLPU_DTYPE": dtype,
                "OPENLPU_REPORT": str(report), "OPENLPU_FREE_CYCLES": str(free_cycles),
            },
            log_file=log_file,
        )
        return json.loads(report.read_text())


def run_demo(cfg, sim="verilator", seed=1, key=None):
    key = key or next((name for name, p in PRESETS.items() if p == cfg), "custom")
    reason = simulator_missing(sim)
    if reason:
        print(f"error: {sim} unavailable: {reason}")
        return 1
    print(f"OpenLPU demo, preset {key}: lanes={cfg.lanes}, MXM {cfg.lanes}x{cfg.lanes} x {cfg.mxm_planes} planes, "
          f"MXM latency {timing.mxm_latency(cfg)} cycles")
    out = BUILD_ROOT / "verilog"
    print(f"\n1. Verilog ({out})")
    for unit in UNITS:
        try:
            component = build_unit(unit, cfg)
        except UnitError:
            print(f"   {unit:10s} not built yet")
            continue
        start = time.perf_counter()
        name = f"openlpu_{unit}_{key}"
        path = write_verilog(component, name, out / f"{name}.v")
        result = lint(path, top=name)
        verdict = "lint clean" if result.returncode == 0 else "LINT FAILED"
        print(f"   {unit:10s} {path.name:32s} {time.perf_counter() - start:5.1f} s  {verdict}")
        if result.returncode:
            print(result.stderr)
            return 1

    M, K, N = 4 * cfg.lanes, 4 * cfg.lanes, 2 * cfg.lanes
    print(f"\n2. GEMM C = A @ W on one MXM plane, {sim}, checked against numpy and the golden model")
    print(f"   {'dtype':6s} {'M x K x N':>14s} {'cycles':>7s} {'1st result':>10s} {'MAC/cycle':>10s} "
          f"{'peak':>5s} {'util':>6s} {'sim cyc/s':>10s}")
    for dtype, shape in (("int8", (M, K, N)), ("fp16", (M, cfg.fp16_k * 4, N))):
        start = time.perf_counter()
        r = run_gemm(cfg, key, shape, dtype=dtype, sim=sim, seed=seed)
        print(f"   {dtype:6s} {'x'.join(map(str, shape)):>14s} {r['cycles']:7d} {r['first_result']:10d} "
              f"{r['macs_per_cycle_steady']:10.1f} {r['peak_macs_per_cycle']:5d} {100 * r['utilization']:5.1f}% "
              f"{r['driven_cycles_per_s']:10.0f}   numpy match: {r['numpy_match']}")
    print("   cycles = the schedule's prediction; the testbench checked the result port on every one of them.")
    print("   util = useful MACs / (peak MACs per cycle x cycles), fill and drain included.")
    status = run_linear(cfg, key, sim, seed)
    status |= run_mlp(cfg, key, sim, seed)
    status |= run_transformer(cfg, key, sim, seed)
    print(f"\n   simulator logs: {BUILD_ROOT / 'logs'}")
    return status


def run_linear(cfg, key, sim, seed):
    """Step 3: the int8 linear layer program on the whole chip."""
    import numpy as np
    from .verif.linear_demo import ROWS, linear_case, read_y
    from .verif.lpu_cases import compare, expect, run_rtl
    print(f"\n3. The chip: y = relu(requant(x @ W + b)), int8, {ROWS} x {cfg.lanes} @ {cfg.lanes} x {cfg.lanes}, "
          f"hand-written assembly (verif/programs/linear.s) loaded and run through the host port on {sim}")
    try:
        case, ref = linear_case(cfg, seed)
    except ValueError as exc:
        print(f"   skipped for this preset: {exc}")
        return 0
    predicted = expect(cfg, [case])
    log = BUILD_ROOT / "logs" / f"lpu-linear-{key}-{sim}.log"
    start = time.perf_counter()
    got = run_rtl(cfg, sim, [case], key, log_file=log)
    elapsed = time.perf_counter() - start
    y = read_y(cfg, got[0])
    ok_numpy = bool(np.array_equal(y, ref))
    try:
        compare(predicted, got)
        ok_golden = True
    except AssertionError as exc:
        print(f"   RTL and golden ISA simulator differ: {exc}")
        ok_golden = False
    print(f"   cycles: golden ISA simulator predicted {predicted[0]['cycles']}, RTL measured {got[0]['cycles']}; "
          f"y == numpy: {ok_numpy}; RTL state == golden: {ok_golden}  ({elapsed:.0f} s incl. build)")
    print("   y[0] =", " ".join(f"{v:4d}" for v in y[0]))
    return 0 if ok_numpy and ok_golden else 1


def _golden_and_rtl(compiled, inputs, name, key, sim, bar):
    """Run ``compiled`` on the golden ISA simulator, then on the RTL in ``sim``
    (log in ``build/logs/lpu-<name>-<key>-<sim>.log``); ``(golden, rtl, RTL seconds)``."""
    from .compiler.runtime import run
    golden = run(compiled, inputs)
    bar.update(1)
    log = BUILD_ROOT / "logs" / f"lpu-{name}-{key}-{sim}.log"
    start = time.perf_counter()
    rtl = run(compiled, inputs, backend=sim, key=key, log_file=log)
    elapsed = time.perf_counter() - start
    bar.update(1)
    return golden, rtl, elapsed


def _print_usage(report):
    print(f"   MXM utilization {100 * report['mxm_utilization']:.1f}%, SRAM used {report['sram_bytes']} B, "
          f"{report['instructions']} instructions")


def run_mlp(cfg, key, sim, seed, rows=64):
    """Step 4: an int8 MLP classifier compiled for the chip and run on the RTL."""
    import numpy as np
    from tqdm import tqdm
    from .compiler.lower import compile_graph
    from .compiler.models import mlp_classifier
    from .config import preset
    print(f"\n4. Compiler: a 3-layer int8 MLP classifier (trained in numpy from seed {seed}), "
          f"compiled for {key} and run on {sim}")
    with tqdm(total=4, desc="   train/compile/golden/RTL", leave=False) as bar:
        model = mlp_classifier(seed=seed)
        bar.update(1)
        rows = min(rows, len(model.x_test))
        while True:                      # the largest batch (up to ``rows``) that fits SRAM and queues
            try:
                compiled = compile_graph(model.graph, cfg, rows)
                break
            except MemoryError:
                if rows == 1:
                    raise
                rows //= 2
        xq = model.quantize_input(model.x_test[:rows])
        bar.update(1)
        golden, rtl, elapsed = _golden_and_rtl(compiled, {"x": xq}, "mlp", key, sim, bar)
    ref = model.graph.reference({"x": xq})[model.output]
    exact = bool(np.array_equal(rtl.outputs[model.output], ref))
    xq_all = model.quantize_input(model.x_test)
    int8_acc = float((model.graph.reference({"x": xq_all})[model.output].argmax(1) == model.y_test).mean())
    float_acc = model.float_accuracy(model.x_test, model.y_test)
    print(f"   accuracy on {len(model.y_test)} test samples: float {100 * float_acc:.1f}%, "
          f"int8 {100 * int8_acc:.1f}%")
    print(f"   {rows} rows: cycles predicted {compiled.predicted_cycles}, golden ISA simulator {golden.cycles}, "
          f"RTL {rtl.cycles}; logits bit-exact with the graph reference: {exact}  ({elapsed:.0f} s)")
    _print_usage(compiled.report)
    tsp = preset("tsp")
    big = compile_graph(model.graph, tsp, rows)
    t_s = big.predicted_cycles / 900e6
    print(f"   projected to tsp at 900 MHz: {big.predicted_cycles} cycles = {1e6 * t_s:.2f} us per batch of {rows}, "
          f"{2 * big.report['macs'] / t_s / 1e12:.3f} effective TOPS (a network this small uses "
          f"{100 * big.report['mxm_utilization']:.2f}% of the MXM)")
    same = compiled.predicted_cycles == golden.cycles == rtl.cycles
    return 0 if exact and same else 1


def run_transformer(cfg, key, sim, seed):
    """Step 5: a transformer block (attention, softmax, layer norms, GELU MLP) compiled and run."""
    import numpy as np
    from tqdm import tqdm
    from .compiler.lower import compile_graph
    from .compiler.models import transformer_block
    from .config import preset
    d = cfg.lanes
    print(f"\n5. Compiler: a transformer block, width {d}, {d} tokens, 2 heads, MLP {2 * d} with GELU, "
          f"int8 weights from seed {seed}, compiled for {key} and run on {sim}")
    with tqdm(total=4, desc="   build/compile/golden/RTL", leave=False) as bar:
        model = transformer_block(seed=seed, d=d, seq=d)
        xq = model.quantize_input(np.random.default_rng(seed).normal(0, 1, (d, d)))
        bar.update(1)
        compiled = compile_graph(model.graph, cfg, d)
        bar.update(1)
        golden, rtl, elapsed = _golden_and_rtl(compiled, {"x": xq}, "transformer", key, sim, bar)
    ref = model.graph.reference({"x": xq})[model.output]
    exact = bool(np.array_equal(rtl.outputs[model.output], ref))
    want = model.float_forward(xq * model.scales["x"])
    got = model.dequantize_output(rtl.outputs[model.output])
    rel = float(np.linalg.norm(got - want) / np.linalg.norm(want))
    predicted = [sg.cycles for sg in compiled.segments]
    print(f"   {len(predicted)} programs (queues hold {cfg.imem_depth} instructions): cycles predicted "
          f"{predicted}, golden ISA simulator {golden.segment_cycles}, RTL {rtl.segment_cycles}")
    print(f"   output bit-exact with the graph reference: {exact}; int8 vs float64 block: relative error "
          f"{100 * rel:.1f}%  ({elapsed:.0f} s)")
    _print_usage(compiled.report)
    tsp = preset("tsp")
    start = time.perf_counter()
    big_model = transformer_block(seed=seed, d=tsp.lanes, seq=tsp.lanes, heads=5, calib=1)
    big = compile_graph(big_model.graph, tsp, tsp.lanes)
    t_s = big.predicted_cycles / 900e6
    print(f"   projected to tsp at 900 MHz, the same block at width {tsp.lanes} ({tsp.lanes} tokens, 5 heads): "
          f"{big.predicted_cycles} cycles in {len(big.segments)} programs = {1e6 * t_s:.1f} us per block, "
          f"{2 * big.report['macs'] / t_s / 1e12:.2f} effective TOPS, MXM utilization "
          f"{100 * big.report['mxm_utilization']:.1f}% (compiled in {time.perf_counter() - start:.0f} s)")
    same = predicted == golden.segment_cycles == rtl.segment_cycles
    return 0 if exact and same else 1
