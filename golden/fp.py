"""Bit-exact IEEE-754 reference arithmetic on raw bit patterns.

Values travel as raw bits (``uint16`` for fp16, ``uint32`` for fp32) so that
NaN payloads, signed zeros and subnormals are compared exactly.

Policy (shared with :mod:`openlpu.rtl.fp`):

* rounding is round-to-nearest, ties to even;
* subnormal inputs and outputs are supported (no flush to zero);
* every NaN result is the canonical quiet NaN (:data:`F32_QNAN`,
  :data:`F16_QNAN`); NaN payloads are not propagated.
"""

import numpy as np

__all__ = ["F32_QNAN", "F16_QNAN", "f32_add", "f16_mul_f32", "canonical_f32"]

F32_QNAN = 0x7FC00000
F16_QNAN = 0x7E00


def canonical_f32(bits):
    """Replace every NaN in a ``uint32`` array by :data:`F32_QNAN`."""
    bits = np.asarray(bits, dtype=np.uint32)
    nan = ((bits & 0x7F800000) == 0x7F800000) & ((bits & 0x007FFFFF) != 0)
    return np.where(nan, np.uint32(F32_QNAN), bits).astype(np.uint32)


def f32_add(a, b):
    """fp32 + fp32 -> fp32 (RNE), on ``uint32`` bit patterns.

    numpy's float32 addition is a correctly rounded IEEE-754 addition with
    subnormals (numpy does not enable flush-to-zero), so it is the model; only
    the NaN encoding is normalised.
    """
    a = np.asarray(a, dtype=np.uint32)
    b = np.asarray(b, dtype=np.uint32)
    with np.errstate(all="ignore"):
        r = (a.view(np.float32) + b.view(np.float32)).astype(np.float32)
    return canonical_f32(r.view(np.uint32))


def f16_mul_f32(a, b):
    """fp16 x fp16 -> fp32, on ``uint16`` inputs and a ``uint32`` result.

    The product of two fp16 values is exact in fp32 (11 x 11 significand bits
    fit in 24; exponents from 2**-48 to 2**32 are in fp32's normal range), so
    no rounding happens. Inf x 0 and NaN operands give :data:`F32_QNAN`.
    """
    a = np.asarray(a, dtype=np.uint16).view(np.float16).astype(np.float32)
    b = np.asarray(b, dtype=np.uint16).view(np.float16).astype(np.float32)
    with np.errstate(all="ignore"):
        r = (a * b).astype(np.float32)
    return canonical_f32(r.view(np.uint32))
