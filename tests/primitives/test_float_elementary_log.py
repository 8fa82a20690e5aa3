"""log/log2/log10/sin/cos/tan (binary32): model accuracy and hardware == model.

Model tests: >= 100k inputs per function (random bit patterns over every exponent, values
near 1, moderate and huge trig arguments, the special classes) against Python's float64
``math`` functions rounded to binary32, measuring the distance in binary32 ulps; the
documented bound is 1 ulp. Set ``ALLO_RTL_FP_LONG=<n>`` for n random inputs per function.

RTL tests (``-m rtl``): one Verilator suite with every unit (default latencies plus a few
other latencies) streamed with the specials and 6000 random vectors (or
``$ALLO_RTL_FP_LONG``) under a randomly toggled clock enable; bit-exact against the model.
"""
import math
import os
import random
import struct
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import float_harness as H                      # noqa: E402
import float_vectors as V                      # noqa: E402

from primitives.float import BINARY16, BINARY32, model  # noqa: E402
from primitives.float import logtrig_model as LM  # noqa: E402
from primitives.float.log import FPLog, FPLog2, FPLog10  # noqa: E402
from primitives.float.trig import FPSin, FPCos, FPTan  # noqa: E402

FUNCS = ("log", "log2", "log10", "sin", "cos", "tan")
MODELS = {f: getattr(LM, f"fp_{f}_model") for f in FUNCS}
REF = {"log": math.log, "log2": math.log2, "log10": math.log10,
       "sin": math.sin, "cos": math.cos, "tan": math.tan}
#: Documented accuracy of every unit, in binary32 ulps of the correctly rounded result.
MAX_ULP = 1
NAN = 0x7FC00000
PINF, NINF = 0x7F800000, 0xFF800000
ONE = 0x3F800000


def f32(bits):
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def bits32(x):
    """float64 -> binary32 bits, rounded to nearest (NaN -> canonical)."""
    if x != x:
        return NAN
    if math.isinf(x):
        return PINF if x > 0 else NINF
    try:
        return struct.unpack("<I", struct.pack("<f", x))[0]
    except OverflowError:
        return PINF if x > 0 else NINF


def ordinal(b):
    """Monotone integer of a non-NaN binary32 pattern (-0 and +0 coincide)."""
    return -(b & 0x7FFFFFFF) if b >> 31 else b


def reference(func, a):
    if func.startswith("log") and (a & 0x7FFFFFFF) == 0:
        return NINF                             # C: log(±0) = -inf (math raises)
    try:
        return bits32(REF[func](f32(a)))
    except ValueError:                          # math domain error
        return NAN


def ulp_distance(got, want):
    if got == NAN or want == NAN:
        return 0 if got == want else math.inf
    if (got & 0x7FFFFFFF) >= PINF or (want & 0x7FFFFFFF) >= PINF:
        return 0 if got == want else math.inf
    return abs(ordinal(got) - ordinal(want))


def pattern(e, man, sign=0):
    return (sign << 31) | (e << 23) | (man & 0x7FFFFF)


def special_inputs():
    out = list(V.specials(BINARY32))
    for e in (1, 2, 126, 127, 128, 254):                   # binade edges, both signs
        for man in (0, 1, 2, 0x7FFFFF, 0x7FFFFE, 0x400000):
            out += [pattern(e, man), pattern(e, man, 1)]
    for d in range(-300, 301):                              # around 1.0
        out.append(ONE + d)
    for k in range(-149, 128):                              # powers of two
        out.append(bits32(2.0 ** k))
    out += [0x00000001, 0x00000100, 0x00400000, 0x007FFFFF, 0x807FFFFF, 0x80000001]
    # Trig: multiples of pi/2 (and their float32 neighbours), huge arguments, the
    # worst case of the reduction (16367173 * 2**72) and the bypass threshold 2**-12.
    for k in list(range(1, 200)) + [10 ** 4, 10 ** 5, 10 ** 6, 10 ** 7, 2 ** 24, 2 ** 30]:
        b = bits32(k * math.pi / 2)
        out += [b - 1, b, b + 1, b | 0x80000000]
    out += [pattern(222, 16367173), pattern(161, 10741887), pattern(134, 16573937),
            pattern(223, 16367173), pattern(212, 10057457), pattern(167, 11617958)]
    out += [pattern(254, 0x7FFFFF), pattern(254, 0), pattern(200, 0x123456), 0x7F7FFFFF]
    for e in (113, 114, 115, 116):
        for man in (0, 1, 0x7FFFFF, 0x555555):
            out += [pattern(e, man), pattern(e, man, 1)]
    seen, uniq = set(), []
    for b in out:
        b &= 0xFFFFFFFF
        if b not in seen:
            seen.add(b)
            uniq.append(b)
    return uniq


