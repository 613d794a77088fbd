"""Regressions with many seeds: random chip programs, and every unit's random testbench.

``openlpu regress --preset tiny --sim verilator --seeds 200`` (or ``python -m
openlpu.verif.regress ...``) generates one random legal program per seed
(:mod:`openlpu.verif.progen`), runs them on the golden ISA simulator and, in
batches, on the RTL, and compares final SRAM windows, status, error
registers, ECC counters and cycle counts. With ``--sim both`` Icarus and
Verilator must both agree with the golden model, so they agree with each
other on values and cycle counts. The batches run on a Dask cluster
(:mod:`openlpu.verif.cluster`): local worker processes, one per core by
default (``--workers N``), or an existing cluster (``--cluster
tcp://HOST:8786``). Every worker first builds the chip's simulator model (or
finds it in the build cache) and reuses it for each of its batches. Every
seed is logged as its batch completes; a failing seed replays alone with
``--seeds 1 --start SEED``. Ends with one summary line (seeds passed, chip
cycles, seeds per minute); the exit status is non-zero on any mismatch.

``--units mxm,sxm,...`` (or ``all``) instead runs each unit's cocotb
testbench (random stimulus from ``OPENLPU_SEED``, checked against its golden
model with its latency) once per seed, one run per task on the same cluster.
"""

import argparse
import sys
import time
from collections import Counter

import numpy as np

from openlpu.config import preset

from .cluster import SeedCluster
from .lpu_cases import build_chip, compare, expect, make_case, run_rtl
from .progen import DATA, INDEX, RESULT, random_case
from .progen_faults import with_faults

__all__ = ["seed_cases", "UNIT_BENCHES", "run_unit", "run_batch", "add_arguments", "run", "main"]

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


def seed_cases(cfg, seeds, length=60, faults=0):
    """``(cases, usage)`` for the given seeds; every case reads back its data, result and index
    areas. ``faults``: that many faults at random points of each program
    (:func:`openlpu.verif.progen_faults.with_faults`)."""
    cases, usage = [], Counter()
    windows = [(s, 0, INDEX + 8) for s in range(cfg.mem_slices)]
    assert INDEX + 8 > DATA + RESULT
    for seed in seeds:
        rng = np.random.default_rng(seed)
        program, sram, used = random_case(cfg, rng, length=length)
        usage += used
        corrupt = None
        if faults:
            program, corrupt, _ = with_faults(cfg, rng, program, sram, faults)
        cases.append(make_case(cfg, program, sram=sram, corrupt=corrupt, windows=windows))
    return cases, usage


def add_arguments(p):
    """The regression's options (``python -m openlpu.verif.regress`` and ``openlpu regress``)."""
    p.add_argument("--preset", default="tiny")
    p.add_argument("--sim", default="verilator", choices=["verilator", "icarus", "both"],
                   help="both: every program on Icarus and on Verilator, which must agree with each other "
                        "and with the golden simulator")
    p.add_argument("--seeds", type=int, default=20, help="number of seeds")
    p.add_argument("--start", type=int, default=0, help="first seed")
    p.add_argument("--batch", type=int, help="programs per simulator run (default: the seeds spread evenly "
                                             "over the workers, at most 25)")
    p.add_argument("--length", type=int, default=60, help="approximate program length in cycles")
    p.add_argument("--faults", type=int, default=0, help="faults per program at random points: illegal words, "
                                                         "bad addresses, ECC errors (verif/progen_faults.py)")
    p.add_argument("--units", help="comma-separated units (or 'all') whose testbenches to run per seed "
                                   f"instead of chip programs: {', '.join(UNIT_BENCHES)}")
    p.add_argument("--workers", type=int, help="worker processes of the local Dask cluster "
                                               "(default: this machine's cores)")
    p.add_argument("--cluster", metavar="ADDRESS", help="run on the Dask cluster at ADDRESS "
                                                        "(tcp://host:8786) instead of a local one")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m openlpu.verif.regress", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


def run(args):
    """Run the regression ``args`` describes (see :func:`add_arguments`); the exit status."""
    cfg = preset(args.preset)
    seeds = list(range(args.start, args.start + args.seeds))
    if args.units:
        units = list(UNIT_BENCHES) if args.units == "all" else args.units.split(",")
        unknown = [u for u in units if u not in UNIT_BENCHES]
        if unknown:
            raise SystemExit(f"error: unknown unit {unknown[0]!r}; choose from {', '.join(UNIT_BENCHES)}")
    with SeedCluster(args.workers, args.cluster) as cluster:
        print(f"Dask cluster: {len(cluster.worker_addresses)} workers"
              + (f" at {args.cluster}" if args.cluster else " (local)"))
        if args.units:
            return _units(args, cfg, seeds, units, cluster)
        return _chip(args, cfg, seeds, cluster)


def _sims(args):
    return ["icarus", "verilator"] if args.sim == "both" else [args.sim]


