"""A 3-stage dataflow pipeline over frames (quick: 16 frames, full: 64; 64 int32 each).

``load`` streams the frames of ``A`` into a FIFO, ``compute`` maps ``x -> 3x + 1``
from one FIFO into the next, ``store`` writes ``B``. The three kernels of the
``@df.region`` run concurrently (task-level pipelining), each inner loop pipelined
at II=1, so the whole run takes about one stage's time plus the fill. Ideal
cycles: one element per cycle, ``frames * 64``. See ``designs/__init__.py``.
"""

import numpy as np

import allo_rtl.dataflow as df
from allo_rtl.ir.types import Stream, int32

SIZES = {"quick": 16, "full": 64}
SIZE = SIZES["quick"]
N = 64  # elements per frame


def kernel(size: int = SIZE, reps: int = 1):
    """The region for ``size`` frames, every stage run ``reps`` times over them."""
    F = size

    @df.region()
    def frames(A: int32[F, N], B: int32[F, N]):
        q1: Stream[int32, 4]
        q2: Stream[int32, 4]

        @df.kernel(mapping=[1], args=[A])
        def load(lA: int32[F, N]):
            for r in range(reps):
                for f in range(F):
                    for i in range(N):
                        q1.put(lA[f, i])

        @df.kernel(mapping=[1])
        def compute():
            for r in range(reps):
                for f in range(F):
                    for i in range(N):
                        x = q1.get()
                        q2.put(x * 3 + 1)

        @df.kernel(mapping=[1], args=[B])
        def store(lB: int32[F, N]):
            for r in range(reps):
                for f in range(F):
                    for i in range(N):
                        lB[f, i] = q2.get()

    return frames


TOP = kernel()


def schedule(size: int | None = None, reps: int = 1):
    """pipeline(i) in each of the three kernels."""
    s = df.customize(kernel(size or SIZE, reps))
    for k in ("load_0", "compute_0", "store_0"):
        s.pipeline(f"{k}:i")
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
