"""run_cocotb: cached Verilator build + cocotb test module, failures raised."""

from pathlib import Path

import pytest

from testbench import CocotbTestError
from testbench.cocotb_runner import run_cocotb

pytestmark = pytest.mark.rtl

COUNTER = """\
module counter #(parameter WIDTH = 8) (input clk, input rst, input en, output reg [WIDTH-1:0] q);
  always @(posedge clk) if (rst) q <= 0; else if (en) q <= q + 1'b1;
endmodule
"""

TESTS = Path(__file__).with_name("cocotb_counter.py")


def test_counter_passes_and_build_is_cached(cocotb_build_dir):
    build_dir = cocotb_build_dir
    first = run_cocotb(COUNTER, "counter", TESTS, build_dir=build_dir)
    assert first.tests == 3 and first.built
    again = run_cocotb(COUNTER, "counter", TESTS, build_dir=build_dir, testcase="counts_after_reset")
    assert again.tests == 1 and not again.built
    assert again.build_dir == first.build_dir
    assert "counts_after_reset passed" in again.log
    assert not first.test_dir.exists()  # temporary run dirs are removed after a pass

    with pytest.raises(CocotbTestError, match=r"(?s)1 of 3 test\(s\) of cocotb_counter failed on 'counter': "
                                              r"fails_on_request: this test fails on purpose.*run dir kept"):
        run_cocotb(COUNTER, "counter", TESTS, build_dir=build_dir, extra_env={"ALLO_TB_FAIL": "1"})
