"""Unfolded bands as systolic arrays: the hardware effect of ``s.unfold`` + ``s.to``.

Pass ``systolic-outline`` (:func:`outline_systolic`, on prepared IR, before
banking). Every band with unfolded loops (``unfold=d``, see
:mod:`allo_rtl.schedule.systolic`) must be a matrix product that a
:class:`primitives.systolic.SystolicGemm` computes. The band is replaced by a call
to a new function ``<func>__systolic<n>`` whose parameters are the three arrays the
engine reads and writes, whose body is empty and whose ``attrs["systolic"]`` (a
:class:`SystolicSpec`) says what it computes::

    for i_outer in 0..2 (band gemm) {                      call gemm__systolic0(A, B, C)
      for j_outer in 0..2 { for k in 0..8 {          ->
        for i_inner in 0..4 (unfold=0, to=B) {             func gemm__systolic0(A: i8[8, 8],
          for j_inner in 0..4 (unfold=1, to=A) {             B: i8[8, 8], C: i32[8, 8])
            C[..] = cast<i32>(C[..] + A[..] * B[..])         systolic='gemm: 4x4 PEs, ...' {}

:func:`~allo_rtl.lower.kernel.lower_functions` gives such a function a
:class:`LoweredSystolic` (no FSM); callers instantiate its :class:`SystolicComponent`
like any callee (same ``start``/``done`` and memory-port protocol). A band that is
not one of the forms below is an :class:`AlloError` naming the kernel line and what
to change: never wrong hardware, never an ignored primitive.

Recognised forms (``u0``/``u1``: the loops of grid dimensions 0/1, ``P``/``Q`` their
trip counts; every other loop of the band is *temporal*; loops need constant bounds):

* **accumulate in memory** (``C[i, j] += A[i, k] * B[k, j]``, any split/reorder): the
  innermost statement is ``C[x] = acc + a * b`` with ``acc = C[x]``. Temporal loops
  that index ``C`` are *tile* loops, the others *step* (reduction) loops. The start
  value is the constant of the loop nest that last fills ``C`` before the band
  (``C: T[M, N] = 0``, or ``for ..: C[..] = 0``); that nest is dropped when the band
  writes every element of ``C``.
* **accumulate in a scalar** (Allo's ``PE_kernel``): under the grid and tile loops,
  ``v = c0``, step loops around ``v = v + a * b``, then ``C[x] = v``. A band whose
  body is a call is analysed with the callee inlined.

``a``/``b`` are loads (possibly through local scalars and casts). The operand indexed
by ``u0`` and not ``u1`` streams along the rows (``s.to(buf, pe, axis=1)``), the other
down the columns (``axis=0``). An operand may be *forwarded* as in Allo's library:
read at ``X[.., u + c, ..]`` and stored unchanged to ``X[.., u + c + 1, ..]``; the PEs
then read the edge ``u = 0``, which the pure copy nest filling it before the band
maps back to its source array (copy propagation), and the forwarded copies must be
dead after the band (dead store-only nests of the function are removed).

The arithmetic must equal ``acc + a * b`` modulo ``2**bits(acc)`` for every input:
each intermediate type is at least as wide as the accumulator or holds its exact
value (interval arithmetic). Or it is float32 throughout (operands, product, sum,
accumulator, result: ``acc = round(acc + round(a * b))`` as the interpreter evaluates
it), computed by :class:`primitives.systolic.FloatPE`: a step per cycle with as many
tiles interleaved as the adder's latency, each sum still in step order (one tile, or C
banks by rows: a step per adder latency); any
other float type or a conversion is an error. Addresses are checked over the
whole iteration space: each row of A (column of B) reads one bank of its own at an
address affine in the temporal loops; each PE writes one bank of C at an address
affine in the tile loops.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Module as HDLModule
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from primitives.float import BINARY32
from primitives.systolic import (PE, AffineAddress, FloatPE, OutputBanks, SystolicArray,
                                 SystolicGemm)

from ..errors import AlloError
from ..ir.nodes import (Assign, BinOp, BufRef, CallStmt, Cast, Const, Decl, Expr, For, Function,
                        If, Load, Module, Param, Return, Store, Var, stmt_exprs,
                        walk_exprs, walk_stmts)
from ..ir.numerics import float_bits, int_range, round_float
from ..ir.printer import print_expr
from ..ir.transform import fresh_name, xform
from ..ir.types import Float, Index, Int, UInt
from . import ops
from .banks import Banking
from .kernel import BufInfo, MemPortSignature, port_name
from .shared import Shared

__all__ = ["outline_systolic", "check_unfolded", "SystolicSpec", "LoweredSystolic",
           "SystolicComponent"]

NAME = "systolic-outline"


# ====================================================================== spec


@dataclass(frozen=True)
class Lanes:
    """An operand: lane ``l`` (a row of A, a column of B) reads parameter ``ports[l]`` (a
    bank) at ``bases[l] + sum(strides[x] * counter[x])`` (counters: tiles, then steps)."""

    buf: str
    ports: tuple
    bases: tuple
    strides: tuple
    width: int
    signed: bool


@dataclass(frozen=True)
class Outputs:
    """The results: ``banks[p] = (parameter, ((i, j, base), ...))``; ``PE(i, j)`` writes its
    sum of a tile at ``base + sum(strides[x] * tile_counter[x])``."""

    buf: str
    banks: tuple
    strides: tuple
    width: int


@dataclass(frozen=True)
class SystolicSpec:
    """What an outlined systolic function computes, in the engine's terms."""

    band: str
    rows: int
    cols: int
    tiles: tuple
    steps: tuple
    a: Lanes
    b: Lanes
    c: Outputs
    acc_width: int
    acc_signed: bool
    init: int  # raw bits (float32 sums: the IEEE pattern)
    acc_float: bool = False  # float32 sums (FloatPE), else integer

    def __repr__(self):
        kind = "f" if self.acc_float else "i" if self.acc_signed else "ui"
        init = f"0x{self.init:08x}" if self.acc_float else self.init
        return (f"'{self.band}: {self.rows}x{self.cols} PEs, {self.c.buf} = {init} + "
                f"{self.a.buf} @ {self.b.buf} ({kind}{self.acc_width} sums), "
                f"{math.prod(self.tiles)} tile(s) x {math.prod(self.steps)} step(s)'")


# ====================================================================== IR helpers


def _cint(e):
    return e.value if isinstance(e, Const) and isinstance(e.value, int) else None


def _name(lp: For) -> str:
    return lp.name or lp.var


def _is_int(t) -> bool:
    return isinstance(t, (Int, UInt, Index))


def _is_f32(t) -> bool:
    return isinstance(t, Float) and (t.bits, t.fracs) == (32, 23)


def _const_init(e, t):
    """Raw start value of type ``t`` from constant expression ``e`` (None when not one)."""
    v = _strip(e).value if isinstance(_strip(e), Const) else None
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return None
    if _is_f32(t):
        return float_bits(round_float(float(v), t), t)
    return v if isinstance(v, int) else None


_TYPE_HINT = ("use integer types (Int/UInt) or float32 throughout, or build the band "
              "without s.unfold")


def _strip(e):
    while isinstance(e, Cast):
        e = e.value
    return e


def _free_vars(index) -> set:
    return {x.name for e in index for x in walk_exprs(e) if isinstance(x, Var)}


def _same_index(a, b) -> bool:
    return len(a) == len(b) and all(print_expr(x) == print_expr(y) for x, y in zip(a, b))


