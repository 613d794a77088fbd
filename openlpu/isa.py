"""The instruction set, defined once.

The assembler (:mod:`openlpu.asm`), the disassembler, the golden ISA
simulator (:mod:`openlpu.golden.lpu`) and the RTL decoders
(:mod:`openlpu.rtl.lpu`) all read the tables of this module and of
:mod:`openlpu.vxm_control` (the VXM control slot that CONFIG loads); nothing
else knows a bit position. The ISA imports neither the RTL nor the golden
models: they import it.

Instruction word
----------------
Every instruction is one 64-bit word. Bits ``[5:0]`` are the opcode; the
operand fields follow at the fixed positions listed in :data:`OPS` (a field
name has the same position in every instruction of a unit, so each RTL
decoder slices its fields once). Unused bits must be zero. Opcode 0 is
reserved, so an all-zero word (unloaded instruction memory) is illegal.

Queues
------
Each functional slice has its own instruction queues (:func:`queues`): two per
MEM slice (``mem``: READ, GATHER, SCRUB on the SRAM's read port; ``mew``: WRITE,
SCATTER on its write port), one per VXM ALU column (``vxm`` for column 0,
``vxm1`` .. for the others), one for the SXM, and two per MXM plane
(activations and weights). Control instructions (NOP, REPEAT, SYNC, NOTIFY,
CONFIG, END) are legal in every queue; a unit instruction is legal only in a
queue of its unit (:class:`Unit`), so a WRITE in a ``mem`` queue or a READ in
a ``mew`` queue is ILLEGAL_OPCODE. The VXM's column queues all issue VOP;
VRED and VFUNC are ILLEGAL_OPCODE outside ``vxm``, and CONFIG (the control
table) is BAD_FIELD there.

VXM columns
-----------
A VOP issued by the queue of ALU column ``k`` runs a chain of ``len`` ALUs on
columns ``k .. k + len - 1`` (``len`` 0: through the last column, ``vxm_alus
- k`` ALUs); column ``k + i`` applies ALU ``i`` of the slot's control, so a
slot is a chain that may start on any column. ``k + len > vxm_alus`` is
BAD_FIELD. A VOP reaching its column in the cycle an earlier VOP's chain
enters that column is VXM_FAULT (:mod:`openlpu.golden.lpu`).

Streams
-------
A stream operand is 6 bits: bit 5 the direction (0 east, 1 west), bits
``[4:0]`` the stream number. A group of ``n`` streams (int16/fp16: 2,
int32/fp32: 4) is named by its first stream and must fit: ``number + n <=
streams``. In assembly, ``e3`` is east stream 3 and ``w0`` west stream 0.

CONFIG and SXM sub-ops
----------------------
CONFIG register ``slot * vxm_control_words(cfg) + w`` is word ``w`` of VXM
control slot ``slot`` (:func:`~openlpu.vxm_control.VxmControl`). An SXM
instruction's opcode is PASS's plus its :class:`SxmOp`; ``k`` must pass
:func:`k_is_legal`.
"""

import enum
from dataclasses import dataclass

from .vxm_control import TYPES as VXM_TYPES, AluControl, VxmControl, vxm_control_words

__all__ = [
    "WORD_BITS", "OPCODE_BITS", "STREAM_NUMBER_BITS", "MAX_STREAMS", "Unit", "Field", "OpSpec", "OPS", "BY_NAME", "BY_OPCODE",
    "ErrorCode", "Instr", "encode", "decode", "used_mask", "IsaError", "stream_name", "parse_stream",
    "queues", "queue_unit", "queue_slice", "VXM_SLOTS", "VOP_LEN_BITS", "VRED_OPS", "vop_columns", "vxm_column_queue", "STEP_FIELD", "SxmOp", "k_is_legal",
    "AluControl", "VxmControl", "vxm_control_words", "vxm_etype_field",
]

WORD_BITS = 64
OPCODE_BITS = 6
#: Bits of the stream number in a stream operand (below the direction bit): a
#: configuration has at most ``1 << STREAM_NUMBER_BITS`` streams per direction.
STREAM_NUMBER_BITS = 5
MAX_STREAMS = 1 << STREAM_NUMBER_BITS
#: VXM control slots written by CONFIG and named by VOP.
VXM_SLOTS = 4
#: Bits of a VOP's chain length ``len`` (0: through the last column); ``vxm_alus`` is at most
#: ``(1 << VOP_LEN_BITS) - 1``.
VOP_LEN_BITS = 5
#: VRED reduction ops: int32 wrapping sum, int32 max, fp32 sum (RNE, fixed tree order).
VRED_OPS = {"sum": 0, "max": 1, "fsum": 2}


