"""Random kernels suited to scheduling, and random legal schedule primitive sequences.

Used by ``tests/schedule/test_properties.py`` (hypothesis drives every choice through a
:class:`Chooser`) and runnable on its own for reproduction::

    python -m tests.schedule.schedgen SEED [--rtl] [--steps N]

prints one random case (kernel source + schedule) and checks it.

Kernels
-------
:class:`KernelGen` writes the *source* of a top function ``kernel`` (plus small
callees) made of 1-3 *stages*, each a top-level loop nest over small int arrays
(int8/int16/int32/uint8, 1-3 dims of 1..12 elements):

* ``ew``: elementwise perfect nest (``allo.grid`` or nested ``range`` with offsets,
  steps, triangular bounds), optional if/else, scalar temporaries, in-place RMW;
* ``red``: reductions ``D[i, j] op= e`` over extra loops (``+= -= ^= |= &= *=``,
  ``max``/``min``), optionally initialised between the loops (imperfect nest);
* ``mm``: ``C[i, j] += A[i, k] * B[k, j]`` shapes;
* ``rowacc``: a scalar accumulator declared between the loops, stored after;
* ``gred``: a whole-nest scalar reduction, stored to an output or returned;
* ``stencil``: sliding-window reads ``X[y + r, x + c]`` (direct sums or
  ``allo.reduction`` loops) so ``reuse_at`` applies;
* ``call_row`` / ``call_ret`` / ``call_whole``: callees on subviews (``h(A[i], D[i])``),
  scalar-returning callees in a loop and whole-array callees at the top level
  (callees may be shared by several call sites).

Later stages read what earlier stages wrote (often with the same loop bounds, so
``compute_at`` applies). Every nest is *fully permutable by construction*: an array
written in a nest is either written at an index injective in all the nest's loops, or
updated with a commutative/associative operation (wrapping ``+``, ``^``, ``*``, ...),
and no other statement of the nest reads it — so ``reorder`` (which, like Allo, does
not analyse dependences) is always legal on the generated nests.

Schedules
---------
:func:`random_schedule` inspects the current IR after every step and picks a
primitive among those with a legal target: split (factor 1..6, dividing or not),
reorder (permutation of loops of a perfect chain with constant bounds), fuse
(consecutive perfect loops with constant bounds), unroll (0/2/3/4), parallel,
pipeline (II 1..3; only loops whose inner loops have constant bounds and no
calls, never nested in/around another pipelined loop), partition (kind/dim/factor,
dividing or not), buffer_at, reuse_at (chained on reuse buffers), reshape (locals),
compute_at (producer/consumer bands with equal bounds), inline (a callee or all).
Annotations are bounded by a static size estimate (the RTL replicates unrolled and
pipelined bodies). After a ``reuse_at`` the function's loops are no longer reordered
(the reuse buffer carries a dependence along the reuse axis).

A primitive that raises :class:`AlloError` is accepted only when the message matches
one of :data:`DOCUMENTED` (restrictions stated in the primitives' docstrings / error
hints); the schedule continues without it and the category is counted.

Partitions are capped at :data:`MAX_BANKS` banks per array to bound the size (and the
Verilator build time) of the generated designs.
"""

from __future__ import annotations

import atexit
import importlib.util
import itertools
import os
import random
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np

from allo_rtl.errors import AlloError
from allo_rtl.ir.nodes import (
    CallStmt, Const, Decl, For, If, Load, Return, Store, Var, While, stmt_exprs, walk_exprs,
    walk_stmts,
)

__all__ = ["Chooser", "RandomChooser", "HypothesisChooser", "KernelGen", "Case", "Arr",
           "gen_case", "random_schedule", "classify_error", "check", "verify", "replay", "Mismatch",
           "DOCUMENTED"]


# ====================================================================== randomness


class Chooser:
    """Source of every random decision. ``integer`` shrinks toward ``lo`` under hypothesis,
    so choices list the simplest option first and ``chance`` shrinks toward False."""

    def integer(self, lo: int, hi: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def choice(self, seq):
        seq = list(seq)
        return seq[self.integer(0, len(seq) - 1)]

    def chance(self, p: float) -> bool:
        return self.integer(0, 99) >= round((1 - p) * 100)

    def weighted(self, items):
        """``items``: [(value, weight)], weights small positive ints."""
        flat = [v for v, w in items for _ in range(w)]
        return self.choice(flat)

    def subset(self, seq, k_min: int = 1):
        seq = list(seq)
        k = self.integer(k_min, len(seq))
        out, rest = [], list(seq)
        for _ in range(k):
            out.append(rest.pop(self.integer(0, len(rest) - 1)))
        return out


class RandomChooser(Chooser):
    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def integer(self, lo, hi):
        return self.rng.randint(lo, hi)


class HypothesisChooser(Chooser):
    def __init__(self, data):
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def integer(self, lo, hi):
        if lo == hi:
            return lo
        return self.data.draw(self.st.integers(lo, hi))

    def choice(self, seq):
        # a 16-bit draw mapped onto the options: hypothesis favours small and boundary
        # values of narrow ranges, which would make the first option dominate
        seq = list(seq)
        if len(seq) == 1:
            return seq[0]
        return seq[self.data.draw(self.st.integers(0, 2**16 - 1)) % len(seq)]


# ====================================================================== kernels

TYPES = ["int32", "int16", "int8", "uint8"]
RANGE = {"int8": (-128, 127), "int16": (-32768, 32767), "int32": (-2**31, 2**31 - 1),
         "uint8": (0, 255)}
NP = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "uint8": np.uint8}


def _contains(big: str, small: str) -> bool:
    return RANGE[big][0] <= RANGE[small][0] and RANGE[small][1] <= RANGE[big][1]


@dataclass
class Arr:
    name: str
    ty: str
    shape: tuple  # () for scalars
    kind: str  # 'in' | 'out' | 'local' | 'scalar'

    def decl(self) -> str:
        return f"{self.ty}[{', '.join(map(str, self.shape))}]" if self.shape else self.ty


