"""Compiler emission: the SRAM image round-trips through the readback, programs are the
scheduler's books encoded, the report adds up."""

import numpy as np
import pytest

from openlpu import isa
from openlpu.compiler.alloc import TensorPlace
from openlpu.compiler.emit import Compiled, Segment, segment, tensor_vectors
from openlpu.compiler.graph import Graph
from openlpu.compiler.lower import compile_graph
from openlpu.compiler.scheduler import Scheduler
from openlpu.config import preset

TINY, SMALL = preset("tiny"), preset("small")


def _readback(c, name, image):
    return c.read_output(name, [image.get((s, b + i), np.zeros(c.cfg.lanes, np.uint8))
                                for s, b, n in c.windows(name) for i in range(n)])


@pytest.mark.parametrize("cfg", [TINY, SMALL], ids=["tiny", "small"])
@pytest.mark.parametrize("rows,cols,fp16,per_vec", [(1, 1, False, 0), (5, 13, False, 0), (3, 40, False, 0),
                                                    (4, 13, True, 0), (4, 13, True, "k"), (2, 1, True, "k")])
def test_sram_image_round_trips_through_readback(cfg, rows, cols, fp16, per_vec):
    rng = np.random.default_rng(rows * cols)
    per_vec = cfg.fp16_k if per_vec == "k" else 0
    ct = -(-cols // (per_vec or cfg.lanes))
    place = TensorPlace(1, 7, rows, cols, ct, 2 if fp16 else None, per_vec)
    if fp16:
        value = rng.integers(0, 1 << 16, (rows, cols)).astype(np.uint16).view(np.float16)   # NaNs included
    else:
        value = rng.integers(-128, 128, (rows, cols)).astype(np.int8)
    const = {(0, 3): np.arange(cfg.lanes, dtype=np.uint8)}
    c = Compiled(cfg, [], {"t": [place]}, const, ["t"])
    image = c.sram_image({"t": value})
    assert set(image) == set(const) | {(s, place.addr(r, j)) for s in place.slices for r in range(rows)
                                       for j in range(ct)}
    assert c.windows("t") == [(s, 7, rows * ct) for s in place.slices]
    got = _readback(c, "t", image)
    assert got.dtype == value.dtype and got.shape == value.shape
    np.testing.assert_array_equal(got.view(np.uint8), value.view(np.uint8))
    n = per_vec or cfg.lanes
    for (s, a), vec in tensor_vectors(cfg, place, value).items():    # padding lanes are zero
        assert len(vec) == cfg.lanes and not vec[n:].any()


def test_segments_are_the_books_encoded():
    sch = Scheduler(TINY)
    sch.place("mem0", 2, isa.make("READ", 5, (0, 0)))
    sch.place("mem0", 3, isa.make("READ", 6, (0, 0)))
    sg = segment(sch)
    assert sg.program["mem0"] == [isa.make("NOP", 2), isa.make("READ", 5, (0, 0)), isa.make("REPEAT", 1, 1),
                                  isa.make("END")]
    assert sg.cycles == 5 and sg.intents is sch.intents
    assert sg.words()["mem0"] == [isa.encode(i) for i in sg.program["mem0"]]
    two = Compiled(TINY, [sg, Segment(sg.program, 7, {})], {}, {}, [])
    assert two.predicted_cycles == 12
    with pytest.raises(ValueError, match="2 segments"):
        two.program


def test_report_adds_up():
    rng = np.random.default_rng(1)
    g = Graph()
    x = g.input("x", (None, 20))
    g.output(g.dense(x, rng.integers(-128, 128, (20, 9)).astype(np.int8), 3, 11))
    c = compile_graph(g, TINY, 13)
    rep = c.report
    assert rep["predicted_cycles"] == c.predicted_cycles == sum(rep["segment_cycles"])
    assert rep["segments"] == len(c.segments) and rep["macs"] == 13 * 20 * 9
    assert rep["instructions"] == sum(len(v) for sg in c.segments for v in sg.program.values())
    assert rep["sram_bytes"] == rep["sram_vectors"] * TINY.lanes
    assert rep["mxm_peak"] == "int8" and 0 < rep["mxm_utilization"] < 1
    assert rep["mxm_utilization"] == rep["macs"] / (TINY.lanes ** 2 * TINY.mxm_planes * rep["predicted_cycles"])