def _stmt_reads(s) -> set:
    """Arrays statement ``s`` itself reads (not the statements nested in it)."""
    out = set()
    for e in stmt_exprs(s):
        out |= {x.buf for x in walk_exprs(e) if isinstance(x, Load)}
    if isinstance(s, (CallStmt, Return)):
        out |= {a.buf for a in (s.args if isinstance(s, CallStmt) else s.values)
                if isinstance(a, BufRef)}
    if isinstance(s, Decl) and isinstance(s.init, BufRef):
        out.add(s.init.buf)
    return out


def _reads(stmts) -> set:
    out = set()
    for s in walk_stmts(stmts):
        out |= _stmt_reads(s)
    return out


def _writes(stmts) -> set:
    out = set()
    for s in walk_stmts(stmts):
        if isinstance(s, Store):
            out.add(s.buf)
        elif isinstance(s, CallStmt):
            out |= {a.buf for a in s.args if isinstance(a, BufRef)} | set(s.outs)
    return out


def _mentions(s, buf) -> bool:
    return buf in _reads([s]) or buf in _writes([s])


def _subst(e, env: dict):
    """``e`` with scalar variables replaced by the expressions of ``env`` (shared, not
    copied: the analysis identifies operand loads by identity)."""
    return xform(e, lambda x: env[x.name] if isinstance(x, Var) and x.name in env else x)


def _buffer(f: Function, buf: str):
    """(element type, shape, is a local Decl) of a tensor of ``f``."""
    p = f.param(buf)
    if p is not None:
        return p.type, tuple(p.shape), False
    for k, r in enumerate(f.results):
        if buf == f"__ret{k}":
            return r.type, tuple(r.shape), False
    for s in walk_stmts(f.body):
        if isinstance(s, Decl) and s.name == buf and s.shape:
            return s.type, tuple(s.shape), True
    raise AssertionError(f"unknown buffer {buf}")


# ====================================================================== index arithmetic


class _NotAffine(Exception):
    pass


_NP_BIN = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "and": np.bitwise_and,
           "or": np.bitwise_or, "xor": np.bitwise_xor, "min": np.minimum, "max": np.maximum,
           "shl": np.left_shift, "shr": np.right_shift}


def _wrap_np(x, t):
    if t.bits >= 62:
        return x
    lo, _ = int_range(t)
    return ((x - lo) % (1 << t.bits)) + lo


def _eval(e, env):
    """The integer value of index expression ``e``, loop variables bound to numpy arrays;
    :class:`_NotAffine` for anything else (loads, floats, unknown variables)."""
    if isinstance(e, Const) and isinstance(e.value, int):
        return np.int64(e.value)
    if isinstance(e, Var):
        if e.name not in env:
            raise _NotAffine(e.name)
        return env[e.name]
    if isinstance(e, Cast) and _is_int(e.type) and _is_int(e.value.type):
        return _wrap_np(_eval(e.value, env), e.type)
    if isinstance(e, BinOp) and _is_int(e.type) and e.op in (*_NP_BIN, "floordiv", "div", "mod"):
        a, b = _eval(e.lhs, env), _eval(e.rhs, env)
        if e.op in _NP_BIN:
            v = _NP_BIN[e.op](a, b)
        else:
            if np.any(np.asarray(b) == 0):
                raise _NotAffine
            q = np.floor_divide(a, b)
            if e.op != "floordiv":  # C semantics: the quotient truncates toward zero
                q = np.where((q < 0) & (q * b != a), q + 1, q)
            v = q if e.op != "mod" else a - b * q
        return _wrap_np(v, e.type)
    raise _NotAffine


class _Space:
    """The loop variables of a band and their values."""

    def __init__(self, loops):
        self.values, self.loops = {}, {}
        for lp in loops:
            lb, ub = _cint(lp.lb), _cint(lp.ub)
            if lb is None or ub is None:
                raise AlloError(f"loop '{_name(lp)}' of an unfolded band has bounds that are not "
                                "constants; a PE grid runs a fixed iteration space", lp.loc,
                                "give the loops of the band constant bounds")
            vals = np.arange(lb, ub, lp.step, dtype=np.int64)
            if len(vals) == 0:
                raise AlloError(f"loop '{_name(lp)}' of an unfolded band runs no iteration",
                                lp.loc, "remove the empty band")
            self.values[lp.var], self.loops[lp.var] = vals, lp

    def arrays(self, index, order, loc, what):
        """``index`` evaluated on the grid of the variables ``order`` (full arrays)."""
        n = len(order)
        env = {}
        for k, v in enumerate(order):
            shape = [1] * n
            shape[k] = len(self.values[v])
            env[v] = self.values[v].reshape(shape)
        shape = tuple(len(self.values[v]) for v in order)
        try:
            return [np.broadcast_to(np.asarray(_eval(e, env), dtype=np.int64), shape).copy()
                    for e in index]
        except _NotAffine as x:
            why = (f"uses '{x.args[0]}', which is not a loop of the band" if x.args else
                   "is not an integer function of the band's loop counters")
            raise AlloError(f"the index of {what} {why}", loc,
                            "index the arrays of a systolic band with its loop counters") from None


def _check_bounds(arrs, shape, buf, loc):
    for d, (a, n) in enumerate(zip(arrs, shape)):
        if a.size and (a.min() < 0 or a.max() >= n):
            raise AlloError(f"{buf} is indexed out of bounds in dimension {d + 1} (index "
                            f"{int(a.min() if a.min() < 0 else a.max())}, size {n})", loc,
                            "keep the indices of the band inside the arrays")


def _place(banking: Banking, arrs):
    """Vectorised :meth:`Banking.place`: (flat bank, address in the bank) arrays."""
    bank = np.zeros(arrs[0].shape, dtype=np.int64)
    offs = []
    for (kind, nb, size), i in zip(banking.dims, arrs):
        if kind == "complete":
            c, o = i, np.zeros_like(i)
        elif kind == "block":
            c, o = i // size, i % size
        elif kind == "cyclic":
            c, o = i % nb, i // nb
        else:
            c, o = np.zeros_like(i), i
        bank = bank * nb + c
        offs.append(o)
    addr = np.zeros(arrs[0].shape, dtype=np.int64)
    for o, n in zip(offs, banking.bank_shape):
        addr = addr * n + o
    return bank, addr


def _banking(f: Function, buf: str) -> Banking:
    t, shape, _ = _buffer(f, buf)
    return Banking(buf, shape, f.attrs.get("partition", {}).get(buf) or {}, t)


def _port(banking: Banking, flat: int) -> str:
    return f"{banking.name}__b{flat}" if banking.nbanks > 1 else banking.name


def _affine_fit(addr, nl, what, loc, hint):
    """Fit ``addr`` (axes: ``nl`` lane axes, then counter axes) as ``base[lane] +
    sum(stride * counter)``; returns (bases array over the lane axes, strides per counter
    axis)."""
    zero = (slice(None),) * nl + (0,) * (addr.ndim - nl)
    bases = addr[zero]
    strides = []
    pred = np.broadcast_to(bases.reshape(bases.shape + (1,) * (addr.ndim - nl)), addr.shape)
    pred = pred.copy()
    for ax in range(nl, addr.ndim):
        n = addr.shape[ax]
        if n < 2:
            strides.append(0)
            continue
        sel = [0] * addr.ndim
        sel[ax] = 1
        s = int(addr[tuple(sel)] - addr[(0,) * addr.ndim])
        strides.append(s)
        shape = [1] * addr.ndim
        shape[ax] = n
        pred = pred + s * np.arange(n, dtype=np.int64).reshape(shape)
    if not np.array_equal(pred, addr):
        raise AlloError(f"{what}: the address in the bank is not an affine function of the "
                        "loop counters, which the systolic engine's address generators need",
                        loc, hint)
    return bases, strides


