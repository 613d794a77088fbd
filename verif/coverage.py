"""Code coverage of the cocotb suites under Verilator (line + toggle).

``python -m openlpu.verif.coverage [UNIT ...]`` runs each unit's cocotb test on
Verilator with ``OPENLPU_COVERAGE=1`` (:func:`openlpu.verif.runner.run_cocotb`
then builds with ``--coverage-line --coverage-toggle`` in a separate ``-cov``
build directory and every run writes ``coverage.dat``), merges the runs of
each unit, prints a per-unit table of line and toggle coverage and writes
under ``build/coverage/``:

* ``<unit>.dat``: the merged Verilator coverage database;
* ``<unit>/``: the annotated Verilog (``verilator_coverage --annotate`` when
  that tool is found next to the Verilator binary or on ``PATH``, otherwise
  the same annotation written here: each source line prefixed by its
  smallest line-coverage count, ``%000000`` marking a line never executed);
* ``summary.json``: the table.

What is counted
---------------
Line coverage counts every line and branch point of the unit's Verilog.
Toggle coverage is reported twice: over every signal, and over the design's
*named* signals (ports, registers and wires named in the Amaranth source).
The second is the target: the Verilog backend's ``$N`` temporaries are
intermediate expressions of named signals (a masked parity term, the 33-bit
sum before a saturating clamp), whose constant bits say nothing about the
stimulus.

Waivers
-------
``verif/coverage_waivers.txt`` holds every accepted hole, each with its
reason; the tool applies them (:func:`load_waivers`), so a waived point is
taken out of the total, and lists every hole no waiver explains. A unit meets
the target when line and named-toggle coverage after waivers are both at least
:data:`TARGET`; the MXM further needs every toggle point of its operands and
accumulator (:data:`FULL_TOGGLE`) covered, with no waiver.
"""

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from openlpu.verif.runner import BUILD_ROOT, REPO_ROOT, verilator_root

__all__ = ["UNITS", "TARGET", "FULL_TOGGLE", "Waiver", "load_waivers", "read_dat", "classify", "meets_target", "annotate", "main"]

#: unit -> (Verilog toplevel, pytest file, -k expression selecting its Verilator cocotb tests,
#: extra pytest options)
UNITS = {
    "mxm": ("mxm_plane", "tests/test_mxm.py", "test_cocotb and verilator and tiny", ()),
    # the VXM's default test and its --slow 3,000-instruction regression (the saturation
    # edges of every lane's conversions need more than the default 200 instructions)
    "vxm": ("vxm", "tests/test_vxm.py", "test_cocotb and verilator", ("--slow",)),
    "sxm": ("sxm", "tests/test_sxm.py", "test_cocotb and verilator", ()),
    "mem": ("mem_slice", "tests/test_mem.py", "test_cocotb and verilator and not small", ()),
    "vxm_func": ("vxm_func", "tests/test_vxm_func.py", "test_cocotb and verilator", ()),
    # the chip: every directed program, the CI and live random seeds, the long programs with faults
    "lpu": ("lpu", "tests/test_lpu.py", "(test_rtl_matches_golden or test_long_programs_with_faults) and verilator",
            ()),
}

#: unit -> (the unit whose runs it is measured in, regex of its instances' hierarchy): a unit
#: without a testbench of its own is measured where the chip's tests exercise it, on the
#: coverage points of its instance in the chip top.
PARTS = {
    "host": ("lpu", r"^lpu\.host(\.|$)"),
    "icu": ("lpu", r"^lpu\.icu(\.|$)"),
    "vxm_reduce": ("lpu", r"\.vred(\.|$)"),
}

OUT = BUILD_ROOT / "coverage"
WAIVERS = REPO_ROOT / "verif" / "coverage_waivers.txt"

#: Line and named-toggle coverage a unit must reach after waivers.
TARGET = 0.95

#: toplevel -> regex of the named signals whose every toggle point must be hit
#: (no waiver applies): the MXM's operands (activation and weight-row ports, the
#: activation register, both weight tiles) and its accumulator (the write data of
#: the accumulator rows and the result port).
FULL_TOGGLE = {
    "mxm_plane": r"^(act__payload|load__payload|a|shadow_\d+|active_\d+|wr__data|result__payload)([.\[]|$)",
}


