"""The ``openlpu`` command.

``openlpu generate --preset tiny --unit mxm -o build/``
    Write the Verilog of one unit for a preset (and lint it with ``--lint``).
``openlpu asm prog.s -o prog.lpu`` / ``openlpu disasm prog.lpu``
    Assemble a program into an image and back (they round-trip).
``openlpu synth --preset tiny --unit sxm``
    Synthesise a unit for ECP5 (Yosys) and place and route it (nextpnr):
    LUTs, FFs, DSPs, block RAMs and Fmax (see ``openlpu.synth``).
``openlpu demo --preset small [--rtl tiny|...|none]``
    The main job: the ``--rtl`` chip (default ``tiny``) built and run in RTL, the
    compiler's workloads at ``--preset`` on the golden ISA simulator, a projection
    at 900 MHz, a summary table of every check and ``PASS`` or ``FAIL``.
``openlpu compile MODEL.onnx --preset small -o OUT/``
    Import an ONNX model (int8 QDQ or fp16), compile it, write the package
    (programs, SRAM image, graph, report.json).
``openlpu run OUT/ --input x.npy [--backend golden|verilator|icarus] [-o y.npy]``
    Run a package; print cycles and the check against the graph reference.
``openlpu sweep --preset tiny --field lanes --values 8,16 [--model MODEL.onnx]``
    Compile one model for several values of a configuration field: cycles,
    utilization and projected area in a table (and a plot with ``--png``).

Every command that takes ``--preset`` also takes ``--config FILE.toml`` (fields
of the configuration, at top level) and ``--set FIELD=VALUE`` (repeatable,
applied last). See docs/cli.md.
"""

import argparse
import json
import sys
import time
import tomllib
from dataclasses import fields
from pathlib import Path

import numpy as np

from .config import ConfigError, LpuConfig, PRESETS, preset
from .trace import register as register_trace
from .units import UNITS, UnitError, build_unit

__all__ = ["main", "build_parser"]


# --- the configuration: --preset, --config, --set --------------------------------------------------
def _field_value(name, text):
    """``text`` as the value of ``LpuConfig`` field ``name`` (an integer; ``none`` where the field
    may be ``None``), or :class:`ConfigError` naming the field."""
    types = {f.name: f.type for f in fields(LpuConfig)}
    if name not in types:
        raise ConfigError(name, f"is not an LpuConfig field (fields: {', '.join(types)})", text)
    if isinstance(text, str) and text.strip().lower() == "none" and "None" in str(types[name]):
        return None
    try:
        if isinstance(text, bool) or (not isinstance(text, str) and int(text) != text):
            raise ValueError
        return int(text)
    except (TypeError, ValueError):
        raise ConfigError(name, "must be an integer", text) from None


def _overrides(args):
    """``{field: value}`` from ``--config FILE.toml`` and then ``--set FIELD=VALUE``."""
    changes = {}
    if getattr(args, "config", None):
        try:
            with open(args.config, "rb") as f:
                table = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError("config", f"cannot read {args.config}: {exc}", args.config) from None
        changes.update({k: _field_value(k, v) for k, v in table.items()})
    for item in getattr(args, "set", None) or []:
        name, eq, text = item.partition("=")
        if not eq:
            raise ConfigError(name, "--set takes FIELD=VALUE", item)
        changes[name.strip()] = _field_value(name.strip(), text.strip())
    return changes


def _config(args):
    """The configuration a command runs with: the preset, then ``--config``, then ``--set``
    (validated by ``LpuConfig``)."""
    return preset(args.preset).replace(**_overrides(args))


def _label(args):
    """The preset's name, with the overridden fields appended (``tiny-lanes16``)."""
    return "-".join([args.preset] + [f"{k}{v}" for k, v in _overrides(args).items()])


def _config_options(cmd, help_preset=None):
    """``--preset``, ``--config`` and ``--set`` on a subcommand."""
    cmd.add_argument("--preset", default="tiny", choices=sorted(PRESETS), help=help_preset)
    cmd.add_argument("--config", metavar="FILE.toml", help="configuration fields (top-level keys) over the preset")
    cmd.add_argument("--set", action="append", metavar="FIELD=VALUE",
                     help="one configuration field over the preset and --config (repeatable)")


