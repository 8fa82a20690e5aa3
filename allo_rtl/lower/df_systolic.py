"""Pass ``df-systolic``: Allo's systolic GEMM written as a dataflow region becomes the same
unfolded GEMM band that ``s.unfold`` + ``s.to`` produce, so :mod:`.systolic` builds it as one
:class:`primitives.systolic.SystolicGemm` instead of ``P0 * P1`` kernels and FIFOs.

The pattern (``@df.kernel(mapping=[M + 2, N + 2])``, Allo's ``tests/dataflow/test_systolic.py``)
is recognised on the IR of the region (a function with ``attrs["dataflow"]`` calling one
kernel instance per grid point), semantically and exactly; names of kernels, streams and
variables do not matter::

    func top(A, B, C) dataflow {                 func top(A: i32[4, 4], B, C) {
      fifo_A_1_1: stream<i32, 4> ...               for i in 0..4 (band pe, unfold=0, to=B) {
      call gemm_1_0(A, B, C, fifo_A_1_1)    ->       for j in 0..4 (unfold=1, to=A) {
      call gemm_1_1(A, B, C, fifo_A_1_1, ...)          c: i32 = 0
      ...                                              for k in 0..4 {
    }                                                    c = <the PEs' update>(c, A[i, k], B[k, j])
                                                       }
                                                       C[i, j] = c
                                                 }}} (A, B, C partitioned by rows/columns)

Every kernel instance must be one of (after an optional nest of *tile* loops ``for m in
range(T)`` that is the same in every instance, Allo's tiled variant):

* **idle**: no statements (empty loops at most);
* **loader**: ``for k in range(K): s.put(X[e, k])`` or ``s.put(X[k, e])``, ``e`` a function
  of the tile counters, the element type of ``X`` that of ``s``;
* **drain**: ``for k in range(K): v = s.get()`` (or a bare ``s.get()``);
* **PE**: ``c: T = c0; for k in range(K): {a = w.get(); b = n.get(); c = f(c, a, b);
  e.put(a); s.put(b)}; C[x, y] = c`` in any order that gets before it uses, ``a``/``b``
  of their streams' element types, ``f`` pure, ``c`` of ``C``'s element type.

and the streams must connect them as chains loader -> PE -> ... -> PE -> drain (each
stream one writer, one reader; a PE forwards each operand on its own stream). A chain from
a loader of ``X[e, k]`` carries the rows of A, one from ``X[k, e]`` the columns of B. Then,
because every put/get runs once per step and FIFOs keep order, the PE met by row chain
``r`` and column chain ``q`` sees ``A[row_r(t), k]`` and ``B[k, col_q(t)]`` at step ``k``
of tile ``t``: it computes ``f`` folded over them, which is what the band computes when
``C[x, y]`` equals ``C[row_r(t), col_q(t)]`` for every tile (checked numerically), every
PE's ``f`` is the same expression after renaming, every pair (row chain, column chain)
has exactly one PE, the rows (columns) of the chains are consecutive, and the stores never
write one element twice. The FIFO network is deadlock-free (every loop runs the same
steps, every put follows its get), so the region terminates as the band does.

The rewritten function keeps the region's name and parameters; the band is then checked
by :func:`.systolic.outline_systolic` as any unfolded band (``f`` must be ``c + a * b``
modulo the accumulator width, integer types, banks per row/column, ...). Anything that
does not match, or that the outline rejects, keeps the region as it is (kernels + FIFOs):
never different results. The interpreter always runs the region itself; the RTL path
runs this pass first (:func:`allo_rtl.lower.lower_design`), so co-simulation compares the
two. Only a region at the top of the design is rewritten; instances with schedules
(loop attributes) and user partitions that do not suit the engine keep the kernels.
"""

from __future__ import annotations

import copy
import itertools
import warnings
from dataclasses import dataclass, field

from ..errors import AlloError
from ..ir.nodes import (Assign, BinOp, BufRef, CallStmt, Cast, Const, Decl, For, Function,
                        Load, Module, Select, Store, StreamDecl, StreamGet, StreamPut,
                        StreamRef, UnOp, Var, walk_exprs)
from ..ir.numerics import wrap
from ..ir.printer import print_expr
from ..ir.transform import fresh_name, xform
from ..ir.types import Index, Stream, is_int
from ..ir.verify import enabled as verify_enabled

__all__ = ["rewrite_df_systolic", "explain_df_systolic", "NAME"]

NAME = "df-systolic"


