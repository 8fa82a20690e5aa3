"""Identical leaf components emitted once: one Verilog module per distinct component,
instantiated by name wherever it is used.

Amaranth elaborates (and emits) every instance of a component separately, so a grid
of 256 identical PEs costs 256 times the netlist work and 256 copies of the module in
the Verilog. A :class:`Shared` stand-in avoids that while :func:`shared_modules` is
active (around the design's Verilog emission, :func:`allo_rtl.lower.top.emit_verilog`):
the first stand-in of a given ``name`` converts its component to Verilog once (cached
for the process: a second build of the same design reuses it), every stand-in becomes
an ``Instance`` of that module, and the emitter appends the collected modules to the
design's Verilog. Outside that context (a user instantiating the kernel component in
an Amaranth design, Amaranth's simulator) a stand-in simply contains its component.

Only components whose ports are plain ``In``/``Out`` values and whose registers use
the ``sync`` domain qualify; the name must identify the component's parameters.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from amaranth.back import verilog
from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Shared", "shared_modules"]

_ACTIVE: ContextVar = ContextVar("allo_rtl_shared_modules", default=None)
_TEXT: dict = {}  # module name -> Verilog text (process-wide cache)


@contextmanager
def shared_modules():
    """Collect ``{module name: Verilog text}`` of the shared components elaborated inside."""
    mods: dict = {}
    tok = _ACTIVE.set(mods)
    try:
        yield mods
    finally:
        _ACTIVE.reset(tok)


class Shared(wiring.Component):
    """Stands in for ``factory()``, a component of signature ``signature`` (see the module
    docstring). ``name``: the Verilog module name, unique per distinct component. Ports may
    be one-dimensional arrays (``In(8).array(4)``); the component may itself contain
    shared components (their modules are emitted with it)."""

    def __init__(self, name: str, factory, signature: wiring.Signature):
        self._name, self._factory = name, factory
        members = {}
        for n, m in signature.members.items():
            if not m.is_port or len(m.dimensions) > 1:
                raise TypeError(f"Shared: member {n!r} of {name} is not a port or a "
                                "one-dimensional array of ports")
            member = (In if m.flow == wiring.In else Out)(m.shape)
            members[n] = member.array(*m.dimensions) if m.dimensions else member
        super().__init__(members)

    def elaborate(self, platform):
        mods = _ACTIVE.get()
        ports = self.signature.members
        if mods is None:
            m = Module()
            inner = m.submodules.inner = self._factory()
            for n, mem in ports.items():
                mine, theirs = getattr(self, n), getattr(inner, n)
                pairs = list(zip(mine, theirs)) if mem.dimensions else [(mine, theirs)]
                for x, y in pairs:
                    m.d.comb += y.eq(x) if mem.flow == wiring.In else x.eq(y)
            return m
        if self._name not in _TEXT:
            with shared_modules() as inner:  # what the component shares in turn
                text = verilog.convert(self._factory(), name=self._name, emit_src=False,
                                       strip_internal_attrs=True)
            _TEXT[self._name] = (text, dict(inner))
        text, inner = _TEXT[self._name]
        mods[self._name] = text
        mods.update(inner)
        conns = {"i_clk": ClockSignal("sync"), "i_rst": ResetSignal("sync")}
        for n, mem in ports.items():
            d = "i_" if mem.flow == wiring.In else "o_"
            if mem.dimensions:  # Amaranth names the ports of an array <name>__<index>
                for k, sig in enumerate(getattr(self, n)):
                    conns[f"{d}{n}__{k}"] = sig
            else:
                conns[d + n] = getattr(self, n)
        return Instance(self._name, **conns)  # a leaf: no wrapper module per stand-in
