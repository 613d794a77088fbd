"""Compiler placement: instructions at the earliest free cycles, on streams that deliver what
the schedule intends (checked on the golden ISA simulator), never before their data."""

import numpy as np
import pytest

from openlpu import isa, timing
from openlpu.asm import vxm_slot_words
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
    c = Compiled(sch.cfg, [segment(sch)], {n: [p] for n, p in outputs.items()}, weights, list(outputs))
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
    t0, lws = place_tile(sch, TINY, 0, [[(2, a)] for a in addrs], 5, ready)
    rel = sch.route("mem2", 0, timing.MEM_READ_LATENCY, "mxw0")[2]
    assert lws == L and t0 == 30 + rel - 3              # row 3 (address 7) read in cycle 30, no later
    reads, loads = _instrs(sch, "mem2", "READ"), _instrs(sch, "mxw0", "LW")
    assert [t for t, _ in loads] == list(range(t0, t0 + L))
    assert [t for t, _ in reads] == [t - rel for t, _ in loads]
    assert [i["addr"] for _, i in reads] == addrs and [i["addr"] for _, i in loads] == list(range(L))
    _run(sch, {(2, a): _vec(np.full(L, a)) for a in addrs})


def test_place_tile_skips_a_busy_cycle():
    rows = [[(0, 0)], [(0, 1)]]
    t_free, _ = place_tile(Scheduler(TINY), TINY, 0, rows, 0, {})
    sch = Scheduler(TINY)
    sch.place("mxw0", t_free + 1, isa.make("IW"))
    assert place_tile(sch, TINY, 0, rows, 0, {})[0] == t_free + 2     # both LWs after it


def _shadow(sch, weights):
    """Plane 0's shadow tile after the scheduler's program ran on the golden simulator, with
    ``weights`` in SRAM (the schedule checker runs first, :func:`_run`)."""
    from openlpu.golden.lpu import LpuModel
    _run(sch, weights)
    model = LpuModel(sch.cfg)
    for (sl, a), vec in weights.items():
        model.mem[sl].load(a, vec)
    model.load_program(segment(sch).words())
    assert model.run().done
    return model.planes[0].shadow


SMALL = preset("small")


