"""Bundled reference designs, one module each, run by ``python -m allo_rtl bench``.

Every design module follows one convention (``designs/gemm.py`` is the model):

* ``TOP``: the top kernel at the default (quick) size; ``python -m allo_rtl build
  designs/X.py`` builds it.
* ``SIZES``: ``{"quick": q, "full": f}``, the problem size the benchmark uses by
  default and with ``--full``. ``SIZE`` is the quick size.
* ``kernel(size=SIZE, reps=1)``: the top kernel for ``size``. ``reps > 1`` wraps
  the computation in an outer repetition loop; it exists only so the benchmark
  can simulate a long run on small memories (``reps=1`` is exactly the plain
  design: same IR, same cycles).
* ``schedule(size=None, reps=1)``: the design's schedule (``allo.customize`` plus
  its primitives); ``size=None`` means the quick size.
* ``ideal_cycles(size=None)`` and ``IDEAL_CYCLES`` (at the quick size): the
  cycles of an ideal implementation. For an unscheduled sequential design the
  ideal is one inner-loop iteration of the main computation per cycle, so
  ideal = number of inner-loop iterations; initialisation of local buffers and
  loop overheads are not counted (efficiency = ideal / measured cycles).
* ``make_inputs(rng, size=None)``: a tuple of arguments for the top kernel
  (numpy arrays/scalars), drawn from the ``numpy.random.Generator`` ``rng``.
* optional ``CLOCK_MHZ``: the target clock the design is built for (``bench``,
  ``build`` and ``report`` pass it as ``clock_mhz``; default 120 MHz; the
  command line's ``--clock-mhz`` overrides it).
"""
