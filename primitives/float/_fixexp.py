"""Fixed-point datapaths of the binary32 elementary-function units FPExp, FPTanh, FPErf
and FPPow (internal), with their bit-exact pure-Python models.

Each datapath is written once, as a function of a *backend* ``B`` and the operand bit
patterns, using only operations that mean the same on Python integers and on Amaranth
values: ``+ - *``, shifts (``>>`` is a floor division, arithmetic for negative
values), comparisons, and the backend methods :meth:`~_Py.mux`, :meth:`~_Py.bits`,
:meth:`~_Py.sbits`, :meth:`~_Py.lzc`, :meth:`~_Py.rom_cut` and :meth:`~_Py.cut` (a
pipeline boundary). Amaranth arithmetic is exact (results widen), Python integers are
unbounded, so running a datapath with :class:`_Py` (the model) and :class:`_Hw` (the
hardware) computes the same integers. The datapath ends in a fixed-point significand
``p`` of ``W`` bits and a biased exponent ``e1`` (bit ``W-1`` of ``p`` weighs
``2**(e1 - 127)``), which the model rounds with :func:`model.round_pack` and the
hardware with :func:`_hw.normalize_round` (the two are bit-exact, as in FPMul/FPAdd).

Tables (exponential table, piecewise polynomial coefficients) are computed at first use
with :mod:`decimal` at 60 digits and Chebyshev-node interpolation, so they are
deterministic (no dependency on the platform's libm).
"""

import math
from decimal import Decimal, Context
from fractions import Fraction
from functools import lru_cache
from types import SimpleNamespace

from .format import BINARY32


BIAS = 127
NAN = 0x7FC00000
INF = 0x7F800000
ONE = 0x3F800000

_CTX = Context(prec=60)
_PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")


# --------------------------------------------------------------------------- backends

class _Py:
    """Python-integer backend (the model)."""
    hw = False

    @staticmethod
    def cut(**values):
        return SimpleNamespace(**values)

    @staticmethod
    def mux(c, a, b):
        return a if c else b

    @staticmethod
    def not_(c):
        return not c

    @staticmethod
    def bits(v, lo, n):
        return (v >> lo) & ((1 << n) - 1)

    @staticmethod
    def sbits(v, lo, n):
        x = (v >> lo) & ((1 << n) - 1)
        return x - (1 << n) if x >> (n - 1) else x

    @staticmethod
    def lzc(v, n):
        return n - v.bit_length()

    @staticmethod
    def rom_cut(table, width, addr, **values):
        return SimpleNamespace(**values), table[addr]

    @staticmethod
    def mul(a, wa, b, wb):
        """``a * b`` as partial products (one value to pass through a boundary, and
        the layout for :meth:`mul_sum`); ``a``, ``b`` are signed values that fit in
        ``wa``, ``wb`` bits."""
        return a * b, None

    @staticmethod
    def mul_sum(packed, layout, *extra):
        """The product from :meth:`mul`'s partial products, plus ``extra`` terms."""
        return packed + sum(extra)


