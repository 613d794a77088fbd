"""The ISA owns its layouts: it imports no RTL or golden model, and they use its definitions."""

import subprocess
import sys

from openlpu import isa, preset, vxm_control


def test_isa_imports_neither_rtl_nor_golden():
    code = ("import sys, openlpu.isa, openlpu.asm; "
            "bad = sorted(m for m in sys.modules if m.startswith(('openlpu.rtl', 'openlpu.golden.vxm', "
            "'openlpu.golden.sxm', 'openlpu.golden.lpu'))); print(bad); assert not bad")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rtl_and_golden_take_the_layouts_from_the_isa():
    from openlpu.golden import sxm as gsxm, vxm as gvxm
    from openlpu.rtl import vxm as rvxm
    assert rvxm.VxmControl is isa.VxmControl is vxm_control.VxmControl
    assert rvxm.AluControl is isa.AluControl and rvxm.vxm_control_words is isa.vxm_control_words
    assert gvxm.TYPES is vxm_control.TYPES and gvxm.OPS is vxm_control.OPS
    assert gvxm.pack_control is vxm_control.pack_control and gvxm.unpack_control is vxm_control.unpack_control
    assert gsxm.SxmOp is isa.SxmOp and gsxm.k_is_legal is isa.k_is_legal


def test_sxm_opcodes_are_pass_plus_the_sub_op():
    names = {"PASS": "PASS", "SHUP": "SHIFT_UP", "SHDN": "SHIFT_DOWN", "ROT": "ROTATE", "PERM": "PERMUTE",
             "DIST": "DISTRIBUTE", "SEL": "SELECT", "TRANS": "TRANSPOSE"}
    for op in isa.OPS:
        if op.unit is isa.Unit.SXM:
            assert isa.sxm_op(op).name == names[op.name]


def test_decode_rejects_exactly_the_bits_outside_used_mask():
    for op in isa.OPS:
        spare = ~isa.used_mask(op) & ((1 << isa.WORD_BITS) - 1)
        assert isa.decode(op.opcode).op is op
        if spare:
            bit = spare & -spare
            try:
                isa.decode(op.opcode | bit)
            except isa.IsaError as exc:
                assert "outside its fields" in str(exc)
            else:
                raise AssertionError(f"{op.name}: bit {bit:#x} accepted")


def test_control_fields_tile_the_layout():
    for name in ("tiny", "small"):
        cfg = preset(name)
        fields = vxm_control.control_fields(cfg)
        ends = [0] + [off + width for _, off, width in fields]
        assert [off for _, off, _ in fields] == ends[:-1]      # contiguous, LSB first, etype at 0
        assert ends[-1] == vxm_control.VxmControl(cfg).size
