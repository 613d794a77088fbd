"""What a design is before Amaranth converts it: a key equal for equal Verilog.

:func:`design_fingerprint` names a component by its class, its plain
constructor state (configuration dataclasses, ints, bools, strings), its
signature, the Amaranth version and the text of every Python source the
conversion can read (``openlpu/``, ``rtl/``, ``golden/`` and the modules
defining the component's classes). Equal fingerprints give equal Verilog. A
component whose state is not plain data, or whose signature prints an object
address, has no fingerprint (``None``). Used by the simulator build cache
(:mod:`openlpu.verif.design_cache`) and by hierarchical conversion
(:mod:`openlpu.rtl.hier`), which emits one module per distinct design.
"""

import dataclasses
import enum
import functools
import hashlib
import sys
from pathlib import Path

__all__ = ["design_fingerprint", "source_digest"]

_PLAIN = (bool, int, float, str, bytes, type(None), enum.Enum)
_SOURCE_PACKAGES = ("openlpu", "openlpu.rtl", "openlpu.golden")


def _plain(value):
    """A deterministic description of plain data, or ``None`` if ``value`` is not plain."""
    if isinstance(value, _PLAIN):
        return repr(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return None if None in fields.values() else f"{type(value).__qualname__}{sorted(fields.items())}"
    if isinstance(value, (tuple, list)):
        items = [_plain(v) for v in value]
        return None if None in items else f"{type(value).__name__}{items}"
    if isinstance(value, dict):
        items = [(_plain(k), _plain(v)) for k, v in value.items()]
        return None if any(None in kv for kv in items) else f"dict{sorted(items)}"
    return None


def _package_dirs():
    import importlib
    return [Path(importlib.import_module(name).__file__).parent for name in _SOURCE_PACKAGES]


def source_digest(extra_files=()):
    """Digest of the Python sources a conversion can read, and of ``extra_files``."""
    return _source_digest(tuple(sorted(str(f) for f in extra_files)))


@functools.lru_cache(maxsize=None)
def _source_digest(extra_files):
    # once per process and set of files: sources do not change while a design converts
    files = {p.resolve() for d in _package_dirs() for p in d.rglob("*.py")}
    files |= {Path(f).resolve() for f in extra_files}
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _class_files(component):
    files = []
    for cls in type(component).__mro__:
        module = sys.modules.get(cls.__module__)
        path = getattr(module, "__file__", None)
        if path and not path.startswith(sys.base_prefix) and "site-packages" not in path:
            files.append(path)
    return files


def design_fingerprint(component, name):
    """Key of the Verilog of ``component`` as module ``name``, or ``None`` if it cannot be keyed."""
    own = getattr(component, "design_fingerprint", None)
    if own is not None:
        return own(name)
    from amaranth import __version__ as amaranth_version
    from amaranth.lib import wiring
    if not isinstance(component, wiring.Component):
        return None
    members = component.signature.members
    state = {}
    for attr, value in vars(component).items():
        if attr.startswith(("_MustUse__", "_Component__")) or attr in members:
            continue
        state[attr] = _plain(value)
        if state[attr] is None:
            return None
    signature = repr(members)
    if " at 0x" in signature:
        return None
    cls = type(component)
    text = "\n".join([name, f"{cls.__module__}.{cls.__qualname__}", repr(sorted(state.items())), signature,
                      amaranth_version, source_digest(_class_files(component))])
    return hashlib.sha256(text.encode()).hexdigest()
