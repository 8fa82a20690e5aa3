"""A float32 GEMM ``C = A @ B`` on the IEEE units of ``primitives/float`` with the
schedule of ``designs/gemm_pipelined.py``: ``reorder(k, j)``, ``buffer_at(C, i)``,
``pipeline(j)``. The accumulation ``C_buf[j] += A[i, k] * B[k, j]`` revisits an
element every ``size`` iterations of the flattened ``k, j`` pipeline, which is more
than the adder's latency for ``size >= 16``, so the pipeline starts one float
multiply-add per cycle (II=1). Ideal cycles: ``size**3``. See ``designs/__init__.py``.
"""

import numpy as np

import allo_rtl as allo
from allo_rtl.ir.types import float32

SIZES = {"quick": 16, "full": 64}
SIZE = SIZES["quick"]


def kernel(size: int = SIZE, reps: int = 1):
    """The float32 GEMM kernel for ``size`` x ``size`` matrices (``reps`` repetitions)."""
    n = size

    def gemm_f32(A: float32[n, n], B: float32[n, n]) -> float32[n, n]:
        C: float32[n, n] = 0.0
        for r in range(reps):
            for i, j, k in allo.grid(n, n, n, name="C"):
                C[i, j] += A[i, k] * B[k, j]
        return C

    return gemm_f32


TOP = kernel(SIZE)


def schedule(size: int | None = None, reps: int = 1):
    """reorder(k, j) + buffer_at(C, i) + pipeline(j)."""
    s = allo.customize(kernel(size or SIZE, reps))
    s.reorder("k", "j")
    s.buffer_at(s.C, "i")
    s.pipeline("j")
    return s


def ideal_cycles(size: int | None = None) -> int:
    """One multiply-add per cycle: ``size**3``."""
    return (size or SIZE) ** 3


IDEAL_CYCLES = ideal_cycles()


def make_inputs(rng, size: int | None = None):
    """``(A, B)``: float32 matrices with standard normal entries."""
    size = size or SIZE
    return (rng.standard_normal((size, size)).astype(np.float32),
            rng.standard_normal((size, size)).astype(np.float32))