def random_inputs(func, n, seed):
    rng = random.Random(f"{func}-{seed}")
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.5:                                         # every exponent
            out.append(rng.getrandbits(32))
        elif r < 0.65:                                      # near 1 / moderate
            out.append(pattern(rng.randint(112, 142), rng.getrandbits(23), rng.getrandbits(1)))
        elif r < 0.75:
            out.append(ONE + rng.randint(-(1 << 16), 1 << 16))
        elif r < 0.85:                                      # subnormal / tiny
            out.append(pattern(0, rng.getrandbits(23) >> rng.randrange(23),
                               rng.getrandbits(1)))
        else:                                               # large
            out.append(pattern(rng.randint(150, 254), rng.getrandbits(23), rng.getrandbits(1)))
    if func.startswith("log"):                              # mostly positive inputs
        out = [b & 0x7FFFFFFF if k % 8 else b for k, b in enumerate(out)]
    return out


N_MODEL = H.long_count(100000)


@pytest.mark.parametrize("func", FUNCS)
def test_model_ulp(func):
    fn = MODELS[func]
    inputs = special_inputs() + random_inputs(func, N_MODEL, 1)
    worst, worst_a, hist = 0, None, {}
    for a in inputs:
        d = ulp_distance(fn(a), reference(func, a))
        hist[d] = hist.get(d, 0) + 1
        if d > worst:
            worst, worst_a = d, a
    assert worst <= MAX_ULP, (f"{func}: {worst} ulp at a={worst_a:#010x} "
                              f"({f32(worst_a)!r}); histogram {sorted(hist.items())}")


@pytest.mark.parametrize("func", FUNCS)
def test_model_fixed_point_error(func):
    """Before the final rounding, the fixed-point value is within 2**-28 (relative) of
    the exact result (float64 reference): hence the 1-ulp bound."""
    inputs = [a & 0x7FFFFFFF for a in special_inputs()] + \
        [a & 0x7FFFFFFF for a in random_inputs(func, 20000, 2)]
    worst = 0.0
    for a in inputs:
        x = f32(a)
        if func.startswith("log"):
            if a == 0 or a >= PINF:
                continue
            sign, mag = LM.log_core(a, {"log": "e", "log2": "2", "log10": "10"}[func])
            got = (-1) ** sign * mag * 2.0 ** -LM.LOG_FY
        else:
            if a >= PINF or a < LM.TRIG_EMIN << 23:
                continue
            sign, p, e = LM.trig_fixed(a, func)
            got = (-1) ** sign * math.ldexp(p, e)
            if func == "tan":                   # the exact quotient (p is truncated)
                q, _, S, C = LM.trig_core(a)
                (na, ea), (nb, eb) = (LM._norm32(*v) for v in ((C, S) if q & 1 else (S, C)))
                got = (-1) ** sign * math.ldexp(na / nb, ea - eb)
        ref = REF[func](x)
        if ref == 0:
            assert got == 0
            continue
        worst = max(worst, abs(got - ref) / abs(ref))
    print(func, "worst relative error 2**%.2f" % math.log2(worst))
    assert worst < 2.0 ** -28, (func, math.log2(worst))


def test_model_specials():
    for func in ("log", "log2", "log10"):
        fn = MODELS[func]
        assert fn(0) == NINF and fn(0x80000000) == NINF
        assert fn(PINF) == PINF
        assert fn(NINF) == NAN
        assert fn(ONE) == 0
        for a in (0xBF800000, 0x80000001, 0xFF7FFFFF, NAN, 0x7F800001, 0xFFC00000,
                  0x7FFFFFFF):
            assert fn(a) == NAN, (func, hex(a))
    for k in range(-149, 128):
        assert MODELS["log2"](bits32(2.0 ** k)) == bits32(float(k))
    for func in ("sin", "cos", "tan"):
        fn = MODELS[func]
        for a in (PINF, NINF, NAN, 0x7F800001, 0xFFC00000, 0x7FFFFFFF):
            assert fn(a) == NAN, (func, hex(a))
    for a in (0, 0x80000000, 1, 0x80000001, 0x007FFFFF, 0x39800000, 0xB97FFFFF):
        assert MODELS["sin"](a) == a
        assert MODELS["tan"](a) == a
        assert MODELS["cos"](a) == ONE


