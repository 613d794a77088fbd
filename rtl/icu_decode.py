"""Instruction-word decoding for the ICU: fields, opcodes, and the legality check.

Combinational helpers over a 64-bit instruction word (:mod:`openlpu.isa`
encoding). :func:`check` and :func:`address_error` are the hardware twins of
:func:`openlpu.isa.check` and :func:`openlpu.isa.check_address`; every ICU
queue (:class:`~openlpu.rtl.icu_queue.IcuQueue`) runs them on the word it
fetched. :func:`stepped` is the address step of a REPEAT.
"""

from amaranth.hdl import Cat, Mux, Signal

from openlpu import isa
from openlpu.isa import BY_NAME, OPS, ErrorCode, Unit

__all__ = ["CODE_BITS", "field", "is_op", "check", "address_error", "stepped"]

#: Width of an error code (:class:`openlpu.isa.ErrorCode`) on the ICU's ports.
CODE_BITS = 4
assert max(ErrorCode) < 1 << CODE_BITS


def field(word, op_name, name):
    """The bits of field ``name`` of instruction ``op_name`` in ``word``."""
    f = BY_NAME[op_name].field(name)
    return word[f.lo:f.hi]


def is_op(word, *names):
    """True when the opcode of ``word`` is one of the instructions ``names``."""
    opc = word[:isa.OPCODE_BITS]
    return Cat(*(opc == BY_NAME[n].opcode for n in names)).any()


def _unit_field_errors(cfg, unit, index, word):
    """The field checks of :func:`openlpu.isa.check` that depend on the queue's unit and its
    index (for the VXM, the ALU column: only column 0 has the control table, and a VOP's chain
    of ``len`` columns from its own must end by the last)."""
    bad = []
    if unit is Unit.VXM and index:
        bad.append(is_op(word, "CONFIG"))
    if unit is Unit.VXM:
        regs = isa.VXM_SLOTS * isa.vxm_control_words(cfg)
        reg = field(word, "CONFIG", "reg")
        bad.append(is_op(word, "CONFIG") & (reg >= regs))
        lsb, width, types = isa.vxm_etype_field(cfg)
        # reg % words == 0, as a set of compares: a modulo by a non-power of two is a
        # combinational divider, which set the ICU's clock (20 MHz on ECP5)
        words = isa.vxm_control_words(cfg)
        word0 = Cat(*(reg == r for r in range(0, 1 << len(reg), words))).any()
        etype = field(word, "CONFIG", "value")[lsb:lsb + width]
        bad.append(is_op(word, "CONFIG") & word0 & (etype >= types))
        n = field(word, "VOP", "n")
        bad.append(is_op(word, "VOP") & ~((n == 1) | (n == 2) | (n == 4)))
        bad.append(is_op(word, "VOP") & (field(word, "VOP", "len") > cfg.vxm_alus - index))
        bad.append(is_op(word, "VRED") & (field(word, "VRED", "op") >= len(isa.VRED_OPS)))
    else:
        bad.append(is_op(word, "CONFIG"))
    if unit is Unit.MXW:
        rows = field(word, "LW", "rows")
        bad.append(is_op(word, "LW") & ((rows == 0) | (rows > cfg.mxm_load_rows)))
    if unit is Unit.SXM:
        k = field(word, "SHUP", "k")
        bad.append(is_op(word, "SHUP", "SHDN") & (k > cfg.lanes))
        bad.append(is_op(word, "ROT", "DIST") & (k >= cfg.lanes))
    return bad


def _stream_width(word, op, f):
    """How many consecutive streams stream operand ``f`` of ``op`` names."""
    if op.name == "LW" and f.name == "src":
        rows = field(word, "LW", "rows")
        return Mux(field(word, "LW", "fp16"), rows << 1, rows)
    if op.name in ("ABC", "ACC") and f.name == "src":
        return Mux(field(word, op.name, "fp16"), 2, 1)
    if op.name in ("ABC", "ACC") and f.name == "dst":
        return 4
    if op.name == "VOP":
        return field(word, "VOP", "n")
    if op.name in ("VRED", "VFUNC"):
        return 4
    return 1


