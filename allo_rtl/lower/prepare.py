"""IR preparation for hardware: make every memory effect an explicit loop.

The interpreter gives tensors value semantics (a local tensor is created, and
filled, at its declaration; a returned tensor is copied out). Hardware needs
these steps as ordinary statements the block scheduler can see:

* a local tensor declaration with an initial value (or none: zero) becomes a
  declaration plus a fill loop nest; a copy-initialised one (``B: T[N] = A``)
  becomes a copy loop;
* a constant array initialiser that is never written becomes a ROM; one that is
  written gets a ROM plus a copy loop (the interpreter re-initialises it on every
  call);
* a returned tensor becomes a memory port of the kernel, ``__ret<k>``: when every
  ``return`` returns the same local tensor, that tensor *is* the port (no copy);
  otherwise the return copies into the port.

The result is a new :class:`Function` (the input IR is not modified).
"""

from __future__ import annotations

import copy

import numpy as np

from ..errors import AlloError
from ..ir.nodes import (Assign, BinOp, BufRef, CallStmt, Const, Decl, For, Function, If, Load, Module,
                        Return, Store, Var, While, ret_name, walk_stmts)
from ..ir.access import overwrites
from ..ir.rename import rename_buffer
from ..ir.types import Index

__all__ = ["prepare_module", "ret_name", "written_params"]


def written_params(module: Module) -> dict:
    """{function name: set of tensor parameters it (or a callee) may write}."""
    out: dict = {}
    for f in module.funcs.values():  # callees come first
        w = set()
        for s in walk_stmts(f.body):
            if isinstance(s, Store):
                w.add(s.buf)
            elif isinstance(s, CallStmt):
                callee = module.funcs[s.callee]
                for a, p in zip(s.args, callee.params):
                    if isinstance(a, BufRef) and p.name in out[s.callee]:
                        w.add(a.buf)
                w.update(o for o, r in zip(s.outs, callee.results) if r.is_tensor)
        out[f.name] = w
    return out


