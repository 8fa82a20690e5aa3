"""Memory schedule primitives: partition, reshape, buffer_at, reuse_at.

Each function rewrites (or annotates) the kernel IR of ``module`` in place; the
:class:`~allo_rtl.schedule.schedule.Schedule` methods are thin wrappers that
record the call. ``loc`` is the source position of the primitive call: every
:class:`AlloError` raised here carries it, says what is wrong and lists the
valid choices in its hint.

Representations
---------------

* **Partition layouts** live in ``func.attrs["partition"]``:
  ``{buffer name: {dim: (kind, factor)}}`` with ``kind`` in ``"complete"``,
  ``"block"``, ``"cyclic"``; ``dim`` is 1-based, and key ``0`` means *every*
  dimension (Allo's ``dim=0``). ``factor`` is the number of banks for block and
  cyclic (Allo: block bank ``b`` holds elements ``[b*ceil(n/f), (b+1)*ceil(n/f))``,
  cyclic bank ``b`` holds ``i % f == b``) and ``0`` for complete. Consumers that
  want one entry per dimension call :func:`layout_of`.
* **Reuse buffers** created by :func:`reuse_at` are named ``<target>_reuse_<axis>``
  (``.`` in split loop names becomes ``_``), e.g. ``A_reuse_y`` and, chained,
  ``A_reuse_y_reuse_x``. Their banking (window dimension complete; small
  dimensions complete) is recorded as an *implied* layout: a later user
  ``partition`` of the same buffer replaces those entries instead of conflicting.
* **buffer_at** buffers are named ``<target>_buf``.

Semantics are exact: every rewrite keeps the program's results bit for bit (the
tests compare the interpreter before and after each primitive).
"""

from __future__ import annotations

import copy
import weakref
from collections import deque

import numpy as np

from ..errors import AlloError, Loc
from ..ir.nodes import (
    Assign, BinOp, BufRef, CallStmt, Cast, Const, Decl, Expr, For, Function, If, Load,
    Module, Return, Store, StreamGet, StreamPut, Var, While, stmt_exprs, walk_exprs,
    walk_stmts,
)
from ..ir.printer import print_expr
from ..ir.types import Index, UInt, is_dynamic, is_int
from ..ir.transform import assigned_vars, fresh_name as _fresh, subst_body as _subst_body, used_names
from .resolve import resolve_buffer, resolve_loop

__all__ = ["partition", "layout_of", "equivalent_buffers", "equivalent_variables",
           "reshape", "buffer_at", "reuse_at"]


#: ``partition_type`` values (``allo_rtl.Partition.Complete/Block/Cyclic``)
_KINDS = {0: "complete", 1: "block", 2: "cyclic"}

#: reuse buffers whose other (non-window) dimensions are indexed by constants or reduction
#: loops and hold at most this many elements are updated by straight-line code and kept in
#: registers (complete partition)
_SMALL = 64

# Per-function bookkeeping that must not show up in ``func.attrs`` (which is printed):
# implied partition dims of reuse buffers and the structure of line-buffer rewrites
# (used to fuse the line-buffer update into a chained window loop).
_AUTO: "weakref.WeakKeyDictionary[Function, dict]" = weakref.WeakKeyDictionary()
_REUSE: "weakref.WeakKeyDictionary[Function, dict]" = weakref.WeakKeyDictionary()


# ============================================================ small IR helpers


def _idx(v: int) -> Const:
    return Const(int(v), Index())


def _as_index(e: Expr) -> Expr:
    if isinstance(e.type, Index):
        return e
    if isinstance(e, Const) and isinstance(e.value, (int, np.integer)):
        return _idx(int(e.value))
    return Cast(e, Index())


def _cint(e) -> int | None:
    if isinstance(e, Const) and isinstance(e.value, (int, np.integer)) and not isinstance(
            e.value, bool):
        return int(e.value)
    return None


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _add(a: Expr, b: Expr) -> Expr:
    ca, cb = _cint(a), _cint(b)
    if ca is not None and cb is not None:
        return _idx(ca + cb)
    if cb == 0:
        return a
    if ca == 0:
        return b
    if cb is not None and cb < 0:
        return BinOp("sub", a, _idx(-cb), Index())
    return BinOp("add", a, b, Index())


def _addc(a: Expr, k: int) -> Expr:
    return _add(a, _idx(k))


def _mulc(a: Expr, k: int) -> Expr:
    if k == 1:
        return a
    ca = _cint(a)
    if ca is not None:
        return _idx(ca * k)
    if k == 0:
        return _idx(0)
    if _is_pow2(k):
        return BinOp("shl", a, _idx(k.bit_length() - 1), Index())
    return BinOp("mul", a, _idx(k), Index())