def _stream_errors(cfg, ops, word):
    """One flag per stream operand: the operand's stream group runs past ``cfg.streams``."""
    opc = word[:isa.OPCODE_BITS]
    return [(opc == op.opcode) & (word[f.lo:f.lo + 5] + _stream_width(word, op, f) > cfg.streams)
            for op in ops for f in op.fields if f.kind == "stream"]


def _queue_ops(unit, index):
    """The instructions legal in queue ``index`` of ``unit`` (VRED and VFUNC only in the VXM's
    column 0 queue)."""
    return [op for op in OPS if op.unit in (Unit.CTRL, unit) and not (index and op.name in ("VRED", "VFUNC"))]


def check(m, cfg, unit, word, name, index=0):
    """Hardware twin of :func:`openlpu.isa.check` for queue ``index`` of ``unit``: the error code.

    Adds combinational signals ``{name}_bad_field``, ``{name}_bad_addr`` and
    ``{name}_code`` to ``m`` and returns the last (``CODE_BITS`` wide).
    """
    ops = _queue_ops(unit, index)
    opc = word[:isa.OPCODE_BITS]
    known = Cat(*(opc == op.opcode for op in ops)).any()
    stray = Cat(*((opc == op.opcode) & (word & (((1 << 64) - 1) ^ isa.used_mask(op))).any()
                  for op in ops)).any()
    bad = [is_op(word, "NOP", "REPEAT") & (field(word, "NOP", "n") == 0)]
    bad += _unit_field_errors(cfg, unit, index, word)
    bad += _stream_errors(cfg, ops, word)
    bad_field = Signal(name=f"{name}_bad_field")
    m.d.comb += bad_field.eq(stray | Cat(*bad).any())
    bad_addr = Signal(name=f"{name}_bad_addr")
    m.d.comb += bad_addr.eq(address_error(cfg, word))
    code = Signal(CODE_BITS, name=f"{name}_code")
    m.d.comb += code.eq(Mux(~known, ErrorCode.ILLEGAL_OPCODE,
                            Mux(bad_field, ErrorCode.BAD_FIELD,
                                Mux(bad_addr, ErrorCode.BAD_ADDRESS, ErrorCode.NONE))))
    return code


def address_error(cfg, word):
    """Hardware twin of :func:`openlpu.isa.check_address`."""
    addr = field(word, "READ", "addr")
    for n in isa.STEP_FIELD:
        assert BY_NAME[n].field(isa.STEP_FIELD[n]) == BY_NAME["READ"].field("addr")
    return ((is_op(word, "READ", "WRITE", "SCRUB") & (addr >= cfg.mem_depth))
            | (is_op(word, "ABC", "ACC") & (addr >= cfg.mxm_acc_depth))
            | (is_op(word, "LW") & _weight_rows_error(cfg, word, addr)))


def _weight_rows_error(cfg, word, addr):
    """An LW's rows ``addr .. addr + rows - 1`` do not start at a multiple of ``mxm_load_rows``
    or run past ``lanes``. The multiple is a set of compares against the multiples below
    ``lanes`` (a modulo by a non-power of two would be a combinational divider)."""
    aligned = Cat(*(addr == r for r in range(0, cfg.lanes, cfg.mxm_load_rows))).any()
    return ~aligned | (addr + field(word, "LW", "rows") > cfg.lanes)


def stepped(word, d):
    """``word`` with its address field advanced by ``d`` when it has a REPEAT step field."""
    f = BY_NAME["READ"].field("addr")
    steps = is_op(word, *isa.STEP_FIELD)
    new = (word[f.lo:f.hi] + d)[:f.width]
    return Mux(steps, Cat(word[:f.lo], new, word[f.hi:]), word)
