"""The rates bench reads the machine's peak rates off the RTL's ports and the ISA's queues."""

import json

from openlpu.bench import bench_rates
from openlpu.config import preset


def test_tsp_rates_are_the_ports_counted_by_hand():
    """At tsp: 4 planes x 8 320-byte weight rows per cycle (mxm_load_rows: the reference's 409,600
    weights in 40 cycles); 88 slices x one 320-byte READ or
    WRITE; 2 x 32 streams x 320 bytes past a position; 320 lanes x 16 ALUs under one VXM queue;
    4 planes x 320 x 320 MACs."""
    assert bench_rates.rates(preset("tsp")) == {
        "weights_per_cycle": 10240, "sram_bytes_per_cycle": 28160, "stream_bytes_per_cycle": 20480,
        "vxm_ops_per_cycle": 5120, "vxm_queues": 1, "macs_per_cycle": 409600}


def test_rates_json_has_every_figure_and_the_reference(tmp_path, capsys):
    out = tmp_path / "rates.json"
    assert bench_rates.main(["--preset", "duo", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    keys = {"weights_per_cycle", "sram_bytes_per_cycle", "stream_bytes_per_cycle", "vxm_ops_per_cycle",
            "vxm_queues", "macs_per_cycle"}
    assert keys <= set(data) and keys == set(data["reference"])
    assert "weights_per_cycle" in capsys.readouterr().out
