"""Constructor checks, latency tables and Verilog emission of primitives.float units."""
import pytest
from amaranth.back import verilog
from amaranth.hdl import Signal
from amaranth.lib import wiring

from primitives.float import (BINARY16, BFLOAT16, BINARY32, BINARY64, FloatFormat, FPAdd,
                              FPMul, FPDiv, FPSqrt, FPCompare, FPMinMax, IntToFP, FPToInt,
                              FPToFP, fp_abs, fp_neg)


def test_format_properties():
    assert (BINARY32.width, BINARY32.bias, BINARY32.exp_max) == (32, 127, 255)
    assert (BINARY16.width, BFLOAT16.width, BINARY64.width) == (16, 16, 64)
    assert BINARY32.one == 0x3F800000 and BINARY32.inf == 0x7F800000
    assert BINARY32.max_normal == 0x7F7FFFFF and BINARY32.min_normal == 0x00800000
    assert FloatFormat(5, 2).name == "e5m2"


@pytest.mark.parametrize("args, message", [
    ((1, 3), r"Exponent width must be an integer in 2\.\.15, not 1"),
    ((16, 3), r"Exponent width must be an integer in 2\.\.15, not 16"),
    ((5, 0), r"Mantissa width must be an integer in 1\.\.112, not 0"),
])
def test_format_rejects(args, message):
    with pytest.raises(ValueError, match=message):
        FloatFormat(*args)


@pytest.mark.parametrize("cls, default, top", [
    (FPAdd, 9, 11), (FPMul, 9, 10), (FPCompare, 1, 1), (FPMinMax, 1, 1),
])
def test_latency_tables(cls, default, top):
    assert cls(BINARY32).latency == default
    assert max(cls.CUTS) == top
    for lat in cls.CUTS:
        assert cls(BINARY32, latency=lat).latency == lat
        assert len(cls.CUTS[lat]) == lat


def test_latency_rejects():
    with pytest.raises(ValueError, match=r"FPAdd latency must be one of 0, 1, 2, 3, 4, 5, 6, "
                                         r"7, 8, 9, 10, 11, not 12"):
        FPAdd(BINARY32, latency=12)
    with pytest.raises(TypeError, match=r"Latency must be an integer, not '3'"):
        FPMul(BINARY32, latency="3")
    with pytest.raises(ValueError, match=r"FPDiv latency must be one of 8, 9, 10, 11, 12, 13, "
                                         r"14, 16, 20, 33, not 15"):
        FPDiv(BINARY32, latency=15)
    with pytest.raises(TypeError, match=r"Format must be a FloatFormat, not 'binary32'"):
        FPAdd("binary32")
    with pytest.raises(TypeError, match=r"Destination format must be a FloatFormat, not 32"):
        FPToFP(BINARY32, 32)


def test_div_sqrt_latencies():
    assert FPDiv(BINARY32).latency == 33 and FPDiv(BINARY32).steps_per_stage == 1
    assert FPSqrt(BINARY32).latency == 31 and FPSqrt(BINARY32).steps_per_stage == 1
    assert FPDiv(BINARY16).latency == 20 and FPSqrt(BINARY16).latency == 18
    assert FPDiv(BFLOAT16).latency == 17 and FPSqrt(BFLOAT16).latency == 15
    assert FPDiv(BINARY64).latency == 62 and FPSqrt(BINARY64).latency == 60
    assert FPDiv(BINARY32, latency=20).steps_per_stage == 2
    assert FPDiv(BINARY32, latency=8).steps_per_stage == 26
    assert FPSqrt(BINARY32, latency=7).steps_per_stage == 25


@pytest.mark.parametrize("cls", [IntToFP, FPToInt])
def test_int_width_rejects(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__} width must be in 1\.\.64, not 65"):
        cls(BINARY32, 65, True)
    with pytest.raises(ValueError, match=rf"{cls.__name__} width must be in 1\.\.64, not 0"):
        cls(BINARY32, 0, True)
    with pytest.raises(TypeError, match=rf"{cls.__name__} signed must be a bool, not 1"):
        cls(BINARY32, 8, 1)


def test_ports():
    add = FPAdd(BINARY16)
    assert set(add.signature.members) == {"a", "b", "sub", "en", "result"}
    assert add.signature.members["a"] == wiring.In(16)
    assert add.signature.members["result"] == wiring.Out(16)
    cmp = FPCompare(BINARY32)
    assert set(cmp.signature.members) == {"a", "b", "en", "eq", "ne", "lt", "le", "gt", "ge",
                                          "unordered"}
    assert set(FPMinMax(BINARY32).signature.members) == {"a", "b", "en", "min", "max"}
    i2f = IntToFP(BINARY64, 17, False)
    assert i2f.signature.members["a"] == wiring.In(17)
    assert i2f.signature.members["result"] == wiring.Out(64)
    f2i = FPToInt(BFLOAT16, 5, True)
    assert f2i.signature.members["result"] == wiring.Out(5)
    f2f = FPToFP(BINARY64, BFLOAT16)
    assert f2f.signature.members["a"] == wiring.In(64)
    assert f2f.signature.members["result"] == wiring.Out(16)


def test_abs_neg_check_width():
    with pytest.raises(ValueError, match=r"Value must be 32 bits wide for binary32, not 16"):
        fp_abs(BINARY32, Signal(16))
    assert len(fp_neg(BINARY16, Signal(16))) == 16


@pytest.mark.parametrize("make", [
    lambda: FPAdd(BINARY32), lambda: FPMul(BFLOAT16), lambda: FPDiv(BINARY16),
    lambda: FPSqrt(BINARY16), lambda: FPCompare(BINARY64), lambda: FPMinMax(BINARY16),
    lambda: IntToFP(BINARY32, 32, True), lambda: FPToInt(BINARY32, 32, False),
    lambda: FPToFP(BINARY32, BINARY16),
], ids=["add", "mul", "div", "sqrt", "cmp", "minmax", "i2f", "f2i", "f2f"])
def test_verilog_deterministic(make):
    a = verilog.convert(make(), name="unit")
    b = verilog.convert(make(), name="unit")
    assert a == b
    assert "module unit" in a
