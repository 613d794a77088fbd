"""cocotb testbench of the whole chip (toplevel :class:`openlpu.rtl.lpu.Lpu`).

A case's SRAM and instruction memory are loaded on one of two paths
(``OPENLPU_PATH``, or the case's own ``"path"``):

* ``host``: as a host driver would, cocotbext-axi ``AxiMaster`` bursts on the
  host port; the SRAM windows of interest are read back the same way, and a
  corrupted word is written with the ``fault`` port on;
* ``backdoor`` (:class:`openlpu.verif.backdoor.Backdoor`): the memories'
  words are written and read through VPI, a corrupted word is stored with its
  fault mask applied; the host port is not used for memories.

On both the run starts with a CONTROL write on the ``AxiLiteMaster`` and runs
free: the testbench waits for the rising edge of ``irq`` (done or error) with
no Python in between (the clock is cocotb's GPI clock), lets the ICU drain,
and reads the status registers and the ECC counters over AXI-Lite once.

The cases come from a JSON file (``OPENLPU_CASES``), written by the pytest
side (:mod:`openlpu.verif.lpu_cases`), and the observations go to
``OPENLPU_RESULTS``; the pytest side compares them with the golden ISA
simulator, so one simulator build runs any number of programs. A case:
``{"program": {queue: [word, ...]}, "sram": [[slice, addr, hex bytes], ...],
"corrupt": [[slice, addr, mask72 per column...]] with "corrupt_data"
{"slice:addr": hex bytes}, "windows": [[slice, addr, count], ...],
"max_cycles": n}``. Each observation also has ``seconds``: the wall time of
the case's ``load``, ``run`` (start to done, status registers read) and
``read`` (SRAM windows and ECC counters read back).

Stream trace (``OPENLPU_STREAM_TRACE=1``, or a case's ``"stream_trace": true``):
:class:`StreamMonitor` reads every stream register of every stop
(``superlane<superlane>.<position>.s<e|w><stream>``) once per clock cycle, at the
falling edge, from the run's cycle 0 -- the first clock cycle in which the ICU's
``active`` is high, the cycle after the CONTROL write's start pulse; the
registers then still hold the start's zeros -- until the status registers have
been read after the drain. The observation's ``"streams"`` holds, per register,
the clock cycles in which its value changed and the new value (a Verilog hex
number, lane 0 in the low byte; ``"x"`` if any bit was unknown), and the number
of clock cycles sampled. On Verilator these signals are public by
:func:`openlpu.verif.lpu_cases.public_stream_vars`.
"""

import json
import logging
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, SimTimeoutError, with_timeout
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiMaster, AxiResp

from openlpu.config import LpuConfig
from openlpu.golden.mem import host_address, host_pack, host_span, host_unpack, imem_rows
from openlpu.isa import queues
from openlpu.rtl.host import CSR, IMEM_BASE
from openlpu.timing import ICU_DRAIN_CYCLES
from openlpu.verif.backdoor import Backdoor
from openlpu.verif.lpu_cases import stream_register_names

CLOCK_NS = 10

CFG = LpuConfig.from_dict(json.loads(os.environ["OPENLPU_CONFIG"]))


