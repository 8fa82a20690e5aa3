"""Loop-transforming schedule primitives: split, reorder, fuse, unroll, pipeline,
parallel, inline, compute_at.

Each function rewrites the kernel IR of ``module`` in place (the :class:`Schedule`
methods are thin wrappers recording the call). ``loc`` is the source position of
the primitive call; every :class:`AlloError` raised here carries it, says what is
wrong and lists the valid choices in its hint.

Design notes
------------

* Loop variables are scoped to their loop in this kernel language (the frontend
  rejects reads after the loop and assignments to them), so the transformations
  *substitute* the original loop variable by its new index expression instead of
  assigning it: nests stay perfect, and split/reorder/fuse compose freely.
* Guards introduced by imperfect splits (``if i < N``) are "pure" (no loads, loop
  invariant), and the nest-restructuring primitives sink them into the innermost
  body when they interchange or flatten the loops around them.
* Like Allo, ``reorder`` does not analyse loop-carried dependences: interchanging
  loops is the user's decision (reductions and elementwise nests are always fine).
  ``compute_at`` on the other hand checks that fusing producer and consumer keeps
  the program's result, and refuses otherwise.
"""

from __future__ import annotations

import copy

import numpy as np

from ..errors import AlloError, Loc
from ..ir.nodes import (
    Assign, BinOp, BufRef, CallStmt, Cast, Const, Decl, Expr, For, Function, If, Load,
    Module, Return, Store, StreamGet, StreamPut, Var, walk_exprs, walk_stmts,
    stmt_exprs,
)
from ..ir.rename import rename_buffer, rename_var
from ..ir.streams import uses_streams
from ..ir.types import Index, UInt
from ..ir.transform import map_stmt as _map_stmt, subst_body as _subst_body, subst_fn as _subst_fn
from ..ir.transform import assigned_vars as _assigned_vars, fresh_name as _fresh, used_names, xform as _xform
from .resolve import all_loops, find_parent, loop_path, resolve_loop

__all__ = ["split", "reorder", "fuse", "unroll", "pipeline", "parallel", "inline", "compute_at"]


# ============================================================ small IR helpers


def _idx(v: int) -> Const:
    return Const(int(v), Index())


def _as_index(e: Expr) -> Expr:
    if isinstance(e.type, Index):
        return e
    if isinstance(e, Const) and isinstance(e.value, int):
        return _idx(e.value)
    return Cast(e, Index())


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _add(a: Expr, b: Expr) -> Expr:
    if isinstance(a, Const) and isinstance(b, Const):
        return _idx(a.value + b.value)
    if isinstance(b, Const) and b.value == 0:
        return a
    if isinstance(a, Const) and a.value == 0:
        return b
    return BinOp("add", a, b, Index())


def _sub(a: Expr, b: Expr) -> Expr:
    if isinstance(a, Const) and isinstance(b, Const):
        return _idx(a.value - b.value)
    if isinstance(b, Const) and b.value == 0:
        return a
    return BinOp("sub", a, b, Index())


def _mulc(a: Expr, k: int) -> Expr:
    """``a * k`` for a constant ``k`` (a shift when ``k`` is a power of two)."""
    if k == 1:
        return a
    if isinstance(a, Const):
        return _idx(a.value * k)
    if _is_pow2(k):
        return BinOp("shl", a, _idx(k.bit_length() - 1), Index())
    return BinOp("mul", a, _idx(k), Index())


def _land(conds: list) -> Expr:
    out = conds[0]
    for c in conds[1:]:
        out = BinOp("land", out, c, UInt(1))
    return out


def _const_int(e) -> int | None:
    if isinstance(e, Const) and isinstance(e.value, (int, np.integer)) and not isinstance(
            e.value, bool):
        return int(e.value)
    return None


