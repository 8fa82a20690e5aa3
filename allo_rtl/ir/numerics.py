"""Exact numeric semantics shared by the interpreter, constant folding and I/O.

Representation ("raw" values):

* Int/UInt/Index: Python int in the type's range.
* Fixed/UFixed: Python int ``round(value * 2**fracs)`` in the range of an
  Int/UInt of the same total width.
* Float: Python float holding a value exactly representable in the format
  (NaN is the canonical quiet NaN; its bit pattern is ``0x7FC00000`` for
  float32, ``0x7E00`` for float16, ``0x7FC0`` for bfloat16,
  ``0x7FF8000000000000`` for float64).

Conversions (``cast``), chosen once here and mirrored by the hardware:

* int/fixed -> int/fixed: align the binary point (dropping fraction bits
  rounds toward -inf, i.e. an arithmetic shift), then wrap to the target width.
* float -> int/fixed: truncate ``value * 2**fracs`` toward zero and saturate
  to the target range (±inf saturate too); NaN gives 0. This matches
  ``primitives.float.FPToInt``.
* int/fixed -> float and float -> float: round to nearest, ties to even, with
  subnormals; overflow gives ±inf.
* Integer division by zero: quotient all ones (-1, wrapped), remainder = dividend
  (RISC-V convention); float division follows IEEE (±inf / NaN).
"""

from __future__ import annotations

import math
import struct
from array import array

import numpy as np

from .types import AlloType, Fixed, Float, Index, Int, UFixed, UInt, Struct

float64_t = Float(64, 52)

__all__ = [
    "int_range", "wrap", "cast", "round_float", "to_raw", "from_raw", "numpy_dtype",
    "float_bits", "bits_float", "c_div", "c_mod", "floor_div", "fdiv", "fmod_c",
    "shl", "shr", "fsqrt", "flog", "fpow", "reverse_bits", "unit_math_model", "eval_unit_math",
]


def int_range(t: AlloType) -> tuple[int, int]:
    """Inclusive (min, max) of the raw integer representation of an int/fixed type."""
    n = t.bits
    if isinstance(t, (Int, Fixed, Index)):
        return -(1 << (n - 1)), (1 << (n - 1)) - 1
    return 0, (1 << n) - 1


def wrap(v: int, t: AlloType) -> int:
    """Wrap integer ``v`` into the raw range of int/fixed type ``t`` (two's complement)."""
    n = t.bits
    m = (1 << n) - 1
    if isinstance(t, (Int, Fixed, Index)):
        h = 1 << (n - 1)
        return ((v + h) & m) - h
    return v & m


# ---------------------------------------------------------------- floats

_F32 = array("f", [0.0])


def _round_f32(x: float) -> float:
    _F32[0] = x  # C (float) cast: correctly rounded, RNE, subnormals, overflow -> inf
    return _F32[0]


def round_dyadic(m: int, e: int, ebits: int, mbits: int) -> float:
    """Round the exact value ``m * 2**e`` to a binary format with ``ebits`` exponent and
    ``mbits`` stored mantissa bits (RNE, subnormals, overflow to inf)."""
    if m == 0:
        return 0.0
    sign = -1.0 if m < 0 else 1.0
    m = abs(m)
    p = mbits + 1
    bias = (1 << (ebits - 1)) - 1
    emin = 1 - bias
    # exponent of the leading bit
    lead = m.bit_length() - 1 + e
    q = max(lead, emin) - mbits  # quantum exponent
    shift = q - e
    if shift > 0:
        rem = m & ((1 << shift) - 1)
        m >>= shift
        half = 1 << (shift - 1)
        if rem > half or (rem == half and (m & 1)):
            m += 1
    else:
        m <<= -shift
    if m >> p:  # rounding carried into a new bit
        m >>= 1
        q += 1
    emax = bias
    if m.bit_length() - 1 + q > emax:
        return sign * math.inf
    return sign * math.ldexp(m, q)


