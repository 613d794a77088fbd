"""The schedule as a picture: a compiled program as a Chrome / Perfetto trace and a timeline PNG.

Everything here is derived from the compiled program (the instructions of every queue, whose
issue cycles :func:`openlpu.compiler.runtime.issue_cycles` reads off the NOP gaps and REPEAT
runs), the scheduler's read intents and the latencies of :mod:`openlpu.timing`; nothing is
simulated. The tests check the result against the golden ISA simulator.

Time: **one cycle is one microsecond** in the trace's timestamps (``ts``, ``dur``: the format
counts in microseconds), so "1 ms" on the viewer's ruler is 1000 cycles. Segments (programs
run one after the other, SRAM kept) are laid end to end: segment ``k`` starts at the sum of the
predicted cycles of the segments before it, as :attr:`Compiled.predicted_cycles` counts them
(host time between segments is not on the timeline).

Tracks (Perfetto shows each *process* as a group, each *thread* as a track):

* ``program``: one slice per segment.
* one process per instruction queue the program uses (``mem0``, ``vxm``, ``mxm1``, ...): one
  slice per instruction from its issue cycle to its completion (:func:`latency`). The units
  are pipelined, so a queue issuing every cycle has several instructions in flight; those go
  to the queue's extra threads (``mem0 ·2``, ...: a slice is put on the first of them that is
  free, so the number of threads is the queue's largest number of instructions in flight).
* ``units``: one thread per unit (a MEM slice, the VXM, the SXM, an MXM plane's array
  ``mxmP``, its weight buffer ``mxwP``) with its busy runs: the cycles in which it executes an
  instruction (issue + ``ICU_DISPATCH_LATENCY``; CONFIG is not unit work). The thread name
  carries the busy fraction (busy cycles / all cycles).
* ``streams``: one thread per stream (``e3``: east stream 3, ``w0``: west 0; ``e3 ·2`` when two
  values are on that stream at once, at different slice positions), one slice per value from
  the cycle it enters the stream register at its producer's position to the last cycle a
  consumer reads it. Derived from the scheduler's read intents (:attr:`Segment.intents`:
  which instruction produced each stream operand), which the golden simulator checks on every
  compiled program: a read in execute cycle ``r`` at position ``b`` of a value produced at
  position ``a`` was output in cycle ``r - timing.stream_delay(a, b, d)``. Values nobody reads
  (MXM partial sums) get a one-cycle slice named ``unread``. A program without intents has no
  stream tracks.

API: :func:`trace_events` (the trace as a dict), :func:`write_trace` (JSON, and a PNG with
``png=``), :func:`timeline_png`; :func:`register` adds ``openlpu trace`` to the command line.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from . import isa, timing

__all__ = ["Slice", "StreamValue", "latency", "segment_starts", "slices", "unit_busy", "occupancy", "stream_values",
           "trace_events", "write_trace", "timeline_png", "register", "MODELS"]

#: A CONFIG's control word is seen by the VOPs executed after its own execute cycle.
_CONFIG_SETTLE = 1
_SXM_LANE_OPS = ("PASS", "SHUP", "SHDN", "ROT", "PERM", "DIST", "SEL")


@dataclass(frozen=True)
class Slice:
    """One issued instruction: its queue, segment, absolute ``start`` (issue) and ``end``
    (completion) cycles, the cycle within its segment, and the instruction."""
    queue: str
    segment: int
    start: int
    end: int
    local: int
    instr: isa.Instr

    @property
    def execute(self):
        """The absolute cycle in which its unit executes it."""
        return self.start + timing.ICU_DISPATCH_LATENCY


def _unit_latency(cfg, ins, column):
    """Cycles from execute to the unit's output, for an instruction whose result goes on a
    stream (``None`` for the others); a VOP's from its chain (issued by VXM column ``column``)."""
    name, mxm = ins.op.name, timing.mxm_chip_latency(cfg)
    if name == "VOP":
        return timing.vop_latency(len(isa.vop_columns(cfg, column, ins)))
    table = {"READ": timing.MEM_READ_LATENCY, "GATHER": timing.MEM_READ_LATENCY, "ABC": mxm, "ACC": mxm,
             "VRED": timing.vred_chip_latency(cfg), "VFUNC": timing.VXM_FUNC_LATENCY}
    table.update({op: timing.sxm_chip_latency(cfg) for op in _SXM_LANE_OPS})
    return table.get(name)


