"""Facts about the streams of a module (pure queries; nothing here rewrites IR).

* :func:`stream_accesses` — which streams a function puts into and gets from,
  directly or through the functions it calls (a Stream argument binds the
  callee's parameter to the caller's stream).
* :func:`uses_streams` — whether a function touches streams at all.
"""

from __future__ import annotations

from ..errors import Loc
from .nodes import (CallStmt, Function, Module, StreamDecl, StreamGet, StreamPut, StreamRef,
                    walk_stmts)

__all__ = ["uses_streams", "stream_accesses"]


def uses_streams(f: Function) -> bool:
    """True if ``f`` has a Stream parameter or declares, puts into or gets from a stream."""
    return any(p.is_stream for p in f.params) or any(
        isinstance(s, (StreamDecl, StreamPut, StreamGet)) for s in walk_stmts(f.body))


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
