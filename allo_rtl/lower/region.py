"""A dataflow region as hardware: concurrent kernel components connected by FIFOs.

A region (``@df.region()``, IR: a function with ``attrs["dataflow"]`` whose body
declares streams and calls kernel instances) becomes a :class:`RegionComponent`
with the kernel protocol of :mod:`kernel` (``start``/``done``, one memory port
set per array parameter), so it can be the top of a design or be called:

* every stream is an :class:`amaranth.lib.fifo.SyncFIFOBuffered` of its depth
  (one element wide; a stream of blocks was expanded to elements, see
  :mod:`streams`) between the one kernel that puts and the one that gets;
* ``start`` starts every kernel in the same cycle; ``done`` pulses in the cycle
  the last kernel finishes;
* an array parameter used by one kernel is wired to it. When several kernels
  read (or write) the same array, an **arbiter** shares the port: fixed priority
  in kernel order, one access per cycle; a kernel whose request is not granted
  is *held*: its ``hold`` input freezes it for that cycle (no register, memory or
  stream changes), so its schedule stays exact in its own time base. The
  priority order is the same for every arbiter, so the highest-priority kernel
  that requests anything gets everything it asks for: the region always makes
  progress. Read data of a shared port is kept per kernel until its next
  granted read (a held kernel takes it when it resumes).

Debugging aid: ``fifo_status`` reports, per FIFO, whether it holds data and
whether it is full; the top-level wrapper exposes it so a simulation that hits
its cycle limit can name the FIFOs a stalled design waits on.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, EnableInserter, Module, Mux, Signal, unsigned
from amaranth.lib import fifo, memory, wiring
from amaranth.lib.wiring import In, Out

from ..ir.access import array_accesses
from ..ir.nodes import (BufRef, CallStmt, Decl, Function, Module as IRModule, StreamDecl,
                        StreamRef, Var)
from . import ops
from .kernel import MEMORY_ATTRS, BufInfo, MemPortSignature, _or_mux, _or_tree, port_name

__all__ = ["LoweredRegion", "RegionComponent"]


class LoweredRegion:
    """A dataflow region, lowered: its kernel instances (already lowered functions),
    streams and array users. Offers the interface of :class:`kernel.LoweredFunction` that
    callers, the top-level wrapper and the reports use."""

    def __init__(self, f: Function, funcs: dict, module: IRModule, in_region: bool = False):
        self.f = f
        self.name = f.name
        self.funcs = funcs
        self.mem_input_regs = ops.mem_input_regs()
        self.holdable = in_region
        self.var_types: dict = {}
        self.stream_dirs: dict = {}
        self.bufs = {p.name: BufInfo(p.name, p.shape, p.type, "param")
                     for p in f.params if p.is_tensor}
        # arrays declared by the region (ping-pong buffers): memories of the region
        self.locals = {s.name: BufInfo(s.name, s.shape, s.type, "local")
                       for s in f.body if isinstance(s, Decl)}
        self.streams = [s for s in f.body if isinstance(s, StreamDecl)]
        self.kernel_calls = [s for s in f.body if isinstance(s, CallStmt)]
        acc = array_accesses(module)
        # array parameter -> [(call index, callee parameter, reads, writes)]
        self.users: dict = {name: [] for name in [*self.bufs, *self.locals]}
        for k, c in enumerate(self.kernel_calls):
            callee = module.funcs[c.callee]
            for a, p in zip(c.args, callee.params):
                if isinstance(a, BufRef) and a.buf in self.users:
                    r, w = acc[c.callee][p.name]
                    if r or w:
                        self.users[a.buf].append((k, p.name, r, w))
        self.fifo_names = [s.name for s in self.streams]
        # the kernel-function interface used by reports and callers
        self.nstates, self.calls, self.scheds, self.pipelines, self.blocks = 1, [], [], [], []
        self.freezable = False
        self.signature = self._signature()

    def _signature(self):
        members = {"start": In(1), "done": Out(1)}
        if self.holdable:
            members["hold"] = In(1)
        for p in self.f.params:
            if not p.is_tensor:  # a scalar (a region made by s.dataflow(loop)): to the kernels
                members[port_name(p.name)] = In(ops.shape_of(p.type))
                continue
            b = self.bufs[p.name]
            members[port_name(p.name)] = Out(MemPortSignature(b.aw, p.type.bits))
        if self.fifo_names:
            members["fifo_status"] = Out(2 * len(self.fifo_names))
        return wiring.Signature(members)

    def component(self) -> "RegionComponent":
        return RegionComponent(self)

    def cycles_summary(self) -> list:
        return []

    def shared_arrays(self) -> list:
        """Array parameters whose reads or writes are arbitrated between kernels."""
        return [b for b, us in self.users.items()
                if sum(r for _, _, r, _ in us) > 1 or sum(w for _, _, _, w in us) > 1]


class RegionComponent(wiring.Component):
    """The hardware of a dataflow region (see the module docstring)."""

    def __init__(self, lowered: LoweredRegion):
        self._lowered = lowered
        super().__init__(lowered.signature)

    @property
    def lowered(self) -> LoweredRegion:
        return self._lowered

    def elaborate(self, platform):
        lr = self._lowered
        m = Module()
        insts = []
        for k, c in enumerate(lr.kernel_calls):
            inst = lr.funcs[c.callee].component()
            m.submodules[f"k{k}_{c.callee}"] = inst
            insts.append(inst)
        # control: start all kernels together; done when each has finished
        busy = Signal(name="busy")
        fin = [Signal(name=f"fin{k}") for k in range(len(insts))]
        done = [f | inst.done for f, inst in zip(fin, insts)]
        all_done = _and_tree(done)
        m.d.comb += self.done.eq(busy & all_done)
        for inst in insts:
            m.d.comb += inst.start.eq(self.start & ~busy)
        # scalar arguments: the region's scalar inputs or constants, read by every kernel at
        # its start (the cycle the region starts)
        for k, c in enumerate(lr.kernel_calls):
            callee = lr.funcs[c.callee]
            for a, p in zip(c.args, callee.f.params):
                if isinstance(a, (BufRef, StreamRef)):
                    continue
                value = (getattr(self, port_name(a.name)) if isinstance(a, Var)
                         else ops.const(a.value, a.type))
                m.d.comb += getattr(insts[k], port_name(p.name)).eq(ops.fit(value, p.type))
        with m.If(self.start & ~busy):
            m.d.sync += busy.eq(1)
            m.d.sync += [f.eq(0) for f in fin]
        with m.Elif(busy & all_done):
            m.d.sync += busy.eq(0)
        with m.Elif(busy):
            m.d.sync += [f.eq(d) for f, d in zip(fin, done)]
        self._fifos(m, insts)
        holds = [[] for _ in insts]
        hold = [Signal(name=f"hold{k}") for k in range(len(insts))]
        for buf, users in lr.users.items():
            if buf in lr.locals:
                pp = self._memory(m, lr.locals[buf])
            else:
                pp = getattr(self, port_name(buf))
            self._array(m, buf, pp, users, insts, holds, hold)
        for k, inst in enumerate(insts):
            m.d.comb += hold[k].eq(_or_tree(holds[k]))
            if "hold" in inst.signature.members:
                m.d.comb += inst.hold.eq(hold[k])
        if lr.holdable:  # held by the enclosing region: nothing inside moves
            return EnableInserter({"sync": ~self.hold})(m)
        return m

    def _fifos(self, m, insts):
        lr = self._lowered
        ends: dict = {}  # stream -> {"put": port, "get": port}
        for k, c in enumerate(lr.kernel_calls):
            callee = lr.funcs[c.callee]
            for a, p in zip(c.args, callee.f.params):
                d = callee.stream_dirs.get(p.name)
                if isinstance(a, StreamRef) and d is not None:
                    ends.setdefault(a.stream, {})[d] = getattr(insts[k], port_name(p.name))
        status = []
        for s in lr.streams:
            q = fifo.SyncFIFOBuffered(width=s.type.bits, depth=s.type.depth)
            m.submodules[f"fifo_{s.name}"] = q
            e = ends.get(s.name, {})
            if "put" in e:
                w = e["put"]
                m.d.comb += [q.w_en.eq(w.valid), q.w_data.eq(w.payload), w.ready.eq(q.w_rdy)]
            if "get" in e:
                r = e["get"]
                m.d.comb += [r.valid.eq(q.r_rdy), r.payload.eq(q.r_data), q.r_en.eq(r.ready)]
            status += [q.r_rdy, ~q.w_rdy]
        if status:
            m.d.comb += self.fifo_status.eq(Cat(*status))

    def _memory(self, m, b: BufInfo):
        """A memory for the region's own array ``b``; returns its port (the interface of an
        array parameter, seen from inside the region)."""
        pp = MemPortSignature(b.aw, b.type.bits).create(path=(f"buf_{b.name}",))
        mem = memory.Memory(shape=unsigned(b.type.bits), depth=max(2, b.depth), init=[],
                            attrs=MEMORY_ATTRS)
        m.submodules[f"mem_{b.name}"] = mem
        rp, wp = mem.read_port(), mem.write_port()
        ins = [pp.raddr, pp.ren, pp.waddr, pp.wdata, pp.wen]
        if self._lowered.mem_input_regs:  # same latency as an array parameter's memory
            regs = [Signal(len(x), name=f"{b.name}_in{i}") for i, x in enumerate(ins)]
            m.d.sync += [r.eq(x) for r, x in zip(regs, ins)]
            ins = regs
        m.d.comb += [rp.addr.eq(ins[0]), rp.en.eq(ins[1]), pp.rdata.eq(rp.data),
                     wp.addr.eq(ins[2]), wp.data.eq(ins[3]), wp.en.eq(ins[4])]
        return pp

    def _array(self, m, buf, pp, users, insts, holds, hold):
        """Connect array ``buf`` (port ``pp``) to the kernels using it (direct or arbitrated)."""
        lr = self._lowered
        ports = [(k, getattr(insts[k], port_name(p)), r, w) for k, p, r, w in users]
        readers = [(k, port) for k, port, r, _ in ports if r]
        writers = [(k, port) for k, port, _, w in ports if w]
        latency = 2 if lr.mem_input_regs else 1  # request -> read data at the port
        # reads
        if len(readers) == 1:
            k, port = readers[0]
            m.d.comb += [pp.raddr.eq(port.raddr), pp.ren.eq(port.ren & ~hold[k]),
                         port.rdata.eq(pp.rdata)]
        elif readers:
            effs = self._arbiter(m, f"{buf}_r", [(k, port.ren) for k, port in readers], holds, hold)
            m.d.comb += [pp.ren.eq(_or_tree(effs)),
                         pp.raddr.eq(_or_mux([(e, port.raddr) for e, (_, port) in zip(effs, readers)]))]
            for e, (k, port) in zip(effs, readers):
                got = e
                for i in range(latency):
                    nxt = Signal(name=f"{buf}_got{k}_{i}")
                    m.d.sync += nxt.eq(got)
                    got = nxt
                keep = Signal(len(pp.rdata), name=f"{buf}_keep{k}")
                with m.If(got):
                    m.d.sync += keep.eq(pp.rdata)
                m.d.comb += port.rdata.eq(Mux(got, pp.rdata, keep))
        # writes
        if len(writers) == 1:
            k, port = writers[0]
            m.d.comb += [pp.waddr.eq(port.waddr), pp.wdata.eq(port.wdata),
                         pp.wen.eq(port.wen & ~hold[k])]
        elif writers:
            effs = self._arbiter(m, f"{buf}_w", [(k, port.wen) for k, port in writers], holds, hold)
            m.d.comb += [pp.wen.eq(_or_tree(effs)),
                         pp.waddr.eq(_or_mux([(e, port.waddr) for e, (_, port) in zip(effs, writers)])),
                         pp.wdata.eq(_or_mux([(e, port.wdata) for e, (_, port) in zip(effs, writers)]))]

    @staticmethod
    def _arbiter(m, name, reqs, holds, hold):
        """Fixed-priority grants for ``reqs`` [(kernel, request)]; records the hold terms and
        returns per requester the access that takes place (granted and not held)."""
        effs, before = [], []
        for k, req in reqs:
            grant = Signal(name=f"{name}_grant{k}")
            m.d.comb += grant.eq(req & ~_or_tree(before) if before else req)
            before.append(req)
            holds[k].append(req & ~grant)
            eff = Signal(name=f"{name}_eff{k}")
            m.d.comb += eff.eq(grant & ~hold[k])
            effs.append(eff)
        return effs


def _and_tree(vals):
    vals = list(vals)
    if not vals:
        return Const(1)
    out = vals[0]
    for v in vals[1:]:
        out = out & v
    return out