def latency(cfg, ins, column=0):
    """Cycles from issuing ``ins`` to the first cycle in which another unit can use its result:
    the length of its slice. Every instruction but TRANS (whose rows complete together with their
    tile, :func:`slices`):

    * a result on a stream (READ, GATHER, ABC, ACC, VOP, VRED, VFUNC, SXM lane ops): dispatch +
      the unit's latency + one cycle into the stream register at the unit's own position;
    * WRITE, SCATTER: dispatch + ``MEM_WRITE_LATENCY`` (a READ executing then sees the word);
      SCRUB: dispatch + ``MEM_SCRUB_DELAY`` + ``MEM_WRITE_LATENCY``;
    * LW: dispatch (an IW executing in the same cycle installs the row); IW: dispatch +
      ``MXM_INSTALL_DELAY``; CONFIG: dispatch + one cycle (the VOPs executed after it see it).

    ``column``: for a VOP, the VXM ALU column whose queue issues it (its chain's length).
    """
    name, d = ins.op.name, timing.ICU_DISPATCH_LATENCY
    unit = _unit_latency(cfg, ins, column)
    if unit is not None:
        return d + unit + timing.stream_delay(0, 0, 0)
    other = {"WRITE": timing.MEM_WRITE_LATENCY, "SCATTER": timing.MEM_WRITE_LATENCY,
             "SCRUB": timing.MEM_SCRUB_DELAY + timing.MEM_WRITE_LATENCY, "LW": 0,
             "IW": timing.MXM_INSTALL_DELAY, "CONFIG": _CONFIG_SETTLE}
    if name not in other:
        raise ValueError(f"{name} has no completion cycle (only unit instructions and CONFIG do)")
    return d + other[name]


def _queue_issues(program, queue):
    """``[(cycle, Instr)]`` of one queue of a segment; a SYNC or NOTIFY makes the issue cycles
    depend on other queues, which a static trace cannot show: ``ValueError``."""
    from .compiler.runtime import issue_cycles
    names = {ins.op.name for ins in program}
    if names & {"SYNC", "NOTIFY"}:
        raise ValueError(f"queue {queue} uses SYNC/NOTIFY: its issue cycles are not static")
    return issue_cycles(program)


def _trans_ends(cfg, issued):
    """``{cycle: end}`` for the TRANS rows of one SXM queue: a row completes when its tile's
    first column is on the stream, ``sxm_transpose_latency`` (+ the wavefront span) after the
    tile's first row is executed (plus one cycle into the stream register); a row of a tile that never completes
    (restarted, or the program ends) ends in its execute cycle."""
    ends, tile = {}, []
    done = (timing.ICU_DISPATCH_LATENCY + timing.sxm_transpose_latency(cfg) + timing.wavefront_span(cfg)
            + timing.stream_delay(0, 0, 0))
    for t, ins in issued:
        if ins.op.name != "TRANS":
            continue
        if ins["start"]:
            tile = []
        tile.append(t)
        if len(tile) == cfg.lanes:
            ends.update({row: tile[0] + done for row in tile})
            tile = []
    return ends


def _check_compiled(compiled):
    """``ValueError`` unless ``compiled`` looks like :class:`openlpu.compiler.emit.Compiled`."""
    for attr in ("cfg", "segments"):
        if not hasattr(compiled, attr):
            raise ValueError(f"not a compiled program: it has no {attr!r} (compile_graph makes one)")
    if not compiled.segments:
        raise ValueError("the compiled program has no segments")


def segment_starts(compiled):
    """The absolute start cycle of every segment (the predicted cycles of those before it)."""
    starts, t = [], 0
    for sg in compiled.segments:
        starts.append(t)
        t += sg.cycles
    return starts


def slices(compiled):
    """Every issued instruction of every segment as a :class:`Slice`, in queue order then cycle."""
    _check_compiled(compiled)
    cfg, out = compiled.cfg, []
    for k, (sg, base) in enumerate(zip(compiled.segments, segment_starts(compiled))):
        for q in isa.queues(cfg):
            issued = _queue_issues(sg.program.get(q, []), q)
            trans = _trans_ends(cfg, issued)
            for t, ins in issued:
                end = t + latency(cfg, ins, isa.queue_unit(q)[1]) if ins.op.name != "TRANS" else trans.get(t, t + timing.ICU_DISPATCH_LATENCY)
                out.append(Slice(q, k, base + t, base + end, t, ins))
    return out


