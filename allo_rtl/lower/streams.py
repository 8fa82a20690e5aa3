"""Streams for hardware: IR rewriting and the static checks done before lowering.

* :func:`expand_block_streams` — a stream of blocks (``Stream[T[M, N], d]``)
  becomes a stream of elements of depth ``d * M * N``: a block ``put`` is a loop
  nest putting its elements in row-major order, a block ``get`` a loop nest
  storing them. The values a consumer sees are the same; the FIFO is one
  element wide.
* :func:`stream_directions` — which end of each Stream parameter a function
  holds (it puts into it, or gets from it; not both: a parameter is one end of a
  hardware FIFO).
* :func:`check_streams` — errors visible before simulation: an element type
  that differs across a call, and statically visible deadlocks (a kernel gets
  more elements than are ever put, or puts more than are taken plus the FIFO's
  depth), counted over loops with constant trip counts.
"""

from __future__ import annotations

import copy
import warnings

from ..errors import AlloError, AlloWarning
from ..ir.nodes import (CallStmt, Const, Decl, For, Function, If, Load, Module, Store,
                        StreamDecl, StreamGet, StreamPut, StreamRef, Var, While, walk_stmts)
from ..ir.streams import stream_accesses
from ..ir.types import Index, Stream

__all__ = ["expand_block_streams", "stream_directions", "check_streams"]

_IDX = Index()


# ---------------------------------------------------------------- blocks -> elements


def _elem_stream(t: Stream) -> Stream:
    n = 1
    for d in t.shape:
        n *= d
    return Stream(t.dtype, (), t.depth * n)


def expand_block_streams(module: Module) -> Module:
    """A copy of ``module`` where every stream of blocks is a stream of elements."""
    if not any(isinstance(getattr(p, "type", None), Stream) and p.type.is_block
               for f in module.funcs.values() for p in f.params) and not any(
            isinstance(s, StreamDecl) and s.type.is_block
            for f in module.funcs.values() for s in walk_stmts(f.body)):
        return module
    funcs = {}
    for name, f in module.funcs.items():
        g = copy.deepcopy(f)
        blocks = {p.name: p.type for p in g.params if p.is_stream and p.type.is_block}
        for p in g.params:
            if p.is_stream and p.type.is_block:
                p.type = _elem_stream(p.type)
        for s in walk_stmts(g.body):
            if isinstance(s, StreamDecl) and s.type.is_block:
                blocks[s.name] = s.type
                s.type = _elem_stream(s.type)
        counter = [0]
        g.body = _expand_body(g.body, blocks, counter)
        funcs[name] = g
    return Module(funcs, module.top)


def _expand_body(body: list, blocks: dict, counter: list) -> list:
    out = []
    for s in body:
        if isinstance(s, (StreamPut, StreamGet)) and s.stream in blocks:
            out.extend(_element_loops(s, blocks[s.stream], counter))
            continue
        for attr in ("body", "then", "orelse"):
            if isinstance(getattr(s, attr, None), list):
                setattr(s, attr, _expand_body(getattr(s, attr), blocks, counter))
        out.append(s)
    return out


def _element_loops(s, t: Stream, counter: list) -> list:
    k = counter[0]
    counter[0] += 1
    ivs = [f"__sb{k}_{d}" for d in range(len(t.shape))]
    idx = tuple(Var(v, _IDX) for v in ivs)
    pre = []
    if isinstance(s, StreamPut):
        ref = s.value
        inner = [StreamPut(s.stream, Load(ref.buf, tuple(ref.prefix) + idx, t.dtype, s.loc), s.loc)]
    elif s.dst is None:
        inner = [StreamGet(s.stream, None, s.loc)]
    else:
        tmp = f"__se{k}"
        pre = [Decl(tmp, t.dtype, (), loc=s.loc)]
        inner = [StreamGet(s.stream, tmp, s.loc), Store(s.dst, idx, Var(tmp, t.dtype), s.loc)]
    for v, n in reversed(list(zip(ivs, t.shape))):
        inner = [For(v, Const(0, _IDX), Const(n, _IDX), 1, inner, name=v, loc=s.loc)]
    return pre + inner


# ---------------------------------------------------------------- directions


def stream_directions(module: Module, f: Function) -> dict:
    """``{Stream parameter: "put" | "get"}`` of ``f`` (unused parameters are absent)."""
    out = {}
    acc = stream_accesses(module, f)
    for p in f.params:
        if not p.is_stream or p.name not in acc:
            continue
        kinds = acc[p.name]
        if len(kinds) > 1:
            raise AlloError(
                f"{f.name} both puts into and gets from its stream parameter {p.name!r}; in "
                "hardware a stream parameter is one end of a FIFO", kinds["get"],
                "use two streams, or a stream declared inside the kernel for a loop-back")
        out[p.name] = next(iter(kinds))
    return out


