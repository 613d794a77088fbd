"""Scaling model: from measured unit area and Fmax to a projected ``tsp`` chip.

Every figure this module returns is a *projection* unless its name says
``measured``. Inputs are the measured entries of ``bench/results/synth.json``
(written by ``bench/bench_synth.py``); the model is deliberately simple and
stated here in full:

* Area. Each unit's resources grow linearly in one *size driver*, a function
  of the configuration (:data:`DRIVERS`): MACs for the MXM
  (``mxm_planes * lanes**2``), ``lanes**2`` for the SXM (its permute crossbar
  and transpose tile), ``lanes * vxm_alus`` for the VXM, ``lanes`` for its
  function unit (one exp/reciprocal/rsqrt/tanh pipeline per lane), ``mem_slices *
  lanes`` for the MEM logic (ECC and ports are per 64-bit column). The
  coefficient is the measured figure of the largest measured preset divided by
  its driver. Block RAMs of the MEM are projected from the bits to store
  instead: ``mem_slices * mem_depth * lanes`` bytes plus 8 check bits per 64,
  in 18-kbit DP16KD blocks (a lower bound; the measured presets show the
  packing overhead). The chip is the sum of its units plus the stream
  fabric: its flip-flops are counted from the structure (:func:`fabric_bits`:
  one ``lanes``-byte register per direction, stream and floorplan position),
  and its LUTs per register bit are the whole chip's measured LUT excess over
  its units at the largest preset where both were synthesised, divided by
  that preset's fabric bits. :func:`chip_vs_units` and :func:`fabric_check`
  check that against the whole chip synthesised at ``tiny`` and ``small``.
* Fmax. The clock is set by the slowest unit. Each unit's Fmax is taken from
  its largest measured configuration that was placed (for the MXM, whose
  ``small`` preset does not fit the FPGA, from its planes or a slice of one, and
  for the VXM, which fits at neither, from one lane: :data:`FMAX_FROM`).
  The MXM plane sweep over ``lanes`` (4, 8, 16) shows whether Fmax depends on
  the array size; the model carries the slowest unit's Fmax to ``tsp``
  unchanged, which is only valid while that sweep stays flat.
* Peak rate. ``2 * lanes**2 * mxm_planes * f`` int8 operations per second
  (a MAC is two operations) and a quarter of that for fp16, at the projected
  FPGA clock and at the reference chip's 900 MHz.
"""

import json
import math
from pathlib import Path

from .config import preset
from .timing import floorplan

__all__ = ["REFERENCE", "DRIVERS", "load_results", "peak_ops", "sram_bytes", "fabric_bits", "project",
           "chip_vs_units", "fabric_check", "report"]

#: Published figures of the reference chip.
REFERENCE = {
    "clock_mhz": 900,
    "int8_tops": 750,
    "fp16_tflops": 188,
    "sram_mib": 220,
}

#: Size driver of each unit's area (see the module docstring).
DRIVERS = {
    "mxm": lambda c: c.mxm_planes * c.lanes ** 2,
    "mxm_plane": lambda c: c.lanes ** 2,
    "vxm": lambda c: c.lanes * c.vxm_alus,
    "vxm_slice": lambda c: c.vxm_alus,
    "vxm_func": lambda c: c.lanes,
    "sxm": lambda c: c.lanes ** 2,
    "mem": lambda c: c.mem_slices * c.lanes,
    "icu": lambda c: c.mxm_planes + c.mem_slices + 2,
}

#: Entries whose Fmax stands for a unit besides its own: the MXM is independent planes
#: (a plane, or a slice of one's columns, ``mxm_slice``, is placed when the whole unit
#: does not fit the FPGA), the VXM independent lanes (one lane, ``vxm_slice``).
FMAX_FROM = {"mxm": ("mxm_plane", "mxm_slice"), "vxm": ("vxm_slice",)}

#: Units that make up the chip (the rest of a top level is wiring and registers).
CHIP_UNITS = ("mxm", "vxm", "vxm_func", "sxm", "mem", "icu")

_RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results" / "synth.json"
_RESOURCES = ("luts", "ffs", "dsps", "brams")
_BRAM_BITS = 18 * 1024


def load_results(path=_RESULTS):
    """The ``entries`` of the stored synthesis results."""
    return json.loads(Path(path).read_text())["entries"]


