"""``s.to(array, consumer)`` and ``s.dataflow(func)``: FIFOs between the calls of a function
and task-level pipelining (a function whose calls run concurrently).

``s.to(tmp, "consumer", depth=-1)`` turns the local array ``tmp`` of a function F
(usually the top) into a stream (``StreamDecl``, depth -1 = one slot per element, as
in Allo). The one call before the consumer call that writes ``tmp`` (the producer)
and the consumer call then receive the stream; their callees are specialized (a
copy ``<callee>_<tmp>`` when the callee is also called elsewhere) so that the
parameter becomes a Stream parameter: its ``Store`` becomes a ``StreamPut``, its
``Load`` a ``StreamGet`` into a fresh scalar. This is only the same program when
the producer writes each element exactly once in row-major order and the consumer
reads each element exactly once in the same order; anything else is an AlloError at
the kernel line.

Without ``s.dataflow(F)``, F still runs its calls one after another, so the FIFO
must hold every element: a smaller depth is an error when the schedule is built
(:func:`check_sequential_depths`), since ``s.dataflow`` may still follow ``s.to``.

``s.dataflow("F")`` marks F as a dataflow region (``attrs["dataflow"]``, the IR of
``@df.region``): each call is a kernel instance, all of them run concurrently and
talk through F's streams and ping-pong buffers (arrays declared in F and passed
from one call to later ones). ``s.dataflow(loop)`` does the same for a loop body and
overlaps the iterations (task-level pipelining). Both are built by :mod:`.pingpong`;
the interpreter and the lowering of regions take it from there (the same callee
called twice is two instances).
"""

from __future__ import annotations

import copy
import weakref

from ..errors import AlloError, Loc
from ..ir.nodes import (BufRef, CallStmt, Decl, Expr, For, Function, If, Load, Math, Module, Param,
                        Return, Store, StreamDecl, StreamGet, StreamPut, StreamRef, Var, While,
                        stmt_exprs, walk_exprs, walk_stmts)
from ..ir.transform import fresh_name, map_stmt, used_names
from ..ir.types import Stream, is_dynamic
from .pingpong import dataflow_body, dataflow_loop
from .resolve import find_parent, resolve_buffer, resolve_loop

__all__ = ["to", "dataflow", "check_sequential_depths"]

#: stream declarations made by s.to -> (number of elements, location of the s.to call)
_TO_STREAMS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

_ORDER_HINT = ("s.to needs the producer to write every element exactly once, in row-major "
               "order, in a loop nest 'for i in range(n)' per dimension whose variables are "
               "the index (B[i, j]); and the consumer to read every element exactly once in "
               "the same order. Copy through a scalar, or keep the array")


