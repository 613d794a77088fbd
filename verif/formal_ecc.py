"""Formal properties of the SECDED (72, 64) encoder and decoder (:mod:`openlpu.rtl.ecc`).

:class:`EccRoundTrip` feeds a free 64-bit ``data`` through :class:`EccEncoder`,
flips ``nflips`` (0, 1 or 2) bits of the 72-bit word at free distinct
positions ``a`` and ``b``, and decodes it with :class:`EccDecoder`. All four
are unconstrained inputs on every cycle (``AnyConst``/``AnySeq``-style), so
the proof covers all ``2**64 * (1 + 72 + 72*71/2)`` cases at once:

* no flip: data returned, no flag, syndrome 0;
* one flip anywhere (data, check or parity bit): data corrected, ``corrected``
  set, ``detected`` clear;
* two distinct flips: ``detected`` set, ``corrected`` clear, data 0 (never a
  miscorrection, never a silent pass).

The logic is combinational, so one step already quantifies over every input;
k-induction (k = 8) makes it unbounded in time as well.
"""

from amaranth.hdl import Assert, Assume, Const, Cover, Module, Mux, Signal, Elaboratable

from openlpu.golden.ecc import DATA_BITS, WORD_BITS
from openlpu.rtl.ecc import EccDecoder, EccEncoder
from openlpu.verif.formal import Proof

__all__ = ["EccRoundTrip", "PROOFS", "build"]


class EccRoundTrip(Elaboratable):
    """Property module: encode, flip 0..2 bits, decode.

    Arguments
    ---------
    decoder : callable
        Builds the decoder under proof (default :class:`EccDecoder`; the
        tests pass a broken one to show the proof can fail).
    claim_double_corrected : bool
        State a false property (double flips are corrected) to show a wrong
        claim fails.

    Free inputs: ``data`` (64), ``a``, ``b`` (7, flip positions), ``nflips`` (2).
    """

    def __init__(self, decoder=EccDecoder, claim_double_corrected=False):
        self.data = Signal(DATA_BITS)
        self.a = Signal(7)
        self.b = Signal(7)
        self.nflips = Signal(2)
        self._decoder = decoder
        self._wrong = claim_double_corrected
        self.counts = [0, 0, 0]

    def ports(self):
        return [self.data, self.a, self.b, self.nflips]

    def elaborate(self, platform):
        m = Module()
        counts = [0, 0, 0]

        def check(kind, stmt):
            counts[kind] += 1
            m.d.comb += stmt

        enc = m.submodules.enc = EccEncoder()
        dec = m.submodules.dec = self._decoder()
        one = Const(1, WORD_BITS)
        flip_a = Mux(self.nflips >= 1, one << self.a, 0)
        flip_b = Mux(self.nflips == 2, one << self.b, 0)
        m.d.comb += [enc.data.eq(self.data), dec.word.eq(enc.word ^ flip_a ^ flip_b)]

        check(1, Assume(self.a < WORD_BITS))
        check(1, Assume(self.b < WORD_BITS))
        check(1, Assume(self.a != self.b))
        check(1, Assume(self.nflips <= 2))

        with m.If(self.nflips == 0):
            check(0, Assert(~dec.corrected & ~dec.detected, "no flip: no flag"))
            check(0, Assert(dec.syndrome == 0, "no flip: syndrome 0"))
            check(0, Assert(dec.data == self.data, "no flip: data returned"))
        with m.Elif(self.nflips == 1):
            check(0, Assert(dec.corrected & ~dec.detected, "single flip: flagged corrected"))
            check(0, Assert(dec.data == self.data, "single flip: data corrected"))
        with m.Else():
            if self._wrong:
                check(0, Assert(dec.corrected, "(false claim) double flip corrected"))
            check(0, Assert(dec.detected & ~dec.corrected, "double flip: flagged detected"))
            check(0, Assert(dec.data == 0, "double flip: no miscorrected data passed on"))

        # every class of flip is reachable (the assumptions leave them all possible)
        check(2, Cover((self.nflips == 0) & (self.data != 0)))
        check(2, Cover((self.nflips == 1) & (self.a < DATA_BITS)))             # a data bit
        check(2, Cover((self.nflips == 1) & (self.a >= DATA_BITS) & (self.a < WORD_BITS - 1)))  # a check bit
        check(2, Cover((self.nflips == 1) & (self.a == WORD_BITS - 1)))        # the parity bit
        check(2, Cover((self.nflips == 2) & (self.a < DATA_BITS) & (self.b >= DATA_BITS)))
        check(2, Cover((self.nflips == 2) & (self.b == WORD_BITS - 1)))
        self.counts = counts
        return m


def build(**kwargs):
    """``build`` of a :class:`~openlpu.verif.formal.Proof`: ``(module, ports, counts)``."""
    from amaranth.hdl import Fragment
    probe = EccRoundTrip(**kwargs)
    Fragment.get(probe, None)
    mod = EccRoundTrip(**kwargs)
    return mod, mod.ports(), tuple(probe.counts)


PROOFS = [
    Proof("ecc_secded", build, depth=8, induction=True, cover_depth=1,
          why_depth="combinational (pipeline depth 0): k-induction with k = 0 + 8"),
]
