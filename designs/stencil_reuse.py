"""The 3x3 blur of ``designs/stencil.py`` with reuse buffers: ``reuse_at(A, i)``
(line buffer of 3 rows, rows in separate banks) chained with ``reuse_at(.., j)``
(3x3 window in registers) and ``pipeline(j)``: each pixel of ``A`` is read once and
one output is produced per cycle after the fill. Ideal cycles: ``(size - 2)**2``.
See ``designs/__init__.py``.
"""

import allo_rtl as allo

from designs.stencil import SIZE, SIZES, ideal_cycles, kernel, make_inputs  # noqa: F401

TOP = kernel(SIZE)


def schedule(size: int | None = None, reps: int = 1):
    """reuse_at(A, i) -> reuse_at(line buffer, j) -> pipeline(j)."""
    s = allo.customize(kernel(size or SIZE, reps))
    lb = s.reuse_at(s.A, "i")
    s.reuse_at(lb, "j")
    s.pipeline("j")
    return s


IDEAL_CYCLES = ideal_cycles()
