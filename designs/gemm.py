"""The bundled default design: an int32 GEMM written as plain Allo loops."""

import allo_rtl as allo
from allo_rtl.ir.types import int32

M, N, K = 16, 16, 16


def gemm(A: int32[M, K], B: int32[K, N]) -> int32[M, N]:
    C: int32[M, N] = 0
    for i, j, k in allo.grid(M, N, K, name="C"):
        C[i, j] += A[i, k] * B[k, j]
    return C


TOP = gemm


def schedule():
    """The design's schedule (no primitives yet: they land with the schedules issue)."""
    return allo.customize(gemm)
