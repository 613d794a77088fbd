"""The chip: ICU, stream fabric, MEM slices, VXM, SXM and MXM planes behind the host port.

:class:`Lpu` is the hardware of :class:`openlpu.golden.lpu.LpuModel`; that
module's docstring is the specification (cycle order, queue semantics,
errors). This file only places the units: the code reads as the floorplan.

Floorplan
---------
Positions west to east (:func:`openlpu.timing.floorplan`)::

    MXM planes 0, 2, .. | SXM | MEM 0 .. S/2-1 | VXM | MEM S/2 .. S-1 | MXM planes 1, 3, ..

Each position holds one unit component, which decodes the instructions of
its ICU queue(s) and reads and writes the streams there
(:class:`~openlpu.rtl.slice_mem.MemSliceControl`,
:class:`~openlpu.rtl.slice_mxm.MxmSlice`,
:class:`~openlpu.rtl.slice_vxm.VxmSlice`,
:class:`~openlpu.rtl.slice_sxm.SxmSlice`), and one
:class:`~openlpu.rtl.fabric.StreamStop` per superlane. The superlanes are
``superlanes`` parallel rows of this floorplan, ``lanes_per_superlane`` lanes
each, superlane ``s`` running ``superlane_offset(s)`` cycles behind superlane
0 (:mod:`openlpu.rtl.wavefront`); a stop holds its superlane's stream
registers at the position, linked to the stops of the western and eastern
neighbours in the same superlane. The stops of superlane ``s`` form the
:class:`~openlpu.rtl.fabric.StreamRow` ``superlane<s>`` (stop ``<position>``
inside it); every row is the same design, one Verilog module. The
stream fabric's timing is described in :mod:`openlpu.rtl.fabric`.

A start (``CONTROL`` written while the chip is idle) clears the stream
registers, the VXM control table and every unit's control pipeline.

Ports
-----
s_axi : In(AxiSignature), s_axil : In(AxiLiteSignature)
    The host port (:class:`openlpu.rtl.host.HostPort`): SRAM and the program
    window over AXI4, the control/status registers over AXI4-Lite. Verilog
    ports ``s_axi__<signal>`` and ``s_axil__<signal>``.
irq : Out(1)
    High while the last run is done or stopped on an error.
fault : In(72 * lanes // 8), fault_slice : In(range(mem_slices))
    Test-only: XOR masks (72 bits per ECC column) applied to the words that
    slice ``fault_slice`` stores on a write (tie ``fault`` to 0). One mask
    port, not one per slice: at ``tsp`` per-slice ports would be 88 x 2,880
    input bits, past Amaranth's 65,536-bit limit on a design's top-level
    inputs.
"""

import re

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from openlpu import isa, timing
from openlpu.config import require_ecc_lanes

from .fabric import StreamRow
from .hier import shared
from .host import HostPort, host_bus_members
from .icu import Icu
from .mem import Mem
from .slice_mem import MemSliceControl
from .slice_mxm import MxmSlice
from .slice_sxm import SxmSlice
from .slice_vxm import VxmSlice

__all__ = ["Lpu"]


def _run_control(m, chip, host, mem, icu):
    """The host's side of a run: instruction memory, start, status, interrupt."""
    wiring.connect(m, host.imem_wr, icu.imem_wr)
    m.d.comb += [
        icu.start.eq(host.start), mem.chip_busy.eq(icu.busy), chip.irq.eq(icu.irq),
        host.status.busy.eq(icu.busy), host.status.done.eq(icu.done), host.status.error.eq(icu.error),
        host.status.code.eq(icu.code), host.status.queue.eq(icu.err_queue), host.status.pc.eq(icu.err_pc),
        host.status.cycles.eq(icu.cycles),
    ]


class Lpu(wiring.Component):
    """The OpenLPU chip for ``cfg`` (see the module docstring)."""

    def __init__(self, cfg):
        self._cfg = require_ecc_lanes(cfg)
        bus = host_bus_members(cfg, program=False)
        super().__init__({"s_axi": bus["s_axi"], "s_axil": bus["s_axil"], "irq": Out(1),
                          "fault": In(72 * cfg.lanes // 8), "fault_slice": In(range(cfg.mem_slices))})

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        host = m.submodules.host = HostPort(cfg, program=True)
        mem = m.submodules.mem = Mem(cfg)
        icu = Icu(cfg)
        m.submodules.icu = shared(icu, platform, "icu")
        go = Signal()
        m.d.comb += go.eq(host.start & ~icu.busy)
        wiring.connect(m, wiring.flipped(self.s_axi), host.s_axi)
        wiring.connect(m, wiring.flipped(self.s_axil), host.s_axil)
        wiring.connect(m, host.mem, mem.host)
        _run_control(m, self, host, mem, icu)
        m.d.comb += [mem.fault[s].eq(Mux(self.fault_slice == s, self.fault, 0)) for s in range(cfg.mem_slices)]

        queue = {name: q for q, name in enumerate(isa.queues(cfg))}
        units = {}
        for name in timing.floorplan(cfg):          # west to east
            unit = units[name] = m.submodules[name] = self._unit(m, name, mem, go)
            for i, q in enumerate(unit.queues):
                m.d.comb += [unit.issue[i].eq(icu.issue[queue[q]]),
                             icu.unit_error[queue[q]].eq(unit.unit_error[i])]
        positions = tuple((name, *unit.access) for name, unit in units.items())
        for s in range(cfg.superlanes):              # the stream stops of each superlane
            row = StreamRow(cfg.superlane, positions)
            m.submodules[f"superlane{s}"] = shared(row, platform, "stream_row", reset=go)
            for name, unit in units.items():
                wiring.connect(m, unit.streams[s], getattr(row, name))
        return m

    def _unit(self, m, name, mem, go):
        """The unit component at floorplan position ``name``, with its own connections
        (a MEM slice's commands to the MEM controller ``mem``; ``go`` to the others)."""
        cfg = self._cfg
        kind, index = re.fullmatch(r"([a-z]+)(\d*)", name).groups()
        if kind == "mem":
            unit = MemSliceControl(cfg, int(index))
            for s in range(cfg.superlanes):          # the slice's SRAM tile of each superlane
                tile = int(index) * cfg.superlanes + s
                wiring.connect(m, unit.rd[s], mem.rd[tile])
                wiring.connect(m, unit.wr[s], mem.wr[tile])
                wiring.connect(m, mem.out[tile], unit.out[s])
            return unit
        unit = {"mxm": lambda: MxmSlice(cfg, int(index)), "vxm": lambda: VxmSlice(cfg),
                "sxm": lambda: SxmSlice(cfg)}[kind]()
        m.d.comb += unit.go.eq(go)
        return unit
