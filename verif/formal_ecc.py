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

The logic is combinational (the flow checks the SMT-LIB2 model has no
register), so one solver step already quantifies over every input and the
result holds on every cycle. SAT solvers are slow on parity, so the proof is
split: no flip, single flip, and double flips by ranges of the lower flip
position ``a`` (with ``b > a``: every unordered pair exactly once).
"""

from amaranth.hdl import Assert, Assume, Const, Cover, Module, Mux, Signal, Elaboratable

from openlpu.golden.ecc import DATA_BITS, WORD_BITS
from openlpu.rtl.ecc import EccDecoder, EccEncoder
from openlpu.verif.formal import Proof, build_counted

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

    def __init__(self, decoder=EccDecoder, claim_double_corrected=False, nflips=None, a_range=None):
        self._only = nflips
        self._a_range = a_range
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
        if self._only is not None:
            check(1, Assume(self.nflips == self._only))
        if self._only == 2:
            # a flip pattern is a set: b > a covers every pair once
            check(1, Assume(self.b > self.a))
        if self._a_range is not None:
            check(1, Assume((self.a >= self._a_range[0]) & (self.a < self._a_range[1])))

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

        # every class of flip in scope is reachable (the assumptions leave them all possible)
        only = self._only
        lo, hi = self._a_range or (0, WORD_BITS)
        if only in (None, 0):
            check(2, Cover((self.nflips == 0) & (self.data != 0)))
        if only in (None, 1):
            check(2, Cover((self.nflips == 1) & (self.a < DATA_BITS)))             # a data bit
            check(2, Cover((self.nflips == 1) & (self.a >= DATA_BITS) & (self.a < WORD_BITS - 1)))  # a check bit
            check(2, Cover((self.nflips == 1) & (self.a == WORD_BITS - 1)))        # the parity bit
        if only in (None, 2):
            check(2, Cover((self.nflips == 2) & (self.a == lo) & (self.b == WORD_BITS - 1)))
            check(2, Cover((self.nflips == 2) & (self.a == hi - 1) & (self.b == hi)))
        self.counts = counts
        return m


def build(**kwargs):
    """``build`` of a :class:`~openlpu.verif.formal.Proof`: ``(module, ports, counts)``."""
    return build_counted(EccRoundTrip, **kwargs)


#: Width of the ranges of the first flip position the double-flip proof is split into
#: (each range is one solver run of well under 60 s; together they cover every pair).
DOUBLE_SPLIT = 8

PROOFS = [
    Proof("ecc_no_flip", lambda: build(nflips=0), depth=1, cover_depth=1, stateless=True,
          why_depth="combinational, no state: one step quantifies over every input"),
    Proof("ecc_single_flip", lambda: build(nflips=1), depth=1, cover_depth=1, stateless=True,
          why_depth="combinational, no state: one step quantifies over every input"),
] + [
    Proof(f"ecc_double_flip_a{lo}_{min(lo + DOUBLE_SPLIT, WORD_BITS - 1)}",
          (lambda lo=lo: build(nflips=2, a_range=(lo, min(lo + DOUBLE_SPLIT, WORD_BITS - 1)))),
          depth=1, cover_depth=1, stateless=True,
          why_depth="combinational, no state: one step quantifies over every input")
    for lo in range(0, WORD_BITS - 1, DOUBLE_SPLIT)
]