@dataclasses.dataclass(frozen=True)
class Waiver:
    """One accepted hole: ``kind`` ``line`` (``pattern`` searched in the Verilog
    source line) or ``toggle`` (searched in ``signal[bit]``, names as in the
    Amaranth design), for toplevel ``top`` (``*``: any)."""
    kind: str
    top: str
    pattern: str
    reason: str

    def matches(self, kind, top, text):
        return self.kind == kind and self.top in ("*", top) and re.search(self.pattern, text) is not None


def load_waivers(path=WAIVERS):
    """Parse the waiver file: an entry is ``kind top pattern`` at column 0 followed by
    its reason on indented lines; ``#`` starts a comment line."""
    out, head, reason = [], None, []

    def flush():
        if head is not None:
            if not reason:
                raise ValueError(f"{path}: waiver {' '.join(head)!r} has no reason")
            out.append(Waiver(*head, " ".join(reason)))
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line[0].isspace():
            if head is None:
                raise ValueError(f"{path}:{n}: reason text before any waiver")
            reason.append(line.strip())
            continue
        flush()
        fields = line.split(None, 2)
        if len(fields) != 3 or fields[0] not in ("line", "toggle"):
            raise ValueError(f"{path}:{n}: expected 'line|toggle TOP PATTERN', got {line!r}")
        re.compile(fields[2])
        head, reason = fields, []
    flush()
    return out


