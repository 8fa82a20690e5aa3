"""The vector add of ``designs/vadd.py``, pipelined at II=1 (``s.pipeline("i")``).
The zero fill of ``C`` stays (Allo semantics), pipelined too. Ideal cycles: ``size``.
See ``designs/__init__.py``.
"""

import allo_rtl as allo

from designs.vadd import SIZE, SIZES, ideal_cycles, kernel, make_inputs  # noqa: F401

TOP = kernel(SIZE)


def schedule(size: int | None = None, reps: int = 1):
    """pipeline(i)."""
    s = allo.customize(kernel(size or SIZE, reps))
    s.pipeline("i")
    return s


IDEAL_CYCLES = ideal_cycles()
