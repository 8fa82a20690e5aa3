"""binary32 elementary functions exp, tanh, erf, pow (primitives.float FPExp, FPTanh,
FPErf, FPPow and their models).

1. Model accuracy: random inputs over every exponent plus the special classes; the
   model must be within ``ULP_BOUND`` of the float32 rounding of the double-precision
   reference (``math.exp``, ``math.tanh``, ``math.erf``, ``math.pow``), and special
   values must follow IEEE / C99 (``powf``: Annex F.9.4.4; checked against the C
   library's ``powf`` when it is available). ``N`` random inputs per function
   (``$ALLO_RTL_FP_LONG`` overrides).
2. RTL (``pytest.mark.rtl``): one Verilator suite holding every unit (default
   latencies and a few others) streams the special values and 5000 random vectors
   (``$ALLO_RTL_FP_LONG``) with a randomly toggled clock enable; every output must
   equal the model bit for bit.
"""
import ctypes
import ctypes.util
import math
import os
import random
import struct
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import float_harness as H                      # noqa: E402

from primitives.float import BINARY16, BINARY32, FPExp, FPTanh, FPErf, FPPow, model  # noqa: E402

#: Documented accuracy of every unit: at most 1 ulp from the correctly rounded result.
ULP_BOUND = 1
NAN = 0x7FC00000
INF = 0x7F800000
ONE = 0x3F800000
SIGN = 0x80000000


