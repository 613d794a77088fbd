"""MEM benchmark: slice bandwidth, host burst throughput, projected aggregate bandwidth.

    python -m openlpu.bench.bench_mem [--preset tiny] [--sim icarus]

1. Slice and aggregate bytes/cycle: every chip-side read and write port of a
   :class:`~openlpu.rtl.mem.Mem` is driven every cycle in the Amaranth
   simulator; the bytes read (valid output vectors) and written (write
   commands) are counted. Each slice must move ``lanes`` bytes each way per
   cycle.
2. Host burst throughput: one 256-beat AXI4 write and read burst through
   cocotbext-axi on a simulator.
3. Projection at the ``tsp`` preset and 900 MHz, against the reference chip's
   ~80 TB/s.

Figures go to ``build/bench/mem.json``.
"""

import argparse
import json
import tempfile
from pathlib import Path

from amaranth.sim import Simulator

from openlpu import timing
from openlpu.config import preset
from openlpu.verif.runner import BUILD_ROOT, run_cocotb, simulator_missing

__all__ = ["slice_bandwidth", "host_throughput", "projection", "main"]

REFERENCE_TBPS = 80.0
CLOCK_HZ = 900e6


def slice_bandwidth(cfg, cycles=200):
    """Measured read and write bytes/cycle of each slice of a ``Mem`` driven flat out."""
    from openlpu.rtl.mem import Mem
    dut = Mem(cfg)
    n = cfg.mem_slices
    counts = {"read": [0] * n, "write": [0] * n}

    async def bench(ctx):
        ctx.set(dut.chip_busy, 1)
        for t in range(cycles):
            for s in range(n):
                ctx.set(dut.rd[s].valid, 1)
                ctx.set(dut.rd[s].payload.addr, (t + s) % cfg.mem_depth)
                ctx.set(dut.wr[s].valid, 1)
                ctx.set(dut.wr[s].payload.addr, (t * 7 + s) % cfg.mem_depth)
                counts["write"][s] += cfg.lanes
            await ctx.tick()
            for s in range(n):
                counts["read"][s] += cfg.lanes * ctx.get(dut.out[s].valid)
        for s in range(n):          # drain the reads still in flight
            ctx.set(dut.rd[s].valid, 0)
            ctx.set(dut.wr[s].valid, 0)
        for _ in range(timing.MEM_READ_LATENCY):
            await ctx.tick()
            for s in range(n):
                counts["read"][s] += cfg.lanes * ctx.get(dut.out[s].valid)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    per_slice = [{"read": counts["read"][s] / cycles, "write": counts["write"][s] / cycles} for s in range(n)]
    return {"cycles": cycles, "per_slice": per_slice,
            "aggregate_bytes_per_cycle": sum(p["read"] + p["write"] for p in per_slice)}


def host_throughput(cfg, sim):
    reason = simulator_missing(sim)
    if reason:
        return {"skipped": reason}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "host.json"
        from openlpu.rtl.host import MemWithHost
        run_cocotb(sim=sim, toplevel="mem", component=lambda: MemWithHost(cfg, program=True),
                   test_module="openlpu.verif.tb_host",
                   key=cfg_key(cfg), testcase="burst_throughput", test_name="bench",
                   extra_env={"OPENLPU_CONFIG": json.dumps(cfg.as_dict()), "OPENLPU_BENCH_OUT": str(out)})
        return json.loads(out.read_text())


def cfg_key(cfg):
    for name in ("tiny", "small", "tsp"):
        if preset(name) == cfg:
            return name
    return "custom"


def projection(cfg=None, clock_hz=CLOCK_HZ):
    cfg = cfg or preset("tsp")
    per_slice = 2 * cfg.lanes                      # lanes bytes read + lanes bytes written per cycle
    total = per_slice * cfg.mem_slices * clock_hz
    return {"preset": "tsp", "clock_hz": clock_hz, "bytes_per_cycle_per_slice": per_slice,
            "slices": cfg.mem_slices, "aggregate_TBps": total / 1e12,
            "reference_TBps": REFERENCE_TBPS, "ratio_to_reference": total / 1e12 / REFERENCE_TBPS}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--sim", default="icarus")
    args = parser.parse_args(argv)
    cfg = preset(args.preset)
    bw = slice_bandwidth(cfg)
    host = host_throughput(cfg, args.sim)
    proj = projection()
    result = {"preset": args.preset, "slice_bandwidth": bw, "host": host, "projection": proj}
    ps = bw["per_slice"][0]
    print(f"[{args.preset}] slice 0: {ps['read']:.2f} B/cycle read + {ps['write']:.2f} B/cycle written "
          f"(lanes = {cfg.lanes}); aggregate {bw['aggregate_bytes_per_cycle']:.2f} B/cycle over "
          f"{cfg.mem_slices} slices, {bw['cycles']} cycles")
    if "skipped" not in host:
        print(f"[{args.preset}] host AXI4 ({args.sim}): {host['beats']}-beat write burst {host['write_cycles']} cycles "
              f"({host['write_bytes_per_cycle']:.2f} B/cycle), read burst {host['read_cycles']} cycles "
              f"({host['read_bytes_per_cycle']:.2f} B/cycle)")
    print(f"[tsp @ {proj['clock_hz'] / 1e6:.0f} MHz] {proj['slices']} slices x {proj['bytes_per_cycle_per_slice']} "
          f"B/cycle = {proj['aggregate_TBps']:.1f} TB/s (reference ~{REFERENCE_TBPS:.0f} TB/s, "
          f"ratio {proj['ratio_to_reference']:.2f})")
    out = BUILD_ROOT / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "mem.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
