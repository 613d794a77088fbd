"""Functional coverage of chip programs, with cocotb-coverage.

The programs that run on the RTL (directed and random) run on the golden
ISA simulator with tracing, and every event is sampled into cocotb-coverage
cover points: the RTL and the golden model are compared cycle by cycle on
the same programs, so what the golden run exercised is what the RTL run
exercised.

Cover points and crosses (``lpu.*``):

* ``opcode x slice``: every instruction on every queue allowed to issue it
  (MEM instructions on each slice, MXM ones on each plane's queues...);
* ``stream x direction``: every stream register read or written by a unit;
* ``vxm op x type``: the op of every ALU a VOP's chain runs x its element type;
* ``vxm chain``: VOP chains by first ALU column and length (``c+len``, every
  chain that fits), and ``vxm parallel``: two or more VOPs issued in one cycle;
* ``ecc class x access path``: none / single / double x READ / GATHER / SCRUB;
* ``mem ports``: a slice's read queue and write queue executing in the same
  cycle (``read+write``), a READ or SCRUB and a WRITE of the same address in
  one cycle (``same address``), and a WRITE or SCATTER in the cycle a SCRUB
  rewrites a corrected word of that slice (``scrub vs write``);
* ``icu control``: NOP, REPEAT, SYNC, NOTIFY, CONFIG, END issued;
* ``lw rows``: LWs of one row (``1``), of a whole group (``R``, ``mxm_load_rows`` rows)
  and of a partial group in between (``partial``); the bins the configuration has
  (``R`` is ``1`` when ``mxm_load_rows`` is 1, and only ``mxm_load_rows`` > 2 has ``partial``);
* ``stop``: done, and every error code.

``python -m openlpu.verif.fcov`` prints the report for the CI programs; the
holes are listed by name.
"""

import numpy as np
from cocotb_coverage.coverage import CoverCross, CoverPoint, coverage_db

from openlpu import isa, timing
from openlpu.golden.lpu import LpuModel, vxm_slot_fields
from openlpu.golden.vxm import OPS, TYPES
from openlpu.isa import ErrorCode, Unit

__all__ = ["sample_cases", "report", "holes"]

_PREFIX = "lpu"
_built = {}


def _points(cfg):
    """Define the cover points for ``cfg`` once (cocotb-coverage keeps them globally)."""
    if "sample" in _built:
        return _built
    names = isa.queues(cfg)
    units = {q: isa.queue_unit(q)[0] for q in names}
    ign = [(op.name, q) for op in isa.OPS for q in names if op.unit not in (Unit.CTRL, units[q])]
    # CONFIG, VRED and VFUNC exist only on the VXM's column-0 queue
    ign += [(op, q) for op in ("CONFIG", "VRED", "VFUNC") for q in names if q != "vxm" and (op, q) not in ign]
    streams = [(d, s) for d in range(2) for s in range(cfg.streams)]
    op_names = {v: k for k, v in OPS.items()}
    type_names = {v: k for k, v in TYPES.items()}

    @CoverPoint(f"{_PREFIX}.opcode", xf=lambda op, q: op, bins=[op.name for op in isa.OPS])
    @CoverPoint(f"{_PREFIX}.slice", xf=lambda op, q: q, bins=names)
    @CoverCross(f"{_PREFIX}.opcode_x_slice", items=[f"{_PREFIX}.opcode", f"{_PREFIX}.slice"], ign_bins=ign)
    def issue(op, q):
        pass

    @CoverPoint(f"{_PREFIX}.stream", xf=lambda st: st, bins=streams)
    def stream(st):
        pass

    @CoverPoint(f"{_PREFIX}.vxm_op", xf=lambda op, ty: op, bins=sorted(OPS))
    @CoverPoint(f"{_PREFIX}.vxm_type", xf=lambda op, ty: ty, bins=sorted(TYPES))
    @CoverCross(f"{_PREFIX}.vxm_op_x_type", items=[f"{_PREFIX}.vxm_op", f"{_PREFIX}.vxm_type"])
    def vxm(op, ty):
        pass

    @CoverPoint(f"{_PREFIX}.vxm_chain", xf=lambda chain: chain, bins=vxm_chain_bins(cfg))
    def vxm_chain(chain):
        pass

    @CoverPoint(f"{_PREFIX}.vxm_parallel", xf=lambda vops: vops, bins=["2+ VOPs in one cycle"])
    def vxm_parallel(vops):
        pass

    @CoverPoint(f"{_PREFIX}.ecc_class", xf=lambda cls, path: cls, bins=["none", "single", "double"])
    @CoverPoint(f"{_PREFIX}.ecc_path", xf=lambda cls, path: path, bins=["READ", "GATHER", "SCRUB"])
    @CoverCross(f"{_PREFIX}.ecc_class_x_path", items=[f"{_PREFIX}.ecc_class", f"{_PREFIX}.ecc_path"])
    def ecc(cls, path):
        pass

    @CoverPoint(f"{_PREFIX}.mem_ports", xf=lambda event: event, bins=list(MEM_PORT_EVENTS))
    def mem_ports(event):
        pass

    @CoverPoint(f"{_PREFIX}.stop", xf=lambda code: code, bins=["DONE"] + [e.name for e in ErrorCode if e])
    def stop(code):
        pass

    @CoverPoint(f"{_PREFIX}.lw_rows", xf=lambda rows: lw_rows_bin(cfg, rows), bins=lw_rows_bins(cfg))
    def lw_rows(rows):
        pass

    _built.update(sample=(issue, stream, vxm, ecc, mem_ports, stop, lw_rows), op_names=op_names, type_names=type_names,
                  cfg=cfg, vxm_columns=(vxm_chain, vxm_parallel))
    return _built


