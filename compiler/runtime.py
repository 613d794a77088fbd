"""Running a compiled program: on the golden ISA simulator (fast) or on the RTL (exact).

:func:`run` loads the constants and the inputs into SRAM and the program into
the instruction queues, runs, and reads the outputs back, on either backend
with the same call. On the golden simulator it also runs the schedule
checker (:func:`check_schedule`): every stream operand an instruction reads
must come from the producer the compiler intended — a conflict or a timing
slip in the scheduler is a compiler bug, caught on every compiled program.
"""

from dataclasses import dataclass

import numpy as np

from openlpu import isa
from openlpu.golden.lpu import LpuModel

__all__ = ["RunOutput", "run", "check_schedule", "ScheduleError"]


class ScheduleError(AssertionError):
    """The program does not deliver a value where the compiler scheduled it."""


@dataclass
class RunOutput:
    outputs: dict
    cycles: int                     # all segments together
    done: bool
    error: int
    backend: str
    segment_cycles: list = None


def check_schedule(compiled, reads, segment=None):
    """Compare the scheduler's intents (of ``segment``, or of the one-segment program) with the
    golden simulator's provenance record of that segment's run."""
    intents = compiled.intents if segment is None else segment.intents
    q_index = {q: i for i, q in enumerate(isa.queues(compiled.cfg))}
    for (consumer, cycle, field_name), want in intents.items():
        got = reads.get((q_index[consumer], cycle, field_name))
        want_idx = [None if w is None else (q_index[w[0]], w[1]) for w in want]
        if got is None or list(got[:len(want_idx)]) != want_idx:
            raise ScheduleError(f"{consumer} at cycle {cycle} reads {field_name} from {got}, "
                                f"the schedule intended {want_idx}")
    return len(intents)


def run(compiled, inputs, backend="golden", key=None, log_file=None):
    """Run ``compiled`` on ``inputs`` (``{name: int8 array}``) on ``golden``, ``verilator`` or
    ``icarus``: SRAM loaded once, then every segment's program loaded and run in turn."""
    cfg = compiled.cfg
    image = compiled.sram_image(inputs)
    segs = compiled.segments
    if backend == "golden":
        model = LpuModel(cfg)
        for (s, a), vec in image.items():
            model.mem[s].load(a, vec)
        cycles, done, error = [], True, 0
        for sg in segs:
            model.load_program(sg.words())
            r = model.run(max_cycles=sg.cycles + 1000, provenance=True)
            check_schedule(compiled, r.reads, sg)
            cycles.append(r.cycles)
            done, error = done and r.done, error or int(r.error)
            if error:
                break
        outputs = {}
        for name in compiled.outputs:
            p = compiled.places[name][0]
            outputs[name] = compiled.read_output(name, [model.mem[p.slice].peek(p.base + i)
                                                        for i in range(p.vectors)])
        return RunOutput(outputs, sum(cycles), done, error, backend, cycles)
    from openlpu.verif.lpu_cases import make_case, run_rtl
    windows = [(compiled.places[n][0].slice, compiled.places[n][0].base, compiled.places[n][0].vectors)
               for n in compiled.outputs]
    cases = [make_case(cfg, sg.words(), sram=image if i == 0 else None,
                       windows=windows if i == len(segs) - 1 else [], max_cycles=sg.cycles + 1000)
             for i, sg in enumerate(segs)]
    obs = run_rtl(cfg, backend, cases, key or "compiled", log_file=log_file)
    outputs = {}
    for name, hexdata in zip(compiled.outputs, obs[-1]["windows"]):
        data = np.frombuffer(bytes.fromhex(hexdata), np.uint8).reshape(-1, cfg.lanes)
        outputs[name] = compiled.read_output(name, list(data))
    cycles = [o["cycles"] for o in obs]
    return RunOutput(outputs, sum(cycles), all(o["done"] for o in obs),
                     next((o["code"] for o in obs if o["code"]), 0), backend, cycles)
