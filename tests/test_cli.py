"""The `openlpu` command: generate + lint, clear errors, --set / --config, compile / run / sweep."""

import json

import numpy as np
import pytest

from openlpu.cli import main
from openlpu.verif.runner import require_simulator


def test_generate_mxm_tiny_lints_clean(tmp_path, capsys):
    require_simulator("verilator")  # the linter
    assert main(["generate", "--preset", "tiny", "--unit", "mxm", "-o", str(tmp_path), "--lint"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "openlpu_mxm_tiny.v").exists()
    assert "lint clean" in out


def test_unknown_unit_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="unknown unit 'mxx'"):
        main(["generate", "--unit", "mxx", "-o", str(tmp_path)])


def test_unknown_preset_is_rejected(tmp_path):
    with pytest.raises(SystemExit):
        main(["generate", "--preset", "huge", "-o", str(tmp_path)])


def test_asm_disasm_round_trip(tmp_path, capsys):
    src = tmp_path / "p.s"
    src.write_text(".queue mem0\nREAD 3, e1\nREPEAT 2, 1\nEND\n.queue vxm\nCONFIG 2, 0x1234\nEND\n")
    assert main(["asm", str(src), "-o", str(tmp_path / "p.lpu")]) == 0
    assert main(["disasm", str(tmp_path / "p.lpu"), "-o", str(tmp_path / "back.s")]) == 0
    assert main(["asm", str(tmp_path / "back.s"), "-o", str(tmp_path / "q.lpu")]) == 0
    assert (tmp_path / "p.lpu").read_bytes() == (tmp_path / "q.lpu").read_bytes()


def test_asm_error_names_file_and_line(tmp_path, capsys):
    src = tmp_path / "bad.s"
    src.write_text(".queue mem0\nREAD 3\n")
    assert main(["asm", str(src)]) == 2
    assert "bad.s: line 2: READ takes 2 operands" in capsys.readouterr().err


# --- --set and --config ------------------------------------------------------------------------------
def _parsed(argv):
    from openlpu.cli import _config, build_parser
    return _config(build_parser().parse_args(argv))


def test_set_and_config_override_the_preset(tmp_path):
    """--config FILE.toml (top-level fields) over the preset, --set over both, typed as integers."""
    toml = tmp_path / "c.toml"
    toml.write_text("lanes = 16\nmem_depth = 512\n")
    cfg = _parsed(["compile", "m.onnx", "-o", "out", "--preset", "tiny", "--config", str(toml),
                   "--set", "mem_depth=1024", "--set", "mxm_planes=2"])
    assert (cfg.lanes, cfg.mem_depth, cfg.mxm_planes, cfg.streams) == (16, 1024, 2, preset_tiny().streams)
    assert _parsed(["sweep", "--field", "lanes", "--values", "8", "--set", "host_bytes=none"]).host_bytes is None
    for cmd in (["generate"], ["synth"], ["demo"], ["asm", "p.s"], ["compile", "m", "-o", "o"],
                ["sweep", "--field", "lanes", "--values", "8"]):
        assert _parsed(cmd + ["--set", "vxm_alus=2"]).vxm_alus == 2, cmd


@pytest.mark.parametrize("argv,message", [
    (["--set", "lane=8"], "LpuConfig.lane = '8': is not an LpuConfig field"),
    (["--set", "lanes=eight"], "LpuConfig.lanes = 'eight': must be an integer"),
    (["--set", "lanes=10"], "LpuConfig.lanes = 10: must be a multiple of 4"),
    (["--set", "mem_depth=100"], "LpuConfig.mem_depth = 100: must be a power of two"),
    (["--set", "lanes"], "--set takes FIELD=VALUE"),
])
def test_bad_set_is_a_clear_error_naming_the_field(tmp_path, capsys, argv, message):
    src = tmp_path / "p.s"
    src.write_text(".queue mem0\nEND\n")
    assert main(["asm", str(src)] + argv) == 2
    assert message in capsys.readouterr().err


