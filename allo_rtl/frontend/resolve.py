"""Name resolution and kernel source access.

Names are resolved when ``customize()`` runs (not when the kernel is defined):
template parameters, then closure cells, then the calling frames' locals
captured at ``customize()`` (innermost frame first), then the function's
globals, then Python builtins — the order Python itself would use for a
kernel defined inside a test body.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import os
import textwrap
from dataclasses import dataclass, field

from ..errors import AlloError, Loc

__all__ = ["Env", "KernelSource", "get_source", "capture_caller_env", "MISSING"]

MISSING = object()


@dataclass
class KernelSource:
    """The parsed source of one kernel function, with its file and line offset."""

    tree: ast.FunctionDef
    file: str
    first_line: int  # file line number of the source's first line
    lines: list

    def loc(self, node) -> Loc:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return Loc(self.file, self.first_line + line - 1, col + self._indent, text)

    _indent: int = 0


def get_source(fn) -> KernelSource:
    """Parse the source of ``fn`` (a function, or a source string)."""
    if isinstance(fn, str):
        src = textwrap.dedent(fn)
        tree = ast.parse(src)
        defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        if not defs:
            raise AlloError("the kernel source string contains no function definition",
                            hint="pass a string holding 'def kernel(...): ...'")
        return KernelSource(defs[-1], "<string>", 1, src.splitlines())
    try:
        lines, first = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or "<unknown>"
    except (OSError, TypeError) as exc:
        raise AlloError(
            f"cannot read the source of {getattr(fn, '__name__', fn)!r}: {exc}",
            hint="kernels must be defined in a file (or passed as a source string), "
                 "not typed at an interactive prompt without source") from None
    raw = "".join(lines)
    src = textwrap.dedent(raw)
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    tree = ast.parse(src)
    fdef = tree.body[0]
    while isinstance(fdef, ast.ClassDef):  # pragma: no cover - defensive
        fdef = fdef.body[0]
    ks = KernelSource(fdef, file, first, src.splitlines())
    ks._indent = indent
    return ks


def _is_user_frame(frame) -> bool:
    """Frames of user code only: not the stdlib, installed packages (pytest...) or allo_rtl."""
    fname = frame.f_code.co_filename
    if fname.startswith("<") and fname != "<string>" and not fname.startswith("<ipython"):
        return False
    if fname.startswith(_PKG_DIR):
        return False
    return not any(part in fname for part in ("site-packages", "dist-packages", _STDLIB))


_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_STDLIB = os.path.dirname(os.__file__)


def capture_caller_env(skip: int = 2) -> dict:
    """Merge the locals of the calling user frames (innermost wins) above ``skip`` frames."""
    env: dict = {}
    frame = inspect.currentframe()
    try:
        for _ in range(skip):
            if frame is None:
                break
            frame = frame.f_back
        chain = []
        while frame is not None:
            if _is_user_frame(frame) and frame.f_code.co_name != "<module>":
                chain.append(frame.f_locals)
            frame = frame.f_back
        for loc in reversed(chain):
            env.update(loc)
    finally:
        del frame
    return env


@dataclass
class Env:
    """Python-level name lookup for one kernel instance."""

    globals: dict
    closure: dict = field(default_factory=dict)
    caller: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # template parameters and meta_for variables

    @classmethod
    def for_function(cls, fn, caller: dict, params: dict | None = None) -> "Env":
        closure = {}
        if not isinstance(fn, str) and getattr(fn, "__closure__", None):
            for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
                try:
                    closure[name] = cell.cell_contents
                except ValueError:
                    pass
        glb = fn.__globals__ if not isinstance(fn, str) else {}
        return cls(glb, closure, caller, dict(params or {}))

    def lookup(self, name: str):
        for scope in (self.params, self.closure, self.caller, self.globals):
            if name in scope:
                return scope[name]
        if hasattr(builtins, name):
            return getattr(builtins, name)
        return MISSING

    def child(self, **params) -> "Env":
        p = dict(self.params)
        p.update(params)
        return Env(self.globals, self.closure, self.caller, p)

    def as_dict(self) -> dict:
        d = dict(self.globals)
        d.update(self.caller)
        d.update(self.closure)
        d.update(self.params)
        return d
