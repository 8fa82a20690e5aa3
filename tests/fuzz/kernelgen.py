"""Random Allo kernels for differential testing (reference model vs interpreter vs RTL).

``generate(seed, n_kernels)`` writes the Python *source* of one or more random
kernels (Allo's kernel language: mixed-width ints, odd widths, bool, optional
Fixed/UFixed; 1-D/2-D array and scalar arguments, scalar returns, local
tensors and scalars; ``range``/``allo.grid``/``allo.reduction`` nests with
non-unit bounds/steps and triangular or data-dependent bounds; affine and
data-dependent indexing; arithmetic, C division, shifts, bitwise ops,
comparisons, min/max, ternaries, if/elif/else, bounded while loops, bit
get/set/slices, ``.reverse()``, casts, calls between kernels with subviews).
With ``n_kernels > 1`` one top kernel calls every generated kernel on its own
arguments, so a single (RTL) build checks several kernels.

Alongside the kernel source the generator writes an independent *reference
model*: the same program as plain Python on raw integers, with every implicit
conversion of Allo's typing rules (computed here, separately from
``allo_rtl.frontend.typing_rules``) spelled out as an explicit wrap/shift.
Running it is the second opinion the interpreter is checked against while the
RTL target does not exist yet (running the kernel function itself as plain
Python is not an option: local tensor declarations such as ``C: int8[4] = 0``
do not execute as Python, and Python ints neither wrap on store nor do C
division or bit slicing).

``run_case(case, targets)`` builds each target, runs it on identical copies of
the inputs and compares every array and the return value bit-exactly.
Targets: ``"ref"`` (the reference model), ``"sim"``, ``"rtl"``.

Every index the generator writes is provably in range (interval analysis), every
loop is bounded and the dynamic operation count of a case stays small.
"""

from __future__ import annotations

import atexit
import importlib.util
import itertools
import os
import random
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Ty", "FuzzCase", "generate", "run_case", "FuzzMismatch"]


# ====================================================================== types


