"""AXI4 and AXI4-Lite buses as :class:`amaranth.lib.wiring.Signature` s.

Members are seen from the manager (the initiator), and named like the AXI
channel signals (``awaddr``, ``wdata``, ``bresp``, ...). A subordinate port is
the flipped signature, ``In(AxiSignature(...))``; a port named ``s_axi`` then
becomes the Verilog ports ``s_axi__awaddr``, ``s_axi__wdata``, ... (Amaranth
joins names with ``__``), which cocotbext-axi finds with
``AxiBus.from_prefix(dut, "s_axi_")``.

:class:`AxiSignature` carries the subset of AXI4 OpenLPU uses: ids, bursts
(``len``, ``size``, ``burst``), write strobes, ``last`` and responses; no
``lock``, ``cache``, ``prot``, ``qos``, ``region`` or ``user`` signals.
:class:`AxiLiteSignature` carries AXI4-Lite without ``prot``.
"""

from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AxiBurst", "AxiResp", "AxiSignature", "AxiLiteSignature"]


class AxiBurst(enum.Enum, shape=2):
    """``AxBURST``: how the address of each beat of a burst follows the first."""
    FIXED = 0
    INCR = 1
    WRAP = 2


class AxiResp(enum.Enum, shape=2):
    """``xRESP``: the response of a write burst or of a read beat."""
    OKAY = 0
    EXOKAY = 1
    SLVERR = 2
    DECERR = 3


def _check_width(name, value, minimum=1):
    if not isinstance(value, int) or value < minimum:
        raise TypeError(f"{name} must be an integer >= {minimum}, not {value!r}")


def _check_data_width(value, allowed):
    if value not in allowed:
        raise ValueError(f"data_width must be one of {sorted(allowed)}, not {value!r}")


class _AxiBusSignature(wiring.Signature):
    """What both buses share: keyword parameters, ``create()``, equality and ``repr``."""

    def __init__(self, members, **params):
        self._params = params
        super().__init__(members)

    @property
    def data_width(self):
        return self._params["data_width"]

    @property
    def addr_width(self):
        return self._params["addr_width"]

    def create(self, *, path=None, src_loc_at=0):
        """A :class:`~amaranth.lib.wiring.PureInterface` with this signature."""
        return wiring.PureInterface(self, path=path, src_loc_at=1 + src_loc_at)

    def __eq__(self, other):
        return type(other) is type(self) and other._params == self._params

    def __hash__(self):
        return hash((type(self), tuple(self._params.items())))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"


class AxiSignature(_AxiBusSignature):
    """AXI4 bus, as seen from the manager.

    Arguments
    ---------
    data_width : int
        Bits of ``wdata`` / ``rdata``: 8, 16, ..., 1024 (``wstrb`` has one bit
        per byte).
    addr_width : int
        Bits of ``awaddr`` / ``araddr``.
    id_width : int
        Bits of ``awid``, ``bid``, ``arid``, ``rid``.

    Members
    -------
    awid, awaddr, awlen (8), awsize (3), awburst (:class:`AxiBurst`), awvalid : Out; awready : In
    wdata, wstrb, wlast, wvalid : Out; wready : In
    bid, bresp (:class:`AxiResp`), bvalid : In; bready : Out
    arid, araddr, arlen (8), arsize (3), arburst (:class:`AxiBurst`), arvalid : Out; arready : In
    rid, rdata, rresp (:class:`AxiResp`), rlast, rvalid : In; rready : Out
    """

    def __init__(self, *, data_width, addr_width, id_width):
        _check_data_width(data_width, {8 << k for k in range(8)})
        _check_width("addr_width", addr_width)
        _check_width("id_width", id_width)
        d, a, i = data_width, addr_width, id_width
        members = {}
        for ch in ("aw", "ar"):
            members[ch] = {f"{ch}id": Out(i), f"{ch}addr": Out(a), f"{ch}len": Out(8), f"{ch}size": Out(3),
                           f"{ch}burst": Out(AxiBurst), f"{ch}valid": Out(1), f"{ch}ready": In(1)}
        members["w"] = {"wdata": Out(d), "wstrb": Out(d // 8), "wlast": Out(1), "wvalid": Out(1), "wready": In(1)}
        members["b"] = {"bid": In(i), "bresp": In(AxiResp), "bvalid": In(1), "bready": Out(1)}
        members["r"] = {"rid": In(i), "rdata": In(d), "rresp": In(AxiResp), "rlast": In(1), "rvalid": In(1),
                        "rready": Out(1)}
        super().__init__({name: member for ch in ("aw", "w", "b", "ar", "r") for name, member in members[ch].items()},
                         data_width=data_width, addr_width=addr_width, id_width=id_width)

    @property
    def id_width(self):
        return self._params["id_width"]


class AxiLiteSignature(_AxiBusSignature):
    """AXI4-Lite bus, as seen from the manager.

    Arguments
    ---------
    data_width : int
        32 or 64 (``wstrb`` has one bit per byte).
    addr_width : int
        Bits of ``awaddr`` / ``araddr``.

    Members
    -------
    awaddr, awvalid : Out; awready : In
    wdata, wstrb, wvalid : Out; wready : In
    bresp (:class:`AxiResp`), bvalid : In; bready : Out
    araddr, arvalid : Out; arready : In
    rdata, rresp (:class:`AxiResp`), rvalid : In; rready : Out
    """

    def __init__(self, *, data_width, addr_width):
        _check_data_width(data_width, {32, 64})
        _check_width("addr_width", addr_width)
        super().__init__({
            "awaddr": Out(addr_width), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(data_width), "wstrb": Out(data_width // 8), "wvalid": Out(1), "wready": In(1),
            "bresp": In(AxiResp), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(addr_width), "arvalid": Out(1), "arready": In(1),
            "rdata": In(data_width), "rresp": In(AxiResp), "rvalid": In(1), "rready": Out(1),
        }, data_width=data_width, addr_width=addr_width)
