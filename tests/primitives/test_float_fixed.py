"""Fixed point <-> float conversions: ``IntToFP(..., fracs=f)`` / ``FPToInt(..., fracs=f)``.

* The models (``int_to_fp_model`` / ``fp_to_int_model`` with ``fracs``) equal
  ``allo_rtl.ir.numerics.cast`` (the interpreter's semantics) for every float format
  and several Fixed/UFixed types (pure Python, exhaustive where small).
* The hardware equals the models in Verilator (one suite per float format, built once
  and cached like tests/primitives/test_float_rtl.py): every special value, floats at
  and around the edges of each fixed range, and N random vectors (N = 5000, or
  $ALLO_RTL_FP_LONG), with the clock enable toggled in the second half.
"""
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import float_harness as H                      # noqa: E402
import float_vectors as V                      # noqa: E402

from allo_rtl.ir import numerics                # noqa: E402
from allo_rtl.ir.types import Fixed, Float, UFixed  # noqa: E402
from primitives.float import (BINARY16, BFLOAT16, BINARY32, BINARY64,  # noqa: E402
                              IntToFP, FPToInt, model)

FMTS = [BINARY16, BFLOAT16, BINARY32, BINARY64]
FLOAT_T = {BINARY16.name: Float(16, 10), BFLOAT16.name: Float(16, 7),
           BINARY32.name: Float(32, 23), BINARY64.name: Float(64, 52)}

# (width, fracs, signed): fracs above the width, fracs = width - 1, unsigned, tiny.
COMMON = [(16, 8, True), (12, 4, False), (32, 31, True), (8, 12, True), (8, 12, False),
          (32, 16, True), (64, 32, True), (1, 3, False), (2, 1, True), (24, 0, False)]


def deep_types(fmt):
    """Types whose fraction bits reach the format's subnormals: fixed -> float results
    below the normal range (the right-shift path of the rounder, e1 < 1), float ->
    fixed from subnormal inputs. May exceed Fixed's 255 (hardware/model only)."""
    return [(8, fmt.bias + 7 + 8, True), (16, fmt.bias + fmt.man_bits - 4, False),
            (32, fmt.bias + fmt.man_bits + 2, True), (16, fmt.bias + 14, True)]


def types(fmt):
    return COMMON + deep_types(fmt)


def alloc_type(w, f, signed):
    return (Fixed if signed else UFixed)(w, f)


def _tname(w, f, s):
    return f"{'s' if s else 'u'}{w}f{f}"


# ------------------------------------------------------------------ model == numerics.cast

def _cast_to_float(raw, w, f, s, fmt):
    t = alloc_type(w, f, s)
    v = raw - (1 << w) if s and raw >> (w - 1) else raw
    ft = FLOAT_T[fmt.name]
    return numerics.float_bits(numerics.cast(v, t, ft), ft)


def _cast_to_fixed(bits, w, f, s, fmt):
    ft = FLOAT_T[fmt.name]
    v = numerics.cast(numerics.bits_float(bits, ft), ft, alloc_type(w, f, s))
    return v & ((1 << w) - 1)


def _model_types(fmt):
    """Types valid for allo_rtl (fracs <= 255)."""
    return [t for t in types(fmt) if t[1] <= 255]


def _float_samples(fmt, w, f, rng, n):
    """Specials, floats at the edges of the fixed range and random floats near it."""
    out = list(V.specials(fmt)) + fixed_edge_floats(fmt, w, f)
    edges = fixed_edge_floats(fmt, w, f)
    for _ in range(n):
        if rng.random() < 0.5:
            out.append(V.random_float(fmt, rng, near=rng.choice(edges)))
        else:
            out.append(V.random_float(fmt, rng))
    return out


