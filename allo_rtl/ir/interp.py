"""The golden model: kernel IR compiled to Python source and executed.

Each IR function becomes one Python function. Tensors are flat Python lists
(raw values, see :mod:`numerics`) passed with an offset (for subviews);
scalars are Python ints/floats. Integer results are wrapped only where the
typing rules allow overflow (a range check per operation at code-generation
time), floats are rounded to their format after every operation (no fused
multiply-add, no excess precision). The generated source is kept on the
module (``.source``) for debugging.

Streams (see :mod:`.scheduler`): a stream is a ``Fifo`` object ``f_<name>``. A
function with Stream parameters becomes a generator that yields when a put or
get would block; calls to it are ``yield from`` inside another such function and
run by :func:`~.scheduler.drive` from sequential code. A dataflow region
(``attrs["dataflow"]``) creates its streams and runs its kernel calls with the
scheduler. Functions without Stream parameters compile exactly as before.

Dynamic arrays (``A: T[...]``, IR shape ``(None,)``): the function also takes the
length ``n_<name>`` of the view it was passed, and every access is bounds-checked
against it (an out-of-bounds index is an :class:`AlloError` at the kernel line, never
a silent wrap into another element or a Python ``IndexError``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..errors import AlloError, AlloWarning
from . import numerics as N
from . import scheduler
from .nodes import (
    Assign, BinOp, BitGet, BitInsert, BitReverse, BitSlice, Bitcast, BufRef, CallStmt,
    Cast, Const, Decl, For, Function, If, Load, Math, Module, Return, Select, Store,
    StreamDecl, StreamGet, StreamPut, StreamRef, UnOp, Var, While, walk_stmts,
)
from .types import Fixed, Float, Index, Int, UFixed, UInt, is_dynamic

__all__ = ["compile_module", "InterpModule"]


def _fr(t):
    return t.fracs if isinstance(t, (Fixed, UFixed)) else 0


def _range(t):
    if isinstance(t, Float):
        return None
    return N.int_range(t)


def _fits(lo, hi, t):
    r = _range(t)
    return r is not None and r[0] <= lo and hi <= r[1]


def _interval(op, r1, r2):
    if r1 is None or r2 is None:
        return None
    (a, b), (c, d) = r1, r2
    if op == "add":
        return a + c, b + d
    if op == "sub":
        return a - d, b - c
    if op == "mul":
        p = (a * c, a * d, b * c, b * d)
        return min(p), max(p)
    return None


def _safe(fn, domain_nan=True):
    def f(x):
        try:
            return fn(x)
        except OverflowError:
            return math.inf
        except ValueError:
            return math.nan

    return f


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _fmin(a, b):
    """IEEE 754-2019 minimum (as primitives.float.FPMinMax): NaN wins, -0 < +0."""
    if a != a or b != b:
        return math.nan
    if a == b == 0.0:
        return a if math.copysign(1, a) < 0 else b
    return a if a < b else b


def _fmax(a, b):
    """IEEE 754-2019 maximum: NaN wins, +0 > -0."""
    if a != a or b != b:
        return math.nan
    if a == b == 0.0:
        return a if math.copysign(1, a) > 0 else b
    return a if a > b else b


def _out_of_bounds(index, n, what, loc):
    """An access outside a dynamic array: ``what`` = (function, array)."""
    fname, buf = what
    raise AlloError(f"{fname}: index {index} is out of bounds for the dynamic array {buf!r} "
                    f"of length {n}", loc,
                    "the array argument is shorter than the loop bounds: check the size "
                    "arguments against the arrays passed")


_RUNTIME = {
    "_f32": N._round_f32, "_rf": N.round_float, "_cast": N.cast, "_wrap": N.wrap,
    "_cdiv": N.c_div, "_cmod": N.c_mod, "_fdivi": N.floor_div, "_shl": N.shl, "_shr": N.shr,
    "_fdiv": N.fdiv, "_fmod": N.fmod_c, "_sqrt": N.fsqrt, "_fpow": N.fpow, "_rev": N.reverse_bits,
    "_fbits": N.float_bits, "_bfloat": N.bits_float, "_floor": math.floor, "_inf": math.inf,
    "_nan": math.nan, "_exp": _exp, "_log": lambda x: N.flog(x, math.log),
    "_log2": lambda x: N.flog(x, math.log2), "_log10": lambda x: N.flog(x, math.log10),
    "_sin": _safe(math.sin), "_cos": _safe(math.cos), "_tan": _safe(math.tan),
    "_tanh": math.tanh, "_erf": math.erf, "_fabs": abs, "_fmin": _fmin, "_fmax": _fmax,
    "_um": N.eval_unit_math,
    "_ffloor": lambda x: float(math.floor(x)) if math.isfinite(x) else x,
    "_Fifo": scheduler.Fifo, "_run_region": scheduler.run_region, "_drive": scheduler.drive,
    "_blocked": scheduler.blocked, "_plain": scheduler.plain_process,
    "_oob": _out_of_bounds,
}



def is_process(f: Function) -> bool:
    """A function with Stream parameters: it can block on a FIFO someone else owns."""
    return any(p.is_stream for p in f.params)


class _FuncGen:
    def __init__(self, gen, f: Function):
        self.gen = gen
        self.f = f
        self.lines: list = []
        self.shapes: dict = {}  # buffer -> shape
        self.types: dict = {}  # buffer/var -> type
        self.params = {p.name for p in f.params if p.is_tensor}
        self.stateful_scalars: set = set()
        self.tmp = 0
        # a function with Stream parameters is a process: a generator that yields when blocked
        self.proc = is_process(f)
        streams = {p.name: p.type for p in f.params if p.is_stream}
        streams.update({s.name: s.type for s in walk_stmts(f.body) if isinstance(s, StreamDecl)})
        self.fifo_depth = {self.fifo(n): t.depth for n, t in streams.items()}
        self.fifo_size = {self.fifo(n): int(np.prod(t.shape)) for n, t in streams.items()}

    # -------------------------------------------------------------- names

    def v(self, name):
        if name in self.stateful_scalars:
            return f"s_{name}[0]"
        return f"v_{name}"

    @staticmethod
    def b(name):
        return f"b_{name}"

    @staticmethod
    def fifo(name):
        return f"f_{name}"

    def off(self, name):
        return f"o_{name}" if name in self.params else None

    def size_var(self, name):
        """The variable holding the length of dynamic array ``name`` (a parameter)."""
        return f"n_{name}"

    def flat(self, buf, idx, loc=None):
        shape = self.shapes[buf]
        if len(idx) != len(shape):
            raise AssertionError(f"index rank mismatch on {buf}")
        if is_dynamic(shape):  # 1-D, bounds-checked against the length passed in
            self.tmp += 1
            t, n = f"_i{self.tmp}", self.size_var(buf)
            what = self.gen.const_obj((self.f.name, buf))
            chk = (f"({t} if 0 <= ({t} := {self.expr(idx[0])}) < {n} "
                   f"else _oob({t}, {n}, {what}, {self.gen.const_obj(loc)}))")
            o = self.off(buf)
            return f"{chk} + {o}" if o else chk
        terms = []
        stride = 1
        strides = []
        for n in reversed(shape):
            strides.append(stride)
            stride *= n
        strides.reverse()
        const = 0
        for e, s in zip(idx, strides):
            if isinstance(e, Const):
                const += e.value * s
            else:
                x = self.expr(e)
                terms.append(x if s == 1 else f"{x}*{s}")
        o = self.off(buf)
        if o:
            terms.append(o)
        if const or not terms:
            terms.append(str(const))
        return " + ".join(terms)

    # -------------------------------------------------------------- expressions

    def wrap(self, x, t):
        if isinstance(t, Float):
            return x
        m = (1 << t.bits) - 1
        if isinstance(t, (Int, Fixed, Index)):
            h = 1 << (t.bits - 1)
            return f"(((({x}) + {h}) & {m}) - {h})"
        return f"(({x}) & {m})"

    def rnd(self, x, t):
        if t.bits == 64:
            return x
        if t.bits == 32:
            return f"_f32({x})"
        return f"_rf({x}, {self.gen.const_obj(t)})"

    def expr(self, e) -> str:
        if isinstance(e, Const):
            v = e.value
            if isinstance(e.type, Float):
                if v != v:
                    return "_nan"
                if v in (math.inf, -math.inf):
                    return "_inf" if v > 0 else "(-_inf)"
                return repr(float(v))
            return repr(int(v))
        if isinstance(e, Var):
            return self.v(e.name)
        if isinstance(e, Load):
            return f"{self.b(e.buf)}[{self.flat(e.buf, e.index, e.loc)}]"
        if isinstance(e, BinOp):
            return self.binop(e)
        if isinstance(e, UnOp):
            a = self.expr(e.operand)
            if e.op == "neg":
                return f"(-{a})" if isinstance(e.type, Float) or _fits(
                    -_range(e.operand.type)[1], -_range(e.operand.type)[0], e.type) else self.wrap(f"-{a}", e.type)
            if e.op == "not":
                return f"(not {a})"
            if isinstance(e.type, (UInt, UFixed)):
                return f"((~{a}) & {(1 << e.type.bits) - 1})"
            return f"(~{a})"
        if isinstance(e, Cast):
            return self.cast(e)
        if isinstance(e, Select):
            return f"({self.expr(e.tval)} if {self.expr(e.cond)} else {self.expr(e.fval)})"
        if isinstance(e, Math):
            return self.math(e)
        if isinstance(e, BitGet):
            return f"(({self.expr(e.value)} >> {self.expr(e.bit)}) & 1)"
        if isinstance(e, BitSlice):
            return f"(({self.expr(e.value)} >> {self.expr(e.lo)}) & {(1 << e.width) - 1})"
        if isinstance(e, BitInsert):
            m = (1 << e.width) - 1
            lo = self.expr(e.lo)
            return self.wrap(f"({self.expr(e.value)} & ~({m} << {lo})) | "
                             f"(({self.expr(e.new)} & {m}) << {lo})", e.type)
        if isinstance(e, BitReverse):
            return f"_rev({self.expr(e.value)}, {self.gen.const_obj(e.type)})"
        if isinstance(e, Bitcast):
            src = e.value.type
            a = self.expr(e.value)
            if isinstance(src, Float):
                return self.wrap(f"_fbits({a}, {self.gen.const_obj(src)})", e.type)
            return f"_bfloat({a}, {self.gen.const_obj(e.type)})"
        raise AssertionError(f"unknown expression {e!r}")

    def binop(self, e: BinOp) -> str:
        op, t = e.op, e.type
        a, b = self.expr(e.lhs), self.expr(e.rhs)
        if op in ("lt", "le", "gt", "ge", "eq", "ne"):
            sym = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}[op]
            return f"({a} {sym} {b})"
        if op == "land":
            return f"({a} and {b})"
        if op == "lor":
            return f"({a} or {b})"
        if isinstance(t, Float):
            if op in ("add", "sub", "mul"):
                sym = {"add": "+", "sub": "-", "mul": "*"}[op]
                return self.rnd(f"{a} {sym} {b}", t)
            if op == "div":
                return self.rnd(f"_fdiv({a}, {b})", t)
            if op == "floordiv":
                return f"_ffloor({self.rnd(f'_fdiv({a}, {b})', t)})"
            if op == "mod":
                return self.rnd(f"_fmod({a}, {b})", t)
            if op == "pow":
                return self.unit_math("pow", t, [a, b]) or self.rnd(f"_fpow({a}, {b})", t)
            if op in ("min", "max"):
                return f"_f{op}({a}, {b})"
            raise AssertionError(op)
        if op in ("add", "sub", "mul"):
            sym = {"add": "+", "sub": "-", "mul": "*"}[op]
            iv = _interval(op, _range(e.lhs.type), _range(e.rhs.type))
            x = f"({a} {sym} {b})"
            if op == "mul":
                shift = _fr(e.lhs.type) + _fr(e.rhs.type) - _fr(t)
                if shift > 0:
                    x = f"({x} >> {shift})"
                elif shift < 0:
                    x = f"({x} << {-shift})"
            if iv is not None and _fits(*iv, t) and op != "mul" or (
                    op == "mul" and iv is not None and _fr(e.lhs.type) + _fr(e.rhs.type) == _fr(t)
                    and _fits(*iv, t)):
                return x
            return self.wrap(x, t)
        if op in ("div", "floordiv"):
            sh = _fr(t) - _fr(e.lhs.type) + _fr(e.rhs.type)
            num = a if sh == 0 else (f"({a} << {sh})" if sh > 0 else a)
            den = b if sh >= 0 else f"({b} << {-sh})"
            fn = "_cdiv" if op == "div" else "_fdivi"
            return self.wrap(f"{fn}({num}, {den})", t)
        if op == "mod":
            return f"_cmod({a}, {b})"
        if op in ("min", "max"):
            return f"{op}({a}, {b})"
        if op in ("and", "or", "xor"):
            sym = {"and": "&", "or": "|", "xor": "^"}[op]
            return f"({a} {sym} {b})"
        if op in ("shl", "shr"):
            if isinstance(e.rhs, Const) and 0 <= e.rhs.value < t.bits:
                s = e.rhs.value
                return self.wrap(f"{a} << {s}", t) if op == "shl" else f"({a} >> {s})"
            return f"_{op}({a}, {b}, {self.gen.const_obj(t)})"
        if op == "pow":
            raise AssertionError("integer pow is typed as float")
        raise AssertionError(op)

    def cast(self, e: Cast) -> str:
        src, dst = e.value.type, e.type
        a = self.expr(e.value)
        if isinstance(dst, Float):
            if isinstance(src, Float):
                # widening is exact; anything else rounds
                return a if dst.bits > src.bits else self.rnd(a, dst)
            if _fr(src) == 0:
                lo, hi = N.int_range(src)
                limit = 1 << (dst.fracs + 1)
                if -limit <= lo and hi <= limit:
                    return f"float({a})"
            return f"_cast({a}, {self.gen.const_obj(src)}, {self.gen.const_obj(dst)})"
        if isinstance(src, Float):
            return f"_cast({a}, {self.gen.const_obj(src)}, {self.gen.const_obj(dst)})"
        fs, fd = _fr(src), _fr(dst)
        x = a
        if fd > fs:
            x = f"({a} << {fd - fs})"
        elif fd < fs:
            x = f"({a} >> {fs - fd})"
        lo, hi = N.int_range(src)
        if fd > fs:
            lo, hi = lo << (fd - fs), hi << (fd - fs)
        elif fd < fs:
            lo, hi = lo >> (fs - fd), hi >> (fs - fd)
        if _fits(lo, hi, dst):
            return x
        return self.wrap(x, dst)

    def unit_math(self, fn, t, args):
        """The hardware unit's bit-exact model for an elementary function, or None."""
        model = N.unit_math_model(fn, t)
        if model is None:
            return None
        return f"_um({self.gen.const_obj(model)}, {self.gen.const_obj(t)}, {', '.join(args)})"

    def math(self, e: Math) -> str:
        args = [self.expr(a) for a in e.args]
        t = e.type
        um = self.unit_math(e.fn, t, args)
        if um is not None:
            return um
        if e.fn == "abs":
            return f"abs({args[0]})"
        if e.fn == "sqrt":
            return self.rnd(f"_sqrt({args[0]})", t)
        if e.fn == "pow":
            return self.rnd(f"_fpow({args[0]}, {args[1]})", t)
        return self.rnd(f"_{e.fn}({args[0]})", t)

    # -------------------------------------------------------------- statements

    def emit(self, ind, line):
        self.lines.append("    " * ind + line)

    def zero(self, t):
        return "0.0" if isinstance(t, Float) else "0"

    def size(self, buf):
        return int(np.prod(self.shapes[buf]))

    def ref(self, a: BufRef):
        """(list expr, offset expr) of a buffer reference."""
        shape = self.shapes[a.buf]
        o = self.off(a.buf)
        if not a.prefix:
            return self.b(a.buf), (o or "0")
        full = list(a.prefix) + [Const(0, Index())] * (len(shape) - len(a.prefix))
        return self.b(a.buf), f"({self.flat(a.buf, full)})"

    def stmts(self, body, ind):
        if not body:
            self.emit(ind, "pass")
        for s in body:
            self.stmt(s, ind)

    def stmt(self, s, ind):
        if isinstance(s, Decl):
            return self.decl(s, ind)
        if isinstance(s, Assign):
            return self.emit(ind, f"{self.v(s.name)} = {self.expr(s.value)}")
        if isinstance(s, Store):
            return self.emit(ind, f"{self.b(s.buf)}[{self.flat(s.buf, s.index, s.loc)}] = "
                                  f"{self.expr(s.value)}")
        if isinstance(s, For):
            rng = f"{self.expr(s.lb)}, {self.expr(s.ub)}" + (f", {s.step}" if s.step != 1 else "")
            self.emit(ind, f"for v_{s.var} in range({rng}):")
            return self.stmts(s.body, ind + 1)
        if isinstance(s, If):
            self.emit(ind, f"if {self.expr(s.cond)}:")
            self.stmts(s.then, ind + 1)
            if s.orelse:
                self.emit(ind, "else:")
                self.stmts(s.orelse, ind + 1)
            return
        if isinstance(s, While):
            self.emit(ind, f"while {self.expr(s.cond)}:")
            return self.stmts(s.body, ind + 1)
        if isinstance(s, CallStmt):
            return self.call(s, ind)
        if isinstance(s, StreamDecl):
            return self.emit(ind, f"{self.fifo(s.name)} = _Fifo({s.name!r}, {s.type.depth})")
        if isinstance(s, StreamPut):
            return self.put(s, ind)
        if isinstance(s, StreamGet):
            return self.get(s, ind)
        if isinstance(s, Return):
            vals = []
            for v, spec in zip(s.values, self.f.results):
                if isinstance(v, BufRef):
                    lst, off = self.ref(v)
                    n = int(np.prod(spec.shape))
                    vals.append(f"{lst}[{off}:{off} + {n}]")
                else:
                    vals.append(self.expr(v))
            return self.emit(ind, f"return ({', '.join(vals)}{',' if len(vals) == 1 else ''})")
        raise AssertionError(f"unknown statement {s!r}")

    def decl(self, s: Decl, ind):
        if not s.shape:
            self.types[s.name] = s.type
            init = self.expr(s.init) if s.init is not None else self.zero(s.type)
            if s.stateful:
                key = self.gen.state_key(self.f.name, s.name)
                self.stateful_scalars.add(s.name)
                self.emit(ind, f"s_{s.name} = _S.get({key!r})")
                self.emit(ind, f"if s_{s.name} is None:")
                self.emit(ind + 1, f"s_{s.name} = _S[{key!r}] = [{init}]")
                return
            return self.emit(ind, f"v_{s.name} = {init}")
        self.shapes[s.name] = s.shape
        self.types[s.name] = s.type
        n = self.size(s.name)
        if isinstance(s.init, np.ndarray):
            raw = [float(x) if isinstance(s.type, Float) else int(x) for x in s.init.ravel()]
            g = self.gen.const_obj(raw)
            init = g if s.const else f"list({g})"
        elif isinstance(s.init, BufRef):
            lst, off = self.ref(s.init)
            init = f"{lst}[{off}:{off} + {n}]"
        elif s.init is not None:
            init = f"[{self.expr(s.init)}] * {n}"
        else:
            init = f"[{self.zero(s.type)}] * {n}"
        if s.stateful:
            key = self.gen.state_key(self.f.name, s.name)
            self.emit(ind, f"b_{s.name} = _S.get({key!r})")
            self.emit(ind, f"if b_{s.name} is None:")
            self.emit(ind + 1, f"b_{s.name} = _S[{key!r}] = {init}")
            return
        self.emit(ind, f"b_{s.name} = {init}")

    def wait(self, ind, fifo: str, full: bool, loc):
        """Block until ``fifo`` has room (``full``) or data: yield in a process, else fail."""
        depth = self.fifo_depth[fifo]
        cond = f"len({fifo}) >= {depth}" if full else f"not {fifo}"
        blk = f"{fifo}, {full}, {self.gen.const_obj(loc)}"
        if self.proc:
            self.emit(ind, f"while {cond}: yield {blk}")
        else:
            self.emit(ind, f"if {cond}: _blocked({blk}, {self.f.name!r})")

    def put(self, s: StreamPut, ind):
        fifo = self.fifo(s.stream)
        if isinstance(s.value, BufRef):
            lst, off = self.ref(s.value)
            val = f"{lst}[{off}:{off} + {self.fifo_size[fifo]}]"
        else:
            val = self.expr(s.value)
        self.wait(ind, fifo, True, s.loc)
        self.emit(ind, f"{fifo}.append({val})")

    def get(self, s: StreamGet, ind):
        fifo = self.fifo(s.stream)
        self.wait(ind, fifo, False, s.loc)
        if s.dst is None:
            return self.emit(ind, f"{fifo}.popleft()")
        if s.dst in self.shapes:  # a block into a whole buffer
            lst, off = self.ref(BufRef(s.dst))
            return self.emit(ind, f"{lst}[{off}:{off} + {self.size(s.dst)}] = {fifo}.popleft()")
        self.emit(ind, f"{self.v(s.dst)} = {fifo}.popleft()")

    def call_args(self, s: CallStmt, callee: Function) -> list:
        args = []
        for a, p in zip(s.args, callee.params):
            if isinstance(a, StreamRef):
                args.append(self.fifo(a.stream))
            elif p.is_tensor:
                lst, off = self.ref(a)
                args += [lst, off]
                if is_dynamic(p.shape):  # the length of the (1-D) view passed
                    shape = self.shapes[a.buf]
                    args.append(self.size_var(a.buf) if is_dynamic(shape) else
                                str(int(np.prod(shape[len(a.prefix):]))))
            else:
                args.append(self.expr(a))
        return args

    def call(self, s: CallStmt, ind):
        callee = self.gen.module.funcs[s.callee]
        call = f"F_{s.callee}({', '.join(self.call_args(s, callee))})"
        if is_process(callee):
            call = f"(yield from {call})" if self.proc else f"_drive({call}, {s.callee!r})"
        if not s.outs:
            return self.emit(ind, call)
        names = []
        for o, r in zip(s.outs, callee.results):
            if r.is_tensor:
                names.append(self.b(o))
            else:
                names.append(self.v(o))
        self.emit(ind, f"{', '.join(names)}, = {call}")

    def region(self):
        """A dataflow region: declare its streams and arrays, then run its kernel calls
        concurrently."""
        procs, fifos = [], []
        for s in self.f.body:
            if isinstance(s, StreamDecl):
                self.stmt(s, 1)
                fifos.append(self.fifo(s.name))
                continue
            if isinstance(s, Decl):  # a buffer between kernels (a ping-pong buffer)
                self.stmt(s, 1)
                continue
            callee = self.gen.module.funcs[s.callee]
            args = self.call_args(s, callee)
            gen = (f"F_{s.callee}({', '.join(args)})" if is_process(callee)
                   else f"_plain(F_{s.callee}, ({''.join(a + ', ' for a in args)}))")
            procs.append(f"({s.callee!r}, {gen})")
        self.emit(1, f"_run_region({self.f.name!r}, [{', '.join(procs)}], [{', '.join(fifos)}])")

    def generate(self):
        f = self.f
        args = []
        for p in f.params:
            if p.is_stream:
                args.append(self.fifo(p.name))
            elif p.is_tensor:
                self.shapes[p.name] = p.shape
                args += [f"b_{p.name}", f"o_{p.name}"]
                if is_dynamic(p.shape):
                    args.append(self.size_var(p.name))
            else:
                args.append(f"v_{p.name}")
        self.emit(0, f"def F_{f.name}({', '.join(args)}):")
        if self.proc:
            self.emit(1, "if 0: yield  # a generator even if it never blocks")
        if f.attrs.get("dataflow"):
            self.region()
        else:
            self.stmts(f.body, 1)
        return "\n".join(self.lines)