class Unit(enum.Enum):
    CTRL = "ctrl"   # control: legal in every queue
    MEM = "mem"     # a MEM slice's read queue (the SRAM's read port: READ, GATHER, SCRUB)
    MEW = "mew"     # a MEM slice's write queue (its write port: WRITE, SCATTER)
    VXM = "vxm"
    SXM = "sxm"
    MXM = "mxm"     # an MXM plane's activation queue
    MXW = "mxw"     # an MXM plane's weight queue (loads run beside the activations)


class ErrorCode(enum.IntEnum):
    """Why the chip stopped (status register ``ERROR_CODE``)."""
    NONE = 0
    ILLEGAL_OPCODE = 1   # undefined opcode, or a unit instruction in another unit's queue
    BAD_FIELD = 2        # an operand out of range: stream, group, slot, count, unused bits set
    BAD_ADDRESS = 3      # an SRAM or accumulator address past the end (also gather/scatter indices)
    ECC_POISON = 4       # a chip-side read returned an uncorrectable (double-bit) ECC error
    REPEAT_EMPTY = 5     # REPEAT with no earlier unit instruction in the queue
    SXM_FAULT = 6        # a TRANSPOSE row with no tile started, or a lane op colliding with a column
    DEADLOCK = 7         # every queue is parked on SYNC or ended, and no NOTIFY can come
    VXM_FAULT = 8        # a VOP reaching an ALU column that an earlier VOP's chain enters in that cycle


class IsaError(ValueError):
    """A malformed instruction or assembly line; the message names what is wrong."""


@dataclass(frozen=True)
class Field:
    """An operand: ``name``, bit position ``lo``, ``width``, and ``kind``.

    kind: ``"u"`` unsigned, ``"s"`` signed (two's complement), ``"stream"``
    (6-bit stream operand).
    """
    name: str
    lo: int
    width: int
    kind: str = "u"

    @property
    def hi(self):
        return self.lo + self.width


@dataclass(frozen=True)
class OpSpec:
    """One instruction: mnemonic, opcode, unit and operand fields (assembly order)."""
    name: str
    opcode: int
    unit: Unit
    fields: tuple

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def _s(name, lo):
    return Field(name, lo, 1 + STREAM_NUMBER_BITS, "stream")


# Field positions shared within a unit.
_ADDR = Field("addr", 6, 16)
_N = Field("n", 6, 16)
_D = Field("d", 22, 16, "s")