# ---------------------------------------------------------------- static checks


def _trip(s: For):
    if isinstance(s.lb, Const) and isinstance(s.ub, Const):
        return len(range(s.lb.value, s.ub.value, s.step))
    return None


def _count(module: Module, body: list, stream: str, kind: str, memo: dict):
    """How many elements ``body`` puts into / gets from ``stream`` (None: not known)."""
    n = 0
    for s in body:
        c = 0
        if isinstance(s, StreamPut if kind == "put" else StreamGet) and s.stream == stream:
            c = 1
        elif isinstance(s, For):
            inner = _count(module, s.body, stream, kind, memo)
            trip = _trip(s)
            c = None if inner is None or (inner and trip is None) else inner * (trip or 0)
        elif isinstance(s, If):
            a = _count(module, s.then, stream, kind, memo)
            b = _count(module, s.orelse, stream, kind, memo)
            c = a if a == b else None
        elif isinstance(s, While):
            c = 0 if _count(module, s.body, stream, kind, memo) == 0 else None
        elif isinstance(s, CallStmt) and s.callee in module.funcs:
            callee = module.funcs[s.callee]
            for a, p in zip(s.args, callee.params):
                if isinstance(a, StreamRef) and a.stream == stream:
                    key = (callee.name, p.name, kind)
                    if key not in memo:
                        memo[key] = _count(module, callee.body, p.name, kind, memo)
                    c = None if c is None or memo[key] is None else c + memo[key]
        if c is None:
            return None
        n += c
    return n


def _check_call_types(module: Module, f: Function, streams: dict):
    for s in walk_stmts(f.body):
        if not (isinstance(s, CallStmt) and s.callee in module.funcs):
            continue
        for a, p in zip(s.args, module.funcs[s.callee].params):
            if not isinstance(a, StreamRef):
                continue
            t = streams.get(a.stream)
            if t is not None and (t.dtype.name != p.type.dtype.name or t.shape != p.type.shape):
                raise AlloError(
                    f"stream {a.stream!r} carries {t.dtype}{list(t.shape) if t.shape else ''} "
                    f"but {s.callee} takes {p.name!r} as {p.type}", a.loc or s.loc,
                    "declare both ends with the same element type (cast the values you put)")


def _access_loc(module: Module, f: Function, stream: str, kind: str):
    """The kernel line of the first ``kind`` access of ``stream`` in ``f``, looking into the
    functions it passes the stream to."""
    for s in walk_stmts(f.body):
        if isinstance(s, StreamPut if kind == "put" else StreamGet) and s.stream == stream:
            return s.loc
        if isinstance(s, CallStmt) and s.callee in module.funcs:
            callee = module.funcs[s.callee]
            for a, p in zip(s.args, callee.params):
                if isinstance(a, StreamRef) and a.stream == stream:
                    loc = _access_loc(module, callee, p.name, kind)
                    if loc is not None:
                        return loc
    return None


def check_streams(module: Module) -> None:
    """Raise an AlloError for stream errors that are visible before simulation (see the
    module docstring); warn when elements are left in a FIFO at the end."""
    memo: dict = {}
    for f in module.funcs.values():
        streams = {p.name: p.type for p in f.params if p.is_stream}
        decls = [s for s in walk_stmts(f.body) if isinstance(s, StreamDecl)]
        streams.update({d.name: d.type for d in decls})
        _check_call_types(module, f, streams)
        for d in decls:
            puts = _count(module, f.body, d.name, "put", memo)
            gets = _count(module, f.body, d.name, "get", memo)
            if puts is None or gets is None:
                continue
            acc = {k: _access_loc(module, f, d.name, k) for k in ("put", "get")}
            if gets > puts:
                raise AlloError(
                    f"deadlock: {gets} elements are taken from stream {d.name!r} but only "
                    f"{puts} are ever put into it; the reader waits forever",
                    acc.get("get") or d.loc,
                    "make the producer put as many elements as the consumer gets")
            if puts > gets + d.type.depth:
                raise AlloError(
                    f"deadlock: {puts} elements are put into stream {d.name!r} (depth "
                    f"{d.type.depth}) but only {gets} are taken; the writer waits forever once "
                    "the FIFO is full", acc.get("put") or d.loc,
                    "make the consumer get as many elements as the producer puts")
            if puts > gets:
                warnings.warn(AlloWarning(
                    f"{d.loc}: {puts - gets} element(s) stay in stream {d.name!r} at the end "
                    f"of {f.name} ({puts} put, {gets} taken)"), stacklevel=3)
