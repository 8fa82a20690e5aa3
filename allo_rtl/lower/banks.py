"""Partitioned arrays as banks: the hardware effect of ``s.partition``.

Runs on prepared IR (every memory effect is an explicit Load/Store). A buffer
with a layout in ``func.attrs["partition"]`` (``{dim: (kind, factor)}``, dim 0
= every dim) is split into banks, each its own memory with its own read and
write port, so the block and pipeline schedulers can access banks in the same
cycle:

* ``complete`` on a dim: one bank per index of that dim;
  ``block`` factor F: banks of ``ceil(n / F)`` consecutive indices;
  ``cyclic`` factor F: index ``i`` in bank ``i % F`` at offset ``i // F``;
  several partitioned dims give the cross product of banks.
* A local array partitioned completely in every dim becomes registers (scalar
  variables): reads cost no memory cycle.

Each access is resolved to its bank statically whenever the bank index is a
compile-time function of the code: constants (also after unrolling, which
assigns loop variables constants) and affine indices such as ``8*u + k``
under cyclic 8. Otherwise the access reads every candidate bank and selects
(loads), or writes the bank whose condition holds (stores): correct, and
reported as a dynamic bank in the schedule report.

Tensor parameters are banked too (their layouts agree across calls: the
schedule propagates partitions); a call passes every bank. The host sees the
original array: ``func.attrs["banks"][param] = [(bank name, index map)]``
where the index map lists, per bank address, the flat index of the original
element (-1: unused).
"""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np

from ..errors import AlloError
from ..ir.nodes import (Assign, BinOp, BufRef, CallStmt, Cast, Const, Decl, For, Function, If, Load,
                        Module, Param, Select, Store, Var, While, expr_children)
from ..ir.types import Index, UInt
from ..ir.transform import assigned_vars
from .affine import affine, form_expr

__all__ = ["bank_module", "Banking"]

_IDX = Index()


