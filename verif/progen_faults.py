"""Faults at random points of a random chip program.

:func:`with_faults` takes a legal random case (:func:`openlpu.verif.progen.random_case`) and
breaks it in ``count`` places, each drawn from :data:`KINDS`:

* ``illegal``: an instruction word replaced by one the ICU must refuse, drawn three ways: an
  undefined opcode (ILLEGAL_OPCODE), another unit's instruction (ILLEGAL_OPCODE), or the
  word with a bit set outside its fields (BAD_FIELD);
* ``bad_address``: a READ, WRITE or SCRUB whose address is moved past ``mem_depth``
  (BAD_ADDRESS);
* ``vxm_chain``: a VOP's chain length ``len`` redrawn from ``0 .. vxm_alus``: past the last
  ALU column it is BAD_FIELD; longer, its result comes later and its chain may enter a column
  in the cycle another VOP issues there (VXM_FAULT at that VOP); shorter, it comes earlier;
* ``ecc1``: one bit flipped in a stored SRAM word (a read corrects it and counts it);
* ``ecc2``: two bits flipped in one stored word (a chip read stops with ECC_POISON; a scrub
  counts it).

The chip stops at the first fault an instruction reaches, with the error code, queue and pc
the ISA defines; faults in words never executed, or in SRAM never read, change nothing. The
golden ISA simulator and the RTL must agree on all of it, and on the cycle of the stop.
"""

from openlpu import isa
from openlpu.golden.ecc import WORD_BITS

__all__ = ["KINDS", "with_faults"]

KINDS = ("illegal", "bad_address", "vxm_chain", "ecc1", "ecc2")


def _unused_opcode():
    return next(op for op in range(1, 1 << isa.OPCODE_BITS) if op not in isa.BY_OPCODE)


def _unit_slots(program):
    """``[(queue, index)]`` of every unit (not control) instruction of ``program``."""
    return [(q, i) for q, words in program.items() for i, w in enumerate(words)
            if isinstance(w, isa.Instr) and w.op.unit is not isa.Unit.CTRL]


def _illegal_word(rng, cfg, queue, word):
    """A word queue ``queue`` must refuse in place of ``word`` (an :class:`~openlpu.isa.Instr`)."""
    way = int(rng.integers(3))
    if way == 0:
        return _unused_opcode()
    if way == 1:
        unit = isa.queue_unit(queue)[0]
        other = [op for op in isa.OPS if op.unit not in (unit, isa.Unit.CTRL)]
        return other[int(rng.integers(len(other)))].opcode
    free = [b for b in range(isa.WORD_BITS) if not isa.used_mask(word.op) >> b & 1]
    return isa.encode(word) | 1 << free[int(rng.integers(len(free)))]


def _flip(rng, cfg, bits):
    """Masks of ``bits`` distinct flipped bits in one ECC column of a vector, per column."""
    masks = [0] * (cfg.lanes // 8)
    column = int(rng.integers(len(masks)))
    for b in rng.choice(WORD_BITS, size=bits, replace=False):
        masks[column] |= 1 << int(b)
    return masks


def with_faults(cfg, rng, program, sram, count=2):
    """``(program, corrupt, faults)``: a copy of ``program`` with its instruction faults, the
    ``corrupt`` masks of its SRAM faults (:func:`openlpu.verif.lpu_cases.make_case`) and a
    description of each fault, ``[(kind, where)]``."""
    program = {q: list(words) for q, words in program.items()}
    corrupt, faults = {}, []
    for kind in rng.choice(KINDS, size=count):
        if kind in ("ecc1", "ecc2"):
            s, a = list(sram)[int(rng.integers(len(sram)))]
            corrupt[(s, a)] = _flip(rng, cfg, 1 if kind == "ecc1" else 2)
            faults.append((str(kind), f"slice {s} addr {a}"))
            continue
        slots = _unit_slots(program)
        if kind == "bad_address":
            past_end = cfg.mem_depth < 1 << isa.BY_NAME["READ"].field("addr").width
            slots = [(q, i) for q, i in slots if past_end and program[q][i].op.name in ("READ", "WRITE", "SCRUB")]
        elif kind == "vxm_chain":
            slots = [(q, i) for q, i in slots if program[q][i].op.name == "VOP"]
        if not slots:
            continue
        q, i = slots[int(rng.integers(len(slots)))]
        word = program[q][i]
        if kind == "bad_address":
            program[q][i] = word.replace(addr=cfg.mem_depth + int(rng.integers(0, 4)))
        elif kind == "vxm_chain":
            program[q][i] = word.replace(len=int(rng.integers(0, cfg.vxm_alus + 1)))
        else:
            program[q][i] = _illegal_word(rng, cfg, q, word)
        faults.append((str(kind), f"{q} pc {i}"))
    return program, corrupt, faults
