"""The schedule trace (``openlpu.trace``, ``openlpu trace``) and the roofline (``bench.roofline``).

The trace is derived from the compiled program without simulating; these tests check it against
the golden ISA simulator's own record of the same run (which instruction issued when, which
unit wrote which stream register when, who produced each operand a unit read), and the roofline
against the compiler's report and bounds that follow from the configuration.
"""

import json
from collections import Counter

import numpy as np
import pytest

from openlpu import isa, timing, trace
from openlpu.cli import main
from openlpu.compiler.lower import compile_graph
from openlpu.compiler.models import mlp_classifier, transformer_block
from openlpu.config import preset
from openlpu.golden.lpu import LpuModel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _golden_runs(compiled, inputs):
    """The golden simulator's :class:`RunResult` of every segment (issue trace, stream log and
    operand provenance), SRAM kept from one segment to the next."""
    model = LpuModel(compiled.cfg)
    for (s, a), vec in compiled.sram_image(inputs).items():
        model.mem[s].load(a, vec)
    runs = []
    for sg in compiled.segments:
        model.load_program(sg.words())
        runs.append(model.run(max_cycles=sg.cycles + 1000, trace=True, provenance=True))
    return runs


def _block():
    """The transformer block on ``tiny``: two segments, MEM, VXM (VOP, VRED, VFUNC), SXM
    transposes and one MXM plane."""
    model = transformer_block(seed=0, d=8, seq=8)
    x = model.quantize_input(np.random.default_rng(0).normal(0, 1, (8, 8)))
    return compile_graph(model.graph, preset("tiny"), 8), {"x": x}


def _mlp16():
    """The fp16 MLP on ``small``, 8 rows: fp16 weight loads (two streams), SXM lane shifts, two
    MXM planes."""
    model = mlp_classifier(seed=0, fp16=True)
    return compile_graph(model.graph, preset("small"), 8), {"x": model.quantize_input(model.x_test[:8])}


def _block_duo():
    """The transformer block on ``duo`` (two superlanes): the MXM, SXM and reduction finish
    ``wavefront_span`` later than on one superlane."""
    model = transformer_block(seed=0, d=16, seq=16)
    x = model.quantize_input(np.random.default_rng(0).normal(0, 1, (16, 16)))
    return compile_graph(model.graph, preset("duo"), 16), {"x": x}


@pytest.fixture(scope="module", params=[_block, _mlp16, _block_duo], ids=["block-tiny", "mlp16-small", "block-duo"])
def case(request):
    """``(compiled, trace dict, golden runs)`` of one program."""
    compiled, inputs = request.param()
    runs = _golden_runs(compiled, inputs)
    assert all(r.done and not r.error for r in runs)
    return compiled, trace.trace_events(compiled), runs


def _names(events, kind):
    """``{pid or (pid, tid): name}`` of the ``process_name`` / ``thread_name`` metadata."""
    return {(e["pid"] if kind == "process" else (e["pid"], e["tid"])): e["args"]["name"]
            for e in events if e["ph"] == "M" and e["name"] == f"{kind}_name"}


def _slices(events, cat):
    return [e for e in events if e["ph"] == "X" and e["cat"] == cat]


def _bases(runs):
    """Absolute start cycle of each segment, from the golden cycle counts."""
    return list(np.cumsum([0] + [r.cycles for r in runs[:-1]]))


def test_trace_file_is_json_with_one_track_per_used_queue(case, tmp_path):
    """The written file loads as JSON with ``traceEvents``; its processes are ``program``,
    ``units``, ``streams`` and exactly one per queue holding an instruction other than END
    (named by the queue), and every instruction slice lies in its own queue's process."""
    compiled, _, _ = case
    path = tmp_path / "t.json"
    trace.write_trace(compiled, path)
    data = json.loads(path.read_text())
    events = data["traceEvents"]
    procs = _names(events, "process")
    used = {q for sg in compiled.segments for q, ins in sg.program.items() if any(i.op.name != "END" for i in ins)}
    queue_tracks = [n for n in procs.values() if n in isa.queues(compiled.cfg)]
    assert sorted(queue_tracks) == sorted(used)
    assert sorted(set(procs.values()) - used) == ["program", "streams", "units"]
    for e in _slices(events, "instr"):
        assert procs[e["pid"]] == e["args"]["queue"]