class _Prep:
    def __init__(self, f: Function, written: set):
        self.f = f
        self.written = written  # buffers of f that are written
        self.nfill = 0
        self.decls: dict = {}  # name -> Decl (post-preparation)
        self.roms: list = []  # extra ROM decls (hoisted)

    def nest(self, shape, body_fn, loc):
        """A loop nest over ``shape`` whose innermost body is ``body_fn(index vars)``."""
        k = self.nfill
        self.nfill += 1
        names = [f"__fill{k}_{d}" for d in range(len(shape))]
        idx = tuple(Var(n, Index()) for n in names)
        body = body_fn(idx)
        for d in reversed(range(len(shape))):
            # generated loops are pipelined at II=1 (innermost; outer ones flatten into it)
            attrs = {"pipeline": 1, "auto": True} if d == len(shape) - 1 else {}
            body = [For(names[d], Const(0, Index()), Const(shape[d], Index()), 1, body,
                        name=names[d], attrs=attrs, loc=loc)]
        return body

    def decl(self, s: Decl, nxt) -> list:
        if not s.shape:
            return [s]
        if s.stateful:
            raise AlloError(f"Stateful tensor '{s.name}' is not supported by the RTL target yet",
                            s.loc, "use target='sim' for kernels with Stateful state")
        d = copy.copy(s)
        d.init = None
        self.decls[s.name] = d
        init = s.init
        if isinstance(init, np.ndarray):
            if s.name not in self.written:
                d.init = init
                d.const = True
                return [d]
            rom = Decl(f"{s.name}__init", s.type, s.shape, init=init, const=True, loc=s.loc)
            self.roms.append(rom)
            return [d] + self.nest(s.shape, lambda ix: [
                Store(s.name, ix, Load(rom.name, ix, s.type), loc=s.loc)], s.loc)
        if isinstance(init, BufRef):
            src_rank = len(self._shape(init.buf)) - len(init.prefix)
            lead = len(s.shape) - src_rank

            def copy_body(ix):
                return [Store(s.name, ix, Load(init.buf, tuple(init.prefix) + ix[lead:], s.type),
                              loc=s.loc)]

            return [d] + self.nest(s.shape, copy_body, s.loc)
        # Skip the fill when the next statement overwrites the whole tensor before reading
        # it: the values could never be observed (HLS tools drop such dead stores too).
        if isinstance(nxt, CallStmt) and s.name in nxt.outs or overwrites(nxt, s.name, s.shape):
            return [d]
        if init is None:
            init = Const(0, s.type)
        return [d] + self.nest(s.shape, lambda ix: [Store(s.name, ix, init, loc=s.loc)], s.loc)

    def _shape(self, buf):
        p = self.f.param(buf)
        if p is not None:
            return p.shape
        if buf in self.decls:
            return self.decls[buf].shape
        for s in walk_stmts(self.f.body):
            if isinstance(s, Decl) and s.name == buf:
                return s.shape
        raise AssertionError(f"unknown buffer {buf}")

    def unroll(self, s: For, factor: int) -> list:
        """Unroll ``s`` by ``factor`` (0: fully). Each copy of the body starts by assigning
        the loop variable; in hardware the copies share one basic block, so the scheduler
        runs their operations in parallel where memory ports allow."""
        if not (isinstance(s.lb, Const) and isinstance(s.ub, Const)):
            raise AlloError(f"unroll= on loop '{s.name or s.var}' needs constant bounds",
                            s.loc, "split it first (s.split(axis, F)) and unroll the "
                            "constant-bound inner loop, or drop unroll=")
        vals = list(range(s.lb.value, s.ub.value, s.step))
        vt = s.lb.type

        def copy_with(value_expr):
            return [Assign(s.var, value_expr, loc=s.loc)] + copy.deepcopy(s.body)

        if factor == 0 or factor >= len(vals):
            out = []
            for v in vals:
                out += copy_with(Const(v, vt))
            return out
        outer = len(vals) // factor
        u = f"__unroll{self.nfill}"
        self.nfill += 1
        body = []
        for k in range(factor):
            idx = BinOp("add", BinOp("mul", Var(u, vt), Const(factor * s.step, vt), vt),
                        Const(s.lb.value + k * s.step, vt), vt)
            body += copy_with(idx)
        out = [For(u, Const(0, vt), Const(outer, vt), 1, body, name=u, loc=s.loc)]
        for v in vals[outer * factor:]:
            out += copy_with(Const(v, vt))
        return out

    def flat_body(self, s: For) -> list:
        """The body of pipelined loop ``s`` with every inner loop fully unrolled (as in
        HLS tools: pipelining a loop unrolls the loops inside it)."""
        out = []
        for x in s.body:
            if isinstance(x, For):
                if x.attrs.get("pipeline") and not x.attrs.get("auto"):
                    raise AlloError(
                        f"loop '{x.name or x.var}' is pipelined inside pipelined loop "
                        f"'{s.name or s.var}'", x.loc,
                        "pipeline only one of them (pipelining the outer loop unrolls the "
                        "inner one)")
                try:
                    copies = self.unroll(x, 0)
                except AlloError:
                    raise AlloError(
                        f"loop '{x.name or x.var}' inside pipelined loop '{s.name or s.var}' "
                        "must be fully unrolled, which needs constant bounds", x.loc,
                        "pipeline the inner loop instead, or give it constant bounds") from None
                out += self.flat_body(For(s.var, s.lb, s.ub, s.step, copies, s.name))
                continue
            if isinstance(x, If):
                y = copy.copy(x)
                y.then = self.flat_body(For(s.var, s.lb, s.ub, s.step, x.then, s.name))
                y.orelse = self.flat_body(For(s.var, s.lb, s.ub, s.step, x.orelse, s.name))
                out.append(y)
                continue
            if isinstance(x, (While, CallStmt, Return)):
                what = {While: "a while loop", CallStmt: f"a call to {getattr(x, 'callee', '')}",
                        Return: "a return"}[type(x)]
                raise AlloError(f"pipelined loop '{s.name or s.var}' contains {what}, which a "
                                "pipeline cannot overlap", x.loc,
                                "inline the callee (s.inline) or do not pipeline this loop")
            out.append(x)
        return out

    def ret(self, s: Return) -> list:
        out, vals = [], []
        for k, (v, spec) in enumerate(zip(s.values, self.f.results)):
            if not spec.is_tensor:
                vals.append(v)
                continue
            vals.append(None)
            if v.buf == ret_name(k):
                continue  # aliased: already in place
            shp = spec.shape
            lead = tuple(v.prefix)

            def body(ix, buf=v.buf, lead=lead, t=spec.type):
                return [Store(ret_name(k), ix, Load(buf, lead + ix, t), loc=s.loc)]

            out += self.nest(shp, body, s.loc)
        out.append(Return(vals, loc=s.loc))
        return out

    def block(self, body: list) -> list:
        res = []
        for i, s in enumerate(body):
            nxt = body[i + 1] if i + 1 < len(body) else None
            if isinstance(s, Decl):
                if s.stateful and not s.shape:
                    raise AlloError(f"Stateful variable '{s.name}' is not supported by the RTL "
                                    "target yet", s.loc,
                                    "use target='sim' for kernels with Stateful state")
                res += self.decl(s, nxt)
            elif isinstance(s, For):
                if "unroll" in s.attrs and s.attrs["unroll"] != 1:
                    res += self.block(self.unroll(s, s.attrs["unroll"]))
                    continue
                n = copy.copy(s)
                n.body = self.block(s.body)
                if s.attrs.get("pipeline"):
                    n.body = self.flat_body(n)
                res.append(n)
            elif isinstance(s, While):
                n = copy.copy(s)
                n.body = self.block(s.body)
                res.append(n)
            elif isinstance(s, If):
                n = copy.copy(s)
                n.then = self.block(s.then)
                n.orelse = self.block(s.orelse)
                res.append(n)
            elif isinstance(s, Return):
                res += self.ret(s)
            else:
                res.append(s)
        return res


