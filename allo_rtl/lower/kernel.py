"""A kernel function as an Amaranth component: FSM + datapath + memories.

Interface (:class:`KernelComponent`, one documented protocol everywhere):

* ``start`` (in): sampled while the kernel is idle; the scalar inputs are
  sampled in the same cycle (they need not be held afterwards).
* ``done`` (out): a one-cycle pulse in the kernel's last cycle. Scalar results
  ``ret<k>`` are valid in that cycle. Memory writes issued in the ``done`` cycle
  land at its closing edge. ``start`` may be raised again in the next cycle.
* per tensor parameter ``<name>`` and tensor result ``ret<k>``: a memory port set
  (:class:`MemPortSignature`): ``raddr``/``ren`` (out) with ``rdata`` (in) one
  cycle later, and ``waddr``/``wdata``/``wen`` (out). The owner of the memory
  (caller or top-level wrapper) connects it; one read and one write per cycle.
* scalar parameter ``<name>`` (in) and scalar result ``ret<k>`` (out).

Internally: state 0 is idle; every basic block owns one state per scheduled
cycle (:mod:`dag`); every call site owns a wait state and a submodule instance
of the callee's component, which drives the caller's memories (through port
multiplexers, with the subview offset added) while the caller waits.
Scalar variables are registers; local tensors are :class:`amaranth.lib.memory.Memory`
(read latency 1; constant tensors are ROMs). The read data of every memory the kernel
reads is registered once more inside the kernel (loads take :data:`ops.MEM_LATENCY`
= 2 cycles): a block RAM's raw read is most of a clock period on ECP5, and the register
right after it becomes the RAM's output register in synthesis. At target clocks of
:data:`ops.MEM_INPUT_REG_MHZ` and up, the inputs of every physical memory (this kernel's
locals, the top wrapper's argument memories) are registered as well, once, right in
front of the RAM (loads take 3 cycles, stores land a cycle later); memory ports passed
to callees stay combinational so every level sees the same latency. Memories carry
``no_rw_check`` (no read/write collision logic; the schedulers never read and write one
memory in the same cycle at possibly the same address).
"""

from __future__ import annotations

import warnings
from functools import reduce

import numpy as np
from amaranth.hdl import Cat, Const, EnableInserter, Module, Mux, Signal, unsigned
from amaranth.lib import fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from primitives.memport import MemPort

from ..errors import AlloError, AlloWarning
from ..ir.nodes import (Assign, BufRef, CallStmt, Const as IRConst, Decl, For, Function,
                        Module as IRModule, StreamDecl, Var, walk_stmts)
from ..ir.types import Index
from . import ops
from .cfg import build_cfg
from .dag import schedule_block
from .modulo import PipeSchedule, schedule_pipeline
from .prepare import ret_name

__all__ = ["MemPortSignature", "KernelComponent", "LoweredFunction", "lower_functions",
           "addr_width"]

RESERVED = {"start", "done", "clk", "rst", "hold"}

#: attributes of every memory: Yosys maps it to block RAM without the logic that emulates
#: read-old-data on a same-cycle read/write collision (the schedulers never issue one)
MEMORY_ATTRS = {"no_rw_check": 1}


def addr_width(depth: int) -> int:
    return max(1, (depth - 1).bit_length())


class MemPortSignature(MemPort):
    """A kernel's port to a memory it does not own (:class:`primitives.memport.MemPort`): a
    read port with one cycle of latency (``raddr``/``ren`` out, ``rdata`` in) and a write
    port (``waddr``/``wdata``/``wen`` out)."""

    @property
    def addr_bits(self) -> int:
        return self.addr_width

    @property
    def data_bits(self) -> int:
        return self.data_width


class BufInfo:
    """A tensor of a function: its shape, element type, flat depth and port/memory kind."""

    def __init__(self, name, shape, type_, kind, init=None):
        self.name, self.shape, self.type, self.kind, self.init = name, tuple(shape), type_, kind, init
        self.depth = int(np.prod(self.shape)) if self.shape else 1
        self.aw = addr_width(self.depth)


def port_name(name: str) -> str:
    """Port name of a kernel parameter (avoids the control port names)."""
    return f"arg_{name}" if name in RESERVED or name.startswith("ret") else name