def f2b(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def b2f(b):
    return struct.unpack("<f", struct.pack("<I", b))[0]


def d2b(y):
    """Round a double to binary32 (nearest even), with overflow to infinity."""
    if y != y:
        return NAN
    try:
        return f2b(y)
    except OverflowError:
        return INF if y > 0 else INF | SIGN


def is_nan(b):
    return (b & 0x7FFFFFFF) > INF


def key(b):
    return -(b & 0x7FFFFFFF) if b >> 31 else b


def ulps(a, b):
    """Distance in binary32 ulps (±0 are equal; NaN only matches NaN)."""
    if is_nan(a) or is_nan(b):
        return 0 if is_nan(a) and is_nan(b) else 1 << 40
    return abs(key(a) - key(b))


def _ref1(fn):
    def ref(a):
        x = b2f(a)
        try:
            return d2b(fn(x))
        except OverflowError:
            return INF
    return ref


REF = {"exp": _ref1(math.exp), "tanh": _ref1(math.tanh), "erf": _ref1(math.erf)}


def ref_pow(a, b):
    x, y = b2f(a), b2f(b)
    try:
        return d2b(math.pow(x, y))
    except (ValueError, OverflowError):
        pass
    # math.pow raises where C returns a value: pow(0, y<0), overflow, x<0 non-integer y.
    if x == 0 and y < 0:
        odd = y == int(y) and int(y) % 2 == 1
        return INF | (SIGN if odd and math.copysign(1, x) < 0 else 0)
    if x < 0 and y != int(y):
        return NAN
    odd = x < 0 and y == int(y) and int(y) % 2 == 1
    return INF | (SIGN if odd else 0)


MODEL = {"exp": model.fp_exp_model, "tanh": model.fp_tanh_model,
         "erf": model.fp_erf_model}

N = H.long_count(100_000)


def specials():
    pos = [0, 1, 2, 0x007FFFFF, 0x00800000, 0x00800001, 0x7F7FFFFF, 0x7F7FFFFE, INF,
           NAN, NAN | 1, INF | 1, 0x7FFFFFFF, ONE, ONE + 1, ONE - 1, 0x3F000000,
           0x40000000, 0x40400000, 0x3FC00000, 0x41200000, 0x33800000, 0x33000000,
           0x39000000, 0x38FFFFFF, 0x4B000000, 0x4B000001, 0x4B800000, 0x4F000000]
    # exp overflow / subnormal / underflow thresholds, tanh and erf saturation,
    # the tanh/erf linear range boundary (2**-13).
    for x in (88.72283935546875, 88.7228317, -87.33654, -103.27893, -103.97208, -104.0,
              9.010913, 3.9192059, 3.9, 2.0 ** -13, 128.0, 127.99999):
        b = f2b(abs(x))
        pos += [b - 2, b - 1, b, b + 1, b + 2]
    out = []
    for p in pos:
        for s in (0, SIGN):
            if (p | s) not in out:
                out.append(p | s)
    return out


def random_arg(fn, rng):
    """A random binary32 operand for ``fn`` (bit pattern)."""
    c = rng.random()
    if c < 0.25:
        return rng.getrandbits(32)                    # every exponent, NaN/inf included
    if c < 0.4:                                       # log-uniform magnitude
        lo, hi = {"exp": (-40, 7), "tanh": (-30, 4), "erf": (-30, 2)}[fn]
        return f2b(math.ldexp(rng.uniform(1, 2), rng.randint(lo, hi))) | (SIGN * rng.getrandbits(1))
    if c < 0.45:                                      # subnormal
        return rng.getrandbits(23) >> rng.randrange(23) | (SIGN * rng.getrandbits(1))
    if c < 0.55:                                      # near a threshold
        t = rng.choice([88.72283935546875, -87.33654, -103.97208, -103.27893, 9.010913,
                        -9.010913, 3.9192059, -3.9192059, 2.0 ** -13, -(2.0 ** -13)])
        return (f2b(t) + rng.randint(-300, 300)) & 0xFFFFFFFF
    lo, hi = {"exp": (-105, 90), "tanh": (-10, 10), "erf": (-4.5, 4.5)}[fn]
    return f2b(rng.uniform(lo, hi))


def random_pow(rng):
    """A random (x, y) pair, mostly with finite non-trivial results."""
    c = rng.random()
    if c < 0.15:
        return rng.getrandbits(32), rng.getrandbits(32)
    if c < 0.2:                                       # specials mixed with randoms
        sp = specials()
        return (rng.choice(sp), rng.getrandbits(32)) if rng.random() < 0.5 else \
            (rng.getrandbits(32), rng.choice(sp))
    x = b2f(rng.getrandbits(31))
    if c < 0.35:
        x = 1 + rng.uniform(-1, 1) * 2.0 ** -rng.randint(1, 24)   # near 1
    elif c < 0.5:
        x = rng.uniform(0, 4)
    elif c < 0.55:
        x = math.ldexp(rng.uniform(1, 2), rng.randint(-149, -126))  # subnormal-ish
    if not math.isfinite(x) or x == 0:
        x = 0.75
    x = b2f(f2b(x))
    lx = math.log(abs(x)) or 2.0 ** -30
    y = rng.uniform(-106, 91) / lx
    if c > 0.8:
        y = float(round(y))                           # integer exponents (signs)
        if abs(y) > 2 ** 24:
            y = float(rng.randint(-40, 40))
    if rng.random() < 0.35:
        x = -x
    try:
        yb = f2b(y)
    except OverflowError:
        yb = ONE
    return f2b(x), yb


# --------------------------------------------------------------------------- model

@pytest.mark.parametrize("fn", ["exp", "tanh", "erf"])
def test_model_ulp(fn):
    rng = random.Random(f"elem-{fn}")
    mdl, ref = MODEL[fn], REF[fn]
    worst, failures = 0, []
    inputs = specials() + [random_arg(fn, rng) for _ in range(N)]
    for a in inputs:
        got = mdl(a, BINARY32)
        exp = ref(a)
        if is_nan(exp):
            ok = got == NAN
            d = 0 if ok else 1 << 40
        else:
            d = ulps(got, exp)
            ok = d <= ULP_BOUND
        worst = max(worst, d)
        if not ok:
            failures.append(f"{fn}({a:#010x}={b2f(a)!r}): got {got:#010x}, ref {exp:#010x}")
    assert not failures, f"{len(failures)} of {len(inputs)}:\n" + "\n".join(failures[:20])
    assert worst <= ULP_BOUND


def test_model_pow_ulp():
    rng = random.Random("elem-pow")
    failures, n = [], 0
    sp = specials()
    pairs = [(x, y) for x in sp[::3] for y in sp] + [random_pow(rng) for _ in range(N // 2)]
    for a, b in pairs:
        got, exp = model.fp_pow_model(a, b, BINARY32), ref_pow(a, b)
        n += 1
        if is_nan(exp):
            ok = got == NAN
        else:
            ok = ulps(got, exp) <= ULP_BOUND
        if not ok:
            failures.append(f"pow({a:#010x}={b2f(a)!r}, {b:#010x}={b2f(b)!r}): got {got:#010x}, "
                            f"ref {exp:#010x}")
    assert not failures, f"{len(failures)} of {n}:\n" + "\n".join(failures[:20])


def test_model_special_values():
    e, t, f, p = (model.fp_exp_model, model.fp_tanh_model, model.fp_erf_model,
                  model.fp_pow_model)
    F = BINARY32
    nans = [NAN, NAN | 1, INF | 1, 0x7FFFFFFF, 0xFFC00000, 0xFF800001]
    for n in nans:
        assert e(n, F) == NAN and t(n, F) == NAN and f(n, F) == NAN
    # exp
    assert e(0, F) == ONE and e(SIGN, F) == ONE
    assert e(INF, F) == INF and e(INF | SIGN, F) == 0
    assert e(0x42B17217, F) == 0x7F7FFF84                     # largest finite result
    assert e(0x42B17218, F) == INF and e(0x7F7FFFFF, F) == INF
    assert e(f2b(-104.0), F) == 0 and e(0xFF7FFFFF, F) == 0
    assert e(f2b(-103.97), F) == 1                            # smallest subnormal
    assert e(1, F) == ONE and e(1 | SIGN, F) == ONE
    assert e(ONE, F) == f2b(math.e)
    # tanh, erf: odd, ±0, tiny (subnormal) arguments, saturation
    for fn, slope in ((t, 1.0), (f, 2 / math.sqrt(math.pi))):
        assert fn(0, F) == 0 and fn(SIGN, F) == SIGN
        assert fn(INF, F) == ONE and fn(INF | SIGN, F) == ONE | SIGN
        assert fn(0x7F7FFFFF, F) == ONE and fn(0xFF7FFFFF, F) == ONE | SIGN
        for a in (1, 2, 0x3FF, 0x7FFFFF, 0x800000, 0x33800000):
            assert fn(a, F) == d2b(slope * b2f(a)), hex(a)
            assert fn(a | SIGN, F) == fn(a, F) | SIGN
    assert t(f2b(9.010913), F) == ONE and t(f2b(10.0), F) == ONE
    assert t(f2b(8.5), F) == ONE - 1 == d2b(math.tanh(8.5))
    assert f(f2b(3.9192059), F) == ONE and f(f2b(4.0), F) == ONE
    assert f(f2b(3.8), F) == ONE - 1 == d2b(math.erf(3.8))
    # pow: C99 Annex F.9.4.4
    x_vals = [0, SIGN, ONE, ONE | SIGN, INF, INF | SIGN, NAN, 0x3F000000, 0xBF000000,
              0x40000000, 0xC0000000, 1, 0x80000001]
    for x in x_vals:
        assert p(x, 0, F) == ONE and p(x, SIGN, F) == ONE         # pow(x, ±0) = 1
    for y in [0, SIGN, NAN, INF, INF | SIGN, 0x3F000000, 0xC0400000, 0x7F7FFFFF]:
        assert p(ONE, y, F) == ONE                               # pow(+1, y) = 1
    assert p(ONE | SIGN, INF, F) == ONE and p(ONE | SIGN, INF | SIGN, F) == ONE
    assert p(NAN, ONE, F) == NAN and p(ONE | SIGN, NAN, F) == NAN and p(0x40000000, NAN, F) == NAN
    three, mthree, two, mtwo, half = 0x40400000, 0xC0400000, 0x40000000, 0xC0000000, 0x3F000000
    assert p(0, mthree, F) == INF and p(SIGN, mthree, F) == INF | SIGN
    assert p(SIGN, mtwo, F) == INF and p(SIGN, half | SIGN, F) == INF
    assert p(SIGN, INF | SIGN, F) == INF
    assert p(0, three, F) == 0 and p(SIGN, three, F) == SIGN and p(SIGN, two, F) == 0
    assert p(SIGN, half, F) == 0 and p(SIGN, INF, F) == 0
    assert p(half, INF | SIGN, F) == INF and p(two, INF | SIGN, F) == 0
    assert p(half, INF, F) == 0 and p(two | SIGN, INF, F) == INF
    assert p(INF | SIGN, mthree, F) == SIGN and p(INF | SIGN, mtwo, F) == 0
    assert p(INF | SIGN, three, F) == INF | SIGN and p(INF | SIGN, two, F) == INF
    assert p(INF, mtwo, F) == 0 and p(INF, half, F) == INF
    assert p(mtwo, half, F) == NAN and p(0xBF000000, 0x3FC00000, F) == NAN
    assert p(mtwo, three, F) == f2b(-8.0) and p(mtwo, two, F) == f2b(4.0)
    assert p(mtwo, mthree, F) == f2b(-0.125)
    for k in range(-149, 128):                                   # exact powers of two
        assert p(two, f2b(float(k)), F) == d2b(2.0 ** k), k
    for x in (0.1, 1.5, 3.0, 1e-20, 7.5e30):
        assert p(f2b(x), ONE, F) == f2b(x)                       # pow(x, 1) = x
    assert p(two, f2b(128.0), F) == INF and p(mtwo, f2b(129.0), F) == INF | SIGN
    assert p(two, f2b(-150.0), F) == 0 and p(mtwo, f2b(-151.0), F) == SIGN


def _libm_powf():
    name = ctypes.util.find_library("m")
    if not name:
        return None
    try:
        fn = ctypes.CDLL(name).powf
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_float
    fn.argtypes = [ctypes.c_float, ctypes.c_float]
    return fn


def test_model_pow_vs_libm():
    """Special classes against the C library's powf (NaN: any NaN; else <= 1 ulp, and
    exact when the C result is 0, ±inf or ±1)."""
    powf = _libm_powf()
    if powf is None:
        pytest.skip("no C math library")
    sp = specials()
    failures = []
    for a in sp:
        for b in sp:
            got = model.fp_pow_model(a, b, BINARY32)
            c = d2b(powf(b2f(a), b2f(b)))
            exact = (c & 0x7FFFFFFF) in (0, INF, ONE)
            if is_nan(c):
                ok = got == NAN
            else:
                ok = got == c if exact else ulps(got, c) <= ULP_BOUND
            if not ok:
                failures.append(f"pow({a:#010x}, {b:#010x}): got {got:#010x}, powf {c:#010x}")
    assert not failures, f"{len(failures)}:\n" + "\n".join(failures[:20])


def test_model_formats():
    for fn in (model.fp_exp_model, model.fp_tanh_model, model.fp_erf_model):
        with pytest.raises(ValueError):
            fn(0, BINARY16)
    with pytest.raises(ValueError):
        model.fp_pow_model(0, 0, BINARY16)
    for cls in (FPExp, FPTanh, FPErf, FPPow):
        with pytest.raises(ValueError):
            cls(BINARY16)
        with pytest.raises(ValueError):
            cls(latency=len(cls.PRIORITY) + 1)
        assert cls().latency == cls.DEFAULT_LATENCY


# ----------------------------------------------------------------------------- RTL

UNITS = [
    ("exp", FPExp, None), ("tanh", FPTanh, None), ("erf", FPErf, None), ("pow", FPPow, None),
    ("exp_l0", FPExp, 0), ("exp_l5", FPExp, 5), ("tanh_l0", FPTanh, 0),
    ("erf_l9", FPErf, 9), ("pow_l0", FPPow, 0), ("pow_l13", FPPow, 13),
]
RTL_N = H.long_count(5000)
_RUN = {}


def _suite_run():
    if not _RUN:
        us = [H.Unit(name, cls(latency=lat), {"a": "a", "b": "b"} if cls is FPPow else {"a": "a"})
              for name, cls, lat in UNITS]
        build = H.build_suite(H.Suite(us, width=32), "fpsuite_elem_exp")
        rng = random.Random("elem-rtl")
        sp = specials()
        a = list(sp) + [x for x in sp for _ in sp[:8]]
        b = [ONE] * len(sp) + [y for _ in sp for y in sp[:8]]
        for k in range(RTL_N):
            if k % 2:
                x, y = random_pow(rng)
            else:
                x, y = random_arg(("exp", "tanh", "erf")[k % 3], rng), rng.choice(sp)
            a.append(x)
            b.append(y)
        n = len(a)
        en = [1 if k < n // 2 else int(rng.random() < 0.75) for k in range(n)]
        out = H.run_stream(build, {"a": a, "b": b}, en)
        _RUN.update(units=us, a=a, b=b, out=out)
    return _RUN


@pytest.mark.rtl
@pytest.mark.parametrize("unit", [u[0] for u in UNITS])
def test_rtl(unit):
    run = _suite_run()
    base = unit.split("_")[0]
    got = run["out"][unit]["result"]
    failures, checked = [], 0
    for k, (a, b) in enumerate(zip(run["a"], run["b"])):
        if got[k] is None:
            continue
        checked += 1
        exp = model.fp_pow_model(a, b, BINARY32) if base == "pow" else MODEL[base](a, BINARY32)
        if got[k] != exp:
            failures.append(f"{unit} a={a:#010x} b={b:#010x}: got {got[k]:#x}, model {exp:#x}")
    assert checked > 5000
    assert not failures, f"{len(failures)} of {checked}:\n" + "\n".join(failures[:20])
