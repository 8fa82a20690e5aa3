"""Dataflow regions with PEP 695 template parameters (Python 3.12+ syntax; imported only
on 3.12+), as in Allo's hierarchical-region tests."""

import allo_rtl as allo
import allo_rtl.dataflow as df
from allo_rtl.ir.types import ConstExpr, Stream, int32

M = N = K = 8


@df.region()
def inner[P0, P1](A: int32[M, K], B: int32[K, N], C: int32[M, N]):
    @df.kernel(mapping=[P0, P1], args=[A, B, C])
    def gemm(local_A: int32[M, K], local_B: int32[K, N], local_C: int32[M, N]):
        pi, pj = df.get_pid()
        Mt: ConstExpr[int32] = M // P0
        Nt: ConstExpr[int32] = N // P1
        for i in range(pi * Mt, (pi + 1) * Mt):
            for j in range(pj * Nt, (pj + 1) * Nt):
                for k in range(K):
                    local_C[i, j] += local_A[i, k] * local_B[k, j]


@df.region()
def top(A: int32[M, K], B: int32[K, N], C1: int32[M, N], C2: int32[M, N]):
    @df.kernel(mapping=[2], args=[A, B, C1, C2])
    def wrapper(local_A: int32[M, K], local_B: int32[K, N], local_C1: int32[M, N],
                local_C2: int32[M, N]):
        i = df.get_pid()
        with allo.meta_if(i == 0):
            inner[2, 2](local_A, local_B, local_C1)
        with allo.meta_if(i == 1):
            inner[4, 4](local_A, local_B, local_C2)


@df.region()
def chain[T, D](A: "T[8]", B: "T[8]"):
    q: Stream[T, D]

    @df.kernel(mapping=[1], args=[A])
    def src(local_A: "T[8]"):
        for i in range(8):
            q.put(local_A[i])

    @df.kernel(mapping=[1], args=[B])
    def dst(local_B: "T[8]"):
        for i in range(8):
            local_B[i] = q.get() * 2
