"""From a plain GEMM to a systolic array, by customizations only (README: "From GEMM to a
systolic array"; notebook ``designs/gemm_systolic.ipynb``).

The kernel is the textbook int8 GEMM ``C = A @ B`` (int32 sums, ``C`` an output
argument, zeroed by the kernel). :data:`STEPS` lists the schedules that turn it into
hardware, each a fresh ``allo.customize`` of the same kernel:

* ``baseline``: no customization (one sequential loop nest);
* ``pipeline``: ``reorder(k, j)`` + ``buffer_at(C, i)`` + ``pipeline(j)``: one
  multiply-accumulate per cycle;
* ``unroll``: tiles of ``pe x pe`` outputs (``split`` + ``reorder``), ``A`` and ``B``
  partitioned by rows/columns, the tile of ``C`` in registers (``buffer_at`` +
  ``partition``), the tile loops unrolled and ``k`` pipelined: ``pe * pe`` MACs per
  cycle, each operand broadcast to a row or column of multipliers;
* ``systolic``: the same tiling with ``unfold`` of the tile loops and ``to`` of
  ``A`` (east) and ``B`` (south): a ``pe x pe`` grid of PEs (``primitives.systolic``)
  passing operands to their neighbours, one tile every ``K`` cycles, the next tile's
  operands streaming in while the last one's sums drain.

The bench design is the ``systolic`` step, 64 x 64 x 64 on a 16 x 16 grid (ideal
``64**3 / 256 = 1024`` cycles; measured 1,064 at ``CLOCK_MHZ = 150``: efficiency 0.962).
``designs/gemm_systolic_i32.py`` is the int32 variant on an 8 x 8 grid. See
``designs/__init__.py`` for the design convention.
"""

import numpy as np

import allo_rtl as allo
from allo_rtl.ir.types import int8, int32

SIZES = {"quick": 64, "full": 128}
SIZE = SIZES["quick"]
#: the PE grid is PE x PE
PE = 16
#: the target clock (MHz): the int8 PE array closes timing at 150 MHz on ECP5 (an 8 x 8
#: grid: 154 MHz, limited by the MULT18X18D); memory inputs are registered from 150 MHz,
#: so operand reads take 2 cycles
CLOCK_MHZ = 150.0
#: the customization steps, in order (see the module docstring)
STEPS = ("baseline", "pipeline", "unroll", "systolic")


def kernel(size: int = SIZE, reps: int = 1, dtype=int8, acc=int32):
    """``C = A @ B`` for ``size`` x ``size`` matrices of ``dtype`` with ``acc`` sums (``C``
    zeroed by the kernel), ``reps`` times over."""
    M = N = K = size
    TA, TC = dtype, acc
    if reps == 1:
        def gemm(A: TA[M, K], B: TA[K, N], C: TC[M, N]):
            for i0, j0 in allo.grid(M, N, name="init"):
                C[i0, j0] = 0
            for i, j, k in allo.grid(M, N, K, name="gemm"):
                C[i, j] += A[i, k] * B[k, j]
    else:
        def gemm(A: TA[M, K], B: TA[K, N], C: TC[M, N]):
            for r in range(reps):
                for i0, j0 in allo.grid(M, N, name="init"):
                    C[i0, j0] = 0
                for i, j, k in allo.grid(M, N, K, name="gemm"):
                    C[i, j] += A[i, k] * B[k, j]
    gemm.env = dict(M=M, N=N, K=K, TA=TA, TC=TC, reps=reps)
    return gemm


TOP = kernel()


def customize(size: int = SIZE, reps: int = 1, dtype=int8, acc=int32):
    """``allo.customize`` of :func:`kernel` (its sizes and types passed explicitly)."""
    k = kernel(size, reps, dtype, acc)
    return allo.customize(k, global_vars=k.env)


def apply_step(s, step: str, pe: int = PE):
    """Apply the customizations of ``step`` (one of :data:`STEPS`) to schedule ``s`` of
    :func:`kernel`; returns ``s``."""
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r} (steps: {', '.join(STEPS)})")
    if step == "baseline":
        return s
    if step == "pipeline":
        s.pipeline("j0")
        s.reorder("k", "j")
        s.buffer_at(s.C, "i")
        s.pipeline("j")
        return s
    s.split("i", pe)
    s.split("j", pe)
    s.reorder("i.outer", "j.outer", "k", "i.inner", "j.inner")
    s.partition(s.A, allo.Partition.Cyclic, dim=1, factor=pe)
    s.partition(s.B, allo.Partition.Cyclic, dim=2, factor=pe)
    s.partition(s.C, allo.Partition.Cyclic, dim=2, factor=pe)
    if step == "unroll":
        n = s.top_func.param("C").shape[1]
        s.pipeline("i0", initiation_interval=max(1, n // pe))  # zero C: a row per n/pe cycles
        tile = s.buffer_at(s.C, "j.outer")  # the pe x pe tile of C accumulates on chip
        s.partition(tile, allo.Partition.Complete)  # ... in registers
        # its load and store move a row of pe elements per cycle
        s.pipeline(f"{tile.name}_0_init")
        s.pipeline(f"{tile.name}_0_flush")
        s.unroll("i.inner")
        s.unroll("j.inner")
        s.pipeline("k")
        return s
    band = next(b for b in s.get_loops().bands.values() if "i.inner" in b.loops)
    names = list(band.loops)
    pe_grid = s.unfold(band.name, [names.index("i.inner"), names.index("j.inner")])
    s.to(s.A, pe_grid, axis=1)
    s.to(s.B, pe_grid, axis=0)
    return s


def schedule(size: int | None = None, reps: int = 1, step: str = "systolic", pe: int = PE):
    """The design's schedule: :func:`kernel` customized up to ``step`` (default: the
    systolic array)."""
    return apply_step(customize(size or SIZE, reps), step, pe)


def ideal_cycles(size: int | None = None, step: str = "systolic", pe: int = PE) -> int:
    """One multiply-accumulate per cycle (``size**3``) for the sequential steps; per PE
    (``size**3 / pe**2``) for ``unroll`` and ``systolic``."""
    size = size or SIZE
    return size ** 3 // (pe * pe if step in ("unroll", "systolic") else 1)


IDEAL_CYCLES = ideal_cycles()


def make_inputs(rng, size: int | None = None):
    """``(A, B, C)``: random int8 matrices over the whole int8 range, ``C`` zeros (the
    kernel overwrites it)."""
    size = size or SIZE
    return (rng.integers(-128, 128, (size, size)).astype(np.int8),
            rng.integers(-128, 128, (size, size)).astype(np.int8),
            np.zeros((size, size), np.int32))