class LoweredFunction:
    """Everything about one function that does not depend on the instance: its blocks,
    schedules, state numbering, and component signature."""

    def __init__(self, f: Function, funcs: dict, stream_dirs: dict | None = None,
                 in_region: bool = False):
        self.f = f
        self.name = f.name
        self.funcs = funcs  # already-lowered callees
        # decided while the target clock is known (elaboration happens later, outside it)
        self.mem_input_regs = ops.mem_input_regs()
        self.var_types: dict = {}
        self.bufs: dict = {}
        self.streams: dict = {}  # stream parameters and local streams -> Stream type
        self.local_streams: dict = {}
        self.stream_dirs = dict(stream_dirs or {})  # Stream parameter -> "put" | "get"
        # a kernel of a dataflow region: a `hold` input freezes it (memory arbitration)
        self.holdable = in_region
        for p in f.params:
            if p.is_stream:
                self.streams[p.name] = p.type
            elif p.is_tensor:
                self.bufs[p.name] = BufInfo(p.name, p.shape, p.type, "param")
            else:
                self.var_types[p.name] = p.type
        for k, r in enumerate(f.results):
            if r.is_tensor:
                self.bufs[ret_name(k)] = BufInfo(ret_name(k), r.shape, r.type, "ret")
        for s in walk_stmts(f.body):
            if isinstance(s, StreamDecl):
                self.streams[s.name] = self.local_streams[s.name] = s.type
            elif isinstance(s, Decl):
                if s.shape:
                    if s.name not in self.bufs:
                        kind = "rom" if s.const else "local"
                        self.bufs[s.name] = BufInfo(s.name, s.shape, s.type, kind,
                                                    s.init if s.const else None)
                else:
                    self.var_types[s.name] = s.type
            elif isinstance(s, For):
                self.var_types[s.var] = Index()
            elif isinstance(s, Assign) and not s.name.startswith("%"):
                # e.g. the variable of an unrolled loop (no For left to declare it)
                self.var_types.setdefault(s.name, s.value.type)
        self._check_types(f)
        self.loop_bits = _loop_counter_bits(f)
        self.blocks = build_cfg(f, self.var_types)
        self.scheds = _reachable_scheds([schedule_pipeline(b, self) if b.pipe else
                                         schedule_block(b, self) for b in self.blocks])
        self.pipelines = [s for s in self.scheds if isinstance(s, PipeSchedule)]
        for p in self.pipelines:
            if p.ii > p.requested and not p.pipe.name.startswith("__"):
                warnings.warn(AlloWarning(
                    f"{p.pipe.loc or f.loc}: loop '{p.pipe.name}' of {f.name}: II={p.requested} "
                    f"requested, achieved II={p.ii}: {p.reason}"), stacklevel=2)
        # state numbering: 0 = idle, then the cycles of each block, then call waits
        self.block_state: dict = {}
        n = 1
        for s in self.scheds:
            self.block_state[s.block.id] = n
            n += s.length
        self.calls = []  # (sched, leaf, state)
        for s in self.scheds:
            for leaf in s.leaves:
                if leaf.kind == "call":
                    self.calls.append((s, leaf, n))
                    n += 1
        self.nstates = n
        # stream operations that can block, or a hold input: the kernel can freeze
        self.freezable = self.holdable or any(s.sops for s in self.scheds)
        self.signature = self._signature()

    def component(self) -> "KernelComponent":
        """A new instance of this function's hardware."""
        return KernelComponent(self)

    # -- used by the block scheduler
    def buf_info(self, buf: str):
        b = self.bufs[buf]
        return b.shape, b.type, b.aw

    def stream_elem(self, name: str):
        """The element type of stream ``name`` (a parameter or a local stream)."""
        return self.streams[name].dtype

    def _check_types(self, f):
        for name, t in list(self.var_types.items()) + [(b.name, b.type) for b in self.bufs.values()]:
            try:
                ops.shape_of(t)
            except ops.Unsupported as e:
                loc = f.loc
                for s in walk_stmts(f.body):
                    if isinstance(s, Decl) and s.name == name:
                        loc = s.loc
                raise AlloError(f"{e} (variable '{name}' of {f.name})", loc,
                                "use target='sim' for this kernel until the RTL target "
                                "supports the type") from None

    def _signature(self):
        members = {"start": In(1), "done": Out(1)}
        if self.holdable:
            members["hold"] = In(1)
        for p in self.f.params:
            if p.is_stream:
                sig = stream.Signature(unsigned(p.type.bits))
                put = self.stream_dirs.get(p.name) == "put"
                members[port_name(p.name)] = Out(sig) if put else In(sig)
            elif p.is_tensor:
                b = self.bufs[p.name]
                members[port_name(p.name)] = Out(MemPortSignature(b.aw, p.type.bits))
            else:
                members[port_name(p.name)] = In(ops.shape_of(p.type))
        for k, r in enumerate(self.f.results):
            if r.is_tensor:
                b = self.bufs[ret_name(k)]
                members[f"ret{k}"] = Out(MemPortSignature(b.aw, r.type.bits))
            else:
                members[f"ret{k}"] = Out(ops.shape_of(r.type))
        return wiring.Signature(members)

    def cycles_summary(self) -> list:
        """(block name, cycles per visit) for reports."""
        return [(s.block.name, s.length) for s in self.scheds]


def _reachable_scheds(scheds: list) -> list:
    """Drop blocks that constant-folded branches made unreachable (entry stays first)."""
    by_id = {s.block.id: s for s in scheds}
    seen, stack = set(), [scheds[0].block.id]
    while stack:
        b = stack.pop()
        if b in seen:
            continue
        seen.add(b)
        stack.extend(leaf.target.id for leaf in by_id[b].leaves if leaf.target is not None)
    return [s for s in scheds if s.block.id in seen]


