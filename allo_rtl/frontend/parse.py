"""Python AST -> kernel IR.

:func:`build_module` parses the top kernel and every kernel it calls (each
distinct function/template instance once) into a typed :class:`Module`.
Typing follows :mod:`typing_rules`; every implicit conversion becomes an
explicit :class:`Cast`; whole-tensor operations and dsl builtins become loop
nests (:mod:`builtins`).
"""

from __future__ import annotations

import ast
import math
import sys
import types as pytypes
from contextlib import contextmanager

import numpy as np

from .. import dataflow as df
from .. import dsl
from ..errors import AlloError
from ..ir import numerics
from ..ir.nodes import (
    Assign, BinOp, BitGet, BitInsert, BitReverse, BitSlice, Bitcast, BufRef, CallStmt,
    Cast, Const, Decl, Expr, For, Function, If, Load, Math, Module, Param, ResultSpec,
    Return, Select, Store, StreamGet, UnOp, Var, While,
)
from ..ir.types import (
    AlloType, ConstExpr, Fixed, Float, Index, Int, Layout, Memory, Stateful, Stream,
    TypeAnnotation, UFixed, UInt, float32, int32, is_dynamic, is_fixed, shape_str,
)
from .resolve import MISSING, Env, KernelSource, get_source
from .streams import StreamOps
from .typing_rules import TypingError, binop_type, common_type, unop_type
from .values import PyVal, StreamArrayVal, StreamVal, Sym, TensorVal

__all__ = ["build_module", "Template", "template"]

#: the hint of errors on unsupported uses of a dynamic array ``A: T[...]``
DYNAMIC_HINT = ("a T[...] array supports element reads and writes (A[i]) and being passed whole "
                "to a kernel parameter declared T[...]; loop over its size argument instead")

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div",
           ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow", ast.LShift: "shl",
           ast.RShift: "shr", ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor"}
_CMPOPS = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq",
           ast.NotEq: "ne"}
_PYOPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "floordiv": lambda a, b: a // b,
          "mod": lambda a, b: a % b, "pow": lambda a, b: a ** b,
          "shl": lambda a, b: a << b, "shr": lambda a, b: a >> b, "and": lambda a, b: a & b,
          "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b, "lt": lambda a, b: a < b,
          "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
          "eq": lambda a, b: a == b, "ne": lambda a, b: a != b}


class Template:
    """A kernel with template parameters, declared the Python 3.11 way::

        @allo.template("T", "M")          # or template(T=(int32, float32), M=int32)
        def f(A: "T[M]") -> "T[M]": ...

    ``f[float32, 16]`` instantiates it at a call site inside a kernel; calling it as
    plain Python runs the function (the parameters must then be in scope)."""

    def __init__(self, fn, params: dict):
        self.fn = fn
        self.params = params  # name -> bound (None, a type, or a tuple of allowed types)
        self.__name__ = fn.__name__
        self.__wrapped__ = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __getitem__(self, args):
        return _Instantiated(self, args if isinstance(args, tuple) else (args,))


class _Instantiated:
    def __init__(self, tmpl, args):
        self.tmpl, self.args = tmpl, args

    def __call__(self, *a, **k):
        return self.tmpl.fn(*a, **k)


def template(*names, **bounded):
    """Declare template parameters on Python 3.11 (PEP 695 syntax needs 3.12)."""
    params = {n: None for n in names}
    params.update(bounded)

    def deco(fn):
        return Template(fn, params)

    return deco


def _unwrap(fn):
    if isinstance(fn, df.Region):
        fn = fn.fn
    return fn.fn if isinstance(fn, Template) else fn


def _is_kernel_function(obj) -> bool:
    if isinstance(obj, (Template, _Instantiated, df.Region)):
        return True
    # allo_rtl's own helpers are not kernels (design files loaded by the CLI and the
    # benchmark live in modules named allo_rtl_*, which are user code)
    mod = obj.__module__ or "" if isinstance(obj, pytypes.FunctionType) else ""
    return isinstance(obj, pytypes.FunctionType) and not (mod == "allo_rtl"
                                                         or mod.startswith("allo_rtl."))


# ====================================================================== module builder


class ModuleBuilder:
    def __init__(self, caller_env: dict, typing_rule_set: str = "default"):
        self.caller_env = caller_env
        self.funcs: dict = {}
        self.instances: dict = {}  # key -> name
        self.name_count: dict = {}
        self.in_progress: set = set()

    def instance_name(self, base: str, targs) -> str:
        tag = [a for a in targs if isinstance(a, str)]
        if tag:
            name = f"{base}_{tag[0]}"
        else:
            n = self.name_count.get(base, 0)
            name = base if n == 0 else f"{base}_{n}"
            self.name_count[base] = n + 1
            while name in self.funcs or name in self.in_progress:
                n += 1
                name = f"{base}_{n}"
                self.name_count[base] = n + 1
        return name

    def instantiate(self, fn, targs=(), *, src: KernelSource | None = None,
                    env: Env | None = None, loc_node=None, caller=None) -> Function:
        key = (id(_unwrap(fn)) if src is None else id(src.tree),
               tuple(repr(a) for a in targs))
        if key in self.instances:
            return self.funcs[self.instances[key]]
        if src is None:
            pyfn = _unwrap(fn)
            src = get_source(pyfn)
            env = Env.for_function(pyfn, self.caller_env)
            tparams = _template_params(fn, src)
        else:
            tparams = _template_params(None, src)
        bindings = {}
        if tparams:
            if not targs:
                raise AlloError(
                    f"kernel {src.tree.name!r} has template parameters "
                    f"{list(tparams)} but was not instantiated",
                    caller.src.loc(loc_node) if caller and loc_node is not None else src.loc(src.tree),
                    f"call it as {src.tree.name}[{', '.join(tparams)}](...) or pass "
                    "instantiate=[...] to customize()")
            values = [a for a in targs if not isinstance(a, str)]
            if len(values) != len(tparams):
                raise AlloError(
                    f"kernel {src.tree.name!r} takes {len(tparams)} template arguments "
                    f"({', '.join(tparams)}), got {len(values)}",
                    src.loc(src.tree), "pass one value per template parameter, in order")
            for (pname, bound), val in zip(tparams.items(), values):
                if isinstance(bound, tuple) and bound and val not in bound:
                    raise AlloError(
                        f"template argument {pname}={val} is not one of the allowed "
                        f"{', '.join(map(str, bound))}", src.loc(src.tree),
                        "instantiate with one of the listed types")
                bindings[pname] = val
        name = self.instance_name(src.tree.name, targs)
        self.in_progress.add(name)
        if isinstance(fn, df.Region):
            from .region import RegionBuilder

            fb = RegionBuilder(self, src, env.child(**bindings), name)
        else:
            fb = FunctionBuilder(self, src, env.child(**bindings), name)
        func = fb.build()
        self.in_progress.discard(name)
        self.instances[key] = name
        self.funcs[name] = func
        return func


def _template_params(fn, src: KernelSource) -> dict:
    if isinstance(fn, df.Region):
        fn = fn.fn
    out = {}
    for tp in getattr(src.tree, "type_params", []) or []:
        bound = None
        if getattr(tp, "bound", None) is not None:
            try:
                bound = eval(compile(ast.Expression(tp.bound), "<bound>", "eval"),
                             dict(_unwrap(fn).__globals__) if fn is not None else {})
            except Exception:  # noqa: BLE001 - bound is only a check
                bound = None
        out[tp.name] = bound
    if isinstance(fn, Template):
        out.update(fn.params)
    return out


def build_module(fn, *, instantiate=None, caller_env=None,
                 typing_rule_set: str = "default") -> Module:
    """Parse kernel ``fn`` (and its callees) into a :class:`Module`."""
    if typing_rule_set != "default":
        raise AlloError(f"typing_rule_set={typing_rule_set!r} is not supported",
                        hint="only the default (Allo) typing rules exist in allo_rtl; "
                             "'cpp-style' is for Allo's AIE backend")
    mb = ModuleBuilder(caller_env or {})
    targs = tuple(instantiate or ())
    if isinstance(fn, str):
        src = get_source(fn)
        env = Env({}, {}, mb.caller_env)
        top = mb.instantiate(None, targs, src=src, env=env)
    else:
        has_params = bool(getattr(get_source(_unwrap(fn)).tree, "type_params", None)) \
            or isinstance(fn, Template) or isinstance(getattr(fn, "fn", None), Template)
        top = mb.instantiate(fn, targs if has_params else ())
    # callees first, top last (a deterministic order for printing and lowering)
    order = [n for n in mb.funcs if n != top.name] + [top.name]
    return Module({n: mb.funcs[n] for n in order}, top.name)


# ====================================================================== function builder


