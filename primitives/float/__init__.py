"""Pipelined IEEE-754 floating-point units (Amaranth components) and their bit-exact
pure-Python models.

Formats are :class:`FloatFormat` values (``BINARY16``, ``BFLOAT16``, ``BINARY32``,
``BINARY64`` or any ``FloatFormat(exp_bits, man_bits)``). Operands and results are raw
bit patterns (``unsigned(fmt.width)``).

Conventions shared by every unit (and by :mod:`primitives.float.model`):

* Rounding is to nearest, ties to even. Subnormal inputs and outputs are fully
  supported (no flushing to zero). Results too large become infinity.
* **Canonical NaN.** Every NaN result is the format's canonical quiet NaN: sign 0,
  exponent all ones, fraction MSB 1 and the other fraction bits 0
  (``fmt.canonical_nan``: binary32 ``0x7FC00000``, binary16 ``0x7E00``, bfloat16
  ``0x7FC0``, binary64 ``0x7FF8000000000000``). Input NaNs (quiet or signalling, any
  sign or payload) are never propagated; no exception flags exist. This also holds
  for :func:`fp_abs`, :func:`fp_neg`, :class:`FPMinMax` and :class:`FPToFP`.
* **Float to integer** (:class:`FPToInt`) truncates toward zero and saturates: NaN
  gives 0, values above the integer range (and ``+inf``) give the largest integer,
  values below it (and ``-inf``) the smallest (0 for unsigned targets, so every
  negative input gives 0 there).
* **Comparisons** follow C: with a NaN operand every comparison is false except
  ``!=``; ``-0 == +0``. **Min/max** follow IEEE 754-2019 ``minimum``/``maximum``:
  NaN if either operand is NaN, and ``-0 < +0``.
* **Pipelines** have a fixed latency (the ``latency`` constructor parameter, exposed
  as ``.latency``), initiation interval 1 and no stalls: the operands present at a
  clock edge where ``en`` is 1 produce their result on ``result`` after ``latency``
  such edges. ``en`` is the clock enable of every register of the unit: while it is 0
  nothing moves and outputs hold. ``latency == 0`` (where supported) is purely
  combinational. The units use the ``sync`` domain (reset only clears registers, it
  is not needed for correct results).
"""

from .format import FloatFormat, BINARY16, BFLOAT16, BINARY32, BINARY64, FORMATS
from .add import FPAdd
from .mul import FPMul
from .div import FPDiv
from .sqrt import FPSqrt
from .compare import FPCompare
from .minmax import FPMinMax
from .sign import fp_abs, fp_neg
from .int_to_fp import IntToFP
from .fp_to_int import FPToInt
from .fp_to_fp import FPToFP
from . import model


__all__ = [
    "FloatFormat", "BINARY16", "BFLOAT16", "BINARY32", "BINARY64", "FORMATS",
    "FPAdd", "FPMul", "FPDiv", "FPSqrt", "FPCompare", "FPMinMax", "fp_abs", "fp_neg",
    "IntToFP", "FPToInt", "FPToFP", "model",
]

# Elementary functions, binary32 (exp, tanh, erf, pow).
from .exp import FPExp  # noqa: E402
from .tanh import FPTanh  # noqa: E402
from .erf import FPErf  # noqa: E402
from .pow import FPPow  # noqa: E402

__all__ += ["FPExp", "FPTanh", "FPErf", "FPPow"]

# Elementary functions, binary32 (log, log2, log10, sin, cos, tan).
from .log import FPLog, FPLog2, FPLog10  # noqa: E402
from .trig import FPSin, FPCos, FPTan  # noqa: E402

__all__ += ["FPLog", "FPLog2", "FPLog10", "FPSin", "FPCos", "FPTan"]
