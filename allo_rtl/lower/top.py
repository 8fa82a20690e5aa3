"""Top-level wrapper: the kernel plus the memories of its array arguments and results.

The wrapper is what simulation (and a user's SoC) sees. Ports (the contract of
:mod:`testbench.spec`):

* ``clk``, ``rst`` (synchronous, active high), ``start`` (in, one-cycle pulse
  while idle), ``done`` (out, one-cycle pulse);
* per tensor parameter ``<name>`` and tensor result ``ret<k>``: a host port
  ``<name>__haddr``/``__hwdata``/``__hwe``/``__hrdata`` (read latency 1) for
  loading and reading the memory while the kernel is idle;
* scalar parameters ``<name>`` (in; sampled with ``start``) and scalar results
  ``ret<k>`` (out; valid in the ``done`` cycle);
* per dynamic array parameter (``A: T[...]``, see :mod:`.dynamic`) ``<name>__oob``
  (out, valid in the ``done`` cycle): the kernel wrote at or beyond the argument's
  length since ``start`` (such writes are dropped; reads are not flagged, since the
  schedulers may issue a guarded load before its guard is known).

Each memory is an :class:`amaranth.lib.memory.Memory` with one read and one
write port, multiplexed between the host (idle) and the kernel (busy).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Elaboratable, Module, Mux, Signal, unsigned
from amaranth.lib import memory

from testbench.spec import DesignSpec, MemSpec, PortSpec

from . import ops
from .kernel import MEMORY_ATTRS, LoweredFunction, addr_width, port_name
from .prepare import ret_name
from .shared import shared_modules

#: width of the profiling counters
PROFILE_BITS = 32

__all__ = ["TopWrapper", "design_spec", "emit_verilog", "HostMemory", "host_depth", "WAIVERS"]


@dataclass(frozen=True)
class HostMemory:
    """A memory of the wrapper: Verilog port prefix, IR buffer, element type, shape."""

    name: str
    buf: str
    type: object
    shape: tuple
    kind: str  # "param" | "ret"
    index: int  # parameter index or result index


def host_memories(lf: LoweredFunction) -> list:
    out = []
    for i, p in enumerate(lf.f.params):
        if p.is_tensor:
            out.append(HostMemory(port_name(p.name), p.name, p.type, tuple(p.shape), "param", i))
    for k, r in enumerate(lf.f.results):
        if r.is_tensor:
            out.append(HostMemory(f"ret{k}", ret_name(k), r.type, tuple(r.shape), "ret", k))
    return out


#: FIFO status bits per debug port (two per FIFO: holds data, full)
DEBUG_BITS = 64


def debug_ports(lf) -> list:
    """[(port name, width)] of the FIFO status outputs ``dbg__fifos<k>`` of a dataflow
    region at the top (see :func:`fifo_states`)."""
    n = 2 * len(getattr(lf, "fifo_names", ()))
    return [(f"dbg__fifos{k}", min(DEBUG_BITS, n - k * DEBUG_BITS))
            for k in range((n + DEBUG_BITS - 1) // DEBUG_BITS)]


def fifo_states(lf, outputs: dict) -> dict:
    """{FIFO name: "empty" | "full" | "partly full"} from the debug outputs' values."""
    bits = 0
    for k, (name, _) in enumerate(debug_ports(lf)):
        bits |= int(outputs.get(name, 0)) << (k * DEBUG_BITS)
    out = {}
    for i, name in enumerate(lf.fifo_names):
        nonempty, full = (bits >> (2 * i)) & 1, (bits >> (2 * i + 1)) & 1
        out[name] = "full" if full else ("partly full" if nonempty else "empty")
    return out


def host_depth(lf: LoweredFunction, h: HostMemory, lengths: dict) -> int:
    """Words of host memory ``h``: its buffer's depth, or for a dynamic array the length
    of the argument (``lengths[h.name]``, at least one word)."""
    if h.name in lengths:
        return max(1, lengths[h.name])
    return lf.bufs[h.buf].depth


def design_spec(lf: LoweredFunction, top: str, profile: bool = False,
                lengths: dict | None = None) -> DesignSpec:
    lengths = lengths or {}
    mems = [MemSpec(h.name, h.type.bits, host_depth(lf, h, lengths)) for h in host_memories(lf)]
    ins = [PortSpec(port_name(p.name), p.type.bits) for p in lf.f.params if not p.is_tensor]
    outs = [PortSpec(f"ret{k}", r.type.bits) for k, r in enumerate(lf.f.results)
            if not r.is_tensor]
    if profile:
        outs += [PortSpec(f"prof__{h.name}__{w}", PROFILE_BITS) for h in host_memories(lf)
                 for w in ("reads", "writes")]
    outs += [PortSpec(f"{name}__oob", 1) for name in lengths]
    outs += [PortSpec(n, w) for n, w in debug_ports(lf)]
    return DesignSpec(top, tuple(mems), tuple(ins), tuple(outs))


