"""Running a compiled program: on the golden ISA simulator (fast) or on the RTL (exact).

:func:`run` loads the constants and the inputs into SRAM and the program into
the instruction queues, runs, and reads the outputs back, on either backend
with the same call. On the golden simulator it also runs the schedule
checker (:func:`check_schedule`): every stream operand an instruction reads
must come from the producer the compiler intended — a conflict or a timing
slip in the scheduler is a compiler bug, caught on every compiled program.
It also checks the program itself for the one rule no stream shows: an fp16
ACC to an MXM accumulator row issues at least
:func:`openlpu.timing.mxm_acc_reuse_distance` cycles after the previous
ABC/ACC to that row (:func:`check_acc_reuse`).
"""

from dataclasses import dataclass

import numpy as np

from openlpu import isa, timing
from openlpu.golden.lpu import LpuModel

from .batch import Batched, run_chunked
from .place_mxm import ANY

__all__ = ["RunOutput", "run", "rtl_cases", "check_schedule", "check_acc_reuse", "issue_cycles", "ScheduleError"]


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
    golden simulator's provenance record of that segment's run (an intent entry
    :data:`~openlpu.compiler.place_mxm.ANY` matches any producer)."""
    segment = segment or compiled._single()
    check_acc_reuse(compiled.cfg, segment.program)
    intents = segment.intents
    q_index = {q: i for i, q in enumerate(isa.queues(compiled.cfg))}
    for (consumer, cycle, field_name), want in intents.items():
        got = reads.get((q_index[consumer], cycle, field_name))
        want_idx = [w if w is None or w == ANY else (q_index[w[0]], w[1]) for w in want]
        if got is None or len(got) < len(want_idx) or any(w != ANY and g != w for g, w in zip(got, want_idx)):
            raise ScheduleError(f"{consumer} at cycle {cycle} reads {field_name} from {got}, "
                                f"the schedule intended {want_idx}")
    return len(intents)


def issue_cycles(instrs):
    """``[(cycle, Instr)]``: when a queue's program issues each unit instruction (NOP gaps
    skipped, REPEAT runs expanded), counted from the program's start."""
    out, t, prev = [], 0, None
    for ins in instrs:
        name = ins.op.name
        if name == "END":
            break
        if name == "NOP":
            t += ins["n"]
        elif name == "REPEAT":
            for _ in range(ins["n"]):
                prev = isa.step(prev, ins["d"])
                out.append((t, prev))
                t += 1
        elif name not in ("SYNC", "NOTIFY"):
            out.append((t, ins))
            prev, t = (ins if name != "CONFIG" else prev), t + 1
    return out


def check_acc_reuse(cfg, program):
    """Raise :class:`ScheduleError` where an fp16 ACC to an accumulator row of an MXM plane issues
    sooner than ``timing.mxm_acc_reuse_distance(True)`` cycles after the previous ABC/ACC to that
    row (the plane would add to a row it has not yet written)."""
    for p in range(cfg.mxm_planes):
        last = {}
        for t, ins in issue_cycles(program.get(f"mxm{p}", [])):
            if ins.op.name not in ("ABC", "ACC"):
                continue
            row = ins["addr"]
            need = timing.mxm_acc_reuse_distance(bool(ins["fp16"]), ins.op.name == "ACC")
            if row in last and t - last[row] < need:
                raise ScheduleError(f"mxm{p} at cycle {t}: {ins.op.name} to accumulator row {row} "
                                    f"{t - last[row]} cycles after the previous pass to it (at least {need})")
            last[row] = t
    return True


def rtl_cases(compiled, inputs):
    """The chip test cases (:func:`openlpu.verif.lpu_cases.make_case`) of running ``compiled`` on
    ``inputs``: one per segment, the first loading the SRAM image, the last reading the outputs."""
    from openlpu.verif.lpu_cases import make_case
    cfg, image, segs = compiled.cfg, compiled.sram_image(inputs), compiled.segments
    windows = [w for n in compiled.outputs for w in compiled.windows(n)]
    return [make_case(cfg, sg.words(), sram=image if i == 0 else None,
                      windows=windows if i == len(segs) - 1 else [], max_cycles=sg.cycles + 1000)
            for i, sg in enumerate(segs)]


def run(compiled, inputs, backend="golden", key=None, log_file=None, path="backdoor"):
    """Run ``compiled`` on ``inputs`` (``{name: int8 array}``) on ``golden``, ``verilator`` or
    ``icarus``: SRAM loaded once, then every segment's program loaded and run in turn. On the
    RTL, ``path`` loads and reads the memories by ``"backdoor"`` (fast) or through the ``"host"``
    port (:func:`openlpu.verif.lpu_cases.run_rtl`). A :class:`~openlpu.compiler.batch.Batched`
    batch runs chunk by chunk, each chunk's rows loaded and its outputs read back in turn."""
    if isinstance(compiled, Batched):
        outputs, cycles, done, error = run_chunked(
            compiled, inputs, lambda c, i: run(c, i, backend=backend, key=key, log_file=log_file, path=path))
        return RunOutput(outputs, sum(cycles), done, error, backend, cycles)
    cfg = compiled.cfg
    if backend == "golden":
        image, segs = compiled.sram_image(inputs), compiled.segments
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
        outputs = {name: compiled.read_output(name, [model.mem[s].peek(b + i)
                                                     for s, b, n in compiled.windows(name) for i in range(n)])
                   for name in compiled.outputs}
        return RunOutput(outputs, sum(cycles), done, error, backend, cycles)
    from openlpu.verif.lpu_cases import run_rtl
    obs = run_rtl(cfg, backend, rtl_cases(compiled, inputs), key or "compiled", log_file=log_file, path=path)
    outputs, got = {}, iter(obs[-1]["windows"])
    for name in compiled.outputs:
        data = [np.frombuffer(bytes.fromhex(next(got)), np.uint8).reshape(-1, cfg.lanes)
                for _ in compiled.windows(name)]
        outputs[name] = compiled.read_output(name, list(np.concatenate(data)))
    cycles = [o["cycles"] for o in obs]
    return RunOutput(outputs, sum(cycles), all(o["done"] for o in obs),
                     next((o["code"] for o in obs if o["code"]), 0), backend, cycles)
