"""VXM transcendentals: error against float64 and throughput.

Error: each function of :mod:`openlpu.golden.vxm_func` (which the RTL
matches bit for bit) against numpy's float64 function evaluated on the exact
fp32 input, over

* a dense sweep: every ``2**step``-th fp32 bit pattern of the function's
  useful input range (both signs where both are useful), and
* ``--random`` points drawn uniformly over the bit patterns of that range
  (most of them small in magnitude), and
* ``--random`` points drawn uniformly in value over :data:`UNIFORM` (where
  the reduction and the tables do all the work).

The useful range is where the float64 result, rounded to fp32, is a finite
normal number (exp: -87.336 <= x <= 88.722; recip: 2**-126 <= |x| <= 2**126;
rsqrt: every positive normal; tanh: 2**-126 <= |x| < 16, with |tanh| = 1
beyond). Two measures per function:

* ``ulp``: ``|got - f(x)| / ulp(fp32(f(x)))``, the error against the exact
  (float64) value in units of the last place of the correctly rounded fp32
  result; a correctly rounded result scores at most 0.5.
* ``dist``: how many fp32 values lie between ``got`` and the correctly
  rounded result (0 = correctly rounded), with the share of exact results.

Throughput: ``--cycles`` back-to-back vectors with a random function each
through :class:`openlpu.rtl.vxm_func.VxmFunc` in the Amaranth simulator,
results per cycle (after the ``VXM_FUNC_LATENCY`` fill) and simulator speed,
and the golden model's results per second.

Run: ``python -m openlpu.bench.bench_vxm_func`` (about 90 s;
``--step 4`` is 4x denser). ``--json PATH`` writes the numbers.
"""

import argparse
import json
import time

import numpy as np
from amaranth.sim import Simulator

from openlpu.config import preset
from openlpu.golden import vxm_func as gold
from openlpu.golden.vxm_func import VxmFuncOp
from openlpu.rtl.vxm_func import VxmFunc
from openlpu.timing import VXM_FUNC_LATENCY

__all__ = ["RANGES", "UNIFORM", "ulp_errors", "measure_errors", "measure_throughput"]

_F32 = lambda v: int(np.float32(v).view(np.uint32))  # noqa: E731
#: Per function: (float64 reference, [(first, last) bit patterns, inclusive], description).
RANGES = {
    VxmFuncOp.EXP: (np.exp, [(0x00800000, _F32(88.72283)), (0x80800000, _F32(-87.33654))],
                    "-87.33654 <= x <= 88.72283 (|x| >= 2**-126)"),
    VxmFuncOp.RECIP: (lambda x: 1.0 / x, [(0x00800000, 0x7E800000), (0x80800000, 0xFE800000)],
                      "2**-126 <= |x| <= 2**126"),
    VxmFuncOp.RSQRT: (lambda x: 1.0 / np.sqrt(x), [(0x00800000, 0x7F7FFFFF)],
                      "2**-126 <= x <= max fp32"),
    VxmFuncOp.TANH: (np.tanh, [(0x00800000, 0x417FFFFF), (0x80800000, 0xC17FFFFF)],
                     "2**-126 <= |x| < 16"),
}

#: Per function: value interval of the uniform random points (and a negative copy when signed).
UNIFORM = {VxmFuncOp.EXP: (-87.33654, 88.72283, False), VxmFuncOp.RECIP: (1.0, 4.0, True),
           VxmFuncOp.RSQRT: (1.0, 4.0, False), VxmFuncOp.TANH: (-16.0, 16.0, False)}


def _ordered(bits):
    """fp32 bit patterns as integers in the order of their values (-0 and +0 both 0)."""
    b = bits.astype(np.int64)
    return np.where(b & 0x80000000, -(b & 0x7FFFFFFF), b)