def unit_busy(compiled, items=None):
    """``{unit: [(first cycle, cycles, [ops])]}``: each unit's runs of consecutive execute cycles
    (CONFIG excluded), for the units the program uses; a unit is named like its queue."""
    runs = {}
    for s in sorted(items or slices(compiled), key=lambda s: s.execute):
        if s.instr.op.name == "CONFIG":
            continue
        unit = runs.setdefault(s.queue, [])
        if unit and unit[-1][0] + unit[-1][1] == s.execute:
            unit[-1][1] += 1
            unit[-1][2].append(s.instr.op.name)
        else:
            unit.append([s.execute, 1, [s.instr.op.name]])
    return {u: [tuple(r) for r in rs] for u, rs in runs.items()}


def occupancy(compiled, busy=None):
    """``{unit: busy cycles / all predicted cycles}`` for the used units, in queue order."""
    busy = busy if busy is not None else unit_busy(compiled)
    total = compiled.predicted_cycles
    return {u: sum(n for _, n, _ in busy[u]) / total for u in isa.queues(compiled.cfg) if u in busy}


@dataclass
class StreamValue:
    """A value on one stream (``direction``, ``stream``) from absolute cycle ``start`` (in the
    stream register at its producer's position) to ``end`` (exclusive: after its last read)."""
    direction: int
    stream: int
    start: int
    end: int
    producer: Slice
    reads: list                     # [(Slice of the consumer, field)]


def _stream_reads(cfg, sg, by_cycle):
    """``{(d, s, producer queue, producer cycle, output cycle): [(consumer queue, cycle, field)]}``
    from the read intents of one segment (local cycles)."""
    pos, out = timing.floorplan(cfg), {}
    for (q, c, field_name), producers in sg.intents.items():
        if field_name == "mem":
            continue
        d, s = by_cycle[q][c].instr[field_name]
        b = pos[isa.queue_slice(q)]
        for j, prod in enumerate(producers):
            if not prod:                # no producer, or ANY: a junk row slot of an LW (place_mxm.load_plan)
                continue
            a = pos[isa.queue_slice(prod[0])]
            u = c + timing.ICU_DISPATCH_LATENCY - timing.stream_delay(a, b, d)
            out.setdefault((d, s + j, prod[0], prod[1], u), []).append((q, c, field_name))
    return out


def _unread(cfg, sg_slices, read_keys):
    """Stream values nobody reads: ``[(d, s, Slice)]`` for each plane of a producer's ``dst`` group
    (TRANS excluded) that no intent reads."""
    out = []
    for s in sg_slices:
        if "dst" not in [f.name for f in s.instr.op.fields] or s.instr.op.name == "TRANS":
            continue
        d, first = s.instr["dst"]
        for j in range(isa.stream_width(s.instr, "dst")):
            if (d, first + j, s.queue, s.local) not in read_keys:
                out.append((d, first + j, s))
    return out


def stream_values(compiled, items=None):
    """Every value the program puts on a stream, as :class:`StreamValue` (see the module
    docstring for the derivation); empty for segments without ``intents``."""
    items = items or slices(compiled)
    out = []
    for k, (sg, base) in enumerate(zip(compiled.segments, segment_starts(compiled))):
        if not getattr(sg, "intents", None):
            continue
        mine = [s for s in items if s.segment == k]
        by_cycle = {}
        for s in mine:
            by_cycle.setdefault(s.queue, {})[s.local] = s
        reads = _stream_reads(compiled.cfg, sg, by_cycle)
        for (d, st, pq, pt, u), cons in reads.items():
            rs = [(by_cycle[q][c], f) for q, c, f in cons]
            last = max(r.execute for r, _ in rs)
            out.append(StreamValue(d, st, base + u + 1, last + 1, by_cycle[pq][pt], rs))
        keys = {key[:4] for key in reads}
        for d, st, s in _unread(compiled.cfg, mine, keys):
            t = s.end
            out.append(StreamValue(d, st, t, t + 1, s, []))
    return out


# --- trace events --------------------------------------------------------------------------------

