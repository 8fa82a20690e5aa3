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
    boundaries: 0 unpack and the first adder level of the significand product (DSP
    formats: the DSP inputs), 1 the next two levels (DSP outputs), 2 the product, 3
    (pass-through), 4-5 leading-zero count (per slice, combine), 6-7 normalization or
    denormalization shift (coarse, fine), 8 round-up decision, 9 increment/pack
    (drives ``result``). A latency registers the first ``latency`` boundaries of
    :attr:`PRIORITY`; :attr:`CUTS` maps each latency to them.

    Resources
    ---------
    Significands of at most :attr:`FABRIC_MAX` bits (binary32, binary16, bfloat16)
    are multiplied in the fabric: the M x M fraction product is M rows ``a & b[j]``
    (one LUT4 per bit) added by a balanced tree of carry-chain adders, one level
    before boundary 0, two before boundary 1 (with the two rows of the hidden bits),
    the rest (two for binary32) before boundary 2. Wider significands (binary64) are
    split into 18x18 partial products, one ECP5 MULT18X18D each (9), registered at
    boundaries 0 and 1 and added before boundary 2. The fabric is used because a
    MULT18X18D between fabric registers cannot reach 150 MHz: Yosys does not pack
    registers into ECP5 DSPs, and nextpnr's model of the unregistered MULT18X18D is
    3.9 ns plus ~1.2 ns of routing on each side (6.7-7.3 ns register to register).
    Measured on ECP5-85k (as for :class:`FPAdd`), latency 9: binary32 ~1500 LUT4,
    361 CCU2C, ~980 FF, no DSP, 158-164 MHz over 4 placer seeds (with 4 MULT18X18D:
    ~990 LUT4, 77 CCU2C, ~660 FF, 137-141 MHz); binary16 ~530 LUT4, 97 CCU2C,
    ~175 MHz; bfloat16 ~340 LUT4, 81 CCU2C, ~175 MHz; binary64 9 MULT18X18D,
    ~2650 LUT4, ~117 MHz.
    """

    #: Register boundaries in the order they are added as the latency grows (the
    #: output first); :attr:`CUTS` maps each latency to the boundaries it registers.
    PRIORITY = (9, 1, 5, 2, 7, 0, 8, 4, 6, 3)
    CUTS = priority_cuts(PRIORITY)
    DEFAULT_LATENCY = 9
    #: Widest significand (hidden bit included) multiplied in the fabric; wider ones
    #: use MULT18X18D partial products.
    FABRIC_MAX = 24

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
        fabric = M + 1 <= self.FABRIC_MAX

        ua, ub = unpack(m, fmt, self.a, "a"), unpack(m, fmt, self.b, "b")
        front = dict(esum=Cat(ua.eff_exp, 0) + ub.eff_exp, sign=ua.sign ^ ub.sign,
                     flags=Cat(ua.is_nan, ua.is_inf, ua.is_zero, ub.is_nan, ub.is_inf,
                               ub.is_zero))
        if fabric:
            # The fraction product (straight from the operand bits), first adder level;
            # the hidden bits depend on the exponents and are added as two more rows:
            # (ha 2^M + ma)(hb 2^M + mb) = ma mb + ha (hb 2^M + mb) 2^M + hb ma 2^M.
            rows = _add_rows([(ua.man & ub.man[j].replicate(M), j, (1 << M) - 1)
                              for j in range(M)], 1)
            rows += [(ub.sig & ua.sig[M].replicate(M + 1), M, (1 << M + 1) - 1),
                     (ua.man & ub.sig[M].replicate(M), M, (1 << M) - 1)]
            s, rows = _cut_rows(st, rows, **front)
            rows = _add_rows(rows, 2)
        else:
            s = st.cut(sa=ua.sig, sb=ub.sig, **front)
            rows = [(p, sh, None) for p, sh in partial_products(s.sa, s.sb)]

        an, ai, az, bn, bi, bz = s.flags
        nan = an | bn | (ai & bz) | (az & bi)
        special_value = Mux(nan, canonical_nan(fmt),
                            Cat(Const(0, M), Mux(ai | bi, Const(fmt.exp_max, E), 0), s.sign))
        # Bit 2M+1 of the product weighs 2 ** (ea + eb - 2 * bias + 1).
        s, rows = _cut_rows(st, rows, e1=s.esum.as_signed() - (fmt.bias - 1), sign=s.sign,
                            special=s.flags.any(), special_value=special_value)

        if fabric:
            (v, sh, _), = _add_rows(rows)
            prod = Cat(Const(0, sh), v)[:2 * M + 2]
        else:
            prod = sum_partial_products([(v, sh) for v, sh, _ in rows], 2 * M + 2)
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


def _add_rows(rows, levels=None):
    """Add shifted rows ``(value, shift, max)`` (``max``: the largest value of the row)
    pairwise, neighbours in shift order, for ``levels`` levels of a balanced tree (None:
    down to one row). Each sum is one adder (a carry chain) over the bits where the two
    rows overlap, as wide as the largest value of the sum needs."""
    rows = sorted(rows, key=lambda r: r[1])
    while len(rows) > 1 and levels != 0:
        out = []
        for k in range(0, len(rows) - 1, 2):
            (v1, s1, m1), (v2, s2, m2) = rows[k], rows[k + 1]
            d = s2 - s1
            total = m1 + (m2 << d)
            hi = (v1[d:] + v2)[:total.bit_length() - d]
            out.append((Cat(v1[:d], hi) if d else hi, s1, total))
        if len(rows) % 2:
            out.append(rows[-1])
        rows = out
        levels = None if levels is None else levels - 1
    return rows


def _cut_rows(st, rows, **values):
    """``st.cut`` of the rows (concatenated) and ``values``: the namespace and the rows
    re-split from the registered (or passed-through) concatenation."""
    s = st.cut(rows=Cat(v for v, _, _ in rows), **values)
    out, offset = [], 0
    for v, sh, mx in rows:
        out.append((s.rows[offset:offset + len(v)], sh, mx))
        offset += len(v)
    return s, out
