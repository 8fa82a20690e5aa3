"""int32 vector add ``C = A + B`` (quick: 1024 elements, full: 16384).

One sequential loop, no schedule primitives. Ideal cycles: one element per
cycle, ``size``. The returned buffer ``C`` is zero-initialised first (Allo's
semantics for a local tensor), which the measured cycles include and the
ideal does not. See ``designs/__init__.py`` for the convention.
"""

import numpy as np

import allo_rtl as allo
from allo_rtl.ir.types import int32

SIZES = {"quick": 1024, "full": 16384}
SIZE = SIZES["quick"]


def kernel(size: int = SIZE, reps: int = 1):
    """The vector-add kernel for ``size`` elements, its loop run ``reps`` times."""
    n = size

    def vadd(A: int32[n], B: int32[n]) -> int32[n]:
        C: int32[n] = 0
        for r in range(reps):
            for i in range(n):
                C[i] = A[i] + B[i]
        return C

    return vadd


TOP = kernel()


def schedule(size: int | None = None, reps: int = 1):
    """The design's schedule (no primitives: a sequential baseline)."""
    return allo.customize(kernel(size or SIZE, reps))


def ideal_cycles(size: int | None = None) -> int:
    """One element per cycle: ``size``."""
    return size or SIZE


IDEAL_CYCLES = ideal_cycles()


def make_inputs(rng, size: int | None = None):
    """``(A, B)``: int32 vectors over the whole int32 range (the sum wraps)."""
    n = size or SIZE
    info = np.iinfo(np.int32)
    return tuple(rng.integers(info.min, info.max, n, endpoint=True).astype(np.int32) for _ in range(2))