def _pack(intervals):
    """Greedy interval partitioning: for ``[(start, end)]`` sorted by start, the lane of each
    (the first whose last interval has ended), so that no two intervals of a lane overlap."""
    lanes, out = [], []
    for start, end in intervals:
        for i, free_at in enumerate(lanes):
            if free_at <= start:
                lanes[i] = end
                out.append(i)
                break
        else:
            lanes.append(end)
            out.append(len(lanes) - 1)
    return out


def _tid(pid, local):
    """The thread id of thread ``local`` of process ``pid``: unique over the whole trace and never 0
    (a thread id names one thread of one process, as on Linux)."""
    return pid * 10_000 + local + 1


def _meta(kind, pid, local, name, sort=None):
    """A metadata event naming (and ordering) process ``pid`` or its thread ``local``."""
    tid = pid if kind == "process" else _tid(pid, local)
    ev = [{"ph": "M", "name": f"{kind}_name", "pid": pid, "tid": tid, "args": {"name": name}}]
    if sort is not None:
        ev.append({"ph": "M", "name": f"{kind}_sort_index", "pid": pid, "tid": tid, "args": {"sort_index": sort}})
    return ev


def _lane_name(track, lane):
    return track if lane == 0 else f"{track} ·{lane + 1}"


def _packed_events(pid, track, sort, rows):
    """X events of ``rows`` (``[(start, end, name, cat, args)]``) on the threads of ``track`` in
    process ``pid``: as many threads as overlap requires, thread ``sort * 64 + lane`` of the process."""
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    lanes = _pack([(r[0], r[1]) for r in rows])
    events = []
    for lane in sorted(set(lanes)):
        events += _meta("thread", pid, sort * 64 + lane, _lane_name(track, lane), sort * 64 + lane)
    for (start, end, name, cat, args), lane in zip(rows, lanes):
        events.append({"ph": "X", "name": name, "cat": cat, "pid": pid, "tid": _tid(pid, sort * 64 + lane),
                       "ts": start, "dur": end - start, "args": args})
    return events


def _queue_events(cfg, items):
    """One process per used queue (pid = 10 + queue number), its instructions' slices."""
    events = []
    for n, q in enumerate(isa.queues(cfg)):
        mine = [s for s in items if s.queue == q]
        if not mine:
            continue
        pid = 10 + n
        events += _meta("process", pid, 0, q, 10 + n)
        rows = [(s.start, s.end, s.instr.op.name, "instr",
                 {"queue": q, "text": str(s.instr), "segment": s.segment, "issue": s.start,
                  "segment_cycle": s.local, "done": s.end}) for s in mine]
        events += _packed_events(pid, q, 0, rows)
    return events


def _unit_events(cfg, compiled, busy):
    """The ``units`` process: one thread per used unit, its busy runs; the busy fraction in the
    thread name."""
    pid, events = 2, _meta("process", 2, 0, "units", 2)
    occ = occupancy(compiled, busy)
    for n, q in enumerate(isa.queues(cfg)):
        if q not in busy:
            continue
        events += _meta("thread", pid, n, f"{q} {100 * occ[q]:.1f}% busy", n)
        for start, cycles, ops in busy[q]:
            kinds = sorted(set(ops))
            events.append({"ph": "X", "name": "/".join(kinds), "cat": "busy", "pid": pid, "tid": _tid(pid, n),
                           "ts": start, "dur": cycles, "args": {"unit": q, "instructions": len(ops)}})
    return events


def _stream_events(values):
    """The ``streams`` process: one thread per stream (more where values overlap)."""
    pid, events = 3, _meta("process", 3, 0, "streams", 3)
    by_stream = {}
    for v in values:
        by_stream.setdefault((v.direction, v.stream), []).append(v)
    for key in sorted(by_stream):
        rows = []
        for v in by_stream[key]:
            p = v.producer
            name = f"{p.queue} {p.instr.op.name}" + ("" if v.reads else " (unread)")
            rows.append((v.start, v.end, name, "stream",
                         {"producer": f"{p.queue} @{p.start}: {p.instr}",
                          "reads": [f"{r.queue} @{r.start} {f}: {r.instr}" for r, f in v.reads]}))
        events += _packed_events(pid, isa.stream_name(key), key[0] * isa.MAX_STREAMS + key[1], rows)
    return events


