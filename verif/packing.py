"""Pack and unpack Amaranth payloads as the integers cocotb sees on ports.

Amaranth flattens a ``data.Layout`` port to one vector (``act__payload``);
these helpers convert between that integer and Python/numpy values using the
very layout object the RTL was built from, so testbenches never hard-code a
bit offset.
"""

import numpy as np

__all__ = ["pack", "unpack", "planes_to_int", "int_to_planes"]


def pack(layout, value):
    """The integer a port of ``layout`` carries for ``value`` (dict/list/int)."""
    return layout.const(value).as_bits()


def unpack(layout, bits):
    """A read-only view of ``bits`` as ``layout`` (fields as attributes/items)."""
    return layout.from_bits(int(bits))


def planes_to_int(planes):
    """Byte planes ``(n, lanes)`` (uint8) as the integer of a ``StreamGroup`` port."""
    return int.from_bytes(np.ascontiguousarray(planes, dtype=np.uint8).tobytes(), "little")


def int_to_planes(value, count, lanes):
    """Inverse of :func:`planes_to_int`: shape ``(count, lanes)`` uint8."""
    raw = int(value).to_bytes(count * lanes, "little")
    return np.frombuffer(raw, dtype=np.uint8).reshape(count, lanes).copy()