@pytest.mark.parametrize("fmt", FMTS, ids=lambda f: f.name)
def test_model_fixed_to_float_matches_cast(fmt):
    rng = random.Random(f"x2f-{fmt.name}")
    checked = 0
    for w, f, s in _model_types(fmt):
        raws = range(1 << w) if w <= 12 else \
            [V.random_int(rng) & ((1 << w) - 1) for _ in range(3000)] + \
            [x & ((1 << w) - 1) for x in (0, 1, -1, 1 << (w - 1), (1 << (w - 1)) - 1,
                                          (1 << (w - 1)) + 1, 3, -3)]
        for raw in raws:
            got = model.int_to_fp_model(raw, fmt, w, s, fracs=f)
            exp = _cast_to_float(raw, w, f, s, fmt)
            assert got == exp, (_tname(w, f, s), raw, hex(got), hex(exp))
            checked += 1
    assert checked > 10000


@pytest.mark.parametrize("fmt", FMTS, ids=lambda f: f.name)
def test_model_float_to_fixed_matches_cast(fmt):
    rng = random.Random(f"f2x-{fmt.name}")
    checked = 0
    for w, f, s in _model_types(fmt):
        if fmt.width == 16 and (w, f, s) in COMMON[:4]:
            samples = range(1 << 16)                 # exhaustive
        else:
            samples = _float_samples(fmt, w, f, rng, 2000)
        for bits in samples:
            got = model.fp_to_int_model(bits, fmt, w, s, fracs=f)
            exp = _cast_to_fixed(bits, w, f, s, fmt)
            assert got == exp, (_tname(w, f, s), hex(bits), hex(got), hex(exp))
            checked += 1
    assert checked > 10000


def test_default_fracs_unchanged():
    fmt = BINARY32
    for raw in (0, 1, 0xFFFFFFFF, 0x80000000, 12345678):
        assert model.int_to_fp_model(raw, fmt, 32, True) == \
            model.int_to_fp_model(raw, fmt, 32, True, fracs=0)
    assert model.fp_to_int_model(0x3FC00000, fmt, 32, True) == 1          # 1.5 -> 1
    assert model.fp_to_int_model(0x3FC00000, fmt, 32, True, fracs=1) == 3  # 1.5 * 2
    assert model.int_to_fp_model(3, fmt, 8, True, fracs=1) == 0x3FC00000   # 3 / 2
    # A tiny negative fixed value rounds to -0 (numerics.cast does the same).
    assert model.int_to_fp_model(0xFF, BINARY16, 8, True, fracs=40) == 0x8000
    assert IntToFP(fmt, 32, True).fracs == 0 and FPToInt(fmt, 32, True).fracs == 0
    with pytest.raises(ValueError):
        IntToFP(fmt, 32, True, fracs=-1)
    with pytest.raises(TypeError):
        FPToInt(fmt, 32, True, fracs=1.5)
    with pytest.raises(ValueError):
        model.fp_to_int_model(0, fmt, 32, True, fracs=-2)


def test_cast_saturates_huge_doubles():
    """float64 values beyond the double range once scaled saturate (no OverflowError)."""
    t = Fixed(16, 8)
    assert numerics.cast(1e308, Float(64), t) == (1 << 15) - 1
    assert numerics.cast(-1e308, Float(64), t) == -(1 << 15)
    bits = numerics.float_bits(1e308, Float(64))
    assert model.fp_to_int_model(bits, BINARY64, 16, True, fracs=8) == (1 << 15) - 1


# ------------------------------------------------------------------ hardware == model

def fixed_edge_floats(fmt, w, f):
    """Floats equal to (and next to) raw values at the edges of a fixed range."""
    out = []
    for v in (1 << (w - 1), (1 << (w - 1)) - 1, (1 << w) - 1, 1 << w, -(1 << (w - 1)),
              -(1 << (w - 1)) - 1, -1, 1, 2, -2, 3):
        x = model.int_to_fp_model(v & ((1 << 128) - 1), fmt, 128, True, fracs=f)
        out.append(x)
        if not model.is_nan(x, fmt) and (x & ~fmt.sign_mask) != fmt.inf:
            if ((x + 1) & ~fmt.sign_mask) < fmt.inf:
                out.append(x + 1)
            if x & ~fmt.sign_mask:
                out.append(x - 1)
    return out


