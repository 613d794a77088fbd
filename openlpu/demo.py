"""The main job: Verilog for a preset, then a GEMM on the simulated MXM.

Until the whole chip exists, the demo generates (and lints) the Verilog of
every unit built so far, streams an int8 and an fp16 GEMM through one MXM
plane in a real simulator (Verilator by default) via cocotb, checks the
result against numpy and the golden model cycle by cycle, and prints the
predicted and measured cycle counts and the MXM utilization.
"""

import json
import tempfile
import time
from pathlib import Path

from . import timing
from .cli import UNITS, build_unit
from .config import PRESETS
from .verif.runner import BUILD_ROOT, lint, run_cocotb, simulator_missing, write_verilog

__all__ = ["run_demo", "run_gemm"]


def run_gemm(cfg, key, shape, dtype="int8", sim="verilator", seed=1, free_cycles=0, log_file=None):
    """Stream one GEMM through an MXM plane on ``sim``; returns the report dict.

    The simulator's output goes to ``log_file`` (default: ``build/logs/``).
    """
    if log_file is None:
        log_file = BUILD_ROOT / "logs" / f"gemm-{key}-{sim}-{dtype}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
    from .rtl.mxm import MxmPlane
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        run_cocotb(
            sim=sim, toplevel="mxm_plane", component=lambda: MxmPlane(cfg),
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


def run_demo(cfg, sim="verilator", seed=1, key=None):
    key = key or next((name for name, p in PRESETS.items() if p == cfg), "custom")
    reason = simulator_missing(sim)
    if reason:
        print(f"error: {sim} unavailable: {reason}")
        return 1
    print(f"OpenLPU demo, preset {key}: lanes={cfg.lanes}, MXM {cfg.lanes}x{cfg.lanes} x {cfg.mxm_planes} planes, "
          f"MXM latency {timing.mxm_latency(cfg)} cycles")
    out = BUILD_ROOT / "verilog"
    print(f"\n1. Verilog ({out})")
    for unit in UNITS:
        try:
            component = build_unit(unit, cfg)
        except SystemExit:
            print(f"   {unit:10s} not built yet")
            continue
        start = time.perf_counter()
        name = f"openlpu_{unit}_{key}"
        path = write_verilog(component, name, out / f"{name}.v")
        result = lint(path, top=name)
        verdict = "lint clean" if result.returncode == 0 else "LINT FAILED"
        print(f"   {unit:10s} {path.name:32s} {time.perf_counter() - start:5.1f} s  {verdict}")
        if result.returncode:
            print(result.stderr)
            return 1

    M, K, N = 4 * cfg.lanes, 4 * cfg.lanes, 2 * cfg.lanes
    print(f"\n2. GEMM C = A @ W on one MXM plane, {sim}, checked against numpy and the golden model")
    print(f"   {'dtype':6s} {'M x K x N':>14s} {'cycles':>7s} {'1st result':>10s} {'MAC/cycle':>10s} "
          f"{'peak':>5s} {'util':>6s} {'sim cyc/s':>10s}")
    for dtype, shape in (("int8", (M, K, N)), ("fp16", (M, cfg.fp16_k * 4, N))):
        start = time.perf_counter()
        r = run_gemm(cfg, key, shape, dtype=dtype, sim=sim, seed=seed)
        print(f"   {dtype:6s} {'x'.join(map(str, shape)):>14s} {r['cycles']:7d} {r['first_result']:10d} "
              f"{r['macs_per_cycle_steady']:10.1f} {r['peak_macs_per_cycle']:5d} {100 * r['utilization']:5.1f}% "
              f"{r['driven_cycles_per_s']:10.0f}   numpy match: {r['numpy_match']}")
    print(f"\n   simulator logs: {BUILD_ROOT / 'logs'}")
    print("   cycles = the schedule's prediction; the testbench checked the result port on every one of them.")
    print("   util = useful MACs / (peak MACs per cycle x cycles), fill and drain included.")
    return 0