def round_float(x: float, t: Float) -> float:
    """Round a Python float (double) to format ``t``; NaN stays NaN."""
    if t.bits == 64:
        return x
    if t.bits == 32:
        return _round_f32(x)
    if x != x or x in (math.inf, -math.inf):
        return x
    if x == 0.0:
        return x
    mant, exp = math.frexp(x)
    m = int(mant * (1 << 53))
    r = round_dyadic(m, exp - 53, t.bits - t.fracs - 1, t.fracs)
    return r if r != 0.0 else math.copysign(0.0, x)


_NAN_BITS = {32: 0x7FC00000, 64: 0x7FF8000000000000}


def float_bits(x: float, t: Float) -> int:
    """IEEE bit pattern of ``x`` (already representable in ``t``); canonical NaN."""
    if x != x:
        return {(16, 10): 0x7E00, (16, 7): 0x7FC0}.get((t.bits, t.fracs), _NAN_BITS.get(t.bits))
    if t.bits == 64:
        return struct.unpack("<Q", struct.pack("<d", x))[0]
    if t.bits == 32:
        return struct.unpack("<I", struct.pack("<f", x))[0]
    if t.fracs == 10:
        return struct.unpack("<H", struct.pack("<e", x))[0]
    return struct.unpack("<I", struct.pack("<f", x))[0] >> 16  # bfloat16: exact in f32


def bits_float(b: int, t: Float) -> float:
    """The value of IEEE bit pattern ``b`` in format ``t`` (NaN payloads collapse)."""
    if t.bits == 64:
        return struct.unpack("<d", struct.pack("<Q", b & (2**64 - 1)))[0]
    if t.bits == 32:
        return struct.unpack("<f", struct.pack("<I", b & 0xFFFFFFFF))[0]
    if t.fracs == 10:
        return struct.unpack("<e", struct.pack("<H", b & 0xFFFF))[0]
    return struct.unpack("<f", struct.pack("<I", (b & 0xFFFF) << 16))[0]


# ---------------------------------------------------------------- cast


def cast(v, src: AlloType, dst: AlloType):
    """Convert raw value ``v`` of type ``src`` to a raw value of type ``dst``."""
    if isinstance(dst, Float):
        if isinstance(src, Float):
            return round_float(v, dst)
        f = src.fracs if isinstance(src, (Fixed, UFixed)) else 0
        return round_dyadic(v, -f, dst.bits - dst.fracs - 1, dst.fracs) if v else 0.0
    fd = dst.fracs if isinstance(dst, (Fixed, UFixed)) else 0
    if isinstance(src, Float):
        if v != v:
            return 0
        lo, hi = int_range(dst)
        if v in (math.inf, -math.inf):
            return hi if v > 0 else lo
        try:
            x = math.ldexp(v, fd)
        except OverflowError:  # |v| * 2**fd beyond the double range: saturate
            return hi if v > 0 else lo
        return max(lo, min(hi, int(x)))  # int() truncates toward zero
    fs = src.fracs if isinstance(src, (Fixed, UFixed)) else 0
    if fd > fs:
        v = v << (fd - fs)
    elif fd < fs:
        v = v >> (fs - fd)
    return wrap(v, dst)


# ---------------------------------------------------------------- integer ops


def c_div(a: int, b: int) -> int:
    """C division: truncate toward zero; b == 0 gives -1."""
    if b == 0:
        return -1
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def c_mod(a: int, b: int) -> int:
    """C remainder (sign of the dividend); b == 0 gives a."""
    if b == 0:
        return a
    return a - b * c_div(a, b)


def floor_div(a: int, b: int) -> int:
    return -1 if b == 0 else a // b


def shl(a: int, s: int, t: AlloType) -> int:
    if s < 0 or s >= t.bits:
        return 0
    return wrap(a << s, t)


def shr(a: int, s: int, t: AlloType) -> int:
    if s < 0 or s >= t.bits:
        return -1 if a < 0 else 0
    return a >> s


def reverse_bits(v: int, t: AlloType) -> int:
    n = t.bits
    u = v & ((1 << n) - 1)
    r = int(format(u, f"0{n}b")[::-1], 2)
    return wrap(r, t)


# ---------------------------------------------------------------- float ops (double precision)


