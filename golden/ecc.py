"""Golden SECDED code of the SRAM: 64 data bits + 8 check bits per word.

The code is an extended Hamming (72, 64) code. Data bit ``i`` sits at
Hamming position :data:`DATA_POSITIONS` ``[i]`` (the ``i``-th integer in
3..71 that is not a power of two). A stored word is 72 bits:

* bits 0..63: data,
* bits 64..70: check bits ``c0..c6``; ``c_j`` is the XOR of the data bits whose
  position has bit ``j`` set,
* bit 71: overall parity, the XOR of the 64 data and 7 check bits.

Syndrome (8 bits, bit-exact with the RTL): bits 0..6 = recomputed checks XOR
stored checks, bit 7 = XOR of all 72 stored bits. Decoding:

* syndrome 0: clean;
* bit 7 set, low bits 0: the parity bit itself flipped (data good, corrected);
* bit 7 set, low bits a power of two: a check bit flipped (corrected);
* bit 7 set, low bits a data position: that data bit flipped (corrected);
* bit 7 set, low bits not a position (72..127): uncorrectable (detected);
* bit 7 clear, low bits non-zero: double error (detected).
"""

import numpy as np

__all__ = ["DATA_BITS", "CHECK_BITS", "WORD_BITS", "DATA_POSITIONS", "ecc_encode", "ecc_decode",
           "encode_vector", "syndromes", "ECC_CLEAN", "ECC_CORRECTED", "ECC_DETECTED"]

DATA_BITS = 64
CHECK_BITS = 8
WORD_BITS = DATA_BITS + CHECK_BITS

#: Hamming position of each data bit.
DATA_POSITIONS = tuple(p for p in range(3, 72) if p & (p - 1))
assert len(DATA_POSITIONS) == DATA_BITS
_POS_TO_BIT = {p: i for i, p in enumerate(DATA_POSITIONS)}

ECC_CLEAN, ECC_CORRECTED, ECC_DETECTED = 0, 1, 2

#: Mask of the data bits feeding check bit ``j``.
CHECK_MASKS = tuple(sum(1 << i for i, p in enumerate(DATA_POSITIONS) if p >> j & 1) for j in range(7))


def _parity(x):
    return x.bit_count() & 1


def _checks_of_byte(k, byte):
    """Check bits of data that is ``byte`` in byte ``k`` and zero elsewhere."""
    data = byte << (8 * k)
    return sum(_parity(data & m) << j for j, m in enumerate(CHECK_MASKS))


#: Check bits are XORs of data bits, so those of a word are the XOR of its bytes' (a table look-up each).
_CHECK_TABLE = tuple(tuple(_checks_of_byte(k, b) for b in range(256)) for k in range(8))


def _checks(data):
    t = _CHECK_TABLE
    return (t[0][data & 0xFF] ^ t[1][data >> 8 & 0xFF] ^ t[2][data >> 16 & 0xFF] ^ t[3][data >> 24 & 0xFF]
            ^ t[4][data >> 32 & 0xFF] ^ t[5][data >> 40 & 0xFF] ^ t[6][data >> 48 & 0xFF] ^ t[7][data >> 56])


def ecc_encode(data):
    """The 72-bit stored word of 64-bit ``data``."""
    data = int(data)
    if not 0 <= data < 1 << DATA_BITS:
        raise ValueError(f"ecc_encode: data must be a 64-bit unsigned integer, not {data!r}")
    c = _checks(data)
    p = _parity(data) ^ _parity(c)
    return data | c << DATA_BITS | p << (WORD_BITS - 1)


def ecc_decode(word):
    """Decode a 72-bit stored word.

    Returns
    -------
    (data, status, syndrome)
        ``status`` is :data:`ECC_CLEAN`, :data:`ECC_CORRECTED` or
        :data:`ECC_DETECTED`; ``data`` is the corrected data (0 when
        detected: uncorrectable data is never returned).
    """
    word = int(word)
    if not 0 <= word < 1 << WORD_BITS:
        raise ValueError(f"ecc_decode: word must be a 72-bit unsigned integer, not {word!r}")
    data = word & ((1 << DATA_BITS) - 1)
    low = _checks(data) ^ (word >> DATA_BITS & 0x7F)
    overall = _parity(word)
    syndrome = low | overall << 7
    if syndrome == 0:
        return data, ECC_CLEAN, 0
    if overall:
        if low == 0 or low & (low - 1) == 0:
            return data, ECC_CORRECTED, syndrome
        if low in _POS_TO_BIT:
            return data ^ (1 << _POS_TO_BIT[low]), ECC_CORRECTED, syndrome
    return 0, ECC_DETECTED, syndrome


# --- many words at once (numpy) -------------------------------------------------------------
# The 8 stored bits above the data (check bits and overall parity) are XORs of data bits too:
# those of a word are the XOR of its bytes' entries in _TOP.
_TOP = np.array([[_checks_of_byte(k, b) | ((b.bit_count() + _checks_of_byte(k, b).bit_count()) & 1) << 7
                  for b in range(256)] for k in range(8)], dtype=np.uint8)
# (top bits of the data) ^ (stored top bits) -> syndrome: bit 7 becomes the parity of all 72 bits
_SYNDROME = np.array([x ^ ((x & 0x7F).bit_count() & 1) << 7 for x in range(256)], dtype=np.uint8)
_BYTE = np.arange(8)


def _top(data_bytes):
    """The stored top byte (check bits, parity) of each row of ``(n, 8)`` data bytes."""
    return np.bitwise_xor.reduce(_TOP[_BYTE, data_bytes], axis=1)


def encode_vector(vec):
    """:func:`ecc_encode` of each 8-byte column of ``vec`` (``uint8``, little-endian words): a list of ints."""
    cols = np.asarray(vec, dtype=np.uint8).reshape(-1, 8)
    data = cols.view("<u8")[:, 0].tolist()
    return [d | t << DATA_BITS for d, t in zip(data, _top(cols).tolist())]


def syndromes(words):
    """The syndrome :func:`ecc_decode` computes for each stored 72-bit word of ``words`` (a list of
    ints): ``(data bytes (n, 8) uint8, syndromes (n,) uint8)``; a word with syndrome 0 is clean and
    its data bytes are the data."""
    mask = (1 << DATA_BITS) - 1
    data = np.array([w & mask for w in words], dtype="<u8")
    stored = np.array([w >> DATA_BITS for w in words], dtype=np.uint8)
    data_bytes = data.view(np.uint8).reshape(-1, 8)
    return data_bytes, _SYNDROME[_top(data_bytes) ^ stored]
