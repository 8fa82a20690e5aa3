"""allo_rtl.synth: resource counts, Fmax, capacity checks, caching, rendering.

The tool-driven tests share module-scoped reports (each design is synthesized
once, into a private cache directory, so results are real tool runs).
"""

from __future__ import annotations

import json

import pytest

from allo_rtl import synth
from allo_rtl.synth import (
    CATEGORIES,
    DeviceTooSmall,
    SynthError,
    SynthReport,
    format_table,
    synthesize,
)
from allo_rtl.synth import flow
from allo_rtl.synth.devices import capacity_usage, categorize, get_device

ADDER = """
module add_sub(input clk, input [7:0] a, input [7:0] b, output reg [7:0] y);
  always @(posedge clk) y <= a + b;
endmodule
module adder_top(input clk, input [7:0] a, input [7:0] b, output reg [7:0] y);
  wire [7:0] t;
  add_sub u0(.clk(clk), .a(a), .b(b), .y(t));
  always @(posedge clk) y <= t ^ a;
endmodule
"""

MUL = """
module mul16(input clk, input [15:0] a, input [15:0] b, output reg [31:0] p);
  reg [15:0] ra, rb;
  always @(posedge clk) begin ra <= a; rb <= b; p <= ra * rb; end
endmodule
"""

MEM = """
module mem512x32(input clk, input we, input [8:0] wa, input [8:0] ra,
                 input [31:0] wd, output reg [31:0] rd);
  reg [31:0] m [0:511];
  always @(posedge clk) begin if (we) m[wa] <= wd; rd <= m[ra]; end
endmodule
"""

# ten 16x16 multipliers: yosys maps each to an SB_MAC16, and the UP5K has 8
MUL10 = """
module mul10(input clk, input [159:0] a, input [159:0] b, output reg [319:0] p);
  genvar i;
  generate for (i = 0; i < 10; i = i + 1) begin : g
    always @(posedge clk) p[32*i +: 32] <= a[16*i +: 16] * b[16*i +: 16];
  end endgenerate
endmodule
"""


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("synth_cache")


@pytest.fixture(scope="module")
def adder_ecp5(cache):
    messages: list[str] = []
    report = synthesize(ADDER, "adder_top", "ecp5-85k", cache_dir=cache, progress=messages.append)
    return report, messages


@pytest.fixture(scope="module")
def mul_ecp5(cache):
    return synthesize(MUL, "mul16", "ecp5-85k", pnr=False, cache_dir=cache)


@pytest.fixture(scope="module")
def mem_ecp5(cache):
    return synthesize(MEM, "mem512x32", "ecp5-85k", pnr=False, cache_dir=cache)


# ----------------------------------------------------------------- with tools

@pytest.mark.rtl
def test_adder_ecp5_counts_per_module(adder_ecp5):
    report, _ = adder_ecp5
    assert report.device == "ecp5-85k" and report.top == "adder_top"
    assert set(report.modules) == {"adder_top", "add_sub"}
    assert report.hierarchy["adder_top"] == {"add_sub": 1}
    assert report.instances == {"adder_top": 1, "add_sub": 1}
    for counts in report.modules.values():
        assert list(counts) == list(CATEGORIES)
    sub = report.modules["add_sub"]
    assert sub["FF"] == 8 and sub["CARRY"] >= 1  # 8-bit registered adder on a carry chain
    assert report.total == report.modules["adder_top"]
    assert report.total["FF"] == 16
    # inclusive = local + submodule
    local = report.modules_local["adder_top"]
    assert all(report.total[c] == local[c] + sub[c] for c in CATEGORIES)
    assert report.utilization["FF"]["used"] == 16
    assert report.utilization["FF"]["available"] == 83640


@pytest.mark.rtl
def test_adder_ecp5_timing(adder_ecp5):
    report, messages = adder_ecp5
    assert isinstance(report.fmax_mhz, float) and report.fmax_mhz > 0
    assert report.fmax_by_clock == {"clk": report.fmax_mhz}
    assert report.target_mhz == 200.0
    assert report.critical_path and "->" in report.critical_path
    assert report.critical_path_ns and report.critical_path_ns > 0
    assert report.limits and "ns path" in report.limits
    assert report.synth_seconds > 0 and report.pnr_seconds > 0
    assert not report.cached
    assert any(m.startswith("yosys synth_ecp5") for m in messages)
    assert any(m.startswith("nextpnr-ecp5") for m in messages)
    assert any("done in" in m for m in messages)


@pytest.mark.rtl
def test_adder_markdown_and_json(adder_ecp5, mul_ecp5):
    report, _ = adder_ecp5
    md = report.to_markdown()
    assert str(report) == md
    assert "`adder_top`" in md and "└ `add_sub`" in md and "Fmax" in md
    assert md.index("`adder_top`") < md.index("`add_sub`")
    back = SynthReport.from_json(report.to_json())
    assert back == report
    json.loads(report.to_json())  # valid JSON
    table = format_table([report, mul_ecp5])
    lines = table.splitlines()
    assert len(lines) == 4 and "`adder_top`" in lines[2] and "`mul16`" in lines[3]
    assert "Fmax (MHz)" in lines[0]


