"""Verilator test benches for allo_rtl designs (imports nothing from allo_rtl)."""

from .errors import BuildError, CocotbTestError, LintError, SimulationError, TestbenchError, ToolNotFoundError
from .native import DEFAULT_MAX_CYCLES, NativeBuild, RunResult, build, run
from .spec import DesignSpec, MemSpec, PortSpec
from .toolchain import (Tool, ToolStatus, doctor, find_nextpnr_ecp5, find_verilator, find_yosys, format_doctor,
                        verilator_env)

__all__ = [
    "BuildError", "CocotbTestError", "LintError", "SimulationError", "TestbenchError", "ToolNotFoundError",
    "DEFAULT_MAX_CYCLES", "NativeBuild", "RunResult", "build", "run",
    "DesignSpec", "MemSpec", "PortSpec",
    "Tool", "ToolStatus", "doctor", "find_nextpnr_ecp5", "find_verilator", "find_yosys", "format_doctor",
    "verilator_env",
]
