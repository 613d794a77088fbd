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

Uncovered lines that the suites cannot reach, with the reason, are listed in
``verif/coverage_waivers.txt``.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from openlpu.verif.runner import BUILD_ROOT, REPO_ROOT, verilator_root

__all__ = ["UNITS", "read_dat", "summarize", "annotate", "main"]

#: unit -> (Verilog toplevel, pytest file, -k expression selecting its Verilator cocotb test)
UNITS = {
    "mxm": ("mxm_plane", "tests/test_mxm.py", "test_cocotb and verilator and tiny"),
    "vxm": ("vxm", "tests/test_vxm.py", "test_cocotb and verilator and not regression"),
    "sxm": ("sxm", "tests/test_sxm.py", "test_cocotb and verilator"),
    "mem": ("mem_slice", "tests/test_mem.py", "test_cocotb and verilator and not small"),
}

OUT = BUILD_ROOT / "coverage"


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


def summarize(points):
    """``{"line": (hit, total), "toggle": (hit, total)}`` of merged points."""
    out = {"line": [0, 0], "toggle": [0, 0]}
    for fields, count in points.values():
        kind = fields.get("page", "").split("/")[0]
        kind = {"v_line": "line", "v_toggle": "toggle", "v_branch": "line"}.get(kind)
        if kind:
            out[kind][1] += 1
            out[kind][0] += count > 0
    return {k: tuple(v) for k, v in out.items()}


def uncovered_lines(points):
    """``[(file, line, comment)]`` of line-coverage points never hit."""
    out = set()
    for fields, count in points.values():
        if fields.get("page", "").startswith(("v_line", "v_branch")) and count == 0:
            out.add((Path(fields.get("f", "?")).name, int(fields.get("l", 0)), fields.get("o", "")))
    return sorted(out)


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
    top, test_file, expr = UNITS[unit]
    for d in _cov_dirs(top):
        shutil.rmtree(d / "runs", ignore_errors=True)
    env = {**os.environ, "OPENLPU_COVERAGE": "1", "OPENLPU_REQUIRE_SIMS": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                           str(REPO_ROOT / test_file), "-k", expr], env=env, cwd=REPO_ROOT)
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
                        help=f"units (default: {' '.join(UNITS)})")
    parser.add_argument("--no-run", action="store_true", help="only merge and report existing coverage.dat")
    args = parser.parse_args(argv)
    units = args.units or list(UNITS)
    for u in units:
        if u not in UNITS:
            parser.error(f"unit must be one of {', '.join(UNITS)}, not {u!r}")
    table = {}
    for unit in units:
        if not args.no_run:
            run_unit(unit)
        points, runs, how = collect(unit)
        s = summarize(points)
        table[unit] = {"runs": runs, "line": s["line"], "toggle": s["toggle"],
                       "uncovered_lines": [list(x) for x in uncovered_lines(points)], "annotator": how}
    print(f"\n{'unit':<6} {'runs':>4} {'line':>18} {'toggle':>20}")
    for unit, r in table.items():
        (lh, lt), (th, tt) = r["line"], r["toggle"]
        print(f"{unit:<6} {r['runs']:>4} {lh:>6}/{lt:<5} {100 * lh / max(lt, 1):5.1f}% "
              f"{th:>7}/{tt:<6} {100 * th / max(tt, 1):5.1f}%")
        for f, line, comment in r["uncovered_lines"]:
            print(f"       uncovered: {f}:{line} {comment}")
    (OUT / "summary.json").write_text(json.dumps(table, indent=1))
    print(f"\nreports: {OUT}/<unit>/ (annotated), {OUT}/<unit>.dat, {OUT}/summary.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