@pytest.mark.rtl
def test_multiplier_maps_to_dsp(mul_ecp5):
    assert mul_ecp5.total["DSP"] >= 1
    assert mul_ecp5.cells["mul16"].get("MULT18X18D", 0) >= 1
    assert mul_ecp5.fmax_mhz is None and "pnr=False" in mul_ecp5.limits


@pytest.mark.rtl
def test_memory_maps_to_bram(mem_ecp5):
    assert mem_ecp5.total["BRAM"] >= 1
    assert mem_ecp5.utilization["DP16KD"]["used"] >= 1


@pytest.mark.rtl
@pytest.mark.parametrize("device, lut_cell", [("xc7", "LUT"), ("ice40-up5k", "SB_LUT4")])
def test_other_families_synthesis_only(cache, device, lut_cell):
    report = synthesize(ADDER, "adder_top", device, cache_dir=cache)
    assert set(report.modules) == {"adder_top", "add_sub"}
    assert report.total["FF"] == 16
    assert report.total["LUT"] >= 1
    assert report.fmax_mhz is None and report.pnr_seconds == 0
    assert report.limits.startswith("Fmax not measured")
    assert lut_cell in report.utilization
    assert "Fmax: not measured" in report.to_markdown()


@pytest.mark.rtl
def test_cache_hit_does_not_rerun_tools(tmp_path, monkeypatch):
    calls: list[list[str]] = []
    real = flow.run_command

    def counting(argv, **kw):
        calls.append(list(argv))
        return real(argv, **kw)

    monkeypatch.setattr(flow, "run_command", counting)
    first = synthesize(MUL, "mul16", "ecp5-85k", pnr=False, cache_dir=tmp_path)
    assert len(calls) == 1 and not first.cached
    assert len(list(tmp_path.rglob("*.json"))) == 1
    messages: list[str] = []
    second = synthesize(MUL, "mul16", "ecp5-85k", pnr=False, cache_dir=tmp_path, progress=messages.append)
    assert len(calls) == 1, "cache hit must not run any tool"
    assert second == first and second.cached
    assert any("cached" in m for m in messages)
    # anything in the key changes -> a new run
    synthesize(MUL, "mul16", "ecp5-85k", pnr=False, cache_dir=tmp_path, use_cache=False)
    assert len(calls) == 2
    assert len(list(tmp_path.rglob("*.json"))) == 1  # use_cache=False stores nothing


@pytest.mark.rtl
def test_device_too_small_ice40_dsps(tmp_path, monkeypatch):
    calls: list[list[str]] = []
    real = flow.run_command
    monkeypatch.setattr(flow, "run_command", lambda argv, **kw: calls.append(list(argv)) or real(argv, **kw))
    with pytest.raises(DeviceTooSmall) as info:
        synthesize(MUL10, "mul10", "ice40-up5k", cache_dir=tmp_path)
    err = info.value
    assert isinstance(err, SynthError)
    assert ("SB_MAC16", 10, 8) in err.overflows
    assert "SB_MAC16" in str(err) and "10 used > 8 available" in str(err) and "ice40-up5k" in str(err)
    assert err.report.total["DSP"] == 10 and err.report.fmax_mhz is None
    assert len(calls) == 1
    # the verdict is cached too
    with pytest.raises(DeviceTooSmall) as again:
        synthesize(MUL10, "mul10", "ice40-up5k", cache_dir=tmp_path)
    assert len(calls) == 1 and again.value.report.cached and again.value.overflows == err.overflows


@pytest.mark.rtl
def test_tool_failure_raises_synth_error_with_log(tmp_path):
    with pytest.raises(SynthError) as info:
        synthesize("module broken(input a, output b); assign b = a &; endmodule", "broken",
                   cache_dir=tmp_path)
    assert not isinstance(info.value, DeviceTooSmall)
    assert "yosys" in str(info.value) and "syntax error" in str(info.value)
    with pytest.raises(SynthError, match="not found"):
        synthesize(ADDER, "no_such_top", "ecp5-85k", cache_dir=tmp_path)


# ----------------------------------------------------------------- no tools

def test_unknown_device():
    with pytest.raises(ValueError, match="ecp5-85k"):
        synthesize(ADDER, "adder_top", "stratix10")


