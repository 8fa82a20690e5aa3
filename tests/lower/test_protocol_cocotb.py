"""The kernel protocol checked cycle by cycle under cocotb (see cocotb_kernel_protocol.py)."""

from pathlib import Path

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl.ir.types import int32
from allo_rtl.lower.top import WAIVERS
from testbench.cocotb_runner import run_cocotb

pytestmark = pytest.mark.rtl


def vscale(A: int32[8], k: int32) -> int32:
    s: int32 = 0
    for i in range(8):
        A[i] = A[i] * k + i
        s += A[i]
    return s


def test_start_done_protocol_under_cocotb():
    mod = allo.customize(vscale).build()
    A = np.arange(8, dtype=np.int32)
    mod(A, 2)  # the native harness's cycle count is the reference for cocotb
    run_cocotb(mod.verilog, mod.spec.top, Path(__file__).with_name("cocotb_kernel_protocol.py"),
               extra_env={"ALLO_TB_CYCLES": str(mod.last_cycles)}, build_args=[str(WAIVERS)])