class _Hw:
    """Amaranth backend: ``cut`` is a :class:`Stages` boundary, ``rom_cut`` a table
    lookup across a boundary (a block-RAM read port when the boundary is registered)."""
    hw = True

    def __init__(self, m, stages, en):
        self.m, self.st, self.en = m, stages, en
        self._n = 0

    def cut(self, **values):
        return self.st.cut(**values)

    @staticmethod
    def mux(c, a, b):
        from amaranth.hdl import Mux
        return Mux(c, a, b)

    @staticmethod
    def not_(c):
        return ~c

    @staticmethod
    def bits(v, lo, n):
        from amaranth.hdl import Value
        return Value.cast(v)[lo:lo + n]

    @staticmethod
    def sbits(v, lo, n):
        from amaranth.hdl import Value
        return Value.cast(v)[lo:lo + n].as_signed()

    def lzc(self, v, n):
        from amaranth.hdl import Value
        from ._hw import lzc
        self._n += 1
        return lzc(self.m, Value.cast(v)[:n], f"lzc{self._n}")

    def rom_cut(self, table, width, addr, **values):
        from amaranth.hdl import Signal
        from amaranth.lib.memory import Memory
        registered = self.st.index in self.st._cuts
        self._n += 1
        mem = Memory(shape=width, depth=len(table), init=table)
        self.m.submodules[f"rom{self._n}"] = mem
        port = mem.read_port(domain="sync" if registered else "comb")
        self.m.d.comb += port.addr.eq(addr)
        if registered:
            self.m.d.comb += port.en.eq(self.en)
        data = Signal(width, name=f"rom{self._n}_data")
        self.m.d.comb += data.eq(port.data)
        return self.st.cut(**values), data

    @staticmethod
    def _chunks(v, w):
        """Split a signed ``w``-bit value into 17-bit unsigned chunks and a signed top
        chunk (each fits a signed 18-bit multiplier input)."""
        from amaranth.hdl import Value, Cat, Const
        v = Value.cast(v)
        if len(v) < w:
            top = v[-1] if v.shape().signed else Const(0, 1)
            v = Cat(v, top.replicate(w - len(v)))
        out, o = [], 0
        while w - o > 18:
            out.append((Cat(v[o:o + 17], Const(0, 1)).as_signed(), o))
            o += 17
        out.append((v[o:w].as_signed(), o))
        return out

    def mul(self, a, wa, b, wb):
        from amaranth.hdl import Cat
        prods = [(x * y, sx + sy) for x, sx in self._chunks(a, wa) for y, sy in self._chunks(b, wb)]
        return Cat(*[p for p, _ in prods]), [(len(p), sh) for p, sh in prods]

    @staticmethod
    def mul_sum(packed, layout, *extra):
        from amaranth.hdl import Value
        terms, o = [], 0
        for w, sh in layout:
            terms.append(packed[o:o + w].as_signed() << sh)
            o += w
        terms += [Value.cast(e) for e in extra]
        while len(terms) > 1:
            terms = [terms[j] + terms[j + 1] if j + 1 < len(terms) else terms[j]
                     for j in range(0, len(terms), 2)]
        return terms[0]


def _fields(B, a):
    return B.bits(a, 31, 1), B.bits(a, 23, 8), B.bits(a, 0, 23)


# ----------------------------------------------------------------- decimal helpers

def _dec(x):
    if isinstance(x, Fraction):
        return _CTX.divide(Decimal(x.numerator), Decimal(x.denominator))
    return Decimal(x)


def _d_exp(x):
    return _CTX.exp(x)


def _d_tanh(x):
    e = _CTX.exp(_CTX.multiply(-2, x))
    return _CTX.divide(1 - e, 1 + e)


def _d_erf(x):
    # 2/sqrt(pi) * exp(-x^2) * sum 2^n x^(2n+1) / (1*3*...*(2n+1)): positive terms.
    x2 = _CTX.multiply(x, x)
    term = x
    total = x
    n = 0
    eps = Decimal(10) ** -58
    while True:
        n += 1
        term = _CTX.divide(_CTX.multiply(_CTX.multiply(term, x2), 2), 2 * n + 1)
        total = _CTX.add(total, term)
        if term < eps * total:
            break
    c = _CTX.divide(2, _CTX.sqrt(_PI))
    return _CTX.multiply(_CTX.multiply(c, _CTX.exp(-x2)), total)


def _round_dec(x):
    """Round a Decimal to the nearest integer (ties away)."""
    return int(x.to_integral_value(rounding="ROUND_HALF_EVEN"))


def _f32_bits_ge(x):
    """Bit pattern of the smallest positive binary32 value >= the Decimal ``x`` (> 0)."""
    lo, hi = 0, INF
    while hi - lo > 1:                      # invariant: value(lo) < x <= value(hi)
        mid = (lo + hi) // 2
        e, f = mid >> 23, mid & 0x7FFFFF
        v = Fraction(f | (1 << 23) if e else f, 1) * Fraction(2) ** ((e if e else 1) - 150)
        if _dec(v) >= x:
            hi = mid
        else:
            lo = mid
    return hi


# --------------------------------------------------------------------------- exp

# x in fixed point with 32 fraction bits; k = round(x / ln 2) from 12 fraction bits of x;
# R = x - k ln 2 with 41 fraction bits; j = round(256 R), r = R - j/256 (|r| <= 2**-9);
# exp(R) = T[j] * (1 + r + r^2 (1/2 + r/6)) with T[j] = exp(j/256) at 35 fraction bits.
_EXP_X_FRAC = 32
_EXP_R_FRAC = 41
_LN2 = _CTX.ln(Decimal(2))
_INV_LN2_16 = _round_dec(_CTX.divide(Decimal(2) ** 16, _LN2))   # 94548
_LN2_41 = _round_dec(_CTX.multiply(_LN2, Decimal(2) ** 41))     # 1524246769572
_C6_20 = _round_dec(_CTX.divide(Decimal(2) ** 20, 6))           # 174763
EXP_W = 36                                    # significand width of the result