@dataclass
class Lp:
    """A generated loop: values lb, lb+step, ... < ub; ``tri`` = ("lo"|"hi", outer var)."""

    var: str
    lb: int
    ub: int
    step: int = 1
    tri: tuple | None = None
    red: bool = False  # may be emitted as allo.reduction

    @property
    def lo(self) -> int:
        return 0 if self.tri else self.lb

    @property
    def hi(self) -> int:
        if self.tri:
            return self.ub - 1
        return self.lb + ((self.ub - self.lb - 1) // self.step) * self.step

    @property
    def trip(self) -> int:
        return len(range(self.lb, self.ub, self.step))

    def header(self) -> str:
        if self.tri:
            kind, v = self.tri
            return (f"range({v}, {self.ub})" if kind == "lo" else f"range({v} + 1)")
        if self.step != 1:
            return f"range({self.lb}, {self.ub}, {self.step})"
        if self.lb:
            return f"range({self.lb}, {self.ub})"
        return f"range({self.ub})"


_INDENT = "    "


class Fn:
    """A function being generated."""

    def __init__(self, kg: "KernelGen", name: str, top: bool):
        self.kg, self.name, self.top = kg, name, top
        self.params: list = []
        self.locals: list = []
        self.lines: list = []
        self.ret: str | None = None  # return annotation text
        self.ret_stmt: str | None = None

    # ---------------------------------------------------------------- arrays
    def arrays(self) -> list:
        return [a for a in self.params + self.locals if a.shape]

    def scalars(self) -> list:
        return [a for a in self.params if a.kind == "scalar"]

    def new_param(self, base: str, ty: str, shape: tuple, kind: str) -> Arr:
        a = Arr(self.kg.fresh(base), ty, tuple(shape), kind)
        self.params.append(a)
        return a

    def new_local(self, base: str, ty: str, shape: tuple, depth: int = 1) -> Arr:
        a = Arr(self.kg.fresh(base), ty, tuple(shape), "local")
        self.locals.append(a)
        self.emit(depth, f"{a.name}: {a.decl()} = 0")
        return a

    def emit(self, depth: int, text: str) -> None:
        self.lines.append(_INDENT * depth + text)

    def source(self) -> str:
        sig = ", ".join(f"{p.name}: {p.decl()}" for p in self.params)
        ret = f" -> {self.ret}" if self.ret else ""
        body = list(self.lines) + ([_INDENT + self.ret_stmt] if self.ret_stmt else [])
        if not body:
            body = [_INDENT + "pass"]
        return f"def {self.name}({sig}){ret}:\n" + "\n".join(body) + "\n"


class _Ctx:
    """Expression context of one statement: the loops around it and the readable arrays."""

    def __init__(self, fn: Fn, loops: list, pool: list, ch: Chooser):
        self.fn, self.loops, self.pool, self.ch = fn, loops, pool, ch


_HEADER = '''\
import allo_rtl as allo
from allo_rtl.ir.types import int8, int16, int32, uint8
'''


class KernelGen:
    """Random kernel source (see the module docstring). ``max_iters`` bounds the
    iterations of one nest."""

    def __init__(self, ch: Chooser, max_stages: int = 3, max_iters: int = 96):
        self.ch = ch
        self.max_stages = max_stages
        self.max_iters = max_iters
        self.uid = 0
        self.helpers: list = []  # (Fn, signature key, kind)
        self.top = Fn(self, "kernel", True)
        self.features: set = set()
        self.last_local: Arr | None = None  # the array written by the previous stage

    def fresh(self, base: str) -> str:
        self.uid += 1
        return f"{base}{self.uid}"

    # ---------------------------------------------------------------- types / values
    def ty(self) -> str:
        return self.ch.choice(TYPES)

    def const(self) -> str:
        ch = self.ch
        if ch.chance(0.15):
            v = ch.choice([100, -129, 255, 1000, -30000, 65537])
        else:
            v = ch.integer(-8, 8)
        return str(v) if v >= 0 else f"({v})"

    # ---------------------------------------------------------------- loops
    def loops(self, depth: int, extents=None, allow_fancy=True) -> list:
        """``depth`` loops (outer first); ``extents`` forces trips (lb 0, step 1)."""
        ch = self.ch
        out = []
        budget = self.max_iters
        for d in range(depth):
            var = self.var(d)
            if extents is not None:
                out.append(Lp(var, 0, extents[d]))
                continue
            cap = max(1, min(12, budget // (2 ** (depth - d - 1))))
            n = ch.integer(1, cap) if ch.chance(0.8) else ch.integer(1, min(cap, 4))
            lp = Lp(var, 0, n)
            if allow_fancy and ch.chance(0.15):
                lb = ch.integer(1, 3)
                step = ch.choice([1, 2, 3])
                lp = Lp(var, lb, lb + n * step - ch.integer(0, step - 1), step)
                self.features.add("range_lb_step")
            elif (allow_fancy and d > 0 and out and out[-1].tri is None and out[-1].lb == 0
                  and out[-1].step == 1 and ch.chance(0.12)):
                m = out[-1].ub
                kind = ch.choice(["lo", "hi"])
                lp = Lp(var, 0, m, 1, tri=(kind, out[-1].var))
                self.features.add("triangular")
            out.append(lp)
            budget = max(1, budget // max(1, lp.trip))
        return out

    def var(self, depth: int) -> str:
        base = "ijklmn"[depth]
        if self.ch.chance(0.2):  # same names in several nests: handles must disambiguate
            return base
        return self.fresh(base)

    def header(self, fn: Fn, depth: int, loops: list, *, allow_grid=True) -> int:
        """Emit the loop headers (grouping plain loops into allo.grid / allo.reduction);
        returns the body depth."""
        ch = self.ch
        k = 0
        while k < len(loops):
            lp = loops[k]
            plain = lp.lb == 0 and lp.step == 1 and lp.tri is None
            if plain and allow_grid and ch.chance(0.6):
                grp = [lp]
                while (k + len(grp) < len(loops)):
                    nx = loops[k + len(grp)]
                    if not (nx.lb == 0 and nx.step == 1 and nx.tri is None
                            and nx.red == lp.red and ch.chance(0.7)):
                        break
                    grp.append(nx)
                names = ", ".join(x.var for x in grp)
                exts = ", ".join(str(x.ub) for x in grp)
                if lp.red and ch.chance(0.6):
                    fn.emit(depth, f"for {names} in allo.reduction({exts}):")
                    self.features.add("reduction")
                elif ch.chance(0.15):
                    fn.emit(depth, f"for {names} in allo.grid({exts}, name=\"{self.fresh('G')}\"):")
                    self.features.add("named_grid")
                else:
                    fn.emit(depth, f"for {names} in allo.grid({exts}):")
                    self.features.add("grid")
                depth += 1
                k += len(grp)
                continue
            fn.emit(depth, f"for {lp.var} in {lp.header()}:")
            self.features.add("range")
            depth += 1
            k += 1
        return depth

    # ---------------------------------------------------------------- indices
    def dim_index(self, lp: Lp, size: int):
        """(index text) of ``lp`` + offset inside [0, size), or None."""
        if lp.hi - lp.lo + 1 > size:
            return None
        off = self.ch.integer(-lp.lo, size - 1 - lp.hi)
        if off == 0:
            return lp.var
        return f"{lp.var} + {off}" if off > 0 else f"{lp.var} - {-off}"

    def read_index(self, arr: Arr, loops: list) -> str:
        ch = self.ch
        parts = []
        for n in arr.shape:
            cands = [lp for lp in loops if lp.hi - lp.lo + 1 <= n]
            if cands and ch.chance(0.85):
                parts.append(self.dim_index(ch.choice(cands), n))
            else:
                parts.append(str(ch.integer(0, n - 1)))
        return ", ".join(parts)

    def new_input(self, fn: Fn, loops: list, ty: str | None = None) -> str:
        """A fresh input parameter read at loop-derived indices; returns the read text."""
        ch = self.ch
        rank = ch.integer(1, min(3, len(loops) + 1)) if loops else 1
        shape, parts = [], []
        for _ in range(rank):
            if loops and ch.chance(0.85):
                lp = ch.choice(loops)
                off = ch.integer(0, 2) - lp.lo if ch.chance(0.3) else -lp.lo
                size = lp.hi + off + 1 + ch.integer(0, 1)
                shape.append(size)
                parts.append(lp.var if off == 0 else (f"{lp.var} + {off}" if off > 0 else
                                                      f"{lp.var} - {-off}"))
            else:
                n = ch.integer(1, 4)
                shape.append(n)
                parts.append(str(ch.integer(0, n - 1)))
        a = fn.new_param("A", ty or self.ty(), tuple(shape), "in")
        return f"{a.name}[{', '.join(parts)}]"

    # ---------------------------------------------------------------- expressions
    def read(self, cx: _Ctx, ty_within: str | None = None) -> str:
        ch = self.ch
        pool = [a for a in cx.pool if ty_within is None or _contains(ty_within, a.ty)]
        if cx.fn.top and (not pool or ch.chance(0.35)):
            ty = None
            if ty_within is not None:
                ty = ch.choice([t for t in TYPES if _contains(ty_within, t)])
            return self.new_input(cx.fn, cx.loops, ty)
        if not pool:
            return None
        a = ch.choice(pool)
        return f"{a.name}[{self.read_index(a, cx.loops)}]"

    def leaf(self, cx: _Ctx) -> str:
        ch = self.ch
        opts = [("read", 5), ("const", 1)]
        if cx.loops:
            opts.append(("var", 1))
        if cx.fn.scalars():
            opts.append(("scalar", 1))
        k = ch.weighted(opts)
        if k == "read":
            r = self.read(cx)
            if r is not None:
                return r
            k = "const"
        if k == "var":
            return ch.choice(cx.loops).var
        if k == "scalar":
            return ch.choice(cx.fn.scalars()).name
        return self.const()

    def expr(self, cx: _Ctx, depth: int = 2) -> str:
        ch = self.ch
        if depth <= 0 or ch.chance(0.3):
            return self.leaf(cx)
        op = ch.weighted([("+", 4), ("-", 2), ("*", 3), ("&", 1), ("|", 1), ("^", 1),
                          (">>", 1), ("<<", 1), ("min", 1), ("max", 1), ("sel", 1),
                          ("neg", 1), ("//", 1), ("%", 1)])
        self.features.add(f"op{op}")
        a = self.expr(cx, depth - 1)
        if op in ("+", "-", "*", "&", "|", "^"):
            return f"({a} {op} {self.expr(cx, depth - 1)})"
        if op in (">>", "<<"):
            return f"({a} {op} {ch.integer(0, 4)})"
        if op in ("//", "%"):
            return f"({a} {op} {ch.integer(1, 7)})"
        if op in ("min", "max"):
            return f"{op}({a}, {self.expr(cx, depth - 1)})"
        if op == "neg":
            return f"(-{a})"
        return f"({a} if {self.cond(cx)} else {self.expr(cx, depth - 1)})"

    def cond(self, cx: _Ctx) -> str:
        ch = self.ch
        cmp = ch.choice([">", "<", ">=", "<=", "==", "!="])
        if cx.loops and ch.chance(0.3):
            lp = ch.choice(cx.loops)
            if ch.chance(0.5):
                return f"({lp.var} % 2 == {ch.integer(0, 1)})"
            return f"({lp.var} {cmp} {ch.integer(lp.lo, lp.hi)})"
        return f"({self.leaf(cx)} {cmp} {self.leaf(cx) if ch.chance(0.4) else self.const()})"

    # ---------------------------------------------------------------- writes
    def injective_target(self, fn: Fn, loops: list, depth_decl: int, local_ok=True):
        """A fresh array indexed injectively by every loop of ``loops``: (Arr, index)."""
        ch = self.ch
        order = list(loops)
        if len(order) > 1 and ch.chance(0.3):
            order = ch.subset(order, len(order))  # a permutation: transposed layout
            self.features.add("transposed_write")
        dims, parts = [], []
        for lp in order:
            dims.append(lp.hi - lp.lo + 1)
            parts.append(lp.var if lp.lo == 0 else f"{lp.var} - {lp.lo}")
        if ch.chance(0.15) or not dims:
            pos = ch.integer(0, len(dims))
            n = ch.integer(1, 3)
            dims.insert(pos, n)
            parts.insert(pos, str(ch.integer(0, n - 1)))
        ty = self.ty()
        if fn.top and local_ok and ch.chance(0.55):
            arr = fn.new_local("T", ty, tuple(dims), depth_decl)
        elif fn.top:
            arr = fn.new_param("O", ty, tuple(dims), "out")
        else:
            return None
        return arr, ", ".join(parts)

    def write_ew(self, fn, cx: _Ctx, target, depth: int) -> None:
        ch = self.ch
        arr, ix = target
        lhs = f"{arr.name}[{ix}]"
        form = ch.weighted([("assign", 6), ("rmw", 1), ("temp", 1), ("ifelse", 2), ("if", 1)])
        self.features.add(f"ew_{form}")
        if form == "assign":
            fn.emit(depth, f"{lhs} = {self.expr(cx)}")
        elif form == "rmw":
            fn.emit(depth, f"{lhs} = {ch.choice([f'{lhs} * 3', f'({lhs} >> 1)', f'-{lhs}'])} + "
                           f"{self.expr(cx, 1)}")
        elif form == "temp":
            t = self.fresh("t")
            fn.emit(depth, f"{t}: {self.ty()} = {self.expr(cx)}")
            fn.emit(depth, f"{lhs} = {t} * {t} - {self.leaf(cx)}")
        else:
            fn.emit(depth, f"if {self.cond(cx)}:")
            fn.emit(depth + 1, f"{lhs} = {self.expr(cx)}")
            if form == "ifelse":
                fn.emit(depth, "else:")
                fn.emit(depth + 1, f"{lhs} = {self.expr(cx)}")

    def write_red(self, fn, cx: _Ctx, lhs: str, lhs_ty: str, depth: int) -> None:
        """``lhs op= e`` with a commutative, associative update (order independent)."""
        ch = self.ch
        op = ch.weighted([("+=", 6), ("-=", 1), ("^=", 1), ("|=", 1), ("&=", 1), ("*=", 1),
                          ("max", 1), ("min", 1)])
        self.features.add(f"red{op}")
        guard = ch.chance(0.2)
        if guard:
            fn.emit(depth, f"if {self.cond(cx)}:")
            depth += 1
        if op in ("max", "min"):
            r = self.read(cx, ty_within=lhs_ty) or "0"
            fn.emit(depth, f"{lhs} = {op}({lhs}, {r})")
        elif op == "*=":
            fn.emit(depth, f"{lhs} *= ({self.leaf(cx)} | 1)")
        else:
            fn.emit(depth, f"{lhs} {op} {self.expr(cx)}")

    # ---------------------------------------------------------------- stages
    def pool(self, fn: Fn) -> list:
        return [a for a in fn.arrays()]

    def stage(self, fn: Fn) -> None:
        ch = self.ch
        kinds = [("ew", 4), ("red", 3), ("mm", 1), ("rowacc", 2), ("stencil", 3),
                 ("gred", 1)]
        if fn.top:
            kinds += [("call_row", 2), ("call_ret", 1), ("call_whole", 1)]
        kind = ch.weighted(kinds)
        self.features.add(f"stage_{kind}")
        getattr(self, f"st_{kind}")(fn)

    def _consumer_extents(self, fn: Fn):
        """Loop extents matching the previous stage's local result (compute_at bait)."""
        p = self.last_local
        if p is not None and fn.top and p in fn.locals and self.ch.chance(0.6):
            return p
        return None

    def st_ew(self, fn: Fn) -> None:
        ch = self.ch
        prev = self._consumer_extents(fn)
        pool = self.pool(fn)
        if prev is not None:
            loops = self.loops(len(prev.shape), extents=prev.shape)
        else:
            loops = self.loops(ch.integer(1, 3))
        tgt = self.injective_target(fn, loops, 1)
        tgt2 = self.injective_target(fn, loops, 1) if ch.chance(0.2) else None
        d = self.header(fn, 1, loops)
        cx = _Ctx(fn, loops, pool, ch)
        if prev is not None:
            # read the producer's element of this iteration
            ix = ", ".join(lp.var for lp in loops)
            fn.emit(d, f"{tgt[0].name}[{tgt[1]}] = {prev.name}[{ix}] "
                       f"{ch.choice(['+', '*', '-', '^'])} {self.expr(cx, 1)}")
            self.features.add("consumer")
        else:
            self.write_ew(fn, cx, tgt, d)
        if tgt2 is not None:
            self.write_ew(fn, cx, tgt2, d)
        self.last_local = tgt[0] if tgt[0].kind == "local" else None

    def _red_target(self, fn: Fn, W: list):
        ch = self.ch
        if W:
            tgt = self.injective_target(fn, W, 1)
        else:
            tgt = None
        if tgt is None:
            ty = self.ty()
            arr = (fn.new_local("T", ty, (1,)) if ch.chance(0.5) else
                   fn.new_param("O", ty, (1,), "out"))
            tgt = (arr, "0")
        return tgt

    def st_red(self, fn: Fn) -> None:
        ch = self.ch
        pool = self.pool(fn)
        nw, nr = ch.integer(0, 2), ch.integer(1, 2)
        loops = self.loops(nw + nr, allow_fancy=ch.chance(0.5))
        W, R = loops[:nw], loops[nw:]
        for lp in R:
            lp.red = True
        arr, ix = self._red_target(fn, W)
        lhs = f"{arr.name}[{ix}]"
        if W and ch.chance(0.4):  # initialise between the loops (imperfect nest)
            d = self.header(fn, 1, W)
            cx = _Ctx(fn, W, pool, ch)
            fn.emit(d, f"{lhs} = {self.expr(cx, 1)}")
            d = self.header(fn, d, R)
            self.features.add("red_init")
        else:
            d = self.header(fn, 1, loops)
        self.write_red(fn, _Ctx(fn, loops, pool, ch), lhs, arr.ty, d)
        self.last_local = arr if arr.kind == "local" else None

    def st_mm(self, fn: Fn) -> None:
        ch = self.ch
        M, N, K = ch.integer(1, 6), ch.integer(1, 6), ch.integer(1, 8)
        i, j, k = self.var(0), self.var(1), self.var(2)
        while j == i:
            j = self.fresh("j")
        while k in (i, j):
            k = self.fresh("k")
        A = self._matrix(fn, (M, K))
        B = self._matrix(fn, (K, N))
        ty = ch.choice(["int32", "int16"])
        C = fn.new_local("C", ty, (M, N)) if ch.chance(0.5) else fn.new_param(
            "O", ty, (M, N), "out")
        form = ch.choice(["grid3", "grid2", "ranges", "init"])
        self.features.add(f"mm_{form}")
        upd = f"{C.name}[{i}, {j}] += {A.name}[{i}, {k}] * {B.name}[{k}, {j}]"
        if form == "grid3":
            fn.emit(1, f"for {i}, {j}, {k} in allo.grid({M}, {N}, {K}):")
            fn.emit(2, upd)
        elif form == "ranges":
            fn.emit(1, f"for {i} in range({M}):")
            fn.emit(2, f"for {j} in range({N}):")
            fn.emit(3, f"for {k} in range({K}):")
            fn.emit(4, upd)
        else:
            fn.emit(1, f"for {i}, {j} in allo.grid({M}, {N}):")
            if form == "init":
                fn.emit(2, f"{C.name}[{i}, {j}] = 0")
            fn.emit(2, f"for {k} in allo.reduction({K}):" if ch.chance(0.5) else
                    f"for {k} in range({K}):")
            fn.emit(3, upd)
        self.last_local = C if C.kind == "local" else None

    def _matrix(self, fn: Fn, shape) -> Arr:
        for a in fn.arrays():
            if a.shape == tuple(shape) and self.ch.chance(0.5):
                return a
        return fn.new_param("A", self.ty(), tuple(shape), "in")

    def st_rowacc(self, fn: Fn) -> None:
        ch = self.ch
        pool = self.pool(fn)
        nw, nr = ch.integer(1, 2), ch.integer(1, 2)
        loops = self.loops(nw + nr, allow_fancy=ch.chance(0.5))
        W, R = loops[:nw], loops[nw:]
        for lp in R:
            lp.red = True
        tgt = self.injective_target(fn, W, 1)
        acc = self.fresh("acc")
        aty = ch.choice(["int32", "int32", "int16", "int8"])
        d = self.header(fn, 1, W)
        cxw = _Ctx(fn, W, pool, ch)
        fn.emit(d, f"{acc}: {aty} = {self.expr(cxw, 1) if ch.chance(0.3) else '0'}")
        d2 = self.header(fn, d, R)
        self.write_red(fn, _Ctx(fn, loops, pool, ch), acc, aty, d2)
        arr, ix = tgt
        fn.emit(d, f"{arr.name}[{ix}] = {acc}" +
                (f" {ch.choice(['+', '*', '-'])} {self.leaf(cxw)}" if ch.chance(0.3) else ""))
        self.last_local = arr if arr.kind == "local" else None

    def st_gred(self, fn: Fn) -> None:
        ch = self.ch
        pool = self.pool(fn)
        loops = self.loops(ch.integer(1, 3))
        acc = self.fresh("tot")
        aty = ch.choice(["int32", "int32", "int16", "uint8"])
        fn.emit(1, f"{acc}: {aty} = {'0' if ch.chance(0.7) else self.const()}")
        d = self.header(fn, 1, loops)
        self.write_red(fn, _Ctx(fn, loops, pool, ch), acc, aty, d)
        if fn.top and fn.ret is None and ch.chance(0.5):
            fn.ret, fn.ret_stmt = aty, f"return {acc}"
            self.features.add("return_scalar")
        else:
            o = fn.new_param("O", aty, (ch.integer(1, 2),), "out")
            fn.emit(1, f"{o.name}[0] = {acc}")
        self.last_local = None

    def st_stencil(self, fn: Fn) -> None:
        ch = self.ch
        pool = self.pool(fn)
        nd = ch.choice([1, 2])
        win = [ch.integer(1, 3) if ch.chance(0.85) else 1 for _ in range(nd)]
        ext = [ch.integer(1, 8) for _ in range(nd)]
        # the array to slide over: an existing one that fits, else a fresh input
        cands = [a for a in pool if len(a.shape) == nd
                 and all(a.shape[d] >= win[d] for d in range(nd))]
        if cands and ch.chance(0.5):
            X = ch.choice(cands)
            ext = [min(ext[d], X.shape[d] - win[d] + 1) for d in range(nd)]
            self.features.add("stencil_on_intermediate")
        else:
            X = fn.new_param("X", self.ty(), tuple(e + w - 1 + ch.integer(0, 1)
                                                  for e, w in zip(ext, win)), "in")
        loops = self.loops(nd, extents=ext)
        tgt = self.injective_target(fn, loops, 1)
        d = self.header(fn, 1, loops)
        cx = _Ctx(fn, loops, pool, ch)
        lhs = f"{tgt[0].name}[{tgt[1]}]"
        if ch.chance(0.35) and max(win) > 1:  # reduction-loop form (conv)
            rv = [self.fresh("r") for _ in range(nd)]
            v = self.fresh("v")
            fn.emit(d, f"{v}: int32 = 0")
            fn.emit(d, f"for {', '.join(rv)} in allo.reduction({', '.join(map(str, win))}):")
            ix = ", ".join(f"{lp.var} + {r}" for lp, r in zip(loops, rv))
            if ch.chance(0.5):
                Wt = fn.new_param("W", self.ty(), tuple(win), "in")
                fn.emit(d + 1, f"{v} += {X.name}[{ix}] * {Wt.name}[{', '.join(rv)}]")
            else:
                fn.emit(d + 1, f"{v} += {X.name}[{ix}]")
            fn.emit(d, f"{lhs} = {v}")
            self.features.add("stencil_conv")
        else:
            offs = list(itertools.product(*[range(w) for w in win]))
            chosen = [offs[0], offs[-1]] if len(offs) > 1 else [offs[0]]
            for o in offs[1:-1]:
                if ch.chance(0.5):
                    chosen.append(o)
            terms = []
            for o in chosen:
                ix = ", ".join(lp.var if k == 0 else f"{lp.var} + {k}"
                               for lp, k in zip(loops, o))
                c = ch.choice(["", " * 2", " * 3", " * (-1)", " >> 1"])
                terms.append(f"{X.name}[{ix}]{c}")
            rhs = " + ".join(terms)
            if ch.chance(0.3):
                rhs = f"({rhs}) {ch.choice(['+', '-', '^'])} {self.leaf(cx)}"
            fn.emit(d, f"{lhs} = {rhs}")
            self.features.add("stencil_direct")
        self.last_local = tgt[0] if tgt[0].kind == "local" else None

    # ---------------------------------------------------------------- callees
    def _helper(self, kind: str, key: tuple):
        """An existing helper with this signature (shared by several call sites), or None."""
        for h, k, kd in self.helpers:
            if kd == kind and k == key and self.ch.chance(0.5):
                self.features.add("shared_callee")
                return h
        return None

    def _new_helper(self, kind: str, key: tuple) -> Fn:
        h = Fn(self, self.fresh("h"), False)
        self.helpers.append((h, key, kind))
        return h

    def st_call_row(self, fn: Fn) -> None:
        """``for i in range(M): h(A[i], D[i])`` with ``h`` a 1-D (or 2-D) nest."""
        ch = self.ch
        M = ch.integer(1, 6)
        inner = tuple(ch.integer(1, 8) for _ in range(ch.choice([1, 1, 2])))
        tx, ty = self.ty(), self.ty()
        key = (inner, tx, ty)
        h = self._helper("row", key)
        if h is None:
            h = self._new_helper("row", key)
            X = h.new_param("X", tx, inner, "in")
            Y = h.new_param("Y", ty, inner, "out")
            loops = self.loops(len(inner), extents=inner)
            d = self.header(h, 1, loops)
            cx = _Ctx(h, loops, [X], ch)
            ix = ", ".join(lp.var for lp in loops)
            if ch.chance(0.5):
                self.write_ew(h, cx, (Y, ix), d)
            else:
                self.write_red(h, cx, f"{Y.name}[{ix}]", ty, d)
        A = fn.new_param("A", tx, (M,) + inner, "in")
        D = (fn.new_local("T", ty, (M,) + inner) if ch.chance(0.5) else
             fn.new_param("O", ty, (M,) + inner, "out"))
        i = self.var(0)
        fn.emit(1, f"for {i} in range({M}):")
        fn.emit(2, f"{h.name}({A.name}[{i}], {D.name}[{i}])")
        self.last_local = D if D.kind == "local" else None

    def st_call_ret(self, fn: Fn) -> None:
        """``D[i] = r(A[i])`` with ``r`` returning a scalar reduction."""
        ch = self.ch
        M, n = ch.integer(1, 6), ch.integer(1, 8)
        tx = self.ty()
        rty = ch.choice(["int32", "int16"])
        key = (n, tx, rty)
        h = self._helper("ret", key)
        if h is None:
            h = self._new_helper("ret", key)
            X = h.new_param("X", tx, (n,), "in")
            acc = self.fresh("acc")
            h.emit(1, f"{acc}: {rty} = 0")
            loops = self.loops(1, extents=(n,))
            d = self.header(h, 1, loops)
            self.write_red(h, _Ctx(h, loops, [X], ch), acc, rty, d)
            h.ret, h.ret_stmt = rty, f"return {acc}"
        A = fn.new_param("A", tx, (M, n), "in")
        ty = self.ty()
        D = fn.new_local("T", ty, (M,)) if ch.chance(0.5) else fn.new_param("O", ty, (M,), "out")
        i = self.var(0)
        fn.emit(1, f"for {i} in range({M}):")
        if ch.chance(0.3):
            fn.emit(2, f"{D.name}[{i}] += {h.name}({A.name}[{i}])")
        else:
            fn.emit(2, f"{D.name}[{i}] = {h.name}({A.name}[{i}])")
        self.last_local = D if D.kind == "local" else None

    def st_call_whole(self, fn: Fn) -> None:
        """``h(A, D)`` at the top level, ``h`` a 2-D nest (elementwise or reduction)."""
        ch = self.ch
        shape = (ch.integer(1, 6), ch.integer(1, 6))
        tx, ty = self.ty(), self.ty()
        key = (shape, tx, ty)
        h = self._helper("whole", key)
        if h is None:
            h = self._new_helper("whole", key)
            X = h.new_param("X", tx, shape, "in")
            Y = h.new_param("Y", ty, shape, "out")
            loops = self.loops(2, extents=shape)
            if ch.chance(0.5):
                d = self.header(h, 1, loops)
                self.write_ew(h, _Ctx(h, loops, [X], ch), (Y, f"{loops[0].var}, {loops[1].var}"),
                              d)
            else:  # Y[i, j] = sum_k X[i, k]  (row sums broadcast)
                k = Lp(self.fresh("k"), 0, shape[1], red=True)
                d = self.header(h, 1, loops + [k])
                self.write_red(h, _Ctx(h, loops + [k], [X], ch),
                               f"{Y.name}[{loops[0].var}, {loops[1].var}]", ty, d)
        A = self._matrix(fn, shape) if ch.chance(0.5) else fn.new_param("A", tx, shape, "in")
        if A.ty != tx:
            A = fn.new_param("A", tx, shape, "in")
        D = fn.new_local("T", ty, shape) if ch.chance(0.5) else fn.new_param("O", ty, shape, "out")
        fn.emit(1, f"{h.name}({A.name}, {D.name})")
        self.last_local = D if D.kind == "local" else None

    # ---------------------------------------------------------------- kernel
    def kernel(self) -> "Case":
        ch = self.ch
        top = self.top
        if ch.chance(0.25):
            top.new_param("s", ch.choice(["int32", "int8"]), (), "scalar")
            self.features.add("scalar_param")
        for _ in range(ch.integer(1, self.max_stages)):
            self.stage(top)
        # observability: return the last local result (or copy it to an output)
        last = self.last_local
        if top.ret is None and last is not None and ch.chance(0.6):
            top.ret, top.ret_stmt = last.decl(), f"return {last.name}"
            self.features.add("return_array")
        elif last is not None:
            o = top.new_param("O", last.ty, last.shape, "out")
            loops = self.loops(len(last.shape), extents=last.shape)
            d = self.header(top, 1, loops)
            ix = ", ".join(lp.var for lp in loops)
            top.emit(d, f"{o.name}[{ix}] = {last.name}[{ix}]")
        if not any(p.kind == "out" for p in top.params) and top.ret is None:
            o = top.new_param("O", "int32", (1,), "out")
            top.emit(1, f"{o.name}[0] = 1")
        srcs = [h.source() for h, _, _ in self.helpers] + [top.source()]
        src = _HEADER + "\n\n" + "\n\n".join(srcs)
        return Case(src, "kernel", list(top.params), top.ret, set(self.features))


# ====================================================================== cases

_TMP: list = []
_ids = itertools.count()


def _tmpdir() -> str:
    if not _TMP:
        d = tempfile.mkdtemp(prefix="allo_sched_")
        _TMP.append(d)
        atexit.register(shutil.rmtree, d, True)
    return _TMP[0]


def _import_source(src: str):
    stem = f"sched_kernel_{os.getpid()}_{next(_ids)}"
    path = os.path.join(_tmpdir(), stem + ".py")
    with open(path, "w") as fh:
        fh.write(src)
    spec = importlib.util.spec_from_file_location(stem, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[stem] = mod
    spec.loader.exec_module(mod)
    return mod


@dataclass
class Case:
    source: str
    top: str
    params: list
    ret: str | None
    features: set = field(default_factory=set)
    ret_shape: tuple | None = None  # a reshape of the returned buffer changes its shape
    schedule: list = field(default_factory=list)  # applied primitive calls (code lines)
    rejected: list = field(default_factory=list)  # (code line, category)
    _fn: object = None

    def fn(self):
        if self._fn is None:
            self._fn = getattr(_import_source(self.source), self.top)
        return self._fn

    def customize(self):
        import allo_rtl as allo

        return allo.customize(self.fn())

    def make_inputs(self, seed: int) -> list:
        rng = np.random.default_rng(seed)
        out = []
        mode = seed % 3
        for p in self.params:
            lo, hi = RANGE[p.ty]
            if mode == 1:  # small values (no wrap-around everywhere)
                lo, hi = max(lo, -9), min(hi, 9)
            if p.shape:
                a = rng.integers(lo, hi, p.shape, endpoint=True, dtype=np.int64)
                if mode == 2:  # sprinkle edge values
                    mask = rng.random(p.shape) < 0.3
                    a[mask] = rng.choice([RANGE[p.ty][0], RANGE[p.ty][1], 0, -1 if
                                          RANGE[p.ty][0] < 0 else 1], mask.sum())
                out.append(a.astype(NP[p.ty]))
            else:
                out.append(int(rng.integers(lo, hi, endpoint=True)))
        return out

    def schedule_code(self) -> str:
        lines = list(self.schedule)
        return "\n".join(lines) if lines else "pass  # (no primitive applied)"

    def reproducer(self, inputs=None, target="sim") -> str:
        ins = ""
        if inputs is not None:
            ins = "\n".join(
                f"{p.name} = np.array({a.tolist()!r}, dtype=np.{a.dtype})"
                if isinstance(a, np.ndarray) else f"{p.name} = {a!r}"
                for p, a in zip(self.params, inputs))
        args = ", ".join(p.name for p in self.params)
        rej = "".join(f"# rejected ({cat}): {line}\n" for line, cat in self.rejected)
        return (f"# ---- kernel (save as kern.py) ----\n{self.source}\n"
                f"# ---- schedule ----\nimport numpy as np\nimport allo_rtl as allo\n"
                f"from kern import {self.top}\n"
                f"s0 = allo.customize({self.top})\ns = allo.customize({self.top})\n"
                f"L = lambda f, b, l: s.get_loops(f)[b][l]\n"
                f"{self.schedule_code()}\n{rej}"
                f"# ---- inputs ----\n{ins}\n"
                f"# ---- expected: original on the interpreter; observed: scheduled on "
                f"{target} ----\n"
                f"def run(sch, target):\n"
                f"    args = [np.copy(a) if isinstance(a, np.ndarray) else a for a in "
                f"[{args}]]\n"
                f"    return args, sch.build(target=target)(*args)\n"
                f"print('expected', run(s0, 'sim'))\nprint('observed', run(s, '{target}'))\n")


# ====================================================================== IR inspection

def _cint(e):
    if isinstance(e, Const) and isinstance(e.value, (int, np.integer)) and not isinstance(
            e.value, bool):
        return int(e.value)
    return None


def _const_bounds(s: For) -> bool:
    return _cint(s.lb) is not None and _cint(s.ub) is not None


def _trip(s: For):
    lb, ub = _cint(s.lb), _cint(s.ub)
    if lb is None or ub is None:
        return None
    return len(range(lb, ub, s.step))


@dataclass
class _LoopInfo:
    func: str
    band: str
    loop: For
    anc: list  # enclosing For (outermost first)
    top: object  # the top-level statement of the function containing it


def _loops(module) -> list:
    out = []
    for fname, f in module.funcs.items():
        for top in f.body:
            band = top.band if isinstance(top, For) else ""

            def walk(body, anc, band=band, top=top):
                for s in body:
                    if isinstance(s, For):
                        out.append(_LoopInfo(fname, band, s, list(anc), top))
                        walk(s.body, anc + [s])
                    elif isinstance(s, If):
                        walk(s.then, anc)
                        walk(s.orelse, anc)
                    elif isinstance(s, While):
                        walk(s.body, anc)

            walk([top], [])
    return out


def _addressable(infos: list) -> list:
    """Loops a handle ``(func, band, name)`` resolves to uniquely."""
    count: dict = {}
    for x in infos:
        k = (x.func, x.band, x.loop.name)
        count[k] = count.get(k, 0) + 1
    return [x for x in infos if x.band and count[(x.func, x.band, x.loop.name)] == 1]


def _has_load(e) -> bool:
    return any(isinstance(x, Load) for x in walk_exprs(e))


def _assigned(body) -> set:
    out = set()
    for s in walk_stmts(body):
        if hasattr(s, "name") and not isinstance(s, (For, Store)):
            out.add(s.name)
        if isinstance(s, For):
            out.add(s.var)
    return out


def _next_perfect(s: For):
    """The loop perfectly nested in ``s`` (through pure guards), or None."""
    body = s.body
    while True:
        if len(body) == 1 and isinstance(body[0], For):
            return body[0]
        if (len(body) == 1 and isinstance(body[0], If) and not body[0].orelse
                and not _has_load(body[0].cond)
                and not ({x.name for x in walk_exprs(body[0].cond) if isinstance(x, Var)}
                         & _assigned(body[0].then))):
            body = body[0].then
            continue
        return None


def _chains(infos: list) -> list:
    """Maximal perfect chains of addressable constant-bound loops (outermost first)."""
    addr = {id(x.loop): x for x in _addressable(infos)}
    chains = []
    seen = set()
    for x in infos:
        if id(x.loop) in seen or id(x.loop) not in addr or not _const_bounds(x.loop):
            continue
        ch = [x]
        while True:
            nxt = _next_perfect(ch[-1].loop)
            if nxt is None or id(nxt) not in addr or not _const_bounds(nxt):
                break
            ch.append(addr[id(nxt)])
        for y in ch:
            seen.add(id(y.loop))
        if len(ch) >= 2:
            chains.append(ch)
    return chains


def _cost(stmts, in_pipe=False) -> int:
    """Static size estimate of the lowered code (replication by unroll / pipeline)."""
    n = 0
    for s in stmts:
        if isinstance(s, For):
            pipe = bool(s.attrs.get("pipeline"))
            body = _cost(s.body, in_pipe or pipe)
            trip = _trip(s)
            t = 16 if trip is None else trip
            u = s.attrs.get("unroll")
            if in_pipe or u == 0 or s.attrs.get("parallel"):
                mult = t
            elif u and u > 1:
                mult = min(t, u + t % u)
            else:
                mult = 1
            n += 1 + mult * body
        elif isinstance(s, If):
            n += 1 + _cost(s.then, in_pipe) + _cost(s.orelse, in_pipe)
        elif isinstance(s, While):
            n += 1 + _cost(s.body, in_pipe)
        else:
            n += 1 + sum(1 for e in stmt_exprs(s) for x in walk_exprs(e) if isinstance(x, Load))
    return n


def module_cost(module) -> int:
    return sum(_cost(f.body) for f in module.funcs.values())


#: at most this many banks per partitioned array (design size / build time)
MAX_BANKS = 64


def _h(x: _LoopInfo) -> str:
    return f'L("{x.func}", "{x.band}", "{x.loop.name}")'


def _tensors(module) -> list:
    """(func, name, shape, is_param, decl) of every tensor."""
    out = []
    for fname, f in module.funcs.items():
        for p in f.params:
            if p.is_tensor:
                out.append((fname, p.name, tuple(p.shape), True, p))
        for s in walk_stmts(f.body):
            if isinstance(s, Decl) and s.shape:
                out.append((fname, s.name, tuple(s.shape), False, s))
    return out


def _buf(ch: Chooser, module, func: str, name: str) -> str:
    if func == module.top and ch.chance(0.15) and name.isidentifier():
        return f"s.{name}"
    return f'"{func}:{name}"'


# ====================================================================== documented errors

#: (category, regex on AlloError.msg): restrictions stated by the primitives' docstrings and
#: error hints (allo_rtl/schedule/{loops,memory}.py, allo_rtl/lower/prepare.py)
DOCUMENTED = [
    ("not a perfect nest", r"are not perfectly nested"),
    ("guarded bounds read memory", r"read memory under a guard"),
    ("reorder: bound depends on a moved loop", r"^reorder: the bounds of loop .* depend on"),
    ("reorder: bounds read modified values", r"read values the nest modifies"),
    ("non-constant bounds", r"non-constant bounds"),
    ("loops not nested", r"are not nested in one another|not consecutive nested loops"),
    ("compute_at: different bounds", r"^compute_at: .* have different bounds"),
    ("compute_at: depth mismatch", r"^compute_at: producer loop .* is at depth"),
    ("compute_at: would change the result", r"^compute_at: .*fusing would change the result"),
    ("compute_at: calls", r"^compute_at: the producer or the consumer calls a function"),
    ("compute_at: consumer not directly nested", r"^compute_at: consumer loop .* is not "
                                                 r"directly inside"),
    ("compute_at: producer after consumer", r"^compute_at: the producer band .* comes after"),
    ("inline: early return", r"^inline: .* returns before its end"),
    ("inline: Stateful", r"^inline: .*Stateful"),
    ("partition: factor exceeds dim", r"^partition: .*(exceeds the size|has only \d+ elements)"),
    ("partition: layout conflict", r"^partition: .*(conflicts|is not allowed)"),
    ("reshape: parameter", r"^reshape: .* is a parameter"),
    ("reshape: partitioned", r"^reshape: .* is already partitioned"),
    ("reshape: call/return/subview", r"^reshape.*(passed to a call|receives the result|"
                                      r"copied from by a subview|is returned by|subview of)"),
    ("buffer/reuse: non-affine index", r"cannot analyse the index"),
    ("buffer/reuse: loop-invariant parts differ", r"do not share the loop-invariant part"),
    ("buffer/reuse: declared inside the loop", r"is declared inside loop"),
    ("buffer/reuse: window outside the array", r"outside its dimension of size"),
    ("buffer/reuse: whole-array use", r"used as a whole array"),
    ("buffer_at: not accessed", r"^buffer_at: .* is not accessed inside loop"),
    ("reuse_at: non-constant bounds or step", r"^reuse_at: loop .* must have constant bounds "
                                              r"and step 1"),
    ("reuse_at: written in the loop", r"^reuse_at: .* is written inside loop"),
    ("reuse_at: not read", r"^reuse_at: .* is not read inside loop"),
    ("reuse_at: window dimension", r"^reuse_at: .* (does not use|uses) loop variable"),
    ("reuse_at: non-unit stride", r"only unit-stride windows"),
    # RTL target (allo_rtl/lower/prepare.py)
    ("rtl: nested pipelines", r"is pipelined inside pipelined loop"),
    ("rtl: pipelined loop with non-constant inner loop", r"must be fully unrolled, which "
                                                          r"needs constant bounds"),
    ("rtl: pipelined loop contains call/while/return", r"^pipelined loop .* contains"),
    ("rtl: unroll needs constant bounds", r"^unroll= on loop .* needs constant bounds"),
    ("rtl: unsupported", r"not supported by the RTL target"),
    ("rtl: partitioned dim indexed by a call subview", r"is partitioned in a dimension that "
                                                        r"the call to .* indexes"),
    ("rtl: register array passed to a call", r"completely partitioned into registers and "
                                             r"cannot be passed"),
    ("rtl: call result in a partitioned array", r"is stored in partitioned array .* does not "
                                                r"support yet"),
    ("rtl: one array passed to two parameters", r"passes array .* to two array parameters"),
    # RTL target (allo_rtl/lower/banks.py)
    ("rtl: partitioned subview dim", r"is partitioned in a dimension that the call to"),
    ("rtl: register array passed to a call", r"completely partitioned into registers"),
    ("rtl: partitioned call result", r"partitioned array .* which the RTL target does not"),
]
_DOC = [(c, re.compile(r)) for c, r in DOCUMENTED]


def classify_error(e: AlloError) -> str | None:
    """The documented restriction ``e`` reports, or None (an undocumented error)."""
    for cat, rx in _DOC:
        if rx.search(e.msg):
            return cat
    return None


class UndocumentedError(AssertionError):
    pass


# ====================================================================== schedules


class _Sched:
    """Random legal primitive steps on a Schedule (see module docstring)."""

    def __init__(self, s, ch: Chooser, case: Case, cost_cap: int):
        self.s, self.ch, self.case, self.cap = s, ch, case, cost_cap
        self.noreorder: set = set()  # functions with reuse buffers (carried dependences)
        self.ns = {"s": s, "L": lambda f, b, l: s.get_loops(f)[b][l]}

    @property
    def module(self):
        return self.s.module

    def run(self, steps: int) -> None:
        for _ in range(steps):
            opts = self.options()
            if not opts:
                return
            kind = self.ch.weighted(opts)
            self.pending = None
            step = getattr(self, f"p_{kind}")()
            if step is None:
                continue
            self.apply(kind, step, self._after)

    def _after(self):
        if self.pending and self.pending[0] == "ret_shape":
            self.case.ret_shape = self.pending[1]

    def apply(self, kind: str, code: str, after=None) -> None:
        try:
            exec(compile(code, "<schedule>", "exec"), self.ns)  # noqa: S102 - our own code
        except AlloError as e:
            cat = classify_error(e)
            if cat is None:
                raise UndocumentedError(
                    f"undocumented AlloError from `{code}`: {e.msg}\n"
                    + self.case.reproducer()) from e
            self.case.rejected.append((code, cat))
            return
        except Exception as e:  # a compiler bug: report with the case
            raise AssertionError(f"{type(e).__name__} from `{code}`: {e}\n"
                                 + self.case.reproducer()) from e
        self.case.schedule.append(code)
        self.case.features.add(f"prim_{kind}")
        if after is not None:
            after()

    # ---------------------------------------------------------------- options
    def options(self) -> list:
        m = self.module
        infos = _loops(m)
        addr = _addressable(infos)
        opts = []
        if addr:
            opts += [("split", 4), ("unroll", 2), ("pipeline", 3), ("buffer_at", 2),
                     ("parallel", 1)]
            if any(_const_bounds(x.loop) and x.loop.step == 1 for x in addr):
                opts.append(("reuse_at", 3))
        chains = _chains(infos)
        if any(c[0].func not in self.noreorder for c in chains):
            opts.append(("reorder", 4))
        if chains:
            opts.append(("fuse", 2))
        if _tensors(m):
            opts.append(("partition", 3))
            if any(not t[3] for t in _tensors(m)):
                opts.append(("reshape", 1))
        if len(m.funcs) > 1:
            opts.append(("inline", 3))
        if self._compute_at_cands(lambda xs: xs[0]):
            opts.append(("compute_at", 5))
        return opts

    # ---------------------------------------------------------------- loops
    def p_split(self):
        ch = self.ch
        addr = [x for x in _addressable(_loops(self.module)) if len(x.anc) < 6]
        if not addr:
            return None
        x = ch.choice(addr)
        f = ch.integer(1, 6)
        return f"s.split({_h(x)}, {f})"

    def p_reorder(self):
        ch = self.ch
        chains = [c for c in _chains(_loops(self.module)) if c[0].func not in self.noreorder]
        if not chains:
            return None
        c = ch.choice(chains)
        sub = ch.subset(c, 2)
        if [id(x) for x in sub] == [id(x) for x in sorted(sub, key=c.index)] and len(sub) > 1:
            sub = list(reversed(sub)) if ch.chance(0.7) else sub
        return f"s.reorder({', '.join(_h(x) for x in sub)})"

    def p_fuse(self):
        ch = self.ch
        chains = _chains(_loops(self.module))
        if not chains:
            return None
        c = ch.choice(chains)
        a = ch.integer(0, len(c) - 2)
        b = ch.integer(a + 2, min(len(c), a + 3))
        return f"s.fuse({', '.join(_h(x) for x in c[a:b])})"

    def _fits(self, loop: For, attrs: dict) -> bool:
        old = dict(loop.attrs)
        loop.attrs.update(attrs)
        try:
            return module_cost(self.module) <= self.cap
        finally:
            loop.attrs.clear()
            loop.attrs.update(old)

    def p_unroll(self):
        ch = self.ch
        cands = [x for x in _addressable(_loops(self.module)) if _const_bounds(x.loop)]
        if not cands:
            return None
        x = ch.choice(cands)
        f = ch.choice([0, 2, 3, 4])
        if not self._fits(x.loop, {"unroll": f}):
            return None
        return f"s.unroll({_h(x)}, factor={f})" if f or ch.chance(0.5) else f"s.unroll({_h(x)})"

    def p_parallel(self):
        ch = self.ch
        cands = [x for x in _addressable(_loops(self.module)) if _const_bounds(x.loop)]
        if not cands:
            return None
        x = ch.choice(cands)
        if not self._fits(x.loop, {"unroll": 0, "parallel": True}):
            return None
        return f"s.parallel({_h(x)})"

    def _pipelinable(self, x: _LoopInfo) -> bool:
        if any(a.attrs.get("pipeline") for a in x.anc):
            return False
        for s in walk_stmts(x.loop.body):
            if isinstance(s, (CallStmt, While, Return)):
                return False
            if isinstance(s, For) and (s.attrs.get("pipeline") or not _const_bounds(s)):
                return False
        return True

    def p_pipeline(self):
        ch = self.ch
        cands = [x for x in _addressable(_loops(self.module)) if self._pipelinable(x)]
        if not cands:
            return None
        x = ch.choice(cands)
        ii = ch.integer(1, 3)
        if not self._fits(x.loop, {"pipeline": ii}):
            return None
        rew = ", rewind=True" if ch.chance(0.15) else ""
        if ii == 1 and not rew and ch.chance(0.5):
            return f"s.pipeline({_h(x)})"
        return f"s.pipeline({_h(x)}, initiation_interval={ii}{rew})"

    def p_inline(self):
        ch = self.ch
        m = self.module
        callees = [n for n in m.funcs if n != m.top]
        if not callees:
            return None
        name = None if ch.chance(0.3) else ch.choice(callees)
        if name is None:
            self._inherit_noreorder(list(m.funcs))
            return "s.inline()"
        self._inherit_noreorder([name])
        return f's.inline("{name}")'

    def _inherit_noreorder(self, names):
        if any(n in self.noreorder for n in names):
            self.noreorder.update(self.module.funcs)  # conservatively: every function

    def _compute_at_cands(self, pick) -> list:
        """(producer loop, consumer loop) pairs at the same depth of two bands with equal
        constant bounds down to that depth; ``pick`` chooses among sibling inner loops."""
        m = self.module
        addr = {id(x.loop): x for x in _addressable(_loops(m))}
        cands = []
        for fname, f in m.funcs.items():
            bands = [s for s in f.body if isinstance(s, For) and s.band]
            for pi, P in enumerate(bands):
                pch = [P]  # the producer chain must be perfect
                while (nx := _next_perfect(pch[-1])) is not None:
                    pch.append(nx)
                if any(isinstance(s, CallStmt) for s in walk_stmts([P])):
                    continue  # documented: inline the callees first
                for C in bands[pi + 1:]:
                    if any(isinstance(s, CallStmt) for s in walk_stmts([C])):
                        continue
                    c = C
                    for d, p in enumerate(pch):
                        if d > 0:
                            inner = [s for s in c.body if isinstance(s, For)]
                            if not inner:
                                break
                            c = pick(inner) if len(inner) > 1 else inner[0]
                        if not (p.step == c.step and _cint(p.lb) is not None
                                and _cint(p.lb) == _cint(c.lb) and _cint(p.ub) == _cint(c.ub)):
                            break
                        if id(p) in addr and id(c) in addr:
                            cands.append((addr[id(p)], addr[id(c)]))
        return cands

    def p_compute_at(self):
        ch = self.ch
        cands = self._compute_at_cands(ch.choice)
        if not cands:
            return None
        p, c = ch.choice(cands)
        if p.func in self.noreorder:
            self.noreorder.add(c.func)
        return f"s.compute_at({_h(p)}, {_h(c)})"

    # ---------------------------------------------------------------- memory
    def p_partition(self):
        ch = self.ch
        m = self.module
        ts = _tensors(m)
        fname, name, shape, _, _ = ch.choice(ts)
        f = m.funcs[fname]
        from allo_rtl.schedule.memory import layout_of

        lay = layout_of(f, name)
        # the RTL target banks call arguments only in the dims the callee receives and
        # does not pass register arrays (documented in allo_rtl/lower/banks.py)
        fixed = max([len(a.prefix) for s in walk_stmts(f.body) if isinstance(s, CallStmt)
                     for a in s.args if getattr(a, "buf", None) == name] or [-1])
        free = [d for d in range(max(1, fixed + 1), len(shape) + 1) if d not in lay]
        if not free:
            return None
        dim = 0 if (not lay and fixed <= 0 and ch.chance(0.25)) else ch.choice(free)
        kind = ch.choice([0, 1, 2]) if fixed < 0 else ch.choice([1, 2])
        dims = range(1, len(shape) + 1) if dim == 0 else [dim]
        nmax = min(shape[d - 1] for d in dims)
        factor = ch.integer(1, nmax) if kind else ch.integer(0, 2)
        new = dict(lay)
        for d in dims:
            new[d] = ("complete", 0) if kind == 0 else ("b/c", factor)
        banks = int(np.prod([shape[d - 1] if k == "complete" else f
                             for d, (k, f) in new.items()]))
        if banks > MAX_BANKS:
            return None
        kw = []
        ptype = ch.choice([str(kind), ["allo.Partition.Complete", "allo.Partition.Block",
                                       "allo.Partition.Cyclic"][kind]])
        self.ns.setdefault("allo", __import__("allo_rtl"))
        if kind or ch.chance(0.5):
            kw.append(f"partition_type={ptype}")
        if dim or ch.chance(0.5):
            kw.append(f"dim={dim}")
        if kind or factor:
            kw.append(f"factor={factor}")
        return f"s.partition({_buf(ch, m, fname, name)}{''.join(', ' + k for k in kw)})"

    def _accessed(self, x: _LoopInfo, reads_only: bool) -> list:
        """Tensors accessed inside loop ``x`` and declared outside it."""
        f = self.module.funcs[x.func]
        inside = {id(s) for s in walk_stmts(x.loop.body)}
        decls = {s.name for s in walk_stmts(f.body) if isinstance(s, Decl) and s.shape
                 and id(s) not in inside}
        decls |= {p.name for p in f.params if p.is_tensor}
        loads, stores = set(), set()
        for s in walk_stmts(x.loop.body):
            if isinstance(s, Store):
                stores.add(s.buf)
            for e in stmt_exprs(s):
                for y in walk_exprs(e):
                    if isinstance(y, Load):
                        loads.add(y.buf)
        bufs = (loads - stores) if reads_only else (loads | stores)
        return sorted(bufs & decls)

    def p_buffer_at(self):
        ch = self.ch
        cands = [(x, b) for x in _addressable(_loops(self.module))
                 for b in self._accessed(x, False)]
        if not cands:
            return None
        x, b = ch.choice(cands)
        return f"s.buffer_at({_buf(ch, self.module, x.func, b)}, {_h(x)})"

    def p_reuse_at(self):
        ch = self.ch
        cands = [(x, b) for x in _addressable(_loops(self.module))
                 if _const_bounds(x.loop) and x.loop.step == 1
                 for b in self._accessed(x, True) if self._windowed(x, b) or ch.chance(0.1)]
        if not cands:
            return None
        # prefer reuse buffers (chained 2-D windows) and stencil inputs
        x, b = ch.choice(cands)
        self.noreorder.add(x.func)
        return f"s.reuse_at({_buf(ch, self.module, x.func, b)}, {_h(x)})"

    def _windowed(self, x: _LoopInfo, buf: str) -> bool:
        """Every read of ``buf`` in ``x`` uses ``x``'s variable in exactly one index."""
        v = x.loop.var
        for s in walk_stmts(x.loop.body):
            for e in stmt_exprs(s):
                for y in walk_exprs(e):
                    if isinstance(y, Load) and y.buf == buf:
                        uses = [i for i in y.index if any(
                            isinstance(z, Var) and z.name == v for z in walk_exprs(i))]
                        if len(uses) != 1:
                            return False
        return True

    def p_reshape(self):
        ch = self.ch
        m = self.module
        def passed(f, name):
            return any(isinstance(s, CallStmt) and (name in s.outs or any(
                getattr(a, "buf", None) == name for a in s.args)) for s in walk_stmts(f.body))

        # locals (parameters, partitioned buffers and call arguments are documented refusals)
        ts = [t for t in _tensors(m) if not t[3]
              and not m.funcs[t[0]].attrs.get("partition", {}).get(t[1])
              and not passed(m.funcs[t[0]], t[1])]
        if not ts:
            return None
        fname, name, shape, _, _ = ch.choice(ts)
        n = int(np.prod(shape))
        divs = [d for d in range(1, n + 1) if n % d == 0]
        new = []
        rest = n
        for _ in range(ch.integer(1, 3)):
            d = ch.choice([d for d in divs if rest % d == 0])
            new.append(d)
            rest //= d
        if rest > 1:
            new.append(rest)
        if tuple(new) == shape:
            new = [n]
        if fname == m.top and any(isinstance(s, Return) and any(
                getattr(v, "buf", None) == name for v in s.values)
                for s in walk_stmts(m.funcs[fname].body)):
            # documented: the result then has the new shape
            self.pending = ("ret_shape", tuple(new))
        return f"s.reshape({_buf(ch, m, fname, name)}, {tuple(new)!r})"


def random_schedule(s, ch: Chooser, case: Case, steps: int, cost_cap: int = 600) -> None:
    """Apply up to ``steps`` random legal primitives to schedule ``s`` (recorded in
    ``case.schedule``; documented refusals in ``case.rejected``)."""
    _Sched(s, ch, case, cost_cap).run(steps)


def gen_case(ch: Chooser, max_stages: int = 3) -> Case:
    return KernelGen(ch, max_stages=max_stages).kernel()


# ====================================================================== checking


class Mismatch(AssertionError):
    pass


def _copy(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _compare(case: Case, inputs, want, got, what: str, target: str) -> None:
    from tests.kernel_check import assert_bitexact

    try:
        for p, a, b in zip(case.params, want[0], got[0]):
            if p.shape:
                assert_bitexact(a, b, f"argument {p.name}")
        w, g = want[1], got[1]
        if case.ret_shape is not None and isinstance(g, np.ndarray):
            assert g.shape == case.ret_shape, f"reshaped result: shape {g.shape} vs " \
                f"{case.ret_shape}"
            g = g.reshape(np.shape(w))
        assert_bitexact(w, g, "return value")
    except AssertionError as e:
        raise Mismatch(f"{what}: {e}\n{case.reproducer(inputs, target)}") from None


def check(ch: Chooser, target: str = "sim", steps: int | None = None, n_inputs: int = 2,
          cost_cap: int | None = None, max_stages: int = 3) -> Case:
    """Generate a case with ``ch``, schedule it randomly (1..8 steps unless ``steps``),
    and :func:`verify` it. Returns the case."""
    case = gen_case(ch, max_stages=max_stages)
    fn = case.fn()
    import allo_rtl as allo

    s1 = allo.customize(fn)
    if steps is None:
        steps = ch.integer(1, 8)
    cap = cost_cap if cost_cap is not None else (300 if target == "rtl" else 800)
    random_schedule(s1, ch, case, steps, cap)
    seeds = [ch.integer(0, 2**31 - 1) for _ in range(n_inputs)]
    verify(case, s1, target, seeds)
    return case


def replay(case: Case, lines: list):
    """A schedule of ``case`` with the primitive calls ``lines`` applied (recorded)."""
    s = case.customize()
    ns = {"s": s, "L": lambda f, b, l: s.get_loops(f)[b][l], "allo": __import__("allo_rtl")}
    for code in lines:
        exec(compile(code, "<schedule>", "exec"), ns)  # noqa: S102 - our own code
        case.schedule.append(code)
    return s


def verify(case: Case, s1, target: str, seeds) -> None:
    """interpreter(s1) == interpreter(original) (== RTL(s1) for ``target="rtl"``), bit for
    bit, on the inputs of every seed (arrays written in place and the return value). Sets
    ``case.rtl_skipped`` to the category when the RTL target refuses the schedule with a
    documented error. Raises :class:`Mismatch` (with a reproducer) on a difference."""
    s0 = case.customize()
    try:
        m0 = s0.build(target="sim")
        m1 = s1.build(target="sim")
    except AlloError as e:
        raise AssertionError(f"build failed: {e}\n{case.reproducer()}") from e
    except Exception as e:
        raise AssertionError(f"{type(e).__name__} building for sim: {e}\n"
                             f"{case.reproducer()}") from e
    m2 = None
    case.rtl_skipped = None
    if target == "rtl":
        try:
            m2 = s1.build(target="rtl")
        except AlloError as e:
            cat = classify_error(e)
            if cat is None:
                raise UndocumentedError(f"undocumented AlloError building RTL: {e.msg}\n"
                                        f"{case.reproducer()}") from e
            case.rtl_skipped = cat
        except Exception as e:
            raise AssertionError(f"{type(e).__name__} building RTL: {e}\n"
                                 f"{case.reproducer()}") from e
    for seed in seeds:
        inputs = case.make_inputs(seed)
        a0 = _copy(inputs)
        r0 = m0(*a0)
        a1 = _copy(inputs)
        try:
            r1 = m1(*a1)
        except Exception as e:
            raise Mismatch(f"scheduled kernel raised {type(e).__name__} on the interpreter: "
                           f"{e}\n{case.reproducer(inputs)}") from e
        _compare(case, inputs, (a0, r0), (a1, r1), "interpreter(scheduled) != "
                 "interpreter(original)", "sim")
        if m2 is not None:
            a2 = _copy(inputs)
            try:
                r2 = m2(*a2)
            except Exception as e:
                raise Mismatch(f"RTL raised {type(e).__name__}: {e}\n"
                               f"{case.reproducer(inputs, 'rtl')}") from e
            _compare(case, inputs, (a0, r0), (a2, r2), "RTL(scheduled) != "
                     "interpreter(original)", "rtl")


def main(argv=None) -> None:  # pragma: no cover - manual use
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("seed", type=int)
    ap.add_argument("--rtl", action="store_true")
    ap.add_argument("--steps", type=int, default=None)
    a = ap.parse_args(argv)
    case = check(RandomChooser(a.seed), "rtl" if a.rtl else "sim", a.steps)
    print(case.reproducer())
    print("# features:", ", ".join(sorted(case.features)))
    print("# OK")


if __name__ == "__main__":  # pragma: no cover
    main()
