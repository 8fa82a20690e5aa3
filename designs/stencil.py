"""2-D 3x3 Gaussian blur of an int32 image (quick: 32x32, full: 128x128).

``B[i, j] = (A[i-1, j-1] + 2 A[i-1, j] + A[i-1, j+1] + 2 A[i, j-1] + 4 A[i, j]
+ 2 A[i, j+1] + A[i+1, j-1] + 2 A[i+1, j] + A[i+1, j+1]) >> 4`` for every
interior pixel; the border of ``B`` stays 0. One sequential ``i, j`` loop nest
with nine loads per pixel and no schedule primitives. Ideal cycles: one pixel
per cycle, ``(size - 2)**2``. See ``designs/__init__.py`` for the convention.
"""

import numpy as np

import allo_rtl as allo
from allo_rtl.ir.types import int32

SIZES = {"quick": 32, "full": 128}
SIZE = SIZES["quick"]


def kernel(size: int = SIZE, reps: int = 1):
    """The blur kernel for a ``size`` x ``size`` image, its loop nest run ``reps`` times."""
    n = size

    def blur(A: int32[n, n]) -> int32[n, n]:
        B: int32[n, n] = 0
        for r in range(reps):
            for i, j in allo.grid(n - 2, n - 2, name="B"):
                B[i + 1, j + 1] = (A[i, j] + 2 * A[i, j + 1] + A[i, j + 2]
                                   + 2 * A[i + 1, j] + 4 * A[i + 1, j + 1] + 2 * A[i + 1, j + 2]
                                   + A[i + 2, j] + 2 * A[i + 2, j + 1] + A[i + 2, j + 2]) >> 4
        return B

    return blur


TOP = kernel()


def schedule(size: int | None = None, reps: int = 1):
    """The design's schedule (no primitives: a sequential baseline)."""
    return allo.customize(kernel(size or SIZE, reps))


def ideal_cycles(size: int | None = None) -> int:
    """One output pixel per cycle: ``(size - 2)**2``."""
    n = size or SIZE
    return (n - 2) ** 2


IDEAL_CYCLES = ideal_cycles()


def make_inputs(rng, size: int | None = None):
    """``(A,)``: an int32 image with 8-bit pixel values."""
    n = size or SIZE
    return (rng.integers(0, 256, (n, n)).astype(np.int32),)
