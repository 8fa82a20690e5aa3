"""User-facing errors.

Every error a user can cause (unsupported Python, undefined name, type or
shape mismatch, illegal schedule, wrong call arguments) is an
:class:`AlloError`.  Its message names the kernel source location, shows the
source line with a caret, and ends with a hint saying what to do.  Internal
compiler bugs stay ordinary exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Loc", "AlloError", "AlloWarning"]


@dataclass(frozen=True)
class Loc:
    """A position in kernel (or schedule) source: file, 1-based line, 0-based column."""

    file: str
    line: int
    col: int = 0
    source: str = ""  # the text of that source line, when known

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class AlloError(Exception):
    """An error in user input, reported at a kernel or schedule source line.

    Args:
        msg: what is wrong.
        loc: where (kernel file:line); may be None for errors without a source position.
        hint: what to do about it.
    """

    def __init__(self, msg: str, loc: Loc | None = None, hint: str | None = None):
        self.msg = msg
        self.loc = loc
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        parts = []
        if self.loc is not None:
            parts.append(f"{self.loc}: error: {self.msg}")
            if self.loc.source:
                src = self.loc.source.rstrip("\n")
                stripped = src.lstrip()
                indent = len(src) - len(stripped)
                parts.append(f"    {stripped}")
                col = max(0, self.loc.col - indent)
                parts.append("    " + " " * col + "^")
        else:
            parts.append(f"error: {self.msg}")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class AlloWarning(UserWarning):
    """A non-fatal issue (e.g. an II that could not be met, a dtype conversion at call time)."""