class _NoMatch(Exception):
    """The region is not the systolic GEMM pattern (the message says why)."""


def _no(msg: str):
    raise _NoMatch(msg)


# ====================================================================== roles


@dataclass
class _Loader:
    stream: str
    buf: str  # region buffer
    kind: str  # "row": X[e, k] (A) | "col": X[k, e] (B)
    index: object  # e: the expression choosing the row / column
    K: int


@dataclass
class _Drain:
    stream: str
    K: int


@dataclass
class _PE:
    name: str
    acc: Decl
    kloop: For
    store: Store  # C[x, y] = c (region buffer name in .buf)
    ins: dict  # operand variable -> input stream
    outs: dict  # operand variable -> output stream
    update: Assign
    K: int
    slots: dict = field(default_factory=dict)  # "a" | "b" -> operand variable


@dataclass
class _Inst:
    name: str
    tiles: list  # the tile loops around the role (For)
    role: object  # _Loader | _Drain | _PE | None (idle)


def _const_range(lp: For):
    """Trip count of ``for v in range(n)`` (constant n >= 1, no attributes), else None."""
    if (isinstance(lp.lb, Const) and lp.lb.value == 0 and isinstance(lp.ub, Const)
            and isinstance(lp.ub.value, int) and lp.ub.value >= 1 and lp.step == 1
            and not lp.attrs):
        return lp.ub.value
    return None


def _is_var(e, name) -> bool:
    return isinstance(e, Var) and e.name == name


class _Roles:
    """Classify the kernel instances of a region."""

    def __init__(self, module: Module, region: Function):
        self.module, self.region = module, region
        self.stype = {s.name: s.type for s in region.body if isinstance(s, StreamDecl)}

    def instance(self, call: CallStmt) -> _Inst:
        f = self.module.funcs.get(call.callee)
        if f is None or f.results or len(f.params) != len(call.args):
            _no(f"kernel instance {call.callee} has results or a different signature")
        if set(f.attrs) - {"partition"}:  # partitions follow the region's (aliases)
            _no(f"kernel instance {call.callee} is scheduled ({', '.join(sorted(f.attrs))})")
        env = {}  # parameter -> region buffer / stream
        for p, a in zip(f.params, call.args):
            if isinstance(a, BufRef) and not a.prefix and p.is_tensor:
                env[p.name] = a.buf
            elif isinstance(a, StreamRef) and p.is_stream:
                env[p.name] = a.stream
            else:
                _no(f"kernel instance {call.callee} takes a scalar or a sub-array")
        self.env, self.fname = env, f.name
        tiles, body = [], f.body
        while True:
            role = self.role(body)
            if role is not False:
                return _Inst(f.name, tiles, role)
            if len(body) == 1 and isinstance(body[0], For) and _const_range(body[0]):
                tiles.append(body[0])
                body = body[0].body
                continue
            _no(f"kernel instance {f.name} is not an idle kernel, a loader, a drain or a PE")

    def role(self, body):
        """The role ``body`` plays, None for idle, False for no role."""
        if not body:
            return None
        if len(body) == 1 and isinstance(body[0], For):
            lp = body[0]
            K = _const_range(lp)
            if K is None:
                return False
            inner = lp.body
            if len(inner) == 1 and isinstance(inner[0], StreamPut):
                return self.loader(inner[0], lp.var, K)
            gets = [s for s in inner if isinstance(s, StreamGet)]
            decls = [s for s in inner if isinstance(s, Decl)]
            if (len(gets) == 1 and len(inner) == 1 + len(decls) and len(decls) <= 1
                    and (not decls or (gets[0].dst == decls[0].name and not decls[0].shape
                                       and decls[0].init is None and inner[0] is decls[0]))
                    and (gets[0].dst is None) == (not decls)):
                return _Drain(self.env.get(gets[0].stream, "?"), K)
            return False
        if len(body) == 3 and isinstance(body[0], Decl) and isinstance(body[1], For) \
                and isinstance(body[2], Store):
            return self.pe(*body)
        return False

    def loader(self, put: StreamPut, k: str, K: int):
        ld = put.value
        stream = self.env.get(put.stream)
        if not isinstance(ld, Load) or ld.buf not in self.env or len(ld.index) != 2:
            return False
        st = self.stype.get(stream)
        if st is None or st.dtype != ld.type:
            return False
        r, c = ld.index
        for kind, e, kk in (("row", r, c), ("col", c, r)):
            if _is_var(kk, k) and not any(_is_var(x, k) for x in walk_exprs(e)):
                return _Loader(stream, self.env[ld.buf], kind, e, K)
        return False

    def pe(self, acc: Decl, lp: For, store: Store):
        K = _const_range(lp)
        if (K is None or acc.shape or acc.stateful or not isinstance(acc.init, Const)
                or isinstance(acc.type, Stream)
                or store.buf not in self.env or not _is_var(store.value, acc.name)
                or store.value.type != acc.type or len(store.index) != 2):
            return False
        ctype = self._buf_type(store.buf)
        if ctype != acc.type:
            return False
        body = lp.body
        if len(body) != 7:
            return False
        pos = {id(s): n for n, s in enumerate(body)}
        gets = [s for s in body if isinstance(s, StreamGet)]
        puts = [s for s in body if isinstance(s, StreamPut)]
        decls = {s.name: s for s in body if isinstance(s, Decl)}
        upd = [s for s in body if isinstance(s, Assign)]
        if len(gets) != 2 or len(puts) != 2 or len(decls) != 2 or len(upd) != 1:
            return False
        ins, outs = {}, {}
        names = {acc.name, lp.var}
        for g in gets:
            d = decls.get(g.dst)
            s_in = self.env.get(g.stream)
            if (d is None or d.shape or d.init is not None or d.stateful or g.dst in names
                    or pos[id(d)] > pos[id(g)] or self.stype.get(s_in) is None
                    or self.stype[s_in].dtype != d.type):
                return False
            names.add(g.dst)
            ins[g.dst] = s_in
        for p in puts:
            v = p.value
            s_out = self.env.get(p.stream)
            if (not isinstance(v, Var) or v.name not in ins or v.name in outs
                    or v.type != decls[v.name].type or pos[id(p)] < pos[id([
                        g for g in gets if g.dst == v.name][0])]
                    or self.stype.get(s_out) is None or self.stype[s_out].dtype != v.type):
                return False
            outs[v.name] = s_out
        u = upd[0]
        if u.name != acc.name or any(pos[id(g)] > pos[id(u)] for g in gets):
            return False
        allowed = (Var, Const, BinOp, UnOp, Cast, Select)
        for x in walk_exprs(u.value):
            if not isinstance(x, allowed) or (isinstance(x, Var) and x.name not in
                                              {acc.name, *ins}):
                return False
        if any(isinstance(x, Var) and x.name in (lp.var, acc.name) for e in store.index
               for x in walk_exprs(e)):
            return False
        st = copy.copy(store)
        st.buf = self.env[store.buf]
        return _PE(self.fname, acc, lp, st, ins, outs, u, K)

    def _buf_type(self, param):
        f = self.module.funcs[self.fname]
        return f.param(param).type


