"""Emission: the placed schedule as programs (segments of instruction words), the SRAM image
that goes with them, and the readback of outputs.

* :class:`Segment`: one program, ``{queue: [Instr]}`` with NOP gaps and REPEAT runs
  (:meth:`~openlpu.compiler.scheduler.Scheduler.program`), its predicted cycles and the
  read intents the checker compares (:func:`openlpu.compiler.runtime.check_schedule`);
  :func:`segment` makes one of the scheduler's books.
* :class:`Compiled`: the segments, run in order with SRAM kept; the tensors' places and the
  constant vectors; :meth:`Compiled.sram_image` lays inputs out as the program reads them and
  :meth:`Compiled.read_output` takes a tensor back from its vectors, the exact inverse.
* :func:`report`: the figures of a compilation (cycles, MACs, MXM utilization, SRAM, ...).
"""

from dataclasses import dataclass, field

import numpy as np

from openlpu import isa

__all__ = ["Segment", "Compiled", "segment", "tensor_vectors", "report"]


@dataclass
class Segment:
    """One program: it runs from start to END, then the next segment is loaded (SRAM is kept)."""
    program: dict                   # queue -> [Instr]
    cycles: int                     # predicted
    intents: dict                   # see Scheduler.intents

    def words(self):
        return {q: [isa.encode(i) for i in ins] for q, ins in self.program.items()}


@dataclass
class Compiled:
    """A compiled graph: its programs, the SRAM layout of its tensors and its constants."""
    cfg: object
    segments: list                  # [Segment], run in order
    places: dict                    # tensor -> [TensorPlace] (copies; the first is read back)
    weights: dict                   # (slice, addr) -> lanes bytes (constant data)
    outputs: list
    report: dict = field(default_factory=dict)

    @property
    def predicted_cycles(self):
        """Cycles of all segments together (each counted from its start to its last END, plus one)."""
        return sum(sg.cycles for sg in self.segments)

    def _single(self):
        if len(self.segments) != 1:
            raise ValueError(f"the program has {len(self.segments)} segments; use .segments")
        return self.segments[0]

    @property
    def program(self):
        return self._single().program

    @property
    def intents(self):
        return self._single().intents

    def words(self):
        return self._single().words()

    def sram_image(self, inputs):
        """``{(slice, addr): bytes}``: the constants and the given input tensors (int8, or
        float16 for an fp16 input)."""
        image = dict(self.weights)
        for name, value in inputs.items():
            for place in self.places[name]:
                image.update(tensor_vectors(self.cfg, place, value))
        return image

    def windows(self, name):
        """``[(slice, first vector, vectors)]`` holding the tensor ``name`` (one per byte plane)."""
        p = self.places[name][0]
        return [(s, p.base, p.vectors) for s in p.slices]

    def read_output(self, name, vectors):
        """The tensor ``name`` from the vectors of its :meth:`windows`, in order (``lanes`` bytes
        each); int8, or float16 for an fp16 tensor."""
        p = self.places[name][0]
        n = p.per_vec or self.cfg.lanes
        data = np.stack(vectors).reshape(len(p.slices), p.rows, p.ct, self.cfg.lanes)[..., :n]
        data = data.reshape(len(p.slices), p.rows, p.ct * n)[:, :, :p.cols]
        if p.hi is None:
            return data[0].view(np.int8)
        return (data[0].astype(np.uint16) | data[1].astype(np.uint16) << 8).view(np.float16)


def tensor_vectors(cfg, place, value):
    """``{(slice, addr): lanes bytes}``: the tensor ``value`` laid out at ``place`` (its byte
    planes in their slices, ``per_vec`` elements to a vector, padding zero)."""
    L, n = cfg.lanes, place.per_vec or cfg.lanes
    if place.hi is None:
        planes = [np.asarray(value, np.int8).view(np.uint8)]
    else:
        bits = np.asarray(value, np.float16).view(np.uint16)
        planes = [(bits & 0xFF).astype(np.uint8), (bits >> 8).astype(np.uint8)]
    out = {}
    for slice_, plane in zip(place.slices, planes):
        for r in range(place.rows):
            for ct in range(place.ct):
                vec = np.zeros(L, np.uint8)
                seg = plane[r, ct * n:(ct + 1) * n]
                vec[:len(seg)] = seg
                out[(slice_, place.addr(r, ct))] = vec
    return out


def segment(sch):
    """The program of the scheduler ``sch``'s books."""
    program, cycles = sch.program()
    return Segment(program, cycles, sch.intents)


def report(cfg, segments, low):
    """The figures of a compilation whose final state is ``low`` (:class:`.layers.Lowering`)."""
    L, cycles = cfg.lanes, sum(sg.cycles for sg in segments)
    peak = cfg.fp16_k if low.fp16 else L       # products per lane column per pass
    sram = low.sram
    return {"predicted_cycles": cycles, "macs": low.macs,
            "mxm_utilization": low.macs / (L * peak * cfg.mxm_planes * cycles),
            "mxm_peak": "fp16" if low.fp16 else "int8",
            "sram_vectors": sum(sram.alloc.next), "sram_bytes": sum(sram.alloc.next) * L,
            "instructions": sum(len(v) for sg in segments for v in sg.program.values()),
            "segments": len(segments), "segment_cycles": [sg.cycles for sg in segments],
            "planes_used": min(cfg.mxm_planes, max([-(-n // L) for n in low.layer_shapes] or [1])),
            "activation_copies": sram.copies}