class FunctionBuilder(StreamOps):
    def __init__(self, mb: ModuleBuilder, src: KernelSource, env: Env, name: str):
        self.mb = mb
        self.src = src
        self.env = env
        self.name = name
        self.scopes: list[dict] = [{}]
        self.bodies: list[list] = [[]]
        self.used: set = set()
        self.for_count = 0  # Python 'for' statements finished (Allo's band numbering)
        self.gen_bands = 0  # loop nests generated for builtins
        self.loop_depth = 0
        self.results: list = []
        self.const_bufs: dict = {}  # id(ndarray) -> buffer name
        self.meta_state: list = [None]  # per block: has the current meta_if chain been taken?
        self._temps: set = set()  # buffers created for intermediate tensor values
        self._get_vars: set = set()  # variables created to receive a stream get
        self.dyn_depth = 0  # run-time control flow (loops, ifs) around the current statement
        # dataflow: set by RegionBuilder for each kernel instance
        self.pid = None  # df.get_pid() of this instance
        self.region = None  # the RegionBuilder whose streams this kernel may use
        self.stream_params: dict = {}  # region stream IR name -> Param, in order of first use

    # ------------------------------------------------------------ helpers

    def err(self, node, msg, hint=None):
        raise AlloError(msg, self.src.loc(node) if node is not None else None, hint)

    def loc(self, node):
        return self.src.loc(node)

    def fresh(self, base: str) -> str:
        base = base or "v"
        name, n = base, 0
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name

    def emit(self, stmt):
        self.bodies[-1].append(stmt)

    @contextmanager
    def block(self, body: list, scope: bool = True):
        """Emit into ``body``; ``scope=False`` keeps declarations in the enclosing scope."""
        self.bodies.append(body)
        if scope:
            self.scopes.append({})
        self.meta_state.append(None)
        try:
            yield
        finally:
            self.meta_state.pop()
            if scope:
                self.scopes.pop()
            self.bodies.pop()

    def lookup(self, name):
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def declare(self, name, sym: Sym):
        self.scopes[-1][name] = sym

    def pyeval(self, node, extra=None):
        """Evaluate an AST expression as Python in the kernel's environment."""
        d = self.env.as_dict()
        for scope in self.scopes:
            for k, s in scope.items():
                if s.kind == "const" or (s.kind == "scalar" and s.value is not None):
                    d[k] = s.value
        if extra:
            d.update(extra)
        try:
            return eval(compile(ast.Expression(node), self.src.file, "eval"), d)
        except AlloError:
            raise
        except NameError as exc:
            self.err(node, f"{exc} (while evaluating a compile-time expression)",
                     "define it in the kernel's module, the enclosing function, or pass it "
                     "as a template parameter")
        except Exception as exc:  # noqa: BLE001
            self.err(node, f"cannot evaluate compile-time expression: {exc}")

    # ------------------------------------------------------------ types

    def eval_annotation(self, node):
        """Return (dtype, shape, markers) for an annotation AST."""
        markers = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            markers.append(self.pyeval(node.right))
            node = node.left
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                inner = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                self.err(node, f"cannot parse type annotation {node.value!r}")
            return self.eval_annotation(inner)
        if isinstance(node, ast.Subscript) and _is_name(node.value, "ConstExpr"):
            dtype, shape, m2 = self.eval_annotation(node.slice)
            return dtype, shape, markers + m2 + [ConstExpr]
        val = self.pyeval(node)
        return self._split_type(val, node) + (markers,)

    def _split_type(self, val, node):
        if isinstance(val, TypeAnnotation):
            if isinstance(val.dtype, TypeAnnotation):
                self.err(node, f"{val!r} is not an allo_rtl type",
                         "write a tensor type as T[M, N], not T[M][N]")
            shape = tuple(val.shape)
            if any(s is Ellipsis for s in shape):
                if shape != (Ellipsis,):
                    dims = ", ".join("..." if s is Ellipsis else str(s) for s in shape)
                    self.err(node, f"dynamic shape {val.dtype}[{dims}]: only a whole dynamic "
                             "shape T[...] is supported (a 1-D array whose length is known at "
                             "run time)", "declare the array as T[...] and index it flat "
                             "(A[i * N + j]), passing the sizes as scalar arguments")
                return val.dtype, (None,)
            for s in shape:
                if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 1:
                    self.err(node, f"tensor dimension must be a positive integer, not {s!r}",
                             "dimensions are Python ints (or expressions of them) resolved "
                             "at customize()")
            return val.dtype, tuple(int(s) for s in shape)
        if isinstance(val, AlloType):
            return val, ()
        if val is Stateful:
            return None, ()
        self.err(node, f"{val!r} is not an allo_rtl type",
                 "annotate with a type such as int32, float32, Fixed(16, 8) or int32[4, 4]")

    # ------------------------------------------------------------ build

    def annotated_args(self, fdef, what: str):
        """(arg node, dtype, shape, markers) for each parameter of ``fdef`` (a ``what``:
        kernel or region), checking that all are plain and annotated."""
        a = fdef.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
            self.err(fdef, f"{what} parameters must be plain positional parameters",
                     "remove *args/**kwargs/defaults; every parameter needs a type annotation")
        for arg in a.args:
            if arg.annotation is None:
                self.err(arg, f"parameter {arg.arg!r} of {what} {fdef.name!r} has no type "
                         "annotation", f"write e.g. '{arg.arg}: int32' or '{arg.arg}: int32[16]'")
            yield (arg,) + self.eval_annotation(arg.annotation)

    def build(self) -> Function:
        fdef = self.src.tree
        params = []
        for arg, dtype, shape, markers in self.annotated_args(fdef, "kernel"):
            if isinstance(dtype, Stream):
                params.append(self.stream_param(arg, dtype, shape))
                continue
            mem = next((m for m in markers if isinstance(m, Memory)), None)
            name = self.fresh(arg.arg)
            params.append(Param(name, dtype, shape, mem, self.loc(arg)))
            self.declare(arg.arg, Sym("tensor" if shape else "scalar", name, dtype, shape))
        self.results = self._results(fdef)
        body = self.bodies[0]
        for stmt in fdef.body:
            self.stmt(stmt)
        if self.results and not _ends_with_return(body):
            self.err(fdef, f"kernel {fdef.name!r} declares a return value but does not "
                     "end with a return statement", "add 'return ...' at the end")
        params += list(self.stream_params.values())  # region streams this kernel uses
        return Function(self.name, params, self.results, body, self.loc(fdef))

    def stream_param(self, arg, stype, shape) -> Param:
        """A Stream parameter ``q: Stream[T, depth]`` of a kernel called from other kernels."""
        if shape:
            self.err(arg, f"parameter {arg.arg!r} is an array of streams",
                     "pass the streams one by one (q0: Stream[T, d], q1: Stream[T, d], ...)")
        name = self.fresh(arg.arg)
        self.declare(arg.arg, Sym("stream", name, stype, value=StreamVal(name, stype)))
        return Param(name, stype, (), None, self.loc(arg))

    def _results(self, fdef):
        r = fdef.returns
        if r is None or (isinstance(r, ast.Constant) and r.value is None):
            return []
        nodes = r.elts if isinstance(r, ast.Tuple) else [r]
        if isinstance(r, ast.Constant) and isinstance(r.value, str):
            parsed = ast.parse(r.value, mode="eval").body
            if isinstance(parsed, ast.Tuple):
                nodes = [ast.Constant(ast.unparse(e), lineno=r.lineno, col_offset=r.col_offset)
                         for e in parsed.elts]
        out = []
        for n in nodes:
            dtype, shape, _ = self.eval_annotation(n)
            if isinstance(dtype, Stream):
                self.err(n, "a kernel cannot return a stream",
                         "pass the stream as a parameter and put into it")
            if is_dynamic(shape):
                self.err(n, "a kernel cannot return a tensor of dynamic shape (T[...])",
                         "pass the output array as a T[...] parameter and write it in place")
            out.append(ResultSpec(dtype, shape))
        return out

    # ====================================================================== statements

    def stmt(self, node):
        meth = getattr(self, "s_" + type(node).__name__, None)
        if meth is None:
            what = {"Break": "'break'", "Continue": "'continue'", "Try": "try/except",
                    "Raise": "raise", "Global": "global", "Nonlocal": "nonlocal",
                    "Delete": "del", "Import": "import", "ImportFrom": "import",
                    "ClassDef": "class definitions", "Match": "match", "AsyncFor": "async for",
                    "Assert": "assert", "Lambda": "lambda"}.get(type(node).__name__,
                                                                type(node).__name__)
            self.err(node, f"{what} is not supported in kernels",
                     "kernels support assignments, for/while loops, if/else, calls and return")
        if not isinstance(node, ast.With):
            if self.meta_state:
                self.meta_state[-1] = None
        meth(node)

    def s_Pass(self, node):
        pass

    def s_Expr(self, node):
        if isinstance(node.value, ast.Constant):  # docstring / bare constant
            return
        if not isinstance(node.value, ast.Call):
            self.err(node, "expression statement has no effect",
                     "assign the value or remove the line")
        self.expr(node.value, discard=True)

    def s_FunctionDef(self, node):
        self.declare(node.name, Sym("func", value=node))

    def s_Return(self, node):
        vals = [] if node.value is None else (
            list(node.value.elts) if isinstance(node.value, ast.Tuple) else [node.value])
        if len(vals) != len(self.results):
            self.err(node, f"return has {len(vals)} value(s) but the kernel declares "
                     f"{len(self.results)} result(s)", "match the return annotation")
        out = []
        for v, spec in zip(vals, self.results):
            val = self.expr(v)
            if spec.is_tensor:
                if isinstance(val, PyVal) and not isinstance(val.value, np.ndarray):
                    t = self.materialize_fill(spec.type, spec.shape, self.as_expr(val, v, spec.type), "ret")
                    val = t
                val = self.static_tensor(self.as_tensor(val, v), v, "returning a tensor")
                if tuple(val.shape) != tuple(spec.shape):
                    self.err(v, f"returned tensor has shape {list(val.shape)} but the kernel "
                             f"declares {list(spec.shape)}", "fix the return annotation or value")
                if val.dtype != spec.type:
                    val = self.cast_tensor(val, spec.type, v)
                out.append(val.ref(self.loc(v)))
            else:
                out.append(self.coerce(self.as_expr(val, v, spec.type), spec.type, v))
        self.emit(Return(out, self.loc(node)))

    # ------------------------------------------------------------ declarations

    def s_AnnAssign(self, node):
        if not isinstance(node.target, ast.Name):
            self.err(node, "annotated assignment target must be a plain name")
        name = node.target.id
        dtype, shape, markers = self.eval_annotation(node.annotation)
        if is_dynamic(shape):
            self.err(node.annotation, f"{name!r} cannot have a dynamic shape (T[...])",
                     "only kernel parameters may be T[...] (sized by the caller's array); "
                     "give a local a compile-time shape")
        stateful = any(m is Stateful for m in markers)
        mem = next((m for m in markers if isinstance(m, Memory)), None)
        if dtype is None:
            self.err(node.annotation, "missing element type", "write e.g. 'x: int32 @ Stateful = 0'")
        if ConstExpr in markers:
            if node.value is None:
                self.err(node, f"ConstExpr {name!r} must be initialized")
            v = self.expr(node.value, const=True)
            if not isinstance(v, PyVal):
                self.err(node.value, f"ConstExpr {name!r} must be a compile-time value",
                         "use only constants, template parameters and Python helpers")
            self.declare(name, Sym("const", type=dtype, value=v.value))
            return
        if isinstance(dtype, Stream):
            return self.declare_stream(node, name, dtype, shape)
        prev = self.lookup(name)
        if prev is not None and prev.kind == "loopvar":
            self.err(node, f"{name!r} is a loop variable and cannot be redeclared")
        if not stateful and self.get_into_decl(node, name, dtype, shape, mem):
            return
        irname = self.fresh(name)
        loc = self.loc(node)
        if not shape:
            init = None
            known = None
            if node.value is not None:
                v = self.expr(node.value)
                if isinstance(v, TensorVal):
                    self.err(node.value, f"cannot initialize scalar {name!r} with a tensor")
                if isinstance(v, PyVal) and isinstance(v.value, (int, float)) and not stateful:
                    known = v.value
                init = self.coerce(self.as_expr(v, node.value, dtype), dtype, node.value)
            self.emit(Decl(irname, dtype, (), init, stateful, False, mem, loc))
            self.declare(name, Sym("scalar", irname, dtype, (), value=known))
            return
        init = None
        if node.value is not None:
            v = self.expr(node.value, hint=name)
            if isinstance(v, PyVal) and isinstance(v.value, (list, tuple, np.ndarray)):
                arr = np.asarray(v.value)
                if arr.shape != shape:
                    try:
                        arr = np.broadcast_to(arr, shape)
                    except ValueError:
                        self.err(node.value, f"initializer has shape {list(arr.shape)}, "
                                 f"declared {list(shape)}")
                init = np.array(numerics.to_raw(arr, dtype), dtype=object).reshape(shape)
            elif isinstance(v, TensorVal):
                self.static_tensor(v, node.value, "initializing a tensor from another")
                if tuple(v.shape) != shape:
                    self.err(node.value, f"initializer has shape {list(v.shape)}, "
                             f"declared {list(shape)}", "shapes must match exactly")
                if v.dtype == dtype and not v.prefix and self._is_fresh_temp(v.buf) and not stateful:
                    # the value is a temporary made for this declaration: just name it
                    self.rename_temp(v.buf, irname)
                    self.declare(name, Sym("tensor", irname, dtype, shape))
                    return
                init = v.ref(self.loc(node.value)) if v.dtype == dtype else \
                    self.cast_tensor(v, dtype, node.value).ref()
            else:
                init = self.coerce(self.as_expr(v, node.value, dtype), dtype, node.value)
        self.emit(Decl(irname, dtype, shape, init, stateful, False, mem, loc))
        self.declare(name, Sym("tensor", irname, dtype, shape))

    def _is_fresh_temp(self, buf):
        body = self.bodies[-1]
        return bool(body) and isinstance(body[-1], (For, CallStmt, StreamGet)) and \
            buf in self._temps

    def rename_temp(self, old, new):
        from ..ir.rename import rename_buffer

        for body in self.bodies:
            rename_buffer(body, old, new)
        self.used.add(new)

    def new_temp(self, dtype, shape, hint="t", init=None):
        name = self.fresh(hint if hint else "t")
        self.emit(Decl(name, dtype, tuple(shape), init, loc=None))
        self._temps.add(name)
        return TensorVal(name, (), tuple(shape), dtype)

    # ------------------------------------------------------------ compile-time values

    def const_int_value(self, node):
        """The integer value of a compile-time expression, or None."""
        v = self.expr(node)
        if isinstance(v, PyVal):
            ok = isinstance(v.value, (int, np.integer)) and not isinstance(v.value, bool)
            return int(v.value) if ok else None
        lin = _linear(v) if isinstance(v, Expr) else None
        return lin[1] if lin is not None and not lin[0] else None

    def meta_cond(self, node) -> bool:
        """A meta_if/meta_elif condition: compile-time (typed constants such as meta_for
        variables count)."""
        v = self.compile_time(node)
        if v is not MISSING:
            return bool(v)
        c = self.expr(node)
        if not isinstance(c, PyVal):
            self.err(node, "meta_if condition must be known at compile time",
                     "use a plain 'if' for run-time conditions")
        return bool(c.value)

    def compile_time(self, node):
        """``node`` evaluated as Python when every name in it is a compile-time constant
        (kernel constants, template parameters, globals), else MISSING."""
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                sym = self.lookup(n.id)
                if sym is not None and sym.kind != "const":
                    return MISSING
                if sym is None and (self.env.lookup(n.id) is MISSING or (
                        self.region is not None and n.id in self.region.names)):
                    return MISSING
        try:
            return self.pyeval(node)
        except AlloError:
            return MISSING

    # ------------------------------------------------------------ assignment

    def s_Assign(self, node):
        if len(node.targets) != 1:
            self.err(node, "chained assignment (a = b = v) is not supported",
                     "assign each name separately")
        target = node.targets[0]
        hint = target.id if isinstance(target, ast.Name) else None
        val = self.expr(node.value, hint=hint)
        if self._is_pid_call(node.value):
            return self.bind_pid(target, val)
        self.assign(target, val, node.value)

    def assign(self, target, val, vnode):
        if isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(val, PyVal) and isinstance(val.value, tuple):
                val = tuple(PyVal(x) for x in val.value)
            if not isinstance(val, tuple) or len(val) != len(target.elts):
                self.err(target, "cannot unpack: the right-hand side does not have "
                         f"{len(target.elts)} values")
            for t, v in zip(target.elts, val):
                self.assign(t, v, vnode)
            return
        if isinstance(val, tuple):
            self.err(vnode, "cannot assign several values to one target",
                     "unpack them: a, b = f(...)")
        if isinstance(target, ast.Name):
            return self.assign_name(target, val, vnode)
        if isinstance(target, ast.Subscript):
            return self.assign_subscript(target, val, vnode)
        if isinstance(target, ast.Attribute):
            self.err(target, "cannot assign to an attribute in a kernel")
        self.err(target, "unsupported assignment target")

    def assign_name(self, target, val, vnode):
        name = target.id
        if name == "_":
            return
        sym = self.lookup(name)
        if sym is not None and sym.kind == "loopvar":
            self.err(target, f"cannot assign to loop variable {name!r}")
        if sym is not None and sym.kind == "scalar":
            if isinstance(val, TensorVal):
                self.err(vnode, f"cannot assign a tensor to scalar {name!r}")
            e = self.coerce(self.as_expr(val, vnode, sym.type), sym.type, vnode)
            self.emit(Assign(sym.irname, e, self.loc(target)))
            sym.value = None
            return
        if sym is not None and sym.kind == "const":
            self.err(target, f"cannot assign to ConstExpr {name!r}")
        if isinstance(val, (StreamVal, StreamArrayVal)):
            if sym is not None:
                self.err(target, f"cannot assign a stream to {name!r}, which is already a "
                         f"{sym.kind}", "use a new name for the stream alias")
            self.declare(name, Sym("stream", val.name, val.type, value=val))
            return
        if isinstance(val, Var) and self._is_fresh_get(val.name):
            # 'x = q.get()': the variable the get wrote (named after x) becomes x
            self.declare(name, Sym("scalar", val.name, val.type))
            return
        if isinstance(val, TensorVal):
            if not val.prefix and self._is_fresh_temp(val.buf) and val.buf != name:
                newname = self.fresh(name)
                self.rename_temp(val.buf, newname)
                self._temps.discard(val.buf)
                val = TensorVal(newname, (), val.shape, val.dtype)
            self.declare(name, Sym("tensor", val.buf, val.dtype, tuple(val.shape)))
            if val.prefix:  # a subview: keep it as a view
                self.scopes[-1][name] = Sym("view", val.buf, val.dtype, tuple(val.shape),
                                            value=val)
            return
        if isinstance(val, PyVal):
            v = val.value
            if isinstance(v, np.ndarray):
                t = self.const_tensor(v, vnode)
                self.declare(name, Sym("tensor", t.buf, t.dtype, t.shape))
                return
            if not isinstance(v, (int, float, bool, np.integer, np.floating)):
                self.declare(name, Sym("const", value=v))
                return
        e = self.as_expr(val, vnode)
        irname = self.fresh(name)
        known = val.value if isinstance(val, PyVal) else None
        self.emit(Decl(irname, e.type, (), e, loc=self.loc(target)))
        self.declare(name, Sym("scalar", irname, e.type, (), value=known))

    def assign_subscript(self, target, val, vnode):
        base = self.expr(target.value)
        if isinstance(base, TensorVal):
            idx, slices = self.index_parts(target.slice, base, target)
            if slices is None:
                if isinstance(val, TensorVal):
                    self.err(vnode, "cannot store a tensor into one element")
                e = self.coerce(self.as_expr(val, vnode, base.dtype), base.dtype, vnode)
                self.emit(Store(base.buf, tuple(base.prefix) + tuple(idx), e, self.loc(target)))
                return
            from .builtins import store_region

            store_region(self, base, idx, slices, val, vnode)
            return
        if isinstance(base, Expr):
            # bit store into a scalar variable or a tensor element
            lo, width = self.bit_range(target.slice, base, target)
            new = self.as_expr(val, vnode)
            if not isinstance(new.type, (Int, UInt, Index)):
                self.err(vnode, f"bit store needs an integer value, not {new.type}")
            upd = BitInsert(base, lo, width, new, base.type, self.loc(target))
            if isinstance(base, Var):
                self.emit(Assign(base.name, upd, self.loc(target)))
                sym = self._sym_by_irname(base.name)
                if sym is not None:
                    sym.value = None
            elif isinstance(base, Load):
                self.emit(Store(base.buf, base.index, upd, self.loc(target)))
            else:
                self.err(target, "bit store target must be a variable or a tensor element")
            return
        self.err(target, "cannot assign to this subscript")

    def _sym_by_irname(self, irname):
        for scope in reversed(self.scopes):
            for s in scope.values():
                if s.irname == irname:
                    return s
        return None

    def s_AugAssign(self, node):
        op = _BINOPS.get(type(node.op))
        if op is None:
            self.err(node, "unsupported augmented assignment")
        cur = self.expr(node.target)
        rhs = self.expr(node.value)
        val = self.binop(op, cur, rhs, node)
        self.assign(node.target, val, node)

    # ------------------------------------------------------------ control flow

    def s_If(self, node):
        cond = self.expr(node.test)
        if isinstance(cond, PyVal):  # compile-time condition: keep only the taken branch
            body = node.body if cond.value else node.orelse
            then: list = []
            with self.block(then):
                for s in body:
                    self.stmt(s)
            self.bodies[-1].extend(then)
            return
        c = self.to_bool(cond, node.test)
        then, orelse = [], []
        self.dyn_depth += 1
        with self.block(then):
            for s in node.body:
                self.stmt(s)
        with self.block(orelse):
            for s in node.orelse:
                self.stmt(s)
        self.dyn_depth -= 1
        self.emit(If(c, then, orelse, self.loc(node)))

    def s_While(self, node):
        if node.orelse:
            self.err(node, "while-else is not supported in kernels")
        cond_body: list = []
        with self.block(cond_body):
            cond = self.expr(node.test)
        if cond_body:
            self.err(node.test, "a while condition cannot call kernels or build tensors",
                     "compute it into a variable before the loop and at the end of the body")
        if isinstance(cond, PyVal):
            if not cond.value:
                return
            self.err(node.test, "while loop with a constant true condition never ends",
                     "kernels have no 'break'; use a condition on a variable")
        body: list = []
        self.dyn_depth += 1
        with self.block(body):
            for s in node.body:
                self.stmt(s)
        self.dyn_depth -= 1
        self.emit(While(self.to_bool(cond, node.test), body, self.loc(node)))

    def s_For(self, node):
        if node.orelse:
            self.err(node, "for-else is not supported in kernels")
        it = node.iter
        if not isinstance(it, ast.Call):
            self.err(it, "kernel loops iterate over range(...), allo.grid(...) or "
                     "allo.reduction(...)", "write 'for i in range(N):'")
        fn = self.resolve_callee(it.func)
        if fn is range:
            kind = "range"
        elif fn is dsl.grid:
            kind = "grid"
        elif fn is dsl.reduction:
            kind = "reduction"
        else:
            self.err(it, "kernel loops iterate over range(...), allo.grid(...) or "
                     "allo.reduction(...)", "write 'for i in range(N):'")
        kw = {k.arg: k.value for k in it.keywords}
        for k in kw:
            if k not in ("name", "pipeline", "unroll"):
                self.err(it, f"unknown loop keyword {k!r}", "use name=, pipeline= or unroll=")
        targets = node.target.elts if isinstance(node.target, ast.Tuple) else [node.target]
        if not all(isinstance(t, ast.Name) for t in targets):
            self.err(node.target, "loop variables must be plain names")
        if kind == "range":
            if len(targets) != 1:
                self.err(node.target, "range() yields one loop variable")
            args = [self.expr(a) for a in it.args]
            if not 1 <= len(args) <= 3:
                self.err(it, "range() takes 1 to 3 arguments")
            step = 1
            if len(args) == 3:
                if not isinstance(args[2], PyVal) or not isinstance(args[2].value, (int, np.integer)):
                    self.err(it.args[2], "loop step must be a compile-time integer")
                step = int(args[2].value)
                if step <= 0:
                    self.err(it.args[2], f"loop step must be positive, not {step}",
                             "count upward with a positive step")
            lb = PyVal(0) if len(args) == 1 else args[0]
            ub = args[0] if len(args) == 1 else args[1]
            ranges = [(lb, ub, step, it.args[0])]
        else:
            if len(it.args) != len(targets):
                self.err(it, f"{kind}() has {len(it.args)} dimension(s) but "
                         f"{len(targets)} loop variable(s)")
            ranges = []
            for a in it.args:
                ub = self.expr(a)
                ranges.append((PyVal(0), ub, 1, a))
        names = [t.id for t in targets]
        for n, t in zip(names, targets):
            s = self.lookup(n)
            if s is not None and s.kind == "loopvar":
                self.err(t, f"loop variable {n!r} is already used by an enclosing loop",
                         "use a different name for the inner loop")
        pipe = self._loop_attr(kw.get("pipeline"), len(names), "pipeline")
        unroll = self._loop_attr(kw.get("unroll"), len(names), "unroll")
        band = ""
        if self.loop_depth == 0:
            if "name" in kw:
                band = self.pyeval(kw["name"])
            else:
                band = f"S_{'_'.join(names)}_{self.for_count}"
        elif "name" in kw:
            band = ""
        outer_body = self.bodies[-1]
        loops = []
        self.scopes.append({})
        try:
            for k, ((lb, ub, step, anode), n) in enumerate(zip(ranges, names)):
                lbe = self.index_expr(lb, anode)
                ube = self.index_expr(ub, anode)
                var = self.fresh(n)
                attrs = {}
                if kind == "reduction":
                    attrs["reduction"] = True
                if pipe[k] is not None:
                    attrs["pipeline"] = pipe[k]
                if unroll[k] is not None:
                    attrs["unroll"] = unroll[k]
                loop = For(var, lbe, ube, step, [], n, band if k == 0 else "", attrs,
                           self.loc(node))
                loops.append(loop)
                self.scopes[-1][n] = Sym("loopvar", var, Index())
            for outer, inner in zip(loops, loops[1:]):
                outer.body.append(inner)
            self.loop_depth += 1
            self.dyn_depth += 1
            with self.block(loops[-1].body):
                for s in node.body:
                    self.stmt(s)
            self.loop_depth -= 1
            self.dyn_depth -= 1
        finally:
            self.scopes.pop()
        outer_body.append(loops[0])
        self.for_count += 1

    def _loop_attr(self, node, n, what):
        if node is None:
            return [None] * n
        v = self.pyeval(node)
        if isinstance(v, (list, tuple)):
            if len(v) != n:
                self.err(node, f"{what}= list has {len(v)} entries for {n} loops")
            vals = list(v)
        else:
            vals = [None] * (n - 1) + [v]
        out = []
        for x in vals:
            if x is None or x is False:
                out.append(None)
            elif x is True:
                out.append(1 if what == "pipeline" else 0)
            elif isinstance(x, int) and x >= 0:
                out.append(int(x))
            else:
                self.err(node, f"{what}= must be True, a non-negative int or a list, not {x!r}")
        return out

    def index_expr(self, v, node) -> Expr:
        if isinstance(v, PyVal):
            if not isinstance(v.value, (int, np.integer)) or isinstance(v.value, bool):
                self.err(node, f"loop bound must be an integer, not {v.value!r}")
            return Const(int(v.value), Index(), self.loc(node))
        e = self.as_expr(v, node)
        if not isinstance(e.type, (Int, UInt, Index)):
            self.err(node, f"loop bound must be an integer, not {e.type}")
        return e

    def s_With(self, node):
        if len(node.items) != 1 or not isinstance(node.items[0].context_expr, ast.Call):
            self.err(node, "only 'with allo.meta_if/meta_elif/meta_else/meta_for' is supported")
        call = node.items[0].context_expr
        fn = self.resolve_callee(call.func)
        if fn in (dsl.meta_if, dsl.meta_elif, dsl.meta_else):
            if fn is dsl.meta_if:
                taken_before = False
            else:
                st = self.meta_state[-1] if self.meta_state else None
                if st is None:
                    self.err(node, f"{fn.__name__} without a preceding meta_if")
                taken_before = st
            if fn is dsl.meta_else:
                cond = True
            else:
                if len(call.args) != 1:
                    self.err(call, f"{fn.__name__} takes one condition")
                cond = self.meta_cond(call.args[0])
            take = cond and not taken_before
            if take:
                # a taken branch is spliced into the enclosing block: what it declares
                # stays visible after the meta_if chain, as in Allo (no Python scope)
                body: list = []
                with self.block(body, scope=False):
                    for s in node.body:
                        self.stmt(s)
                self.bodies[-1].extend(body)
            if self.meta_state:
                self.meta_state[-1] = None if fn is dsl.meta_else else (taken_before or cond)
            return
        if fn is dsl.meta_for:
            args = [self.expr(a) for a in call.args]
            if not all(isinstance(a, PyVal) for a in args):
                self.err(call, "meta_for bounds must be compile-time integers")
            var = node.items[0].optional_vars
            if not isinstance(var, ast.Name):
                self.err(node, "write 'with allo.meta_for(N) as i:'")
            for i in range(*[int(a.value) for a in args]):
                body = []
                with self.block(body):
                    self.declare(var.id, Sym("const", type=Index(), value=i))
                    for s in node.body:
                        self.stmt(s)
                self.bodies[-1].extend(body)
            return
        self.err(node, "only 'with allo.meta_if/meta_elif/meta_else/meta_for' is supported")

    # ====================================================================== expressions

    def expr(self, node, *, hint=None, const=False, discard=False):
        meth = getattr(self, "e_" + type(node).__name__, None)
        if meth is None:
            self.err(node, f"{type(node).__name__} expressions are not supported in kernels")
        if isinstance(node, ast.Call):
            return meth(node, hint=hint, const=const, discard=discard)
        return meth(node)

    def e_Constant(self, node):
        if isinstance(node.value, (bool, int, float, str)) or node.value is None:
            return PyVal(node.value)
        self.err(node, f"unsupported constant {node.value!r}")

    def e_Name(self, node):
        sym = self.lookup(node.id)
        if sym is not None:
            if sym.kind in ("scalar", "loopvar"):
                return Var(sym.irname, sym.type, self.loc(node))
            if sym.kind == "tensor":
                return TensorVal(sym.irname, (), sym.shape, sym.type)
            if sym.kind == "view":
                return sym.value
            if sym.kind == "const":
                if sym.type is not None and isinstance(sym.value, (int, float)):
                    return self.typed_const(sym.value, sym.type, node)
                return PyVal(sym.value)
            if sym.kind == "func":
                return PyVal(_NestedKernel(sym.value))
            if sym.kind == "stream":
                return sym.value
        if self.region is not None:
            v = self.region.outer_name(self, node)
            if v is not None:
                return v
        v = self.env.lookup(node.id)
        if v is MISSING:
            self.err(node, f"name {node.id!r} is not defined",
                     "define it before use (kernel variable, module global, or a local of "
                     "the function calling customize())")
        return PyVal(v)

    def typed_const(self, value, t, node):
        if isinstance(t, Float):
            return Const(numerics.round_float(float(value), t), t, self.loc(node))
        if is_fixed(t):
            return Const(numerics.wrap(int(math.floor(value * 2**t.fracs)), t), t, self.loc(node))
        return Const(numerics.wrap(int(value), t), t, self.loc(node))

    def e_Tuple(self, node):
        vals = tuple(self.expr(e) for e in node.elts)
        if all(isinstance(v, PyVal) for v in vals):
            return PyVal(tuple(v.value for v in vals))
        return vals

    def e_Set(self, node):
        vals = [self.expr(e) for e in node.elts]
        if all(isinstance(v, PyVal) for v in vals):
            return PyVal({v.value for v in vals})
        self.err(node, "set literals must contain compile-time constants")

    def e_List(self, node):
        vals = [self.expr(e) for e in node.elts]
        if all(isinstance(v, PyVal) for v in vals):
            return PyVal([v.value for v in vals])
        self.err(node, "list literals must contain compile-time constants")

    def e_BinOp(self, node):
        op = _BINOPS.get(type(node.op))
        if op is None:
            self.err(node, f"operator {type(node.op).__name__} is not supported")
        return self.binop(op, self.expr(node.left), self.expr(node.right), node)

    def e_UnaryOp(self, node):
        v = self.expr(node.operand)
        if isinstance(v, PyVal):
            try:
                return PyVal({ast.USub: lambda x: -x, ast.UAdd: lambda x: +x,
                              ast.Not: lambda x: not x, ast.Invert: lambda x: ~x}
                             [type(node.op)](v.value))
            except TypeError as exc:
                self.err(node, str(exc))
        if isinstance(v, TensorVal):
            from .builtins import tensor_unop

            if isinstance(node.op, ast.UAdd):
                return v
            self.static_tensor(v, node, "whole-tensor arithmetic")
            return tensor_unop(self, {ast.USub: "neg", ast.Invert: "invert",
                                      ast.Not: "not"}[type(node.op)], v, node)
        return self.unop({ast.USub: "neg", ast.UAdd: "pos", ast.Not: "not",
                          ast.Invert: "invert"}[type(node.op)], v, node)

    def unop(self, op, v, node):
        if op == "pos":
            return v
        if op == "not":
            return UnOp("not", self.to_bool(v, node), UInt(1), self.loc(node))
        try:
            t = unop_type(op, v.type)
        except TypingError as exc:
            self.err(node, str(exc))
        return UnOp(op, self.coerce(v, t, node), t, self.loc(node))

    def e_BoolOp(self, node):
        op = "land" if isinstance(node.op, ast.And) else "lor"
        vals = [self.expr(node.values[0])]
        with self.no_stream_access(node, "'and'/'or'"):
            vals += [self.expr(v) for v in node.values[1:]]
        if all(isinstance(v, PyVal) for v in vals):
            r = vals[0].value
            for v in vals[1:]:
                r = (r and v.value) if op == "land" else (r or v.value)
            return PyVal(r)
        acc = self.to_bool(vals[0], node.values[0])
        for v, n in zip(vals[1:], node.values[1:]):
            acc = BinOp(op, acc, self.to_bool(v, n), UInt(1), self.loc(node))
        return acc

    def e_Compare(self, node):
        left = self.expr(node.left)
        result = None
        for opn, rnode in zip(node.ops, node.comparators):
            op = _CMPOPS.get(type(opn))
            right = self.expr(rnode)
            if isinstance(opn, (ast.In, ast.NotIn)):
                c = self.contains(opn, left, right, node)
            elif op is None:
                self.err(node, f"comparison {type(opn).__name__} is not supported",
                         "use <, <=, >, >=, == or !=")
            else:
                c = self.binop(op, left, right, node)
            if result is None:
                result = c
            elif isinstance(result, PyVal) and isinstance(c, PyVal):
                result = PyVal(result.value and c.value)
            else:
                result = BinOp("land", self.to_bool(result, node), self.to_bool(c, node),
                               UInt(1), self.loc(node))
            left = right
        return result

    def contains(self, opn, left, right, node) -> PyVal:
        """``x in {0, 5}``: compile-time membership (e.g. on df.get_pid() values)."""
        if not (isinstance(left, PyVal) and isinstance(right, PyVal)):
            self.err(node, "'in' is only supported on compile-time values",
                     "write run-time tests with == and 'or'")
        try:
            return PyVal((left.value in right.value) == isinstance(opn, ast.In))
        except TypeError as exc:
            self.err(node, f"compile-time 'in' failed: {exc}")

    def e_IfExp(self, node):
        c = self.expr(node.test)
        if isinstance(c, PyVal):
            return self.expr(node.body if c.value else node.orelse)
        with self.no_stream_access(node, "a conditional expression"):
            a, b = self.expr(node.body), self.expr(node.orelse)
        a, b = self.pair_exprs(a, b, node)
        try:
            t = common_type(a.type, b.type)
        except TypingError as exc:
            self.err(node, str(exc))
        return Select(self.to_bool(c, node.test), self.coerce(a, t, node),
                      self.coerce(b, t, node), t, self.loc(node))

    def e_Attribute(self, node):
        if node.attr in ("bits", "fracs"):
            base = self.expr(node.value)
            if isinstance(base, (Expr, TensorVal)):
                t = base.type if isinstance(base, Expr) else base.dtype
                return PyVal(getattr(t, node.attr))
            return PyVal(getattr(base.value, node.attr))
        base = self.expr(node.value)
        if isinstance(base, PyVal):
            try:
                return PyVal(getattr(base.value, node.attr))
            except AttributeError:
                self.err(node, f"{base.value!r} has no attribute {node.attr!r}")
        if node.attr == "T" and isinstance(base, TensorVal):
            from .builtins import transpose

            self.static_tensor(base, node, "'.T'")
            return transpose(self, base, None, node)
        if node.attr == "reverse" and isinstance(base, Expr):
            return self.bit_reverse(base, node)
        if isinstance(base, TensorVal) and node.attr == "shape":
            self.static_tensor(base, node, "'.shape'")
            return PyVal(tuple(base.shape))
        self.err(node, f"unsupported attribute {node.attr!r}",
                 "kernel values support .T, .bits, .fracs, .reverse(), .bitcast(), .copy()")

    def bit_reverse(self, base, node):
        if not isinstance(base.type, (Int, UInt)):
            self.err(node, f".reverse() needs an integer, not {base.type}")
        return BitReverse(base, base.type, self.loc(node))

    def e_Subscript(self, node):
        base = self.expr(node.value)
        if isinstance(base, StreamArrayVal):
            return self.stream_element(base, node)
        if isinstance(base, PyVal):
            b = base.value
            if isinstance(b, (Template, df.Region)) or (isinstance(b, _NestedKernel)) or \
                    isinstance(b, pytypes.FunctionType):
                targs = self.pyeval(node.slice)
                if not isinstance(targs, tuple):
                    targs = (targs,)
                plain = isinstance(b, pytypes.FunctionType)  # PEP 695 generic function
                return PyVal(_Instantiated(Template(b, {}) if plain else b, targs))
            if isinstance(b, AlloType):
                return PyVal(self.pyeval(node))
            idx = self.expr(node.slice)
            if isinstance(idx, PyVal):
                try:
                    return PyVal(b[idx.value])
                except Exception as exc:  # noqa: BLE001
                    self.err(node, f"cannot index compile-time value: {exc}")
            if isinstance(b, (np.ndarray, list, tuple)):
                base = self.const_tensor(np.asarray(b), node)
            else:
                self.err(node, "cannot index this value with a run-time index")
        if isinstance(base, TensorVal):
            idx, slices = self.index_parts(node.slice, base, node)
            if slices is None:
                if len(idx) == len(base.shape):
                    return base.load(idx, self.loc(node))
                return TensorVal(base.buf, tuple(base.prefix) + tuple(idx),
                                 tuple(base.shape[len(idx):]), base.dtype)
            from .builtins import load_region

            return load_region(self, base, idx, slices, node)
        if isinstance(base, Expr):
            if not isinstance(base.type, (Int, UInt, Index)):
                self.err(node, f"bit access needs an integer value, not {base.type}")
            lo, width = self.bit_range(node.slice, base, node)
            if width == 1 and not isinstance(node.slice, ast.Slice):
                return BitGet(base, lo, UInt(1), self.loc(node))
            return BitSlice(base, lo, width, UInt(width), self.loc(node))
        self.err(node, "cannot subscript this value")

    def index_parts(self, snode, base: TensorVal, node):
        """Split a subscript into scalar indices and (if any) slices.

        Returns (indices, None) for pure element/subview indexing, else
        (per-dim list of Expr | (lo, hi, step), 'slices')."""
        elts = snode.elts if isinstance(snode, ast.Tuple) else [snode]
        if len(elts) > len(base.shape):
            self.err(node, f"too many indices: tensor has {len(base.shape)} dimension(s), "
                     f"got {len(elts)}",
                     f"{base.buf!r} is a dynamic array T[...], which is 1-D: index it flat, "
                     f"{base.buf}[i * N + j]" if is_dynamic(base.shape) else None)
        parts, has_slice = [], False
        for d, e in enumerate(elts):
            if base.shape[d] is None:
                parts.append(self.dynamic_index(e, base))
                continue
            if isinstance(e, ast.Slice):
                has_slice = True
                lo = 0 if e.lower is None else self._const_int(e.lower, "slice bound")
                hi = base.shape[d] if e.upper is None else self._const_int(e.upper, "slice bound")
                st = 1 if e.step is None else self._const_int(e.step, "slice step")
                if lo < 0:
                    lo += base.shape[d]
                if hi < 0:
                    hi += base.shape[d]
                if not (0 <= lo <= hi <= base.shape[d]) or st <= 0:
                    self.err(e, f"slice {lo}:{hi}:{st} is out of range for dimension of "
                             f"size {base.shape[d]}")
                parts.append((lo, hi, st))
            else:
                v = self.expr(e)
                if isinstance(v, PyVal):
                    if not isinstance(v.value, (int, np.integer)) or isinstance(v.value, bool):
                        self.err(e, f"tensor index must be an integer, not {v.value!r}")
                    iv = int(v.value)
                    if iv < 0:
                        iv += base.shape[d]
                    if not 0 <= iv < base.shape[d]:
                        self.err(e, f"index {int(v.value)} is out of range for dimension "
                                 f"{d} of size {base.shape[d]}")
                    parts.append(Const(iv, Index(), self.loc(e)))
                else:
                    ex = self.as_expr(v, e)
                    if not isinstance(ex.type, (Int, UInt, Index)):
                        self.err(e, f"tensor index must be an integer, not {ex.type}")
                    parts.append(ex)
        if not has_slice:
            return parts, None
        return parts, "slices"

    def dynamic_index(self, e, base: TensorVal) -> Expr:
        """The index of the dynamic dimension of ``base`` (``A: T[...]``): any integer
        expression; its range is checked at run time (the interpreter raises on an
        out-of-bounds access, the RTL wrapper flags it)."""
        if isinstance(e, ast.Slice):
            self.static_tensor(base, e, "slicing")
        v = self.expr(e)
        if isinstance(v, PyVal):
            if not isinstance(v.value, (int, np.integer)) or isinstance(v.value, bool):
                self.err(e, f"tensor index must be an integer, not {v.value!r}")
            if int(v.value) < 0:
                self.err(e, f"index {int(v.value)} of dynamic array {base.buf!r}: negative "
                         "indices need the length, which is only known at run time",
                         f"index from the start with the size argument, e.g. "
                         f"{base.buf}[size - 1]")
            return Const(int(v.value), Index(), self.loc(e))
        ex = self.as_expr(v, e)
        if not isinstance(ex.type, (Int, UInt, Index)):
            self.err(e, f"tensor index must be an integer, not {ex.type}")
        return ex

    def _const_int(self, node, what):
        v = self.expr(node)
        if not isinstance(v, PyVal) or not isinstance(v.value, (int, np.integer)):
            self.err(node, f"{what} must be a compile-time integer")
        return int(v.value)

    def bit_range(self, snode, base, node):
        """(lo Expr, width int) of a bit subscript ``x[k]`` or ``x[lo:hi]`` (hi exclusive)."""
        bits = base.type.bits
        if isinstance(snode, ast.Slice):
            if snode.step is not None:
                self.err(node, "bit slices take no step")
            lo = self.expr(snode.lower) if snode.lower is not None else PyVal(0)
            hi = self.expr(snode.upper) if snode.upper is not None else PyVal(bits)
            if isinstance(lo, PyVal) and isinstance(hi, PyVal):
                width = int(hi.value) - int(lo.value)
            else:
                width = _const_difference(self.as_expr(hi, snode), self.as_expr(lo, snode))
                if width is None:
                    self.err(node, "bit slice width must be a compile-time constant",
                             "write x[i:i + 4] (hi - lo constant)")
            if width <= 0:
                self.err(node, f"bit slice [lo:hi] needs hi > lo (width {width})")
            if isinstance(lo, PyVal) and int(lo.value) + width > bits:
                self.err(node, f"bit slice exceeds the {bits}-bit value")
            return self.index_expr(lo, snode), width
        v = self.expr(snode)
        if isinstance(v, PyVal) and not 0 <= int(v.value) < bits:
            self.err(node, f"bit index {v.value} is out of range for a {bits}-bit value")
        return self.index_expr(v, snode), 1

    # ------------------------------------------------------------ calls

    def resolve_callee(self, fnode):
        v = self.expr(fnode)
        if isinstance(v, PyVal):
            return v.value
        return v

    def e_Call(self, node, hint=None, const=False, discard=False):
        f = node.func
        # methods on kernel values
        if isinstance(f, ast.Attribute):
            base = self.expr(f.value)
            if not isinstance(base, PyVal):
                return self.method_call(base, f.attr, node, hint, discard)
            fn = getattr(base.value, f.attr, MISSING)
            if fn is MISSING:
                self.err(f, f"{base.value!r} has no attribute {f.attr!r}")
        else:
            fn = self.resolve_callee(f)
            if not isinstance(fn, PyVal) and isinstance(fn, (Expr, TensorVal)):
                self.err(node, "this value is not callable")
        from . import builtins as B

        if fn is df.get_pid:
            return self.pid_value(node)
        if fn in B.HANDLERS:
            return B.HANDLERS[fn](self, node, hint)
        if fn is range:
            self.err(node, "range() is only valid as a for-loop iterator")
        if fn in (min, max):
            return self.minmax("min" if fn is min else "max", node)
        if fn in (int, float):
            if len(node.args) != 1:
                self.err(node, f"{fn.__name__}() takes one argument")
            v = self.expr(node.args[0])
            if isinstance(v, PyVal):
                return PyVal(fn(v.value))
            return self.coerce(self.as_expr(v, node), int32 if fn is int else float32, node)
        if fn is abs:
            return B.HANDLERS[dsl.abs](self, node, hint)
        if fn is len:
            v = self.expr(node.args[0])
            if isinstance(v, TensorVal):
                self.static_tensor(v, node, "len()")
                return PyVal(v.shape[0])
            return PyVal(len(v.value))
        if isinstance(fn, AlloType):
            if len(node.args) != 1:
                self.err(node, f"type conversion {fn}(x) takes one argument")
            v = self.expr(node.args[0])
            return self.coerce(self.as_expr(v, node, fn), fn, node)
        if isinstance(fn, (_Instantiated, _NestedKernel, Template)) or _is_kernel_function(fn):
            args = [self.expr(a) for a in node.args]
            if node.keywords:
                self.err(node, "kernel calls take positional arguments only")
            if const or (all(isinstance(a, PyVal) for a in args) and isinstance(
                    fn, pytypes.FunctionType) and not _looks_like_kernel(fn)):
                try:
                    return PyVal(fn(*[a.value for a in args]))
                except Exception as exc:  # noqa: BLE001
                    self.err(node, f"compile-time call failed: {exc}")
            return self.kernel_call(fn, args, node, hint)
        if callable(fn) and const:
            args = [self.expr(a) for a in node.args]
            if all(isinstance(a, PyVal) for a in args):
                return PyVal(fn(*[a.value for a in args]))
        if callable(fn):
            args = [self.expr(a) for a in node.args]
            kwargs = {k.arg: self.expr(k.value) for k in node.keywords}
            if all(isinstance(a, PyVal) for a in args + list(kwargs.values())):
                fname = getattr(fn, "__name__", fn)
                try:
                    r = fn(*[a.value for a in args], **{k: v.value for k, v in kwargs.items()})
                except Exception as exc:  # noqa: BLE001
                    self.err(node, f"compile-time call of {fname} failed: {exc}")
                if r is None and not discard:
                    self.err(node, f"compile-time call of {fname} returned None",
                             "only Python helpers that compute constants can be called with "
                             "constant arguments")
                return PyVal(r)
        self.err(node, f"cannot call {getattr(fn, '__name__', fn)!r} in a kernel",
                 "kernels can call other kernels, allo builtins, min/max/int/float, and "
                 "Python functions on compile-time constants")

    def method_call(self, base, attr, node, hint, discard=False):
        if isinstance(base, StreamVal):
            if attr == "put":
                return self.stream_put(base, node, discard)
            if attr == "get":
                return self.stream_get(base, node, hint, discard)
            self.err(node, f"streams have .put(value) and .get(), not .{attr}()")
        if isinstance(base, StreamArrayVal):
            self.err(node, f"{base.name!r} is an array of streams",
                     f"pick one stream first: {base.name}[{', '.join('i' * len(base.shape))}]"
                     f".{attr}(...)")
        if attr == "reverse" and isinstance(base, Expr):
            return self.bit_reverse(base, node)
        if attr == "bitcast" and isinstance(base, Expr):
            return self.bitcast(base, node)
        if attr == "copy" and isinstance(base, TensorVal):
            from .builtins import copy_tensor

            self.static_tensor(base, node, "'.copy()'")
            return copy_tensor(self, base, hint, node)
        self.err(node, f"unsupported method .{attr}()")

    def bitcast(self, v, node):
        t = v.type
        if isinstance(t, Float):
            return Bitcast(v, Int(t.bits), self.loc(node))
        if isinstance(t, (Int, UInt)) and t.bits in (16, 32, 64):
            dst = {16: Float(16, 10), 32: float32, 64: Float(64, 52)}[t.bits]
            return Bitcast(v, dst, self.loc(node))
        self.err(node, f".bitcast() is defined for 16/32/64-bit ints and floats, not {t}",
                 "slice the value to 16, 32 or 64 bits first")

    def minmax(self, op, node):
        vals = [self.expr(a) for a in node.args]
        if len(vals) < 2:
            self.err(node, f"{op}() needs at least two arguments")
        if all(isinstance(v, PyVal) for v in vals):
            return PyVal((min if op == "min" else max)(v.value for v in vals))
        acc = vals[0]
        for v in vals[1:]:
            acc = self.binop(op, acc, v, node)
        return acc

    def kernel_call(self, fn, args, node, hint):
        if isinstance(fn, _Instantiated):
            targs, tgt = fn.args, fn.tmpl
        else:
            targs, tgt = (), fn
        if isinstance(tgt, _NestedKernel):
            callee = self.mb.instantiate(None, targs, src=KernelSource(
                tgt.node, self.src.file, self.src.first_line, self.src.lines),
                env=self.env, loc_node=node, caller=self)
        else:
            callee = self.mb.instantiate(tgt, targs, loc_node=node, caller=self)
        if len(args) != len(callee.params):
            self.err(node, f"{callee.name}() takes {len(callee.params)} argument(s), "
                     f"got {len(args)}")
        cargs = []
        for a, p, an in zip(args, callee.params, node.args):
            if p.is_stream:
                cargs.append(self.stream_arg(a, p, callee, an))
            elif p.is_tensor:
                if isinstance(a, PyVal) and isinstance(a.value, (np.ndarray, list)):
                    a = self.const_tensor(np.asarray(a.value), an)
                if not isinstance(a, TensorVal):
                    self.err(an, f"argument {p.name!r} of {callee.name} is a tensor "
                             f"{p.type}{list(p.shape)}; got a scalar")
                if is_dynamic(p.shape):
                    if len(a.shape) != 1:
                        self.err(an, f"shape mismatch in call to {callee.name}: argument "
                                 f"{p.name!r} is a dynamic 1-D array ({p.type}[...]), got a "
                                 f"tensor of shape {shape_str(a.shape)}",
                                 "pass a 1-D tensor or a 1-D subview such as A[i]")
                elif is_dynamic(a.shape):
                    self.err(an, f"shape mismatch in call to {callee.name}: argument "
                             f"{p.name!r} expects {shape_str(p.shape)}, got the dynamic array "
                             f"{a.buf!r} ({a.dtype}[...])",
                             f"declare the parameter of {callee.name} as {p.type}[...] too")
                elif tuple(a.shape) != tuple(p.shape):
                    self.err(an, f"shape mismatch in call to {callee.name}: argument "
                             f"{p.name!r} expects {list(p.shape)}, got {list(a.shape)}",
                             "pass a tensor (or subview) of the declared shape")
                if a.dtype != p.type:
                    self.err(an, f"type mismatch in call to {callee.name}: argument "
                             f"{p.name!r} expects {p.type}, got {a.dtype}",
                             "tensor arguments are passed by reference and must match exactly")
                cargs.append(a.ref(self.loc(an)))
            else:
                if isinstance(a, TensorVal):
                    self.err(an, f"argument {p.name!r} of {callee.name} is a scalar; got a tensor")
                cargs.append(self.coerce(self.as_expr(a, an, p.type), p.type, an))
        outs, vals = [], []
        for k, r in enumerate(callee.results):
            base = hint if (hint and len(callee.results) == 1) else f"{callee.name}_r{k}"
            if r.is_tensor:
                t = self.new_temp(r.type, r.shape, base)
                outs.append(t.buf)
                vals.append(t)
            else:
                name = self.fresh(base)
                self.emit(Decl(name, r.type, (), None, loc=self.loc(node)))
                outs.append(name)
                vals.append(Var(name, r.type, self.loc(node)))
        self.emit(CallStmt(callee.name, cargs, outs, self.loc(node)))
        if not vals:
            return PyVal(None)
        return vals[0] if len(vals) == 1 else tuple(vals)

    # ------------------------------------------------------------ typing helpers

    def literal(self, v, node, other=None) -> Expr:
        """Type a Python constant, adopting a float/int partner type like Allo."""
        x = v.value
        if isinstance(x, (bool, np.bool_)):
            return Const(int(x), UInt(1), self.loc(node))
        if isinstance(x, (int, np.integer)):
            x = int(x)
            if isinstance(other, Float):
                return Const(numerics.round_float(float(x), other), other, self.loc(node))
            if is_fixed(other):
                pass
            bits = max(32, x.bit_length() + 1)
            return Const(x, Int(bits), self.loc(node))
        if isinstance(x, (float, np.floating)):
            t = other if isinstance(other, Float) else float32
            return Const(numerics.round_float(float(x), t), t, self.loc(node))
        self.err(node, f"{x!r} cannot be used as a kernel value",
                 "only numbers, tensors and kernel variables are values")

    def as_expr(self, v, node, other=None) -> Expr:
        if isinstance(v, Expr):
            return v
        if isinstance(v, PyVal):
            return self.literal(v, node, other)
        if isinstance(v, TensorVal):
            self.err(node, f"expected a scalar, got a tensor of shape {shape_str(v.shape)}")
        if isinstance(v, (StreamVal, StreamArrayVal)):
            self.err(node, f"stream {v.name!r} is not a value", "read an element with .get()")
        if isinstance(v, tuple):
            self.err(node, "expected one value, got several")
        self.err(node, f"unsupported value {v!r}")

    def pair_exprs(self, a, b, node):
        if isinstance(a, PyVal) and not isinstance(b, PyVal):
            b = self.as_expr(b, node)
            return self.literal(a, node, b.type), b
        if isinstance(b, PyVal) and not isinstance(a, PyVal):
            a = self.as_expr(a, node)
            return a, self.literal(b, node, a.type)
        return self.as_expr(a, node), self.as_expr(b, node)

    def coerce(self, e: Expr, t, node=None) -> Expr:
        if e.type == t:
            return e
        if isinstance(e, Const):
            return Const(numerics.cast(e.value, e.type, t), t, e.loc)
        if isinstance(t, (Int, UInt, Index, Fixed, UFixed, Float)):
            return Cast(e, t, e.loc if e.loc else (self.loc(node) if node is not None else None))
        self.err(node, f"cannot convert {e.type} to {t}")

    def to_bool(self, v, node) -> Expr:
        e = self.as_expr(v, node)
        if e.type == UInt(1):
            return e
        zero = self.coerce(Const(0, Int(32)), e.type)
        return BinOp("ne", e, zero, UInt(1), self.loc(node))

    def binop(self, op, a, b, node):
        if isinstance(a, tuple) or isinstance(b, tuple):
            self.err(node, "operator on a tuple of values")
        if isinstance(a, PyVal) and isinstance(b, PyVal):
            try:
                return PyVal(_PYOPS[op](a.value, b.value) if op in _PYOPS else
                             (min if op == "min" else max)(a.value, b.value))
            except Exception as exc:  # noqa: BLE001
                self.err(node, f"compile-time arithmetic failed: {exc}")
        if isinstance(a, PyVal) and isinstance(a.value, np.ndarray):
            a = self.const_tensor(a.value, node)
        if isinstance(b, PyVal) and isinstance(b.value, np.ndarray):
            b = self.const_tensor(b.value, node)
        if isinstance(a, TensorVal) or isinstance(b, TensorVal):
            from .builtins import elementwise

            for v in (a, b):
                self.static_tensor(v, node, "whole-tensor arithmetic")
            return elementwise(self, op, a, b, node)
        a, b = self.pair_exprs(a, b, node)
        return self.scalar_binop(op, a, b, node)

    def scalar_binop(self, op, a: Expr, b: Expr, node) -> Expr:
        loc = self.loc(node)
        if op in ("land", "lor"):
            return BinOp(op, self.to_bool(a, node), self.to_bool(b, node), UInt(1), loc)
        try:
            if op in ("lt", "le", "gt", "ge", "eq", "ne"):
                ct = common_type(a.type, b.type)
                return BinOp(op, self.coerce(a, ct, node), self.coerce(b, ct, node), UInt(1), loc)
            rt = binop_type(op, a.type, b.type)
        except TypingError as exc:
            self.err(node, f"{exc} (operands {a.type} and {b.type})",
                     "cast one operand, e.g. int(x) or float(x)")
        if op in ("shl", "shr"):
            return BinOp(op, self.coerce(a, rt, node), b, rt, loc)
        if op in ("mul", "div", "floordiv") and not isinstance(rt, Float):
            return BinOp(op, a, b, rt, loc)
        return BinOp(op, self.coerce(a, rt, node), self.coerce(b, rt, node), rt, loc)

    # ------------------------------------------------------------ tensors

    def static_tensor(self, v, node, what: str):
        """``v``, unless it is a dynamic tensor (``T[...]``) and ``what`` needs its shape at
        compile time: then an error at ``node``."""
        if isinstance(v, TensorVal) and is_dynamic(v.shape):
            self.err(node, f"{what} needs a compile-time shape, but {v.buf!r} is a dynamic "
                     f"array ({v.dtype}[...])", DYNAMIC_HINT)
        return v

    def as_tensor(self, v, node) -> TensorVal:
        if isinstance(v, TensorVal):
            return v
        if isinstance(v, PyVal) and isinstance(v.value, (np.ndarray, list)):
            return self.const_tensor(np.asarray(v.value), node)
        self.err(node, "expected a tensor")

    def const_tensor(self, arr: np.ndarray, node, dtype=None) -> TensorVal:
        """A read-only buffer holding a numpy array from the kernel's scope."""
        key = id(arr)
        if dtype is None:
            dtype = _dtype_of_numpy(arr)
        if key in self.const_bufs:
            name, t = self.const_bufs[key]
            return TensorVal(name, (), arr.shape, t)
        name = self.fresh("const")
        init = np.array(numerics.to_raw(arr, dtype), dtype=object).reshape(arr.shape)
        # constants are hoisted to the function entry so they exist for every use
        self.bodies[0].insert(0, Decl(name, dtype, tuple(arr.shape), init, const=True,
                                      loc=self.loc(node)))
        self.const_bufs[key] = (name, dtype)
        return TensorVal(name, (), tuple(arr.shape), dtype)

    def materialize_fill(self, dtype, shape, value: Expr, hint):
        return self.new_temp(dtype, shape, hint, init=value)

    def cast_tensor(self, v: TensorVal, dtype, node) -> TensorVal:
        from .builtins import map_tensor

        return map_tensor(self, v, lambda e: self.coerce(e, dtype, node), dtype, None, node)