def _trip(lb: int, ub: int, step: int) -> int:
    if step > 0:
        return max(0, -(-(ub - lb) // step))
    return max(0, -(-(lb - ub) // -step))


def _expr_vars(e) -> set:
    return {x.name for x in walk_exprs(e) if isinstance(x, Var)}


def _has_load(e) -> bool:
    return any(isinstance(x, Load) for x in walk_exprs(e))


def _loop_desc(s: For) -> str:
    return repr(s.name or s.var)


def _int_arg(prim: str, what: str, value, loc, lo: int, hint: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise AlloError(f"{prim}: {what} must be an integer, got {type(value).__name__} "
                        f"{value!r}", loc, hint)
    if value < lo:
        raise AlloError(f"{prim}: {what} must be >= {lo}, got {int(value)}", loc, hint)
    return int(value)


# ------------------------------------------------------------ perfect nests


def _peel_guards(body: list, nxt: For, guards: list) -> bool:
    """Whether ``body`` is exactly ``[nxt]``, possibly wrapped in pure guard ``If`` s
    (appended to ``guards``)."""
    while True:
        if len(body) == 1 and body[0] is nxt:
            return True
        if (len(body) == 1 and isinstance(body[0], If) and not body[0].orelse
                and not _has_load(body[0].cond)
                and not (_expr_vars(body[0].cond) & _assigned_vars(body[0].then))):
            guards.append(body[0].cond)
            body = body[0].then
            continue
        return False


def _check_chain(chain: list, prim: str, loc, what: str) -> list:
    """Check that ``chain`` (outermost first) is a perfect nest; returns the pure guards
    found between its loops (they can be sunk into the innermost body)."""
    guards: list = []
    for a, b in zip(chain, chain[1:]):
        n = len(guards)
        if not _peel_guards(a.body, b, guards):
            others = [type(s).__name__ for s in a.body if s is not b]
            raise AlloError(
                f"{prim}: loops {_loop_desc(a)} and {_loop_desc(b)} are not perfectly nested "
                f"(loop {_loop_desc(a)} also contains {', '.join(others) or 'a conditional'})",
                loc, f"{what} needs a perfect nest: no statement between the loops other than "
                "the nested loop; move the other statements into the inner loop or into a "
                "separate loop first")
        if len(guards) > n:
            # a guard is evaluated before the inner loops' bounds once sunk: they must not load
            for c in chain[chain.index(b):]:
                if _has_load(c.lb) or _has_load(c.ub):
                    raise AlloError(f"{prim}: the bounds of loop {_loop_desc(c)} read memory "
                                    "under a guard", loc,
                                    "use loop bounds without array reads")
    return guards


def _sink_guards(chain: list, guards: list) -> None:
    """Drop the guard ``If`` s between the loops of ``chain`` and re-check them in the
    innermost body."""
    for a, b in zip(chain, chain[1:]):
        a.body = [b]
    if guards:
        inner = chain[-1]
        inner.body = [If(_land(guards), inner.body, [], loc=inner.loc)]


def _resolve_same_band(module, axes, loc, prim):
    if not axes:
        raise AlloError(f"{prim}: no loops given", loc,
                        "pass the loops, e.g. s.get_loops()['S_i_j_0']['i'] or 'i'")
    refs = [resolve_loop(module, a, loc, prim) for a in axes]
    funcs = {r.func.name for r in refs}
    if len(funcs) > 1:
        raise AlloError(f"{prim}: the loops belong to different functions "
                        f"({', '.join(sorted(funcs))})", loc,
                        "pass loops of one function (and one band)")
    bands = []
    for r in refs:
        if r.band not in bands:
            bands.append(r.band)
    if len(bands) > 1:
        desc = ", ".join(f"{r.loop.name} in {r.band or '(no band)'}" for r in refs)
        raise AlloError(f"{prim}: the loops belong to different bands ({desc})", loc,
                        f"{prim} works within one loop band; bands of {refs[0].func.name}: "
                        f"{', '.join(_bands(refs[0].func)) or '(none)'}")
    seen = set()
    for r in refs:
        if id(r.loop) in seen:
            raise AlloError(f"{prim}: loop {_loop_desc(r.loop)} is given twice", loc,
                            "name each loop once")
        seen.add(id(r.loop))
    return refs


def _bands(f: Function) -> list:
    out = []
    for b, _ in all_loops(f):
        if b and b not in out:
            out.append(b)
    return out


def _nest_chain(refs, loc, prim):
    """(chain of loops from the outermost to the innermost given loop, positions of the
    given loops in the chain)."""
    f = refs[0].func
    paths = [loop_path(f.body, r.loop) for r in refs]
    deepest = max(paths, key=len)
    pos = []
    for r in refs:
        hit = [k for k, s in enumerate(deepest) if s is r.loop]
        if not hit:
            names = ", ".join(_loop_desc(r.loop) for r in refs)
            raise AlloError(f"{prim}: loops {names} are not nested in one another "
                            f"(loop {_loop_desc(r.loop)} is not around the innermost one)", loc,
                            f"{prim} needs loops of one nest, e.g. "
                            f"{', '.join(_loop_desc(s) for s in deepest)}")
        pos.append(hit[0])
    return deepest[min(pos):max(pos) + 1], [p - min(pos) for p in pos]


# ============================================================ split


def split(module: Module, axis, factor, loc: Loc | None):
    """Strip-mine loop ``i`` by ``factor`` into ``i.outer`` (``ceil(trip / factor)``
    iterations) around ``i.inner`` (``factor`` iterations), with
    ``i = lb + (i_outer * factor + i_inner) * step`` substituted in the body. When
    ``factor`` does not divide the trip count (or the bounds are not constant) the body
    is guarded by ``if i < ub``. The outer loop keeps the band; the original loop's
    attributes (pipeline/unroll) move to the inner loop. Returns the (outer, inner)
    loop handles."""
    from .schedule import LoopHandle

    ref = resolve_loop(module, axis, loc, "split")
    factor = _int_arg("split", "the split factor", factor, loc, 1,
                      "pass a positive integer factor, e.g. s.split(axis, 4)")
    f, s = ref.func, ref.loop
    name = s.name or s.var
    used = used_names(f)
    ov, iv = _fresh(used, f"{s.var}_outer"), _fresh(used, f"{s.var}_inner")
    step = s.step
    lb, ub = _const_int(s.lb), _const_int(s.ub)
    pre = []  # statements hoisted before the outer loop
    if lb is not None and ub is not None:
        trip = _trip(lb, ub, step)
        n_outer = _idx(-(-trip // factor))
        lbe, ube = _idx(lb), _idx(ub)
        guard = trip % factor != 0
    else:
        lbe, ube = _as_index(s.lb), _as_index(s.ub)
        inner_writes = _assigned_vars(s.body)
        for k, e in enumerate((lbe, ube)):
            if not isinstance(e, Const) and (_has_load(e) or _expr_vars(e) & inner_writes):
                # the original loop evaluates its bounds once: keep that
                v = _fresh(used, f"{s.var}_{'lb' if k == 0 else 'ub'}")
                pre.append(Decl(v, Index(), (), init=e, loc=s.loc))
                if k == 0:
                    lbe = Var(v, Index())
                else:
                    ube = Var(v, Index())
        span = step * factor
        dist = _sub(ube, lbe) if step > 0 else _sub(lbe, ube)
        n_outer = BinOp("floordiv", _add(dist, _idx(abs(span) - 1)), _idx(abs(span)), Index())
        guard = True
    flat = (BinOp("or", _mulc(Var(ov, Index()), factor), Var(iv, Index()), Index())
            if _is_pow2(factor) and factor > 1 else
            _add(_mulc(Var(ov, Index()), factor), Var(iv, Index())))
    i_expr = _add(copy.deepcopy(lbe), _mulc(flat, step))
    body = s.body
    _subst_body(body, {s.var: i_expr})
    if guard:
        cond = BinOp("lt" if step > 0 else "gt", copy.deepcopy(i_expr), copy.deepcopy(ube),
                     UInt(1))
        body = [If(cond, body, [], loc=s.loc)]
    inner = For(iv, _idx(0), _idx(factor), 1, body, name=f"{name}.inner", attrs=dict(s.attrs),
                loc=s.loc)
    outer = For(ov, _idx(0), n_outer, 1, [inner], name=f"{name}.outer", band=s.band, loc=s.loc)
    lst, k = find_parent(f.body, s)
    lst[k:k + 1] = pre + [outer]
    return (LoopHandle(f.name, ref.band, outer.name), LoopHandle(f.name, ref.band, inner.name))


# ============================================================ reorder

_HEADER = ("var", "lb", "ub", "step", "name", "attrs", "loc")


def reorder(module: Module, axes, loc: Loc | None):
    """Interchange loops of one band: ``axes`` (outer to inner) take, in this order, the
    nest positions the named loops occupied. The loops from the outermost to the
    innermost named loop must form a perfect nest (guards of imperfect splits are
    re-checked in the innermost body), and no loop bound may depend on a loop that
    ends up inside it. Like Allo, dependences are not analysed: interchange is the
    user's decision (always valid for reductions and elementwise nests)."""
    axes = list(axes)
    refs = _resolve_same_band(module, axes, loc, "reorder")
    if len(refs) < 2:
        return None
    chain, pos = _nest_chain(refs, loc, "reorder")
    guards = _check_chain(chain, "reorder", loc, "reorder")
    slots = sorted(pos)
    headers = [{h: getattr(c, h) for h in _HEADER} for c in chain]
    new = list(headers)
    for slot, p in zip(slots, pos):
        new[slot] = headers[p]
    # bounds: a loop may only use variables of loops outside it (after the interchange)
    chain_vars = {h["var"]: k for k, h in enumerate(new)}
    inner_writes = _assigned_vars(chain[0].body)
    inner_stores = {s.buf for s in walk_stmts(chain[0].body) if isinstance(s, Store)}
    for k, h in enumerate(new):
        for e in (h["lb"], h["ub"]):
            bad = [v for v in _expr_vars(e) if chain_vars.get(v, -1) >= k]
            if bad:
                raise AlloError(
                    f"reorder: the bounds of loop {h['name']!r} depend on loop variable "
                    f"{bad[0]!r}, which would be outside it after the interchange", loc,
                    "only loops with bounds independent of the interchanged loops can be "
                    "reordered (e.g. not a triangular j in range(i, N) with i moved inside)")
            moved = h is not headers[k]
            if moved and (_expr_vars(e) & (inner_writes - set(chain_vars))
                          or any(isinstance(x, Load) and x.buf in inner_stores
                                 for x in walk_exprs(e))):
                raise AlloError(f"reorder: the bounds of loop {h['name']!r} read values the "
                                "nest modifies", loc,
                                "reorder loops whose bounds are loop invariant")
    for c, h in zip(chain, new):
        for key, v in h.items():
            setattr(c, key, v)
    _sink_guards(chain, guards)
    return None


# ============================================================ fuse


def fuse(module: Module, axes, loc: Loc | None):
    """Flatten consecutive perfectly nested loops (outer to inner, constant bounds) into
    one loop ``<names>_fused`` running ``prod(trips)`` iterations.

    The original indices are recovered without dividers: when the trip counts of all
    but the outermost fused loop are powers of two, ``i = f >> s`` / ``j = f & (Nj-1)``
    (wires in hardware, and the body stays a pure function of ``f``, so the fused loop
    can still be unrolled or reordered); otherwise the original variables become index
    registers initialised before the fused loop and advanced at the end of every
    iteration with carry (``j += 1; if j == ub_j: j = lb_j; i += 1``) — one adder and
    comparator per level instead of a divider. Returns the fused loop's handle."""
    from .schedule import LoopHandle

    axes = list(axes)
    refs = _resolve_same_band(module, axes, loc, "fuse")
    if len(refs) < 2:
        raise AlloError("fuse: needs at least two loops", loc,
                        "pass consecutive nested loops, outer to inner, e.g. s.fuse('i', 'j')")
    chain, pos = _nest_chain(refs, loc, "fuse")
    if pos != list(range(len(refs))):
        raise AlloError(f"fuse: loops {', '.join(_loop_desc(r.loop) for r in refs)} are not "
                        "consecutive nested loops given outer to inner", loc,
                        f"fuse consecutive loops of the nest in order: "
                        f"{', '.join(_loop_desc(s) for s in chain)}")
    guards = _check_chain(chain, "fuse", loc, "fuse")
    trips, lbs = [], []
    for c in chain:
        lb, ub = _const_int(c.lb), _const_int(c.ub)
        if lb is None or ub is None:
            raise AlloError(f"fuse: loop {_loop_desc(c)} has non-constant bounds", loc,
                            "fuse loops with constant bounds only (split the loop or make its "
                            "bounds constant)")
        trips.append(_trip(lb, ub, c.step))
        lbs.append(lb)
    total = int(np.prod(trips)) if trips else 0
    f = refs[0].func
    used = used_names(f)
    name = "_".join(c.name or c.var for c in chain) + "_fused"
    fv = _fresh(used, name)
    _sink_guards(chain, guards)
    body = chain[-1].body
    pre = []
    if all(_is_pow2(n) for n in trips[1:]):
        mapping = {}
        for k, c in enumerate(chain):
            stride = int(np.prod(trips[k + 1:]))
            e: Expr = Var(fv, Index())
            if stride > 1:
                e = BinOp("shr", e, _idx(stride.bit_length() - 1), Index())
            if k > 0:
                e = BinOp("and", e, _idx(trips[k] - 1), Index())
            mapping[c.var] = _add(_idx(lbs[k]), _mulc(e, c.step))
        _subst_body(body, mapping)
    else:
        pre = [Decl(c.var, Index(), (), init=_idx(lbs[k]), loc=c.loc) for k, c in enumerate(chain)]
        body = body + _carry_chain(chain, lbs, trips)
    attrs: dict = {}
    for c in chain:
        attrs.update(c.attrs)
    fused = For(fv, _idx(0), _idx(total), 1, body, name=name, band=chain[0].band, attrs=attrs,
                loc=chain[0].loc)
    lst, k = find_parent(f.body, chain[0])
    lst[k:k + 1] = pre + [fused]
    return LoopHandle(f.name, refs[0].band, name)


def _carry_chain(chain, lbs, trips) -> list:
    """``v_n += s_n; if v_n == end_n: v_n = lb_n; v_{n-1} += s_{n-1}; if ...``"""
    n = len(chain) - 1
    out: list = []
    cur = out
    for k in range(n, -1, -1):
        c = chain[k]
        cur.append(Assign(c.var, _add(Var(c.var, Index()), _idx(c.step)), loc=c.loc))
        if k == 0:
            break
        end = lbs[k] + trips[k] * c.step
        nxt: list = [Assign(c.var, _idx(lbs[k]), loc=c.loc)]
        cur.append(If(BinOp("eq", Var(c.var, Index()), _idx(end), UInt(1)), nxt, [], loc=c.loc))
        cur = nxt
    return out


# ============================================================ annotations


def unroll(module: Module, axis, factor, loc: Loc | None):
    """Annotate the loop with ``unroll = factor`` (0: fully). The lowering replicates the
    body into one scheduled block (a replicated datapath, limited by memory ports). A full
    unroll needs constant bounds."""
    ref = resolve_loop(module, axis, loc, "unroll")
    factor = _int_arg("unroll", "the unroll factor", factor, loc, 0,
                      "pass 0 (full unroll) or a positive integer factor")
    s = ref.loop
    if factor == 0 and (_const_int(s.lb) is None or _const_int(s.ub) is None):
        raise AlloError(f"unroll: loop {_loop_desc(s)} has non-constant bounds and cannot be "
                        "fully unrolled", loc,
                        "split it first (s.split(axis, F)) and unroll the constant-bound inner "
                        "loop")
    s.attrs["unroll"] = factor
    return None


def pipeline(module: Module, axis, ii, rewind, loc: Loc | None):
    """Annotate the loop with ``pipeline = ii`` (target initiation interval) and, when
    ``rewind``, ``rewind`` (no pipeline flush between consecutive executions of the
    loop)."""
    ref = resolve_loop(module, axis, loc, "pipeline")
    ii = _int_arg("pipeline", "initiation_interval", ii, loc, 1,
                  "pass a positive integer II, e.g. s.pipeline(axis, initiation_interval=1)")
    if not isinstance(rewind, (bool, np.bool_)):
        raise AlloError(f"pipeline: rewind must be True or False, got {rewind!r}", loc,
                        "pass rewind=True or rewind=False")
    s = ref.loop
    s.attrs["pipeline"] = ii
    if rewind:
        s.attrs["rewind"] = True
    else:
        s.attrs.pop("rewind", None)
    return None


def parallel(module: Module, axis, loc: Loc | None):
    """Run the iterations of the loop concurrently. In hardware "concurrent iterations"
    means one copy of the datapath per iteration: the loop gets ``parallel`` and
    ``unroll = 0`` (full replication; iterations then run in parallel as far as data
    dependences and memory ports allow — partition the arrays they access). Needs
    constant bounds."""
    ref = resolve_loop(module, axis, loc, "parallel")
    s = ref.loop
    if _const_int(s.lb) is None or _const_int(s.ub) is None:
        raise AlloError(f"parallel: loop {_loop_desc(s)} has non-constant bounds; a parallel "
                        "loop is fully replicated and needs a constant trip count", loc,
                        "split it first (s.split(axis, F)) and parallelize the inner loop")
    s.attrs["parallel"] = True
    s.attrs["unroll"] = 0
    return None


# ============================================================ inline


def _calls(module: Module, callee: str) -> list:
    """(function, CallStmt) for every call of ``callee``."""
    out = []
    for f in module.funcs.values():
        for s in walk_stmts(f.body):
            if isinstance(s, CallStmt) and s.callee == callee:
                out.append((f, s))
    return out


def _rebase_buffer(body: list, old: str, new: str, prefix: tuple) -> None:
    """Accesses of buffer ``old`` become accesses of ``new`` with ``prefix`` prepended to
    their indices (a tensor parameter bound to a caller buffer / subview)."""
    def one(e):
        if isinstance(e, Load) and e.buf == old:
            return Load(new, tuple(copy.deepcopy(prefix)) + tuple(e.index), e.type, e.loc)
        return e

    fn = lambda e: _xform(e, one)  # noqa: E731
    for s in list(walk_stmts(body)):
        _map_stmt(s, fn)
        if isinstance(s, Store) and s.buf == old:
            s.buf, s.index = new, tuple(copy.deepcopy(prefix)) + tuple(s.index)
        refs = []
        if isinstance(s, Decl) and isinstance(s.init, BufRef):
            refs.append(s.init)
        if isinstance(s, CallStmt):
            refs += [a for a in s.args if isinstance(a, BufRef)]
        if isinstance(s, Return):
            refs += [a for a in s.values if isinstance(a, BufRef)]
        for r in refs:
            if r.buf == old:
                r.buf, r.prefix = new, tuple(copy.deepcopy(prefix)) + tuple(r.prefix)


def _inline_call(module: Module, caller: Function, call: CallStmt, n: int, loc) -> None:
    callee = module.funcs[call.callee]
    parent, pos = find_parent(caller.body, call)
    top_level = parent is caller.body
    body = copy.deepcopy(callee.body)
    rets = [s for s in walk_stmts(body) if isinstance(s, Return)]
    ret = None
    if rets:
        if len(rets) > 1 or body[-1] is not rets[0]:
            r = next(s for s in rets if s is not body[-1])
            raise AlloError(f"inline: function {callee.name!r} returns before its end "
                            f"(line {r.loc.line if r.loc else '?'}), which inlining does not "
                            "support", loc,
                            f"restructure {callee.name} to return once, as its last statement, "
                            "or do not inline it")
        ret = body.pop()
    stmts = body + ([ret] if ret is not None else [])
    for s in walk_stmts(body):
        if isinstance(s, CallStmt) and any(callee.param(o) is not None for o in s.outs):
            raise AlloError(f"inline: function {callee.name!r} assigns a call result to its "
                            "parameter, which inlining does not support", loc,
                            "assign the result to a local variable")
    # 1. every name of the callee (parameters, locals, loop variables) becomes fresh
    used = used_names(caller) | used_names(callee)
    pfx = f"{callee.name}_{n}_"
    ren = {}
    tensors = {p.name for p in callee.params if p.is_tensor}
    tensors |= {s.name for s in walk_stmts(body) if isinstance(s, Decl) and s.shape}
    scalars = {p.name for p in callee.params if not p.is_tensor}
    for s in walk_stmts(body):
        if isinstance(s, (Decl, Assign)) and s.name not in tensors:
            scalars.add(s.name)
        elif isinstance(s, For):
            scalars.add(s.var)
    for old in sorted(tensors) + sorted(scalars):
        ren[old] = _fresh(used, pfx + old)
    for old in sorted(tensors):
        rename_buffer(stmts, old, ren[old])
    for s in walk_stmts(body):
        if isinstance(s, For) and not s.name:
            s.name = s.var
    for old in sorted(scalars):
        rename_var(stmts, old, ren[old])
    # 2. bind the parameters to the arguments
    pre = []
    assigned = _assigned_vars(body)
    for p, a in zip(callee.params, call.args):
        v = ren[p.name]
        if p.is_tensor:
            prefix = []
            for e in a.prefix:
                if isinstance(e, (Const, Var)):
                    prefix.append(e)
                else:  # evaluate the subview offset once, at the call
                    t = _fresh(used, f"{pfx}{p.name}_off")
                    pre.append(Decl(t, e.type, (), init=copy.deepcopy(e), loc=call.loc))
                    prefix.append(Var(t, e.type))
            _rebase_buffer(stmts, v, a.buf, tuple(prefix))
        elif isinstance(a, (Const, Var)) and v not in assigned:
            _subst_body(stmts, {v: a})
        else:
            pre.append(Decl(v, p.type, (), init=copy.deepcopy(a), loc=call.loc))
    # 3. results
    post = []
    drop_decl = None
    if ret is not None:
        decls = {s.name: s for s in body if isinstance(s, Decl)}
        arg_bufs = {a.buf for a in call.args if isinstance(a, BufRef)}
        for k, (spec, val) in enumerate(zip(callee.results, ret.values)):
            if k >= len(call.outs):
                break
            out = call.outs[k]
            if not spec.is_tensor:
                post.append(Assign(out, val, loc=call.loc))
                continue
            d = decls.get(val.buf)
            if (d is not None and not val.prefix and not d.stateful
                    and tuple(d.shape) == tuple(spec.shape) and out not in arg_bufs
                    and sum(o == out for o in call.outs) == 1):
                # the returned local *is* the caller's result buffer
                rename_buffer(stmts, val.buf, out)
                if (pos > 0 and isinstance(parent[pos - 1], Decl) and parent[pos - 1].name == out
                        and parent[pos - 1].init is None and not parent[pos - 1].stateful):
                    drop_decl = parent[pos - 1]
                continue
            nest = _copy_nest(used, pfx, k, spec, out, val, call.loc)
            if top_level:
                nest[0].band = _fresh(set(_bands(caller)) | used, f"{pfx}ret{k}")
            post += nest
    # 4. loop bands: only loops at the top level of the caller are bands; inside a band,
    # an inlined loop whose name is taken there gets the callee prefix (names stay unique)
    caller_bands = set(_bands(caller))
    if not top_level:
        top_stmt = next(t for t in caller.body if any(x is call for x in walk_stmts([t])))
        taken = {x.name for x in walk_stmts([top_stmt]) if isinstance(x, For)}
    for s in walk_stmts(stmts + post):
        if not isinstance(s, For):
            continue
        if top_level:
            if s.band:
                b = s.band if s.band not in caller_bands else pfx + s.band
                caller_bands.add(b)
                s.band = b
        else:
            s.band = ""
            if s.name in taken:
                s.name = _fresh(taken, pfx + s.name)
            taken.add(s.name)
    new = pre + body + post
    parent[pos:pos + 1] = new
    if drop_decl is not None:
        parent.remove(drop_decl)


def _copy_nest(used, pfx, k, spec, out, val: BufRef, loc) -> list:
    names = [_fresh(used, f"{pfx}ret{k}_{d}") for d in range(len(spec.shape))]
    ix = tuple(Var(v, Index()) for v in names)
    body = [Store(out, ix, Load(val.buf, tuple(val.prefix) + ix, spec.type, loc), loc=loc)]
    for d in reversed(range(len(spec.shape))):
        body = [For(names[d], _idx(0), _idx(spec.shape[d]), 1, body, name=names[d], loc=loc)]
    return body


def _call_paths(module: Module) -> dict:
    """{function: number of call paths from the top function} (callers come after their
    callees in ``module.funcs``)."""
    paths = {module.top: 1}
    for name in reversed(list(module.funcs)):
        n = paths.get(name, 0)
        for s in walk_stmts(module.funcs[name].body):
            if isinstance(s, CallStmt):
                paths[s.callee] = paths.get(s.callee, 0) + n
    return paths


def _check_inline_streams(module: Module, caller: Function, call: CallStmt, loc) -> None:
    """Streams are not inlined (yet): a dataflow region's kernels run concurrently, and a
    callee's FIFOs would need renaming into the caller."""
    if caller.attrs.get("dataflow"):
        raise AlloError(f"inline: {call.callee!r} is a kernel of dataflow region {caller.name!r}; "
                        "inlining would run the region's concurrent kernels one after the "
                        "other", loc, "schedule the kernel instance itself (e.g. "
                        f"s.pipeline('{call.callee}:<loop>')) instead of inlining it")
    if uses_streams(module.funcs[call.callee]):
        raise AlloError(f"inline: function {call.callee!r} uses streams, which inlining does "
                        "not support yet", loc, f"do not inline {call.callee}")


def inline(module: Module, func_name, loc: Loc | None):
    """Replace every call of ``func_name`` (in every function) by a copy of its body.

    The callee's parameters, locals and loop variables get fresh names
    ``<callee>_<n>_<name>``; scalar parameters are bound to the argument (substituted
    when it is a constant or variable the callee does not assign, else a local
    initialised at the call); tensor parameters are replaced by the caller's buffer, a
    subview's fixed indices prepended to every access. The final ``return`` becomes
    assignments to the call's result variables; a returned local tensor is renamed to
    the caller's result buffer (no copy) when it is returned whole, else it is copied.
    Loops keep their names; they keep their band only when the call is at the top level
    of the caller (so ``get_loops`` still finds them there). Functions no longer called
    are removed from the module.

    ``func_name=None`` inlines every function called from the top function,
    transitively, leaving a single function."""
    if func_name is not None and not isinstance(func_name, str):
        raise AlloError(f"inline: expected a function name, got {type(func_name).__name__}",
                        loc, f"functions: {', '.join(module.funcs)}")
    counter: dict = {}
    inlined = []
    if func_name is None:
        sites = _call_paths(module)
    else:
        sites = {func_name: len(_calls(module, func_name))}
    for name, k in sites.items():
        f = module.funcs.get(name)
        if (f is not None and name != module.top and k > 1
                and any(isinstance(x, Decl) and x.stateful for x in walk_stmts(f.body))):
            raise AlloError(f"inline: function {name!r} has Stateful variables and is called "
                            f"{k} times; inlining would give each call its own state", loc,
                            "inline only functions without Stateful state, or call "
                            f"{name} once")

    def do(caller, call):
        _check_inline_streams(module, caller, call, loc)
        n = counter.get(call.callee, 0)
        counter[call.callee] = n + 1
        if call.callee not in inlined:
            inlined.append(call.callee)
        _inline_call(module, caller, call, n, loc)

    if func_name is None:
        top = module.top_func
        for _ in range(10000):
            calls = [s for s in walk_stmts(top.body) if isinstance(s, CallStmt)]
            if not calls:
                break
            for c in calls:
                do(top, c)
        else:  # pragma: no cover - recursion is rejected by the frontend
            raise AlloError("inline: the call graph is recursive", loc, "inline named functions")
    else:
        if func_name not in module.funcs:
            raise AlloError(f"inline: no function {func_name!r} in this schedule", loc,
                            f"functions: {', '.join(module.funcs)}")
        if func_name == module.top:
            others = [n for n in module.funcs if n != module.top]
            raise AlloError(f"inline: {func_name!r} is the top function; it has no caller to "
                            "be inlined into", loc,
                            "call s.inline() to inline every function the top calls, or name "
                            f"a callee: {', '.join(others) or '(none)'}")
        for caller, call in _calls(module, func_name):
            do(caller, call)
    # drop inlined functions nobody calls any more
    changed = True
    while changed:
        changed = False
        for name in inlined:
            if name in module.funcs and not _calls(module, name):
                del module.funcs[name]
                changed = True
    return None


# ============================================================ compute_at


class _Effects:
    """Buffers and scalar variables read and written by statements."""

    def __init__(self, stmts: list):
        self.rb, self.wb, self.rv, self.wv = set(), set(), set(), set()
        self.calls = False
        self.streams = False  # puts/gets: their order is observable
        for s in walk_stmts(stmts):
            for e in stmt_exprs(s):
                for x in walk_exprs(e):
                    if isinstance(x, Load):
                        self.rb.add(x.buf)
                    elif isinstance(x, Var):
                        self.rv.add(x.name)
            if isinstance(s, Decl):
                (self.wb if s.shape else self.wv).add(s.name)
                if isinstance(s.init, BufRef):
                    self.rb.add(s.init.buf)
            elif isinstance(s, Assign):
                self.wv.add(s.name)
            elif isinstance(s, Store):
                self.wb.add(s.buf)
            elif isinstance(s, For):
                self.wv.add(s.var)
            elif isinstance(s, CallStmt):
                self.calls = True
                for a in s.args:
                    if isinstance(a, BufRef):  # conservatively read and written
                        self.rb.add(a.buf)
                        self.wb.add(a.buf)
                self.wb.update(s.outs)
                self.wv.update(s.outs)
            elif isinstance(s, Return):
                for a in s.values:
                    if isinstance(a, BufRef):
                        self.rb.add(a.buf)
            elif isinstance(s, (StreamPut, StreamGet)):
                self.streams = True


def _same_expr(a, b, varmap: dict) -> bool:
    """Structural equality of two expressions, variables of ``a`` renamed by ``varmap``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Var):
        return varmap.get(a.name, a.name) == b.name
    if isinstance(a, Const):
        return a.value == b.value and a.type == b.type
    for fld in ("op", "fn", "buf", "width"):
        if getattr(a, fld, None) != getattr(b, fld, None):
            return False
    if getattr(a, "type", None) != getattr(b, "type", None):
        return False
    from ..ir.nodes import expr_children

    ca, cb = expr_children(a), expr_children(b)
    return len(ca) == len(cb) and all(_same_expr(x, y, varmap) for x, y in zip(ca, cb))


def compute_at(module: Module, from_axis, target_axis, loc: Loc | None):
    """Producer-consumer fusion (Allo semantics): ``from_axis`` is the loop at depth k of
    the producer band, ``target_axis`` the loop at the same depth of a later consumer band
    of the same function, with the same bounds at depths 0..k. The producer's body at
    depth k moves to the top of the consumer's loop at depth k (producer loop variables
    replaced by the consumer's) and the producer band disappears.

    Legality (checked, conservatively): nothing between the two bands and nothing in the
    consumer touches what the producer reads or writes, except that the consumer may
    read buffers the producer writes when both index them, in one dimension per fused
    level, with exactly that level's loop variable (so every value the consumer reads in
    a fused iteration was produced in the same iteration, before it)."""
    p = resolve_loop(module, from_axis, loc, "compute_at")
    c = resolve_loop(module, target_axis, loc, "compute_at")
    f = p.func
    if c.func is not f:
        raise AlloError(f"compute_at: producer loop is in {f.name!r} and consumer loop in "
                        f"{c.func.name!r}", loc, "both loops must belong to the same function")
    if p.band == c.band:
        raise AlloError(f"compute_at: both loops are in band {p.band!r}", loc,
                        "pass a loop of the producer band and a loop of a later consumer band; "
                        f"bands of {f.name}: {', '.join(_bands(f))}")
    ppath, cpath = loop_path(f.body, p.loop), loop_path(f.body, c.loop)
    if ppath[0] not in f.body or cpath[0] not in f.body:
        raise AlloError("compute_at: both loops must belong to top-level loop nests (bands) of "
                        f"{f.name!r}", loc, f"bands of {f.name}: {', '.join(_bands(f))}")
    if len(ppath) != len(cpath):
        raise AlloError(
            f"compute_at: producer loop {_loop_desc(p.loop)} is at depth {len(ppath) - 1} of its "
            f"band but consumer loop {_loop_desc(c.loop)} is at depth {len(cpath) - 1}", loc,
            "pass loops at the same depth, e.g. the producer's and the consumer's "
            f"{len(cpath) - 1}-th loops: "
            f"{', '.join(_loop_desc(s) for s in cpath)} ↔ "
            f"{', '.join(_loop_desc(s) for s in ppath[:len(cpath)])}")
    pi, ci = f.body.index(ppath[0]), f.body.index(cpath[0])
    if pi > ci:
        raise AlloError(f"compute_at: the producer band {p.band!r} comes after the consumer "
                        f"band {c.band!r}", loc,
                        "the first loop must belong to the band that writes the data, the second "
                        "to a later band that reads it")
    guards = _check_chain(ppath, "compute_at", loc, "the producer of compute_at")
    for a, b in zip(cpath, cpath[1:]):
        if not any(s is b for s in a.body):
            raise AlloError(f"compute_at: consumer loop {_loop_desc(b)} is not directly inside "
                            f"loop {_loop_desc(a)}", loc,
                            "the consumer loops down to the target axis must be nested directly")
    varmap = {}
    for a, b in zip(ppath, cpath):
        if not (a.step == b.step and _same_expr(a.lb, b.lb, varmap)
                and _same_expr(a.ub, b.ub, varmap)):
            raise AlloError(
                f"compute_at: producer loop {_loop_desc(a)} and consumer loop {_loop_desc(b)} "
                "have different bounds", loc,
                "the fused loops must iterate over the same range; split or reshape the loops "
                "so that they match")
        varmap[a.var] = b.var
    prod = _Effects([ppath[0]])
    cons = _Effects([cpath[0]])
    between = _Effects(f.body[pi + 1:ci])
    why = "fusing would change the result"
    if prod.calls or cons.calls:
        raise AlloError("compute_at: the producer or the consumer calls a function", loc,
                        "inline the callees first (s.inline()) so their accesses can be checked")
    if prod.streams or cons.streams:
        raise AlloError("compute_at: the producer or the consumer puts into or gets from a "
                        "stream; interleaving them would change the order of the FIFO accesses",
                        loc, "fuse loop nests without stream accesses only")
    bad = (between.wb | between.rb) & prod.wb | between.wb & prod.rb
    badv = (between.wv | between.rv) & prod.wv | between.wv & prod.rv
    if bad or badv:
        raise AlloError(f"compute_at: statements between the producer and the consumer access "
                        f"{', '.join(sorted(bad | badv))}, which the producer uses; {why}", loc,
                        "move those statements before the producer or after the consumer")
    loop_vars = {s.var for s in cpath}
    bad = cons.wb & (prod.rb | prod.wb)
    badv = (cons.wv - loop_vars) & prod.rv | cons.rv & prod.wv - set(varmap)
    if bad or badv:
        raise AlloError(f"compute_at: the consumer writes {', '.join(sorted(bad | badv))}, which "
                        f"the producer also uses; {why}", loc,
                        "only a consumer that reads the producer's results can be fused with it")
    shared = prod.wb & cons.rb
    inner = cpath[-1]
    inner_ids = {id(s) for s in walk_stmts(inner.body)}
    stores = [s for s in walk_stmts(ppath[-1].body) if isinstance(s, Store)]
    for buf in sorted(shared):
        loads = []
        for s in walk_stmts([cpath[0]]):
            for e in stmt_exprs(s):
                for x in walk_exprs(e):
                    if isinstance(x, Load) and x.buf == buf:
                        if id(s) not in inner_ids:
                            raise AlloError(
                                f"compute_at: the consumer reads {buf!r} outside its loop "
                                f"{_loop_desc(inner)}, before the moved producer runs; {why}",
                                loc, "read the producer's results inside the target loop only")
                        loads.append(x)
            if isinstance(s, Decl) and isinstance(s.init, BufRef) and s.init.buf == buf:
                raise AlloError(f"compute_at: the consumer copies {buf!r} as a whole; {why}", loc,
                                "read the producer's results element by element")
        st = [s for s in stores if s.buf == buf]
        if not st or not loads:
            continue
        for a, b in zip(ppath, cpath):
            ok = [d for d in range(len(st[0].index))
                  if all(isinstance(s.index[d], Var) and s.index[d].name == a.var for s in st)
                  and all(isinstance(x.index[d], Var) and x.index[d].name == b.var
                          for x in loads)]
            if not ok:
                raise AlloError(
                    f"compute_at: buffer {buf!r} is not indexed by the fused loop "
                    f"{_loop_desc(b)} in the same dimension in producer and consumer "
                    f"(each must use the loop variable itself as that index); the consumer "
                    f"would read elements the producer has not computed yet, so {why}", loc,
                    f"fuse at an outer loop, or index {buf} with the fused loop variables "
                    "directly in both bands")
    moved = ppath[-1].body
    _subst_body(moved, {a.var: Var(b.var, Index()) for a, b in zip(ppath, cpath)})
    if guards:
        g = [_subst_fn({a.var: Var(b.var, Index()) for a, b in zip(ppath, cpath)})(x)
             for x in guards]
        moved = [If(_land(g), moved, [], loc=ppath[-1].loc)]
    # moved loops keep their names unless the consumer band already has that name
    taken = {x.name for x in walk_stmts([cpath[0]]) if isinstance(x, For)}
    for x in walk_stmts(moved):
        if isinstance(x, For):
            if x.name in taken:
                x.name = _fresh(taken, f"{x.name}_{p.band}")
            taken.add(x.name)
    inner.body[0:0] = moved
    f.body.remove(ppath[0])
    return None