def fdiv(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0.0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def fmod_c(a: float, b: float) -> float:
    try:
        return math.fmod(a, b)
    except ValueError:
        return math.nan


def fsqrt(a: float) -> float:
    return math.sqrt(a) if a >= 0 or a != a else math.nan


def flog(a: float, fn=math.log) -> float:
    if a != a:
        return a
    if a < 0:
        return math.nan
    if a == 0:
        return -math.inf
    if a == math.inf:
        return a
    return fn(a)


def fpow(a: float, b: float) -> float:
    try:
        r = math.pow(a, b)
    except (ValueError, ZeroDivisionError):
        return math.nan if a >= 0 or b != int(b) else math.inf
    except OverflowError:
        return math.inf
    return r


# ---------------------------------------------------------------- elementary functions

float32_t = Float(32, 23)


def unit_math_model(fn: str, t: AlloType):
    """The bit-exact binary32 model of the hardware unit for elementary function ``fn``
    (``exp``, ``log``, ``sin``, ``tanh``, ``erf``, ``pow``, ...; see ``primitives.float``)
    when ``t`` is float32, float16 or bfloat16, else None. The interpreter evaluates such
    functions with the model so that it matches the hardware bit for bit (float16 and
    bfloat16 go through binary32 and are rounded once more); float64 uses the host's
    double-precision ``math`` library."""
    if not isinstance(t, Float) or t.bits == 64 or fn in ("abs", "sqrt"):
        return None
    from primitives.float import model as fpm

    return getattr(fpm, f"fp_{fn}_model", None)


def eval_unit_math(model, t: Float, *xs: float) -> float:
    """``model`` (from :func:`unit_math_model`) applied to values ``xs`` of type ``t``."""
    from primitives.float import BINARY32

    r = bits_float(model(*[float_bits(x, float32_t) for x in xs], BINARY32), float32_t)
    return r if t.bits == 32 else round_float(r, t)


# ---------------------------------------------------------------- numpy I/O


def numpy_dtype(t: AlloType):
    """The numpy dtype used for arrays of ``t`` at the Python boundary."""
    if isinstance(t, Float):
        return {(16, 10): np.float16, (16, 7): np.float32, (32, 23): np.float32}.get(
            (t.bits, t.fracs), np.float64)
    if isinstance(t, (Fixed, UFixed)):
        return np.float64
    if isinstance(t, Struct):
        return np.uint64 if t.bits <= 64 else object
    if t.bits > 64:
        return object
    signed = isinstance(t, (Int, Index))
    for w in (8, 16, 32, 64):
        if t.bits <= w:
            return np.dtype(f"{'i' if signed else 'u'}{w // 8}").type
    raise AssertionError(t)


def to_raw(values, t: AlloType) -> list:
    """Convert a flat numpy array / list of user values to raw values of ``t``."""
    arr = np.asarray(values)
    if isinstance(t, Float):
        flat = arr.astype(np.float64).ravel().tolist()
        if t.bits == 64:
            return flat
        return [round_float(x, t) for x in flat]
    if isinstance(t, (Fixed, UFixed)):
        if arr.dtype.kind == "f":
            return [cast(x, float64_t, t) for x in arr.astype(np.float64).ravel().tolist()]
        return [wrap(int(x) << t.fracs, t) for x in arr.ravel().tolist()]
    if arr.dtype.kind == "f":
        return [cast(x, float64_t, t) for x in arr.astype(np.float64).ravel().tolist()]
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    return [wrap(int(x), t) for x in arr.ravel().tolist()]


def from_raw(raw: list, t: AlloType, shape: tuple):
    """Convert a flat list of raw values to a numpy array (or Python scalar if shape == ())."""
    dt = numpy_dtype(t)
    if isinstance(t, (Fixed, UFixed)):
        scale = 2.0 ** -t.fracs
        vals = [x * scale for x in raw]
    else:
        vals = raw
    if shape == ():
        v = vals[0]
        if isinstance(t, Float):
            return float(v)
        if isinstance(t, (Fixed, UFixed)):
            return float(v)
        return int(v)
    arr = np.array(vals, dtype=dt).reshape(shape)
    if isinstance(t, Float):
        arr[np.isnan(arr)] = np.nan  # the canonical quiet NaN (a NaN's sign is not kept)
    return arr
