"""verilator --lint-only -Wall on Verilog text."""

import pytest

from testbench import LintError
from testbench.lint import lint

CLEAN = """\
module clean(input wire clk, input wire [7:0] d, output reg [7:0] q);
  always @(posedge clk) q <= d;
endmodule
"""

DIRTY = """\
module dirty(input wire clk, input wire [7:0] d, output reg [3:0] q);
  always @(posedge clk) q <= d;
endmodule
"""


def test_clean_design_has_no_warnings():
    assert lint(CLEAN, "clean") == []


def test_warnings_are_reported_with_bare_file_name():
    warnings = lint(DIRTY, "dirty")
    assert warnings == [
        "%Warning-WIDTHTRUNC: dirty.v:2:27: Operator ASSIGNDLY expects 4 bits on the Assign RHS, "
        "but Assign RHS's VARREF 'd' generates 8 bits.",
        "%Warning-UNUSEDSIGNAL: dirty.v:1:47: Bits of signal are not used: 'd'[7:4]",
    ]


def test_waivers_text():
    warnings = lint(DIRTY, "dirty", waivers="lint_off -rule UNUSEDSIGNAL")
    assert [w.split(":")[0] for w in warnings] == ["%Warning-WIDTHTRUNC"]


def test_waivers_file(tmp_path):
    vlt = tmp_path / "w.vlt"
    vlt.write_text('`verilator_config\nlint_off -rule WIDTHTRUNC -file "*/dirty.v"\n')
    assert not any("WIDTHTRUNC" in w for w in lint(DIRTY, "dirty", waivers=vlt))


def test_amaranth_output_lints(add_design):
    verilog, spec = add_design
    warnings = lint(verilog, spec.top)
    assert all(w.startswith("%Warning-") for w in warnings)


def test_errors_raise():
    with pytest.raises(LintError, match=r"(?s)lint of 'bad' failed.*bad\.v:1:.*syntax error"):
        lint("module bad(input a; endmodule\n", "bad")
    with pytest.raises(LintError, match=r"Specified --top-module 'nope' was not found"):
        lint(CLEAN, "nope")
