"""Resolving a primitive's arguments (loop axes, buffers) to IR objects.

Every schedule primitive names loops and buffers the way Allo does (API.md
A2): a :class:`LoopHandle`, a string ``"i"`` (unique among the loops of the
top function), ``"func:i"``, ``"band.i"`` or ``"func:band.i"``; a
:class:`BufferHandle`, ``"A"``, ``"func:A"`` or ``MockBuffer(func, name)``.
Errors name the primitive call's source line (``loc``) and list the valid
choices.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import AlloError, Loc
from ..ir.nodes import Decl, For, Function, If, Module, While, walk_stmts
from ..ir.types import is_dynamic

__all__ = ["LoopRef", "BufferRef", "resolve_loop", "resolve_buffer", "find_parent", "loop_path",
           "all_loops"]


@dataclass
class LoopRef:
    """A resolved loop: the function, the For node and the band it belongs to."""

    func: Function
    loop: For
    band: str


@dataclass
class BufferRef:
    """A resolved buffer of ``func``: a tensor parameter (``param``) or a local ``Decl``."""

    func: Function
    name: str
    shape: tuple
    type: object
    decl: object  # Param or Decl

    @property
    def is_param(self) -> bool:
        return not isinstance(self.decl, Decl)


def all_loops(f: Function) -> list:
    """(band name, For) for every loop of ``f`` in program order (DFS)."""
    out = []
    for top in f.body:
        band = ""
        for s in walk_stmts([top]):
            if isinstance(s, For):
                if s.band:
                    band = s.band
                out.append((band, s))
    return out


def _split_func(module: Module, text: str, loc, what: str):
    if ":" in text:
        fname, rest = text.split(":", 1)
        if fname not in module.funcs:
            raise AlloError(f"{what}: no function {fname!r} in this schedule", loc,
                            f"functions: {', '.join(module.funcs)}")
        return module.funcs[fname], rest
    return module.top_func, text


def resolve_loop(module: Module, axis, loc: Loc | None, prim: str) -> LoopRef:
    """The loop named by ``axis`` (see module docstring)."""
    from .schedule import LoopHandle

    if isinstance(axis, LoopHandle):
        f = module.funcs.get(axis.func)
        if f is None:
            raise AlloError(f"{prim}: loop {axis.name} belongs to function {axis.func!r}, which "
                            "is not in this schedule", loc, f"functions: {', '.join(module.funcs)}")
        band, name = axis.band, axis.loop
    elif isinstance(axis, str):
        f, rest = _split_func(module, axis, loc, prim)
        band, name = (rest.rsplit(".", 1) if "." in rest and not _is_loop_name(f, rest)
                      else ("", rest))
    else:
        raise AlloError(f"{prim}: expected a loop (handle from s.get_loops() or a name), got "
                        f"{type(axis).__name__}", loc,
                        "pass e.g. s.get_loops()['S_i_j_0']['i'] or the loop name 'i'")
    loops = all_loops(f)
    hits = [(b, s) for b, s in loops if s.name == name and (not band or b == band)]
    if not hits:
        choices = ", ".join(f"{b}.{s.name}" if b else s.name for b, s in loops) or "(none)"
        raise AlloError(f"{prim}: function {f.name!r} has no loop {_fmt(band, name)}", loc,
                        f"loops of {f.name}: {choices}")
    if len(hits) > 1:
        raise AlloError(f"{prim}: loop name {name!r} is ambiguous in {f.name!r} (bands "
                        f"{', '.join(b for b, _ in hits)})", loc,
                        "pass the loop handle, e.g. s.get_loops()[band][name], or 'band.name'")
    b, s = hits[0]
    return LoopRef(f, s, b)


def _is_loop_name(f: Function, text: str) -> bool:
    # split loops are named "i.outer"/"i.inner": a dotted name may be a loop name itself
    return any(s.name == text for _, s in all_loops(f))


def _fmt(band, name):
    return f"{band}.{name}" if band else repr(name)


def resolve_buffer(module: Module, target, loc: Loc | None, prim: str,
                   func: str | None = None) -> BufferRef:
    """The buffer named by ``target`` (see module docstring)."""
    from .schedule import BufferHandle

    if isinstance(target, BufferHandle) or (hasattr(target, "func") and hasattr(target, "name")
                                            and not isinstance(target, str)):
        fname, name = target.func, target.name
        f = module.funcs.get(fname)
        if f is None:
            raise AlloError(f"{prim}: buffer {fname}:{name} belongs to function {fname!r}, which "
                            "is not in this schedule", loc, f"functions: {', '.join(module.funcs)}")
    elif isinstance(target, str):
        f, name = _split_func(module, target, loc, prim)
        if func is not None and ":" not in target:
            f = module.funcs[func]
    else:
        raise AlloError(f"{prim}: expected a buffer (s.A, 'A' or 'func:A'), got "
                        f"{type(target).__name__}", loc, "pass e.g. s.A or 'kernel:A'")
    p = f.param(name)
    if p is not None and p.is_tensor:
        if is_dynamic(p.shape):
            raise AlloError(f"{prim}: {f.name}:{name} is a dynamic array ({p.type}[...]); "
                            f"{prim} needs its size at compile time", loc,
                            f"declare {name} with a compile-time shape (e.g. {p.type}[N]), or "
                            f"copy it into a local buffer of a fixed size and apply {prim} there")
        return BufferRef(f, name, tuple(p.shape), p.type, p)
    for s in walk_stmts(f.body):
        if isinstance(s, Decl) and s.name == name and s.shape:
            return BufferRef(f, name, tuple(s.shape), s.type, s)
    names = [p.name for p in f.params if p.is_tensor]
    names += [s.name for s in walk_stmts(f.body) if isinstance(s, Decl) and s.shape]
    raise AlloError(f"{prim}: function {f.name!r} has no tensor {name!r}", loc,
                    f"tensors of {f.name}: {', '.join(names) or '(none)'}")


def find_parent(body: list, target) -> tuple:
    """(list, index) such that ``list[index] is target`` (searching nested bodies)."""
    for i, s in enumerate(body):
        if s is target:
            return body, i
        for sub in _bodies(s):
            r = find_parent(sub, target)
            if r is not None:
                return r
    return None


def loop_path(body: list, target) -> list | None:
    """The For statements enclosing ``target`` (outermost first; ``target`` included when it
    is a loop), or None when ``target`` is not in ``body``."""
    for s in body:
        if s is target:
            return [s] if isinstance(s, For) else []
        for sub in _bodies(s):
            r = loop_path(sub, target)
            if r is not None:
                return ([s] if isinstance(s, For) else []) + r
    return None


def _bodies(s):
    if isinstance(s, (For, While)):
        return [s.body]
    if isinstance(s, If):
        return [s.then, s.orelse]
    return []