# ====================================================================== index values


def _value(e, env: dict) -> int:
    """Integer value of an index expression of the tile counters ``env``."""
    if isinstance(e, Const) and isinstance(e.value, int):
        return e.value
    if isinstance(e, Var) and e.name in env:
        return env[e.name]
    if isinstance(e, Cast) and is_int(e.type) and is_int(e.value.type):
        return wrap(_value(e.value, env), e.type)
    if isinstance(e, BinOp) and e.op in ("add", "sub", "mul") and is_int(e.type):
        a, b = _value(e.lhs, env), _value(e.rhs, env)
        return wrap(a + b if e.op == "add" else a - b if e.op == "sub" else a * b, e.type)
    _no(f"index {print_expr(e)} is not an integer function of the tile counters")


def _tile_points(tiles: list) -> list:
    """Every value of the tile counters, as {loop variable: value}."""
    ranges = [range(_const_range(lp)) for lp in tiles]
    return [dict(zip([lp.var for lp in tiles], pt)) for pt in itertools.product(*ranges)]


# ====================================================================== recognition


@dataclass
class _Gemm:
    A: str
    B: str
    C: str
    row0: int  # the row of A (and C) of grid row 0 at tile 0
    col0: int
    row_strides: list  # per tile loop
    col_strides: list
    tiles: list  # [(var, trip count, name)]
    K: int
    kvar: str
    acc: Decl
    update: object  # the PEs' update expression, operands renamed (see _normal)
    P: int
    Q: int


