"""The main job, ``openlpu demo``: the chip in RTL on the smallest preset, the compiler at ``--preset``.

The demo has to finish in about two minutes on a fresh two-core machine, so it simulates the
RTL where that is cheap and predicts the rest:

1. **RTL** on ``tiny`` (``--rtl PRESET`` for another chip, ``--rtl none`` for none; none at
   ``--preset tsp``): the Verilog of the whole chip (every unit is inside it) and its
   simulator build (Verilator runs with ``-Wall`` and a warning fails the build: the build is
   the lint); an int8 and an fp16 GEMM streamed through one MXM plane under cocotb (the result
   port checked against the golden model on every cycle, C against numpy); the hand-written
   linear layer (``verif/programs/linear.s``) where the chip has the MEM
   slices it needs (not ``tiny``); then the compiled int8 MLP classifier and transformer block
   on the chip: cycles equal to the compiler's prediction and the golden ISA simulator's,
   outputs bit-exact with the graph reference. ``tiny`` because its chip builds in about a
   minute (``small``: 3-4 minutes).
2. **Compiler** at ``--preset`` (``--config``, ``--set`` apply here): the same MLP and block
   compiled for it and, where the golden ISA simulator is quick (predicted cycles x lanes up to
   :data:`GOLDEN_BUDGET`), run on it with the same checks. Skipped when ``--preset`` is the RTL
   chip (step 1 ran them). On a chip with superlanes up to :data:`WAVEFRONT_MAX_LANES` lanes
   (``mid``), also :data:`WAVEFRONT_PROGRAMS` random programs on its RTL against the golden ISA
   simulator, which runs the superlane wavefront: values and cycles (its build takes a few
   minutes: ``openlpu demo --preset mid``).
3. **Projection**: every compiled workload's predicted cycles at 900 MHz: time, images or
   tokens per second, effective TOPS, MXM utilization; at a preset other than ``tsp`` also the
   MLP compiled for ``tsp``. The block at ``tsp`` (320 tokens) takes about 100 s to compile:
   ``openlpu demo --preset tsp``, which elaborates no RTL.

Long steps show a tqdm bar that ticks every second (:mod:`openlpu.progress`). The demo ends
with a table of every check and a last line ``PASS`` or ``FAIL``; :func:`run_demo` returns 0 or 1.
"""

import json
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from tabulate import tabulate

from . import timing
from .config import PRESETS, preset
from .progress import build_status, ticking
from .units import build_unit
from .verif.runner import BUILD_ROOT, run_cocotb, simulator_missing

__all__ = ["Check", "run_demo", "run_gemm", "rtl_part", "compiled_part", "projection", "CLOCK_HZ", "GOLDEN_BUDGET"]

#: The clock of the projection (the reference chip's).
CLOCK_HZ = 900e6
#: Predicted cycles x lanes up to which the demo runs a workload on the golden ISA simulator
#: (the MLP at ``tsp``, 0.7 M, takes about 7 s; the block at ``tsp``, 21 M, minutes).
GOLDEN_BUDGET = 2_000_000
#: Widest chip with superlanes whose RTL the demo builds for its random programs (``mid``: 24
#: lanes, a few minutes; not ``tsp``).
WAVEFRONT_MAX_LANES = 64


@dataclass
class Check:
    """One line of the summary: what was checked, on which chip and backend, and the outcome."""
    step: str
    check: str
    where: str
    detail: str
    ok: bool


def _summary(checks):
    """The summary table of ``checks`` (tabulate)."""
    rows = [[c.step, c.check, c.where, c.detail, "PASS" if c.ok else "FAIL"] for c in checks]
    return tabulate(rows, headers=["step", "check", "on", "detail", "result"])


def _log(name):
    path = BUILD_ROOT / "logs" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _guarded(step, where, fn, *args):
    """``fn(*args)`` (a list of :class:`Check`); an exception becomes one failed check, so that
    the other steps still run and the summary says what broke."""
    try:
        return fn(*args)
    except Exception as exc:            # noqa: BLE001 -- any failure of a step is a FAIL line
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"   {step} failed: {type(exc).__name__}: {first}")
        return [Check(step, "runs to the end", where, f"{type(exc).__name__}: {first[:100]}", False)]


