"""The GEMM of ``designs/gemm.py`` with a schedule: ``reorder(k, j)`` makes the inner
loop walk a row of ``B`` and ``C``, ``buffer_at(C, i)`` accumulates that row on chip,
``pipeline(j)`` starts one multiply-accumulate per cycle (the ``k, j`` loops flatten
into one pipeline). Ideal cycles: ``size**3``. See ``designs/__init__.py``.
"""

import allo_rtl as allo

from designs.gemm import SIZE, SIZES, ideal_cycles, kernel, make_inputs  # noqa: F401

TOP = kernel(SIZE)


def schedule(size: int | None = None, reps: int = 1):
    """reorder(k, j) + buffer_at(C, i) + pipeline(j)."""
    s = allo.customize(kernel(size or SIZE, reps))
    s.reorder("k", "j")
    s.buffer_at(s.C, "i")
    s.pipeline("j")
    return s


IDEAL_CYCLES = ideal_cycles()
