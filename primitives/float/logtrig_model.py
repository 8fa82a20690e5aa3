"""Bit-exact models of the binary32 logarithm and trigonometric units.

:func:`fp_log_model`, :func:`fp_log2_model`, :func:`fp_log10_model`,
:func:`fp_sin_model`, :func:`fp_cos_model` and :func:`fp_tan_model` compute exactly
what :class:`~primitives.float.log.FPLog` and :class:`~primitives.float.trig.FPSin` /
:class:`~primitives.float.trig.FPCos` / :class:`~primitives.float.trig.FPTan` compute:
the same integer (fixed-point) operations on the same tables, then one
round-to-nearest-even to binary32. They are plain integer code (a few multiplications,
shifts and table reads per call).

Every result is within **1 ulp** of the correctly rounded binary32 result (the
fixed-point result is within ``2**-28`` relative of the exact value, so it rounds to
the correctly rounded float or one of its neighbours). Special values follow C:

* ``log*(±0) = -inf``, ``log*(x < 0) = NaN`` (including ``-inf``), ``log*(+inf) = +inf``,
  ``log*(1) = +0``; ``log2(2**k) = k`` exactly.
* ``sin/cos/tan(±inf) = NaN``; ``sin(±0) = ±0``, ``tan(±0) = ±0``, ``cos(±0) = 1``;
  subnormal (and any ``|x| < 2**-12``) inputs give ``sin(x) = tan(x) = x`` and
  ``cos(x) = 1``, the correctly rounded results.
* Every NaN result is the canonical quiet NaN ``0x7FC00000`` (NaN inputs included).

Algorithms (all constants below are shared with the hardware):

``log_b(x)``, ``x = m * 2**e`` with ``m`` in ``[1, 2)`` (subnormals normalized): the top
:data:`LOG_K` fraction bits of ``m`` select ``I`` (``~2**11 / m``, 12 bits) and
``T = -log_b(I / 2**11)``; for ``m >= sqrt(2)`` (index ``>= LOG_J``) the exponent is
``e + 1`` and ``T`` includes ``-log_b(2)``, so that ``x`` near 1 never cancels. Then
``r = m * I / 2**11 - 1`` is exact (``|r| < 2**-8``; ``I`` is exactly ``2**11`` or
``2**10`` in the two intervals next to 1, so there ``r`` is ``m - 1`` or ``m/2 - 1``
exactly, which keeps the relative accuracy of tiny logarithms), ``log_b(1 + r) =
r * P(r)`` with ``P`` the degree-3 Taylor polynomial of ``log(1+r) / (r ln b)``
(Horner, in fixed point), and ``log_b(x) = e' * log_b(2) + T + r * P(r)`` is summed
in 67-bit fixed point with 58 fraction bits and rounded once.

``sin/cos/tan(x)``: exact Payne-Hanek reduction ``|x| * 2/pi = q + f``: a 90-bit
window of the bits of ``2/pi`` (one per exponent, :data:`TRIG_W`) times the 24-bit
significand gives the quadrant ``q`` mod 4 and 64 fraction bits; ``f`` is rounded into
``[-1/2, 1/2]`` (error below ``2**-64``; over all binary32 inputs ``|f| >= 2**-29.9``,
the worst case being ``16367173 * 2**72``). ``|f|`` is normalized (leading-zero count
``z``); ``t = f**2`` and two degree-4 polynomials (Chebyshev interpolants, error
``< 2**-34``) give ``sin(pi/2 f) = f * Ps(t)`` and ``cos(pi/2 f) = Pc(t)``; the quadrant
picks which one (and the sign) each function returns. ``tan`` divides the two
(a 30-bit restoring division with a sticky bit) before the final rounding.
"""

from decimal import Decimal, localcontext

from .format import BINARY32

__all__ = [
    "fp_log_model", "fp_log2_model", "fp_log10_model",
    "fp_sin_model", "fp_cos_model", "fp_tan_model",
    "LOG_BASES", "TRIG_FUNCS",
]

_NAN = 0x7FC00000
_PINF = 0x7F800000
_NINF = 0xFF800000
_ONE = 0x3F800000
_MAN = (1 << 23) - 1


def _check(fmt):
    if getattr(fmt, "exp_bits", None) != 8 or getattr(fmt, "man_bits", None) != 23:
        raise ValueError(f"Only binary32 is supported, not {fmt}")


def _rn32(sign, mag, exp):
    """Round ``(-1)**sign * mag * 2**exp`` (``mag > 0``) to binary32, nearest even.
    The result must be a normal number (never the case here that it is not)."""
    sh = mag.bit_length() - 24
    if sh > 0:
        r = mag >> sh
        rem = mag & ((1 << sh) - 1)
        half = 1 << (sh - 1)
        if rem > half or (rem == half and r & 1):
            r += 1
            if r >> 24:
                r >>= 1
                sh += 1
    else:
        r = mag << -sh
    return (sign << 31) | ((exp + sh + 150) << 23) | (r & _MAN)


# --------------------------------------------------------------------------------------
# Logarithms
# --------------------------------------------------------------------------------------

