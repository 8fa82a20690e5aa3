"""Bit-exact pure-Python reference models of the floating-point units.

Every function takes and returns raw bit patterns (non-negative ``int``) and a
:class:`~primitives.float.format.FloatFormat`. They compute the exact result
with Python integers and round it once, to nearest, ties to even, so they are
correct for any format (binary16/32/64 agree with numpy, bfloat16 and custom
formats have no numpy reference). The hardware units match these functions
bit for bit, including the NaN rules:

* a NaN result is always the format's canonical quiet NaN
  (:attr:`FloatFormat.canonical_nan`: sign 0, exponent all ones, fraction MSB
  set, other fraction bits 0), whatever the NaN inputs were (quiet or
  signalling, any sign or payload). No exception flags are produced.
* subnormal inputs and outputs are supported everywhere (no flushing);
  results too large after rounding become infinity of the right sign.
* ``fp_to_int_model`` (C-style truncation toward zero) saturates: NaN -> 0,
  values above the target range (including +inf) -> the largest integer,
  values below it (including -inf, and any negative value <= -1 for an
  unsigned target) -> the smallest integer (0 for unsigned).
"""

from .format import FloatFormat


__all__ = [
    "decode", "round_pack", "is_nan",
    "fp_add_model", "fp_sub_model", "fp_mul_model", "fp_div_model", "fp_sqrt_model",
    "fp_compare_model", "fp_eq_model", "fp_ne_model", "fp_lt_model", "fp_le_model",
    "fp_gt_model", "fp_ge_model", "fp_min_model", "fp_max_model",
    "fp_abs_model", "fp_neg_model",
    "int_to_fp_model", "fp_to_int_model", "fp_to_fp_model",
]


# Classes returned by decode().
ZERO, FINITE, INF, NAN = "zero", "finite", "inf", "nan"


def decode(bits, fmt):
    """Split ``bits`` into ``(cls, sign, mant, exp)`` with value ``(-1)**sign * mant * 2**exp``
    for finite numbers (``cls`` is ``"zero"``, ``"finite"``, ``"inf"`` or ``"nan"``)."""
    bits = int(bits)
    if not 0 <= bits < (1 << fmt.width):
        raise ValueError(f"Bit pattern must be in 0..2**{fmt.width}-1, not {bits:#x}")
    sign = bits >> (fmt.width - 1)
    e = (bits >> fmt.man_bits) & fmt.exp_max
    f = bits & ((1 << fmt.man_bits) - 1)
    if e == fmt.exp_max:
        return (NAN if f else INF), sign, 0, 0
    if e == 0:
        if f == 0:
            return ZERO, sign, 0, 0
        return FINITE, sign, f, 1 - fmt.bias - fmt.man_bits
    return FINITE, sign, f | (1 << fmt.man_bits), e - fmt.bias - fmt.man_bits


def is_nan(bits, fmt):
    return decode(bits, fmt)[0] == NAN


def _inf(sign, fmt):
    return (sign << (fmt.width - 1)) | fmt.inf


def _zero(sign, fmt):
    return sign << (fmt.width - 1)


def round_pack(sign, mant, exp, fmt, sticky=False):
    """Round ``(-1)**sign * (mant + s) * 2**exp`` to ``fmt`` (nearest, ties to even), where
    ``s`` is an infinitesimal positive amount if ``sticky`` (``mant`` must then carry at
    least two bits below the rounding position)."""
    if mant == 0:
        assert not sticky
        return _zero(sign, fmt)
    M = fmt.man_bits
    emin = 1 - fmt.bias                       # smallest normal unbiased exponent
    x = exp + mant.bit_length() - 1           # unbiased exponent of the value
    q = max(x, emin) - M                      # exponent of one ulp at the result
    shift = q - exp
    if shift > 0:
        rem = mant & ((1 << shift) - 1)
        r = mant >> shift
        half = 1 << (shift - 1)
        if rem > half or (rem == half and (sticky or r & 1)):
            r += 1
    else:
        assert not sticky, "need two bits below the rounding position with sticky"
        r = mant << -shift
    if r >> (M + 1):                          # rounding carried into a new binade
        r >>= 1
        q += 1
    if r >> M:
        biased = q + M + fmt.bias
        if biased >= fmt.exp_max:
            return _inf(sign, fmt)
        return (sign << (fmt.width - 1)) | (biased << M) | (r & ((1 << M) - 1))
    return (sign << (fmt.width - 1)) | r        # subnormal (q == emin - M)


