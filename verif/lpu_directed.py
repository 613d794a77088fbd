"""Directed programs: one per instruction family and one per error path.

Each entry of :func:`directed_cases` is ``(name, case, check)``: the case
runs on the golden ISA simulator and on the RTL (which must agree exactly),
and ``check(observation)`` states what the program must do in terms
independent of the simulator: numpy arithmetic for data, the error code,
queue and pc the ISA definition names for a fault.
"""

import numpy as np

from openlpu import isa, timing
from openlpu.asm import assemble
from openlpu.golden.ecc import WORD_BITS
from openlpu.isa import ErrorCode

from .lpu_cases import make_case

__all__ = ["directed_cases"]


def _prog(cfg, text):
    """Assembly with ``END`` for every queue it does not mention."""
    prog = assemble(text, cfg)
    return {q: prog.get(q, [isa.encode(isa.make("END"))]) for q in isa.queues(cfg)}


def _vec(obs, window, index, lanes):
    data = bytes.fromhex(obs["windows"][window])
    return np.frombuffer(data[index * lanes:(index + 1) * lanes], np.uint8)


def _arrive(cfg, src, dst, lat, direction):
    """Issue cycle of a consumer at ``dst`` for a producer at ``src`` issued at cycle 0."""
    pos = timing.floorplan(cfg)
    return lat + timing.stream_delay(pos[src], pos[dst], direction)


def _error(code, queue, pc):
    def check(obs):
        assert obs["error"] and not obs["done"], obs
        assert (obs["code"], obs["queue"], obs["pc"]) == (int(code), queue, pc), \
            f"expected {ErrorCode(code).name} at queue {queue} pc {pc}, got {obs}"
    return check


