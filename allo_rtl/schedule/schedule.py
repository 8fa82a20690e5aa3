"""The schedule object returned by ``allo.customize(fn)``.

It owns the kernel IR (``s.module``), exposes loop and buffer handles with
Allo's naming (``s.get_loops()["S_i_j_0"]["i"]``, ``s.A``), records every
primitive in ``s.primitive_sequences``, and builds the design.

Primitives whose hardware effect is not implemented yet raise an
:class:`AlloError` saying so: a schedule is never silently ignored.
"""

from __future__ import annotations

import inspect
import os
import warnings

from ..errors import AlloError, AlloWarning, Loc
from ..ir.nodes import Decl, For, Module, walk_stmts
from ..ir.verify import maybe_verify

__all__ = ["Schedule", "LoopHandle", "LoopBand", "LoopBands", "BufferHandle", "TARGETS"]

TARGETS = ("rtl", "sim")
_VENDOR = ("vhls", "vitis_hls", "hls", "ihls", "tapa", "aie", "catapult", "llvm", "mlir")


def _caller_loc(depth: int = 2) -> Loc | None:
    frame = inspect.currentframe()
    try:
        for _ in range(depth):
            frame = frame.f_back if frame is not None else None
        if frame is None:
            return None
        info = inspect.getframeinfo(frame, context=1)
        src = info.code_context[0] if info.code_context else ""
        return Loc(info.filename, info.lineno, 0, src)
    finally:
        del frame


#: keyword options of ``build(target="rtl")`` (see :class:`allo_rtl.rtl.RTLModule`)
_RTL_OPTIONS = ("trace", "max_cycles", "progress", "name", "cache_dir", "profile", "clock_mhz")


class LoopHandle:
    """A loop of a band: ``.name`` is ``func:band.loop``."""

    def __init__(self, func: str, band: str, loop: str):
        self.func, self.band, self.loop = func, band, loop
        self.name = f"{func}:{band}.{loop}"

    def __repr__(self):
        return f"LoopHandle({self.name})"


class LoopBand:
    """The loops of one top-level nest, by loop name (``band["i"]`` or ``band.i``)."""

    def __init__(self, func: str, band: str, loops: list):
        self.func, self.name = func, band
        self.loops = {n: LoopHandle(func, band, n) for n in loops}

    def __getitem__(self, key):
        try:
            return self.loops[key]
        except KeyError:
            raise AlloError(f"band {self.name!r} has no loop {key!r}",
                            hint=f"loops in this band: {', '.join(self.loops)}") from None

    def __getattr__(self, key):
        if key.startswith("__") or key in ("loops", "func", "name"):
            raise AttributeError(key)
        return self[key]

    def __iter__(self):
        return iter(self.loops.values())

    def __repr__(self):
        return f"LoopBand({self.name}: {', '.join(self.loops)})"


class LoopBands:
    """All bands of a function, by band name."""

    def __init__(self, func: str, bands: dict):
        self.func = func
        self.bands = bands

    def __getitem__(self, key):
        try:
            return self.bands[key]
        except KeyError:
            raise AlloError(f"function {self.func!r} has no loop band {key!r}",
                            hint=f"bands: {', '.join(self.bands) or '(none)'}") from None

    def __getattr__(self, key):
        if key.startswith("__") or key in ("bands", "func"):
            raise AttributeError(key)
        return self[key]

    def __iter__(self):
        return iter(self.bands.values())

    def keys(self):
        return self.bands.keys()

    def __repr__(self):
        return f"LoopBands({', '.join(self.bands)})"


class BufferHandle:
    """A named buffer (argument, local, call result) of a function: ``s.A``."""

    def __init__(self, func: str, name: str):
        self.func, self.name = func, name

    def __repr__(self):
        return f"BufferHandle({self.func}:{self.name})"


def collect_bands(func) -> dict:
    """Band name -> list of loop names (DFS order, all loops nested in the band)."""
    bands = {}
    for s in func.body:
        for st in walk_stmts([s]):
            if isinstance(st, For) and st.band:
                bands[st.band] = [x.name for x in walk_stmts([st]) if isinstance(x, For)]
    return bands