def _demangle(name):
    """Verilator's escaped names back to the design's: ``__024`` is ``$``, ``__02e`` ``.``."""
    return re.sub(r"__0([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), name)


def _cov_dirs(top):
    return sorted((BUILD_ROOT / "sim").glob(f"{top}-*-verilator-cov"))


def read_dat(paths):
    """Merge Verilator ``coverage.dat`` files: ``{point key: (fields, count)}``."""
    points = {}
    for path in paths:
        for line in Path(path).read_text(errors="replace").splitlines():
            m = re.match(r"C '(.*)' (\d+)$", line)
            if not m:
                continue
            key, count = m.group(1), int(m.group(2))
            fields = dict(kv.split("\x02", 1) for kv in key.split("\x01") if "\x02" in kv)
            old = points.get(key)
            points[key] = (fields, count + (old[1] if old else 0))
    return points


def classify(points, top, waivers, sources=None, scope=None):
    """Coverage of one unit's merged ``points`` with ``waivers`` applied.

    Returns a dict: ``line``, ``toggle`` (all signals), ``toggle_named`` as
    ``(hit, total)``; ``line_after``, ``toggle_after`` (named, waived points out
    of the total); ``holes`` (unwaived misses: ``("line", file:line, text)`` or
    ``("toggle", signal[bit], direction)``); ``waived`` (count per waiver
    pattern); ``full_toggle_holes`` (misses among :data:`FULL_TOGGLE`).
    ``sources``: ``{path: [lines]}`` (read from disk when omitted). ``scope``: a regex; only
    the points whose hierarchy (Verilator's ``h`` field) it matches are counted.
    """
    sources = {} if sources is None else sources
    count = {k: [0, 0] for k in ("line", "toggle", "toggle_named")}
    waived_n = {"line": 0, "toggle_named": 0}
    used = {}
    holes, full_holes = [], []
    missed_lines = {}
    full = re.compile(FULL_TOGGLE[top]) if top in FULL_TOGGLE else None
    in_scope = re.compile(scope).search if scope else (lambda h: True)
    for fields, hits in points.values():
        if not in_scope(fields.get("h", "")):
            continue
        page = fields.get("page", "").split("/")[0]
        if page in ("v_line", "v_branch"):
            count["line"][1] += 1
            count["line"][0] += hits > 0
            if hits == 0:
                missed_lines.setdefault((fields.get("f", "?"), int(fields.get("l", 0))), []).append(fields)
        elif page == "v_toggle":
            count["toggle"][1] += 1
            count["toggle"][0] += hits > 0
            m = re.match(r"(.*?)(\[\d+\])?:(0->1|1->0)$", _demangle(fields.get("o", "")))
            name, bit, direction = (m.group(1), m.group(2) or "", m.group(3)) if m else (fields.get("o", ""), "", "")
            if name.startswith("$"):
                continue
            count["toggle_named"][1] += 1
            count["toggle_named"][0] += hits > 0
            if hits:
                continue
            text = f"{name}{bit}"
            if full is not None and full.search(name):
                full_holes.append((text, direction))
                holes.append(("toggle", text, direction))
                continue
            w = next((w for w in waivers if w.matches("toggle", top, text)), None)
            if w is None:
                holes.append(("toggle", text, direction))
            else:
                waived_n["toggle_named"] += 1
                used[w.pattern] = used.get(w.pattern, 0) + 1
    for (path, line), fs in sorted(missed_lines.items()):
        if path not in sources:
            sources[path] = Path(path).read_text().splitlines() if Path(path).exists() else []
        text = sources[path][line - 1].strip() if 0 < line <= len(sources[path]) else ""
        w = next((w for w in waivers if w.matches("line", top, text)), None)
        if w is None:
            holes.append(("line", f"{Path(path).name}:{line}", text))
        else:
            waived_n["line"] += len(fs)
            used[w.pattern] = used.get(w.pattern, 0) + len(fs)

    def after(kind):
        hit, total = count[kind]
        return hit, total - waived_n[kind]
    return {"line": tuple(count["line"]), "toggle": tuple(count["toggle"]),
            "toggle_named": tuple(count["toggle_named"]), "line_after": after("line"),
            "toggle_after": after("toggle_named"), "holes": holes, "waived": used,
            "full_toggle_holes": full_holes}


def meets_target(c):
    """Whether a :func:`classify` result meets :data:`TARGET` (and :data:`FULL_TOGGLE`)."""
    ok = all(hit >= TARGET * max(total, 1) for hit, total in (c["line_after"], c["toggle_after"]))
    return ok and not c["full_toggle_holes"]


def _verilator_coverage():
    root = verilator_root()
    for cand in ([root / "bin" / "verilator_coverage"] if root else []):
        if cand.exists():
            return str(cand)
    return shutil.which("verilator_coverage")


def annotate(dat, points, outdir):
    """Annotated sources of ``dat`` in ``outdir``; returns the tool used."""
    outdir.mkdir(parents=True, exist_ok=True)
    tool = _verilator_coverage()
    if tool:
        done = subprocess.run([tool, "--annotate", str(outdir), "--annotate-min", "1", str(dat)],
                              capture_output=True, text=True)
        if done.returncode == 0:
            return tool
    per_line = defaultdict(lambda: None)
    for fields, count in points.values():
        if fields.get("page", "").startswith(("v_line", "v_branch")):
            k = (fields.get("f"), int(fields.get("l", 0)))
            per_line[k] = count if per_line[k] is None else min(per_line[k], count)
    for src in {f for f, _ in per_line}:
        if not src or not Path(src).exists():
            continue
        lines = Path(src).read_text().splitlines()
        text = []
        for i, line in enumerate(lines, 1):
            c = per_line.get((src, i))
            text.append((" " * 8 if c is None else f"{'%' if c == 0 else ' '}{c:06d} ") + line)
        (outdir / Path(src).name).write_text("\n".join(text) + "\n")
    return "built-in annotator (no verilator_coverage found)"


def run_unit(unit):
    top, test_file, expr, extra = UNITS[unit]
    for d in _cov_dirs(top):
        shutil.rmtree(d / "runs", ignore_errors=True)
    env = {**os.environ, "OPENLPU_COVERAGE": "1", "OPENLPU_REQUIRE_SIMS": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                           str(REPO_ROOT / test_file), "-k", expr, *extra], env=env, cwd=REPO_ROOT)
    if done.returncode:
        raise SystemExit(f"{unit}: {test_file} -k '{expr}' failed under coverage")


