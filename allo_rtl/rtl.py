"""``target="rtl"``: a built kernel that runs as Verilog in Verilator.

:class:`RTLModule` lowers the IR (:mod:`allo_rtl.lower`), compiles the Verilog
once into a native simulation executable (:mod:`testbench.native`, cached by
content), and on every call loads the arguments into the wrapper's memories,
runs the kernel from ``start`` to ``done``, and reads everything back. Calling
conventions are Allo's (the same as the interpreter's): numpy arrays and
scalars in parameter order, array arguments updated in place, results returned.

A kernel with dynamic arrays (``A: T[...]``) is lowered once; the wrapper's host
memories take the lengths of each call's arrays (:mod:`allo_rtl.lower.dynamic`), so
every distinct set of lengths has its own Verilog and simulation executable (kept
per module, and cached by content across runs). An access beyond an array's length
is an :class:`AlloError`, as on the interpreter.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from testbench import native
from testbench.errors import BuildError, SimulationError

from .errors import AlloError
from .ir import numerics as N
from .ir.interp import marshal_inputs, unmarshal_results
from .ir.nodes import Module
from .ir.types import Fixed, Float, Index, Int, is_dynamic
from .lower.kernel import port_name

__all__ = ["RTLModule", "DEFAULT_MAX_CYCLES", "outputs_equal"]

#: a kernel that has not raised ``done`` after this many cycles is reported as hung
DEFAULT_MAX_CYCLES = 200_000_000


def _signed(t) -> bool:
    return isinstance(t, (Int, Index, Fixed))


def _from_unsigned(words, t) -> list:
    """Raw unsigned words read from hardware -> raw values of type ``t`` (signed wrap;
    floats from their IEEE bit patterns)."""
    if isinstance(t, Float):
        return [N.bits_float(int(x), t) for x in words]
    if _signed(t):
        if t.bits <= 63 and isinstance(words, np.ndarray) and words.dtype != object:
            a = words.astype(np.int64)
            h = np.int64(1 << (t.bits - 1))
            return (((a + h) & np.int64((1 << t.bits) - 1)) - h).tolist()
        return [N.wrap(int(x), t) for x in words]
    return [int(x) for x in words] if not isinstance(words, np.ndarray) else words.tolist()


def _progress_printer(enabled: bool):
    if not enabled:
        return None

    def show(msg: str):
        print(f"[allo_rtl] {msg}", file=sys.stderr, flush=True)

    return show


class RTLModule:
    """A kernel built for ``target="rtl"``.

    ``clock_mhz`` (``s.build(clock_mhz=...)``) is the target clock the schedulers budget
    for: operators chain within one cycle only while the estimated ECP5 delay fits, wide
    or slow multiplies become pipelined units. Default 120 MHz
    (:data:`allo_rtl.lower.ops.DEFAULT_CLOCK_MHZ`), where int32 designs close timing;
    narrow datapaths (int8) reach 180 MHz with ``clock_mhz=180`` (more cycles).

    Attributes:
        verilog: the generated Verilog (wrapper + kernel hierarchy).
        component: a fresh Amaranth ``wiring.Component`` of the top kernel, for use in
            a user's own Amaranth design (the memory ports are then the user's to serve).
        design: the :class:`~allo_rtl.lower.LoweredDesign` (schedules, spec, timings).
        last_cycles: start-to-done cycles of the last call (exact, from simulation).
        last_run: the :class:`testbench.native.RunResult` of the last call.
        last_profile: with ``profile=True``, ``{memory: {"reads": n, "writes": m}}`` counted
            by hardware counters over the last call (partitioned arrays: per bank).
        max_cycles: hang guard for each call (default :data:`DEFAULT_MAX_CYCLES`).
    """

    def __init__(self, module: Module, *, name: str | None = None, trace: bool | str = False,
                 max_cycles: int = DEFAULT_MAX_CYCLES, progress: bool | None = None,
                 cache_dir=None, profile: bool = False, clock_mhz: float | None = None):
        from .lower import lower_design

        self.ir = module
        self.clock_mhz = clock_mhz
        self.design = lower_design(module, name, profile=profile, clock_mhz=clock_mhz)
        # dynamic arrays: lengths of the host memories -> (design, simulation build)
        self._sized = {self._lengths_key(self.design.lengths): [self.design, None]}
        # profile=True: counters of the kernel's reads/writes per argument memory (bank)
        self.last_profile = None
        # trace: False, True (FST waveform <top>.fst in the working directory), or a path
        # ending in .fst / .vcd; every call rewrites the file.
        self.trace = False
        self.trace_path = None
        if trace:
            path = f"{self.spec.top}.fst" if trace is True else os.fspath(trace)
            self.trace = "vcd" if path.endswith(".vcd") else "fst"
            self.trace_path = path
        self.max_cycles = max_cycles
        self.cache_dir = cache_dir
        self.last_cycles = None
        self.last_run = None
        if progress is None:
            progress = bool(os.environ.get("ALLO_RTL_PROGRESS"))
        self._progress = _progress_printer(progress)
        self._build = None
        self.build_seconds = None

    @property
    def verilog(self) -> str:
        """The Verilog of the wrapper and kernel hierarchy; with dynamic arrays, the wrapper
        sized for the last call (before the first call, for the default length)."""
        return self.design.verilog

    @property
    def spec(self):
        return self.design.spec

    @staticmethod
    def _lengths_key(lengths: dict) -> tuple:
        return tuple(sorted(lengths.items()))

    def _size_for(self, lengths: dict) -> None:
        """Make the wrapper sized ``lengths`` (dynamic arrays) the current design."""
        key = self._lengths_key(lengths)
        if key == self._lengths_key(self.design.lengths):
            return
        if key not in self._sized:
            self._sized[key] = [self.design.rewrap(lengths), None]
        cur = self._sized[self._lengths_key(self.design.lengths)]
        cur[1] = self._build
        self.design, self._build = self._sized[key]

    @property
    def component(self):
        return self.design.component()

    def synth(self, device: str = "ecp5-85k", **kwargs):
        """Synthesize this design's Verilog (Yosys; on ECP5 also nextpnr place & route) and
        return an :class:`allo_rtl.synth.SynthReport`: LUT/FF/carry/DSP/BRAM per module and
        in total, Fmax and the critical path. ``device``: ``ecp5-85k``, ``xc7`` or
        ``ice40-up5k``; keyword options as :func:`allo_rtl.synth.synthesize` (``pnr``,
        ``seed``, ``cache_dir``, ``progress``, ...). Cached by Verilog hash."""
        from .synth import synthesize

        if "progress" not in kwargs and self._progress is not None:
            kwargs["progress"] = self._progress
        return synthesize(self.verilog, self.spec.top, device, **kwargs)

    def compile(self):
        """Compile the simulation executable now (otherwise done at the first call)."""
        if self._build is None:
            t0 = time.perf_counter()
            try:
                self._build = native.build(self.verilog, self.spec, trace=self.trace,
                                           progress=self._progress, cache_dir=self.cache_dir)
            except BuildError as e:
                raise AlloError(f"Verilator could not build the generated design "
                                f"'{self.spec.top}': {e}", None,
                                "this is a bug in allo_rtl; please report it with the kernel") from None
            self.build_seconds = time.perf_counter() - t0
        return self._build

    def _sim_error(self, e) -> AlloError:
        """The AlloError for a failed simulation; a run that hit max_cycles in a dataflow
        design names the FIFOs that were full or empty then."""
        top = self.design.top
        fifos = _fifo_report(top, getattr(e, "outputs", {}))
        hint = "if the kernel legitimately runs longer, raise mod.max_cycles"
        if fifos:
            hint = ("a kernel waits on a stream that is never served (check the number of "
                    "puts and gets per stream and their order); " + hint)
        return AlloError(f"RTL simulation of {top.f.name} failed{fifos}: {e}", self.ir.top_func.loc,
                         hint)

    def __call__(self, *args):
        top = self.design.top.f
        ir_top = self.ir.top_func
        raw, writeback = marshal_inputs(ir_top, args)
        memories, scalars, lengths = {}, {}, {}
        pos = 0
        banks = top.attrs.get("banks", {})
        for p in ir_top.params:
            if p.is_tensor:
                arr = np.asarray(raw[pos], dtype=object) \
                    if p.type.bits > 64 else _raw_array(raw[pos], p.type)
                if p.name in banks:  # partitioned: scatter into the bank memories
                    for bank, imap in banks[p.name]:
                        memories[port_name(bank)] = np.where(imap >= 0, arr[np.maximum(imap, 0)], 0)
                elif is_dynamic(p.shape):
                    n = lengths[port_name(p.name)] = len(arr)
                    # an empty array still has a one-word memory (never accessed in bounds)
                    memories[port_name(p.name)] = arr if n else np.zeros(1, arr.dtype)
                    pos += 1
                else:
                    memories[port_name(p.name)] = arr
                pos += 2
            else:
                v = raw[pos]
                scalars[port_name(p.name)] = N.float_bits(v, p.type) if isinstance(
                    p.type, Float) else int(v)
                pos += 1
        self._size_for(lengths)
        build = self.compile()
        try:
            res = native.run(build, memories, scalars, max_cycles=self.max_cycles,
                             trace_path=self.trace_path)
        except SimulationError as e:
            raise self._sim_error(e) from None
        self.last_run = res
        self.last_cycles = res.cycles
        self._check_bounds(res, lengths)
        prof = {k[len("prof__"):]: v for k, v in res.scalars.items() if k.startswith("prof__")}
        if prof:
            self.last_profile = {}
            for k, v in prof.items():
                mem, what = k.rsplit("__", 1)
                self.last_profile.setdefault(mem, {})[what] = int(v)
        for idx, lst in writeback:
            p = ir_top.params[idx]
            if p.name in banks:  # gather the banks
                flat = np.zeros(int(np.prod(p.shape)), dtype=object)
                for bank, imap in banks[p.name]:
                    got = np.asarray(res.memories[port_name(bank)], dtype=object)
                    flat[imap[imap >= 0]] = got[imap >= 0]
                vals = _from_unsigned(list(flat), p.type)
            else:
                vals = _from_unsigned(res.memories[port_name(p.name)], p.type)
                vals = vals[:len(lst)]  # a dynamic array's memory has at least one word
            args[idx][...] = N.from_raw(vals, p.type, args[idx].shape)
        out = []
        for k, r in enumerate(ir_top.results):
            if r.is_tensor:
                out.append(_from_unsigned(res.memories[f"ret{k}"], r.type))
            else:
                out.append(_from_unsigned([res.scalars[f"ret{k}"]], r.type)[0])
        return unmarshal_results(ir_top, out) if ir_top.results else None


    def _check_bounds(self, res, lengths: dict) -> None:
        """The wrapper flagged a write beyond a dynamic array's length: report it like the
        interpreter does (the write was dropped). Reads beyond the length are not seen by
        the hardware (see :meth:`allo_rtl.lower.top.TopWrapper.bounds_check`)."""
        for p in self.ir.top_func.params:
            name = port_name(p.name)
            if name in lengths and int(res.scalars.get(f"{name}__oob", 0)):
                raise AlloError(f"{self.ir.top}: the kernel wrote to the dynamic array {p.name!r} "
                                f"of length {lengths[name]} out of bounds (RTL simulation)",
                                p.loc or self.ir.top_func.loc,
                                "the array argument is shorter than the loop bounds: check "
                                "the size arguments against the arrays passed (target='sim' "
                                "names the access)")


def _fifo_report(lf, outputs: dict) -> str:
    """The FIFOs of a stalled dataflow design that are empty or full, for error messages."""
    from .lower.top import fifo_states

    states = fifo_states(lf, outputs) if getattr(lf, "fifo_names", None) else {}
    stuck = {k: v for k, v in states.items() if v != "partly full"}
    if not stuck:
        return ""
    full = [k for k, v in stuck.items() if v == "full"]
    empty = [k for k, v in stuck.items() if v == "empty"]
    parts = []
    if full:
        parts.append(f"full (a writer waits): {', '.join(full)}")
    if empty:
        parts.append(f"empty (a reader may wait): {', '.join(empty)}")
    return "; FIFOs at the limit: " + "; ".join(parts)


def outputs_equal(a, b) -> bool:
    """Bit-exact equality of kernel outputs (results or arrays): floats compare by their bit
    patterns, so -0.0 != +0.0 and NaN == NaN of the same encoding."""
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(outputs_equal(x, y) for x, y in zip(a, b)))
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    if x.dtype.kind == "f":
        x, y = x.view(f"u{x.dtype.itemsize}"), y.view(f"u{y.dtype.itemsize}")
    return bool(np.array_equal(x, y))


def _raw_array(lst, t):
    if isinstance(t, Float):  # IEEE bit patterns
        return np.asarray([N.float_bits(x, t) for x in lst], dtype=np.uint64)
    if t.bits <= 64:
        dt = np.int64 if _signed(t) or t.bits < 64 else np.uint64
        return np.asarray(lst, dtype=dt)
    return np.asarray(lst, dtype=object)