class Schedule:
    """A kernel plus its customizations."""

    def __init__(self, module: Module, *, source_fn=None):
        self.module = module
        self.top_func_name = module.top
        self.primitive_sequences: list = []
        #: the template arguments of ``customize(fn, instantiate=...)`` (Allo's name)
        self.inst_list: list = []
        self._source_fn = source_fn

    @property
    def top_func(self):
        return self.module.top_func

    def __repr__(self):
        return str(self.module)

    # ------------------------------------------------------------ handles

    def get_loops(self, func: str | None = None) -> LoopBands:
        fname = func or self.top_func_name
        if fname not in self.module.funcs:
            raise AlloError(f"no function {fname!r} in this schedule",
                            _caller_loc(), f"functions: {', '.join(self.module.funcs)}")
        f = self.module.funcs[fname]
        return LoopBands(fname, {b: LoopBand(fname, b, loops)
                                 for b, loops in collect_bands(f).items()})

    def _buffers(self, fname):
        f = self.module.funcs[fname]
        names = {p.name for p in f.params}
        names |= {s.name for s in walk_stmts(f.body) if isinstance(s, Decl)}
        return names

    def __getattr__(self, name):
        if name.startswith("_") or name in ("module", "top_func_name", "primitive_sequences"):
            raise AttributeError(name)
        if name in self._buffers(self.top_func_name):
            return BufferHandle(self.top_func_name, name)
        raise AttributeError(
            f"schedule has no attribute or buffer {name!r} "
            f"(buffers of {self.top_func_name}: {', '.join(sorted(self._buffers(self.top_func_name)))})")

    def get_equivalent_variables(self, name: str) -> set:
        """Buffers aliased with ``"func:name"`` across calls, as ``{"func:name", "g:0"}``
        (parameters appear as ``func:<index>``)."""
        from . import memory

        return memory.equivalent_variables(self.module, name, _caller_loc())

    # ------------------------------------------------------------ primitives

    def _unsupported(self, prim: str) -> AlloError:
        return AlloError(
            f"schedule primitive '{prim}' is not supported yet: its hardware effect is not "
            "implemented, and allo_rtl never ignores a primitive silently",
            _caller_loc(3),
            "remove this call for now; primitives land with the schedules issue")

    def _record(self, prim: str, *args, **kwargs):
        self.primitive_sequences.append((prim, args, kwargs))

    # Each primitive: (module, implementing function, how its arguments map onto it).
    _PRIMITIVES = {
        "split": ("loops", "split", lambda a, k: (a[0], a[1])),
        "reorder": ("loops", "reorder", lambda a, k: (a,)),
        "fuse": ("loops", "fuse", lambda a, k: (a,)),
        "unroll": ("loops", "unroll", lambda a, k: (a[0], k.get("factor", 0))),
        "pipeline": ("loops", "pipeline", lambda a, k: (a[0], k.get("initiation_interval", 1),
                                                        k.get("rewind", False))),
        "parallel": ("loops", "parallel", lambda a, k: (a[0],)),
        "inline": ("loops", "inline", lambda a, k: (a[0],)),
        "compute_at": ("loops", "compute_at", lambda a, k: (a[0], a[1])),
        "partition": ("memory", "partition", lambda a, k: (
            a[0], k.get("partition_type", 0), k.get("dim", 0), k.get("factor", 0))),
        "buffer_at": ("memory", "buffer_at", lambda a, k: (a[0], a[1])),
        "reuse_at": ("memory", "reuse_at", lambda a, k: (a[0], a[1])),
        "reshape": ("memory", "reshape", lambda a, k: (a[0], a[1])),
        "unfold": ("systolic", "unfold", lambda a, k: (a[0], a[1])),
        "to": ("systolic", "to", lambda a, k: (a[0], a[1], k.get("axis"), k.get("depth", -1))),
    }

    def _apply(self, prim: str, args: tuple, kwargs: dict, loc):
        """Record primitive ``prim`` and apply it to the module (errors point at ``loc``)."""
        from . import loops, memory, systolic

        self._record(prim, *args, **kwargs)
        mod, fn, params = self._PRIMITIVES[prim]
        impl = getattr({"loops": loops, "memory": memory, "systolic": systolic}[mod], fn)
        out = impl(self.module, *params(args, kwargs), loc)
        maybe_verify(self.module, f"s.{prim}")
        return out

    def split(self, axis, factor):
        """Strip-mine ``axis`` into ``<name>.outer`` / ``<name>.inner`` loops."""
        return self._apply("split", (axis, factor), {}, _caller_loc())

    def reorder(self, *axes):
        """Interchange loops of one band (``axes`` outer to inner)."""
        return self._apply("reorder", axes, {}, _caller_loc())

    def fuse(self, *axes):
        """Flatten consecutive perfectly nested loops into one; returns its handle."""
        return self._apply("fuse", axes, {}, _caller_loc())

    def unroll(self, axis, factor=0):
        """Replicate the loop body ``factor`` times (0: fully)."""
        return self._apply("unroll", (axis,), {"factor": factor}, _caller_loc())

    def pipeline(self, axis, initiation_interval=1, rewind=False):
        """Pipeline ``axis`` at the requested initiation interval (modulo scheduling)."""
        return self._apply("pipeline", (axis,), {"initiation_interval": initiation_interval,
                                                 "rewind": rewind}, _caller_loc())

    def parallel(self, axis):
        """Run the iterations of ``axis`` concurrently (a fully replicated datapath)."""
        return self._apply("parallel", (axis,), {}, _caller_loc())

    def inline(self, func_name=None):
        """Flatten function ``func_name`` (default: the top) into its callers."""
        return self._apply("inline", (func_name,), {}, _caller_loc())

    def dataflow(self, target):
        """Make function ``target`` a dataflow region: its calls run concurrently, talking
        through the streams made by :meth:`to` (see :mod:`allo_rtl.schedule.dataflow`)."""
        from . import dataflow

        loc = _caller_loc()
        self._record("dataflow", target)
        dataflow.dataflow(self.module, target, loc)
        maybe_verify(self.module, "s.dataflow")

    def compute_at(self, from_axis, target_axis):
        """Move the producer nest of ``from_axis`` into the consumer nest at ``target_axis``."""
        return self._apply("compute_at", (from_axis, target_axis), {}, _caller_loc())

    def partition(self, target, partition_type=0, dim=0, factor=0):
        """Partition a tensor into banks (Block/Cyclic) or registers (Complete)."""
        return self._apply("partition", (target,), {"partition_type": partition_type,
                                                    "dim": dim, "factor": factor}, _caller_loc())

    def buffer_at(self, target, axis):
        """Accumulate the writes of ``target`` inside ``axis`` in an on-chip buffer."""
        return self._apply("buffer_at", (target, axis), {}, _caller_loc())

    def reuse_at(self, target, axis):
        """A reuse (line/window) buffer for the sliding-window reads of ``target`` along
        ``axis``; returns its handle (chain for 2-D/3-D windows)."""
        return self._apply("reuse_at", (target, axis), {}, _caller_loc())

    def reshape(self, target, shape):
        """Reinterpret ``target`` with a new shape (same number of elements)."""
        return self._apply("reshape", (target, shape), {}, _caller_loc())

    def to(self, target, dst, axis=None, depth=-1):
        """After ``pe = s.unfold(...)``: ``s.to(buf, pe, axis=d)`` streams ``buf`` between
        neighbouring PEs along grid dimension ``d`` (see :mod:`allo_rtl.schedule.systolic`)."""
        from .systolic import is_pe_grid

        if is_pe_grid(dst):
            return self._apply("to", (target, dst), {"axis": axis, "depth": depth},
                               _caller_loc())
        # s.to(array, "consumer", depth): a FIFO between two calls (schedule/dataflow.py)
        from . import dataflow

        loc = _caller_loc()
        self._record("to", target, dst, axis=axis, depth=depth)
        dataflow.to(self.module, target, dst, depth, loc)
        maybe_verify(self.module, "s.to")

    def unfold(self, band_name, axes):
        """Loops ``axes`` of band ``band_name`` become the dimensions of a grid of processing
        elements; returns the grid for ``s.to`` (see :mod:`allo_rtl.schedule.systolic`)."""
        return self._apply("unfold", (band_name, list(axes) if isinstance(axes, tuple)
                                      else axes), {}, _caller_loc())

    def compose(self, schs, id=None, instantiate=None):  # noqa: A002 - Allo's name
        """Replay the primitives of sub-schedule(s) ``schs`` (schedules of functions this
        kernel calls) onto those functions here: bottom-up composition. ``id="x"`` targets
        the instance ``func_x`` (a call ``func[..., "x"](...)``); without it, the instance
        whose signature matches the sub-schedule's (``instantiate=`` picks the template
        arguments of a kernel passed instead of a schedule). Layouts (partitions) then
        propagate through the call boundaries as for primitives applied here."""
        from . import compose

        loc = _caller_loc()
        subs = list(schs) if isinstance(schs, (list, tuple)) else [schs]
        for sub in subs:
            compose.compose(self, sub, id, instantiate, loc)

    # ------------------------------------------------------------ report

    def report(self, mod=None) -> str:
        """The hardware schedule per loop (trip count, requested/achieved II, pipeline depth,
        predicted cycles), from lowering this schedule; pass the module returned by
        ``build()`` after a call to show the simulated total next to it."""
        from ..lower import lower_design

        design = getattr(mod, "design", None)
        if design is None:
            design = lower_design(self.module)
        return design.schedule_report(getattr(mod, "last_cycles", None))

    # ------------------------------------------------------------ build

    def build(self, target: str | None = None, mode: str | None = None, project: str | None = None,
              configs=None, wrap_io: bool = True, use_memory: bool = False, **kwargs):
        """Build the design. ``target``: "rtl" (default; ``ALLO_RTL_TARGET`` overrides the
        default) lowers to Verilog and simulates it; "sim" runs the IR interpreter.

        RTL options (keyword): ``trace`` (True or a .fst/.vcd path), ``max_cycles``,
        ``progress``, ``name`` (Verilog module name), ``cache_dir``, ``profile`` (count the
        kernel's memory reads/writes in hardware: ``mod.last_profile``), ``clock_mhz``
        (the target clock the schedulers budget for; default 120 MHz). Allo's HLS options
        (``mode``, ``project``, ``configs``, ``wrap_io``, ``use_memory``) are accepted for
        compatibility and have no effect here (a warning says so)."""
        from .dataflow import check_sequential_depths

        check_sequential_depths(self.module)
        unknown = sorted(set(kwargs) - set(_RTL_OPTIONS))
        if unknown:
            raise AlloError(f"unknown build option(s) {', '.join(unknown)}", _caller_loc(),
                            f"options of this target: {', '.join(_RTL_OPTIONS)}")
        allo_opts = [n for n, v, d in (("mode", mode, None), ("project", project, None),
                                       ("configs", configs, None), ("wrap_io", wrap_io, True),
                                       ("use_memory", use_memory, False)) if v != d]
        if allo_opts:
            warnings.warn(f"build option(s) {', '.join(allo_opts)} configure Allo's HLS "
                          "backends and have no effect in allo_rtl", AlloWarning, stacklevel=2)
        if target is None:
            target = os.environ.get("ALLO_RTL_TARGET", "rtl").strip().lower() or "rtl"
            if target not in TARGETS:
                raise AlloError(f"ALLO_RTL_TARGET={target!r} is not a target",
                                hint=f"set it to one of: {', '.join(TARGETS)}")
        target = str(target).lower()
        if target in ("sim", "simulator", "interp", "interpreter"):
            from ..ir.interp import compile_module

            if kwargs:
                raise AlloError(f"option(s) {', '.join(sorted(kwargs))} apply to target='rtl' "
                                "only", _caller_loc(), "drop them for target='sim'")

            return compile_module(self.module)
        if target == "rtl":
            from ..rtl import RTLModule

            return RTLModule(self.module, **kwargs)
        if target in _VENDOR:
            raise AlloError(f"target {target!r} is a vendor/Allo backend that allo_rtl does not "
                            "have", _caller_loc(),
                            f"supported targets: {', '.join(TARGETS)}")
        raise AlloError(f"unknown build target {target!r}", _caller_loc(),
                        f"supported targets: {', '.join(TARGETS)}")
