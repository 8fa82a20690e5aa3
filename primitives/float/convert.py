from amaranth.hdl import Module, Const, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import Stages, unpack, canonical_nan, normalize_round, clamp_unsigned, \
    check_format, check_latency


__all__ = ["IntToFP", "FPToInt", "FPToFP"]


def _check_int(width, signed, cls):
    if not isinstance(width, int) or isinstance(width, bool):
        raise TypeError(f"{cls.__name__} width must be an integer, not {width!r}")
    if not 1 <= width <= 64:
        raise ValueError(f"{cls.__name__} width must be in 1..64, not {width}")
    if not isinstance(signed, bool):
        raise TypeError(f"{cls.__name__} signed must be a bool, not {signed!r}")


class IntToFP(wiring.Component):
    """Pipelined integer to floating-point conversion, round to nearest, ties to even.

    Zero converts to ``+0``; integers beyond the format's range become infinity.
    Bit-exact with :func:`primitives.float.model.int_to_fp_model`.

    Parameters
    ----------
    fmt : FloatFormat
        Result format (default :data:`~primitives.float.format.BINARY32`).
    width : int
        Integer width, 1..64.
    signed : bool
        Two's complement input if True, unsigned if False.
    latency : int
        Cycles from input to result, one of 0..4. Default 3.

    Members
    -------
    a : In(unsigned(width))
        The integer's bit pattern, sampled at every clock edge where ``en`` is 1.
    en : In(1)
        Clock enable of the whole pipeline. When 0, no register changes and ``result``
        holds.
    result : Out(unsigned(fmt.width))
        The converted value of the input sampled ``latency`` enabled edges ago.

    Latency
    -------
    ``latency`` cycles, initiation interval 1. Register stages: absolute value,
    leading-zero count, normalization shift, rounding.

    Resources
    ---------
    A width-bit negator (signed only), a width-bit leading-zero counter and left
    shifter, an (E+M)-bit rounding incrementer. No DSP.
    """

    CUTS = {0: (), 1: (3,), 2: (1, 3), 3: (0, 2, 3), 4: (0, 1, 2, 3)}
    DEFAULT_LATENCY = 3

    def __init__(self, fmt=BINARY32, width=32, signed=True, *, latency=None):
        self.fmt = check_format(fmt)
        _check_int(width, signed, type(self))
        self.width, self.signed = width, signed
        latency = check_latency(latency, self.CUTS, type(self))
        self.latency = self.DEFAULT_LATENCY if latency is None else latency
        super().__init__({"a": In(width), "en": In(1), "result": Out(fmt.width)})

    def elaborate(self, platform):
        m = Module()
        fmt, w = self.fmt, self.width
        M = fmt.man_bits
        st = Stages(m, self.en, self.CUTS[self.latency])
        if self.signed:
            sign = self.a[w - 1]
            mag = Mux(sign, -self.a, self.a)[:w]
        else:
            sign = Const(0)
            mag = self.a
        s = st.cut(sign=sign, mag=mag)
        p = Cat(Const(0, M + 2 - w), s.mag) if w < M + 2 else s.mag
        # Bit w-1 of the magnitude weighs 2 ** (w - 1).
        result = normalize_round(st, fmt, sign=s.sign, p=p, e1=Const(fmt.bias + w - 1),
                                 sticky=Const(0), special=Const(0), special_value=Const(0),
                                 may_underflow=False)
        m.d.comb += self.result.eq(result)
        return m