class KernelComponent(wiring.Component):
    """The hardware of one kernel function (see the module docstring for the protocol)."""

    def __init__(self, lowered: LoweredFunction):
        self._lowered = lowered
        super().__init__(lowered.signature)

    @property
    def lowered(self) -> LoweredFunction:
        return self._lowered

    def elaborate(self, platform):
        em = _Emitter(self._lowered, self)
        m = em.build()
        if em.frz is None:
            return m
        # a frozen cycle does not happen: every register, memory port and unit inside
        # (callees included) keeps its state; the outputs are gated in _Emitter
        return EnableInserter({"sync": ~em.frz})(m)


def register_inputs(m: Module, ports: list, prefix: str) -> list:
    """New signals driving ``ports`` one clock later (memory inputs registered in front of
    the RAM, :data:`ops.MEM_INPUT_REG_MHZ`)."""
    out = []
    for p in ports:
        q = Signal(len(p), name=f"{prefix}_{p.name.rsplit('__', 1)[-1]}_d")
        m.d.sync += p.eq(q)
        out.append(q)
    return out


class _Handle:
    """The six signals of a memory as seen by the kernel datapath."""

    def __init__(self, raddr, ren, rdata, waddr=None, wdata=None, wen=None):
        self.raddr, self.ren, self.rdata = raddr, ren, rdata
        self.waddr, self.wdata, self.wen = waddr, wdata, wen
        self.rq = None  # registered rdata (_Emitter.read_data)


def _or_tree(vals):
    """Balanced OR (a left-deep chain would be slow logic and deep recursion in Amaranth)."""
    vals = list(vals)
    if not vals:
        return Const(0)
    while len(vals) > 1:
        vals = [vals[i] | vals[i + 1] if i + 1 < len(vals) else vals[i]
                for i in range(0, len(vals), 2)]
    return vals[0]


def _or_mux(entries):
    """AND-OR multiplexer over mutually exclusive (condition, value) pairs."""
    return _or_tree(Mux(c, v, 0) for c, v in entries)