# ====================================================================== the band


def _inline_for_analysis(module: Module, call: CallStmt) -> list:
    """The callee's body with its parameters replaced by the call's arguments and fresh
    names for its locals: what the band does, for the analysis only."""
    callee = module.funcs[call.callee]
    if callee.results:
        raise AlloError(f"the PE function {call.callee} returns values; a PE of a systolic "
                        "array writes its result into an array argument", call.loc,
                        "store the result into an array parameter")
    bufs, scal = {}, {}
    for p, a in zip(callee.params, call.args):
        if p.is_stream:
            raise AlloError(f"the PE function {call.callee} takes stream '{p.name}'", call.loc,
                            "pass arrays and stream them between PEs with s.to")
        if p.is_tensor:
            bufs[p.name] = (a.buf, tuple(a.prefix))
        else:
            scal[p.name] = a
    local = {}
    for s in walk_stmts(callee.body):
        if isinstance(s, For):
            local[s.var] = f"{call.callee}.{s.var}"
        elif isinstance(s, (Decl, Assign)) and not getattr(s, "shape", ()):
            local[s.name] = f"{call.callee}.{s.name}"
        elif not isinstance(s, (Store, If)):
            what = f"declares array '{s.name}'" if isinstance(s, Decl) else \
                f"holds a {type(s).__name__} statement"
            raise AlloError(f"the PE function {call.callee} {what}, which a systolic PE cannot "
                            "run", s.loc, "a PE body is loops, scalars, loads and stores")

    def one(e):  # applied bottom-up by xform: the index of a load is already mapped
        if isinstance(e, Var):
            if e.name in scal:
                return copy.deepcopy(scal[e.name])
            return Var(local.get(e.name, e.name), e.type, e.loc)
        if isinstance(e, Load) and e.buf in bufs:
            buf, pre = bufs[e.buf]
            return Load(buf, copy.deepcopy(pre) + tuple(e.index), e.type, e.loc)
        return e

    def ex(e):
        return xform(e, one)

    def st(s):
        if isinstance(s, Decl):
            return Decl(local[s.name], s.type, (), ex(s.init) if isinstance(s.init, Expr)
                        else s.init, loc=s.loc)
        if isinstance(s, Assign):
            return Assign(local[s.name], ex(s.value), s.loc)
        if isinstance(s, Store):
            idx = tuple(ex(i) for i in s.index)
            buf = s.buf
            if buf in bufs:
                buf, pre = bufs[buf]
                idx = copy.deepcopy(pre) + idx
            return Store(buf, idx, ex(s.value), s.loc)
        if isinstance(s, For):
            return For(local[s.var], ex(s.lb), ex(s.ub), s.step, [st(x) for x in s.body],
                       s.name, "", dict(s.attrs), s.loc)
        return If(ex(s.cond), [st(x) for x in s.then], [st(x) for x in s.orelse], s.loc)

    return [st(s) for s in callee.body]


def _mod_exact(e, w: int, leaves: dict):
    """(ok, lo, hi): ``ok`` when ``e``'s value equals its exact value (the operations
    without wrap-around) modulo ``2**w`` for every input; ``lo``/``hi`` bound the value.
    ``leaves``: id(expr) -> range."""
    if id(e) in leaves:
        return (True, *leaves[id(e)])
    if isinstance(e, Const) and isinstance(e.value, int):
        return True, e.value, e.value
    if isinstance(e, Cast):
        ok, lo, hi = _mod_exact(e.value, w, leaves)
    elif isinstance(e, BinOp) and e.op in ("add", "mul"):
        ok1, a, b = _mod_exact(e.lhs, w, leaves)
        ok2, c, d = _mod_exact(e.rhs, w, leaves)
        ok = ok1 and ok2
        p = (a + c, b + d) if e.op == "add" else (a * c, a * d, b * c, b * d)
        lo, hi = min(p), max(p)
    else:
        return False, 0, 0
    tlo, thi = int_range(e.type)
    if tlo <= lo and hi <= thi:
        return ok, lo, hi
    return ok and e.type.bits >= w, tlo, thi


@dataclass
class _Operand:
    load: Load
    axis: int  # grid dimension it flows along (1: along a row, 0: down a column)
    lane: str  # the unfolded loop variable choosing its row/column
    forward: Store = None  # its forwarding store, if it is forwarded
    fdim: int = -1  # the dimension of its buffer that moves by one per PE