class LpuHost:
    """Host driver of the simulated chip: load, start, wait, read back."""

    def __init__(self, dut, cfg):
        self.dut, self.cfg = dut, cfg
        dut.rst.value = 1
        for name in ("s_axi__awvalid", "s_axi__wvalid", "s_axi__bready", "s_axi__arvalid", "s_axi__rready",
                     "s_axil__awvalid", "s_axil__wvalid", "s_axil__bready", "s_axil__arvalid", "s_axil__rready"):
            getattr(dut, name).value = 0
        dut.fault.value = 0
        dut.fault_slice.value = 0
        Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start(start_high=False)   # no edge before the design settles
        self.axi = AxiMaster(AxiBus.from_prefix(dut, "s_axi_"), dut.clk, dut.rst)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil_"), dut.clk, dut.rst)
        self.queues = queues(cfg)
        for bus in ("s_axi_", "s_axil_"):   # one log line per beat would drown the run
            logging.getLogger(f"cocotb.{dut._name}.{bus}").setLevel(logging.WARNING)

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def write(self, addr, data):
        resp = await self.axi.write(addr, data)
        if resp.resp != AxiResp.OKAY:
            raise RuntimeError(f"host write {addr:#x} ({len(data)} bytes): {resp.resp}")

    async def load_sram(self, slice_, addr, data):
        lanes = self.cfg.lanes
        vectors = [bytes(data[k:k + lanes]) for k in range(0, len(data), lanes)]
        await self.write(host_address(self.cfg, slice_, addr), host_pack(self.cfg, vectors))

    async def load_program(self, program):
        row_bytes = self.cfg.host_beat
        for name, words in program.items():
            q = self.queues.index(name)
            blob = b"".join(row.to_bytes(row_bytes, "little") for row in imem_rows(self.cfg, words))
            await self.write(IMEM_BASE + q * 8 * self.cfg.imem_depth, blob)

    async def csr(self, name):
        resp = await self.axil.read(CSR[name], 4)
        if resp.resp != AxiResp.OKAY:
            raise RuntimeError(f"CSR {name}: {resp.resp}")
        return int.from_bytes(resp.data, "little")

    async def run(self, max_cycles=100_000):
        """Start, wait for ``irq`` and the ICU's drain; returns the status registers as a dict."""
        irq = cocotb.start_soon(self._irq_rises())
        resp = await self.axil.write(CSR["CONTROL"], (1).to_bytes(4, "little"))
        if resp.resp != AxiResp.OKAY:
            raise RuntimeError(f"CONTROL write: {resp.resp}")
        try:
            await with_timeout(irq, (max_cycles + 1000) * CLOCK_NS, "ns")
        except SimTimeoutError:
            raise RuntimeError(f"the chip is still busy after {max_cycles + 1000} cycles: {self._icu_state()}") from None
        await ClockCycles(self.dut.clk, ICU_DRAIN_CYCLES + 1)
        status = await self.csr("STATUS")
        if status & 1:
            raise RuntimeError(f"the chip is busy {ICU_DRAIN_CYCLES + 1} cycles after irq: {self._icu_state()}")
        return {"done": bool(status >> 1 & 1), "error": bool(status >> 2 & 1),
                "code": await self.csr("ERROR_CODE"), "queue": await self.csr("ERROR_QUEUE"),
                "pc": await self.csr("ERROR_PC"), "cycles": await self.csr("CYCLES"),
                "irq": int(self.dut.irq.value)}

    async def _irq_rises(self):
        """Return at the end of the next run: ``irq`` (done | error) falls at the start, if the
        last run left it high, then rises."""
        if self.dut.irq.value:
            await FallingEdge(self.dut.irq)
        await RisingEdge(self.dut.irq)

    def _icu_state(self):
        """Queue states and program counters, for the message of a hung run."""
        icu = self.dut.icu
        try:
            return {q: (str(getattr(icu, f"{q}_state").value), str(getattr(icu, f"{q}_pc").value))
                    for q in self.queues} | {"active": str(icu.active.value)}
        except AttributeError as exc:
            return f"(internal signals not visible: {exc})"

    async def read_sram(self, slice_, addr, count):
        resp = await self.axi.read(host_address(self.cfg, slice_, addr), host_span(self.cfg, count))
        if resp.resp not in (AxiResp.OKAY, AxiResp.SLVERR):
            raise RuntimeError(f"host read slice {slice_} vector {addr}: {resp.resp}")
        return b"".join(host_unpack(self.cfg, resp.data, count)), resp.resp == AxiResp.SLVERR

    async def ecc_counters(self):
        out = []
        for s in range(self.cfg.mem_slices):
            base = 0x100 + 0x20 * s
            vals = []
            for off in (0, 4, 8):
                r = await self.axil.read(base + off, 4)
                vals.append(int.from_bytes(r.data, "little"))
            out.append(vals)
        return out