class _Emitter:
    def __init__(self, lf: LoweredFunction, comp: KernelComponent):
        self.lf = lf
        self.c = comp
        self.m = Module()
        self.comb: dict = {}  # signal -> [(cond, value)]
        self.sync: dict = {}
        self.order: list = []  # signals in first-driven order (deterministic output)
        self.offsets: dict = {}  # call index -> subview offset register per parameter
        self.data: set = set()  # ids of address/data port signals (need no gating)
        self.frz = None  # freeze: this cycle does not happen (stream stall or hold)
        self.stalls: list = []  # conditions under which a stream operation cannot complete
        self.sput: dict = {}  # stream -> (valid, ready, payload) of the side the kernel writes
        self.sget: dict = {}  # stream -> (valid, ready, payload) of the side it reads

    # -------------------------------------------------------------- drivers

    def drive(self, sig, cond, value, sync=False):
        d = self.sync if sync else self.comb
        if id(sig) not in d:  # Amaranth signals are not hashable
            d[id(sig)] = []
            self.order.append((sync, sig))
        d[id(sig)].append((cond, value))

    def goto(self, cond, target: int):
        """Move to state ``target`` at the next clock edge when ``cond``."""
        self.transitions.append((cond, target))

    def finish(self):
        m = self.m
        into: dict = {}
        for cond, tgt in self.transitions:
            into.setdefault(tgt, []).append(cond)
        with m.If(_or_tree(c for c, _ in self.transitions)):
            m.d.sync += self.state.eq(Cat(_or_tree(into[k]) if k in into else Const(0, 1)
                                          for k in range(len(self.state))))
        for sync, sig in self.order:
            entries = (self.sync if sync else self.comb)[id(sig)]
            if sync:
                en = _or_tree(c for c, _ in entries)
                val = entries[0][1] if len(entries) == 1 else _or_mux(entries)
                with m.If(en):
                    m.d.sync += self.narrow.get(id(sig), sig).eq(val)
            elif len(entries) == 1 and id(sig) in self.data:
                m.d.comb += sig.eq(entries[0][1])  # only read while its enable is on
            else:
                m.d.comb += sig.eq(_or_mux(entries))

    # -------------------------------------------------------------- build

    def build(self):
        lf, m, c = self.lf, self.m, self.c
        # one-hot: a state test is one flip-flop, not a comparator in front of every
        # multiplexer it selects (memory ports with many accesses: the Fmax-critical path)
        self.state = Signal(max(2, lf.nstates), name="state", init=1)
        self.is_state = {}
        self.transitions = []  # (condition, target state), mutually exclusive
        self.regs = {}
        self.narrow = {}  # id(register view) -> the narrower register behind it
        for v, t in lf.var_types.items():
            name = f"v_{v}".replace("%", "t_")
            bits = lf.loop_bits.get(v)
            if bits is None:
                self.regs[v] = Signal(ops.shape_of(t), name=name)
                continue
            # a counter needs only the bits of its largest value; the datapath reads it
            # zero-extended to the index type (a 32-bit counter is a long carry chain)
            q = Signal(bits, name=name)
            view = Signal(ops.shape_of(t), name=f"{name}_x")
            self.m.d.comb += view.eq(q)
            self.regs[v] = view
            self.narrow[id(view)] = q
        self.handles = {}
        if lf.freezable:
            self.own = Signal(name="stall")  # a stream operation of this kernel waits
            self.frz = Signal(name="freeze")
            m.d.comb += self.frz.eq(self.own | (c.hold if lf.holdable else 0))
            self.done = Signal(name="done_i")
            m.d.comb += c.done.eq(self.done & ~self.frz)
        else:
            self.done = c.done
        for name, b in lf.bufs.items():
            if b.kind in ("param", "ret"):
                port = getattr(c, port_name(name) if b.kind == "param" else
                               f"ret{name[len('__ret'):]}")
                ren, wen = port.ren, port.wen
                if lf.freezable:  # no access in a stalled cycle (the data must stay put)
                    ren, wen = Signal(name=f"{name}_ren_i"), Signal(name=f"{name}_wen_i")
                    m.d.comb += [port.ren.eq(ren & ~self.own), port.wen.eq(wen & ~self.own)]
                self.handles[name] = _Handle(port.raddr, ren, port.rdata,
                                             port.waddr, port.wdata, wen)
            else:
                init = []
                if b.kind == "rom" and b.init is not None:
                    init = [int(x) & ((1 << b.type.bits) - 1) for x in np.asarray(b.init).ravel()]
                mem = memory.Memory(shape=unsigned(b.type.bits), depth=max(2, b.depth), init=init,
                                    attrs=MEMORY_ATTRS)
                m.submodules[f"mem_{name}"] = mem
                rp = mem.read_port()
                ins = [rp.addr, rp.en]
                if b.kind != "rom":
                    wp = mem.write_port()
                    ins += [wp.addr, wp.data, wp.en]
                if lf.mem_input_regs:
                    ins = register_inputs(m, ins, f"mem_{name}".replace("%", "t_"))
                self.handles[name] = _Handle(*ins[:2], rp.data, *ins[2:])
        self.mark_data()
        self.stream_handles()
        # idle: wait for start, sample scalar arguments
        go = Signal(name="go")
        m.d.comb += go.eq(self.st(0) & c.start)
        entry = lf.block_state[lf.scheds[0].block.id]
        for p in lf.f.params:
            if not p.is_tensor and not p.is_stream:
                self.drive(self.regs[p.name], go, getattr(c, port_name(p.name)), sync=True)
        self.goto(go, entry)
        self.instances = []
        for idx, (s, leaf, st) in enumerate(lf.calls):
            callee = lf.funcs[leaf.call.callee]
            inst = callee.component()
            m.submodules[f"call{idx}_{callee.name}"] = inst
            self.instances.append(inst)
        call_index = {id(leaf): i for i, (_, leaf, _) in enumerate(lf.calls)}
        for s in lf.scheds:
            if isinstance(s, PipeSchedule):
                self.pipe_block(s)
            else:
                self.block(s, call_index)
        for idx, (s, leaf, st) in enumerate(lf.calls):
            self.call_wait(idx, s, leaf, st)
        if self.frz is not None:
            m.d.comb += self.own.eq(_or_tree(self.stalls))
        self.finish()
        return m

    def stream_handles(self):
        """The kernel's ends of its streams: parameter ports, and a FIFO per local stream."""
        lf, c = self.lf, self.c
        for p in lf.f.params:
            if p.is_stream:
                port = getattr(c, port_name(p.name))
                side = self.sput if lf.stream_dirs.get(p.name) == "put" else self.sget
                side[p.name] = (port.valid, port.ready, port.payload)
        for name, t in lf.local_streams.items():
            q = fifo.SyncFIFOBuffered(width=t.bits, depth=t.depth)
            self.m.submodules[f"fifo_{name}"] = q
            self.sput[name] = (q.w_en, q.w_rdy, q.w_data)
            self.sget[name] = (q.r_rdy, q.r_en, q.r_data)
        for valid, ready, payload in self.sput.values():
            self.data.add(id(payload))

    def stream_ops(self, sops, active, val):
        """Handshakes of a block's stream operations; ``active(cycle)``: the operation's
        cycle is under way. A put offers its element, a get takes one; while any cannot
        complete the kernel freezes (the handshake fires only in the cycle that happens)."""
        go = ~self.frz
        for so in sops:
            cond = active(so.cycle)
            if so.pred is not None:
                cond = cond & val(so.pred, so.cycle).bool()
            if so.kind == "put":
                valid, ready, payload = self.sput[so.stream]
                self.stalls.append(cond & ~ready)
                self.drive(valid, cond & go, Const(1))
                t = self.lf.stream_elem(so.stream)
                self.drive(payload, cond, ops.fit(val(so.node, so.cycle), t).as_unsigned())
            else:
                valid, ready, payload = self.sget[so.stream]
                self.stalls.append(cond & ~valid)
                self.drive(ready, cond & go, Const(1))

    def mark_data(self):
        for h in self.handles.values():
            for sig in (h.raddr, h.waddr, h.wdata):
                if sig is not None:
                    self.data.add(id(sig))

    def read_data(self, buf: str):
        """The registered read data of memory ``buf`` (one register per memory)."""
        h = self.handles[buf]
        if h.rq is None:
            h.rq = Signal(len(h.rdata), name=f"rdata_{buf}".replace("%", "t_"))
            self.m.d.sync += h.rq.eq(h.rdata)
        return h.rq

    def st(self, k: int):
        if k not in self.is_state:
            sig = Signal(name=f"st{k}")
            self.m.d.comb += sig.eq(self.state[k])
            self.is_state[k] = sig
        return self.is_state[k]

    def node_value(self, n, arg, bname):
        """The combinational value of node ``n`` (``arg(a)``: the value of operand ``a``)."""
        lf = self.lf
        if n.kind == "op":
            ir = n.ir.inner if hasattr(n.ir, "inner") else n.ir
            args = [arg(a) for a in n.args]
            try:
                v = ops.comb_op(ir, args)
            except ops.Unsupported as e:
                raise AlloError(str(e), getattr(ir, "loc", None) or lf.f.loc,
                                "use target='sim' for this kernel for now") from None
            shape = ops.shape_of(n.type)
        elif n.kind == "addr":
            strides, aw, shape_ = n.extra
            terms = []
            for a, stv in zip(n.args, strides):
                if a.kind == "const":
                    terms.append(Const((a.value * stv) & ((1 << aw) - 1), aw))
                    continue
                x = arg(a).as_unsigned()[:aw]
                if stv & (stv - 1) == 0:
                    terms.append((x << (stv.bit_length() - 1))[:aw])
                else:
                    terms.append((x * stv)[:aw])
            v = reduce(lambda p, q: p + q, terms)[:aw] if terms else Const(0, aw)
            shape = unsigned(aw)
        elif n.kind == "load":
            return ops.from_bits(self.read_data(n.value), n.type)
        elif n.kind == "sget":
            return ops.from_bits(self.sget[n.value][2], n.type)
        elif n.kind == "unit":
            v = n.extra.build(self.m, f"{bname}_{n.extra.name}{n.id}", [arg(a) for a in n.args])
            shape = ops.shape_of(n.type)
        else:
            raise AssertionError(n.kind)
        sig = Signal(shape, name=f"{bname}_n{n.id}")
        self.m.d.comb += sig.eq(v)
        return sig

    # -------------------------------------------------------------- values

    def block(self, s, call_index):
        lf = self.lf
        base = lf.block_state[s.block.id]
        bname = s.block.name
        combv, tmpv = {}, {}

        def comb(n):
            if n not in combv:
                combv[n] = self.node_value(n, lambda a: val(a, n.cycle), bname)
            return combv[n]

        def val(n, cyc):
            if n.kind == "const":
                return ops.const(n.value, n.type)
            if n.kind == "reg":
                return self.regs[n.value]
            if cyc <= n.ready:
                return comb(n)
            if n not in tmpv:
                shape = unsigned(n.extra[1]) if n.kind == "addr" else ops.shape_of(n.type)
                r = Signal(shape, name=f"{bname}_r{n.id}")
                self.drive(r, self.st(base + n.ready), comb(n), sync=True)
                tmpv[n] = r
            return tmpv[n]

        last = s.length - 1
        for k in range(last):
            self.goto(self.st(base + k), base + k + 1)
        for n in s.loads:
            if n.last_use < 0:
                continue  # dead load
            h = self.handles[n.value]
            cond = self.st(base + n.cycle)
            self.drive(h.raddr, cond, val(n.args[0], n.cycle))
            self.drive(h.ren, cond, Const(1))
        for so in s.stores:
            h = self.handles[so.buf]
            cond = self.st(base + so.cycle)
            if so.pred is not None:
                cond = cond & val(so.pred, so.cycle)
            self.drive(h.waddr, self.st(base + so.cycle), val(so.addr, so.cycle))
            self.drive(h.wdata, self.st(base + so.cycle),
                       ops.fit(val(so.value, so.cycle), self.lf.bufs[so.buf].type).as_unsigned())
            self.drive(h.wen, cond, Const(1))
        if s.sops:
            self.stream_ops(s.sops, lambda cyc: self.st(base + cyc), val)
        endc = self.st(base + last)
        for v, n in s.writes.items():
            self.drive(self.regs[v], endc, val(n, last), sync=True)
        conds = {(): endc}

        def path_cond(path):
            # leaves share the conditions of their common path prefixes
            key = tuple((cn.id, pol) for cn, pol in path)
            if key not in conds:
                parent = path_cond(path[:-1])
                cn, pol = path[-1]
                x = val(cn, last).bool()
                sig = Signal(name=f"{bname}_p{len(conds)}")
                self.m.d.comb += sig.eq(parent & (x if pol else ~x))
                conds[key] = sig
            return conds[key]

        for leaf in s.leaves:
            cond = path_cond(leaf.path)
            if leaf.kind == "goto":
                tgt = lf.block_state[leaf.target.id]
                self.goto(cond, tgt)
            elif leaf.kind == "ret":
                self.drive(self.done, cond, Const(1))
                for k, vn in enumerate(leaf.values):
                    if vn is not None:
                        self.drive(getattr(self.c, f"ret{k}"), cond,
                                   ops.fit(val(vn, last), lf.f.results[k].type))
                self.goto(cond, 0)
            else:
                idx = call_index[id(leaf)]
                inst = self.instances[idx]
                callee = lf.funcs[leaf.call.callee]
                self.drive(inst.start, cond, Const(1))
                offs = []
                for a, p, an in zip(leaf.call.args, callee.f.params, leaf.args):
                    if p.is_stream:
                        offs.append(None)
                    elif p.is_tensor:
                        if an is None:
                            offs.append(None)
                        else:
                            r = Signal(unsigned(an.extra[1]), name=f"call{idx}_off_{p.name}")
                            self.drive(r, cond, val(an, last), sync=True)
                            offs.append(r)
                    else:
                        self.drive(getattr(inst, port_name(p.name)), cond,
                                   ops.fit(val(an, last), p.type))
                        offs.append(None)
                self.offsets[idx] = offs
                _, _, wait_state = lf.calls[idx]
                self.goto(cond, wait_state)

    def pipe_block(self, s: PipeSchedule):
        """A pipelined loop (see lower/modulo.py for the scheme)."""
        lf, m = self.lf, self.m
        st = self.st(lf.block_state[s.block.id])
        bname = s.block.name
        D, ii = s.depth, s.ii
        levels = s.pipe.levels
        # issue control
        done = Signal(name=f"{bname}_done")
        slot_ok = Const(1)
        if ii > 1:
            slot = Signal(range(ii), name=f"{bname}_slot")
            with m.If(st & ~done):
                m.d.sync += slot.eq(Mux(slot == ii - 1, 0, slot + 1))
            with m.Else():
                m.d.sync += slot.eq(0)
            slot_ok = slot == 0
        issue = Signal(name=f"{bname}_issue")
        m.d.comb += issue.eq(st & ~done & slot_ok)
        # loop variables: carry chain from the innermost level
        lasts = []
        for k, lv in enumerate(levels):
            reg = self.regs[lv.var]
            ub_ir = s.pipe.ub if k == 0 else lv.ub  # outer: a constant or the __ub register
            ub = (self.regs[ub_ir.name] if isinstance(ub_ir, Var)
                  else ops.const(ub_ir.value, lf.var_types[lv.var]))
            nxt = reg + lv.step
            last = Signal(name=f"{bname}_last{k}")
            lb_ir = lv.lb
            trip = (len(range(lb_ir.value, ub_ir.value, lv.step))
                    if isinstance(lb_ir, IRConst) and isinstance(ub_ir, IRConst) else 0)
            if trip > 0:  # compare with the last value: no adder in front of the comparison
                final = ops.const(lb_ir.value + lv.step * (trip - 1), lf.var_types[lv.var])
                m.d.comb += last.eq(reg == final)
            else:
                m.d.comb += last.eq(nxt >= ub if lv.step > 0 else nxt <= ub)
            lasts.append((reg, nxt, last, lv))
        all_last = Signal(name=f"{bname}_final")
        m.d.comb += all_last.eq(reduce(lambda a, b: a & b, [x[2] for x in lasts]))
        carry = issue & ~all_last
        for reg, nxt, last, lv in reversed(lasts):
            lb = ops.const(lv.lb.value, lf.var_types[lv.var]) if lv is not levels[0] else None
            if lb is None:
                self.drive(reg, carry, nxt, sync=True)
            else:
                self.drive(reg, carry, Mux(last, lb, nxt), sync=True)
            carry = carry & last
        # valid tokens: valid[t] is the iteration at time t
        valid = [issue]
        for t in range(1, D):
            v = Signal(name=f"{bname}_v{t}")
            m.d.sync += v.eq(valid[-1])
            valid.append(v)
        busy = _or_tree(valid[:D - 1]) if D > 1 else Const(0)
        leave = Signal(name=f"{bname}_exit")
        m.d.comb += leave.eq(st & (done | (issue & all_last)) & ~busy)
        with m.If(leave):
            m.d.sync += done.eq(0)
        with m.Elif(issue & all_last):
            m.d.sync += done.eq(1)
        self.goto(leave, lf.block_state[s.leaves[0].target.id])

        combv, taps = {}, {}

        def delayed(key, sig, k):
            """``sig`` delayed by ``k`` cycles (a delay line; the pipeline never stalls)."""
            if k <= 0:
                return sig
            if (key, k) not in taps:
                prev = delayed(key, sig, k - 1)
                r = Signal(prev.shape(), name=f"{bname}_d{key}_{k}")
                m.d.sync += r.eq(prev)
                taps[(key, k)] = r
            return taps[(key, k)]

        def comb(n):
            if n not in combv:
                combv[n] = self.node_value(n, lambda a: val(a, n.cycle), bname)
            return combv[n]

        bypass = {}

        def read(v):
            """Variable ``v`` as read at its capture time: the register, or, for a recurrence
            written exactly II cycles later, the value the previous iteration writes in this
            very cycle when it does (modulo.py: ``w - r == II``)."""
            r = self.regs[v]
            if v not in s.writes or s.write_time[v] - s.reg_time[v] != ii:
                return r
            if v not in bypass:  # driven at the end (the written value may depend on it)
                bypass[v] = Signal(r.shape(), name=f"{bname}_byp_{v}")
            return bypass[v]

        def val(n, cyc):
            if n.kind == "const":
                return ops.const(n.value, n.type)
            if n.kind == "reg":
                if n.value not in s.reg_time:
                    return self.regs[n.value]  # loop-invariant
                return delayed(f"reg_{n.value}", read(n.value), cyc - s.reg_time[n.value])
            return delayed(n.id, comb(n), cyc - n.ready)

        for n in s.loads:
            if n.last_use < 0:
                continue
            h = self.handles[n.value]
            self.drive(h.raddr, valid[n.cycle], val(n.args[0], n.cycle))
            self.drive(h.ren, valid[n.cycle], Const(1))
        for so in s.stores:
            h = self.handles[so.buf]
            cond = valid[so.cycle]
            if so.pred is not None:
                cond = cond & val(so.pred, so.cycle)
            self.drive(h.waddr, valid[so.cycle], val(so.addr, so.cycle))
            self.drive(h.wdata, valid[so.cycle],
                       ops.fit(val(so.value, so.cycle), lf.bufs[so.buf].type).as_unsigned())
            self.drive(h.wen, cond, Const(1))
        if s.sops:
            self.stream_ops(s.sops, lambda cyc: valid[cyc], val)
        for v, n in s.writes.items():
            w = s.write_time[v]
            self.drive(self.regs[v], valid[w], val(n, w), sync=True)
        for v, byp in bypass.items():
            w = s.write_time[v]
            m.d.comb += byp.eq(Mux(valid[w], ops.fit(val(s.writes[v], w), lf.var_types[v]),
                                   self.regs[v]))

    def call_wait(self, idx, s, leaf, st):
        lf = self.lf
        inst = self.instances[idx]
        callee = lf.funcs[leaf.call.callee]
        w = self.st(st)
        offs = self.offsets[idx]
        conns = []
        go = Const(1) if self.frz is None else ~self.frz
        for a, p, off in zip(leaf.call.args, callee.f.params, offs):
            if p.is_stream:  # the callee uses this kernel's end of the stream meanwhile
                port = getattr(inst, port_name(p.name))
                if callee.stream_dirs.get(p.name) == "put":
                    valid, ready, payload = self.sput[a.stream]
                    self.drive(valid, w & go, port.valid)
                    self.drive(payload, w, port.payload)
                    self.m.d.comb += port.ready.eq(ready & w)
                else:
                    valid, ready, payload = self.sget[a.stream]
                    self.drive(ready, w & go, port.ready)
                    self.m.d.comb += [port.valid.eq(valid & w), port.payload.eq(payload)]
            elif p.is_tensor:
                conns.append((a.buf, getattr(inst, port_name(p.name)), off))
        results = []
        for k, (o, r) in enumerate(zip(leaf.call.outs, callee.f.results)):
            if r.is_tensor:
                conns.append((o, getattr(inst, f"ret{k}"), None))
            else:
                results.append((o, getattr(inst, f"ret{k}"), r))
        for buf, port, off in conns:
            h = self.handles[buf]
            aw = lf.bufs[buf].aw

            def addr(x):
                x = x.as_unsigned()
                return x if off is None else (off + x)[:aw]

            self.m.d.comb += port.rdata.eq(h.rdata)
            self.drive(h.raddr, w, addr(port.raddr))
            self.drive(h.ren, w, port.ren)
            if h.wen is not None:
                self.drive(h.waddr, w, addr(port.waddr))
                self.drive(h.wdata, w, port.wdata)
                self.drive(h.wen, w, port.wen)
        fin = Signal(name=f"call{idx}_done")
        self.m.d.comb += fin.eq(w & inst.done)
        for o, port, r in results:
            self.drive(self.regs[o], fin, ops.fit(port, lf.var_types[o]), sync=True)
        tgt = lf.block_state[leaf.target.id]
        self.goto(fin, tgt)


