"""Deterministic, readable text form of the kernel IR (what ``s.module`` prints).

Example::

    func gemm(A: i32[32, 32], B: i32[32, 32]) -> i32[32, 32] {
      C: i32[32, 32] = 0
      for i in 0..32 (band S_i_j_k_0) {
        for j in 0..32 {
          for k in 0..32 (reduction) {
            C[i, j] = cast<i32>(add(C[i, j]:i64?, ...))
    ...

Streams print as ``pipe: stream<f32, 4>`` (declaration or parameter),
``pipe.put(x)`` and ``x = pipe.get()``; a dataflow region is a function tagged
``dataflow`` whose calls run concurrently.
"""

from __future__ import annotations

import numpy as np

from .types import Index, shape_str

from .nodes import (
    Assign, BinOp, BitGet, BitInsert, BitReverse, BitSlice, Bitcast, BufRef, CallStmt,
    Cast, Const, Decl, Expr, For, Function, If, Load, Math, Module, Return, Select, Store,
    StreamDecl, StreamGet, StreamPut, StreamRef, UnOp, Var, While,
)

__all__ = ["print_module", "print_function", "print_expr"]

_SYM = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%",
        "shl": "<<", "shr": ">>", "and": "&", "or": "|", "xor": "^", "lt": "<", "le": "<=",
        "gt": ">", "ge": ">=", "eq": "==", "ne": "!=", "land": "and", "lor": "or", "pow": "**"}


def print_expr(e: Expr) -> str:
    if isinstance(e, Const):
        if isinstance(e.type, Index):
            return str(e.value)
        return f"{e.value}:{e.type}"
    if isinstance(e, Var):
        return e.name
    if isinstance(e, Load):
        return f"{e.buf}[{', '.join(print_expr(i) for i in e.index)}]"
    if isinstance(e, BinOp):
        if e.op in _SYM:
            return f"({print_expr(e.lhs)} {_SYM[e.op]} {print_expr(e.rhs)}):{e.type}"
        return f"{e.op}({print_expr(e.lhs)}, {print_expr(e.rhs)}):{e.type}"
    if isinstance(e, UnOp):
        return f"{e.op}({print_expr(e.operand)}):{e.type}"
    if isinstance(e, Cast):
        return f"cast<{e.type}>({print_expr(e.value)})"
    if isinstance(e, Select):
        return f"select({print_expr(e.cond)}, {print_expr(e.tval)}, {print_expr(e.fval)}):{e.type}"
    if isinstance(e, Math):
        return f"{e.fn}({', '.join(print_expr(a) for a in e.args)}):{e.type}"
    if isinstance(e, BitGet):
        return f"{print_expr(e.value)}[bit {print_expr(e.bit)}]"
    if isinstance(e, BitSlice):
        return f"{print_expr(e.value)}[bits {print_expr(e.lo)} +: {e.width}]"
    if isinstance(e, BitInsert):
        return (f"insert({print_expr(e.value)}, {print_expr(e.lo)} +: {e.width}, "
                f"{print_expr(e.new)})")
    if isinstance(e, BitReverse):
        return f"reverse({print_expr(e.value)})"
    if isinstance(e, Bitcast):
        return f"bitcast<{e.type}>({print_expr(e.value)})"
    return repr(e)


def _ref(a) -> str:
    if isinstance(a, StreamRef):
        return a.stream
    if isinstance(a, BufRef):
        if a.prefix:
            return f"{a.buf}[{', '.join(print_expr(i) for i in a.prefix)}]"
        return a.buf
    return print_expr(a)


def _ty(t, shape) -> str:
    return f"{t}{shape_str(shape)}" if shape else str(t)


def _stmts(body, ind, out):
    pad = "  " * ind
    for s in body:
        if isinstance(s, Decl):
            flags = "".join([" stateful" if s.stateful else "", " const" if s.const else ""])
            if s.init is None:
                init = ""
            elif isinstance(s.init, np.ndarray):
                flat = s.init.ravel()
                body_txt = ", ".join(str(int(v)) if s.init.dtype.kind in "iuO" else repr(float(v))
                                     for v in flat[:8])
                init = f" = dense<{body_txt}{', ...' if flat.size > 8 else ''}>"
            else:
                init = f" = {_ref(s.init)}"
            out.append(f"{pad}{s.name}: {_ty(s.type, s.shape)}{flags}{init}")
        elif isinstance(s, Assign):
            out.append(f"{pad}{s.name} = {print_expr(s.value)}")
        elif isinstance(s, Store):
            out.append(f"{pad}{s.buf}[{', '.join(print_expr(i) for i in s.index)}] = {print_expr(s.value)}")
        elif isinstance(s, For):
            tags = []
            if s.band:
                tags.append(f"band {s.band}")
            if s.name and s.name != s.var:
                tags.append(f"name {s.name}")
            tags += [k if v is True else f"{k}={v}" for k, v in sorted(s.attrs.items())]
            step = f" step {s.step}" if s.step != 1 else ""
            tag = f" ({', '.join(tags)})" if tags else ""
            out.append(f"{pad}for {s.var} in {print_expr(s.lb)}..{print_expr(s.ub)}{step}{tag} {{")
            _stmts(s.body, ind + 1, out)
            out.append(f"{pad}}}")
        elif isinstance(s, If):
            out.append(f"{pad}if {print_expr(s.cond)} {{")
            _stmts(s.then, ind + 1, out)
            if s.orelse:
                out.append(f"{pad}}} else {{")
                _stmts(s.orelse, ind + 1, out)
            out.append(f"{pad}}}")
        elif isinstance(s, While):
            out.append(f"{pad}while {print_expr(s.cond)} {{")
            _stmts(s.body, ind + 1, out)
            out.append(f"{pad}}}")
        elif isinstance(s, CallStmt):
            lhs = f"{', '.join(s.outs)} = " if s.outs else ""
            out.append(f"{pad}{lhs}call {s.callee}({', '.join(_ref(a) for a in s.args)})")
        elif isinstance(s, Return):
            out.append(f"{pad}return {', '.join(_ref(a) for a in s.values)}".rstrip())
        elif isinstance(s, StreamDecl):
            out.append(f"{pad}{s.name}: {s.type}")
        elif isinstance(s, StreamPut):
            out.append(f"{pad}{s.stream}.put({_ref(s.value)})")
        elif isinstance(s, StreamGet):
            lhs = f"{s.dst} = " if s.dst is not None else ""
            out.append(f"{pad}{lhs}{s.stream}.get()")
        else:
            out.append(f"{pad}{s!r}")


def print_function(f: Function) -> str:
    params = ", ".join(f"{p.name}: {_ty(p.type, p.shape)}" for p in f.params)
    res = ", ".join(_ty(r.type, r.shape) for r in f.results)
    arrow = f" -> ({res})" if len(f.results) > 1 else (f" -> {res}" if res else "")
    attrs = "".join(f" {k}" if v is True else f" {k}={v}" for k, v in sorted(f.attrs.items()))
    out = [f"func {f.name}({params}){arrow}{attrs} {{"]
    _stmts(f.body, 1, out)
    out.append("}")
    return "\n".join(out)


def print_module(m: Module) -> str:
    return "\n\n".join(print_function(f) for f in m.funcs.values()) + "\n"
