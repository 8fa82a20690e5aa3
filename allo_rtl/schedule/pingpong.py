"""Task-level pipelining: ``s.dataflow`` on a loop, and ping-pong buffers between calls.

A body made of calls (a loop body, or a function body under ``s.dataflow("F")``)
becomes a dataflow region in which every call is a concurrent kernel (a *stage*):

    for f in range(K):                      region F_f_df(A, C) dataflow {
        t: int32[N]                            t: int32[2, N]            # ping-pong buffer
        load(A[f], t)                          t_full1: stream<u1, 2>    # bank filled
        work(t, C[f])                          t_free1: stream<u1, 2>    # bank released
                                               call F_f_df_load(A, t, t_full1, t_free1)
                                               call F_f_df_work(t, C, t_full1, t_free1)
                                            }

Each stage runs the whole loop for its one call: ``for f in range(K)`` around
the call, so the stages of different iterations overlap (load of frame f+1
while work runs on frame f). An array declared in the body and passed from the
call that writes it (the producer) to later calls that only read it (the
consumers) is a **ping-pong buffer**: two banks (one when the body runs once),
the producer writing bank ``it % 2`` while consumers read the other one. Two
token streams per consumer keep the banks apart: the producer puts into
``full`` when a bank is written, a consumer gets from it before reading and
puts into ``free`` when done; the producer takes a ``free`` token before it
writes a bank for the third time. The tokens are ordinary streams, so the
interpreter and the RTL (FIFOs, freeze on a blocked get) run the same program.

A top-level loop nest of the body is first outlined into a function of its own
(``<F>_<band>``, taking the arrays, streams and scalars it uses), as an HLS
dataflow process would be, and is a stage like a call.

Ping-pong buffers are for arrays declared in the body (or declared by the
function, used only by these calls and entirely overwritten by their producer)
that are written by their first user only and read by the later ones. Every
other array passed between stages (two writers, read before written, an array
parameter written by one stage and read by another, values carried from one
iteration to the next) is shared by its users **taking turns**: a ring of
one-token streams lets each user run only after the previous one (in program
order, the first user of iteration ``it`` after the last user of ``it - 1``), so
the program's meaning is kept but those stages do not overlap (an
:class:`AlloWarning` says so). All waits point to an earlier (iteration, stage),
so the region cannot deadlock.

The body may hold only array declarations, calls and loop nests (no scalar
code); call arguments other than arrays and streams use only constants, the
loop variable and (for a loop) scalars of the function, which stay constant
while the loop runs: they become scalar inputs of the region and of its
stages. A body-declared buffer is re-initialised (zero, or its initial value)
by its first user at every iteration unless that user provably writes every
element before reading any (:func:`~allo_rtl.ir.access.body_overwrites`).
Anything else is an :class:`AlloError` at the kernel line, with what to do.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import AlloError, AlloWarning, Loc
from ..ir.access import array_accesses, body_overwrites, mentions
from ..ir.nodes import (Assign, BinOp, BufRef, CallStmt, Const, Decl, Expr, For, Function, If,
                        Load, Module, Param, Return, Store, StreamDecl, StreamGet, StreamPut,
                        StreamRef, Var, While, stmt_exprs, walk_exprs, walk_stmts)
from ..ir.transform import fresh_name
from ..ir.types import Index, Stream, UInt

__all__ = ["dataflow_loop", "dataflow_body"]

_TOKEN = UInt(1)
_IDX = Index()


@dataclass
class _Array:
    """An array the calls of the body use."""

    name: str
    type: object
    shape: tuple
    decl: object = None  # the Decl when the body (or a promotable outer Decl) declares it
    users: list = field(default_factory=list)  # [(call index, arg, param, reads, writes)]
    local: bool = False  # declared in the body
    pingpong: bool = False  # a buffer of the region (one or two banks)
    fill: bool = False  # the producer re-initialises it each iteration
    ring: list = field(default_factory=list)  # call indices taking turns on it, if any


def _vars(e) -> set:
    return {x.name for x in walk_exprs(e) if isinstance(x, Var)}


def _loc_of(*xs):
    for x in xs:
        loc = getattr(x, "loc", None)
        if loc is not None:
            return loc
    return None


class _Planner:
    """Checks a body of calls and builds its region (see the module docstring)."""

    def __init__(self, module: Module, f: Function, body: list, loop: For | None, loc: Loc | None):
        self.module, self.f, self.loop, self.loc = module, f, loop, loc
        self.funcs = dict(module.funcs)  # plus the loop nests outlined into stage functions
        self.outlined: list = []
        self.what = (f"s.dataflow of loop {loop.name or loop.var!r}" if loop is not None
                     else f"s.dataflow({f.name!r})")
        self.body = list(body)
        self.trip = self._trip() if loop is not None else 1
        self.allowed_vars = {loop.var} if loop is not None else set()
        # scalars of the function used by the loop body (constant while the loop runs: the
        # body only calls): parameters of the region and of the stages that use them
        self.scalars: dict = {}
        self.calls: list = []
        self.arrays: dict = {}
        self.streams: list = []  # StreamDecls moved into the region

    def fail(self, msg, at, hint):
        raise AlloError(f"{self.what}: {msg}", _loc_of(at) or self.loc, hint)

    def _trip(self) -> int:
        lp = self.loop
        if not (isinstance(lp.lb, Const) and isinstance(lp.ub, Const)):
            self.fail("the loop bounds are not compile-time constants", lp,
                      "task-level pipelining needs a constant trip count: use constant bounds")
        n = len(range(lp.lb.value, lp.ub.value, lp.step))
        if n < 1:
            self.fail("the loop never runs", lp, "remove the loop or the s.dataflow call")
        return n

    # ------------------------------------------------------------ analysis

    def plan(self):
        outer = self._outer_arrays()
        self._outline_loops(outer)
        for s in self.body:
            if isinstance(s, Decl) and s.shape:
                self.arrays[s.name] = _Array(s.name, s.type, tuple(s.shape), s, local=True)
            elif isinstance(s, StreamDecl):
                if self.loop is not None:
                    self.fail(f"the loop body declares stream {s.name!r}", s,
                              "declare the stream before the loop (in the function body)")
                self.streams.append(s)
            elif isinstance(s, CallStmt):
                self.calls.append(s)
            elif isinstance(s, Return) and not s.values and s is self.body[-1]:
                continue
            elif isinstance(s, (Decl, Assign)):
                self.fail(f"{'the loop body' if self.loop else self.f.name} computes the scalar "
                          f"{s.name!r}; a dataflow region holds only array and stream "
                          "declarations and calls", s, "compute it inside a called function, "
                          "or make it a compile-time constant")
            else:
                kind = type(s).__name__.lower()
                where = (f"the loop body holds a {kind} statement" if self.loop is not None
                         else f"{self.f.name} has a {kind} statement in its body")
                self.fail(f"{where}; a dataflow region "
                          "holds only array and stream declarations and calls", s,
                          "move this code into a function that the region calls")
        if not self.calls:
            self.fail("the body calls no function", self.loop or self.f,
                      "s.dataflow makes the calls of a body concurrent: put the stages in "
                      "functions and call them")
        acc = array_accesses(Module(self.funcs, self.module.top))
        for i, c in enumerate(self.calls):
            self._check_call(i, c, acc, outer)
        for a in self.arrays.values():
            self._classify(a)
        if self.loop is not None:
            inside = set(map(id, walk_stmts(self.loop.body)))
            moved = {d.name for d in self.streams}
            for s in walk_stmts(self.f.body):
                name = _uses_stream(s, moved) if id(s) not in inside else None
                if name is not None:
                    self.fail(f"stream {name!r} is also used outside the loop", s,
                              "give the code outside the loop its own stream")
        return self

    def _outer_arrays(self) -> dict:
        """Arrays of the function visible in the body: parameters and, for a loop,
        declarations outside it. name -> (type, shape, Decl or None)."""
        out = {p.name: (p.type, tuple(p.shape), None) for p in self.f.params if p.is_tensor}
        if self.loop is not None:
            inside = set(map(id, walk_stmts(self.loop.body)))
            for s in walk_stmts(self.f.body):
                if isinstance(s, Decl) and s.shape and id(s) not in inside:
                    out[s.name] = (s.type, tuple(s.shape), s)
        return out

    def _outline_loops(self, outer):
        """Every top-level loop nest of the body becomes a call of a new function (a stage,
        as an HLS dataflow process); its arrays, streams and free variables are passed."""
        arrays = {n: (t, shape) for n, (t, shape, _) in outer.items()}
        arrays.update({s.name: (s.type, tuple(s.shape)) for s in self.body
                       if isinstance(s, Decl) and s.shape})
        streams = {n: d.type for n, d in self._outer_streams().items()}
        streams.update({s.name: s.type for s in self.body if isinstance(s, StreamDecl)})
        streams.update({p.name: p.type for p in self.f.params if p.is_stream})
        used = set(self.funcs) | set(self.module.funcs)
        for k, s in enumerate(self.body):
            if not isinstance(s, For):
                continue
            params, args = [], []
            local = {x.name for x in walk_stmts([s]) if isinstance(x, Decl)}
            local |= {x.var for x in walk_stmts([s]) if isinstance(x, For)}
            for x in walk_stmts([s]):
                if isinstance(x, Assign) and x.name not in local:
                    self.fail(f"the loop {s.name or s.var!r} assigns {x.name!r}, a variable of "
                              f"{self.f.name}; stages of a dataflow region share arrays and "
                              "streams only", x, f"declare {x.name!r} inside the loop, or keep "
                              "the value in a one-element array")
            for name, kind, node in _free_names(s, local):
                if any(p.name == name for p in params):
                    continue
                if kind == "array" and name in arrays:
                    t, shape = arrays[name]
                    params.append(Param(name, t, shape, None, s.loc))
                    args.append(BufRef(name, (), s.loc))
                elif kind == "stream" and name in streams:
                    params.append(Param(name, streams[name], (), None, s.loc))
                    args.append(StreamRef(name, s.loc))
                elif kind == "var" and (name in self.allowed_vars
                                        or self._outer_scalar(name, node.type)):
                    params.append(Param(name, node.type, (), None, s.loc))
                    args.append(Var(name, node.type, s.loc))
                else:
                    ok = (f"the loop variable {self.loop.var!r}" if self.loop is not None
                          else "no scalar")
                    self.fail(f"the loop {s.name or s.var!r} uses {name!r}, computed outside "
                              f"it; a stage of a dataflow region can use {ok} from outside",
                              node if getattr(node, "loc", None) else s,
                              f"compute {name!r} inside the loop, or keep it in an array")
            name = fresh_name(used, f"{self.f.name}_{s.band or s.name or s.var}")
            g = Function(name, params, [], [s], s.loc, {})
            self.funcs[name] = g
            self.outlined.append(g)
            self.body[k] = CallStmt(name, args, [], s.loc)

    def _outer_streams(self) -> dict:
        if self.loop is None:
            return {s.name: s for s in self.streams}
        inside = set(map(id, walk_stmts(self.loop.body)))
        return {s.name: s for s in walk_stmts(self.f.body)
                if isinstance(s, StreamDecl) and id(s) not in inside}

    def _check_call(self, i, c: CallStmt, acc, outer):
        callee = self.funcs.get(c.callee)
        if callee is None:
            self.fail(f"{c.callee} is not a function of this schedule", c, "call a kernel function")
        if c.outs:
            self.fail(f"the call of {c.callee} receives a result; calls in a dataflow region "
                      "return nothing", c, f"make {c.callee} write its output into an array "
                      "parameter")
        if callee.attrs.get("dataflow"):
            self.fail(f"{c.callee} is itself a dataflow region", c,
                      "call its kernels directly, or keep the calls sequential")
        streams = self._outer_streams()
        for a, p in zip(c.args, callee.params):
            if isinstance(a, StreamRef):
                if a.stream not in streams:
                    self.fail(f"stream {a.stream!r} is a parameter of {self.f.name}", a or c,
                              "declare the stream in the function that holds the dataflow body")
                if self.loop is not None and streams[a.stream] not in self.streams:
                    self.streams.append(streams[a.stream])
                continue
            if isinstance(a, BufRef):
                for e in a.prefix:
                    self._check_scalar(e, c, f"the index of {a.buf!r} passed to {c.callee}")
                if a.buf not in self.arrays:
                    if a.buf not in outer:
                        self.fail(f"array {a.buf!r} is not visible to the dataflow body", a, "")
                    t, shape, decl = outer[a.buf]
                    self.arrays[a.buf] = _Array(a.buf, t, shape, decl)
                r, w = acc[c.callee][p.name]
                self.arrays[a.buf].users.append((i, a, p, r, w))
                continue
            self._check_scalar(a, c, f"argument {p.name!r} of {c.callee}")

    def _outer_scalar(self, name, t) -> bool:
        """Record ``name``, a scalar of the function, as an input of the region (loops only)."""
        if self.loop is None or name in self.arrays:
            return False
        self.scalars.setdefault(name, t)
        return True

    def _check_scalar(self, e: Expr, c, what):
        bad = {x.name for x in walk_exprs(e) if isinstance(x, Var)
               and x.name not in self.allowed_vars and not self._outer_scalar(x.name, x.type)}
        if bad:
            name = sorted(bad)[0]
            ok = f"the loop variable {self.loop.var!r} and constants" if self.loop else "constants"
            self.fail(f"{what} uses the variable {name!r}; stages of a dataflow region can "
                      f"only use {ok}", _loc_of(e, c),
                      f"compute {name!r} inside {c.callee}, or pass it in a one-element array")

    def _classify(self, a: _Array):
        if not a.users:  # declared in the body, used by nothing: drop it
            return
        writers = [u for u in a.users if u[4]]
        calls = {u[0] for u in a.users}
        if a.local and (not writers or len(calls) == 1):
            # private to one stage (or only read): re-created at each iteration all the same
            a.pingpong = True
            self._fill(a, writers[0] if writers else a.users[0])
            return
        if not writers or len(calls) == 1:
            return
        first = a.users[0]
        later = [u for u in a.users if u[0] != first[0]]
        if first[4] and not any(u[4] for u in later):
            if a.local:  # one producer, read-only consumers: a ping-pong buffer
                a.pingpong = True
                self._fill(a, first)
                return
            # an array of the function passed between stages: a ping-pong buffer only when
            # nothing else sees it and the producer overwrites it (old values are never read)
            if (a.decl is not None and self.loop is not None
                    and not self._used_outside(a.name)
                    and all(not u[1].prefix for u in a.users if u[0] == first[0])
                    and self._overwritten(first)):
                a.pingpong, a.local = True, True
                return
        # anything else: the users take turns (see _ring); correct, but they do not overlap
        a.ring = sorted(calls)
        if a.local:
            a.pingpong = True  # a buffer of the region (one bank: the users take turns)
            self._fill(a, first)
        names = ", ".join(self.calls[k].callee for k in a.ring)
        warnings.warn(AlloWarning(
            f"{self.calls[later[0][0]].loc or self.loc}: {self.what}: {names} take turns on "
            f"array {a.name!r} (it is not one producer followed by readers, so it cannot be "
            "double-buffered): these stages do not overlap"), stacklevel=4)

    def _used_outside(self, name) -> bool:
        """Is array ``name`` accessed by a statement of the function outside the loop?"""
        inside = set(map(id, walk_stmts([self.loop])))
        for s in walk_stmts(self.f.body):
            if id(s) in inside or (isinstance(s, Decl) and s.name == name):
                continue
            if isinstance(s, (For, If, While)):  # their own expressions only; bodies are visited
                if any(isinstance(x, Load) and x.buf == name
                       for e in stmt_exprs(s) for x in walk_exprs(e)):
                    return True
            elif mentions(s, name):
                return True
        return False

    def _overwritten(self, user) -> bool:
        _, arg, p, _, _ = user
        callee = self.funcs[self.calls[user[0]].callee]
        return not arg.prefix and body_overwrites(callee.body, p.name, tuple(p.shape))

    def _fill(self, a: _Array, producer):
        d = a.decl
        if isinstance(d.init, BufRef):
            self.fail(f"array {a.name!r} is initialised from {d.init.buf!r}", d,
                      "copy it inside the producer function instead")
        if isinstance(d.init, Expr):
            self._check_scalar(d.init, self.calls[producer[0]], f"the initial value of {a.name!r}")
        a.fill = not self._overwritten(producer) if producer[4] else True

    # ------------------------------------------------------------ construction

    def build(self, region_name: str) -> tuple:
        """(region Function, stage Functions, [array names passed from the caller])."""
        used = set(self.funcs) | {region_name}
        names = {s.name for s in self.streams} | set(self.arrays)
        pp = [a for a in self.arrays.values() if a.pingpong and a.users and not a.ring]
        banks = {}
        tokens = {}  # (array, consumer call) -> (full, free)
        turns = {}  # array -> ([stream from its k-th user to the next], stream back or None)
        for a in self.arrays.values():
            if a.ring:
                banks[a.name] = 1
                edges = [fresh_name(names, f"{a.name}_turn{k}") for k in a.ring[1:]]
                back = fresh_name(names, f"{a.name}_turn{a.ring[0]}") if self.trip > 1 else None
                turns[a.name] = (edges, back)
        for a in pp:
            consumers = sorted({u[0] for u in a.users} - {a.users[0][0]})
            banks[a.name] = 2 if self.trip > 1 and consumers else 1
            for c in consumers:
                full = fresh_name(names, f"{a.name}_full{c}")
                free = fresh_name(names, f"{a.name}_free{c}")
                tokens[(a.name, c)] = (full, free)
        body: list = list(self.streams)
        for (arr, c), (full, free) in tokens.items():
            t = Stream(_TOKEN, (), banks[arr])
            body += [StreamDecl(full, t, self.loc), StreamDecl(free, t, self.loc)]
        for edges, back in turns.values():
            body += [StreamDecl(e, Stream(_TOKEN, (), 1), self.loc)
                     for e in edges + ([back] if back else [])]
        for a in self.arrays.values():
            if a.pingpong and a.users:
                shape = ((2,) if banks[a.name] == 2 else ()) + a.shape
                body.append(Decl(a.name, a.type, shape, loc=a.decl.loc))
        ext = [n for n, a in self.arrays.items() if a.users and not a.pingpong]
        stages = []
        for i, c in enumerate(self.calls):
            stage = self._stage(i, c, pp, banks, tokens, turns, used, region_name)
            if stage is None:
                body.append(CallStmt(c.callee, list(c.args), [], c.loc))
                continue
            stages.append(stage)
            body.append(CallStmt(stage.name, _args(stage.params, c.loc), [], c.loc))
        params = []
        for n in ext:
            a = self.arrays[n]
            params.append(Param(n, a.type, a.shape, None, a.decl.loc if a.decl else None))
        params += [Param(n, t, (), None, self.loop.loc) for n, t in self.scalars.items()]
        if self.loop is None:
            params = [Param(p.name, p.type, p.shape, p.memory, p.loc) for p in self.f.params]
        region = Function(region_name, params, [], body, self.f.loc, {"dataflow": True})
        return region, stages, params

    def _stage(self, i, c, pp, banks, tokens, turns, used, region_name):
        """The kernel running call ``i`` (None: the call itself can be the kernel)."""
        callee = self.funcs[c.callee]
        mine = [a for a in pp if any(u[0] == i for u in a.users)]
        rings = [a for a in self.arrays.values() if i in a.ring]
        scalars = any(not isinstance(a, (BufRef, StreamRef)) for a in c.args)
        prefixes = any(isinstance(a, BufRef) and a.prefix for a in c.args)
        if self.loop is None and not mine and not rings and not scalars and not prefixes:
            return None
        loc = c.loc
        params, seen = [], set()
        for a in c.args:
            if isinstance(a, BufRef) and a.buf not in seen:
                seen.add(a.buf)
                arr = self.arrays[a.buf]
                shape = ((2,) if banks.get(a.buf) == 2 else ()) + arr.shape
                params.append(Param(a.buf, arr.type, shape, None, loc))
            elif isinstance(a, StreamRef) and a.stream not in seen:
                seen.add(a.stream)
                p = callee.params[c.args.index(a)]
                params.append(Param(a.stream, p.type, (), None, loc))
        used_vars = set()
        for a in c.args:
            for e in (a.prefix if isinstance(a, BufRef) else () if isinstance(a, StreamRef)
                      else (a,)):
                used_vars |= _vars(e)
        for a in mine + rings:
            if a.fill and a.users[0][0] == i and isinstance(a.decl.init, Expr):
                used_vars |= _vars(a.decl.init)
        params += [Param(n, t, (), None, loc) for n, t in self.scalars.items() if n in used_vars]
        # the iteration counter: the loop variable itself when the loop counts 0, 1, ...
        # (a narrow register, see lower.kernel._loop_counter_bits), else a loop of its own
        lp = self.loop
        plain = lp is None or (lp.lb.value == 0 and lp.step == 1)
        it = lp.var if lp is not None and plain else "__it"
        ity = lp.lb.type if lp is not None else _IDX

        def bank():
            return BinOp("and", Var(it, ity, loc), Const(1, ity), ity, loc)

        before, after = [], []
        for a in mine:
            full_free = [(c2, tokens[(a.name, c2)]) for (n, c2) in tokens if n == a.name]
            if a.users[0][0] == i:  # the producer
                for c2, (full, free) in full_free:
                    params += [Param(full, Stream(_TOKEN, (), banks[a.name]), (), None, loc),
                               Param(free, Stream(_TOKEN, (), banks[a.name]), (), None, loc)]
                    if self.trip > banks[a.name]:
                        before.append(If(BinOp("ge", Var(it, ity, loc), Const(banks[a.name], ity),
                                               _TOKEN, loc), [StreamGet(free, None, loc)], [], loc))
                    after.append(StreamPut(full, Const(1, _TOKEN), loc))
                if a.fill:
                    before += self._fill_loops(a, bank() if banks[a.name] == 2 else None, loc)
            else:  # a consumer
                full, free = tokens[(a.name, i)]
                params += [Param(full, Stream(_TOKEN, (), banks[a.name]), (), None, loc),
                           Param(free, Stream(_TOKEN, (), banks[a.name]), (), None, loc)]
                before.append(StreamGet(full, None, loc))
                if self.trip > banks[a.name]:
                    after.append(If(BinOp("lt", Var(it, ity, loc),
                                          Const(self.trip - banks[a.name], ity), _TOKEN, loc),
                                    [StreamPut(free, Const(1, _TOKEN), loc)], [], loc))
        for a in rings:  # the users take turns: wait for the previous one, then pass on
            edges, back = turns[a.name]
            k, token = a.ring.index(i), Stream(_TOKEN, (), 1)
            if k > 0:
                params.append(Param(edges[k - 1], token, (), None, loc))
                before.append(StreamGet(edges[k - 1], None, loc))
            elif back is not None:
                params.append(Param(back, token, (), None, loc))
                before.append(If(BinOp("ge", Var(it, ity, loc), Const(1, ity), _TOKEN, loc),
                                 [StreamGet(back, None, loc)], [], loc))
            if k == 0 and a.fill:
                before += self._fill_loops(a, None, loc)
            if k < len(edges):
                params.append(Param(edges[k], token, (), None, loc))
                after.append(StreamPut(edges[k], Const(1, _TOKEN), loc))
            elif back is not None:
                params.append(Param(back, token, (), None, loc))
                after.append(If(BinOp("lt", Var(it, ity, loc), Const(self.trip - 1, ity),
                                      _TOKEN, loc), [StreamPut(back, Const(1, _TOKEN), loc)],
                                [], loc))
        args = []
        for a in c.args:
            if isinstance(a, BufRef) and banks.get(a.buf) == 2:
                args.append(BufRef(a.buf, (bank(),) + tuple(a.prefix), a.loc))
            else:
                args.append(a)
        inner = before + [CallStmt(c.callee, args, [], loc)] + after
        body = []
        if lp is not None and plain:
            body.append(For(lp.var, lp.lb, lp.ub, lp.step, inner, name=lp.name, loc=lp.loc))
        elif lp is not None:  # f = lb + it * step
            value = BinOp("add", BinOp("mul", Var(it, ity, loc), Const(lp.step, ity), ity, loc),
                          lp.lb, ity, loc)
            inner.insert(0, Decl(lp.var, ity, (), value, loc=lp.loc))
            body.append(For(it, Const(0, ity), Const(self.trip, ity), 1, inner, name=lp.name,
                            loc=lp.loc))
        else:
            body += inner
        name = fresh_name(used, f"{region_name}_{c.callee}")
        return Function(name, params, [], body, callee.loc, {})

    def _fill_loops(self, a: _Array, bank, loc) -> list:
        """Loops writing the initial value of ``a`` into the producer's bank."""
        d = a.decl
        out = []
        value = d.init
        src = None
        if isinstance(value, np.ndarray):
            src = f"{a.name}__init"
            out.append(Decl(src, a.type, a.shape, init=value, const=True, loc=d.loc))
        elif value is None:
            value = Const(0, a.type, d.loc)
        ivars = [f"__i{k}" for k in range(len(a.shape))]
        idx = tuple(Var(v, _IDX, loc) for v in ivars)
        val = Load(src, idx, a.type, loc) if src else value
        stmt = Store(a.name, ((bank,) if bank is not None else ()) + idx, val, d.loc)
        for k in reversed(range(len(a.shape))):
            stmt = For(ivars[k], Const(0, _IDX), Const(a.shape[k], _IDX), 1, [stmt],
                       name=ivars[k], loc=d.loc,
                       attrs={"pipeline": 1} if k == len(a.shape) - 1 else {})
        out.append(stmt)
        return out


