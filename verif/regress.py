"""Regressions with many seeds: random chip programs, and every unit's random testbench.

``python -m openlpu.verif.regress --preset tiny --sim verilator --seeds 200``
generates one random legal program per seed (:mod:`openlpu.verif.progen`),
runs them on the golden ISA simulator and, in batches, on the RTL through the
host port, and compares final SRAM windows, status, error registers, ECC
counters and cycle counts. With ``--sim both`` Icarus and Verilator must both agree with the golden
model, so they agree with each other on values and cycle counts. Every seed
is logged; a failing seed replays
alone with ``--seeds 1 --start SEED``. Ends with one summary line; the exit
status is non-zero on any mismatch.

``--units mxm,sxm,...`` (or ``all``) instead runs each unit's cocotb
testbench (random stimulus from ``OPENLPU_SEED``, checked against its golden
model with its latency) once per seed, on the chosen simulator(s).
"""

import argparse
import sys
import time
from collections import Counter

import numpy as np

from openlpu.config import preset

from .lpu_cases import compare, expect, make_case, run_rtl
from .progen import DATA, INDEX, RESULT, random_case

__all__ = ["seed_cases", "UNIT_BENCHES", "run_unit", "main"]

#: unit -> (toplevel, "module:Class", testbench module, extra environment, constructor keywords)
UNIT_BENCHES = {
    "mxm": ("mxm_plane", "openlpu.rtl.mxm:MxmPlane", "openlpu.verif.tb_mxm", {}, {}),
    "vxm": ("vxm", "openlpu.rtl.vxm:Vxm", "openlpu.verif.tb_vxm", {}, {}),
    "vxm_func": ("vxm_func", "openlpu.rtl.vxm_func:VxmFunc", "openlpu.verif.tb_vxm_func", {}, {}),
    "sxm": ("sxm", "openlpu.rtl.sxm:Sxm", "openlpu.verif.tb_sxm", {}, {}),
    "mem": ("mem_slice", "openlpu.rtl.mem:MemSlice", "openlpu.verif.tb_mem", {"OPENLPU_FAULTS": "1024"}, {}),
    "host": ("mem", "openlpu.rtl.host:MemWithHost", "openlpu.verif.tb_host", {}, {"program": True}),
}


def run_unit(unit, cfg, key, sim, seed, log_file=None):
    """One seed of one unit's cocotb testbench; raises AssertionError on a failure."""
    import importlib
    import json
    from .runner import run_cocotb
    top, target, module, env, kwargs = UNIT_BENCHES[unit]
    mod_name, cls = target.split(":")
    factory = getattr(importlib.import_module(mod_name), cls)
    run_cocotb(sim=sim, toplevel=top, component=lambda: factory(cfg, **kwargs), test_module=module, key=key,
               test_name=f"regress-{seed}", log_file=log_file,
               extra_env={"OPENLPU_CONFIG": json.dumps(cfg.as_dict()), "OPENLPU_SEED": str(seed), **env})


#: The random chip programs every CI run checks on the RTL (besides the live seeds of
#: tests/test_lpu.py); functional coverage (verif/fcov.py) is taken over them.
CI_SEEDS = range(1000, 1008)


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
    p.add_argument("--units", help="comma-separated units (or 'all') whose testbenches to run per seed "
                                   f"instead of chip programs: {', '.join(UNIT_BENCHES)}")
    args = p.parse_args(argv)
    cfg = preset(args.preset)
    seeds = list(range(args.start, args.start + args.seeds))
    if args.units:
        return _units(args, cfg, seeds)
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


def _units(args, cfg, seeds):
    from tqdm import tqdm
    from .runner import BUILD_ROOT
    units = list(UNIT_BENCHES) if args.units == "all" else args.units.split(",")
    unknown = [u for u in units if u not in UNIT_BENCHES]
    if unknown:
        raise SystemExit(f"error: unknown unit {unknown[0]!r}; choose from {', '.join(UNIT_BENCHES)}")
    sims = ["icarus", "verilator"] if args.sim == "both" else [args.sim]
    logs = BUILD_ROOT / "logs" / "regress"
    logs.mkdir(parents=True, exist_ok=True)
    t0, failures, runs = time.time(), [], 0
    with tqdm(total=len(units) * len(sims) * len(seeds), unit="run", desc=f"units/{args.sim}") as bar:
        for unit in units:
            for sim in sims:
                for seed in seeds:
                    log = logs / f"{unit}-{args.preset}-{sim}-{seed}.log"
                    try:
                        run_unit(unit, cfg, args.preset, sim, seed, log_file=log)
                        status = "pass"
                    except AssertionError as exc:
                        failures.append((unit, sim, seed, str(exc)))
                        status = f"FAIL (log {log})"
                    runs += 1
                    tqdm.write(f"{unit} {sim} seed {seed}: {status}")
                    bar.update(1)
    for unit, sim, seed, msg in failures:
        print(f"{unit} {sim} seed {seed} failed: {msg[:300]}\n  replay: python -m openlpu.verif.regress "
              f"--preset {args.preset} --sim {sim} --units {unit} --seeds 1 --start {seed}")
    print(f"SUMMARY units {args.preset} {args.sim}: {runs - len(failures)}/{runs} runs passed "
          f"({', '.join(units)} x {len(seeds)} seeds), {time.time() - t0:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