OPS = (
    # --- control, every queue -------------------------------------------------------
    OpSpec("NOP", 0x01, Unit.CTRL, (_N,)),
    OpSpec("REPEAT", 0x02, Unit.CTRL, (_N, _D)),
    OpSpec("SYNC", 0x03, Unit.CTRL, ()),
    OpSpec("NOTIFY", 0x04, Unit.CTRL, ()),
    OpSpec("CONFIG", 0x05, Unit.CTRL, (Field("reg", 6, 8), Field("value", 14, 32))),
    OpSpec("END", 0x06, Unit.CTRL, ()),
    # --- MEM slice --------------------------------------------------------------------
    OpSpec("READ", 0x10, Unit.MEM, (_ADDR, _s("dst", 22))),
    OpSpec("WRITE", 0x11, Unit.MEW, (_ADDR, _s("src", 28))),
    OpSpec("GATHER", 0x12, Unit.MEM, (_s("idx", 34), _s("dst", 22))),
    OpSpec("SCATTER", 0x13, Unit.MEW, (_s("idx", 34), _s("src", 28))),
    OpSpec("SCRUB", 0x14, Unit.MEM, (_ADDR,)),
    # --- MXM plane --------------------------------------------------------------------
    OpSpec("LW", 0x20, Unit.MXW, (_ADDR, _s("src", 22), Field("fp16", 40, 1), Field("rows", 41, 6))),
    OpSpec("IW", 0x21, Unit.MXW, ()),
    OpSpec("ABC", 0x22, Unit.MXM, (_ADDR, _s("src", 22), _s("dst", 28), Field("fp16", 40, 1))),
    OpSpec("ACC", 0x23, Unit.MXM, (_ADDR, _s("src", 22), _s("dst", 28), Field("fp16", 40, 1))),
    # --- VXM --------------------------------------------------------------------------
    OpSpec("VOP", 0x30, Unit.VXM, (Field("slot", 6, 2), Field("n", 8, 3), _s("a", 11), _s("b", 17),
                                   _s("dst", 23), Field("len", 29, VOP_LEN_BITS))),
    OpSpec("VRED", 0x31, Unit.VXM, (Field("op", 6, 2), _s("a", 11), _s("dst", 23))),
    OpSpec("VFUNC", 0x32, Unit.VXM, (Field("fn", 6, 2), _s("a", 11), _s("dst", 23))),
    # --- SXM --------------------------------------------------------------------------
    OpSpec("PASS", 0x38, Unit.SXM, (_s("a", 6), _s("dst", 12))),
    OpSpec("SHUP", 0x39, Unit.SXM, (Field("k", 30, 16), _s("a", 6), _s("dst", 12))),
    OpSpec("SHDN", 0x3A, Unit.SXM, (Field("k", 30, 16), _s("a", 6), _s("dst", 12))),
    OpSpec("ROT", 0x3B, Unit.SXM, (Field("k", 30, 16), _s("a", 6), _s("dst", 12))),
    OpSpec("PERM", 0x3C, Unit.SXM, (_s("a", 6), _s("b", 18), _s("dst", 12))),
    OpSpec("DIST", 0x3D, Unit.SXM, (Field("k", 30, 16), _s("a", 6), _s("dst", 12))),
    OpSpec("SEL", 0x3E, Unit.SXM, (_s("a", 6), _s("b", 18), _s("c", 24), _s("dst", 12))),
    OpSpec("TRANS", 0x3F, Unit.SXM, (_s("a", 6), _s("dst", 12), Field("start", 46, 1))),
)

BY_NAME = {op.name: op for op in OPS}
BY_OPCODE = {op.opcode: op for op in OPS}
#: Each instruction's field positions in ``Instr.args``, by field name.
_ARG_INDEX = {op.name: {f.name: i for i, f in enumerate(op.fields)} for op in OPS}

#: The field REPEAT steps by ``d`` in each instruction that has one.
STEP_FIELD = {"READ": "addr", "WRITE": "addr", "SCRUB": "addr", "LW": "addr", "ABC": "addr", "ACC": "addr"}


def _check_tables():
    for op in OPS:
        used = (1 << OPCODE_BITS) - 1
        for f in op.fields:
            mask = ((1 << f.width) - 1) << f.lo
            assert not used & mask and f.hi <= WORD_BITS, (op.name, f.name)
            used |= mask
    sxm = [op.opcode for op in OPS if op.unit is Unit.SXM]
    assert sxm == list(range(sxm[0], sxm[0] + len(sxm))), "SXM opcodes are PASS's plus the sub-op"
    for unit in Unit:
        pos = {}
        for op in OPS:
            if op.unit is unit:
                for f in op.fields:
                    assert pos.setdefault(f.name, (f.lo, f.width)) == (f.lo, f.width), (op.name, f.name)


_check_tables()


@dataclass(frozen=True)
class Instr:
    """A decoded instruction: ``op`` (an :class:`OpSpec`) and its operand values."""
    op: OpSpec
    args: tuple  # values in field order; streams as (direction, number)

    def __getitem__(self, name):
        i = _ARG_INDEX[self.op.name].get(name)
        if i is None:
            raise KeyError(f"{self.op.name} has no field {name!r}")
        return self.args[i]

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def replace(self, **changes):
        args, index = list(self.args), _ARG_INDEX[self.op.name]
        for name, value in changes.items():
            if name not in index:
                raise KeyError(f"{self.op.name} has no field {name!r}")
            args[index[name]] = value
        return Instr(self.op, tuple(args))

    def __str__(self):
        return disasm_instr(self)


def stream_name(s):
    """``(direction, number)`` -> ``e3`` / ``w0``."""
    d, n = s
    return f"{'ew'[d]}{n}"


def parse_stream(text):
    """``e3`` / ``w0`` -> ``(direction, number)``."""
    t = text.strip().lower()
    if len(t) >= 2 and t[0] in "ew" and t[1:].isdigit():
        n = int(t[1:])
        if n < MAX_STREAMS:
            return ("ew".index(t[0]), n)
    raise IsaError(f"{text!r} is not a stream (e0..e{MAX_STREAMS - 1} or w0..w{MAX_STREAMS - 1})")