class FPToInt(wiring.Component):
    """Pipelined floating-point to integer conversion: truncation toward zero (like a C
    cast), **saturating**.

    Out-of-range rule (the only one in :mod:`primitives.float`; matches
    :func:`primitives.float.model.fp_to_int_model`): NaN converts to 0; values above
    the target range, including ``+inf``, give the largest integer; values below it,
    including ``-inf``, give the smallest (for an unsigned target every negative value
    gives 0, as ``-0.5`` truncates to 0 and ``-1`` saturates to 0).

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
    ``latency`` cycles, initiation interval 1. Register stages: shift, saturate/negate.

    Resources
    ---------
    An (M+1+width)-bit left shifter, a width-bit negator and comparators. No DSP.
    """

    CUTS = {0: (), 1: (1,), 2: (0, 1)}
    DEFAULT_LATENCY = 2

    def __init__(self, fmt=BINARY32, width=32, signed=True, *, latency=None):
        self.fmt = check_format(fmt)
        _check_int(width, signed, type(self))
        self.width, self.signed = width, signed
        latency = check_latency(latency, self.CUTS, type(self))
        self.latency = self.DEFAULT_LATENCY if latency is None else latency
        super().__init__({"a": In(fmt.width), "en": In(1), "result": Out(width)})

    def elaborate(self, platform):
        m = Module()
        fmt, w = self.fmt, self.width
        E, M = fmt.exp_bits, fmt.man_bits
        st = Stages(m, self.en, self.CUTS[self.latency])
        u = unpack(fmt, self.a)
        # k: unbiased exponent; the value is sig * 2 ** (k - M).
        k = (u.exp - fmt.bias).as_signed()
        small = k < 0                                  # |value| < 1 (or zero/subnormal)
        huge = u.is_inf | (k > w)
        sh = clamp_unsigned(Mux(small, 0, k)[:E], w)
        full = (u.sig << sh)[:M + 1 + w]
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


class FPToFP(wiring.Component):
    """Pipelined conversion between two floating-point formats, round to nearest, ties
    to even.

    Subnormals are handled both ways (a subnormal input is normalized when the result
    format has the range; a result below the result format's normal range becomes
    subnormal or zero). Overflow gives infinity; a NaN input gives the result format's
    canonical quiet NaN. Bit-exact with :func:`primitives.float.model.fp_to_fp_model`.

    Parameters
    ----------
    src : FloatFormat
        Input format.
    dst : FloatFormat
        Result format.
    latency : int
        Cycles from input to result, one of 0..4. Default 3.

    Members
    -------
    a : In(unsigned(src.width))
        Input bit pattern, sampled at every clock edge where ``en`` is 1.
    en : In(1)
        Clock enable of the whole pipeline. When 0, no register changes.
    result : Out(unsigned(dst.width))
        The converted input sampled ``latency`` enabled edges ago.

    Latency
    -------
    ``latency`` cycles, initiation interval 1. Register stages: unpack, leading-zero
    count, normalization shift, rounding.

    Resources
    ---------
    A leading-zero counter and shifters over max(src.man_bits + 1, dst.man_bits + 2)
    bits and a rounding incrementer. No DSP.
    """

    CUTS = {0: (), 1: (3,), 2: (1, 3), 3: (0, 2, 3), 4: (0, 1, 2, 3)}
    DEFAULT_LATENCY = 3

    def __init__(self, src, dst, *, latency=None):
        self.src = check_format(src, "Source format")
        self.dst = check_format(dst, "Destination format")
        latency = check_latency(latency, self.CUTS, type(self))
        self.latency = self.DEFAULT_LATENCY if latency is None else latency
        super().__init__({"a": In(src.width), "en": In(1), "result": Out(dst.width)})

    def elaborate(self, platform):
        m = Module()
        src, dst = self.src, self.dst
        st = Stages(m, self.en, self.CUTS[self.latency])
        u = unpack(src, self.a)
        special_value = Mux(u.is_nan, canonical_nan(dst),
                            Cat(Const(0, dst.man_bits), Const(dst.exp_max, dst.exp_bits),
                                u.sign))
        # Bit M of the significand weighs 2 ** (eff_exp - src.bias).
        e1 = Cat(u.eff_exp, 0).as_signed() + (dst.bias - src.bias)
        pad = max(0, dst.man_bits + 2 - (src.man_bits + 1))
        p = Cat(Const(0, pad), u.sig) if pad else u.sig
        s = st.cut(p=p, e1=e1, sign=u.sign, special=~u.is_finite, special_value=special_value)
        may_underflow = (1 - src.bias - src.man_bits) < (1 - dst.bias)
        result = normalize_round(st, dst, sign=s.sign, p=s.p, e1=s.e1, sticky=Const(0),
                                 special=s.special, special_value=s.special_value,
                                 may_underflow=may_underflow)
        m.d.comb += self.result.eq(result)
        return m
