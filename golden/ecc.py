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

__all__ = ["DATA_BITS", "CHECK_BITS", "WORD_BITS", "DATA_POSITIONS", "ecc_encode", "ecc_decode",
           "ECC_CLEAN", "ECC_CORRECTED", "ECC_DETECTED"]

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
    return bin(x).count("1") & 1


def _checks(data):
    return sum(_parity(data & m) << j for j, m in enumerate(CHECK_MASKS))


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
