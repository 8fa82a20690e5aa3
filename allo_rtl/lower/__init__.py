"""Lowering: kernel IR -> Amaranth components -> Verilog.

Data flow: :mod:`prepare` (memory effects as explicit loops) -> :mod:`banks`
(partitioned arrays as banks / registers) -> :mod:`cfg`
(basic blocks, terminator trees, threading) -> :mod:`dag` (per-block operation
schedule) -> :mod:`kernel` (FSM + datapath component per function) ->
:mod:`top` (wrapper with the argument memories, Verilog). Dynamic arrays
(``T[...]``) get a 32-bit address space first and a host memory of the argument's
length in the wrapper (:mod:`dynamic`, :meth:`LoweredDesign.rewrap`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..ir.nodes import Module
from ..ir.verify import maybe_verify
from . import ops
from .banks import bank_module
from .df_systolic import rewrite_df_systolic
from .dynamic import DEFAULT_HOST_DEPTH, bound_dynamic, dynamic_params
from .kernel import KernelComponent, LoweredFunction, MemPortSignature, lower_functions
from .prepare import prepare_module
from .report import format_rows, schedule_rows
from .systolic import check_unfolded, outline_systolic
from .streams import check_streams, expand_block_streams
from .top import TopWrapper, design_spec, emit_verilog, host_memories

__all__ = ["lower_design", "LoweredDesign", "KernelComponent", "MemPortSignature", "TopWrapper"]


@dataclass
class LoweredDesign:
    """The result of lowering a module: per-function lowering, the wrapper, its Verilog."""

    module: Module  # the prepared IR
    funcs: dict  # name -> LoweredFunction
    top: LoweredFunction
    name: str
    verilog: str
    spec: object  # testbench.spec.DesignSpec
    seconds: dict = field(default_factory=dict)
    profile: bool = False
    lengths: dict = field(default_factory=dict)  # dynamic arrays: host memory -> words

    def rewrap(self, lengths: dict) -> "LoweredDesign":
        """This design with the host memories of its dynamic arrays sized ``lengths``
        ({host memory name: words}); the kernel hierarchy is reused, not re-lowered."""
        lengths = {**self.lengths, **lengths}
        wrapper = TopWrapper(self.top, profile=self.profile, lengths=lengths)
        t0 = time.perf_counter()
        text = emit_verilog(wrapper, self.name)
        seconds = dict(self.seconds, verilog=time.perf_counter() - t0)
        return LoweredDesign(self.module, self.funcs, self.top, self.name, text,
                             design_spec(self.top, self.name, self.profile, lengths), seconds,
                             self.profile, lengths)

    def component(self) -> KernelComponent:
        """A fresh Amaranth component of the top kernel (for use in a user's design)."""
        return self.top.component()

    def host_memories(self):
        return host_memories(self.top)

    def summary(self) -> dict:
        """Ports, memories, submodules and states, for reports."""
        spec = self.spec
        return {
            "top": self.name,
            "memories": [{"name": m.name, "width": m.width, "depth": m.depth}
                         for m in spec.memories],
            "scalar_inputs": [{"name": p.name, "width": p.width} for p in spec.scalar_inputs],
            "scalar_outputs": [{"name": p.name, "width": p.width} for p in spec.scalar_outputs],
            "functions": [{
                "name": lf.name, "states": lf.nstates,
                "calls": [leaf.call.callee for _, leaf, _ in lf.calls],
                "local_memories": [{"name": b.name, "kind": b.kind, "width": b.type.bits,
                                    "depth": b.depth} for b in lf.bufs.values()
                                   if b.kind in ("local", "rom")],
                "blocks": [{"name": n, "cycles": c} for n, c in lf.cycles_summary()],
            } for lf in self.funcs.values()],
            "loops": schedule_rows(self),
        }

    def schedule_report(self, total_cycles=None) -> str:
        """Per-loop table: trip count, requested/achieved II, depth, predicted cycles."""
        return format_rows(schedule_rows(self), total_cycles)


def lower_design(module: Module, name: str | None = None, profile: bool = False,
                 clock_mhz: float | None = None) -> LoweredDesign:
    """Lower an IR module (as produced by the frontend/schedule) to Verilog. ``profile``
    adds read/write counters per argument memory (scalar outputs ``prof__<mem>__reads``).
    ``clock_mhz``: the target clock the schedulers budget for (default
    :data:`ops.DEFAULT_CLOCK_MHZ`, 120 MHz: int32 datapaths close timing there on ECP5).
    The host memory of a dynamic array parameter holds :data:`DEFAULT_HOST_DEPTH` words
    until :meth:`LoweredDesign.rewrap` sizes it."""
    t0 = time.perf_counter()
    module = rewrite_df_systolic(module)  # Allo's df systolic GEMM -> an unfolded band
    maybe_verify(module, "lower.df-systolic")
    module = expand_block_streams(module)
    check_streams(module)
    check_unfolded(module)
    prepared = prepare_module(bound_dynamic(module))
    maybe_verify(prepared, "lower.prepare")
    prepared = outline_systolic(prepared)
    maybe_verify(prepared, "lower.systolic")
    prepared = bank_module(prepared)
    maybe_verify(prepared, "lower.banks")
    with ops.target_clock(clock_mhz):
        funcs = lower_functions(prepared)
    top = funcs[prepared.top]
    t1 = time.perf_counter()
    name = name or f"{prepared.top}_top"
    lengths = {h.name: DEFAULT_HOST_DEPTH for h in host_memories(top)
               if h.kind == "param" and h.buf in dynamic_params(top.f)}
    wrapper = TopWrapper(top, profile=profile, lengths=lengths)
    text = emit_verilog(wrapper, name)
    t2 = time.perf_counter()
    return LoweredDesign(prepared, funcs, top, name, text,
                         design_spec(top, name, profile, lengths),
                         {"schedule": t1 - t0, "verilog": t2 - t1}, profile, lengths)