class _Band:
    """An unfolded band taken apart and checked (see the module docstring)."""

    def __init__(self, module: Module, f: Function, root: For):
        self.module, self.f, self.root, self.loc, self.name = module, f, root, root.loc, root.band
        chain = [root]
        while any("unfold" in x.attrs for x in walk_stmts(chain[-1].body) if isinstance(x, For)):
            lp = chain[-1]
            if len(lp.body) != 1 or not isinstance(lp.body[0], For):
                other = next((s for s in lp.body if not isinstance(s, For)), lp.body[-1])
                raise AlloError(f"band '{self.name}': loop '{_name(lp)}' around the PE grid holds "
                                "more than the next loop; the loops around an unfolded grid must "
                                "be perfectly nested", getattr(other, "loc", None) or lp.loc,
                                "move the other statements out of the band")
            chain.append(lp.body[0])
        grid = [lp for lp in chain if "unfold" in lp.attrs]
        if sorted(lp.attrs["unfold"] for lp in grid) not in ([0], [0, 1]):
            raise AlloError(f"band '{self.name}': PE grids of {len(grid)} dimensions are not "
                            "supported (one or two)", self.loc, "unfold one or two loops")
        self.u = sorted(grid, key=lambda lp: lp.attrs["unfold"])
        self.lanes = [lp.var for lp in self.u]
        self.P = _cint(self.u[0].ub)
        self.Q = _cint(self.u[1].ub) if len(self.u) > 1 else 1
        self.to = {buf: d for d, lp in enumerate(self.u) for buf, _ in lp.attrs.get("to", ())}
        temporal = [lp for lp in chain if "unfold" not in lp.attrs]
        body = list(chain[-1].body)
        if len(body) == 1 and isinstance(body[0], CallStmt):
            body = _inline_for_analysis(module, body[0])
        while len(body) == 1 and isinstance(body[0], For):
            temporal.append(body[0])
            body = list(body[0].body)
        self.reduction = []
        self.acc_var = None
        if (len(body) >= 2 and isinstance(body[0], Decl) and not body[0].shape
                and isinstance(body[-1], Store) and isinstance(_strip(body[-1].value), Var)
                and _strip(body[-1].value).name == body[0].name):
            self._scalar_form(body)
        else:
            self._steps(body)
        self.space = _Space(temporal + self.reduction + self.u)
        cvars = _free_vars(self.c_store.index)
        unknown = cvars - set(self.space.values)
        if unknown:
            raise AlloError(f"the index of {self.c_store.buf} uses '{sorted(unknown)[0]}', which "
                            "is not a loop of the band", self.c_store.loc,
                            "index the result with the band's loop counters")
        for u in self.u:
            if u.var not in cvars:
                raise AlloError(f"the result {self.c_store.buf} is not indexed by the unfolded "
                                f"loop '{_name(u)}': the PEs along it would write the same "
                                "elements", self.c_store.loc, "unfold loops that index the result")
        self.tiles = [lp for lp in temporal if lp.var in cvars]
        self.steps = [lp for lp in temporal if lp.var not in cvars] + self.reduction
        if self.acc_var is not None:
            for lp in temporal:
                if lp.var not in cvars:
                    raise AlloError(f"loop '{_name(lp)}' encloses the accumulator "
                                    f"'{self.acc_var}' but does not index {self.c_store.buf}: "
                                    "each iteration would overwrite the last one's results",
                                    lp.loc, "index the result with it, or move it inside the "
                                            "accumulation")
            for lp in self.reduction:
                if lp.var in cvars:
                    raise AlloError(f"loop '{_name(lp)}' sums into '{self.acc_var}' but indexes "
                                    f"{self.c_store.buf}", lp.loc,
                                    "store the accumulator after its reduction loops")
        self._operands()

    # ---------------------------------------------------------------- statements
    def _scalar_form(self, body):
        init, final = body[0], body[-1]
        self.acc_var, self.acc_type = init.name, init.type
        ctype = _buffer(self.f, final.buf)[0]
        for t in (self.acc_type, ctype):
            if not (_is_int(t) or _is_f32(t)):
                raise AlloError(f"the accumulation uses type {t}; systolic arrays support "
                                "integer types (Int/UInt) and float32", init.loc, _TYPE_HINT)
        if (_is_f32(self.acc_type) or _is_f32(ctype)) and (
                self.acc_type != ctype or _strip(final.value) is not final.value):
            raise AlloError(f"accumulator '{init.name}' ({self.acc_type}) is stored to "
                            f"{final.buf} ({ctype}) with a conversion; float32 systolic arrays "
                            "store the float32 sums unchanged", final.loc, _TYPE_HINT)
        self.init = 0 if init.init is None else _const_init(init.init, self.acc_type)
        if self.init is None:
            raise AlloError(f"accumulator '{init.name}' starts from a value that is not a "
                            "constant", init.loc, "start the accumulation from a constant")
        middle = body[1:-1]
        while len(middle) == 1 and isinstance(middle[0], For):
            self.reduction.append(middle[0])
            middle = list(middle[0].body)
        self.c_store = final
        self._steps(middle)

    def _steps(self, stmts):
        """The statements of one step: the multiply-accumulate, scalars, forwarding stores."""
        env, mac, declared = {}, None, set()
        self.forwards = []
        for s in stmts:
            if isinstance(s, Decl) and not s.shape:
                declared.add(s.name)
                if isinstance(s.init, Expr):
                    env[s.name] = _subst(s.init, env)
            elif isinstance(s, Assign) and s.name == self.acc_var:
                if mac is not None:
                    raise AlloError(f"accumulator '{s.name}' is updated twice per step", s.loc,
                                    "accumulate once per iteration")
                mac = (_subst(s.value, env), s)
            elif isinstance(s, Assign):
                if s.name not in declared:
                    raise AlloError(f"the band assigns '{s.name}', declared outside it; the PEs "
                                    "of a systolic array do not write back scalars", s.loc,
                                    "declare the scalar inside the band")
                env[s.name] = _subst(s.value, env)
            elif isinstance(s, Store):
                st = Store(s.buf, tuple(_subst(i, env) for i in s.index), _subst(s.value, env),
                           s.loc)
                if self.acc_var is None and any(
                        isinstance(x, Load) and x.buf == st.buf and _same_index(x.index, st.index)
                        for x in walk_exprs(st.value)):
                    if mac is not None:
                        raise AlloError("the band accumulates twice per step", s.loc,
                                        "accumulate once per iteration")
                    mac = (st.value, st)
                else:
                    self.forwards.append(st)
            else:
                guard = isinstance(s, If)
                what = "an if statement" if guard else (
                    "a loop beside other statements" if isinstance(s, For) else
                    f"a {type(s).__name__} statement")
                raise AlloError(
                    f"the body of unfolded band '{self.name}' holds {what}; a systolic PE runs "
                    "one multiply-accumulate per step", getattr(s, "loc", None) or self.loc,
                    "a split by a factor that does not divide the loop adds such a guard: "
                    "split by a divisor (the PE grid must divide the matrix)" if guard else
                    "keep only the multiply-accumulate (and forwarding stores) in the band")
        if mac is None:
            raise AlloError(f"band '{self.name}' has no multiply-accumulate", self.loc,
                            "a systolic PE computes C[i, j] += A[i, k] * B[k, j]")
        expr, node = mac
        if self.acc_var is None:
            self.c_store, self.init = node, None
            self.acc_type = _buffer(self.f, node.buf)[0]
            if not (_is_int(self.acc_type) or _is_f32(self.acc_type)):
                raise AlloError(f"{node.buf} has type {self.acc_type}; systolic arrays support "
                                "integer types (Int/UInt) and float32", node.loc, _TYPE_HINT)

            def is_acc(e):
                return isinstance(e, Load) and e.buf == node.buf and _same_index(e.index,
                                                                                  node.index)
        else:
            def is_acc(e):
                return isinstance(e, Var) and e.name == self.acc_var
        self._mac(expr, is_acc, node.loc)

    def _mac(self, expr, is_acc, loc):
        self.is_float = _is_f32(self.acc_type)
        if self.is_float:  # every value of the product and the sum is float32 (no conversion)
            todo = [expr]
            while todo:
                x = todo.pop()
                if not _is_f32(x.type):
                    raise AlloError(f"the float32 multiply-accumulate computes a value of type "
                                    f"{x.type} ({print_expr(x)}); a float32 systolic PE rounds "
                                    "the product and the sum to float32 only", loc, _TYPE_HINT)
                if isinstance(x, (Cast, BinOp)):
                    todo += [x.value] if isinstance(x, Cast) else [x.lhs, x.rhs]
        for x in walk_exprs(expr):
            if not (_is_int(x.type) or self.is_float):
                raise AlloError(f"the PE arithmetic uses type {x.type}; systolic arrays support "
                                "integer types (Int/UInt) and float32", loc, _TYPE_HINT)
        root, found = _strip(expr), None
        if isinstance(root, BinOp) and root.op == "add":
            for lhs, rhs in ((root.lhs, root.rhs), (root.rhs, root.lhs)):
                m = _strip(rhs)
                if (is_acc(_strip(lhs)) and isinstance(m, BinOp) and m.op == "mul"
                        and isinstance(_strip(m.lhs), Load) and isinstance(_strip(m.rhs), Load)):
                    found = (_strip(lhs), _strip(m.lhs), _strip(m.rhs))
                    break
        if found is None:
            raise AlloError(f"the body of unfolded band '{self.name}' is not a multiply-"
                            "accumulate acc = acc + a * b (a, b loaded from arrays)", loc,
                            "a systolic PE computes C[i, j] += A[i, k] * B[k, j]; write the "
                            "band in that form, or drop s.unfold")
        self.acc, x, y = found
        others = [e for e in walk_exprs(expr) if isinstance(e, Load) and e not in (x, y, self.acc)]
        if others:
            raise AlloError(f"the multiply-accumulate also reads {others[0].buf}", loc,
                            "a systolic PE multiplies two operands and accumulates")
        if self.is_float:  # float32 throughout: exactly round(acc + round(x * y))
            self.x, self.y = x, y
            return
        w = self.acc_type.bits
        leaves = {id(self.acc): int_range(self.acc_type), id(x): int_range(x.type),
                  id(y): int_range(y.type)}
        if not _mod_exact(expr, w, leaves)[0]:
            raise AlloError(f"the multiply-accumulate narrows an intermediate value below the "
                            f"accumulator's {w} bits, so it is not acc + a * b modulo 2**{w}",
                            loc, "compute the product and the sum in types at least as wide "
                                 "as the accumulator (the default typing rules do)")
        self.x, self.y = x, y

    # ---------------------------------------------------------------- operands
    def _operands(self):
        lanes, c = self.lanes, self.c_store.buf
        ops_ = []
        for load in (self.x, self.y):
            if load.buf == c:
                raise AlloError(f"{c} is both the result and an operand of the product",
                                self.c_store.loc, "write the result into another array")
            fwd = [fs for fs in self.forwards if fs.buf == load.buf]
            if fwd:
                fdim, lane = self._forwarded(load, fwd[0])
                axis = lanes.index(lane)
                other = lanes[1 - axis] if len(lanes) > 1 else None
                if other is not None and other not in _free_vars(load.index):
                    raise AlloError(f"{load.buf} is forwarded along '{lane}' but does not depend "
                                    f"on the other unfolded loop", load.loc,
                                    "forward operands along the loop they do not depend on")
                ops_.append(_Operand(load, axis, other or lane, fwd[0], fdim))
                continue
            on = [v for v in lanes if v in _free_vars(load.index)]
            if len(lanes) == 2 and len(on) != 1:
                raise AlloError(f"{load.buf} is indexed by {'none' if not on else 'both'} of "
                                f"the unfolded loops ({', '.join(_name(u) for u in self.u)}); "
                                "in a systolic array each operand belongs to one row or one "
                                "column of PEs", self.c_store.loc,
                                "unfold the loops that index the rows of A and the columns "
                                "of B")
            if len(lanes) == 2:
                ops_.append(_Operand(load, 1 if on[0] == lanes[0] else 0, on[0]))
            else:  # a column of PEs: the operand indexed by the loop enters per row
                ops_.append(_Operand(load, 1 if on else 0, lanes[0]))
        if ops_[0].axis == ops_[1].axis:
            raise AlloError(f"{ops_[0].load.buf} and {ops_[1].load.buf} would both stream along "
                            f"axis {ops_[0].axis} of the PE grid", self.c_store.loc,
                            "index one operand with the row loop (axis 0) and the other with "
                            "the column loop (axis 1)")
        self.A = next(o for o in ops_ if o.axis == 1)
        self.B = next(o for o in ops_ if o.axis == 0)
        for fs in self.forwards:
            if fs.buf not in (self.A.load.buf, self.B.load.buf):
                raise AlloError(f"the band writes {fs.buf}, which is neither its result nor a "
                                "forwarded operand", fs.loc,
                                "a systolic PE only accumulates (and forwards its operands)")
        for o in (self.A, self.B):
            if len(lanes) == 1 and o.axis == 1:
                continue  # one column: each row's operand meets a single PE
            got = self.to.get(o.load.buf)
            if got is None:
                raise AlloError(f"operand {o.load.buf} is shared by the PEs along axis {o.axis} "
                                "of the grid but does not stream between them", self.loc,
                                f"add s.to(<{o.load.buf}>, pe, axis={o.axis}) after "
                                "pe = s.unfold(...)")
            if got != o.axis:
                raise AlloError(f"s.to streams {o.load.buf} along axis {got}, but its values are "
                                f"shared along axis {o.axis} (it is indexed by the other "
                                "unfolded loop)", self.loc,
                                f"use s.to(<{o.load.buf}>, pe, axis={o.axis})")
        for buf, d in self.to.items():
            if buf not in (self.A.load.buf, self.B.load.buf):
                raise AlloError(f"s.to streams {buf} along axis {d} of band '{self.name}', but "
                                f"{buf} is not an operand of its multiply-accumulate", self.loc,
                                "stream the two operands of the product")

    def _forwarded(self, load, fwd):
        """(dimension, lane) along which ``load``'s value is forwarded by store ``fwd``."""
        val = _strip(fwd.value)
        if not (isinstance(val, Load) and val.buf == load.buf
                and _same_index(val.index, load.index)):
            raise AlloError(f"{fwd.buf} is an operand and is written in the band, but not with "
                            "the operand's value (a forwarding store)", fwd.loc,
                            "forward the loaded value unchanged, e.g. A_out[k] = a")
        order = sorted(self.space.values)
        ri = self.space.arrays(load.index, order, load.loc, load.buf)
        wi = self.space.arrays(fwd.index, order, fwd.loc, fwd.buf)
        diff = [k for k, (r, w) in enumerate(zip(ri, wi)) if not np.array_equal(r, w)]
        if len(diff) == 1 and np.all(wi[diff[0]] - ri[diff[0]] == 1):
            k = diff[0]
            for u in self.lanes:
                pos = order.index(u)
                base = ri[k].take([0], axis=pos)
                shape = [1] * len(order)
                shape[pos] = -1
                if np.array_equal(ri[k], base + self.space.values[u].reshape(shape)) and all(
                        np.ptp(ri[k], axis=a).max() == 0 for a in range(len(order)) if a != pos):
                    return k, u
        raise AlloError(f"{fwd.buf} is written in the band at an index that is not the read "
                        "index moved by one along an unfolded loop", fwd.loc,
                        "forward operands to the neighbouring PE: X[i, j + 1, k] = X[i, j, k]")