def _loop_counter_bits(f: Function) -> dict:
    """Loop variables whose values provably stay in ``0 .. 2**bits - 1``: -> bits. A loop
    ``for v in range(lb, ub, step)`` with constant bounds, ``lb >= 0``, takes values up to
    its exit value ``lb + step * trip``; other assignments to ``v`` (unrolled copies) must
    be constants in that range, and ``v`` must be the variable of that one loop only."""
    loops: dict = {}
    assigned: dict = {}  # variable -> the values assigned to it outside its For
    for s in walk_stmts(f.body):
        if isinstance(s, For):
            loops.setdefault(s.var, []).append(s)
        elif isinstance(s, Assign):
            assigned.setdefault(s.name, []).append(s.value)
    out = {}
    for v, fs in loops.items():
        if len(fs) != 1:
            continue
        lp = fs[0]
        if not (isinstance(lp.lb, IRConst) and isinstance(lp.ub, IRConst) and lp.lb.value >= 0
                and lp.step > 0):
            continue
        trip = len(range(lp.lb.value, lp.ub.value, lp.step))
        hi = max(lp.lb.value + lp.step * trip, lp.ub.value)
        if all(isinstance(x, IRConst) and 0 <= x.value <= hi for x in assigned.get(v, [])):
            out[v] = max(1, hi.bit_length())
    return out


