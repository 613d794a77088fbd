"""AXI4 protocol checks on a subordinate (slave) port, sampled every clock.

:class:`AxiChecker` holds the rules; it sees one dict of channel signal
values per rising clock edge (:meth:`AxiChecker.sample`) and raises
:class:`AssertionError` at the first broken rule, naming the cycle and the
rule. :func:`start_axi_checker` samples a cocotb DUT's ``s_axi`` port and
feeds it. The rules are the AMBA AXI protocol's for what a subordinate drives
(named after the specification's checker rules), given what the manager did:

* ``BVALID_STABLE`` / ``RVALID_STABLE``: once VALID is high it stays high,
  and the channel's payload stays unchanged, until READY.
* ``BRESP_AFTER_WLAST``: a write response only for a burst whose address
  was accepted and whose ``AWLEN + 1`` data beats were all accepted, with
  that burst's ``AWID`` (bursts answered in order, one ID at a time as this
  port does).
* ``RDATA_NO_AR`` / ``RID``: read data only for an accepted read address,
  with its ``ARID``.
* ``RLAST``: ``RLAST`` set on exactly the ``ARLEN + 1``-th beat of a burst.
* ``VALID_IN_RESET``: BVALID and RVALID low while reset is asserted.
"""

from collections import deque

__all__ = ["AxiChecker", "start_axi_checker", "CHANNELS"]

#: The signals the checker samples (names without the port prefix).
CHANNELS = ("awvalid", "awready", "awid", "awlen", "wvalid", "wready", "bvalid", "bready", "bid", "bresp",
            "arvalid", "arready", "arid", "arlen", "rvalid", "rready", "rid", "rdata", "rresp", "rlast")


class AxiChecker:
    """The protocol rules above over a sequence of per-cycle samples."""

    def __init__(self):
        self.cycle = 0
        self._prev = None
        self._writes = deque()      # [awid, awlen, beats accepted]
        self._reads = deque()       # [arid, arlen, beats returned]

    def _fail(self, rule, what):
        raise AssertionError(f"AXI {rule} broken in cycle {self.cycle}: {what}")

    def sample(self, v, reset=False):
        """Check one cycle's values ``v`` (a dict over :data:`CHANNELS`)."""
        if reset:
            if v["bvalid"] or v["rvalid"]:
                self._fail("VALID_IN_RESET", "BVALID or RVALID high during reset")
            self._writes.clear()
            self._reads.clear()
        else:
            self._stable(v, "b", ("bid", "bresp"))
            self._stable(v, "r", ("rid", "rdata", "rresp", "rlast"))
            self._write_channels(v)
            self._read_channels(v)
        self._prev = v
        self.cycle += 1

    def _stable(self, v, ch, payload):
        p = self._prev
        if p is None or not (p[f"{ch}valid"] and not p[f"{ch}ready"]):
            return
        if not v[f"{ch}valid"]:
            self._fail(f"{ch.upper()}VALID_STABLE", f"{ch.upper()}VALID dropped before {ch.upper()}READY")
        changed = [name for name in payload if v[name] != p[name]]
        if changed:
            self._fail(f"{ch.upper()}VALID_STABLE", f"{', '.join(changed)} changed while waiting for READY")

    def _write_channels(self, v):
        if v["awvalid"] and v["awready"]:
            self._writes.append([v["awid"], v["awlen"], 0])
        if v["wvalid"] and v["wready"]:
            open_ = [w for w in self._writes if w[2] <= w[1]]
            if not open_:
                self._fail("W_NO_AW", "a W beat accepted before its burst's address")
            open_[0][2] += 1
        if v["bvalid"]:
            if not self._writes or self._writes[0][2] <= self._writes[0][1]:
                self._fail("BRESP_AFTER_WLAST", "BVALID before the burst's last data beat was accepted")
            if v["bid"] != self._writes[0][0]:
                self._fail("BRESP_AFTER_WLAST", f"BID {v['bid']} for a burst with AWID {self._writes[0][0]}")
            if v["bready"]:
                self._writes.popleft()

    def _read_channels(self, v):
        if v["rvalid"]:
            if not self._reads:
                self._fail("RDATA_NO_AR", "RVALID with no read address accepted")
            burst = self._reads[0]
            if v["rid"] != burst[0]:
                self._fail("RID", f"RID {v['rid']} for a burst with ARID {burst[0]}")
            if bool(v["rlast"]) != (burst[2] == burst[1]):
                self._fail("RLAST", f"RLAST={int(v['rlast'])} on beat {burst[2]} of a burst with ARLEN {burst[1]}")
            if v["rready"]:
                burst[2] += 1
                if burst[2] > burst[1]:
                    self._reads.popleft()
        if v["arvalid"] and v["arready"]:
            self._reads.append([v["arid"], v["arlen"], 0])


def start_axi_checker(dut, prefix="s_axi_"):
    """Sample ``dut``'s AXI4 port (signals ``{prefix}_{name}``) at every rising edge of ``dut.clk``
    (reset: ``dut.rst``) into an :class:`AxiChecker`; returns the checker. A broken rule raises
    in the sampling task, which fails the running test."""
    import cocotb
    from cocotb.triggers import RisingEdge
    checker = AxiChecker()
    signals = {name: getattr(dut, f"{prefix}_{name}") for name in CHANNELS}

    async def run():
        while True:
            await RisingEdge(dut.clk)
            values = {}
            for name, sig in signals.items():
                val = sig.value
                values[name] = int(val) if val.is_resolvable else -1
            checker.sample(values, reset=bool(dut.rst.value.is_resolvable and int(dut.rst.value)))

    cocotb.start_soon(run())
    return checker