class _Gen:
    def __init__(self, module: Module):
        self.module = module
        self.consts: dict = {}
        self.ns = dict(_RUNTIME)

    def const_obj(self, obj) -> str:
        key = id(obj)
        if key not in self.consts:
            name = f"_K{len(self.consts)}"
            self.consts[key] = name
            self.ns[name] = obj
            self.ns.setdefault("_keep", []).append(obj)
        return self.consts[key]

    def state_key(self, fname, vname):
        return f"{fname}:{vname}"


class InterpModule:
    """A built kernel running on the IR interpreter (``target="sim"``).

    Callable with Allo's conventions: numpy arrays / Python scalars in
    parameter order; array arguments are updated in place; returns None, one
    value, or a list of values."""

    def __init__(self, module: Module):
        self.module = module
        top = module.top_func
        if is_process(top):
            p = next(p for p in top.params if p.is_stream)
            raise AlloError(f"kernel {top.name!r} takes stream parameter {p.name!r} and cannot be "
                            "called from Python", p.loc or top.loc,
                            "call it from another kernel that declares the stream, or make it a "
                            "@df.kernel of a dataflow region (@df.region) that declares it")
        gen = _Gen(module)
        src = [_FuncGen(gen, f).generate() for f in module.funcs.values()]
        self.source = "\n\n".join(src) + "\n"
        self._state: dict = {}
        gen.ns["_S"] = self._state
        code = compile(self.source, f"<allo_rtl interp {module.top}>", "exec")
        exec(code, gen.ns)  # noqa: S102 - generated from our own IR
        self._fn = gen.ns[f"F_{module.top}"]
        self.top = module.top_func
        self.last_cycles = None

    def __call__(self, *args):
        raw_args, writeback = marshal_inputs(self.top, args)
        res = self._fn(*raw_args)
        for idx, lst in writeback:
            p = self.top.params[idx]
            args[idx][...] = N.from_raw(lst, p.type, args[idx].shape)
        return unmarshal_results(self.top, res)