def vxm_chain_bins(cfg):
    """The ``vxm chain`` bins: ``"c+len"`` for every first column ``c`` and length that fits."""
    return [f"{c}+{n}" for c in range(cfg.vxm_alus) for n in range(1, cfg.vxm_alus - c + 1)]


def lw_rows_bin(cfg, rows):
    """The ``lw rows`` bin of an LW of ``rows`` rows: ``"1"``, ``"R"`` (``mxm_load_rows``) or
    ``"partial"``."""
    return "1" if rows == 1 else "R" if rows == cfg.mxm_load_rows else "partial"


def lw_rows_bins(cfg):
    """The ``lw rows`` bins ``cfg`` has (:func:`lw_rows_bin` of every legal row count)."""
    return sorted({lw_rows_bin(cfg, rows) for rows in range(1, cfg.mxm_load_rows + 1)})


def sample_cases(cfg, cases):
    """Run ``cases`` (see :mod:`openlpu.verif.lpu_cases`) on the golden simulator and sample them."""
    pts = _points(cfg)
    issue, stream, vxm, ecc, mem_ports, stop, lw_rows = pts["sample"]
    names = isa.queues(cfg)
    model = LpuModel(cfg)
    words = isa.vxm_control_words(cfg)
    for case in cases:
        for s, a, hexdata in case["sram"]:
            model.mem[s].load(a, np.frombuffer(bytes.fromhex(hexdata), np.uint8))
        for s, a, *masks in case["corrupt"]:
            model.mem[s].load(a, np.frombuffer(bytes.fromhex(case["corrupt_data"][f"{s}:{a}"]), np.uint8))
            for c, mk in enumerate(masks):
                model.mem[s].words[c][a] ^= int(mk)
        model.load_program(case["program"])
        r = model.run(max_cycles=case["max_cycles"], trace=True)
        table = [[0] * words for _ in range(isa.VXM_SLOTS)]
        vops = {}                                           # issue cycle -> VOPs issued
        for t, q, pc, ins in r.trace:
            issue(ins.op.name, names[q])
            for f, v in zip(ins.op.fields, ins.args):
                if f.kind == "stream":
                    for j in range(isa.stream_width(ins, f.name)):
                        stream((v[0], v[1] + j))
            if ins.op.name == "LW":
                lw_rows(ins["rows"])
            if ins.op.name == "CONFIG":
                slot, w = divmod(ins["reg"], words)
                table[slot][w] = ins["value"]
            elif ins.op.name == "VOP":
                cols = isa.vop_columns(cfg, isa.queue_unit(names[q])[1], ins)
                pts["vxm_columns"][0](f"{cols[0]}+{len(cols)}")
                vops[t] = vops.get(t, 0) + 1
                etype, ops, _, _ = vxm_slot_fields(cfg, table[ins["slot"]])
                for op in ops[:len(cols)]:
                    vxm(pts["op_names"].get(op, "?"), pts["type_names"].get(etype, "?"))
        if any(k > 1 for k in vops.values()):
            pts["vxm_columns"][1]("2+ VOPs in one cycle")
        # control instructions are not issues: take them from the program text
        for q, ws in case["program"].items():
            for w in ws:
                try:
                    name = isa.decode(w).op.name
                except isa.IsaError:
                    continue
                if name in ("NOP", "REPEAT", "SYNC", "NOTIFY", "END"):
                    issue(name, q)
        for _, s, path, cls in r.ecc_log:
            ecc(cls, path)
        for event in mem_port_events(r.trace, r.ecc_log, names):
            mem_ports(event)
        stop("DONE" if r.done else ErrorCode(r.error).name)