def peak_ops(cfg, clock_mhz):
    """Peak ``(int8 ops/s, fp16 flops/s)`` of the MXM of ``cfg`` at ``clock_mhz``."""
    int8 = 2 * cfg.lanes ** 2 * cfg.mxm_planes * clock_mhz * 1e6
    return int8, int8 / 4


def sram_bytes(cfg):
    """Data bytes of on-chip SRAM: ``mem_slices * mem_depth * lanes``."""
    return cfg.mem_slices * cfg.mem_depth * cfg.lanes


def fabric_bits(cfg):
    """Register bits of the stream fabric: ``2 * streams * positions * lanes * 8`` (one
    ``lanes``-byte register per direction, stream and floorplan position)."""
    return 2 * cfg.streams * len(floorplan(cfg)) * cfg.lanes * 8


def fabric_check(entries, presets=("tiny", "small")):
    """``{preset: (measured FF excess of the chip over its units, fabric_bits)}`` where the chip
    and all its units were synthesised: how much of the excess the fabric's registers are."""
    return {name: (c["ffs"][0] - c["ffs"][1], fabric_bits(preset(name)))
            for name, c in chip_vs_units(entries, presets).items()}


def _fabric(entries, tgt, presets):
    """The fabric's projected resources at ``tgt`` and the preset its LUTs per bit come from, or
    ``None`` when no preset has the chip and all its units synthesised."""
    checks = chip_vs_units(entries, presets)
    if not checks:
        return None
    src = max(checks, key=lambda n: preset(n).lanes * preset(n).streams)
    per_bit = (checks[src]["luts"][0] - checks[src]["luts"][1]) / fabric_bits(preset(src))
    return {"from": src, "scale": fabric_bits(tgt) / fabric_bits(preset(src)),
            "measured": {"luts_per_bit": per_bit, "fmax_mhz": None, "fmax_from": None},
            "projected": {"luts": round(per_bit * fabric_bits(tgt)), "ffs": fabric_bits(tgt), "dsps": 0, "brams": 0}}


def _mem_brams(cfg):
    bits = sram_bytes(cfg) * 8 * 72 // 64
    return math.ceil(bits / _BRAM_BITS)


def _fmax_source(entries, unit):
    """``(key, fmax)`` of the placed entry with the most lanes for ``unit``."""
    best = None
    for key, e in entries.items():
        name = key.split("/")[0]
        if name in (unit,) + FMAX_FROM.get(unit, ()) and e.get("fmax_mhz") and e.get("fp16", True):
            rank = (e.get("lanes", 0), e.get("mxm_planes", 0))
            if best is None or rank > best[0]:
                best = (rank, key, e["fmax_mhz"])
    return (best[1], best[2]) if best else (None, None)


def project(entries, target="tsp", presets=("small", "tiny")):
    """Project each chip unit's resources to ``target`` (a preset name or an ``LpuConfig``).

    Returns ``{unit: {"from": preset, "measured": {...}, "projected": {...}}}``
    and a ``"chip"`` entry (sum of the units, with the Fmax of the slowest
    unit measured at the largest preset).
    """
    tgt = preset(target) if isinstance(target, str) else target
    out = {}
    for unit in CHIP_UNITS:
        src = next((p for p in presets if f"{unit}/{p}" in entries), None)
        if src is None:
            continue
        e = entries[f"{unit}/{src}"]
        scale = DRIVERS[unit](tgt) / DRIVERS[unit](preset(src))
        projected = {r: round(e[r] * scale) for r in _RESOURCES}
        if unit == "mem":
            projected["brams"] = max(_mem_brams(tgt), round(e["brams"] * _mem_brams(tgt) / max(1, _mem_brams(preset(src)))))
        fmax_key, fmax = _fmax_source(entries, unit)
        out[unit] = {"from": src, "scale": scale,
                     "measured": {r: e[r] for r in _RESOURCES} | {"fmax_mhz": fmax, "fmax_from": fmax_key},
                     "projected": projected}
    fabric = _fabric(entries, tgt, presets)
    if fabric is not None:
        out["fabric"] = fabric
    chip = {r: sum(u["projected"][r] for u in out.values()) for r in _RESOURCES}
    fmaxes = [(u["measured"]["fmax_mhz"], u["measured"]["fmax_from"]) for u in out.values()
              if u["measured"]["fmax_mhz"]]
    fmax, slowest = min(fmaxes) if fmaxes else (None, None)
    chip["fmax_mhz"] = fmax
    chip["slowest_unit"] = slowest
    int8, fp16 = peak_ops(tgt, fmax) if fmax else (None, None)
    ref8, ref16 = peak_ops(tgt, REFERENCE["clock_mhz"])
    chip.update({
        "int8_tops_at_fmax": int8 / 1e12 if int8 else None,
        "fp16_tflops_at_fmax": fp16 / 1e12 if fp16 else None,
        "int8_tops_at_900mhz": ref8 / 1e12,
        "fp16_tflops_at_900mhz": ref16 / 1e12,
        "sram_mib": sram_bytes(tgt) / 2 ** 20,
        "ecp5_devices_by_luts": chip["luts"] / 83640,
    })
    out["chip"] = chip
    return out