# --- 1. the RTL --------------------------------------------------------------------------------------
def run_gemm(cfg, key, shape, dtype="int8", sim="verilator", seed=1, free_cycles=0, log_file=None):
    """Stream one GEMM through an MXM plane on ``sim``; returns the testbench's report dict
    (it fails unless C equals numpy and the result port equals the golden model on every cycle).

    The simulator's output goes to ``log_file`` (default: ``build/logs/``).
    """
    log_file = log_file or _log(f"gemm-{key}-{sim}-{dtype}")
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


def _build_ticker(sim, toplevel):
    """The status callable of a build's progress bar (Verilator only: how far make has got)."""
    return partial(build_status, BUILD_ROOT / "sim", f"{toplevel}-*-{sim}") if sim == "verilator" else None


def chip_build(cfg, key, sim):
    """The chip's Verilog (kept in ``build/verilog/lpu_<key>.v`` and in the build cache) and its
    simulator build; one check: the build succeeded (for Verilator: no ``-Wall`` warning)."""
    from .verif.lpu_cases import build_chip, chip_design
    from .verif.runner import design_verilog
    design = chip_design(cfg)
    with ticking(f"   Verilog of the {key} chip (Amaranth)"):
        text = design_verilog(design["component"], design["toplevel"])
    path = BUILD_ROOT / "verilog" / f"lpu_{key}.v"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    lines, log = text.count("\n"), _log(f"build-lpu-{key}-{sim}")
    start = time.perf_counter()
    with ticking(f"   {sim} build of the {key} chip", status=_build_ticker(sim, "lpu")):
        build_chip(cfg, sim, log_file=log)
    print(f"   {path} ({lines} lines) built in {time.perf_counter() - start:.0f} s (log {log})")
    lint = ", -Wall clean" if sim == "verilator" else ""
    return [Check("chip", f"Verilog builds{lint}", f"{key} / {sim}", f"{lines} lines", True)]


def gemms(cfg, key, sim, seed):
    """An int8 and an fp16 GEMM through one MXM plane; a check each (C == numpy, result port ==
    golden model every cycle, which the testbench asserts)."""
    M, K, N = 4 * cfg.lanes, 4 * cfg.lanes, 2 * cfg.lanes
    shapes = (("int8", (M, K, N)), ("fp16", (M, cfg.fp16_k * 4, N)))
    rows, checks = [], []
    with ticking(f"   GEMMs on one MXM plane ({sim}, built first)", total=len(shapes),
                 status=_build_ticker(sim, "mxm_plane")) as bar:
        for dtype, shape in shapes:
            r = run_gemm(cfg, key, shape, dtype=dtype, sim=sim, seed=seed)
            bar.update(1)
            dims = "x".join(map(str, shape))
            rows.append([dtype, dims, r["cycles"], r["first_result"], r["macs_per_cycle_steady"],
                         r["peak_macs_per_cycle"], 100 * r["utilization"]])
            checks.append(Check("MXM GEMM", f"{dtype} {dims}: C == numpy, result port == golden each cycle",
                                f"{key} / {sim}", f"{r['cycles']} cycles", bool(r["numpy_match"])))
    print(tabulate(rows, headers=["dtype", "M x K x N", "cycles", "1st result", "MAC/cycle", "peak", "util %"],
                   floatfmt=".1f"))
    return checks


def linear(cfg, key, sim, seed):
    """The hand-written linear layer on the chip: y == numpy, chip state == golden ISA
    simulator (cycles included); no check on a chip without the MEM slices it needs."""
    from .verif.linear_demo import linear_case, read_y
    from .verif.lpu_cases import compare, expect, run_rtl
    try:
        case, ref = linear_case(cfg, seed)
    except ValueError as exc:
        print(f"   hand-written linear layer: not on {key}: {exc}")
        return []
    predicted = expect(cfg, [case])
    with ticking(f"   linear layer (verif/programs/linear.s) on {sim}"):
        got = run_rtl(cfg, sim, [case], key, log_file=_log(f"lpu-linear-{key}-{sim}"))
    try:
        compare(predicted, got)
        same, why = True, f"{got[0]['cycles']} cycles"
    except AssertionError as exc:
        same, why = False, str(exc).splitlines()[0][:100]
    where = f"{key} / {sim}"
    return [Check("linear.s", "y == numpy", where, f"{len(ref)} rows", bool(np.array_equal(read_y(cfg, got[0]), ref))),
            Check("linear.s", "chip state == golden ISA simulator", where, why, same)]


