from amaranth.hdl import Module, Const, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import Stages, unpack, canonical_nan, normalize_round, partial_products, \
    sum_partial_products, check_format, check_latency, priority_cuts, nr_limits


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
        Cycles from operands to result, one of 0..10 (0 is purely combinational).
        Default 9 (every useful boundary registered, see Resources).

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
    ``latency`` cycles, initiation interval 1. The datapath has 10 register
    boundaries: 0 unpack (DSP inputs), 1 partial products (DSP outputs), 2 product
    sum, 3 (pass-through), 4-5 leading-zero count (per slice, combine), 6-7
    normalization or denormalization shift (coarse, fine), 8 round-up decision, 9
    increment/pack (drives ``result``). A latency registers the first ``latency``
    boundaries of :attr:`PRIORITY`; :attr:`CUTS` maps each latency to them.

    Resources
    ---------
    The (M+1) x (M+1) significand product is split into 18x18 partial products, one
    ECP5 MULT18X18D each: 4 for binary32 (24x24), 1 for binary16/bfloat16, 9 for
    binary64; products that do not overlap are concatenated, the rest added in a tree.
    Measured on ECP5-85k (as for :class:`FPAdd`), binary32 latency 9: 4 MULT18X18D,
    ~1160 LUT4, ~660 FF, 139-140 MHz; binary64 latency 9: 9 MULT18X18D, ~2900 LUT4,
    ~115 MHz. The limit is the unregistered MULT18X18D
    (3.9 ns in nextpnr's timing model): Yosys does not pack registers into ECP5 DSPs,
    so 150 MHz would need an instantiated MULT18X18D with its input/output registers.
    binary16 / bfloat16 at latency 6: 1 MULT18X18D, ~140 MHz.
    """

    #: Register boundaries in the order they are added as the latency grows (the
    #: output first); :attr:`CUTS` maps each latency to the boundaries it registers.
    PRIORITY = (9, 1, 5, 0, 7, 2, 8, 4, 6, 3)
    CUTS = priority_cuts(PRIORITY)
    DEFAULT_LATENCY = 9

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

        ua, ub = unpack(m, fmt, self.a, "a"), unpack(m, fmt, self.b, "b")
        sign = ua.sign ^ ub.sign
        nan = ua.is_nan | ub.is_nan | (ua.is_inf & ub.is_zero) | (ua.is_zero & ub.is_inf)
        inf = ua.is_inf | ub.is_inf
        zero = ua.is_zero | ub.is_zero
        special_value = Mux(nan, canonical_nan(fmt),
                            Cat(Const(0, M), Mux(inf, Const(fmt.exp_max, E), 0), sign))
        s = st.cut(sa=ua.sig, sb=ub.sig, esum=Cat(ua.eff_exp, 0) + ub.eff_exp, sign=sign,
                   special=nan | inf | zero, special_value=special_value)

        # Bit 2M+1 of the product weighs 2 ** (ea + eb - 2 * bias + 1).
        parts = partial_products(s.sa, s.sb)
        s = st.cut(parts=Cat(p for p, _ in parts), e1=s.esum.as_signed() - (fmt.bias - 1),
                   sign=s.sign, special=s.special, special_value=s.special_value)

        # Re-split the registered partial products and add them.
        pieces, offset = [], 0
        for p, sh in parts:
            pieces.append((s.parts[offset:offset + len(p)], sh))
            offset += len(p)
        prod = sum_partial_products(pieces, 2 * M + 2)
        # The normalization limits only depend on the exponent: computed in parallel.
        marker, under, rsh = nr_limits(m, s.e1, 2 * M + 2, fmt)
        s = st.cut(prod=prod, e1=s.e1, marker=marker, under=under, rsh=rsh, sign=s.sign,
                   special=s.special, special_value=s.special_value)

        result = normalize_round(st, fmt, sign=s.sign, p=s.prod, e1=s.e1, sticky=Const(0),
                                 special=s.special, special_value=s.special_value,
                                 limits=(s.marker, s.under, s.rsh))
        assert st.index == len(self.PRIORITY)
        m.d.comb += self.result.eq(result)
        return m
