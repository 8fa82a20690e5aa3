"""Rebuilding expressions and rewriting the expressions of statements (used by the
schedule primitives)."""

from __future__ import annotations

import copy

from .nodes import (Assign, BufRef, CallStmt, Const, Decl, Expr, For, If, Load, Math, Return, Store,
                    StreamDecl, StreamGet, StreamPut, StreamRef, Var, While, stmt_exprs,
                    walk_exprs, walk_stmts)

__all__ = ["xform", "map_stmt", "map_body", "subst_fn", "subst_body", "assigned_vars", "used_names", "fresh_name"]

_EXPR_FIELDS = ("lhs", "rhs", "operand", "value", "cond", "tval", "fval", "bit", "lo", "new")


def xform(e: Expr, fn) -> Expr:
    """A copy of ``e`` rebuilt bottom-up, with ``fn`` applied to every node."""
    if isinstance(e, (Const, Var)):
        return fn(e)
    new = copy.copy(e)
    for fld in _EXPR_FIELDS:
        v = getattr(new, fld, None)
        if isinstance(v, Expr):
            setattr(new, fld, xform(v, fn))
    if isinstance(new, Load):
        new.index = tuple(xform(i, fn) for i in new.index)
    if isinstance(new, Math):
        new.args = tuple(xform(a, fn) for a in new.args)
    return fn(new)


def map_stmt(s, fn) -> None:
    """Apply the expression transformer ``fn`` (Expr -> Expr) to the expressions held
    directly by statement ``s`` (in place)."""
    if isinstance(s, Decl):
        if isinstance(s.init, Expr):
            s.init = fn(s.init)
        elif isinstance(s.init, BufRef):
            s.init.prefix = tuple(fn(x) for x in s.init.prefix)
    elif isinstance(s, Assign):
        s.value = fn(s.value)
    elif isinstance(s, Store):
        s.index = tuple(fn(i) for i in s.index)
        s.value = fn(s.value)
    elif isinstance(s, For):
        s.lb, s.ub = fn(s.lb), fn(s.ub)
    elif isinstance(s, (If, While)):
        s.cond = fn(s.cond)
    elif isinstance(s, (CallStmt, Return)):
        vals = s.args if isinstance(s, CallStmt) else s.values
        for k, a in enumerate(vals):
            if isinstance(a, BufRef):
                a.prefix = tuple(fn(x) for x in a.prefix)
            elif a is not None and not isinstance(a, StreamRef):
                vals[k] = fn(a)
    elif isinstance(s, StreamPut):
        if isinstance(s.value, BufRef):
            s.value.prefix = tuple(fn(x) for x in s.value.prefix)
        else:
            s.value = fn(s.value)


def map_body(body: list, fn) -> None:
    """:func:`map_stmt` on every statement of ``body`` (recursively)."""
    for s in list(walk_stmts(body)):
        map_stmt(s, fn)


def subst_fn(mapping: dict):
    """Expression transformer replacing variables by (fresh copies of) expressions."""
    def one(e):
        if isinstance(e, Var) and e.name in mapping:
            return copy.deepcopy(mapping[e.name])
        return e

    return lambda e: xform(e, one)


def subst_body(body: list, mapping: dict) -> None:
    """Replace variables by (fresh copies of) expressions throughout ``body``."""
    if mapping:
        map_body(body, subst_fn(mapping))


def assigned_vars(body: list, loop_vars: bool = True) -> set:
    """Scalar variables ``body`` may write: assignments, scalar declarations, call
    results, and (``loop_vars``) loop variables."""
    out = set()
    for s in walk_stmts(body):
        if isinstance(s, Assign) or (isinstance(s, Decl) and not s.shape):
            out.add(s.name)
        elif isinstance(s, For) and loop_vars:
            out.add(s.var)
        elif isinstance(s, CallStmt):
            out.update(s.outs)
        elif isinstance(s, StreamGet) and s.dst is not None:
            out.add(s.dst)
    return out


def used_names(f) -> set:
    """Every name ``f`` uses (parameters, variables, buffers, streams, loop variables and
    loop names): what :func:`fresh_name` must avoid in ``f``."""
    out = {p.name for p in f.params}
    for s in walk_stmts(f.body):
        if isinstance(s, (Decl, Assign, StreamDecl)):
            out.add(s.name)
        elif isinstance(s, StreamGet) and s.dst is not None:
            out.add(s.dst)
        elif isinstance(s, For):
            out.update((s.var, s.name))
        elif isinstance(s, CallStmt):
            out.update(s.outs)
        for e in stmt_exprs(s):
            for x in walk_exprs(e):
                if isinstance(x, Var):
                    out.add(x.name)
                elif isinstance(x, Load):
                    out.add(x.buf)
    return out


def fresh_name(used: set, base: str) -> str:
    """A name not in ``used`` (added to it), derived from ``base`` (made an identifier)."""
    base = base.replace(".", "_").replace(":", "_")
    name, k = base, 1
    while name in used:
        name = f"{base}_{k}"
        k += 1
    used.add(name)
    return name
