"""The code's shape, checked: no import circles, an ISA that depends on no unit,
short functions, a compiler in files of readable size, no private Amaranth names.

Everything here reads the source with :mod:`ast`; nothing is imported or run.

* Import graph: one node per module of the ``openlpu`` distribution (the
  folders mapped by ``package-dir`` in ``pyproject.toml``), one edge per
  ``import`` statement that names another of its modules, at module level or
  inside a function (a deferred import is still a dependency). A circle is a
  strongly connected component of more than one module.
* Function length: from a ``def``'s first line (its decorators excluded) to
  its last, nested functions included in their parent's count.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Import name -> folder, as pyproject.toml's package-dir maps them.
PACKAGES = {"openlpu": "openlpu", "openlpu.rtl": "rtl", "openlpu.golden": "golden",
            "openlpu.verif": "verif", "openlpu.bench": "bench", "openlpu.compiler": "compiler"}
MAX_FUNCTION_LINES = 100
MAX_COMPILER_FILE_LINES = 600
#: Names private to Amaranth that no harness may reach into.
PRIVATE_AMARANTH = ("_driving", "_MustUse__silence", "_MustUse__context")


def modules():
    """``{module name: path}`` for every module of the distribution."""
    found = {}
    for package, folder in PACKAGES.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = path
    return found


def _resolve(module, node, known):
    """Modules of the distribution that one import statement in ``module`` names."""
    if isinstance(node, ast.Import):
        bases = [alias.name for alias in node.names]
        return {b for b in bases if b in known}
    package = module if known[module].stem == "__init__" else module.rpartition(".")[0]
    if node.level:
        parts = package.split(".")
        base = ".".join(parts[:len(parts) - node.level + 1])
        base = f"{base}.{node.module}" if node.module else base
    else:
        base = node.module or ""
    targets = {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known}
    if base in known and len(targets) < len(node.names):
        targets.add(base)
    return targets


def import_graph():
    known = modules()
    graph = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        graph[name] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[name] |= _resolve(name, node, known) - {name}
    return graph


def circles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_import_graph_sees_known_edges():
    graph = import_graph()
    assert "openlpu.config" in graph["openlpu.rtl.lpu"]
    assert "openlpu.timing" in graph["openlpu.rtl.lpu"]


def test_circles_are_found():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle():
    assert circles(import_graph()) == []


def test_isa_depends_on_no_unit():
    """The ISA owns every instruction and CONFIG layout; units import it, never the reverse."""
    graph = import_graph()
    below = {m for m in graph["openlpu.isa"]
             if m.startswith(("openlpu.rtl", "openlpu.golden", "openlpu.compiler", "openlpu.verif"))}
    assert below == set()


def _long_functions(folder):
    for path in sorted((ROOT / folder).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)"


@pytest.mark.parametrize("folder", ["rtl", "compiler"])
def test_functions_are_short(folder):
    assert list(_long_functions(folder)) == []


def test_compiler_files_are_readable_size():
    long = {p.name: n for p in (ROOT / "compiler").glob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_COMPILER_FILE_LINES}
    assert long == {}


def test_no_private_amaranth_names():
    hits = [f"{path.relative_to(ROOT)}: {name}"
            for folder in PACKAGES.values() for path in sorted((ROOT / folder).glob("*.py"))
            for name in PRIVATE_AMARANTH if f".{name}" in path.read_text()]
    assert hits == []
