"""High target clocks (``s.build(clock_mhz=...)`` at or above ops.MEM_INPUT_REG_MHZ):
memory inputs are registered in front of every physical RAM, loads take one cycle more,
and the hardware still equals the interpreter bit for bit (through calls, subviews,
partitions, pipelines and writes in the kernel's last cycle)."""

import importlib

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl.ir.types import int8, int32
from allo_rtl.lower import ops
from tests.kernel_check import both, pipelines

pytestmark = pytest.mark.rtl

FAST = 180.0


def _build_fast(s):
    """``both`` at the fast clock."""
    build = s.build

    def fast_build(target=None, **kw):
        return build(target=target, clock_mhz=FAST, **kw) if target != "sim" else build("sim")

    s.build = fast_build
    return s


def test_memory_inputs_registered_only_at_fast_clocks():
    with ops.target_clock(120):
        assert not ops.mem_input_regs() and ops.mem_latency() == 2
    with ops.target_clock(FAST):
        assert ops.mem_input_regs() and ops.mem_latency() == 3


def test_loads_take_one_more_cycle():
    N = 8

    def acc(A: int32[N]) -> int32:
        t: int32 = 0
        for i in range(N):
            t += A[i]
        return t

    A = np.arange(N, dtype=np.int32)
    slow = allo.customize(acc).build()
    fast = allo.customize(acc).build(clock_mhz=FAST)
    assert slow(A) == fast(A) == int(A.sum())
    # per iteration at 120 MHz: issue, RAM read, read-data register (+ add in that cycle);
    # at 180 MHz the load takes 3 cycles (input register) and the 32-bit add gets cycles
    # of its own: its operand is registered first and its result is registered (the
    # delay model leaves 2.2 ns of a 5.6 ns cycle after register and net overheads)
    assert slow.last_cycles == 1 + N * 3
    assert fast.last_cycles == 1 + N * 6
    assert "_k0" in fast.verilog and "_k0" not in slow.verilog  # the wrapper's registers


@pytest.mark.parametrize("name", ["vadd_pipelined", "gemm_pipelined", "stencil_reuse"])
def test_designs_at_fast_clock_match_interpreter(name, rng):
    m = importlib.import_module(f"designs.{name}")
    mod, _ = both(_build_fast(m.schedule()), *m.make_inputs(rng))
    assert all(p.ii == p.requested for p in pipelines(mod).values())


def test_calls_subviews_partitions_and_last_cycle_writes(rng):
    def row_sum(X: int8[4]) -> int8:
        s: int8 = 0
        for i in range(4):
            s += X[i]
        return s

    def top(A: int8[3, 4], B: int8[8]) -> int8[3]:
        R: int8[3] = 0
        L: int8[8]
        for i in range(8):
            L[i] = B[i] * 3
        for r in range(3):
            R[r] = row_sum(A[r]) + L[r + 5]
        R[2] = L[7] - R[0]  # a write in the kernel's last cycles
        return R

    s = allo.customize(top)
    s.partition(s.L, dim=1, factor=2)
    A = rng.integers(-20, 20, (3, 4)).astype(np.int8)
    B = rng.integers(-20, 20, 8).astype(np.int8)
    both(_build_fast(s), A, B)
