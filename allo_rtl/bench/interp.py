"""Interpreter throughput: scalar operations per second on a 64x64x64 GEMM and a 2-D stencil.

Run: ``python -m allo_rtl bench-interp``. An "operation" is one IR-level scalar
operation executed: loads, stores, arithmetic (the per-iteration count is
stated next to each kernel).
"""

from __future__ import annotations

import time

import numpy as np

import allo_rtl as allo
from allo_rtl.ir.types import float32, int32

from ..table import markdown_table


def gemm(A: int32[64, 64], B: int32[64, 64]) -> int32[64, 64]:
    C: int32[64, 64] = 0
    for i, j, k in allo.grid(64, 64, 64):
        C[i, j] += A[i, k] * B[k, j]
    return C


def stencil(A: float32[130, 130]) -> float32[130, 130]:
    B: float32[130, 130] = 0.0
    for t in range(8):
        for i, j in allo.grid(128, 128):
            B[i + 1, j + 1] = (A[i, j + 1] + A[i + 2, j + 1] + A[i + 1, j] + A[i + 1, j + 2]
                               + A[i + 1, j + 1]) * 0.2
    return B


def _measure(fn, args, ops, name, per_iter) -> list[str]:
    mod = allo.customize(fn).build(target="sim")
    mod(*args)  # warm
    dt = float("inf")
    for _ in range(3):  # fastest of three: the least disturbed by other load on the machine
        t0 = time.perf_counter()
        mod(*args)
        dt = min(dt, time.perf_counter() - t0)
    return [name, str(per_iter), f"{ops:,}", f"{dt * 1e3:.1f}", f"{ops / dt / 1e6:.2f}"]


def main() -> int:
    rng = np.random.default_rng(0)
    A = rng.integers(-100, 100, (64, 64)).astype(np.int32)
    S = rng.uniform(-1, 1, (130, 130)).astype(np.float32)
    rows = [
        # GEMM inner iteration: 2 loads A/B, mul, load C, add, cast, store = 7
        _measure(gemm, (A, A), 64**3 * 7, "gemm 64x64x64 int32", 7),
        # stencil: 5 loads, 4 adds, 1 mul, 1 store = 11
        _measure(stencil, (S,), 8 * 128 * 128 * 11, "stencil 2-D 5-pt f32 x8", 11),
    ]
    head = ["kernel", "ops/iter", "scalar ops", "time (ms)", "M ops/s"]
    print("\n".join(markdown_table(head, rows, right=range(1, len(head)))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
