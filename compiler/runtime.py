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
    cycles: int
    done: bool
    error: int
    backend: str


def check_schedule(compiled, reads):
    """Compare the scheduler's intents with the golden simulator's provenance record."""
    q_index = {q: i for i, q in enumerate(isa.queues(compiled.cfg))}
    for (consumer, cycle, field_name), want in compiled.intents.items():
        got = reads.get((q_index[consumer], cycle, field_name))
        want_idx = [(q_index[p], t) for p, t in want]
        if got is None or list(got[:len(want_idx)]) != want_idx:
            raise ScheduleError(f"{consumer} at cycle {cycle} reads {field_name} from {got}, "
                                f"the schedule intended {want_idx}")
    return len(compiled.intents)


def run(compiled, inputs, backend="golden", key=None, log_file=None):
    """Run ``compiled`` on ``inputs`` (``{name: int8 array}``) on ``golden``, ``verilator`` or ``icarus``."""
    cfg = compiled.cfg
    image = compiled.sram_image(inputs)
    words = compiled.words()
    if backend == "golden":
        model = LpuModel(cfg)
        for (s, a), vec in image.items():
            model.mem[s].load(a, vec)
        model.load_program(words)
        r = model.run(max_cycles=compiled.predicted_cycles + 1000, provenance=True)
        check_schedule(compiled, r.reads)
        outputs = {}
        for name in compiled.outputs:
            p = compiled.places[name][0]
            outputs[name] = compiled.read_output(name, [model.mem[p.slice].peek(p.base + i)
                                                        for i in range(p.vectors)])
        return RunOutput(outputs, r.cycles, r.done, int(r.error), backend)
    from openlpu.verif.lpu_cases import make_case, run_rtl
    windows = [(compiled.places[n][0].slice, compiled.places[n][0].base, compiled.places[n][0].vectors)
               for n in compiled.outputs]
    case = make_case(cfg, words, sram=image, windows=windows,
                     max_cycles=compiled.predicted_cycles + 1000)
    obs = run_rtl(cfg, backend, [case], key or "compiled", log_file=log_file)[0]
    outputs = {}
    for name, hexdata in zip(compiled.outputs, obs["windows"]):
        data = np.frombuffer(bytes.fromhex(hexdata), np.uint8).reshape(-1, cfg.lanes)
        outputs[name] = compiled.read_output(name, list(data))
    return RunOutput(outputs, obs["cycles"], obs["done"], obs["code"], backend)