class Banking:
    """How one buffer is split: per dim (kind, banks, bank size)."""

    def __init__(self, name, shape, layout, type_):
        self.name, self.shape, self.type = name, tuple(shape), type_
        self.dims = []
        for d, n in enumerate(self.shape, start=1):
            kind, factor = layout.get(d, layout.get(0, ("none", 0)))
            if kind == "complete":
                self.dims.append(("complete", n, 1))
            elif kind == "block":
                size = math.ceil(n / factor)
                self.dims.append(("block", math.ceil(n / size), size))
            elif kind == "cyclic":
                self.dims.append(("cyclic", factor, math.ceil(n / factor)))
            else:
                self.dims.append(("none", 1, n))
        self.nbanks = math.prod(b for _, b, _ in self.dims)
        self.bank_shape = tuple(s for _, _, s in self.dims)
        self.registers = all(k == "complete" for k, _, _ in self.dims)

    def bank_name(self, coords) -> str:
        return f"{self.name}__b{self.flat(coords)}"

    def flat(self, coords) -> int:
        k = 0
        for (_, nb, _), c in zip(self.dims, coords):
            k = k * nb + c
        return k

    def reg_name(self, coords) -> str:
        return f"{self.name}__r{self.flat(coords)}"

    def place(self, idx):
        """(bank coords, offsets) of an element."""
        coords, offs = [], []
        for (kind, nb, size), i in zip(self.dims, idx):
            if kind == "complete":
                coords.append(i), offs.append(0)
            elif kind == "block":
                coords.append(i // size), offs.append(i % size)
            elif kind == "cyclic":
                coords.append(i % nb), offs.append(i // nb)
            else:
                coords.append(0), offs.append(i)
        return tuple(coords), tuple(offs)

    def index_maps(self) -> list:
        """Per bank (flat order): flat original index at each bank address (-1: hole)."""
        maps = [np.full(math.prod(self.bank_shape), -1, dtype=np.int64)
                for _ in range(self.nbanks)]
        for flat, idx in enumerate(np.ndindex(*self.shape)):
            coords, offs = self.place(idx)
            maps[self.flat(coords)][int(np.ravel_multi_index(offs, self.bank_shape))] = flat
        return maps

    def all_coords(self):
        return itertools.product(*[range(nb) for _, nb, _ in self.dims])


def _layouts(f: Function) -> dict:
    return {b: lay for b, lay in f.attrs.get("partition", {}).items() if lay}


def _affine(e, env):
    return affine(e, lambda n: ({n: 1}, 0) if env.get(n, "base") == "base" else env[n])


def _expr_of(form):
    return form_expr(form, _IDX)


def _ix(e):
    return e if e.type == _IDX else Cast(e, _IDX)


# ---------------------------------------------------------------- rewriting


class _Rewriter:
    def __init__(self, f: Function, banks: dict):
        self.f = f
        self.banks = banks  # buffer -> Banking
        self.dynamic: list = []  # buffers with a dynamically selected bank (for the report)

    # -- per-dim bank selection: static (int, offset expr) or dynamic (bank expr, offset expr)
    def dim_access(self, dim, e, env):
        kind, nb, size = dim
        if kind == "none":
            return 0, e
        form = _affine(e, env)
        if form is not None and not form[0]:
            c = form[1]
            if kind == "complete":
                return c, Const(0, _IDX)
            if kind == "block":
                return c // size, Const(c % size, _IDX)
            return c % nb, Const(c // nb, _IDX)
        if kind == "cyclic" and form is not None and all(v % nb == 0 for v in form[0].values()):
            co = {k: v // nb for k, v in form[0].items()}
            return form[1] % nb, _expr_of((co, form[1] // nb))
        x = _ix(e)
        if kind == "complete":
            return x, Const(0, _IDX)
        if kind == "block":
            return (BinOp("div", x, Const(size, _IDX), _IDX),
                    BinOp("mod", x, Const(size, _IDX), _IDX))
        return BinOp("mod", x, Const(nb, _IDX), _IDX), BinOp("div", x, Const(nb, _IDX), _IDX)

    def candidates(self, b: Banking, index, env):
        """[(condition or None, coords, offsets)] for an access (in flat bank order), and the
        flat bank number as an expression (None when it is static)."""
        per = [self.dim_access(d, e, env) for d, e in zip(b.dims, index)]
        flat, dynamic = None, False
        for (_, nb, _), (bank, _) in zip(b.dims, per):
            dynamic |= not isinstance(bank, int)
            term = Const(bank, _IDX) if isinstance(bank, int) else bank
            flat = term if flat is None else BinOp(
                "add", BinOp("mul", flat, Const(nb, _IDX), _IDX), term, _IDX)
        choices = []
        for (kind, nb, _), (bank, off) in zip(b.dims, per):
            if isinstance(bank, int):
                if not 0 <= bank < nb:
                    bank = min(max(bank, 0), nb - 1)  # out of bounds: like any memory, garbage
                choices.append([(None, bank, off)])
            else:
                choices.append([(BinOp("eq", bank, Const(k, _IDX), UInt(1)), k, off)
                                for k in range(nb)])
        out = []
        for combo in itertools.product(*choices):
            conds = [c for c, _, _ in combo if c is not None]
            cond = None
            for c in conds:
                cond = c if cond is None else BinOp("land", cond, c, UInt(1))
            out.append((cond, tuple(k for _, k, _ in combo), tuple(o for _, _, o in combo)))
        if len(out) > 1 and b.name not in self.dynamic:
            self.dynamic.append(b.name)
        return out, (flat if dynamic else None)

    def load(self, e: Load, env):
        b = self.banks[e.buf]
        cands, flat = self.candidates(b, [self.expr(i, env) for i in e.index], env)

        def one(coords, offs):
            if b.registers:
                return Var(b.reg_name(coords), e.type)
            return Load(b.bank_name(coords), offs, e.type, e.loc)

        def tree(lo, hi):
            # a balanced multiplexer on the flat bank number (depth log2(banks))
            if hi - lo == 1:
                return one(cands[lo][1], cands[lo][2])
            mid = (lo + hi) // 2
            cond = BinOp("lt", flat, Const(b.flat(cands[mid][1]), _IDX), UInt(1))
            return Select(cond, tree(lo, mid), tree(mid, hi), e.type, e.loc)

        return tree(0, len(cands))

    def expr(self, e, env):
        if isinstance(e, Load):
            if e.buf in self.banks:
                return self.load(e, env)
            new = copy.copy(e)
            new.index = tuple(self.expr(i, env) for i in e.index)
            return new
        if not expr_children(e):
            return e
        new = copy.copy(e)
        for fld in ("lhs", "rhs", "operand", "value", "cond", "tval", "fval", "bit", "lo", "new"):
            if hasattr(new, fld) and getattr(new, fld) is not None and not isinstance(
                    getattr(new, fld), (int, str)):
                setattr(new, fld, self.expr(getattr(new, fld), env))
        if hasattr(new, "args") and isinstance(getattr(new, "args"), tuple):
            new.args = tuple(self.expr(a, env) for a in new.args)
        return new

    # -- statements
    def body(self, stmts, env) -> list:
        out = []
        for s in stmts:
            out += self.stmt(s, env)
        return out

    @staticmethod
    def _kill(env, name):
        env[name] = None
        for k, f in list(env.items()):
            if f is not None and f != "base" and name in f[0]:
                env[k] = None

    def stmt(self, s, env) -> list:
        if isinstance(s, Assign):
            v = self.expr(s.value, env)
            form = _affine(s.value, env)
            self._kill(env, s.name)
            if form is not None and s.name in form[0]:
                form = None  # i = i + 1: not a function of the current values
            env[s.name] = form
            n = copy.copy(s)
            n.value = v
            return [n]
        if isinstance(s, Store):
            if s.buf not in self.banks:
                n = copy.copy(s)
                n.index = tuple(self.expr(i, env) for i in s.index)
                n.value = self.expr(s.value, env)
                return [n]
            b = self.banks[s.buf]
            value = self.expr(s.value, env)
            out = []
            for cond, coords, offs in self.candidates(
                    b, [self.expr(i, env) for i in s.index], env)[0]:
                st = (Assign(b.reg_name(coords), value, loc=s.loc) if b.registers
                      else Store(b.bank_name(coords), offs, value, loc=s.loc))
                out.append(st if cond is None else If(cond, [st], [], loc=s.loc))
            if b.registers:
                for coords in b.all_coords():
                    self._kill(env, b.reg_name(coords))
            return out
        if isinstance(s, Decl):
            if s.shape and s.name in self.banks:
                b = self.banks[s.name]
                out = []
                maps = b.index_maps() if s.init is not None else None
                for k, coords in enumerate(b.all_coords()):
                    init = None
                    if maps is not None:
                        raw = np.asarray(s.init).ravel()
                        m = maps[k]
                        init = np.where(m >= 0, raw[np.maximum(m, 0)], 0).reshape(b.bank_shape)
                    if b.registers:
                        v = None if init is None else Const(int(init.ravel()[0]), s.type)
                        out.append(Decl(b.reg_name(coords), s.type, (), init=v, loc=s.loc))
                    else:
                        out.append(Decl(b.bank_name(coords), s.type, b.bank_shape, init=init,
                                        const=s.const, memory=s.memory, loc=s.loc))
                return out
            n = copy.copy(s)
            if not s.shape:
                self._kill(env, s.name)
                if s.init is not None and not isinstance(s.init, (np.ndarray, BufRef)):
                    n.init = self.expr(s.init, env)
                    env[s.name] = _affine(s.init, env)
            return [n]
        if isinstance(s, For):
            n = copy.copy(s)
            n.lb, n.ub = self.expr(s.lb, env), self.expr(s.ub, env)
            for v in assigned_vars(s.body) | {s.var}:
                self._kill(env, v)
            env[s.var] = "base"
            inner = dict(env)
            n.body = self.body(s.body, inner)
            for v in assigned_vars(s.body) | {s.var}:
                self._kill(env, v)
            return [n]
        if isinstance(s, While):
            n = copy.copy(s)
            for v in assigned_vars(s.body):
                self._kill(env, v)
            n.cond = self.expr(s.cond, env)
            n.body = self.body(s.body, dict(env))
            return [n]
        if isinstance(s, If):
            n = copy.copy(s)
            n.cond = self.expr(s.cond, env)
            n.then = self.body(s.then, dict(env))
            n.orelse = self.body(s.orelse, dict(env))
            for v in assigned_vars(s.then + s.orelse):
                self._kill(env, v)
            for b in self.banks.values():
                if b.registers:
                    for coords in b.all_coords():
                        self._kill(env, b.reg_name(coords))
            return [n]
        if isinstance(s, CallStmt):
            n = copy.copy(s)
            args = []
            for a in s.args:
                if isinstance(a, BufRef) and a.buf in self.banks:
                    b = self.banks[a.buf]
                    if any(kind != "none" for kind, _, _ in b.dims[:len(a.prefix)]):
                        raise AlloError(f"array '{a.buf}' is partitioned in a dimension that "
                                        f"the call to {s.callee} indexes (subview)", s.loc,
                                        "partition only the dimensions the callee receives")
                    if b.registers:
                        raise AlloError(f"array '{a.buf}' is completely partitioned into "
                                        f"registers and cannot be passed to {s.callee}", s.loc,
                                        "partition it into banks (Block/Cyclic) instead, or "
                                        "inline the callee")
                    prefix = tuple(self.expr(i, env) for i in a.prefix)
                    args += [BufRef(b.bank_name(c), prefix, a.loc) for c in b.all_coords()]
                elif isinstance(a, BufRef):
                    args.append(BufRef(a.buf, tuple(self.expr(i, env) for i in a.prefix), a.loc))
                else:
                    args.append(self.expr(a, env))
            for o in s.outs:
                if o in self.banks:
                    raise AlloError(f"the result of {s.callee} is stored in partitioned array "
                                    f"'{o}', which the RTL target does not support yet", s.loc,
                                    "partition a copy of the result instead")
                self._kill(env, o)
            n.args = args
            return [n]
        return [copy.copy(s)]


def _bank_function(f: Function, module: Module) -> Function:
    layouts = _layouts(f)
    if not layouts:
        return f
    banks = {}
    from ..ir.nodes import walk_stmts

    shapes = {p.name: (p.shape, p.type) for p in f.params if p.is_tensor}
    for s in walk_stmts(f.body):
        if isinstance(s, Decl) and s.shape:
            shapes[s.name] = (s.shape, s.type)
    for buf, lay in layouts.items():
        if buf not in shapes:
            continue  # e.g. a returned local renamed to the result port
        shape, t = shapes[buf]
        b = Banking(buf, shape, lay, t)
        if b.nbanks > 1:
            banks[buf] = b
    if not banks:
        return f
    for s in walk_stmts(f.body):
        if isinstance(s, CallStmt):
            for a in s.args:
                if isinstance(a, BufRef) and a.buf in banks:
                    banks[a.buf].registers = False  # the callee needs memory ports
    rw = _Rewriter(f, banks)
    g = copy.copy(f)
    g.attrs = dict(f.attrs)
    params, host = [], {}
    for p in f.params:
        if p.is_tensor and p.name in banks:
            b = banks[p.name]
            if b.registers:
                b.registers = False  # a parameter's banks are memories the caller owns
            names = [b.bank_name(c) for c in b.all_coords()]
            params += [Param(n, p.type, b.bank_shape, p.memory, p.loc) for n in names]
            host[p.name] = list(zip(names, b.index_maps()))
        else:
            params.append(p)
    g.params = params
    g.body = rw.body(f.body, {})
    g.attrs["banks"] = host
    g.attrs["dynamic_banks"] = list(rw.dynamic)
    return g


def bank_module(module: Module) -> Module:
    """A copy of prepared ``module`` with partitioned buffers split into banks."""
    funcs = {name: _bank_function(f, module) for name, f in module.funcs.items()}
    return Module(funcs, module.top)
