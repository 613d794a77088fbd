"""Formal proofs (verif/formal*.py) and the checks that the flow cannot pass vacuously."""

import pytest
from amaranth.hdl import Assert, Assume, Cover, Elaboratable, Module, Signal
from amaranth.lib import wiring

from openlpu.golden.ecc import DATA_BITS, WORD_BITS
from openlpu.rtl.ecc import EccDecoder
from openlpu.verif import formal, formal_ecc, formal_icu, formal_mxm


@pytest.fixture(autouse=True)
def _require_tools():
    """Skip without the formal tools, fail instead under ``OPENLPU_REQUIRE_SIMS=1``
    (a fixture, not a ``skipif`` mark: marks are evaluated before fixtures, so the
    skip would win; tests/test_runner.py checks both outcomes)."""
    formal.require_tools()


@pytest.mark.parametrize("proof", formal.all_proofs(), ids=lambda p: p.name)
def test_proof(proof, tmp_path):
    result = formal.prove(proof, tmp_path)
    print(f"{proof.name}: {result.counts} asserts/assumes/covers, {result.seconds:.1f} s")
    assert result.passed and result.counts[0] > 0


class _BrokenDecoder(wiring.Component):
    """EccDecoder with a planted bug: data bit 5 inverted when data bits 3 and 40 are set."""

    def __init__(self):
        super().__init__(EccDecoder().signature)

    def elaborate(self, platform):
        m = Module()
        dec = m.submodules.dec = EccDecoder()
        bug = self.word[3] & self.word[40]
        m.d.comb += [dec.word.eq(self.word), self.corrected.eq(dec.corrected), self.detected.eq(dec.detected),
                     self.syndrome.eq(dec.syndrome), self.data.eq(dec.data ^ (bug << 5))]
        return m


def test_broken_decoder_fails(tmp_path):
    proof = formal.Proof("ecc_broken", lambda: formal_ecc.build(nflips=0, decoder=_BrokenDecoder),
                         depth=1, cover_depth=1, stateless=True)
    with pytest.raises(formal.FormalError, match="FAILED"):
        formal.prove(proof, tmp_path)
    assert (tmp_path / "ecc_broken" / "bmc_cex.vcd").exists()     # the counterexample trace


def test_false_claim_fails(tmp_path):
    proof = formal.Proof("ecc_false_claim", lambda: formal_ecc.build(nflips=2, a_range=(64, 71),
                                                                     claim_double_corrected=True),
                         depth=1, cover_depth=1, stateless=True)
    with pytest.raises(formal.FormalError, match="FAILED"):
        formal.prove(proof, tmp_path)


@pytest.mark.slow
def test_mxm_wrong_latency_fails(tmp_path):
    proof = formal.Proof("mxm_skew", lambda: formal_mxm.build(skew=1), depth=10, cover_depth=4)
    with pytest.raises(formal.FormalError, match="FAILED"):
        formal.prove(proof, tmp_path)


def test_mxm_datapath_wrong_latency_fails(tmp_path):
    """The datapath proof (products cut free) rejects a latency one cycle too long."""
    proof = formal.Proof("mxm_dp_skew", lambda: formal_mxm.build(part="datapath", skew=1),
                         depth=formal_mxm.DATAPATH.depth, cover_depth=4, cut=formal_mxm.DATAPATH.cut)
    with pytest.raises(formal.FormalError, match="FAILED"):
        formal.prove(proof, tmp_path)


def test_cut_point_must_match(tmp_path):
    """A cut point naming no wire is an error, not a silently weaker model."""
    proof = formal.Proof("mxm_bad_cut", formal_mxm.build_part("datapath"), depth=2, cover_depth=2,
                         cut=("dut.no_such_wire",))
    with pytest.raises(formal.FormalError, match="matched no wire"):
        formal.prove(proof, tmp_path)


def test_mxm_stale_install_claim_fails(tmp_path):
    """The tiles proof rejects a reference whose install misses a row loaded that cycle."""
    proof = formal.Proof("mxm_stale", lambda: formal_mxm.build(part="tiles", stale_install=True),
                         depth=formal_mxm.TILES.depth, cover_depth=4)
    with pytest.raises(formal.FormalError, match="FAILED"):
        formal.prove(proof, tmp_path)


def test_icu_wrong_nop_claim_fails(tmp_path):
    """Claiming one idle cycle too many for NOP n is refused with a counterexample from reset."""
    proof = formal.Proof("icu_wrong_nop", lambda: formal_icu.build(wrong_nop=True), depth=10, cover_depth=14)
    with pytest.raises(formal.FormalError, match="BMC failed"):
        formal.prove(proof, tmp_path)
    assert (tmp_path / "icu_wrong_nop" / "bmc_cex.vcd").exists()


def test_icu_swapped_mem_queues_claim_fails(tmp_path):
    """Claiming that the read queue issues only WRITE/SCATTER and the write queue only READ,
    GATHER and SCRUB is refused: each queue does issue its own unit's instructions."""
    proof = formal.Proof("icu_swapped_mem", lambda: formal_icu.build(swap_mem_units=True), depth=10, cover_depth=14)
    with pytest.raises(formal.FormalError, match="BMC failed"):
        formal.prove(proof, tmp_path)


class _Unreachable(Elaboratable):
    def __init__(self):
        self.a = Signal(4)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [Assume(self.a < 4), Assert(self.a != 5), Cover(self.a == 9)]
        return m


def test_unreached_cover_fails(tmp_path):
    def build():
        mod = _Unreachable()
        return mod, [mod.a], (1, 1, 1)
    with pytest.raises(formal.FormalError, match="Unreached cover"):
        formal.prove(formal.Proof("unreached", build, depth=1, cover_depth=2, stateless=True), tmp_path)


def test_dropped_properties_fail(tmp_path):
    def build():
        mod = _Unreachable()
        return mod, [mod.a], (2, 1, 1)           # claims one assert more than the module holds
    with pytest.raises(formal.FormalError, match="dropped properties"):
        formal.prove(formal.Proof("dropped", build, depth=1, stateless=True), tmp_path)


def test_stateless_claim_checked(tmp_path):
    proof = formal.Proof("not_stateless", lambda: formal_mxm.build(), depth=1, stateless=True)
    with pytest.raises(formal.FormalError, match="registers"):
        formal.prove(proof, tmp_path)


def test_double_flip_split_covers_every_pair():
    ranges = [p.name for p in formal_ecc.PROOFS if p.name.startswith("ecc_double_flip")]
    bounds = [tuple(int(x) for x in name.split("_a")[1].split("_")) for name in ranges]
    assert bounds[0][0] == 0 and bounds[-1][1] == WORD_BITS - 1
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert DATA_BITS == 64