def collect(unit):
    top = UNITS[unit][0]
    dats = [p for d in _cov_dirs(top) for p in (d / "runs").glob("*/coverage.dat")]
    if not dats:
        raise SystemExit(f"{unit}: no coverage.dat under {BUILD_ROOT / 'sim'}/{top}-*-verilator-cov/runs")
    points = read_dat(dats)
    OUT.mkdir(parents=True, exist_ok=True)
    merged = OUT / f"{unit}.dat"
    tool = _verilator_coverage()
    if tool:
        subprocess.run([tool, "--write", str(merged)] + [str(p) for p in dats], check=True,
                       capture_output=True)
    else:
        merged.write_text("# SystemC::Coverage-3\n" + "".join(
            f"C '{k}' {c}\n" for k, (_, c) in points.items()))
    how = annotate(merged, points, OUT / unit)
    return points, len(dats), how


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m openlpu.verif.coverage",
                                     description="Verilator line and toggle coverage of the cocotb suites")
    parser.add_argument("units", nargs="*",
                        help=f"units (default: {' '.join([*UNITS, *PARTS])})")
    parser.add_argument("--no-run", action="store_true", help="only merge and report existing coverage.dat")
    parser.add_argument("--check", action="store_true", help="exit 1 when a unit misses the target")
    args = parser.parse_args(argv)
    units = args.units or [*UNITS, *PARTS]
    for u in units:
        if u not in UNITS and u not in PARTS:
            parser.error(f"unit must be one of {', '.join([*UNITS, *PARTS])}, not {u!r}")
    waivers = load_waivers()
    table, ran = {}, {}
    for unit in units:
        run_in, scope = PARTS.get(unit, (unit, None))
        if run_in not in ran:
            if not args.no_run:
                run_unit(run_in)
            ran[run_in] = collect(run_in)
        points, runs, how = ran[run_in]
        c = classify(points, UNITS[run_in][0], waivers, scope=scope)
        table[unit] = {"runs": runs, **{k: c[k] for k in ("line", "toggle", "toggle_named", "line_after",
                                                         "toggle_after")},
                       "meets_target": meets_target(c), "waived": c["waived"],
                       "holes": [list(h) for h in c["holes"]],
                       "full_toggle_holes": [list(h) for h in c["full_toggle_holes"]], "annotator": how}

    def pct(pair):
        hit, total = pair
        return f"{hit:>7}/{total:<7} {100 * hit / max(total, 1):5.1f}%"
    print(f"\n{'unit':<5} {'line':>21} {'toggle (all)':>21} {'toggle (named)':>21} "
          f"{'line, waived out':>21} {'named, waived out':>21}  target")
    for unit, r in table.items():
        print(f"{unit:<5} {pct(r['line'])} {pct(r['toggle'])} {pct(r['toggle_named'])} "
              f"{pct(r['line_after'])} {pct(r['toggle_after'])}  {'met' if r['meets_target'] else 'NOT MET'}")
    for unit, r in table.items():
        for pattern, n in sorted(r["waived"].items()):
            print(f"  {unit}: {n} waived by {pattern}")
        if r["full_toggle_holes"]:
            print(f"  {unit}: operand/accumulator bits not toggled (no waiver applies): "
                  + ", ".join(f"{t} {d}" for t, d in r["full_toggle_holes"][:20]))
        for kind, where, what in r["holes"][:40]:
            print(f"  {unit}: hole {kind} {where} {what}")
        if len(r["holes"]) > 40:
            print(f"  {unit}: ... {len(r['holes']) - 40} more holes in {OUT / 'summary.json'}")
    summary = OUT / "summary.json"
    kept = json.loads(summary.read_text()) if summary.exists() else {}
    summary.write_text(json.dumps({**kept, **table}, indent=1))      # units not run this time are kept
    print(f"\nreports: {OUT}/<unit>/ (annotated), {OUT}/<unit>.dat, {OUT}/summary.json")
    return 0 if all(r["meets_target"] for r in table.values()) or not args.check else 1


if __name__ == "__main__":
    raise SystemExit(main())