# ====================================================================== the pass


class _Outliner:
    """Analyse one band of (a copy of) ``f`` and replace it by a call."""

    def __init__(self, module: Module, f: Function, n: int, used: set):
        self.module, self.f, self.n, self.used = module, f, n, used

    def run(self, root: For, parent: list):
        band = _Band(self.module, self.f, root)
        f, sp = self.f, band.space
        counters = [lp.var for lp in band.tiles + band.steps]
        tiles = tuple(len(sp.values[lp.var]) for lp in band.tiles)
        steps = tuple(len(sp.values[lp.var]) for lp in band.steps) or (1,)
        nsteps = len(band.steps)
        A, a_lanes = self._operand(band, band.A, counters, parent, root)
        B, b_lanes = self._operand(band, band.B, counters, parent, root)
        c_buf = band.c_store.buf
        if A == B:
            raise AlloError(f"{A} feeds both the rows and the columns of the PE grid; each "
                            "memory bank serves one row or column per cycle", band.c_store.loc,
                            "multiply a copy of the array")
        outputs, covers = self._outputs(band, [lp.var for lp in band.tiles])
        init, fill = band.init, None
        if init is None:
            init, fill = self._fill(band, parent, root)
        if not nsteps:  # no reduction loop: a dummy counter of one step
            a_lanes = (a_lanes[0], a_lanes[1] + (0,))
            b_lanes = (b_lanes[0], b_lanes[1] + (0,))
        acc_t = band.acc_type
        try:  # the engine's timing (here: only its check of the C banks)
            SystolicGemm.timing(band.P, band.Q, tiles, steps, [bank for _, bank in outputs[0]], 1)
        except ValueError:
            raise AlloError(f"{c_buf}: PEs on one anti-diagonal of the {band.P}x{band.Q} grid "
                            "finish in the same cycle but would write the same bank",
                            band.c_store.loc,
                            f"partition {c_buf} so that each column of PEs writes its own "
                            f"bank (s.partition(<{c_buf}>, Cyclic, dim=<column dim>, "
                            f"factor={band.Q}))") from None
        a_t, b_t, c_t = (_buffer(f, x)[0] for x in (A, B, c_buf))
        spec = SystolicSpec(
            band.name, band.P, band.Q, tiles, steps,
            Lanes(A, *a_lanes[0], a_lanes[1], a_t.bits, isinstance(a_t, (Int, Index))),
            Lanes(B, *b_lanes[0], b_lanes[1], b_t.bits, isinstance(b_t, (Int, Index))),
            Outputs(c_buf, outputs[0], outputs[1], c_t.bits),
            acc_t.bits, isinstance(acc_t, (Int, Index)), int(init) & ((1 << acc_t.bits) - 1),
            band.is_float)
        name = fresh_name(self.used, f"{f.name}__systolic{self.n}")
        layouts = f.attrs.get("partition", {})
        params = []
        for buf in (A, B, c_buf):
            t, shape, _ = _buffer(f, buf)
            params.append(Param(buf, t, shape, loc=root.loc))
        g = Function(name, params, [], [], loc=root.loc,
                     attrs={"systolic": spec,
                            "partition": {b: dict(layouts[b]) for b in (A, B, c_buf)
                                          if layouts.get(b)}})
        call = CallStmt(name, [BufRef(A, (), root.loc), BufRef(B, (), root.loc),
                               BufRef(c_buf, (), root.loc)], [], root.loc)
        parent[parent.index(root)] = call
        if fill is not None and covers:
            parent.remove(fill)
        forwarded = {o.load.buf for o in (band.A, band.B) if o.forward is not None}
        if forwarded:
            _remove_dead(f, parent, call, forwarded)
        return g

    # ---------------------------------------------------------------- operands
    def _operand(self, band: _Band, op: _Operand, counters, parent, root):
        """(buffer, ((ports, bases), strides)) of an operand."""
        sp, load = band.space, op.load
        index = list(load.index)
        if op.forward is not None:  # the PEs read the edge of the forwarding chain
            fl = band.lanes[op.axis] if len(band.lanes) > 1 else band.lanes[0]
            index = [_subst(e, {fl: Const(0, Index())}) for e in index]
        nl = band.P if op.axis == 1 else band.Q
        used = _free_vars(index)
        order = ([op.lane] if nl > 1 else []) + [v for v in counters if v in used]
        arrs = sp.arrays(index, order, load.loc, load.buf)
        if nl == 1:
            arrs = [a[None, ...] for a in arrs]
        buf = load.buf
        if op.forward is not None:
            buf, arrs = self._copy_source(band, op, arrs, parent, root)
        t, shape, _ = _buffer(self.f, buf)
        if t != load.type:
            raise AlloError(f"{buf} holds {t} but the product reads {load.type}", load.loc,
                            "keep the operand's type")
        _check_bounds(arrs, shape, buf, load.loc)
        bk = _banking(self.f, buf)
        bank, addr = _place(bk, arrs)
        what = "row" if op.axis == 1 else "column"
        lane_bank = bank.reshape(nl, -1)
        if not np.all(lane_bank == lane_bank[:, :1]) or len(set(lane_bank[:, 0].tolist())) != nl:
            dims = "rows" if op.axis == 1 else "columns"
            raise AlloError(
                f"operand {buf}: each {what} of the {band.P}x{band.Q} PE grid must read its own "
                f"memory bank every cycle, but {buf} "
                + ("is not partitioned" if bk.nbanks == 1 else
                   f"is partitioned into {bk.nbanks} banks that do not match the {what}s"),
                load.loc,
                f"partition {buf} along the dimension of its {dims} into {nl} banks, e.g. "
                f"s.partition(<{buf}>, allo.Partition.Cyclic, dim=<dim>, factor={nl})")
        ports = tuple(_port(bk, int(b)) for b in lane_bank[:, 0])
        bases, strides = _affine_fit(addr, 1, f"operand {buf}", load.loc,
                                     "index the operand with affine expressions of the loops")
        lead = 1 if nl > 1 else 0
        full = tuple(strides[order.index(v) - lead] if v in order else 0 for v in counters)
        return buf, ((ports, tuple(int(x) for x in bases)), full)

    def _copy_source(self, band: _Band, op: _Operand, arrs, parent, root):
        """The array a pure copy nest before the band fills the forwarded edge from."""
        X = op.load.buf
        f = self.f
        _, xshape, local = _buffer(f, X)
        if not local:
            raise AlloError(f"{X} forwards operands between PEs but is a parameter of {f.name}: "
                            "the systolic array keeps forwarded values in PE registers and "
                            "does not write them back", op.forward.loc,
                            f"forward through a local array of {f.name}")
        idx = parent.index(root)
        producer = next((s for s in reversed(parent[:idx]) if _mentions(s, X)), None)
        if producer is None:
            raise AlloError(f"the PEs read the edge of {X}, which nothing writes before band "
                            f"'{band.name}'", op.load.loc, f"fill the edge of {X} before the band")
        src = np.full(math.prod(xshape), -1, dtype=np.int64)
        Y = None
        for st, loops in _stores_with_loops(producer):
            if st.buf != X:
                continue
            val = st.value
            if not (isinstance(val, Load) and val.buf != X):
                raise AlloError(f"{X} is filled by a statement that is not a copy from another "
                                "array; the systolic array reads the source array directly",
                                st.loc, f"fill the edge of {X} with a copy: {X}[..] = A[..]")
            if Y is not None and val.buf != Y:
                raise AlloError(f"{X} is filled from two arrays ({Y}, {val.buf})", st.loc,
                                f"fill {X} from one array")
            Y = val.buf
            space = _Space(loops)
            order = [lp.var for lp in loops]
            xi = space.arrays(st.index, order, st.loc, X)
            yi = space.arrays(val.index, order, st.loc, Y)
            _check_bounds(xi, xshape, X, st.loc)
            yt, yshape, _ = _buffer(f, Y)
            _check_bounds(yi, yshape, Y, st.loc)
            xf = np.ravel_multi_index([a.ravel() for a in xi], xshape)
            if len(np.unique(xf)) != xf.size or np.any(src[xf] >= 0):
                raise AlloError(f"the copy into {X} writes an element twice", st.loc,
                                f"write each element of {X} once")
            src[xf] = np.ravel_multi_index([a.ravel() for a in yi], yshape)
        if Y is None or _reads([producer]) & {X} or any(
                isinstance(s, (CallStmt, Return)) for s in walk_stmts([producer])):
            raise AlloError(f"the statement that last writes {X} before band '{band.name}' is "
                            "not a pure copy nest", getattr(producer, "loc", None),
                            f"fill the edge of {X} with a loop nest of copies from the source "
                            "array")
        between = parent[parent.index(producer) + 1:idx]
        if Y in _writes(between) or Y in _writes([root]):
            raise AlloError(f"{Y} changes between the copy into {X} and band '{band.name}'",
                            band.loc, f"copy {Y} into {X} right before the band")
        ef = np.ravel_multi_index(arrs, xshape)
        got = src[ef]
        if np.any(got < 0):
            bad = np.unravel_index(int(ef[got < 0].ravel()[0]), xshape)
            raise AlloError(f"the PEs read {X}[{', '.join(str(int(x)) for x in bad)}], which the "
                            "copy before the band does not write", producer.loc,
                            f"fill the whole edge of {X} that the PEs read")
        yshape = _buffer(f, Y)[1]
        return Y, [np.asarray(a) for a in np.unravel_index(got, yshape)]

    # ---------------------------------------------------------------- results
    def _outputs(self, band: _Band, tile_vars):
        st = band.c_store
        f, sp = self.f, band.space
        order = band.lanes + tile_vars
        arrs = sp.arrays(st.index, order, st.loc, st.buf)
        t, shape, _ = _buffer(f, st.buf)
        _check_bounds(arrs, shape, st.buf, st.loc)
        flat = np.ravel_multi_index(arrs, shape)
        if len(np.unique(flat)) != flat.size:
            raise AlloError(f"two PEs (or two tiles) of band '{band.name}' write the same "
                            f"element of {st.buf}", st.loc,
                            "index the result so that every PE and tile owns its elements")
        bk = _banking(f, st.buf)
        bank, addr = _place(bk, arrs)
        nl = len(band.lanes)
        pe_bank = bank.reshape(bank.shape[:nl] + (-1,))
        if not np.all(pe_bank == pe_bank[..., :1]):
            raise AlloError(f"result {st.buf}: each PE must write one memory bank in every tile, "
                            f"but the partition of {st.buf} moves PEs between banks", st.loc,
                            f"partition {st.buf} cyclically by the grid size (or not at all)")
        bases, strides = _affine_fit(addr, nl, f"result {st.buf}", st.loc,
                                     "index the result with affine expressions of the loops")
        if nl == 1:
            pe_bank, bases = pe_bank[:, None], bases[:, None]
        banks = {}
        for i in range(band.P):
            for j in range(band.Q):
                banks.setdefault(int(pe_bank[i, j, 0]), []).append((i, j, int(bases[i, j])))
        out = tuple((_port(bk, b), tuple(v)) for b, v in sorted(banks.items()))
        return (out, tuple(strides)), flat.size == int(np.prod(shape))

    def _fill(self, band: _Band, parent, root):
        """(constant, statement) of the nest filling the accumulated array before the band."""
        c = band.c_store.buf
        idx = parent.index(root)
        fill = next((s for s in reversed(parent[:idx]) if _mentions(s, c)), None)
        hint = (f"set {c} to a constant in a loop nest right before the band (e.g. {c}: "
                f"T[M, N] = 0 or for i, j in allo.grid(M, N): {c}[i, j] = 0), or accumulate "
                "in a scalar: acc = 0; for k: acc += a * b; C[i, j] = acc")
        if fill is None:
            raise AlloError(f"band '{band.name}' accumulates onto the values {c} holds when the "
                            "kernel starts; the systolic array computes from a constant start "
                            "value", band.c_store.loc, hint)
        stores = list(_stores_with_loops(fill))
        ctype = _buffer(self.f, c)[0]
        ok = (isinstance(fill, For) and len(stores) == 1 and stores[0][0].buf == c
              and _const_init(stores[0][0].value, ctype) is not None
              and len(list(walk_stmts([fill]))) == len(stores[0][1]) + 1)
        if ok:
            st, loops = stores[0]
            _, shape, _ = _buffer(self.f, c)
            arrs = _Space(loops).arrays(st.index, [lp.var for lp in loops], st.loc, c)
            ok = len(np.unique(np.ravel_multi_index(arrs, shape))) == int(np.prod(shape))
        if not ok:
            raise AlloError(f"band '{band.name}' accumulates onto {c}, whose value before the "
                            "band is not a constant fill of the whole array",
                            getattr(fill, "loc", None) or band.c_store.loc, hint)
        return _const_init(stores[0][0].value, ctype), fill


