"""What every unit at a floorplan position has: its ICU queues and its stream stop.

The chip top (:class:`openlpu.rtl.lpu.Lpu`) connects each :class:`Slice`'s
``issue`` and ``unit_error`` to the ICU ports of the queues it names in
:attr:`Slice.queues`, and its ``streams`` to the
:class:`~openlpu.rtl.fabric.StreamStop` at its position.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import require_config
from .fabric import StreamAccess
from .icu import IssueLayout, UnitErrorLayout

__all__ = ["Slice"]


class Slice(wiring.Component):
    """Base of the unit components at floorplan positions.

    A subclass sets :attr:`PLANES` and :attr:`WRITERS`, the shape of its
    write port (:func:`~openlpu.rtl.fabric.StreamAccess`), and passes the
    names of its queues and its own further members.

    Members
    -------
    issue : In(IssueLayout(cfg)).array(len(queues))
        The instruction of each queue of :attr:`queues`, in its execute cycle.
    unit_error : Out(UnitErrorLayout(cfg)).array(len(queues))
        The errors the unit detects in execution, per queue (always 0 for a
        unit that detects none).
    streams : Out(StreamAccess(cfg.superlane, PLANES, WRITERS, reads)).array(superlanes)
        The stream fabric at the position, one access per superlane (its
        ``lanes_per_superlane`` lanes): the ``reads`` read ports the unit
        reads its operands through (or, with ``reads=None``, every stream's
        tap), and its writes. Superlane ``s`` runs ``superlane_offset(s)``
        cycles behind superlane 0 (:mod:`openlpu.rtl.wavefront`).

    ``reads``: the most operand streams the unit reads in one cycle, or None
    for the whole tap.
    """

    PLANES = None
    WRITERS = None

    def __init__(self, cfg, queues, members, reads=None):
        self._cfg = require_config(cfg)
        self.queues = tuple(queues)
        self.reads = reads
        super().__init__({
            "issue": In(IssueLayout(cfg)).array(len(self.queues)),
            "unit_error": Out(UnitErrorLayout(cfg)).array(len(self.queues)),
            "streams": Out(StreamAccess(cfg.superlane, self.PLANES, self.WRITERS, reads)).array(cfg.superlanes),
            **members,
        })

    @property
    def access(self):
        """``(PLANES, WRITERS, reads)``: the shape of the unit's stream access."""
        return self.PLANES, self.WRITERS, self.reads
