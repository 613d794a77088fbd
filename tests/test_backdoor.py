"""Memories loaded by backdoor and through the host port give the same runs, bit for bit and
cycle for cycle, on both simulators; both equal the golden ISA simulator."""

import pytest

from openlpu.compiler.lower import compile_graph
from openlpu.compiler.models import mlp_classifier
from openlpu.compiler.runtime import rtl_cases
from openlpu.config import preset
from openlpu.golden.ecc import ecc_encode
from openlpu.verif.backdoor import public_memories, read_vector
from openlpu.isa import queues
from openlpu.verif.lpu_cases import PATHS, compare, expect, run_rtl
from openlpu.verif.lpu_directed import directed_cases
from openlpu.verif.regress import seed_cases
from openlpu.verif.runner import SIMULATORS, require_simulator

TINY = preset("tiny")


def _network_cases():
    """A small compiled MLP classifier: its per-segment cases and their count."""
    model = mlp_classifier(seed=3, features=8, hidden=(16,), classes=4, train=200, test=16, steps=50)
    compiled = compile_graph(model.graph, TINY, 8)
    return rtl_cases(compiled, {"x": model.quantize_input(model.x_test[:8])})


def test_read_vector_follows_the_host_port_rule():
    words = [ecc_encode(0x0123456789ABCDEF), ecc_encode(42) ^ 1 << 5]     # clean, one bit flipped
    assert read_vector(words) == (0x0123456789ABCDEF).to_bytes(8, "little") + (42).to_bytes(8, "little")
    assert read_vector([words[0], ecc_encode(42) ^ 0b11]) == bytes(16)   # two bits: uncorrectable


def test_public_memories_name_every_column_and_queue():
    names = public_memories(TINY)
    assert ("lpu.mem.slice3_0", "col0") in names and ("lpu.icu.vxm", "imem") in names
    assert len(names) == TINY.mem_slices * TINY.lanes // 8 + len(queues(TINY))


@pytest.mark.parametrize("sim", SIMULATORS)
def test_backdoor_and_host_port_agree(sim):
    """Random programs, the directed ECC cases (corrupted words) and a compiled network."""
    require_simulator(sim)
    cases, _ = seed_cases(TINY, range(3000, 3006))
    cases += [c for _, c, _ in directed_cases(TINY) if c["corrupt"]] + _network_cases()
    expected = expect(TINY, cases)
    got = {path: run_rtl(TINY, sim, cases, "tiny", path=path) for path in PATHS}
    for path in PATHS:
        compare(expected, got[path], [f"{path} case {i}" for i in range(len(cases))])
    for i, (b, h) in enumerate(zip(got["backdoor"], got["host"])):
        b, h = ({k: v for k, v in o.items() if k != "seconds"} for o in (b, h))
        assert b == h, f"case {i}: backdoor {b} != host port {h}"