def _stores_with_loops(s, loops=()):
    """(Store, enclosing loops inside ``s``) for every store of statement ``s``."""
    if isinstance(s, Store):
        yield s, list(loops)
    elif isinstance(s, For):
        for x in s.body:
            yield from _stores_with_loops(x, loops + (s,))
    elif isinstance(s, If):
        for x in s.then + s.orelse:
            yield from _stores_with_loops(x, loops)


def _reads_outside(body, skip) -> set:
    """Arrays read by the statements of ``body`` other than ``skip`` and its contents."""
    out = set()
    for x in body:
        if x is skip:
            continue
        out |= _stmt_reads(x)
        if isinstance(x, For):
            out |= _reads_outside(x.body, skip)
        elif isinstance(x, If):
            out |= _reads_outside(x.then + x.orelse, skip)
    return out


def _remove_dead(f: Function, parent: list, call: CallStmt, forwarded: set):
    """Drop the store-only nests of ``parent`` whose arrays nobody reads (the forwarding
    copies the outlined band leaves behind, and what only fed them), then the
    declarations of local arrays nothing mentions. The forwarded arrays must be dead."""
    returned = {a.buf for s in walk_stmts(f.body) if isinstance(s, Return)
                for a in s.values if isinstance(a, BufRef)}
    local = {s.name for s in walk_stmts(f.body) if isinstance(s, Decl) and s.shape} - returned

    def pure(s):
        return isinstance(s, For) and all(
            isinstance(x, (For, Store, Assign, If)) or (isinstance(x, Decl) and not x.shape)
            for x in walk_stmts([s]))

    changed = True
    while changed:
        changed = False
        for s in list(parent):
            if s is not call and pure(s) and _writes([s]) <= local \
                    and not _writes([s]) & _reads_outside(f.body, s):
                parent.remove(s)
                changed = True
    for buf in sorted(forwarded):
        user = next((s for s in walk_stmts(f.body) if not isinstance(s, (For, If))
                     and buf in _reads([s])), None)
        if user is not None:
            raise AlloError(f"{buf} carries operands between the PEs, and its forwarded copies "
                            "are read after the systolic band; the array keeps them in PE "
                            "registers and does not write them back", user.loc,
                            f"do not read the forwarded copies in {buf} after the band")
    alive = _reads(f.body) | _writes(f.body)
    f.body[:] = [s for s in f.body if not (isinstance(s, Decl) and s.shape and s.name in local
                                           and s.name not in alive)]