def _recognise(module: Module, region: Function) -> _Gemm:
    if set(region.attrs) - {"dataflow", "partition"}:
        _no(f"the region has attributes {sorted(set(region.attrs) - {'dataflow', 'partition'})}")
    if any(not p.is_tensor for p in region.params):
        _no("the region has a scalar or stream parameter")
    stmts = region.body
    if any(not isinstance(s, (StreamDecl, CallStmt)) for s in stmts):
        _no("the region body holds statements other than streams and calls")
    decls = [s for s in stmts if isinstance(s, StreamDecl)]
    if any(not isinstance(s.type, Stream) or s.type.is_block for s in decls):
        _no("a stream carries blocks")
    roles = _Roles(module, region)
    insts = [roles.instance(c) for c in stmts if isinstance(c, CallStmt)]
    busy = [x for x in insts if x.role is not None]
    pes = [x for x in busy if isinstance(x.role, _PE)]
    if not pes:
        _no("no kernel instance is a PE")
    # the same tile loops and steps everywhere
    tiles = [_const_range(lp) for lp in pes[0].tiles]
    K = pes[0].role.K
    for x in busy:
        if [_const_range(lp) for lp in x.tiles] != tiles or x.role.K != K:
            _no(f"kernel instance {x.name} runs {[_const_range(lp) for lp in x.tiles]} tiles "
                f"x {x.role.K} steps, {pes[0].name} {tiles} x {K}")
    # streams: one writer, one reader, all among the roles
    writer, reader = {}, {}
    for x in busy:
        r = x.role
        outs = [r.stream] if isinstance(r, _Loader) else list(r.outs.values()) \
            if isinstance(r, _PE) else []
        ins = [r.stream] if isinstance(r, _Drain) else list(r.ins.values()) \
            if isinstance(r, _PE) else []
        for s in outs:
            if writer.setdefault(s, x) is not x:
                _no(f"stream {s} has two writers")
        for s in ins:
            if reader.setdefault(s, x) is not x:
                _no(f"stream {s} has two readers")
    declared = {s.name for s in decls}
    if set(writer) != declared or set(reader) != declared:
        _no("a stream is not written by one loader or PE and read by one PE or drain")
    # chains loader -> PE ... -> drain
    chains = {"row": [], "col": []}
    visits = {}  # id(PE inst) -> {"row": (chain index, var), "col": ...}
    loaders = [x for x in busy if isinstance(x.role, _Loader)]
    for ld in loaders:
        kind = ld.role.kind
        n = len(chains[kind])
        chains[kind].append(ld)
        s = ld.role.stream
        for _ in range(len(busy) + 1):
            nxt = reader[s]
            if isinstance(nxt.role, _Drain):
                break
            if not isinstance(nxt.role, _PE):
                _no(f"stream {s} from a loader ends in a loader")
            var = next(v for v, st in nxt.role.ins.items() if st == s)
            seen = visits.setdefault(id(nxt), {})
            if kind in seen or any(v == var for _, v in seen.values()):
                _no(f"PE {nxt.name} receives two rows or two columns")
            seen[kind] = (n, var)
            s = nxt.role.outs[var]
        else:
            _no("a chain of streams does not end in a drain")
    P, Q = len(chains["row"]), len(chains["col"])
    if P < 1 or Q < 1 or len(pes) != P * Q:
        _no(f"{len(pes)} PEs for {P} row and {Q} column chains")
    grid = {}
    for x in pes:
        v = visits.get(id(x), {})
        if set(v) != {"row", "col"}:
            _no(f"PE {x.name} is not fed by a row and a column chain")
        key = (v["row"][0], v["col"][0])
        if key in grid:
            _no(f"PEs {grid[key].name} and {x.name} meet the same row and column")
        grid[key] = x
        x.role.slots = {"a": v["row"][1], "b": v["col"][1]}
    # buffers
    bufs = {kind: {ld.role.buf for ld in chains[kind]} for kind in chains}
    cbufs = {x.role.store.buf for x in pes}
    if len(bufs["row"]) != 1 or len(bufs["col"]) != 1 or len(cbufs) != 1:
        _no("the loaders or PEs use more than one array per operand")
    A, B, C = bufs["row"].pop(), bufs["col"].pop(), cbufs.pop()
    if C in (A, B):
        _no(f"the result {C} is also an operand")
    # one update expression for every PE
    ref = _normal(pes[0].role)
    for x in pes[1:]:
        acc, acc0 = x.role.acc, pes[0].role.acc
        if (print_expr(_normal(x.role)) != print_expr(ref) or acc.type != acc0.type
                or acc.init.value != acc0.init.value):
            _no(f"PE {x.name} computes something else than PE {pes[0].name}")
    # geometry: rows / columns of the chains over every tile, the stores of the PEs
    pts = _tile_points(pes[0].tiles)
    shape = {p.name: tuple(p.shape) for p in region.params}

    def along(inst, pt):
        tv = {lp.var: pt[v.var] for lp, v in zip(inst.tiles, pes[0].tiles)}
        return _value(inst.role.index, tv)

    order, strides = {}, {}
    for kind in ("row", "col"):
        vals = [[along(ld, pt) for pt in pts] for ld in chains[kind]]
        ranked = sorted(range(len(vals)), key=lambda n: vals[n][0])
        base = [vals[n][0] for n in ranked]
        if base != list(range(base[0], base[0] + len(base))):
            _no(f"the {kind}s fed by the loaders are not consecutive")
        st = _strides(pes[0].tiles, pts, [v - vals[0][0] for v in vals[0]])
        for v in vals:
            if any(v[n] - v[0] != o - vals[0][0] for n, o in enumerate(vals[0])):
                _no(f"the {kind}s do not move together from tile to tile")
        order[kind], strides[kind] = ranked, st
    written = set()
    rows_at = [[along(ld, pt) for pt in pts] for ld in chains["row"]]
    cols_at = [[along(ld, pt) for pt in pts] for ld in chains["col"]]
    for (r, q), x in grid.items():
        tv_of = lambda pt: {lp.var: pt[v.var] for lp, v in zip(x.tiles, pes[0].tiles)}  # noqa
        for n, pt in enumerate(pts):
            idx = tuple(_value(e, tv_of(pt)) for e in x.role.store.index)
            if idx != (rows_at[r][n], cols_at[q][n]):
                _no(f"PE {x.name} stores C{list(idx)}, not the product of row "
                    f"{rows_at[r][n]} and column {cols_at[q][n]}")
            if idx in written:
                _no(f"C{list(idx)} is written twice")
            written.add(idx)
    for buf, dim, idx in ((A, 0, rows_at), (B, 1, cols_at)):
        if any(v < 0 or v >= shape[buf][dim] for row in idx for v in row):
            _no(f"a loader reads {buf} out of bounds")
    if K > shape[A][1] or K > shape[B][0]:
        _no("the steps read A or B out of bounds")
    if any(i >= shape[C][0] or j >= shape[C][1] or i < 0 or j < 0 for i, j in written):
        _no(f"a PE writes {C} out of bounds")
    first = pes[0].role
    return _Gemm(A, B, C, rows_at[order["row"][0]][0], cols_at[order["col"][0]][0],
                 strides["row"], strides["col"],
                 [(lp.var, _const_range(lp), lp.name) for lp in pes[0].tiles], K,
                 first.kloop.var, first.acc, ref, P, Q)


