"""Streams at interpreter run time: FIFOs, the cooperative scheduler of dataflow
regions, and deadlock reports.

The interpreter (:mod:`.interp`) compiles every function with a Stream parameter
into a Python *generator*: a put into a full FIFO or a get from an empty one
``yield``s ``(fifo, full, loc)`` instead of waiting, and resumes when the
scheduler calls it again. A dataflow region runs its kernel instances with
:func:`run_region`, round-robin in program order: a kernel runs until it blocks or
finishes, and a blocked kernel is resumed only once its FIFO has room (put) or
data (get). This is exactly the hardware's blocking FIFO semantics (valid/ready
handshakes), so the values every kernel sees do not depend on the interleaving.
When every unfinished kernel is blocked, the region deadlocks: an
:class:`~allo_rtl.errors.AlloError` names each blocked kernel, its stream and
whether it was full or empty. Functions without Stream parameters stay plain
Python functions (no generator overhead); a stream they declare is a bounded
queue, and blocking on it is the same error at once (nothing else could run).
"""

from __future__ import annotations

import warnings
from collections import deque

from ..errors import AlloError, AlloWarning

__all__ = ["Fifo", "run_region", "drive", "blocked", "plain_process"]

_HINT = ("every get needs a matching put: check the loop counts on both sides of each "
         "stream, and that a kernel does not put more than 'depth' elements ahead of a "
         "consumer it also waits for (a deeper Stream[T, depth] helps then)")


class Fifo(deque):
    """One stream at run time: raw element values (a list per block), at most ``depth``."""

    def __init__(self, name: str, depth: int):
        super().__init__()
        self.name = name
        self.depth = depth

    def is_blocked(self, full: bool) -> bool:
        return len(self) >= self.depth if full else not self


def _what(fifo: Fifo, full: bool) -> str:
    if full:
        return f"put into stream {fifo.name!r}, which is full (depth {fifo.depth})"
    return f"get from stream {fifo.name!r}, which is empty"


def blocked(fifo: Fifo, full: bool, loc, kernel: str):
    """A sequential kernel blocks on ``fifo``: nothing can unblock it, so it is an error."""
    other = "drain" if full else "fill"
    raise AlloError(f"kernel {kernel!r} blocks forever: {_what(fifo, full)}, and no kernel runs "
                    f"concurrently to {other} it", loc,
                    "in sequential code a stream is a bounded queue: put at most 'depth' "
                    "elements before getting them; run producer and consumer as kernels of a "
                    "dataflow region (@df.region) to make them concurrent")


def drive(gen, kernel: str):
    """Run the generator of a stream kernel called from sequential code to completion."""
    try:
        fifo, full, loc = next(gen)
    except StopIteration as stop:
        return stop.value
    blocked(fifo, full, loc, kernel)


def plain_process(fn, args):
    """A kernel without streams as a process of a region: runs at once when scheduled."""
    return fn(*args)
    yield  # noqa: unreachable - makes this a generator


def run_region(region: str, procs: list, fifos: list) -> None:
    """Run ``procs`` (``[(kernel name, generator)]``) concurrently until all finish."""
    live = [[name, gen, None] for name, gen in procs]
    finished = []
    while live:
        progressed = False
        for p in live:
            wait = p[2]
            if wait is not None and wait[0].is_blocked(wait[1]):
                continue
            progressed = True
            try:
                p[2] = next(p[1])
            except StopIteration:
                p[2] = False
                finished.append(p[0])
        live = [p for p in live if p[2] is not False]
        if live and not progressed:
            _deadlock(region, live, finished)
    for f in fifos:
        if f:
            warnings.warn(f"stream {f.name!r} still holds {len(f)} element(s) after dataflow "
                          f"region {region!r} finished; in hardware they stay in the FIFO and "
                          "the next call reads them first", AlloWarning, stacklevel=3)


def _deadlock(region: str, live: list, finished: list):
    lines = [f"deadlock in dataflow region {region!r}: every unfinished kernel is blocked"]
    for name, _, (fifo, full, loc) in live:
        lines.append(f"  {name} ({loc or '?'}): {_what(fifo, full)}")
    if finished:
        lines.append(f"  (finished: {', '.join(finished)})")
    raise AlloError("\n".join(lines), live[0][2][2], _HINT)