def test_capacity_logic_on_synthetic_cells():
    ecp5 = get_device("ecp5-85k")
    cells = {"LUT4": 80000, "CCU2C": 2000, "TRELLIS_FF": 10, "MULT18X18D": 157, "DP16KD": 3,
             "PFUMX": 99, "TRELLIS_DPR16X4": 10}
    used = capacity_usage(ecp5, cells)
    assert used["LUT4"] == 80000 + 2 * 2000 + 6 * 10
    assert used["MULT18X18D"] == 157 and used["DP16KD"] == 3
    over = {r for r, u in used.items() if u > ecp5.capacity[r]}
    assert over == {"LUT4", "MULT18X18D"}
    cats = categorize(ecp5, cells)
    assert cats == {"LUT": 80000, "FF": 10, "CARRY": 2000, "DSP": 157, "BRAM": 3, "LUTRAM": 10}

    xc7 = get_device("xc7")
    used = capacity_usage(xc7, {"LUT6": 10, "RAMB18E1": 3, "RAMB36E1": 1, "RAM32M": 2, "FDRE": 5})
    assert used["RAMB36"] == 2.5 and used["LUT"] == 18 and used["LUTRAM"] == 8 and used["FF"] == 5
    assert categorize(xc7, {"LUT1": 1, "LUT6": 2, "CARRY4": 3, "DSP48E1": 1, "SRLC32E": 1}) == {
        "LUT": 3, "FF": 0, "CARRY": 3, "DSP": 1, "BRAM": 0, "LUTRAM": 1}

    ice = get_device("ice40-up5k")
    used = capacity_usage(ice, {"SB_LUT4": 6000, "SB_DFFE": 3, "SB_SPRAM256KA": 5, "SB_RAM40_4K": 30})
    assert used["SB_LUT4"] == 6000 and used["SB_DFF"] == 3
    assert {r for r, u in used.items() if u > ice.capacity[r]} == {"SB_LUT4", "SB_SPRAM256KA"}


def test_parse_stat_hierarchy_multiplicity():
    stat = {"modules": {
        "\\top": {"num_cells_by_type": {"LUT4": 2, "pe": 3, "$paramod\\buf\\W=8": 1}},
        "\\pe": {"num_cells_by_type": {"MULT18X18D": 1, "TRELLIS_FF": 4}},
        "$paramod\\buf\\W=8": {"num_cells_by_type": {"DP16KD": 2, "pe": 1}},
    }}
    cells, subs = flow._parse_stat(stat)
    assert cells["top"] == {"LUT4": 2}
    assert subs["top"] == {"pe": 3, "$paramod\\buf\\W=8": 1}
    inclusive = flow._inclusive_cells(cells, subs)
    assert inclusive["top"] == {"LUT4": 2, "MULT18X18D": 4, "TRELLIS_FF": 16, "DP16KD": 2}
    assert flow._instance_counts("top", subs) == {"top": 1, "pe": 4, "$paramod\\buf\\W=8": 1}


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("ALLO_RTL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert synth.default_cache_dir() == tmp_path / "allo_rtl" / "synth"


def test_port_register_wrapper():
    netlist = {"modules": {"k": {
        "attributes": {"top": "1"},
        "ports": {"clk": {"direction": "input", "bits": [2]},
                  "a": {"direction": "input", "bits": [3, 4]},
                  "y": {"direction": "output", "bits": [5, 6, 7]}},
        "cells": {}, "netnames": {}}}}
    assert flow._add_port_wrapper(netlist, "k", "clk") == flow.WRAPPER
    wrap = netlist["modules"][flow.WRAPPER]
    assert "top" not in netlist["modules"]["k"]["attributes"]
    regs = {n: c for n, c in wrap["cells"].items() if n.startswith(flow.PORT_REG)}
    assert len(regs) == 5 and all(c["type"] == "TRELLIS_FF" for c in regs.values())
    clk = wrap["ports"]["clk"]["bits"]
    assert all(c["connections"]["CLK"] == clk for c in regs.values())
    dut = wrap["cells"][flow.DUT]
    assert dut["type"] == "k" and dut["connections"]["clk"] == clk
    # input a[1]: wrapper port bit -> FF -> dut; output y[2]: dut -> FF -> wrapper port bit
    a1 = regs[f"{flow.PORT_REG}a[1]"]["connections"]
    assert a1["DI"] == [wrap["ports"]["a"]["bits"][1]] and a1["Q"] == [dut["connections"]["a"][1]]
    y2 = regs[f"{flow.PORT_REG}y[2]"]["connections"]
    assert y2["DI"] == [dut["connections"]["y"][2]] and y2["Q"] == [wrap["ports"]["y"]["bits"][2]]
    # no clock port: nothing to wrap
    assert flow._add_port_wrapper(netlist, "k", "clock") is None


@pytest.mark.rtl
def test_rtl_module_synth_library_api(tmp_path):
    """``mod.synth(device=...)``: the same figures as the report command, as a dataclass."""
    import allo_rtl as allo
    from allo_rtl.ir.types import int32

    def vadd(A: int32[16], B: int32[16]) -> int32[16]:
        C: int32[16]
        for i in range(16):
            C[i] = A[i] + B[i]
        return C

    mod = allo.customize(vadd).build()
    rep = mod.synth(device="ice40-up5k", cache_dir=tmp_path)
    assert isinstance(rep, SynthReport) and rep.device == "ice40-up5k"
    assert rep.total["LUT"] > 0 and rep.total["FF"] > 0 and rep.fmax_mhz is None
    assert rep.top == mod.spec.top
