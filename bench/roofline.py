"""Roofline of compiled programs: achieved MACs per cycle against arithmetic intensity.

Two panels, each with the bounds that hold on its own axis:

* **weights**: x = MACs per weight byte loaded into the MXM (every ``LW`` moves its ``rows``
  weight rows over its stream groups: ``lanes`` bytes a row for int8, two streams' worth for
  fp16). Each plane takes one ``LW`` a cycle (its ``mxw`` queue issues one instruction a cycle),
  of up to ``mxm_load_rows`` rows, so ``MACs/cycle <= x * mxm_planes * lanes * stream_width(LW)``
  with an LW of ``mxm_load_rows`` rows: the *weight-load bound*, with
  the ridge where a weight tile is reused by ``lanes`` rows. A GEMV (one row, the LLM decode
  case) sits at x = 1 (int8) on that slope, far below the peak.
* **SRAM**: x = MACs per byte read from SRAM (every ``READ``/``GATHER``: weights, activations,
  bias and factor vectors, ``lanes`` bytes each); each slice reads one vector a cycle, so
  ``MACs/cycle <= x * mem_slices * lanes``.

Both panels carry the MXM peaks: ``mxm_planes * lanes * lanes`` int8 MACs per cycle and
``mxm_planes * lanes * fp16_k`` fp16 (the denominators of the compiler's utilization). Every
figure comes from the configuration, :func:`openlpu.isa.stream_width` and the compiled
program's instructions (:func:`openlpu.trace.slices`); nothing is typed in.
"""

from collections import Counter

from openlpu import isa
from openlpu.trace import slices

__all__ = ["ceilings", "figures", "plot"]


def _lw_width(fp16, rows):
    """Streams (of ``lanes`` bytes each) an ``LW`` of ``rows`` rows reads: ``rows`` for int8,
    ``2 * rows`` for fp16."""
    return isa.stream_width(isa.make("LW", 0, (0, 0), fp16=int(fp16), rows=rows), "src")


def ceilings(cfg):
    """The bounds of :mod:`bench.roofline` for ``cfg``: MXM peaks (MACs/cycle) and the weight-load
    and SRAM read rates (bytes/cycle)."""
    planes, lanes = cfg.mxm_planes, cfg.lanes
    return {"peak_int8": planes * lanes * lanes, "peak_fp16": planes * lanes * cfg.fp16_k,
            "weight_rate_int8": planes * lanes * _lw_width(False, cfg.mxm_load_rows),
            "weight_rate_fp16": planes * lanes * _lw_width(True, cfg.mxm_load_rows),
            "sram_rate": cfg.mem_slices * lanes}


def figures(compiled):
    """Roofline figures of one compiled program: ``macs_per_cycle``, ``weight_bytes`` (loaded by
    LW), ``sram_read_bytes`` (READ and GATHER), ``macs_per_weight_byte``, ``macs_per_sram_byte``."""
    lanes, ops = compiled.cfg.lanes, Counter()
    for s in slices(compiled):
        name = s.instr.op.name
        if name == "LW":
            ops["weight"] += _lw_width(s.instr["fp16"], s.instr["rows"]) * lanes
        elif name in ("READ", "GATHER"):
            ops["sram"] += lanes
    macs = compiled.report["macs"]
    return {"macs_per_cycle": macs / compiled.predicted_cycles, "weight_bytes": ops["weight"],
            "sram_read_bytes": ops["sram"],
            "macs_per_weight_byte": macs / ops["weight"] if ops["weight"] else None,
            "macs_per_sram_byte": macs / ops["sram"] if ops["sram"] else None}


def _label(row):
    """A point's label: ``MxKxN`` of a GEMM row, the start of a model row's name."""
    return f"{row['M']}x{row['K']}x{row['N']}" if "M" in row else row["model"].split(" (")[0]


def _panel(ax, xs, ceil, rate_lines, xlabel):
    """One log-log panel: the peaks, the bandwidth slopes ``[(bytes/cycle, peak key, label,
    style)]`` (each capped at its peak), over the x range ``xs``."""
    import numpy as np
    lo, hi = min(xs) / 4, max(xs) * 4
    x = np.geomspace(lo, hi, 200)
    for key, style in (("peak_int8", "-"), ("peak_fp16", "--")):
        ax.plot(x, np.full_like(x, ceil[key]), "k" + style, lw=1, label=f"MXM peak {key[5:]} ({ceil[key]}/cycle)")
    for rate, cap, label, style in rate_lines:
        ax.plot(x, np.minimum(x * rate, ceil[cap]), style, lw=1, label=f"{label} ({rate} B/cycle)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel(xlabel)
    ax.grid(True, which="both", alpha=0.2)


def plot(cfg, groups, path, title=None):
    """Draw the roofline of ``groups`` (``{label: [rows]}``, each row with :func:`figures`' keys) for
    ``cfg`` into the PNG ``path``, one point per row; a row that loads no weights (or reads no
    SRAM) is left out of that panel. Needs matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ceil = ceilings(cfg)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    panels = [("macs_per_weight_byte", "MACs per weight byte loaded (LW)",
               [(ceil["weight_rate_int8"], "peak_int8", "weight load, int8", "C0-"),
                (ceil["weight_rate_fp16"], "peak_fp16", "weight load, fp16", "C0--")]),
              ("macs_per_sram_byte", "MACs per byte read from SRAM (READ)",
               [(ceil["sram_rate"], "peak_int8", "SRAM read", "C3-")])]
    markers = "os^vD"
    for ax, (key, xlabel, rates) in zip(axes, panels):
        xs = [r[key] for rows in groups.values() for r in rows if r[key]]
        _panel(ax, xs, ceil, rates, xlabel)
        for (label, rows), m in zip(groups.items(), markers):
            rows = [r for r in rows if r[key]]
            ax.scatter([r[key] for r in rows], [r["macs_per_cycle"] for r in rows], marker=m, s=28, zorder=3,
                       label=label)
            for r in rows:
                ax.annotate(_label(r), (r[key], r["macs_per_cycle"]), fontsize=6, xytext=(3, 3),
                            textcoords="offset points")
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("achieved MACs per cycle")
    fig.suptitle(title or f"roofline, {cfg.lanes} lanes, {cfg.mxm_planes} MXM planes")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