def _unit_names(choice):
    """The units a ``--unit`` value names: every unit for ``all``, else that one."""
    return list(UNITS) if choice == "all" else [choice]


def _conversion_progress(start):
    """A conversion's progress on stderr: each shared module as its conversion starts, then
    the top's own (at ``tsp`` the longest step)."""
    def report(module, count):
        what = f"shared module {count}: {module}" if count is not None else f"the top module {module}"
        print(f"  {time.perf_counter() - start:7.1f} s  converting {what}", file=sys.stderr, flush=True)
    return report


def _lint_modules(path):
    """Lint ``path`` module by module (:func:`openlpu.verif.runner.lint_modules`); 1 on failure."""
    from .verif.runner import lint_modules
    start = time.perf_counter()

    def report(i, n, module):
        print(f"  {time.perf_counter() - start:7.1f} s  lint {i + 1}/{n}: {module}", file=sys.stderr, flush=True)
    failures = lint_modules(path, progress=report)
    for module, stderr in failures:
        print(f"lint: {module}:\n{stderr}", file=sys.stderr)
    if not failures:
        print(f"{'':17s} lint clean, module by module (verilator --lint-only -Wall + verif/waivers.vlt)")
    return 1 if failures else 0


def cmd_generate(args):
    from .verif.runner import lint, write_verilog
    cfg, label = _config(args), _label(args)
    out = Path(args.output)
    status = 0
    for unit in _unit_names(args.unit):
        start = time.perf_counter()
        try:
            component = build_unit(unit, cfg)
        except UnitError as exc:
            if args.unit == "all":
                print(f"skip {unit}: error: {exc}")
                continue
            raise SystemExit(f"error: {exc}") from None
        name = f"openlpu_{unit}_{label}".replace("-", "_")
        path = write_verilog(component, name, out / f"{name}.v", progress=_conversion_progress(start))
        elapsed = time.perf_counter() - start
        lines = path.read_text().count("\n")
        print(f"{unit:10s} {args.preset:6s} -> {path} ({lines} lines, {elapsed:.1f} s)")
        if args.lint_modules:
            status |= _lint_modules(path)
        if args.lint:
            result = lint(path, top=name)
            if result.returncode:
                print(result.stderr, file=sys.stderr)
                status = 1
            else:
                print(f"{'':17s} lint clean (verilator --lint-only -Wall + verif/waivers.vlt)")
    return status


def cmd_synth(args):
    from .synth import DEVICE, ToolFailed, ToolMissing, synth_unit
    cfg, label = _config(args), _label(args)
    status = 0
    for unit in _unit_names(args.unit):
        try:
            res = synth_unit(unit, cfg, Path(args.output) / label, pnr=not args.no_pnr,
                             preset_name=label, log=None)
        except (ToolMissing, ToolFailed) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except UnitError as exc:
            if args.unit != "all":
                raise SystemExit(f"error: {exc}") from None
            print(f"skip {unit}: error: {exc}")
            continue
        fmax = f"{res.fmax_mhz:.1f} MHz" if res.fmax_mhz else "-"
        print(f"{unit:10s} {label:6s} LUT4 {res.luts:7d}  FF {res.ffs:7d}  "
              f"MULT18X18D {res.dsps:4d}  DP16KD {res.brams:4d}  Fmax {fmax}  ({DEVICE['name']})")
        if res.note:
            print(f"{'':17s} {res.note}")
        if not res.fits:
            status = 1
    return status


def _rtl_preset(args):
    """The chip of the demo's RTL part: ``--rtl`` (``none``: no RTL), by default ``tiny``, and
    none at ``--preset tsp`` (which only compiles and projects)."""
    choice = args.rtl or ("none" if args.preset == "tsp" else "tiny")
    return None if choice == "none" else choice