@lru_cache(maxsize=None)
def _exp_table():
    """T[j mod 256] = round(exp(j / 256) * 2**35), j in -128..127."""
    out = [0] * 256
    for j in range(-128, 128):
        out[j % 256] = _round_dec(_CTX.multiply(_d_exp(_CTX.divide(Decimal(j), 256)),
                                                Decimal(2) ** 35))
    return out


def _exp_reduce(B, Xs, wx, fx, keep):
    """exp(x) for ``Xs`` = x with ``fx`` fraction bits (signed, ``wx`` bits, |x| < 128):
    k = round(x / ln 2), R = x - k ln 2 (41 fraction bits), then :func:`_exp_tail`.
    ``keep``: values carried along. Returns (p, k, carried values)."""
    up = _EXP_R_FRAC - fx
    wh = wx - fx + 12
    pp, lay = B.mul(B.sbits(Xs >> (fx - 12), 0, wh), wh, _INV_LN2_16, 18)
    s = B.cut(Xs=Xs, pp=pp, **keep)
    keep = {n: getattr(s, n) for n in keep}
    k = B.sbits(B.mul_sum(s.pp, lay, 1 << 27) >> 28, 0, 9)      # ~round(x / ln 2)
    s = B.cut(Xs=s.Xs, k=k, **keep)
    keep = {n: getattr(s, n) for n in keep}
    pp, lay = B.mul(s.k, 9, _LN2_41, 42)
    s = B.cut(Xs=s.Xs, k=s.k, pp=pp, **keep)
    keep = {n: getattr(s, n) for n in keep}
    R = B.sbits((s.Xs << up) - B.mul_sum(s.pp, lay), 0, 41)     # |R| < 0.36
    s = B.cut(R=R, k=s.k, **keep)
    keep = {n: getattr(s, n) for n in keep}
    return _exp_tail(B, s.R, s.k, keep)


def _exp_tail(B, R, k, keep):
    """exp(R) * 2**35 for |R| < 0.36 (41 fraction bits): 256-entry table and
    polynomial. Returns (p, k, carried values)."""
    j = (R + (1 << 32)) >> 33                   # round(R * 256), |j| <= 92
    r = B.sbits(R - (j << 33), 0, 34)           # |r| <= 2**32 (41 fraction bits)
    s, T = B.rom_cut(_exp_table(), 36, B.bits(j, 0, 8), r=r, k=k, **keep)
    keep = {n: getattr(s, n) for n in keep}
    rt = B.sbits(s.r >> 15, 0, 18)              # 26 fraction bits
    r2 = B.bits((rt * rt) >> 18, 0, 17)         # r^2, 34 fraction bits (<= 2**16)
    hs = (rt * _C6_20) >> 26                    # r/6, 20 fraction bits (|hs| < 2**9)
    s = B.cut(T=T, r=s.r, r2=r2, hs=B.sbits(hs, 0, 11), k=s.k, **keep)
    keep = {n: getattr(s, n) for n in keep}
    s = B.cut(T=s.T, r=s.r, r2=s.r2, q=s.r2 * s.hs, k=s.k, **keep)   # r^3/6
    keep = {n: getattr(s, n) for n in keep}
    # exp(r) - 1 = r + r^2 (1/2 + r/6), 41 fraction bits
    pm1 = s.r + (((s.r2 << 19) + s.q) >> 13)
    s = B.cut(T=s.T, pm1=B.sbits(pm1 >> 6, 0, 28), k=s.k, **keep)   # 35 frac bits
    keep = {n: getattr(s, n) for n in keep}
    pp, lay = B.mul(s.T >> 6, 31, s.pm1, 28)
    s = B.cut(T=s.T, pp=pp, k=s.k, **keep)
    keep = {n: getattr(s, n) for n in keep}
    prod = B.mul_sum(s.pp, lay)                 # (T >> 6) (exp(r) - 1), 64 frac bits
    s = B.cut(T=s.T, prod=B.sbits(prod >> 29, 0, 30), k=s.k, **keep)
    keep = {n: getattr(s, n) for n in keep}
    p = s.T + s.prod                            # exp(R) * 2**35 (< 2**36)
    return p, s.k, keep


