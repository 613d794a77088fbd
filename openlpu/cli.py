"""The ``openlpu`` command.

``openlpu generate --preset tiny --unit mxm -o build/``
    Write the Verilog of one unit for a preset (and lint it with ``--lint``).
``openlpu asm prog.s -o prog.lpu`` / ``openlpu disasm prog.lpu``
    Assemble a program into an image and back (they round-trip).
``openlpu synth --preset tiny --unit sxm``
    Synthesise a unit for ECP5 (Yosys) and place and route it (nextpnr):
    LUTs, FFs, DSPs, block RAMs and Fmax (see ``openlpu.synth``).
``openlpu demo --preset tiny``
    The main job: generate Verilog, run a workload on the simulated hardware,
    check it against numpy and print cycles and utilization.
"""

import argparse
import sys
import time
from pathlib import Path

from .config import ConfigError, PRESETS, preset
from .trace import register as register_trace
from .units import UNITS, UnitError, build_unit

__all__ = ["main"]


def _unit_names(choice):
    """The units a ``--unit`` value names: every unit for ``all``, else that one."""
    return list(UNITS) if choice == "all" else [choice]


def cmd_generate(args):
    from .verif.runner import lint, write_verilog
    cfg = preset(args.preset)
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
        name = f"openlpu_{unit}_{args.preset}"
        path = write_verilog(component, name, out / f"{name}.v")
        elapsed = time.perf_counter() - start
        lines = path.read_text().count("\n")
        print(f"{unit:10s} {args.preset:6s} -> {path} ({lines} lines, {elapsed:.1f} s)")
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
    cfg = preset(args.preset)
    status = 0
    for unit in _unit_names(args.unit):
        try:
            res = synth_unit(unit, cfg, Path(args.output) / args.preset, pnr=not args.no_pnr,
                             preset_name=args.preset, log=None)
        except (ToolMissing, ToolFailed) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except UnitError as exc:
            if args.unit != "all":
                raise SystemExit(f"error: {exc}") from None
            print(f"skip {unit}: error: {exc}")
            continue
        fmax = f"{res.fmax_mhz:.1f} MHz" if res.fmax_mhz else "-"
        print(f"{unit:10s} {args.preset:6s} LUT4 {res.luts:7d}  FF {res.ffs:7d}  "
              f"MULT18X18D {res.dsps:4d}  DP16KD {res.brams:4d}  Fmax {fmax}  ({DEVICE['name']})")
        if res.note:
            print(f"{'':17s} {res.note}")
        if not res.fits:
            status = 1
    return status


def cmd_demo(args):
    from .demo import run_demo
    return run_demo(preset(args.preset), sim=args.sim, seed=args.seed)


def cmd_asm(args):
    from .asm import AsmError, assemble, save_image
    cfg = preset(args.preset)
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


def _unit_command(sub, name, help, func, unit, output):
    """A subcommand that takes ``--preset``, ``--unit`` (a registry name or ``all``) and ``-o``."""
    cmd = sub.add_parser(name, help=help)
    cmd.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    cmd.add_argument("--unit", default=unit, help=f"one of {', '.join(UNITS)}, or all")
    cmd.add_argument("-o", "--output", default=output)
    cmd.set_defaults(func=func)
    return cmd


def main(argv=None):
    parser = argparse.ArgumentParser(prog="openlpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = _unit_command(sub, "generate", "write Verilog for a unit and preset", cmd_generate,
                        unit="mxm", output="build/verilog")
    gen.add_argument("--lint", action="store_true", help="lint the output with Verilator -Wall")
    syn = _unit_command(sub, "synth", "synthesise a unit for ECP5: area and Fmax", cmd_synth,
                        unit="sxm", output="build/synth")
    syn.add_argument("--no-pnr", action="store_true", help="stop after Yosys (no Fmax)")

    demo = sub.add_parser("demo", help="generate Verilog and run a workload on the simulated hardware")
    demo.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    demo.add_argument("--sim", default="verilator", choices=["verilator", "icarus"])
    demo.add_argument("--seed", type=int, default=1)
    demo.set_defaults(func=cmd_demo)

    asm = sub.add_parser("asm", help="assemble a program (.s) into a program image (.lpu)")
    asm.add_argument("source")
    asm.add_argument("-o", "--output", help="image path (default: the source with .lpu)")
    asm.add_argument("--preset", default="tiny", choices=sorted(PRESETS), help="checks the queue names")
    asm.set_defaults(func=cmd_asm)

    dis = sub.add_parser("disasm", help="disassemble a program image back to assembly")
    dis.add_argument("image")
    dis.add_argument("-o", "--output", help="write the text there instead of stdout")
    dis.set_defaults(func=cmd_disasm)
    register_trace(sub)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
