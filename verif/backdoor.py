"""Backdoor access to the simulated chip's memories: SRAM and instruction queues, no host port.

The chip top (:class:`openlpu.rtl.lpu.Lpu`, Verilog module ``lpu``) holds
instance ``mem`` with one instance ``slice<s>_<k>`` per SRAM slice and superlane
(the slice's tile of that superlane), each with the memories
``col0 .. col<lanes_per_superlane/8-1>`` of 72-bit ECC words (64 data bits, 8
check bits: :func:`openlpu.golden.ecc.ecc_encode`), and instance ``icu``
with one instance per queue (:func:`openlpu.isa.queues`) holding
``imem``, rows of ``cfg.imem_row`` 64-bit instruction words (one host beat). :class:`Backdoor` writes and reads those
words through cocotb's VPI handles; on Verilator they must be public, which
:func:`public_memories` names for :func:`openlpu.verif.runner.run_cocotb` (``public_vars``).

Why VPI handles rather than ``$readmemh`` in a wrapper module: the handles
need no extra Verilog, no files and no trigger logic, the chip stays the
toplevel (so the host-port path and the backdoor share one build), and a
network's image is a few thousand words -- milliseconds of VPI calls
against the seconds a run takes.
"""

from openlpu.golden.ecc import ECC_DETECTED, ecc_decode, ecc_encode
from openlpu.golden.mem import imem_rows
from openlpu.isa import queues

__all__ = ["public_memories", "Backdoor", "read_vector"]


def _columns(cfg):
    """``(tile instance, column)`` of each ECC column of a vector, in lane order: slice ``s``
    is one tile ``slice<s>_<k>`` per superlane ``k``, of ``lanes_per_superlane // 8`` columns."""
    per = cfg.lanes_per_superlane // 8
    return [(f"_{k}", f"col{c}") for k in range(cfg.superlanes) for c in range(per)]


def public_memories(cfg, toplevel="lpu"):
    """``(module, variable)`` pairs of every SRAM column and instruction memory of the chip."""
    cols = [(f"{toplevel}.mem.slice{s}{tile}", col) for s in range(cfg.mem_slices) for tile, col in _columns(cfg)]
    return cols + [(f"{toplevel}.icu.{q}", "imem") for q in queues(cfg)]


def read_vector(words, tile_columns=None):
    """The bytes the host port reads from a vector's stored 72-bit ``words`` (one per column):
    the ECC-corrected data, each tile of ``tile_columns`` columns (one superlane; default: all
    of them) all zeros if any of its columns is uncorrectable."""
    per = tile_columns or len(words)
    out = b""
    for k in range(0, len(words), per):
        decoded = [ecc_decode(w) for w in words[k:k + per]]
        if any(status == ECC_DETECTED for _, status, _ in decoded):
            out += bytes(8 * len(decoded))
        else:
            out += b"".join(d.to_bytes(8, "little") for d, _, _ in decoded)
    return out


class Backdoor:
    """Loads and reads the chip's SRAM and instruction memories of ``dut`` (a cocotb handle)
    directly. Writes take effect in the current time step's write phase."""

    def __init__(self, dut, cfg):
        self.cfg = cfg
        self.cols = cfg.lanes // 8
        self.sram = [[getattr(getattr(dut.mem, f"slice{s}{tile}"), col) for tile, col in _columns(cfg)]
                     for s in range(cfg.mem_slices)]
        self.imem = {q: getattr(dut.icu, q).imem for q in queues(cfg)}

    def load_sram(self, slice_, addr, data, masks=None):
        """Store ``data`` (a whole number of vectors) from vector ``addr`` of ``slice_`` with
        correct ECC, each stored word XORed with ``masks[column]`` if given (a fault)."""
        lanes = self.cfg.lanes
        for v in range(len(data) // lanes):
            vec = data[v * lanes:(v + 1) * lanes]
            for c, mem in enumerate(self.sram[slice_]):
                word = ecc_encode(int.from_bytes(vec[8 * c:8 * c + 8], "little"))
                mem[addr + v].value = word ^ int(masks[c]) if masks else word

    def load_program(self, program):
        """Write ``{queue: [word, ...]}`` from address 0, in the rows of
        :func:`openlpu.golden.mem.imem_rows` (one host beat each, a last partial row padded
        with zero words, as the host port writes it: both leave the same memory behind)."""
        for name, words in program.items():
            mem = self.imem[name]
            for r, row in enumerate(imem_rows(self.cfg, words)):
                mem[r].value = row

    def read_sram(self, slice_, addr, count):
        """``count`` vectors from ``addr`` of ``slice_`` as the host port reads them
        (:func:`read_vector`)."""
        cols = self.sram[slice_]
        per = self.cfg.lanes_per_superlane // 8
        return b"".join(read_vector([mem[a].value.to_unsigned() for mem in cols], per)
                        for a in range(addr, addr + count))
