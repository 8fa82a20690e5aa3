from amaranth.hdl import Module, Const, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import Stages, unpack, canonical_nan, normalize_round, lzc, nr_limits, \
    recurrence_cuts, recurrence_latencies, check_format, check_latency


__all__ = ["FPDiv"]


class FPDiv(wiring.Component):
    """Pipelined floating-point divider, correctly rounded (nearest, ties to even).

    Computes ``a / b`` by radix-2 restoring digit recurrence, unrolled in the pipeline
    (one quotient bit per step, ``steps_per_stage`` steps per register stage).
    Subnormal operands and results are exact; ``x / 0`` is a signed infinity for
    non-zero ``x``; ``0 / 0``, ``inf / inf`` and NaN operands give the canonical quiet
    NaN ``fmt.canonical_nan``. Bit-exact with :func:`primitives.float.model.fp_div_model`.

    Parameters
    ----------
    fmt : FloatFormat
        Operand and result format (default :data:`~primitives.float.format.BINARY32`).
    latency : int
        Cycles from operands to result: ``7 + ceil((M + 3) / k)`` for ``k`` quotient
        bits per register stage, ``k`` in 1..M+3; the supported values are the keys of
        :attr:`LATENCIES` (binary32: 8..14, 16, 20, 33). Default ``k = 1``:
        binary16 20, bfloat16 17, binary32 33, binary64 62.

    Members
    -------
    a : In(unsigned(fmt.width))
        Dividend (raw bit pattern), sampled at every clock edge where ``en`` is 1.
    b : In(unsigned(fmt.width))
        Divisor.
    en : In(1)
        Clock enable of the whole pipeline. When 0, no register changes.
    result : Out(unsigned(fmt.width))
        ``a / b`` of the operands sampled ``latency`` enabled edges ago.

    Latency
    -------
    ``latency`` cycles, initiation interval 1. Register stages: unpack, leading-zero
    count and normalization of both significands (3), the recurrence
    (``ceil((M+3)/k)``), then 4 for normalization/rounding. :attr:`steps_per_stage`
    is ``k``.

    Resources
    ---------
    M+3 subtract-and-select steps of M+2 bits, no DSP: binary32 at the default
    latency about 2700 LUT4 and 3300 flip-flops on ECP5-85k, ~137 MHz (two steps per
    stage roughly halve the registers and the clock rate). Logic grows as M²,
    registers as M² / k.
    """

    DEFAULT_STEPS_PER_STAGE = 1
    #: Registered boundaries of the final normalize/round steps (offsets).
    BACK = (1, 2, 4, 6)

    def __init__(self, fmt=BINARY32, *, latency=None):
        self.fmt = check_format(fmt)
        self.steps = fmt.man_bits + 3
        #: ``{latency: steps_per_stage}`` of the supported latencies.
        self.LATENCIES = recurrence_latencies(3, self.steps, self.BACK)
        latency = check_latency(latency, self.LATENCIES, type(self))
        if latency is None:
            latency = 3 + len(self.BACK) + -(-self.steps // self.DEFAULT_STEPS_PER_STAGE)
        self.latency = latency
        self.steps_per_stage = self.LATENCIES[latency]
        super().__init__({"a": In(fmt.width), "b": In(fmt.width), "en": In(1),
                          "result": Out(fmt.width)})

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        E, M = fmt.exp_bits, fmt.man_bits
        n = self.steps
        st = Stages(m, self.en, recurrence_cuts(3, n, self.BACK, self.steps_per_stage))

        ua, ub = unpack(m, fmt, self.a, "a"), unpack(m, fmt, self.b, "b")
        sign = ua.sign ^ ub.sign
        nan = ua.is_nan | ub.is_nan | (ua.is_zero & ub.is_zero) | (ua.is_inf & ub.is_inf)
        inf = ua.is_inf | ub.is_zero
        zero = ua.is_zero | ub.is_inf
        special_value = Mux(nan, canonical_nan(fmt),
                            Cat(Const(0, M), Mux(inf, Const(fmt.exp_max, E), 0), sign))
        # Bit M+2 of the quotient weighs 2 ** (expa - expb) once both significands are
        # normalized (expa = ea - za, expb = eb - zb): e1 = ea - eb + bias - za + zb.
        e1 = (Cat(ua.eff_exp, 0).as_signed() - ub.eff_exp) + fmt.bias
        s = st.cut(sa=ua.sig, sb=ub.sig, e1=e1, sign=sign, special=nan | inf | zero,
                   special_value=special_value)

        # Normalize subnormal significands: leading zeros, then shift.
        za, zb = lzc(m, s.sa, "na_lzc"), lzc(m, s.sb, "nb_lzc")
        s = st.cut(sa=s.sa, sb=s.sb, za=za, zb=zb, e1=s.e1, sign=s.sign, special=s.special,
                   special_value=s.special_value)
        s = st.cut(r=(s.sa << s.za)[:M + 1], d=(s.sb << s.zb)[:M + 1], q=Const(0, 0),
                   e1=s.e1 - s.za + s.zb, sign=s.sign, special=s.special,
                   special_value=s.special_value)

        # Restoring recurrence: r < 2d always; one quotient bit per step.
        # The normalization limits (from the exponent only) are computed alongside the
        # first step and carried.
        r, d, q = s.r, s.d, s.q
        limits = nr_limits(m, s.e1, M + 3, fmt)
        for i in range(n):
            diff = (Cat(r, 0) - d)[:M + 3]             # r < 2d fits in M+2 bits
            ge = ~diff[M + 2]
            rem = Mux(ge, diff[:M + 2], r)[:M + 2]
            q = Cat(ge, q)
            r = Cat(0, rem)[:M + 2] if i < n - 1 else rem
            s = st.cut(r=r, d=d, q=q, e1=s.e1, mk=limits[0], un=limits[1], rs=limits[2],
                       sign=s.sign, special=s.special, special_value=s.special_value)
            r, d, q = s.r, s.d, s.q
            limits = (s.mk, s.un, s.rs)

        result = normalize_round(st, fmt, sign=s.sign, p=q, e1=s.e1, sticky=(r != 0),
                                 special=s.special, special_value=s.special_value,
                                 limits=limits)
        m.d.comb += self.result.eq(result)
        return m
