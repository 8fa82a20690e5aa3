"""Synthesis and timing reports: Verilog -> Yosys (-> nextpnr) -> :class:`SynthReport`.

``synthesize(verilog, top, device)`` runs Yosys with the hierarchy kept, so
every module (Amaranth emits one per component instance) gets its own LUT / FF
/ CARRY / DSP / BRAM / LUTRAM counts, checks the totals against the device's
capacity (raising :class:`DeviceTooSmall` without running P&R when something
overflows), then flattens the netlist and places and routes it with nextpnr
where an open-source P&R exists, reporting Fmax, the critical path and what
limits it.

Devices:

========== ================ ============================ ==========================
name       part             synthesis                    place & route
========== ================ ============================ ==========================
ecp5-85k   LFE5U-85F        ``synth_ecp5 -noflatten``    nextpnr-ecp5 ``--85k
                                                         --package CABGA381
                                                         --out-of-context``
xc7        xc7a100t         ``synth_xilinx -family xc7`` none (Fmax is None)
ice40-up5k iCE40UP5K        ``synth_ice40 -noflatten     none (Fmax is None)
                            -dsp -spram``
========== ================ ============================ ==========================

P&R runs out of context (``--out-of-context``: no I/O buffers, so kernels with
hundreds of port bits fit) with ``--freq target_mhz`` (default 200) as the
constraint on every clock; ``fmax_mhz`` is the achieved frequency of the
``clk`` clock. For P&R only, the top is wrapped so that every port bit passes
through a register clocked by ``clk`` (not counted in the report): paths from
and to the ports are then timed as they are once the ports connect to
registers or block RAM (e.g. the caller-owned memories), instead of being left
unconstrained. Resource numbers come from a hierarchy-preserving synthesis: no
optimisation across module boundaries.

Results are cached by SHA-256 of (Verilog, top, device, P&R flag, seed, clock,
target, tool versions, flow version) in ``$XDG_CACHE_HOME/allo_rtl/synth``
(``~/.cache/allo_rtl/synth``); entries are written to a temporary file and
renamed into place, so concurrent runs are safe.

Timing (measured on a 2-core machine shared with other jobs, YoWASP WebAssembly
tools, WASM cache warm): a small design (registered 8-bit adder with a
submodule) takes 0.6 s in Yosys plus 0.7-0.8 s in nextpnr-ecp5, about 1.5 s
per ``synthesize`` call; ten 16x16 multipliers (10 DSPs, ~1300 FFs with the port
registers) 0.6 s + 2.9 s; a cache hit takes well under 10 ms. The very first
call of each YoWASP tool on a machine compiles its WebAssembly module (about a
minute, cached in ``~/.cache/YoWASP`` afterwards; ``progress`` says so).
"""

from .devices import CATEGORIES, DEVICES, Device, get_device
from .errors import DeviceTooSmall, SynthError
from .flow import default_cache_dir, synthesize
from .report import SynthReport, format_table

__all__ = [
    "CATEGORIES",
    "DEVICES",
    "Device",
    "DeviceTooSmall",
    "SynthError",
    "SynthReport",
    "default_cache_dir",
    "format_table",
    "get_device",
    "synthesize",
]
