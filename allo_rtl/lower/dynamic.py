"""Dynamic arrays (``A: T[...]``) in hardware.

A dynamic array is a 1-D parameter whose length is known only when the kernel is
called (IR shape ``(None,)``). In hardware it is a memory port like any other, with
a fixed address width of :data:`DYNAMIC_ADDR_BITS` (32, the width of the ``index``
type): the kernel component does not depend on the length, so one component serves
every size. Only the host memory in the top wrapper has a size, and it is the size
of the argument: :class:`allo_rtl.rtl.RTLModule` re-wraps the same lowered kernel
for every distinct set of lengths it is called with (one Verilator build per
distinct set, cached by content).

The wrapper also checks the bounds the interpreter checks: a kernel access at an
address ``>= length`` (a negative index is a large unsigned address) sets the
one-bit output ``<memory>__oob`` and the write is dropped; the caller reports it as
an error. Before the first call (``mod.verilog``, ``python -m allo_rtl build``) the
host memory of a dynamic array holds :data:`DEFAULT_HOST_DEPTH` words.

Before lowering, :func:`bound_dynamic` gives every dynamic parameter the extent
``2**DYNAMIC_ADDR_BITS`` (its address space), so the block schedulers and the
kernel emitter see an ordinary 1-D array with 32-bit addresses::

    func k(A: f32[?], n: i32)   ->   func k(A: f32[4294967296], n: i32)   attrs dynamic=[A]
"""

from __future__ import annotations

import copy

from ..ir.nodes import Function, Module, Param
from ..ir.types import is_dynamic

__all__ = ["DYNAMIC_ADDR_BITS", "DEFAULT_HOST_DEPTH", "bound_dynamic", "dynamic_params",
           "has_dynamic"]

#: address width of a dynamic array's memory port (the ``index`` type's width)
DYNAMIC_ADDR_BITS = 32

#: words of a dynamic array's host memory until the wrapper is sized by a call
DEFAULT_HOST_DEPTH = 1024


def has_dynamic(module: Module) -> bool:
    """True when some function of ``module`` has a dynamic array parameter."""
    return any(dynamic_params(f) for f in module.funcs.values())


def dynamic_params(f: Function) -> list:
    """Names of ``f``'s dynamic array parameters (after :func:`bound_dynamic` too)."""
    if "dynamic" in f.attrs:
        return list(f.attrs["dynamic"])
    return [p.name for p in f.params if p.is_tensor and is_dynamic(p.shape)]


def bound_dynamic(module: Module) -> Module:
    """A copy of ``module`` whose dynamic parameters have the extent of their address
    space, ``2**DYNAMIC_ADDR_BITS``; each function lists them in ``attrs["dynamic"]``.
    Functions without dynamic parameters are shared, not copied."""
    if not has_dynamic(module):
        return module
    extent = (1 << DYNAMIC_ADDR_BITS,)
    funcs = {}
    for name, f in module.funcs.items():
        dyn = dynamic_params(f)
        if not dyn:
            funcs[name] = f
            continue
        g = copy.copy(f)
        g.params = [Param(p.name, p.type, extent, p.memory, p.loc) if p.name in dyn else p
                    for p in f.params]
        g.attrs = dict(f.attrs, dynamic=dyn)
        funcs[name] = g
    return Module(funcs, module.top)
