"""The ICU's instruction check (:func:`openlpu.rtl.icu_decode.check`) against :func:`openlpu.isa.check`,
and the ICU's ports.

The chip tests run the ICU inside whole programs; this one sweeps the VXM queue's
CONFIG words exhaustively over the register number and the element-type bits, where
the check tests "first word of a slot" (``reg`` a multiple of the slot's word count)
with compares instead of a modulo, and the VXM column queues' own rules (VRED, VFUNC
and CONFIG only in column 0, a VOP chain ending by the last column) for every column.
"""

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from openlpu import isa, preset
from openlpu.isa import Unit
from openlpu.rtl import icu
from openlpu.rtl.icu_queue import IcuQueue

#: The ICU's members as the chip top (rtl/lpu.py) uses them.
CHIP_MEMBERS = {"imem_wr", "start", "issue", "unit_error", "busy", "done", "error", "irq",
                "code", "err_queue", "err_pc", "cycles"}


@pytest.mark.parametrize("name", ["tiny", "tsp"])
def test_vxm_config_check_matches_isa_for_every_register_and_type(name):
    cfg = preset(name)
    m = Module()
    word = Signal(64)
    code = icu.check(m, cfg, Unit.VXM, word, "chk")
    lsb, width, _ = isa.vxm_etype_field(cfg)
    reg_bits = isa.BY_NAME["CONFIG"].field("reg").width
    words = [isa.encode(isa.make("CONFIG", reg, etype << lsb))
             for reg in range(1 << reg_bits) for etype in range(1 << width)]
    mismatches = []

    async def bench(ctx):
        for w in words:
            ctx.set(word, w)
            want = isa.check(cfg, Unit.VXM, w)[0]
            got = ctx.get(code)
            if got != want:
                mismatches.append((isa.decode(w), got, want))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert len(words) == (1 << reg_bits) * (1 << width)
    assert not mismatches, mismatches[:5]


def test_icu_ports_are_the_chip_tops_and_observation_is_opt_in():
    cfg = preset("tiny")
    nq = len(isa.queues(cfg))
    plain = icu.Icu(cfg).signature.members
    assert set(plain) == CHIP_MEMBERS
    assert len(plain["issue"].dimensions) == 1 and plain["issue"].dimensions[0] == nq
    assert set(icu.Icu(cfg, observe=True).signature.members) == CHIP_MEMBERS | {"observe"}
    assert "observe" not in IcuQueue(cfg, "vxm").signature.members
    assert "observe" in IcuQueue(cfg, "vxm", observe=True).signature.members
    with pytest.raises(TypeError, match="LpuConfig"):
        icu.Icu("tiny")


@pytest.mark.parametrize("name", ["tiny", "duo", "mid"])
def test_lw_check_matches_isa_for_every_row_count_address_and_group(name):
    """An LW's checks in the ICU (rows 0 or past mxm_load_rows, the rows' stream groups past
    ``streams``, a first row that is not a multiple of mxm_load_rows or rows past lanes) give
    :func:`openlpu.isa.check`'s code for every row count, fp16 bit, first row up to two groups
    past lanes and first streams at both ends; mid has 3 rows per LW (not a power of two)."""
    cfg = preset(name)
    R = cfg.mxm_load_rows
    m = Module()
    word = Signal(64)
    code = icu.check(m, cfg, Unit.MXW, word, "chk")
    rows_bits = isa.BY_NAME["LW"].field("rows").width
    srcs = sorted({0, 1, cfg.streams - 2 * R - 1, cfg.streams - 2 * R, cfg.streams - R, cfg.streams - 1} - {-1})
    words = [isa.encode(isa.make("LW", addr, (d, s), fp16, rows))
             for addr in [*range(cfg.lanes + 2 * R), 0xFFFF] for rows in range(1 << rows_bits)
             for fp16 in (0, 1) for s in srcs for d in (0, 1)]
    seen, mismatches = set(), []

    async def bench(ctx):
        for w in words:
            ctx.set(word, w)
            want = isa.check(cfg, Unit.MXW, w)[0]
            seen.add(want)
            if ctx.get(code) != want:
                mismatches.append((isa.decode(w), ctx.get(code), want))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert seen == {isa.ErrorCode.NONE, isa.ErrorCode.BAD_FIELD, isa.ErrorCode.BAD_ADDRESS}
    assert not mismatches, mismatches[:5]


