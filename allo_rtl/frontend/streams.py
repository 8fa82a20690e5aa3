"""Streams in kernels: the part of the function builder that translates stream
declarations, ``.put()`` / ``.get()``, stream arguments and ``df.get_pid()``.

:class:`StreamOps` is mixed into :class:`~.parse.FunctionBuilder`. Streams are
names like buffers: ``q: Stream[T, d]`` declares one (:class:`StreamDecl`),
``Stream[T, d][P0, P1]`` one per element (``fifo[1, 2]`` is ``fifo_1_2``, indexed
with compile-time constants only: FIFOs are wired when the kernel is compiled).
``q.put(v)`` casts a scalar to the element type (as Allo does) and requires a block
of the exact element type and shape; ``q.get()`` writes a fresh variable or buffer
named after the assignment target, so ``x = q.get()`` and ``x: T = q.get()`` both
print as ``x: T`` then ``x = q.get()``. Inside a dataflow kernel, region streams
resolve through ``self.region`` (see :mod:`.region`).
"""

from __future__ import annotations

import ast
from contextlib import contextmanager

import numpy as np

from .. import dataflow as df
from ..ir.nodes import Decl, Function, Param, StreamDecl, StreamGet, StreamPut, StreamRef, Var
from .values import PyVal, StreamArrayVal, StreamVal, Sym, TensorVal

__all__ = ["StreamOps", "stream_element_name"]


def stream_element_name(name: str, idx) -> str:
    """IR name of element ``idx`` of stream array ``name``: ``fifo[1, 2]`` -> ``fifo_1_2``."""
    return "_".join([name] + [str(i) for i in idx])