def lower_functions(module: IRModule) -> dict:
    """Lower every function of a prepared module (callees first): name -> LoweredFunction
    (a dataflow region: :class:`~.region.LoweredRegion`)."""
    from .region import LoweredRegion  # the region instantiates kernel components
    from .streams import stream_directions

    regions = [f for f in module.funcs.values() if f.attrs.get("dataflow")]
    in_region = {s.callee for r in regions for s in r.body if isinstance(s, CallStmt)}
    out: dict = {}
    for name, f in module.funcs.items():
        _check_calls(f, module)
        if f.attrs.get("dataflow"):
            out[name] = LoweredRegion(f, out, module, name in in_region)
        elif f.attrs.get("systolic") is not None:
            from .systolic import LoweredSystolic  # an outlined PE grid (lower/systolic.py)

            out[name] = LoweredSystolic(f, out)
        else:
            out[name] = LoweredFunction(f, out, stream_directions(module, f), name in in_region)
            _refuse_frozen_systolic(out[name], module)
    return out


def _refuse_frozen_systolic(lf: "LoweredFunction", module: IRModule):
    """A kernel that can freeze (streams, or a dataflow-region kernel) must not contain a
    systolic engine: its shared PE modules are not gated by the freeze."""
    if not lf.freezable:
        return
    seen, stack = set(), [lf.name]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for s in walk_stmts(module.funcs[name].body):
            if isinstance(s, CallStmt) and s.callee in module.funcs:
                if module.funcs[s.callee].attrs.get("systolic") is not None:
                    raise AlloError(
                        f"{lf.name} uses streams or runs in a dataflow region, and calls the "
                        f"systolic array {s.callee}; the RTL cannot pause a systolic array "
                        "when such a kernel stalls", s.loc or lf.f.loc,
                        "keep the systolic GEMM in a kernel without streams, outside "
                        "dataflow regions")
                stack.append(s.callee)


