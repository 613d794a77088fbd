"""The VXM control slot, bit by bit: part of the instruction set (:mod:`openlpu.isa`).

A VOP names one of :data:`openlpu.isa.VXM_SLOTS` control slots; CONFIG loads
a slot as :func:`vxm_control_words` little-endian 32-bit words of the packed
:func:`VxmControl`. Its fields, from the least significant bit:

* ``etype`` (:data:`ETYPE_BITS` bits): the element type, a code of
  :data:`TYPES` (5..7 are not types: :func:`pack_control` and the assembler
  reject them, and a CONFIG that writes one is BAD_FIELD).
* ``alu[i]`` for each of the ``vxm_alus`` chained ALUs (:data:`AluControl`):
  ``op`` (:data:`OP_BITS` bits, a code of :data:`OPS`; all 32 are defined),
  ``src`` (:data:`SRC_BITS` bit: 0 means ``y = b, z = imm``, 1 means
  ``y = imm, z = b``) and ``imm`` (:data:`IMM_BITS` bits).

What the ops do to the values is the golden model's (:mod:`openlpu.golden.vxm`);
the RTL (:mod:`openlpu.rtl.vxm`) takes the layout from here.
"""

from amaranth.hdl import unsigned
from amaranth.lib import data

__all__ = ["ETYPE_BITS", "OP_BITS", "SRC_BITS", "IMM_BITS", "TYPES", "OPS", "AluControl", "VxmControl",
           "vxm_control_words", "control_fields", "pack_control", "unpack_control"]

#: Field widths: the element type, and per ALU the op, the operand source and the immediate.
ETYPE_BITS, OP_BITS, SRC_BITS, IMM_BITS = 3, 5, 1, 32
#: Element type codes.
TYPES = {"int8": 0, "int16": 1, "int32": 2, "fp16": 3, "fp32": 4}
#: ALU op codes; every code of :data:`OP_BITS` bits is defined.
OPS = {"nop": 0, "add": 1, "sub": 2, "mul": 3, "min": 4, "max": 5, "and": 6, "or": 7,
       "xor": 8, "shl": 9, "shr": 10, "sar": 11, "relu": 12, "abs": 13, "neg": 14, "not": 15,
       "fma": 16, "eq": 17, "ne": 18, "lt": 19, "le": 20, "gt": 21, "ge": 22, "sel": 23,
       "cvt": 24, "rqmul": 25, "rqout": 26, "rsub": 27, "mov": 28, "fms": 29, "absdiff": 30, "sqr": 31}
assert sorted(OPS.values()) == list(range(1 << OP_BITS))

#: One ALU's control.
AluControl = data.StructLayout({"op": unsigned(OP_BITS), "src": unsigned(SRC_BITS), "imm": unsigned(IMM_BITS)})


def VxmControl(cfg):
    """One slot's control for ``cfg.vxm_alus`` chained ALUs (fields in the module docstring)."""
    return data.StructLayout({"etype": unsigned(ETYPE_BITS),
                              "alu": data.ArrayLayout(AluControl, cfg.vxm_alus)})


def vxm_control_words(cfg):
    """32-bit CONFIG words of one packed :func:`VxmControl` (what CONFIG loads per slot)."""
    return -(-VxmControl(cfg).size // 32)


def control_fields(cfg):
    """The fields of :func:`VxmControl` as ``[(name, offset, width)]``, LSB first: ``etype``
    then, per ALU ``i``, ``alu{i}.op``, ``alu{i}.src``, ``alu{i}.imm``."""
    layout = VxmControl(cfg)
    alus = layout["alu"]
    fields = [("etype", layout["etype"].offset, ETYPE_BITS)]
    for i in range(cfg.vxm_alus):
        base = alus.offset + i * AluControl.size
        fields += [(f"alu{i}.{name}", base + f.offset, f.shape.width) for name, f in AluControl]
    return fields


def _check_alu(i, op, src, imm):
    if op not in OPS.values():
        raise ValueError(f"ALU {i}: op {op!r} is not a VXM op code")
    if src not in (0, 1):
        raise ValueError(f"ALU {i}: src must be 0 or 1, not {src!r}")
    if not -(1 << 31) <= imm < (1 << 32):
        raise ValueError(f"ALU {i}: imm {imm!r} does not fit 32 bits")


def pack_control(cfg, etype, ops, srcs, imms):
    """``(etype, ops, srcs, imms)`` -> list of 32-bit words, little-endian; a clear
    ``ValueError`` on a bad field (a negative ``imm`` is its 32-bit two's complement)."""
    if etype not in TYPES.values():
        raise ValueError(f"element type {etype!r} is not one of {sorted(TYPES.values())}")
    if not len(ops) == len(srcs) == len(imms) == cfg.vxm_alus:
        raise ValueError(f"need {cfg.vxm_alus} ops, srcs and imms, got {len(ops)}, {len(srcs)}, {len(imms)}")
    values = {"etype": etype}
    for i, (op, src, imm) in enumerate(zip(ops, srcs, imms)):
        _check_alu(i, op, src, imm)
        values.update({f"alu{i}.op": op, f"alu{i}.src": src, f"alu{i}.imm": imm & 0xFFFFFFFF})
    value = 0
    for name, offset, _ in control_fields(cfg):
        value |= values[name] << offset
    return [(value >> (32 * k)) & 0xFFFFFFFF for k in range(vxm_control_words(cfg))]


def unpack_control(cfg, words):
    """32-bit words -> ``(etype, ops, srcs, imms)`` (imms unsigned)."""
    if len(words) != vxm_control_words(cfg):
        raise ValueError(f"need {vxm_control_words(cfg)} words, got {len(words)}")
    value = sum((int(w) & 0xFFFFFFFF) << (32 * k) for k, w in enumerate(words))
    f = {name: (value >> offset) & ((1 << width) - 1) for name, offset, width in control_fields(cfg)}
    alus = range(cfg.vxm_alus)
    return (f["etype"], [f[f"alu{i}.op"] for i in alus], [f[f"alu{i}.src"] for i in alus],
            [f[f"alu{i}.imm"] for i in alus])
