"""Kernel IR: small dataclasses, fully typed.

The frontend produces this IR with every implicit conversion made explicit
(:class:`Cast`), so later stages (interpreter, schedule, lowering) never
re-derive typing rules: a :class:`BinOp`'s operands already have the
operation's operand type.

Structure::

    Module  ── funcs: {name: Function}, top
    Function ── params (Param), results (ResultSpec), body: [Stmt]
    Stmt    ── Decl | Assign | Store | For | If | While | CallStmt | Return
               | StreamDecl | StreamPut | StreamGet
    Expr    ── Const | Var | Load | BinOp | UnOp | Cast | Select | Math
               | BitGet | BitSlice | BitInsert | BitReverse | Bitcast

Scalars are named variables (``Var``); tensors are named buffers addressed by
full index tuples (``Load``/``Store``).  A tensor passed to a call may be a
subview: :class:`BufRef` carries the fixed leading indices.

Streams (FIFOs) are named like buffers. A function declares its own
(:class:`StreamDecl`) or receives them as parameters whose type is a
:class:`~.types.Stream`; a call passes a stream with :class:`StreamRef`.
:class:`StreamPut` / :class:`StreamGet` are statements, not expressions, so
that passes which copy or move expressions can never duplicate or reorder a
FIFO access. A dataflow region is a function with ``attrs["dataflow"]``: its
body holds only stream declarations and calls, one per kernel instance, and
those calls run concurrently (each kernel instance receives the region's
streams it uses as Stream parameters, after its tensor parameters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from ..errors import Loc
from .types import AlloType, Stream

__all__ = [
    "Expr", "Const", "Var", "Load", "BinOp", "UnOp", "Cast", "Select", "Math",
    "BitGet", "BitSlice", "BitInsert", "BitReverse", "Bitcast",
    "Stmt", "Decl", "Assign", "Store", "For", "If", "While", "CallStmt", "Return",
    "StreamDecl", "StreamPut", "StreamGet", "StreamRef",
    "BufRef", "Param", "ResultSpec", "Function", "Module",
    "BINOPS", "CMPOPS", "walk_stmts", "walk_exprs", "expr_children", "stmt_exprs",
]

# operator names (printed as-is)
ARITH = ("add", "sub", "mul", "div", "floordiv", "mod", "pow")
BITWISE = ("shl", "shr", "and", "or", "xor")
CMPOPS = ("lt", "le", "gt", "ge", "eq", "ne")
LOGIC = ("land", "lor")
MINMAX = ("min", "max")
BINOPS = ARITH + BITWISE + CMPOPS + LOGIC + MINMAX
UNOPS = ("neg", "not", "invert")
MATHFNS = ("exp", "log", "log2", "log10", "sqrt", "sin", "cos", "tan", "tanh", "abs", "pow", "erf")


class Expr:
    type: AlloType


@dataclass(eq=False)
class Const(Expr):
    """A constant. Integers/Fixed: Python int holding the raw two's-complement value
    (Fixed: value * 2**fracs). Floats: Python float (already rounded to the type)."""

    value: Any
    type: AlloType
    loc: Optional[Loc] = None


@dataclass(eq=False)
class Var(Expr):
    """A scalar variable: argument, local, or loop induction variable."""

    name: str
    type: AlloType
    loc: Optional[Loc] = None


@dataclass(eq=False)
class Load(Expr):
    """``buf[index...]`` with one index per dimension."""

    buf: str
    index: tuple
    type: AlloType
    loc: Optional[Loc] = None


@dataclass(eq=False)
class BinOp(Expr):
    """Binary op. Arithmetic/bitwise/min/max: operands have ``type``. Shifts: ``lhs`` has
    ``type``, ``rhs`` any integer. Comparisons: operands share a type, result UInt(1)."""

    op: str
    lhs: Expr
    rhs: Expr
    type: AlloType
    loc: Optional[Loc] = None


@dataclass(eq=False)
class UnOp(Expr):
    op: str  # neg | not | invert
    operand: Expr
    type: AlloType
    loc: Optional[Loc] = None


@dataclass(eq=False)
class Cast(Expr):
    """Convert ``value`` to ``type`` (ints wrap, Fixed truncates toward -inf and wraps,
    float->int truncates toward zero then wraps, float->float rounds to nearest even)."""

    value: Expr
    type: AlloType
    loc: Optional[Loc] = None


@dataclass(eq=False)
class Select(Expr):
    cond: Expr
    tval: Expr
    fval: Expr
    type: AlloType
    loc: Optional[Loc] = None


@dataclass(eq=False)
class Math(Expr):
    """Elementary function on floats (operands already cast to ``type``)."""

    fn: str
    args: tuple
    type: AlloType
    loc: Optional[Loc] = None


@dataclass(eq=False)
class BitGet(Expr):
    """Bit ``bit`` of integer ``value`` (LSB = 0) as UInt(1)."""

    value: Expr
    bit: Expr
    type: AlloType
    loc: Optional[Loc] = None


@dataclass(eq=False)
class BitSlice(Expr):
    """Bits ``[lo, lo + width)`` of ``value`` as UInt(width); ``lo`` may be dynamic."""

    value: Expr
    lo: Expr
    width: int
    type: AlloType
    loc: Optional[Loc] = None


@dataclass(eq=False)
class BitInsert(Expr):
    """``value`` with bits ``[lo, lo + width)`` replaced by the low bits of ``new``."""

    value: Expr
    lo: Expr
    width: int
    new: Expr
    type: AlloType
    loc: Optional[Loc] = None


@dataclass(eq=False)
class BitReverse(Expr):
    value: Expr
    type: AlloType
    loc: Optional[Loc] = None


@dataclass(eq=False)
class Bitcast(Expr):
    """Reinterpret the bits of ``value`` as ``type`` (equal widths)."""

    value: Expr
    type: AlloType
    loc: Optional[Loc] = None


# ---------------------------------------------------------------- statements


class Stmt:
    loc: Optional[Loc]


@dataclass(eq=False)
class Decl(Stmt):
    """Declare a local scalar (``shape == ()``) or tensor.

    ``init``: None (uninitialized: zero in interpreter and hardware), an :class:`Expr`
    (scalar value / tensor fill), a numpy array of raw values (constant tensor), or a
    :class:`BufRef` to copy from. ``stateful`` keeps the value across calls of a built
    module; ``const`` marks a read-only tensor (ROM)."""

    name: str
    type: AlloType
    shape: tuple
    init: Any = None
    stateful: bool = False
    const: bool = False
    memory: Any = None  # types.Memory hint, if any
    loc: Optional[Loc] = None


@dataclass(eq=False)
class Assign(Stmt):
    """Scalar assignment ``name = value`` (value already has the variable's type)."""

    name: str
    value: Expr
    loc: Optional[Loc] = None


@dataclass(eq=False)
class Store(Stmt):
    buf: str
    index: tuple
    value: Expr
    loc: Optional[Loc] = None


@dataclass(eq=False)
class For(Stmt):
    """``for var in range(lb, ub, step)``. ``name`` is the loop's schedule name (its variable
    unless split/fused); ``band`` is set on the outermost loop of a top-level nest.
    ``attrs`` holds hardware annotations: ``pipeline`` (II), ``unroll`` (factor, 0 = full),
    ``reduction``, ``rewind``, ``dataflow``."""

    var: str
    lb: Expr
    ub: Expr
    step: int
    body: list
    name: str = ""
    band: str = ""
    attrs: dict = field(default_factory=dict)
    loc: Optional[Loc] = None


@dataclass(eq=False)
class If(Stmt):
    cond: Expr
    then: list
    orelse: list
    loc: Optional[Loc] = None


@dataclass(eq=False)
class While(Stmt):
    cond: Expr
    body: list
    loc: Optional[Loc] = None


@dataclass(eq=False)
class BufRef:
    """A tensor argument: buffer ``buf`` with leading indices ``prefix`` fixed (a subview)."""

    buf: str
    prefix: tuple = ()
    loc: Optional[Loc] = None


@dataclass(eq=False)
class StreamRef:
    """A stream passed to a call, binding the callee's Stream parameter to ``stream``."""

    stream: str
    loc: Optional[Loc] = None


@dataclass(eq=False)
class StreamDecl(Stmt):
    """Declare FIFO ``name`` of ``type`` (a :class:`~.types.Stream`: element type, block
    shape, depth). It starts empty each time the declaring function runs."""

    name: str
    type: Stream
    loc: Optional[Loc] = None


@dataclass(eq=False)
class StreamPut(Stmt):
    """``stream.put(value)``: blocks while the FIFO holds ``depth`` elements. ``value`` is an
    Expr of the element type, or a BufRef of the block shape for a stream of blocks."""

    stream: str
    value: Any
    loc: Optional[Loc] = None


@dataclass(eq=False)
class StreamGet(Stmt):
    """``dst = stream.get()``: blocks while the FIFO is empty. ``dst`` is a scalar variable
    of the element type, a whole buffer of the block shape, or None (element dropped)."""

    stream: str
    dst: Optional[str]
    loc: Optional[Loc] = None


@dataclass(eq=False)
class CallStmt(Stmt):
    """Call ``callee``; ``args`` are Exprs (scalars), BufRefs (tensors) or StreamRefs.
    ``outs`` names the caller's scalar variables / buffers receiving each result."""

    callee: str
    args: list
    outs: list
    loc: Optional[Loc] = None


@dataclass(eq=False)
class Return(Stmt):
    """Return ``values``: Exprs for scalar results, BufRefs for tensor results."""

    values: list
    loc: Optional[Loc] = None


# ---------------------------------------------------------------- functions


@dataclass(eq=False)
class Param:
    name: str
    type: AlloType
    shape: tuple = ()
    memory: Any = None
    loc: Optional[Loc] = None

    @property
    def is_tensor(self) -> bool:
        return len(self.shape) > 0

    @property
    def is_stream(self) -> bool:
        return isinstance(self.type, Stream)


@dataclass(eq=False)
class ResultSpec:
    type: AlloType
    shape: tuple = ()

    @property
    def is_tensor(self) -> bool:
        return len(self.shape) > 0


def ret_name(k: int) -> str:
    """The buffer name of tensor result ``k`` once the lowering has made results explicit
    memory ports (see ``lower.prepare``)."""
    return f"__ret{k}"


@dataclass(eq=False)
class Function:
    name: str
    params: list
    results: list
    body: list
    loc: Optional[Loc] = None
    attrs: dict = field(default_factory=dict)

    def param(self, name: str) -> Optional[Param]:
        for p in self.params:
            if p.name == name:
                return p
        return None


@dataclass(eq=False)
class Module:
    """All functions reachable from ``top`` (callees before callers in ``funcs`` order)."""

    funcs: dict
    top: str

    @property
    def top_func(self) -> Function:
        return self.funcs[self.top]

    def __str__(self) -> str:
        from .printer import print_module

        return print_module(self)

    __repr__ = __str__


# ---------------------------------------------------------------- traversal

Node = Union[Stmt, Expr]


def expr_children(e: Expr) -> tuple:
    if isinstance(e, (Const, Var)):
        return ()
    if isinstance(e, Load):
        return tuple(e.index)
    if isinstance(e, BinOp):
        return (e.lhs, e.rhs)
    if isinstance(e, (UnOp,)):
        return (e.operand,)
    if isinstance(e, (Cast, BitReverse, Bitcast)):
        return (e.value,)
    if isinstance(e, Select):
        return (e.cond, e.tval, e.fval)
    if isinstance(e, Math):
        return tuple(e.args)
    if isinstance(e, BitGet):
        return (e.value, e.bit)
    if isinstance(e, BitSlice):
        return (e.value, e.lo)
    if isinstance(e, BitInsert):
        return (e.value, e.lo, e.new)
    raise TypeError(f"not an IR expression: {e!r}")


def walk_stmts(body: list):
    """Yield every statement in ``body``, recursively, in program order (pre-order)."""
    for s in body:
        yield s
        if isinstance(s, (For, While)):
            yield from walk_stmts(s.body)
        elif isinstance(s, If):
            yield from walk_stmts(s.then)
            yield from walk_stmts(s.orelse)


def stmt_exprs(s: Stmt) -> tuple:
    """The expressions directly held by a statement (not those of nested statements)."""
    if isinstance(s, Decl):
        return (s.init,) if isinstance(s.init, Expr) else ()
    if isinstance(s, Assign):
        return (s.value,)
    if isinstance(s, Store):
        return tuple(s.index) + (s.value,)
    if isinstance(s, For):
        return (s.lb, s.ub)
    if isinstance(s, (If, While)):
        return (s.cond,)
    if isinstance(s, CallStmt):
        out = []
        for a in s.args:
            if not isinstance(a, StreamRef):
                out.extend(a.prefix if isinstance(a, BufRef) else (a,))
        return tuple(out)
    if isinstance(s, StreamPut):
        return tuple(s.value.prefix) if isinstance(s.value, BufRef) else (s.value,)
    if isinstance(s, Return):
        out = []
        for a in s.values:
            out.extend(a.prefix if isinstance(a, BufRef) else (a,))
        return tuple(out)
    return ()


def walk_exprs(e: Expr):
    """Yield ``e`` and all its sub-expressions (pre-order)."""
    stack = [e]
    while stack:
        x = stack.pop()
        yield x
        stack.extend(reversed(expr_children(x)))
