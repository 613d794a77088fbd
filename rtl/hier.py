"""Hierarchical Verilog: each distinct component emitted once, instanced where it repeats.

Amaranth converts a design by elaborating every submodule and emitting one
Verilog module per instance, so 5,120 copies of a VXM ALU cost 5,120
elaborations and 5,120 module bodies. A parent that builds a repeated
component passes it through :func:`shared`:

* in simulation and in a plain conversion (any ``platform`` other than
  :class:`VerilogModules`) it returns the component itself, and nothing
  changes;
* under a :class:`VerilogModules` platform (what :func:`convert` uses), if
  its inputs fit one module (:data:`MAX_MODULE_INPUT_BITS`), it
  converts the component once per distinct design -- keyed by
  :func:`openlpu.fingerprint.design_fingerprint`, so equal constructor
  state means an equal module -- and returns an ``Instance`` of that module
  wired to the component's own port signals, so the parent's code is the
  same either way.

:func:`convert` converts each shared module in a forked child process
(``VerilogModules(isolate=True)``), so that the memory a module's conversion
takes is given back before the next; the whole front end (elaboration, the
shared modules, the top's RTLIL) runs in a child too, and Yosys turns that
RTLIL into Verilog after the child has exited.

The module is named ``<base>_<fingerprint[:10]>``; the instance keeps the
name the parent gives the submodule, so hierarchical paths (VPI handles,
waveforms) read as before. A shared component may use only the ``sync``
clock domain (its ``clk``/``rst`` ports are the parent's).
"""

import gc
import os
import pickle
import re
import warnings

from amaranth.hdl import (ClockSignal, Elaboratable, Fragment, Instance, ResetInserter, ResetSignal,
                          UnusedElaboratable, ValueCastable)
from amaranth.lib import wiring

__all__ = ["VerilogModules", "shared", "convert"]


class VerilogModules:
    """The platform of a hierarchical conversion: the Verilog of every shared module, by name."""

    def __init__(self, isolate=False, progress=None):
        self.modules = {}
        self.isolate = isolate and hasattr(os, "fork")
        self._progress = progress
        self._fingerprints = {}
        self._unused = []

    def module_name(self, component, base):
        """The module of ``component``'s design, converting it the first time it is seen."""
        from openlpu.fingerprint import design_fingerprint
        fingerprint = design_fingerprint(component, base)
        if fingerprint is None:
            raise TypeError(f"{type(component).__qualname__} cannot be shared: its constructor state "
                            "is not plain data, so equal designs cannot be recognised")
        name = f"{base}_{fingerprint[:10]}"
        if name in self.modules:
            self._unused.append(component)
            return name
        self.modules[name] = None          # reserved: a design cannot instance itself
        if self._progress is not None:
            self._progress(name, len(self.modules))
        if self.isolate:
            self.modules.update(_in_child(lambda: self._converted(component, name)))
            self.elaborated_elsewhere(component)
        else:
            self.modules[name] = _verilog(component, name, self)
        return name

    def _converted(self, component, name):
        """Convert ``component`` as ``name``; the modules that adds (it and what it shares)."""
        before = set(self.modules) - {name}
        self.modules[name] = _verilog(component, name, self)
        return {k: v for k, v in self.modules.items() if k not in before}

    def elaborated_elsewhere(self, component):
        """``component`` was elaborated in a child process: not unused, here (see :meth:`release`)."""
        self._unused.append(component)

    def release(self):
        """Drop the components that were only keyed, never elaborated (no warning: by design)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnusedElaboratable)
            self._unused.clear()
            gc.collect()


def _verilog(component, name, platform):
    from amaranth.back import verilog
    return verilog.convert(component, name=name, platform=platform, emit_src=False)


def _in_child(work):
    """``work()`` run in a forked child process, its (picklable) result returned here.

    A conversion's peak memory (Amaranth's netlist of the module, Yosys's
    output) is then the child's, given back to the system when it exits; in
    one process it stays in the heap as fragmentation under the parent's own
    design, which at ``tsp`` is most of the machine.
    """
    read, write = os.pipe()
    gc.freeze()         # the parent's objects out of the child's collections: no copy-on-write of them
    pid = os.fork()
    if pid == 0:                                     # the child: never returns
        # the parent's garbage, collected here, is the parent's to report
        warnings.simplefilter("ignore", UnusedElaboratable)
        try:
            payload = pickle.dumps((True, work()))
        except BaseException as error:              # noqa: BLE001 -- re-raised in the parent
            try:
                payload = pickle.dumps((False, error))
            except Exception:                        # an unpicklable error: its text
                payload = pickle.dumps((False, RuntimeError(f"{type(error).__name__}: {error}")))
        with os.fdopen(write, "wb") as out:
            out.write(payload)
        os._exit(0)
    gc.unfreeze()
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not payload:
        raise RuntimeError(f"the conversion's child process died (wait status {status})")
    ok, value = pickle.loads(payload)
    if not ok:
        raise value
    return value


def _module_ports(text, name):
    m = re.search(rf"^module {re.escape(name)}\s*\((.*?)\);", text, re.S | re.M)
    return {p.strip().lstrip("\\") for p in m.group(1).split(",")} if m else set()


#: Amaranth numbers a design's top-level input bits in one netlist cell of at most 2**16
#: bits; a component with more inputs cannot be converted on its own, so :func:`shared`
#: leaves it inline in its parent (at ``tsp``, a stream stop: 32 x 2,560-bit streams in).
MAX_MODULE_INPUT_BITS = 1 << 16


def _input_bits(component):
    """Bits of ``component``'s input ports as a module: its own, and ``clk`` and ``rst``."""
    return 2 + sum(len(value.as_value() if isinstance(value, ValueCastable) else value)
               for _, member, value in component.signature.flatten(component) if member.flow == wiring.In)


