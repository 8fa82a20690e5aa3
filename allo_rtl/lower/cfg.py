"""Control-flow graph of a prepared kernel function.

A function body becomes basic blocks. A block holds straight-line statements
(``Assign``, ``Store``, stream ``put``/``get``, and ``If`` statements simple
enough to be predicated: if-conversion) and ends in a *terminator tree*::

    Term = Goto(block) | Branch(cond, Term, Term) | Seq(stmts, Term)
         | Ret(values) | Call(CallStmt, Goto(next))

``Seq`` appears when a small successor block is *threaded* into its
predecessor's last cycle (loop entry/latch blocks of nested loops, joins):
that is what makes a loop nest cost no extra cycle per iteration of an outer
loop. Assignments to names starting with ``%`` are SSA temporaries (no
register): loop-bound values and next-iteration counters.

Loop lowering (``for v in range(lb, ub, step)``, ``ub`` read once at entry as
in Python)::

    pred:  %lb = lb ;  branch %lb < ub ? (v = %lb ; goto body) : goto exit
    body:  ... ; %nx = v + step ; branch %nx < ub ? (v = %nx ; goto body) : goto exit

so the loop variable keeps its last value after the loop, as in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..ir.nodes import (Assign, BinOp, CallStmt, Cast, Const, Decl, Expr, For, Function, If,
                        Load, Return, Store, StreamDecl, StreamGet, StreamPut, Var, While,
                        walk_exprs, walk_stmts)
from ..ir.transform import assigned_vars
from ..ir.types import UInt

__all__ = ["Block", "PipeInfo", "Goto", "Branch", "Seq", "Ret", "Call", "build_cfg", "term_leaves"]


@dataclass(eq=False)
class PipeInfo:
    """A pipelined loop nest: ``levels`` are the For loops flattened into one iteration
    space (outermost first; only the outermost may have a non-constant upper bound, held in
    ``ub``), ``body`` the straight-line statements of one iteration."""

    levels: list
    ub: Any  # Expr: the outermost level's (loop-invariant) upper bound
    body: list
    ii: int
    name: str
    loc: Any = None


@dataclass(eq=False)
class Block:
    id: int
    label: str = ""
    stmts: list = field(default_factory=list)
    term: Any = None
    pipe: Optional[PipeInfo] = None  # set: the block is a pipelined loop (see lower/modulo.py)

    @property
    def name(self) -> str:
        return f"b{self.id}" + (f"_{self.label}" if self.label else "")


@dataclass(eq=False)
class Goto:
    target: Block


@dataclass(eq=False)
class Branch:
    cond: Expr
    t: Any
    f: Any


@dataclass(eq=False)
class Seq:
    stmts: list
    then: Any


@dataclass(eq=False)
class Ret:
    values: list  # Expr for scalar results, None for tensor results (written via ports)
    loc: Any = None


@dataclass(eq=False)
class Call:
    call: CallStmt
    next: Goto


def term_leaves(t):
    """Yield the leaves (Goto/Ret/Call) of a terminator tree."""
    if isinstance(t, Branch):
        yield from term_leaves(t.t)
        yield from term_leaves(t.f)
    elif isinstance(t, Seq):
        yield from term_leaves(t.then)
    else:
        yield t


def _convertible(s: If) -> bool:
    """An If whose branches only assign scalars / store / put or get stream elements:
    predicated instead of branched."""
    for x in walk_stmts(s.then + s.orelse):
        if isinstance(x, Decl) and x.shape:
            return False
        if not isinstance(x, (Assign, Store, If, Decl, StreamPut, StreamGet)):
            return False
    return True


def _has_load(e) -> bool:
    return any(isinstance(x, Load) for x in walk_exprs(e))


class _Builder:
    def __init__(self, f: Function, var_types: dict):
        self.f = f
        self.var_types = var_types
        self.blocks: list = []
        self.nloop = 0
        self.cur = self.new("entry")

    def new(self, label="") -> Block:
        b = Block(len(self.blocks), label)
        self.blocks.append(b)
        return b

    def seq(self, body):
        for s in body:
            self.stmt(s)

    def stmt(self, s):
        if isinstance(s, Decl):
            if not s.shape:
                init = s.init if s.init is not None else Const(0, s.type)
                self.cur.stmts.append(Assign(s.name, init, loc=s.loc))
            return
        if isinstance(s, (Assign, Store, StreamPut, StreamGet)):
            self.cur.stmts.append(s)  # stream ops are scheduled like memory accesses
            return
        if isinstance(s, StreamDecl):
            return  # a FIFO of the component (lower/kernel.py), not a statement
        if isinstance(s, If):
            if _convertible(s):
                self.cur.stmts.append(s)
                return
            then_b = self.new("then")
            join = self.new("join")
            else_b = self.new("else") if s.orelse else join
            self.cur.term = Branch(s.cond, Goto(then_b), Goto(else_b))
            self.cur = then_b
            self.seq(s.then)
            if self.cur.term is None:
                self.cur.term = Goto(join)
            if s.orelse:
                self.cur = else_b
                self.seq(s.orelse)
                if self.cur.term is None:
                    self.cur.term = Goto(join)
            self.cur = join
            return
        if isinstance(s, For):
            return self.loop(s)
        if isinstance(s, While):
            body = self.new("while")
            exit_b = self.new("endwhile")
            self.cur.term = Branch(s.cond, Goto(body), Goto(exit_b))
            self.cur = body
            self.seq(s.body)
            if self.cur.term is None:
                self.cur.term = Branch(s.cond, Goto(body), Goto(exit_b))
            self.cur = exit_b
            return
        if isinstance(s, CallStmt):
            nxt = self.new()
            self.cur.term = Call(s, Goto(nxt))
            self.cur = nxt
            return
        if isinstance(s, Return):
            self.cur.term = Ret(list(s.values), s.loc)
            self.cur = self.new("dead")
            return
        raise AssertionError(f"unexpected statement {s!r}")

    def loop(self, s: For):
        levels = pipe_levels(s)
        if levels:
            return self.pipe_loop(levels)
        k = self.nloop
        self.nloop += 1
        vt = self.var_types[s.var]
        lb = s.lb if s.lb.type == vt else Cast(s.lb, vt)
        ub = s.ub if s.ub.type == vt else Cast(s.ub, vt)
        if not isinstance(s.ub, Const):
            names = {x.name for x in walk_exprs(s.ub) if isinstance(x, Var)}
            if _has_load(s.ub) or names & assigned_vars(s.body) or s.var in names:
                ubv = f"__ub{k}"
                self.var_types[ubv] = vt
                self.cur.stmts.append(Assign(ubv, ub))
                ub = Var(ubv, vt)
        cmp = "lt" if s.step > 0 else "gt"
        lbn, nxn = f"%lb{k}", f"%nx{k}"
        label = (s.name or s.var).replace(".", "_")
        body = self.new(label)
        exit_b = self.new(f"{label}_end")
        self.cur.stmts.append(Assign(lbn, lb))
        self.cur.term = Branch(BinOp(cmp, Var(lbn, vt), ub, UInt(1)),
                               Seq([Assign(s.var, Var(lbn, vt))], Goto(body)), Goto(exit_b))
        self.cur = body
        self.seq(s.body)
        if self.cur.term is None:
            self.cur.stmts.append(Assign(nxn, BinOp("add", Var(s.var, vt), Const(s.step, vt), vt)))
            self.cur.term = Branch(BinOp(cmp, Var(nxn, vt), ub, UInt(1)),
                                   Seq([Assign(s.var, Var(nxn, vt))], Goto(body)), Goto(exit_b))
        self.cur = exit_b


    def pipe_loop(self, levels: list):
        """A pipelined nest: the predecessor checks the trip count and initialises the loop
        variables; the pipeline block runs every iteration (see lower/modulo.py)."""
        k = self.nloop
        self.nloop += 1
        s = levels[0]
        vt = self.var_types[s.var]
        lb = s.lb if s.lb.type == vt else Cast(s.lb, vt)
        if isinstance(s.ub, Const):
            ub = Const(s.ub.value, vt)
        else:  # read once at entry, as range() does; the controller compares with it
            ubv = f"__ub{k}"
            self.var_types[ubv] = vt
            self.cur.stmts.append(Assign(ubv, s.ub if s.ub.type == vt else Cast(s.ub, vt)))
            ub = Var(ubv, vt)
        for lv in levels[1:]:
            self.var_types.setdefault(lv.var, vt)
        inner = levels[-1]
        label = (inner.name or inner.var).replace(".", "_")
        body = self.new(f"{label}_pipe")
        exit_b = self.new(f"{label}_end")
        body.pipe = PipeInfo(levels, ub, inner.body, int(inner.attrs["pipeline"]),
                             inner.name or inner.var, inner.loc)
        body.term = Goto(exit_b)
        lbn = f"%lb{k}"
        cmp = "lt" if s.step > 0 else "gt"
        init = [Assign(s.var, Var(lbn, vt))] + [
            Assign(lv.var, lv.lb if lv.lb.type == vt else Cast(lv.lb, vt)) for lv in levels[1:]]
        self.cur.stmts.append(Assign(lbn, lb))
        self.cur.term = Branch(BinOp(cmp, Var(lbn, vt), ub, UInt(1)), Seq(init, Goto(body)),
                               Goto(exit_b))
        self.cur = exit_b


def _const_trip(s: For):
    if not (isinstance(s.lb, Const) and isinstance(s.ub, Const)):
        return None
    return len(range(s.lb.value, s.ub.value, s.step))


def pipe_levels(s: For) -> list:
    """The loops of a pipeline rooted at ``s``: ``[s]`` when ``s`` is pipelined; ``[s, ...]``
    when ``s`` is a perfect nest around a pipelined loop whose inner levels have constant
    (non-zero) trip counts, which are flattened into one pipeline so consecutive runs of
    the inner loop overlap (no fill/drain per outer iteration); else ``[]``."""
    if s.attrs.get("pipeline"):
        return [s]
    if len(s.body) == 1 and isinstance(s.body[0], For) and not s.attrs.get("unroll"):
        inner = pipe_levels(s.body[0])
        if inner and all((_const_trip(lv) or 0) > 0 for lv in inner):
            return [s] + inner
    return []


def _trivial(b: Block, term) -> bool:
    """Cheap enough to thread into a predecessor's last cycle: scalar assignments only,
    and not a loop body (threading one would unroll it). ``term`` is the block's own
    (unthreaded) terminator."""
    if isinstance(term, Call) or b.pipe is not None:
        return False
    if any(isinstance(leaf, Goto) and leaf.target is b for leaf in term_leaves(term)):
        return False
    for s in b.stmts:
        if not isinstance(s, Assign) or _has_load(s.value):
            return False
    for leaf in term_leaves(term):
        if isinstance(leaf, Ret) and any(v is not None and _has_load(v) for v in leaf.values):
            return False
    return len(b.stmts) <= 8


def _thread(t, home: Block, depth: int, orig: dict):
    """Copy of terminator ``t`` with Gotos to trivial blocks replaced by their content
    (``orig``: every block's unthreaded terminator, so the result is order-independent)."""
    if isinstance(t, Branch):
        return Branch(t.cond, _thread(t.t, home, depth, orig), _thread(t.f, home, depth, orig))
    if isinstance(t, Seq):
        return Seq(t.stmts, _thread(t.then, home, depth, orig))
    if isinstance(t, Goto) and depth > 0 and t.target is not home:
        tgt = t.target
        if _trivial(tgt, orig[tgt.id]):
            return Seq(list(tgt.stmts), _thread(orig[tgt.id], home, depth - 1, orig))
    return t


def _reachable(entry: Block) -> list:
    seen, order, stack = set(), [], [entry]
    while stack:
        b = stack.pop()
        if b.id in seen:
            continue
        seen.add(b.id)
        order.append(b)
        succ = []
        for leaf in term_leaves(b.term):
            if isinstance(leaf, Goto):
                succ.append(leaf.target)
            elif isinstance(leaf, Call):
                succ.append(leaf.next.target)
        stack.extend(reversed(succ))
    return sorted(order, key=lambda b: b.id)


def build_cfg(f: Function, var_types: dict, thread_depth: int = 3) -> list:
    """Basic blocks of ``f`` (entry first), with trivial successors threaded.
    ``var_types`` (name -> type) is extended with the hidden loop-bound registers."""
    bld = _Builder(f, var_types)
    bld.seq(f.body)
    if bld.cur.term is None:
        bld.cur.term = Ret([None] * len(f.results))
    blocks = bld.blocks
    if thread_depth:
        orig = {b.id: b.term for b in blocks}
        for b in blocks:
            if b.pipe is None:  # a pipeline's exit is a plain state change
                b.term = _thread(b.term, b, thread_depth, orig)
    return _reachable(blocks[0])