def ulp_errors(op, x):
    """``(kept, ulp, dist)`` of ``op`` on the ``uint32`` inputs ``x`` whose fp32 result is finite and normal.

    ``kept`` are those inputs; the others are dropped.
    """
    ref_fn = RANGES[op][0]
    xf = x.view(np.float32).astype(np.float64)
    with np.errstate(all="ignore"):
        ref = ref_fn(xf)
    ref32 = ref.astype(np.float32)
    mag = np.abs(ref32)
    keep = np.isfinite(mag) & (mag >= np.float32(2.0 ** -126))
    x, ref, ref32 = x[keep], ref[keep], ref32[keep]
    got = gold.f32_func(op, x)
    _, exponent = np.frexp(ref32.astype(np.float64))
    ulp = np.ldexp(1.0, exponent - 24)
    err = np.abs(got.view(np.float32).astype(np.float64) - ref) / ulp
    dist = np.abs(_ordered(got) - _ordered(ref32.view(np.uint32)))
    return x, err, dist


def _sweep(op, step):
    for lo, hi in RANGES[op][1]:
        start = lo
        while start <= hi:
            stop = min(hi + 1, start + (step << 22))
            yield np.arange(start, stop, step, dtype=np.uint64).astype(np.uint32)
            start = stop


def _random(op, rng, count):
    ranges = RANGES[op][1]
    sizes = np.array([hi - lo + 1 for lo, hi in ranges], dtype=np.float64)
    which = rng.choice(len(ranges), size=count, p=sizes / sizes.sum())
    lo = np.array([r[0] for r in ranges], dtype=np.int64)[which]
    hi = np.array([r[1] for r in ranges], dtype=np.int64)[which]
    return (lo + rng.integers(0, hi - lo + 1)).astype(np.uint32)


def _uniform(op, rng, count):
    lo, hi, signed = UNIFORM[op]
    x = rng.uniform(lo, hi, size=count)
    if signed:
        x = x * rng.choice([-1.0, 1.0], size=count)
    return x.astype(np.float32).view(np.uint32)


class _Stats:
    def __init__(self):
        self.n = 0
        self.ulp_max = 0.0
        self.ulp_sum = 0.0
        self.dist_max = 0
        self.exact = 0
        self.worst = None

    def add(self, x, err, dist):
        if not len(err):
            return
        self.n += len(err)
        i = int(np.argmax(err))
        if err[i] > self.ulp_max:
            self.ulp_max = float(err[i])
            self.worst = int(x[i])
        self.ulp_sum += float(err.sum())
        self.dist_max = max(self.dist_max, int(dist.max()))
        self.exact += int((dist == 0).sum())

    def as_dict(self):
        return {"points": self.n, "max_ulp": self.ulp_max, "mean_ulp": self.ulp_sum / max(self.n, 1),
                "max_dist": self.dist_max, "correctly_rounded": self.exact / max(self.n, 1),
                "worst_input": f"0x{self.worst:08x}" if self.worst is not None else None}


def measure_errors(step_log2=6, random_count=1_000_000, seed=0):
    """``{function name: {"range": text, "uniform_range": text, "sweep", "random", "uniform": stats}}``."""
    rng = np.random.default_rng(seed)
    out = {}
    for op in VxmFuncOp:
        sweep, rand, uni = _Stats(), _Stats(), _Stats()
        for x in _sweep(op, 1 << step_log2):
            sweep.add(*ulp_errors(op, x))
        rand.add(*ulp_errors(op, _random(op, rng, random_count)))
        uni.add(*ulp_errors(op, _uniform(op, rng, random_count)))
        lo, hi, signed = UNIFORM[op]
        out[op.name.lower()] = {"range": RANGES[op][2], "uniform_range": ("+-" if signed else "") + f"[{lo}, {hi}]",
                                "sweep": sweep.as_dict(), "random": rand.as_dict(), "uniform": uni.as_dict()}
    return out


