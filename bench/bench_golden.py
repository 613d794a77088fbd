"""Golden ISA simulator speed: simulated cycles per second of compiled programs, fast vs reference.

``python -m openlpu.bench.bench_golden [--presets small,duo,tsp] [--no-reference] [--json F]``

Each program is compiled, its SRAM image loaded, and every segment run as the runtime runs it
(``provenance=True``) on :class:`openlpu.golden.lpu.LpuModel` (new) and on the slow reference
:class:`openlpu.golden.lpu_reference.LpuReferenceModel` (old); only the ``run`` calls are timed.
Both must give the same cycle count (the full comparison is tests/test_golden_speed.py). The
programs: the compiler's MLP classifier and transformer block at ``small``, a dense chain at
``duo``, a 640-wide two-layer MLP at ``tsp``. The figures depend on the machine and its load.
"""

import argparse
import json
import time

import numpy as np

from openlpu.compiler.graph import Graph
from openlpu.compiler.lower import compile_graph
from openlpu.compiler.models import mlp_classifier, transformer_block
from openlpu.config import preset
from openlpu.golden.lpu import LpuModel
from openlpu.golden.lpu_reference import LpuReferenceModel
from openlpu.golden.vxm_func import rom_arrays


def dense_mlp(cfg, rows, dims, seed=0):
    """A chain of int8 dense layers (ReLU between) ``dims[0] -> ... -> dims[-1]`` over ``rows`` rows."""
    rng = np.random.default_rng(seed)
    g = Graph()
    t = g.input("x", (rows, dims[0]))
    for i in range(len(dims) - 1):
        t = g.dense(t, rng.integers(-128, 128, (dims[i], dims[i + 1])).astype(np.int8), 3, 14,
                    relu=i < len(dims) - 2)
    g.output(t)
    return compile_graph(g, cfg, rows), {"x": rng.integers(-128, 128, (rows, dims[0])).astype(np.int8)}


def _mlp_small(cfg):
    mlp = mlp_classifier(seed=0)
    return compile_graph(mlp.graph, cfg, 64), {"x": mlp.quantize_input(mlp.x_test[:64])}


def _block(cfg):
    model = transformer_block(seed=0, d=cfg.lanes, seq=cfg.lanes)
    xq = model.quantize_input(np.random.default_rng(5).normal(0, 1, (cfg.lanes, cfg.lanes)))
    return compile_graph(model.graph, cfg, cfg.lanes), {"x": xq}


#: preset -> [(program, builder(cfg) -> (compiled, inputs))]
PROGRAMS = {
    "small": [("MLP classifier 16-32-32-4, 64 rows", _mlp_small),
              ("transformer block d=16", _block)],
    "duo": [("dense chain 64-48-32, 40 rows", lambda cfg: dense_mlp(cfg, 40, (64, 48, 32)))],
    "tsp": [("MLP 640-640-640, 64 rows", lambda cfg: dense_mlp(cfg, 64, (640, 640, 640)))],
}


def timed_run(model_class, cfg, compiled, inputs):
    """``(cycles, seconds)``: all segments of ``compiled`` run on a fresh model, only ``run`` timed."""
    model = model_class(cfg)
    for (s, a), vec in compiled.sram_image(inputs).items():
        model.mem[s].load(a, vec)
    cycles, seconds = 0, 0.0
    for sg in compiled.segments:
        model.load_program(sg.words())
        t0 = time.perf_counter()
        r = model.run(max_cycles=sg.cycles + 1000, provenance=True)
        seconds += time.perf_counter() - t0
        assert r.done and r.cycles == sg.cycles, (r.cycles, sg.cycles)
        cycles += r.cycles
    return cycles, seconds


def measure(presets, reference=True):
    rows = []
    rom_arrays()        # the transcendentals' tables are built once per process: not in a timed run
    for name in presets:
        cfg = preset(name)
        for label, build in PROGRAMS[name]:
            compiled, inputs = build(cfg)
            cycles, new_s = timed_run(LpuModel, cfg, compiled, inputs)
            row = {"preset": name, "program": label, "cycles": cycles, "new_s": round(new_s, 3),
                   "new_cycles_per_s": round(cycles / new_s)}
            if reference:
                ref_cycles, old_s = timed_run(LpuReferenceModel, cfg, compiled, inputs)
                assert ref_cycles == cycles
                row.update(old_s=round(old_s, 3), old_cycles_per_s=round(cycles / old_s),
                           speedup=round(old_s / new_s, 1))
            rows.append(row)
            print(f"{name:6s} {label:36s} {cycles:7d} cycles  new {row['new_cycles_per_s']:7d} c/s"
                  + (f"  old {row['old_cycles_per_s']:6d} c/s  x{row['speedup']}" if reference else ""),
                  flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m openlpu.bench.bench_golden", description=__doc__.splitlines()[0])
    p.add_argument("--presets", default="small,duo,tsp", help=f"comma-separated, of {', '.join(PROGRAMS)}")
    p.add_argument("--no-reference", action="store_true", help="time the fast simulator only")
    p.add_argument("--json", help="write the rows to this file")
    args = p.parse_args(argv)
    rows = measure(args.presets.split(","), reference=not args.no_reference)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"golden_speed": rows}, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
