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
from .progen import misplaced_case

__all__ = ["directed_cases", "port_cases"]


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
    return lat + timing.stream_delay(pos[isa.queue_slice(src)], pos[isa.queue_slice(dst)], direction)


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

    # --- copy with REPEAT: mem0 -> mew(last), east ---------------------------------------
    last = f"mew{cfg.mem_slices - 1}"
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
        # mem1 notifies in cycle 5; the parked queues end in cycle 6; the run ends when that
        # stop has reached the last superlane
        assert obs["done"] and obs["cycles"] == 7 + timing.wavefront_span(cfg), obs
    cases.append(("sync_notify", make_case(cfg, _prog(cfg, text), windows=[]), check_sync))

    # --- NOTIFY is legal in every queue: mem1 releases the others, which all NOTIFY at once ---
    text = "\n".join(f".queue {q}\nSYNC\nNOTIFY\nEND" for q in names if q != "mem1") + "\n.queue mem1\nNOP 3\nNOTIFY\nEND"

    def check_notify_all(obs):
        # released by mem1's NOTIFY in cycle 3: every other queue NOTIFYs in 4 and ends in 5
        assert obs["done"] and obs["cycles"] == 6 + timing.wavefront_span(cfg), obs
    cases.append(("notify_from_every_queue", make_case(cfg, _prog(cfg, text), windows=[]), check_notify_all))

    # --- control instructions in unit queues: REPEAT after ABC and VRED, NOTIFY from an MXM
    # queue. mxm0: ABC 0..2, NOTIFY 3, END 4; mem0 parks in 0 and ends in 4; vxm ends in 3.
    text = """.queue mxm0
    ABC 0, e0, w0, 0
    REPEAT 2, 1
    NOTIFY
    END
    .queue mem0
    SYNC
    END
    .queue vxm
    VRED 0, e0, e4
    REPEAT 2, 0
    END"""

    def check_ctrl(obs):
        assert obs["done"] and not obs["error"] and obs["cycles"] == 5 + timing.wavefront_span(cfg), obs
    cases.append(("control_in_unit_queues", make_case(cfg, _prog(cfg, text), windows=[]), check_ctrl))

    # --- MXM: a full int8 tile loaded mxm_load_rows (R) rows a cycle, row k from slice k % R
    # (address k // R), so ceil(lanes / R) LWs on consecutive cycles (the last one of
    # lanes % R rows when R does not divide lanes); IW right after the last, the first ABC in
    # the IW's cycle; activations from mem1, results to 4 slices ----------------------------
    fp = timing.floorplan(cfg)
    R = cfg.mxm_load_rows
    nl = -(-L // R)                                          # LWs of the tile
    w = rng.integers(-128, 128, (L, L)).astype(np.int8)
    a = rng.integers(-128, 128, (3, L)).astype(np.int8)
    a[0, :] = -128
    w[:, 0] = -128                                           # -128 x -128 in lane 0
    sram = {(k % R, k // R): w[k].view(np.uint8) for k in range(L)}
    sram.update({(1, 40 + r): a[r].view(np.uint8) for r in range(3)})
    d_in = 0 if fp["mxm0"] > fp["mem0"] else 1
    d_out = 1 - d_in
    sd, so = "ew"[d_in], "ew"[d_out]
    arrive = [_arrive(cfg, f"mem{i}", "mxm0", timing.MEM_READ_LATENCY, d_in) for i in range(R)]
    t_lw = max(arrive)
    t_abc = t_lw + nl                                        # with the IW
    t_rd = t_abc - _arrive(cfg, "mem1", "mxm0", timing.MEM_READ_LATENCY, d_in)
    events = [(f"mem{i}", t_lw - arrive[i], f"READ 0, {sd}{i}", len(range(i, L, R)) - 1) for i in range(R)]
    nf = L // R                                              # whole groups, then a partial one
    events += [("mxw0", t_lw, f"LW 0, {sd}0, 0, {R}", nf - 1, R)]
    if L % R:
        events.append(("mxw0", t_lw + nf, f"LW {nf * R}, {sd}0, 0, {L % R}", 0))
    events += [("mxw0", t_lw + nl, "IW", 0), ("mem1", t_rd, f"READ 40, {sd}{R}", 2),
               ("mxm0", t_abc, f"ABC 0, {sd}{R}, {so}0, 0", 0), ("mxm0", t_abc + 1, f"ABC 1, {sd}{R}, {so}0, 0", 0),
               ("mxm0", t_abc + 2, f"ACC 1, {sd}{R}, {so}0, 0", 0)]
    for j in range(4):
        t = t_abc + timing.ICU_DISPATCH_LATENCY + timing.mxm_chip_latency(cfg) \
            + timing.stream_delay(fp["mxm0"], fp[f"mem{j}"], d_out) - timing.ICU_DISPATCH_LATENCY
        events.append((f"mew{j}", t, f"WRITE 24, {so}{j}", 2))

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

    cases += _unit_cases(cfg, rng, data)
    cases += port_cases(cfg, data)
    cases.append(_vxm_sweep(cfg, rng))
    cases += _vxm_column_cases(cfg, data)

    # --- errors ------------------------------------------------------------------------------
    def err_case(name, text, code, queue, pc, sram=None, corrupt=None):
        cases.append((name, make_case(cfg, _prog(cfg, text), sram=sram, corrupt=corrupt, windows=[]),
                      _error(code, qn(queue), pc)))

    err_case("illegal_opcode_wrong_queue", ".queue mem2\nNOP 2\nIW\nEND", ErrorCode.ILLEGAL_OPCODE, "mem2", 1)
    err_case("illegal_write_in_read_queue", ".queue mem2\nNOP 2\nWRITE 0, e0\nEND", ErrorCode.ILLEGAL_OPCODE,
             "mem2", 1)
    err_case("illegal_read_in_write_queue", ".queue mew1\nREAD 0, e0\nEND", ErrorCode.ILLEGAL_OPCODE, "mew1", 0)
    for k, name in enumerate(("illegal_misplaced_random_a", "illegal_misplaced_random_b")):
        program, sram, (queue, pc) = misplaced_case(cfg, np.random.default_rng(40 + k))
        cases.append((name, make_case(cfg, program, sram=sram, windows=[]),
                      _error(ErrorCode.ILLEGAL_OPCODE, qn(queue), pc)))
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
    # word 1 may hold any bits; word 0 of a slot must name an element type
    err_case("bad_field_config_etype", f".queue vxm\nCONFIG 1, 7\nCONFIG {isa.vxm_control_words(cfg)}, 5\nEND",
             ErrorCode.BAD_FIELD, "vxm", 1)
    err_case("bad_field_vred_op", ".queue vxm\nVRED 3, e0, e4\nEND", ErrorCode.BAD_FIELD, "vxm", 0)
    if cfg.vxm_alus >= 2:
        A, vl = cfg.vxm_alus, timing.VXM_ALU_LATENCY
        # VRED, VFUNC and the control table belong to column 0's queue; a chain ends by the last column
        err_case("illegal_vred_column_queue", ".queue vxm1\nVRED 0, e0, e4\nEND", ErrorCode.ILLEGAL_OPCODE, "vxm1", 0)
        err_case("bad_field_config_column_queue", ".queue vxm1\nNOP 1\nCONFIG 0, 1\nEND", ErrorCode.BAD_FIELD,
                 "vxm1", 1)
        err_case("bad_field_vop_len", f".queue {isa.vxm_column_queue(A - 1)}\nVOP 0, 1, e0, e0, e0, 2\nEND",
                 ErrorCode.BAD_FIELD, isa.vxm_column_queue(A - 1), 0)
        # a chain of 2 from column 0 enters column 1 VXM_ALU_LATENCY later, the cycle vxm1's VOP executes
        err_case("vxm_fault", f".queue vxm\nNOP 5\nVOP 0, 1, e0, e0, e1, 2\nNOP 10\nEND\n"
                 f".queue vxm1\nNOP {5 + vl}\nVOP 0, 1, e0, e0, e2, 1\nEND", ErrorCode.VXM_FAULT, "vxm1", 1)
    err_case("bad_address_read", f".queue mem0\nREAD {cfg.mem_depth}, e0\nEND", ErrorCode.BAD_ADDRESS, "mem0", 0)
    # an error at pc 255 of the last MEM read queue: bits 0..7 of ERROR_PC all set in one stop
    # (the other programs stop below pc 64)
    err_case("bad_address_pc_255", f".queue mem{cfg.mem_slices - 1}\n" + "NOP 1\n" * 255
             + f"READ {cfg.mem_depth}, e0\nEND", ErrorCode.BAD_ADDRESS, f"mem{cfg.mem_slices - 1}", 255)
    err_case("bad_address_repeat", f".queue mem1\nREAD {cfg.mem_depth - 3}, e0\nREPEAT 5, 1\nEND",
             ErrorCode.BAD_ADDRESS, "mem1", 1)
    err_case("bad_address_acc_row", f".queue mxm0\nABC {cfg.mxm_acc_depth}, e0, e0, 0\nEND",
             ErrorCode.BAD_ADDRESS, "mxm0", 0)
    # the first row group past the last row
    err_case("bad_address_weight_row", f".queue mxw0\nLW {-(-L // R) * R}, e0, 0, 1\nEND", ErrorCode.BAD_ADDRESS,
             "mxw0", 0)
    err_case("bad_field_lw_rows0", ".queue mxw0\nLW 0, e0, 0, 0\nEND", ErrorCode.BAD_FIELD, "mxw0", 0)
    err_case("bad_field_lw_rows", f".queue mxw0\nLW 0, e0, 0, {R + 1}\nEND", ErrorCode.BAD_FIELD, "mxw0", 0)
    # R fp16 rows span 2R streams: one past the last stream
    err_case("bad_field_lw_group", f".queue mxw0\nLW 0, e{cfg.streams - 2 * R + 1}, 1, {R}\nEND",
             ErrorCode.BAD_FIELD, "mxw0", 0)
    if R > 1:
        err_case("bad_address_lw_misaligned", ".queue mxw0\nLW 1, e0, 0, 1\nEND", ErrorCode.BAD_ADDRESS, "mxw0", 0)
        # a REPEAT step of 1 leaves the row groups: the first repeat is misaligned
        err_case("bad_address_lw_repeat", f".queue mxw0\nLW 0, e0, 0, {R}\nREPEAT 2, 1\nEND",
                 ErrorCode.BAD_ADDRESS, "mxw0", 1)
    if L % R:
        # the last group is shorter than R: its full R rows run past lanes
        err_case("bad_address_lw_last_group", f".queue mxw0\nLW {L - L % R}, e0, 0, {R}\nEND",
                 ErrorCode.BAD_ADDRESS, "mxw0", 0)
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
    # ECC on the other access paths: a gather through a corrected word, a scrub of an uncorrectable one
    idx = np.zeros(L, np.uint8)
    idx[0::8] = 6
    t_g = _arrive(cfg, "mem0", "mem1", timing.MEM_READ_LATENCY, 0)
    text = f".queue mem0\nREAD 12, e2\nEND\n.queue mem1\nNOP {t_g}\nGATHER e2, e3\nNOP 4\nEND"

    def check_gather_ecc(obs):
        assert obs["done"] and not obs["error"], obs
    cases.append(("ecc_single_gather", make_case(cfg, _prog(cfg, text), sram={(0, 12): idx, (1, 6): data[(1, 6)]},
                                                 corrupt={(1, 6): one}, windows=[]), check_gather_ecc))
    cases.append(("ecc_double_gather", make_case(cfg, _prog(cfg, text), sram={(0, 12): idx, (1, 6): data[(1, 6)]},
                                                 corrupt={(1, 6): two}, windows=[]),
                  _error(ErrorCode.ECC_POISON, qn("mem1"), 1)))
    err_case("ecc_double_scrub", ".queue mem3\nSCRUB 7\nNOP 5\nEND", ErrorCode.ECC_POISON, "mem3", 0,
             sram={(3, 7): data[(0, 1)]}, corrupt={(3, 7): two})
    cases += _port_error_cases(cfg, data, big, two)
    _ = WORD_BITS
    return cases


def port_cases(cfg, data):
    """A MEM slice read and written in one cycle, on its two queues.

    ``read_write_same_cycle``: mem0 READs feed mew1's WRITE of address 5 in cycle ``T`` and of
    7 in ``T + 2``; mem1 READs 5 in ``T`` (the old word), 5 again ``MEM_WRITE_LATENCY`` later
    (the new one), 6 in ``T + 2`` (another address in the same cycle) and 7
    ``MEM_WRITE_LATENCY`` after its write; mew3 stores what they read at 20..23.

    ``scrub_rewrite_vs_write``: SCRUBs of words with a single-bit error in slices 2 and 3, and
    a WRITE of each word: in slice 2 executing ``MEM_SCRUB_DELAY`` later, the cycle of the
    scrub's rewrite, where the written word stays (the rewrite is dropped); in slice 3 in the
    SCRUB's own cycle, where the scrub's corrected old word replaces it a cycle later. Every
    column of both words has one flipped bit, so each column is rewritten; every correction is
    counted.
    """
    L, ml, wl = cfg.lanes, timing.MEM_READ_LATENCY, timing.MEM_WRITE_LATENCY
    T = 12
    t_n, dn = _feed(cfg, "mem0", "mew1", T, ml)
    d_o, hops = _hops(cfg, "mem1", "mew3")
    reads = [(T, 5), (T + wl, 5), (T + 2, 6), (T + 2 + wl, 7)]
    events = [("mem0", t_n, f"READ 3, {dn}1", 0), ("mew1", T, f"WRITE 5, {dn}1", 0),
              ("mem0", t_n + 2, f"READ 4, {dn}1", 0), ("mew1", T + 2, f"WRITE 7, {dn}1", 0)]
    t_ws = [t + ml + 1 + hops for t, _ in reads]
    for k, ((t, a), t_w) in enumerate(zip(reads, t_ws)):
        events += [("mem1", t, f"READ {a}, {d_o}2", 0), ("mew3", t_w, f"WRITE {20 + k}, {d_o}2", 0)]
    sram = {(0, 3): data[(0, 3)], (0, 4): data[(0, 4)], **{(1, a): data[(1, a)] for a in (5, 6, 7)}}

    def check_rw(obs):
        assert obs["done"] and not obs["error"], obs
        want = [data[(1, 5)], data[(0, 3)], data[(1, 6)], data[(0, 4)]]
        for k, (w, what) in enumerate(zip(want, ("old word (same cycle as its write)", "new word, a cycle later",
                                                  "another address, same cycle", "new word, a cycle later"))):
            np.testing.assert_array_equal(_vec(obs, 0, k, L), w, err_msg=f"mem1 read {k}: the {what}")
        for a, w in ((5, data[(0, 3)]), (6, data[(1, 6)]), (7, data[(0, 4)])):
            np.testing.assert_array_equal(_vec(obs, 1, a - 5, L), w, err_msg=f"slice 1 address {a}")
        # mew3 ends in the cycle after its last WRITE; the stop then reaches the last superlane
        assert obs["cycles"] == t_ws[-1] + 2 + timing.wavefront_span(cfg), obs
    out = [("read_write_same_cycle", make_case(cfg, _timeline(cfg, events), sram=sram,
                                               windows=[(3, 20, 4), (1, 5, 3)]), check_rw)]

    one = [1 << (9 + c) for c in range(L // 8)]          # one flipped bit in every column
    # slice 2: the WRITE executes in the rewrite's cycle; slice 3: in the SCRUB's own cycle
    events, sram = [], {(2, 9): data[(2, 9)], (3, 9): data[(3, 9)], (0, 8): data[(0, 8)], (0, 10): data[(0, 10)]}
    for sl, t_wr, a in ((2, T + timing.MEM_SCRUB_DELAY, 8), (3, T, 10)):
        t_n, dn = _feed(cfg, "mem0", f"mew{sl}", t_wr, ml)
        events += [(f"mem{sl}", T, "SCRUB 9", 0), ("mem0", t_n, f"READ {a}, {dn}{sl}", 0),
                   (f"mew{sl}", t_wr, f"WRITE 9, {dn}{sl}", 0)]

    def check_scrub(obs):
        assert obs["done"] and not obs["error"], obs
        np.testing.assert_array_equal(_vec(obs, 0, 0, L), data[(0, 8)], err_msg="a WRITE in the cycle of the "
                                      "scrub's rewrite of its column wins")
        np.testing.assert_array_equal(_vec(obs, 1, 0, L), data[(3, 9)], err_msg="a WRITE in the SCRUB's own "
                                      "cycle is overwritten by the scrub's corrected old word a cycle later")
        assert obs["ecc"][2][:2] == [L // 8, 0] and obs["ecc"][3][:2] == [L // 8, 0], obs["ecc"]
    out.append(("scrub_rewrite_vs_write", make_case(cfg, _timeline(cfg, events), sram=sram,
                                                   corrupt={(2, 9): one, (3, 9): one},
                                                   windows=[(2, 9, 1), (3, 9, 1)]), check_scrub))
    return out


def _port_error_cases(cfg, data, big, two):
    """Errors of a slice's two queues in one cycle: the lower queue number wins, and every read
    queue (``memN``) is numbered below every write queue (``mewN``).

    The index vector ``big`` names an address past the end. ``priority_gather_over_scatter``:
    a GATHER (mem1) and a SCATTER (mew1) with it execute together: BAD_ADDRESS, mem1, the
    GATHER's pc. ``priority_poison_over_scatter``: a READ of an uncorrectable word (mem1)
    returns its data in the cycle a SCATTER (mew1) with ``big`` executes: ECC_POISON, mem1, the
    READ's pc. ``priority_read_queues_first``: a SCATTER in mew0 and a GATHER in mem3 in one
    cycle: BAD_ADDRESS, mem3."""
    ml, T, out = timing.MEM_READ_LATENCY, 12, []

    def case(name, events, sram, corrupt, code, queue, pc):
        # the vxm queue runs on until the errors have come through the wavefront
        events = events + [("vxm", T + 4 + timing.wavefront_span(cfg), "NOP 1", 0)]
        out.append((name, make_case(cfg, _timeline(cfg, events), sram=sram, corrupt=corrupt, windows=[]),
                    _error(code, isa.queues(cfg).index(queue), pc)))
    t_i, di = _feed(cfg, "mem0", "mem1", T, ml)
    both = [("mem0", t_i, f"READ 5, {di}2", 0), ("mew1", T, f"SCATTER {di}2, {di}4", 0)]
    case("priority_gather_over_scatter", both + [("mem1", T, f"GATHER {di}2, {di}3", 0)],
         {(0, 5): big}, None, ErrorCode.BAD_ADDRESS, "mem1", 1)
    # the READ's data is out MEM_READ_LATENCY after it executes: the SCATTER executes then
    t_r = T - ml
    case("priority_poison_over_scatter", both + [("mem1", t_r, f"READ 9, {di}3", 0)],
         {(0, 5): big, (1, 9): data[(1, 9)]}, {(1, 9): two}, ErrorCode.ECC_POISON, "mem1", 1)
    t_a, da = _feed(cfg, "mem1", "mew0", T, ml)
    t_b, db = _feed(cfg, "mem2", "mem3", T, ml)
    case("priority_read_queues_first", [("mem1", t_a, f"READ 5, {da}2", 0), ("mew0", T, f"SCATTER {da}2, {da}4", 0),
                                        ("mem2", t_b, f"READ 5, {db}3", 0), ("mem3", T, f"GATHER {db}3, {db}5", 0)],
         {(1, 5): big, (2, 5): big}, None, ErrorCode.BAD_ADDRESS, "mem3", 1)
    return out


def _timeline(cfg, events):
    """A program from ``(queue, cycle, instruction, repeats[, step])`` events: each queue's
    instructions at their cycles (REPEAT ``repeats`` more times, address step ``step``,
    default 1), NOPs in the gaps, END after the last."""
    per = {}
    for q, t, text, rep, *step in events:
        per.setdefault(q, []).append((t, text, rep, step[0] if step else 1))
    lines = []
    for q, evs in per.items():
        lines.append(f".queue {q}")
        cur = 0
        for t, text, rep, step in sorted(evs):
            assert t >= cur, f"{q}: {text} at cycle {t} overlaps the previous instruction"
            if t > cur:
                lines.append(f"NOP {t - cur}")
            lines.append(text)
            if rep:
                lines.append(f"REPEAT {rep}, {step}")
            cur = t + 1 + rep
        lines.append("END")
    return _prog(cfg, "\n".join(lines))


def _hops(cfg, a, b):
    pos = timing.floorplan(cfg)
    pa, pb = pos[isa.queue_slice(a)], pos[isa.queue_slice(b)]
    return ("e" if pb >= pa else "w"), abs(pb - pa)


def _feed(cfg, src, dst, t_dst, lat):
    """Issue cycle of a producer in ``src`` (latency ``lat``) whose output ``dst`` reads when it
    issues in cycle ``t_dst``, and the stream direction letter."""
    d, hops = _hops(cfg, src, dst)
    return t_dst - (lat + 1 + hops), d


def _unit_cases(cfg, rng, data):
    """One directed program per unit instruction not covered above: the SXM ops, GATHER,
    SCATTER, CONFIG + VOP, VRED; checked with numpy (and the unit golden functions)."""
    from openlpu.golden.sxm import SxmOp, lane_op
    from openlpu.golden.vxm import chain
    L = cfg.lanes
    ml = timing.MEM_READ_LATENCY
    out = []
    T = 12                                               # the unit's issue cycle in each program

    # --- SXM lane ops: a from mem0, b from mem1, c from mem2; result to mem1 ---------------
    pattern = rng.integers(0, L + 2, L).astype(np.uint8)    # PERM: out-of-range lanes read 0
    mask = (rng.integers(0, 2, L) * rng.integers(1, 256, L)).astype(np.uint8)
    for name, k in (("PASS", None), ("SHUP", 3), ("SHDN", L), ("ROT", 1), ("PERM", None), ("DIST", L - 1),
                    ("SEL", None)):
        a_vec, b_vec, c_vec = data[(0, 5)], pattern if name == "PERM" else data[(1, 6)], mask
        sram = {(0, 5): a_vec, (1, 6): b_vec, (2, 7): c_vec}
        t_a, da = _feed(cfg, "mem0", "sxm", T, ml)
        events = [("mem0", t_a, f"READ 5, {da}1", 0)]
        if name in ("PERM", "SEL"):
            t_b, db = _feed(cfg, "mem1", "sxm", T, ml)
            events.append(("mem1", t_b, f"READ 6, {db}2", 0))
        if name == "SEL":
            t_c, dc = _feed(cfg, "mem2", "sxm", T, ml)
            events.append(("mem2", t_c, f"READ 7, {dc}3", 0))
        d_out, hops = _hops(cfg, "sxm", "mem3")
        t_w = T + timing.sxm_chip_latency(cfg) + 1 + hops
        args = {"PASS": f"{da}1, {d_out}4", "PERM": f"{da}1, {db if name == 'PERM' else ''}2, {d_out}4",
                "SEL": f"{da}1, {db if name == 'SEL' else ''}2, {dc if name == 'SEL' else ''}3, {d_out}4"}
        text = args.get(name, f"{k}, {da}1, {d_out}4")
        events += [("sxm", T, f"{name} {text}", 0), ("mew3", t_w, f"WRITE 20, {d_out}4", 0)]
        want = lane_op(SxmOp[{"PASS": "PASS", "SHUP": "SHIFT_UP", "SHDN": "SHIFT_DOWN", "ROT": "ROTATE",
                              "PERM": "PERMUTE", "DIST": "DISTRIBUTE", "SEL": "SELECT"}[name]],
                       a_vec, b_vec, c_vec, k or 0)
        out.append((f"sxm_{name.lower()}", make_case(cfg, _timeline(cfg, events), sram=sram,
                                                       windows=[(3, 20, 1)]), _expect_vec(0, 0, want, L)))

    # --- SXM transpose: lanes rows in, lanes columns out ----------------------------------
    tile = rng.integers(0, 256, (L, L)).astype(np.uint8)
    sram = {(0, r): tile[r] for r in range(L)}
    t_a, da = _feed(cfg, "mem0", "sxm", T, ml)
    d_out, hops = _hops(cfg, "sxm", "mem3")
    # the last row executes in T + L; column j leaves 1 + SXM_LATENCY + j cycles later
    t_w = T + L + timing.ICU_DISPATCH_LATENCY + timing.sxm_chip_latency(cfg) + hops
    events = [("mem0", t_a, f"READ 0, {da}1", L - 1), ("sxm", T, f"TRANS {da}1, {d_out}4, 1", 0),
              ("sxm", T + 1, f"TRANS {da}1, {d_out}4, 0", L - 2), ("mew3", t_w, f"WRITE 20, {d_out}4", L - 1)]
    if L == 2:
        events[2] = ("sxm", T + 1, f"TRANS {da}1, {d_out}4, 0", 0)

    def check_t(obs):
        assert obs["done"], obs
        got = np.frombuffer(bytes.fromhex(obs["windows"][0]), np.uint8).reshape(L, L)
        np.testing.assert_array_equal(got, tile.T)
    out.append(("sxm_trans", make_case(cfg, _timeline(cfg, events), sram=sram, windows=[(3, 20, L)]), check_t))

    # --- GATHER: per-column addresses from an index vector ----------------------------------
    cols = L // 8
    addrs = rng.integers(0, 16, cols)
    idx = np.zeros(L, np.uint8)
    idx[0::8] = addrs
    sram = {(0, 9): idx, **{(1, a): data[(1, a)] for a in range(16)}}
    t_i, di = _feed(cfg, "mem0", "mem1", T, ml)
    d_o, hops = _hops(cfg, "mem1", "mem3")
    t_w = T + ml + 1 + hops
    events = [("mem0", t_i, f"READ 9, {di}2", 0), ("mem1", T, f"GATHER {di}2, {d_o}5", 0),
              ("mew3", t_w, f"WRITE 21, {d_o}5", 0)]
    want = np.concatenate([data[(1, int(a))][8 * w:8 * w + 8] for w, a in enumerate(addrs)])
    out.append(("gather", make_case(cfg, _timeline(cfg, events), sram=sram, windows=[(3, 21, 1)]),
                _expect_vec(0, 0, want, L)))

    # --- SCATTER: column w of the data goes to its own address ------------------------------
    s_addrs = 30 + np.arange(cols)
    idx = np.zeros(L, np.uint8)
    idx[0::8] = s_addrs
    vec = data[(0, 3)]
    sram = {(0, 10): idx, (2, 11): vec}
    t_i, di = _feed(cfg, "mem0", "mem1", T, ml)
    t_d, dd = _feed(cfg, "mem2", "mem1", T, ml)
    events = [("mem0", t_i, f"READ 10, {di}2", 0), ("mem2", t_d, f"READ 11, {dd}3", 0),
              ("mew1", T, f"SCATTER {di}2, {dd}3", 0)]

    def check_s(obs):
        assert obs["done"], obs
        got = np.frombuffer(bytes.fromhex(obs["windows"][0]), np.uint8).reshape(cols, L)
        for w in range(cols):
            np.testing.assert_array_equal(got[w][8 * w:8 * w + 8], vec[8 * w:8 * w + 8], err_msg=f"column {w}")
    out.append(("scatter", make_case(cfg, _timeline(cfg, events), sram=sram, windows=[(1, 30, cols)]), check_s))

    # --- CONFIG + VOP: an int8 ALU chain, a from mem0 and b from mem1 -----------------------
    ops = [("add", 0, 0), ("mul", 1, 3), ("sar", 1, 1), ("max", 0, 0)][:cfg.vxm_alus]
    a_vec, b_vec = data[(0, 1)], data[(1, 2)]
    t_a, da = _feed(cfg, "mem0", "vxm", T + 20, ml)
    t_b, db = _feed(cfg, "mem1", "vxm", T + 20, ml)
    d_o, hops = _hops(cfg, "vxm", "mem3")
    vlat = timing.vop_latency(cfg.vxm_alus)
    t_w = T + 20 + vlat + 1 + hops
    slot = " , ".join(f"{o} {'b' if src == 0 else imm}" for o, src, imm in ops)
    text = "\n".join(f".queue {q}\n" + body for q, body in {
        "mem0": f"NOP {t_a}\nREAD 1, {da}1\nEND",
        "mem1": f"NOP {t_b}\nREAD 2, {db}2\nEND",
        "vxm": f".vxmslot 2, int8, {slot}\nNOP {T + 20 - isa.vxm_control_words(cfg)}\n"
               f"VOP 2, 1, {da}1, {db}2, {d_o}6\nEND",
        "mew3": f"NOP {t_w}\nWRITE 22, {d_o}6\nEND"}.items())
    a_i, b_i = a_vec.view(np.int8).astype(np.int64), b_vec.view(np.int8).astype(np.int64)
    from openlpu.golden.vxm import OPS, TYPES
    want = chain([OPS[o] for o, _, _ in ops], TYPES["int8"], [src for _, src, _ in ops], [imm for _, _, imm in ops],
                 a_i, b_i)
    want = (np.asarray(want) & 0xFF).astype(np.uint8)
    out.append(("config_vop", make_case(cfg, _prog(cfg, text), sram={(0, 1): a_vec, (1, 2): b_vec},
                                        windows=[(3, 22, 1)]), _expect_vec(0, 0, want, L)))

    # --- VRED: int32 sum and max across the lanes; planes 0 and 1 from two slices ---------
    for op, fn in ((0, np.sum), (1, np.max)):
        lo, hi = data[(0, 4)], data[(1, 4)]
        t_lo, d1 = _feed(cfg, "mem0", "vxm", T, ml)
        t_hi, _ = _feed(cfg, "mem1", "vxm", T, ml)
        rlat = timing.vred_chip_latency
        d_o, hops = _hops(cfg, "vxm", "mem3")
        t_w = T + rlat(cfg) + 1 + hops
        events = [("mem0", t_lo, f"READ 4, {d1}4", 0), ("mem1", t_hi, f"READ 4, {d1}5", 0),
                  ("vxm", T, f"VRED {op}, {d1}4, {d_o}0", 0), ("mew3", t_w, f"WRITE 23, {d_o}0", 0),
                  ("mew2", _hops(cfg, "vxm", "mem2")[1] + T + rlat(cfg) + 1, f"WRITE 23, {d_o}1", 0)]
        values = lo.astype(np.int64) | hi.astype(np.int64) << 8      # planes 2, 3 are zero streams
        r = int(fn(values)) & 0xFFFFFFFF

        def check_r(obs, r=r):
            assert obs["done"], obs
            assert (_vec(obs, 0, 0, L) == (r & 0xFF)).all() and (_vec(obs, 1, 0, L) == (r >> 8 & 0xFF)).all(), obs
        out.append((f"vred_{'sum' if op == 0 else 'max'}", make_case(
            cfg, _timeline(cfg, events), sram={(0, 4): lo, (1, 4): hi}, windows=[(3, 23, 1), (2, 23, 1)]),
            check_r))
    # --- VRED fsum: fp32 values whose two high bytes come from mem0 and mem1 -------------
    lo, hi = data[(0, 4)], data[(1, 4)]
    t_lo, d1 = _feed(cfg, "mem0", "vxm", T, ml)
    t_hi, _ = _feed(cfg, "mem1", "vxm", T, ml)
    from openlpu.golden.vxm_reduce import reduce_lanes
    rlat = timing.vred_chip_latency
    d_o, hops = _hops(cfg, "vxm", "mem3")
    d2, hops2 = _hops(cfg, "vxm", "mem2")
    events = [("mem0", t_lo, f"READ 4, {d1}6", 0), ("mem1", t_hi, f"READ 4, {d1}7", 0),
              ("vxm", T, f"VRED {isa.VRED_OPS['fsum']}, {d1}4, {d_o}0", 0),
              ("mew3", T + rlat(cfg) + 1 + hops, f"WRITE 23, {d_o}2", 0),
              ("mew2", T + rlat(cfg) + 1 + hops2, f"WRITE 23, {d2}{3 if d2 == d_o else 0}", 0)]
    r = reduce_lanes(lo.astype(np.int64) << 16 | hi.astype(np.int64) << 24, "fsum")   # planes 0, 1 read 0

    def check_fsum(obs, r=r, same=(d2 == d_o)):
        assert obs["done"] and not obs["error"], obs
        assert (_vec(obs, 0, 0, L) == (r >> 16 & 0xFF)).all(), obs
        if same:
            assert (_vec(obs, 1, 0, L) == (r >> 24 & 0xFF)).all(), obs
    out.append(("vred_fsum", make_case(cfg, _timeline(cfg, events), sram={(0, 4): lo, (1, 4): hi},
                                       windows=[(3, 23, 1), (2, 23, 1)]), check_fsum))
    # --- VFUNC: each fp32 function on a vector whose 4 byte planes come from 4 slices ---
    from openlpu.golden.vxm_func import f32_func
    pos = timing.floorplan(cfg)
    up = [f"mem{i}" for i in range(cfg.mem_slices) if pos[f"mem{i}"] < pos["vxm"]]
    if len(up) >= 2:
        vals = np.array([0x3F800000, 0x40490FDB, 0xC0000000, 0x3E800000, 0x00000000, 0x7F800000,
                         0xFF800000, 0x7FC00001] * (L // 8 + 1), np.uint32)[:L]
        planes = [((vals >> (8 * j)) & 0xFF).astype(np.uint8) for j in range(4)]
        for fn in range(4):
            events, sram = [], {}
            # planes j >= len(up) ride on streams nobody writes: they read 0
            for j, q in enumerate(up[:4]):
                t_r, d_in = _feed(cfg, q, "vxm", T, ml)
                events.append((q, t_r, f"READ 24, {d_in}{4 + j}", 0))
                sram[(int(q[3:]), 24)] = planes[j]
            n_in = min(4, len(up))
            x = sum(planes[j].astype(np.uint32) << (8 * j) for j in range(n_in))
            want = np.asarray(f32_func(fn, x), np.uint32)
            d_o, hops = _hops(cfg, "vxm", "mem3")
            t_w = T + timing.VXM_FUNC_LATENCY + 1 + hops
            # result planes 0 and 1 to two slices downstream
            d2, hops2 = _hops(cfg, "vxm", "mem2")
            t_w2 = T + timing.VXM_FUNC_LATENCY + 1 + hops2
            events += [("vxm", T, f"VFUNC {fn}, {d_in}4, {d_o}0", 0), ("mew3", t_w, f"WRITE 25, {d_o}0", 0),
                       ("mew2", t_w2, f"WRITE 25, {d2}{0 if d2 != d_o else 1}", 0)]

            def check_f(obs, want=want, second=(1 if d2 == d_o else 0)):
                assert obs["done"] and not obs["error"], obs
                np.testing.assert_array_equal(_vec(obs, 0, 0, L), (want & 0xFF).astype(np.uint8))
                np.testing.assert_array_equal(_vec(obs, 1, 0, L), ((want >> (8 * second)) & 0xFF).astype(np.uint8))
            out.append((f"vfunc_{fn}", make_case(cfg, _timeline(cfg, events), sram=sram,
                                                 windows=[(3, 25, 1), (2, 25, 1)]), check_f))
    return out


def _vxm_sweep(cfg, rng):
    """Every VXM op on every element type: per type, the 32 ops shuffled into chains of
    ``vxm_alus``, each with random sources and immediates, run by one VOP per pair of
    result planes on operands with random and special bytes in their high planes.

    ``a`` comes east from mem0 (top plane) and mem1 (next), ``b`` west from mem2 and mem3;
    result planes go west to slices 0 and 1 (their write queues; address 100 + pass). Checked with the unit's
    golden :func:`~openlpu.golden.vxm.chain`.
    """
    from openlpu.asm import vxm_slot_words
    from openlpu.golden.vxm import OPS, TYPES, WIDTH, chain, result_type
    L, ml, words = cfg.lanes, timing.MEM_READ_LATENCY, isa.vxm_control_words(cfg)
    vlat = timing.vop_latency(cfg.vxm_alus)
    # stream groups: a, b and the result each take 4 streams of their direction
    dirs = {"a": _hops(cfg, "mem0", "vxm")[0], "b": _hops(cfg, "mem2", "vxm")[0], "o": _hops(cfg, "vxm", "mem0")[0]}
    base, used = {}, {}
    for g, d in dirs.items():
        base[g] = used.get(d, 0)
        used[d] = base[g] + 4
    assert max(used.values()) <= cfg.streams, "the sweep needs 4 streams per operand group"
    assert all(_hops(cfg, q, "vxm")[0] == dirs["a"] for q in ("mem0", "mem1"))
    assert all(_hops(cfg, q, "vxm")[0] == dirs["b"] for q in ("mem2", "mem3"))
    special = np.array([0x00, 0x80, 0x7F, 0xFF, 0x7C, 0xFC, 0x7E, 0x3C, 0x01, 0x40], np.uint8)

    def operand():
        v = rng.integers(0, 256, L).astype(np.uint8)
        pick = rng.random(L) < 0.4
        v[pick] = rng.choice(special, int(pick.sum()))
        return v

    busy, events, sram, passes = {}, [], {}, []

    def free(q, t):
        return t >= 0 and t not in busy.setdefault(q, set())

    def book(q, t, text):
        busy.setdefault(q, set()).add(t)
        events.append((q, t, text, 0))

    t_vxm, k = 0, 0
    for tname, etype in TYPES.items():
        n = WIDTH[etype] // 8
        ops = list(OPS)
        rng.shuffle(ops)
        for g in range(0, len(ops), cfg.vxm_alus):
            slot = k % isa.VXM_SLOTS
            alus = []
            for op in ops[g:g + cfg.vxm_alus]:
                src = int(rng.integers(0, 2))
                imm = int(rng.choice(list(TYPES.values()))) if op == "cvt" else int(rng.integers(-40, 40))
                alus.append((op, src, imm))
            for w, value in vxm_slot_words(cfg, tname, alus):
                book("vxm", t_vxm, f"CONFIG {slot * words + w}, {value}")
                t_vxm += 1
            for p in range(max(1, n // 2)):
                planes = [j for j in (n - 1 - 2 * p, n - 2 - 2 * p) if j >= 0]
                while True:                                      # earliest VOP cycle with free queues
                    t = t_vxm
                    need = {"vxm": t}
                    for (q, _), j in zip((("mem0", 0), ("mem1", 0)), (n - 1, n - 2)):
                        if j >= 0:
                            need.setdefault(q + "r", _feed(cfg, q, "vxm", t, ml)[0])
                    for q, j in (("mem2", n - 1), ("mem3", n - 2)):
                        if j >= 0:
                            need[q] = _feed(cfg, q, "vxm", t, ml)[0]
                    for q, j in zip(("mew0", "mew1"), planes):
                        need[q] = t + vlat + 1 + _hops(cfg, "vxm", q)[1]
                    slots = [(q[:4], c) for q, c in need.items()]
                    if all(free(q, c) for q, c in slots) and len(set(slots)) == len(slots):
                        break
                    t_vxm += 1
                a_pl = {n - 1: operand(), **({n - 2: operand()} if n > 1 else {})}
                b_pl = {n - 1: operand(), **({n - 2: operand()} if n > 1 else {})}
                addr = len(passes)
                for (q, s), j in zip((("mem0", 0), ("mem1", 1)), (n - 1, n - 2)):
                    if j >= 0:
                        sram[(s, addr)] = a_pl[j]
                        book(q, need[q + "r"], f"READ {addr}, {dirs['a']}{base['a'] + j}")
                for (q, s), j in zip((("mem2", 2), ("mem3", 3)), (n - 1, n - 2)):
                    if j >= 0:
                        sram[(s, addr)] = b_pl[j]
                        book(q, need[q], f"READ {addr}, {dirs['b']}{base['b'] + j}")
                book("vxm", t, f"VOP {slot}, {n}, {dirs['a']}{base['a']}, {dirs['b']}{base['b']}, "
                                f"{dirs['o']}{base['o']}")
                for q, j in zip(("mew0", "mew1"), planes):
                    book(q, need[q], f"WRITE {100 + addr}, {dirs['o']}{base['o'] + j}")
                a = sum(v.astype(np.int64) << (8 * j) for j, v in a_pl.items())
                b = sum(v.astype(np.int64) << (8 * j) for j, v in b_pl.items())
                codes = [OPS[o] for o, _, _ in alus]
                res = np.asarray(chain(codes, etype, [s_ for _, s_, _ in alus], [i for _, _, i in alus], a, b))
                res &= (1 << WIDTH[result_type(codes, etype, [i for _, _, i in alus])]) - 1
                passes.append((tname, alus, planes, res))
                t_vxm = t + 1
            k += 1
    assert len(passes) < 100

    def check(obs):
        assert obs["done"] and not obs["error"], obs
        for i, (tname, alus, planes, res) in enumerate(passes):
            for w, j in enumerate(planes):
                np.testing.assert_array_equal(_vec(obs, w, i, L), ((res >> (8 * j)) & 0xFF).astype(np.uint8),
                                              err_msg=f"{tname} {alus} plane {j}")
    case = make_case(cfg, _timeline(cfg, events), sram=sram, windows=[(0, 100, len(passes)), (1, 100, len(passes))])
    return "vxm_sweep", case, check


def _vxm_column_cases(cfg, data):
    """VXM ALU columns driven by their own queues (needs ``vxm_alus >= 3``), int8 operands ``a``
    from mem0 and ``b`` from mem1 read in the VOPs' cycle ``T``, results stored by mew3 and mew2.

    ``vxm_two_columns``: queue ``vxm``'s ``VOP 0, .., 1`` (slot 0: add b, then ALUs that must
    not run) and queue ``vxm1``'s ``VOP 1, .., 1`` (slot 1: sub b, on b and a swapped) execute
    in the same cycle on columns 0 and 1, writing streams 6 and 7 ``vop_latency(1)`` later.

    ``vxm_write_priority``: results landing on the same streams in one cycle: VOPs ending on
    columns 0 and 1 (column 0's stays), one ending on column 2 and a VFUNC (the VOP's stays).

    ``vxm_repeat_columns``: see :func:`_vxm_repeat_columns`.

    ``vxm_chain_column1``: queue ``vxm1``'s VOP of length 2 runs slot 2's ALUs 0 and 1 (mul b,
    add 7) on columns 1 and 2, its result ``vop_latency(2)`` later. Checked with the unit's
    golden :func:`~openlpu.golden.vxm.chain` on the slot's first ``len`` ALUs.
    """
    from openlpu.asm import vxm_slot_words
    from openlpu.golden.vxm import OPS, TYPES, chain
    if cfg.vxm_alus < 3:
        return []
    L, ml = cfg.lanes, timing.MEM_READ_LATENCY
    T = 3 * isa.vxm_control_words(cfg) + timing.VXM_FUNC_LATENCY      # after the CONFIGs of three slots
    a_vec, b_vec = data[(0, 5)], data[(1, 6)]
    t_a, da = _feed(cfg, "mem0", "vxm", T, ml)
    t_b, db = _feed(cfg, "mem1", "vxm", T, ml)
    d_o, hops3 = _hops(cfg, "vxm", "mem3")
    d2, hops2 = _hops(cfg, "vxm", "mem2")
    assert da == db and d_o == d2
    slots = {0: [("add", 0, 0), ("mul", 1, 3), ("xor", 1, 0x55)], 1: [("sub", 0, 0), ("add", 1, 9)],
             2: [("mul", 0, 0), ("add", 1, 7), ("neg", 1, 0)]}
    a_i, b_i = a_vec.view(np.int8).astype(np.int64), b_vec.view(np.int8).astype(np.int64)

    def want(slot, length, x, y):
        alus = slots[slot][:length]
        res = chain([OPS[o] for o, _, _ in alus], TYPES["int8"], [s for _, s, _ in alus], [i for _, _, i in alus], x, y)
        return (np.asarray(res) & 0xFF).astype(np.uint8)

    def events(used, vops):
        evs = [("vxm", k, f"CONFIG {slot * isa.vxm_control_words(cfg) + w}, {value}", 0)
               for k, (slot, (w, value)) in enumerate((slot, wv) for slot in used
                                                      for wv in vxm_slot_words(cfg, "int8", slots[slot]))]
        assert len(evs) <= T + timing.vop_latency(1) - timing.VXM_FUNC_LATENCY
        return evs + [("mem0", t_a, f"READ 5, {da}1", 0), ("mem1", t_b, f"READ 6, {db}2", 0)] + vops

    def check(*wants):
        def check_vecs(obs):
            assert obs["done"] and not obs["error"], obs
            for w, vec in enumerate(wants):
                np.testing.assert_array_equal(_vec(obs, w, 0, L), vec, err_msg=f"window {w}")
        return check_vecs
    t3, t2 = (T + timing.vop_latency(1) + 1 + h for h in (hops3, hops2))
    two = events([0, 1], [("vxm", T, f"VOP 0, 1, {da}1, {db}2, {d_o}6, 1", 0),
                          ("vxm1", T, f"VOP 1, 1, {db}2, {da}1, {d_o}7, 1", 0),
                          ("mew3", t3, f"WRITE 22, {d_o}6", 0), ("mew2", t2, f"WRITE 22, {d2}7", 0)])
    out = [("vxm_two_columns", make_case(cfg, _timeline(cfg, two), sram={(0, 5): a_vec, (1, 6): b_vec},
                                         windows=[(3, 22, 1), (2, 22, 1)]),
            check(want(0, 1, a_i, b_i), want(1, 1, b_i, a_i)))]
    # the same three VOPs on columns 0, 1, 2 and a VFUNC, all landing in T + vop_latency(1): columns 0
    # and 1 on stream 6 (column 0 wins), column 2 on stream 7 and the VFUNC on 4..7 (the VOPs win)
    t_f = T + timing.vop_latency(1) - timing.VXM_FUNC_LATENCY
    prio = events([0, 1, 2], [("vxm", T, f"VOP 0, 1, {da}1, {db}2, {d_o}6, 1", 0),
                              ("vxm1", T, f"VOP 1, 1, {da}1, {db}2, {d_o}6, 1", 0),
                              ("vxm2", T, f"VOP 2, 1, {da}1, {db}2, {d_o}7, 1", 0),
                              ("vxm", t_f, f"VFUNC 0, {da}1, {d_o}4", 0),
                              ("mew3", t3, f"WRITE 24, {d_o}6", 0), ("mew2", t2, f"WRITE 24, {d2}7", 0)])
    out.append(("vxm_write_priority", make_case(cfg, _timeline(cfg, prio), sram={(0, 5): a_vec, (1, 6): b_vec},
                                                windows=[(3, 24, 1), (2, 24, 1)]),
                check(want(0, 1, a_i, b_i), want(2, 1, a_i, b_i))))
    t3 = T + timing.vop_latency(2) + 1 + hops3
    chain1 = events([2], [("vxm1", T, f"VOP 2, 1, {da}1, {db}2, {d_o}6, 2", 0), ("mew3", t3, f"WRITE 23, {d_o}6", 0)])
    out.append(("vxm_chain_column1", make_case(cfg, _timeline(cfg, chain1), sram={(0, 5): a_vec, (1, 6): b_vec},
                                               windows=[(3, 23, 1)]), check(want(2, 2, a_i, b_i))))
    out.append(_vxm_repeat_columns(cfg, events, check, want, T, (da, db, d_o), a_vec, b_vec, a_i, b_i))
    return out


def _vxm_repeat_columns(cfg, events, check, want, T, dirs, a_vec, b_vec, a_i, b_i):
    """``vxm_repeat_columns``: the last column queue's VOP of length 1 and every other column
    queue but ``vxm``'s, each REPEATed once, in one cycle on their own streams; the first results
    of two of them written back (the repeats read what the streams carry one cycle later)."""
    da, db, d_o = dirs
    cols = range(1, cfg.vxm_alus)
    d2, hops2 = _hops(cfg, "vxm", "mem2")
    hops3 = _hops(cfg, "vxm", "mem3")[1]
    vops = [(isa.vxm_column_queue(k), T, f"VOP 1, 1, {da}1, {db}2, {d_o}{8 - len(cols) + i}, 1", 1)
            for i, k in enumerate(cols)]
    t3, t2 = (T + timing.vop_latency(1) + 1 + h for h in (hops3, hops2))
    prog = events([1], vops + [("mew3", t3, f"WRITE 25, {d_o}{8 - len(cols)}", 0),
                               ("mew2", t2, f"WRITE 25, {d2}{8 - len(cols) + 1}", 0)])
    return ("vxm_repeat_columns", make_case(cfg, _timeline(cfg, prog), sram={(0, 5): a_vec, (1, 6): b_vec},
                                            windows=[(3, 25, 1), (2, 25, 1)]),
            check(want(1, 1, a_i, b_i), want(1, 1, a_i, b_i)))


def _expect_vec(window, index, want, lanes):
    def check(obs):
        assert obs["done"] and not obs["error"], obs
        np.testing.assert_array_equal(_vec(obs, window, index, lanes), np.asarray(want, np.uint8))
    return check
