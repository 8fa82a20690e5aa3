"""PEP 695 template kernels (Python 3.12+ syntax; imported only on 3.12+)."""

import allo_rtl as allo
from allo_rtl.ir.types import float32, int8, int32


def scale[T: (float32, int32), M: int32](A: "T[M]", f: "T") -> "T[M]":
    B: T[M] = 0
    for i in range(M):
        B[i] = A[i] * f
    return B


def top(A: int32[4], X: float32[8]) -> float32[8]:
    Y = scale[float32, 8](X, 2.0)
    Z = scale[int32, 4](A, 3)
    for i in range(4):
        Y[i] += float(Z[i])
    return Y


def named[T, N](A: "T[N + 1]") -> "T[N + 1]":
    return A


def top_named(A: int32[6]) -> int32[6]:
    return named[int32, 5, "c5"](A)


def fill_dyn[T](A: "T[...]", v: "T", n: int32):
    for i in range(n):
        A[i] = v


def top_dyn(A: float32[...], B: int8[...], n: int32):
    fill_dyn[float32](A, 0.5, n)
    fill_dyn[int8](B, -3, n)