def marshal_inputs(top: Function, args) -> tuple:
    """Check and convert user arguments to raw interpreter values.

    Returns (flat argument list for the generated function, [(arg index, raw list)]): per
    tensor parameter its raw list and offset 0, plus its length for a dynamic array
    (``T[...]``, any 1-D array)."""
    if len(args) != len(top.params):
        raise AlloError(
            f"{top.name}() takes {len(top.params)} argument(s) "
            f"({', '.join(p.name for p in top.params)}), got {len(args)}", top.loc,
            "pass one numpy array or scalar per kernel parameter, in order")
    out, wb = [], []
    for k, (a, p) in enumerate(zip(args, top.params)):
        if p.is_tensor:
            if not isinstance(a, np.ndarray):
                if isinstance(a, (list, tuple)):
                    a = np.asarray(a)
                else:
                    raise AlloError(f"argument {p.name!r} of {top.name} must be a numpy array "
                                    f"of shape {list(p.shape)}, got {type(a).__name__}", top.loc)
            if is_dynamic(p.shape):
                if a.ndim != 1:
                    raise AlloError(f"argument {p.name!r} of {top.name} is a dynamic 1-D array "
                                    f"({p.type}[...]), got shape {list(a.shape)}", top.loc,
                                    "pass a 1-D array (e.g. A.ravel() of a contiguous array, "
                                    "written back through the view)")
            elif tuple(a.shape) != tuple(p.shape):
                raise AlloError(f"argument {p.name!r} of {top.name} has shape {list(a.shape)}, "
                                f"expected {list(p.shape)}", top.loc,
                                "pass an array of the declared shape")
            want = N.numpy_dtype(p.type)
            if a.dtype != np.dtype(want) and not (
                    isinstance(p.type, (Fixed, UFixed)) and a.dtype.kind == "f") and not (
                    want is object):
                warnings.warn(f"argument {p.name!r} of {top.name}: {a.dtype} array converted to "
                              f"{p.type}", AlloWarning, stacklevel=3)
            lst = N.to_raw(a, p.type)
            out += [lst, 0] + ([len(lst)] if is_dynamic(p.shape) else [])
            if isinstance(args[k], np.ndarray):
                wb.append((k, lst))
        else:
            if isinstance(a, np.ndarray) and a.shape == ():
                a = a.item()
            if not isinstance(a, (int, float, np.integer, np.floating, bool)):
                raise AlloError(f"argument {p.name!r} of {top.name} must be a scalar, "
                                f"got {type(a).__name__}", top.loc)
            out.append(N.to_raw(np.asarray([a]), p.type)[0])
    return out, wb


def unmarshal_results(top: Function, res):
    if not top.results:
        return None
    vals = [N.from_raw(r if spec.is_tensor else [r], spec.type, spec.shape)
            for r, spec in zip(res, top.results)]
    return vals[0] if len(vals) == 1 else vals


def compile_module(module: Module) -> InterpModule:
    return InterpModule(module)