def _log(name):
    """``build/logs/regress/<name>.log``: where a worker's simulator output goes."""
    from .runner import BUILD_ROOT
    logs = BUILD_ROOT / "logs" / "regress"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"{name}.log"


def build_models(cfg, sims):
    """Build (or find built) the chip's simulator models on this worker; their directories."""
    return [str(build_chip(cfg, sim, log_file=_log(f"build-{cfg.lanes}-{sim}"))) for sim in sims]


def run_batch(seeds, cfg, sims, length, key, faults=0):
    """One simulator run per simulator over ``seeds``' random programs, each compared with the
    golden model: ``([{seed, cycles, done, code, failure}], usage)``; ``failure`` is None on a pass.
    A simulator run that fails as a whole fails every seed of the batch with its message."""
    cases, used = seed_cases(cfg, seeds, length, faults)
    expected = expect(cfg, cases)
    try:
        got = {sim: run_rtl(cfg, sim, cases, key, log_file=_log(f"{key}-{sim}-{seeds[0]}")) for sim in sims}
        crash = None
    except Exception as exc:  # noqa: BLE001 - reported per seed, with the message
        crash = f"simulator run failed: {type(exc).__name__}: {exc}"
    results = []
    for k, (seed, e) in enumerate(zip(seeds, expected)):
        failure = crash
        if crash is None:
            try:
                for sim in sims:
                    compare([e], [got[sim][k]], [f"seed {seed} on {sim}"])
            except AssertionError as exc:
                failure = str(exc)
        results.append({"seed": seed, "cycles": e["cycles"], "done": e["done"], "code": e["code"],
                        "failure": failure})
    return results, dict(used)


def _chip(args, cfg, seeds, cluster):
    t0 = time.time()
    sims = _sims(args)
    workers = len(cluster.worker_addresses)
    size = args.batch or max(1, min(25, -(-len(seeds) // workers)))
    batches = [seeds[i:i + size] for i in range(0, len(seeds), size)]
    cluster.prepare(build_models, cfg, sims)
    t_built = time.time()
    failures, cycles, usage = [], 0, Counter()
    for _, (results, used) in cluster.map(run_batch, batches, cfg, sims, args.length, f"{args.preset}-regress",
                                          args.faults, desc=f"{args.preset}/{args.sim}"):
        usage += Counter(used)
        for r in results:
            cycles += r["cycles"]
            if r["failure"]:
                failures.append((r["seed"], r["failure"]))
            cluster.write(f"seed {r['seed']}: {'FAIL' if r['failure'] else 'pass'} ({r['cycles']} cycles, "
                          f"{'done' if r['done'] else 'error ' + str(r['code'])})")
    for seed, msg in sorted(failures):
        print(f"seed {seed} failed: {msg[:500]}\n  replay: openlpu regress --preset {args.preset} --sim {args.sim} "
              f"--seeds 1 --start {seed} --length {args.length} --faults {args.faults}")
    print("instructions used:", ", ".join(f"{k} {v}" for k, v in sorted(usage.items())))
    seconds = time.time() - t_built
    print(f"SUMMARY {args.preset} {args.sim}: {len(seeds) - len(failures)}/{len(seeds)} seeds passed, "
          f"{cycles} chip cycles; models ready in {t_built - t0:.0f} s, then {seconds:.0f} s: "
          f"{60 * len(seeds) / seconds:.1f} seeds/min on {workers} workers")
    return 1 if failures else 0


def run_unit_seed(task, cfg, key):
    """One ``(unit, sim, seed)`` run of a unit's testbench: None on a pass, else ``(message, log)``."""
    unit, sim, seed = task
    log = _log(f"{unit}-{key}-{sim}-{seed}")
    try:
        run_unit(unit, cfg, key, sim, seed, log_file=log)
    except AssertionError as exc:
        return str(exc), str(log)
    return None


def _units(args, cfg, seeds, units, cluster):
    t0, failures = time.time(), []
    tasks = [(unit, sim, seed) for unit in units for sim in _sims(args) for seed in seeds]
    for (unit, sim, seed), failed in cluster.map(run_unit_seed, tasks, cfg, args.preset, desc=f"units/{args.sim}",
                                                 unit="run", weight=lambda _: 1):
        if failed:
            failures.append((unit, sim, seed, failed[0]))
        cluster.write(f"{unit} {sim} seed {seed}: {'FAIL (log ' + failed[1] + ')' if failed else 'pass'}")
    for unit, sim, seed, msg in sorted(failures):
        print(f"{unit} {sim} seed {seed} failed: {msg[:300]}\n  replay: python -m openlpu.verif.regress "
              f"--preset {args.preset} --sim {sim} --units {unit} --seeds 1 --start {seed}")
    print(f"SUMMARY units {args.preset} {args.sim}: {len(tasks) - len(failures)}/{len(tasks)} runs passed "
          f"({', '.join(units)} x {len(seeds)} seeds), {time.time() - t0:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
