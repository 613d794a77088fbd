"""cocotb testbench of the SRAM controller and host port (toplevel :class:`openlpu.rtl.host.MemWithHost`).

cocotbext-axi's ``AxiMaster`` and ``AxiLiteMaster`` drive the ``s_axi`` and
``s_axil`` ports (Verilog ``s_axi__awaddr`` ...: prefixes ``s_axi_`` and
``s_axil_``, to which cocotbext-axi adds ``_``); a golden byte image addressed with
:func:`openlpu.golden.mem.host_address` is the reference. Environment:
``OPENLPU_CONFIG`` (JSON), ``OPENLPU_SEED``.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiMaster, AxiResp

from openlpu import timing
from openlpu.config import LpuConfig
from openlpu.golden.ecc import ecc_decode, ecc_encode
from openlpu.golden.mem import host_address, host_decode
from openlpu.rtl.host import ID_VALUE, VERSION

CFG = LpuConfig.from_dict(json.loads(os.environ["OPENLPU_CONFIG"]))
SEED = int(os.environ.get("OPENLPU_SEED", "1"))
V = CFG.lanes
END = host_address(CFG, CFG.mem_slices, 0)


class TB:
    def __init__(self, dut):
        self.dut = dut
        dut.rst.value = 1     # the bus models watch reset from the start: never leave it X
        for name in ("s_axi__awvalid", "s_axi__wvalid", "s_axi__bready", "s_axi__arvalid", "s_axi__rready",
                     "s_axil__awvalid", "s_axil__wvalid", "s_axil__bready", "s_axil__arvalid", "s_axil__rready",
                     "chip_busy"):
            getattr(dut, name).value = 0
        Clock(dut.clk, 10, unit="ns").start()
        self.axi = AxiMaster(AxiBus.from_prefix(dut, "s_axi_"), dut.clk, dut.rst)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil_"), dut.clk, dut.rst)

    async def reset(self):
        dut = self.dut
        dut.chip_busy.value = 0
        for s in range(CFG.mem_slices):
            getattr(dut, f"rd__{s}__valid").value = 0
            getattr(dut, f"rd__{s}__payload").value = 0
            getattr(dut, f"wr__{s}__valid").value = 0
            getattr(dut, f"wr__{s}__payload").value = 0
            getattr(dut, f"fault__{s}").value = 0
        dut.rst.value = 1
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        await RisingEdge(dut.clk)

    async def csr(self, addr):
        resp = await self.axil.read(addr, 4)
        return int.from_bytes(resp.data, "little"), resp.resp


@cocotb.test()
async def bursts_against_golden(dut):
    tb = TB(dut)
    await tb.reset()
    rng = np.random.default_rng(SEED)
    image = {}
    for _ in range(40):
        s = int(rng.integers(0, CFG.mem_slices))
        beats = int(rng.integers(1, 17))
        v = int(rng.integers(0, CFG.mem_depth - beats + 1))
        data = rng.integers(0, 256, beats * V, dtype=np.uint8).tobytes()
        addr = host_address(CFG, s, v)
        resp = await tb.axi.write(addr, data)
        assert resp.resp == AxiResp.OKAY, f"write {addr:#x}: {resp.resp}"
        for b in range(beats):
            image[(s, v + b)] = data[b * V:(b + 1) * V]
        # read back a random window of what is known
        s2, v2 = list(image)[int(rng.integers(0, len(image)))]
        n = 1
        while (s2, v2 + n) in image and n < 8:
            n += 1
        got = await tb.axi.read(host_address(CFG, s2, v2), n * V)
        assert got.resp == AxiResp.OKAY
        want = b"".join(image[(s2, v2 + k)] for k in range(n))
        assert got.data == want, f"read slice {s2} vector {v2}+{n}: {got.data.hex()} != {want.hex()}"
    dut._log.info("%d vectors written and read back bit-exact through AXI4 bursts", len(image))


@cocotb.test()
async def out_of_range_and_malformed(dut):
    tb = TB(dut)
    await tb.reset()
    first = bytes(range(V))
    assert (await tb.axi.write(0, first)).resp == AxiResp.OKAY
    last = host_address(CFG, CFG.mem_slices - 1, CFG.mem_depth - 1)
    assert host_decode(CFG, END) is None and host_decode(CFG, last) is not None
    # past the end: DECERR, and nothing wraps round onto address 0
    resp = await tb.axi.write(END, bytes([0xEE] * V))
    assert resp.resp == AxiResp.DECERR, resp.resp
    resp = await tb.axi.write(last, bytes([0x55] * 2 * V))          # second beat runs off the end
    assert resp.resp == AxiResp.DECERR, resp.resp
    assert (await tb.axi.read(last, V)).data == bytes([0x55] * V)
    assert (await tb.axi.read(0, V)).data == first
    got = await tb.axi.read(END, 2 * V)
    assert got.resp == AxiResp.DECERR and got.data == bytes(2 * V)
    # narrow transfers are malformed for this slave: SLVERR, nothing written
    resp = await tb.axi.write(0, bytes([0xAA] * 4), size=2)
    assert resp.resp == AxiResp.SLVERR, resp.resp
    assert (await tb.axi.read(0, V)).data == first
    assert (await tb.axi.read(0, V, size=2)).resp == AxiResp.SLVERR
    # CSR port: read-only registers, unmapped addresses
    assert await tb.csr(0x000) == (ID_VALUE, AxiResp.OKAY)
    assert await tb.csr(0x004) == (VERSION, AxiResp.OKAY)
    assert await tb.csr(0x008) == (CFG.lanes, AxiResp.OKAY)
    assert await tb.csr(0x00C) == (CFG.mem_depth, AxiResp.OKAY)
    assert await tb.csr(0x010) == (CFG.mem_slices, AxiResp.OKAY)
    assert (await tb.csr(0x0F0))[1] == AxiResp.DECERR
    assert (await tb.axil.write(0x000, b"\0\0\0\0")).resp == AxiResp.SLVERR


@cocotb.test()
async def ecc_events_visible_to_host(dut):
    tb = TB(dut)
    await tb.reset()
    rng = np.random.default_rng(SEED + 1)
    cols = V // 8
    expected = {s: [0, 0] for s in range(CFG.mem_slices)}
    for trial in range(24):
        s = int(rng.integers(0, CFG.mem_slices))
        v = int(rng.integers(0, CFG.mem_depth))
        nbits = 1 + trial % 2
        bits = rng.choice(72, size=nbits, replace=False)
        mask = sum(1 << int(b) for b in bits)
        data = rng.integers(0, 256, V, dtype=np.uint8).tobytes()
        getattr(dut, f"fault__{s}").value = mask          # column 0 of the written vector
        resp = await tb.axi.write(host_address(CFG, s, v), data)
        getattr(dut, f"fault__{s}").value = 0
        assert resp.resp == AxiResp.OKAY
        word = ecc_encode(int.from_bytes(data[:8], "little")) ^ mask
        status = ecc_decode(word)[1]
        got = await tb.axi.read(host_address(CFG, s, v), V)
        if nbits == 1:
            assert status == 1 and got.resp == AxiResp.OKAY and got.data == data, f"trial {trial}"
            expected[s][0] += 1
        else:
            assert status == 2 and got.resp == AxiResp.SLVERR and got.data == bytes(V), f"trial {trial}"
            expected[s][1] += 1
        base = 0x100 + 0x20 * s
        assert (await tb.csr(base))[0] == expected[s][0]
        assert (await tb.csr(base + 4))[0] == expected[s][1]
        assert (await tb.csr(base + 0xC))[0] == v
        assert (await tb.csr(base + 0x10))[0] == ecc_decode(word)[2]
    assert cols >= 1


@cocotb.test()
async def host_waits_while_chip_busy(dut):
    tb = TB(dut)
    await tb.reset()
    dut.chip_busy.value = 1
    task = cocotb.start_soon(tb.axi.write(host_address(CFG, 0, 3), bytes([7] * V)))
    await ClockCycles(dut.clk, 20)
    assert not task.done(), "host write completed while the chip owned the slices"
    dut.chip_busy.value = 0
    resp = await task
    assert resp.resp == AxiResp.OKAY
    assert (await tb.axi.read(host_address(CFG, 0, 3), V)).data == bytes([7] * V)


@cocotb.test()
async def burst_throughput(dut):
    """Cycles of one maximum (256-beat) write burst and read burst; figures to ``OPENLPU_BENCH_OUT``."""
    tb = TB(dut)
    await tb.reset()
    beats = min(256, CFG.mem_depth)
    data = bytes(np.random.default_rng(SEED).integers(0, 256, beats * V, dtype=np.uint8))
    cycles = {}
    for kind in ("write", "read"):
        count = 0

        async def counter():
            nonlocal count
            while True:
                await RisingEdge(dut.clk)
                count += 1
        task = cocotb.start_soon(counter())
        if kind == "write":
            assert (await tb.axi.write(0, data)).resp == AxiResp.OKAY
        else:
            got = await tb.axi.read(0, beats * V)
            assert got.data == data
        task.cancel()
        cycles[kind] = count
    # write beats stream at one per cycle; a read beat takes issue + SRAM + ECC + response
    assert cycles["write"] <= beats + 8, cycles
    assert cycles["read"] <= (2 + timing.MEM_READ_LATENCY) * beats + 8, cycles
    result = {"beats": beats, "bytes": beats * V, **{f"{k}_cycles": c for k, c in cycles.items()},
              **{f"{k}_bytes_per_cycle": beats * V / c for k, c in cycles.items()}}
    dut._log.info("host burst throughput: %s", result)
    if os.environ.get("OPENLPU_BENCH_OUT"):
        with open(os.environ["OPENLPU_BENCH_OUT"], "w") as f:
            json.dump(result, f)
