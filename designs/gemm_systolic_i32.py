"""The GEMM of ``designs/gemm_systolic.py`` on int32 matrices (int32 sums) and an 8 x 8 PE
grid: its ``systolic`` step (``split`` + ``reorder`` + ``partition`` + ``unfold`` +
``to``). 64 x 64 x 64: ideal ``64**3 / 64 = 4096`` cycles, measured 4,119 (efficiency
0.994). See ``designs/__init__.py`` for the design convention.
"""

import numpy as np

from allo_rtl.ir.types import int32

from designs import gemm_systolic as _g

SIZES = _g.SIZES
SIZE = SIZES["quick"]
#: the PE grid is PE x PE
PE = 8
STEPS = _g.STEPS


def kernel(size: int = SIZE, reps: int = 1):
    """The int32 GEMM kernel (see :func:`designs.gemm_systolic.kernel`)."""
    return _g.kernel(size, reps, int32, int32)


TOP = kernel()


def schedule(size: int | None = None, reps: int = 1, step: str = "systolic"):
    """The kernel customized up to ``step`` (default: the 8 x 8 systolic array)."""
    return _g.apply_step(_g.customize(size or SIZE, reps, int32, int32), step, PE)


def ideal_cycles(size: int | None = None, step: str = "systolic") -> int:
    """``size**3`` MACs over the ``PE * PE`` grid (one per cycle for the sequential steps)."""
    return _g.ideal_cycles(size, step, PE)


IDEAL_CYCLES = ideal_cycles()


def make_inputs(rng, size: int | None = None):
    """``(A, B, C)``: random int32 matrices over the whole int32 range (the sums wrap, as
    the kernel's types say), ``C`` zeros."""
    size = size or SIZE
    lo, hi = -(1 << 31), 1 << 31
    return (rng.integers(lo, hi, (size, size)).astype(np.int32),
            rng.integers(lo, hi, (size, size)).astype(np.int32),
            np.zeros((size, size), np.int32))
