"""cocotb: the start/done protocol of a generated kernel wrapper, cycle by cycle.

The design is ``vscale`` from test_protocol_cocotb.py: ``A[i] = A[i] * k + i`` in place
and returns the sum of the new values. Expected cycle count comes from ALLO_TB_CYCLES.
"""

import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

N = 8


def wrap32(v):
    return ((v + (1 << 31)) % (1 << 32)) - (1 << 31)


async def reset(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.start.value = 0
    dut.A__hwe.value = 0
    dut.A__haddr.value = 0
    dut.A__hwdata.value = 0
    dut.k.value = 0
    await ClockCycles(dut.clk, 2)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


async def load(dut, values):
    for i, v in enumerate(values):
        dut.A__haddr.value = i
        dut.A__hwdata.value = v & 0xFFFFFFFF
        dut.A__hwe.value = 1
        await FallingEdge(dut.clk)
    dut.A__hwe.value = 0


async def read(dut):
    out = []
    for i in range(N):
        dut.A__haddr.value = i
        await FallingEdge(dut.clk)  # address sampled at the rising edge, data after it
        out.append(dut.A__hrdata.value.to_signed())
    return out


async def run_kernel(dut, k, extra_start_while_busy=False):
    """Pulse start for one cycle; return (cycles to done, ret0, done pulse width)."""
    dut.k.value = k & 0xFFFFFFFF
    dut.start.value = 1
    await FallingEdge(dut.clk)
    dut.start.value = 0
    dut.k.value = 0xDEAD  # inputs need only be valid in the start cycle
    cycles = 1
    while not dut.done.value:
        if extra_start_while_busy and cycles == 3:
            dut.start.value = 1  # ignored while busy
        else:
            dut.start.value = 0
        await FallingEdge(dut.clk)
        cycles += 1
    dut.start.value = 0
    ret = dut.ret0.value.to_signed()
    await FallingEdge(dut.clk)
    width = 1
    while dut.done.value:
        width += 1
        await FallingEdge(dut.clk)
    return cycles, ret, width


@cocotb.test()
async def start_done_protocol(dut):
    await reset(dut)
    a = [3, -1, 7, 100, -50, 0, 9, 2**30]
    await load(dut, a)
    expect_cycles = int(os.environ["ALLO_TB_CYCLES"])
    k = -3
    cycles, ret, width = await run_kernel(dut, k)
    new = [wrap32(x * k + i) for i, x in enumerate(a)]
    assert width == 1, f"done must be a one-cycle pulse, was {width}"
    assert cycles == expect_cycles, f"{cycles} cycles, the native harness measured {expect_cycles}"
    assert ret == wrap32(sum(new)), (ret, sum(new))
    assert await read(dut) == new
    # immediately again (the kernel is idle the cycle after done); a start pulse while
    # busy is ignored
    cycles2, ret2, _ = await run_kernel(dut, 2, extra_start_while_busy=True)
    newer = [wrap32(x * 2 + i) for i, x in enumerate(new)]
    assert cycles2 == expect_cycles
    assert ret2 == wrap32(sum(newer))
    assert await read(dut) == newer