def directed_cases(cfg):
    rng = np.random.default_rng(7)
    L = cfg.lanes
    names = isa.queues(cfg)
    qn = names.index
    cases = []
    data = {(s, a): rng.integers(0, 256, L, dtype=np.uint8) for s in range(cfg.mem_slices) for a in range(16)}

    # --- copy with REPEAT: mem0 -> mem(last), east ---------------------------------------
    last = f"mem{cfg.mem_slices - 1}"
    t_w = _arrive(cfg, "mem0", last, timing.MEM_READ_LATENCY, 0)
    text = f""".queue mem0
    READ 2, e1
    REPEAT 3, 1
    NOP 20
    END
    .queue {last}
    NOP {t_w}
    WRITE 20, e1
    REPEAT 3, 1
    END"""

    def check_copy(obs):
        assert obs["done"] and not obs["error"]
        for k in range(4):
            np.testing.assert_array_equal(_vec(obs, 1, 20 + k, L), data[(0, 2 + k)])
    cases.append(("read_write_repeat", make_case(cfg, _prog(cfg, text), sram=data,
                                                 windows=[(0, 0, 24), (cfg.mem_slices - 1, 0, 24)]), check_copy))

    # --- SYNC / NOTIFY: every queue waits for mem1's NOTIFY -------------------------------
    text = "\n".join(f".queue {q}\nSYNC\nEND" for q in names if q != "mem1") + "\n.queue mem1\nNOP 5\nNOTIFY\nEND"

    def check_sync(obs):
        # mem1 notifies in cycle 5; the parked queues end in cycle 6
        assert obs["done"] and obs["cycles"] == 7, obs
    cases.append(("sync_notify", make_case(cfg, _prog(cfg, text), windows=[]), check_sync))

    # --- MXM: a full int8 tile, rows from mem0, activations from mem1, results to 4 slices ---
    fp = timing.floorplan(cfg)
    w = rng.integers(-128, 128, (L, L)).astype(np.int8)
    a = rng.integers(-128, 128, (3, L)).astype(np.int8)
    a[0, :] = -128
    w[:, 0] = -128                                           # -128 x -128 in lane 0
    sram = {(0, r): w[r].view(np.uint8) for r in range(L)}
    sram.update({(1, r): a[r].view(np.uint8) for r in range(3)})
    d_in = 0 if fp["mxm0"] > fp["mem0"] else 1
    d_out = 1 - d_in
    sd, so = "ew"[d_in], "ew"[d_out]
    t_lw = _arrive(cfg, "mem0", "mxm0", timing.MEM_READ_LATENCY, d_in)
    t_abc = t_lw + L + 1                                     # right after IW
    t_rd = t_abc - _arrive(cfg, "mem1", "mxm0", timing.MEM_READ_LATENCY, d_in)
    events = [("mem0", 0, f"READ 0, {sd}0", L - 1), ("mxw0", t_lw, f"LW 0, {sd}0, 0", L - 1),
              ("mxw0", t_lw + L, "IW", 0), ("mem1", t_rd, f"READ 0, {sd}1", 2),
              ("mxm0", t_abc, f"ABC 0, {sd}1, {so}0, 0", 0), ("mxm0", t_abc + 1, f"ABC 1, {sd}1, {so}0, 0", 0),
              ("mxm0", t_abc + 2, f"ACC 1, {sd}1, {so}0, 0", 0)]
    for j in range(4):
        t = t_abc + timing.ICU_DISPATCH_LATENCY + timing.mxm_latency(cfg) \
            + timing.stream_delay(fp["mxm0"], fp[f"mem{j}"], d_out) - timing.ICU_DISPATCH_LATENCY
        events.append((f"mem{j}", t, f"WRITE 24, {so}{j}", 2))

    def check_mxm(obs):
        assert obs["done"], obs
        want = [a[0].astype(np.int64) @ w, a[1].astype(np.int64) @ w,
                a[1].astype(np.int64) @ w + a[2].astype(np.int64) @ w]
        for r in range(3):
            planes = [_vec(obs, j, 24 + r, L) for j in range(4)]
            got = sum(p.astype(np.int64) << (8 * j) for j, p in enumerate(planes)).astype(np.uint32).view(np.int32)
            np.testing.assert_array_equal(got, np.asarray(want[r], np.int64).astype(np.int32), err_msg=f"row {r}")
    cases.append(("mxm_tile", make_case(cfg, _timeline(cfg, events), sram=sram,
                                        windows=[(j, 0, 28) for j in range(4)]), check_mxm))

    # --- errors ------------------------------------------------------------------------------
    def err_case(name, text, code, queue, pc, sram=None, corrupt=None):
        cases.append((name, make_case(cfg, _prog(cfg, text), sram=sram, corrupt=corrupt, windows=[]),
                      _error(code, qn(queue), pc)))

    err_case("illegal_opcode_wrong_queue", ".queue mem2\nNOP 2\nIW\nEND", ErrorCode.ILLEGAL_OPCODE, "mem2", 1)
    prog = _prog(cfg, ".queue sxm\nNOP 1\nEND")
    prog["sxm"][1] = 0x07                                   # undefined opcode
    cases.append(("illegal_opcode_undefined", make_case(cfg, prog, windows=[]),
                  _error(ErrorCode.ILLEGAL_OPCODE, qn("sxm"), 1)))
    prog = _prog(cfg, ".queue vxm\nEND")
    prog["vxm"][0] = isa.encode(isa.make("NOTIFY")) | 1 << 40   # a bit outside NOTIFY's fields
    cases.append(("bad_field_stray_bits", make_case(cfg, prog, windows=[]),
                  _error(ErrorCode.BAD_FIELD, qn("vxm"), 0)))
    err_case("bad_field_nop0", ".queue mem0\nNOP 0\nEND", ErrorCode.BAD_FIELD, "mem0", 0)
    err_case("bad_field_stream", f".queue mem1\nREAD 0, e{cfg.streams}\nEND", ErrorCode.BAD_FIELD, "mem1", 0)
    err_case("bad_field_group", f".queue mxm0\nABC 0, e0, w{cfg.streams - 3}, 0\nEND",
             ErrorCode.BAD_FIELD, "mxm0", 0)
    err_case("bad_field_vop_width", ".queue vxm\nVOP 0, 3, e0, e0, e0\nEND", ErrorCode.BAD_FIELD, "vxm", 0)
    err_case("bad_field_sxm_k", f".queue sxm\nROT {L}, e0, e1\nEND", ErrorCode.BAD_FIELD, "sxm", 0)
    err_case("bad_field_config_queue", ".queue mem3\nCONFIG 0, 1\nEND", ErrorCode.BAD_FIELD, "mem3", 0)
    err_case("bad_address_read", f".queue mem0\nREAD {cfg.mem_depth}, e0\nEND", ErrorCode.BAD_ADDRESS, "mem0", 0)
    err_case("bad_address_repeat", f".queue mem1\nREAD {cfg.mem_depth - 3}, e0\nREPEAT 5, 1\nEND",
             ErrorCode.BAD_ADDRESS, "mem1", 1)
    err_case("bad_address_acc_row", f".queue mxm0\nABC {cfg.mxm_acc_depth}, e0, e0, 0\nEND",
             ErrorCode.BAD_ADDRESS, "mxm0", 0)
    err_case("bad_address_weight_row", f".queue mxw0\nLW {L}, e0, 0\nEND", ErrorCode.BAD_ADDRESS, "mxw0", 0)
    prog = _prog(cfg, "")
    prog["mem2"] = [isa.encode(isa.make("NOP", 1))] * cfg.imem_depth          # runs off the end
    cases.append(("bad_address_pc", make_case(cfg, prog, windows=[]),
                  _error(ErrorCode.BAD_ADDRESS, qn("mem2"), cfg.imem_depth)))
    # a gather whose index stream names an address past the end: detected when it executes
    big = np.zeros(L, np.uint8)
    big[1] = 0xFF                                           # column 0 address 0xFF00
    t_g = _arrive(cfg, "mem0", "mem1", timing.MEM_READ_LATENCY, 0)
    err_case("bad_address_gather", f".queue mem0\nREAD 5, e2\nNOP 10\nEND\n.queue mem1\nNOP {t_g}\nGATHER e2, e3\nEND",
             ErrorCode.BAD_ADDRESS, "mem1", 1, sram={(0, 5): big})
    err_case("repeat_empty", ".queue mem3\nNOP 1\nREPEAT 2, 1\nEND", ErrorCode.REPEAT_EMPTY, "mem3", 1)
    err_case("sxm_fault_transpose_without_start", ".queue sxm\nTRANS e0, e1, 0\nNOP 3\nEND",
             ErrorCode.SXM_FAULT, "sxm", 0)
    text = "\n".join(f".queue {q}\nSYNC\nEND" for q in names)
    err_case("deadlock", text, ErrorCode.DEADLOCK, names[0], 0)
    # a double-bit error in a word a program reads: stopped with the read's queue and pc
    two = [0] * (L // 8)
    two[0] = (1 << 3) | (1 << 40)
    err_case("ecc_double_in_program", ".queue mem2\nNOP 1\nREAD 9, e0\nNOP 5\nEND", ErrorCode.ECC_POISON,
             "mem2", 1, sram={(2, 9): data[(0, 0)]}, corrupt={(2, 9): two})
    # two faults in one cycle: the lowest queue wins
    err_case("priority_lowest_queue", f".queue mem3\nREAD {cfg.mem_depth}, e0\nEND\n.queue mem1\nNOP 0\nEND",
             ErrorCode.BAD_FIELD, "mem1", 0)

    # a single-bit error is corrected in flight and counted, and SCRUB rewrites it
    one = [0] * (L // 8)
    one[-1] = 1 << 17
    text = ".queue mem1\nREAD 4, e0\nSCRUB 4\nNOP 4\nREAD 4, e0\nNOP 4\nEND"

    def check_scrub(obs):
        assert obs["done"]
        np.testing.assert_array_equal(_vec(obs, 0, 4, L), data[(1, 4)])
        assert obs["ecc"][1][:2] == [2, 0], obs["ecc"]      # corrected twice (READ, SCRUB), then clean
    cases.append(("ecc_single_scrub", make_case(cfg, _prog(cfg, text), sram={(1, 4): data[(1, 4)]},
                                                corrupt={(1, 4): one}, windows=[(1, 0, 8)]), check_scrub))
    _ = WORD_BITS
    return cases


def _timeline(cfg, events):
    """A program from ``(queue, cycle, instruction, repeats)`` events: each queue's
    instructions at their cycles (REPEAT ``repeats`` more times, address step 1),
    NOPs in the gaps, END after the last."""
    per = {}
    for q, t, text, rep in events:
        per.setdefault(q, []).append((t, text, rep))
    lines = []
    for q, evs in per.items():
        lines.append(f".queue {q}")
        cur = 0
        for t, text, rep in sorted(evs):
            assert t >= cur, f"{q}: {text} at cycle {t} overlaps the previous instruction"
            if t > cur:
                lines.append(f"NOP {t - cur}")
            lines.append(text)
            if rep:
                lines.append(f"REPEAT {rep}, 1")
            cur = t + 1 + rep
        lines.append("END")
    return _prog(cfg, "\n".join(lines))