def _divc(a: Expr, k: int) -> Expr:
    """``a // k`` for a non-negative ``a`` (a shift when ``k`` is a power of two)."""
    if k == 1:
        return a
    ca = _cint(a)
    if ca is not None:
        return _idx(ca // k)
    if _is_pow2(k):
        return BinOp("shr", a, _idx(k.bit_length() - 1), Index())
    return BinOp("floordiv", a, _idx(k), Index())


def _modc(a: Expr, k: int) -> Expr:
    """``a % k`` for a non-negative ``a`` (a mask when ``k`` is a power of two)."""
    if k == 1:
        return _idx(0)
    ca = _cint(a)
    if ca is not None:
        return _idx(ca % k)
    if _is_pow2(k):
        return BinOp("and", a, _idx(k - 1), Index())
    return BinOp("mod", a, _idx(k), Index())


def _ge(a: Expr, k: int) -> Expr:
    return BinOp("ge", a, _idx(k), UInt(1))


def _interval(e, ranges: dict):
    """(lo, hi) of an index expression given loop-variable ranges, or None (unknown)."""
    if isinstance(e, Const):
        v = _cint(e)
        return None if v is None else (v, v)
    if isinstance(e, Var):
        return ranges.get(e.name)
    if isinstance(e, Cast):
        return _interval(e.value, ranges)
    if not isinstance(e, BinOp):
        return None
    a, b = _interval(e.lhs, ranges), _interval(e.rhs, ranges)
    if a is None or b is None:
        return None
    if e.op == "add":
        return a[0] + b[0], a[1] + b[1]
    if e.op == "sub":
        return a[0] - b[1], a[1] - b[0]
    if e.op in ("mul", "shl"):
        if e.op == "shl":
            if b[0] != b[1] or b[0] < 0:
                return None
            b = (1 << b[0], 1 << b[0])
        prods = [x * y for x in a for y in b]
        return min(prods), max(prods)
    if e.op == "or" and b[0] >= 0 and b[1] < (1 << _low_zero_bits(e.lhs)):
        return a[0] + b[0], a[1] + b[1]  # disjoint bits (split's (o << k) | i)
    return None


def _loop_var_ranges(f: Function) -> dict:
    """var -> (lo, hi) over every constant-bound loop of ``f`` (union over loops that
    share a variable name)."""
    out: dict = {}
    for s in walk_stmts(f.body):
        if isinstance(s, For) and _cint(s.lb) is not None and _cint(s.ub) is not None:
            vals = range(_cint(s.lb), _cint(s.ub), s.step)
            if len(vals):
                lo, hi = min(vals[0], vals[-1]), max(vals[0], vals[-1])
                old = out.get(s.var, (lo, hi))
                out[s.var] = (min(lo, old[0]), max(hi, old[1]))
    return out


def _guard_in_bounds(st: Store, index: tuple, shape: tuple, dims, ranges: dict) -> list:
    """``[st]``, guarded by ``0 <= index[p] < shape[p]`` for the ``p`` in ``dims`` (those with
    a loop-invariant outer part) whose index may leave the array (e.g. in the tail of an
    imperfectly split loop, where the guarded body never uses those elements)."""
    cond = None
    for p in dims:
        iv = _interval(index[p], ranges)
        if iv is not None and iv[0] >= 0 and iv[1] < shape[p]:
            continue  # provably inside the array

        c = BinOp("land", _ge(index[p], 0),
                  BinOp("lt", copy.deepcopy(index[p]), _idx(shape[p]), UInt(1)), UInt(1))
        cond = c if cond is None else BinOp("land", cond, c, UInt(1))
    return [st] if cond is None else [If(cond, [st], [])]


def _all_exprs(body: list):
    for s in walk_stmts(body):
        for e in stmt_exprs(s):
            yield from walk_exprs(e)
        if isinstance(s, Decl) and isinstance(s.init, BufRef):
            for e in s.init.prefix:
                yield from walk_exprs(e)


def _loads(body: list, buf: str) -> list:
    return [e for e in _all_exprs(body) if isinstance(e, Load) and e.buf == buf]


def _block_stream_uses(s, name: str) -> list:
    """``s`` when it puts buffer ``name`` into a stream or gets a block into it (a use of the
    whole array)."""
    if isinstance(s, StreamPut) and isinstance(s.value, BufRef) and s.value.buf == name:
        return [s]
    return [s] if isinstance(s, StreamGet) and s.dst == name else []


def _const_scalars(f: Function) -> dict:
    """Scalars declared with a constant integer value and never reassigned (e.g.
    ``stride: index = 1``): usable as constants in index expressions."""
    decls, assigned = {}, set()
    for s in walk_stmts(f.body):
        if isinstance(s, Decl) and not s.shape:
            if s.name in decls or s.stateful:
                assigned.add(s.name)
            v = _cint(s.init) if isinstance(s.init, Expr) else None
            if v is None:
                assigned.add(s.name)
            decls[s.name] = v
        elif isinstance(s, Assign):
            assigned.add(s.name)
        elif isinstance(s, CallStmt):
            assigned.update(s.outs)
        elif isinstance(s, For):
            assigned.add(s.var)
    return {n: v for n, v in decls.items() if n not in assigned and v is not None}


def _tensor_shape(f: Function, name: str):
    p = f.param(name)
    if p is not None:
        return tuple(p.shape) if p.is_tensor else None
    for s in walk_stmts(f.body):
        if isinstance(s, Decl) and s.name == name and s.shape:
            return tuple(s.shape)
    return None


def _top_stmt_index(f: Function, target) -> int:
    for k, s in enumerate(f.body):
        if any(x is target for x in walk_stmts([s])):
            return k
    raise AssertionError("statement not in function")


def _loop_name(s: For) -> str:
    return s.name or s.var


def _fmt_access(buf: str, index) -> str:
    return f"{buf}[{', '.join(print_expr(i) for i in index)}]"


def _fmt_shape(shape) -> str:
    return f"[{', '.join(map(str, shape))}]"


def _int(prim: str, what: str, value, loc, hint: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise AlloError(f"{prim}: {what} must be an integer, got {type(value).__name__} "
                        f"{value!r}", loc, hint)
    return int(value)


# ============================================================ affine index analysis


class _NotAffine(Exception):
    pass


class _Aff:
    """``sum(coef[v] * v) + const + sum(k * outer_expr)``: ``coef`` over the loop
    variables being analysed, ``outer`` over loop-invariant sub-expressions."""

    __slots__ = ("coef", "const", "outer")

    def __init__(self, coef=None, const=0, outer=None):
        self.coef = dict(coef or {})
        self.const = const
        self.outer = list(outer or [])

    def scaled(self, k: int) -> "_Aff":
        return _Aff({v: c * k for v, c in self.coef.items()}, self.const * k,
                    [(c * k, e) for c, e in self.outer])

    def plus(self, o: "_Aff", sign: int = 1) -> "_Aff":
        coef = dict(self.coef)
        for v, c in o.coef.items():
            coef[v] = coef.get(v, 0) + sign * c
        return _Aff({v: c for v, c in coef.items() if c}, self.const + sign * o.const,
                    self.outer + [(sign * c, e) for c, e in o.outer])

    @property
    def is_const(self) -> bool:
        return not self.coef and not self.outer

    def outer_key(self) -> tuple:
        acc: dict = {}
        for c, e in self.outer:
            k = print_expr(e)
            acc[k] = acc.get(k, 0) + c
        return tuple(sorted((k, c) for k, c in acc.items() if c))

    def outer_expr(self):
        """The loop-invariant part as an index expression (None when empty)."""
        acc: dict = {}
        exprs = {}
        for c, e in self.outer:
            k = print_expr(e)
            acc[k] = acc.get(k, 0) + c
            exprs.setdefault(k, e)
        out = None
        for k in sorted(acc):
            c = acc[k]
            if not c:
                continue
            t = _as_index(copy.deepcopy(exprs[k]))
            if c < 0:
                t = BinOp("sub", _idx(0), _mulc(t, -c), Index())
            else:
                t = _mulc(t, c)
            out = t if out is None else _add(out, t)
        return out

    def inner_expr(self, skip=(), extra_const: int = 0) -> Expr:
        """``sum(coef * v) + const + extra_const`` (variables in ``skip`` left out)."""
        out = None
        for v in sorted(self.coef):
            if v in skip:
                continue
            c = self.coef[v]
            t = Var(v, Index())
            t = _mulc(t, c) if c > 0 else BinOp("sub", _idx(0), _mulc(t, -c), Index())
            out = t if out is None else _add(out, t)
        k = self.const + extra_const
        return _idx(k) if out is None else _addc(out, k)


def _low_zero_bits(e: Expr) -> int:
    """How many low bits of ``e`` are known to be zero (``x << k``, ``x * (m * 2**k)``)."""
    if isinstance(e, Cast) and is_int(e.type) and is_int(e.value.type):
        return _low_zero_bits(e.value)
    if isinstance(e, BinOp) and e.op == "shl" and _cint(e.rhs) is not None:
        return max(0, _cint(e.rhs)) + _low_zero_bits(e.lhs)
    if isinstance(e, BinOp) and e.op == "mul":
        return _low_zero_bits(e.lhs) + _low_zero_bits(e.rhs)
    c = _cint(e)
    if c:
        return (c & -c).bit_length() - 1
    return 0


def _affine(e: Expr, kind, ranges=None) -> _Aff:
    """Parse index expression ``e``. ``kind(name)`` classifies variables: ``"var"``
    (analysed), ``"outer"`` (loop invariant), ``("const", v)``, or ``"bad"``. With
    ``ranges`` (variable -> (min, max)), ``a | b`` is read as ``a + b`` when the bits
    cannot overlap (``(jo << 2) | ji`` with ``ji`` in 0..3, as split emits)."""

    def mentions(x) -> bool:
        for y in walk_exprs(x):
            if isinstance(y, Var) and kind(y.name) != "outer":
                return True
            if isinstance(y, Load):
                return True
        return False

    def go(x) -> _Aff:
        c = _cint(x)
        if c is not None:
            return _Aff(const=c)
        if isinstance(x, Cast) and is_int(x.type) and is_int(x.value.type):
            return go(x.value)  # integer index conversions (values are small)
        if isinstance(x, Var):
            k = kind(x.name)
            if k == "var":
                return _Aff({x.name: 1})
            if isinstance(k, tuple):
                return _Aff(const=k[1])
            if k == "outer":
                return _Aff(outer=[(1, x)])
            raise _NotAffine(x.name)
        if not mentions(x):
            return _Aff(outer=[(1, x)])
        if isinstance(x, BinOp) and x.op in ("add", "sub"):
            return go(x.lhs).plus(go(x.rhs), 1 if x.op == "add" else -1)
        if isinstance(x, BinOp) and x.op == "mul":
            a, b = go(x.lhs), go(x.rhs)
            if a.is_const:
                return b.scaled(a.const)
            if b.is_const:
                return a.scaled(b.const)
        if isinstance(x, BinOp) and x.op == "shl":
            a, b = go(x.lhs), go(x.rhs)
            if b.is_const and b.const >= 0:
                return a.scaled(1 << b.const)
        if isinstance(x, BinOp) and x.op == "or" and ranges is not None:
            for hi_e, lo_e in ((x.lhs, x.rhs), (x.rhs, x.lhs)):
                k = _low_zero_bits(hi_e)
                if not k:
                    continue
                b = go(lo_e)
                if b.outer:
                    continue
                try:
                    lo, hi = _range_of(b, ranges)
                except _NotAffine:
                    continue
                if 0 <= lo and hi < (1 << k):
                    return go(hi_e).plus(b)
        raise _NotAffine(print_expr(x))

    return go(e)


def _loop_ranges(body: list) -> dict:
    """Loop variable -> (min, max) value over every loop of ``body`` with constant
    bounds (None for loops whose bounds are not constants)."""
    out: dict = {}
    for s in walk_stmts(body):
        if not isinstance(s, For):
            continue
        lb, ub = _cint(s.lb), _cint(s.ub)
        if lb is None or ub is None or s.step <= 0:
            out[s.var] = None
            continue
        if ub <= lb:
            continue
        last = lb + ((ub - lb - 1) // s.step) * s.step
        if s.var in out and out[s.var] is None:
            continue
        lo, hi = out.get(s.var, (lb, last))
        out[s.var] = (min(lo, lb), max(hi, last))
    return out


def _range_of(aff: _Aff, ranges: dict, skip=()) -> tuple:
    lo = hi = aff.const
    for v, c in aff.coef.items():
        if v in skip:
            continue
        r = ranges.get(v)
        if r is None:
            raise _NotAffine(v)
        a, b = c * r[0], c * r[1]
        lo += min(a, b)
        hi += max(a, b)
    return lo, hi


# ============================================================ partition


def _partition_kind(partition_type, loc) -> str:
    hint = ("partition_type is allo.Partition.Complete (0), Block (1) or Cyclic (2)")
    pt = getattr(partition_type, "value", partition_type)
    if isinstance(pt, str) and pt.lower() in _KINDS.values():
        return pt.lower()
    if isinstance(pt, (int, np.integer)) and not isinstance(pt, (bool, np.bool_)) and int(
            pt) in _KINDS:
        return _KINDS[int(pt)]
    raise AlloError(f"partition: unknown partition_type {partition_type!r}", loc, hint)


def _alias_edges(module: Module) -> dict:
    """Alias graph: node ``(func, buffer)`` -> [(node, shift)]; dimension ``d`` of the
    node maps to dimension ``d + shift`` of the neighbour."""
    edges: dict = {}

    def link(big, small, k):
        edges.setdefault(big, []).append((small, -k))
        edges.setdefault(small, []).append((big, k))

    for f in module.funcs.values():
        for st in walk_stmts(f.body):
            if not isinstance(st, CallStmt) or st.callee not in module.funcs:
                continue
            g = module.funcs[st.callee]
            for a, p in zip(st.args, g.params):
                if isinstance(a, BufRef) and p.is_tensor:
                    link((f.name, a.buf), (g.name, p.name), len(a.prefix))
            for j, (o, r) in enumerate(zip(st.outs, g.results)):
                if not r.is_tensor:
                    continue
                for rs in walk_stmts(g.body):
                    if isinstance(rs, Return) and j < len(rs.values) and isinstance(
                            rs.values[j], BufRef):
                        v = rs.values[j]
                        link((g.name, v.buf), (f.name, o), len(v.prefix))
    return edges


def _node_str(module: Module, node) -> str:
    f = module.funcs[node[0]]
    for k, p in enumerate(f.params):
        if p.name == node[1]:
            return f"parameter {p.name!r} (#{k}) of {f.name}"
    return f"buffer {node[1]!r} of {f.name}"


def _map_req(req, shift: int, rank: int):
    """Map a partition request ``(all, dims)`` across an alias edge."""
    whole, dims = req
    if whole:
        if shift <= 0:
            return (True, frozenset(range(1, rank + 1)))
        return (False, frozenset(range(shift + 1, rank + 1)))
    return (False, frozenset(d + shift for d in dims if 1 <= d + shift <= rank))


def _fmt_layout(layout: dict) -> str:
    parts = []
    for d in sorted(layout):
        kind, f = layout[d]
        where = "all dims" if d == 0 else f"dim {d}"
        parts.append(f"{kind}{'' if kind == 'complete' else f' factor {f}'} on {where}")
    return ", ".join(parts) or "none"


def _merge(cur: dict, auto: set, req, kind: str, factor: int):
    """New (layout, auto dims) for a buffer, or a string saying why the request conflicts."""
    whole, dims = req
    spec = (kind, factor)
    if 0 in cur and cur[0][0] == "complete":
        return cur, auto  # already registers along every dimension: no-op
    if whole:
        if 0 in cur:
            if cur[0] == spec:
                return cur, auto
            return (f"is already partitioned ({_fmt_layout(cur)}); re-partitioning every dim "
                    "differently conflicts")
        fixed = {d: v for d, v in cur.items() if d not in auto}
        if fixed:
            return (f"is already partitioned per dimension ({_fmt_layout(fixed)}); mixing "
                    "dim=0 (every dim) with per-dim partitions is not allowed")
        return {0: spec}, set()
    if 0 in cur:
        return (f"is already partitioned along every dim ({_fmt_layout(cur)}); mixing dim=0 "
                "with per-dim partitions is not allowed")
    new, new_auto = dict(cur), set(auto)
    for d in sorted(dims):
        if d in cur and d not in auto:
            if cur[d] == spec or cur[d][0] == "complete":
                continue  # same layout, or already registers along d
            return (f"is already partitioned with {_fmt_layout({d: cur[d]})}; re-partitioning "
                    f"it as {kind} conflicts")
        new[d] = spec
        new_auto.discard(d)
    return new, new_auto


def partition(module: Module, target, partition_type, dim, factor, loc: Loc | None):
    """Record a bank layout for ``target`` and every buffer aliasing it across calls."""
    prim = "partition"
    ref = resolve_buffer(module, target, loc, prim)
    kind = _partition_kind(partition_type, loc)
    rank = len(ref.shape)
    desc = f"{ref.func.name}:{ref.name}{_fmt_shape(ref.shape)}"
    dim = _int(prim, "dim", dim, loc, f"valid dims of {desc}: 0 (every dim) or 1..{rank}")
    if not 0 <= dim <= rank:
        raise AlloError(f"partition: dim {dim} is out of range for {desc}", loc,
                        f"valid dims: 0 (every dim) or {', '.join(map(str, range(1, rank + 1)))}"
                        " (1-based)")
    factor = _int(prim, "factor", factor, loc, "factor is the number of banks (an integer)")
    dims = frozenset(range(1, rank + 1)) if dim == 0 else frozenset({dim})
    if kind == "complete":
        factor = 0
    else:
        if factor <= 0:
            raise AlloError(f"partition: {kind} partition needs a factor >= 1 (the number of "
                            f"banks), got {factor}", loc,
                            f"e.g. s.partition(..., partition_type={kind.title()}, dim={dim}, "
                            "factor=2)")
        for d in sorted(dims):
            if factor > ref.shape[d - 1]:
                raise AlloError(f"partition: factor {factor} exceeds the size "
                                f"{ref.shape[d - 1]} of dim {d} of {desc}", loc,
                                f"use a factor in 1..{ref.shape[d - 1]}"
                                + (" (or a Complete partition)" if dim else
                                   "; with dim=0 it must fit every dim"))
    # collect the alias closure with the request mapped onto each buffer
    edges = _alias_edges(module)
    start = (ref.func.name, ref.name)
    plan = {start: (dim == 0, dims)}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nb, shift in edges.get(node, ()):
            shape = _tensor_shape(module.funcs[nb[0]], nb[1])
            if shape is None:
                continue
            req = _map_req(plan[node], shift, len(shape))
            if not req[0] and not req[1]:
                continue  # the partitioned dims are indexed away by a subview
            if nb not in plan:
                plan[nb] = req
                queue.append(nb)
    # validate everything first, then commit
    updates = {}
    for node, req in plan.items():
        f = module.funcs[node[0]]
        shape = _tensor_shape(f, node[1])
        if is_dynamic(shape):
            raise AlloError(f"partition: {desc} propagates to {_node_str(module, node)}, a "
                            "dynamic array (T[...]) whose size is not known at compile time",
                            loc, "a dynamic array cannot be banked: pass a tensor with a "
                            "compile-time shape to that parameter, or do not partition "
                            f"{ref.name}")
        if kind != "complete":
            for d in sorted(req[1]):
                if factor > shape[d - 1]:
                    raise AlloError(
                        f"partition: {kind} factor {factor} of {desc} propagates to "
                        f"{_node_str(module, node)}, whose dim {d} has only {shape[d - 1]} "
                        "elements", loc, "use a smaller factor")
        cur = f.attrs.get("partition", {}).get(node[1], {})
        auto = _AUTO.get(f, {}).get(node[1], set())
        res = _merge(cur, auto, req, kind, factor)
        if isinstance(res, str):
            what = (f"{desc} " if node == start else
                    f"{desc} propagates to {_node_str(module, node)} (an alias across a call: "
                    "caller and callee must agree), which ")
            aliases = sorted(f"{a}:{b}" for a, b in plan if (a, b) != start)
            raise AlloError(f"partition: {what}{res}", loc,
                            "partition each array once per dimension; a layout is shared by "
                            "every alias across calls" + (
                                f" (aliases of {ref.func.name}:{ref.name}: "
                                f"{', '.join(aliases)})" if aliases else ""))
        updates[node] = res
    for node, (layout, auto) in updates.items():
        f = module.funcs[node[0]]
        f.attrs.setdefault("partition", {})[node[1]] = layout
        if auto:
            _AUTO.setdefault(f, {})[node[1]] = auto
        else:
            _AUTO.get(f, {}).pop(node[1], None)


def layout_of(func: Function, buf: str) -> dict:
    """The partition layout of ``buf`` with one entry per partitioned dimension
    (``{dim (1-based): (kind, factor)}``; key 0 expanded to every dimension)."""
    lay = func.attrs.get("partition", {}).get(buf, {})
    if 0 in lay:
        shape = _tensor_shape(func, buf) or ()
        return {d: lay[0] for d in range(1, len(shape) + 1)}
    return dict(lay)


def _set_implied_layout(f: Function, buf: str, layout: dict) -> None:
    f.attrs.setdefault("partition", {})[buf] = dict(layout)
    _AUTO.setdefault(f, {})[buf] = set(layout)


def equivalent_buffers(module: Module, func, name: str) -> set:
    """Every buffer aliasing ``func``'s buffer ``name`` across calls (including itself), as
    ``"func:name"`` strings; parameters appear as ``"func:<index>"`` (Allo's format)."""
    fname = func.name if isinstance(func, Function) else func
    edges = _alias_edges(module)
    start = (fname, name)
    seen = {start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nb, _ in edges.get(node, ()):
            if nb not in seen:
                seen.add(nb)
                queue.append(nb)
    out = set()
    for fn, buf in seen:
        f = module.funcs[fn]
        idx = next((k for k, p in enumerate(f.params) if p.name == buf), None)
        out.add(f"{fn}:{idx}" if idx is not None else f"{fn}:{buf}")
    return out


def equivalent_variables(module: Module, text: str, loc: Loc | None = None) -> set:
    """``s.get_equivalent_variables("func:name")`` (``"func:<index>"`` names a parameter;
    a bare name is looked up in the top function)."""
    if not isinstance(text, str):
        raise AlloError("get_equivalent_variables: expected a 'func:name' string, got "
                        f"{type(text).__name__}", loc, "e.g. s.get_equivalent_variables('top:A')")
    fname, name = text.split(":", 1) if ":" in text else (module.top, text)
    f = module.funcs.get(fname)
    if f is None:
        raise AlloError(f"get_equivalent_variables: no function {fname!r}", loc,
                        f"functions: {', '.join(module.funcs)}")
    if name.isdigit():
        k = int(name)
        if k >= len(f.params):
            raise AlloError(f"get_equivalent_variables: {fname} has {len(f.params)} "
                            f"parameter(s), no #{k}", loc,
                            f"parameters: {', '.join(p.name for p in f.params)}")
        name = f.params[k].name
    if _tensor_shape(f, name) is None:
        names = [p.name for p in f.params if p.is_tensor]
        names += [s.name for s in walk_stmts(f.body) if isinstance(s, Decl) and s.shape]
        raise AlloError(f"get_equivalent_variables: function {fname!r} has no tensor {name!r}",
                        loc, f"tensors of {fname}: {', '.join(names) or '(none)'}")
    return equivalent_buffers(module, f, name)


# ============================================================ reshape


def _reshape_groups(old: tuple, new: tuple) -> list:
    """Split both shapes into consecutive groups of equal element counts (minimal groups),
    so that an index only needs re-linearising within its group."""
    groups, i, j = [], 0, 0
    while i < len(old) or j < len(new):
        og, ng, po, pn = [], [], 1, 1
        if i < len(old):
            og.append(i)
            po *= old[i]
            i += 1
        if j < len(new):
            ng.append(j)
            pn *= new[j]
            j += 1
        while po != pn:
            if po < pn:
                og.append(i)
                po *= old[i]
                i += 1
            else:
                ng.append(j)
                pn *= new[j]
                j += 1
        # trailing size-1 dims join the current group
        while i < len(old) and old[i] == 1 and (j >= len(new) or new[j] != 1):
            og.append(i)
            i += 1
        while j < len(new) and new[j] == 1 and (i >= len(old) or old[i] != 1):
            ng.append(j)
            j += 1
        groups.append((og, ng))
    return groups


def _reindex(index: tuple, old: tuple, new: tuple) -> tuple:
    out = [None] * len(new)
    for og, ng in _reshape_groups(old, new):
        if len(og) == 1 and len(ng) == 1:
            out[ng[0]] = index[og[0]]
            continue
        lin = _idx(0)
        for k in og:  # row-major linear index within the group
            lin = _add(_mulc(lin, old[k]), _as_index(copy.deepcopy(index[k])))
        stride = int(np.prod([new[k] for k in ng])) if ng else 1
        for n, k in enumerate(ng):
            stride //= new[k]
            if new[k] == 1:
                out[k] = _idx(0)
                continue
            e = _divc(copy.deepcopy(lin), stride)
            out[k] = e if n == 0 else _modc(e, new[k])
    return tuple(out)


def reshape(module: Module, target, shape, loc: Loc | None):
    """Reinterpret ``target`` with ``shape`` (row-major, same element count)."""
    prim = "reshape"
    ref = resolve_buffer(module, target, loc, prim)
    f, name, old = ref.func, ref.name, tuple(ref.shape)
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        new = tuple(shape)
    except TypeError:
        raise AlloError(f"reshape: shape must be a tuple of positive integers, got {shape!r}",
                        loc, "e.g. s.reshape(s.B, (2, 5, 2, 5))") from None
    for n in new:
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise AlloError(f"reshape: shape must be a tuple of positive integers, got "
                            f"{shape!r}", loc, "e.g. s.reshape(s.B, (2, 5, 2, 5))")
    new = tuple(int(n) for n in new)
    n_old, n_new = int(np.prod(old)), int(np.prod(new))
    desc = f"{f.name}:{name}{_fmt_shape(old)}"
    if n_old != n_new:
        raise AlloError(f"reshape: {desc} has {n_old} elements, the new shape "
                        f"{_fmt_shape(new)} has {n_new}", loc,
                        f"pick a shape whose dims multiply to {n_old}")
    if ref.is_param:
        raise AlloError(f"reshape: {desc} is a parameter of {f.name}; reshaping it would change "
                        "the function's signature (callers pass the original shape)", loc,
                        "copy it into a local buffer and reshape that, or declare the "
                        "parameter with the new shape")
    if f.attrs.get("partition", {}).get(name):
        raise AlloError(f"reshape: {desc} is already partitioned "
                        f"({_fmt_layout(f.attrs['partition'][name])})", loc,
                        "reshape before partitioning (the layout refers to the old dims)")
    is_top = f.name == module.top
    result_slots = []
    for s in walk_stmts(f.body):
        if isinstance(s, CallStmt):
            if any(isinstance(a, BufRef) and a.buf == name for a in s.args):
                raise AlloError(f"reshape of a buffer passed to a call is not supported "
                                f"({desc} is passed to {s.callee})", loc,
                                "reshape a copy of the buffer, or reshape inside the callee")
            if name in s.outs:
                raise AlloError(f"reshape: {desc} receives the result of {s.callee}; reshaping "
                                "a call result is not supported", loc,
                                "copy the result into a local buffer and reshape that")
        if isinstance(s, Decl) and isinstance(s.init, BufRef) and s.init.buf == name and \
                s.init.prefix:
            raise AlloError(f"reshape: {desc} is copied from by a subview "
                            f"({name}[{', '.join(map(print_expr, s.init.prefix))}])", loc,
                            "reshape a buffer that is only read and written element-wise")
        if isinstance(s, Return):
            for k, v in enumerate(s.values):
                if isinstance(v, BufRef) and v.buf == name:
                    if v.prefix or not is_top:
                        raise AlloError(
                            f"reshape: {desc} is returned by {f.name}, which is called by "
                            "other functions" if not v.prefix else
                            f"reshape: a subview of {desc} is returned", loc,
                            "only whole buffers returned by the top function can be reshaped "
                            "(the result then has the new shape)")
                    result_slots.append(k)
    # rewrite every access
    for s in walk_stmts(f.body):
        if isinstance(s, Store) and s.buf == name:
            s.index = _reindex(s.index, old, new)
    for e in _loads(f.body, name):
        e.index = _reindex(e.index, old, new)
    ref.decl.shape = new
    _REUSE.get(f, {}).pop(name, None)  # a reshaped line buffer is no longer fusable
    if isinstance(ref.decl.init, np.ndarray):
        ref.decl.init = ref.decl.init.reshape(new)
    for k in result_slots:
        f.results[k].shape = new


# ============================================================ buffer_at


def _loop_scope(f: Function, axis_loop: For):
    """Classifier for variables inside ``axis_loop``'s body (``kind`` for :func:`_affine`)
    and the ranges of the loops nested in it."""
    ranges = _loop_ranges(axis_loop.body)
    inner = set(ranges)
    bad = assigned_vars(axis_loop.body, loop_vars=False) - inner
    consts = _const_scalars(f)

    def classify(own_axis_kind):
        def kind(n):
            if n == axis_loop.var:
                return own_axis_kind
            if n in inner:
                return "var"
            if n in bad:
                return "bad"
            if n in consts:
                return ("const", consts[n])
            return "outer"
        return kind

    return ranges, classify


def _analyse(accesses, kind, ranges, skip, prim, buf, axis_name, loc, all_ranges=None):
    """Parse every access's index (``_Aff`` per position) and summarise each position as
    ``("fixed" | "vary", lo, hi)``: the range of its loop-dependent part over all accesses
    (variables in ``skip`` excluded). Raises for unanalysable accesses."""
    parsed = []
    for index, _ in accesses:
        row = []
        for e in index:
            try:
                a = _affine(e, kind, all_ranges or ranges)
                _range_of(a, ranges, skip)
            except _NotAffine as exc:
                raise AlloError(
                    f"{prim}: cannot analyse the index of {_fmt_access(buf, index)} inside loop "
                    f"{axis_name!r} (the part {exc} is not an affine function of loops with "
                    "constant bounds)", loc,
                    "indices must be sums of loop variables times constants plus "
                    "loop-invariant terms") from None
            row.append(a)
        parsed.append(row)
    rank = len(accesses[0][0])
    info = []
    for p in range(rank):
        keys = {row[p].outer_key() for row in parsed}
        if len(keys) > 1:
            shown = ", ".join(_fmt_access(buf, ix) for ix, _ in accesses[:4])
            raise AlloError(
                f"{prim}: the accesses of {buf} inside loop {axis_name!r} do not share the "
                f"loop-invariant part of index {p} ({shown})", loc,
                "the buffered window must be a fixed offset range in each dimension")
        rngs = [_range_of(row[p], ranges, skip) for row in parsed]
        lo, hi = min(r[0] for r in rngs), max(r[1] for r in rngs)
        varies = any(row[p].coef.keys() - set(skip) for row in parsed) or lo != hi
        info.append(("vary", lo, hi) if varies else ("fixed", lo, hi))
    return parsed, info


def _check_not_local_to(prim, ref, L: For, loc) -> None:
    if isinstance(ref.decl, Decl) and any(x is ref.decl for x in walk_stmts(L.body)):
        raise AlloError(f"{prim}: {ref.name} is declared inside loop {_loop_name(L)!r}; the "
                        "buffer must exist across its iterations", loc,
                        f"pick a loop nested inside the declaration of {ref.name}, or declare "
                        f"{ref.name} before the loop")


def _check_bounds(prim, buf, shape, p, lo, hi, outer, loc, what):
    if outer is None and (lo < 0 or hi >= shape[p]):
        raise AlloError(f"{prim}: {what} index {p} of {buf} ranges over {lo}..{hi}, outside "
                        f"its dimension of size {shape[p]}", loc,
                        "the accessed window must lie inside the array")


def _copy_nest(vars_exts: list, body_fn, pipelined: bool = False) -> list:
    """Loops over ``(var, extent)`` pairs (outer first) around ``body_fn()``; ``pipelined``:
    the innermost loop is pipelined at II=1 (a streaming copy, as HLS tools would do)."""
    body = body_fn()
    for k, (var, ext) in enumerate(reversed(vars_exts)):
        attrs = {"pipeline": 1, "auto": True} if pipelined and k == 0 else {}
        body = [For(var, _idx(0), _idx(ext), 1, body, name=var, attrs=attrs)]
    return body


def _stmt_chain(body: list, target):
    """The statements enclosing ``target`` inside ``body`` (outermost first), or None."""
    for s in body:
        if s is target:
            return []
        subs = [s.body] if isinstance(s, (For, While)) else (
            [s.then, s.orelse] if isinstance(s, If) else [])
        for sub in subs:
            r = _stmt_chain(sub, target)
            if r is not None:
                return [s] + r
    return None


def _writes_whole_window(L: For, stores, rows, info, vary) -> bool:
    """True when one store, executed unconditionally, writes every buffer element (its
    buffered index positions are distinct unit-stride loop variables spanning the window)."""
    for st, row in zip(stores, rows):
        chain = _stmt_chain(L.body, st)
        if chain is None or not all(isinstance(c, For) and _cint(c.lb) is not None and _cint(
                c.ub) is not None and _cint(c.ub) > _cint(c.lb) for c in chain):
            continue  # conditional, or possibly never executed
        loops = {c.var: c for c in chain}
        seen = []
        for p in vary:
            a = row[p]
            if len(a.coef) != 1:
                break
            (v, c), = a.coef.items()
            lp = loops.get(v)
            if c != 1 or lp is None or lp.step != 1 or v in seen:
                break
            lb, ub = _cint(lp.lb), _cint(lp.ub)
            if lb is None or ub is None or (lb + a.const, ub - 1 + a.const) != info[p][1:]:
                break
            seen.append(v)
        else:
            return True
    return False


def buffer_at(module: Module, target, axis, loc: Loc | None):
    """Local buffer for the accesses of ``target`` inside loop ``axis``: filled from
    ``target`` at the start of each iteration of ``axis`` (unless the body only writes it and
    provably writes every element), used by its body, written back at the end of the
    iteration (when the body writes it)."""
    from .schedule import BufferHandle

    prim = "buffer_at"
    ref = resolve_buffer(module, target, loc, prim)
    lref = resolve_loop(module, axis, loc, prim)
    f, name, L = ref.func, ref.name, lref.loop
    if lref.func is not f:
        raise AlloError(f"{prim}: buffer {f.name}:{name} and loop {lref.func.name}:"
                        f"{_loop_name(L)} are in different functions", loc,
                        f"pass a loop of {f.name}")
    axis_name = _loop_name(L)
    _check_not_local_to(prim, ref, L, loc)
    for s in walk_stmts(L.body):
        uses = []
        if isinstance(s, CallStmt):
            uses = [a for a in s.args if isinstance(a, BufRef) and a.buf == name]
            if name in s.outs:
                uses.append(s)
        elif isinstance(s, Return):
            uses = [a for a in s.values if isinstance(a, BufRef) and a.buf == name]
        elif isinstance(s, Decl) and isinstance(s.init, BufRef) and s.init.buf == name:
            uses = [s.init]
        uses += _block_stream_uses(s, name)
        if uses:
            raise AlloError(f"{prim}: {name} is used as a whole array inside loop {axis_name!r} "
                            "(passed to a call, returned or copied); only element accesses "
                            "can be buffered", loc, "buffer a loop whose body only indexes "
                            f"{name} element-wise")
    stores = [s for s in walk_stmts(L.body) if isinstance(s, Store) and s.buf == name]
    loads = _loads(L.body, name)
    accesses = [(s.index, s) for s in stores] + [(e.index, e) for e in loads]
    if not accesses:
        used = sorted({s.buf for s in walk_stmts(L.body) if isinstance(s, Store)}
                      | {e.buf for e in _all_exprs(L.body) if isinstance(e, Load)})
        raise AlloError(f"{prim}: {name} is not accessed inside loop {axis_name!r}", loc,
                        f"buffers accessed in {axis_name!r}: {', '.join(used) or '(none)'}")
    ranges, classify = _loop_scope(f, L)
    kind = classify("outer")
    parsed, info = _analyse(accesses, kind, ranges, (), prim, name, axis_name, loc)
    shape = ref.shape
    vary = [p for p, inf in enumerate(info) if inf[0] == "vary"]
    for p in vary:
        _check_bounds(prim, name, shape, p, info[p][1], info[p][2], parsed[0][p].outer_expr(),
                      loc, "the buffered")
    used = used_names(f)
    bname = _fresh(used, f"{name}_buf")
    bshape = tuple(info[p][2] - info[p][1] + 1 for p in vary) or (1,)
    need_fill = bool(loads) or not _writes_whole_window(L, stores, parsed[:len(stores)],
                                                          info, vary)
    decl = Decl(bname, ref.type, bshape, loc=loc)
    f.body.insert(_top_stmt_index(f, L), decl)

    def buf_index(row):
        if not vary:
            return (_idx(0),)
        return tuple(row[p].inner_expr(extra_const=-info[p][1]) for p in vary)

    # rewrite the accesses inside the loop
    for (index, node), row in zip(accesses, parsed):
        node.buf = bname
        node.index = buf_index(row)
    # fill / write-back nests
    tvars = [_fresh(used, f"{bname}_{k}") for k in range(len(vary))]

    def target_index(sfx):
        row, out = parsed[0], []
        for p in range(len(shape)):
            o = row[p].outer_expr()
            if p in vary:
                e = _addc(Var(tvars[vary.index(p)] + sfx, Index()), info[p][1])
            else:
                e = _idx(info[p][1])
            out.append(e if o is None else _add(o, e))
        return tuple(out)

    def buf_t(sfx):
        return tuple(Var(v + sfx, Index()) for v in tvars) or (_idx(0),)

    # init and flush are separate loops (distinct names, so both can be addressed)
    exts = list(zip(tvars, bshape if vary else ()))
    outer_dims = [p for p in range(len(shape)) if parsed[0][p].outer_expr() is not None]

    rng = _loop_var_ranges(f)
    for v, e in exts:
        rng[f"{v}_init"] = rng[f"{v}_flush"] = (0, e - 1)

    def copy_in():
        tix = target_index("_init")
        return _guard_in_bounds(Store(bname, buf_t("_init"), Load(name, tix, ref.type), loc=loc),
                                tix, shape, outer_dims, rng)

    def copy_out():
        tix = target_index("_flush")
        return _guard_in_bounds(Store(name, tix, Load(bname, buf_t("_flush"), ref.type), loc=loc),
                                tix, shape, outer_dims, rng)

    init = _copy_nest([(f"{v}_init", e) for v, e in exts], copy_in, True) if need_fill else []
    flush = _copy_nest([(f"{v}_flush", e) for v, e in exts], copy_out, True) if stores else []
    L.body[:] = init + L.body + flush
    return BufferHandle(f.name, bname)


# ============================================================ reuse_at


def reuse_at(module: Module, target, axis, loc: Loc | None):
    """Reuse buffer for the sliding-window reads of ``target`` along loop ``axis``.

    The reads ``target[..., axis + r, ...]`` (``r`` constant or from constant-bound inner
    loops, spanning ``R`` values) are served from a buffer holding the last ``R``
    slices of ``target`` along that dimension. The loop ``axis`` is rewritten to run over
    the *input* range (``R - 1`` more iterations): each iteration shifts the buffer by one
    slice and loads the new slice from ``target`` (so every element of ``target`` is read
    once), then runs the original body, guarded so it executes for the original
    iterations only. Chaining ``reuse_at`` on the returned buffer along an inner loop
    builds the window buffer of a 2-D/3-D stencil; when the columns line up, the
    line-buffer update is then moved into that loop (one nest, each input element still
    read exactly once).

    Buffer layout: one dimension per index position of ``target`` that varies inside the
    loop (in ``target``'s order), the window dimension having extent ``R``; positions
    fixed during the loop are dropped.
    """
    from .schedule import BufferHandle

    prim = "reuse_at"
    ref = resolve_buffer(module, target, loc, prim)
    lref = resolve_loop(module, axis, loc, prim)
    f, name, L = ref.func, ref.name, lref.loop
    axis_name = _loop_name(L)
    if lref.func is not f:
        raise AlloError(f"{prim}: buffer {f.name}:{name} and loop {lref.func.name}:{axis_name} "
                        "are in different functions", loc, f"pass a loop of {f.name}")
    lb0, ub0 = _cint(L.lb), _cint(L.ub)
    if lb0 is None or ub0 is None or L.step != 1:
        raise AlloError(f"{prim}: loop {axis_name!r} must have constant bounds and step 1 "
                        f"(it is {print_expr(L.lb)}..{print_expr(L.ub)} step {L.step})", loc,
                        "reuse along a loop with constant bounds")
    _check_not_local_to(prim, ref, L, loc)
    for s in walk_stmts(L.body):
        if isinstance(s, Store) and s.buf == name:
            raise AlloError(f"{prim}: {name} is written inside loop {axis_name!r} "
                            f"({_fmt_access(name, s.index)} = ...); only read-only arrays can "
                            "be served from a reuse buffer", loc,
                            "reuse an array that the loop only reads")
        refs = []
        if isinstance(s, CallStmt):
            refs = [a for a in s.args if isinstance(a, BufRef) and a.buf == name]
            if name in s.outs:
                refs.append(s)
        elif isinstance(s, (Return, Decl)):
            vals = s.values if isinstance(s, Return) else [s.init]
            refs = [a for a in vals if isinstance(a, BufRef) and a.buf == name]
        refs += _block_stream_uses(s, name)
        if refs:
            raise AlloError(f"{prim}: {name} is used as a whole array inside loop "
                            f"{axis_name!r}; only element reads can be reused", loc,
                            "reuse an array that the loop only indexes element-wise")
    loads = _loads(L.body, name)
    if not loads:
        used = sorted({e.buf for e in _all_exprs(L.body) if isinstance(e, Load)})
        raise AlloError(f"{prim}: {name} is not read inside loop {axis_name!r}", loc,
                        f"arrays read in {axis_name!r}: {', '.join(used) or '(none)'}")
    ranges, classify = _loop_scope(f, L)
    kind = classify("var")
    y = L.var
    accesses = [(e.index, e) for e in loads]
    parsed, info = _analyse(accesses, kind, ranges, (y,), prim, name, axis_name, loc,
                            dict(ranges, **{y: (lb0, ub0 - 1)}))
    # the dimension indexed by the reuse axis
    pstar = None
    for (index, _), row in zip(accesses, parsed):
        ps = [p for p, a in enumerate(row) if a.coef.get(y)]
        if len(ps) != 1 or (pstar is not None and ps[0] != pstar):
            why = ("does not use" if not ps else "uses") + f" loop variable {y!r}"
            raise AlloError(
                f"{prim}: {_fmt_access(name, index)} {why}" + (
                    "" if not ps else (" in several dimensions" if len(ps) > 1 else
                                       " in a different dimension than the other reads")),
                loc, f"every read of {name} inside {axis_name!r} must index exactly one "
                f"dimension with {y} + offset")
        if row[ps[0]].coef[y] != 1:
            raise AlloError(f"{prim}: {_fmt_access(name, index)} strides over {y!r} by "
                            f"{row[ps[0]].coef[y]}; only unit-stride windows are supported", loc,
                            f"index that dimension as {y} + offset")
        pstar = ps[0]
    omin, omax = info[pstar][1], info[pstar][2]
    R = omax - omin + 1
    shape = ref.shape
    others = [p for p, inf in enumerate(info) if inf[0] == "vary" and p != pstar]
    outer_star = parsed[0][pstar].outer_expr()
    _check_bounds(prim, name, shape, pstar, lb0 + omin, ub0 - 1 + omax, outer_star, loc,
                  f"along {axis_name!r} the")
    for p in others:
        _check_bounds(prim, name, shape, p, info[p][1], info[p][2], parsed[0][p].outer_expr(),
                      loc, "the reused")
    kept = sorted(others + [pstar])
    exts = {p: (R if p == pstar else info[p][2] - info[p][1] + 1) for p in kept}
    used = used_names(f)
    rname = _fresh(used, f"{name}_reuse_{axis_name}")
    rshape = tuple(exts[p] for p in kept)
    decl = Decl(rname, ref.type, rshape, loc=loc)
    # the other dims are "small" (straight-line update, registers) when they come from
    # constants or reduction loops (a filter window), not from the loops of the nest
    red = {s.var for s in walk_stmts(L.body) if isinstance(s, For) and s.attrs.get("reduction")}
    small = int(np.prod([exts[p] for p in others])) <= _SMALL and all(
        set(row[p].coef) <= red for row in parsed for p in others)

    # 1. body reads -> reuse buffer
    for (_, node), row in zip(accesses, parsed):
        node.buf = rname
        node.index = tuple(row[p].inner_expr(skip=(y,), extra_const=-info[p][1]) for p in kept)

    # 2. buffer update: shift by one slice along the window dim, load the new slice
    def rb_index(k, cols):
        return tuple(_idx(k) if p == pstar else copy.deepcopy(cols[p]) for p in kept)

    def update(cols):
        stmts = [Store(rname, rb_index(k, cols), Load(rname, rb_index(k + 1, cols), ref.type),
                       loc=loc) for k in range(R - 1)]
        tix = []
        for p in range(len(shape)):
            o = parsed[0][p].outer_expr()
            if p == pstar:
                e = Var(y, Index())
            elif p in others:
                e = _addc(copy.deepcopy(cols[p]), info[p][1])
            else:
                e = _idx(info[p][1])
            tix.append(e if o is None else _add(o, e))
        outer_dims = [p for p in range(len(shape)) if parsed[0][p].outer_expr() is not None]
        rng = dict(_loop_var_ranges(f), **{y: (lb0 + omin, ub0 + omax - 1)})
        rng.update({c.name: (0, exts[p] - 1) for p, c in cols.items() if isinstance(c, Var)})
        stmts += _guard_in_bounds(Store(rname, rb_index(R - 1, cols),
                                        Load(name, tuple(tix), ref.type), loc=loc),
                                  tix, shape, outer_dims, rng)
        return stmts

    if small:
        upd = []
        for combo in np.ndindex(*[exts[p] for p in others]):
            upd += update({p: _idx(int(c)) for p, c in zip(others, combo)})
        col_loops = []
    else:
        cvars = {p: _fresh(used, f"{rname}_{k}") for k, p in enumerate(others)}
        col_loops = [(cvars[p], exts[p]) for p in others]
        upd = _copy_nest(col_loops, lambda: update({p: Var(v, Index()) for p, v in
                                                      cvars.items()}))

    # 3. the loop runs over the input range; the original body is guarded and shifted
    old_body = L.body
    _subst_body(old_body, {y: _addc(Var(y, Index()), -omax)} if omax else {})
    guard = If(_ge(Var(y, Index()), lb0 + omax), old_body, []) if R > 1 else None
    L.lb, L.ub = _idx(lb0 + omin), _idx(ub0 + omax)
    L.body = upd + ([guard] if guard is not None else old_body)
    f.body.insert(_top_stmt_index(f, L), decl)

    # hardware: window dim in registers (one shift per cycle); small dims too
    w = kept.index(pstar) + 1
    layout = {w: ("complete", 0)}
    if small:
        layout.update({kept.index(p) + 1: ("complete", 0) for p in others})
    layout = dict(sorted(layout.items()))
    _set_implied_layout(f, rname, layout)

    info_rec = {"loop": L, "guard": guard, "update": upd if col_loops else None,
                "col_dim": kept.index(others[0]) if len(others) == 1 and col_loops else None}
    _REUSE.setdefault(f, {})[rname] = info_rec
    _fuse_line_update(f, name, L, pstar)
    return BufferHandle(f.name, rname)


def _fuse_line_update(f: Function, src: str, L: For, pstar: int) -> None:
    """When ``src`` is a line buffer whose update loop runs over the same columns as the
    window loop ``L`` just rewritten (and ``L`` is the whole guarded body of the line-buffer
    loop), move the line-buffer update into ``L``: column ``c`` of the line buffer is
    updated at iteration ``c`` of ``L``, right before the window reads it."""
    rec = _REUSE.get(f, {}).get(src)
    if not rec or rec["update"] is None or rec["guard"] is None or rec["col_dim"] is None:
        return
    outer, guard, upd = rec["loop"], rec["guard"], rec["update"]
    if len(upd) != 1 or not isinstance(upd[0], For) or outer.body != [upd[0], guard]:
        return
    if guard.then != [L] or guard.orelse or rec["col_dim"] != pstar:
        return
    U = upd[0]
    if _cint(U.lb) != _cint(L.lb) or _cint(U.ub) != _cint(L.ub) or U.step != L.step:
        return
    # every read of the line buffer inside L must be of column L.var exactly
    for e in _loads(L.body, src):
        if not (isinstance(e.index[pstar], Var) and e.index[pstar].name == L.var):
            return
    if any(isinstance(s, Store) and s.buf == src for s in walk_stmts(L.body)):
        return
    col_body = U.body
    _subst_body(col_body, {U.var: Var(L.var, Index())})
    L.body[:] = col_body + [If(guard.cond, list(L.body), [])]
    outer.body[:] = [L]
    rec["update"] = None  # fused: not fusable again