def test_model_rejects_other_formats():
    for func in FUNCS:
        with pytest.raises(ValueError):
            MODELS[func](0x3C00, BINARY16)
    with pytest.raises(ValueError):
        FPLog(BINARY16)
    with pytest.raises(ValueError):
        FPSin(BINARY16)
    with pytest.raises(ValueError):
        FPLog(base="3")


def test_rn32_matches_round_pack():
    rng = random.Random(5)
    for _ in range(20000):
        mag = rng.getrandbits(rng.randint(1, 80)) | 1
        exp = rng.randint(-100, 40) - mag.bit_length()
        assert LM._rn32(1, mag, exp) == model.round_pack(1, mag, exp, BINARY32)


def test_model_widths():
    """The hardware's fixed widths hold for every table interval (r fits 27 bits)."""
    for j, inv in enumerate(LM.LOG_INV):
        lo = (1 << 23) | (j << (23 - LM.LOG_K))
        hi = lo + (1 << (23 - LM.LOG_K)) - 1
        for M in (lo, hi):
            r = M * inv - (1 << LM.LOG_RS)
            assert -(1 << 26) < r < (1 << 26), (j, r)
    assert LM.TRIG_W[LM.TRIG_EMIN - 1] == 0 and LM.TRIG_W[254] != 0


def test_latency_options():
    for cls in (FPLog, FPLog2, FPLog10, FPSin, FPCos, FPTan):
        assert cls().latency == cls.DEFAULT_LATENCY
        assert min(cls.CUTS) == 1
        with pytest.raises(ValueError):
            cls(latency=0)
    assert FPLog2().base == "2" and FPLog10().base == "10" and FPLog(base=2).base == "2"


# ---------------------------------------------------------------------------------------
# RTL
# ---------------------------------------------------------------------------------------

def _units():
    return [
        H.Unit("log", FPLog(), {"a": "a"}),
        H.Unit("log2", FPLog2(), {"a": "a"}),
        H.Unit("log10", FPLog10(), {"a": "a"}),
        H.Unit("sin", FPSin(), {"a": "a"}),
        H.Unit("cos", FPCos(), {"a": "a"}),
        H.Unit("tan", FPTan(), {"a": "a"}),
        H.Unit("log_l1", FPLog(latency=1), {"a": "a"}),        # combinational ROM
        H.Unit("log10_l9", FPLog10(latency=9), {"a": "a"}),
        H.Unit("sin_l1", FPSin(latency=1), {"a": "a"}),
        H.Unit("cos_l12", FPCos(latency=12), {"a": "a"}),
        H.Unit("tan_l20", FPTan(latency=20), {"a": "a"}),
        H.Unit("tan_l46", FPTan(latency=46), {"a": "a"}),      # two quotient bits/stage
    ]


_RUN = {}


def _suite_run():
    if not _RUN:
        units = _units()
        build = H.build_suite(H.Suite(units, width=32), "fpelem_logtrig")
        n = H.long_count(6000)
        a = special_inputs()
        rng = random.Random(9)
        for k in range(n):
            a += random_inputs(FUNCS[k % 6], 1, k)
        total = len(a)
        en = [1 if k < total // 3 else int(rng.random() < 0.7) for k in range(total)]
        vec = {"a": a, "b": [0] * total, "sub": [0] * total, "i": [0] * total}
        _RUN["r"] = (units, a, H.run_stream(build, vec, en))
    return _RUN["r"]


@pytest.mark.rtl
@pytest.mark.parametrize("func", FUNCS)
def test_rtl(func):
    units, a, out = _suite_run()
    fn = MODELS[func]
    failures, checked = [], 0
    for u in units:
        if u.name.split("_l")[0] != func:
            continue
        got = out[u.name]["result"]
        for k, x in enumerate(a):
            if got[k] is None:
                continue
            checked += 1
            want = fn(x)
            if got[k] != want:
                failures.append(f"{u.name} a={x:#010x}: got {got[k]:#010x}, "
                                f"expected {want:#010x}")
    assert checked >= 5000
    assert not failures, f"{len(failures)} mismatches of {checked}:\n" + "\n".join(failures[:20])
