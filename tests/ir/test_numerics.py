"""Exact numeric helpers: rounding, casts, C division, wrap."""

import math
import struct

import numpy as np
import pytest
from hypothesis import given, strategies as st

from allo_rtl.ir import numerics as N
from allo_rtl.ir.types import Fixed, Int, UFixed, UInt, bfloat16, float16, float32, float64


@given(st.floats(allow_nan=False, width=64))
def test_round_f32_matches_numpy(x):
    with np.errstate(over="ignore"):
        assert N.round_float(x, float32) == float(np.float32(x)) or (
            math.isinf(N.round_float(x, float32)) and np.isinf(np.float32(x)))


@given(st.floats(allow_nan=False, width=64))
def test_round_f16_matches_numpy(x):
    with np.errstate(over="ignore"):
        r = N.round_float(x, float16)
        ref = float(np.float16(x))
        assert r == ref, (x, r, ref)


@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_int_to_float_is_correctly_rounded(n):
    # single rounding from the exact integer (no double rounding via float64)
    from fractions import Fraction

    r = N.cast(n, Int(72), float32)
    if n:
        # r must be one of the two float32 neighbours closest to n, and the nearest
        lo = float(np.nextafter(np.float32(r), np.float32(-np.inf)))
        hi = float(np.nextafter(np.float32(r), np.float32(np.inf)))
        assert abs(Fraction(r) - n) <= abs(Fraction(lo) - n)
        assert abs(Fraction(r) - n) <= abs(Fraction(hi) - n)


def test_bfloat16_ties_to_even_and_subnormal():
    assert N.round_float(1.0 + 2**-8, bfloat16) == 1.0
    assert N.round_float(1.0 + 3 * 2**-8, bfloat16) == 1.0 + 2**-6
    tiny = 2.0**-133  # bfloat16 subnormal (same exponent range as float32)
    assert N.round_float(tiny, bfloat16) == tiny


@pytest.mark.parametrize("a,b", [(7, 2), (-7, 2), (7, -2), (-7, -2), (0, 5)])
def test_c_division_and_remainder(a, b):
    assert N.c_div(a, b) == int(a / b)
    assert N.c_mod(a, b) == math.fmod(a, b)
    assert N.c_div(a, 0) == -1 and N.c_mod(a, 0) == a


def test_casts_int_fixed_float():
    assert N.cast(300, Int(32), Int(8)) == 44
    assert N.cast(-1, Int(8), UInt(8)) == 255
    assert N.cast(0b1011, Fixed(8, 2), Fixed(8, 0)) == 2  # 2.75 -> 2 (toward -inf)
    assert N.cast(-0b1011, Fixed(8, 2), Fixed(8, 0)) == -3  # -2.75 -> -3
    assert N.cast(-2.75, float32, Int(8)) == -2  # float -> int truncates toward zero
    assert N.cast(-2.75, float32, Fixed(8, 1)) == -5  # -2.5 (toward zero)
    assert N.cast(math.nan, float32, Int(8)) == 0
    assert N.cast(300.0, float32, UInt(8)) == 255  # saturates, like FPToInt
    assert N.cast(-300.0, float32, Int(8)) == -128
    assert N.cast(-5.0, float32, UInt(8)) == 0
    assert N.cast(math.inf, float32, Int(8)) == 127
    assert N.cast(3, UFixed(4, 2), float32) == 0.75


def test_float_bits_canonical_nan():
    assert N.float_bits(math.nan, float32) == 0x7FC00000
    assert N.float_bits(math.nan, float64) == 0x7FF8000000000000
    assert N.float_bits(math.nan, float16) == 0x7E00
    assert N.float_bits(math.nan, bfloat16) == 0x7FC0
    assert N.float_bits(-1.5, float32) == struct.unpack("<I", struct.pack("<f", -1.5))[0]
    assert N.bits_float(0x3FC0, bfloat16) == 1.5


def test_wrap_sweep_edges():
    for bits in (1, 2, 5, 8, 31, 33):
        t, u = Int(bits), UInt(bits)
        lo, hi = N.int_range(t)
        assert N.wrap(hi + 1, t) == lo and N.wrap(lo - 1, t) == hi
        assert N.wrap(-1, u) == (1 << bits) - 1