def _check_calls(f: Function, module: IRModule):
    from ..ir.nodes import CallStmt

    for s in walk_stmts(f.body):
        if isinstance(s, CallStmt):
            bufs = [a.buf for a in s.args if isinstance(a, BufRef)] + [
                o for o, r in zip(s.outs, module.funcs[s.callee].results) if r.is_tensor]
            dup = {b for b in bufs if bufs.count(b) > 1}
            if dup:
                raise AlloError(f"call to {s.callee} passes array '{sorted(dup)[0]}' to two "
                                "array parameters; the RTL target gives each array parameter its "
                                "own memory port and cannot share one memory between them", s.loc,
                                "pass a copy of the array, or use target='sim'")


def describe(lf: LoweredFunction) -> str:
    """A readable listing of the blocks, their schedules and state numbers (debugging aid)."""
    lines = [f"function {lf.name}: {lf.nstates} states"]
    for s in lf.scheds:
        base = lf.block_state[s.block.id]
        lines.append(f"  block {s.block.name}: states {base}..{base + s.length - 1}")
        for n in s.nodes:
            if n.kind in ("const", "reg"):
                continue
            what = n.value if n.kind in ("load", "addr") else (
                getattr(n.ir, "op", None) or type(getattr(n.ir, "inner", n.ir)).__name__)
            lines.append(f"    n{n.id} {n.kind} {what} args={[a.id for a in n.args if a]} "
                         f"cycle={n.cycle} ready={n.ready} t={n.t:.1f} last_use={n.last_use}")
        for so in s.stores:
            lines.append(f"    store {so.buf}[n{so.addr.id}] = n{so.value.id} "
                         f"pred={so.pred.id if so.pred else None} cycle={so.cycle}")
        for v, n in s.writes.items():
            lines.append(f"    {v} <= n{n.id}")
        for leaf in s.leaves:
            path = " & ".join(f"{'' if p else '!'}n{c.id}" for c, p in leaf.path)
            tgt = leaf.target.name if leaf.target is not None else ""
            lines.append(f"    [{path}] {leaf.kind} {tgt} "
                         f"{[a.id if a is not None else None for a in (leaf.args or leaf.values)]}")
    return "\n".join(lines)