def fp_add_model(a, b, fmt, sub=False):
    """``a + b`` (or ``a - b`` if ``sub``)."""
    ca, sa, ma, ea = decode(a, fmt)
    cb, sb, mb, eb = decode(b, fmt)
    sb ^= int(bool(sub))
    if NAN in (ca, cb):
        return fmt.canonical_nan
    if ca == INF and cb == INF:
        return fmt.canonical_nan if sa != sb else _inf(sa, fmt)
    if ca == INF:
        return _inf(sa, fmt)
    if cb == INF:
        return _inf(sb, fmt)
    if ca == ZERO and cb == ZERO:
        return _zero(sa & sb, fmt)
    e = min(ea, eb) if ca == FINITE and cb == FINITE else (ea if ca == FINITE else eb)
    va = (-ma if sa else ma) << (ea - e) if ca == FINITE else 0
    vb = (-mb if sb else mb) << (eb - e) if cb == FINITE else 0
    s = va + vb
    if s == 0:
        return _zero(0, fmt)
    return round_pack(int(s < 0), abs(s), e, fmt)


def fp_sub_model(a, b, fmt):
    """``a - b``."""
    return fp_add_model(a, b, fmt, sub=True)


def fp_mul_model(a, b, fmt):
    """``a * b``."""
    ca, sa, ma, ea = decode(a, fmt)
    cb, sb, mb, eb = decode(b, fmt)
    s = sa ^ sb
    if NAN in (ca, cb) or {ca, cb} == {INF, ZERO}:
        return fmt.canonical_nan
    if INF in (ca, cb):
        return _inf(s, fmt)
    if ZERO in (ca, cb):
        return _zero(s, fmt)
    return round_pack(s, ma * mb, ea + eb, fmt)


def fp_div_model(a, b, fmt):
    """``a / b``."""
    ca, sa, ma, ea = decode(a, fmt)
    cb, sb, mb, eb = decode(b, fmt)
    s = sa ^ sb
    if NAN in (ca, cb) or (ca == cb and ca in (INF, ZERO)):
        return fmt.canonical_nan
    if ca == INF or cb == ZERO:
        return _inf(s, fmt)
    if ca == ZERO or cb == INF:
        return _zero(s, fmt)
    k = fmt.man_bits + 3 + mb.bit_length()     # enough quotient bits for rounding
    q, r = divmod(ma << k, mb)
    return round_pack(s, (q << 1) | int(r != 0), ea - eb - k - 1, fmt)


def _isqrt(n):
    import math
    return math.isqrt(n)


