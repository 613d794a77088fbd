"""Programs on the chip: run cases on the golden ISA simulator and on the RTL, compare.

A *case* is a program plus the SRAM it starts from (see
:mod:`openlpu.verif.tb_lpu` for the JSON form). :func:`expect` runs cases on
:class:`~openlpu.golden.lpu.LpuModel`, :func:`run_rtl` on the simulated
:class:`~openlpu.rtl.lpu.Lpu` (memories loaded by backdoor or through the host port), and :func:`compare`
demands equal status, error code, queue, pc, cycle count, ECC counters and
SRAM windows.

Per-cycle stream registers: with ``streams=True`` :func:`expect` keeps the golden
model's stream registers after every cycle (``LpuModel.run(snapshots=True)``) and
with ``stream_trace=True`` :func:`run_rtl` has the testbench sample every stream
stop's registers in every clock cycle of the run (:mod:`openlpu.verif.tb_lpu`);
:func:`compare` then also runs :func:`compare_streams`, which demands that every
register of every stop of every superlane equal the golden model's in every cycle,
superlane ``s`` shifted by ``superlane_offset(s)`` cycles (the wavefront).
"""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from openlpu import isa, timing
from openlpu.golden.ecc import ecc_encode
from openlpu.golden.lpu import LpuModel
from openlpu.verif.backdoor import read_vector

__all__ = ["PATHS", "make_case", "load_case", "expect", "run_rtl", "chip_design", "build_chip", "compare",
           "run_and_compare", "public_stream_vars", "stream_register_names", "compare_streams"]


def make_case(cfg, program, sram=None, corrupt=None, windows=None, max_cycles=20_000):
    """A JSON-able case. ``program``: ``{queue: [words or Instr]}`` (queues not named get END);
    ``sram``: ``{(slice, addr): lanes bytes}``; ``corrupt``: ``{(slice, addr): [72-bit masks]}``
    (applied to the stored words of an SRAM entry); ``windows``: ``[(slice, addr, count)]``."""
    prog = {}
    for q in isa.queues(cfg):
        words = program.get(q, [isa.make("END")])
        prog[q] = [w if isinstance(w, int) else isa.encode(w) for w in words]
    sram = sram or {}
    corrupt = corrupt or {}
    if windows is None:
        windows = [(s, 0, min(cfg.mem_depth, 32)) for s in range(cfg.mem_slices)]
    return {
        "program": prog,
        "sram": [[s, a, bytes(np.asarray(v, dtype=np.uint8)).hex()] for (s, a), v in sram.items()],
        "corrupt": [[s, a, *masks] for (s, a), masks in corrupt.items()],
        "corrupt_data": {f"{s}:{a}": bytes(np.asarray(sram.get((s, a), np.zeros(cfg.lanes)), np.uint8)).hex()
                         for (s, a) in corrupt},
        "windows": [list(w) for w in windows],
        "max_cycles": max_cycles,
    }


def load_case(model, case):
    """Load a case's SRAM (with its corrupted words) and program into a golden model."""
    for s, a, hexdata in case["sram"]:
        model.mem[s].load(a, np.frombuffer(bytes.fromhex(hexdata), np.uint8))
    for s, a, *masks in case["corrupt"]:
        data = np.frombuffer(bytes.fromhex(case["corrupt_data"][f"{s}:{a}"]), np.uint8)
        model.mem[s].load(a, data)
        for c, mk in enumerate(masks):
            model.mem[s].words[c][a] ^= int(mk)
    model.load_program(case["program"])