class _NestedKernel:
    """A ``def`` nested inside a kernel body."""

    def __init__(self, node):
        self.node = node
        self.__name__ = node.name


def _looks_like_kernel(fn) -> bool:
    """A Python function whose parameters are all annotated is treated as a kernel."""
    try:
        code = fn.__code__
    except AttributeError:
        return False
    ann = getattr(fn, "__annotations__", {})
    names = code.co_varnames[:code.co_argcount]
    return bool(names) and all(n in ann for n in names) or (not names and "return" in ann)


def _is_name(node, name):
    return (isinstance(node, ast.Name) and node.id == name) or (
        isinstance(node, ast.Attribute) and node.attr == name)


def _ends_with_return(body) -> bool:
    if not body:
        return False
    last = body[-1]
    if isinstance(last, Return):
        return True
    if isinstance(last, If):
        return _ends_with_return(last.then) and _ends_with_return(last.orelse)
    return any(isinstance(s, Return) for s in body)


def _dtype_of_numpy(arr: np.ndarray):
    k, size = arr.dtype.kind, arr.dtype.itemsize
    if k == "f":
        return {2: Float(16, 10), 4: float32}.get(size, Float(64, 52))
    if k == "i":
        return Int(size * 8)
    if k == "u":
        return UInt(size * 8)
    if k == "b":
        return UInt(1)
    return int32