def _args(params: list, loc) -> list:
    """The arguments passing the caller's own ``params`` (same names) to a callee."""
    return [StreamRef(p.name, loc) if p.is_stream else BufRef(p.name, (), loc) if p.is_tensor
            else Var(p.name, p.type, loc) for p in params]


def _free_names(s, local: set):
    """``(name, "array" | "stream" | "var", node)`` for what statement ``s`` uses from
    outside: arrays it loads, stores or passes, streams, and variables not in ``local``."""
    out = []
    for x in walk_stmts([s]):
        if isinstance(x, Store):
            out.append((x.buf, "array", x))
        elif isinstance(x, (StreamPut, StreamGet)):
            out.append((x.stream, "stream", x))
            if isinstance(x, StreamPut) and isinstance(x.value, BufRef):
                out.append((x.value.buf, "array", x))
            if isinstance(x, StreamGet) and x.dst is not None and x.dst not in local:
                out.append((x.dst, "array", x))  # a block get into an array (else an error)
        elif isinstance(x, CallStmt):
            for a in x.args:
                if isinstance(a, BufRef):
                    out.append((a.buf, "array", x))
                elif isinstance(a, StreamRef):
                    out.append((a.stream, "stream", x))
        elif isinstance(x, Decl) and isinstance(x.init, BufRef):
            out.append((x.init.buf, "array", x))
        for e in stmt_exprs(x):
            for y in walk_exprs(e):
                if isinstance(y, Load):
                    out.append((y.buf, "array", y))
                elif isinstance(y, Var) and y.name not in local:
                    out.append((y.name, "var", y))
    return out


