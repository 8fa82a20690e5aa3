"""Renaming of buffers and variables throughout a statement list (used by frontend and schedule)."""

from __future__ import annotations

from .nodes import (
    Assign, BufRef, CallStmt, Decl, Expr, For, If, Load, Return, Store, StreamGet, StreamPut,
    Var, While, walk_exprs, walk_stmts, stmt_exprs,
)

__all__ = ["rename_buffer", "rename_var", "substitute"]


def _exprs_in(body):
    for s in walk_stmts(body):
        for e in stmt_exprs(s):
            yield from walk_exprs(e)


def rename_buffer(body: list, old: str, new: str) -> None:
    """Rename buffer ``old`` to ``new`` in place."""
    for s in walk_stmts(body):
        if isinstance(s, Decl) and s.name == old:
            s.name = new
        if isinstance(s, Decl) and isinstance(s.init, BufRef) and s.init.buf == old:
            s.init.buf = new
        if isinstance(s, Store) and s.buf == old:
            s.buf = new
        if isinstance(s, (CallStmt, Return)):
            for a in (s.args if isinstance(s, CallStmt) else s.values):
                if isinstance(a, BufRef) and a.buf == old:
                    a.buf = new
            if isinstance(s, CallStmt):
                s.outs = [new if o == old else o for o in s.outs]
        if isinstance(s, StreamPut) and isinstance(s.value, BufRef) and s.value.buf == old:
            s.value.buf = new
        if isinstance(s, StreamGet) and s.dst == old:
            s.dst = new
    for e in _exprs_in(body):
        if isinstance(e, Load) and e.buf == old:
            e.buf = new


def rename_var(body: list, old: str, new: str) -> None:
    """Rename scalar variable ``old`` to ``new`` in place."""
    for s in walk_stmts(body):
        if isinstance(s, (Decl, Assign)) and s.name == old:
            s.name = new
        if isinstance(s, For) and s.var == old:
            s.var = new
        if isinstance(s, CallStmt):
            s.outs = [new if o == old else o for o in s.outs]
        if isinstance(s, StreamGet) and s.dst == old:
            s.dst = new
    for e in _exprs_in(body):
        if isinstance(e, Var) and e.name == old:
            e.name = new


def substitute(e: Expr, mapping: dict) -> Expr:
    """A copy of ``e`` with variables replaced by expressions from ``mapping`` (name -> Expr)."""
    import copy

    if isinstance(e, Var):
        return mapping.get(e.name, e)
    new = copy.copy(e)
    for field in ("lhs", "rhs", "operand", "value", "cond", "tval", "fval", "bit", "lo", "new"):
        if hasattr(new, field) and isinstance(getattr(new, field), Expr):
            setattr(new, field, substitute(getattr(new, field), mapping))
    if isinstance(new, Load):
        new.index = tuple(substitute(i, mapping) for i in new.index)
    if hasattr(new, "args") and isinstance(getattr(new, "args"), tuple):
        new.args = tuple(substitute(a, mapping) for a in new.args)
    return new