def chip_vs_units(entries, presets=("tiny", "small")):
    """The model's premise, that the chip is the sum of its units, against the whole
    chip synthesised (``lpu/<preset>``): ``{preset: {resource: (chip, sum of units)}}``
    for each preset where the chip and every unit of :data:`CHIP_UNITS` were measured."""
    out = {}
    for name in presets:
        chip = entries.get(f"lpu/{name}")
        units = [entries.get(f"{u}/{name}") for u in CHIP_UNITS]
        if chip is None or None in units:
            continue
        out[name] = {r: (chip[r], sum(u[r] for u in units)) for r in _RESOURCES}
    return out


def report(entries=None, target="tsp"):
    """The projection as Markdown lines (used by the bench and the docs)."""
    entries = load_results() if entries is None else entries
    proj = project(entries, target)
    chip = proj.pop("chip")
    lines = [f"| unit | from | x driver | LUT4 | FF | MULT18X18D | DP16KD |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, u in proj.items():
        p = u["projected"]
        lines.append(f"| {name} | {u['from']} | {u['scale']:.0f} | {p['luts']:,} | {p['ffs']:,} "
                     f"| {p['dsps']:,} | {p['brams']:,} |")
    lines.append(f"| **chip** | | | {chip['luts']:,} | {chip['ffs']:,} | {chip['dsps']:,} | {chip['brams']:,} |")
    lines.append("")
    fmax = chip["fmax_mhz"]
    lines += [
        "| figure | OpenLPU tsp, projected | reference chip |",
        "| --- | ---: | ---: |",
        f"| clock | {fmax:.0f} MHz on ECP5 (slowest: {chip['slowest_unit']}, measured) "
        f"| ~{REFERENCE['clock_mhz']} MHz |" if fmax else "| clock | - | ~900 MHz |",
        f"| int8 peak | {chip['int8_tops_at_fmax']:.1f} TOPS at that clock; {chip['int8_tops_at_900mhz']:.0f} TOPS at 900 MHz "
        f"| ~{REFERENCE['int8_tops']} TOPS |" if fmax else None,
        f"| fp16 peak | {chip['fp16_tflops_at_fmax']:.1f} TFLOPS at that clock; {chip['fp16_tflops_at_900mhz']:.0f} TFLOPS at 900 MHz "
        f"| ~{REFERENCE['fp16_tflops']} TFLOPS |" if fmax else None,
        f"| on-chip SRAM | {chip['sram_mib']:.0f} MiB | {REFERENCE['sram_mib']} MiB |",
        f"| ECP5-85F devices (by LUT4) | {chip['ecp5_devices_by_luts']:,.0f} | (ASIC) |",
    ]
    checks = chip_vs_units(entries)
    if checks:
        lines += ["", "| whole chip, measured / sum of its units | LUT4 | FF | MULT18X18D | DP16KD |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for name, c in checks.items():
            cells = " | ".join(f"{chip:,} / {units:,} ({(chip - units) / units:+.0%})" if units
                               else f"{chip:,} / 0" for chip, units in (c[r] for r in _RESOURCES))
            lines.append(f"| `{name}` | {cells} |")
        lines += ["", "| stream fabric | FF excess of the chip over its units, measured | fabric register bits "
                      "(2 x streams x positions x lanes x 8) |", "| --- | ---: | ---: |"]
        for name, (excess, bits) in fabric_check(entries).items():
            share = f" ({bits / excess:.0%} of it)" if excess > 0 else ""
            lines.append(f"| `{name}` | {excess:,} | {bits:,}{share} |")
    return [line for line in lines if line is not None]
