"""A Verilog harness that plays a GEMM schedule into one MXM plane with no Python per cycle.

:class:`MxmGemmHarness` is a design for :func:`openlpu.verif.runner.run_cocotb`:
the converted :class:`openlpu.rtl.mxm.MxmPlane` and a hand-written top module
around it. When ``start`` is high at a rising clock edge, the top reads the
stimulus and its length from files in the simulator's working directory
(:data:`STIMULUS_FILE`, :data:`LENGTH_FILE`, ``$readmemh``), then drives one
stimulus word into the plane per cycle and records the plane's ``result``
port in the same cycle. After the last cycle it writes the record to
:data:`CAPTURE_FILE` (``$writememh``) and raises ``done``. The testbench
(:mod:`openlpu.verif.tb_mxm_gemm`) only waits for ``done``, so the simulator
runs the whole schedule on its own; the checks against the golden model run
afterwards on the record. Verilog-2005: Icarus Verilog and Verilator alike.

Stimulus word, most significant field first: ``load.valid``, ``load.payload``,
``install``, ``act.valid``, ``act.payload``. Record word: ``result.valid``,
``result.payload``. :func:`stimulus_word` and :func:`split_record` pack and
unpack them.
"""

import hashlib
import json

from openlpu.config import require_config

__all__ = ["MxmGemmHarness", "DEPTH", "STIMULUS_FILE", "LENGTH_FILE", "CAPTURE_FILE",
           "stimulus_word", "split_record", "widths"]

#: Cycles the harness can play (the memories' depth).
DEPTH = 1 << 15
STIMULUS_FILE = "mxm_gemm_stimulus.hex"
LENGTH_FILE = "mxm_gemm_length.hex"
CAPTURE_FILE = "mxm_gemm_capture.hex"


def widths(cfg):
    """Widths of the plane's ``load``, ``act`` and ``result`` payloads."""
    from openlpu.rtl.mxm import ActivationLayout, ResultLayout, WeightLoadLayout
    return WeightLoadLayout(cfg).size, ActivationLayout(cfg).size, ResultLayout(cfg).size


def stimulus_word(cfg, load_payload, install, act_payload):
    """One stimulus word; a payload of ``None`` means that stream is not valid."""
    load_w, act_w, _ = widths(cfg)
    word = 0 if act_payload is None else (1 << act_w) | act_payload
    word |= int(install) << (act_w + 1)
    if load_payload is not None:
        word |= ((1 << load_w) | load_payload) << (act_w + 2)
    return word


def split_record(cfg, word):
    """``(result.valid, result.payload)`` of one record word."""
    result_w = widths(cfg)[2]
    return word >> result_w, word & ((1 << result_w) - 1)


_TOP = """
module {name} (clk, rst, start, done);
    input clk;
    input rst;
    input start;
    output reg done;
    localparam LOAD_W = {load_w}, ACT_W = {act_w}, RESULT_W = {result_w};
    localparam STIM_W = LOAD_W + ACT_W + 3, DEPTH = {depth}, A = {addr_bits};
    localparam [A:0] ONE = 1;
    reg [STIM_W-1:0] stimulus [0:DEPTH-1];
    reg [RESULT_W:0] record [0:DEPTH-1];
    reg [A:0] length [0:0];
    // initialised, not only reset: an X here before the first edge would write X into the plane's memories
    reg [A:0] t = {{(A+1){{1'b0}}}};
    reg running = 1'b0;
    reg finishing = 1'b0;
    initial done = 1'b0;
    wire [STIM_W-1:0] word = running ? stimulus[t[A-1:0]] : {{STIM_W{{1'b0}}}};
    wire result_valid;
    wire [RESULT_W-1:0] result_payload;

    {plane} plane (
        .clk(clk), .rst(rst),
        .load__valid(word[STIM_W-1]), .load__payload(word[STIM_W-2:ACT_W+2]),
        .install(word[ACT_W+1]),
        .act__valid(word[ACT_W]), .act__payload(word[ACT_W-1:0]),
        .result__valid(result_valid), .result__payload(result_payload)
    );

    always @(posedge clk) begin
        if (rst) begin
            t <= {{(A+1){{1'b0}}}};
            running <= 1'b0;
            finishing <= 1'b0;
            done <= 1'b0;
        end else if (start && !running && !finishing && !done) begin
            $readmemh("{length_file}", length);
            $readmemh("{stimulus_file}", stimulus, 0, length[0] - ONE);
            t <= {{(A+1){{1'b0}}}};
            running <= 1'b1;
        end else if (running) begin
            record[t[A-1:0]] <= {{result_valid, result_payload}};
            t <= t + ONE;
            if (t + ONE == length[0]) begin
                running <= 1'b0;
                finishing <= 1'b1;
            end
        end else if (finishing) begin
            $writememh("{capture_file}", record, 0, length[0] - ONE);
            finishing <= 1'b0;
            done <= 1'b1;
        end
    end
endmodule
"""


class MxmGemmHarness:
    """One MXM plane of ``cfg`` under the schedule player described in the module docstring.

    Not an Amaranth component: it gives :func:`run_cocotb` its Verilog
    (``to_verilog``) and the key of that Verilog (``design_fingerprint``).
    """

    def __init__(self, cfg, depth=DEPTH):
        self.cfg = require_config(cfg)
        if depth < 2 or depth & (depth - 1):
            raise ValueError(f"depth must be a power of two >= 2, not {depth!r}")
        self.depth = depth

    def design_fingerprint(self, name):
        from amaranth import __version__ as amaranth_version

        from openlpu.verif.design_cache import source_digest
        text = json.dumps([name, self.cfg.as_dict(), self.depth, amaranth_version, source_digest([__file__])])
        return hashlib.sha256(text.encode()).hexdigest()

    def to_verilog(self, name):
        from amaranth.back import verilog

        from openlpu.rtl.mxm import MxmPlane
        plane = f"{name}_plane"
        load_w, act_w, result_w = widths(self.cfg)
        top = _TOP.format(name=name, plane=plane, load_w=load_w, act_w=act_w, result_w=result_w,
                          depth=self.depth, addr_bits=self.depth.bit_length() - 1,
                          stimulus_file=STIMULUS_FILE, length_file=LENGTH_FILE, capture_file=CAPTURE_FILE)
        return verilog.convert(MxmPlane(self.cfg), name=plane, emit_src=False) + top
