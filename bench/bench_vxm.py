"""VXM benchmark: sustained ALU ops per cycle and Amaranth-simulator speed.

Streams ``count`` back-to-back chained instructions (random op x type mixes:
integer, fp16/fp32 arithmetic and fused multiply-add, compares, conversions,
requantize) through the VXM in the Amaranth simulator, checks every result
against the golden chain, and counts result vectors: each carries ``lanes x
vxm_alus`` ALU ops, so the sustained rate is ``lanes x vxm_alus`` ops/cycle
whatever the ops. Run: ``python -m openlpu.bench.bench_vxm --preset tiny``.
"""

import argparse
import time

import numpy as np
from amaranth.sim import Simulator

from openlpu.config import preset
from openlpu.golden import vxm as gold
from openlpu.rtl.vxm import Vxm

__all__ = ["measure"]


def measure(cfg, count=200):
    """Return (ops per cycle from first input to last output incl. fill, steady ops/cycle, sim cycles/s)."""
    dut = Vxm(cfg)
    lat = gold.latency(cfg)
    progs = gold.random_programs(cfg, np.random.default_rng(0), count)
    results = []

    async def tb(ctx):
        for cyc in range(count + lat):
            if cyc < count:
                etype, ops, srcs, imms, a, b = progs[cyc]
                for lane in range(cfg.lanes):
                    for p in range(4):
                        ctx.set(dut.a.payload[p][lane], (int(a[lane]) >> (8 * p)) & 0xFF)
                        ctx.set(dut.b.payload[p][lane], (int(b[lane]) >> (8 * p)) & 0xFF)
                ctx.set(dut.a.valid, 1)
                ctx.set(dut.ctrl, {"etype": etype, "alu": [{"op": o, "src": s, "imm": i & 0xFFFFFFFF}
                                                          for o, s, i in zip(ops, srcs, imms)]})
            else:
                ctx.set(dut.a.valid, 0)
            await ctx.tick()
            if ctx.get(dut.out.valid):
                results.append(cyc)
                k = len(results) - 1
                got = [sum(ctx.get(dut.out.payload[p][lane]) << (8 * p) for p in range(4)) for lane in range(cfg.lanes)]
                etype, ops, srcs, imms, a, b = progs[k]
                if got != [int(v) for v in gold.chain(ops, etype, srcs, imms, a, b)]:
                    raise AssertionError(f"instruction {k} differs from the golden chain")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    t0 = time.perf_counter()
    sim.run()
    dt = time.perf_counter() - t0
    ops = len(results) * cfg.lanes * cfg.vxm_alus
    steady = ops / (results[-1] - results[0] + 1)
    return ops / (count + lat), steady, (count + lat) / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--count", type=int, default=100)
    args = ap.parse_args()
    cfg = preset(args.preset)
    total, steady, speed = measure(cfg, args.count)
    print(f"{args.preset}: lanes x alus = {cfg.lanes * cfg.vxm_alus}; sustained {steady:.1f} ALU ops/cycle "
          f"({total:.1f} including pipeline fill); Amaranth sim {speed:.2f} cycles/s")


if __name__ == "__main__":
    main()
