"""Affine forms of index expressions: ``({variable: coefficient}, constant)``.

Used to resolve partitioned-array banks statically (:mod:`banks`) and to
compute dependence distances in pipelines (:mod:`modulo`). ``(x << k) | c``
with ``0 <= c < 2**k`` is ``x * 2**k + c`` (split emits this form).
"""

from __future__ import annotations

from ..ir.nodes import BinOp, Cast, Const, UnOp, Var

__all__ = ["affine", "form_expr"]


def affine(e, lookup):
    """The affine form of ``e``, or None. ``lookup(name)`` gives a variable's form (None:
    unknown)."""
    if isinstance(e, Const):
        return ({}, int(e.value)) if isinstance(e.value, int) else None
    if isinstance(e, Var):
        return lookup(e.name)
    if isinstance(e, Cast):
        return affine(e.value, lookup)
    if isinstance(e, UnOp) and e.op == "neg":
        a = affine(e.operand, lookup)
        return None if a is None else ({k: -v for k, v in a[0].items()}, -a[1])
    if not (isinstance(e, BinOp) and e.op in ("add", "sub", "mul", "shl", "or")):
        return None
    a, b = affine(e.lhs, lookup), affine(e.rhs, lookup)
    if a is None or b is None:
        return None
    if e.op == "or":
        if a[0] and b[0]:
            return None
        x, c = (a, b[1]) if not b[0] else (b, a[1])
        if c < 0:
            return None
        step = 1 << max(c.bit_length(), 0)
        if all(v % step == 0 for v in x[0].values()) and x[1] % step == 0:
            return (dict(x[0]), x[1] + c)  # disjoint bits: or == add
        return None
    if e.op in ("add", "sub"):
        sg = 1 if e.op == "add" else -1
        co = dict(a[0])
        for k, v in b[0].items():
            co[k] = co.get(k, 0) + sg * v
        return ({k: v for k, v in co.items() if v}, a[1] + sg * b[1])
    if e.op == "shl":
        if b[0] or not 0 <= b[1] < 63:
            return None
        b = ({}, 1 << b[1])
    if a[0] and b[0]:
        return None
    k, (co, c) = (b[1], a) if not b[0] else (a[1], b)
    return ({n: v * k for n, v in co.items() if v * k}, c * k)


def form_expr(form, index_type):
    """An expression of ``index_type`` computing ``form``."""
    co, c = form
    out = None
    for name, k in sorted(co.items()):
        v = Var(name, index_type)
        term = v if k == 1 else BinOp("mul", v, Const(k, index_type), index_type)
        out = term if out is None else BinOp("add", out, term, index_type)
    if out is None:
        return Const(c, index_type)
    return out if c == 0 else BinOp("add", out, Const(c, index_type), index_type)