def shared(component, platform, base, reset=None):
    """``component``, or under :class:`VerilogModules` an ``Instance`` of its shared module.

    ``reset``: a signal that also resets the component's ``sync`` domain (as
    ``ResetInserter({"sync": reset})`` does; the instance's ``rst`` is then
    the domain's reset or ``reset``).
    """
    if not isinstance(component, wiring.Component):
        raise TypeError(f"only a wiring.Component can be shared, not {component!r}")
    if not isinstance(platform, VerilogModules) or _input_bits(component) > MAX_MODULE_INPUT_BITS:
        return component if reset is None else ResetInserter({"sync": reset})(component)
    name = platform.module_name(component, base)
    ports = _module_ports(platform.modules[name], name)
    kwargs = {}
    for path, member, value in component.signature.flatten(component):
        port = "__".join(map(str, path))
        if port not in ports:      # zero-width, or optimised away by the conversion
            continue
        if isinstance(value, ValueCastable):
            value = value.as_value()
        kwargs[("i_" if member.flow == wiring.In else "o_") + port] = value
    if "clk" in ports:
        kwargs["i_clk"] = ClockSignal("sync")
    if "rst" in ports:
        kwargs["i_rst"] = ResetSignal("sync") if reset is None else ResetSignal("sync") | reset
    return Instance(name, **kwargs)


def convert(component, name, progress=None):
    """The Verilog of ``component`` as module ``name`` and of every module it shares.

    ``progress(module, count)``, if given, is called as each shared module's conversion
    starts (``count`` modules so far, this one included), then as ``progress(name, None)``
    when the top's own conversion starts."""
    from amaranth.back import rtlil, verilog
    platform = VerilogModules(isolate=True, progress=progress)
    design = component if progress is None else _Announced(component, lambda: progress(name, None))

    def front_end():
        """Elaboration, the shared modules and the top's RTLIL (the most memory)."""
        return rtlil.convert(design, name=name, platform=platform, emit_src=False), platform.modules

    try:
        if platform.isolate:
            # in a child, so that Yosys (below) does not run beside the front end's heap
            top_rtlil, modules = _in_child(front_end)
            platform.modules.update(modules)
            platform.elaborated_elsewhere(component)
        else:
            top_rtlil, _ = front_end()
    finally:
        platform.release()
    # RTLIL to Verilog as amaranth.back.verilog.convert does it (its own helper: the
    # public convert() would run the front end again, here)
    top = verilog._convert_rtlil_text(top_rtlil, strip_internal_attrs=False)
    return "\n".join([top, *platform.modules.values()])


class _Announced(Elaboratable):
    """``component``, calling ``announce()`` once it (and every module it shares) is elaborated.
    Its members (``signature`` and the ports) are the component's, so the ports are the same."""

    def __init__(self, component, announce):
        self._component, self._announce = component, announce

    def __getattr__(self, name):
        return getattr(self._component, name)

    def elaborate(self, platform):
        fragment = Fragment.get(self._component, platform)
        self._announce()
        return fragment
