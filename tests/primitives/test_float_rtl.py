"""primitives.float units in Verilator (cocotb), bit-exact against primitives.float.model.

One suite per format holds every unit (see float_harness): built once (cached by
Verilog hash under build/fp_sim), then one streamed run of all special-value pairs and
N random operand pairs (N = 5000, or $ALLO_RTL_FP_LONG) checks every unit at once;
the clock enable is toggled randomly so that holding is checked too.
"""
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import float_harness as H                      # noqa: E402
import float_vectors as V                      # noqa: E402

from primitives.float import (BINARY16, BFLOAT16, BINARY32, BINARY64, FORMATS,  # noqa: E402
                              FPAdd, FPMul, FPDiv, FPSqrt, FPCompare, FPMinMax,
                              IntToFP, FPToInt, FPToFP, fp_abs, fp_neg, model)

pytestmark = pytest.mark.rtl

FMTS = [BINARY16, BFLOAT16, BINARY32, BINARY64]
# A tiny format with bias <= mantissa bits: square roots can be subnormal, int64 -> float
# overflows, and every exponent is near an edge.
E3M4 = model.FloatFormat(3, 4, "e3m4")
F2I = [(32, True), (32, False), (64, True), (64, False), (8, True), (16, False), (1, True),
       (1, False)]
I2F = [(64, True), (64, False), (32, True), (32, False), (16, True), (8, False), (1, True),
       (1, False), (3, True)]
# Extra latencies. Latency 0 checks the datapath alone; the largest latency registers
# every boundary, so a value that skips a register shows up there; latency 1 registers
# only the output. Intermediate latencies register subsets of the same boundaries.
def extra_latencies(fmt, cls):
    if fmt is BINARY16:
        return (0, 1, 4, max(cls.CUTS))
    if fmt is BINARY32:
        return (0, max(cls.CUTS))
    return ()


def units(fmt):
    ab = {"a": "a", "b": "b"}
    u = [
        H.Unit("add", FPAdd(fmt), {**ab, "sub": "sub"}),
        H.Unit("mul", FPMul(fmt), ab),
        H.Unit("div", FPDiv(fmt), ab),
        H.Unit("sqrt", FPSqrt(fmt), {"a": "a"}),
        H.Unit("cmp", FPCompare(fmt), ab, ("eq", "ne", "lt", "le", "gt", "ge", "unordered")),
        H.Unit("minmax", FPMinMax(fmt), ab, ("min", "max")),
        H.Unit("absneg", outputs=("abs", "neg"), widths={"abs": fmt.width, "neg": fmt.width},
               fn=lambda s: {"abs": fp_abs(fmt, s.a), "neg": fp_neg(fmt, s.a)}),
    ]
    for lat in extra_latencies(fmt, FPAdd):
        u.append(H.Unit(f"add_l{lat}", FPAdd(fmt, latency=lat), {**ab, "sub": "sub"}))
    for lat in extra_latencies(fmt, FPMul):
        u.append(H.Unit(f"mul_l{lat}", FPMul(fmt, latency=lat), ab))
    if fmt.man_bits <= 10:                     # one-stage (combinational) recurrences
        u.append(H.Unit("div_lmin", FPDiv(fmt, latency=min(FPDiv(fmt).LATENCIES)), ab))
        u.append(H.Unit("sqrt_lmin", FPSqrt(fmt, latency=min(FPSqrt(fmt).LATENCIES)),
                        {"a": "a"}))
        u.append(H.Unit("div_l10", FPDiv(fmt, latency=10), ab))
        u.append(H.Unit("sqrt_l9", FPSqrt(fmt, latency=9), {"a": "a"}))
    for w, sg in F2I:
        u.append(H.Unit(f"f2i_{'s' if sg else 'u'}{w}", FPToInt(fmt, w, sg), {"a": "a"}))
    u.append(H.Unit("f2i_s32_l0", FPToInt(fmt, 32, True, latency=0), {"a": "a"}))
    for w, sg in I2F:
        u.append(H.Unit(f"i2f_{'s' if sg else 'u'}{w}", IntToFP(fmt, w, sg), {"a": "i"}))
    u.append(H.Unit("i2f_s64_l1", IntToFP(fmt, 64, True, latency=1), {"a": "i"}))
    for dst in FMTS:
        u.append(H.Unit(f"f2f_{dst.name}", FPToFP(fmt, dst), {"a": "a"}))
    u.append(H.Unit("f2f_e4m3_l0", FPToFP(fmt, model.FloatFormat(4, 3), latency=0),
                    {"a": "a"}))
    return u