class StreamOps:
    """Stream and dataflow methods of the function builder (expects its helpers: ``err``,
    ``expr``, ``emit``, ``fresh``, ``declare``, ``lookup``, ``coerce``...)."""

    def declare_stream(self, node, name, stype, shape):
        """``q: Stream[T, depth]`` (or an array ``Stream[T, depth][P]``) local to a kernel."""
        if node.value is not None:
            self.err(node, f"stream {name!r} is declared with a value",
                     "declare it as 'q: Stream[T, depth]' with nothing after it")
        if self.dyn_depth:
            self.err(node, f"stream {name!r} is declared inside a loop or a run-time if",
                     "declare streams at the top level of the kernel: a FIFO exists once, for "
                     "the whole kernel")
        loc = self.loc(node)
        if not shape:
            irname = self.fresh(name)
            self.emit(StreamDecl(irname, stype, loc))
            self.declare(name, Sym("stream", irname, stype, value=StreamVal(irname, stype)))
            return
        names = {}
        for idx in np.ndindex(*shape):
            names[idx] = self.fresh(stream_element_name(name, idx))
            self.emit(StreamDecl(names[idx], stype, loc))
        arr = StreamArrayVal(name, stype, tuple(shape),
                             lambda idx: StreamVal(names[idx], stype))
        self.declare(name, Sym("stream", name, stype, tuple(shape), value=arr))

    @contextmanager
    def no_stream_access(self, node, where: str):
        """Operands evaluated only conditionally in Python must not put or get: the IR
        evaluates them unconditionally, which would consume or produce FIFO elements."""
        body = self.bodies[-1]
        n = len(body)
        yield
        if any(isinstance(st, (StreamGet, StreamPut)) for st in body[n:]):
            self.err(node, f"a stream get or put inside {where} would run unconditionally",
                     "use an if statement around the stream access")

    def is_stream_name(self, name: str) -> bool:
        sym = self.lookup(name)
        if sym is not None:
            return sym.kind == "stream"
        return self.region is not None and name in self.region.streams

    def stream_of(self, node, method=None):
        """The StreamVal ``node`` names (``q``, ``fifo[i, j]``), else None. With ``method``,
        ``node`` must be the attribute ``<stream>.<method>``. Other expressions are not
        translated, so callers may test an expression before translating it."""
        if method is not None:
            if not (isinstance(node, ast.Attribute) and node.attr == method):
                return None
            node = node.value
        base = node.value if isinstance(node, ast.Subscript) else node
        if not isinstance(base, ast.Name) or not self.is_stream_name(base.id):
            return None
        v = self.expr(node)
        return v if isinstance(v, StreamVal) else None

    def stream_element(self, arr: StreamArrayVal, node) -> StreamVal:
        """``fifo[i, j + 1]``: indices are compile-time constants (streams are wired when the
        kernel is compiled)."""
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if len(elts) != len(arr.shape):
            self.err(node, f"stream array {arr.name!r} has {len(arr.shape)} dimension(s), "
                     f"indexed with {len(elts)}")
        idx = []
        for e, n in zip(elts, arr.shape):
            v = self.const_int_value(e)
            if v is None:
                self.err(e, f"index of stream array {arr.name!r} must be a compile-time constant",
                         "use df.get_pid() values, allo.meta_for variables or constants; select "
                         "streams at run time with an if/elif chain")
            if not 0 <= v < n:
                self.err(e, f"index {v} is out of range for dimension of size {n} of stream "
                         f"array {arr.name!r}", "check the df.get_pid() arithmetic at the edges "
                         "(guard it with allo.meta_if)")
            idx.append(v)
        return arr.element(tuple(idx))

    def stream_put(self, sv: StreamVal, node, discard):
        if len(node.args) != 1 or node.keywords:
            self.err(node, "put() takes one value")
        if not discard:
            self.err(node, "put() returns nothing", "write 'q.put(v)' as a statement")
        t, an = sv.type, node.args[0]
        v = self.expr(an)
        if isinstance(v, PyVal) and isinstance(v.value, (np.ndarray, list)):
            v = self.const_tensor(np.asarray(v.value), an)
        if t.is_block:
            self.static_tensor(v, an, "put() of a block")
            if not isinstance(v, TensorVal):
                self.err(an, f"stream {sv.name!r} carries {t.dtype}{list(t.shape)} blocks; "
                         "put() got a scalar", "put a tensor (or subview) of the block shape")
            if tuple(v.shape) != tuple(t.shape) or v.dtype != t.dtype:
                self.err(an, f"put() of a {v.dtype}{list(v.shape)} tensor into stream "
                         f"{sv.name!r} of {t.dtype}{list(t.shape)} blocks",
                         "blocks must match the stream's element type and shape exactly")
            value = v.ref(self.loc(an))
        else:
            if isinstance(v, TensorVal):
                self.err(an, f"put() of a tensor of shape {list(v.shape)} into stream "
                         f"{sv.name!r} of {t.dtype} scalars",
                         "put one element at a time, or declare a stream of blocks: "
                         "Stream[T[M], depth]")
            value = self.coerce(self.as_expr(v, an, t.dtype), t.dtype, an)
        self.emit(StreamPut(sv.name, value, self.loc(node)))
        return PyVal(None)

    def stream_get(self, sv: StreamVal, node, hint, discard):
        """``q.get()`` as a value: the element lands in a fresh variable (buffer for a block)."""
        if node.args or node.keywords:
            self.err(node, "get() takes no arguments")
        t, loc = sv.type, self.loc(node)
        if discard:
            self.emit(StreamGet(sv.name, None, loc))
            return PyVal(None)
        if t.is_block:
            tv = self.new_temp(t.dtype, t.shape, hint or f"{sv.name}_get")
            self.emit(StreamGet(sv.name, tv.buf, loc))
            return tv
        name = self.fresh(hint or f"{sv.name}_get")
        self.emit(Decl(name, t.dtype, (), None, loc=loc))
        self.emit(StreamGet(sv.name, name, loc))
        self._get_vars.add(name)
        return Var(name, t.dtype, loc)

    def _is_fresh_get(self, name) -> bool:
        body = self.bodies[-1]
        return (name in self._get_vars and len(body) >= 2 and isinstance(body[-1], StreamGet)
                and body[-1].dst == name)

    def get_into_decl(self, node, name, dtype, shape, mem) -> bool:
        """``x: T = q.get()`` with T the stream's element type: get straight into ``x``."""
        if not isinstance(node.value, ast.Call) or node.value.args or node.value.keywords:
            return False
        sv = self.stream_of(node.value.func, method="get")
        if sv is None or sv.type.dtype != dtype or tuple(sv.type.shape) != tuple(shape):
            return False
        irname = self.fresh(name)
        loc = self.loc(node)
        self.emit(Decl(irname, dtype, tuple(shape), None, memory=mem, loc=loc))
        self.emit(StreamGet(sv.name, irname, self.loc(node.value)))
        self.declare(name, Sym("tensor" if shape else "scalar", irname, dtype, tuple(shape)))
        return True

    def stream_arg(self, a, p: Param, callee: Function, an) -> StreamRef:
        if not isinstance(a, StreamVal):
            self.err(an, f"argument {p.name!r} of {callee.name} is a stream {p.type}; got "
                     f"{'an array of streams' if isinstance(a, StreamArrayVal) else 'a value'}",
                     "pass one stream (index an array of streams with constants)")
        if a.type != p.type:
            self.err(an, f"stream type mismatch in call to {callee.name}: argument {p.name!r} "
                     f"expects {p.type}, got {a.type}",
                     "declare the stream with the same element type, shape and depth")
        return StreamRef(a.name, self.loc(an))

    def _is_pid_call(self, node) -> bool:
        f = node.func if isinstance(node, ast.Call) else None
        named = (isinstance(f, ast.Name) and f.id == "get_pid") or (
            isinstance(f, ast.Attribute) and f.attr == "get_pid")
        return named and self.resolve_callee(f) is df.get_pid

    def pid_value(self, node) -> PyVal:
        if self.pid is None:
            self.err(node, "df.get_pid() is only valid inside a @df.kernel of a dataflow region",
                     "decorate the enclosing function with @df.kernel(mapping=[...]) inside a "
                     "@df.region() function")
        if node.args or node.keywords:
            self.err(node, "df.get_pid() takes no arguments")
        return PyVal(self.pid[0] if len(self.pid) == 1 else tuple(self.pid))

    def bind_pid(self, target, val: PyVal):
        """``i, j = df.get_pid()``: the names become compile-time constants."""
        if isinstance(target, ast.Name):
            if target.id != "_":
                self.declare(target.id, Sym("const", value=val.value))
            return
        vals = val.value if isinstance(val.value, tuple) else (val.value,)
        if not isinstance(target, (ast.Tuple, ast.List)) or len(target.elts) != len(vals):
            self.err(target, f"df.get_pid() gives {len(vals)} value(s) for this kernel's "
                     f"{len(vals)}-D mapping", "write 'i = df.get_pid()' for a 1-D mapping, "
                     "'i, j = df.get_pid()' for a 2-D one")
        for n, v in zip(target.elts, vals):
            if not isinstance(n, ast.Name):
                self.err(n, "df.get_pid() values must be assigned to plain names")
            if n.id != "_":
                self.declare(n.id, Sym("const", value=v))