def _count(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _loop_like(dst) -> bool:
    from .schedule import LoopBand, LoopHandle

    return isinstance(dst, (LoopHandle, LoopBand))


def _is_loop_name(module: Module, text) -> bool:
    """True for a loop name ("i", "f:i", "band.i", "f:band.i") of some function."""
    if not isinstance(text, str):
        return False
    fname, _, rest = text.rpartition(":")
    funcs = [module.funcs[fname]] if fname in module.funcs else list(module.funcs.values())
    names = {rest, rest.rpartition(".")[2]}
    return any(isinstance(s, For) and (s.name in names or s.band in names)
               for f in funcs for s in walk_stmts(f.body))


def _func_name(module: Module, dst, loc, prim: str) -> str | None:
    """The function named by ``dst`` (a name or a Python function)."""
    if callable(dst) and hasattr(dst, "__name__") and not isinstance(dst, str):
        dst = dst.__name__
    if isinstance(dst, str) and dst in module.funcs:
        return dst
    return None


# ---------------------------------------------------------------- callee analysis


def _uses(f: Function, name: str):
    """``[(kind, stmt, node, path)]`` for every use of tensor ``name`` in ``f``: kind is
    "store", "load" or "other"; path is the list of statements enclosing ``stmt``."""
    out = []

    def visit(body, path):
        for s in body:
            if isinstance(s, Store) and s.buf == name:
                out.append(("store", s, s, path))
            for e in stmt_exprs(s):
                for x in walk_exprs(e):
                    if isinstance(x, Load) and x.buf == name:
                        out.append(("load", s, x, path))
            other = False
            if isinstance(s, (CallStmt, Return)):
                vals = s.args if isinstance(s, CallStmt) else s.values
                other = any(isinstance(a, BufRef) and a.buf == name for a in vals)
                if isinstance(s, CallStmt) and name in s.outs:
                    other = True
            elif isinstance(s, Decl) and isinstance(s.init, BufRef) and s.init.buf == name:
                other = True
            elif isinstance(s, StreamPut) and isinstance(s.value, BufRef) and s.value.buf == name:
                other = True
            elif isinstance(s, StreamGet) and s.dst == name:
                other = True
            if other:
                out.append(("other", s, s, path))
            if isinstance(s, (For, While)):
                visit(s.body, path + [s])
            elif isinstance(s, If):
                visit(s.then, path + [s])
                visit(s.orelse, path + [s])

    visit(f.body, [])
    return out


def _row_major(path: list, index: tuple, shape: tuple) -> str | None:
    """Why the access ``index`` under ``path`` is not one row-major sweep of ``shape``
    (None when it is)."""
    if any(not isinstance(p, For) for p in path):
        kind = type(next(p for p in path if not isinstance(p, For))).__name__.lower()
        return f"it is under an '{kind}' statement, so not every element is visited exactly once"
    if len(path) != len(shape):
        return (f"it is inside {len(path)} loop(s) but the array has {len(shape)} dimension(s), "
                "so it is not visited exactly once per element")
    for d, (loop, n) in enumerate(zip(path, shape)):
        lb, ub = loop.lb, loop.ub
        if not (getattr(lb, "value", None) == 0 and getattr(ub, "value", None) == n
                and type(lb).__name__ == "Const" and type(ub).__name__ == "Const"
                and loop.step == 1):
            return (f"loop {loop.name or loop.var!r} does not run 0..{n} with step 1 "
                    f"(dimension {d} of the array has {n} elements)")
        ix = index[d]
        if not (isinstance(ix, Var) and ix.name == loop.var):
            return (f"index {d} is not the loop variable {loop.var!r} of the loop at that depth "
                    "(row-major order needs B[i, j] with i the outer loop)")
    return None


def _check_callee(module: Module, call: CallStmt, k: int, role: str, array: str, shape):
    """Check that parameter ``k`` of ``call``'s callee is written (role "put") or read
    ("get") once per element in row-major order; return its single use."""
    callee = module.funcs[call.callee]
    p = callee.params[k]
    uses = _uses(callee, p.name)
    want = "store" if role == "put" else "load"
    verb = "write" if role == "put" else "read"
    where = f"{callee.name} (parameter {p.name!r}, receiving {array!r})"
    for kind, s, node, _ in uses:
        if kind == "other":
            raise AlloError(f"s.to({array!r}): {where} passes the array on or uses it whole; a "
                            "stream can only be put into or taken from element by element",
                            s.loc or call.loc, "inline that call (s.inline) or keep the array")
        if kind != want:
            raise AlloError(f"s.to({array!r}): {where} is the {'producer' if role == 'put' else 'consumer'}"
                            f" but it also {'reads' if kind == 'load' else 'writes'} the array; "
                            f"a FIFO end can only {verb}", node.loc or s.loc,
                            "keep the array, or copy the values you need into a local array")
    mine = [u for u in uses if u[0] == want]
    if len(mine) != 1:
        loc = mine[1][2].loc if len(mine) > 1 else callee.loc
        raise AlloError(f"s.to({array!r}): {where} must {verb} the array in exactly one place, "
                        f"but {'it has ' + str(len(mine)) + ' ' + want + 's' if mine else 'never does'}",
                        loc or call.loc, _ORDER_HINT)
    _, s, node, path = mine[0]
    if role == "get" and isinstance(s, While):
        raise AlloError(f"s.to({array!r}): {where} reads the array in a while condition, which "
                        "runs more than once", node.loc or s.loc, _ORDER_HINT)
    why = _row_major(path, tuple(node.index), tuple(shape))
    if why:
        raise AlloError(f"s.to({array!r}): {where} {verb}s {p.name}"
                        f"[{', '.join('?' for _ in shape)}] but {why}", node.loc or s.loc,
                        _ORDER_HINT)
    return mine[0]


def _specialize(module: Module, call: CallStmt, k: int, array: str) -> Function:
    """The callee of ``call``, copied under a new name when other calls use it too."""
    callee = module.funcs[call.callee]
    ncalls = sum(1 for f in module.funcs.values() for s in walk_stmts(f.body)
                 if isinstance(s, CallStmt) and s.callee == callee.name)
    if ncalls == 1:
        return callee
    g = copy.deepcopy(callee)
    g.name = fresh_name(set(module.funcs), f"{callee.name}_{array}")
    funcs = {}
    for n, f in module.funcs.items():  # keep callees before callers
        funcs[n] = f
        if n == callee.name:
            funcs[g.name] = g
    module.funcs.clear()
    module.funcs.update(funcs)
    call.callee = g.name
    return g


def _to_put(g: Function, k: int, stype: Stream, use):
    _, s, _, _ = use
    body, i = find_parent(g.body, s)
    body[i] = StreamPut(g.params[k].name, s.value, s.loc)


_EXPR_FIELDS = ("lhs", "rhs", "operand", "value", "cond", "tval", "fval", "bit", "lo", "new")


def _subst(e: Expr, old: Expr, new: Expr) -> Expr:
    """``e`` with the node ``old`` (by identity) replaced by ``new``, in place."""
    if e is old:
        return new
    for fld in _EXPR_FIELDS:
        v = getattr(e, fld, None)
        if isinstance(v, Expr):
            setattr(e, fld, _subst(v, old, new))
    if isinstance(e, Load):
        e.index = tuple(_subst(i, old, new) for i in e.index)
    elif isinstance(e, Math):
        e.args = tuple(_subst(a, old, new) for a in e.args)
    return e


def _to_get(g: Function, k: int, stype: Stream, use):
    _, s, load, _ = use
    p = g.params[k]
    tmp = fresh_name(used_names(g), f"{p.name}_elem")
    var = Var(tmp, load.type, load.loc)
    map_stmt(s, lambda e: _subst(e, load, var))
    body, i = find_parent(g.body, s)
    body.insert(i, StreamGet(p.name, tmp, load.loc or s.loc))
    g.body.insert(0, Decl(tmp, load.type, (), loc=load.loc or s.loc))


# ---------------------------------------------------------------- s.to


def to(module: Module, target, dst, depth, loc: Loc | None):
    """``s.to(array, consumer_function, depth=-1)`` (see the module docstring)."""
    fname = _func_name(module, dst, loc, "to")
    if fname is None:
        if _loop_like(dst) or _is_loop_name(module, dst):
            raise AlloError(f"s.to: the consumer {getattr(dst, 'name', dst)!r} is a loop; only "
                            "functions are supported as consumers of s.to(array, consumer)", loc,
                            "move the consumer loop into a function, call it, and pass the "
                            "function's name: s.to(s.tmp, \"consumer\")")
        raise AlloError(f"s.to: the consumer {dst!r} is not a function of this schedule", loc,
                        "pass the name of the function that reads the array, e.g. "
                        f"s.to(s.tmp, \"consumer\"); functions: {', '.join(module.funcs)}")
    if not (isinstance(depth, int) and not isinstance(depth, bool)) or depth == 0 or depth < -1:
        raise AlloError(f"s.to: depth must be a positive integer (or -1: one slot per element), "
                        f"not {depth!r}", loc, "pass e.g. depth=2")
    ref = resolve_buffer(module, target, loc, "to")
    f, array = ref.func, ref.name
    if ref.is_param:
        raise AlloError(f"s.to: {f.name}:{array} is a parameter; s.to streams a local array of "
                        "a function between two of its calls", loc,
                        f"declare the intermediate array inside {f.name} and pass that")
    decl = ref.decl
    if decl not in f.body:
        raise AlloError(f"s.to: array {array!r} is declared inside a loop or branch of "
                        f"{f.name}", decl.loc or loc,
                        "declare it at the top level of the function")
    if f.attrs.get("dataflow"):
        raise AlloError(f"s.to: {f.name} is already a dataflow region", loc,
                        "apply s.to before s.dataflow")
    n = _count(ref.shape)
    if depth == -1:
        depth = n
    calls, others = [], []
    for s in walk_stmts(f.body):
        if s is decl:
            continue
        if isinstance(s, CallStmt) and any(isinstance(a, BufRef) and a.buf == array
                                           for a in s.args) and not (array in s.outs):
            calls.append(s)
    for kind, s, node, _ in _uses(f, array):
        if s not in calls:
            others.append((s, node))
    # the producer is the first call that receives the array; the consumer a later call
    cons = [c for c in calls[1:] if c.callee == fname] or [c for c in calls[:1]
                                                           if c.callee == fname]
    if not cons:
        raise AlloError(f"s.to: {f.name} never passes {array!r} to {fname}", loc,
                        f"calls of {f.name} that receive {array!r}: "
                        f"{', '.join(c.callee for c in calls) or '(none)'}")
    if len(cons) > 1:
        raise AlloError(f"s.to: {f.name} passes {array!r} to {fname} {len(cons)} times", cons[1].loc,
                        "a stream connects one producer call to one consumer call")
    consumer = cons[0]
    bad = others[0] if others else None
    if bad is None:
        extra = [c for c in calls if c is not consumer and c is not calls[0]]
        if extra or calls[0] is consumer:
            bad = ((extra or [consumer])[0], None)
    if bad is not None:
        s, _ = bad
        what = ("it is read before any call writes it" if s is consumer else
                f"{type(s).__name__ if not isinstance(s, CallStmt) else 'call ' + s.callee} "
                "also uses it")
        raise AlloError(f"s.to: {array!r} of {f.name} must be written by one call and read by "
                        f"the consumer {fname} only; {what}", s.loc or loc,
                        "a stream connects one producer call to one consumer call: give other "
                        "users their own array")
    producer = calls[0]
    for c in (producer, consumer):
        if c not in f.body:
            raise AlloError(f"s.to: the call of {c.callee} is inside a loop or branch of "
                            f"{f.name}", c.loc or loc,
                            "producer and consumer calls must be at the top level of the function")
    roles = []
    for c, role in ((producer, "put"), (consumer, "get")):
        ks = [k for k, a in enumerate(c.args) if isinstance(a, BufRef) and a.buf == array]
        if len(ks) != 1:
            raise AlloError(f"s.to: {c.callee} receives {array!r} {len(ks)} times", c.loc or loc,
                            "pass the array once")
        k = ks[0]
        arg, p = c.args[k], module.funcs[c.callee].params[k]
        if arg.prefix or tuple(p.shape) != tuple(ref.shape) or p.type != ref.type:
            raise AlloError(f"s.to: {c.callee} receives {array!r} as {p.name}: "
                            f"{p.type}{list(p.shape)}, not the whole {ref.type}"
                            f"{list(ref.shape)}", arg.loc or c.loc or loc,
                            "pass the whole array to a parameter of the same type and shape")
        if role == "put" and _uses(module.funcs[c.callee], p.name) and not any(
                u[0] == "store" for u in _uses(module.funcs[c.callee], p.name)):
            raise AlloError(f"s.to: {array!r} is first passed to {c.callee}, which only reads it; "
                            f"no call before {fname} writes it", c.loc or loc,
                            "the producer call must write the array before the consumer reads it")
        _check_callee(module, c, k, role, array, ref.shape)
        roles.append((c, k, role))
    # legal: rewrite
    stype = Stream(ref.type, (), depth)
    for c, k, role in roles:
        g = _specialize(module, c, k, array)
        use = _check_callee(module, c, k, role, array, ref.shape)  # nodes of the copy
        (_to_put if role == "put" else _to_get)(g, k, stype, use)
        p = g.params[k]
        g.params[k] = Param(p.name, stype, (), None, p.loc)
        c.args[k] = StreamRef(array, c.args[k].loc)
    sd = StreamDecl(array, stype, decl.loc)
    f.body[f.body.index(decl)] = sd
    _TO_STREAMS[sd] = (n, loc, producer.callee, consumer.callee)
    return None


def check_sequential_depths(module: Module) -> None:
    """A stream made by ``s.to`` in a function that runs its calls one after another must
    hold every element (else the producer blocks forever)."""
    for f in module.funcs.values():
        if f.attrs.get("dataflow"):
            continue
        for s in f.body:
            info = _TO_STREAMS.get(s) if isinstance(s, StreamDecl) else None
            if info is None:
                continue
            n, loc, prod, cons = info
            if s.type.depth < n:
                raise AlloError(
                    f"stream {s.name!r} (s.to) has depth {s.type.depth}, but {f.name} runs "
                    f"{prod} and then {cons} one after another, so the FIFO must hold all {n} "
                    f"elements ({s.name} is declared at {s.loc})", loc,
                    f"sequential producer/consumer need depth >= {n} (the default depth=-1), "
                    f"or make the calls concurrent with s.dataflow({f.name!r})")


# ---------------------------------------------------------------- s.dataflow


def dataflow(module: Module, target, loc: Loc | None):
    """``s.dataflow("F")`` or ``s.dataflow(loop)``: F (or the loop body) becomes a dataflow
    region (see the module docstring and :mod:`.pingpong`)."""
    if _loop_like(target) or (_func_name(module, target, loc, "dataflow") is None
                              and _is_loop_name(module, target)):
        ref = resolve_loop(module, target, loc, "dataflow")
        if ref.func.attrs.get("dataflow"):
            raise AlloError(f"s.dataflow: {ref.func.name} is a dataflow region; its loop "
                            f"{ref.loop.name!r} belongs to a kernel", loc,
                            "apply s.dataflow to a loop of a function that runs sequentially")
        dataflow_loop(module, ref.func, ref.loop, loc)
        return None
    fname = _func_name(module, target, loc, "dataflow")
    if fname is None:
        raise AlloError(f"s.dataflow: no function {target!r} in this schedule", loc,
                        f"functions: {', '.join(module.funcs)}")
    f = module.funcs[fname]
    if f.attrs.get("dataflow"):
        return None  # already a region (@df.region or an earlier s.dataflow)
    if f.results:
        raise AlloError(f"s.dataflow: {fname} returns a value; a dataflow region returns nothing",
                        f.loc or loc, "write the result into an array parameter of "
                        f"{fname} (passed by the caller) instead of returning it")
    for p in f.params:
        if p.is_stream or not p.is_tensor or is_dynamic(p.shape):
            what = ("a stream" if p.is_stream else "a scalar" if not p.is_tensor
                    else "a dynamic array")
            raise AlloError(f"s.dataflow: {fname} has {what} parameter {p.name!r}; the "
                            "parameters of a dataflow region must be arrays of compile-time "
                            "shape", p.loc or f.loc or loc,
                            "pass a scalar as a one-element array (int32[1]) or make it a "
                            "compile-time constant")
    dataflow_body(module, f, loc)
    return None
