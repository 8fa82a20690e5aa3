"""Facts about how functions access their arrays (pure queries; nothing here rewrites IR).

* :func:`array_accesses` — which tensor parameters each function reads and writes,
  directly or through the functions it calls.
* :func:`overwrites` / :func:`body_overwrites` — whether code writes every element of
  an array before anything reads it (so an initial value could never be observed).
"""

from __future__ import annotations

from .nodes import (Assign, BufRef, CallStmt, Const, For, Load, Module, Return, Store, Var, While,
                    stmt_exprs, walk_exprs, walk_stmts)

__all__ = ["array_accesses", "overwrites", "body_overwrites", "mentions"]


def array_accesses(module: Module) -> dict:
    """``{function: {tensor parameter: (reads, writes)}}``, callees included."""
    out: dict = {}
    for f in module.funcs.values():  # callees come first
        acc = {}
        for s in walk_stmts(f.body):
            if isinstance(s, Store):
                r, w = acc.get(s.buf, (False, False))
                acc[s.buf] = (r, True)
            if isinstance(s, CallStmt) and s.callee in out:
                callee = module.funcs[s.callee]
                for a, p in zip(s.args, callee.params):
                    if isinstance(a, BufRef):
                        cr, cw = out[s.callee].get(p.name, (False, False))
                        r, w = acc.get(a.buf, (False, False))
                        acc[a.buf] = (r or cr, w or cw)
                for o, res in zip(s.outs, callee.results):
                    if res.is_tensor:
                        r, w = acc.get(o, (False, False))
                        acc[o] = (r, True)
            for e in stmt_exprs(s):
                for x in walk_exprs(e):
                    if isinstance(x, Load):
                        r, w = acc.get(x.buf, (False, False))
                        acc[x.buf] = (True, w)
        out[f.name] = {p.name: acc.get(p.name, (False, False)) for p in f.params if p.is_tensor}
    return out


def overwrites(nxt, name: str, shape: tuple) -> bool:
    """Does statement ``nxt`` write every element of tensor ``name`` before anything reads it?
    True when ``nxt`` never reads it (no load, call or return inside) and contains a store
    ``name[v0, v1, ...]`` reached through loops only (no ``if``), each with constant bounds
    and at least one iteration, where ``v_k`` is a loop ``for v_k in range(shape[k])``.
    Wrapping loops (``for r in range(reps)``) are allowed: their first iteration writes
    everything."""
    if not isinstance(nxt, For):
        return False
    for x in walk_stmts([nxt]):
        if isinstance(x, (CallStmt, Return, While)):
            return False
        if isinstance(x, Assign) and x.name in _loop_vars(nxt):
            return False  # a loop variable changed inside its loop
        for e in stmt_exprs(x):
            if any(isinstance(y, Load) and y.buf == name for y in walk_exprs(e)):
                return False

    def covered(stmts, loops) -> bool:
        for x in stmts:
            if isinstance(x, Store) and x.buf == name and _covers(x, loops, shape):
                return True
            if (isinstance(x, For) and isinstance(x.lb, Const) and isinstance(x.ub, Const)
                    and x.ub.value > x.lb.value and covered(x.body, {**loops, x.var: x})):
                return True
        return False

    return covered([nxt], {})


def body_overwrites(body: list, name: str, shape: tuple) -> bool:
    """Does ``body`` (a function body) write every element of ``name`` before reading any?
    The first top-level statement that mentions ``name`` must :func:`overwrite <overwrites>`
    it; statements before it must not touch it."""
    for s in body:
        if not mentions(s, name):
            continue
        return overwrites(s, name, shape)
    return False


def mentions(s, name: str) -> bool:
    """Does statement ``s`` (or a statement inside it) access array ``name``?"""
    for x in walk_stmts([s]):
        if isinstance(x, Store) and x.buf == name:
            return True
        if isinstance(x, (CallStmt, Return)):
            vals = x.args if isinstance(x, CallStmt) else x.values
            if any(isinstance(a, BufRef) and a.buf == name for a in vals):
                return True
        for e in stmt_exprs(x):
            if any(isinstance(y, Load) and y.buf == name for y in walk_exprs(e)):
                return True
    return False


def _loop_vars(s: For) -> set:
    return {x.var for x in walk_stmts([s]) if isinstance(x, For)}


def _covers(st: Store, loops: dict, shape) -> bool:
    """Does ``st`` (inside ``loops``: var -> For) store to every index of ``shape``?"""
    names = [i.name if isinstance(i, Var) else None for i in st.index]
    if len(names) != len(shape) or None in names or len(set(names)) != len(names):
        return False
    for n, size in zip(names, shape):
        lp = loops.get(n)
        if lp is None or lp.lb.value != 0 or lp.ub.value != size or lp.step != 1:
            return False
    return True