def test_bad_config_file_is_a_clear_error(tmp_path, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text("lanes = 8.5\n")
    src = tmp_path / "p.s"
    src.write_text(".queue mem0\nEND\n")
    assert main(["asm", str(src), "--config", str(toml)]) == 2
    assert "LpuConfig.lanes = 8.5: must be an integer" in capsys.readouterr().err
    toml.write_text("lanes = \n")
    assert main(["asm", str(src), "--config", str(toml)]) == 2
    assert f"cannot read {toml}" in capsys.readouterr().err


def preset_tiny():
    from openlpu.config import preset
    return preset("tiny")


# --- compile, run, sweep -----------------------------------------------------------------------------
def _qdq_mlp_file(path, rows=6):
    """A float MLP 10 -> 12 -> 3 (MatMul + Add + Relu, then MatMul + Add) made with onnx.helper,
    calibrated into int8 QDQ by quantize_model and saved; and an input of ``rows`` rows."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    from openlpu.compiler.onnx import quantize_model
    rng = np.random.default_rng(0)
    w0, w1 = rng.normal(0, 0.3, (10, 12)), rng.normal(0, 0.3, (12, 3))
    inits = [numpy_helper.from_array(a.astype(np.float32), n)
             for n, a in (("W0", w0), ("B0", rng.normal(0, 0.2, 12)), ("W1", w1), ("B1", rng.normal(0, 0.2, 3)))]
    nodes = [helper.make_node("MatMul", ["x", "W0"], ["m0"]), helper.make_node("Add", ["m0", "B0"], ["a0"]),
             helper.make_node("Relu", ["a0"], ["h0"]), helper.make_node("MatMul", ["h0", "W1"], ["m1"]),
             helper.make_node("Add", ["m1", "B1"], ["y"])]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(quantize_model(model, rng.normal(0, 1, (64, 10))), path)
    return rng.normal(0, 1, (rows, 10)).astype(np.float32)


def test_compile_run_round_trip_on_golden(tmp_path, capsys):
    """compile writes the package (programs, SRAM image, graph, report.json); run loads it, runs
    it on the golden backend: cycles == the report's prediction, outputs == the graph reference,
    and -o writes the dequantized output (the output LSB times the int8 result)."""
    x = _qdq_mlp_file(tmp_path / "m.onnx")
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "pkg"
    assert main(["compile", str(tmp_path / "m.onnx"), "--preset", "tiny", "-o", str(out)]) == 0
    for f in ("manifest.json", "segment0.lpu", "sram.npz", "graph.npz", "intents.json", "report.json"):
        assert (out / f).exists(), f
    report = json.loads((out / "report.json").read_text())
    assert report["predicted_cycles"] == sum(report["segment_cycles"]) > 0
    assert report["instructions"] == sum(report["instructions_by_queue"].values())
    assert main(["disasm", str(out / "segment0.lpu"), "-o", str(tmp_path / "s.s")]) == 0
    capsys.readouterr()
    assert main(["run", str(out), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")]) == 0
    text = capsys.readouterr().out
    assert f"golden: {report['predicted_cycles']} cycles" in text and "outputs == graph reference" in text
    from openlpu.compiler import package
    pkg = package.load(out)
    gin = package.graph_inputs(pkg.io["inputs"], {"x": x})
    (gname, scale), = pkg.io["outputs"].values()
    ref = pkg.graph.reference(gin)[gname]
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), ref.astype(np.float32) * np.float32(scale))


def test_run_of_a_tampered_package_fails(tmp_path, capsys):
    """A package whose SRAM image no longer matches its graph: run reports the mismatch, exit 1."""
    x = _qdq_mlp_file(tmp_path / "m.onnx")
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "pkg"
    assert main(["compile", str(tmp_path / "m.onnx"), "-o", str(out)]) == 0
    with np.load(out / "sram.npz") as z:
        parts = dict(z)
    parts["data"] = parts["data"] ^ np.uint8(0x11)                  # every weight byte changed
    np.savez(out / "sram.npz", **parts)
    capsys.readouterr()
    assert main(["run", str(out), "--input", str(tmp_path / "x.npy")]) == 1
    assert "MISMATCH against the graph reference" in capsys.readouterr().out


def test_compile_and_run_errors(tmp_path, capsys):
    x = _qdq_mlp_file(tmp_path / "m.onnx")
    with pytest.raises(SystemExit, match="not a compiled package"):
        main(["run", str(tmp_path), "--input", "x.npy"])
    assert main(["compile", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "p")]) == 0
    np.save(tmp_path / "x.npy", x[:2])
    with pytest.raises(SystemExit, match=r"input x is \(2, 10\); the package was compiled for \(6, 10\)"):
        main(["run", str(tmp_path / "p"), "--input", str(tmp_path / "x.npy")])
    with pytest.raises(SystemExit, match=r"no\.onnx"):
        main(["compile", str(tmp_path / "no.onnx"), "-o", str(tmp_path / "q")])


def test_sweep_table_json_and_png(tmp_path, capsys):
    """sweep compiles the model once per value: a table row each (cycles, utilization, area),
    the same figures as compiling that configuration directly; --json and --png written."""
    _qdq_mlp_file(tmp_path / "m.onnx")
    pytest.importorskip("matplotlib")
    argv = ["sweep", "--preset", "tiny", "--field", "mxm_planes", "--values", "1,2", "--model",
            str(tmp_path / "m.onnx"), "--json", str(tmp_path / "s.json"), "--png", str(tmp_path / "s.png")]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "mxm_planes" in text and "LUT4 (projected)" in text
    rows = json.loads((tmp_path / "s.json").read_text())
    assert [r["mxm_planes"] for r in rows] == ["1", "2"]
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    for r in rows:
        assert main(["compile", str(tmp_path / "m.onnx"), "--set", f"mxm_planes={r['mxm_planes']}",
                     "-o", str(tmp_path / "p")]) == 0
        assert json.loads((tmp_path / "p" / "report.json").read_text())["predicted_cycles"] == r["cycles"]
    capsys.readouterr()
    assert main(argv[:6] + ["1,x"]) == 2
    assert "LpuConfig.mxm_planes = 'x': must be an integer" in capsys.readouterr().err


# --- trace of a package ------------------------------------------------------------------------------
def _used_queues(pkg):
    """The queues whose program, in some segment, issues an instruction to its unit (read off the
    package's programs: anything but NOP, END, SYNC and NOTIFY)."""
    return {q for sg in pkg.compiled.segments for q, prog in sg.program.items()
            if any(ins.op.name not in ("NOP", "END", "SYNC", "NOTIFY") for ins in prog)}


def test_trace_of_a_compiled_package(tmp_path, capsys):
    """`openlpu trace OUT/` on a package written by `openlpu compile`: the JSON has traceEvents,
    one track group (process) named after each queue the package's programs use and no other
    queue, and the predicted cycles of the package's report.json."""
    from openlpu.compiler import package
    _qdq_mlp_file(tmp_path / "m.onnx")
    out = tmp_path / "pkg"
    assert main(["compile", str(tmp_path / "m.onnx"), "--preset", "tiny", "-o", str(out)]) == 0
    assert main(["trace", str(out), "-o", str(tmp_path / "t.json")]) == 0
    assert "ui.perfetto.dev" in capsys.readouterr().out
    data = json.loads((tmp_path / "t.json").read_text())
    events = data["traceEvents"]
    processes = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert processes - {"program", "units", "streams"} == _used_queues(package.load(out))
    assert [e for e in events if e["ph"] == "X" and e["cat"] == "instr"]
    report = json.loads((out / "report.json").read_text())
    assert data["otherData"]["predicted_cycles"] == report["predicted_cycles"]


def test_trace_source_errors(tmp_path, capsys):
    """A directory that is not a package, no source, or both a package and --model: status 2
    and an error saying what to give."""
    assert main(["trace", str(tmp_path), "-o", str(tmp_path / "t.json")]) == 2
    assert "not a compiled package" in capsys.readouterr().err
    for argv in (["trace"], ["trace", str(tmp_path), "--model", "mlp"]):
        assert main(argv + ["-o", str(tmp_path / "t.json")]) == 2
        assert "give a package directory written by `openlpu compile` or --model NAME" in capsys.readouterr().err
    assert not (tmp_path / "t.json").exists()


def test_coverage_of_an_unknown_unit_names_the_units(capsys):
    """`openlpu coverage` rejects a unit it does not measure before running anything, naming the
    ones it does (those with a testbench and those measured inside the chip's runs)."""
    with pytest.raises(SystemExit) as exc:
        main(["coverage", "bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'bogus'" in err and "vxm_func" in err and "icu" in err
