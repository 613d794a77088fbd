"""cocotb testbench of the SRAM controller and host port (toplevel :class:`openlpu.rtl.host.MemWithHost`,
built with ``program=True``).

cocotbext-axi's ``AxiMaster`` and ``AxiLiteMaster`` drive the ``s_axi`` and
``s_axil`` ports (Verilog ``s_axi__awaddr`` ...: prefixes ``s_axi_`` and
``s_axil_``, to which cocotbext-axi adds ``_``), except in
``write_burst_length_is_awlen``, which drives the write channels itself to send
what a correct manager never does; in every test :mod:`openlpu.verif.axi_check`
checks the ``s_axi`` port's protocol rules in every cycle. A golden image of vectors
addressed, packed and unpacked with :func:`openlpu.golden.mem.host_address`,
:func:`~openlpu.golden.mem.host_pack` and :func:`~openlpu.golden.mem.host_unpack`
is the reference, and :func:`~openlpu.golden.mem.imem_rows` that of the
instruction rows the port writes. Environment: ``OPENLPU_CONFIG`` (JSON),
``OPENLPU_SEED``.
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
from openlpu.golden.mem import host_address, host_decode, host_pack, host_span, host_unpack, imem_rows
from openlpu.isa import queues
from openlpu.rtl.host import ID_VALUE, IMEM_BASE, INFO_CSR, VERSION
from openlpu.rtl.icu import ImemWriteLayout
from openlpu.verif.axi_check import start_axi_checker

CFG = LpuConfig.from_dict(json.loads(os.environ["OPENLPU_CONFIG"]))
SEED = int(os.environ.get("OPENLPU_SEED", "1"))
V = CFG.lanes
B = CFG.host_beat
#: Bytes of one vector's transfer (its data beats).
VB = host_span(CFG, 1)
END = host_address(CFG, CFG.mem_slices, 0)


def vectors(rng, count):
    return [rng.integers(0, 256, V, dtype=np.uint8).tobytes() for _ in range(count)]


class TB:
    """Clock, reset and the bus models; ``master=False`` leaves the ``s_axi`` port to the test
    until :meth:`attach_master`."""

    def __init__(self, dut, master=True):
        self.dut = dut
        dut.rst.value = 1     # the bus models watch reset from the start: never leave it X
        for name in ("s_axi__awvalid", "s_axi__wvalid", "s_axi__bready", "s_axi__arvalid", "s_axi__rready",
                     "s_axil__awvalid", "s_axil__wvalid", "s_axil__bready", "s_axil__arvalid", "s_axil__rready",
                     "chip_busy", "status"):
            getattr(dut, name).value = 0
        Clock(dut.clk, 10, unit="ns").start()
        self.axi = AxiMaster(AxiBus.from_prefix(dut, "s_axi_"), dut.clk, dut.rst) if master else None
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil_"), dut.clk, dut.rst)
        self.checker = start_axi_checker(dut)

    def attach_master(self):
        self.axi = AxiMaster(AxiBus.from_prefix(dut := self.dut, "s_axi_"), dut.clk, dut.rst)

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
        count = int(rng.integers(1, 17))
        v = int(rng.integers(0, CFG.mem_depth - count + 1))
        vecs = vectors(rng, count)
        addr = host_address(CFG, s, v)
        resp = await tb.axi.write(addr, host_pack(CFG, vecs))
        assert resp.resp == AxiResp.OKAY, f"write {addr:#x}: {resp.resp}"
        for k, vec in enumerate(vecs):
            image[(s, v + k)] = vec
        # read back a random window of what is known
        s2, v2 = list(image)[int(rng.integers(0, len(image)))]
        n = 1
        while (s2, v2 + n) in image and n < 8:
            n += 1
        got = await tb.axi.read(host_address(CFG, s2, v2), host_span(CFG, n))
        assert got.resp == AxiResp.OKAY
        want = [image[(s2, v2 + k)] for k in range(n)]
        assert host_unpack(CFG, got.data, n) == want, f"read slice {s2} vector {v2}+{n}: {got.data.hex()}"
        assert got.data == host_pack(CFG, want), "padding must read as zero"
    dut._log.info("%d vectors written and read back bit-exact through AXI4 bursts", len(image))


@cocotb.test()
async def out_of_range_and_malformed(dut):
    tb = TB(dut)
    await tb.reset()
    first = bytes(k % 251 for k in range(V))
    assert (await tb.axi.write(0, host_pack(CFG, [first]))).resp == AxiResp.OKAY
    last = host_address(CFG, CFG.mem_slices - 1, CFG.mem_depth - 1)
    assert host_decode(CFG, END) is None and host_decode(CFG, last) is not None
    # past the end: DECERR, and nothing wraps round onto address 0
    resp = await tb.axi.write(END, host_pack(CFG, [bytes([0xEE] * V)]))
    assert resp.resp == AxiResp.DECERR, resp.resp
    resp = await tb.axi.write(last, host_pack(CFG, [bytes([0x55] * V)] * 2))   # second vector runs off the end
    assert resp.resp == AxiResp.DECERR, resp.resp
    assert (await tb.axi.read(last, VB)).data == host_pack(CFG, [bytes([0x55] * V)])
    assert (await tb.axi.read(0, VB)).data == host_pack(CFG, [first])
    got = await tb.axi.read(END, host_span(CFG, 2))
    assert got.resp == AxiResp.DECERR and got.data == bytes(host_span(CFG, 2))
    # narrow transfers are malformed for this slave: SLVERR, nothing written
    resp = await tb.axi.write(0, bytes([0xAA] * 4), size=2)
    assert resp.resp == AxiResp.SLVERR, resp.resp
    assert (await tb.axi.read(0, VB)).data == host_pack(CFG, [first])
    assert (await tb.axi.read(0, V, size=2)).resp == AxiResp.SLVERR
    await _partial_vectors(tb, first)
    # CSR port: read-only registers, unmapped addresses
    assert await tb.csr(INFO_CSR["ID"]) == (ID_VALUE, AxiResp.OKAY)
    assert await tb.csr(INFO_CSR["VERSION"]) == (VERSION, AxiResp.OKAY)
    assert await tb.csr(INFO_CSR["LANES"]) == (CFG.lanes, AxiResp.OKAY)
    assert await tb.csr(INFO_CSR["MEM_DEPTH"]) == (CFG.mem_depth, AxiResp.OKAY)
    assert await tb.csr(INFO_CSR["MEM_SLICES"]) == (CFG.mem_slices, AxiResp.OKAY)
    assert await tb.csr(INFO_CSR["HOST_BEAT"]) == (B, AxiResp.OKAY)
    assert (await tb.csr(0x0F0))[1] == AxiResp.DECERR
    assert (await tb.axil.write(0x000, b"\0\0\0\0")).resp == AxiResp.SLVERR


async def _partial_vectors(tb, first):
    """Vectors of several beats: a burst that starts or ends inside a vector writes none of it
    (SLVERR); a read may start inside one; padding beats are ignored and read as zero."""
    image = host_pack(CFG, [first])
    if CFG.host_vector_beats > 1:
        junk = bytes([0x33] * VB)
        assert (await tb.axi.write(B, junk[B:])).resp == AxiResp.SLVERR       # starts after beat 0
        assert (await tb.axi.write(0, junk[:B])).resp == AxiResp.SLVERR       # ends before the last beat
        assert (await tb.axi.read(0, VB)).data == image
        got = await tb.axi.read(B, VB - B)
        assert got.resp == AxiResp.OKAY and got.data == image[B:], got.data.hex()
    if CFG.host_vector_stride > VB:                                           # padding beats
        assert (await tb.axi.write(VB, bytes([0x44] * B))).resp == AxiResp.OKAY
        got = await tb.axi.read(0, CFG.host_vector_stride)
        assert got.resp == AxiResp.OKAY and got.data == image + bytes(CFG.host_vector_stride - VB)


@cocotb.test()
async def instruction_rows_against_golden(dut):
    """Program blobs written to the instruction window come out on ``imem_wr`` as the rows of
    :func:`openlpu.golden.mem.imem_rows`, one per beat, bit-exact."""
    tb = TB(dut)
    await tb.reset()
    layout = ImemWriteLayout(CFG)
    seen = []

    async def monitor():
        while True:
            await RisingEdge(dut.clk)
            if dut.imem_wr__valid.value:
                p = dut.imem_wr__payload.value.to_unsigned()
                seen.append(tuple(p >> layout[f].offset & ((1 << layout[f].shape.width) - 1)
                                  for f in ("queue", "row", "data")))
    task = cocotb.start_soon(monitor())
    rng = np.random.default_rng(SEED + 2)
    want = []
    for q, name in enumerate(queues(CFG)):
        words = [int(w) for w in rng.integers(0, 1 << 63, int(rng.integers(1, 3 * CFG.imem_row + 2)), dtype=np.uint64)]
        rows = imem_rows(CFG, words)
        blob = b"".join(row.to_bytes(B, "little") for row in rows)
        assert (await tb.axi.write(IMEM_BASE + q * 8 * CFG.imem_depth, blob)).resp == AxiResp.OKAY, name
        want += [(q, r, row) for r, row in enumerate(rows)]
    past = IMEM_BASE + len(queues(CFG)) * 8 * CFG.imem_depth
    assert (await tb.axi.write(past, bytes(B))).resp == AxiResp.DECERR
    assert (await tb.axi.read(IMEM_BASE, B)).resp == AxiResp.SLVERR
    await ClockCycles(dut.clk, 2)
    task.cancel()
    assert seen == want, f"{len(seen)} rows seen, {len(want)} expected"


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
        data = vectors(rng, 1)[0]
        getattr(dut, f"fault__{s}").value = mask          # column 0 of the written vector
        resp = await tb.axi.write(host_address(CFG, s, v), host_pack(CFG, [data]))
        getattr(dut, f"fault__{s}").value = 0
        assert resp.resp == AxiResp.OKAY
        word = ecc_encode(int.from_bytes(data[:8], "little")) ^ mask
        status = ecc_decode(word)[1]
        got = await tb.axi.read(host_address(CFG, s, v), VB)      # the vector is read once, counted once
        if nbits == 1:
            assert status == 1 and got.resp == AxiResp.OKAY and got.data == host_pack(CFG, [data]), f"trial {trial}"
            expected[s][0] += 1
        else:
            assert status == 2 and got.resp == AxiResp.SLVERR and got.data == bytes(VB), f"trial {trial}"
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
    task = cocotb.start_soon(tb.axi.write(host_address(CFG, 0, 3), host_pack(CFG, [bytes([7] * V)])))
    await ClockCycles(dut.clk, 20)
    assert not task.done(), "host write completed while the chip owned the slices"
    dut.chip_busy.value = 0
    resp = await task
    assert resp.resp == AxiResp.OKAY
    assert host_unpack(CFG, (await tb.axi.read(host_address(CFG, 0, 3), VB)).data, 1) == [bytes([7] * V)]


@cocotb.test()
async def burst_throughput(dut):
    """Cycles of one write burst and one read burst of up to 256 beats, whole vectors; figures to
    ``OPENLPU_BENCH_OUT``."""
    tb = TB(dut)
    await tb.reset()
    nvec = min(256 * B // CFG.host_vector_stride, CFG.mem_depth)
    data = host_pack(CFG, vectors(np.random.default_rng(SEED), nvec))
    beats = len(data) // B
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
            got = await tb.axi.read(0, len(data))
            assert got.data == data
        task.cancel()
        cycles[kind] = count
    # write beats stream at one per cycle; a read beat takes issue + SRAM + ECC + response, or
    # issue + response for the further beats of a vector (one SRAM read per vector)
    assert cycles["write"] <= beats + 8, cycles
    assert cycles["read"] <= (2 + timing.MEM_READ_LATENCY) * nvec + 2 * (beats - nvec) + 8, cycles
    result = {"beats": beats, "bytes": nvec * V, **{f"{k}_cycles": c for k, c in cycles.items()},
              **{f"{k}_bytes_per_cycle": nvec * V / c for k, c in cycles.items()}}
    dut._log.info("host burst throughput: %s", result)
    if os.environ.get("OPENLPU_BENCH_OUT"):
        with open(os.environ["OPENLPU_BENCH_OUT"], "w") as f:
            json.dump(result, f)


#: Cycles a write response may take after the burst's last beat (the port answers in 1).
RESPONSE_CYCLES = 20


async def _raw_write(dut, addr, data, wlast):
    """One INCR write burst of ``len(wlast)`` full beats of ``data`` at ``addr`` (AWLEN =
    beats - 1), beat ``k`` with WLAST = ``wlast[k]``, driven on the signals; its BRESP."""
    port = "s_axi__"
    sig = {n: getattr(dut, port + n) for n in ("awid", "awaddr", "awlen", "awsize", "awburst", "awvalid",
                                               "awready", "wdata", "wstrb", "wlast", "wvalid", "wready",
                                               "bvalid", "bready", "bresp")}
    values = {"awid": 3, "awaddr": addr, "awlen": len(wlast) - 1, "awsize": B.bit_length() - 1,
              "awburst": 1, "awvalid": 1}
    for name, value in values.items():
        sig[name].value = value
    await RisingEdge(dut.clk)
    while not int(sig["awready"].value):
        await RisingEdge(dut.clk)
    sig["awvalid"].value = 0
    for k, last in enumerate(wlast):
        sig["wdata"].value = int.from_bytes(data[k * B:(k + 1) * B], "little")
        sig["wstrb"].value, sig["wlast"].value, sig["wvalid"].value = (1 << B) - 1, int(last), 1
        await RisingEdge(dut.clk)
        while not int(sig["wready"].value):
            await RisingEdge(dut.clk)
    sig["wvalid"].value, sig["wlast"].value, sig["bready"].value = 0, 0, 1
    for _ in range(RESPONSE_CYCLES):
        await RisingEdge(dut.clk)
        if int(sig["bvalid"].value):
            break
    else:
        raise AssertionError(f"no write response within {RESPONSE_CYCLES} cycles of the burst's last beat")
    sig["bready"].value = 0
    return AxiResp(int(sig["bresp"].value))


@cocotb.test()
async def write_burst_length_is_awlen(dut):
    """A write burst is AWLEN + 1 beats whatever WLAST says: a beat with a wrong WLAST is dropped
    (its vector not written) and the burst answers SLVERR, and the next burst is unaffected."""
    tb = TB(dut, master=False)
    await tb.reset()
    rng = np.random.default_rng(SEED)
    per = CFG.host_vector_stride // B                               # beats per vector, padding included
    image = {}

    async def burst(v, count, wrong=()):
        """``count`` vectors from vector ``v`` in one burst, WLAST flipped on the beats ``wrong``; a
        wrong beat drops its vector when it is one of the vector's data beats (padding carries
        nothing). Returns the dropped vectors' offsets."""
        vecs = vectors(rng, count)
        beats = host_span(CFG, count) // B
        wlast = [(k == beats - 1) != (k in wrong) for k in range(beats)]
        dropped = {k // per for k in wrong if k % per < CFG.host_vector_beats}
        got = await _raw_write(dut, host_address(CFG, 1, v), host_pack(CFG, vecs), wlast)
        assert got == (AxiResp.SLVERR if wrong else AxiResp.OKAY), f"burst at vector {v}, WLAST {wlast}: {got}"
        for k, vec in enumerate(vecs):
            if k not in dropped:
                image[v + k] = vec
        return dropped
    last = host_span(CFG, 3) // B - 1
    for v in (0, 4, 8):                                              # known contents first
        assert await burst(v, 3) == set()
    assert await burst(4, 3, wrong=[last]) == {2}                    # WLAST missing on the last beat
    assert await burst(8, 3, wrong=[0]) == {0}                       # WLAST early, on the first beat
    assert await burst(12, 1) == set()                               # the next burst is unaffected
    tb.attach_master()
    for v, vec in sorted(image.items()):
        got = await tb.axi.read(host_address(CFG, 1, v), VB)
        assert got.resp == AxiResp.OKAY and host_unpack(CFG, got.data, 1) == [vec], f"vector {v}: {got.data.hex()}"