def _field_bits(f, value):
    if f.kind == "stream":
        d, n = value
        if d not in (0, 1) or not 0 <= n < MAX_STREAMS:
            raise IsaError(f"stream operand {f.name}={value!r} out of range")
        return d << STREAM_NUMBER_BITS | n
    lo, hi = (-(1 << (f.width - 1)), (1 << (f.width - 1)) - 1) if f.kind == "s" else (0, (1 << f.width) - 1)
    if not isinstance(value, int) or not lo <= value <= hi:
        raise IsaError(f"operand {f.name}={value!r} does not fit {f.width} bits ({lo}..{hi})")
    return value & ((1 << f.width) - 1)


def encode(instr):
    """The 64-bit word of an :class:`Instr`."""
    word = instr.op.opcode
    for f, v in zip(instr.op.fields, instr.args):
        word |= _field_bits(f, v) << f.lo
    return word


def field_value(f, word):
    """Field ``f`` of ``word`` as the assembler writes it."""
    raw = (word >> f.lo) & ((1 << f.width) - 1)
    if f.kind == "stream":
        return (raw >> STREAM_NUMBER_BITS, raw & (MAX_STREAMS - 1))
    if f.kind == "s" and raw >> (f.width - 1):
        return raw - (1 << f.width)
    return raw


def decode(word):
    """The :class:`Instr` of a 64-bit word; :class:`IsaError` for an undefined
    opcode or set bits outside the instruction's fields."""
    word = int(word)
    if not 0 <= word < 1 << WORD_BITS:
        raise IsaError(f"{word:#x} is not a 64-bit word")
    op = BY_OPCODE.get(word & ((1 << OPCODE_BITS) - 1))
    if op is None:
        raise IsaError(f"undefined opcode {word & 0x3F:#04x} in {word:#018x}")
    used = used_mask(op)
    if word & ~used:
        raise IsaError(f"{op.name}: bits {word & ~used:#x} outside its fields are set")
    return _fields_of(op, word)


def _fields_of(op, word):
    """The :class:`Instr` ``op`` with its operands read from ``word`` (no checks)."""
    return Instr(op, tuple(field_value(f, word) for f in op.fields))


def used_mask(op):
    """Bits of the word that ``op`` defines (opcode and fields)."""
    used = (1 << OPCODE_BITS) - 1
    for f in op.fields:
        used |= ((1 << f.width) - 1) << f.lo
    return used


def disasm_instr(instr):
    parts = []
    for f, v in zip(instr.op.fields, instr.args):
        parts.append(stream_name(v) if f.kind == "stream" else str(v))
    return instr.op.name + (" " + ", ".join(parts) if parts else "")


def make(name, *args, **kwargs):
    """``make("READ", 5, (0, 1))`` or with keywords: an :class:`Instr`, range-checked."""
    try:
        op = BY_NAME[name.upper()]
    except KeyError:
        raise IsaError(f"unknown instruction {name!r}") from None
    if len(args) > len(op.fields):
        raise IsaError(f"{op.name} takes {len(op.fields)} operands, not {len(args)}")
    values = list(args) + [None] * (len(op.fields) - len(args))
    for i, f in enumerate(op.fields):
        if f.name in kwargs:
            values[i] = kwargs.pop(f.name)
        if values[i] is None:
            if f.kind == "stream":
                raise IsaError(f"{op.name}: operand {f.name} is missing")
            values[i] = 0
    if kwargs:
        raise IsaError(f"{op.name} has no operand {sorted(kwargs)[0]!r}")
    instr = Instr(op, tuple(values))
    encode(instr)  # range check
    return instr


# --- queues ------------------------------------------------------------------------------

def queues(cfg):
    """Queue names in queue-number order: ``mem0..``, ``mew0..``, ``vxm``, ``vxm1..``, ``sxm``,
    ``mxm0..``, ``mxw0..``.

    Each MEM slice has two queues, reads (``mem``) and writes (``mew``), so a
    slice is read and written in the same cycle; each MXM plane has two,
    activations (``mxm``) and weights (``mxw``), so a plane loads its next
    tile while it computes. A slice's read queue has a lower number than its
    write queue, so of two errors in one cycle the read's is reported. The VXM
    has one queue per ALU column (:func:`vxm_column_queue`).
    """
    return ([f"mem{i}" for i in range(cfg.mem_slices)] + [f"mew{i}" for i in range(cfg.mem_slices)]
            + [vxm_column_queue(k) for k in range(cfg.vxm_alus)] + ["sxm"]
            + [f"mxm{i}" for i in range(cfg.mxm_planes)] + [f"mxw{i}" for i in range(cfg.mxm_planes)])


