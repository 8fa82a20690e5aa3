"""Timing closure by default: a generated design meets the default target clock on ECP5.

The lowering budgets every cycle for :data:`allo_rtl.lower.ops.DEFAULT_CLOCK_MHZ`
(registered memory outputs, pipelined multipliers, a calibrated delay model); this
synthesizes, places and routes one small int32 kernel with a load, a multiply, an add and
a store (nextpnr is deterministic for a given Verilog and seed; results are cached by
Verilog hash, so reruns are instant) and checks the achieved Fmax.
"""

from __future__ import annotations

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl.ir.types import int32
from allo_rtl.lower import ops
from allo_rtl.synth import synthesize


def macc(A: int32[64], B: int32[64]) -> int32[64]:
    C: int32[64] = 0
    for i in range(64):
        C[i] = A[i] * B[i] + C[i]
    return C


@pytest.mark.rtl
def test_int32_kernel_meets_default_clock():
    mod = allo.customize(macc).build(target="rtl")
    a = np.arange(64, dtype=np.int32) - 7
    assert (mod(a, a) == a * a).all()
    rep = synthesize(mod.verilog, mod.spec.top, "ecp5-85k")
    assert rep.total["BRAM"] >= 1 and rep.total["DSP"] >= 1
    assert rep.fmax_mhz is not None
    assert rep.fmax_mhz >= ops.DEFAULT_CLOCK_MHZ, rep.critical_path


def test_pack_bram_output_registers_on_a_tiny_netlist():
    """The P&R-only pass moves a register that samples a RAM's read data into the RAM."""
    from allo_rtl.synth import flow

    ff = {"type": "TRELLIS_FF", "parameters": {"CEMUX": "1 ", "CLKMUX": "CLK", "GSR": "DISABLED",
                                               "LSRMUX": "LSR", "REGSET": "RESET",
                                               "SRMODE": "LSR_OVER_CE"},
          "port_directions": {"CLK": "input", "DI": "input", "LSR": "input", "Q": "output"}}
    ram = {"type": "DP16KD", "parameters": {"REGMODE_A": "NOREG", "REGMODE_B": "NOREG"},
           "port_directions": {"CLKA": "input", "CLKB": "input", "RSTA": "input",
                               "RSTB": "input", "DOB0": "output", "OCEA": "input",
                               "OCEB": "input"},
           "connections": {"CLKA": [2], "CLKB": [2], "RSTA": ["0"], "RSTB": ["0"], "DOB0": [3],
                           "OCEA": ["1"], "OCEB": ["1"]}}
    lut = {"type": "LUT4", "port_directions": {"A": "input", "Z": "output"},
           "connections": {"A": [4], "Z": [6]}, "parameters": {}}
    net = {"top": {"ports": {"clk": {"direction": "input", "bits": [2]},
                             "rst": {"direction": "input", "bits": [5]},
                             "y": {"direction": "output", "bits": [6]}},
                   "cells": {"ram": ram, "q": {**ff, "connections": {"CLK": [2], "DI": [3],
                                                                     "LSR": [5], "Q": [4]}},
                             "lut": lut},
                   "netnames": {"q": {"bits": [4]}, "do": {"bits": [3]}}}}
    netlist = {"modules": net}
    assert flow._pack_bram_output_registers(netlist, "top", None) == 1
    cells = net["top"]["cells"]
    assert "q" not in cells
    assert cells["ram"]["parameters"]["REGMODE_B"] == "OUTREG"
    assert cells["ram"]["connections"]["RSTB"] == [5]
    assert cells["lut"]["connections"]["A"] == [3]  # now reads the RAM's registered output