@dataclass(frozen=True)
class Ty:
    """A scalar type: kind 'i' (Int), 'u' (UInt), 'fx' (Fixed), 'ufx' (UFixed), 'idx' (index)."""

    kind: str
    bits: int
    fracs: int = 0

    @property
    def signed(self) -> bool:  # raw two's-complement range (index: signed 32-bit)
        return self.kind in ("i", "fx", "idx")

    @property
    def fixed(self) -> bool:
        return self.kind in ("fx", "ufx")

    @property
    def is_int(self) -> bool:
        return self.kind in ("i", "u", "idx")

    @property
    def bitty(self) -> bool:
        """Integer that bit operations (x[k], x[a:b], ~, &, .reverse()) apply to."""
        return self.kind in ("i", "u")

    @property
    def lo(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def src(self) -> str:
        """How the type is spelled in kernel source."""
        b, f = self.bits, self.fracs
        if self.kind == "idx":
            return "index"
        if self.kind == "i":
            return f"int{b}" if b in (8, 16, 32, 64) else f"Int({b})"
        if self.kind == "u":
            if b == 1:
                return "bool"
            return f"uint{b}" if b in (8, 16, 32, 64) else f"UInt({b})"
        return f"{'Fixed' if self.kind == 'fx' else 'UFixed'}({b}, {f})"

    def allo(self):
        from allo_rtl.ir import types as T

        return {"i": lambda: T.Int(self.bits), "u": lambda: T.UInt(self.bits),
                "fx": lambda: T.Fixed(self.bits, self.fracs),
                "ufx": lambda: T.UFixed(self.bits, self.fracs),
                "idx": lambda: T.index}[self.kind]()

    def np_dtype(self):
        from allo_rtl.ir.numerics import numpy_dtype

        return numpy_dtype(self.allo())

    def __repr__(self):
        return self.src()


IDX = Ty("idx", 32)
BOOL = Ty("u", 1)
I32 = Ty("i", 32)

# --- Allo's default typing rules (allo/ir/typing_rule.py), restated independently.
# index mixes like an unsigned 32-bit int; index (op) index stays index.


def _parts(t: Ty):
    """(integer bits, fraction bits, signed, fixed) with index as UInt(32)."""
    if t.kind == "idx":
        return 32, 0, False, False
    return t.bits - t.fracs, t.fracs, t.kind in ("i", "fx"), t.fixed


def _make(ib: int, f: int, s: bool, x: bool) -> Ty:
    ib = max(ib, 1)
    if x:
        return Ty("fx" if s else "ufx", ib + f, f)
    return Ty("i" if s else "u", ib)


def t_common(a: Ty, b: Ty) -> Ty:
    """Operand type of compare / select / min / max / mod."""
    if a.kind == "idx" and b.kind == "idx":
        return IDX
    i1, f1, s1, x1 = _parts(a)
    i2, f2, s2, x2 = _parts(b)
    if s1 and not s2:
        i2 += 1
    if s2 and not s1:
        i1 += 1
    return _make(max(i1, i2), max(f1, f2), s1 or s2, x1 or x2)


def t_add(a: Ty, b: Ty) -> Ty:
    if a.kind == "idx" and b.kind == "idx":
        return IDX
    c = t_common(a, b)
    return _make(c.bits - c.fracs + 1, c.fracs, c.signed, c.fixed)


def t_mul(a: Ty, b: Ty) -> Ty:
    if a.kind == "idx" and b.kind == "idx":
        return IDX
    i1, f1, s1, x1 = _parts(a)
    i2, f2, s2, x2 = _parts(b)
    return _make(i1 + i2, f1 + f2, s1 or s2, x1 or x2)


def t_div(a: Ty, b: Ty) -> Ty:
    """Integer / and //: the lhs type (an unsigned lhs over a signed rhs becomes signed)."""
    sb = b.kind == "i"
    if a.kind == "idx":
        return I32 if sb else IDX
    if a.kind == "u" and sb:
        return Ty("i", a.bits)
    return a


def t_bit(a: Ty, b: Ty) -> Ty:
    if a.kind == "idx" and b.kind == "idx":
        return IDX
    w = max(a.bits, b.bits)
    return Ty("i", w) if "i" in (a.kind, b.kind) else Ty("u", w)


def t_neg(a: Ty) -> Ty:
    i, f, _s, x = _parts(a)
    return _make(i + 1, f, True, x)


# ====================================================================== expressions


@dataclass
class E:
    """A generated expression: Allo text, reference text (raw ints), type, raw value range."""

    a: str
    r: str
    t: Ty
    lo: int
    hi: int
    lit: bool = False
    val: int = 0


def _lit(v: int) -> E:
    s = str(v) if v >= 0 else f"({v})"
    return E(s, s, Ty("i", max(32, v.bit_length() + 1)), v, v, True, v)


def _fits(lo, hi, t: Ty) -> bool:
    return t.lo <= lo and hi <= t.hi


def _wrap_txt(r: str, t: Ty) -> str:
    return f"_w({r}, {t.bits}, {t.signed})"


def _scaled(e: E, f: int):
    d = f - e.t.fracs
    return (e.lo << d, e.hi << d) if d >= 0 else (e.lo >> -d, e.hi >> -d)


def _al(e: E, f: int) -> str:
    """Reference text of ``e`` aligned to ``f`` fraction bits (exact: f >= e's fracs)."""
    d = f - e.t.fracs
    assert d >= 0
    return e.r if d == 0 else f"({e.r} << {d})"


def _cv_iv(e: E, t: Ty):
    lo, hi = _scaled(e, t.fracs)
    return (lo, hi) if _fits(lo, hi, t) else (t.lo, t.hi)


def _cvr(e: E, t: Ty) -> str:
    """Reference text of ``e`` converted to ``t`` (align the binary point, then wrap)."""
    if e.t == t:
        return e.r
    d = t.fracs - e.t.fracs
    if d >= 0:
        lo, hi = _scaled(e, t.fracs)
        if _fits(lo, hi, t):
            return _al(e, t.fracs)
    return f"_cv({e.r}, {e.t.fracs}, {t.fracs}, {t.bits}, {t.signed})"


def _conv(e: E, t: Ty) -> E:
    lo, hi = _cv_iv(e, t)
    return E(e.a, _cvr(e, t), t, lo, hi)


def b_arith(op: str, x: E, y: E) -> E:
    """+ - * (ints and fixed)."""
    if op == "*":
        t = t_mul(x.t, y.t)
        r = f"({x.r} * {y.r})"
        p = [x.lo * y.lo, x.lo * y.hi, x.hi * y.lo, x.hi * y.hi]
        lo, hi = min(p), max(p)
    else:
        t = t_add(x.t, y.t)
        (a0, a1), (b0, b1) = _scaled(x, t.fracs), _scaled(y, t.fracs)
        r = f"({_al(x, t.fracs)} {op} {_al(y, t.fracs)})"
        lo, hi = (a0 + b0, a1 + b1) if op == "+" else (a0 - b1, a1 - b0)
    if not _fits(lo, hi, t):
        r, lo, hi = _wrap_txt(r, t), t.lo, t.hi
    return E(f"({x.a} {op} {y.a})", r, t, lo, hi)


def b_div(op: str, x: E, y: E) -> E:
    """/ (C, truncating) and // (floor) on ints; x / 0 == -1."""
    t = t_div(x.t, y.t)
    fn = "_cdiv" if op == "/" else "_fdiv"
    r = _wrap_txt(f"{fn}({x.r}, {y.r})", t)
    lo, hi = t.lo, t.hi
    if x.lo >= 0 and y.lit and y.val > 0 and _fits(x.lo // y.val, x.hi // y.val, t):
        lo, hi = x.lo // y.val, x.hi // y.val
        r = f"{fn}({x.r}, {y.r})"
    return E(f"({x.a} {op} {y.a})", r, t, lo, hi)


def b_mod(x: E, y: E) -> E:
    t = t_common(x.t, y.t)
    r = f"_cmod({_cvr(x, t)}, {_cvr(y, t)})"
    lo, hi = t.lo, t.hi
    if y.lit and y.val > 0:
        lo, hi = (0, min(y.val - 1, x.hi)) if x.lo >= 0 else (-(y.val - 1), y.val - 1)
    return E(f"({x.a} % {y.a})", r, t, lo, hi)


def b_bit(op: str, x: E, y: E) -> E:
    t = t_bit(x.t, y.t)
    cx, cy = _conv(x, t), _conv(y, t)
    r = f"({cx.r} {op} {cy.r})"
    lo, hi = t.lo, t.hi
    if op == "&":
        nonneg = [c.hi for c in (cx, cy) if c.lo >= 0]
        if nonneg:
            lo, hi = 0, min(nonneg)
    elif cx.lo >= 0 and cy.lo >= 0:
        lo, hi = 0, (1 << max(cx.hi, cy.hi).bit_length()) - 1
    return E(f"({x.a} {op} {y.a})", r, t, lo, hi)


def b_shift(op: str, x: E, s: E) -> E:
    t = x.t
    if s.lit and 0 <= s.val < t.bits:
        r = _wrap_txt(f"({x.r} << {s.val})", t) if op == "<<" else f"({x.r} >> {s.val})"
    else:
        r = f"_{'shl' if op == '<<' else 'shr'}({x.r}, {s.r}, {t.bits}, {t.signed})"
    lo, hi = t.lo, t.hi
    if op == ">>":
        lo, hi = min(x.lo, 0), max(x.hi, 0)
    return E(f"({x.a} {op} {s.a})", r, t, lo, hi)


def b_cmp(op: str, x: E, y: E) -> E:
    f = t_common(x.t, y.t).fracs
    return E(f"({x.a} {op} {y.a})", f"int({_al(x, f)} {op} {_al(y, f)})", BOOL, 0, 1)


def b_minmax(fn: str, xs: list) -> E:
    acc = xs[0]
    for y in xs[1:]:
        t = t_common(acc.t, y.t)
        (a0, a1), (b0, b1) = _scaled(acc, t.fracs), _scaled(y, t.fracs)
        lo, hi = (min(a0, b0), min(a1, b1)) if fn == "min" else (max(a0, b0), max(a1, b1))
        acc = E("", f"{fn}({_al(acc, t.fracs)}, {_al(y, t.fracs)})", t, lo, hi)
    acc.a = f"{fn}({', '.join(x.a for x in xs)})"
    return acc


def b_select(c: E, x: E, y: E) -> E:
    t = t_common(x.t, y.t)
    (a0, a1), (b0, b1) = _scaled(x, t.fracs), _scaled(y, t.fracs)
    return E(f"({x.a} if {c.a} else {y.a})",
             f"({_al(x, t.fracs)} if {c.r} else {_al(y, t.fracs)})", t, min(a0, b0), max(a1, b1))


def b_neg(x: E) -> E:
    if x.lit:
        return _lit(-x.val)
    return E(f"(-{x.a})", f"(-{x.r})", t_neg(x.t), -x.hi, -x.lo)


def b_invert(x: E) -> E:
    t = x.t
    if t.kind == "i":
        return E(f"(~{x.a})", f"(~{x.r})", t, -x.hi - 1, -x.lo - 1)
    return E(f"(~{x.a})", f"((~{x.r}) & {(1 << t.bits) - 1})", t, t.lo, t.hi)


def b_not(c: E) -> E:
    return E(f"(not {c.a})", f"int(not {c.r})", BOOL, 0, 1)


def b_logic(op: str, cs: list) -> E:
    return E("(" + f" {op} ".join(c.a for c in cs) + ")",
             "int(" + f" {op} ".join(f"bool({c.r})" for c in cs) + ")", BOOL, 0, 1)


def b_bitget(x: E, k: E) -> E:
    return E(f"{x.a}[{k.a}]", f"(({x.r} >> {k.r}) & 1)", BOOL, 0, 1)


def b_slice(x: E, lo: E, w: int) -> E:
    hi_a = str(lo.val + w) if lo.lit else f"{lo.a} + {w}"
    return E(f"{x.a}[{lo.a}:{hi_a}]", f"(({x.r} >> {lo.r}) & {(1 << w) - 1})",
             Ty("u", w), 0, (1 << w) - 1)


def b_reverse(x: E) -> E:
    t = x.t
    return E(f"{x.a}.reverse()", f"_rev({x.r}, {t.bits}, {t.signed})", t, t.lo, t.hi)


def b_int(x: E) -> E:
    c = _conv(x, I32)
    return E(f"int({x.a})", c.r, I32, c.lo, c.hi)


# ====================================================================== reference runtime

_REF_PRELUDE = '''\
import numpy as np


def _w(v, bits, signed):
    v &= (1 << bits) - 1
    if signed and v >> (bits - 1):
        v -= 1 << bits
    return v


def _cv(v, sf, df, bits, signed):
    if df > sf:
        v <<= df - sf
    elif df < sf:
        v >>= sf - df
    return _w(v, bits, signed)


def _cdiv(a, b):
    if b == 0:
        return -1
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _fdiv(a, b):
    return -1 if b == 0 else a // b


def _cmod(a, b):
    return a if b == 0 else a - b * _cdiv(a, b)


def _shl(a, s, bits, signed):
    return 0 if s < 0 or s >= bits else _w(a << s, bits, signed)


def _shr(a, s, bits, signed):
    if s < 0 or s >= bits:
        return -1 if a < 0 else 0
    return a >> s


def _rev(v, bits, signed):
    u, r = v & ((1 << bits) - 1), 0
    for _ in range(bits):
        r, u = (r << 1) | (u & 1), u >> 1
    return _w(r, bits, signed)


def _bins(old, lo, width, new, bits, signed):
    m = (1 << width) - 1
    return _w((old & ~(m << lo)) | ((new & m) << lo), bits, signed)


def _full(shape, v):
    a = np.empty(shape, dtype=object)
    a.fill(v)
    return a


def _arr(values):
    return np.array(values, dtype=object)


def _castarr(a, sf, df, bits, signed):
    out = np.empty(a.shape, dtype=object)
    for ix in np.ndindex(a.shape):
        out[ix] = _cv(a[ix], sf, df, bits, signed)
    return out
'''

_HEADER = '''\
import numpy as np

import allo_rtl as allo
from allo_rtl.ir.types import (
    Fixed, Int, UFixed, UInt, bool, index, int8, int16, int32, int64, uint8, uint16, uint32,
    uint64,
)
'''


# ====================================================================== generator


@dataclass
class Var:
    name: str
    kind: str  # 'array' | 'scalar' | 'loop'
    t: Ty
    shape: tuple = ()
    lo: int | None = None  # known value range (loop vars, while counters)
    hi: int | None = None
    writable: bool = True  # arrays: may be stored to; scalars: may be reassigned
    const: bool = False  # a numpy constant from module scope (read-only, no literal index)


@dataclass
class Param:
    name: str
    t: Ty
    shape: tuple = ()


@dataclass
class _Func:
    name: str
    params: list
    ret: Ty | None
    allo: str
    ref: str
    cost: int


_INT_POOL = [  # (type, weight)
    (Ty("i", 8), 6), (Ty("i", 16), 5), (Ty("i", 32), 6), (Ty("i", 64), 1.5),
    (Ty("u", 8), 5), (Ty("u", 16), 3), (Ty("u", 32), 2), (Ty("u", 64), 0.5),
    (Ty("i", 3), 1), (Ty("i", 5), 1.5), (Ty("i", 7), 1), (Ty("i", 12), 1.5), (Ty("i", 17), 1),
    (Ty("i", 33), 0.5), (Ty("u", 2), 1), (Ty("u", 4), 1), (Ty("u", 6), 1), (Ty("u", 12), 1.5),
    (Ty("u", 20), 1), (BOOL, 1.5),
]
_FIXED_POOL = [
    (Ty("fx", 16, 8), 3), (Ty("fx", 8, 3), 2), (Ty("fx", 12, 4), 2), (Ty("fx", 24, 12), 1),
    (Ty("fx", 32, 16), 1), (Ty("ufx", 10, 5), 2), (Ty("ufx", 16, 4), 1),
]


class _ModuleGen:
    def __init__(self, seed: int, fixed: bool, budget: int):
        self.rng = random.Random(seed)
        self.fixed = fixed
        self.budget = budget
        self.funcs: list = []  # _Func, callees before callers
        self.consts: list = []  # (name, Ty, values)
        self.counter = itertools.count()
        self.features: set = set()

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def pick_type(self, ints=False, allow_bool=True) -> Ty:
        pool = list(_INT_POOL)
        if self.fixed and not ints:
            pool += [(t, w * 1.2) for t, w in _FIXED_POOL]
        if not allow_bool:
            pool = [(t, w) for t, w in pool if t != BOOL]
        t = self.rng.choices([p[0] for p in pool], [p[1] for p in pool])[0]
        return t

    def const_array(self) -> Var:
        """A numpy array constant at module scope (read by kernels as a constant tensor)."""
        if self.consts and self.rng.random() < 0.5:
            name, t, vals = self.rng.choice(self.consts)
            return Var(name, "array", t, (len(vals),), writable=False, const=True)
        t = self.rng.choice([Ty("i", 8), Ty("i", 16), Ty("i", 32), Ty("u", 8), Ty("u", 16)])
        n = self.rng.randint(4, 12)
        vals = [self.rng.randint(max(t.lo, -300), min(t.hi, 300)) for _ in range(n)]
        name = self.fresh("FZC")
        self.consts.append((name, t, vals))
        return Var(name, "array", t, (n,), writable=False, const=True)

    def source(self) -> tuple[str, str]:
        np_name = {("i", 8): "int8", ("i", 16): "int16", ("i", 32): "int32", ("u", 8): "uint8",
                   ("u", 16): "uint16"}
        a = [_HEADER]
        r = [_REF_PRELUDE]
        for name, t, vals in self.consts:
            a.append(f"{name} = np.array({vals}, dtype=np.{np_name[(t.kind, t.bits)]})\n")
            r.append(f"{name} = _arr({vals})\n")
        for f in self.funcs:
            a.append("\n" + f.allo)
            r.append("\n" + f.ref)
        return "\n".join(a), "\n".join(r)


class _FuncGen:
    """Generates one kernel (Allo text and reference text in lock step)."""

    def __init__(self, mg: _ModuleGen, name: str, params: list, ret: Ty | None,
                 budget: int, helper: bool):
        self.mg = mg
        self.rng = mg.rng
        self.name = name
        self.params = params
        self.ret = ret
        self.budget = budget
        self.helper = helper
        self.A: list = []
        self.R: list = []
        self.ia = 1
        self.ir = 1
        self.scopes: list = [{}]
        self.mult = 1
        self.cost = 0
        self.nest = 0
        self.loop_depth = 0
        self.in_while = False
        self.n_calls = 0
        self.idx_depth = 0
        for p in params:
            self.declare(Var(p.name, "array" if p.shape else "scalar", p.t, p.shape))

    # ------------------------------------------------------------ plumbing

    def feat(self, name):
        self.mg.features.add(name)

    def emit(self, a: str | None, r: str | None):
        if a is not None:
            self.A.append("    " * self.ia + a)
        if r is not None:
            self.R.append("    " * self.ir + r)

    @contextmanager
    def block(self, extra_r: int = 0):
        self.ia += 1
        self.ir += 1 + extra_r
        self.scopes.append({})
        na, nr = len(self.A), len(self.R)
        try:
            yield
        finally:
            if len(self.A) == na:
                self.A.append("    " * self.ia + "pass")
            if len(self.R) == nr:
                self.R.append("    " * self.ir + "pass")
            self.scopes.pop()
            self.ia -= 1
            self.ir -= 1 + extra_r

    def declare(self, v: Var):
        self.scopes[-1][v.name] = v

    def visible(self) -> list:
        out = {}
        for s in self.scopes:
            out.update(s)
        return list(out.values())

    def charge(self, n: int = 1):
        self.cost += self.mult * n

    def room(self, trips: int) -> bool:
        return self.cost + self.mult * trips * 4 <= self.budget

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # ------------------------------------------------------------ leaves

    def var_e(self, v: Var) -> E:
        lo = v.t.lo if v.lo is None else v.lo
        hi = v.t.hi if v.hi is None else v.hi
        return E(v.name, v.name, v.t, lo, hi)

    def arrays(self, ints=False, writable=False):
        """Arrays in scope (numpy constants only while a loop variable can index them:
        a constant index into a numpy constant folds to an int32 literal)."""
        lv = bool(self.loopish())
        return [v for v in self.visible() if v.kind == "array" and (not ints or v.t.is_int)
                and (not writable or v.writable) and (lv or not v.const)]

    def loopish(self):
        """Known-range index-like variables (loop vars, while counters)."""
        return [v for v in self.visible() if v.lo is not None and v.lo >= 0]

    def load(self, arr: Var) -> E:
        idx = [self.index_for(d, nonconst=arr.const) for d in arr.shape]
        if len(idx) == 2 and self.chance(0.15):
            a = f"{arr.name}[{idx[0].a}][{idx[1].a}]"
        else:
            a = f"{arr.name}[{', '.join(i.a for i in idx)}]"
        r = f"{arr.name}[{', '.join(i.r for i in idx)}]"
        if arr.const:
            self.feat("const_array")
        if any(not i.lit and "[" in i.a for i in idx):
            self.feat("data_dependent_index")
        return E(a, r, arr.t, arr.t.lo, arr.t.hi)

    def leaf(self, ints=False, no_lit=False) -> E:
        rng = self.rng
        arrs = self.arrays(ints)
        scal = [v for v in self.visible() if v.kind in ("scalar", "loop")
                and (not ints or v.t.is_int)]
        opts = []
        if arrs:
            opts.append(("load", 6))
        if scal:
            opts.append(("var", 4))
        if not no_lit or not opts:
            opts.append(("lit", 2))
        kind = rng.choices([o[0] for o in opts], [o[1] for o in opts])[0]
        if kind == "load":
            return self.load(rng.choice(arrs))
        if kind == "var":
            return self.var_e(rng.choice(scal))
        return _lit(rng.choice([0, 1, 1, 2, 3, 5, 7, 8, 13, 100, 255, -1, -3, -128, 1000]))

    def nonlit(self, ints=False) -> E:
        e = self.leaf(ints, no_lit=True)
        if e.lit:  # nothing else visible: put the literal in a typed local
            name = self.mg.fresh("c")
            self.emit(f"{name}: int32 = {e.a}", f"{name} = {e.r}")
            v = Var(name, "scalar", I32)
            self.declare(v)
            e = self.var_e(v)
        return e

    # ------------------------------------------------------------ indices

    def index_for(self, d: int, nonconst=False) -> E:
        """An index expression whose value is provably in [0, d - 1]."""
        rng = self.rng
        cands = []
        lv = self.loopish()
        for v in lv:
            e = self.var_e(v)
            if e.hi <= d - 1:
                cands += [("v", v)] * 4 + [("rev", v)]
                if e.hi + 1 <= d - 1:
                    cands.append(("plus", v))
                if 2 * e.hi <= d - 1:
                    cands.append(("twice", v))
            if e.lo >= 1 and e.hi - e.lo <= d - 1:
                cands.append(("minus", v))
            cands += [("mod", v), ("half", v)]
        if len(lv) >= 2:
            cands += [("summod", None), ("summin", None)]
        if self.idx_depth == 0 and self.arrays(ints=True):
            cands += [("data", None)] * 2
        if not nonconst or not cands:
            cands += [("const", None)]
        kind, v = rng.choice(cands)
        if kind == "const" and nonconst and lv:
            kind, v = "mod", rng.choice(lv)
        ve = self.var_e(v) if v is not None else None
        if kind == "v":
            return ve
        if kind == "rev":
            return b_arith("-", _lit(d - 1), ve)
        if kind == "plus":
            c = rng.randint(1, d - 1 - ve.hi)
            return b_arith("+", ve, _lit(c))
        if kind == "minus":
            c = rng.randint(max(1, ve.hi - (d - 1)), ve.lo)
            return b_arith("-", ve, _lit(c))
        if kind == "twice":
            return b_arith("*", _lit(2), ve)
        if kind == "mod":
            return b_mod(ve, _lit(d)) if ve.hi > d - 1 or self.chance(0.3) else ve
        if kind == "half":
            e = b_div("//", ve, _lit(2))
            return e if e.hi <= d - 1 else b_mod(e, _lit(d))
        if kind in ("summod", "summin"):
            x, y = rng.sample(lv, 2)
            s = b_arith("+", self.var_e(x), self.var_e(y))
            if kind == "summod" or s.lo < 0:
                return b_mod(s, _lit(d))
            return b_minmax("min", [s, _lit(d - 1)])
        if kind == "data":
            self.idx_depth += 1
            try:
                src = self.load(rng.choice(self.arrays(ints=True)))
            finally:
                self.idx_depth -= 1
            return self.clamp_index(src, d)
        return _lit(rng.randint(0, d - 1))

    def clamp_index(self, x: E, d: int) -> E:
        """Force a data value into [0, d - 1]: & mask, % d (unsigned), a bit slice, or min."""
        rng = self.rng
        p = 1 << (d.bit_length() - 1)  # largest power of two <= d
        opts = ["and"]
        if x.lo >= 0:
            opts += ["mod", "mod"]
        w = p.bit_length() - 1
        if x.t.bitty and 1 <= w <= x.t.bits:
            opts.append("slice")
        opts.append("andmin")
        k = rng.choice(opts)
        if k == "and":
            e = b_bit("&", x, _lit(p - 1))
        elif k == "mod":
            e = b_mod(x, _lit(d))
        elif k == "slice":
            lo = rng.randint(0, x.t.bits - w)
            e = b_slice(x, _lit(lo), w)
            self.feat("bit_slice")
        else:
            m = (1 << (d.bit_length() + 1)) - 1
            e = b_minmax("min", [b_bit("&", x, _lit(m)), _lit(d - 1)])
        assert 0 <= e.lo and e.hi <= d - 1, (k, e)
        return e

    # ------------------------------------------------------------ expressions

    def expr(self, depth: int, ints=False) -> E:
        rng = self.rng
        if depth <= 0 or self.chance(0.2):
            return self.leaf(ints)
        x = self.expr(depth - 1, ints)
        fx = x.t.fixed
        ops = [("arith", 8), ("cmp", 1.2), ("minmax", 1.5), ("select", 1.5), ("shift", 2),
               ("neg", 0.6), ("int", 0.4)]
        if not fx:
            ops += [("div", 1.5), ("mod", 1.5), ("bit", 3)]
        if x.t.bitty and not x.lit:
            ops += [("invert", 0.7), ("bitget", 1), ("slice", 1.5), ("reverse", 0.5)]
        if x.t.kind == "idx":
            ops = [o for o in ops if o[0] not in ("shift", "neg")]
        kind = rng.choices([o[0] for o in ops], [o[1] for o in ops])[0]

        def other(ints2=ints):
            y = self.expr(depth - 1, ints2)
            if y.lit and x.lit:
                y = self.nonlit(ints2)
            return y

        if kind == "arith":
            op = rng.choice("++--**")
            y = other()
            if op == "-" and x.t.kind == "idx" and y.t.kind == "idx":
                op = "+"  # index - index may go negative; index is unsigned in the typing rules
            self.feat("arith")
            return b_arith(op, x, y)
        if kind == "div":
            y = other(True)
            if y.t.fixed:
                return b_arith("+", x, y)
            op = "/" if t_div(x.t, y.t).kind != "i" else rng.choice(["/", "//"])
            if rng.random() < 0.5 and not y.lit:  # usually a non-zero divisor, sometimes 0
                y = b_bit("|", y, _lit(1)) if y.t.is_int else y
            self.feat("div")
            return b_div(op, x, y)
        if kind == "mod":
            y = other(True)
            self.feat("mod")
            return b_mod(x, y)
        if kind == "bit":
            y = other(True)
            self.feat("bitwise")
            return b_bit(rng.choice("&|^"), x, y)
        if kind == "cmp":
            self.feat("compare")
            return b_cmp(rng.choice(["<", "<=", ">", ">=", "==", "!="]), x, other())
        if kind == "minmax":
            xs = [x, other()]
            if self.chance(0.2):
                xs.append(other())
            self.feat("minmax")
            return b_minmax(rng.choice(["min", "max"]), xs)
        if kind == "select":
            self.feat("ternary")
            return b_select(self.cond(1), x, other())
        if kind == "shift":
            op = rng.choice(["<<", ">>"])
            r = rng.random()
            if r < 0.6 or x.lit:
                s = _lit(rng.randint(0, max(0, x.t.bits - 1)))
            elif r < 0.85:
                s = b_bit("&", self.nonlit(True), _lit(rng.choice([3, 7, 15])))
            else:
                lv = self.loopish()
                s = self.var_e(rng.choice(lv)) if lv else _lit(1)
            if x.lit and s.lit:
                s = b_bit("&", self.nonlit(True), _lit(7))
            self.feat("shift")
            return b_shift(op, x, s)
        if kind == "neg":
            self.feat("unary")
            return b_neg(x)
        if kind == "int":
            if x.lit:
                return x
            self.feat("int_cast")
            return b_int(x)
        if kind == "invert":
            self.feat("unary")
            return b_invert(x)
        if kind == "bitget":
            self.feat("bit_get")
            return b_bitget(x, self.bit_index(x.t.bits, 1))
        if kind == "slice":
            w = rng.randint(1, min(x.t.bits, 12))
            self.feat("bit_slice")
            return b_slice(x, self.bit_index(x.t.bits, w), w)
        if kind == "reverse":
            self.feat("reverse")
            return b_reverse(x)
        raise AssertionError(kind)

    def bit_index(self, bits: int, width: int) -> E:
        """Low bit of a ``width``-bit field inside ``bits``: a constant or an in-range loop var."""
        lv = [v for v in self.loopish() if v.hi + width <= bits]
        if lv and self.chance(0.3):
            self.feat("dynamic_bit_index")
            return self.var_e(self.rng.choice(lv))
        return _lit(self.rng.randint(0, bits - width))

    def cond(self, depth: int) -> E:
        rng = self.rng
        r = rng.random()
        if r < 0.55 or depth <= 0:
            x = self.expr(rng.randint(0, 1))
            y = self.expr(rng.randint(0, 1))
            if x.lit and y.lit:
                y = self.nonlit()
            self.feat("compare")
            return b_cmp(rng.choice(["<", "<=", ">", ">=", "==", "!="]), x, y)
        if r < 0.65:
            x = self.nonlit(True)
            if x.t.bitty:
                self.feat("bit_get")
                return b_bitget(x, self.bit_index(x.t.bits, 1))
            return b_bit("&", x, _lit(1))
        if r < 0.85:
            self.feat("logic")
            return b_logic(rng.choice(["and", "or"]), [self.cond(depth - 1), self.cond(depth - 1)])
        if r < 0.93:
            self.feat("logic")
            return b_not(self.cond(depth - 1))
        if self.chance(0.5):  # chained comparison lo <= x < hi
            x = self.nonlit()
            self.feat("chained_compare")
            lo, hi = self.expr(0), self.expr(0)
            fl, fh = t_common(lo.t, x.t).fracs, t_common(x.t, hi.t).fracs
            return E(f"({lo.a} <= {x.a} < {hi.a})",
                     f"int({_al(lo, fl)} <= {_al(x, fl)} and {_al(x, fh)} < {_al(hi, fh)})",
                     BOOL, 0, 1)
        return self.nonlit()  # truthiness of a value

    # ------------------------------------------------------------ statements

    def block_stmts(self, n: int):
        for _ in range(n):
            self.stmt()
        if self.ret is not None and self.nest > 0 and self.chance(0.06):
            e = self.expr(self.rng.randint(0, 2))  # early return (inside if/for/while)
            self.emit(f"return {e.a}", f"return {_cvr(e, self.ret)}")
            self.feat("early_return")

    def stmt(self):
        rng = self.rng
        opts = []
        if self.arrays(writable=True):
            opts.append(("store", 6))
        opts.append(("decl", 3))
        if [v for v in self.visible() if v.kind == "scalar" and v.writable]:
            opts.append(("assign", 3))
        if self.loop_depth < 3 and self.nest < 4 and self.room(3):
            opts.append(("for", 5 if self.loop_depth == 0 else 3))
        if self.nest < 4:
            opts.append(("if", 2.5))
        if not self.in_while and self.nest < 3 and self.room(4):
            opts.append(("while", 1))
        if not self.helper and self.n_calls < 2 and self.room(8):
            opts.append(("call", 1.2))
        if [v for v in self.visible() if v.t.bitty and v.writable and v.kind != "loop"]:
            opts.append(("bitstore", 1))
        if self.nest == 0:
            opts.append(("tensor", 2.5))
        kind = rng.choices([o[0] for o in opts], [o[1] for o in opts])[0]
        getattr(self, "s_" + kind)()

    def s_store(self):
        rng = self.rng
        arr = rng.choice(self.arrays(writable=True))
        idx = [self.index_for(d) for d in arr.shape]
        ta = f"{arr.name}[{', '.join(i.a for i in idx)}]"
        tr = f"{arr.name}[{', '.join(i.r for i in idx)}]"
        e = self.expr(rng.randint(1, 3), ints=not arr.t.fixed and self.chance(0.3))
        self.charge()
        ops = ["+", "-"] + ([] if arr.t.fixed else ["*", "&", "|", "^", ">>", "<<"])
        if self.chance(0.3):
            op = rng.choice(ops)
            cur = E(ta, tr, arr.t, arr.t.lo, arr.t.hi)
            if op in ("<<", ">>"):
                e = _lit(rng.randint(0, arr.t.bits - 1))
                new = b_shift(op, cur, e)
            elif op in "&|^":
                if e.t.fixed:
                    e = b_int(e)
                new = b_bit(op, cur, e)
            elif op == "*" and e.t.fixed:
                e = b_int(e)  # (Allo pre-casts an aug-assign rhs to the target type)
                new = b_arith(op, cur, e)
            else:
                new = b_arith(op, cur, e)
            self.feat("augassign")
            self.emit(f"{ta} {op}= {e.a}", f"{tr} = {_cvr(new, arr.t)}")
        else:
            self.emit(f"{ta} = {e.a}", f"{tr} = {_cvr(e, arr.t)}")
        self.feat("store_2d" if len(arr.shape) == 2 else "store_1d")

    def s_decl(self):
        rng = self.rng
        name = self.mg.fresh("v")
        e = self.expr(rng.randint(0, 3))
        r = rng.random()
        self.charge()
        if r < 0.3 and not e.lit:  # un-annotated: the type is inferred from the value
            t = e.t
            self.emit(f"{name} = {e.a}", f"{name} = {e.r}")
            self.feat("inferred_decl")
            # an index-typed variable must never hold a negative value: keep it read-only
            self.declare(Var(name, "scalar", t, writable=t.kind != "idx"))
            return
        elif r < 0.45:
            t = self.mg.pick_type()
            self.emit(f"{name}: {t.src()}", None)
            self.emit(f"{name} = {e.a}", f"{name} = {_cvr(e, t)}")
            self.feat("uninit_scalar")
        else:
            t = self.mg.pick_type()
            self.emit(f"{name}: {t.src()} = {e.a}", f"{name} = {_cvr(e, t)}")
            self.feat("typed_decl")
        self.declare(Var(name, "scalar", t))

    def s_assign(self):
        rng = self.rng
        v = rng.choice([v for v in self.visible() if v.kind == "scalar" and v.writable])
        e = self.expr(rng.randint(1, 3))
        self.charge()
        cur = self.var_e(v)
        if self.chance(0.35):
            ops = ["+", "-"] + ([] if v.t.fixed or e.t.fixed else ["*", "&", "|", "^"])
            op = rng.choice(ops)
            new = b_bit(op, cur, e) if op in "&|^" else b_arith(op, cur, e)
            self.emit(f"{v.name} {op}= {e.a}", f"{v.name} = {_cvr(new, v.t)}")
            self.feat("augassign")
        else:
            self.emit(f"{v.name} = {e.a}", f"{v.name} = {_cvr(e, v.t)}")
            self.feat("reassign")

    def s_bitstore(self):
        rng = self.rng
        cands = [v for v in self.visible() if v.t.bitty and v.writable and v.kind != "loop"]
        v = rng.choice(cands)
        w = 1 if self.chance(0.5) else rng.randint(1, min(v.t.bits, 8))
        lo = self.bit_index(v.t.bits, w)
        e = self.expr(rng.randint(0, 2), ints=True)
        if e.t.fixed:
            e = b_int(e)
        hi_a = str(lo.val + w) if lo.lit else f"{lo.a} + {w}"
        sub = f"[{lo.a}]" if w == 1 and self.chance(0.7) else f"[{lo.a}:{hi_a}]"
        if v.kind == "array":
            idx = [self.index_for(d) for d in v.shape]
            ta = f"{v.name}[{', '.join(i.a for i in idx)}]"
            tr = f"{v.name}[{', '.join(i.r for i in idx)}]"
        else:
            ta = tr = v.name
        self.charge()
        self.emit(f"{ta}{sub} = {e.a}",
                  f"{tr} = _bins({tr}, {lo.r}, {w}, {e.r}, {v.t.bits}, {v.t.signed})")
        self.feat("bit_store")

    def s_tensor(self):
        rng = self.rng
        t = self.mg.pick_type()
        name = self.mg.fresh("L")
        srcs = [a for a in self.arrays() if not a.const]
        form = rng.choices(["fill", "list", "copy", "uninit"], [3, 2, 3 if srcs else 0, 2])[0]
        if form == "copy":
            src = rng.choice(srcs)
            if len(src.shape) == 2 and self.chance(0.6):  # copy one row (a subview)
                i = self.index_for(src.shape[0])
                shape, sa, sr = src.shape[1:], f"{src.name}[{i.a}]", f"{src.name}[{i.r}]"
                self.feat("subview_copy")
            else:
                shape, sa, sr = src.shape, src.name, src.name
            if self.chance(0.5):
                t = src.t
            conv = (f"{sr}.copy()" if t == src.t else
                    f"_castarr({sr}, {src.t.fracs}, {t.fracs}, {t.bits}, {t.signed})")
            self.emit(f"{name}: {t.src()}[{', '.join(map(str, shape))}] = {sa}",
                      f"{name} = {conv}")
            self.feat("tensor_copy")
        else:
            shape = (rng.randint(2, 10),) if self.chance(0.6) else (
                rng.randint(2, 6), rng.randint(2, 6))
            dims = ", ".join(map(str, shape))
            if form == "fill":
                c = rng.choice([0, 0, 1, 3, -1, 7])
                raw = _conv(_lit(c), t)
                self.emit(f"{name}: {t.src()}[{dims}] = {c}",
                          f"{name} = _full({shape}, {_eval_raw(raw.r)})")
                self.feat("tensor_fill")
            elif form == "list":
                vals = np.array([rng.randint(-20, 20) for _ in range(int(np.prod(shape)))])
                vals = vals.reshape(shape).tolist()
                flat = np.array(vals, dtype=object).reshape(-1)
                raws = [_eval_raw(_conv(_lit(int(v)), t).r) for v in flat]
                rv = np.array(raws, dtype=object).reshape(shape).tolist()
                self.emit(f"{name}: {t.src()}[{dims}] = {vals}", f"{name} = _arr({rv})")
                self.feat("tensor_literal")
            else:
                self.emit(f"{name}: {t.src()}[{dims}]", f"{name} = _full({shape}, 0)")
                self.feat("tensor_uninit")
                self.fill_loop(Var(name, "array", t, shape))
        self.charge(int(np.prod(shape)))
        self.declare(Var(name, "array", t, tuple(shape)))

    def fill_loop(self, arr: Var):
        """Write every element of ``arr`` (an uninitialized local) before anyone reads it."""
        names = [self.mg.fresh("f") for _ in arr.shape]
        dims = ", ".join(map(str, arr.shape))
        if len(names) == 1:
            self.emit(f"for {names[0]} in range({dims}):", f"for {names[0]} in range({dims}):")
        else:
            self.emit(f"for {', '.join(names)} in allo.grid({dims}):",
                      f"for {names[0]} in range({arr.shape[0]}):")
            self.ir += 1
            self.emit(None, f"for {names[1]} in range({arr.shape[1]}):")
            self.ir -= 1
        old = self.mult
        self.mult *= int(np.prod(arr.shape))
        with self.block(extra_r=len(names) - 1):
            for n, d in zip(names, arr.shape):
                self.declare(Var(n, "loop", IDX, lo=0, hi=d - 1, writable=False))
            e = self.expr(self.rng.randint(1, 2))
            self.charge()
            self.emit(f"{arr.name}[{', '.join(names)}] = {e.a}",
                      f"{arr.name}[{', '.join(names)}] = {_cvr(e, arr.t)}")
        self.mult = old

    # loops ----------------------------------------------------------

    def dims_in_scope(self):
        return [d for a in self.arrays() for d in a.shape]

    def s_for(self):
        rng = self.rng
        dims = self.dims_in_scope() or [rng.randint(2, 10)]
        outer = self.loopish()
        forms = ["range", "range", "range2", "step", "grid", "reduction"]
        if outer:
            forms += ["tri", "tri"]
        if self.arrays(ints=True):
            forms.append("data")
        form = rng.choice(forms)
        kw = ""
        if form in ("grid", "reduction") and self.loop_depth <= 1:
            n = 1 if form == "reduction" or self.chance(0.3) else rng.choice([2, 2, 3])
            n = min(n, 3 - self.loop_depth)
            bounds = [rng.choice(dims) for _ in range(n)]
            while int(np.prod(bounds)) > 150:
                bounds[bounds.index(max(bounds))] //= 2
            names = [self.mg.fresh("i") for _ in bounds]
            if self.loop_depth == 0 and self.chance(0.3):
                kw = f', name="{self.mg.fresh("band")}"'
            elif self.chance(0.15):
                # pipeline= raises on the RTL target until modulo scheduling lands
                kw = rng.choice([", unroll=2", ", unroll=True", ", unroll=3"])
                self.feat("loop_attr")
            head = (f"for {', '.join(names)} in allo.{form}"
                    f"({', '.join(map(str, bounds))}{kw}):")
            specs = [(n, 0, b - 1, b) for n, b in zip(names, bounds)]
            self.feat(form)
            rhead = [f"for {n} in range({b}):" for n, b in zip(names, bounds)]
        else:
            name = self.mg.fresh("i")
            if form == "range" or form in ("grid", "reduction"):
                ub = rng.choice(dims)
                head_args, lo, hi = f"{ub}", 0, ub - 1
                self.feat("range")
            elif form == "range2":
                ub = rng.choice(dims)
                lb = rng.randint(0, max(0, ub - 2))
                head_args, lo, hi = f"{lb}, {ub}", lb, ub - 1
                self.feat("range_lb")
            elif form == "step":
                ub = rng.choice(dims)
                lb = rng.randint(0, 2)
                st = rng.randint(2, 3)
                last = lb + (max(ub - 1 - lb, 0) // st) * st
                head_args, lo, hi = f"{lb}, {ub}, {st}", lb, max(lb, last)
                self.feat("range_step")
            elif form == "tri":
                v = rng.choice(outer)
                ve = self.var_e(v)
                ub = rng.choice([d for d in dims if d > ve.hi] or [ve.hi + 1])
                k = rng.randint(0, 2)
                if k == 0:
                    head_args, lo, hi = f"{v.name}, {ub}", ve.lo, ub - 1
                elif k == 1:
                    head_args, lo, hi = f"0, {v.name} + 1", 0, ve.hi
                else:
                    head_args, lo, hi = f"{v.name} + 1, {ub}", ve.lo + 1, ub - 1
                self.feat("triangular")
            else:  # data-dependent trip count
                src = self.load(rng.choice(self.arrays(ints=True)))
                self.feat("data_bound")
                cap = rng.choice([4, 8])
                e = self.clamp_index(src, cap)
                head_args, lo, hi = f"0, {e.a}", 0, cap - 1
                rhead_args = f"0, {e.r}"
            hi = max(hi, lo)
            specs = [(name, lo, hi, hi - lo + 1)]
            if form != "data":
                rhead_args = head_args
            head = f"for {name} in range({head_args}):"
            rhead = [f"for {name} in range({rhead_args}):"]
        trips = int(np.prod([s[3] for s in specs]))
        if not self.room(trips):
            return self.s_decl()
        self.emit(head, rhead[0])
        for k, line in enumerate(rhead[1:], 1):
            self.ir += k
            self.emit(None, line)
            self.ir -= k
        old = self.mult
        self.mult *= trips
        self.nest += 1
        self.loop_depth += len(specs)
        with self.block(extra_r=len(rhead) - 1):
            for n, lo, hi, _ in specs:
                self.declare(Var(n, "loop", IDX, lo=lo, hi=hi, writable=False))
            self.block_stmts(rng.randint(1, 3))
        self.loop_depth -= len(specs)
        self.nest -= 1
        self.mult = old

    def s_if(self):
        rng = self.rng
        n_elif = rng.choice([0, 0, 1, 2])
        has_else = self.chance(0.6)
        self.nest += 1
        conds = [self.cond(2) for _ in range(1 + n_elif)]  # (may declare locals: before 'if')
        c = conds[0]
        self.emit(f"if {c.a}:", f"if {c.r}:")
        with self.block():
            self.block_stmts(rng.randint(1, 2))
        for c in conds[1:]:
            self.emit(f"elif {c.a}:", f"elif {c.r}:")
            with self.block():
                self.block_stmts(rng.randint(1, 2))
            self.feat("elif")
        if has_else:
            self.emit("else:", "else:")
            with self.block():
                self.block_stmts(rng.randint(1, 2))
            self.feat("else")
        self.nest -= 1
        self.feat("if")

    def s_while(self):
        rng = self.rng
        k = rng.randint(1, 6)
        mind = min(self.dims_in_scope() or [k + 1])
        if mind >= 2:
            k = min(k, mind - 1)  # the counter, 0..k, also indexes arrays
        t = rng.choice([I32, Ty("u", 8), Ty("i", 16), Ty("u", 4) if k < 15 else I32])
        name = self.mg.fresh("w")
        self.emit(f"{name}: {t.src()} = 0", f"{name} = 0")
        w = Var(name, "scalar", t, lo=0, hi=k, writable=False)
        self.declare(w)
        c = b_cmp("<", self.var_e(w), _lit(k))
        if self.chance(0.7):
            extra = self.cond(1)
            c = b_logic("and", [c, extra] if self.chance(0.5) else [extra, c])
        self.emit(f"while {c.a}:", f"while {c.r}:")
        old = self.mult
        self.mult *= k + 1
        self.nest += 1
        self.in_while = True
        with self.block():
            self.emit(f"{name} += 1", f"{name} = {name} + 1")
            self.charge()
            w.lo, w.hi = 1, k
            self.block_stmts(rng.randint(1, 2))
        w.lo, w.hi = 0, k
        self.in_while = False
        self.nest -= 1
        self.mult = old
        self.feat("while")

    # calls ----------------------------------------------------------

    def s_call(self):
        rng = self.rng
        srcs = [a for a in self.arrays() if not a.const]
        params, args_a, args_r = [], [], []
        # distinct arrays: one memory cannot serve two array parameters in hardware
        for src in rng.sample(srcs, rng.randint(0, min(2, len(srcs)))):
            pname = self.mg.fresh("X")
            if len(src.shape) == 2 and self.chance(0.6):
                i = self.index_for(src.shape[0])
                params.append(Param(pname, src.t, src.shape[1:]))
                args_a.append(f"{src.name}[{i.a}]")
                args_r.append(f"{src.name}[{i.r}]")
                self.feat("call_subview")
            else:
                params.append(Param(pname, src.t, src.shape))
                args_a.append(src.name)
                args_r.append(src.name)
        for _ in range(rng.randint(0 if params else 1, 2)):
            pt = self.mg.pick_type()
            e = self.expr(rng.randint(0, 2))
            params.append(Param(self.mg.fresh("p"), pt, ()))
            args_a.append(e.a)
            args_r.append(_cvr(e, pt))
        ret = self.mg.pick_type() if self.chance(0.75) else None
        hname = self.mg.fresh("fz_h")
        hb = max(20, (self.budget - self.cost) // (4 * self.mult))
        f = gen_function(self.mg, hname, params, ret, budget=min(hb, 600), helper=True)
        if self.chance(0.2):  # a def nested inside this kernel's body
            self.mg.funcs.remove(f)
            for line in f.allo.rstrip("\n").split("\n"):
                self.emit(line, None)
            for line in f.ref.rstrip("\n").split("\n"):
                self.emit(None, line)
            self.feat("nested_def")
        self.n_calls += 1
        self.cost += self.mult * max(f.cost, 1)
        call_a = f"{hname}({', '.join(args_a)})"
        call_r = f"{hname}({', '.join(args_r)})"
        self.feat("call")
        if ret is None:
            self.emit(call_a, call_r)
            return
        form = rng.random()
        if form < 0.4:
            name = self.mg.fresh("r")
            self.emit(f"{name} = {call_a}", f"{name} = {call_r}")
            self.declare(Var(name, "scalar", ret))
        elif form < 0.6:
            name = self.mg.fresh("r")
            t = self.mg.pick_type()
            self.emit(f"{name}: {t.src()} = {call_a}",
                      f"{name} = {_cvr(E('', call_r, ret, ret.lo, ret.hi), t)}")
            self.declare(Var(name, "scalar", t))
        else:
            arrs = self.arrays(writable=True)
            if not arrs:
                self.emit(call_a, call_r)
                return
            arr = rng.choice(arrs)
            idx = [self.index_for(d) for d in arr.shape]
            self.emit(f"{arr.name}[{', '.join(i.a for i in idx)}] = {call_a}",
                      f"{arr.name}[{', '.join(i.r for i in idx)}] = "
                      f"{_cvr(E('', call_r, ret, ret.lo, ret.hi), arr.t)}")

    # ------------------------------------------------------------ function

    def body(self, n_stmts: int):
        self.block_stmts(n_stmts)
        if self.ret is not None:
            e = self.expr(self.rng.randint(0, 2))
            self.emit(f"return {e.a}", f"return {_cvr(e, self.ret)}")
            self.feat("return")

    def text(self) -> tuple[str, str]:
        sig = ", ".join(f"{p.name}: {p.t.src()}" + (f"[{', '.join(map(str, p.shape))}]"
                                                  if p.shape else "") for p in self.params)
        ret = f" -> {self.ret.src()}" if self.ret is not None else ""
        a = f"def {self.name}({sig}){ret}:\n" + "\n".join(self.A) + "\n"
        r = f"def {self.name}({', '.join(p.name for p in self.params)}):\n" + \
            "\n".join(self.R) + "\n"
        return a, r


_PRELUDE_NS: dict = {}


def _eval_raw(txt: str) -> int:
    """Evaluate a constant reference expression (literal conversions) at generation time."""
    if not _PRELUDE_NS:
        exec(_REF_PRELUDE, _PRELUDE_NS)  # noqa: S102 - our own prelude
    return eval(txt, _PRELUDE_NS)  # noqa: S307


def gen_function(mg: _ModuleGen, name: str, params: list, ret, budget: int,
                 helper: bool) -> _Func:
    fg = _FuncGen(mg, name, params, ret, budget, helper)
    if not helper and mg.rng.random() < 0.3:
        c = mg.const_array()
        fg.declare(c)
    fg.body(mg.rng.randint(1, 3) if helper else mg.rng.randint(2, 5))
    a, r = fg.text()
    f = _Func(name, params, ret, a, r, fg.cost)
    mg.funcs.append(f)
    return f


def _random_params(mg: _ModuleGen) -> list:
    rng = mg.rng
    params = []
    n1, n2, ns = rng.randint(1, 3), rng.choice([0, 1, 1, 2]), rng.randint(0, 2)
    for _ in range(n1):
        params.append(Param(mg.fresh("A"), mg.pick_type(), (rng.randint(4, 12),)))
    for _ in range(n2):
        params.append(Param(mg.fresh("M"), mg.pick_type(), (rng.randint(3, 8),
                                                              rng.randint(3, 8))))
    for _ in range(ns):
        params.append(Param(mg.fresh("s"), mg.pick_type(), ()))
    rng.shuffle(params)
    return params


# ====================================================================== cases

_TMP: list = []


def _tmpdir() -> str:
    if not _TMP:
        d = tempfile.mkdtemp(prefix="allo_fuzz_")
        _TMP.append(d)
        atexit.register(shutil.rmtree, d, True)
    return _TMP[0]


_mod_ids = itertools.count()


def _import_source(src: str, stem: str):
    path = os.path.join(_tmpdir(), f"{stem}_{os.getpid()}_{next(_mod_ids)}.py")
    with open(path, "w") as fh:
        fh.write(src)
    modname = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


@dataclass
class FuzzCase:
    """One generated test program: kernel source, reference model and top signature."""

    seed: int
    source: str
    ref_source: str
    top: str
    params: list  # Param, in call order
    ret: Ty | None
    kernels: list  # names of the generated (sub-)kernels
    features: set = field(default_factory=set)
    _mod: object = None
    _ref: object = None

    def load(self):
        """The top kernel as a Python function, imported from a real file (for inspect)."""
        if self._mod is None:
            self._mod = _import_source(self.source, f"fuzz_kernel_{self.seed}")
        return getattr(self._mod, self.top)

    def load_ref(self):
        if self._ref is None:
            self._ref = _import_source(self.ref_source, f"fuzz_ref_{self.seed}")
        return getattr(self._ref, self.top)

    # ------------------------------------------------------------ inputs

    def make_inputs(self, rng: np.random.Generator) -> list:
        """Random arguments: numpy arrays of the kernel's dtypes, Python ints/floats for scalars."""
        out = []
        for p in self.params:
            n = int(np.prod(p.shape)) if p.shape else 1
            raw = _rand_raw(rng, p.t, n)
            out.append(_to_user(raw, p.t, p.shape))
        return out

    def run_ref(self, args: list):
        """Run the reference model; array arguments are updated in place like a build."""
        raws = []
        for a, p in zip(args, self.params):
            if p.shape:
                raws.append(np.array(_to_raw(a, p.t), dtype=object).reshape(p.shape))
            else:
                raws.append(_to_raw(np.asarray([a]), p.t)[0])
        res = self.load_ref()(*raws)
        for a, r, p in zip(args, raws, self.params):
            if p.shape:
                a[...] = _to_user(r.reshape(-1).tolist(), p.t, p.shape)
        if self.ret is None:
            return None
        return _to_user([res], self.ret, ())


def _rand_raw(rng: np.random.Generator, t: Ty, n: int) -> list:
    r = random.Random(int(rng.integers(0, 2**62)))
    mode = r.randint(0, 3)
    edges = sorted({t.lo, t.hi, 0, min(1, t.hi), max(-1, t.lo), t.lo + 1, max(t.hi - 1, 0)})
    out = []
    for _ in range(n):
        m = mode if mode < 3 else r.randint(0, 2)
        if m == 0:
            out.append(r.randint(t.lo, t.hi))
        elif m == 1:
            out.append(max(t.lo, min(t.hi, r.randint(-9, 9) << t.fracs)))
        else:
            out.append(r.choice(edges))
    return out


def _to_user(raw: list, t: Ty, shape: tuple):
    if t.fixed:
        vals = [v * 2.0 ** -t.fracs for v in raw]
        return np.array(vals, dtype=np.float64).reshape(shape) if shape else vals[0]
    if not shape:
        return int(raw[0])
    return np.array(raw, dtype=t.np_dtype()).reshape(shape)


def _to_raw(a, t: Ty) -> list:
    a = np.asarray(a)
    if t.fixed:
        return [int(round(float(x) * 2**t.fracs)) for x in a.reshape(-1).tolist()]
    return [int(x) for x in a.reshape(-1).tolist()]


def generate(seed: int, n_kernels: int = 1, *, fixed: bool = False,
             budget: int = 4000) -> FuzzCase:
    """A random test program, fully determined by ``(seed, n_kernels, fixed, budget)``.

    ``budget`` bounds the executed statements per kernel (each statement is a
    handful of operations, so ~5x that many dynamic operations)."""
    mg = _ModuleGen(seed * 7919 + n_kernels * 31 + int(fixed), fixed, budget)
    subs = []
    for k in range(n_kernels):
        params = _random_params(mg)
        ret = mg.pick_type() if mg.rng.random() < 0.8 else None
        subs.append(gen_function(mg, f"fz_k{k}", params, ret, budget, helper=False))
    if n_kernels == 1:
        top, tparams, tret = subs[0].name, subs[0].params, subs[0].ret
    else:
        top, tparams, tret = "fz_top", [], None
        lines_a, lines_r = [], []
        n_out = sum(1 for f in subs if f.ret is not None)
        out = Param("fz_out", Ty("i", 64), (max(n_out, 1),))
        slot = 0
        for f in subs:
            ren = [Param(f"{f.name}_{p.name}", p.t, p.shape) for p in f.params]
            tparams += ren
            call_a = f"{f.name}({', '.join(p.name for p in ren)})"
            call_r = call_a
            if f.ret is None:
                lines_a.append(call_a)
                lines_r.append(call_r)
                continue
            if f.ret.fixed:  # store the raw bits of a fixed-point result, exactly
                call_a = f"{call_a} * {1 << f.ret.fracs}"
                e = E(call_a, f"({call_r} * {1 << f.ret.fracs})",
                      t_mul(f.ret, I32), f.ret.lo << f.ret.fracs, f.ret.hi << f.ret.fracs)
            else:
                e = E(call_a, call_r, f.ret, f.ret.lo, f.ret.hi)
            lines_a.append(f"fz_out[{slot}] = {call_a}")
            lines_r.append(f"fz_out[{slot}] = {_cvr(e, out.t)}")
            slot += 1
        tparams.append(out)
        sig = ", ".join(f"{p.name}: {p.t.src()}" + (f"[{', '.join(map(str, p.shape))}]"
                                                  if p.shape else "") for p in tparams)
        a = f"def fz_top({sig}):\n" + "".join(f"    {x}\n" for x in lines_a)
        r = f"def fz_top({', '.join(p.name for p in tparams)}):\n" + \
            "".join(f"    {x}\n" for x in lines_r)
        mg.funcs.append(_Func("fz_top", tparams, None, a, r, 0))
        mg.features.add("batch")
    src, ref = mg.source()
    src = f'"""Generated by tests/fuzz/kernelgen.py: seed={seed} n_kernels={n_kernels} ' \
          f'fixed={fixed}."""\n\n' + src
    return FuzzCase(seed, src, ref, top, tparams, tret, [f.name for f in subs],
                    set(mg.features))


# ====================================================================== differential runner


class FuzzMismatch(AssertionError):
    """Two targets disagree on a generated case."""


def _copy_args(inputs: list) -> list:
    return [a.copy() if isinstance(a, np.ndarray) else a for a in inputs]


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if a.dtype == object or b.dtype == object:
            return all(x == y for x, y in zip(a.reshape(-1).tolist(), b.reshape(-1).tolist()))
        return a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def _first_diff(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    if a.dtype != b.dtype:
        return f"dtype {a.dtype} vs {b.dtype}"
    for ix in np.ndindex(a.shape):
        if a[ix] != b[ix]:
            return f"first difference at {ix}: {a[ix]!r} vs {b[ix]!r}"
    return "equal?"


def build(case: FuzzCase, target: str):
    """The built module of ``case`` for ``target`` ("sim" / "rtl"), or the reference runner."""
    if target == "ref":
        return lambda *args: case.run_ref(list(args))
    import allo_rtl as allo

    return allo.customize(case.load()).build(target=target)


def run_case(case: FuzzCase, targets=("sim", "rtl"), inputs: list | None = None,
             n_inputs: int = 1, verbose: bool = True) -> dict:
    """Run ``case`` on every target with identical inputs and compare bit-exactly.

    Each target is built once and run on ``n_inputs`` random input sets (or on
    ``inputs``). Returns {target: (arguments after the call, return value)} of the
    last input set; raises :class:`FuzzMismatch` (after printing the kernel source,
    unless ``verbose=False``) on any difference."""
    mods = {tgt: build(case, tgt) for tgt in targets}
    rng = np.random.default_rng(case.seed)
    sets = [inputs] if inputs is not None else [case.make_inputs(rng) for _ in range(n_inputs)]
    for ins in sets:
        results = {}
        for tgt in targets:
            args = _copy_args(ins)
            results[tgt] = (args, mods[tgt](*args))
        base = targets[0]
        for tgt in targets[1:]:
            for k, p in enumerate(case.params):
                x, y = results[base][0][k], results[tgt][0][k]
                if not _equal(x, y):
                    _report(case, ins, f"argument {p.name} ({p.t}{list(p.shape)}) differs "
                            f"between {base} and {tgt}: {_first_diff(x, y)}", verbose)
            x, y = results[base][1], results[tgt][1]
            if not _equal(x, y):
                _report(case, ins, f"return value differs between {base} and {tgt}: "
                        f"{x!r} vs {y!r}", verbose)
    return results


def _report(case: FuzzCase, inputs, msg: str, verbose: bool):
    text = (f"fuzz case seed={case.seed}: {msg}\n"
            f"---- kernel source ----\n{case.source}\n"
            f"---- inputs ----\n" +
            "\n".join(f"{p.name} = {a!r}" for p, a in zip(case.params, inputs)))
    if verbose:
        print(text)
    raise FuzzMismatch(text)