def _strides(tiles, pts, offs) -> list:
    """Per tile loop, the step of ``offs`` (values at ``pts``), checked to be affine."""
    out = []
    for d, lp in enumerate(tiles):
        n = next((k for k, pt in enumerate(pts) if pt[lp.var] == 1
                  and all(v == 0 for w, v in pt.items() if w != lp.var)), None)
        out.append(0 if n is None else offs[n])
    for pt, o in zip(pts, offs):
        if sum(s * pt[lp.var] for s, lp in zip(out, tiles)) != o:
            _no("the rows or columns are not affine in the tile counters")
    return out


_A, _B, _C = "__df_a", "__df_b", "__df_c"


def _normal(pe: _PE):
    """The PE's update with its operands named ``__df_a`` (row), ``__df_b`` (column) and
    its accumulator ``__df_c``."""
    ren = {pe.slots["a"]: _A, pe.slots["b"]: _B, pe.acc.name: _C}
    return xform(copy.deepcopy(pe.update.value),
                 lambda x: Var(ren[x.name], x.type, x.loc) if isinstance(x, Var) else x)


# ====================================================================== the rewrite


def _build(region: Function, g: _Gemm) -> Function:
    loc = region.loc
    ix = Index()
    used = {v for v, _, _ in g.tiles} | {g.kvar, g.acc.name}
    i, j = fresh_name(used, "i"), None
    used.add(i)
    j = fresh_name(used, "j")
    used.add(j)
    acc = fresh_name(used - {g.acc.name}, g.acc.name)

    def lin(var, base, strides):
        e = Var(var, ix, loc)
        if base:
            e = BinOp("add", e, Const(base, ix, loc), ix, loc)
        for (tv, _, _), s in zip(g.tiles, strides):
            if s:
                e = BinOp("add", e, BinOp("mul", Var(tv, ix, loc), Const(s, ix, loc), ix, loc),
                          ix, loc)
        return e

    row, col = lin(i, g.row0, g.row_strides), lin(j, g.col0, g.col_strides)
    k = Var(g.kvar, ix, loc)
    a_t = _elem(region, g.A)
    b_t = _elem(region, g.B)
    vals = {_A: lambda: Load(g.A, (copy.deepcopy(row), k), a_t, loc),
            _B: lambda: Load(g.B, (copy.deepcopy(k), copy.deepcopy(col)), b_t, loc),
            _C: lambda: Var(acc, g.acc.type, loc)}
    upd = xform(copy.deepcopy(g.update),
                lambda x: vals[x.name]() if isinstance(x, Var) and x.name in vals else x)
    inner = [Decl(acc, g.acc.type, (), Const(g.acc.init.value, g.acc.type, loc), loc=loc),
             For(g.kvar, Const(0, ix, loc), Const(g.K, ix, loc), 1,
                 [Assign(acc, upd, loc)], g.kvar, loc=loc),
             Store(g.C, (copy.deepcopy(row), copy.deepcopy(col)), Var(acc, g.acc.type, loc),
                   loc)]
    body = [For(j, Const(0, ix, loc), Const(g.Q, ix, loc), 1, inner, j,
                attrs={"unfold": 1, "to": ((g.A, -1),)}, loc=loc)]
    body = [For(i, Const(0, ix, loc), Const(g.P, ix, loc), 1, body, i,
                attrs={"unfold": 0, "to": ((g.B, -1),)}, loc=loc)]
    for tv, n, name in reversed(g.tiles):
        body = [For(tv, Const(0, ix, loc), Const(n, ix, loc), 1, body, name or tv, loc=loc)]
    body[0].band = "pe"
    layouts = {b: dict(v) for b, v in region.attrs.get("partition", {}).items()}
    for buf, dim, n in ((g.A, 1, g.P), (g.B, 2, g.Q), (g.C, 2, g.Q)):
        if n > 1 and not layouts.get(buf):
            layouts[buf] = {dim: ("cyclic", n)}
    attrs = {"partition": layouts} if layouts else {}
    return Function(region.name, [copy.copy(p) for p in region.params], [], body, loc, attrs)


