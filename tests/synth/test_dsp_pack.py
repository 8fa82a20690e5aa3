"""The P&R-only pass that packs fabric registers into ECP5 MULT18X18D registers
(:func:`allo_rtl.synth.flow._pack_dsp_registers`), on tiny hand-made netlists."""

from __future__ import annotations

import copy

from allo_rtl.synth import flow

CLK, RST, CE = 2, 3, 4
FF_PARAMS = {"CEMUX": "1 ", "CLKMUX": "CLK", "GSR": "DISABLED", "LSRMUX": "LSR",
             "REGSET": "RESET", "SRMODE": "LSR_OVER_CE"}


def ff(di, q, lsr=RST, ce=None, **params):
    conn = {"CLK": [CLK], "DI": [di], "LSR": [lsr], "Q": [q]}
    dirs = {"CLK": "input", "DI": "input", "LSR": "input", "Q": "output"}
    if ce is not None:
        conn["CE"], dirs["CE"] = [ce], "input"
        params = {"CEMUX": "CE", **params}
    return {"type": "TRELLIS_FF", "parameters": {**FF_PARAMS, **params},
            "port_directions": dirs, "connections": conn}


def dsp(a, b, p, signed="0"):
    conn, dirs = {"SIGNEDA": [signed], "SIGNEDB": [signed]}, {"SIGNEDA": "input", "SIGNEDB": "input"}
    for i in range(18):
        conn[f"A{i}"] = [a[i] if i < len(a) else "0"]
        conn[f"B{i}"] = [b[i] if i < len(b) else "0"]
        dirs[f"A{i}"] = dirs[f"B{i}"] = "input"
    for i in range(36):
        conn[f"P{i}"] = [p[i] if i < len(p) else 1000 + i]
        dirs[f"P{i}"] = "output"
    return {"type": "MULT18X18D", "parameters": {}, "port_directions": dirs, "connections": conn}


def lut(a, z):
    return {"type": "LUT4", "parameters": {}, "port_directions": {"A": "input", "Z": "output"},
            "connections": {"A": [a], "Z": [z]}}


def design(**overrides):
    """2-bit a (nets 10,11) and b (12,13) -> registers (20..23) -> DSP P0/P1 (30,31) ->
    registers (40,41) -> a LUT (50)."""
    cells = {
        "ra0": ff(10, 20), "ra1": ff(11, 21), "rb0": ff(12, 22), "rb1": ff(13, 23),
        "m": dsp([20, 21], [22, 23], [30, 31]),
        "rp0": ff(30, 40), "rp1": ff(31, 41),
        "use": lut(40, 50), "use1": lut(41, 51),
    }
    cells.update(overrides)
    mod = {"ports": {"clk": {"direction": "input", "bits": [CLK]},
                     "y": {"direction": "output", "bits": [50, 51]}},
           "cells": cells, "netnames": {"p": {"bits": [40, 41]}}}
    return {"modules": {"top": mod}}


def packed(net):
    net = copy.deepcopy(net)
    n = flow._pack_dsp_registers(net, "top")
    return n, net["modules"]["top"]["cells"]


def test_packs_input_registers_and_leaves_the_output_registers():
    n, cells = packed(design())
    assert n == 1
    m = cells["m"]
    for r in ("INPUTA", "INPUTB"):
        assert m["parameters"][f"REG_{r}_CLK"] == "CLK0"
        assert m["parameters"][f"REG_{r}_CE"] == "CE0"
        assert m["parameters"][f"REG_{r}_RST"] == "RST0"
    # never both sides: nextpnr would not time the multiply between the registers
    assert m["parameters"].get("REG_OUTPUT_CLK", "NONE") == "NONE"
    assert m["parameters"]["RESETMODE"] == "SYNC" and m["parameters"]["GSR"] == "DISABLED"
    assert m["connections"]["CLK0"] == [CLK] and m["connections"]["RST0"] == [RST]
    assert m["connections"]["CE0"] == ["1"]
    assert [m["connections"][f"A{i}"][0] for i in range(2)] == [10, 11]  # the registers' inputs
    assert [m["connections"][f"B{i}"][0] for i in range(2)] == [12, 13]
    assert not {"ra0", "ra1", "rb0", "rb1"} & set(cells)
    assert {"rp0", "rp1"} <= set(cells)
    assert cells["use"]["connections"]["A"] == [40]


def test_packs_the_output_register_when_inputs_do_not_qualify():
    # b comes straight from logic: no input registers, so the output register is packed
    n, cells = packed(design(rb0=lut(12, 22)))
    assert n == 1
    m = cells["m"]
    assert m["parameters"]["REG_OUTPUT_CLK"] == "CLK0"
    assert m["parameters"].get("REG_INPUTA_CLK", "NONE") == "NONE"
    assert not {"rp0", "rp1"} & set(cells)
    assert cells["use"]["connections"]["A"] == [30]  # reads the registered product
    assert cells["use1"]["connections"]["A"] == [31]