@pytest.mark.parametrize("fp16", [False, True], ids=["int8", "fp16"])
@pytest.mark.parametrize("layout", ["striped", "one_slice"])
def test_place_tile_loads_r_rows_per_lw(layout, fp16):
    """small (2 rows per LW): rows striped over two slices (two pairs for fp16) load two a cycle,
    lanes / 2 LWs; rows in one slice (pair) load one a cycle, lanes LWs of 2 and 1 rows from
    the top of each group down. The shadow tile holds every row either way."""
    n = SMALL.lanes
    planes = [(2, 3), (4, 5)] if fp16 else [(2,), (4,)]
    pick = (lambda k: planes[k % 2]) if layout == "striped" else (lambda k: planes[0])
    rows = [[(sl, 10 + k) for sl in pick(k)] for k in range(n)]
    sch = Scheduler(SMALL)
    t0, lws = place_tile(sch, SMALL, 0, rows, 0, {})
    loads = _instrs(sch, "mxw0", "LW")
    assert lws == len(loads) == (n // 2 if layout == "striped" else n)
    assert [t for t, _ in loads] == list(range(t0, t0 + lws))
    assert {i["rows"] for _, i in loads} == ({2} if layout == "striped" else {1, 2})
    rng = np.random.default_rng(4)
    weights = {(sl, a): rng.integers(0, 256, n).astype(np.uint8) for row in rows for sl, a in row}
    got = _shadow(sch, weights)
    for k, row in enumerate(rows):
        want = weights[row[0]].astype(np.uint16) | (weights[row[1]].astype(np.uint16) << 8 if fp16 else 0)
        np.testing.assert_array_equal(got[k], want, err_msg=f"row {k}")


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
    vxm = sorted(t for k in range(TINY.vxm_alus) for t in sch.placed[isa.vxm_column_queue(k)])
    assert vxm == sorted([t0 + o for o in offs.values()] + [t1 + o for o in offs.values()])
    reads = _instrs(sch, "mem0", "READ")
    assert all(t >= 40 for t, i in reads if i["addr"] == 1)     # row 1 is read once it is written
    assert {o.addr(r, 0) for o in outs for r in (0, 1)} == {i["addr"] for _, i in
                                                           _instrs(sch, f"mew{outs[0].slice}", "WRITE")}


def test_checker_skips_junk_slots_but_not_true_rows():
    """A tile from one slice at small loads top down: the junk slots' intents are ANY and the
    checker passes; pointing a true row's intent at another READ makes it fail."""
    from openlpu.compiler.place_mxm import ANY
    from openlpu.compiler.runtime import ScheduleError
    n = SMALL.lanes
    rows = [[(2, 10 + k)] for k in range(n)]
    sch = Scheduler(SMALL)
    place_tile(sch, SMALL, 0, rows, 0, {})
    weights = {(2, 10 + k): np.full(n, k, np.uint8) for k in range(n)}
    _run(sch, weights)
    key = next(k for k, want in sch.intents.items() if k[0] == "mxw0" and ANY in want)
    true = [j for j, w in enumerate(sch.intents[key]) if w != ANY][0]
    q, t = sch.intents[key][true]
    sch.intents[key][true] = (q, t + 1)
    with pytest.raises(ScheduleError, match="mxw0"):
        _run(sch, weights)


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


def _vop(dst, length):
    return isa.make("VOP", 0, 4, (0, 0), (0, 0), (0, dst), length)


def test_books_refuse_a_vop_on_a_column_a_chain_enters():
    """A 4-ALU VOP on column 0 in cycle 0 holds column i in cycle 3i (ALU latency 3). The books
    refuse a VOP on column 1 in cycle 3, as the golden model stops such a program with
    VXM_FAULT, and find no column for a 3-ALU VOP of that cycle once column 0's queue is busy
    too; a cycle later column 1 is free, on the books and on the chip."""
    from openlpu.golden.lpu import LpuModel
    lat = timing.VXM_ALU_LATENCY
    sch = Scheduler(TINY)
    sch.place("vxm", 0, _vop(0, 4))
    with pytest.raises(AssertionError, match=r"vxm1 in cycle 3: its chain meets the chain of the VOP on vxm in cycle 0"):
        sch.place("vxm1", lat, _vop(4, 1))
    sch.place("vxm", lat, isa.make("CONFIG", 0, 0))
    assert sch.vxm_columns([(lat, 3)]) is None
    assert sch.vxm_columns([(lat + 1, 3)]) == [1]
    for t, code in ((lat, isa.ErrorCode.VXM_FAULT), (lat + 1, isa.ErrorCode.NONE)):
        program = {q: [isa.make("END")] for q in isa.queues(TINY)}
        program.update(vxm=[_vop(0, 4), isa.make("END")], vxm1=[isa.make("NOP", t), _vop(4, 1), isa.make("END")])
        model = LpuModel(TINY)
        model.load_program({q: [isa.encode(i) for i in ins] for q, ins in program.items()})
        assert model.run(max_cycles=200).error == code


def test_tree_branches_share_a_cycle_on_different_columns():
    """Two 1-ALU VOP branches under one VOP issue in the same cycle on two columns, without a
    delay; two full-length ones both need column 0 and the tree finds no placement (its
    branches carry no broadcast to delay)."""
    from openlpu.compiler.rowops import Recipe, read, vop
    short = [("int8", [("add", 1, 1)]), ("int8", [("add", 0, 0)])]
    full = [("int8", [("add", 1, 1)] * TINY.vxm_alus), ("int8", [("add", 0, 0)])]
    root, offs = placed_tree(Recipe("pair", short, vop(1, vop(0, read()), vop(0, read())), False), TINY, copies=2)
    assert len(offs) == 3 and len(set(offs.values())) == 2
    xps = [TensorPlace(0, 0, 1, L, 1), TensorPlace(1, 0, 1, L, 1)]      # both branches read x at once
    outs = [TensorPlace(TINY.mem_slices - 1, 0, 1, L, 1)]
    sch, words = Scheduler(TINY), isa.vxm_control_words(TINY)
    config = [(slot * words + w, v) for slot, (etype, alus) in enumerate(short)
              for w, v in vxm_slot_words(TINY, etype, alus)]
    for t, (reg, value) in enumerate(config):
        sch.place("vxm", t, isa.make("CONFIG", reg, value))
    t = place_rowop(sch, TINY, root, offs, xps, outs, 0, 0, len(config) - min(offs.values()), {})
    branch = t + min(offs.values())
    assert [k for k in range(TINY.vxm_alus) if branch in sch.placed[isa.vxm_column_queue(k)]] == [2, 3]
    out = _run(sch, {(0, 0): _vec(np.arange(L)), (1, 0): _vec(np.arange(L))}, {"y": outs[0]})["y"]
    np.testing.assert_array_equal(out[0], 2 * (np.arange(L) + 1))
    with pytest.raises(ValueError, match="pair: no collision-free VXM placement"):
        placed_tree(Recipe("pair", full, vop(1, vop(0, read()), vop(0, read())), False), TINY, copies=2)
