"""Systolic arrays (Amaranth components) and their pure-Python models.

* :class:`PE`: an output-stationary multiply-accumulate processing element that
  forwards its operands to its east and south neighbours.
* :class:`FloatPE`: the same with IEEE floating-point units (``acc + a * b`` with the
  product and the sum each rounded, one step per adder latency per sum; a step per
  cycle with as many sums interleaved).
* :class:`SystolicArray`: a ``rows`` x ``cols`` grid of PEs with skewed feeders and a
  per-column drain that empties finished sums while the next tile computes.
* :class:`SystolicGemm`: the array fed tile after tile from banked memory ports
  (one per row of A, one per column of B) with its sums written through banked ports.

:mod:`primitives.systolic.model` holds the reference models. All components use the
``sync`` domain; reset only clears registers.
"""

from .array import SystolicArray
from .gemm import AffineAddress, MemPort, OutputBanks, SystolicGemm
from .pe import PE
from .float_pe import FloatPE
from . import model

__all__ = ["PE", "FloatPE", "SystolicArray", "SystolicGemm", "MemPort", "AffineAddress",
           "OutputBanks", "model"]
