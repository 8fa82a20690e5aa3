from amaranth.hdl import Module, Signal, Const, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import Stages, unpack, canonical_nan, shift_right_sticky, clamp_unsigned, \
    normalize_round, check_format, check_latency


__all__ = ["FPAdd"]


class FPAdd(wiring.Component):
    """Pipelined floating-point adder/subtractor, IEEE-754 round to nearest, ties to even.

    Computes ``a + b``, or ``a - b`` when ``sub`` is asserted. Subnormal operands and
    results are handled exactly (no flushing); a result too large becomes infinity;
    ``x - x`` is ``+0``; ``(-0) + (-0)`` is ``-0``. Any NaN result (a NaN operand, or
    ``inf - inf``) is the canonical quiet NaN ``fmt.canonical_nan`` (e.g. ``0x7FC00000``).
    Bit-exact with :func:`primitives.float.model.fp_add_model`.

    Parameters
    ----------
    fmt : FloatFormat
        Operand and result format (default :data:`~primitives.float.format.BINARY32`).
    latency : int
        Cycles from operands to result, one of 0..6 (0 is purely combinational).
        Default 5.

    Members
    -------
    a : In(unsigned(fmt.width))
        First operand (raw bit pattern), sampled at every clock edge where ``en`` is 1.
    b : In(unsigned(fmt.width))
        Second operand.
    sub : In(1)
        Subtract: the operation is ``a - b`` for this operand pair.
    en : In(1)
        Clock enable of the whole pipeline. When 0, no register changes: the operands
        are ignored and ``result`` holds. Tie to 1 for a free-running pipeline.
    result : Out(unsigned(fmt.width))
        ``a ± b`` of the operands sampled ``latency`` enabled clock edges ago
        (for ``latency == 0``, of the current operands).

    Latency
    -------
    ``latency`` cycles, initiation interval 1 (a new operation every enabled cycle).
    Register stages, in order: unpack/compare/swap, alignment shift, significand add,
    leading-zero count, normalization shift, rounding (the last one drives ``result``).

    Resources
    ---------
    No DSP or memory. Two (M+4)-bit shifters, an (E+M)-bit comparator, an (M+5)-bit
    adder and an (E+M)-bit rounding incrementer: about 400 LUT4 for binary32, linear in
    the mantissa width (shifters are M·log M). About 60 (binary32) to 120 flip-flops per
    register stage.
    """

    #: Supported latency values and the register boundaries each one uses.
    CUTS = {
        0: (),
        1: (5,),
        2: (2, 5),
        3: (1, 3, 5),
        4: (0, 2, 3, 5),
        5: (0, 1, 2, 3, 5),
        6: (0, 1, 2, 3, 4, 5),
    }
    DEFAULT_LATENCY = 5

    def __init__(self, fmt=BINARY32, *, latency=None):
        self.fmt = check_format(fmt)
        latency = check_latency(latency, self.CUTS, type(self))
        self.latency = self.DEFAULT_LATENCY if latency is None else latency
        super().__init__({
            "a": In(fmt.width),
            "b": In(fmt.width),
            "sub": In(1),
            "en": In(1),
            "result": Out(fmt.width),
        })

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        E, M = fmt.exp_bits, fmt.man_bits
        st = Stages(m, self.en, self.CUTS[self.latency])

        # Unpack, order operands by magnitude, classify.
        ua, ub = unpack(fmt, self.a), unpack(fmt, self.b)
        sb = ub.sign ^ self.sub
        swap = ub.mag > ua.mag
        eff_sub = ua.sign ^ sb
        nan = ua.is_nan | ub.is_nan | (ua.is_inf & ub.is_inf & eff_sub)
        inf_sign = Mux(ua.is_inf, ua.sign, sb)
        special_value = Mux(nan, canonical_nan(fmt), Cat(Const(0, M), Const(fmt.exp_max, E), inf_sign))
        big_exp = Mux(swap, ub.eff_exp, ua.eff_exp)
        small_exp = Mux(swap, ua.eff_exp, ub.eff_exp)
        s = st.cut(
            big_sig=Mux(swap, ub.sig, ua.sig),
            small_sig=Mux(swap, ua.sig, ub.sig),
            big_exp=big_exp,
            d=(big_exp - small_exp)[:E],
            eff_sub=eff_sub,
            # Exact cancellation (|a| == |b| with opposite effective signs) gives +0.
            sign=Mux(eff_sub & (ua.mag == ub.mag), 0, Mux(swap, sb, ua.sign)),
            special=nan | ua.is_inf | ub.is_inf,
            special_value=special_value,
        )

        # Align the smaller operand: 3 extra bits (guard, round, sticky).
        small_ext = Cat(Const(0, 3), s.small_sig)
        shifted, sticky = shift_right_sticky(small_ext, clamp_unsigned(s.d, M + 4))
        s = st.cut(big_sig=s.big_sig, aligned=shifted | sticky, big_exp=s.big_exp,
                   eff_sub=s.eff_sub, sign=s.sign, special=s.special,
                   special_value=s.special_value)

        # Add or subtract (one adder with a conditional inversion).
        big_ext = Cat(Const(0, 3), s.big_sig, Const(0, 1))
        inv = s.aligned ^ s.eff_sub.replicate(M + 4)
        total = (big_ext + Cat(inv, s.eff_sub) + s.eff_sub)[:M + 5]
        s = st.cut(total=total, big_exp=s.big_exp, sign=s.sign, special=s.special,
                   special_value=s.special_value)

        # Bit M+4 of the sum weighs 2 ** (big_exp + 1 - bias).
        result = normalize_round(st, fmt, sign=s.sign, p=s.total, e1=Cat(s.big_exp, 0) + 1,
                                 sticky=Const(0), special=s.special,
                                 special_value=s.special_value, may_underflow=False)
        assert st.index == 6
        m.d.comb += self.result.eq(result)
        return m