def queue_unit(name):
    """The :class:`Unit` of a queue name, and its index within the unit."""
    for unit in (Unit.MEM, Unit.MEW, Unit.VXM, Unit.SXM, Unit.MXM, Unit.MXW):
        if name.startswith(unit.value):
            rest = name[len(unit.value):]
            if rest.isdigit() or (not rest and unit in (Unit.VXM, Unit.SXM)):
                return unit, int(rest) if rest else 0
    raise IsaError(f"unknown queue {name!r}")


def vxm_column_queue(k):
    """The queue of VXM ALU column ``k``: ``vxm`` (column 0; also VRED, VFUNC and the control
    table's CONFIG), ``vxm1``, ``vxm2``, ..."""
    return f"vxm{k}" if k else "vxm"


def vop_columns(cfg, column, ins):
    """The ALU columns a VOP issued by column ``column``'s queue runs on (its ``len``; 0 is
    through the last column)."""
    n = ins["len"] or cfg.vxm_alus - column
    return range(column, column + n)


#: The unit whose floorplan slice a queue of a second-port unit drives.
_SLICE_OF = {Unit.MEW: Unit.MEM, Unit.MXW: Unit.MXM}


def queue_slice(name):
    """The floorplan slice (:func:`openlpu.timing.floorplan` name) whose unit queue ``name``
    drives, where its instructions read their stream operands: ``mew3`` -> ``mem3``,
    ``mxw1`` -> ``mxm1``, ``vxm3`` -> ``vxm``, every other queue its own name."""
    unit, index = queue_unit(name)
    if unit is Unit.VXM:
        return "vxm"
    if unit not in _SLICE_OF:
        return name
    return f"{_SLICE_OF[unit].value}{index}"


# --- SXM sub-ops --------------------------------------------------------------------------

class SxmOp(enum.IntEnum):
    """What an SXM instruction does to the lanes (:mod:`openlpu.golden.sxm` says how); an SXM
    instruction's opcode is ``PASS``'s plus its sub-op (:func:`sxm_op`)."""
    PASS = 0
    SHIFT_UP = 1
    SHIFT_DOWN = 2
    ROTATE = 3
    PERMUTE = 4
    DISTRIBUTE = 5
    SELECT = 6
    TRANSPOSE = 7


def sxm_op(op):
    """The :class:`SxmOp` of SXM instruction ``op`` (an :class:`OpSpec`)."""
    return SxmOp(op.opcode - BY_NAME["PASS"].opcode)


def k_is_legal(op, k, lanes):
    """Whether the immediate ``k`` is in range for SXM sub-op ``op``: ``0..lanes`` for the
    shifts, ``0..lanes - 1`` for ROTATE and DISTRIBUTE; any ``k`` for the others."""
    if op in (SxmOp.SHIFT_UP, SxmOp.SHIFT_DOWN):
        return 0 <= k <= lanes
    if op in (SxmOp.ROTATE, SxmOp.DISTRIBUTE):
        return 0 <= k < lanes
    return True


# --- legality: what the ICU checks before it issues ------------------------------------

def vxm_etype_field(cfg):
    """``(lsb, width, legal codes)`` of a slot's element type in its CONFIG word 0.

    A CONFIG that writes a word 0 whose element type is not a type is BAD_FIELD:
    a slot never holds an undefined type.
    """
    f = VxmControl(cfg)["etype"]
    assert f.offset + f.shape.width <= 32, "the element type must sit in CONFIG word 0"
    return f.offset, f.shape.width, len(VXM_TYPES)


def stream_width(instr, field):
    """How many streams the stream operand ``field`` of ``instr`` spans (an LW's ``src``:
    ``rows`` groups of one stream, int8, or two, fp16)."""
    name = instr.op.name
    if name == "LW" and field == "src":
        return instr["rows"] * (2 if instr["fp16"] else 1)
    if name in ("ABC", "ACC") and field == "src":
        return 2 if instr["fp16"] else 1
    if name in ("ABC", "ACC") and field == "dst":
        return 4
    if name == "VOP":
        return instr["n"]
    if name in ("VRED", "VFUNC"):
        return 4
    return 1