def measure_throughput(cfg, cycles=200, seed=0):
    """``(results per cycle after the fill, Amaranth sim cycles/s, golden results/s)``."""
    dut = VxmFunc(cfg)
    rng = np.random.default_rng(seed)
    funcs = rng.integers(4, size=cycles)
    xs = [gold.random_operands(rng, cfg.lanes) for _ in range(cycles)]
    outs = []

    async def bench(ctx):
        for t in range(cycles + VXM_FUNC_LATENCY):
            ctx.set(dut.a.valid, t < cycles)
            if t < cycles:
                ctx.set(dut.func, int(funcs[t]))
                for lane in range(cfg.lanes):
                    for p in range(4):
                        ctx.set(dut.a.payload[p][lane], (int(xs[t][lane]) >> (8 * p)) & 0xFF)
            if ctx.get(dut.out.valid):
                outs.append(t)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    t0 = time.perf_counter()
    sim.run()
    sim_rate = (cycles + VXM_FUNC_LATENCY) / (time.perf_counter() - t0)
    assert outs == list(range(VXM_FUNC_LATENCY, cycles + VXM_FUNC_LATENCY)), "results not back to back"
    per_cycle = len(outs) * cfg.lanes / (outs[-1] - outs[0] + 1)

    x = rng.integers(0, 1 << 32, size=1_000_000, dtype=np.uint64).astype(np.uint32)
    t0 = time.perf_counter()
    for op in VxmFuncOp:
        gold.f32_func(op, x)
    golden_rate = 4 * len(x) / (time.perf_counter() - t0)
    return per_cycle, sim_rate, golden_rate


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step", type=int, default=6, help="sweep every 2**STEP-th bit pattern (default 6)")
    ap.add_argument("--random", type=int, default=1_000_000, help="random points per function")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", default="tiny", help="configuration for the throughput run")
    ap.add_argument("--cycles", type=int, default=200, help="vectors in the throughput run")
    ap.add_argument("--json", help="also write the numbers to this JSON file")
    args = ap.parse_args()
    if args.step < 0 or args.step > 24:
        ap.error(f"--step must be between 0 and 24, not {args.step}")
    if args.random < 1:
        ap.error(f"--random must be at least 1, not {args.random}")

    t0 = time.perf_counter()
    errors = measure_errors(args.step, args.random, args.seed)
    print(f"error against numpy float64 (sweep: every 2**{args.step}-th bit pattern of the range; "
          f"random: {args.random:,} bit patterns of the range, and {args.random:,} values uniform "
          f"in the uniform range; seed {args.seed})")
    print("| function | points from | input range | points | max ulp | mean ulp | max dist | correctly rounded |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name, r in errors.items():
        for kind in ("sweep", "random", "uniform"):
            s = r[kind]
            rng_text = (r["uniform_range"] if kind == "uniform" else r["range"]).replace("|", "\\|")
            print(f"| {name} | {kind} | {rng_text} | {s['points']:,} | {s['max_ulp']:.3f} | "
                  f"{s['mean_ulp']:.3f} | {s['max_dist']} | {100 * s['correctly_rounded']:.2f}% |")
    print(f"({time.perf_counter() - t0:.0f} s)")

    cfg = preset(args.preset)
    per_cycle, sim_rate, golden_rate = measure_throughput(cfg, args.cycles, args.seed)
    print(f"throughput ({args.preset}, lanes {cfg.lanes}): {per_cycle:.1f} fp32 results/cycle sustained, "
          f"latency {VXM_FUNC_LATENCY} cycles; Amaranth sim {sim_rate:.0f} cycles/s; "
          f"golden model {golden_rate / 1e6:.1f} M results/s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"step_log2": args.step, "random": args.random, "seed": args.seed, "errors": errors,
                       "throughput": {"preset": args.preset, "results_per_cycle": per_cycle,
                                      "latency": VXM_FUNC_LATENCY, "sim_cycles_per_s": sim_rate,
                                      "golden_results_per_s": golden_rate}}, fh, indent=1)
            fh.write("\n")


if __name__ == "__main__":
    main()