def _elem(f: Function, buf: str):
    return f.param(buf).type


def _engine_accepts(module: Module) -> str | None:
    """None when the systolic lowering builds ``module``'s band, else its message."""
    from .prepare import prepare_module
    from .systolic import check_unfolded, outline_systolic

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_unfolded(module)
            out = outline_systolic(prepare_module(module))
    except AlloError as e:
        return str(e).splitlines()[0]
    except Exception as e:  # the outline's own checks failed on this band: keep the kernels
        if verify_enabled():
            raise
        return f"{type(e).__name__}: {e}"
    if not any("systolic" in f.attrs for f in out.funcs.values()):
        return "the band was not outlined"
    return None


def explain_df_systolic(module: Module) -> tuple:
    """``(rewritten module or None, reason)``: what :func:`rewrite_df_systolic` does with
    ``module`` and why (for tests and debugging)."""
    f = module.funcs.get(module.top)
    if f is None or not f.attrs.get("dataflow"):
        return None, "the top function is not a dataflow region"
    try:
        g = _recognise(module, f)
        new = Module({f.name: _build(f, g)}, f.name)
    except _NoMatch as e:
        return None, str(e)
    except Exception as e:  # unexpected IR: keep the kernels (tests re-raise: a bug here)
        if verify_enabled():
            raise
        return None, f"not recognised ({type(e).__name__}: {e})"
    why = _engine_accepts(new)
    if why is not None:
        return None, f"the systolic lowering rejects the GEMM: {why}"
    return new, (f"{g.P}x{g.Q} PE grid: {g.C} = {g.A} @ {g.B} over {g.K} steps"
                 + (f", {len(_tile_points_n(g))} tiles" if g.tiles else ""))


def _tile_points_n(g: _Gemm):
    return list(itertools.product(*[range(n) for _, n, _ in g.tiles]))


def rewrite_df_systolic(module: Module) -> Module:
    """Pass ``df-systolic`` (see the module docstring): ``module`` with its top region
    replaced by the equivalent unfolded GEMM band, or ``module`` itself."""
    new, _ = explain_df_systolic(module)
    return module if new is None else new
