"""Peak rates of a configuration, read off the RTL's ports and the ISA's queues.

    python -m openlpu.bench.bench_rates --preset tsp [--json FILE]

Each figure is derived from the hardware as built, not typed in: the width
of an MXM plane's weight-row and activation ports (:func:`openlpu.rtl.mxm.plane_signature`),
the vector width of a MEM slice's read and write commands
(:func:`openlpu.rtl.mem.mem_chip_members`), the stream fabric's link
(:func:`openlpu.rtl.fabric.Link`), the VXM's ALU columns (:class:`openlpu.rtl.vxm.Vxm`: one
entry port per column, each a vector of lanes) and how many instructions the ICU can issue to each
unit per cycle (one per queue, :func:`openlpu.isa.queues`). Beside them, the
reference chip's published figures (at 900 MHz) and the ratio.

* ``weights_per_cycle``: weight bytes (int8) all planes can load per cycle: per plane,
  one LW per cycle from its ``mxw`` queue, each as many rows as the load port has row slots
  (``mxm_load_rows``), each row of the slot's width.
* ``sram_bytes_per_cycle``: bytes all slices can read plus write per cycle: per slice, one
  instruction per cycle from its read queue (``memN``: READ, GATHER, SCRUB) on the read
  command port and one from its write queue (``mewN``: WRITE, SCATTER) on the write port, each
  of the port's vector width.
* ``stream_bytes_per_cycle``: bytes that pass one floorplan position per cycle: every
  east- and west-flowing stream register moves one vector.
* ``vxm_ops_per_cycle``: ALU operations per cycle: one per ALU of every column in every lane
  of the VXM's vector (all columns busy: one long chain, or several short ones side by side).
* ``vxm_queues``: VXM instruction queues (independent VXM instructions per cycle: one per ALU
  column).
* ``macs_per_cycle``: int8 multiply-accumulates per cycle: each plane takes one activation
  vector per cycle against its ``lanes x lanes`` weight tile.
"""

import argparse
import json
from pathlib import Path

from openlpu import isa
from openlpu.config import PRESETS, preset

__all__ = ["REFERENCE", "rates", "main"]

#: The reference chip's published figures, per cycle at its 900 MHz clock.
REFERENCE = {
    "weights_per_cycle": 409_600 / 40,               # all four planes loaded in under 40 cycles
    "sram_bytes_per_cycle": 80e12 / 900e6,           # 80 TB/s
    "stream_bytes_per_cycle": 2 * 32 * 320,          # 32 streams each way, 320 B each
    "vxm_ops_per_cycle": 5_120,                      # 16 ALUs x 320 lanes
    "vxm_queues": 16,                                # one queue per ALU column
    "macs_per_cycle": 750e12 / 2 / 900e6,            # 750 TOPS int8, 2 ops per MAC
}


def _bytes(layout_or_shape):
    """Bytes of one vector of a port: its width in bits / 8."""
    from amaranth.hdl import Shape
    return Shape.cast(layout_or_shape).width // 8


def _payload(flow_member, field=None):
    """The payload layout of a ``Flow`` port, or the shape of its ``field``."""
    layout = flow_member.signature.members["payload"].shape
    return layout if field is None else layout[field].shape


def _queues(cfg, unit):
    return sum(1 for q in isa.queues(cfg) if isa.queue_unit(q)[0] is unit)


def rates(cfg):
    """``{figure: value}`` of ``cfg`` (see the module docstring)."""
    from openlpu.rtl.fabric import Link
    from openlpu.rtl.mem import mem_chip_members
    from openlpu.rtl.mxm import plane_signature
    from openlpu.rtl.vxm import Vxm
    plane = plane_signature(cfg).members
    load = _payload(plane["load"], "data")                            # row slots x (2 byte planes x lanes)
    row_bytes = _bytes(load.elem_shape) // 2                          # int8: byte plane 0 of 2
    act_lanes = _bytes(_payload(plane["act"], "data")) // 2
    mem = mem_chip_members(cfg)
    read_bytes, write_bytes = (mem[p].dimensions[0] * _bytes(_payload(mem[p], "index")) // cfg.mem_slices
                               for p in ("rd", "wr"))
    link = Link(cfg).members
    stream_bytes = sum(link[d].dimensions[0] * _bytes(link[d].shape) for d in ("eastward", "westward"))
    entry = Vxm(cfg).signature.members["entry"]                              # one per ALU column
    vxm_lanes = _bytes(entry.signature.members["a"].shape) // 4              # 4 byte planes per lane
    mxw, vxm = _queues(cfg, isa.Unit.MXW), _queues(cfg, isa.Unit.VXM)
    return {
        "weights_per_cycle": mxw * load.length * row_bytes,
        "sram_bytes_per_cycle": _queues(cfg, isa.Unit.MEM) * read_bytes + _queues(cfg, isa.Unit.MEW) * write_bytes,
        "stream_bytes_per_cycle": stream_bytes,
        "vxm_ops_per_cycle": vxm_lanes * entry.dimensions[0],
        "vxm_queues": vxm,
        "macs_per_cycle": _queues(cfg, isa.Unit.MXM) * act_lanes * row_bytes,
    }


def table(name, figures):
    """The figures against the reference chip's, as rows for tabulate."""
    return [[k, f"{v:,.0f}", f"{REFERENCE[k]:,.0f}", f"{v / REFERENCE[k]:.3f}"] for k, v in figures.items()]


def main(argv=None):
    from tabulate import tabulate
    p = argparse.ArgumentParser(prog="python -m openlpu.bench.bench_rates", description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="tsp", choices=sorted(PRESETS))
    p.add_argument("--json", help="write the figures (and the reference's) to this file")
    args = p.parse_args(argv)
    figures = rates(preset(args.preset))
    print(tabulate(table(args.preset, figures), headers=["figure", args.preset, "reference chip", "ratio"],
                   colalign=("left", "right", "right", "right")))
    if args.json:
        Path(args.json).write_text(json.dumps({"preset": args.preset, **figures, "reference": REFERENCE}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