def units(fmt):
    u = []
    for w, f, s in types(fmt):
        name = _tname(w, f, s)
        u.append(H.Unit(f"f2x_{name}", FPToInt(fmt, w, s, fracs=f), {"a": "a"}))
        u.append(H.Unit(f"x2f_{name}", IntToFP(fmt, w, s, fracs=f), {"a": "i"}))
    # Latency variants: combinational and fully registered (deep: the e1 < 1 path).
    for w, f, s in (COMMON[0], deep_types(fmt)[0]):
        name = _tname(w, f, s)
        u.append(H.Unit(f"f2x_{name}_l0", FPToInt(fmt, w, s, fracs=f, latency=0), {"a": "a"}))
        u.append(H.Unit(f"x2f_{name}_l0", IntToFP(fmt, w, s, fracs=f, latency=0), {"a": "i"}))
        u.append(H.Unit(f"x2f_{name}_l8", IntToFP(fmt, w, s, fracs=f, latency=8), {"a": "i"}))
    return u


def _spec(unit_name):
    """``(kind, width, fracs, signed)`` of a unit name like ``x2f_s8f12_l0``."""
    kind, spec = unit_name.split("_")[:2]
    s = spec[0] == "s"
    w, f = spec[1:].split("f")
    return kind, int(w), int(f), s


def expected(unit_name, fmt, a, i):
    kind, w, f, s = _spec(unit_name)
    if kind == "f2x":
        return model.fp_to_int_model(a, fmt, w, s, fracs=f)
    return model.int_to_fp_model(i & ((1 << w) - 1), fmt, w, s, fracs=f)


def stimulus(fmt, n_random, seed=0):
    """Specials, the edge floats of every fixed type, then ``n_random`` random floats
    (half of them near an edge); one random 64-bit integer per vector."""
    rng = random.Random(f"fixed-{fmt.name}-{seed}")
    a = list(V.specials(fmt)) + V.int_edge_floats(fmt)
    edges = []
    for w, f, s in types(fmt):
        edges += fixed_edge_floats(fmt, w, f)
    a += edges
    for _ in range(n_random):
        if rng.random() < 0.5:
            a.append(V.random_float(fmt, rng, near=rng.choice(edges)))
        else:
            a.append(V.random_float(fmt, rng))
    n = len(a)
    ints = [V.random_int(rng) for _ in range(n)]
    # Small raw values too: results near zero, subnormal for the deep types.
    for k in range(0, n, 7):
        ints[k] = rng.getrandbits(rng.randint(1, 12))
        if rng.random() < 0.5:
            ints[k] = (-ints[k]) & ((1 << 64) - 1)
    return {"a": a, "b": [0] * n, "sub": [0] * n, "i": ints}


_RUNS = {}


def suite_run(fmt):
    if fmt.name not in _RUNS:
        us = units(fmt)
        build = H.build_suite(H.Suite(us, width=fmt.width), f"fxsuite_{fmt.name}")
        vec = stimulus(fmt, H.long_count(5000))
        rng = random.Random(2)
        n = len(vec["a"])
        en = [1 if k < n // 2 else int(rng.random() < 0.75) for k in range(n)]
        _RUNS[fmt.name] = (us, vec, H.run_stream(build, vec, en))
    return _RUNS[fmt.name]


@pytest.mark.rtl
@pytest.mark.parametrize("fmt", FMTS, ids=lambda f: f.name)
def test_rtl_fixed(fmt):
    us, vec, out = suite_run(fmt)
    n = len(vec["a"])
    assert n >= 5000
    failures, checked = [], 0
    for u in us:
        got = out[u.name]["result"]
        for k in range(n):
            if got[k] is None:
                continue
            checked += 1
            a, i = vec["a"][k], vec["i"][k]
            exp = expected(u.name, fmt, a, i)
            if got[k] != exp:
                failures.append(f"{u.name} a={a:#x} i={i:#x}: got {got[k]:#x}, "
                                f"expected {exp:#x}")
    assert checked >= len(us) * n * 0.8
    assert not failures, f"{len(failures)} mismatches of {checked}:\n" + "\n".join(failures[:20])
