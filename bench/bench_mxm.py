"""MXM benchmark: sustained MACs/cycle, utilization and simulation speed.

    python -m openlpu.bench.bench_mxm [--presets tiny small] [--sims verilator icarus]

Part 1 streams an int8 GEMM through one MXM plane on each simulator (the
RTL, via cocotb) and reports the cycle count, the MACs/cycle measured on the
result port between the first and the last result (must equal ``lanes**2``),
and simulation speed twice: cocotb-driven (a Python callback every cycle, as
the testbenches run) and free-running (constant inputs, the simulator alone).

Part 2 is the schedule's utilization for GEMM shapes from a GEMV (M = 1, the
LLM decode case) to large squares, from the golden schedule (it equals the
RTL's cycle count, which part 1 and the tests check).

Figures go to ``build/bench/mxm.json``.
"""

import argparse
import json

import numpy as np

from openlpu import timing
from openlpu.config import preset
from openlpu.golden.mxm import gemm_schedule
from openlpu.verif.runner import BUILD_ROOT, simulator_missing

__all__ = ["simulate", "utilization_sweep", "main"]


def simulate(presets, sims, free_cycles=20000):
    from tqdm import tqdm

    from openlpu.demo import run_gemm
    rows = []
    jobs = [(p, s) for p in presets for s in sims]
    for name, sim in tqdm(jobs, desc="MXM on simulators", unit="run"):
        reason = simulator_missing(sim)
        if reason:
            rows.append({"preset": name, "sim": sim, "skipped": reason})
            continue
        cfg = preset(name)
        shape = (8 * cfg.lanes, 2 * cfg.lanes, cfg.lanes)
        r = run_gemm(cfg, name, shape, "int8", sim=sim, free_cycles=free_cycles)
        rows.append({"preset": name, "sim": sim, **r})
    return rows


def utilization_sweep(name):
    cfg = preset(name)
    lanes = cfg.lanes
    shapes = [(1, lanes, lanes), (1, 4 * lanes, 4 * lanes), (lanes // 2, lanes, lanes),
              (lanes, lanes, lanes), (4 * lanes, 4 * lanes, 4 * lanes), (16 * lanes, 4 * lanes, 2 * lanes)]
    rows = []
    for M, K, N in shapes:
        M = max(1, M)
        a = np.zeros((M, K), dtype=np.int8)
        w = np.zeros((K, N), dtype=np.int8)
        s = gemm_schedule(cfg, a, w)
        rows.append({"preset": name, "shape": [M, K, N], "cycles": s.length,
                     "utilization": M * K * N / (lanes * lanes * s.length)})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"])
    parser.add_argument("--sims", nargs="+", default=["verilator", "icarus"])
    parser.add_argument("--free-cycles", type=int, default=20000)
    args = parser.parse_args(argv)

    sim_rows = simulate(args.presets, args.sims, args.free_cycles)
    print("\nMXM plane on the simulators (int8 GEMM, M x K x N = 8L x 2L x L, L = lanes)")
    print(f"{'preset':7s} {'sim':10s} {'cycles':>7s} {'MAC/cyc':>8s} {'peak':>5s} {'gaps':>5s} {'util':>6s} "
          f"{'driven cyc/s':>13s} {'free cyc/s':>11s}")
    for r in sim_rows:
        if "skipped" in r:
            print(f"{r['preset']:7s} {r['sim']:10s} skipped: {r['skipped']}")
            continue
        print(f"{r['preset']:7s} {r['sim']:10s} {r['cycles']:7d} {r['macs_per_cycle_steady']:8.1f} "
              f"{r['peak_macs_per_cycle']:5d} {r['steady_state_gaps']:5d} {100 * r['utilization']:5.1f}% "
              f"{r['driven_cycles_per_s']:13.0f} {r['free_cycles_per_s'] or 0:11.0f}")

    sweep = [row for name in ("tiny", "small", "tsp") for row in utilization_sweep(name)]
    print("\nSchedule utilization by GEMM shape (one plane; fill and drain included)")
    print(f"{'preset':7s} {'M x K x N':>18s} {'cycles':>8s} {'util':>6s}")
    for r in sweep:
        print(f"{r['preset']:7s} {'x'.join(map(str, r['shape'])):>18s} {r['cycles']:8d} {100 * r['utilization']:5.1f}%")
    tsp = preset("tsp")
    peak = 2 * tsp.lanes ** 2 * tsp.mxm_planes * 900e6 / 1e12
    print(f"\ntsp projection: {tsp.mxm_planes} planes x {tsp.lanes}^2 MACs x 2 ops x 900 MHz = {peak:.0f} TOPS int8 peak "
          f"(MXM latency {timing.mxm_latency(tsp)} cycles)")

    out = BUILD_ROOT / "bench" / "mxm.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"simulation": sim_rows, "utilization": sweep, "tsp_peak_tops_int8": peak}, indent=1))
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