#: Table index bits (top fraction bits of the significand).
LOG_K = 8
#: Indices >= LOG_J (m >= 1 + 106/256 ~ sqrt(2)) use exponent e + 1.
LOG_J = 106
#: Fraction bits of the result's fixed-point sum.
LOG_FY = 58
#: Fraction bits of r (m * I / 2**11 - 1 with m = M / 2**23).
LOG_RS = 34
LOG_BASES = ("e", "2", "10")


def _dec_consts():
    with localcontext() as ctx:
        ctx.prec = 50
        ln2 = Decimal(2).ln()
        ln10 = Decimal(10).ln()
        inv = []
        for j in range(1 << LOG_K):
            if j == 0:
                inv.append(1 << 11)
            elif j == (1 << LOG_K) - 1:
                inv.append(1 << 10)
            else:
                c = 1 + (Decimal(j) + Decimal("0.5")) / (1 << LOG_K)
                inv.append(int((Decimal(1 << 11) / c).to_integral_value()))
        tables = {}
        for base in LOG_BASES:
            k = {"e": Decimal(1), "2": 1 / ln2, "10": 1 / ln10}[base]
            t = []
            for j, i in enumerate(inv):
                if j in (0, (1 << LOG_K) - 1):
                    t.append(0)
                    continue
                v = (11 * ln2 - Decimal(i).ln() - (ln2 if j >= LOG_J else 0)) * k
                t.append(int((v * (1 << LOG_FY)).to_integral_value()))
            c = int((ln2 * k * (1 << LOG_FY)).to_integral_value())
            # Horner coefficients of K * (1 - r/2 + r**2/3 - r**3/4): c0 at 2**-35,
            # c1 at 2**-29, c2 and c3 at 2**-21.
            coef = (int((k * (1 << 35)).to_integral_value()),
                    int((-k / 2 * (1 << 29)).to_integral_value()),
                    int((k / 3 * (1 << 21)).to_integral_value()),
                    int((-k / 4 * (1 << 21)).to_integral_value()))
            tables[base] = (tuple(t), c, coef)
    return tuple(inv), tables


#: I (12 bits, ~2**11 / m) per table index.
LOG_INV, _LOG_TABLES = _dec_consts()
#: ``{base: (T table (signed, 2**-58), log_b(2) at 2**-58, Horner coefficients)}``.
LOG_TABLES = _LOG_TABLES


def log_core(a, base):
    """The fixed-point logarithm of a positive finite non-zero binary32 ``a``:
    ``(sign, magnitude)`` of ``log_b(a) * 2**LOG_FY`` (the model of the datapath)."""
    T, C, (c0, c1, c2, c3) = LOG_TABLES[base]
    e = a >> 23
    if e:
        M = (a & _MAN) | (1 << 23)
        e -= 127
    else:
        z = 24 - a.bit_length()
        M = a << z
        e = -126 - z
    j = (M >> (23 - LOG_K)) & ((1 << LOG_K) - 1)
    r = M * LOG_INV[j] - (1 << LOG_RS)                     # 2**-34, |r| < 2**26
    if j >= LOG_J:
        e += 1
    p2 = c2 + (((r >> 13) * c3) >> 21)                      # 2**-21
    p1 = c1 + (((r >> 5) * p2) >> 21)                       # 2**-29
    p0 = c0 + ((r * p1) >> 28)                              # 2**-35
    y = e * C + T[j] + ((r * p0) >> 11)                     # 2**-58
    return (1, -y) if y < 0 else (0, y)


def _log(a, fmt, base):
    _check(fmt)
    a = int(a)
    if a >> 31:
        return _NINF if (a & 0x7FFFFFFF) == 0 else _NAN
    if a >= _PINF:
        return _PINF if a == _PINF else _NAN
    if a == 0:
        return _NINF
    sign, mag = log_core(a, base)
    if mag == 0:
        return 0
    return _rn32(sign, mag, -LOG_FY)


def fp_log_model(a, fmt=BINARY32):
    """Natural logarithm ``log(a)`` (binary32 only)."""
    return _log(a, fmt, "e")


def fp_log2_model(a, fmt=BINARY32):
    """Base-2 logarithm ``log2(a)`` (binary32 only)."""
    return _log(a, fmt, "2")


def fp_log10_model(a, fmt=BINARY32):
    """Base-10 logarithm ``log10(a)`` (binary32 only)."""
    return _log(a, fmt, "10")


# --------------------------------------------------------------------------------------
# Trigonometric functions
# --------------------------------------------------------------------------------------

#: Bits of the 2/pi window per exponent.
TRIG_N = 90
#: Fraction bits of the reduced argument.
TRIG_FF = 64
#: Biased exponents below this (|x| < 2**-12) bypass the datapath.
TRIG_EMIN = 115
TRIG_FUNCS = ("sin", "cos", "tan")


