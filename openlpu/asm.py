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

Operands are integers (decimal, ``0x`` hex, ``-`` for signed fields) or
streams ``eN`` / ``wN``. ``.queue`` names are those of
:func:`openlpu.isa.queues`. Disassembly prints the same syntax, so
``assemble(disassemble(image)) == image``.

Program image
-------------
A program is ``{queue name: [64-bit words]}``. On disk (``.lpu``): the magic
``b"OLPU"``, a little-endian ``uint32`` queue count, then per queue a
``uint16`` name length, the name (ASCII), a ``uint32`` word count and the
words as little-endian ``uint64``.
"""

import struct

from . import isa

__all__ = ["assemble", "disassemble", "save_image", "load_image", "AsmError"]


class AsmError(isa.IsaError):
    """An assembly error; the message names the line."""


def _operand(f, text):
    text = text.strip()
    if f.kind == "stream":
        return isa.parse_stream(text)
    try:
        return int(text, 0)
    except ValueError:
        raise isa.IsaError(f"operand {f.name}: {text!r} is not an integer") from None


def assemble_line(line):
    """One instruction (no label, no comment) -> :class:`~openlpu.isa.Instr`."""
    parts = line.strip().split(None, 1)
    op = isa.BY_NAME.get(parts[0].upper())
    if op is None:
        raise isa.IsaError(f"unknown instruction {parts[0]!r}")
    texts = [t for t in parts[1].split(",")] if len(parts) > 1 else []
    if len(texts) != len(op.fields):
        names = ", ".join(f.name for f in op.fields) or "none"
        raise isa.IsaError(f"{op.name} takes {len(op.fields)} operands ({names}), got {len(texts)}")
    return isa.make(op.name, *[_operand(f, t) for f, t in zip(op.fields, texts)])


def assemble(text, cfg=None):
    """Assembly text -> program ``{queue: [words]}``. With ``cfg``, queue names are checked."""
    program = {}
    queue = None
    valid = set(isa.queues(cfg)) if cfg is not None else None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        try:
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
            program[queue].append(isa.encode(assemble_line(line)))
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
