from amaranth.hdl import Module, Const, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import Stages, unpack, canonical_nan, normalize_round, partial_products, \
    sum_partial_products, check_format, check_latency


__all__ = ["FPMul"]


class FPMul(wiring.Component):
    """Pipelined floating-point multiplier, IEEE-754 round to nearest, ties to even.

    Computes ``a * b``. Subnormal operands and results are handled exactly (no
    flushing); a result too large becomes infinity, one too small a signed zero.
    Any NaN result (a NaN operand, or ``0 * inf``) is the canonical quiet NaN
    ``fmt.canonical_nan`` (e.g. ``0x7FC00000``). Bit-exact with
    :func:`primitives.float.model.fp_mul_model`.

    Parameters
    ----------
    fmt : FloatFormat
        Operand and result format (default :data:`~primitives.float.format.BINARY32`).
    latency : int
        Cycles from operands to result, one of 0..5 (0 is purely combinational).
        Default 4.

    Members
    -------
    a : In(unsigned(fmt.width))
        First operand (raw bit pattern), sampled at every clock edge where ``en`` is 1.
    b : In(unsigned(fmt.width))
        Second operand.
    en : In(1)
        Clock enable of the whole pipeline. When 0, no register changes: the operands
        are ignored and ``result`` holds. Tie to 1 for a free-running pipeline.
    result : Out(unsigned(fmt.width))
        ``a * b`` of the operands sampled ``latency`` enabled clock edges ago
        (for ``latency == 0``, of the current operands).

    Latency
    -------
    ``latency`` cycles, initiation interval 1. Register stages, in order: partial
    products (DSP outputs), product sum, leading-zero count, normalization shift,
    rounding (the last one drives ``result``).

    Resources
    ---------
    The (M+1) x (M+1) significand product is split into 18x18 partial products, one
    ECP5 MULT18X18D each: 4 for binary32 (24x24), 1 for binary16/bfloat16, 9 for
    binary64. Plus the partial-product adders, a (2M+2)-bit leading-zero counter and
    left/right shifters (the right shifter produces subnormal results): about 500 LUT4
    for binary32.
    """

    CUTS = {
        0: (),
        1: (4,),
        2: (1, 4),
        3: (0, 2, 4),
        4: (0, 1, 2, 4),
        5: (0, 1, 2, 3, 4),
    }
    DEFAULT_LATENCY = 4

    def __init__(self, fmt=BINARY32, *, latency=None):
        self.fmt = check_format(fmt)
        latency = check_latency(latency, self.CUTS, type(self))
        self.latency = self.DEFAULT_LATENCY if latency is None else latency
        super().__init__({
            "a": In(fmt.width),
            "b": In(fmt.width),
            "en": In(1),
            "result": Out(fmt.width),
        })

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        E, M = fmt.exp_bits, fmt.man_bits
        st = Stages(m, self.en, self.CUTS[self.latency])

        ua, ub = unpack(fmt, self.a), unpack(fmt, self.b)
        sign = ua.sign ^ ub.sign
        nan = ua.is_nan | ub.is_nan | (ua.is_inf & ub.is_zero) | (ua.is_zero & ub.is_inf)
        inf = ua.is_inf | ub.is_inf
        zero = ua.is_zero | ub.is_zero
        special_value = Mux(nan, canonical_nan(fmt),
                            Cat(Const(0, M), Mux(inf, Const(fmt.exp_max, E), 0), sign))
        # Bit 2M+1 of the product weighs 2 ** (ea + eb - 2 * bias + 1).
        e1 = (Cat(ua.eff_exp, 0) + ub.eff_exp).as_signed() - (fmt.bias - 1)
        parts = partial_products(ua.sig, ub.sig)
        s = st.cut(parts=Cat(p for p, _ in parts), e1=e1, sign=sign,
                   special=nan | inf | zero, special_value=special_value)

        # Re-split the registered partial products and add them.
        pieces, offset = [], 0
        for p, sh in parts:
            pieces.append((s.parts[offset:offset + len(p)], sh))
            offset += len(p)
        prod = sum_partial_products(pieces, 2 * M + 2)
        s = st.cut(prod=prod, e1=s.e1, sign=s.sign, special=s.special,
                   special_value=s.special_value)

        result = normalize_round(st, fmt, sign=s.sign, p=s.prod, e1=s.e1, sticky=Const(0),
                                 special=s.special, special_value=s.special_value)
        assert st.index == 5
        m.d.comb += self.result.eq(result)
        return m