def exp_core(B, a):
    """exp(a). Returns (special, special_value, sign, p, e1, W)."""
    sign, eb, man = _fields(B, a)
    nan = (eb == 255) & (man != 0)
    big = eb >= 134                                            # |x| >= 128, inf, NaN
    sv = B.mux(nan, NAN, B.mux(sign, 0, INF))
    sig = B.bits(man + B.mux(eb == 0, 0, 1 << 23), 0, 24)
    # X = |x| * 2**32 = sig * 2**(eff_exp - 118) = (sig << 15) >> (133 - eff_exp)
    sh = B.mux(big, 0, B.mux(eb == 0, 132, 133 - eb))
    sh = B.bits(B.mux(sh > 40, 40, sh), 0, 6)
    s = B.cut(sig=sig, sh=sh, sign=sign, special=big, sv=sv)
    s = B.cut(X=(s.sig << 15) >> s.sh, sign=s.sign, special=s.special, sv=s.sv)
    s = B.cut(Xs=B.mux(s.sign, -s.X, s.X), special=s.special, sv=s.sv)
    p, k, c = _exp_reduce(B, s.Xs, 40, _EXP_X_FRAC, dict(special=s.special, sv=s.sv))
    return c["special"], c["sv"], 0, p, k + BIAS, EXP_W


# ------------------------------------------------ piecewise polynomials (tanh, erf)

class _PolySpec:
    """f on [2**lo, sat) as a degree-D polynomial per segment: the segment of |x| is
    (binade, top S fraction bits); t = the other 23-S fraction bits, u = t - 1/2 in
    [-1/2, 1/2); p(u) = f(x) / 2**E_seg (in [1, 2.1)) with W fraction bits (Chebyshev
    interpolant). Below 2**lo, f(x) = slope * x."""

    def __init__(self, name, f, lo, sat_threshold, S, D, W, slope):
        self.name, self.f, self.lo, self.S, self.D, self.W = name, f, lo, S, D, W
        self.sat = _f32_bits_ge(sat_threshold)           # first |x| pattern giving 1.0
        self.nb = (self.sat >> 23) - (BIAS + lo) + 1
        self.T = 23 - S
        self.ct = _round_dec(_CTX.multiply(slope, Decimal(2) ** W))

    @property
    @lru_cache(maxsize=None)
    def table(self):
        return self._build()

    def _build(self):
        D, S, W = self.D, self.S, self.W
        n = D + 1
        nodes = [Fraction(round(-math.cos((2 * k + 1) * math.pi / (2 * n)) / 2 * 2**30),
                          2**30) for k in range(n)]                  # in (-1/2, 1/2)
        rows = []
        for b in range(self.nb):
            for sgi in range(1 << S):
                x0 = Fraction(2) ** (self.lo + b) * (1 + Fraction(sgi, 1 << S))
                h = Fraction(2) ** (self.lo + b - S)
                f0 = self.f(_dec(x0))
                E = f0.adjusted()                            # rough; fix below
                while _dec(Fraction(2) ** E) > f0:
                    E -= 1
                while _dec(Fraction(2) ** (E + 1)) <= f0:
                    E += 1
                scale = _dec(Fraction(2) ** -E)
                ys = [_CTX.multiply(self.f(_dec(x0 + h * (u + Fraction(1, 2)))), scale)
                      for u in nodes]
                coef = _solve_vandermonde([_dec(t) for t in nodes], ys)
                c = [_round_dec(_CTX.multiply(ci, Decimal(2) ** W)) for ci in coef]
                rows.append((c, E + 1 + BIAS))
        # Pack: fields c_0..c_D (two's complement) then e1 (unsigned, 9 bits).
        widths = [max(max(abs(r[0][i]) for r in rows).bit_length() + 1, 2) for i in range(D + 1)]
        # Horner accumulator widths: |acc_i| <= sum_j>=i |c_j| 2**(i-j) + (D - i).
        wacc = [max(sum(abs(r[0][j]) >> (j - i) for j in range(i, D + 1)) + D - i + 1
                    for r in rows).bit_length() + 1 for i in range(D + 1)]
        offs, o = [], 0
        for w in widths:
            offs.append(o)
            o += w
        eoff = o
        total = o + 9
        packed = []
        for c, e1 in rows:
            v = 0
            for ci, w, of in zip(c, widths, offs):
                v |= (ci % (1 << w)) << of
            packed.append(v | (e1 << eoff))
        return SimpleNamespace(rows=packed, widths=widths, offs=offs, eoff=eoff, total=total,
                               wacc=wacc)


