"""primitives.float.model against numpy (binary16/32/64) and against float64 arithmetic
rounded once more (bfloat16, custom formats: exact because float64 has more than
2p+2 bits for these formats, so the double rounding is innocuous)."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import float_harness as H                      # noqa: E402
import float_vectors as V                      # noqa: E402

from primitives.float import BINARY16, BFLOAT16, BINARY32, BINARY64, FloatFormat  # noqa: E402
from primitives.float import model  # noqa: E402

NP = {BINARY16: (np.float16, np.uint16), BINARY32: (np.float32, np.uint32),
      BINARY64: (np.float64, np.uint64)}
N = H.long_count(20000)


def _vectors(fmt):
    s = V.stream(fmt, N, seed=7)
    return s["a"], s["b"], s["i"]


def _bits(values, fmt):
    """numpy floats -> canonicalized bit patterns (list of int)."""
    ft, ut = NP[fmt]
    arr = np.asarray(values, dtype=ft)
    bits = arr.view(ut).astype(object)
    return [fmt.canonical_nan if np.isnan(x) else int(b) for x, b in zip(arr, bits)]


def _floats(bits, fmt):
    ft, ut = NP[fmt]
    return np.array(bits, dtype=np.uint64).astype(ut).view(ft)


def _mismatches(got, want, *inputs):
    bad = [(k, g, w) for k, (g, w) in enumerate(zip(got, want)) if g != w]
    return [f"inputs {[hex(x[k]) for x in inputs]}: model {g:#x}, reference {w:#x}"
            for k, g, w in bad[:10]], len(bad)


@pytest.mark.parametrize("fmt", list(NP), ids=lambda f: f.name)
def test_arith_vs_numpy(fmt):
    a, b, _ = _vectors(fmt)
    fa, fb = _floats(a, fmt), _floats(b, fmt)
    with np.errstate(all="ignore"):
        refs = {
            "add": (lambda x, y: model.fp_add_model(x, y, fmt), fa + fb),
            "sub": (lambda x, y: model.fp_sub_model(x, y, fmt), fa - fb),
            "mul": (lambda x, y: model.fp_mul_model(x, y, fmt), fa * fb),
            "div": (lambda x, y: model.fp_div_model(x, y, fmt), fa / fb),
            "sqrt": (lambda x, y: model.fp_sqrt_model(x, fmt), np.sqrt(fa)),
            "min": (lambda x, y: model.fp_min_model(x, y, fmt), np.minimum(fa, fb)),
            "max": (lambda x, y: model.fp_max_model(x, y, fmt), np.maximum(fa, fb)),
            "abs": (lambda x, y: model.fp_abs_model(x, fmt), np.abs(fa)),
            "neg": (lambda x, y: model.fp_neg_model(x, fmt), np.negative(fa)),
        }
    for name, (fn, ref) in refs.items():
        got = [fn(x, y) for x, y in zip(a, b)]
        want = _bits(ref, fmt)
        if name in ("min", "max"):
            # numpy leaves the choice between -0 and +0 unspecified.
            want = [g if (x | y) & ~fmt.sign_mask == 0 else w
                    for g, w, x, y in zip(got, want, a, b)]
        msgs, n = _mismatches(got, want, a, b)
        assert n == 0, f"{name}: {n} mismatches\n" + "\n".join(msgs)


@pytest.mark.parametrize("fmt", list(NP), ids=lambda f: f.name)
def test_compare_vs_numpy(fmt):
    a, b, _ = _vectors(fmt)
    fa, fb = _floats(a, fmt), _floats(b, fmt)
    for name, ref in (("eq", fa == fb), ("ne", fa != fb), ("lt", fa < fb), ("le", fa <= fb),
                      ("gt", fa > fb), ("ge", fa >= fb)):
        fn = getattr(model, f"fp_{name}_model")
        got = [fn(x, y, fmt) for x, y in zip(a, b)]
        assert got == [bool(r) for r in ref], name


@pytest.mark.parametrize("src", list(NP), ids=lambda f: f.name)
@pytest.mark.parametrize("dst", list(NP), ids=lambda f: f.name)
def test_fp_to_fp_vs_numpy(src, dst):
    a, _, _ = _vectors(src)
    with np.errstate(all="ignore"):
        ref = _floats(a, src).astype(NP[dst][0])
    got = [model.fp_to_fp_model(x, src, dst) for x in a]
    msgs, n = _mismatches(got, _bits(ref, dst), a)
    assert n == 0, "\n".join(msgs)


INT_TYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]


@pytest.mark.parametrize("fmt", list(NP), ids=lambda f: f.name)
@pytest.mark.parametrize("it", INT_TYPES, ids=lambda t: t.__name__)
def test_int_to_fp_vs_numpy(fmt, it):
    _, _, ints = _vectors(fmt)
    w = np.iinfo(it).bits
    signed = np.iinfo(it).min < 0
    raw = np.array([x & ((1 << w) - 1) for x in ints], dtype=np.uint64)
    vals = raw.astype(np.dtype(f"uint{w}")).view(it)
    with np.errstate(all="ignore"):
        ref = vals.astype(NP[fmt][0])
    got = [model.int_to_fp_model(int(x), fmt, w, signed) for x in raw]
    msgs, n = _mismatches(got, _bits(ref, fmt), [int(x) for x in raw])
    assert n == 0, "\n".join(msgs)


@pytest.mark.parametrize("fmt", list(NP), ids=lambda f: f.name)
@pytest.mark.parametrize("it", INT_TYPES, ids=lambda t: t.__name__)
def test_fp_to_int_vs_numpy_in_range(fmt, it):
    """In range, the model is numpy's cast (truncation); out of range it saturates."""
    a, _, _ = _vectors(fmt)
    a = a + V.int_edge_floats(fmt)
    info = np.iinfo(it)
    w, signed = info.bits, info.min < 0
    f64 = _floats(a, fmt).astype(np.float64)
    for x, v in zip(a, f64):
        got = model.fp_to_int_model(x, fmt, w, signed)
        if np.isnan(v):
            want = 0
        else:
            t = np.trunc(v)
            if np.isinf(t):
                want = int(info.max) if t > 0 else int(info.min)
            else:
                want = min(max(int(t), int(info.min)), int(info.max))
                if int(info.min) <= int(t) <= int(info.max):
                    assert want == int(np.array([t]).astype(it)[0])
        assert got == want & ((1 << w) - 1), (hex(x), v, got, want)


