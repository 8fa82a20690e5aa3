"""Pipelined integer arithmetic units (Amaranth components) and their bit-exact
pure-Python models (:mod:`primitives.int.model`).

Operands and results are raw bit patterns; signed values are two's complement and
every result is wrapped to its port width, matching ``allo_rtl.ir.numerics``.

Pipelines follow the conventions of :mod:`primitives.float`: a fixed ``latency``
(exposed as ``.latency``; 0 is purely combinational), initiation interval 1, no
stalls; ``en`` is the clock enable of every register of the unit (while it is 0
nothing moves and outputs hold). The units use the ``sync`` domain; reset only clears
registers and is not needed for correct results.
"""

from .div import IntDiv
from .mul import IntMul
from . import model


__all__ = ["IntDiv", "IntMul", "model"]
