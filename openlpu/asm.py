"""Assembler and disassembler for the ISA of :mod:`openlpu.isa`.

Syntax
------
::

    # comment (also ';')
    .queue mem0              # the following instructions go to queue mem0
    READ 5, e3               # operands in the order of the instruction's fields
    REPEAT 7, 1
    .queue vxm
    CONFIG 0, 0x12345678
    VOP 0, 4, e0, e4, w0     # slot, streams per element, a, b, dst
    END

Operands are integer expressions or streams ``eN`` / ``wN``. An
expression uses decimal or ``0x`` numbers, ``+ - * // %``, parentheses, and
names: those set with ``.set NAME = expression`` and, when the assembler is
given the configuration, the timing constants it runs with — ``LANES``,
``STREAMS``, ``MEM_LAT`` (SRAM read), ``MXM_LAT``, ``VXM_LAT`` (the ALU
chain), ``RED_LAT`` (lane reduction), ``FUNC_LAT`` (VFUNC), ``SXM_LAT``, ``DISPATCH`` (issue to
execute), ``VXM_WORDS`` (CONFIG words per VXM slot) and ``P_<slice>`` (floorplan positions, e.g. ``P_mem0``), so a
hand-written schedule states its timing in the terms of the chip. With those,
a consumer issued ``L + 1 + hops`` cycles after its producer reads the
producer's value (``openlpu.timing.stream_delay``).

``.vxmslot SLOT, TYPE, OP SRC, ...`` (in the ``vxm`` queue) assembles the
CONFIG instructions that load one VXM control slot: ``TYPE`` an element type
of :data:`openlpu.vxm_control.TYPES` and one ``OP SRC`` per ALU, ``SRC``
being ``b`` (the stream operand) or an expression (the immediate, 0 when
left out); missing ALUs pass their input on (``nop``).

``.queue`` names are those of :func:`openlpu.isa.queues`. Disassembly prints
plain numbers, so ``assemble(disassemble(image)) == image``.

Program image
-------------
A program is ``{queue name: [64-bit words]}``. On disk (``.lpu``): the magic
``b"OLPU"``, a little-endian ``uint32`` queue count, then per queue a
``uint16`` name length, the name (ASCII), a ``uint32`` word count and the
words as little-endian ``uint64``.
"""

import ast
import operator
import struct

from . import isa
from .vxm_control import OPS as VXM_OPS, TYPES as VXM_TYPES, pack_control

__all__ = ["assemble", "disassemble", "save_image", "load_image", "AsmError"]


class AsmError(isa.IsaError):
    """An assembly error; the message names the line."""


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}


