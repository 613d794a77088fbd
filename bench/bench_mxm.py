"""MXM benchmark: sustained MACs/cycle, utilization and simulation speed.

    python -m openlpu.bench.bench_mxm [--presets tiny small] [--sims verilator icarus]

Part 1 streams an int8 GEMM through one MXM plane on each simulator (the
RTL under :class:`openlpu.verif.mxm_harness.MxmGemmHarness`, which plays the
whole schedule with no Python per cycle; cocotb checks the recorded result
port against the golden model and numpy afterwards) and reports the cycle
count, the MACs/cycle measured on the result port between the first and the
last result (must equal ``lanes**2``), and the simulator's speed on a long
GEMM (about ``--speed-cycles`` cycles, checked the same way).

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


def replay_gemm(cfg, key, shape, sim, seed=1):
    """One int8 GEMM through the harness on ``sim``; the testbench's report (a dict)."""
    import tempfile
    from pathlib import Path

    from openlpu.verif.mxm_harness import MxmGemmHarness
    from openlpu.verif.runner import run_cocotb
    log_file = BUILD_ROOT / "logs" / f"gemm-replay-{key}-{sim}.log"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        run_cocotb(sim=sim, toplevel="mxm_gemm_harness", component=lambda: MxmGemmHarness(cfg),
                   test_module="openlpu.verif.tb_mxm_gemm", key=key,
                   test_name=f"gemm-replay-{'x'.join(map(str, shape))}",
                   extra_env={"OPENLPU_CONFIG": json.dumps(cfg.as_dict()), "OPENLPU_SEED": str(seed),
                              "OPENLPU_GEMM": ",".join(map(str, shape)), "OPENLPU_DTYPE": "int8",
                              "OPENLPU_REPORT": str(report)},
                   log_file=log_file)
        return json.loads(report.read_text())


def speed_shape(cfg, cycles):
    """A GEMM of ``M x 2L x L`` whose schedule lasts about ``cycles`` cycles (2 per row of A)."""
    return (max(8 * cfg.lanes, cycles // 2), 2 * cfg.lanes, cfg.lanes)


def simulate(presets, sims, speed_cycles=20000):
    from tqdm import tqdm
    rows = []
    jobs = [(p, s) for p in presets for s in sims]
    for name, sim in tqdm(jobs, desc="MXM on simulators", unit="run"):
        reason = simulator_missing(sim)
        if reason:
            rows.append({"preset": name, "sim": sim, "skipped": reason})
            continue
        cfg = preset(name)
        r = replay_gemm(cfg, name, (8 * cfg.lanes, 2 * cfg.lanes, cfg.lanes), sim)
        speed = replay_gemm(cfg, name, speed_shape(cfg, speed_cycles), sim)
        rows.append({"preset": name, "sim": sim, **r, "speed_cycles": speed["cycles"],
                     "replay_cycles_per_s": speed["replay_cycles_per_s"]})
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
    parser.add_argument("--speed-cycles", type=int, default=20000)
    args = parser.parse_args(argv)

    sim_rows = simulate(args.presets, args.sims, args.speed_cycles)
    print("\nMXM plane on the simulators (int8 GEMM, M x K x N = 8L x 2L x L, L = lanes)")
    print(f"{'preset':7s} {'sim':10s} {'cycles':>7s} {'MAC/cyc':>8s} {'peak':>5s} {'gaps':>5s} {'util':>6s} "
          f"{'speed cycles':>12s} {'cyc/s':>8s}")
    for r in sim_rows:
        if "skipped" in r:
            print(f"{r['preset']:7s} {r['sim']:10s} skipped: {r['skipped']}")
            continue
        print(f"{r['preset']:7s} {r['sim']:10s} {r['cycles']:7d} {r['macs_per_cycle_steady']:8.1f} "
              f"{r['peak_macs_per_cycle']:5d} {r['steady_state_gaps']:5d} {100 * r['utilization']:5.1f}% "
              f"{r['speed_cycles']:12d} {r['replay_cycles_per_s']:8.0f}")

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
