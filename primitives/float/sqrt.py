from amaranth.hdl import Module, Const, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import Stages, unpack, canonical_nan, normalize_round, lzc, nr_limits, \
    recurrence_cuts, recurrence_latencies, check_format, check_latency


__all__ = ["FPSqrt"]


class FPSqrt(wiring.Component):
    """Pipelined floating-point square root, correctly rounded (nearest, ties to even).

    Radix-2 restoring digit recurrence, unrolled in the pipeline (one root bit per
    step, ``steps_per_stage`` steps per register stage). Subnormal inputs are exact.
    ``sqrt(-0) = -0``, ``sqrt(+inf) = +inf``; NaN inputs and negative non-zero inputs
    (including ``-inf``) give the canonical quiet NaN ``fmt.canonical_nan``. Bit-exact
    with :func:`primitives.float.model.fp_sqrt_model`.

    Parameters
    ----------
    fmt : FloatFormat
        Operand and result format (default :data:`~primitives.float.format.BINARY32`).
    latency : int
        Cycles from operand to result: ``6 + ceil((M + 2) / k)`` for ``k`` root bits per
        register stage, ``k`` in 1..M+2; the supported values are the keys of
        :attr:`LATENCIES` (binary32: 7..11, 13, 15, 19, 31). Default ``k = 1``:
        binary16 18, bfloat16 15, binary32 31, binary64 60.

    Members
    -------
    a : In(unsigned(fmt.width))
        Operand (raw bit pattern), sampled at every clock edge where ``en`` is 1.
    en : In(1)
        Clock enable of the whole pipeline. When 0, no register changes.
    result : Out(unsigned(fmt.width))
        ``sqrt(a)`` of the operand sampled ``latency`` enabled edges ago.

    Latency
    -------
    ``latency`` cycles, initiation interval 1. Register stages: unpack, leading-zero
    count, normalization (3), the recurrence (``ceil((M+2)/k)``), then 3 for
    rounding. :attr:`steps_per_stage` is ``k``.

    Resources
    ---------
    M+2 subtract-and-select steps of up to M+4 bits, no DSP: binary32 at the default
    latency about 1800 LUT4 and 3000 flip-flops on ECP5-85k, ~156 MHz. Logic grows as M²,
    registers as M² / k.
    """

    DEFAULT_STEPS_PER_STAGE = 1
    #: Registered boundaries of the final normalize/round steps (offsets).
    BACK = (2, 4, 6)

    def __init__(self, fmt=BINARY32, *, latency=None):
        self.fmt = check_format(fmt)
        self.steps = fmt.man_bits + 2
        #: ``{latency: steps_per_stage}`` of the supported latencies.
        self.LATENCIES = recurrence_latencies(3, self.steps, self.BACK)
        latency = check_latency(latency, self.LATENCIES, type(self))
        if latency is None:
            latency = 3 + len(self.BACK) + -(-self.steps // self.DEFAULT_STEPS_PER_STAGE)
        self.latency = latency
        self.steps_per_stage = self.LATENCIES[latency]
        super().__init__({"a": In(fmt.width), "en": In(1), "result": Out(fmt.width)})

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        E, M = fmt.exp_bits, fmt.man_bits
        n = self.steps
        st = Stages(m, self.en, recurrence_cuts(3, n, self.BACK, self.steps_per_stage))

        u = unpack(m, fmt, self.a, "a")
        nan = u.is_nan | (u.sign & ~u.is_zero)
        special_value = Mux(nan, canonical_nan(fmt), self.a)     # ±0, +inf pass through
        # With z leading zeros, the unbiased exponent of the normalized significand is
        # x = eff_exp - bias - z and the result's biased exponent floor(x / 2) + bias =
        # (eff_exp + bias - z) >> 1.
        s = st.cut(sig=u.sig, c=Cat(u.eff_exp, 0) + fmt.bias,
                   odd0=u.eff_exp[0] ^ (fmt.bias & 1), special=nan | u.is_zero | u.is_inf,
                   special_value=special_value)

        z = lzc(m, s.sig, "n_lzc")
        s = st.cut(sig=s.sig, z=z, c=s.c, odd0=s.odd0, special=s.special,
                   special_value=s.special_value)

        sig = (s.sig << s.z)[:M + 1]
        odd = s.odd0 ^ s.z[0]                     # x is odd
        # s' = sig * 2 if x is odd (M+2 bits); the root of s' << (M+2) has M+2 bits.
        radicand = Mux(odd, Cat(0, sig), Cat(sig, 0))  # s' as an (M+2)-bit integer
        e1 = (s.c - s.z).as_signed() >> 1
        s = st.cut(rad=radicand, e1=e1, special=s.special, special_value=s.special_value)

        # The root is isqrt(X), X = s' << (M+2) (2M+4 bits): its top M+2 bits are `rad`,
        # the rest zero. Bit pairs are consumed from the top of X.
        rad, rem, root = s.rad, Const(0, 1), Const(0, 0)
        limits = nr_limits(m, s.e1, M + 2, fmt, may_underflow=fmt.bias <= M)
        for i in range(n):
            top = rad[-2:] if len(rad) >= 2 else Cat(Const(0, 2 - len(rad)), rad)
            rad = rad[:-2] if len(rad) > 2 else Const(0, 0)
            r4 = Cat(top, rem)                        # (rem << 2) | next pair
            t = Cat(Const(1, 2), root)                # (root << 2) | 1
            w = max(len(r4), len(t)) + 1
            diff = (r4 - t)[:w]
            ge = ~diff[w - 1]
            rem = Mux(ge, diff[:w - 1], r4)[:M + 4]
            root = Cat(ge, root)
            s = st.cut(rad=rad, rem=rem, root=root, e1=s.e1, mk=limits[0], un=limits[1],
                       rs=limits[2], special=s.special, special_value=s.special_value)
            rad, rem, root = s.rad, s.rem, s.root
            limits = (s.mk, s.un, s.rs)

        result = normalize_round(st, fmt, sign=Const(0), p=root, e1=s.e1,
                                 sticky=(rem != 0), special=s.special,
                                 special_value=s.special_value,
                                 may_underflow=fmt.bias <= M, limits=limits)
        m.d.comb += self.result.eq(result)
        return m
