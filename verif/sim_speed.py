"""Simulation speed of a compiled network on the RTL: chip cycles per wall second.

:func:`network_cycles_per_s` runs the 64-64-32-10 int8 MLP classifier
(:func:`openlpu.compiler.models.mlp_classifier`) on the simulated chip with the
memories loaded by backdoor and through the host port, for a bench to
compare. ``python -m openlpu.verif.sim_speed small verilator [path ...]``
prints the figures as JSON.
"""

import json

__all__ = ["network_cycles_per_s"]


def _mlp(preset_name, rows=120):
    """The 64-64-32-10 int8 MLP classifier compiled for ``preset_name`` on ``rows`` rows (halved
    until the program fits the chip, as the demo does), and its quantized inputs."""
    from openlpu.compiler.lower import compile_graph
    from openlpu.compiler.models import mlp_classifier
    from openlpu.config import preset
    model = mlp_classifier(seed=1, features=64, hidden=(64, 32), classes=10)
    rows = min(rows, len(model.x_test))
    while True:
        try:
            compiled = compile_graph(model.graph, preset(preset_name), rows)
            break
        except MemoryError:
            if rows == 1:
                raise
            rows //= 2
    return compiled, {"x": model.quantize_input(model.x_test[:rows])}


def network_cycles_per_s(preset_name, sim, paths=("backdoor", "host"), rows=120):
    """Chip cycles per wall second of the compiled MLP (see :func:`_mlp`) on the RTL under
    ``sim``, per path: ``{path: {"rows", "cycles", "seconds", "phase_seconds", "cycles_per_s"}}``.
    ``seconds`` is the testbench's load + run + read back of every segment, ``phase_seconds``
    the same split into ``load``, ``run`` and ``read`` (the build and the simulator's start
    are not counted; the model is built first if it is not). Raises ``AssertionError`` if the
    paths' observations differ."""
    from openlpu.compiler.runtime import rtl_cases
    from openlpu.verif.lpu_cases import run_rtl
    compiled, inputs = _mlp(preset_name, rows)
    cases = rtl_cases(compiled, inputs)
    out, first = {}, None
    for path in paths:
        obs = run_rtl(compiled.cfg, sim, cases, preset_name, path=path)
        same = [{k: v for k, v in o.items() if k != "seconds"} for o in obs]
        if first is not None and same != first:
            raise AssertionError(f"{sim}: the {path} path observes {same}, the {paths[0]} path {first}")
        first = first or same
        cycles = sum(o["cycles"] for o in obs)
        phases = {k: round(sum(o["seconds"][k] for o in obs), 3) for k in obs[0]["seconds"]}
        seconds = sum(phases.values())
        out[path] = {"rows": len(inputs["x"]), "cycles": cycles, "seconds": round(seconds, 3),
                     "phase_seconds": phases, "cycles_per_s": round(cycles / seconds, 1)}
    return out


if __name__ == "__main__":
    import sys
    print(json.dumps(network_cycles_per_s(sys.argv[1], sys.argv[2], tuple(sys.argv[3:]) or ("backdoor", "host"))))
