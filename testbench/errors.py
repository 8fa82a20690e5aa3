"""Exceptions raised by the testbench package.

Every failure of an external tool (Verilator, the C++ compiler, a simulation
executable, a cocotb test) is raised as one of these classes, with the command
that failed and the tail of its log in the message, so a pytest failure shows
what went wrong without digging through build directories.
"""

from __future__ import annotations

__all__ = [
    "TestbenchError",
    "ToolNotFoundError",
    "BuildError",
    "SimulationError",
    "LintError",
    "CocotbTestError",
    "log_tail",
]


def log_tail(text: str, lines: int = 40) -> str:
    """Return the last ``lines`` lines of ``text`` (all of it if shorter).

    Args:
        text: a tool's log.
        lines: how many lines to keep from the end.
    """
    parts = text.rstrip("\n").splitlines()
    if len(parts) <= lines:
        return "\n".join(parts)
    return "\n".join([f"... ({len(parts) - lines} earlier lines omitted)", *parts[-lines:]])


class TestbenchError(RuntimeError):
    """Base class of every error raised by :mod:`testbench`."""

    __test__ = False  # not a pytest test class, despite the name


class ToolNotFoundError(TestbenchError):
    """A required external tool is missing; the message says how to install it."""


class BuildError(TestbenchError):
    """Verilating or compiling a design failed (message holds the log tail)."""


class SimulationError(TestbenchError):
    """A simulation crashed, timed out or never raised ``done``.

    The message holds the cycle count reached (where known) and the log tail.
    """


class LintError(TestbenchError):
    """``verilator --lint-only`` reported errors (not just warnings)."""


class CocotbTestError(TestbenchError):
    """A cocotb test failed, or the cocotb simulation did not produce results."""
