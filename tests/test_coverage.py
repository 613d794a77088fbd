"""The coverage report's bookkeeping: waiver file, named vs. temporary toggles, targets.

The Verilator runs themselves are ``python -m openlpu.verif.coverage`` (on demand); these
tests feed :func:`openlpu.verif.coverage.classify` hand-made coverage points.
"""

import pytest

from openlpu.verif import coverage
from openlpu.verif.coverage import Waiver, classify, load_waivers, meets_target


def _toggle(name, count, top="mxm_plane"):
    return {"page": f"v_toggle/{top}", "o": name, "h": top, "f": "x.v", "l": "1"}, count


def _line(line, count, top="mxm_plane"):
    return {"page": f"v_line/{top}", "o": "if", "f": "x.v", "l": str(line)}, count


def _points(*pts):
    return {str(i): p for i, p in enumerate(pts)}


SOURCE = {"x.v": ["  assign a = b;", "  if (\\$auto$verilog_backend.cc:2355:dump_module$1 ) begin end"]}


def test_shipped_waiver_file_parses_and_every_entry_has_a_reason():
    waivers = load_waivers()
    assert waivers and all(w.reason and w.kind in ("line", "toggle") for w in waivers)


@pytest.mark.parametrize("text, error", [
    ("toggle mxm_plane ^x$\n", "no reason"),
    ("    a reason first\n", "before any waiver"),
    ("branch * x\n    why\n", "expected"),
])
def test_malformed_waiver_file_is_an_error(tmp_path, text, error):
    path = tmp_path / "w.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=error):
        load_waivers(path)


def test_temporaries_count_in_all_toggles_only_and_names_are_demangled():
    pts = _points(_toggle("a__05b0__05d[3]:0->1", 1), _toggle("a__05b0__05d[3]:1->0", 0),
                  _toggle("__02417[0]:0->1", 0), _toggle("__02417[0]:1->0", 0))
    c = classify(pts, "sxm", [], SOURCE)
    assert c["toggle"] == (1, 4) and c["toggle_named"] == (1, 2)
    assert c["holes"] == [("toggle", "a[0][3]", "1->0")]


def test_waivers_leave_the_total_and_unwaived_holes_are_listed():
    waivers = [Waiver("toggle", "sxm", r"^cnt\[3\]$", "why"), Waiver("line", "*", r"dump_module\$1", "why")]
    pts = _points(_toggle("cnt[3]:0->1", 0, "sxm"), _toggle("cnt[2]:0->1", 0, "sxm"),
                  _toggle("cnt[1]:0->1", 1, "sxm"), _line(1, 5, "sxm"), _line(2, 0, "sxm"))
    c = classify(pts, "sxm", waivers, SOURCE)
    assert c["toggle_after"] == (1, 2) and c["line_after"] == (1, 1)
    assert c["holes"] == [("toggle", "cnt[2]", "0->1")]
    assert not meets_target(c)
    # the same waiver for another toplevel does not apply
    assert classify(pts, "mem_slice", waivers, SOURCE)["toggle_after"] == (1, 3)


def test_mxm_operand_bits_cannot_be_waived():
    waivers = [Waiver("toggle", "*", r".", "everything")]
    pts = _points(*[_toggle(f"ip[{i}]:0->1", 1) for i in range(30)], _toggle("active_2[3][8]:1->0", 0))
    c = classify(pts, "mxm_plane", waivers, SOURCE)
    assert c["full_toggle_holes"] == [("active_2[3][8]", "1->0")]
    assert c["toggle_after"] == (30, 31) and not meets_target(c)
    assert "mxm_plane" in coverage.FULL_TOGGLE
