"""Compiler placement: instructions at the earliest free cycles, on streams that deliver what
the schedule intends (checked on the golden ISA simulator), never before their data."""

import numpy as np
import pytest

from openlpu import isa, timing
from openlpu.compiler.alloc import TensorPlace
from openlpu.compiler.emit import Compiled, segment
from openlpu.compiler.place_mxm import place_tile
from openlpu.compiler.place_sxm import place_shift, place_transpose
from openlpu.compiler.place_vxm import place_rowop
from openlpu.compiler.rowops import gelu_recipe, placed_tree
from openlpu.compiler.runtime import run
from openlpu.compiler.scheduler import Scheduler
from openlpu.config import preset

TINY = preset("tiny")
L = TINY.lanes


def _run(sch, weights, outputs=None):
    """Run the scheduler's program on the golden simulator (the schedule checker included) with
    ``weights`` in SRAM; the ``outputs`` ``{name: TensorPlace}`` read back."""
    outputs = outputs or {}
    c = Compiled(TINY, [segment(sch)], {n: [p] for n, p in outputs.items()}, weights, list(outputs))
    r = run(c, {})
    assert r.done and r.error == 0 and r.cycles == c.predicted_cycles
    return r.outputs


def _vec(values):
    return np.asarray(values, np.int8).view(np.uint8)


def _instrs(sch, q, op):
    return sorted((t, i) for t, i in sch.placed[q].items() if i.op.name == op)


def test_place_tile_reads_and_loads_on_consecutive_cycles_after_the_data():
    sch, ready = Scheduler(TINY), {(2, 7): 30}
    addrs = list(range(4, 4 + L))
    t0 = place_tile(sch, TINY, 0, 2, addrs, 5, ready)
    rel = sch.route("mem2", 0, timing.MEM_READ_LATENCY, "mxw0")[2]
    assert t0 == 30 + rel                                # waits for the last-written row, no longer
    reads, loads = _instrs(sch, "mem2", "READ"), _instrs(sch, "mxw0", "LW")
    assert [t for t, _ in loads] == list(range(t0, t0 + L))
    assert [t for t, _ in reads] == [t - rel for t, _ in loads]
    assert [i["addr"] for _, i in reads] == addrs and [i["addr"] for _, i in loads] == list(range(L))
    _run(sch, {(2, a): _vec(np.full(L, a)) for a in addrs})


def test_place_tile_skips_a_busy_cycle():
    t_free = place_tile(Scheduler(TINY), TINY, 0, 0, [0, 1], 0, {})
    sch = Scheduler(TINY)
    sch.place("mxw0", t_free + 1, isa.make("IW"))
    assert place_tile(sch, TINY, 0, 0, [0, 1], 0, {}) == t_free + 2     # both LWs after it


def test_place_shift_moves_lanes_down_after_the_source_is_written():
    sch, ready = Scheduler(TINY), {(0, 5): 12}
    place_shift(sch, TINY, (0, 5), 3, (1, 9), ready)
    (t_rd, _), = _instrs(sch, "mem0", "READ")
    (t_w, _), = _instrs(sch, "mew1", "WRITE")
    assert t_rd >= 12 and ready[(1, 9)] == t_w + timing.MEM_WRITE_LATENCY
    src = np.arange(1, L + 1)
    out = _run(sch, {(0, 5): _vec(src)}, {"y": TensorPlace(1, 9, 1, L, 1)})["y"]
    np.testing.assert_array_equal(out[0], np.concatenate([src[3:], np.zeros(3)]))


def test_place_transpose_writes_every_copy():
    rows, cols = L + 3, 5                                # two row tiles, one column tile
    x = np.random.default_rng(0).integers(-128, 128, (rows, cols)).astype(np.int8)
    xp = TensorPlace(0, 0, rows, cols, 1)
    outs = [TensorPlace(s, 0, cols, rows, 2) for s in (TINY.mem_slices - 1, TINY.mem_slices - 2)]
    weights = {(0, r): _vec(np.pad(x[r], (0, L - cols))) for r in range(rows)}
    weights[(0, 100)] = _vec(np.zeros(L))
    sch, ready = Scheduler(TINY), {}
    place_transpose(sch, TINY, xp, outs, ready, 100)
    assert set(ready) == {(o.slice, o.addr(c, rt)) for o in outs for c in range(cols) for rt in range(2)}
    got = _run(sch, weights, {f"y{k}": o for k, o in enumerate(outs)})
    for k in range(len(outs)):
        np.testing.assert_array_equal(got[f"y{k}"], x.T)


def test_place_rowop_issues_the_tree_at_its_offsets_after_t_min():
    root, offs = placed_tree(gelu_recipe(0.05, 0.03), TINY)
    xps = [TensorPlace(0, 0, 2, L, 1)]
    outs = [TensorPlace(TINY.mem_slices - 1, 0, 2, L, 1)]
    sch, ready = Scheduler(TINY), {(0, 1): 40}
    t0 = place_rowop(sch, TINY, root, offs, xps, outs, 0, 0, 10, ready)
    t1 = place_rowop(sch, TINY, root, offs, xps, outs, 1, 0, 10, ready)
    assert t0 >= 10 and t1 > t0
    vxm = sorted(sch.placed["vxm"])
    assert vxm == sorted([t0 + o for o in offs.values()] + [t1 + o for o in offs.values()])
    reads = _instrs(sch, "mem0", "READ")
    assert all(t >= 40 for t, i in reads if i["addr"] == 1)     # row 1 is read once it is written
    assert {o.addr(r, 0) for o in outs for r in (0, 1)} == {i["addr"] for _, i in
                                                           _instrs(sch, f"mew{outs[0].slice}", "WRITE")}


def test_a_slice_is_read_and_written_in_one_cycle():
    """READs go to a slice's read queue and WRITEs to its write queue, so both issue in one cycle;
    a READ of the address a WRITE of the same cycle stores intends (and gets) the old word, one a
    cycle later the new one. A WRITE on a read queue is refused."""
    sch = Scheduler(TINY)
    with pytest.raises(AssertionError, match="WRITE does not belong in queue mem1"):
        sch.place("mem1", 4, isa.make("WRITE", 3, (0, 0)))
    src, dst = TINY.mem_slices - 1, 1
    t_w = sch.route(f"mem{src}", 0, timing.MEM_READ_LATENCY, f"mew{dst}")[2]
    s_in = sch.find_stream(f"mem{src}", 0, timing.MEM_READ_LATENCY, f"mew{dst}")
    sch.take_stream(s_in, f"mem{src}", 0, timing.MEM_READ_LATENCY, f"mew{dst}", 1, "src", t_w)
    sch.place(f"mem{src}", 0, isa.make("READ", 2, s_in))
    sch.place(f"mew{dst}", t_w, isa.make("WRITE", 3, s_in))
    copies = []
    for k, t in enumerate((t_w, t_w + timing.MEM_WRITE_LATENCY)):
        sch.place(f"mem{dst}", t, isa.make("READ", 3, (1, 2)))       # nobody reads what they output
        sch.take_stream((1, 2), f"mem{dst}", t, timing.MEM_READ_LATENCY)
        copies.append(sch.intents[(f"mem{dst}", t, "mem")])
    assert copies == [[None], [(f"mew{dst}", t_w)]]
    new, old = _vec(np.arange(L)), _vec(-np.arange(L) - 1)
    out = _run(sch, {(src, 2): new, (dst, 3): old}, {"y": TensorPlace(dst, 3, 1, L, 1)})["y"]
    np.testing.assert_array_equal(out[0], new.view(np.int8))
