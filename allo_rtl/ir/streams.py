"""Facts about the streams of a module (pure queries; nothing here rewrites IR).

* :func:`stream_accesses` — which streams a function puts into and gets from,
  directly or through the functions it calls (a Stream argument binds the
  callee's parameter to the caller's stream).
* :func:`first_stream_node` / :func:`reject_streams` — the RTL lowering has no
  FIFOs yet, so building a design that uses streams for ``target="rtl"`` stops
  with an :class:`~allo_rtl.errors.AlloError` at the first stream of the kernel
  source instead of producing wrong hardware.
"""

from __future__ import annotations

from ..errors import AlloError, Loc
from .nodes import (CallStmt, Function, Module, StreamDecl, StreamGet, StreamPut, StreamRef,
                    walk_stmts)

__all__ = ["uses_streams", "first_stream_node", "reject_streams", "stream_accesses"]


def uses_streams(f: Function) -> bool:
    """True if ``f`` has a Stream parameter or declares, puts into or gets from a stream."""
    return any(p.is_stream for p in f.params) or any(
        isinstance(s, (StreamDecl, StreamPut, StreamGet)) for s in walk_stmts(f.body))


def first_stream_node(module: Module):
    """The first stream parameter or statement of ``module`` (callees first), or None."""
    for f in module.funcs.values():
        for p in f.params:
            if p.is_stream:
                return p
        for s in walk_stmts(f.body):
            if isinstance(s, (StreamDecl, StreamPut, StreamGet)):
                return s
    return None


def reject_streams(module: Module, target: str = "rtl") -> None:
    """Raise an AlloError at the first stream of ``module``: ``target`` cannot build streams."""
    node = first_stream_node(module)
    if node is None:
        return
    what = "dataflow region" if module.top_func.attrs.get("dataflow") else "kernel"
    raise AlloError(
        f"streams and dataflow regions are not supported by target={target!r} yet "
        f"({what} {module.top!r} uses stream {getattr(node, 'name', None) or node.stream!r})",
        node.loc,
        "build with target='sim' (the interpreter runs streams as blocking FIFOs and dataflow "
        "kernels concurrently); FIFOs in the RTL arrive with the hierarchy-and-communication "
        "issue")


def stream_accesses(module: Module, f: Function, _memo: dict | None = None) -> dict:
    """``{stream: {"put": Loc, "get": Loc}}`` for the streams ``f`` accesses (its parameters and
    its own declarations), with the location of the first access of each kind; an access
    inside a callee is reported at the call."""
    memo = {} if _memo is None else _memo
    if f.name in memo:
        return memo[f.name]
    out: dict = {}
    memo[f.name] = out  # recursion is rejected by the frontend; this only guards the walk

    def note(stream: str, kind: str, loc: Loc | None):
        out.setdefault(stream, {}).setdefault(kind, loc)

    for s in walk_stmts(f.body):
        if isinstance(s, StreamPut):
            note(s.stream, "put", s.loc)
        elif isinstance(s, StreamGet):
            note(s.stream, "get", s.loc)
        elif isinstance(s, CallStmt) and s.callee in module.funcs:
            callee = module.funcs[s.callee]
            inner = stream_accesses(module, callee, memo)
            for a, p in zip(s.args, callee.params):
                if isinstance(a, StreamRef):
                    for kind in inner.get(p.name, {}):
                        note(a.stream, kind, s.loc)
    return out