def test_no_two_slices_of_a_track_overlap(case):
    """Perfetto drops an "X" slice that overlaps another on its thread without nesting in it; no
    two slices of one (pid, tid) overlap at all, and every slice lasts at least a cycle. Thread
    ids are not 0 and each belongs to one process (Perfetto keys threads by tid, as on Linux)."""
    _, data, _ = case
    tracks, owner = {}, {}
    for e in data["traceEvents"]:
        if e["ph"] == "X" or e["name"] == "thread_name":
            assert e["tid"] != 0 and owner.setdefault(e["tid"], e["pid"]) == e["pid"], e
        if e["ph"] == "X":
            assert e["dur"] >= 1, e
            tracks.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    for spans in tracks.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_every_instruction_once_at_its_issue_cycle(case):
    """The instruction slices, as (queue, segment cycle, text), are exactly the golden
    simulator's issues, each once; a slice starts at its segment's start plus its issue cycle."""
    compiled, data, runs = case
    names, bases = isa.queues(compiled.cfg), _bases(runs)
    golden = Counter((names[q], k, t, str(ins)) for k, r in enumerate(runs) for t, q, _, ins in r.trace)
    got = _slices(data["traceEvents"], "instr")
    mine = Counter((e["args"]["queue"], e["args"]["segment"], e["ts"] - bases[e["args"]["segment"]], e["args"]["text"])
                   for e in got)
    assert mine == golden
    assert len(got) == sum(golden.values())


def test_durations_are_the_latencies(case):
    """Every slice's duration is :func:`openlpu.trace.latency` of its instruction (TRANS: until
    its tile's first column); for an instruction that writes a stream, the golden simulator's
    stream log has that unit writing that stream exactly ``dur - 1`` cycles after the issue
    (the value is in the register one cycle later); WRITE, LW and IW take the dispatch plus
    ``MEM_WRITE_LATENCY`` / nothing / ``MXM_INSTALL_DELAY``; and each segment's last slice ends
    on the golden simulator's cycle count of that segment, less the wavefront span (the run's
    tail while its stop climbs to the last superlane)."""
    compiled, data, runs = case
    cfg, bases, pos = compiled.cfg, _bases(runs), timing.floorplan(compiled.cfg)
    logs = [{(t, p, s) for t, p, s, _ in r.stream_log} for r in runs]
    fixed = {"WRITE": timing.MEM_WRITE_LATENCY, "LW": 0, "IW": timing.MXM_INSTALL_DELAY}
    ends = {}
    for e in _slices(data["traceEvents"], "instr"):
        ins, k = _instr(e), e["args"]["segment"]
        if ins.op.name != "TRANS":
            assert e["dur"] == trace.latency(cfg, ins, isa.queue_unit(e["args"]["queue"])[1]), e
        if ins.op.name in fixed:
            assert e["dur"] == timing.ICU_DISPATCH_LATENCY + fixed[ins.op.name], e
        if "dst" in [f.name for f in ins.op.fields]:
            unit_pos = pos[isa.queue_slice(e["args"]["queue"])]
            assert (e["ts"] - bases[k] + e["dur"] - 1, unit_pos, ins["dst"]) in logs[k], e
        ends[k] = max(ends.get(k, 0), e["ts"] + e["dur"] - bases[k])
    span = timing.wavefront_span(cfg)        # the run ends when its stop reaches the last superlane
    assert [ends[k] + span for k in range(len(runs))] == [r.cycles for r in runs]
    assert sum(r.cycles for r in runs) == compiled.predicted_cycles


def _instr(event):
    """The instruction of a slice, parsed back from its text (the assembler's syntax)."""
    from openlpu.asm import assemble_line
    return assemble_line(event["args"]["text"])


def test_stream_values_are_what_the_golden_simulator_delivers(case):
    """Every stream value slice: its producer's unit wrote that stream in the cycle before the
    slice starts (golden stream log); every read it lists executes within the slice, the last one
    in its final cycle, and the golden provenance says the reader got that producer's value."""
    compiled, data, runs = case
    cfg, bases = compiled.cfg, _bases(runs)
    names, pos = isa.queues(cfg), timing.floorplan(cfg)
    logs = [{(t, p, s) for t, p, s, _ in r.stream_log} for r in runs]
    values = trace.stream_values(compiled)
    assert values and len(_slices(data["traceEvents"], "stream")) == len(values)
    for v in values:
        p, k = v.producer, v.producer.segment
        assert (v.start - 1 - bases[k], pos[isa.queue_slice(p.queue)], (v.direction, v.stream)) in logs[k]
        if not v.reads:
            assert v.end == v.start + 1
            continue
        assert max(r.execute for r, _ in v.reads) == v.end - 1
        for r, field in v.reads:
            assert v.start <= r.execute < v.end
            got = runs[k].reads[(names.index(r.queue), r.local, field)]
            plane = v.stream - r.instr[field][1]
            assert got[plane] == (names.index(p.queue), p.local), (v, r)