def check_unfolded(module: Module) -> None:
    """Before ``lower.prepare``: no loop of an unfolded band is pipelined or unrolled (the
    PE grid runs a step per cycle by itself; prepare would flatten the band)."""
    for f in module.funcs.values():
        for root in walk_stmts(f.body):
            if not (isinstance(root, For) and root.band):
                continue
            loops = [x for x in walk_stmts([root]) if isinstance(x, For)]
            if not any("unfold" in x.attrs for x in loops):
                continue
            for x in loops:
                for prim in ("pipeline", "unroll"):
                    if x.attrs.get(prim) not in (None, 1 if prim == "unroll" else None):
                        raise AlloError(
                            f"loop '{_name(x)}' of unfolded band '{root.band}' is marked {prim}; "
                            "the band becomes a systolic array, which runs one step of every "
                            "PE per cycle by itself", x.loc,
                            f"drop the {prim} of '{_name(x)}' (s.{prim} or {prim}= in the "
                            "kernel)")


def outline_systolic(module: Module) -> Module:
    """Pass ``systolic-outline``: every unfolded band becomes a call to a systolic function
    (see the module docstring). Functions without unfolded bands are kept as they are."""
    if not any("unfold" in s.attrs for f in module.funcs.values() for s in walk_stmts(f.body)
               if isinstance(s, For)):
        return module
    used = set(module.funcs)
    funcs = {}
    for name, f in module.funcs.items():
        if not any(isinstance(s, For) and "unfold" in s.attrs for s in walk_stmts(f.body)):
            funcs[name] = f
            continue
        g = copy.copy(f)
        g.body = copy.deepcopy(f.body)
        g.attrs = dict(f.attrs)
        n = 0
        while True:
            hit = _next_band(g.body)
            if hit is None:
                break
            root, parent = hit
            sub = _Outliner(module, g, n, used).run(root, parent)
            funcs[sub.name] = sub
            n += 1
        funcs[name] = g
    # drop the functions only outlined bands called (e.g. Allo's PE_kernel)
    live, todo = set(), [module.top]
    while todo:
        fn = todo.pop()
        if fn not in live:
            live.add(fn)
            todo += [s.callee for s in walk_stmts(funcs[fn].body) if isinstance(s, CallStmt)]
    return Module({k: v for k, v in funcs.items() if k in live}, module.top)


