from amaranth.hdl import Module, Const, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import Stages, unpack, clamp_unsigned, check_format, check_latency, check_int, \
    check_fracs


__all__ = ["FPToInt"]


class FPToInt(wiring.Component):
    """Pipelined floating-point to integer conversion: truncation toward zero (like a C
    cast), **saturating**.

    Out-of-range rule (the only one in :mod:`primitives.float`; matches
    :func:`primitives.float.model.fp_to_int_model`): NaN converts to 0; values above
    the target range, including ``+inf``, give the largest integer; values below it,
    including ``-inf``, give the smallest (for an unsigned target every negative value
    gives 0, as ``-0.5`` truncates to 0 and ``-1`` saturates to 0).

    With ``fracs`` the result is a fixed-point number (``Fixed(width, fracs)`` if
    signed, ``UFixed`` otherwise): the raw integer is ``value * 2**fracs`` truncated
    toward zero and saturated the same way, as ``allo_rtl.ir.numerics.cast`` does.

    Parameters
    ----------
    fmt : FloatFormat
        Input format (default :data:`~primitives.float.format.BINARY32`).
    width : int
        Integer width, 1..64.
    signed : bool
        Two's complement result if True, unsigned if False.
    latency : int
        Cycles from input to result, one of 0..2. Default 2.
    fracs : int
        Fraction bits of a fixed-point result, >= 0 (may exceed ``width``).
        Default 0 (an integer).

    Members
    -------
    a : In(unsigned(fmt.width))
        The float's bit pattern, sampled at every clock edge where ``en`` is 1.
    en : In(1)
        Clock enable of the whole pipeline. When 0, no register changes.
    result : Out(unsigned(width))
        The integer's bit pattern, for the input sampled ``latency`` enabled edges ago.

    Latency
    -------
    ``latency`` cycles, initiation interval 1. Register boundaries: 0 shift, 1
    saturate/negate (drives ``result``).

    Resources
    ---------
    An (M+1+width)-bit left shifter, a width-bit negator and comparators. No DSP.
    binary32 -> int32 at latency 2 on ECP5-85k: ~480 LUT4, ~100 FF, ~120 MHz.
    """

    CUTS = {0: (), 1: (1,), 2: (0, 1)}
    DEFAULT_LATENCY = 2

    def __init__(self, fmt=BINARY32, width=32, signed=True, *, latency=None, fracs=0):
        self.fmt = check_format(fmt)
        check_int(width, signed, type(self))
        check_fracs(fracs, type(self))
        self.width, self.signed, self.fracs = width, signed, fracs
        latency = check_latency(latency, self.CUTS, type(self))
        self.latency = self.DEFAULT_LATENCY if latency is None else latency
        super().__init__({"a": In(fmt.width), "en": In(1), "result": Out(width)})

    def elaborate(self, platform):
        m = Module()
        fmt, w = self.fmt, self.width
        E, M = fmt.exp_bits, fmt.man_bits
        st = Stages(m, self.en, self.CUTS[self.latency])
        u = unpack(m, fmt, self.a, "a")
        # k: unbiased exponent plus fracs; value * 2 ** fracs is sig * 2 ** (k - M).
        # (Subnormals scale like exponent 1; for fracs == 0 they are < 1 either way.)
        k = ((u.eff_exp if self.fracs else u.exp) - (fmt.bias - self.fracs)).as_signed()
        small = k < 0                                  # |value| < 1 (or zero/subnormal)
        if self.fracs > w + fmt.bias - 1:
            # So many fraction bits that zero and subnormals have k > w: they may still
            # fit, so shift by up to lim and saturate on any bit above the window.
            lim = w + M + 1
            sh = clamp_unsigned(Mux(small, 0, k)[:len(k) - 1], lim)
            full = (Cat(u.sig, Const(0, lim)) << sh)[:M + 1 + lim]
            huge = u.is_inf | (~small & full[M + 1 + w:].any())
        else:
            huge = u.is_inf | (k > w)
            sh = clamp_unsigned(Mux(small, 0, k)[:len(k) - 1], w)
            full = (Cat(u.sig, Const(0, w)) << sh)[:M + 1 + w]
        mag = Mux(small, 0, full[M:M + 1 + w])         # w+1 bits: |value| truncated
        s = st.cut(mag=mag, sign=u.sign, huge=huge, nan=u.is_nan)

        if self.signed:
            half = 1 << (w - 1)
            pos_ovf = s.huge | (s.mag >= half)
            neg_ovf = s.huge | (s.mag > half)
            value = Mux(s.sign,
                        Mux(neg_ovf, Const(half, w), (-s.mag)[:w]),
                        Mux(pos_ovf, Const(half - 1, w), s.mag[:w]))
        else:
            ovf = s.huge | s.mag[w]
            value = Mux(s.sign, 0, Mux(ovf, Const((1 << w) - 1, w), s.mag[:w]))
        s = st.cut(result=Mux(s.nan, 0, value))
        m.d.comb += self.result.eq(s.result)
        return m
