"""Programs on the chip: run cases on the golden ISA simulator and on the RTL, compare.

A *case* is a program plus the SRAM it starts from (see
:mod:`openlpu.verif.tb_lpu` for the JSON form). :func:`expect` runs cases on
:class:`~openlpu.golden.lpu.LpuModel`, :func:`run_rtl` on the simulated
:class:`~openlpu.rtl.lpu.Lpu` (memories loaded by backdoor or through the host port), and :func:`compare`
demands equal status, error code, queue, pc, cycle count, ECC counters and
SRAM windows.
"""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from openlpu import isa
from openlpu.golden.ecc import ecc_encode
from openlpu.golden.lpu import LpuModel
from openlpu.verif.backdoor import read_vector

__all__ = ["PATHS", "make_case", "load_case", "expect", "run_rtl", "chip_design", "build_chip", "compare",
           "run_and_compare"]


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


def expect(cfg, cases, model=None):
    """The golden observations of ``cases`` run one after the other (SRAM persists)."""
    model = model or LpuModel(cfg)
    out = []
    for case in cases:
        load_case(model, case)
        r = model.run(max_cycles=case["max_cycles"])
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
    return out


PATHS = ("backdoor", "host")


def run_rtl(cfg, sim, cases, key, log_file=None, path="backdoor"):
    """Run ``cases`` on the RTL under ``sim``; the observations as :func:`expect` gives them, plus
    ``seconds``, the wall time of each case's load, run and read back. ``path``: load and read
    the memories by ``"backdoor"`` (:mod:`openlpu.verif.backdoor`) or through the ``"host"`` port
    (a case's own ``"path"`` overrides it)."""
    from openlpu.verif.runner import BUILD_ROOT, run_cocotb
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, not {path!r}")
    work = Path(tempfile.mkdtemp(prefix="lpu-cases-", dir=BUILD_ROOT if BUILD_ROOT.exists() else None))
    cases_path, results_path = work / "cases.json", work / "results.json"
    cases_path.write_text(json.dumps(cases))
    run_cocotb(**chip_design(cfg), sim=sim, test_module="openlpu.verif.tb_lpu",
               key=key, extra_env={"OPENLPU_CONFIG": json.dumps(cfg.as_dict()),
                                   "OPENLPU_CASES": str(cases_path), "OPENLPU_RESULTS": str(results_path),
                                   "OPENLPU_PATH": path},
               test_name=work.name, log_file=log_file)
    return json.loads(results_path.read_text())


def chip_design(cfg):
    """The design arguments of :func:`openlpu.verif.runner.run_cocotb` and ``build_model`` for the
    chip of ``cfg`` as :func:`run_rtl` runs it (so a model built by :func:`build_chip` is reused)."""
    from openlpu.rtl.lpu import Lpu
    from openlpu.verif.backdoor import public_memories
    return {"toplevel": "lpu", "component": lambda: Lpu(cfg), "public_vars": public_memories(cfg)}


def build_chip(cfg, sim, log_file=None):
    """Build (or reuse) the simulator model of the chip of ``cfg`` that :func:`run_rtl` runs;
    returns its build directory."""
    from openlpu.verif.runner import build_model
    return build_model(**chip_design(cfg), sim=sim, log_file=log_file)


def compare(expected, got, labels=None):
    """Assert equal observations; the message names the case and what differs."""
    assert len(expected) == len(got), f"{len(got)} results for {len(expected)} cases"
    for i, (e, g) in enumerate(zip(expected, got)):
        label = labels[i] if labels else f"case {i}"
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