def cmd_demo(args):
    from .demo import run_demo
    return run_demo(_config(args), key=_label(args), sim=args.sim, seed=args.seed, rtl=_rtl_preset(args))


def cmd_asm(args):
    from .asm import AsmError, assemble, save_image
    cfg = _config(args)
    try:
        program = assemble(Path(args.source).read_text(), cfg)
    except AsmError as exc:
        print(f"error: {args.source}: {exc}", file=sys.stderr)
        return 2
    out = Path(args.output or Path(args.source).with_suffix(".lpu"))
    save_image(program, out)
    print(f"{args.source} -> {out} ({sum(len(w) for w in program.values())} instructions, "
          f"{len(program)} queues)")
    return 0


def cmd_disasm(args):
    from .asm import AsmError, disassemble, load_image
    try:
        text = disassemble(load_image(args.image))
    except AsmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


# --- models: compile, run, sweep ------------------------------------------------------------------
def _import(path):
    """The :class:`~openlpu.compiler.onnx.Imported` model of an ONNX file (onnx needed only here)."""
    try:
        from .compiler.onnx import import_model
    except ImportError as exc:
        raise SystemExit(f"error: reading ONNX needs the onnx package ({exc}); pip install -e '.[dev]'") from None
    try:
        return import_model(path)
    except (ValueError, OSError) as exc:    # OnnxImportError, or a file onnx cannot read
        raise SystemExit(f"error: {path}: {exc}") from None


def _rows(args, imported):
    rows = args.rows or imported.rows
    if not rows:
        raise SystemExit(f"error: {args.model}: the batch dimension is symbolic; give the rows with --rows N")
    return rows


def _compile(imported, cfg, rows):
    from .compiler.lower import compile_graph
    return compile_graph(imported.graph, cfg, rows)


def _report_lines(report):
    r = report
    return [f"predicted cycles {r['predicted_cycles']} in {r['segments']} program(s) {r['segment_cycles']}",
            f"MXM utilization {100 * r['mxm_utilization']:.2f}% of the {r['mxm_peak']} peak, {r['macs']} MACs",
            f"SRAM {r['sram_bytes']} bytes ({r['sram_vectors']} vectors), {r['instructions']} instructions"]


def cmd_compile(args):
    from .compiler import package
    cfg = _config(args)
    imported = _import(args.model)
    rows = _rows(args, imported)
    compiled = _compile(imported, cfg, rows)
    compiled.report["instructions_by_queue"] = {q: sum(len(sg.program.get(q, [])) for sg in compiled.segments)
                                                for q in compiled.segments[0].program}
    out = package.save(compiled, imported.graph, rows, args.output, imported.io())
    print(f"{args.model} -> {out}/ ({_label(args)}, {rows} rows)")
    for line in _report_lines(compiled.report):
        print(f"  {line}")
    return 0


def _feeds(items, specs):
    """``{model input: array}`` from ``--input [NAME=]FILE.npy`` (a name may be left out for a
    model with one input)."""
    feeds = {}
    for item in items:
        name, eq, path = item.rpartition("=")
        if not eq:
            if len(specs) != 1:
                raise SystemExit(f"error: the model has inputs {', '.join(specs)}: give --input NAME=FILE.npy")
            name = next(iter(specs))
        feeds[name] = np.load(path)
    return feeds


def _check(pkg, gin, outputs):
    """The names of the outputs that differ from the graph reference (bit for bit)."""
    ref = pkg.graph.reference(gin, pkg.compiled.cfg)
    return [n for n in pkg.graph.outputs
            if not np.array_equal(np.asarray(outputs[n]).view(np.uint8), np.asarray(ref[n]).view(np.uint8))]


