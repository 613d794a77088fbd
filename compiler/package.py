"""The on-disk form of a compiled model: what ``openlpu compile`` writes and ``openlpu run`` loads.

A package is a directory:

``manifest.json``
    format version, the chip configuration (``LpuConfig`` fields), the batch ``rows``, the
    segments (image file and predicted cycles), each tensor's SRAM places, the outputs, the
    graph (nodes, inputs, dtypes; row ops by their recipes' arguments), and the model's input and
    output specs (ONNX name -> graph tensor, dtype, scale).
``segment<i>.lpu``
    each program's instruction words (:func:`openlpu.asm.save_image`; ``openlpu disasm`` reads it).
``sram.npz``
    the constant SRAM image: ``slices``, ``addrs`` and ``data`` (one ``lanes``-byte vector a row).
``graph.npz``
    the graph's constants (weights, biases), by tensor name.
``intents.json``
    per segment, the scheduler's read intents, so that the golden backend checks every read.
``report.json``
    the compiler's report (predicted cycles per segment, MXM utilization, SRAM use, instruction
    counts).

:func:`save` writes one, :func:`load` reads it back into a :class:`Package` whose ``compiled``
runs with :func:`openlpu.compiler.runtime.run` exactly as the freshly compiled program.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from openlpu import isa
from openlpu.asm import load_image, save_image
from openlpu.config import LpuConfig

from .alloc import TensorPlace
from .emit import Compiled, Segment
from .graph import Graph, Node
from .rowops import gelu_recipe, layer_norm_recipe, softmax_recipe

__all__ = ["FORMAT", "Package", "PackageError", "save", "load", "graph_inputs", "model_outputs"]

#: Version of the layout above; :func:`load` refuses any other.
FORMAT = 1

_RECIPES = {"softmax": softmax_recipe, "layer_norm": layer_norm_recipe, "gelu": gelu_recipe}


class PackageError(ValueError):
    """A directory that is not a readable package (missing file, other format version)."""


@dataclasses.dataclass
class Package:
    compiled: Compiled
    graph: Graph
    rows: int
    io: dict                    # {"inputs": {name: [graph name, dtype, scale, float?]}, "outputs": {...}}
    report: dict


# --- model inputs and outputs ---------------------------------------------------------------------
def graph_inputs(specs, feeds):
    """``{graph input: array}`` from ``{model input: array}``; ``specs``: ``{model input: (graph
    name, "int8" | "fp16", scale, float input?)}``. A float input is quantized as ONNX's
    ``QuantizeLinear`` does (``rint(x / s)`` in float32, saturated to int8), an int8 or fp16 one
    taken as it is."""
    out = {}
    for name, (gname, dtype, scale, is_float) in specs.items():
        if name not in feeds:
            raise ValueError(f"input {name!r} is missing (the model takes {', '.join(specs)})")
        x = np.asarray(feeds[name])
        if dtype == "fp16":
            out[gname] = x.astype(np.float16)
        elif is_float:
            out[gname] = np.clip(np.rint(x.astype(np.float32) / np.float32(scale)), -128, 127).astype(np.int8)
        else:
            out[gname] = x.astype(np.int8)
    return out


def model_outputs(specs, values):
    """``{model output: array}`` from the graph's ``{tensor: array}``; ``specs``: ``{model
    output: (graph name, scale or None)}``. A dequantized output as ``DequantizeLinear`` computes
    it (``q * s`` in float32), else the tensor as it is."""
    out = {}
    for name, (gname, scale) in specs.items():
        v = np.asarray(values[gname])
        out[name] = v.astype(np.float32) * np.float32(scale) if scale is not None else v
    return out


# --- the graph ---------------------------------------------------------------------------------------
def _attrs_json(attrs):
    out = {}
    for k, v in attrs.items():
        if k == "recipe":
            continue
        out[k] = v.tolist() if isinstance(v, np.ndarray) else v
    return out


def graph_json(graph):
    """The graph as JSON data (constants apart: :func:`save` writes them to ``graph.npz``)."""
    return {"nodes": [{"op": n.op, "inputs": list(n.inputs), "output": n.output, "attrs": _attrs_json(n.attrs)}
                      for n in graph.nodes],
            "inputs": {k: list(v) for k, v in graph.inputs.items()}, "dtypes": graph.dtypes,
            "outputs": graph.outputs, "counter": graph._n}


def graph_from_json(data, consts):
    """The :class:`Graph` of :func:`graph_json` and its constants."""
    g = Graph()
    for n in data["nodes"]:
        attrs = dict(n["attrs"])
        if n["op"] in _RECIPES:
            attrs["recipe"] = _RECIPES[n["op"]](*attrs["args"])
        if "channel_scales" in attrs:
            attrs["channel_scales"] = np.asarray(attrs["channel_scales"], np.float64)
        g.nodes.append(Node(n["op"], tuple(n["inputs"]), n["output"], attrs))
    g.inputs = {k: tuple(v) for k, v in data["inputs"].items()}
    g.consts = {k: consts[k] for k in consts.files} if hasattr(consts, "files") else dict(consts)
    g.dtypes, g.outputs, g._n = dict(data["dtypes"]), list(data["outputs"]), data["counter"]
    return g


# --- save and load -------------------------------------------------------------------------------------
def _intents_json(intents):
    return [[q, t, f, [None if w is None else list(w) for w in want]] for (q, t, f), want in intents.items()]


def _intents_from_json(data):
    return {(q, t, f): [None if w is None else tuple(w) for w in want] for q, t, f, want in data}


def save(compiled, graph, rows, out_dir, io):
    """Write the package of ``compiled`` (from ``graph`` with ``rows`` input rows) to ``out_dir``;
    ``io`` as :class:`Package`'s. Returns the directory. A batch compiled as chunks
    (:class:`~openlpu.compiler.batch.Batched`) has no package format yet: ``ValueError``."""
    from .batch import Batched
    if isinstance(compiled, Batched):
        raise ValueError(f"the batch of {rows} rows does not fit the SRAM and was compiled as "
                         f"{len(compiled.chunks)} chunks of {compiled.report['chunk_rows']} rows, which a "
                         "package cannot hold yet: compile fewer rows (--rows)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    segs = []
    for i, sg in enumerate(compiled.segments):
        save_image(sg.words(), out / f"segment{i}.lpu")
        segs.append({"image": f"segment{i}.lpu", "cycles": sg.cycles})
    keys = sorted(compiled.weights)
    np.savez(out / "sram.npz", slices=np.array([k[0] for k in keys], np.int64),
             addrs=np.array([k[1] for k in keys], np.int64),
             data=np.array([compiled.weights[k] for k in keys], np.uint8).reshape(len(keys), compiled.cfg.lanes))
    np.savez(out / "graph.npz", **graph.consts)
    (out / "intents.json").write_text(json.dumps([_intents_json(sg.intents) for sg in compiled.segments]))
    (out / "report.json").write_text(json.dumps(compiled.report, indent=2) + "\n")
    manifest = {"format": FORMAT, "config": compiled.cfg.as_dict(), "rows": rows, "segments": segs,
                "places": {t: [dataclasses.asdict(p) for p in ps] for t, ps in compiled.places.items()},
                "outputs": compiled.outputs, "graph": graph_json(graph), "io": io}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return out


def _read_json(path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise PackageError(f"{path.parent}: not a compiled package ({path.name} is missing; "
                           "write one with `openlpu compile`)") from None


def load(out_dir):
    """The :class:`Package` in ``out_dir``."""
    out = Path(out_dir)
    man = _read_json(out / "manifest.json")
    if man.get("format") != FORMAT:
        raise PackageError(f"{out}: package format {man.get('format')}, this version reads {FORMAT}")
    cfg = LpuConfig.from_dict(man["config"])
    intents = _read_json(out / "intents.json")
    segments = []
    for sg, want in zip(man["segments"], intents):
        words = load_image(out / sg["image"])
        program = {q: [isa.decode(w) for w in ws] for q, ws in words.items()}
        segments.append(Segment(program, sg["cycles"], _intents_from_json(want)))
    with np.load(out / "sram.npz") as z:
        weights = {(int(s), int(a)): d for s, a, d in zip(z["slices"], z["addrs"], z["data"])}
    places = {t: [TensorPlace(**p) for p in ps] for t, ps in man["places"].items()}
    with np.load(out / "graph.npz") as consts:
        graph = graph_from_json(man["graph"], consts)
    report = _read_json(out / "report.json")
    compiled = Compiled(cfg, segments, places, weights, man["outputs"], report)
    return Package(compiled, graph, man["rows"], man["io"], report)
