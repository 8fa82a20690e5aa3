from amaranth.hdl import Module, Const, Cat, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import Stages, normalize_round, check_format, check_latency, check_int, \
    check_fracs, priority_cuts


__all__ = ["IntToFP"]


class IntToFP(wiring.Component):
    """Pipelined integer to floating-point conversion, round to nearest, ties to even.

    Zero converts to ``+0``; integers beyond the format's range become infinity.
    With ``fracs`` the input is a fixed-point number (``Fixed(width, fracs)`` if
    signed, ``UFixed`` otherwise): the raw integer ``r`` means ``r * 2**-fracs``,
    rounded once (subnormal results and underflow to a signed zero as IEEE says).
    Bit-exact with :func:`primitives.float.model.int_to_fp_model` (same ``fracs``)
    and with ``allo_rtl.ir.numerics.cast``.

    Parameters
    ----------
    fmt : FloatFormat
        Result format (default :data:`~primitives.float.format.BINARY32`).
    width : int
        Integer width, 1..64.
    signed : bool
        Two's complement input if True, unsigned if False.
    latency : int
        Cycles from input to result, one of 0..8. Default 4.
    fracs : int
        Fraction bits of a fixed-point input, >= 0 (may exceed ``width``).
        Default 0 (an integer).

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
    ``latency`` cycles, initiation interval 1. Register boundaries: 0 absolute value,
    then those of the shared normalize/round back end (1 limits, 2-3 leading-zero
    count, 4-5 shift, 6 round-up decision, 7 pack); a latency registers the first
    ``latency`` boundaries of :attr:`PRIORITY`.

    Resources
    ---------
    A width-bit negator (signed only), a width-bit leading-zero counter and left
    shifter, an (E+M)-bit rounding incrementer. No DSP. int32 -> binary32 at latency
    4 on ECP5-85k: ~360 LUT4, ~180 FF, ~144 MHz.
    """

    #: Register boundaries in the order they are added as the latency grows.
    PRIORITY = (7, 0, 3, 5, 6, 2, 4, 1)
    CUTS = priority_cuts(PRIORITY)
    DEFAULT_LATENCY = 4

    def __init__(self, fmt=BINARY32, width=32, signed=True, *, latency=None, fracs=0):
        self.fmt = check_format(fmt)
        check_int(width, signed, type(self))
        check_fracs(fracs, type(self))
        self.width, self.signed, self.fracs = width, signed, fracs
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
        # Bit w-1 of the magnitude weighs 2 ** (w - 1 - fracs); with many fraction bits
        # the result can be subnormal below the marker's reach (e1 < 1).
        e1 = fmt.bias + w - 1 - self.fracs
        # (With fracs: wide enough that e1 - shift keeps the exponent field's width.)
        e1_value = Const(e1, signed(max(abs(e1).bit_length(), fmt.exp_bits) + 2)) \
            if self.fracs else Const(e1)
        result = normalize_round(st, fmt, sign=s.sign, p=p, e1=e1_value,
                                 sticky=Const(0), special=Const(0), special_value=Const(0),
                                 may_underflow=e1 < 1)
        m.d.comb += self.result.eq(result)
        return m
