"""IR verifier: structural invariants every pass must keep.

Checked per function: every variable read is defined earlier (parameter, declaration,
assignment or enclosing loop variable); every buffer accessed exists and is indexed
with one index per dimension; stores and assignments carry the element / variable type
(the frontend makes every conversion an explicit :class:`~.nodes.Cast`); comparisons
give a 1-bit value; loop bounds are integers with a non-zero step; calls name an
existing function with matching argument and result counts, scalars for scalar
parameters and (sub)views of the right shape for tensor parameters; returns match the
result list; constant tensor initialisers have the declared shape. A dynamic shape
``(None,)`` (``A: T[...]``) appears only on tensor parameters; such a parameter gets
a 1-D (sub)view, and a dynamic array is passed only to such a parameter. Streams: every
stream accessed is a Stream parameter or declared in the function; a put carries a
value of the element type (a (sub)view of the block shape and element type for a
stream of blocks), a get writes a variable of the element type (a buffer of the block
shape); a Stream parameter gets a stream of the same type; a dataflow region holds
only stream declarations and calls. A PE-grid loop (``unfold=d``, s.unfold) counts
0, 1, ..., n-1, and its ``to`` names (tensor, depth) pairs of the function (s.to).

Violations are compiler bugs, never user errors: :class:`VerifyError` names the
function, the statement and the pass that broke the invariant. The tests run the
verifier after the frontend, after every schedule primitive and after each lowering
preparation pass (``ALLO_RTL_VERIFY=1``, set by ``tests/conftest.py``); normal runs
skip it.
"""

from __future__ import annotations

import os

import numpy as np

from .nodes import (CMPOPS, Assign, BinOp, BufRef, CallStmt, Decl, Expr, For, Function, If,
                    Load, Module, Return, Store, StreamDecl, StreamGet, StreamPut, StreamRef, Var,
                    While, expr_children, ret_name)
from .types import Fixed, Float, Stream, UFixed, is_dynamic

__all__ = ["VerifyError", "verify_module", "maybe_verify", "enabled"]


class VerifyError(AssertionError):
    """An IR invariant does not hold (a bug in the pass named in the message)."""


def enabled() -> bool:
    return os.environ.get("ALLO_RTL_VERIFY", "") not in ("", "0")


def maybe_verify(module: Module, after: str) -> None:
    """Verify ``module`` when ``ALLO_RTL_VERIFY`` is set (tests); ``after`` names the pass."""
    if enabled():
        verify_module(module, after)


def verify_module(module: Module, after: str = "") -> None:
    """Raise :class:`VerifyError` if ``module`` breaks an IR invariant."""
    if module.top not in module.funcs:
        raise VerifyError(f"after {after or 'a pass'}: top function {module.top!r} missing")
    for f in module.funcs.values():
        _FuncCheck(module, f, after).run()


def _is_int(t) -> bool:
    return not isinstance(t, (Float, Fixed, UFixed))


