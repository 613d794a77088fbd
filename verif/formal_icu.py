"""Hook for formal properties of the ICU instruction queues (:mod:`openlpu.rtl.icu`).

No proof is registered yet: ``PROOFS`` is empty. The invariants to add here,
as a property module in the style of :mod:`openlpu.verif.formal_ecc` (free
host writes and ``start`` as unconstrained inputs, ``Assume`` for the host
protocol, bounded depth >= program length + 8 or k-induction):

* lock step: every queue's cycle counter equals the run's cycle counter;
* no queue issues after ``done`` or ``error`` until the next ``start``;
* an illegal encoding stops the chip with its error code and is never issued;
* ``busy`` falls exactly ``ICU_DRAIN_CYCLES`` after the stop;
* a REPEAT n, d issues exactly n more copies with addresses stepped by d.

Register a proof by appending a :class:`~openlpu.verif.formal.Proof` to
``PROOFS``; ``tests/test_formal.py`` and ``python -m openlpu.verif.formal``
then run it with the others.
"""

__all__ = ["PROOFS"]

PROOFS = []
