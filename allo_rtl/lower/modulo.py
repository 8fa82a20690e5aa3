"""Modulo scheduling of pipelined loops.

A pipelined loop (``pipeline=`` / ``s.pipeline``; a perfect nest around it is
flattened, see :func:`cfg.pipe_levels`) starts a new iteration every ``II``
cycles. One iteration's operations are scheduled like a basic block
(:mod:`dag`: ASAP, operator chaining, memory latency, program-order memory
rules), with three extra rules:

* **ports modulo II**: a memory's read (write) port serves at most one access
  per cycle *slot* ``t mod II`` (a modulo reservation table); a body needing
  more accesses than ``II`` slots raises the II;
* **scalar recurrences**: a variable read at time ``r`` (the earliest read of
  its old value) and written at ``w`` must satisfy ``w - r <= II`` so the next
  iteration reads the new value (when ``w - r == II`` the next iteration takes
  the value being written through a bypass multiplexer, so a recurrence through
  a unit of latency ``L`` runs at ``II = L``);
* **memory recurrences**: for each store and each other access of the same
  memory, the smallest iteration distance ``d >= 1`` at which their addresses
  can coincide is computed from the index expressions over the flattened
  iteration space (exact enumeration: affine forms, or any integer expression
  of the loop variables such as ``i % 16`` evaluated point by point;
  conservative ``d = 1`` when an index depends on other run-time values). A store at ``ts`` and a later iteration's load at
  ``tl`` need ``ts - tl + 1 <= d * II`` (the load must see the write); a load
  and a later store need ``tl - ts + 1 <= d * II`` (a read and a write of one
  address never share a cycle: memories have no collision logic); two stores
  keep their order.

The requested II is a lower bound: the smallest II >= the request satisfying
all rules is used, and when it is larger the schedule carries the reason (the
lowering warns and the report shows requested vs achieved).

Hardware (emitted by :mod:`kernel`): one FSM state runs the whole pipeline. An
iteration is a token in a shift register ``valid[0..D-1]`` (``D`` = schedule
depth); an operation at time ``t`` fires when ``valid[t]``. Values consumed
``k`` cycles after they are produced are taken from a ``k``-stage delay line
(the schedule never stalls, except that the whole kernel freezes for a cycle
while a stream put/get cannot complete, see :mod:`kernel`). The loop variables hold the iteration being
issued and advance (with carries across flattened levels) at every issue.
Cycles of one invocation: ``(trip - 1) * II + D``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..ir.nodes import Assign, Const, If, walk_stmts
from .affine import affine
from .dag import BlockSchedule, Leaf, _Sched

__all__ = ["PipeSchedule", "schedule_pipeline"]

_ENUM_LIMIT = 1 << 16  # iteration points enumerated exactly for dependence distances


@dataclass(eq=False)
class PipeSchedule(BlockSchedule):
    """A pipelined loop's schedule: one FSM state (``length == 1``); the operations' times
    are relative to the iteration's issue."""

    pipe: object = None  # cfg.PipeInfo
    requested: int = 1
    ii: int = 1
    depth: int = 1
    trip: object = None  # int, or None when the outer trip count is dynamic
    reason: str = ""  # why ii > requested
    reg_time: dict = field(default_factory=dict)  # var -> time its old value is captured
    write_time: dict = field(default_factory=dict)  # var -> time its register is written
    ivs: tuple = ()  # loop variables of the flattened levels (outer first)

    def cycles(self):
        """Cycles of one invocation (None when the trip count is dynamic)."""
        if self.trip is None:
            return None
        return (self.trip - 1) * self.ii + self.depth


class _NeedII(Exception):
    def __init__(self, ii, reason):
        self.ii, self.reason = ii, reason


class _Body:
    """A stand-in block holding one iteration's statements."""

    def __init__(self, block, stmts):
        self.id, self.label, self.stmts, self.term = block.id, block.label, stmts, None
        self.name = block.name
        self.pipe = block.pipe