#: The bins of ``lpu.mem_ports`` (see the module docstring).
MEM_PORT_EVENTS = ("read+write", "same address", "scrub vs write")


def mem_port_events(trace, ecc_log, names):
    """The ``lpu.mem_ports`` events of one golden run, from its issue ``trace`` (``(cycle, queue,
    pc, Instr)``) and ``ecc_log`` (``(cycle, slice, path, class)``, the cycle in which the slice
    decodes the read's words: ``MEM_READ_LATENCY - 1`` after its execute cycle)."""
    ports = {}                                  # (issue cycle, slice) -> {unit: Instr}
    for t, q, _, ins in trace:
        unit, s = isa.queue_unit(names[q])
        if unit in (Unit.MEM, Unit.MEW):
            ports.setdefault((t, s), {})[unit] = ins
    events = []
    for (t, s), both in ports.items():
        rd, wr = both.get(Unit.MEM), both.get(Unit.MEW)
        if rd is not None and wr is not None:
            events.append("read+write")
            if rd.op.name in ("READ", "SCRUB") and wr.op.name == "WRITE" and rd["addr"] == wr["addr"]:
                events.append("same address")
    decode = timing.ICU_DISPATCH_LATENCY + timing.MEM_READ_LATENCY - 1     # issue -> decode cycle
    for t_dec, s, path, cls in ecc_log:
        t_scrub = t_dec - decode
        if path == "SCRUB" and cls == "single" and Unit.MEW in ports.get((t_scrub + timing.MEM_SCRUB_DELAY, s), {}):
            events.append("scrub vs write")
    return events


def holes():
    """``{cover item: [uncovered bins]}`` of every ``lpu.*`` item."""
    out = {}
    for name, item in _items():
        missing = [b for b, hits in item.detailed_coverage.items() if hits < item._at_least]
        if missing:
            out[name] = missing
    return out


def _items():
    return sorted((n, i) for n, i in coverage_db.items()
                  if n.startswith(_PREFIX + ".") and isinstance(i, (CoverPoint, CoverCross)))


def report():
    """Lines: each cover item's coverage (%) and its holes."""
    lines = []
    for name, item in _items():
        lines.append(f"{name:28s} {item.cover_percentage:6.1f}%  ({item.coverage}/{item.size} bins)")
    for name, missing in sorted(holes().items()):
        shown = ", ".join(map(str, missing[:12])) + (f", ... ({len(missing)} in all)" if len(missing) > 12 else "")
        lines.append(f"  hole {name}: {shown}")
    return lines


def main():
    from openlpu.config import preset
    from .lpu_directed import directed_cases
    from .regress import CI_SEEDS, seed_cases
    cfg = preset("tiny")
    cases = [c[1] for c in directed_cases(cfg)] + seed_cases(cfg, CI_SEEDS)[0]
    sample_cases(cfg, cases)
    print("\n".join(report()))


if __name__ == "__main__":
    main()