def _solve_vandermonde(ts, ys):
    n = len(ts)
    A = []
    for t, y in zip(ts, ys):
        row = [Decimal(1)]
        for _ in range(n - 1):
            row.append(_CTX.multiply(row[-1], t))
        A.append(row + [y])
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(A[r][col]))
        A[col], A[piv] = A[piv], A[col]
        for r in range(n):
            if r != col and A[r][col] != 0:
                fct = _CTX.divide(A[r][col], A[col][col])
                A[r] = [_CTX.subtract(a, _CTX.multiply(fct, b)) for a, b in zip(A[r], A[col])]
    return [_CTX.divide(A[i][n], A[i][i]) for i in range(n)]


def poly_core(B, a, spec):
    """f(a) for an odd f with |f| < 1 saturating to ±1 (tanh, erf)."""
    tab = spec.table
    sign, eb, man = _fields(B, a)
    mag = B.bits(a, 0, 31)
    nan = mag > INF
    sat = mag >= spec.sat                                    # includes inf and NaN
    sv = B.mux(nan, NAN, B.mux(sign, ONE | (1 << 31), ONE))
    tiny = eb < BIAS + spec.lo
    seg = ((eb - (BIAS + spec.lo)) << spec.S) + (man >> spec.T)
    addr = B.bits(B.mux(tiny | sat, 0, seg), 0, max(1, (len(tab.rows) - 1).bit_length()))
    sig = B.bits(man + B.mux(eb == 0, 0, 1 << 23), 0, 24)
    eff = B.mux(eb == 0, 1, eb)
    t = B.sbits(B.bits(man, 0, spec.T) - (1 << (spec.T - 1)), 0, spec.T)   # u 2**T
    pp, lay = B.mul(sig, 25, spec.ct, spec.ct.bit_length() + 1)      # slope * sig
    s = B.cut(addr=addr, t=t, pp=pp, eff=eff, tiny=tiny, sign=sign, special=sat, sv=sv)
    keep = dict(tiny=s.tiny, sign=s.sign, special=s.special, sv=s.sv)
    s, row = B.rom_cut(tab.rows, tab.total, s.addr, t=s.t, ptiny=B.mul_sum(s.pp, lay) >> 23,
                       etiny=s.eff + 1, **keep)
    keep = dict(tiny=s.tiny, sign=s.sign, special=s.special, sv=s.sv, ptiny=s.ptiny,
                etiny=s.etiny)
    D = spec.D
    c = [B.sbits(row, tab.offs[i], tab.widths[i]) for i in range(D + 1)]
    e1 = B.bits(row, tab.eoff, 9)
    acc, t, rest = c[D], s.t, c[:D]
    for i in range(D - 1, -1, -1):
        s = B.cut(acc=acc, t=t, rest=_pack_rest(B, rest), e1=e1, **keep)
        keep = {k: getattr(s, k) for k in keep}
        pp, lay = B.mul(s.acc, tab.wacc[i + 1], s.t, spec.T)
        s = B.cut(pp=pp, t=s.t, rest=s.rest, e1=s.e1, **keep)
        rest_vals = _unpack_rest(B, s.rest, tab, i + 1)
        acc = B.sbits(B.mul_sum(s.pp, lay, rest_vals[i] << spec.T) >> spec.T, 0, tab.wacc[i])
        rest, t, e1 = rest_vals[:i], s.t, s.e1
        keep = {k: getattr(s, k) for k in keep}
    W = spec.W + 2
    p = B.mux(keep["tiny"], keep["ptiny"], acc)
    e1 = B.mux(keep["tiny"], keep["etiny"], e1)
    s = B.cut(p=p, e1=e1, **keep)
    return s.special, s.sv, s.sign, s.p, s.e1, W


def _pack_rest(B, rest):
    """Carry the not yet used coefficients through a boundary as one value."""
    if not rest:
        return 0
    if B.hw:
        from amaranth.hdl import Cat
        return Cat(*rest)
    return tuple(rest)


