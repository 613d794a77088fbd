"""Random-program regression of the whole chip: RTL against the golden ISA simulator.

``python -m openlpu.verif.regress --preset tiny --sim verilator --seeds 200``
generates one random legal program per seed (:mod:`openlpu.verif.progen`),
runs them on the golden ISA simulator and, in batches, on the RTL through the
host port, and compares final SRAM windows, status, error registers, ECC
counters and cycle counts. With ``--sim both`` Icarus and Verilator must both agree with the golden
model, so they agree with each other on values and cycle counts. Every seed
is logged; a failing seed replays
alone with ``--seeds 1 --start SEED``. Ends with one summary line; the exit
status is non-zero on any mismatch.
"""

import argparse
import sys
import time
from collections import Counter

import numpy as np

from openlpu.config import preset

from .lpu_cases import compare, expect, make_case, run_rtl
from .progen import DATA, INDEX, RESULT, random_case

__all__ = ["seed_cases", "main"]


def seed_cases(cfg, seeds, length=60):
    """``(cases, usage)`` for the given seeds; every case reads back its data, result and index areas."""
    cases, usage = [], Counter()
    windows = [(s, 0, INDEX + 8) for s in range(cfg.mem_slices)]
    assert INDEX + 8 > DATA + RESULT
    for seed in seeds:
        program, sram, used = random_case(cfg, np.random.default_rng(seed), length=length)
        usage += used
        cases.append(make_case(cfg, program, sram=sram, windows=windows))
    return cases, usage


def main(argv=None):
    from tqdm import tqdm
    p = argparse.ArgumentParser(prog="python -m openlpu.verif.regress", description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="tiny")
    p.add_argument("--sim", default="verilator", choices=["verilator", "icarus", "both"],
                   help="both: every program on Icarus and on Verilator, which must agree with each other "
                        "and with the golden simulator")
    p.add_argument("--seeds", type=int, default=20, help="number of seeds")
    p.add_argument("--start", type=int, default=0, help="first seed")
    p.add_argument("--batch", type=int, default=25, help="programs per simulator run")
    p.add_argument("--length", type=int, default=60, help="approximate program length in cycles")
    args = p.parse_args(argv)
    cfg = preset(args.preset)
    seeds = list(range(args.start, args.start + args.seeds))
    t0 = time.time()
    failures, cycles, usage = [], 0, Counter()
    with tqdm(total=len(seeds), unit="seed", desc=f"{args.preset}/{args.sim}") as bar:
        for i in range(0, len(seeds), args.batch):
            batch = seeds[i:i + args.batch]
            cases, used = seed_cases(cfg, batch, args.length)
            usage += used
            expected = expect(cfg, cases)
            sims = ["icarus", "verilator"] if args.sim == "both" else [args.sim]
            got = {sim: run_rtl(cfg, sim, cases, f"{args.preset}-regress") for sim in sims}
            for k, (seed, e) in enumerate(zip(batch, expected)):
                cycles += e["cycles"]
                try:
                    for sim in sims:
                        compare([e], [got[sim][k]], [f"seed {seed} on {sim}"])
                    status = "pass"
                except AssertionError as exc:
                    failures.append((seed, str(exc)))
                    status = "FAIL"
                tqdm.write(f"seed {seed}: {status} ({e['cycles']} cycles, "
                           f"{'done' if e['done'] else 'error ' + str(e['code'])})")
                bar.update(1)
    for seed, msg in failures:
        print(f"seed {seed} failed: {msg[:500]}\n  replay: python -m openlpu.verif.regress --preset {args.preset} "
              f"--sim {args.sim} --seeds 1 --start {seed}")
    print("instructions used:", ", ".join(f"{k} {v}" for k, v in sorted(usage.items())))
    print(f"SUMMARY {args.preset} {args.sim}: {len(seeds) - len(failures)}/{len(seeds)} seeds passed, "
          f"{cycles} chip cycles, {time.time() - t0:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
