"""The GEMM of ``designs/gemm.py`` on int8 matrices, built for a 180 MHz clock
(``CLOCK_MHZ``: the schedulers budget for it; memory inputs are registered in front
of every RAM at such clocks, so loads take 3 cycles). Sequential, no schedule
primitives. Ideal cycles: ``size**3``. See ``designs/__init__.py``.
"""

import numpy as np

import allo_rtl as allo
from allo_rtl.ir.types import int8

from designs.gemm import SIZE, SIZES, ideal_cycles  # noqa: F401
from designs.gemm import kernel as _kernel

#: the target clock (MHz) of this design: int8 datapaths close timing at 180 MHz on ECP5
CLOCK_MHZ = 180.0


def kernel(size: int = SIZE, reps: int = 1):
    """The int8 GEMM kernel for ``size`` x ``size`` matrices."""
    return _kernel(size, reps, int8)


TOP = kernel()


def schedule(size: int | None = None, reps: int = 1):
    """The design's schedule (no primitives: a sequential baseline)."""
    return allo.customize(kernel(size or SIZE, reps))


IDEAL_CYCLES = ideal_cycles()


def make_inputs(rng, size: int | None = None):
    """``(A, B)``: int8 matrices with entries in [-8, 8) (products wrap to int8 as the
    kernel's types say)."""
    size = size or SIZE
    return (rng.integers(-8, 8, (size, size)).astype(np.int8),
            rng.integers(-8, 8, (size, size)).astype(np.int8))
