"""cocotb tests of the counter in test_cocotb_runner.py (run inside the simulator)."""

import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, Timer


@cocotb.test()
async def counts_after_reset(dut):
    """q is 0 after reset and increments once per rising edge while en=1."""
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.en.value = 0
    await ClockCycles(dut.clk, 2)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    assert dut.q.value == 0
    dut.en.value = 1
    for expected in range(1, 6):
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        assert dut.q.value == expected, f"q={int(dut.q.value)} after {expected} enabled edges"
    dut.en.value = 0
    await ClockCycles(dut.clk, 3)
    assert dut.q.value == 5


@cocotb.test()
async def wraps_at_width(dut):
    """An 8-bit counter wraps from 255 to 0."""
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.en.value = 1
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 256)
    await FallingEdge(dut.clk)
    assert dut.q.value == 0


@cocotb.test()
async def fails_on_request(dut):
    """Fails when ALLO_TB_FAIL is set (exercises run_cocotb's error path and extra_env)."""
    await Timer(1, unit="ns")
    assert not os.environ.get("ALLO_TB_FAIL"), "this test fails on purpose"