def expected(name, fmt, a, b, sub, i):
    """The model's value of output ``name`` (a ``unit_port`` string) for one vector."""
    unit, _, port = name.partition(":")
    base = unit.split("_l")[0] if unit.startswith(("add", "mul", "div", "sqrt")) else unit
    if base == "add":
        return model.fp_add_model(a, b, fmt, sub)
    if base == "mul":
        return model.fp_mul_model(a, b, fmt)
    if base == "div":
        return model.fp_div_model(a, b, fmt)
    if base == "sqrt":
        return model.fp_sqrt_model(a, fmt)
    if unit == "cmp":
        if port == "unordered":
            return int(model.fp_compare_model(a, b, fmt) == "un")
        return int(getattr(model, f"fp_{port}_model")(a, b, fmt))
    if unit == "minmax":
        return getattr(model, f"fp_{port}_model")(a, b, fmt)
    if unit == "absneg":
        return getattr(model, f"fp_{port}_model")(a, fmt)
    if unit.startswith("f2i_"):
        spec = unit[4:].split("_")[0]
        return model.fp_to_int_model(a, fmt, int(spec[1:]), spec[0] == "s")
    if unit.startswith("i2f_"):
        spec = unit[4:].split("_")[0]
        w = int(spec[1:])
        return model.int_to_fp_model(i & ((1 << w) - 1), fmt, w, spec[0] == "s")
    if unit.startswith("f2f_"):
        dst = unit[4:]
        dst = model.FloatFormat(4, 3) if dst == "e4m3_l0" else FORMATS[dst]
        return model.fp_to_fp_model(a, fmt, dst)
    raise AssertionError(name)


_RUNS = {}


def suite_run(fmt):
    """Build (cached) and run the suite of ``fmt`` once per session."""
    if fmt.name not in _RUNS:
        us = units(fmt)
        build = H.build_suite(H.Suite(us, width=fmt.width), f"fpsuite_{fmt.name}")
        vec = V.stream(fmt, H.long_count(5000))
        rng = random.Random(1)
        n = len(vec["a"])
        en = [1 if k < len(vec["a"]) // 2 else int(rng.random() < 0.75) for k in range(n)]
        out = H.run_stream(build, vec, en)
        _RUNS[fmt.name] = (us, vec, out)
    return _RUNS[fmt.name]


OPS = ["add", "mul", "div", "sqrt", "cmp", "minmax", "absneg", "f2i", "i2f", "f2f",
       "latency_variants"]


def _check(fmt, select):
    us, vec, out = suite_run(fmt)
    n = len(vec["a"])
    failures, checked = [], 0
    for u in us:
        if not select(u.name):
            continue
        for port in u.outputs:
            got = out[u.name][port]
            for k in range(n):
                if got[k] is None:
                    continue
                checked += 1
                a, b, sub, i = vec["a"][k], vec["b"][k], vec["sub"][k], vec["i"][k]
                exp = expected(f"{u.name}:{port}", fmt, a, b, sub, i)
                if got[k] != exp:
                    failures.append(f"{u.name}.{port} a={a:#x} b={b:#x} sub={sub} i={i:#x}: "
                                    f"got {got[k]:#x}, expected {exp:#x}")
    assert checked > 0
    assert not failures, f"{len(failures)} mismatches of {checked}:\n" + "\n".join(failures[:20])
    return checked


def _selector(op):
    if op == "latency_variants":
        return lambda name: "_l" in name and not name.startswith("f2f_e4m3")
    return lambda name: (name == op or name.startswith(op + "_")) and "_l" not in name \
        or (op == "f2f" and name == "f2f_e4m3_l0") or (op == "f2i" and name == "f2i_s32_l0") \
        or (op == "i2f" and name == "i2f_s64_l1")


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("fmt", FMTS + [E3M4], ids=lambda f: f.name)
def test_rtl(fmt, op):
    _check(fmt, _selector(op))
