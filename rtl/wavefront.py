"""The superlane wavefront: an instruction moves up one superlane per cycle, and so does its data.

A unit at a floorplan position holds ``superlanes`` shares of its lanes, one
per superlane (:attr:`openlpu.config.LpuConfig.superlane`). The instruction
its queue issues reaches superlane 0 in its execute cycle and superlane ``s``
``superlane_offset(s)`` cycles later (:func:`wave`, a register per step,
as the reference chip passes instructions from superlane to superlane), so the
data a lane-wise unit puts on a stream for superlane ``s`` is that much behind
superlane 0's, and every stream stop of superlane ``s`` sees it so.

A unit that combines lanes of several superlanes (an MXM plane, the SXM, the
VXM reduction) waits for the last one: it reads each superlane's operands at
that superlane's own time and :func:`deskew` lines them up, executes
``wavefront_span(cfg)`` cycles after superlane 0's execute cycle
(``wave(...)[-1]``), and :func:`reskew` puts each superlane's share of
its results on that superlane's streams ``superlane_offset(s)`` later. The
timing rule and its consequences are in :mod:`openlpu.timing` ("superlanes").
"""

from amaranth.hdl import Cat

from openlpu import timing

from .pipeline import delay, taps

__all__ = ["wave", "deskew", "reskew"]


def wave(m, value, cfg, name):
    """``value`` (an issued instruction, or control decoded from it in superlane 0's
    cycle) as each superlane sees it: element ``s`` is ``value`` delayed by
    ``superlane_offset(s)`` cycles (element 0 is ``value`` itself)."""
    line = taps(m, value, timing.wavefront_span(cfg), name)
    return [line[timing.superlane_offset(s)] for s in range(cfg.superlanes)]


def deskew(m, cfg, parts, name):
    """The superlanes' shares ``parts`` (read at each superlane's own time) lined up at the
    last superlane's time: ``Cat`` of ``parts[s]`` delayed by ``span - superlane_offset(s)``."""
    span = timing.wavefront_span(cfg)
    return Cat(*(delay(m, part, span - timing.superlane_offset(s), f"{name}_sl{s}")
                 for s, part in enumerate(parts)))


def reskew(m, cfg, value, name):
    """``value`` (computed at the last superlane's time, in superlane 0's frame one for all)
    as superlane ``s`` receives it: delayed by ``superlane_offset(s)``; returns the list.
    ``value`` may be a list, one share per superlane (``value[s]`` is superlane ``s``'s own
    lanes): then only that share is delayed for superlane ``s``, not the whole vector."""
    shares = value if isinstance(value, (list, tuple)) else [value] * cfg.superlanes
    return [delay(m, share, timing.superlane_offset(s), f"{name}_sl{s}") for s, share in enumerate(shares)]
