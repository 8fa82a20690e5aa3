"""Per-block dataflow graph and its cycle schedule (the HLS core for basic blocks).

A block's statements (and its threaded terminator tree) become SSA nodes:
constants, register reads, combinational operators, address computations and
memory loads. Nodes are scheduled as soon as possible, in program order,
while they are created:

* combinational operators *chain* within one clock cycle while the estimated
  delay stays within the budget (:func:`ops.budget`: the target clock period,
  :func:`ops.target_clock`, minus register overheads), otherwise they start
  the next cycle from registered operands;
* a load issues in cycle ``c`` on its memory's read port (one read per memory
  per cycle) and its data is available in ``c + 2`` (:func:`ops.mem_latency`:
  the block RAM, then a register on its read data; ``c + 3`` at target clocks
  where memory inputs are registered too);
* a store uses the write port (one per memory per cycle); memory order is kept
  per memory: a load after a store to the same memory issues at least one cycle
  later (it must see the write), a store is always later than a preceding load
  of that memory and never earlier than a preceding store (memories are
  synthesized without read/write collision logic: a read and a write of one
  address never share a cycle);
* a load of the address the block last stored to (unconditionally) uses the
  stored value instead of reading the memory (store-to-load forwarding);
* a stream ``put``/``get`` takes its stream's write/read side for the cycle (one
  element per stream per cycle, program order per stream; a get after a put in
  program order is strictly later); a got element is available in its cycle;
* scalar variables are registers written in the block's last cycle ``L``; reads
  later in the same block use the new value directly (forwarding).

Branches inside the block (``If`` statements without loops or calls) are
if-converted: both sides are scheduled, stores are predicated, and variables
merge with multiplexers. The result, :class:`BlockSchedule`, says for every
node the cycle its value is ready and which cycles consume it, which is all the
emitter needs to place registers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import AlloError
from ..ir.nodes import (Assign, BinOp, BufRef, Const, Decl, If, Load, Select, Store, StreamGet,
                        StreamPut, StreamRef, UnOp, Var, expr_children)
from ..ir.types import Index, UInt
from . import ops
from .cfg import Branch, Call, Goto, Ret, Seq
from .units import IntDivider, unit_for

__all__ = ["Node", "BlockSchedule", "schedule_block", "StoreOp", "StreamOp", "Leaf"]

_BOOL = UInt(1)


@dataclass(eq=False)
class Node:
    kind: str  # const | reg | op | addr | load | unit | sget
    type: Any
    args: tuple = ()
    ir: Any = None  # op: the IR expression (its fields give the operator)
    value: Any = None  # const: raw value; reg: variable name; addr/load: buffer name
    extra: Any = None  # addr: (strides, addr width)
    cycle: int = 0  # cycle the node's operation happens (load: issue)
    ready: int = 0  # cycle its result is valid
    t: float = 0.0  # ns into the ready cycle when the result settles
    last_use: int = -1  # latest consuming cycle
    id: int = 0


@dataclass(eq=False)
class StoreOp:
    buf: str
    addr: Node
    value: Node
    pred: Optional[Node]
    cycle: int
    index: Any = None  # dependence info for pipelines (lower/modulo.py)


@dataclass(eq=False)
class StreamOp:
    """A ``put`` (``node``: the value) or ``get`` (``node``: the element read, kind
    ``sget``) on stream ``stream`` in ``cycle``. The kernel freezes while it cannot
    complete (lower/kernel.py)."""

    kind: str  # put | get
    stream: str
    node: Node
    pred: Optional[Node]
    cycle: int


@dataclass(eq=False)
class Leaf:
    """A terminator leaf: ``kind`` goto | ret | call, with its path condition nodes."""

    kind: str
    path: tuple  # ((cond node, polarity), ...)
    target: Any = None  # goto: Block; call: next Block
    values: list = field(default_factory=list)  # ret: result nodes (None for tensors)
    call: Any = None  # CallStmt
    args: list = field(default_factory=list)  # call: scalar arg nodes / BufRef offset nodes


@dataclass(eq=False)
class BlockSchedule:
    block: Any
    nodes: list
    stores: list
    loads: list
    writes: dict  # var -> node (register value at the end of the block)
    leaves: list
    length: int  # number of cycles (states): last cycle L = length - 1
    sops: list = field(default_factory=list)  # StreamOp, in program order


class _Sched:
    def __init__(self, block, fn):
        self.block = block
        self.fn = fn  # lowering context: var_types, buf_info(buf) -> (shape, type, addr_width)
        self.nodes: list = []
        self.cse: dict = {}
        self.env: dict = {}
        self.written: set = set()
        self.stores: list = []
        self.loads: list = []
        self.rbusy: dict = {}
        self.wbusy: dict = {}
        self.last_store: dict = {}
        self.last_load: dict = {}
        self.epoch: dict = {}
        self.fwd: dict = {}  # buf -> (address node, value node) of its last store
        self.leaves: list = []
        self.sinks: list = []
        self.sops: list = []
        self.gbusy: dict = {}  # stream -> cycles with a get (one element per cycle)
        self.pbusy: dict = {}
        self.last_sop: dict = {}  # (kind, stream) -> cycle of the last op
        self.last_put = -1  # cycle of the last put into any stream

    # ------------------------------------------------------------ nodes

    def add(self, n: Node) -> Node:
        n.id = len(self.nodes)
        self.nodes.append(n)
        return n

    def const(self, raw, t) -> Node:
        key = ("const", raw, t.name)
        if key not in self.cse:
            self.cse[key] = self.add(Node("const", t, value=raw))
        return self.cse[key]

    def var(self, name: str) -> Node:
        if name in self.env:
            return self.env[name]
        if name.startswith("%"):
            raise AssertionError(f"SSA temporary {name} read before written")
        return self.reg(name)

    def reg(self, name: str) -> Node:
        """The variable's register (its value at the start of the block)."""
        key = ("reg", name)
        if key not in self.cse:
            self.cse[key] = self.add(Node("reg", self.fn.var_types[name], value=name))
        return self.cse[key]

    @staticmethod
    def avail(args) -> tuple:
        c, t = 0, 0.0
        for a in args:
            if a is None:
                continue
            if a.ready > c:
                c, t = a.ready, a.t
            elif a.ready == c:
                t = max(t, a.t)
        return c, t

    def op(self, ir, args: tuple, delay: float) -> Node:
        if args and all(a.kind == "const" for a in args):
            v = _fold(ir, [a.value for a in args])
            if v is not None:
                return self.const(v, ir.type)
        key = ("op", type(ir).__name__, getattr(ir, "op", None), ir.type.name,
               tuple(getattr(x, "type", None) and x.type.name for x in expr_children(ir))
               if not isinstance(ir, _Synthetic) else (),
               getattr(ir, "width", None), tuple(a.id for a in args))
        if key in self.cse:
            return self.cse[key]
        c, t = self.avail(args)
        if not ops.fits(t + delay) and t > 0:
            c, t = c + 1, 0.0
        n = self.add(Node("op", ir.type, args, ir=ir, cycle=c, ready=c, t=t + delay))
        self.cse[key] = n
        return n

    def synth(self, kind: str, args: tuple, t) -> Node:
        """A synthetic operator (predicate and/not, merge multiplexer), simplified when an
        operand is constant."""
        consts = [a.kind == "const" for a in args]
        if kind == "sel" and consts[0]:
            return args[1] if args[0].value else args[2]
        if kind == "sel" and args[1] is args[2]:
            return args[1]
        if kind == "and" and (consts[0] or consts[1]):
            k, other = (0, 1) if consts[0] else (1, 0)
            return args[other] if args[k].value else args[k]
        if kind == "and" and args[0] is args[1]:
            return args[0]
        if kind == "not" and consts[0]:
            return self.const(0 if args[0].value else 1, _BOOL)
        if kind == "and":
            ir = _Synthetic(BinOp("land", None, None, _BOOL))
        elif kind == "not":
            ir = _Synthetic(UnOp("not", None, _BOOL))
        else:
            ir = _Synthetic(Select(None, None, None, t))
        return self.op(ir, args, ops.LEVEL_NS)

    def pred_and(self, p, c, pol=True):
        if not pol:
            c = self.synth("not", (c,), _BOOL)
        return c if p is None else self.synth("and", (p, c), _BOOL)

    # ------------------------------------------------------------ expressions

    def expr(self, e) -> Node:
        if isinstance(e, Const):
            return self.const(e.value, e.type)
        if isinstance(e, Var):
            return self.var(e.name)
        if isinstance(e, Load):
            return self.load(e)
        args = tuple(self.expr(x) for x in expr_children(e))
        try:
            unit = unit_for(e)
        except ops.Unsupported as err:
            raise self.unsupported(err, e) from None
        if unit is not None and not (isinstance(unit, IntDivider)
                                     and all(a.kind == "const" for a in args)):
            return self.unit(e, args, unit)
        return self.op(e, args, ops.delay_ns(e))

    def unsupported(self, err, e):
        """An AlloError at the kernel line of ``e`` (else of the function)."""
        f = getattr(self.fn, "f", None)
        return AlloError(str(err), getattr(e, "loc", None) or getattr(f, "loc", None),
                         "use target='sim' for this kernel for now")

    def unit(self, e, args: tuple, unit) -> Node:
        """A pipelined multi-cycle operator (lower/units.py): issues when its operands are
        ready, result ``unit.latency`` cycles later (the FSM never stalls inside a block)."""
        key = ("unit", unit.key, tuple(a.id for a in args))
        if key in self.cse:
            return self.cse[key]
        c, t = self.avail(args)
        if t > 0 and t + unit.input_ns > ops.unit_budget():
            c += 1
        n = self.add(Node("unit", e.type, args, ir=e, extra=unit, cycle=c,
                          ready=c + unit.latency, t=unit.output_ns))
        self.cse[key] = n
        return n

    def addr(self, buf: str, index) -> Node:
        shape, _, aw = self.fn.buf_info(buf)
        idx = tuple(self.expr(i) for i in index)
        strides, s = [], 1
        for n in reversed(shape):
            strides.append(s)
            s *= n
        strides.reverse()
        key = ("addr", buf, tuple(i.id for i in idx))
        if key in self.cse:
            return self.cse[key]
        # Power-of-two strides: the address is a concatenation of the (in-range) indices.
        nonconst = [st for st, i in zip(strides, idx) if i.kind != "const"]
        pow2 = all(st & (st - 1) == 0 for st in strides)
        delay = 0.0
        if not pow2:  # constant multiplies (DSP) and adds
            muls = any(st & (st - 1) for st, i in zip(strides, idx) if i.kind != "const")
            delay = (ops.DSP_NS if muls else 0.0) + ops._carry(aw) * max(1, len(nonconst) - 1)
        c, t = self.avail(idx)
        if not ops.fits(t + delay) and t > 0:
            c, t = c + 1, 0.0
        n = self.add(Node("addr", UInt(aw), idx, value=buf, extra=(tuple(strides), aw, tuple(shape)),
                          cycle=c, ready=c, t=t + delay))
        self.cse[key] = n
        return n

    def load(self, e: Load) -> Node:
        a = self.addr(e.buf, e.index)
        fwd = self.fwd.get(e.buf)
        if fwd is not None and fwd[0] is a and fwd[1].type.name == e.type.name:
            return fwd[1]  # the value this block just stored there: no memory read
        key = ("load", e.buf, a.id, self.epoch.get(e.buf, 0))
        if key in self.cse:
            return self.cse[key]
        c, t = self.avail((a,))
        if not ops.fits_mem(t) and t > 0:
            c += 1
        c = max(c, self.last_store.get(e.buf, -1) + 1, self.earliest_load())
        c = self.claim(self.rbusy, e.buf, c)
        self.last_load[e.buf] = max(self.last_load.get(e.buf, 0), c)
        n = self.add(Node("load", e.type, (a,), value=e.buf, cycle=c, ready=c + ops.mem_latency(),
                          t=ops.MEM_CLK_TO_OUT, extra=self.access_info(e.index)))
        self.cse[key] = n
        self.loads.append(n)
        return n

    def claim(self, table: dict, buf: str, c: int) -> int:
        """The first cycle >= ``c`` where ``buf``'s port in ``table`` is free; claims it."""
        busy = table.setdefault(buf, set())
        while c in busy:
            c += 1
        busy.add(c)
        return c

    def access_info(self, index):
        """Extra information kept on memory accesses (the pipeline scheduler's hook)."""
        return None

    def earliest_load(self) -> int:
        """Lower bound on the next load's issue cycle (the pipeline scheduler's hook)."""
        return 0

    # ------------------------------------------------------------ statements

    def stmts(self, body, pred):
        for s in body:
            self.stmt(s, pred)

    def stmt(self, s, pred):
        if isinstance(s, Assign):
            v = self.expr(s.value)
            if not s.name.startswith("%"):
                self.written.add(s.name)
            self.env[s.name] = v
        elif isinstance(s, Decl):
            if not s.shape:
                init = s.init if s.init is not None else Const(0, s.type)
                self.stmt(Assign(s.name, init, loc=s.loc), pred)
        elif isinstance(s, Store):
            self.store(s, pred)
        elif isinstance(s, (StreamGet, StreamPut)):
            self.stream_op(s, pred)
        elif isinstance(s, If):
            c = self.expr(s.cond)
            c = c if c.type == _BOOL else self.op(
                _Synthetic(BinOp("ne", None, None, _BOOL)), (c, self.const(0, c.type)),
                ops._lut_tree((c.type.bits + 3) // 4))
            env0 = dict(self.env)
            self.stmts(s.then, self.pred_and(pred, c))
            env_t = self.env
            self.env = dict(env0)
            self.stmts(s.orelse, self.pred_and(pred, c, False))
            self.merge(c, env_t, self.env)
        else:
            raise AssertionError(f"unexpected statement in block: {s!r}")

    def merge(self, c, env_t, env_f):
        out = {}
        for k in dict.fromkeys([*env_t, *env_f]):  # ordered: Verilog must be deterministic
            a = env_t.get(k)
            b = env_f.get(k)
            if a is None or b is None:
                if k.startswith("%"):
                    continue  # a temporary of one side only
                a = a or self.reg(k)
                b = b or self.reg(k)
            out[k] = a if a is b else self.synth("sel", (c, a, b), a.type)
        self.env = out

    def store(self, s: Store, pred):
        a = self.addr(s.buf, s.index)
        v = self.expr(s.value)
        c, t = self.avail((a, v, pred))
        if not ops.fits_mem(t) and t > 0:
            c += 1
        c = max(c, self.last_load.get(s.buf, -1) + 1, self.last_store.get(s.buf, -1) + 1)
        c = self.claim(self.wbusy, s.buf, c)
        self.last_store[s.buf] = c
        self.epoch[s.buf] = self.epoch.get(s.buf, 0) + 1
        # store-to-load forwarding (unconditional stores only)
        self.fwd[s.buf] = (a, v) if pred is None else None
        self.stores.append(StoreOp(s.buf, a, v, pred, c, self.access_info(s.index)))

    def stream_op(self, s, pred):
        """A put or get: one per stream per cycle, in program order per stream; a get is
        strictly later than every earlier put (the element it waits for may come back
        through other kernels from that put), a put may share a get's cycle."""
        kind = "put" if isinstance(s, StreamPut) else "get"
        v = self.expr(s.value) if kind == "put" else None
        c, t = self.avail((v, pred))
        if kind == "put" and not ops.fits_mem(t) and t > 0:
            c += 1
        c = max(c, self.last_sop.get((kind, s.stream), -1) + 1)
        if kind == "get":
            c = max(c, self.last_put + 1)
        c = self.claim(self.pbusy if kind == "put" else self.gbusy, s.stream, c)
        self.last_sop[(kind, s.stream)] = c
        if kind == "put":
            self.last_put = max(self.last_put, c)
            self.sops.append(StreamOp("put", s.stream, v, pred, c))
            return
        n = self.add(Node("sget", self.fn.stream_elem(s.stream), value=s.stream, cycle=c, ready=c,
                          t=ops.MEM_CLK_TO_OUT))
        self.sops.append(StreamOp("get", s.stream, n, pred, c))
        if s.dst is not None:
            self.written.add(s.dst)
            self.env[s.dst] = n

    # ------------------------------------------------------------ terminator

    def term(self, t, path: tuple, pred):
        if isinstance(t, Seq):
            self.stmts(t.stmts, pred)
            return self.term(t.then, path, pred)
        if isinstance(t, Goto):
            self.leaves.append(Leaf("goto", path, target=t.target))
            return
        if isinstance(t, Branch):
            c = self.expr(t.cond)
            known = None
            if c.kind == "const":
                known = bool(c.value)
            else:
                for pc, pol in path:
                    if pc is c:
                        known = pol
            if known is not None:  # decided by a constant or an enclosing branch
                return self.term(t.t if known else t.f, path, pred)
            self.sinks.append(c)
            env0 = dict(self.env)
            self.term(t.t, path + ((c, True),), self.pred_and(pred, c))
            env_t = self.env
            self.env = dict(env0)
            self.term(t.f, path + ((c, False),), self.pred_and(pred, c, False))
            self.merge(c, env_t, self.env)
            return
        if isinstance(t, Ret):
            vals = [None if v is None else self.expr(v) for v in t.values]
            self.sinks += [v for v in vals if v is not None]
            self.leaves.append(Leaf("ret", path, values=vals))
            return
        if isinstance(t, Call):
            args = []
            for a in t.call.args:
                if isinstance(a, BufRef):
                    shape, _, aw = self.fn.buf_info(a.buf)
                    if a.prefix:
                        full = list(a.prefix) + [Const(0, Index())] * (len(shape) - len(a.prefix))
                        args.append(self.addr(a.buf, full))
                    else:
                        args.append(None)
                elif isinstance(a, StreamRef):
                    args.append(None)  # connected during the call (lower/kernel.py)
                else:
                    args.append(self.expr(a))
            self.sinks += [a for a in args if a is not None]
            self.leaves.append(Leaf("call", path, target=t.next.target, call=t.call, args=args))
            return
        raise AssertionError(f"unexpected terminator {t!r}")

    def run(self) -> BlockSchedule:
        self.stmts(self.block.stmts, None)
        self.term(self.block.term, (), None)
        writes = {}
        for v in sorted(self.written):
            n = self.env[v]
            if not (n.kind == "reg" and n.value == v):
                writes[v] = n
        last = 0
        for n in list(writes.values()) + self.sinks:
            last = max(last, n.ready)
        for s in self.stores:
            last = max(last, s.cycle)
        for n in self.loads:
            last = max(last, n.cycle)
        for so in self.sops:
            last = max(last, so.cycle)
        # consumers: record the latest cycle each node is needed
        for n in self.nodes:
            for a in n.args:
                if a is not None:
                    a.last_use = max(a.last_use, n.cycle)
        for s in self.stores:
            for a in (s.addr, s.value, s.pred):
                if a is not None:
                    a.last_use = max(a.last_use, s.cycle)
        for so in self.sops:
            for a in (so.node if so.kind == "put" else None, so.pred):
                if a is not None:
                    a.last_use = max(a.last_use, so.cycle)
        for n in list(writes.values()) + self.sinks:
            n.last_use = max(n.last_use, last)
        for leaf in self.leaves:
            for c, _ in leaf.path:
                c.last_use = max(c.last_use, last)
        return BlockSchedule(self.block, self.nodes, self.stores, self.loads, writes,
                             self.leaves, last + 1, self.sops)


def _fold(ir, vals):
    """Constant-fold an integer operator (None when not folded)."""
    from ..ir import numerics as N
    from ..ir.nodes import Cast
    from ..ir.types import Float

    t = ir.type
    if isinstance(ir, _Synthetic) or isinstance(t, Float):
        return None
    if any(isinstance(getattr(x, "type", None), Float) for x in expr_children(ir)):
        return None
    if isinstance(ir, Cast):
        return N.cast(vals[0], ir.value.type, t)
    if isinstance(ir, BinOp):
        a, b = vals
        op = ir.op
        cmp = {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b, "eq": a == b, "ne": a != b,
               "land": bool(a) and bool(b), "lor": bool(a) or bool(b)}
        if op in cmp:
            return int(cmp[op])
        if ops._fr(t) or ops._fr(ir.lhs.type) or ops._fr(ir.rhs.type):
            return None
        res = {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
               "and": lambda: a & b, "or": lambda: a | b, "xor": lambda: a ^ b,
               "min": lambda: min(a, b), "max": lambda: max(a, b)}.get(op)
        return None if res is None else N.wrap(res(), t)
    return None


class _Synthetic:
    """Wraps a synthetic IR node (operands given as nodes, not IR children)."""

    def __init__(self, ir):
        self.inner = ir
        self.type = ir.type
        self.op = getattr(ir, "op", None)


def schedule_block(block, fn) -> BlockSchedule:
    """Schedule one basic block. ``fn`` provides ``var_types`` and ``buf_info``."""
    return _Sched(block, fn).run()