def evaluate(text, names):
    """An integer expression (numbers, names, + - * // %, parentheses)."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise isa.IsaError(f"{text.strip()!r} is not an expression") from None

    def ev(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise isa.IsaError(f"unknown name {node.id!r}")
            return names[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        raise isa.IsaError(f"{text.strip()!r}: only integers, names and + - * // % are allowed")
    return ev(tree)


def timing_names(cfg):
    """The predefined names of an assembly program for ``cfg``."""
    from . import timing
    names = {"LANES": cfg.lanes, "STREAMS": cfg.streams, "MEM_LAT": timing.MEM_READ_LATENCY,
             "MXM_LAT": timing.mxm_chip_latency(cfg), "VXM_LAT": timing.vop_latency(cfg.vxm_alus),
             "RED_LAT": timing.vred_chip_latency(cfg), "SXM_LAT": timing.sxm_chip_latency(cfg),
             "FUNC_LAT": timing.VXM_FUNC_LATENCY,
             "DISPATCH": timing.ICU_DISPATCH_LATENCY, "VXM_WORDS": isa.vxm_control_words(cfg)}
    names.update({f"P_{k}": v for k, v in timing.floorplan(cfg).items()})
    return names


def _operand(f, text, names):
    text = text.strip()
    if f.kind == "stream":
        return isa.parse_stream(text)
    try:
        return int(text, 0)
    except ValueError:
        return evaluate(text, names)


#: Trailing operands that may be left out (they are then 0): a VOP's ``len`` (0: its chain
#: runs through the last ALU column).
OPTIONAL = {"VOP": ("len",)}


def assemble_line(line, names=None):
    """One instruction (no label, no comment) -> :class:`~openlpu.isa.Instr`."""
    parts = line.strip().split(None, 1)
    op = isa.BY_NAME.get(parts[0].upper())
    if op is None:
        raise isa.IsaError(f"unknown instruction {parts[0]!r}")
    texts = [t for t in parts[1].split(",")] if len(parts) > 1 else []
    if len(texts) == len(op.fields) - 1 and op.fields[-1].name in OPTIONAL.get(op.name, ()):
        texts.append("0")
    if len(texts) != len(op.fields):
        names_ = ", ".join(f.name for f in op.fields) or "none"
        raise isa.IsaError(f"{op.name} takes {len(op.fields)} operands ({names_}), got {len(texts)}")
    return isa.make(op.name, *[_operand(f, t, names or {}) for f, t in zip(op.fields, texts)])


def vxm_slot_words(cfg, slot_type, alus):
    """CONFIG ``(reg, value)`` pairs loading a VXM slot: ``alus`` is ``[(op name, src, imm)]``,
    ``src`` 0 for the stream operand ``b`` and 1 for the immediate (taken modulo 2**32)."""
    if slot_type not in VXM_TYPES:
        raise isa.IsaError(f"unknown element type {slot_type!r} (one of {', '.join(VXM_TYPES)})")
    if len(alus) > cfg.vxm_alus:
        raise isa.IsaError(f"{len(alus)} ALU ops for a chain of {cfg.vxm_alus}")
    alus = list(alus) + [("nop", 1, 0)] * (cfg.vxm_alus - len(alus))
    for op, _, _ in alus:
        if op not in VXM_OPS:
            raise isa.IsaError(f"unknown VXM op {op!r}")
    words = pack_control(cfg, VXM_TYPES[slot_type], [VXM_OPS[op] for op, _, _ in alus],
                         [src for _, src, _ in alus], [imm & 0xFFFFFFFF for _, _, imm in alus])
    return list(enumerate(words))


def _vxmslot(line, cfg, names):
    if cfg is None:
        raise isa.IsaError(".vxmslot needs the configuration (pass cfg / --preset)")
    parts = [p.strip() for p in line[len(".vxmslot"):].split(",")]
    if len(parts) < 2:
        raise isa.IsaError(".vxmslot SLOT, TYPE, OP SRC, ...")
    slot = evaluate(parts[0], names)
    if not 0 <= slot < isa.VXM_SLOTS:
        raise isa.IsaError(f"VXM slot {slot} out of range 0..{isa.VXM_SLOTS - 1}")
    alus = []
    for p in parts[2:]:
        tok = p.split(None, 1)
        src = tok[1].strip() if len(tok) > 1 else "0"
        if src == "b":
            alus.append((tok[0].lower(), 0, 0))
        else:
            alus.append((tok[0].lower(), 1, evaluate(src, names)))
    words = isa.vxm_control_words(cfg)
    return [isa.make("CONFIG", slot * words + w, v) for w, v in vxm_slot_words(cfg, parts[1], alus)]


def assemble(text, cfg=None):
    """Assembly text -> program ``{queue: [words]}``. With ``cfg``, queue names are checked
    and the timing names are defined."""
    program = {}
    queue = None
    valid = set(isa.queues(cfg)) if cfg is not None else None
    names = timing_names(cfg) if cfg is not None else {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        try:
            if line.startswith(".set"):
                name, eq, expr = line[len(".set"):].partition("=")
                name = name.strip()
                if not eq or not name.isidentifier():
                    raise isa.IsaError(".set NAME = expression")
                names[name] = evaluate(expr, names)
                continue
            if line.startswith(".vxmslot"):
                if queue != "vxm":
                    raise isa.IsaError(".vxmslot belongs in the vxm queue")
                program[queue] += [isa.encode(i) for i in _vxmslot(line, cfg, names)]
                continue
            if line.startswith(".queue"):
                name = line[len(".queue"):].strip()
                isa.queue_unit(name)
                if valid is not None and name not in valid:
                    raise isa.IsaError(f"queue {name!r} does not exist in this configuration")
                queue = name
                program.setdefault(queue, [])
                continue
            if queue is None:
                raise isa.IsaError("instruction before the first .queue directive")
            program[queue].append(isa.encode(assemble_line(line, names)))
        except isa.IsaError as exc:
            raise AsmError(f"line {lineno}: {exc}: {raw.strip()!r}") from None
    return program


def disassemble(program):
    """Program ``{queue: [words]}`` -> assembly text (undefined words as ``.word``-free errors)."""
    out = []
    for queue, words in program.items():
        out.append(f".queue {queue}")
        for pc, w in enumerate(words):
            try:
                out.append(f"    {isa.decode(w)}")
            except isa.IsaError as exc:
                raise AsmError(f"queue {queue} pc {pc}: {exc}") from None
    return "\n".join(out) + "\n"


MAGIC = b"OLPU"


def save_image(program, path):
    blob = bytearray(MAGIC + struct.pack("<I", len(program)))
    for name, words in program.items():
        enc = name.encode("ascii")
        blob += struct.pack("<H", len(enc)) + enc + struct.pack("<I", len(words))
        blob += b"".join(struct.pack("<Q", int(w)) for w in words)
    with open(path, "wb") as f:
        f.write(blob)


def load_image(path):
    with open(path, "rb") as f:
        blob = f.read()
    if blob[:4] != MAGIC:
        raise AsmError(f"{path}: not an OpenLPU program image (bad magic)")
    try:
        (count,), off = struct.unpack_from("<I", blob, 4), 8
        program = {}
        for _ in range(count):
            (n,) = struct.unpack_from("<H", blob, off)
            name = blob[off + 2:off + 2 + n].decode("ascii")
            off += 2 + n
            (nw,) = struct.unpack_from("<I", blob, off)
            off += 4
            program[name] = list(struct.unpack_from(f"<{nw}Q", blob, off))
            off += 8 * nw
    except struct.error:
        raise AsmError(f"{path}: truncated program image") from None
    return program
