"""Simulator speed: chip build time, MXM plane replay speed, chip cycles per second.

    python -m openlpu.bench.bench_sim --json F [--presets tiny small] [--sims verilator icarus]

Writes one JSON object to ``F``:

* ``verilog_s``: per preset, seconds of Amaranth's conversion of the chip
  (:class:`openlpu.rtl.lpu.Lpu`) to Verilog;
* ``build_s``: per preset, seconds of the Verilator build of the chip from
  that Verilog (verilate and compile, cold cache: a fresh build root);
* ``mxm_plane_cycles_per_s``: per preset, the Verilator speed of one MXM plane
  playing a GEMM of about 20,000 cycles with no Python per cycle
  (:func:`openlpu.bench.bench_mxm.replay_gemm`, checked against the golden model);
* ``verilator_cycles_per_s`` / ``icarus_cycles_per_s``: per preset, chip
  cycles per second from ``openlpu.verif.sim_speed.network_cycles_per_s`` (load,
  run and read back through the backdoor path), with the time split into the
  three in ``notes``; ``null`` with the reason in ``notes`` when that cannot
  run. The run phase alone is the simulated chip's own speed: no Python runs
  per cycle while the program runs.

Every figure is one run; run it with nothing else using the CPUs.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from openlpu.config import preset

__all__ = ["chip_build_seconds", "chip_cycles_per_s", "main"]


def chip_build_seconds(name):
    """``(conversion seconds, Verilator build seconds)`` of the chip of preset ``name``, cold."""
    from openlpu.rtl.lpu import Lpu
    from openlpu.verif import runner
    cfg = preset(name)
    saved = runner.BUILD_ROOT
    with tempfile.TemporaryDirectory(dir=saved if saved.exists() else None) as tmp:
        runner.BUILD_ROOT = Path(tmp)
        try:
            start = time.perf_counter()
            runner.design_verilog(lambda: Lpu(cfg), "lpu")
            verilog_s = time.perf_counter() - start
            start = time.perf_counter()
            runner._build(runner._get_runner("verilator"), "verilator", "lpu", lambda: Lpu(cfg),
                          Path(tmp) / "build.log")
            return verilog_s, time.perf_counter() - start
        finally:
            runner.BUILD_ROOT = saved


def chip_cycles_per_s(name, sim):
    """``(cycles per second, note)``: chip cycles per wall second of the compiled MLP run
    through the backdoor path (:func:`openlpu.verif.sim_speed.network_cycles_per_s`), and a
    note with the time split into load, run and read back; ``(None, why)`` if the MLP does
    not fit the preset's SRAM."""
    from openlpu.verif.sim_speed import network_cycles_per_s
    try:
        fig = network_cycles_per_s(name, sim, paths=("backdoor",))["backdoor"]
    except MemoryError as exc:
        return None, f"the MLP does not fit: {exc}"
    phases = fig["phase_seconds"]
    return fig["cycles_per_s"], (f"{fig['cycles']} cycles in {fig['seconds']} s: load {phases['load']} s, "
                                 f"run {phases['run']} s ({fig['cycles'] / phases['run']:.0f} cycles/s), "
                                 f"read back {phases['read']} s")


def _measure(presets, sims):
    from tqdm import tqdm

    from openlpu.bench.bench_mxm import replay_gemm, speed_shape
    from openlpu.verif.runner import simulator_missing
    out = {"verilog_s": {}, "build_s": {}, "mxm_plane_cycles_per_s": {}, "notes": []}
    out.update({f"{sim}_cycles_per_s": {} for sim in sims})
    steps = [(p, step) for p in presets for step in ("build", "mxm", *sims)]
    for name, step in tqdm(steps, desc="simulator figures", unit="step"):
        sim = "verilator" if step in ("build", "mxm") else step
        reason = simulator_missing(sim)
        if reason:
            out["notes"].append(f"{name} {step}: {sim} unavailable: {reason}")
        elif step == "build":
            out["verilog_s"][name], out["build_s"][name] = chip_build_seconds(name)
        elif step == "mxm":
            cfg = preset(name)
            out["mxm_plane_cycles_per_s"][name] = replay_gemm(cfg, name, speed_shape(cfg, 20000), sim)[
                "replay_cycles_per_s"]
        else:
            value, why = chip_cycles_per_s(name, sim)
            out[f"{sim}_cycles_per_s"][name] = value
            if why:
                out["notes"].append(f"{name} {sim}_cycles_per_s: {why}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", required=True, type=Path, help="where to write the figures")
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"])
    parser.add_argument("--sims", nargs="+", default=["verilator", "icarus"])
    args = parser.parse_args(argv)
    figures = _measure(args.presets, args.sims)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
