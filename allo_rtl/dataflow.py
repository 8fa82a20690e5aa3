"""``import allo_rtl.dataflow as df``: dataflow regions of concurrent kernels (Allo's
``allo.dataflow``).

A region is a function whose parameters are the external arrays; its body holds
only stream declarations and ``@df.kernel`` functions::

    @df.region()
    def top(A: int32[M, N], B: int32[M, N]):
        pipe: Stream[int32, 4]

        @df.kernel(mapping=[1], args=[A])
        def producer(local_A: int32[M, N]):
            for i, j in allo.grid(M, N):
                pipe.put(local_A[i, j])

        @df.kernel(mapping=[1], args=[B])
        def consumer(local_B: int32[M, N]):
            for i, j in allo.grid(M, N):
                local_B[i, j] = pipe.get() + 1

    mod = df.build(top, target="sim")     # Allo's "simulator" is accepted too
    mod(A, B)                             # outputs are written in place

``mapping=[P0, P1]`` makes P0*P1 kernel instances ``<kernel>_<i>_<j>``
(``<kernel>_0`` for ``[1]``), each a function of ``s.module`` where
``df.get_pid()`` is the compile-time constant ``(i, j)`` (a plain int for a 1-D
mapping). ``args=[...]`` names the region parameters passed, in order, to the
kernel's parameters. A kernel instance receives the region streams it uses as
extra Stream parameters after its own; the region function calls every instance
and the interpreter runs them concurrently with blocking FIFOs (see
``allo_rtl/ir/scheduler.py``). Streams in the RTL target are not implemented
yet: building a region with streams for ``target="rtl"`` raises an AlloError.

For compatibility with older Allo code, a region *without* parameters whose
kernels omit ``args=`` gets the kernels' parameters as its own, matched by name.
"""

from __future__ import annotations

import functools

from .errors import AlloError

__all__ = ["region", "kernel", "get_pid", "pipe", "array", "customize", "build", "Region"]

#: ``df.build`` targets besides allo_rtl's own: Allo's CPU simulation runs on the interpreter
_TARGET_ALIASES = {"simulator": "sim"}


def get_pid():
    """The position of this kernel instance in its mapping: ``i`` for ``mapping=[P]``,
    ``(i, j)`` for ``[P0, P1]``. Only meaningful inside a ``@df.kernel`` (resolved at
    compile time); calling it from Python is an error."""
    raise AlloError("df.get_pid() is only valid inside a @df.kernel of a dataflow region",
                    hint="kernels are compiled from source; build the region with df.build")


def pipe(dtype, shape=(), depth=2):
    """Allo's older stream declaration in a region body, ``q = df.pipe(dtype=int32,
    shape=(), depth=4)``: the same as the annotation ``q: Stream[int32, 4]``
    (``shape`` non-empty: a stream of ``dtype[shape]`` blocks)."""
    from .ir.types import Stream

    return Stream(dtype, tuple(shape), depth)


def array(element, shape):
    """``df.array(df.pipe(...), shape=(P0, P1))``: an array of streams, the same as
    ``Stream[T, depth][P0, P1]``."""
    from .ir.types import Stream

    if not isinstance(element, Stream):
        raise AlloError(f"df.array takes a df.pipe(...), not {element!r}",
                        hint="declare an array of streams as q: Stream[T, depth][P0, P1]")
    return element[tuple(shape)]


def kernel(mapping=None, args=None):
    """Mark a function defined in a ``@df.region`` as a kernel replicated over ``mapping``
    (default ``[1]``), receiving the region parameters named in ``args`` (default none).
    The region's source is what the compiler reads; the decorator itself only records
    its arguments."""
    def deco(fn):
        fn.mapping = mapping
        fn.args = args
        return fn

    return deco


class Region:
    """A ``@df.region()`` function. Calling it runs it on the interpreter (like Allo's CPU
    simulation); ``region[T1, T2](...)`` instantiates template parameters."""

    def __init__(self, fn):
        self.fn = fn
        functools.update_wrapper(self, getattr(fn, "fn", fn))

    def __call__(self, *args):
        return build(self, target="sim")(*args)

    def __getitem__(self, targs):
        targs = targs if isinstance(targs, tuple) else (targs,)
        return lambda *args: build(self, target="sim", instantiate=list(targs))(*args)

    def __repr__(self):
        return f"<dataflow region {self.__name__}>"


def region():
    """Decorate a function as a dataflow region (``@df.region()``)."""
    def deco(fn):
        return Region(fn)

    return deco


def _as_region(obj) -> Region:
    if isinstance(obj, Region):
        return obj
    raise AlloError(f"expected a @df.region() function, got {getattr(obj, '__name__', obj)!r}",
                    hint="decorate the function that declares the streams and kernels with "
                         "@df.region() and pass it here")


def customize(region_fn, instantiate=None, **kwargs):
    """The :class:`~allo_rtl.schedule.schedule.Schedule` of a region: the top function is the
    region, kernel instances are its callees (``s.get_loops("gemm_0")``,
    ``s.pipeline("gemm_0:j")``). Allo's ``opt_default`` / ``enable_tensor`` are accepted
    and have no effect."""
    from .customize import customize as _customize

    kwargs.pop("opt_default", None)
    kwargs.pop("enable_tensor", None)
    return _customize(_as_region(region_fn), instantiate=instantiate, **kwargs)


def build(region_fn, target=None, mode=None, project=None, configs=None, wrap_io=True,
          instantiate=None, opt_default=True, enable_tensor=False, **kwargs):
    """Build a region like ``s.build``: ``target="sim"`` (or Allo's ``"simulator"``) returns
    the interpreter module, called as ``mod(A, B, C)`` with outputs written in place; the
    default is ``"rtl"``, which does not support streams yet."""
    s = customize(region_fn, instantiate=instantiate)
    if isinstance(target, str):
        target = _TARGET_ALIASES.get(target.lower(), target)
    return s.build(target=target, mode=mode, project=project, configs=configs, wrap_io=wrap_io,
                   **kwargs)