def test_unit_busy_counts_the_golden_issues(case):
    """Each unit's busy cycles are the golden simulator's issues on its queue (CONFIG excluded),
    its busy fraction that over the total cycles, shown in the unit's track name."""
    compiled, data, runs = case
    names, total = isa.queues(compiled.cfg), sum(r.cycles for r in runs)
    issued = Counter(names[q] for r in runs for _, q, _, ins in r.trace if ins.op.name != "CONFIG")
    occ = data["otherData"]["occupancy"]
    assert set(occ) == set(issued)
    threads = _names(data["traceEvents"], "thread")
    units_pid = next(pid for pid, n in _names(data["traceEvents"], "process").items() if n == "units")
    for q, n in issued.items():
        assert occ[q] == pytest.approx(n / total, abs=1e-4)
        assert f"{q} {100 * n / total:.1f}% busy" in [name for (pid, _), name in threads.items() if pid == units_pid]
        busy = [e for e in _slices(data["traceEvents"], "busy") if e["args"]["unit"] == q]
        assert sum(e["dur"] for e in busy) == n


def test_png_is_written(case, tmp_path):
    """``write_trace(..., png=)`` writes a PNG file beside the JSON."""
    pytest.importorskip("matplotlib")
    compiled, _, _ = case
    trace.write_trace(compiled, tmp_path / "t.json", png=tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes()[:8] == PNG_MAGIC


def test_cli_trace_writes_json_and_png(tmp_path, capsys):
    """``openlpu trace --model mlp`` writes a trace whose predicted cycles equal the last slice
    end, and the PNG; an unknown model is a clear error with status 2."""
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "mlp.json", tmp_path / "mlp.png"
    assert main(["trace", "--model", "mlp", "--preset", "tiny", "--rows", "8", "-o", str(out), "--png", str(png)]) == 0
    data = json.loads(out.read_text())
    ends = [e["ts"] + e["dur"] for e in _slices(data["traceEvents"], "instr")]
    assert max(ends) == data["otherData"]["predicted_cycles"]
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert "ui.perfetto.dev" in capsys.readouterr().out
    assert main(["trace", "--model", "gpt", "-o", str(out)]) == 2
    assert "unknown model 'gpt'" in capsys.readouterr().err


def test_bad_inputs_are_clear_errors():
    """Not a compiled program, a queue with SYNC, and an instruction with no result are
    ``ValueError`` naming the problem."""
    with pytest.raises(ValueError, match="not a compiled program"):
        trace.trace_events(object())
    compiled, _ = _block()
    compiled.segments[0].program["vxm"].insert(0, isa.make("SYNC"))
    with pytest.raises(ValueError, match="vxm uses SYNC/NOTIFY"):
        trace.trace_events(compiled)
    with pytest.raises(ValueError, match="END has no completion"):
        trace.latency(compiled.cfg, isa.make("END"))


# --- roofline ------------------------------------------------------------------------------------

def _dense(cfg, rows, k, n, fp16=False):
    from openlpu.bench.bench_compiler import dense, dense16
    g, _, _ = (dense16 if fp16 else dense)(rows, k, n)
    return compile_graph(g, cfg, rows)


@pytest.mark.parametrize("fp16", [False, True], ids=["int8", "fp16"])
def test_roofline_points_are_under_their_bounds(fp16):
    """For dense layers on ``tiny``: achieved MACs/cycle over the MXM peak is the compiler's own
    utilization figure; no point is above the weight-load or the SRAM bound; an int8 layer whose
    rows fit the accumulator loads each padded weight byte exactly once."""
    from openlpu.bench import roofline
    cfg = preset("tiny")
    L, ceil = cfg.lanes, roofline.ceilings(cfg)
    for rows, k, n in [(1, L, L), (4, 2 * L, L), (cfg.mxm_acc_depth, 2 * L, 3 * L)]:
        c = _dense(cfg, rows, k, n, fp16)
        f = roofline.figures(c)
        peak = ceil["peak_fp16" if fp16 else "peak_int8"]
        assert f["macs_per_cycle"] / peak == pytest.approx(c.report["mxm_utilization"])
        rate = ceil["weight_rate_fp16" if fp16 else "weight_rate_int8"]
        assert f["macs_per_cycle"] <= f["macs_per_weight_byte"] * rate
        assert f["macs_per_cycle"] <= f["macs_per_sram_byte"] * ceil["sram_rate"]
        if not fp16:
            assert f["weight_bytes"] == -(-k // L) * -(-n // L) * L * L


def test_roofline_png(tmp_path):
    """``roofline.plot`` writes a PNG for a group of rows."""
    pytest.importorskip("matplotlib")
    from openlpu.bench import roofline
    cfg = preset("tiny")
    rows = [{"M": m, "K": 8, "N": 8, **roofline.figures(_dense(cfg, m, 8, 8))} for m in (1, 8)]
    path = roofline.plot(cfg, {"int8 GEMM": rows}, tmp_path / "roof.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