def _segment_events(compiled):
    """The ``program`` process: one slice per segment."""
    events = _meta("process", 1, 0, "program", 1) + _meta("thread", 1, 0, "segments", 0)
    for k, (sg, base) in enumerate(zip(compiled.segments, segment_starts(compiled))):
        events.append({"ph": "X", "name": f"segment {k}", "cat": "segment", "pid": 1, "tid": _tid(1, 0), "ts": base,
                       "dur": sg.cycles, "args": {"cycles": sg.cycles}})
    return events


def trace_events(compiled):
    """The Chrome / Perfetto trace of ``compiled`` (:class:`openlpu.compiler.emit.Compiled`):
    ``{"traceEvents": [...], "displayTimeUnit": "ms", "otherData": {...}}``, one cycle = 1 us."""
    items = slices(compiled)
    cfg, busy = compiled.cfg, unit_busy(compiled, items)
    events = (_segment_events(compiled) + _queue_events(cfg, items) + _unit_events(cfg, compiled, busy)
              + _stream_events(stream_values(compiled, items)))
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"time": "1 us = 1 cycle", "predicted_cycles": compiled.predicted_cycles,
                          "segments": len(compiled.segments), "lanes": cfg.lanes, "mxm_planes": cfg.mxm_planes,
                          "occupancy": {u: round(f, 4) for u, f in occupancy(compiled, busy).items()}}}


def write_trace(compiled, path, png=None, title=None):
    """Write the trace JSON of ``compiled`` to ``path`` and, with ``png``, the timeline picture
    (:func:`timeline_png`) there. Returns the trace dict."""
    trace = trace_events(compiled)
    Path(path).write_text(json.dumps(trace))
    if png:
        timeline_png(compiled, png, title=title)
    return trace


# --- the picture ---------------------------------------------------------------------------------

_COLORS = {"mem": "#4a7ab5", "mew": "#8fb3dd", "vxm": "#d98c2b", "sxm": "#7a5cb0", "mxm": "#3f9b5a", "mxw": "#a3c98a"}


def _runs_by_op(runs):
    """Split busy runs ``[(start, n, [ops])]`` where the op changes: ``{op: [(start, n)]}``."""
    out = {}
    for start, _, ops in runs:
        i = 0
        while i < len(ops):
            j = i
            while j < len(ops) and ops[j] == ops[i]:
                j += 1
            out.setdefault(ops[i], []).append((start + i, j - i))
            i = j
    return out


