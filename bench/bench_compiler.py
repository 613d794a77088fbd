"""Compiler benchmark: MXM utilization by GEMM shape, and compile time by model size.

``python -m openlpu.bench.bench_compiler [--preset small] [--verify]``

For each shape ``M x K x N`` (from GEMV, ``1 x lanes``, the LLM decode case,
to large square GEMMs) one int8 dense layer (matmul + requantize) is compiled;
the table gives the predicted cycles and the MXM utilization (MACs /
(lanes^2 x planes x cycles)). A second table does the same for fp16 dense
layers, whose utilization is against the fp16 peak (MACs / (lanes x
fp16_k x planes x cycles), ``fp16_k = lanes / 4``: a quarter of the int8
peak). With ``--verify`` every program is also run on
the golden ISA simulator, whose cycle count must equal the prediction. Writes
``bench/results/compiler_<preset>.json`` and a PNG plot of utilization next
to it. A second table gives the compile time of whole models: the MLP, the
transformer block at the preset's width, and the block at ``tsp`` width.

Every row also gets its roofline figures (:func:`openlpu.bench.roofline.figures`: achieved
MACs per cycle, weight bytes loaded, SRAM bytes read, and the intensities), and the plot
``compiler_<preset>_roofline.png`` shows every row compiled for the preset against the MXM
peak, the weight-load bound and the SRAM read bound of that configuration.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from openlpu.compiler.graph import Graph
from openlpu.compiler.lower import compile_graph
from openlpu.compiler.runtime import run
from openlpu.bench import roofline
from openlpu.config import preset

RESULTS = Path(__file__).resolve().parent / "results"


def dense(rows, k, n, seed=0):
    rng = np.random.default_rng(seed)
    g = Graph()
    x = g.input("x", (rows, k))
    out = g.output(g.dense(x, rng.integers(-128, 128, (k, n)).astype(np.int8), 3, 12, relu=False))
    return g, out, rng.integers(-128, 128, (rows, k)).astype(np.int8)


def dense16(rows, k, n, seed=0):
    rng = np.random.default_rng(seed)
    g = Graph()
    x = g.input("x", (rows, k), dtype="fp16")
    w = rng.normal(0, 1 / np.sqrt(k), (k, n)).astype(np.float16)
    out = g.output(g.dense_fp16(x, w, relu=False))
    return g, out, rng.normal(0, 1, (rows, k)).astype(np.float16)


def shapes16(cfg):
    """fp16 shapes: an activation row takes ``ceil(K / fp16_k)`` vectors in each of two slices."""
    L = cfg.lanes
    return [(1, L, L), (1, 4 * L, 4 * L), (4, L, L), (L, L, L), (2 * L, 2 * L, 2 * L), (4 * L, 2 * L, L)]


def _gemm_rows(cfg, build, shape_list, verify, desc):
    from tqdm import tqdm
    out = []
    for m, k, n in tqdm(shape_list, desc=desc):
        g, y, x = build(m, k, n)
        t0 = time.perf_counter()
        c = compile_graph(g, cfg, m)
        ct = time.perf_counter() - t0
        row = {"M": m, "K": k, "N": n, "cycles": c.predicted_cycles, "macs": c.report["macs"],
               "utilization": c.report["mxm_utilization"], "peak": c.report["mxm_peak"],
               "compile_s": round(ct, 3), "instructions": c.report["instructions"], **roofline.figures(c)}
        if verify:
            r = run(c, {"x": x})
            assert r.cycles == c.predicted_cycles, (m, k, n, r.cycles, c.predicted_cycles)
            ref = g.reference({"x": x}, cfg)[y]
            assert np.array_equal(r.outputs[y].view(np.uint8), ref.view(np.uint8))
            row["golden_cycles"] = r.cycles
        out.append(row)
    return out


def _print_gemm(rows_out, verify):
    print(f"{'M x K x N':>16s} {'cycles':>8s} {'util':>7s} {'compile':>8s}" + ("  golden" if verify else ""))
    for r in rows_out:
        print(f"{r['M']:>5d}x{r['K']:>4d}x{r['N']:<5d} {r['cycles']:8d} {100 * r['utilization']:6.2f}% "
              f"{r['compile_s']:7.2f}s" + (f"  {r['golden_cycles']} (== predicted)" if verify else ""))


def shapes(cfg):
    L = cfg.lanes
    return [(1, L, L), (1, 4 * L, 4 * L), (4, L, L), (L, L, L), (2 * L, 2 * L, 2 * L), (4 * L, 2 * L, L),
            (4 * L, 4 * L, 4 * L), (cfg.mxm_acc_depth, 4 * L, 2 * L)]


def _models(cfg, name):
    """End-to-end models for the compile-time table: ``(label, builder, config, rows)``."""
    from openlpu.compiler.models import mlp_classifier, transformer_block
    L, tsp = cfg.lanes, preset("tsp")
    return [(f"MLP 16-32-32-4, 64 rows ({name})", lambda: mlp_classifier(seed=0), cfg, 64),
            (f"transformer block d={L} ({name})", lambda: transformer_block(seed=0, d=L, seq=L), cfg, L),
            (f"transformer block d={tsp.lanes} (tsp)",
             lambda: transformer_block(seed=0, d=tsp.lanes, seq=tsp.lanes, heads=5, calib=1), tsp, tsp.lanes)]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m openlpu.bench.bench_compiler")
    p.add_argument("--preset", default="small")
    p.add_argument("--verify", action="store_true", help="run every program on the golden ISA simulator")
    args = p.parse_args(argv)
    cfg = preset(args.preset)
    rows_out = _gemm_rows(cfg, dense, shapes(cfg), args.verify, "GEMM shapes")
    rows16 = _gemm_rows(cfg, dense16, shapes16(cfg), args.verify, "fp16 GEMM shapes")
    sizes = []
    for width in (cfg.lanes, 2 * cfg.lanes, 4 * cfg.lanes):
        g, _, _ = dense(64, width, width)
        t0 = time.perf_counter()
        c = compile_graph(g, cfg, 64)
        sizes.append({"width": width, "macs": c.report["macs"], "compile_s": round(time.perf_counter() - t0, 3)})
    models, same_cfg = [], []
    for name, build, mcfg, rows in _models(cfg, args.preset):
        graph = build().graph
        t0 = time.perf_counter()
        c = compile_graph(graph, mcfg, rows)
        models.append({"model": name, "macs": c.report["macs"], "cycles": c.predicted_cycles, "programs": len(c.segments),
                       "instructions": c.report["instructions"], "utilization": c.report["mxm_utilization"],
                       "compile_s": round(time.perf_counter() - t0, 2), **roofline.figures(c)})
        if mcfg is cfg:
            same_cfg.append(models[-1])
    print(f"\nMXM utilization, preset {args.preset} ({cfg.lanes}x{cfg.lanes} MXM, {cfg.mxm_planes} planes; "
          f"output tiles alternate between the planes)")
    _print_gemm(rows_out, args.verify)
    print(f"\nfp16 dense layers, utilization against the fp16 peak ({cfg.lanes} x {cfg.fp16_k} MACs per plane "
          "and cycle, a quarter of int8's)")
    _print_gemm(rows16, args.verify)
    print("\ncompile time by model size:", ", ".join(f"{s['width']}x{s['width']}: {s['compile_s']} s" for s in sizes))
    print(f"{'model':34s} {'MACs':>11s} {'cycles':>8s} {'programs':>8s} {'instrs':>7s} {'util':>6s} {'compile':>8s}")
    for r in models:
        print(f"{r['model']:34s} {r['macs']:11d} {r['cycles']:8d} {r['programs']:8d} {r['instructions']:7d} "
              f"{100 * r['utilization']:5.1f}% {r['compile_s']:7.1f}s")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"compiler_{args.preset}.json"
    out.write_text(json.dumps({"preset": args.preset, "gemm": rows_out, "gemm_fp16": rows16, "compile_time": sizes,
                               "models": models}, indent=1))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 3.5))
        labels = [f"{r['M']}x{r['K']}x{r['N']}" for r in rows_out]
        ax.bar(labels, [100 * r["utilization"] for r in rows_out], color="#4a7ab5")
        ax.set_ylabel("MXM utilization (%)")
        ax.set_title(f"OpenLPU compiler, {args.preset}: int8 GEMM M x K x N")
        ax.tick_params(axis="x", rotation=35)
        fig.tight_layout()
        fig.savefig(RESULTS / f"compiler_{args.preset}.png", dpi=120)
        roof = roofline.plot(cfg, {"int8 GEMM": rows_out, "fp16 GEMM": rows16, "models": same_cfg},
                             RESULTS / f"compiler_{args.preset}_roofline.png",
                             f"OpenLPU compiler, {args.preset}: roofline (one point per row)")
        print(f"wrote {out}, {out.with_suffix('.png')} and {roof}")
    except ImportError:
        print(f"wrote {out} (install matplotlib for the plot)")


if __name__ == "__main__":
    main()