class _ModSched(_Sched):
    def __init__(self, block, fn, ii, ivs, invariant, reg_start):
        super().__init__(_Body(block, block.pipe.body), fn)
        self.ii = ii
        self.reg_start = reg_start  # var -> earliest cycle its old value is read
        self.ivs = ivs
        self.invariant = invariant
        self.aff: dict = {}
        self.defs: dict = {}  # var -> IR value assigned unconditionally in the body

    def reg(self, name):
        n = super().reg(name)
        n.cycle = n.ready = self.reg_start.get(name, 0)
        return n

    def earliest_load(self):
        return self.reg_start.get(("load", len(self.loads)), 0)

    def claim(self, table, buf, c):
        busy = table.setdefault(buf, set())
        if len(busy) >= self.ii:
            if table is self.rbusy or table is self.wbusy:
                kind = "read" if table is self.rbusy else "write"
                why = f"{len(busy) + 1} {kind}s of '{buf}' per iteration on its one {kind} port"
            else:
                kind = "get" if table is self.gbusy else "put"
                why = (f"{len(busy) + 1} {kind}s of stream '{buf}' per iteration (one element "
                       "per cycle)")
            raise _NeedII(self.ii + 1, why)
        while c % self.ii in busy:
            c += 1
        busy.add(c % self.ii)
        return c

    def access_info(self, index):
        out = []
        for i in index:
            a = _affine(i, self.aff, self.ivs, self.invariant)
            out.append(a if a is not None else _IndexExpr(i, dict(self.defs)))
        return tuple(out)

    def stmt(self, s, pred):
        if isinstance(s, Assign):
            self.aff[s.name] = (_affine(s.value, self.aff, self.ivs, self.invariant)
                                if pred is None else None)
            self.defs[s.name] = s.value if pred is None else None
        elif isinstance(s, If):
            self._forget(s)
        super().stmt(s, pred)
        if isinstance(s, If):
            self._forget(s)

    def _forget(self, s):
        for x in walk_stmts(s.then + s.orelse):
            if isinstance(x, Assign):
                self.aff[x.name] = self.defs[x.name] = None

    def term(self, t, path, pred):
        if t is not None:  # the pipeline controller, not a terminator, ends the loop
            super().term(t, path, pred)


# ---------------------------------------------------------------- affine indices


def _affine(e, env, ivs, invariant):
    """``e`` as an affine form over loop variables and loop-invariant scalars, or None."""
    def lookup(name):
        if name in env:
            return env[name]
        return ({name: 1}, 0) if name in ivs or name in invariant else None

    return affine(e, lookup)


@dataclass(eq=False)
class _IndexExpr:
    """A non-affine index: the IR expression and the body's unconditional assignments
    before it (evaluated point by point over the iteration space)."""

    expr: object
    defs: dict


class _NoEval(Exception):
    pass