def _uses_stream(s, names: set):
    """The stream of ``names`` that statement ``s`` itself puts into, gets from or passes."""
    if isinstance(s, (StreamPut, StreamGet)) and s.stream in names:
        return s.stream
    if isinstance(s, CallStmt):
        for a in s.args:
            if isinstance(a, StreamRef) and a.stream in names:
                return a.stream
    return None


def _insert_before(module: Module, before: str, funcs: list):
    """Insert ``funcs`` into the module just before function ``before`` (callees first)."""
    items = list(module.funcs.items())
    module.funcs.clear()
    for n, f in items:
        if n == before:
            for g in funcs:
                module.funcs[g.name] = g
        module.funcs[n] = f


def dataflow_loop(module: Module, f: Function, loop: For, loc: Loc | None) -> str:
    """``s.dataflow(loop)``: the loop becomes a call of a new dataflow region whose kernels
    run the loop's calls concurrently, iterations overlapping. Returns the region's name."""
    from .resolve import find_parent

    planner = _Planner(module, f, loop.body, loop, loc).plan()
    name = fresh_name(set(module.funcs), f"{f.name}_{loop.name or loop.var}_dataflow")
    region, stages, args = planner.build(name)
    _insert_before(module, f.name, planner.outlined + stages + [region])
    parent, i = find_parent(f.body, loop)
    parent[i] = CallStmt(name, _args(args, loop.loc), [], loop.loc)
    promoted = {a.decl for a in planner.arrays.values() if a.pingpong and a.decl is not None
                and not any(a.decl is s for s in loop.body)}
    moved = {id(s) for s in planner.streams}
    for s in list(walk_stmts(f.body)):
        if s in promoted or id(s) in moved:
            body, k = find_parent(f.body, s)
            del body[k]
    return name


def dataflow_body(module: Module, f: Function, loc: Loc | None) -> None:
    """``s.dataflow("F")``: F itself becomes the region (its body runs once)."""
    planner = _Planner(module, f, list(f.body), None, loc).plan()
    region, stages, _ = planner.build(f.name)
    _insert_before(module, f.name, planner.outlined + stages)
    f.body = region.body
    f.attrs["dataflow"] = True
