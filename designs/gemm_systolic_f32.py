"""The GEMM of ``designs/gemm_systolic.py`` on float32 matrices (float32 sums) and an 8 x 8
grid of :class:`primitives.systolic.FloatPE`: its ``systolic`` step (``split`` +
``reorder`` + ``partition`` + ``unfold`` + ``to``). Every sum is accumulated in ``k``
order with the product and the sum each rounded (``primitives/float`` multiplier and
adder), bit for bit as the interpreter computes it. The adder's pipeline (latency 9) is
the accumulator; each PE keeps 9 sums in flight, one per output tile, so the engine
issues a step per cycle, 9 tiles round-robin (a step every 9 cycles without
interleaving). 32 x 32 x 32: ideal ``32**3 / 64 = 512`` cycles (one multiply-add per PE
per cycle), 673 computed (efficiency 0.761; 4,640 without interleaving). The 16 tiles
make two groups of 9 tiles, the second with 2 empty slots (576 issue cycles), and the
last group's 8 x 9 sums per column leave through the column's C bank one per cycle (a
drain tail of 95 cycles). At 64 x 64 x 64 (``SIZES["full"]``, 64 tiles): 4,705 cycles
for an ideal 4,096 (0.871). See ``designs/__init__.py`` for the design convention.
"""

import numpy as np

from allo_rtl.ir.types import float32

from designs import gemm_systolic as _g

SIZES = {"quick": 32, "full": 64}
SIZE = SIZES["quick"]
#: the PE grid is PE x PE
PE = 8
STEPS = _g.STEPS


def kernel(size: int = SIZE, reps: int = 1):
    """The float32 GEMM kernel (see :func:`designs.gemm_systolic.kernel`)."""
    return _g.kernel(size, reps, float32, float32)


TOP = kernel()


def schedule(size: int | None = None, reps: int = 1, step: str = "systolic"):
    """The kernel customized up to ``step`` (default: the 8 x 8 systolic array)."""
    return _g.apply_step(_g.customize(size or SIZE, reps, float32, float32), step, PE)


def ideal_cycles(size: int | None = None, step: str = "systolic") -> int:
    """``size**3`` multiply-adds over the ``PE * PE`` grid (one per cycle for the
    sequential steps)."""
    return _g.ideal_cycles(size or SIZE, step, PE)


IDEAL_CYCLES = ideal_cycles()


def make_inputs(rng, size: int | None = None):
    """``(A, B, C)``: float32 matrices with standard normal entries, ``C`` zeros (the
    kernel overwrites it)."""
    size = size or SIZE
    return (rng.standard_normal((size, size)).astype(np.float32),
            rng.standard_normal((size, size)).astype(np.float32),
            np.zeros((size, size), np.float32))