def test_async_reset_and_enable():
    over = {k: ff(d, q, ce=CE, SRMODE="ASYNC") for k, d, q in
            (("ra0", 10, 20), ("ra1", 11, 21), ("rb0", 12, 22), ("rb1", 13, 23), ("rp0", 30, 40),
             ("rp1", 31, 41))}
    n, cells = packed(design(**over))
    assert n == 1
    assert cells["m"]["parameters"]["RESETMODE"] == "ASYNC"
    assert cells["m"]["connections"]["CE0"] == [CE]


def test_unreset_registers_pack_without_reset():
    over = {k: ff(d, q, lsr="0") for k, d, q in
            (("ra0", 10, 20), ("ra1", 11, 21), ("rb0", 12, 22), ("rb1", 13, 23), ("rp0", 30, 40),
             ("rp1", 31, 41))}
    n, cells = packed(design(**over))
    assert n == 1 and cells["m"]["connections"]["RST0"] == ["0"]


def _inputs_packed(cells):
    return cells["m"]["parameters"].get("REG_INPUTA_CLK", "NONE") != "NONE"


def _outputs_packed(cells):
    return cells["m"]["parameters"].get("REG_OUTPUT_CLK", "NONE") != "NONE"


def test_skips_inverted_clock_enable_and_reset():
    for params in ({"CLKMUX": "INV"}, {"CEMUX": "INV"}, {"LSRMUX": "INV"}, {"REGSET": "SET"},
                   {"LSRMODE": "PRLD"}):
        # an input register that the DSP cannot reproduce: no input registers
        n, cells = packed(design(ra1=ff(11, 21, **params)))
        assert not _inputs_packed(cells) and "ra1" in cells and "ra0" in cells, params
        assert cells["m"]["connections"]["A1"] == [21]
        # the same on the output side: no output register
        n, cells = packed(design(rp1=ff(31, 41, **params)))
        assert not _outputs_packed(cells) and "rp1" in cells and "rp0" in cells, params


def test_skips_mixed_control():
    n, cells = packed(design(rb1=ff(13, 23, ce=CE)))
    assert not _inputs_packed(cells) and "rb1" in cells
    n, cells = packed(design(rb1=ff(13, 23, lsr=RST + 100)))
    assert not _inputs_packed(cells)
    n, cells = packed(design(rb1=ff(13, 23, SRMODE="ASYNC")))
    assert not _inputs_packed(cells)
    # output registers with another enable than the input registers: inputs only
    n, cells = packed(design(rp0=ff(30, 40, ce=CE), rp1=ff(31, 41, ce=CE)))
    assert _inputs_packed(cells) and not _outputs_packed(cells) and "rp0" in cells


def test_keeps_a_register_that_also_feeds_fabric():
    n, cells = packed(design(extra=lut(20, 60)))
    assert n == 1 and _inputs_packed(cells)
    assert "ra0" in cells and "ra1" not in cells
    assert cells["m"]["connections"]["A0"] == [10]
    assert cells["extra"]["connections"]["A"] == [20]


def test_register_feeding_two_dsps_goes_once_both_pack():
    n, cells = packed(design(m2=dsp([20, 21], [22, 23], [70])))
    assert n == 2 and "ra0" not in cells
    assert cells["m2"]["connections"]["A0"] == [10]


def test_skips_products_with_other_or_several_loads():
    n, cells = packed(design(extra=lut(30, 60)))  # P0 also read by a LUT
    assert not _outputs_packed(cells) and "rp0" in cells
    n, cells = packed(design(rp0=lut(30, 40)))  # P0 read by logic, not a register
    assert not _outputs_packed(cells) and _inputs_packed(cells)


def test_skips_inputs_with_logic_sign_or_constant_one():
    d = design()
    d["modules"]["top"]["cells"]["m"]["connections"]["SIGNEDA"] = [13]
    n, cells = packed(d)
    assert not _inputs_packed(cells)
    d = design()
    d["modules"]["top"]["cells"]["m"]["connections"]["A5"] = ["1"]
    n, cells = packed(d)
    assert not _inputs_packed(cells)
    d = design()  # an input from logic rather than a register
    d["modules"]["top"]["cells"]["m"]["connections"]["B1"] = [50]
    n, cells = packed(d)
    assert not _inputs_packed(cells)
    n, cells = packed(design(m=dsp([20, 21], [22, 23], [30, 31], signed="1")))
    assert _inputs_packed(cells)  # a constant sign select is fine


def test_skips_alu54b_cascades_and_used_registers():
    alu = {"type": "ALU54B", "parameters": {}, "port_directions": {"MA0": "input"},
           "connections": {"MA0": [1000 + 5]}}
    n, cells = packed(design(alu=alu))
    assert n == 0 and "ra0" in cells and "rp0" in cells
    d = design()
    d["modules"]["top"]["cells"]["m"]["parameters"]["REG_OUTPUT_CLK"] = "CLK0"
    assert packed(d)[0] == 0