def _run_on(pkg, gin, backend):
    """Run the package on ``backend``; on an RTL simulator its build and run output go to a log
    (``build/logs/run-<backend>.log``, named on the terminal) under a ticking progress bar."""
    from .compiler.runtime import run
    if backend == "golden":
        return run(pkg.compiled, gin)
    from .progress import ticking
    from .verif.runner import BUILD_ROOT, simulator_missing
    reason = simulator_missing(backend)
    if reason:
        raise SystemExit(f"error: {backend} unavailable: {reason}")
    log = BUILD_ROOT / "logs" / f"run-{backend}.log"
    print(f"{backend}: building (first time for this chip) and running; log {log}")
    with ticking(f"{backend}"):
        return run(pkg.compiled, gin, backend=backend, log_file=log)


def cmd_run(args):
    from .compiler import package
    try:
        pkg = package.load(args.package)
    except package.PackageError as exc:
        raise SystemExit(f"error: {exc}") from None
    try:
        gin = package.graph_inputs(pkg.io["inputs"], _feeds(args.input, pkg.io["inputs"]))
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    for name, x in gin.items():
        want = (pkg.rows, pkg.graph.inputs[name][1])
        if x.shape != want:
            raise SystemExit(f"error: input {name} is {x.shape}; the package was compiled for {want}")
    r = _run_on(pkg, gin, args.backend)
    bad = _check(pkg, gin, r.outputs)
    predicted = [sg.cycles for sg in pkg.compiled.segments]
    print(f"{args.backend}: {r.cycles} cycles {r.segment_cycles} (predicted {sum(predicted)} {predicted}), "
          f"done={r.done} error={r.error}")
    print("outputs == graph reference" if not bad else f"MISMATCH against the graph reference: {', '.join(bad)}")
    if args.output:
        outs = package.model_outputs(pkg.io["outputs"], r.outputs)
        if len(outs) == 1:
            np.save(args.output, next(iter(outs.values())))
        else:
            np.savez(args.output, **outs)
        print(f"-> {args.output}")
    return 1 if bad or r.error or not r.done or r.segment_cycles != predicted else 0


def _sweep_model(args):
    """``(graph holder, rows)``: the ONNX model of ``--model``, or the built-in int8 MLP."""
    if args.model:
        imported = _import(args.model)
        return imported, _rows(args, imported)
    from .compiler.models import mlp_classifier
    return mlp_classifier(seed=0), args.rows or 16


def _area(cfg):
    """Projected LUT4 of the chip at ``cfg`` (:func:`openlpu.scaling.project`), or ``None``."""
    from .scaling import load_results, project
    try:
        return project(load_results(), cfg)["chip"]["luts"]
    except (OSError, KeyError, ValueError):
        return None


def cmd_sweep(args):
    from tabulate import tabulate
    base = _config(args)
    model, rows = _sweep_model(args)
    table = []
    for text in args.values.split(","):
        cfg = base.replace(**{args.field: _field_value(args.field, text)})
        try:
            rep = _compile(model, cfg, rows).report
        except (MemoryError, NotImplementedError) as exc:
            table.append([text, None, None, None, None, _area(cfg), f"does not compile: {exc}"])
            continue
        table.append([text, rep["predicted_cycles"], 100 * rep["mxm_utilization"], rep["segments"],
                      rep["sram_bytes"], _area(cfg), ""])
    headers = [args.field, "cycles", "MXM util %", "programs", "SRAM bytes", "LUT4 (projected)", "note"]
    print(tabulate(table, headers=headers, floatfmt=".2f", missingval="-"))
    if args.json:
        Path(args.json).write_text(json.dumps([dict(zip(headers, row)) for row in table], indent=1) + "\n")
    if args.png:
        _sweep_plot(args, table)
    return 0


def _sweep_plot(args, table):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in table if r[1] is not None]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r[0] for r in rows], [r[1] for r in rows], "o-", color="C0")
    ax.set_xlabel(args.field)
    ax.set_ylabel("predicted cycles", color="C0")
    ax2 = ax.twinx()
    ax2.plot([r[0] for r in rows], [r[2] for r in rows], "s--", color="C1")
    ax2.set_ylabel("MXM utilization (%)", color="C1")
    ax.set_title(f"{args.model or 'int8 MLP'}, {args.preset}, sweep of {args.field}")
    fig.tight_layout()
    fig.savefig(args.png, dpi=100)
    plt.close(fig)
    print(f"-> {args.png}")