def test_every_instruction_in_every_queue_kind_is_checked_as_the_isa_says():
    """Each unit instruction (stream operands e0, fields 0, n and counts 1) fetched by a queue of
    each unit: the hardware check gives :func:`openlpu.isa.check`'s code, so a WRITE or SCATTER
    in a read queue ``memN`` and a READ, GATHER or SCRUB in a write queue ``mewN`` are
    ILLEGAL_OPCODE, and each is legal in its own queue."""
    cfg = preset("tiny")
    units = [u for u in Unit if u is not Unit.CTRL]
    m = Module()
    word = Signal(64)
    codes = {u: icu.check(m, cfg, u, word, f"chk_{u.value}") for u in units}
    words = [isa.encode(isa.make(op.name, **{f.name: (0, 0) if f.kind == "stream" else int(f.name == "n")
                                             for f in op.fields})) for op in isa.OPS]
    got = {}

    async def bench(ctx):
        for w in words:
            ctx.set(word, w)
            for u in units:
                got[(u, isa.decode(w).op.name)] = ctx.get(codes[u])

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    want = {(u, isa.decode(w).op.name): isa.check(cfg, u, w)[0] for w in words for u in units}
    assert got == want
    for name in ("WRITE", "SCATTER"):
        assert (got[(Unit.MEM, name)], got[(Unit.MEW, name)]) == (isa.ErrorCode.ILLEGAL_OPCODE, 0)
    for name in ("READ", "GATHER", "SCRUB"):
        assert (got[(Unit.MEW, name)], got[(Unit.MEM, name)]) == (isa.ErrorCode.ILLEGAL_OPCODE, 0)


@pytest.mark.parametrize("name", ["tiny", "tsp"])
def test_vxm_column_queue_checks_match_isa_for_every_column(name):
    """Each VXM column queue (index ``k``): a VOP of every ``len`` and ``n`` (stream groups at
    both ends), VRED of every op, VFUNC of every function, and CONFIG of the first registers
    and past the table, give :func:`openlpu.isa.check`'s code with that index -- so VRED and
    VFUNC are ILLEGAL_OPCODE outside column 0, CONFIG is BAD_FIELD there, and a VOP whose
    chain runs past the last column is BAD_FIELD."""
    cfg = preset(name)
    cols = cfg.vxm_alus
    m = Module()
    word = Signal(64)
    codes = [icu.check(m, cfg, Unit.VXM, word, f"chk{k}", k) for k in range(cols)]
    last = cfg.streams - 1
    words = [isa.encode(isa.make("VOP", slot, n, (0, a), (1, 0), (0, a), length))
             for length in range(1 << isa.VOP_LEN_BITS) for n in range(8) for a in (0, last) for slot in (0, 3)]
    words += [isa.encode(isa.make("VRED", op, (0, a), (1, 0))) for op in range(4) for a in (0, last)]
    words += [isa.encode(isa.make("VFUNC", fn, (0, 0), (1, a))) for fn in range(4) for a in (0, last)]
    words += [isa.encode(isa.make("CONFIG", reg, 0)) for reg in (0, 1, isa.VXM_SLOTS * isa.vxm_control_words(cfg))]
    seen, mismatches = {}, []

    async def bench(ctx):
        for w in words:
            ctx.set(word, w)
            for k in range(cols):
                want = isa.check(cfg, Unit.VXM, w, k)[0]
                seen.setdefault((k, isa.decode(w).op.name), set()).add(want)
                if ctx.get(codes[k]) != want:
                    mismatches.append((k, isa.decode(w), ctx.get(codes[k]), want))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert not mismatches, mismatches[:5]
    E = isa.ErrorCode
    for k in range(1, cols):
        assert seen[(k, "VRED")] == seen[(k, "VFUNC")] == {E.ILLEGAL_OPCODE}
        assert seen[(k, "CONFIG")] == {E.BAD_FIELD}
        assert seen[(k, "VOP")] == {E.NONE, E.BAD_FIELD}
    assert E.NONE in seen[(0, "VRED")] and E.NONE in seen[(0, "VFUNC")] and E.NONE in seen[(0, "CONFIG")]
    # the longest legal chain from each column, and one past it
    for k in range(cols):
        ok, past = (isa.encode(isa.make("VOP", 0, 1, (0, 0), (0, 0), (0, 0), n)) for n in (cols - k, cols - k + 1))
        assert (isa.check(cfg, Unit.VXM, ok, k)[0], isa.check(cfg, Unit.VXM, past, k)[0]) == (E.NONE, E.BAD_FIELD)
