"""Task-level pipelining of a loop with ping-pong buffers (quick: 16 frames, full: 64).

A plain sequential kernel: for every frame, ``load`` copies it into a local array,
``compute`` maps ``x -> 3x + 1`` into a second one, ``store`` writes the result.
The schedule pipelines each stage's inner loop (II=1) and applies
``s.dataflow`` to the frame loop: the three calls become concurrent kernels,
the two local arrays ping-pong buffers (two banks each, handed over with
token streams), so frame f+1 is loaded while frame f is computed and frame
f-1 stored. Compare with ``designs/dataflow_frames.py``, the same computation
written as an Allo ``@df.region`` with streams. Ideal cycles: one element per
cycle, ``frames * 64``. See ``designs/__init__.py``.
"""

import numpy as np

import allo_rtl as allo
from allo_rtl.ir.types import int32

SIZES = {"quick": 16, "full": 64}
SIZE = SIZES["quick"]
N = 64  # elements per frame


def load(A: int32[N], t: int32[N]):
    for i in range(N):
        t[i] = A[i]


def compute(t: int32[N], u: int32[N]):
    for i in range(N):
        u[i] = t[i] * 3 + 1


def store(u: int32[N], B: int32[N]):
    for i in range(N):
        B[i] = u[i]


def kernel(size: int = SIZE, reps: int = 1):
    """The sequential kernel over ``size`` frames, ``reps`` times."""
    F = size

    def frames(A: int32[F, N], B: int32[F, N]):
        for r in range(reps):
            for f in range(F):
                t: int32[N]
                u: int32[N]
                load(A[f], t)
                compute(t, u)
                store(u, B[f])

    return frames


TOP = kernel()


def schedule(size: int | None = None, reps: int = 1):
    """pipeline(i) in each stage, then dataflow(f): the frame loop's calls overlap."""
    s = allo.customize(kernel(size or SIZE, reps))
    for k in ("load", "compute", "store"):
        s.pipeline(f"{k}:i")
    s.dataflow("f")
    return s


def ideal_cycles(size: int | None = None) -> int:
    """One element per cycle through the slowest stage: ``frames * 64``."""
    return (size or SIZE) * N


IDEAL_CYCLES = ideal_cycles()


def make_inputs(rng, size: int | None = None):
    """``(A, B)``: int32 frames (the map wraps), and the output array."""
    F = size or SIZE
    A = rng.integers(-2**31, 2**31, (F, N), dtype=np.int64).astype(np.int32)
    return A, np.zeros((F, N), np.int32)