def _add_model_commands(sub):
    comp = sub.add_parser("compile", help="import an ONNX model, compile it, write the package")
    comp.add_argument("model", help="MODEL.onnx (int8 QDQ or fp16)")
    _config_options(comp)
    comp.add_argument("--rows", type=int, help="input rows (the batch; default: the model's static batch)")
    comp.add_argument("-o", "--output", required=True, help="package directory")
    comp.set_defaults(func=cmd_compile)

    run = sub.add_parser("run", help="run a compiled package and check it against the graph reference")
    run.add_argument("package", help="directory written by `openlpu compile`")
    run.add_argument("--input", action="append", required=True, metavar="[NAME=]FILE.npy")
    run.add_argument("--backend", default="golden", choices=["golden", "verilator", "icarus"])
    run.add_argument("-o", "--output", help="the model's output (.npy; .npz for several)")
    run.set_defaults(func=cmd_run)

    sweep = sub.add_parser("sweep", help="compile one model over values of a configuration field")
    _config_options(sweep)
    sweep.add_argument("--field", required=True, help="an LpuConfig field, e.g. lanes, mxm_planes")
    sweep.add_argument("--values", required=True, help="comma-separated values, e.g. 8,16,32")
    sweep.add_argument("--model", help="MODEL.onnx (default: the built-in int8 MLP)")
    sweep.add_argument("--rows", type=int, help="input rows (default: the model's static batch, or 16)")
    sweep.add_argument("--png", help="plot cycles and utilization into this PNG (matplotlib)")
    sweep.add_argument("--json", help="also write the table as JSON")
    sweep.set_defaults(func=cmd_sweep)


def _unit_command(sub, name, help, func, unit, output):
    """A subcommand that takes ``--preset``, ``--unit`` (a registry name or ``all``) and ``-o``."""
    cmd = sub.add_parser(name, help=help)
    _config_options(cmd)
    cmd.add_argument("--unit", default=unit, help=f"one of {', '.join(UNITS)}, or all")
    cmd.add_argument("-o", "--output", default=output)
    cmd.set_defaults(func=func)
    return cmd


def _add_regress_command(sub):
    from openlpu.verif import regress
    reg = sub.add_parser("regress", help="random chip programs (or unit testbenches) per seed, RTL against "
                                         "golden, on a Dask cluster", description=regress.__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    regress.add_arguments(reg)
    reg.set_defaults(func=regress.run)


def cmd_mutate(args):
    """Mutation run of one unit: a table of killed, survived and invalid mutants, the survivors."""
    from .progress import ticking
    from .verif import mutate
    counts = dict.fromkeys(("killed", "survived", "invalid"), 0)

    def status():
        return " ".join(f"{k} {v}" for k, v in counts.items())
    try:
        mutate.target(args.unit)
        commands = None if args.replay is None else json.loads(Path(args.replay).read_text())["survivors"]
        with ticking(f"mutate {args.unit}", total=args.count if commands is None else len(commands),
                     status=status) as bar:
            def progress(report, mutant):
                counts[mutant.outcome] += 1
                bar.update(1)
                _write_json(args.json, report)          # a stopped run keeps what it judged
            report = mutate.run(args.unit, args.count, args.seed, args.sim, progress=progress, commands=commands)
    except (ValueError, mutate.MutateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(mutate.format_report(report))
    _write_json(args.json, report)
    return 0


def _write_json(path, report):
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report.as_dict(), indent=2) + "\n")