def _linear(e):
    """(coeffs dict, const) if ``e`` is a linear integer expression of variables."""
    if isinstance(e, Const) and isinstance(e.value, int):
        return {}, e.value
    if isinstance(e, Var):
        return {e.name: 1}, 0
    if isinstance(e, Cast):
        return _linear(e.value)
    if isinstance(e, BinOp) and e.op in ("add", "sub"):
        l, r = _linear(e.lhs), _linear(e.rhs)
        if l is None or r is None:
            return None
        sgn = 1 if e.op == "add" else -1
        c = dict(l[0])
        for k, v in r[0].items():
            c[k] = c.get(k, 0) + sgn * v
        return c, l[1] + sgn * r[1]
    if isinstance(e, BinOp) and e.op == "mul":
        l, r = _linear(e.lhs), _linear(e.rhs)
        if l is None or r is None:
            return None
        if not l[0]:
            return {k: v * l[1] for k, v in r[0].items()}, l[1] * r[1]
        if not r[0]:
            return {k: v * r[1] for k, v in l[0].items()}, l[1] * r[1]
    return None


def _const_difference(hi, lo):
    a, b = _linear(hi), _linear(lo)
    if a is None or b is None:
        return None
    keys = set(a[0]) | set(b[0])
    if any(a[0].get(k, 0) != b[0].get(k, 0) for k in keys):
        return None
    return a[1] - b[1]
