from amaranth.hdl import Module, Const, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._hw import Stages, unpack, canonical_nan, normalize_round, check_format, \
    check_latency, priority_cuts


__all__ = ["FPToFP"]


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
        Cycles from input to result, one of 0..8. Default 4.

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
    ``latency`` cycles, initiation interval 1. Register boundaries: 0 unpack, then
    those of the shared normalize/round back end (1 limits, 2-3 leading-zero count,
    4-5 shift, 6 round-up decision, 7 pack); a latency registers the first
    ``latency`` boundaries of :attr:`PRIORITY`.

    Resources
    ---------
    A leading-zero counter and shifters over max(src.man_bits + 1, dst.man_bits + 2)
    bits and a rounding incrementer. No DSP. On ECP5-85k at latency 4: binary32 ->
    binary64 ~370 LUT4, ~110 MHz; binary64 -> binary32 ~1300 LUT4, ~90 MHz.
    """

    #: Register boundaries in the order they are added as the latency grows.
    PRIORITY = (7, 3, 5, 0, 6, 2, 4, 1)
    CUTS = priority_cuts(PRIORITY)
    DEFAULT_LATENCY = 4

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
        u = unpack(m, src, self.a, "a")
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
