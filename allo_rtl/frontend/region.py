"""``@df.region()`` functions -> a dataflow Function plus one Function per kernel instance.

A region's body holds stream declarations and ``@df.kernel`` functions only::

    @df.region()                              func top(A: i32[4], B: i32[4]) dataflow {
    def top(A: int32[4], B: int32[4]):          pipe: stream<i32, 4>
        pipe: Stream[int32, 4]          ->      call producer_0(A, pipe)
        @df.kernel(mapping=[1], args=[A])       call consumer_0(B, pipe)
        def producer(local_A: int32[4]): ...  }
        @df.kernel(mapping=[1], args=[B])
        def consumer(local_B: int32[4]): ...

Each kernel is compiled once per point of its mapping, as ``<kernel>_<i>_<j>``, with
``df.get_pid()`` bound to that point (see :meth:`FunctionBuilder.pid_value`). A kernel
resolves region stream names through :meth:`RegionBuilder.outer_name`; every stream
(array element) it uses becomes one of its Stream parameters, in order of first use,
after the tensor parameters bound by ``args=[...]``. Only streams some kernel uses are
declared in the region. Each stream has at most one writer and one reader kernel
instance, as a hardware FIFO does.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np

from .. import dataflow as df
from ..errors import AlloError, Loc
from ..ir.nodes import BufRef, CallStmt, Function, Module, Param, StreamDecl, StreamRef
from ..ir.streams import stream_accesses
from ..ir.types import Stream, is_dynamic
from .parse import FunctionBuilder
from .streams import stream_element_name
from .resolve import KernelSource
from .values import StreamArrayVal, StreamVal, Sym

__all__ = ["RegionBuilder"]

_ONLY = ("a dataflow region may contain only stream declarations and @df.kernel functions",
         "move computation into a @df.kernel; pass arrays to kernels with args=[...]")


@dataclass
class _RegionStream:
    """A stream (or array of streams) declared in a region."""

    name: str
    type: Stream
    shape: tuple  # () for a single stream
    irnames: dict  # index tuple -> IR name of that stream
    loc: Loc


class RegionBuilder(FunctionBuilder):
    """Builds the dataflow Function of a region (its kernel instances go to the module)."""

    def build(self) -> Function:
        fdef = self.src.tree
        self.streams: dict = {}  # source name -> _RegionStream
        self.used_streams: set = set()  # IR names of streams some kernel uses
        params = self.region_params(fdef)
        # old Allo style: without region parameters, kernel parameters become the region's
        self.implicit = {} if not params else None  # kernel parameter name -> region Param
        kernels = self.region_body(fdef)
        # region-level names: never compile-time constants inside kernels (see compile_time)
        self.names = set(self.streams) | {a.arg for a in fdef.args.args} | {
            k[0].name for k in kernels}
        calls = []
        for kdef, mapping, args, deco in kernels:
            for pid in np.ndindex(*mapping):
                calls.append(self.instance(kdef, pid, args, deco, params))
        self.check_endpoints(calls)
        decls = [StreamDecl(n, rs.type, rs.loc) for rs in self.streams.values()
                 for n in rs.irnames.values() if n in self.used_streams]
        return Function(self.name, params, [], decls + calls, self.loc(fdef), {"dataflow": True})

    # ------------------------------------------------------------ region parts

    def region_body(self, fdef) -> list:
        """Declare the region's streams; [(kernel def, mapping, args, decorator)]."""
        kernels = []
        for st in fdef.body:
            if isinstance(st, ast.Pass) or (isinstance(st, ast.Expr)
                                             and isinstance(st.value, ast.Constant)):
                continue
            if isinstance(st, ast.AnnAssign) and self._is_constexpr(st.annotation):
                self.region_const(st)
            elif isinstance(st, ast.AnnAssign):
                self.region_stream(st, st.target, st.annotation)
            elif self._is_pipe_assign(st):  # q = df.pipe(...) / df.array(df.pipe(...), ...)
                self.region_stream(st, st.targets[0], st.value)
            elif isinstance(st, ast.FunctionDef):
                kernels.append((st,) + self.kernel_options(st))
            else:
                self.err(st, *_ONLY)
        if not kernels:
            self.err(fdef, f"dataflow region {fdef.name!r} has no @df.kernel",
                     "define the kernels inside the region with @df.kernel(mapping=[...])")
        return kernels

    def region_params(self, fdef) -> list:
        if fdef.returns is not None and not (isinstance(fdef.returns, ast.Constant)
                                             and fdef.returns.value is None):
            self.err(fdef.returns, f"dataflow region {fdef.name!r} declares a result",
                     "regions return nothing: kernels write outputs into the region's arrays")
        return [self.region_param(arg, arg.arg, dtype, shape)
                for arg, dtype, shape, _ in self.annotated_args(fdef, "region")]

    def region_param(self, node, name, dtype, shape) -> Param:
        if isinstance(dtype, Stream) or not shape:
            what = "stream" if isinstance(dtype, Stream) else "scalar"
            self.err(node, f"dataflow region {self.src.tree.name!r} has {what} parameter "
                     f"{name!r}; region parameters must be arrays",
                     "pass a scalar as a one-element array (int32[1]) or make it a "
                     "compile-time constant or template parameter")
        if is_dynamic(shape):
            self.err(node, f"dataflow region {self.src.tree.name!r} has dynamic array parameter "
                     f"{name!r} ({dtype}[...]); region parameters need compile-time shapes",
                     "give the region parameter a compile-time shape such as T[N] (a template "
                     "parameter works)")
        irname = self.fresh(name)
        self.declare(name, Sym("tensor", irname, dtype, shape))
        return Param(irname, dtype, shape, None, self.loc(node))

    @staticmethod
    def _is_constexpr(ann) -> bool:
        return isinstance(ann, ast.Subscript) and isinstance(ann.value, ast.Name) \
            and ann.value.id == "ConstExpr"

    def region_const(self, st):
        """``P0: ConstExpr[int32] = Rt + 2`` in a region body: a compile-time constant
        seen by the rest of the region (stream shapes, mappings) and by its kernels."""
        if not isinstance(st.target, ast.Name) or st.value is None:
            self.err(st, "a ConstExpr in a dataflow region must be a name with a value",
                     "write 'P: ConstExpr[int32] = <compile-time expression>'")
        value = self.pyeval(st.value)
        if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
            self.err(st.value, f"ConstExpr {st.target.id!r} must be a compile-time number, "
                     f"not {value!r}", "use only constants and template parameters")
        self.env = self.env.child(**{st.target.id: value})

    def _is_pipe_assign(self, st) -> bool:
        if not (isinstance(st, ast.Assign) and len(st.targets) == 1
                and isinstance(st.value, ast.Call)):
            return False
        try:
            fn = self.resolve_callee(st.value.func)
        except AlloError:
            return False
        return fn is df.pipe or fn is df.array

    def region_stream(self, st, target, annotation):
        if not isinstance(target, ast.Name):
            self.err(st, *_ONLY)
        dtype, shape, _ = self.eval_annotation(annotation)
        if not isinstance(dtype, Stream):
            self.err(st, *_ONLY)
        if isinstance(st, ast.AnnAssign) and st.value is not None:
            self.err(st, f"stream {target.id!r} is declared with a value",
                     "declare it as 'pipe: Stream[T, depth]' with nothing after it")
        name = target.id
        if name in self.streams:
            self.err(st, f"stream {name!r} is declared twice in this region")
        irnames = {idx: self.fresh(stream_element_name(name, idx) if shape else name)
                   for idx in np.ndindex(*shape)}
        self.streams[name] = _RegionStream(name, dtype, tuple(shape), irnames, self.loc(st))

    def kernel_options(self, kdef) -> tuple:
        """(mapping, args, decorator node) of a ``@df.kernel(mapping=..., args=...)``."""
        deco = None
        for d in kdef.decorator_list:
            if self.pyeval(d.func if isinstance(d, ast.Call) else d) is not df.kernel:
                self.err(d, f"function {kdef.name!r} in a dataflow region has a decorator other "
                         "than @df.kernel", "kernels in a region take @df.kernel(mapping=[...], "
                         "args=[...]) only")
            deco = d
        if deco is None:
            self.err(kdef, f"function {kdef.name!r} in a dataflow region is not a @df.kernel",
                     "decorate it with @df.kernel(mapping=[1], args=[...])")
        kw = {}
        if isinstance(deco, ast.Call):
            kw = dict(zip(("mapping", "args"), deco.args))
            for k in deco.keywords:
                if k.arg not in ("mapping", "args"):
                    self.err(k.value, f"@df.kernel has no option {k.arg!r}",
                             "use mapping=[...] and args=[...]")
                kw[k.arg] = k.value
        return self.mapping(kw.get("mapping"), deco), self.kernel_args(kw.get("args")), deco

    def mapping(self, node, deco) -> tuple:
        m = [1] if node is None else self.pyeval(node)
        if isinstance(m, (int, np.integer)) and not isinstance(m, bool):
            m = [m]
        ok = isinstance(m, (list, tuple)) and 1 <= len(m) <= 3 and all(
            isinstance(p, (int, np.integer)) and not isinstance(p, bool) and p >= 1 for p in m)
        if not ok:
            self.err(node if node is not None else deco,
                     f"mapping must be a list of 1 to 3 positive integers, not {m!r}",
                     "write e.g. mapping=[1] or mapping=[P0, P1]")
        return tuple(int(p) for p in m)

    def kernel_args(self, node):
        """The region parameters named by ``args=[A, B]``: [(name, node)], or None."""
        if node is None:
            return None
        if not isinstance(node, (ast.List, ast.Tuple)):
            self.err(node, "args= must be a list of region parameter names",
                     "write args=[A, B] with the region's parameters")
        out = []
        for e in node.elts:
            sym = self.lookup(e.id) if isinstance(e, ast.Name) else None
            if sym is None or sym.kind != "tensor":
                self.err(e, f"args= entry {ast.unparse(e)!r} is not a parameter of region "
                         f"{self.src.tree.name!r}",
                         f"name region parameters: {', '.join(self.scopes[0]) or '(none)'}")
            out.append((sym, e))
        return out

    # ------------------------------------------------------------ kernel instances

    def instance_name(self, kname: str, pid: tuple) -> str:
        """``<kernel>_<i>_<j>``; prefixed by the region instance name for a second instance
        of a region template (``inner_1_gemm_0_0``) or when the name is taken."""
        first = self.name == self.src.tree.name
        names = [stream_element_name(f"{self.name}_{kname}", pid)]
        if first:
            names.insert(0, stream_element_name(kname, pid))
        for name in names:
            if name not in self.mb.funcs and name not in self.mb.in_progress:
                return name
        self.err(self.src.tree, f"kernel instance name {name!r} is already taken",
                 "rename the kernel or the function that uses this name")

    def instance(self, kdef, pid, args, deco, params) -> CallStmt:
        """Compile the kernel at ``pid``; the call of it that the region makes."""
        name = self.instance_name(kdef.name, pid)
        src = KernelSource(kdef, self.src.file, self.src.first_line, self.src.lines,
                           self.src._indent)
        fb = FunctionBuilder(self.mb, src, self.env, name)
        fb.pid, fb.region = pid, self
        fb.used |= {n for rs in self.streams.values() for n in rs.irnames.values()}
        self.mb.in_progress.add(name)
        func = fb.build()
        self.mb.in_progress.discard(name)
        self.mb.funcs[name] = func
        if func.results:
            self.err(kdef.returns, f"kernel {kdef.name!r} returns a value",
                     "dataflow kernels return nothing: write outputs into their array "
                     "parameters")
        own = [p for p in func.params if p.is_stream and p.name not in fb.stream_params]
        if own:
            raise AlloError(f"kernel {kdef.name!r} declares stream parameter {own[0].name!r}",
                            own[0].loc, "kernels use the region's streams by name; remove the "
                            "parameter")
        arrays = [p for p in func.params if not p.is_stream]
        refs = [BufRef(b, (), self.loc(deco)) for b in self.bind(kdef, arrays, args, deco, params)]
        streams = [StreamRef(p.name, self.loc(kdef)) for p in func.params if p.is_stream]
        return CallStmt(name, refs + streams, [], self.loc(kdef))

    def bind(self, kdef, arrays, args, deco, params) -> list:
        """The region buffers passed to the kernel's array parameters ``arrays``."""
        if args is None:
            if arrays and self.implicit is None:
                self.err(deco, f"kernel {kdef.name!r} has parameters but no args=[...]",
                         "name the region parameters it receives: @df.kernel(mapping=[...], "
                         f"args=[{', '.join(a.arg for a in kdef.args.args)}])")
            return [self.implicit_param(p, params) for p in arrays]
        if len(args) != len(arrays):
            self.err(deco, f"@df.kernel args= lists {len(args)} region parameter(s) but kernel "
                     f"{kdef.name!r} takes {len(arrays)}",
                     "pass one region parameter per kernel parameter, in order")
        out = []
        for (sym, node), p in zip(args, arrays):
            if sym.type != p.type or tuple(sym.shape) != tuple(p.shape):
                self.err(node, f"region parameter {node.id!r} is {sym.type}{list(sym.shape)} but "
                         f"kernel parameter {p.name!r} of {kdef.name!r} is "
                         f"{p.type}{list(p.shape)}",
                         "the kernel works on the region's array itself: declare both with the "
                         "same type and shape")
            out.append(sym.irname)
        return out

    def implicit_param(self, p: Param, params: list) -> str:
        """Old Allo style: kernel parameter ``p`` is the region array of the same name."""
        q = self.implicit.get(p.name)
        if q is None:
            if not p.is_tensor:
                raise AlloError(f"kernel parameter {p.name!r} is a scalar; the region passes "
                                "arrays only", p.loc,
                                "pass a scalar as a one-element array (int32[1])")
            q = self.implicit[p.name] = Param(self.fresh(p.name), p.type, p.shape, None, p.loc)
            params.append(q)
        elif q.type != p.type or tuple(q.shape) != tuple(p.shape):
            raise AlloError(f"kernel parameter {p.name!r} is {p.type}{list(p.shape)}, another "
                            f"kernel declares it {q.type}{list(q.shape)}", p.loc,
                            "kernels share region arrays by name: declare them alike")
        return q.name

    # ------------------------------------------------------------ streams seen by kernels

    def outer_name(self, fb: FunctionBuilder, node):
        """A region name used in kernel ``fb``: its stream (array), or an error for region
        parameters read directly; None for names the region does not define."""
        rs = self.streams.get(node.id)
        if rs is not None:
            def use(idx):
                irname = rs.irnames[idx]
                self.used_streams.add(irname)
                if irname not in fb.stream_params:
                    fb.stream_params[irname] = Param(irname, rs.type, (), None, fb.loc(node))
                return StreamVal(irname, rs.type)

            return use(()) if not rs.shape else StreamArrayVal(rs.name, rs.type, rs.shape, use)
        sym = self.lookup(node.id)
        if sym is not None and sym.kind == "tensor":
            fb.err(node, f"kernel {fb.src.tree.name!r} reads region parameter {node.id!r} "
                   "directly", f"pass it with @df.kernel(args=[{node.id}, ...]) and use the "
                   "kernel's parameter")
        return None

    def check_endpoints(self, calls: list):
        """Each stream has at most one writer and one reader kernel instance."""
        module = Module(self.mb.funcs, calls[0].callee)
        seen: dict = {}  # (stream, kind) -> kernel instance
        for c in calls:
            for stream, kinds in stream_accesses(module, self.mb.funcs[c.callee]).items():
                for kind, loc in kinds.items():
                    other = seen.setdefault((stream, kind), c.callee)
                    if other != c.callee:
                        role = "writer" if kind == "put" else "reader"
                        raise AlloError(
                            f"stream {stream!r} has two {role}s: kernels {other} and {c.callee} "
                            f"both {kind} it", loc,
                            "a stream connects one writer kernel to one reader kernel, like a "
                            "hardware FIFO; use one stream per pair (an array of streams, "
                            "Stream[T, depth][P], indexed with df.get_pid())")
