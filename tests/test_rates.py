"""The rates bench reads the machine's peak rates off the RTL's ports and the ISA's queues."""

import json

from openlpu.bench import bench_rates
from openlpu.config import preset


def test_tsp_rates_are_the_ports_counted_by_hand():
    """At tsp: 4 planes x 8 320-byte weight rows per LW (mxm_load_rows: the reference's 409,600
    weights in 40 cycles); 88 slices x (a 320-byte READ + a 320-byte WRITE); 2 x 32 streams x 320
    bytes past a position; 320 lanes x 16 ALU columns, a queue each; 4 planes x 320 x 320 MACs."""
    assert bench_rates.rates(preset("tsp")) == {
        "weights_per_cycle": 10240, "sram_bytes_per_cycle": 56320, "stream_bytes_per_cycle": 20480,
        "vxm_ops_per_cycle": 5120, "vxm_queues": 16, "macs_per_cycle": 409600}


def test_small_rates_follow_its_own_ports():
    """small: 2 planes x 2 rows x 16 lanes; 8 slices x 2 x 16 bytes; 2 planes x 16 x 16 MACs."""
    got = bench_rates.rates(preset("small"))
    assert (got["weights_per_cycle"], got["sram_bytes_per_cycle"], got["macs_per_cycle"]) == (64, 256, 512)


def test_rates_json_has_every_figure_and_the_reference(tmp_path, capsys):
    out = tmp_path / "rates.json"
    assert bench_rates.main(["--preset", "duo", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    keys = {"weights_per_cycle", "sram_bytes_per_cycle", "stream_bytes_per_cycle", "vxm_ops_per_cycle",
            "vxm_queues", "macs_per_cycle"}
    assert keys <= set(data) and keys == set(data["reference"])
    assert "weights_per_cycle" in capsys.readouterr().out