def check(cfg, unit, word, index=0):
    """``(ErrorCode, Instr or None)`` for ``word`` fetched by queue ``index`` of ``unit``
    (:func:`queue_unit`; for the VXM, the ALU column).

    The checks, in priority order: ILLEGAL_OPCODE (undefined opcode, a unit
    instruction in another unit's queue, VRED or VFUNC in a VXM column queue
    other than ``vxm``); BAD_FIELD (bits outside the fields, NOP/REPEAT count
    0, VOP width not 1/2/4, VOP chain past the last column, stream or stream group past
    ``streams`` (an LW's ``rows`` groups included), LW ``rows`` 0 or more than
    ``mxm_load_rows``, VRED op, SXM ``k`` out of range, CONFIG register the queue
    does not have (only ``vxm`` has the control table), or a slot's word 0 with an undefined element type);
    BAD_ADDRESS (:func:`check_address`).
    """
    op = BY_OPCODE.get(int(word) & ((1 << OPCODE_BITS) - 1))
    if op is None or op.unit not in (Unit.CTRL, unit) or (index and op.name in ("VRED", "VFUNC")):
        return ErrorCode.ILLEGAL_OPCODE, None
    if int(word) & ~used_mask(op):
        return ErrorCode.BAD_FIELD, None
    ins = _fields_of(op, int(word))
    name = op.name
    bad = False
    if name in ("NOP", "REPEAT"):
        bad = ins["n"] == 0
    elif name == "CONFIG":
        words = vxm_control_words(cfg)
        lsb, width, types = vxm_etype_field(cfg)
        bad = (unit is not Unit.VXM or index or ins["reg"] >= VXM_SLOTS * words
               or (ins["reg"] % words == 0 and (ins["value"] >> lsb) & ((1 << width) - 1) >= types))
    elif name == "VOP":
        bad = ins["n"] not in (1, 2, 4) or index + ins["len"] > cfg.vxm_alus
    elif name == "VRED":
        bad = ins["op"] not in VRED_OPS.values()
    elif name == "LW":
        bad = not 1 <= ins["rows"] <= cfg.mxm_load_rows
    elif unit is Unit.SXM and "k" in [f.name for f in op.fields]:
        bad = not k_is_legal(sxm_op(op), ins["k"], cfg.lanes)
    if not bad:
        for f, v in zip(op.fields, ins.args):
            if f.kind == "stream" and v[1] + stream_width(ins, f.name) > cfg.streams:
                bad = True
    if bad:
        return ErrorCode.BAD_FIELD, ins
    return check_address(cfg, ins), ins


def check_address(cfg, ins):
    """BAD_ADDRESS when ``ins`` names an SRAM address or accumulator row past the end, or is an
    LW whose first row ``addr`` is not a multiple of ``mxm_load_rows`` or whose rows
    ``addr .. addr + rows - 1`` run past ``lanes``."""
    name = ins.op.name
    if name in ("READ", "WRITE", "SCRUB") and ins["addr"] >= cfg.mem_depth:
        return ErrorCode.BAD_ADDRESS
    if name in ("ABC", "ACC") and ins["addr"] >= cfg.mxm_acc_depth:
        return ErrorCode.BAD_ADDRESS
    if name == "LW" and (ins["addr"] % cfg.mxm_load_rows or ins["addr"] + ins["rows"] > cfg.lanes):
        return ErrorCode.BAD_ADDRESS
    return ErrorCode.NONE


def step(ins, d):
    """``ins`` with its :data:`STEP_FIELD` advanced by ``d`` (modulo 2**16), for REPEAT."""
    f = STEP_FIELD.get(ins.op.name)
    if f is None:
        return ins
    return ins.replace(**{f: (ins[f] + d) & 0xFFFF})


def encoding_table():
    """The encoding of every instruction as a Markdown table (docs/isa.md embeds it)."""
    rows = ["| opcode | instruction | unit | operands (bits) |", "| --- | --- | --- | --- |"]
    for op in OPS:
        fields = ", ".join(f"{f.name} [{f.hi - 1}:{f.lo}]" + (" stream" if f.kind == "stream" else
                                                             " signed" if f.kind == "s" else "")
                           for f in op.fields) or "-"
        rows.append(f"| `{op.opcode:#04x}` | {op.name} | {op.unit.value} | {fields} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(encoding_table())
