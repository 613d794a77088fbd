"""Registers in a row: the one delay-line helper every unit uses.

A fixed latency is the chip's contract (``openlpu/timing.py``); the control
that travels beside a datapath (a destination stream, a valid bit, a pc) is
delayed by the same number of registers with :func:`delay`, or with
:func:`taps` where every stage of the line is used.
"""

from amaranth.hdl import Signal, Value
from amaranth.lib import data

__all__ = ["register", "delay", "taps"]


def register(m, value, name, shape=None, reset_less=False, domain="sync"):
    """A register named ``name`` that loads ``value`` every cycle; returns it."""
    if shape is None:
        shape = value.shape() if isinstance(value, data.View) else Value.cast(value).shape()
    reg = Signal(shape, name=name, reset_less=reset_less)
    m.d[domain] += reg.eq(value)
    return reg


def taps(m, value, cycles, name, shape=None, reset_less=False, last_name=None, domain="sync"):
    """Every stage of :func:`delay`: ``[value, value delayed 1 cycle, ..., delayed cycles]``.

    The registers are named ``{name}_d1 .. {name}_d{cycles}`` (``last_name``
    names the final one instead).
    """
    line = [value]
    for i in range(cycles):
        reg_name = last_name if (last_name is not None and i == cycles - 1) else f"{name}_d{i + 1}"
        line.append(register(m, line[-1], reg_name, shape=shape, reset_less=reset_less, domain=domain))
    return line


def delay(m, value, cycles, name, shape=None, reset_less=False, last_name=None, domain="sync"):
    """``value`` delayed by ``cycles`` registers named ``{name}_d1 .. {name}_d{cycles}``.

    ``last_name`` names the final register instead; ``cycles == 0`` returns
    ``value`` itself.
    """
    return taps(m, value, cycles, name, shape=shape, reset_less=reset_less, last_name=last_name,
                domain=domain)[-1]