def _add_mutate_command(sub):
    mut = sub.add_parser("mutate", help="mutation testing: how many Yosys mutants of a unit its cocotb tests kill",
                         description="Draw --count mutations of the unit's design with Yosys 'mutate -list', run "
                                     "the unit's cocotb tests against each mutant's Verilog and count killed, "
                                     "survived and invalid mutants. See docs/verification.md.")
    mut.add_argument("--unit", required=True, help="ecc, mem, mxm, vxm, sxm or icu")
    mut.add_argument("--count", type=int, default=20, help="mutations to draw (default 20)")
    mut.add_argument("--seed", type=int, default=1, help="seed of 'mutate -list' (default 1)")
    mut.add_argument("--sim", default="icarus", choices=["icarus", "verilator"])
    mut.add_argument("--json", help="also write the result as JSON")
    mut.add_argument("--replay", metavar="JSON", help="judge again the survivors of an earlier --json result "
                                                      "(after adding tests) instead of drawing mutations")
    mut.set_defaults(func=cmd_mutate)


def cmd_coverage(args):
    """Verilator line and toggle coverage per unit (:mod:`openlpu.verif.coverage`)."""
    from .verif import coverage
    return coverage.main(args.units + (["--no-run"] if args.no_run else []) + (["--check"] if args.check else []))


def _add_coverage_command(sub):
    from .verif import coverage
    units = [*coverage.UNITS, *coverage.PARTS]
    cov = sub.add_parser("coverage", help="Verilator line and toggle coverage of each unit's tests, against the "
                                          "95% target", description=coverage.__doc__.splitlines()[0])
    cov.add_argument("units", nargs="*", metavar="UNIT",
                     help=f"units to measure (default all: {', '.join(units)})")
    cov.add_argument("--no-run", action="store_true", help="only merge and report existing coverage.dat")
    cov.add_argument("--check", action="store_true", help="exit 1 when a unit misses the target")
    cov.set_defaults(func=cmd_coverage)


def build_parser():
    """The ``openlpu`` argument parser: one subcommand per ``cmd_*`` function; a new command adds
    its ``sub.add_parser`` here (or a ``_add_*_commands(sub)`` helper)."""
    parser = argparse.ArgumentParser(prog="openlpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = _unit_command(sub, "generate", "write Verilog for a unit and preset", cmd_generate,
                        unit="mxm", output="build/verilog")
    gen.add_argument("--lint", action="store_true", help="lint the output with Verilator -Wall")
    gen.add_argument("--lint-modules", action="store_true",
                     help="lint each module on its own, its children as port-only stubs (for tsp, whose "
                          "whole-design lint does not fit in 24 GB)")
    syn = _unit_command(sub, "synth", "synthesise a unit for ECP5: area and Fmax", cmd_synth,
                        unit="sxm", output="build/synth")
    syn.add_argument("--no-pnr", action="store_true", help="stop after Yosys (no Fmax)")

    demo = sub.add_parser("demo", help="the chip in RTL (tiny), the compiler at --preset, a projection to 900 MHz",
                          description="RTL checks on the --rtl chip (default tiny), the int8 MLP and a transformer "
                                      "block compiled for --preset and run on the golden ISA simulator, a "
                                      "projection at 900 MHz; ends with a summary table and PASS or FAIL "
                                      "(exit status 1). See docs/cli.md.")
    _config_options(demo, help_preset="the chip the compiled part is for (--config and --set apply to it)")
    demo.add_argument("--rtl", choices=sorted(PRESETS) + ["none"],
                      help="the chip simulated in RTL (default tiny; none at --preset tsp)")
    demo.add_argument("--sim", default="verilator", choices=["verilator", "icarus"])
    demo.add_argument("--seed", type=int, default=1)
    demo.set_defaults(func=cmd_demo)

    asm = sub.add_parser("asm", help="assemble a program (.s) into a program image (.lpu)")
    asm.add_argument("source")
    asm.add_argument("-o", "--output", help="image path (default: the source with .lpu)")
    _config_options(asm, help_preset="checks the queue names")
    asm.set_defaults(func=cmd_asm)

    dis = sub.add_parser("disasm", help="disassemble a program image back to assembly")
    dis.add_argument("image")
    dis.add_argument("-o", "--output", help="write the text there instead of stdout")
    dis.set_defaults(func=cmd_disasm)
    register_trace(sub)
    _add_regress_command(sub)

    _add_model_commands(sub)
    _add_mutate_command(sub)
    _add_coverage_command(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