def timeline_png(compiled, path, title=None):
    """A PNG of the units' busy cycles: one row per used unit (``broken_barh``, a shade per
    instruction, named in the legend), segment boundaries dashed, and each unit's busy fraction as a bar on the
    right. Needs matplotlib (``pip install -e '.[bench]'``)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cfg, busy = compiled.cfg, unit_busy(compiled)
    occ = occupancy(compiled, busy)
    units = [q for q in isa.queues(cfg) if q in busy]
    fig, (ax, bar) = plt.subplots(1, 2, figsize=(12, 0.32 * len(units) + 1.6), sharey=True,
                                  gridspec_kw={"width_ratios": [5, 1]})
    ops = sorted({op for q in units for _, _, o in busy[q] for op in o})
    shade = {op: 0.55 + 0.45 * i / max(1, len(ops) - 1) for i, op in enumerate(ops)}
    for y, q in enumerate(units):
        color = _COLORS[isa.queue_unit(q)[0].value]
        for op, runs in _runs_by_op(busy[q]).items():
            ax.broken_barh(runs, (y - 0.4, 0.8), facecolors=color, alpha=shade[op])
    for start in segment_starts(compiled)[1:]:
        ax.axvline(start, color="k", ls="--", lw=0.8)
    ax.set_yticks(range(len(units)), [f"{q} {100 * occ[q]:.0f}%" for q in units])
    ax.set_ylim(len(units) - 0.5, -0.5)
    ax.set_xlim(0, compiled.predicted_cycles)
    ax.set_xlabel("cycle")
    from matplotlib.patches import Patch
    fig.legend(handles=[Patch(facecolor="0.35", alpha=shade[op], label=op) for op in ops], fontsize=7,
               ncol=min(len(ops), 10), loc="lower center", frameon=False)
    ax.set_title(title or f"{compiled.predicted_cycles} cycles, {len(compiled.segments)} segment(s)")
    bar.barh(range(len(units)), [100 * occ[q] for q in units],
             color=[_COLORS[isa.queue_unit(q)[0].value] for q in units])
    bar.set_xlim(0, 100)
    bar.set_xlabel("busy %")
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


# --- the command ---------------------------------------------------------------------------------

def _mlp(cfg, args, fp16=False):
    from .workloads import mlp
    work = mlp(cfg, seed=args.seed, rows=args.rows or 64, fp16=fp16)
    return work.compiled, work.rows


def _transformer(cfg, args):
    from .workloads import transformer
    work = transformer(cfg, seed=args.seed, heads=args.heads)
    return work.compiled, work.rows


#: Built-in models of ``openlpu trace --model``: name -> (description, builder(cfg, args)).
MODELS = {
    "mlp": ("int8 MLP classifier 16-32-32-4 (compiler/models.py, as in the demo)", _mlp),
    "mlp-fp16": ("the same MLP in fp16", lambda cfg, args: _mlp(cfg, args, fp16=True)),
    "transformer": ("transformer block, width = tokens = lanes (as in the demo)", _transformer),
}


def _from_model(args):
    """``(compiled, title)`` of ``--model NAME`` compiled for ``--preset``."""
    from .config import preset
    if args.model not in MODELS:
        raise ValueError(f"unknown model {args.model!r}: one of {', '.join(MODELS)}")
    compiled, rows = MODELS[args.model][1](preset(args.preset), args)
    return compiled, f"{args.model}, {rows} rows, preset {args.preset}: {compiled.predicted_cycles} cycles"


def _from_package(path):
    """``(compiled, title)`` of a package directory written by ``openlpu compile``."""
    from .compiler import package
    from .config import PRESETS
    pkg = package.load(path)
    cfg = pkg.compiled.cfg
    name = next((k for k, p in PRESETS.items() if p == cfg), "custom configuration")
    return pkg.compiled, f"{Path(path).name}, {pkg.rows} rows, {name}: {pkg.compiled.predicted_cycles} cycles"


def _source(args):
    """``(compiled, title)`` of the command's one source: a package directory or ``--model``."""
    if (args.package is None) == (args.model is None):
        raise ValueError("give a package directory written by `openlpu compile` or --model NAME (one of them)")
    return _from_package(args.package) if args.package is not None else _from_model(args)


def cmd_trace(args):
    """``openlpu trace``: write the trace (and PNG) of a compiled package or a built-in model."""
    from tabulate import tabulate
    try:
        compiled, title = _source(args)
    except ValueError as exc:            # PackageError is one too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    trace = write_trace(compiled, args.output, png=args.png, title=title)
    print(f"{title}, {len(compiled.segments)} segment(s) -> {args.output}"
          + (f" and {args.png}" if args.png else "") + " (open it in https://ui.perfetto.dev)")
    occ = trace["otherData"]["occupancy"]
    print(tabulate([[u, 100 * f] for u, f in occ.items()], headers=["unit", "busy %"], floatfmt=".1f"))
    return 0


def register(subparsers):
    """Add ``openlpu trace`` to the command line's subparsers."""
    from .config import PRESETS
    cmd = subparsers.add_parser(
        "trace", help="the schedule of a compiled package or model as a Perfetto trace (and a timeline PNG)",
        description="Write the schedule of a package written by `openlpu compile` (PACKAGE), or of a "
                    "built-in model compiled for --preset (--model), as a Chrome/Perfetto trace "
                    "(1 cycle = 1 us; open it in https://ui.perfetto.dev). Models: "
                    + "; ".join(f"{k}: {v[0]}" for k, v in MODELS.items()))
    cmd.add_argument("package", nargs="?", help="package directory written by `openlpu compile`")
    cmd.add_argument("--model", help=f"instead of a package: one of {', '.join(MODELS)}")
    cmd.add_argument("--preset", default="tiny", choices=sorted(PRESETS), help="the chip --model is compiled for")
    cmd.add_argument("--rows", type=int, help="batch rows of the MLP (default 64, halved until it fits)")
    cmd.add_argument("--heads", type=int, default=2, help="attention heads of the transformer block")
    cmd.add_argument("--seed", type=int, default=1)
    cmd.add_argument("-o", "--output", default="trace.json", help="trace JSON path")
    cmd.add_argument("--png", help="also draw the timeline into this PNG (needs matplotlib)")
    cmd.set_defaults(func=cmd_trace)
    return cmd