class StreamMonitor:
    """Samples every stream register of ``dut`` once per clock cycle of a run (module docstring)."""

    def __init__(self, dut, cfg):
        self.dut = dut
        self.names = [name for name, *_ in stream_register_names(cfg)]
        self.handles = []
        for name in self.names:
            handle = dut
            for part in name.split("."):
                handle = getattr(handle, part)
            self.handles.append(handle)
        self.active = dut.icu.active
        self._stop = False
        self._task = None

    def start(self):
        """Start sampling; call before the CONTROL write that starts the run."""
        self._stop = False
        self._changes = [[] for _ in self.handles]
        self._cycles = 0
        self._task = cocotb.start_soon(self._sample())

    async def _sample(self):
        edge = FallingEdge(self.dut.clk)
        await edge
        while str(self.active.value) != "1":
            await edge
        last = [None] * len(self.handles)
        handles, changes = self.handles, self._changes
        c = 0
        while not self._stop:                  # in clock cycle c of the run
            for i, h in enumerate(handles):
                raw = str(h.value)
                if raw != last[i]:
                    last[i] = raw
                    changes[i].append((c, raw))
            c += 1
            self._cycles = c
            await edge

    async def stop(self):
        """Stop sampling; the trace as ``{"registers", "changes", "cycles"}``."""
        self._stop = True
        await self._task

        def hexed(raw):
            return format(int(raw, 2), f"0{(len(raw) + 3) // 4}x") if set(raw) <= {"0", "1"} else "x"
        return {"registers": self.names, "cycles": self._cycles,
                "changes": [[[c, hexed(raw)] for c, raw in ch] for ch in self._changes]}


async def load_case(dut, host, backdoor, case):
    """SRAM entries, corrupted entries and the program of ``case``, by backdoor or host port."""
    corrupt = [(s, addr, bytes.fromhex(case["corrupt_data"][f"{s}:{addr}"]), masks)
               for s, addr, *masks in case.get("corrupt", [])]
    if backdoor is not None:
        for s, addr, hexdata in case.get("sram", []):
            backdoor.load_sram(s, addr, bytes.fromhex(hexdata))
        for s, addr, data, masks in corrupt:
            backdoor.load_sram(s, addr, data, masks)
        backdoor.load_program(case["program"])
        return
    for s, addr, hexdata in case.get("sram", []):
        await host.load_sram(s, addr, bytes.fromhex(hexdata))
    for s, addr, data, masks in corrupt:
        # the corrupted word is written directly with the fault mask applied
        dut.fault_slice.value = s
        dut.fault.value = sum(int(mk) << (72 * c) for c, mk in enumerate(masks))
        await host.load_sram(s, addr, data)
        dut.fault.value = 0
    await host.load_program(case["program"])


async def run_case(dut, host, backdoor, case, monitor=None):
    """Load, run and read back one case; its observations (with ``monitor``, the stream trace)."""
    start = time.perf_counter()
    await load_case(dut, host, backdoor, case)
    loaded = time.perf_counter()
    if monitor is not None:
        monitor.start()
    status = await host.run(case.get("max_cycles", 100_000))
    if monitor is not None:
        status["streams"] = await monitor.stop()
    ran = time.perf_counter()
    windows = []
    for s, addr, count in case.get("windows", []):
        data = backdoor.read_sram(s, addr, count) if backdoor else (await host.read_sram(s, addr, count))[0]
        windows.append(data.hex())
    status["windows"] = windows
    status["ecc"] = await host.ecc_counters()
    status["seconds"] = {"load": loaded - start, "run": ran - loaded, "read": time.perf_counter() - ran}
    return status


@cocotb.test()
async def run_cases(dut):
    host = LpuHost(dut, CFG)
    await host.reset()
    backdoor = Backdoor(dut, CFG)
    with open(os.environ["OPENLPU_CASES"]) as f:
        cases = json.load(f)
    results = []
    monitor = None
    for i, case in enumerate(cases):
        path = case.get("path", os.environ.get("OPENLPU_PATH", "backdoor"))
        trace = case.get("stream_trace", os.environ.get("OPENLPU_STREAM_TRACE") == "1")
        if trace and monitor is None:
            monitor = StreamMonitor(dut, CFG)
        status = await run_case(dut, host, backdoor if path == "backdoor" else None, case,
                                monitor if trace else None)
        results.append(status)
        dut._log.info("case %d (%s): %s", i, path,
                      {k: v for k, v in status.items() if k not in ("windows", "ecc", "streams")})
    with open(os.environ["OPENLPU_RESULTS"], "w") as f:
        json.dump(results, f)