class _FuncCheck:
    def __init__(self, module: Module, f: Function, after: str):
        self.module, self.f, self.after = module, f, after
        self.defined = {p.name for p in f.params if not p.is_stream}
        self.var_types = {p.name: p.type for p in f.params
                          if not p.is_tensor and not p.is_stream}
        self.streams = {p.name: p.type for p in f.params if p.is_stream}
        self.bufs = {p.name: (p.type, tuple(p.shape)) for p in f.params if p.is_tensor}
        # tensor results are memory ports named __ret<k> once lowering prepared the function
        self.bufs.update({ret_name(k): (r.type, tuple(r.shape))
                          for k, r in enumerate(f.results) if r.is_tensor})
        # buffers may be declared after a use in pre-order only through passes that hoist
        # declarations; collect them all first
        from .nodes import walk_stmts

        for s in walk_stmts(f.body):
            if isinstance(s, Decl) and s.shape:
                self.bufs[s.name] = (s.type, tuple(s.shape))
            elif isinstance(s, StreamDecl):
                self.streams[s.name] = s.type
        self.stmt = None

    def fail(self, msg: str):
        from .printer import _stmts

        where = ""
        if self.stmt is not None:
            out: list = []
            _stmts([self.stmt], 0, out)
            where = "\n  in: " + (out[0].strip() if out else type(self.stmt).__name__)
        raise VerifyError(f"after {self.after or 'a pass'}: function {self.f.name}: {msg}{where}")

    def run(self):
        for p in self.f.params:
            if p.is_tensor and is_dynamic(p.shape) and tuple(p.shape) != (None,):
                self.fail(f"parameter {p.name!r} has shape {p.shape}: the only dynamic shape "
                          "is (None,)")
        for r in self.f.results:
            if is_dynamic(r.shape):
                self.fail(f"a result has the dynamic shape {r.shape}")
        if self.f.attrs.get("dataflow"):
            self.region()
        self.body(self.f.body)

    def region(self):
        """A dataflow region: stream and array declarations and concurrent kernel calls only."""
        if self.f.results:
            self.fail("a dataflow region has results")
        for s in self.f.body:
            if isinstance(s, Decl) and s.shape and s.init is None and not s.stateful:
                continue  # an array shared by its kernels (a ping-pong buffer)
            if not isinstance(s, (StreamDecl, CallStmt)):
                self.stmt = s
                self.fail(f"a dataflow region holds a {type(s).__name__} statement")
            if isinstance(s, CallStmt) and s.outs:
                self.stmt = s
                self.fail("a kernel call in a dataflow region receives results")

    def unfolded(self, s):
        """A PE-grid loop (s.unfold): dimension ``unfold=d`` of a grid, counting 0..n-1; its
        ``to`` lists (tensor, depth) of the buffers streaming along it (s.to)."""
        d = s.attrs["unfold"]
        name = s.name or s.var
        if not isinstance(d, int) or isinstance(d, bool) or d < 0:
            self.fail(f"loop {name!r} has unfold={d!r}")
        if not (getattr(s.lb, "value", None) == 0 and isinstance(getattr(s.ub, "value", None), int)
                and s.step == 1):
            self.fail(f"unfolded loop {name!r} does not count 0, 1, ..., n-1")
        for entry in s.attrs.get("to", ()):
            if not (isinstance(entry, tuple) and len(entry) == 2 and entry[0] in self.bufs
                    and isinstance(entry[1], int) and (entry[1] == -1 or entry[1] >= 1)):
                self.fail(f"unfolded loop {name!r} streams {entry!r}, not (tensor, depth)")

    def body(self, stmts):
        for s in stmts:
            self.stmt = s
            self.check(s)

    # ------------------------------------------------------------ statements

    def check(self, s):
        if isinstance(s, Decl):
            if s.shape:
                if not all(isinstance(n, (int, np.integer)) and n > 0 for n in s.shape):
                    self.fail(f"tensor {s.name!r} has shape {s.shape}")
                if isinstance(s.init, np.ndarray) and s.init.size != int(np.prod(s.shape)):
                    self.fail(f"initialiser of {s.name!r} has {s.init.size} elements, shape "
                              f"{s.shape}")
                if isinstance(s.init, BufRef):
                    self.ref(s.init, s.shape, f"initialiser of {s.name!r}")
                elif isinstance(s.init, Expr):
                    self.expr(s.init)
            else:
                if isinstance(s.init, Expr):
                    self.expr(s.init)
                    self.same_type(s.init.type, s.type, f"initial value of {s.name!r}")
                self.var_types[s.name] = s.type
            self.defined.add(s.name)
        elif isinstance(s, Assign):
            self.expr(s.value)
            t = self.var_types.get(s.name)
            if t is not None:
                self.same_type(s.value.type, t, f"value assigned to {s.name!r}")
            else:
                self.var_types[s.name] = s.value.type
            self.defined.add(s.name)
        elif isinstance(s, Store):
            t, shape = self.buf(s.buf)
            self.index(s.buf, s.index, shape)
            self.expr(s.value)
            self.same_type(s.value.type, t, f"value stored to {s.buf!r}")
        elif isinstance(s, For):
            for e in (s.lb, s.ub):
                self.expr(e)
                if not _is_int(e.type):
                    self.fail(f"loop {s.name or s.var!r} has a {e.type} bound")
            if not isinstance(s.step, int) or s.step == 0:
                self.fail(f"loop {s.name or s.var!r} has step {s.step!r}")
            if "unfold" in s.attrs:
                self.unfolded(s)
            self.defined.add(s.var)
            self.var_types.setdefault(s.var, s.lb.type)
            self.body(s.body)
        elif isinstance(s, If):
            self.expr(s.cond)
            self.body(s.then)
            self.body(s.orelse)
        elif isinstance(s, While):
            self.expr(s.cond)
            self.body(s.body)
        elif isinstance(s, CallStmt):
            self.call(s)
        elif isinstance(s, StreamDecl):
            if not isinstance(s.type, Stream):
                self.fail(f"stream {s.name!r} is declared with type {s.type}")
        elif isinstance(s, StreamPut):
            self.put(s)
        elif isinstance(s, StreamGet):
            self.get(s)
        elif isinstance(s, Return):
            res = self.f.results
            if len(s.values) != len(res):
                self.fail(f"returns {len(s.values)} values, the function has {len(res)} results")
            for v, r in zip(s.values, res):
                if r.is_tensor and v is None:
                    continue  # after lower.prepare: written to the result memory in place
                if r.is_tensor:
                    if not isinstance(v, BufRef):
                        self.fail("a tensor result is returned as a scalar")
                    self.ref(v, r.shape, "returned tensor")
                else:
                    if isinstance(v, BufRef):
                        self.fail("a scalar result is returned as a tensor")
                    self.expr(v)
        else:
            self.fail(f"unknown statement {type(s).__name__}")

    def stream(self, name: str) -> Stream:
        if name not in self.streams:
            self.fail(f"stream {name!r} is not a Stream parameter or declared stream")
        return self.streams[name]

    def put(self, s: StreamPut):
        t = self.stream(s.stream)
        if t.is_block:
            if not isinstance(s.value, BufRef):
                self.fail(f"a scalar is put into stream {s.stream!r} of blocks")
            self.ref(s.value, t.shape, f"block put into {s.stream!r}")
            self.same_type(self.buf(s.value.buf)[0], t.dtype, f"block put into {s.stream!r}")
        else:
            if isinstance(s.value, BufRef):
                self.fail(f"a tensor is put into stream {s.stream!r} of scalars")
            self.expr(s.value)
            self.same_type(s.value.type, t.dtype, f"value put into {s.stream!r}")

    def get(self, s: StreamGet):
        t = self.stream(s.stream)
        if s.dst is None:
            return
        if t.is_block:
            dt, shape = self.buf(s.dst)
            if tuple(shape) != tuple(t.shape):
                self.fail(f"block got from {s.stream!r} into {s.dst!r} of shape {shape}, "
                          f"the stream carries {t.shape}")
            self.same_type(dt, t.dtype, f"block got from {s.stream!r}")
            return
        if s.dst in self.bufs:
            self.fail(f"scalar got from {s.stream!r} into tensor {s.dst!r}")
        want = self.var_types.setdefault(s.dst, t.dtype)
        self.same_type(t.dtype, want, f"value got from {s.stream!r} into {s.dst!r}")
        self.defined.add(s.dst)

    def call(self, s: CallStmt):
        callee = self.module.funcs.get(s.callee)
        if callee is None:
            self.fail(f"call to missing function {s.callee!r}")
        if len(s.args) != len(callee.params):
            self.fail(f"call to {s.callee} passes {len(s.args)} arguments for "
                      f"{len(callee.params)} parameters")
        for a, p in zip(s.args, callee.params):
            if p.is_stream or isinstance(a, StreamRef):
                if not (p.is_stream and isinstance(a, StreamRef)):
                    self.fail(f"parameter {p.name!r} of {s.callee} ({p.type}) gets "
                              f"{'a stream' if isinstance(a, StreamRef) else 'a non-stream'}")
                got = self.stream(a.stream)
                if got != p.type:
                    self.fail(f"stream parameter {p.name!r} of {s.callee} ({p.type}) gets "
                              f"{a.stream!r} of type {got}")
            elif p.is_tensor:
                if not isinstance(a, BufRef):
                    self.fail(f"tensor parameter {p.name!r} of {s.callee} gets a scalar")
                # a dynamic array keeps its kind after lower.dynamic gave it an extent
                shape = (None,) if p.name in callee.attrs.get("dynamic", ()) else p.shape
                self.ref(a, shape, f"argument {p.name!r} of {s.callee}")
            else:
                if isinstance(a, BufRef):
                    self.fail(f"scalar parameter {p.name!r} of {s.callee} gets a tensor")
                self.expr(a)
        if len(s.outs) != len(callee.results):
            self.fail(f"call to {s.callee} receives {len(s.outs)} of {len(callee.results)} "
                      "results")
        for o, r in zip(s.outs, callee.results):
            if r.is_tensor:
                _, shape = self.buf(o)
                if tuple(shape) != tuple(r.shape):
                    self.fail(f"result buffer {o!r} has shape {shape}, {s.callee} returns "
                              f"{tuple(r.shape)}")
            else:
                self.defined.add(o)
                self.var_types.setdefault(o, r.type)

    def ref(self, a: BufRef, shape, what: str):
        _, full = self.buf(a.buf)
        for e in a.prefix:
            self.expr(e)
        if len(a.prefix) > len(full):
            self.fail(f"{what}: {len(a.prefix)} fixed indices into {a.buf!r} of rank {len(full)}")
        view = full[len(a.prefix):]
        if is_dynamic(shape) or is_dynamic(view):
            if not (is_dynamic(shape) and len(view) == 1):
                self.fail(f"{what}: view {a.buf}{list(full)} [{len(a.prefix)} fixed] has shape "
                          f"{tuple(view)}, expected {tuple(shape)} (a dynamic array goes only "
                          "to a dynamic parameter, which takes a 1-D view)")
            return
        if int(np.prod(view)) != int(np.prod(shape)):
            self.fail(f"{what}: view {a.buf}{list(full)} [{len(a.prefix)} fixed] has shape "
                      f"{tuple(view)}, expected {tuple(shape)}")

    def buf(self, name: str):
        if name not in self.bufs:
            self.fail(f"buffer {name!r} is not a tensor parameter or declared tensor")
        return self.bufs[name]

    def index(self, name, index, shape):
        if len(index) != len(shape):
            self.fail(f"{name!r} of rank {len(shape)} indexed with {len(index)} indices")
        for e in index:
            self.expr(e)
            if not _is_int(e.type):
                self.fail(f"{name!r} indexed with a {e.type} value")

    def same_type(self, got, want, what):
        if got != want:
            self.fail(f"{what} has type {got}, expected {want} (missing cast)")

    # ------------------------------------------------------------ expressions

    def expr(self, e):
        stack = [e]
        while stack:
            x = stack.pop()
            if isinstance(x, Var):
                if x.name not in self.defined:
                    self.fail(f"variable {x.name!r} is read before it is defined")
            elif isinstance(x, Load):
                _, shape = self.buf(x.buf)
                if len(x.index) != len(shape):
                    self.fail(f"{x.buf!r} of rank {len(shape)} read with {len(x.index)} indices")
            elif isinstance(x, BinOp) and x.op in CMPOPS and x.type.bits != 1:
                self.fail(f"comparison '{x.op}' gives a {x.type} value")
            if not isinstance(x, Expr):
                self.fail(f"{type(x).__name__} where an expression is expected")
            stack.extend(expr_children(x))