BF_LIKE = [BFLOAT16, FloatFormat(4, 3, "e4m3"), FloatFormat(5, 2, "e5m2"),
           FloatFormat(8, 10, "e8m10")]


def _via_f64(fmt, fn, *operands):
    """Compute in float64 (exact or innocuously double-rounded) and round to fmt."""
    vals = [np.array([model.fp_to_fp_model(x, fmt, BINARY64)], dtype=np.uint64)
            .view(np.float64)[0] for x in operands]
    with np.errstate(all="ignore"):
        r = np.float64(fn(*vals))
    bits = int(np.array([r]).view(np.uint64)[0])
    return model.fp_to_fp_model(bits, BINARY64, fmt)


@pytest.mark.parametrize("fmt", BF_LIKE, ids=lambda f: f.name)
def test_small_formats_vs_float64(fmt):
    a, b, ints = _vectors(fmt)
    n = min(len(a), 6000)
    for x, y, i in zip(a[:n], b[:n], ints[:n]):
        assert model.fp_add_model(x, y, fmt) == _via_f64(fmt, lambda p, q: p + q, x, y)
        assert model.fp_sub_model(x, y, fmt) == _via_f64(fmt, lambda p, q: p - q, x, y)
        assert model.fp_mul_model(x, y, fmt) == _via_f64(fmt, lambda p, q: p * q, x, y)
        assert model.fp_div_model(x, y, fmt) == _via_f64(fmt, lambda p, q: p / q, x, y)
        assert model.fp_sqrt_model(x, fmt) == _via_f64(fmt, np.sqrt, x)
        v = i & 0xFFFFFFFF
        sv = v - (1 << 32) if v >> 31 else v
        assert model.int_to_fp_model(v, fmt, 32, True) == \
            model.fp_to_fp_model(int(np.array([float(sv)]).view(np.uint64)[0]), BINARY64, fmt)


def test_canonical_nans():
    assert BINARY32.canonical_nan == 0x7FC00000
    assert BINARY16.canonical_nan == 0x7E00
    assert BFLOAT16.canonical_nan == 0x7FC0
    assert BINARY64.canonical_nan == 0x7FF8000000000000
    # sNaN and negative NaN inputs give the canonical NaN.
    assert model.fp_add_model(0xFF800001, 0x3F800000, BINARY32) == 0x7FC00000
    assert model.fp_mul_model(0x7F800000, 0x80000000, BINARY32) == 0x7FC00000
    assert model.fp_neg_model(0x7FC00000, BINARY32) == 0x7FC00000
    assert model.fp_to_fp_model(0xFFF0000000000001, BINARY64, BINARY16) == 0x7E00


def test_fp_to_int_rules():
    f = BINARY32
    assert model.fp_to_int_model(0x7FC00000, f, 32, True) == 0               # NaN
    assert model.fp_to_int_model(0x7F800000, f, 32, True) == 0x7FFFFFFF      # +inf
    assert model.fp_to_int_model(0xFF800000, f, 32, True) == 0x80000000      # -inf
    assert model.fp_to_int_model(0x4F000000, f, 32, True) == 0x7FFFFFFF      # 2**31
    assert model.fp_to_int_model(0xCF000000, f, 32, True) == 0x80000000      # -2**31
    assert model.fp_to_int_model(0xBFC00000, f, 32, True) == 0xFFFFFFFF      # -1.5 -> -1
    assert model.fp_to_int_model(0xBFC00000, f, 32, False) == 0              # -1.5 -> 0
    assert model.fp_to_int_model(0x4F800000, f, 32, False) == 0xFFFFFFFF     # 2**32
    assert model.fp_to_int_model(0x3FFFFFFF, f, 8, True) == 1                # 1.99 -> 1


def test_zero_signs():
    f = BINARY32
    assert model.fp_add_model(0x80000000, 0x80000000, f) == 0x80000000      # -0 + -0
    assert model.fp_add_model(0x80000000, 0x00000000, f) == 0x00000000      # -0 + +0
    assert model.fp_sub_model(0x3F800000, 0x3F800000, f) == 0x00000000      # 1 - 1
    assert model.fp_sqrt_model(0x80000000, f) == 0x80000000                  # sqrt(-0)
    assert model.fp_min_model(0x00000000, 0x80000000, f) == 0x80000000
    assert model.fp_max_model(0x80000000, 0x00000000, f) == 0x00000000
    assert model.int_to_fp_model(0, f, 32, True) == 0


def test_decode_rejects_wide_patterns():
    with pytest.raises(ValueError,
                       match=r"Bit pattern must be in 0\.\.2\*\*32-1, not 0x100000000"):
        model.fp_add_model(1 << 32, 0, BINARY32)