def _alias_returns(f: Function) -> Function:
    """Rename a local tensor that every return returns (at the same position) to the
    result port's buffer name, so results are computed in place."""
    rets = [s for s in walk_stmts(f.body) if isinstance(s, Return)]
    decls = {s.name: s for s in walk_stmts(f.body) if isinstance(s, Decl)}
    renames = {}
    for k, spec in enumerate(f.results):
        if not spec.is_tensor or not rets:
            continue
        bufs = {(r.values[k].buf, tuple(r.values[k].prefix) == ()) for r in rets}
        if len(bufs) != 1:
            continue
        (buf, whole), = bufs
        d = decls.get(buf)
        if (not whole or d is None or d.stateful or tuple(d.shape) != tuple(spec.shape)
                or buf in renames or f.attrs.get("partition", {}).get(buf)):
            continue
        renames[buf] = ret_name(k)
    if not renames:
        return f
    g = copy.copy(f)
    g.body = copy.deepcopy(f.body)
    for old, new in renames.items():
        rename_buffer(g.body, old, new)
    return g


def prepare_module(module: Module) -> Module:
    """Return a copy of ``module`` with every function prepared for hardware."""
    written = written_params(module)
    funcs = {}
    for name, f in module.funcs.items():
        if f.attrs.get("dataflow"):
            # a region's arrays are buffers between its kernels: the kernels write them
            funcs[name] = f
            continue
        f = _alias_returns(f)
        w = set(written[name])
        for s in walk_stmts(f.body):
            if isinstance(s, CallStmt):
                w.update(s.outs)
        p = _Prep(f, w)
        body = p.block(f.body)
        g = copy.copy(f)
        g.body = p.roms + body
        funcs[name] = g
    return Module(funcs, module.top)