class TopWrapper(Elaboratable):
    """The top kernel with its argument memories and host ports (see module docstring).
    ``lengths``: {host memory: words} of the dynamic array parameters."""

    def __init__(self, lf: LoweredFunction, profile: bool = False, lengths: dict | None = None):
        self.lf = lf
        self.lengths = dict(lengths or {})
        self.oob = {name: Signal(name=f"{name}__oob") for name in self.lengths}
        self.profile = {}
        if profile:
            for h in host_memories(lf):
                for w in ("reads", "writes"):
                    self.profile[(h.name, w)] = Signal(PROFILE_BITS, name=f"prof__{h.name}__{w}")
        self.kernel = lf.component()
        self.dbg = [Signal(w, name=n) for n, w in debug_ports(lf)]
        self.start = Signal(name="start")
        self.done = Signal(name="done")
        self.scalars_in = {}
        self.scalars_out = {}
        self.host = {}
        for p in lf.f.params:
            if not p.is_tensor:
                self.scalars_in[p.name] = Signal(ops.shape_of(p.type), name=port_name(p.name))
        for k, r in enumerate(lf.f.results):
            if not r.is_tensor:
                self.scalars_out[k] = Signal(ops.shape_of(r.type), name=f"ret{k}")
        for h in host_memories(lf):
            self.host[h.name] = (
                Signal(addr_width(host_depth(lf, h, self.lengths)), name=f"{h.name}__haddr"), Signal(h.type.bits, name=f"{h.name}__hwdata"),
                Signal(name=f"{h.name}__hwe"), Signal(h.type.bits, name=f"{h.name}__hrdata"))

    def ports(self) -> list:
        out = [self.start, self.done]
        for h in self.host.values():
            out += list(h)
        out += list(self.scalars_in.values()) + list(self.scalars_out.values())
        return out + list(self.profile.values()) + self.dbg + list(self.oob.values())

    def elaborate(self, platform):
        m = Module()
        k = self.kernel
        m.submodules.kernel = k
        busy = Signal(name="busy")
        with m.If(self.start):
            m.d.sync += busy.eq(1)
        with m.Elif(k.done):
            m.d.sync += busy.eq(0)
        m.d.comb += [k.start.eq(self.start), self.done.eq(k.done)]
        for i, sig in enumerate(self.dbg):
            m.d.comb += sig.eq(k.fifo_status[i * DEBUG_BITS:(i + 1) * DEBUG_BITS])
        for name, sig in self.scalars_in.items():
            m.d.comb += getattr(k, port_name(name)).eq(sig)
        for i, sig in self.scalars_out.items():
            m.d.comb += sig.eq(getattr(k, f"ret{i}"))
        for h in host_memories(self.lf):
            port = getattr(k, h.name)
            haddr, hwdata, hwe, hrdata = self.host[h.name]
            mem = memory.Memory(shape=unsigned(h.type.bits),
                                depth=max(2, host_depth(self.lf, h, self.lengths)), init=[],
                                attrs=MEMORY_ATTRS)
            m.submodules[f"mem_{h.name}"] = mem
            rp = mem.read_port()
            wp = mem.write_port()
            kin = [port.raddr, port.ren, port.waddr, port.wdata, port.wen]
            if h.name in self.lengths:
                kin[4] = self.bounds_check(m, h.name, port, busy)
            own_w = busy
            if self.lf.mem_input_regs:
                # the kernel side registered in front of the RAM (see lower.kernel); a write
                # issued in the kernel's last cycle lands after busy fell: it still owns the port
                regs = [Signal(len(x), name=f"{h.name}_k{i}") for i, x in enumerate(kin)]
                m.d.sync += [r.eq(x) for r, x in zip(regs, kin)]
                kin = regs
                own_w = busy | kin[4]
            kraddr, kren, kwaddr, kwdata, kwen = kin
            m.d.comb += [
                rp.addr.eq(Mux(busy, kraddr, haddr)),
                rp.en.eq(Mux(busy, kren, 1)),
                port.rdata.eq(rp.data),
                hrdata.eq(rp.data),
                wp.addr.eq(Mux(own_w, kwaddr, haddr)),
                wp.data.eq(Mux(own_w, kwdata, hwdata)),
                wp.en.eq(Mux(own_w, kwen, hwe)),
            ]
            for w, en in (("reads", port.ren), ("writes", port.wen)):
                if (h.name, w) in self.profile:
                    # count kernel accesses; the output includes the current (done) cycle
                    cnt = Signal(PROFILE_BITS, name=f"cnt_{h.name}_{w}")
                    with m.If(self.start):
                        m.d.sync += cnt.eq(0)
                    with m.Elif(busy & en):
                        m.d.sync += cnt.eq(cnt + 1)
                    m.d.comb += self.profile[(h.name, w)].eq(cnt + (busy & en))
        return m

    def bounds_check(self, m, name, port, busy):
        """Dynamic array ``name``: drive ``<name>__oob`` (a write at or beyond the length
        since ``start``, including the current cycle) and return the write enable with
        such writes dropped. Reads are not checked: a load under an ``if`` may be issued
        before its condition is known (its value is then unused)."""
        n = self.lengths[name]
        bad = Signal(name=f"{name}_oob_now")
        seen = Signal(name=f"{name}_oob_seen")
        m.d.comb += bad.eq(busy & port.wen & (port.waddr >= n))
        with m.If(self.start):
            m.d.sync += seen.eq(0)
        with m.Elif(bad):
            m.d.sync += seen.eq(1)
        m.d.comb += self.oob[name].eq(seen | bad)
        return port.wen & (port.waddr < n)


def emit_verilog(wrapper: TopWrapper, name: str) -> str:
    """Deterministic Verilog for the wrapper (no source-location attributes), followed by
    the modules of the components it shares between instances (:mod:`shared`)."""
    with shared_modules() as shared:
        text = verilog.convert(wrapper, name=name, ports=wrapper.ports(), emit_src=False,
                               strip_internal_attrs=True)
    return text + "".join(shared[k] for k in sorted(shared))


#: Verilator lint waivers for generated Verilog (see the comments in the file)
WAIVERS = Path(__file__).with_name("verilator_waivers.vlt")
