"""The bundled default design: an int32 GEMM ``C = A @ B`` written as plain Allo loops.

Square matrices of ``size`` x ``size`` (quick: 16, full: 64), one sequential
``i, j, k`` loop nest with no schedule primitives. Ideal cycles: one inner
iteration per cycle, ``size**3``. See ``designs/__init__.py`` for the
convention shared by every bundled design.
"""

import numpy as np

import allo_rtl as allo
from allo_rtl.ir.types import int32

SIZES = {"quick": 16, "full": 64}
SIZE = SIZES["quick"]
M, N, K = SIZE, SIZE, SIZE


def gemm(A: int32[M, K], B: int32[K, N]) -> int32[M, N]:
    C: int32[M, N] = 0
    for i, j, k in allo.grid(M, N, K, name="C"):
        C[i, j] += A[i, k] * B[k, j]
    return C


TOP = gemm


def kernel(size: int = SIZE, reps: int = 1, dtype=int32):
    """The GEMM kernel for ``size`` x ``size`` matrices of ``dtype``, its loop nest run
    ``reps`` times."""
    if size == SIZE and reps == 1 and dtype is int32:
        return gemm
    m = n = k_ = size
    T = dtype

    def gemm_n(A: T[m, k_], B: T[k_, n]) -> T[m, n]:
        C: T[m, n] = 0
        for r in range(reps):
            for i, j, k in allo.grid(m, n, k_, name="C"):
                C[i, j] += A[i, k] * B[k, j]
        return C

    return gemm_n


def schedule(size: int | None = None, reps: int = 1):
    """The design's schedule (no primitives: a sequential baseline)."""
    return allo.customize(kernel(size or SIZE, reps))


def ideal_cycles(size: int | None = None) -> int:
    """One multiply-accumulate per cycle: ``size**3``."""
    size = size or SIZE
    return size ** 3


IDEAL_CYCLES = ideal_cycles()


def make_inputs(rng, size: int | None = None):
    """``(A, B)``: int32 matrices with entries in [-100, 100)."""
    size = size or SIZE
    return (rng.integers(-100, 100, (size, size)).astype(np.int32),
            rng.integers(-100, 100, (size, size)).astype(np.int32))
