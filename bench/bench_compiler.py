"""Compiler benchmark: MXM utilization by GEMM shape, and compile time by model size.

``python -m openlpu.bench.bench_compiler [--preset small] [--verify]``

For each shape ``M x K x N`` (from GEMV, ``1 x lanes``, the LLM decode case,
to large square GEMMs) one int8 dense layer (matmul + requantize) is compiled;
the table gives the predicted cycles and the MXM utilization (MACs /
(lanes^2 x planes x cycles)); with ``--verify`` every program is also run on
the golden ISA simulator, whose cycle count must equal the prediction. Writes
``bench/results/compiler_<preset>.json`` and a PNG plot of utilization next
to it.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from openlpu.compiler.graph import Graph
from openlpu.compiler.lower import compile_graph
from openlpu.compiler.runtime import run
from openlpu.config import preset

RESULTS = Path(__file__).resolve().parent / "results"


def dense(rows, k, n, seed=0):
    rng = np.random.default_rng(seed)
    g = Graph()
    x = g.input("x", (rows, k))
    out = g.output(g.dense(x, rng.integers(-128, 128, (k, n)).astype(np.int8), 3, 12, relu=False))
    return g, out, rng.integers(-128, 128, (rows, k)).astype(np.int8)


def shapes(cfg):
    L = cfg.lanes
    return [(1, L, L), (1, 4 * L, 4 * L), (4, L, L), (L, L, L), (2 * L, 2 * L, 2 * L), (4 * L, 2 * L, L),
            (4 * L, 4 * L, 4 * L), (cfg.mxm_acc_depth, 4 * L, 2 * L)]


def main(argv=None):
    from tqdm import tqdm
    p = argparse.ArgumentParser(prog="python -m openlpu.bench.bench_compiler")
    p.add_argument("--preset", default="small")
    p.add_argument("--verify", action="store_true", help="run every program on the golden ISA simulator")
    args = p.parse_args(argv)
    cfg = preset(args.preset)
    rows_out = []
    for m, k, n in tqdm(shapes(cfg), desc="GEMM shapes"):
        g, out, x = dense(m, k, n)
        t0 = time.perf_counter()
        c = compile_graph(g, cfg, m)
        ct = time.perf_counter() - t0
        row = {"M": m, "K": k, "N": n, "cycles": c.predicted_cycles, "macs": c.report["macs"],
               "utilization": c.report["mxm_utilization"], "compile_s": round(ct, 3),
               "instructions": c.report["instructions"]}
        if args.verify:
            r = run(c, {"x": x})
            assert r.cycles == c.predicted_cycles, (m, k, n, r.cycles, c.predicted_cycles)
            assert np.array_equal(r.outputs[out], g.reference({"x": x})[out])
            row["golden_cycles"] = r.cycles
        rows_out.append(row)
    sizes = []
    for width in (cfg.lanes, 2 * cfg.lanes, 4 * cfg.lanes):
        g, _, _ = dense(64, width, width)
        t0 = time.perf_counter()
        c = compile_graph(g, cfg, 64)
        sizes.append({"width": width, "macs": c.report["macs"], "compile_s": round(time.perf_counter() - t0, 3)})
    print(f"\nMXM utilization, preset {args.preset} ({cfg.lanes}x{cfg.lanes} MXM, {cfg.mxm_planes} planes; "
          f"output tiles alternate between the planes)")
    print(f"{'M x K x N':>16s} {'cycles':>8s} {'util':>7s} {'compile':>8s}" + ("  golden" if args.verify else ""))
    for r in rows_out:
        print(f"{r['M']:>5d}x{r['K']:>4d}x{r['N']:<5d} {r['cycles']:8d} {100 * r['utilization']:6.2f}% "
              f"{r['compile_s']:7.2f}s" + (f"  {r['golden_cycles']} (== predicted)" if args.verify else ""))
    print("\ncompile time by model size:", ", ".join(f"{s['width']}x{s['width']}: {s['compile_s']} s" for s in sizes))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"compiler_{args.preset}.json"
    out.write_text(json.dumps({"preset": args.preset, "gemm": rows_out, "compile_time": sizes}, indent=1))
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
        print(f"wrote {out} and {out.with_suffix('.png')}")
    except ImportError:
        print(f"wrote {out} (install matplotlib for the plot)")


if __name__ == "__main__":
    main()