def _eval_points(e, defs, vals, n, memo):
    """Integer IR expression ``e`` evaluated at every iteration point (numpy int64, wrapped
    to each operation's type as the hardware does); :class:`_NoEval` if it depends on
    anything but loop variables and constants, or is not plain integer arithmetic."""
    from ..ir.nodes import BinOp, Cast, UnOp, Var
    from ..ir.types import Fixed, Float, UFixed

    def wrap(x, t):
        if isinstance(t, (Float, Fixed, UFixed)):
            raise _NoEval
        if t.bits >= 63:
            return x
        mask = (1 << t.bits) - 1
        if getattr(t, "signed", None) is False or type(t).__name__ == "UInt":
            return x & mask
        h = 1 << (t.bits - 1)
        return ((x + h) & mask) - h

    def ev(x):
        if isinstance(x, Const):
            if not isinstance(x.value, int):
                raise _NoEval
            return np.full(n, x.value, dtype=np.int64)
        if isinstance(x, Var):
            if x.name in vals:
                return vals[x.name]
            if defs.get(x.name) is None:
                raise _NoEval
            if x.name not in memo:
                memo[x.name] = ev(defs[x.name])
            return memo[x.name]
        if isinstance(x, Cast):
            return wrap(ev(x.value), x.type)
        if isinstance(x, UnOp) and x.op == "neg":
            return wrap(-ev(x.operand), x.type)
        if not isinstance(x, BinOp):
            raise _NoEval
        a, b = ev(x.lhs), ev(x.rhs)
        op = x.op
        if op in ("div", "floordiv", "mod") and not b.all():
            raise _NoEval  # division by zero: leave it to the conservative rule
        if op in ("shl", "shr") and ((b < 0).any() or (b >= 63).any()):
            raise _NoEval
        r = {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
             "and": lambda: a & b, "or": lambda: a | b, "xor": lambda: a ^ b,
             "shl": lambda: a << b, "shr": lambda: a >> b,
             "floordiv": lambda: np.floor_divide(a, b), "mod": lambda: np.fmod(a, b),
             "div": lambda: np.sign(a) * np.sign(b) * (np.abs(a) // np.abs(b)),
             "min": lambda: np.minimum(a, b), "max": lambda: np.maximum(a, b)}.get(op)
        if r is None:
            raise _NoEval
        return wrap(r(), x.type)

    return ev(e)


def _space(levels, outer_trip):
    """Loop-variable values over the flattened iteration space: {var: array}."""
    trips = [outer_trip] + [len(range(lv.lb.value, lv.ub.value, lv.step)) for lv in levels[1:]]
    grids = np.indices(trips).reshape(len(trips), -1)
    out = {}
    for k, lv in enumerate(levels):
        lb = lv.lb.value if isinstance(lv.lb, Const) else 0
        out[lv.var] = lb + lv.step * grids[k].astype(np.int64)
    return out


def min_distance(first, later, levels, trip, dmax: int):
    """The smallest d in [1, dmax] such that access ``later`` of iteration n + d may touch
    the element that access ``first`` touches in iteration n; None when none can."""
    if first is None or later is None or any(x is None for x in first + later):
        return 1
    ivs = {lv.var for lv in levels}
    same_coeffs = True
    if any(isinstance(x, _IndexExpr) for x in first + later):
        if trip is None:
            return 1
        same_coeffs, outer_all = False, True
    else:
        outer_all = False
    for (ca, _), (cb, _) in ([] if outer_all else zip(first, later)):
        sym_a = {k: v for k, v in ca.items() if k not in ivs}
        sym_b = {k: v for k, v in cb.items() if k not in ivs}
        if sym_a != sym_b:
            return 1  # different loop-invariant terms: unknown relation
        if {k: v for k, v in ca.items() if k in ivs} != {k: v for k, v in cb.items() if k in ivs}:
            same_coeffs = False
    inner = 1
    for lv in levels[1:]:
        inner *= len(range(lv.lb.value, lv.ub.value, lv.step))
    if same_coeffs:
        # the relation only depends on differences: a few outer iterations show every pattern
        outer = dmax // inner + 2
        if trip is not None:
            outer = min(outer, trip // inner)
    elif trip is not None:
        outer = trip // inner
    else:
        return 1
    if outer * inner > _ENUM_LIMIT or outer <= 0:
        return 1
    vals = _space(levels, outer)
    n = outer * inner

    def evaluate(aff):
        if isinstance(aff, _IndexExpr):
            return _eval_points(aff.expr, aff.defs, vals, n, {})
        co, c = aff
        acc = np.full(n, c, dtype=np.int64)
        for k, v in co.items():
            if k in vals:
                acc += v * vals[k]
        return acc

    try:
        fa = [evaluate(a) for a in first]
        fb = [evaluate(b) for b in later]
    except _NoEval:
        return 1
    for d in range(1, min(dmax, n - 1) + 1):
        eq = np.ones(n - d, dtype=bool)
        for x, y in zip(fa, fb):
            eq &= x[: n - d] == y[d:]
        if eq.any():
            return d
    return None


# ---------------------------------------------------------------- scheduling


def _consumer_times(sched) -> dict:
    """node -> earliest cycle a consumer reads it."""
    first: dict = {}

    def use(n, c):
        if n is not None and (n not in first or c < first[n]):
            first[n] = c

    for n in sched.nodes:
        for a in n.args:
            use(a, n.cycle)
    for st in sched.stores:
        for a in (st.addr, st.value, st.pred):
            use(a, st.cycle)
    for so in sched.sops:
        use(so.node if so.kind == "put" else None, so.cycle)
        use(so.pred, so.cycle)
    return first


def _check(sched, ii, levels, trip, ivs):
    """(required II, reason, reg_time, write_time, later) for a schedule built at ``ii``;
    ``later``: start cycles to retry with for the reads on recurrences too long for ``ii``
    (variable name, or ``("load", k)`` for the k-th load), read as late as their consumers
    allow."""
    sched_regs = {x.value: x for x in sched.nodes if x.kind == "reg"}
    need, reason = ii, ""
    depth = max(1, sched.length)
    first = _consumer_times(sched)
    reg_time, write_time, excess = {}, {}, {}
    for v in ivs:
        reg_time[v] = 0
    for v, n in sched.writes.items():
        reg = sched_regs.get(v)
        w = n.ready
        if reg is not None and reg in first:
            r = first[reg]
            reg_time[v] = r
            w = max(w, r)
            # w - r == ii: the next iteration reads the value as it is written (bypass)
            if w - r > ii:
                excess[v] = n.ready - ii
            if w - r > need:
                need, reason = w - r, (f"recurrence through '{v}' ({w - r} cycles from "
                                       "reading it to its new value)")
        write_time[v] = w
    # memory dependences between iterations
    dmax = depth + 2
    bufs = {st.buf for st in sched.stores}
    for buf in sorted(bufs):
        stores = [st for st in sched.stores if st.buf == buf]
        loads = [ld for ld in sched.loads if ld.value == buf and ld.last_use >= 0]
        for st in stores:
            for ld in loads:
                d = min_distance(st.index, ld.extra, levels, trip, dmax)
                if d is not None:
                    k = math.ceil((st.cycle - ld.cycle + 1) / d)
                    use = first.get(ld, ld.ready)
                    late = use - (ld.ready - ld.cycle)  # load just in time for its first use
                    if k > ii and late > ld.cycle:
                        excess[("load", sched.loads.index(ld))] = late
                    if k > need:
                        need, reason = k, (f"'{buf}' is read {d} iteration(s) after it is "
                                           f"written ({st.cycle - ld.cycle + 1} cycles from read "
                                           "to write)")
                d = min_distance(ld.extra, st.index, levels, trip, dmax)
                if d is not None:  # strictly before: no read/write collision logic
                    k = math.ceil((ld.cycle - st.cycle + 1) / d)
                    if k > need:
                        need, reason = k, f"'{buf}' is written {d} iteration(s) after it is read"
            for st2 in stores:
                if st2 is st:
                    continue
                d = min_distance(st.index, st2.index, levels, trip, dmax)
                if d is not None:
                    k = math.ceil((st.cycle - st2.cycle + 1) / d)
                    if k > need:
                        need, reason = k, f"writes to '{buf}' must stay in order"
    return need, reason, reg_time, write_time, excess


def schedule_pipeline(block, fn) -> PipeSchedule:
    """Modulo-schedule pipelined loop ``block`` (``block.pipe``) at the smallest legal II
    at or above the requested one."""
    info = block.pipe
    levels = info.levels
    ivs = tuple(lv.var for lv in levels)
    assigned = {x.name for x in walk_stmts(info.body) if isinstance(x, Assign)}
    invariant = {v for v in fn.var_types if v not in assigned and v not in ivs}
    trip = None
    if isinstance(levels[0].lb, Const) and isinstance(levels[0].ub, Const):
        trip = len(range(levels[0].lb.value, levels[0].ub.value, levels[0].step))
        for lv in levels[1:]:
            trip *= len(range(lv.lb.value, lv.ub.value, lv.step))
    requested = max(1, int(info.ii))
    ii, reason = requested, ""
    reg_start: dict = {}
    rounds = 0
    while True:
        sched = _ModSched(block, fn, ii, ivs, invariant, dict(reg_start))
        try:
            body = sched.run()
        except _NeedII as e:
            ii, reason = e.ii, e.reason
            continue
        need, why, reg_time, write_time, excess = _check(body, ii, levels, trip, ivs)
        if need <= ii:
            break
        # ASAP reads recurrence variables as early as possible; read them as late as the
        # II allows (their new value's time - II + 1) and retry before raising the II
        later = dict(reg_start)
        for v, c in excess.items():
            later[v] = max(later.get(v, 0), c)
        if later != reg_start and rounds < 4 * len(body.writes) + 4:
            reg_start, rounds = later, rounds + 1
            continue
        ii, reason, reg_start, rounds = max(need, ii + 1), why, {}, 0
    depth = max(1, body.length)
    for v, w in write_time.items():
        depth = max(depth, w + 1)
    return PipeSchedule(block, body.nodes, body.stores, body.loads, body.writes,
                        [Leaf("goto", (), target=block.term.target)], 1, body.sops,
                        pipe=info, requested=requested, ii=ii, depth=depth, trip=trip,
                        reason=reason if ii > requested else "", reg_time=reg_time,
                        write_time=write_time, ivs=ivs)