def expect(cfg, cases, model=None, streams=False):
    """The golden observations of ``cases`` run one after the other (SRAM persists).

    ``streams``: each observation also holds ``"snapshots"``, the stream registers after
    every cycle of the run (:meth:`LpuModel.run` ``snapshots``), for :func:`compare_streams`.
    """
    model = model or LpuModel(cfg)
    out = []
    for case in cases:
        load_case(model, case)
        r = model.run(max_cycles=case["max_cycles"], snapshots=streams)
        windows = []
        for s, a, n in case["windows"]:
            # the host reads through the ECC decoder: an uncorrectable word reads as zeros
            vecs = [read_vector([model.mem[s].words[c][k] for c in range(cfg.lanes // 8)],
                                cfg.lanes_per_superlane // 8)
                    for k in range(a, a + n)]
            windows.append(b"".join(vecs).hex())
        out.append({"done": r.done, "error": r.error != isa.ErrorCode.NONE, "code": int(r.error),
                    "queue": r.error_queue if r.error else 0, "pc": r.error_pc if r.error else 0,
                    "cycles": r.cycles, "irq": 1, "windows": windows,
                    "ecc": [[m.corrected, m.detected, m.range_errors] for m in model.mem]})
        if streams:
            out[-1]["snapshots"] = r.snapshots
    return out


PATHS = ("backdoor", "host")


def run_rtl(cfg, sim, cases, key, log_file=None, path="backdoor", stream_trace=False):
    """Run ``cases`` on the RTL under ``sim``; the observations as :func:`expect` gives them, plus
    ``seconds``, the wall time of each case's load, run and read back. ``path``: load and read
    the memories by ``"backdoor"`` (:mod:`openlpu.verif.backdoor`) or through the ``"host"`` port
    (a case's own ``"path"`` overrides it). ``stream_trace``: the testbench samples every stream
    register in every cycle of each run (``OPENLPU_STREAM_TRACE=1``), and each observation holds
    them as ``"streams"`` (see :mod:`openlpu.verif.tb_lpu`); it costs Python work every cycle."""
    from openlpu.verif.runner import BUILD_ROOT, run_cocotb
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, not {path!r}")
    work = Path(tempfile.mkdtemp(prefix="lpu-cases-", dir=BUILD_ROOT if BUILD_ROOT.exists() else None))
    cases_path, results_path = work / "cases.json", work / "results.json"
    cases_path.write_text(json.dumps(cases))
    run_cocotb(**chip_design(cfg), sim=sim, test_module="openlpu.verif.tb_lpu",
               key=key, extra_env={"OPENLPU_CONFIG": json.dumps(cfg.as_dict()),
                                   "OPENLPU_CASES": str(cases_path), "OPENLPU_RESULTS": str(results_path),
                                   "OPENLPU_PATH": path, "OPENLPU_STREAM_TRACE": "1" if stream_trace else "0"},
               test_name=work.name, log_file=log_file)
    return json.loads(results_path.read_text())


def chip_design(cfg):
    """The design arguments of :func:`openlpu.verif.runner.run_cocotb` and ``build_model`` for the
    chip of ``cfg`` as :func:`run_rtl` runs it (so a model built by :func:`build_chip` is reused):
    its memories and stream registers are public (backdoor, per-cycle stream trace)."""
    from openlpu.rtl.lpu import Lpu
    from openlpu.verif.backdoor import public_memories
    return {"toplevel": "lpu", "component": lambda: Lpu(cfg),
            "public_vars": public_memories(cfg) + public_stream_vars(cfg)}


def build_chip(cfg, sim, log_file=None):
    """Build (or reuse) the simulator model of the chip of ``cfg`` that :func:`run_rtl` runs;
    returns its build directory."""
    from openlpu.verif.runner import build_model
    return build_model(**chip_design(cfg), sim=sim, log_file=log_file)


def compare(expected, got, labels=None, cfg=None):
    """Assert equal observations; the message names the case and what differs.

    Where a golden observation has ``"snapshots"`` and the RTL's has ``"streams"`` (and
    ``cfg`` is given), the stream registers are compared cycle by cycle first
    (:func:`compare_streams`), so the first message is the earliest divergence.
    """
    assert len(expected) == len(got), f"{len(got)} results for {len(expected)} cases"
    for i, (e, g) in enumerate(zip(expected, got)):
        label = labels[i] if labels else f"case {i}"
        if cfg is not None and "snapshots" in e and "streams" in g:
            compare_streams(e["snapshots"], g["streams"], cfg, label)
        for k in ("done", "error", "code", "queue", "pc", "cycles", "irq", "ecc"):
            assert e[k] == g[k], f"{label}: {k} golden {e[k]} != RTL {g[k]} (golden {_brief(e)}, RTL {_brief(g)})"
        for w, (ew, gw) in enumerate(zip(e["windows"], g["windows"])):
            assert ew == gw, f"{label}: SRAM window {w} differs:\n golden {ew}\n RTL    {gw}"


def _brief(r):
    return {k: r[k] for k in ("done", "code", "queue", "pc", "cycles")}


def run_and_compare(cfg, sim, cases, key, labels=None, log_file=None):
    expected = expect(cfg, cases)
    got = run_rtl(cfg, sim, cases, key, log_file=log_file)
    compare(expected, got, labels)
    return expected


# --- stream registers, cycle by cycle -------------------------------------------------------------

#: Verilog module of a stream stop: :func:`openlpu.rtl.hier.shared` names the shared module
#: ``stream_stop_<fingerprint[:10]>``; a stop (or a superlane's row of stops) too wide to share
#: stays inline, as module ``<toplevel>.superlane<k>.<position>``. Verilator's control files take
#: ``*`` wildcards.
_STOP_MODULES = ("stream_stop_*", "{toplevel}.superlane*")


def stream_register_names(cfg):
    """``[(name, position index, superlane, direction, stream)]`` of every stream register of
    the chip: ``name`` is its path below the toplevel, ``superlane<superlane>.<position>.s<e|w><stream>``
    (:class:`~openlpu.rtl.fabric.StreamStop` in :class:`~openlpu.rtl.fabric.StreamRow`; instance
    names from :class:`~openlpu.rtl.lpu.Lpu`)."""
    out = []
    for name, p in sorted(timing.floorplan(cfg).items(), key=lambda kv: kv[1]):
        for k in range(cfg.superlanes):
            for d in (0, 1):
                for s in range(cfg.streams):
                    out.append((f"superlane{k}.{name}.s{'ew'[d]}{s}", p, k, d, s))
    return out


def public_stream_vars(cfg, toplevel="lpu"):
    """``(module, variable)`` pairs (Verilator wildcards) that make every stream register and the
    ICU's ``active`` visible to the testbench's stream monitor (``run_cocotb``'s ``public_vars``)."""
    regs = [(module.format(toplevel=toplevel), f"s{'ew'[d]}{s}")
            for module in _STOP_MODULES for d in (0, 1) for s in range(cfg.streams)]
    return regs + [(f"{toplevel}.icu", "active")]


def _rtl_stream_array(cfg, samples):
    """The testbench's change lists as an ``int16`` array ``(clock cycles, 2, streams, positions,
    lanes)``; a register whose value had unknown bits reads ``-1`` in every lane."""
    lps = cfg.lanes_per_superlane
    n = samples["cycles"]
    out = np.zeros((n, 2, cfg.streams, len(timing.floorplan(cfg)), cfg.lanes), dtype=np.int16)
    index = {name: (p, k, d, s) for name, p, k, d, s in stream_register_names(cfg)}
    missing = set(index) - set(samples["registers"])
    assert not missing, f"the RTL stream trace lacks {len(missing)} registers, e.g. {sorted(missing)[:3]}"
    for name, changes in zip(samples["registers"], samples["changes"]):
        p, k, d, s = index[name]
        lanes = slice(k * lps, (k + 1) * lps)
        for c, value in changes:
            try:
                vec = np.frombuffer(bytes.fromhex(value)[::-1], np.uint8).astype(np.int16)
            except ValueError:
                vec = np.full(lps, -1, np.int16)
            out[c:, d, s, p, lanes] = vec
    return out


def _lanes_hex(vec):
    return "".join("xx" if b < 0 else f"{b:02x}" for b in vec)


def compare_streams(expected_snapshots, rtl_samples, cfg, label="", offsets=None):
    """Assert that every stream register of the RTL held the golden model's value in every cycle.

    ``expected_snapshots``: the golden model's stream registers after each cycle ``t``
    (``LpuModel.run(snapshots=True)``, superlane 0's time); before cycle 0 they are all zero
    (the start clears them). ``rtl_samples``: the testbench's trace, ``{"registers": [name],
    "changes": [[[clock cycle, hex], ...] per register], "cycles": n}`` where clock cycle ``c``
    counts from the run's cycle 0 (the first clock cycle with the ICU's ``active`` high) and a
    value is the register's contents during that clock cycle, as a Verilog hex number (lane 0
    in the low byte).

    Superlane ``k`` runs ``offsets[k]`` cycles behind superlane 0 (default
    :func:`openlpu.timing.superlane_offset`): its register of clock cycle ``c`` must equal lanes
    ``[k * lanes_per_superlane, (k + 1) * lanes_per_superlane)`` of the golden register after
    cycle ``c - offsets[k] - 1``, zero for ``c - offsets[k] <= 0``, for every ``c`` up to the
    golden run's last cycle plus the offset (the RTL trace must reach that far; later clock
    cycles are not compared). Every register of every stop of every superlane is compared, all
    lanes; the first mismatch (earliest clock cycle, then superlane, position west to east,
    direction, stream) fails with the golden cycle, position, stream, superlane and both values.
    """
    offsets = [timing.superlane_offset(k) for k in range(cfg.superlanes)] if offsets is None else list(offsets)
    names = {p: n for n, p in timing.floorplan(cfg).items()}
    lps = cfg.lanes_per_superlane
    golden = np.stack([np.zeros_like(expected_snapshots[0]), *expected_snapshots]).astype(np.int16)
    rtl = _rtl_stream_array(cfg, rtl_samples)
    prefix = f"{label}: " if label else ""
    first = None
    for k, off in enumerate(offsets):
        need = len(golden) + off
        assert len(rtl) >= need, (f"{prefix}the RTL stream trace has {len(rtl)} clock cycles; superlane {k} "
                                  f"needs {need} (golden run of {len(expected_snapshots)} cycles, offset {off})")
        lanes = slice(k * lps, (k + 1) * lps)
        want = np.concatenate([np.zeros((off, *golden.shape[1:-1], lps), np.int16), golden[..., lanes]])
        bad = np.argwhere((rtl[:need, ..., lanes] != want).any(axis=-1))   # (c, d, s, p)
        if len(bad):
            c, d, s, p = min(bad.tolist(), key=lambda b: (b[0], b[3], b[1], b[2]))
            if first is None or c < first[0]:
                first = (c, k, d, s, p, want, off)
    if first is None:
        return
    c, k, d, s, p, want, off = first
    lanes = slice(k * lps, (k + 1) * lps)
    g, r = want[c, d, s, p], rtl[c, d, s, p, lanes]
    t = c - off - 1
    hint = ""
    for dc, what in ((-1, "one cycle late"), (1, "one cycle early")):
        if 0 <= c + dc < len(want) and (want[c + dc, d, s, p] != g).any() and (want[c + dc, d, s, p] == r).all():
            hint = f"; the RTL holds golden's value of {'one cycle earlier' if dc < 0 else 'one cycle later'} ({what})"
    raise AssertionError(
        f"{prefix}stream registers differ first after cycle {t} (superlane 0's time"
        f"{'' if t >= 0 else ': the start'}): position {p} ({names[p]}), superlane {k}, "
        f"{'east' if d == 0 else 'west'} stream {s}, lanes {lanes.start}..{lanes.stop - 1} (lane "
        f"{lanes.start} first): golden {_lanes_hex(g)} != RTL {_lanes_hex(r)} (RTL clock cycle {c} of the "
        f"run){hint}")