def _unpack_rest(B, packed, tab, n):
    if n == 0:
        return []
    if not B.hw:
        return list(packed)
    out, o = [], 0
    for i in range(n):
        out.append(packed[o:o + tab.widths[i]].as_signed())
        o += tab.widths[i]
    return out


def _erf_threshold():
    """Smallest x with erf(x) >= 1 - 2**-25 (bisection on Decimal erf)."""
    lo, hi = Decimal(3), Decimal(5)
    target = 1 - Decimal(2) ** -25
    for _ in range(60):
        mid = (lo + hi) / 2
        if _d_erf(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


@lru_cache(maxsize=None)
def _tanh_spec():
    return _PolySpec("tanh", _d_tanh, -13,
                     _CTX.multiply(Decimal("0.5"), _CTX.ln(Decimal(2) ** 26 - 1)),
                     S=5, D=4, W=36, slope=Decimal(1))


@lru_cache(maxsize=None)
def _erf_spec():
    return _PolySpec("erf", _d_erf, -13, _erf_threshold(), S=5, D=4, W=36,
                     slope=_CTX.divide(2, _CTX.sqrt(_PI)))


def tanh_core(B, a):
    return poly_core(B, a, _tanh_spec())


def erf_core(B, a):
    return poly_core(B, a, _erf_spec())


# --------------------------------------------------------------------------- pow

# |x| = m 2**e with m in [0.75, 1.5); i = floor(256 m) (192..383) selects RC ~ 1/m
# (12 fraction bits; exactly 1 for i = 255, 256) and LT = -ln(RC) (50 fraction bits);
# r = m RC - 1 is exact (36 fraction bits, |r| < 2**-7.9) and ln(1 + r) = r g(r) with
# g(r) = 1 - r/2 + r^2/3 - r^3/4 + r^4/5 (Horner, 42 fraction bits): relative error
# < 2**-40 near m = 1. L = ln|x| = e ln 2 + LT + r g(r) with 78 fraction bits; then
# w = y L exactly (24 x 87-bit product), truncated to 41 fraction bits, and exp(w) as in
# exp_core.
_C5_20 = _round_dec(_CTX.divide(Decimal(2) ** 20, 5))
_C3_28 = _round_dec(_CTX.divide(Decimal(2) ** 28, 3))
_LN2_50 = _round_dec(_CTX.multiply(_LN2, Decimal(2) ** 50))
_POW_RC_BITS = 13


@lru_cache(maxsize=None)
def _log_table():
    """Rows (i - 192) mod 256: RC (13 bits) | LT (two's complement, 52 bits) << 13."""
    rows = [0] * 256
    for i in range(192, 384):
        rc = 4096 if i in (255, 256) else _round_dec(
            _CTX.divide(Decimal(4096 * 256), Decimal(i) + Decimal("0.5")))
        lo, hi = Fraction(i, 256), Fraction(i + 1, 256)
        assert max(abs(lo * rc / 4096 - 1), abs(hi * rc / 4096 - 1)) < Fraction(1, 238)   # 2**-7.9
        lt = _round_dec(_CTX.multiply(-_CTX.ln(_CTX.divide(Decimal(rc), 4096)), Decimal(2) ** 50))
        rows[(i - 192) % 256] = rc | ((lt % (1 << 52)) << _POW_RC_BITS)
    return rows


def pow_core(B, a, b):
    """pow(a, b) with C99 powf special cases."""
    sx, ebx, manx = _fields(B, a)
    sy, eby, many = _fields(B, b)
    magx, magy = B.bits(a, 0, 31), B.bits(b, 0, 31)
    x_nan, y_nan = magx > INF, magy > INF
    x_inf, y_inf = magx == INF, magy == INF
    x_zero, y_zero = magx == 0, magy == 0
    # y integer / odd integer (finite y)
    sigy = B.bits(many + B.mux(eby == 0, 0, 1 << 23), 0, 24)
    ysh = B.bits(B.mux(eby < 127, 0, B.mux(eby > 150, 23, eby - 127)), 0, 5)
    q = sigy << ysh
    y_int = (eby >= 127) & (B.bits(q, 0, 23) == 0)
    odd = y_int & (B.bits(q, 23, 1) == 1) & (eby <= 150)
    rsign = sx & odd
    zero_or_inf = x_zero | x_inf
    # special results, in priority order
    one = y_zero | (a == ONE) | (y_inf & (magx == ONE))
    nan = x_nan | y_nan | (sx & B.not_(zero_or_inf) & B.not_(y_int) & B.not_(y_inf))
    zi_mag = B.mux(x_inf ^ sy, INF, 0)                         # x = ±0 or ±inf
    yinf_mag = B.mux((magx < ONE) ^ sy, 0, INF)                # y = ±inf
    sv = B.mux(one, ONE, B.mux(nan, NAN, B.mux(zero_or_inf, zi_mag + (rsign << 31),
                                                 yinf_mag)))
    special = one | nan | zero_or_inf | y_inf
    # normalize |x|: m = mx / 2**23 in [1, 2), e unbiased
    sigx = B.bits(manx + B.mux(ebx == 0, 0, 1 << 23), 0, 24)
    effx = B.mux(ebx == 0, 1, ebx)
    # |w| = |y ln x| with 41 fraction bits is (sigy |L|) * 2**(effy - 187) (below)
    effy = B.mux(eby == 0, 1, eby)
    sh = B.bits(B.mux(effy > 187, 0, 187 - effy), 0, 8)
    sh = B.bits(B.mux(sh > 127, 127, sh), 0, 7)
    s = B.cut(sigx=sigx, effx=effx, sigy=sigy, effy=sh, sy=sy,
              z=B.lzc(sigx, 24), rsign=rsign, special=special, sv=sv)
    mx = B.bits(s.sigx << s.z, 0, 24)
    half = B.bits(mx, 22, 1) == 1                               # m >= 1.5: use m / 2
    U = B.bits(B.mux(half, mx, mx << 1), 0, 25)                 # m, 24 fraction bits
    e = B.sbits(s.effx - 127 - s.z + B.mux(half, 1, 0), 0, 9)
    addr = B.bits((U >> 16) - 192, 0, 8)
    s = B.cut(U=U, e=e, addr=addr, sigy=s.sigy, effy=s.effy, sy=s.sy, rsign=s.rsign,
              special=s.special, sv=s.sv)
    keep = dict(sigy=s.sigy, effy=s.effy, sy=s.sy, rsign=s.rsign, special=s.special, sv=s.sv)
    s, row = B.rom_cut(_log_table(), 52 + _POW_RC_BITS, s.addr, U=s.U, e=s.e, **keep)
    keep = {k: getattr(s, k) for k in keep}
    s = B.cut(U=s.U, e=s.e, rc=B.bits(row, 0, _POW_RC_BITS),
              lt=B.sbits(row, _POW_RC_BITS, 52), **keep)             # block RAM output
    keep = {n: getattr(s, n) for n in keep}
    rc, lt = s.rc, s.lt
    ppr, lr = B.mul(s.U, 26, rc, _POW_RC_BITS + 1)
    ppe, le = B.mul(s.e, 9, _LN2_50, 52)
    s = B.cut(ppr=ppr, ppe=ppe, lt=lt, **keep)
    keep = {n: getattr(s, n) for n in keep}

    def step(s, name, value):
        """Carry r, el and keep through a boundary with one new value."""
        out = B.cut(r=s.r, el=s.el, **{name: value}, **{n: getattr(s, n) for n in keep})
        return out

    r = B.sbits(B.mul_sum(s.ppr, lr, -(1 << 36)), 0, 30)       # m RC - 1, 36 frac, exact
    el = B.sbits(B.mul_sum(s.ppe, le, s.lt), 0, 58)            # e ln 2 - ln RC, 50 frac
    s = B.cut(r=r, el=el, **keep)
    q4 = B.sbits(-(1 << 18) + (((s.r >> 16) * _C5_20) >> 20), 0, 20)   # -1/4 + r/5
    s = step(s, "q", q4)
    pp, lay = B.mul(s.r >> 8, 22, s.q, 20)
    s = step(s, "pp", pp)
    s = step(s, "q", B.sbits(B.mul_sum(s.pp, lay, _C3_28 << 20) >> 20, 0, 28))  # 1/3 + r q4
    pp, lay = B.mul(s.r, 30, s.q, 28)
    s = step(s, "pp", pp)
    s = step(s, "q", B.sbits(B.mul_sum(s.pp, lay, -(1 << 63)) >> 28, 0, 37))  # -1/2 + r q3
    pp, lay = B.mul(s.r, 30, s.q, 37)
    s = step(s, "pp", pp)
    s = step(s, "g", B.bits(B.mul_sum(s.pp, lay, 1 << 72) >> 30, 0, 44))     # 1 + r q2
    pp, lay = B.mul(s.r, 30, s.g, 45)
    s = step(s, "pp", pp)
    L = B.sbits(B.mul_sum(s.pp, lay, s.el << 28), 0, 87)      # ln|x|, 78 frac bits
    s = B.cut(L=L, **{n: getattr(s, n) for n in keep})
    keep = {n: getattr(s, n) for n in keep}
    neg = s.L < 0
    s = B.cut(wneg=neg ^ (keep["sy"] == 1), absL=B.bits(B.mux(neg, -s.L, s.L), 0, 86), **keep)
    keep = dict(wneg=s.wneg, effy=s.effy, rsign=s.rsign, special=s.special, sv=s.sv)
    # |w| = absL * sigy, as two 86 x 17-bit and 86 x 7-bit products
    pl, ll = B.mul(s.absL, 87, B.bits(s.sigy, 0, 17), 18)
    ph, lh = B.mul(s.absL, 87, s.sigy >> 17, 8)
    s = B.cut(pl=pl, ph=ph, **keep)
    keep = {n: getattr(s, n) for n in keep}
    s = B.cut(Pl=B.mul_sum(s.pl, ll), Ph=B.mul_sum(s.ph, lh), **keep)
    keep = {n: getattr(s, n) for n in keep}
    s = B.cut(P=B.bits(s.Pl + (s.Ph << 17), 0, 110), **keep)
    keep = {n: getattr(s, n) for n in keep}
    # X = |w| with 41 fraction bits = P >> sh (effy holds sh); |w| >= 128 over/underflows.
    s = B.cut(X=s.P >> (B.bits(s.effy, 3, 4) << 3), **keep)       # coarse shift
    keep = {n: getattr(s, n) for n in keep}
    X = s.X >> B.bits(s.effy, 0, 3)                                # fine shift
    s = B.cut(X=B.bits(X, 0, 48), big=X >= (1 << 48), **keep)
    big_value = B.mux(s.wneg, 0, INF) + (s.rsign << 31)
    s = B.cut(X=s.X, wneg=s.wneg, rsign=s.rsign, special=s.special | s.big,
              sv=B.mux(s.special, s.sv, big_value))
    s = B.cut(Xs=B.mux(s.wneg, -s.X, s.X), rsign=s.rsign, special=s.special, sv=s.sv)
    p, k, c = _exp_reduce(B, s.Xs, 49, 41, dict(rsign=s.rsign, special=s.special, sv=s.sv))
    return c["special"], c["sv"], c["rsign"], p, k + BIAS, EXP_W


# ----------------------------------------------------------------------- models

def _check(fmt):
    if fmt != BINARY32:
        raise ValueError(f"only binary32 is supported, not {fmt}")


def _run(core, *args):
    from .model import round_pack
    special, sv, sign, p, e1, W = core(_Py, *args)
    if special:
        return sv
    assert 0 <= p < (1 << W), (p, W)
    return round_pack(sign, p, e1 - BIAS - (W - 1), BINARY32)


def fp_exp_model(a, fmt=BINARY32):
    """binary32 ``exp(a)`` (bit-exact with :class:`~primitives.float.exp.FPExp`)."""
    _check(fmt)
    return _run(exp_core, int(a))


def fp_tanh_model(a, fmt=BINARY32):
    """binary32 ``tanh(a)`` (bit-exact with :class:`~primitives.float.tanh.FPTanh`)."""
    _check(fmt)
    return _run(tanh_core, int(a))


def fp_pow_model(a, b, fmt=BINARY32):
    """binary32 ``pow(a, b)`` with C99 ``powf`` special cases (bit-exact with
    :class:`~primitives.float.pow.FPPow`)."""
    _check(fmt)
    return _run(pow_core, int(a), int(b))


def fp_erf_model(a, fmt=BINARY32):
    """binary32 ``erf(a)`` (bit-exact with :class:`~primitives.float.erf.FPErf`)."""
    _check(fmt)
    return _run(erf_core, int(a))
