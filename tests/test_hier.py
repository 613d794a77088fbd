"""Hierarchical Verilog (:mod:`openlpu.rtl.hier`): one module per distinct shared design.

Checked here: how many modules a conversion emits, how an instance is wired,
and the errors. Behaviour is checked elsewhere: Amaranth's simulator cannot
run an ``Instance``, so the Amaranth-simulator tests run the components
themselves, and every cocotb test of the VXM and the chip runs the
hierarchical Verilog against the golden model.
"""

import os
import re

import pytest
from amaranth.hdl import Instance, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from openlpu.config import preset
from openlpu.rtl.hier import VerilogModules, convert, shared
from openlpu.rtl.vxm import Vxm


class Adder(wiring.Component):
    """A registered ``a + k``: ``k`` is constructor state, so each ``k`` is its own design."""

    def __init__(self, k):
        self.k = k
        super().__init__({"a": In(8), "y": Out(8)})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.y.eq(self.a + self.k)
        return m


class Pair(wiring.Component):
    """Three adders: two with ``k=1`` (one design), one with ``k=2``."""

    def __init__(self):
        super().__init__({"a": In(8), "y": Out(8)})

    def elaborate(self, platform):
        m = Module()
        units = [Adder(1), Adder(1), Adder(2)]
        prev = self.a
        for i, unit in enumerate(units):
            m.submodules[f"add{i}"] = shared(unit, platform, "adder")
            m.d.comb += unit.a.eq(prev)
            prev = unit.y
        m.d.comb += self.y.eq(prev)
        return m


def _modules(text):
    return re.findall(r"^module (\S+)\s*\(", text, re.M)


def test_equal_designs_share_one_module():
    text = convert(Pair(), "pair")
    mods = _modules(text)
    adders = [m for m in mods if m.startswith("adder_")]
    assert len(adders) == 2, mods                       # k=1 and k=2
    assert sorted(len(re.findall(rf"^\s*{n} add\d", text, re.M)) for n in adders) == [1, 2]
    # the instances keep the parent's submodule names
    assert {"add0", "add1", "add2"} <= set(re.findall(r"\b(add\d) \(", text))


def test_instance_is_wired_to_the_component_ports():
    platform = VerilogModules()
    unit = Adder(3)
    inst = shared(unit, platform, "adder")
    assert isinstance(inst, Instance)
    assert inst.type in platform.modules
    assert {name: kind for name, (_, kind) in inst.ports.items()} == {"a": "i", "y": "o", "clk": "i", "rst": "i"}
    assert inst.ports["a"][0] is unit.a and inst.ports["y"][0] is unit.y


def test_plain_platform_returns_the_component():
    unit = Adder(1)
    assert shared(unit, None, "adder") is unit
    assert shared(unit, object(), "adder") is unit


def test_non_plain_state_is_refused():
    class Opaque(Adder):
        def __init__(self):
            super().__init__(1)
            self.thing = object()            # not plain data: no fingerprint
    with pytest.raises(TypeError, match="Opaque cannot be shared"):
        shared(Opaque(), VerilogModules(), "opaque")


def test_non_component_is_refused():
    with pytest.raises(TypeError, match="only a wiring.Component"):
        shared(Module(), VerilogModules(), "m")


def test_vxm_alu_emitted_once():
    cfg = preset("tiny")
    text = convert(Vxm(cfg), "vxm")
    alus = [m for m in _modules(text) if m.startswith("vxm_alu_")]
    assert len(alus) == 1
    instances = re.findall(rf"^\s*{alus[0]} \S+ \(", text, re.M)
    assert len(instances) == cfg.lanes * cfg.vxm_alus


def test_component_too_wide_for_a_module_stays_inline():
    """Amaranth numbers a top's input bits in one 2**16-bit cell: wider components stay inline."""
    from openlpu.rtl.hier import MAX_MODULE_INPUT_BITS

    class Wide(wiring.Component):
        def __init__(self, bits):
            super().__init__({"a": In(bits), "y": Out(1)})

        def elaborate(self, platform):
            m = Module()
            m.d.comb += self.y.eq(self.a.any())
            return m
    platform = VerilogModules()
    narrow, wide = Wide(MAX_MODULE_INPUT_BITS - 2), Wide(MAX_MODULE_INPUT_BITS - 1)   # + clk and rst
    assert isinstance(shared(narrow, platform, "wide"), Instance)
    assert shared(wide, platform, "wide") is wide
    platform.release()


class Nested(wiring.Component):
    """A shared :class:`Pair` (which shares its adders): modules found inside a child's conversion."""

    def __init__(self):
        super().__init__({"a": In(8), "y": Out(8)})

    def elaborate(self, platform):
        m = Module()
        pair = Pair()
        m.submodules.pair = shared(pair, platform, "pair")
        m.d.comb += [pair.a.eq(self.a), self.y.eq(pair.y)]
        return m


class Broken(Adder):
    def elaborate(self, platform):
        raise ValueError(f"broken adder k={self.k}")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="isolation needs os.fork; convert then runs in process")
def test_isolated_conversion_equals_in_process():
    """Modules converted in a forked child (what :func:`convert` does) are the same text, nested
    shared modules included, and the parent learns every one of them."""
    from amaranth.back import verilog
    texts = {}
    for isolate in (False, True):
        platform = VerilogModules(isolate=isolate)
        top = verilog.convert(Nested(), name="nested", platform=platform, emit_src=False)
        platform.release()
        texts[isolate] = (top, dict(platform.modules))
    assert texts[True] == texts[False]
    assert sorted(m.split("_")[0] for m in texts[True][1]) == ["adder", "adder", "pair"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="isolation needs os.fork; convert then runs in process")
def test_isolated_conversion_raises_the_childs_error():
    platform = VerilogModules(isolate=True)
    with pytest.raises(ValueError, match="broken adder k=3"):
        shared(Broken(3), platform, "broken")
    platform.release()