def _next_band(body):
    """(root, the list holding it) of the next unfolded band: the root is the outermost loop
    of the perfect nest around the grid loops (a band may sit inside other statements,
    e.g. a repetition loop); None when there is none."""
    def path(stmts):  # [(statement, list holding it)] down to the first grid loop
        for s in stmts:
            if isinstance(s, For):
                if s.attrs.get("unfold") == 0:
                    return [(s, stmts)]
                sub = path(s.body)
            elif isinstance(s, If):
                sub = path(s.then) or path(s.orelse)
            else:
                continue
            if sub:
                return [(s, stmts)] + sub
        return None

    p = path(body)
    if p is None:
        return None
    k = len(p) - 1
    while k > 0 and isinstance(p[k - 1][0], For) and len(p[k - 1][0].body) == 1:
        k -= 1
    return p[k]


# ====================================================================== hardware


def _shared_array(sp: SystolicSpec, interleaved: bool = False):
    """A factory of the engine's array: one Verilog module per grid and parameter set, made
    of PEs that share one module per parameter set too (lower/shared.py)."""
    args = (sp.a.width, sp.a.signed, sp.b.width, sp.b.signed, sp.acc_width)
    fmt = _float_fmt(sp)
    kind = "f32" if fmt else (f"a{'i' if sp.a.signed else 'u'}{sp.a.width}_b"
                              f"{'i' if sp.b.signed else 'u'}{sp.b.width}_acc{sp.acc_width}")
    pe_sig = PE.signature_for(*args)  # FloatPE has the same members

    def pe(i, j):
        return Shared(f"allo_pe_{kind}", lambda: FloatPE(fmt) if fmt else PE(*args), pe_sig)

    # the interleaved array differs from the plain one in its drain only (same PEs)
    return lambda: Shared(f"allo_systolic_{sp.rows}x{sp.cols}_{kind}"
                          f"{'_interleaved' if interleaved else ''}",
                          lambda: SystolicArray(sp.rows, sp.cols, *args, pe_factory=pe,
                                                float_fmt=fmt, interleaved=interleaved),
                          SystolicArray.signature_for(sp.rows, sp.cols, *args))


def _float_fmt(sp: SystolicSpec):
    return BINARY32 if sp.acc_float else None


class LoweredSystolic:
    """An outlined systolic function, lowered: the :class:`SystolicGemm` parameters.
    Offers the interface of :class:`~allo_rtl.lower.kernel.LoweredFunction` that callers,
    the wrapper and the reports use."""

    def __init__(self, f: Function, funcs: dict):
        self.f, self.name, self.funcs = f, f.name, funcs
        self.spec: SystolicSpec = f.attrs["systolic"]
        self.mem_input_regs = ops.mem_input_regs()
        self.read_latency = ops.mem_latency() - 1
        self.holdable = self.freezable = False
        self.var_types, self.stream_dirs = {}, {}
        self.nstates, self.calls, self.scheds, self.pipelines, self.blocks = 1, [], [], [], []
        self.bufs = {p.name: BufInfo(p.name, p.shape, p.type, "param") for p in f.params}
        sp = self.spec
        for port in sp.a.ports + sp.b.ports + tuple(p for p, _ in sp.c.banks):
            assert port in self.bufs, f"systolic port {port} is not a parameter of {f.name}"
        self.engine_args = dict(
            rows=sp.rows, cols=sp.cols, a_width=sp.a.width, a_signed=sp.a.signed,
            b_width=sp.b.width, b_signed=sp.b.signed, acc_width=sp.acc_width,
            acc_signed=sp.acc_signed, c_width=sp.c.width, init=sp.init, tiles=sp.tiles,
            steps=sp.steps,
            a_addr=AffineAddress(self.bufs[sp.a.ports[0]].aw, sp.a.bases, sp.a.strides),
            b_addr=AffineAddress(self.bufs[sp.b.ports[0]].aw, sp.b.bases, sp.b.strides),
            c_banks=OutputBanks(self.bufs[sp.c.banks[0][0]].aw,
                                tuple(bank for _, bank in sp.c.banks), sp.c.strides),
            read_latency=self.read_latency, float_fmt=_float_fmt(sp))
        # the engine's timing; float PEs: interleaved when that takes fewer cycles
        pe_latency, _, step_interval = SystolicArray.pe_timing(
            sp.a.width, sp.a.signed, sp.b.width, sp.b.signed, sp.acc_width, _float_fmt(sp))
        (self.interleave, self.step_interval, self.period,
         self.latency) = SystolicGemm.schedule(
            sp.rows, sp.cols, sp.tiles, sp.steps, self.engine_args["c_banks"].banks,
            self.read_latency, step_interval, pe_latency)
        interleaved = self.interleave > 1
        self.engine_args.update(interleaved=interleaved if sp.acc_float else None,
                                array_factory=_shared_array(sp, interleaved))
        members = {"start": In(1), "done": Out(1)}
        for p in f.params:
            b = self.bufs[p.name]
            members[port_name(p.name)] = Out(MemPortSignature(b.aw, p.type.bits))
        self.signature = wiring.Signature(members)

    def component(self) -> "SystolicComponent":
        return SystolicComponent(self)

    def cycles_summary(self) -> list:
        return [(f"systolic {self.spec.rows}x{self.spec.cols}", self.latency)]

    def report_rows(self) -> list:
        """The schedule-report row of the engine (see :mod:`allo_rtl.lower.report`)."""
        sp = self.spec
        return [{"function": self.name, "loop": sp.band, "trip": math.prod(sp.tiles) *
                 math.prod(sp.steps), "invocations": None, "pipelined": True,
                 "levels": [sp.band], "requested_ii": 1, "ii": self.step_interval,
                 "depth": self.latency,
                 "cycles_per_invocation": self.latency, "cycles": None,
                 "note": f"systolic {sp.rows}x{sp.cols} PE array, " + (
                     f"{self.interleave} tiles interleaved every {self.period} cycles"
                     if self.interleave > 1 else f"a tile every {self.period} cycles")}]


class SystolicComponent(wiring.Component):
    """The hardware of an outlined systolic function: a :class:`SystolicGemm` wired to the
    function's memory ports (kernel protocol of :mod:`allo_rtl.lower.kernel`)."""

    def __init__(self, lowered: LoweredSystolic):
        self._lowered = lowered
        super().__init__(lowered.signature)

    @property
    def lowered(self) -> LoweredSystolic:
        return self._lowered

    def elaborate(self, platform):
        lf, m = self._lowered, HDLModule()
        sp = lf.spec
        g = m.submodules.engine = SystolicGemm(**lf.engine_args)
        m.d.comb += [g.start.eq(self.start), self.done.eq(g.done)]
        for lanes, ports in ((sp.a.ports, g.a), (sp.b.ports, g.b)):
            for name, e in zip(lanes, ports):
                p = getattr(self, port_name(name))
                m.d.comb += [p.raddr.eq(e.raddr), p.ren.eq(e.ren), e.rdata.eq(p.rdata)]
        for (name, _), e in zip(sp.c.banks, g.c):
            p = getattr(self, port_name(name))
            m.d.comb += [p.waddr.eq(e.waddr), p.wdata.eq(e.wdata), p.wen.eq(e.wen)]
        return m