def fp_sqrt_model(a, fmt):
    """``sqrt(a)``: NaN for NaN and for negative non-zero inputs, ``sqrt(-0) = -0``."""
    ca, sa, ma, ea = decode(a, fmt)
    if ca == NAN or (sa and ca != ZERO):
        return fmt.canonical_nan
    if ca in (ZERO, INF):
        return a
    if ea & 1:
        ma <<= 1
        ea -= 1
    k = fmt.man_bits + 3
    n = ma << (2 * k)
    r = _isqrt(n)
    return round_pack(0, (r << 1) | int(r * r != n), (ea // 2) - k - 1, fmt)


def fp_compare_model(a, b, fmt):
    """Return ``"lt"``, ``"eq"``, ``"gt"`` or ``"un"`` (unordered: a NaN operand).
    ``-0`` equals ``+0``."""
    ca, sa, ma, ea = decode(a, fmt)
    cb, sb, mb, eb = decode(b, fmt)
    if NAN in (ca, cb):
        return "un"
    def key(c, s, m, e):
        if c == ZERO:
            return (0, 0)
        mag = (2, 0) if c == INF else (1, m << (e + 2 * fmt.bias + 2 * fmt.man_bits))
        return (-mag[0], -mag[1]) if s else mag
    ka, kb = key(ca, sa, ma, ea), key(cb, sb, mb, eb)
    return "lt" if ka < kb else "gt" if ka > kb else "eq"


def fp_eq_model(a, b, fmt):
    return fp_compare_model(a, b, fmt) == "eq"


def fp_ne_model(a, b, fmt):
    """True when unordered (like C ``!=``)."""
    return fp_compare_model(a, b, fmt) != "eq"


def fp_lt_model(a, b, fmt):
    return fp_compare_model(a, b, fmt) == "lt"


def fp_le_model(a, b, fmt):
    return fp_compare_model(a, b, fmt) in ("lt", "eq")


def fp_gt_model(a, b, fmt):
    return fp_compare_model(a, b, fmt) == "gt"


def fp_ge_model(a, b, fmt):
    return fp_compare_model(a, b, fmt) in ("gt", "eq")


def _minmax(a, b, fmt, want_max):
    if is_nan(a, fmt) or is_nan(b, fmt):
        return fmt.canonical_nan
    c = fp_compare_model(a, b, fmt)
    if c == "eq":                          # only ±0 vs ∓0 or identical patterns
        sa = a >> (fmt.width - 1)
        return (b if sa else a) if want_max else (a if sa else b)
    return (a if c == "gt" else b) if want_max else (a if c == "lt" else b)


def fp_min_model(a, b, fmt):
    """IEEE 754-2019 ``minimum``: NaN if either operand is NaN; ``-0 < +0``."""
    return _minmax(a, b, fmt, False)


def fp_max_model(a, b, fmt):
    """IEEE 754-2019 ``maximum``: NaN if either operand is NaN; ``-0 < +0``."""
    return _minmax(a, b, fmt, True)


def fp_abs_model(a, fmt):
    """``|a|`` (clears the sign bit; a NaN gives the canonical NaN)."""
    return fmt.canonical_nan if is_nan(a, fmt) else a & ~fmt.sign_mask


def fp_neg_model(a, fmt):
    """``-a`` (flips the sign bit; a NaN gives the canonical NaN)."""
    return fmt.canonical_nan if is_nan(a, fmt) else a ^ fmt.sign_mask


def _check_int(width, signed):
    if not isinstance(width, int) or not 1 <= width <= 128:
        raise ValueError(f"Integer width must be an integer in 1..128, not {width!r}")


def _check_fracs(fracs):
    if not isinstance(fracs, int) or isinstance(fracs, bool) or fracs < 0:
        raise ValueError(f"fracs must be an integer >= 0, not {fracs!r}")


def int_to_fp_model(value, fmt, width, signed, fracs=0):
    """Convert the ``width``-bit integer whose bit pattern is ``value`` (two's complement
    if ``signed``) to ``fmt``, rounding to nearest even. Zero gives ``+0``.

    With ``fracs`` the input is fixed point: the raw integer ``r`` means
    ``r * 2**-fracs`` (a tiny negative value may round to ``-0``)."""
    _check_int(width, signed)
    _check_fracs(fracs)
    value = int(value) & ((1 << width) - 1)
    if signed and value >> (width - 1):
        value -= 1 << width
    if value == 0:
        return 0
    return round_pack(int(value < 0), abs(value), -fracs, fmt)


def fp_to_int_model(a, fmt, width, signed, fracs=0):
    """Convert to a ``width``-bit integer, truncating toward zero and saturating
    (NaN -> 0). Returns the result's bit pattern (two's complement if ``signed``).

    With ``fracs`` the result is fixed point: ``a * 2**fracs`` truncated and saturated."""
    _check_int(width, signed)
    _check_fracs(fracs)
    c, s, m, e = decode(a, fmt)
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    if c == NAN:
        v = 0
    elif c == INF:
        v = lo if s else hi
    elif c == ZERO:
        v = 0
    else:
        e += fracs
        mag = m << e if e >= 0 else m >> -e
        v = min(max(-mag if s else mag, lo), hi)
    return v & ((1 << width) - 1)


def fp_to_fp_model(a, src, dst):
    """Convert from format ``src`` to format ``dst``, rounding to nearest even."""
    c, s, m, e = decode(a, src)
    if c == NAN:
        return dst.canonical_nan
    if c == INF:
        return _inf(s, dst)
    if c == ZERO:
        return _zero(s, dst)
    return round_pack(s, m, e, dst)


# Elementary functions (binary32 only; fixed-point datapaths shared with the hardware,
# see primitives.float._fixexp).
from ._fixexp import fp_exp_model, fp_tanh_model, fp_erf_model, fp_pow_model  # noqa: E402

__all__ += ["fp_exp_model", "fp_tanh_model", "fp_erf_model", "fp_pow_model"]

# Logarithms and trigonometric functions (binary32 only; fixed-point datapaths shared
# with the hardware, see primitives.float.logtrig_model).
from .logtrig_model import fp_log_model, fp_log2_model, fp_log10_model, \
    fp_sin_model, fp_cos_model, fp_tan_model  # noqa: E402

__all__ += ["fp_log_model", "fp_log2_model", "fp_log10_model",
            "fp_sin_model", "fp_cos_model", "fp_tan_model"]