def _run_checks(step, work, key, backends, sim_key=None):
    """Run ``work`` on each backend: cycles of every program == the compiler's prediction (and
    the chip done, no error), output == the graph reference bit for bit; two checks a backend."""
    from .compiler.runtime import run
    predicted = [sg.cycles for sg in work.compiled.segments]
    ref = work.reference()
    checks = []
    with ticking(f"   {step} ({work.rows} rows) on {', '.join(backends)}", total=len(backends)) as bar:
        for backend in backends:
            extra = {} if backend == "golden" else {"key": sim_key or key,
                                                    "log_file": _log(f"lpu-{work.name}-{key}-{backend}")}
            r = run(work.compiled, work.inputs, backend=backend, **extra)
            bar.update(1)
            where = f"{key} / {backend}"
            cycles_ok = r.segment_cycles == predicted and r.done and not r.error
            checks += [Check(step, "cycles == compiler's prediction", where,
                             f"{r.segment_cycles} vs {predicted}" + ("" if r.done and not r.error else
                                                                     f", done={r.done} error={r.error}"), cycles_ok),
                       Check(step, "output == graph reference", where, f"{ref.size} values",
                             bool(np.array_equal(r.outputs[work.output], ref)))]
    return checks


def _compiled(works, name, cfg, key, seed):
    """The workload ``name`` (``mlp``, ``transformer``) compiled for ``cfg``, kept in ``works``."""
    from . import workloads
    if (name, key) not in works:
        with ticking(f"   compiling the {name} for {key}"):
            works[name, key] = getattr(workloads, name)(cfg, seed=seed)
    return works[name, key]


def workloads_on(cfg, key, backends, seed, works, sim_key=None):
    """The MLP and the transformer block compiled for ``cfg`` and run on ``backends``
    (:func:`_run_checks`); a workload whose golden run would exceed :data:`GOLDEN_BUDGET`
    is compiled only (one check: it compiled)."""
    checks = []
    for name in ("mlp", "transformer"):
        work = _compiled(works, name, cfg, key, seed)
        if work.compiled.predicted_cycles * cfg.lanes > GOLDEN_BUDGET:
            checks.append(Check(name, "compiles (too large for the golden simulator here)", key,
                                f"{work.compiled.predicted_cycles} cycles predicted", True))
            continue
        checks += _run_checks(name, work, key, backends, sim_key)
    return checks


def rtl_part(key, sim, seed, works):
    """Step 1 on the chip of preset ``key``: build, GEMMs, linear layer, compiled workloads."""
    cfg, where = preset(key), f"{key} / {sim}"
    reason = simulator_missing(sim)
    if reason:
        print(f"   {sim} unavailable: {reason}")
        return [Check("chip", f"{sim} available", where, reason, False)]
    checks = _guarded("chip", where, chip_build, cfg, key, sim)
    if not all(c.ok for c in checks):
        return checks
    checks += _guarded("MXM GEMM", where, gemms, cfg, key, sim, seed)
    checks += _guarded("linear.s", where, linear, cfg, key, sim, seed)
    checks += _guarded("compiled", where, workloads_on, cfg, key, ["golden", sim], seed, works)
    return checks


#: Random programs the demo runs on a chip with superlanes (its wavefront, RTL == golden).
WAVEFRONT_PROGRAMS = 8


def random_programs(cfg, key, sim, seed):
    """:data:`WAVEFRONT_PROGRAMS` random programs on the RTL of ``cfg`` (a chip with superlanes):
    final SRAM, status, ECC counters and cycles equal to the golden ISA simulator's, which runs
    the superlane wavefront (docs/chip.md); one check per program."""
    from .verif.lpu_cases import compare, expect, run_rtl
    from .verif.regress import seed_cases
    seeds = list(range(seed * 1000, seed * 1000 + WAVEFRONT_PROGRAMS))
    cases, _ = seed_cases(cfg, seeds)
    expected = expect(cfg, cases)
    with ticking(f"   {len(cases)} random programs on the {key} chip ({cfg.superlanes} superlanes), {sim}"):
        got = run_rtl(cfg, sim, cases, key, log_file=_log(f"lpu-random-{key}-{sim}"))
    checks = []
    for s, e, g in zip(seeds, expected, got):
        try:
            compare([e], [g], [f"seed {s}"])
            ok, why = True, f"{g['cycles']} cycles"
        except AssertionError as exc:
            ok, why = False, str(exc).splitlines()[0][:100]
        checks.append(Check("wavefront", f"random program {s}: RTL == golden", f"{key} / {sim}", why, ok))
    return checks