def _two_over_pi(bits):
    """floor(2/pi * 2**bits) (Machin's formula in integers)."""
    g = bits + 64

    def arctan_inv(n):
        x = (1 << g) // n
        total, n2, k, sgn = x, n * n, 1, -1
        while x:
            x //= n2
            k += 2
            total += sgn * (x // k)
            sgn = -sgn
        return total
    pi = 16 * arctan_inv(5) - 4 * arctan_inv(239)          # pi * 2**g (error < 2**-50)
    return ((2 << (2 * g)) // pi) >> (g - bits)


def _trig_window():
    top = 254 - 62
    w = _two_over_pi(top)
    # Entry e: floor(2/pi * 2**(e - 62)) mod 2**TRIG_N (E = e - 150, bits E-1..E+88).
    return tuple(((w >> (top - (e - 62))) & ((1 << TRIG_N) - 1)) if TRIG_EMIN <= e <= 254 else 0
                 for e in range(256))


#: 2/pi window per biased exponent (0 below TRIG_EMIN).
TRIG_W = _trig_window()

#: Degree-4 polynomials in t = f**2 (coefficients at 2**-34, constant term first):
#: Ps(t) ~ sin(pi/2 sqrt(t)) / sqrt(t), Pc(t) ~ cos(pi/2 sqrt(t)), t in [0, 1/4]
#: (Chebyshev interpolants; errors 2**-37 and 2**-34.3).
TRIG_PS = (26986075409, -11097578669, 1369108146, -80423542, 2717964)
TRIG_PC = (17179869183, -21194813900, 4358003735, -358373265, 15524212)
#: Fraction bits kept in each Horner step (k = 3, 2, 1, 0).
TRIG_HORNER = (28, 30, 32, 32)


def _horner(t, coef):
    a = coef[4]
    for k, p in zip((3, 2, 1, 0), TRIG_HORNER):
        s = 34 - p
        a = coef[k] + (((t >> s) * (a >> s)) >> (2 * p - 34))
    return a


def trig_core(a):
    """The datapath for ``|x|`` (biased exponent >= TRIG_EMIN, finite): returns
    ``(q, sf, (pS, e1S), (pC, e1C))``, the quadrant, the sign of ``f`` and the
    36-bit significands of ``|sin(pi/2 f)|`` and ``cos(pi/2 f)`` with the biased
    exponent of their bit 35."""
    e = (a >> 23) & 0xFF
    M = (a & _MAN) | (1 << 23)
    P = M * TRIG_W[e]
    q = (P >> (TRIG_N - 2)) & 3
    F = (P >> (TRIG_N - 2 - TRIG_FF)) & ((1 << TRIG_FF) - 1)
    if F >> (TRIG_FF - 1):
        q = (q + 1) & 3
        fa = (1 << TRIG_FF) - F
        sf = 1
    else:
        fa, sf = F, 0
    z = TRIG_FF - fa.bit_length()
    fn = ((fa << z) >> (TRIG_FF - 34)) & ((1 << 34) - 1)   # [2**33, 2**34)
    ft = fa >> (TRIG_FF - 34)                               # |f| at 2**-34
    t = (ft * ft) >> 34                                     # f**2 at 2**-34
    ps = _horner(t, TRIG_PS)
    pc = _horner(t, TRIG_PC)
    return q, sf, ((fn * ps) >> 33, 127 - z), (pc << 1, 127)


def _norm32(p, e1):
    """36-bit significand -> 32 bits with bit 31 set, and its exponent."""
    if p >> 35:
        return p >> 4, e1
    return p >> 3, e1 - 1


def trig_fixed(mag, func):
    """The unrounded result for ``|x|`` (``mag``, biased exponent >= TRIG_EMIN, finite):
    ``(sign, significand, exponent)`` of ``func(|x|)`` before the final rounding (for
    ``tan`` the significand's last bit is the sticky bit)."""
    q, sf, S, C = trig_core(mag)
    odd = q & 1
    if func == "tan":
        A, B = (C, S) if odd else (S, C)
        na, ea = _norm32(*A)
        nb, eb = _norm32(*B)
        quo, rem = divmod(na << 29, nb)
        return sf ^ odd, (quo << 1) | (rem != 0), ea - eb - 30
    if func == "sin":
        sign = (q >> 1) ^ (sf & (odd ^ 1))
    else:
        sign = (q >> 1) ^ odd ^ (sf & odd)
    p, e1 = C if odd ^ (func == "cos") else S
    return sign, p, e1 - 127 - 35


def _trig(a, fmt, func):
    _check(fmt)
    a = int(a)
    sx = a >> 31
    mag = a & 0x7FFFFFFF
    if mag >= _PINF:
        return _NAN
    if mag < TRIG_EMIN << 23:
        return _ONE if func == "cos" else a
    sign, p, e = trig_fixed(mag, func)
    return _rn32(sign ^ (sx if func != "cos" else 0), p, e)


def fp_sin_model(a, fmt=BINARY32):
    """``sin(a)`` (binary32 only; exact argument reduction for every input)."""
    return _trig(a, fmt, "sin")


def fp_cos_model(a, fmt=BINARY32):
    """``cos(a)`` (binary32 only)."""
    return _trig(a, fmt, "cos")


def fp_tan_model(a, fmt=BINARY32):
    """``tan(a)`` (binary32 only)."""
    return _trig(a, fmt, "tan")