# --- 2. the compiler at --preset, 3. the projection ---------------------------------------------------
def compiled_part(cfg, key, seed, works, sim):
    """Step 2: the workloads compiled for ``cfg`` and run on the golden ISA simulator; on a chip
    with superlanes (``mid``), also :func:`random_programs` on its RTL."""
    checks = _guarded("compiled", key, workloads_on, cfg, key, ["golden"], seed, works)
    if cfg.superlanes > 1 and cfg.lanes <= WAVEFRONT_MAX_LANES and not simulator_missing(sim):
        checks += _guarded("wavefront", f"{key} / {sim}", random_programs, cfg, key, sim, seed)
    return checks


def _tsp_mlp(works, seed):
    """The MLP compiled for ``tsp`` into ``works`` (no check of its own: compiled only)."""
    _compiled(works, "mlp", preset("tsp"), "tsp", seed)
    return []


def projection(works, seed):
    """Step 3: a table of every compiled workload at :data:`CLOCK_HZ` (plus the MLP compiled for
    ``tsp`` when nothing was); the checks of a failed compile."""
    checks = [] if any(key == "tsp" for _, key in works) else _guarded("projection", "tsp", _tsp_mlp, works, seed)
    rows = []
    for (name, key), work in works.items():
        c = work.compiled
        t = c.predicted_cycles / CLOCK_HZ
        unit = "images/s" if name == "mlp" else "tokens/s"
        rows.append([name, key, work.rows, len(c.segments), c.predicted_cycles, 100 * c.report["mxm_utilization"],
                     1e6 * t, f"{work.rows / t:,.0f} {unit}", 2 * c.report["macs"] / t / 1e12])
    print(tabulate(rows, headers=["workload", "preset", "rows", "programs", "cycles", "MXM util %",
                                  "us at 900 MHz", "throughput", "effective TOPS"], floatfmt=".2f"))
    return checks


def _header(cfg, key, rtl, sim):
    """The chips of this run, one table row each, with what the demo does on them."""
    chips = ([(rtl, preset(rtl), f"RTL on {sim}, golden ISA simulator")] if rtl else []) + \
        ([] if _is_rtl_chip(cfg, key, rtl) else [(key, cfg, "compiled, golden ISA simulator, projected")])
    rows = [[k, c.lanes, c.superlanes, c.mxm_planes, f"{c.mem_slices} x {c.mem_depth}",
             timing.mxm_latency(c), role] for k, c, role in chips]
    print(tabulate(rows, headers=["preset", "lanes", "superlanes", "MXM planes", "SRAM slices x depth",
                                  "MXM latency", "what runs"]))


def _is_rtl_chip(cfg, key, rtl):
    """``cfg`` (named ``key``) is the RTL part's chip, whose workloads step 1 already ran."""
    return bool(rtl) and key == rtl and cfg == preset(rtl)


def run_demo(cfg, key=None, sim="verilator", seed=1, rtl="tiny"):
    """The demo (module docstring): the RTL part on preset ``rtl`` (``None``: none), the
    compiler at ``cfg`` (named ``key``) and the projection; prints the summary and ``PASS`` or
    ``FAIL``, returns 0 or 1."""
    key = key or next((name for name, p in PRESETS.items() if p == cfg), "custom")
    start = time.perf_counter()
    print(f"OpenLPU demo (logs and builds under {BUILD_ROOT})")
    _header(cfg, key, rtl, sim)
    works, checks = {}, []
    if rtl:
        print(f"\n1. The {rtl} chip in RTL on {sim}")
        checks += rtl_part(rtl, sim, seed, works)
    if not _is_rtl_chip(cfg, key, rtl):
        print(f"\n2. The compiler for {key}: an int8 MLP classifier and a transformer block")
        checks += compiled_part(cfg, key, seed, works, sim)
    print(f"\n3. Projection at {CLOCK_HZ / 1e6:.0f} MHz from predicted cycles")
    checks += projection(works, seed)
    ok = bool(checks) and all(c.ok for c in checks)
    print(f"\nSummary ({time.perf_counter() - start:.0f} s)")
    print(_summary(checks))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1
