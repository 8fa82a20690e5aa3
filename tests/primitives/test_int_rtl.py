"""primitives.int units: constructor checks, the models against allo_rtl.ir.numerics,
and the units in Verilator (cocotb), bit-exact against numerics.

The RTL part reuses float_harness: one suite (64-bit stimulus ports ``a`` and ``b``;
each unit takes their low bits) holds every divider and multiplier configuration. It
is built once (cached by Verilog hash under build/fp_sim), then one streamed run checks
every unit on the same vectors: for each width 1, 3, 8, 16, 32, 64 all pairs of corner
values (0, ±1, ±2, min, max, ...) and random operands of random magnitude (5000 for 8
and 32 bits, 1500 for 16 and 64; scaled by $ALLO_RTL_FP_LONG). In the second half of
the run the clock enable is toggled randomly, so every unit's stall (hold) behaviour
is checked too.
"""
import itertools
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import float_harness as H                      # noqa: E402

from allo_rtl.ir import numerics as N          # noqa: E402
from allo_rtl.ir.types import Int, UInt        # noqa: E402
from primitives.int import IntDiv, IntMul, model   # noqa: E402


WIDTHS = (1, 3, 8, 16, 32, 64)


def _value(bits, width, signed):
    return N.wrap(bits, Int(width)) if signed else bits


def numerics_div(a, b, width, signed, floor):
    """(quotient, remainder) bits from allo_rtl.ir.numerics: c_div/c_mod, or floor_div
    and Python's % (``a - b * floor_div(a, b)``, which is ``a`` for ``b == 0``)."""
    x, y = _value(a, width, signed), _value(b, width, signed)
    if floor:
        q = N.floor_div(x, y)
        r = x - y * q
    else:
        q, r = N.c_div(x, y), N.c_mod(x, y)
    mask = (1 << width) - 1
    return q & mask, r & mask


def numerics_mul(a, b, wa, wb, sa, sb, out):
    t = Int(out)
    return N.wrap(_value(a, wa, sa) * _value(b, wb, sb), t) & ((1 << out) - 1)


# ------------------------------------------------------------------ constructor, model

def test_div_latency_and_cuts():
    d = IntDiv(32, True)
    assert (d.latency, d.max_latency, len(d.cuts)) == (34, 34, 34)
    assert IntDiv(32, False).latency == 32
    assert IntDiv(8, True, 0).cuts == ()
    assert IntDiv(8, True, 1).cuts == (9,)                 # the output register
    assert IntDiv(8, False, 4).cuts == (1, 3, 5, 7)
    assert IntDiv(8, True, 5, floor=True).floor


def test_mul_latency():
    assert IntMul(32, 32, True, True, 32).latency == 2
    assert IntMul.CUTS == {0: (), 1: (1,), 2: (1, 2), 3: (0, 1, 2)}
    m = IntMul(32, 32, True, True, 32, 0)
    assert (len(m.a), len(m.b), len(m.result)) == (32, 32, 32)


@pytest.mark.parametrize("make, exc, message", [
    (lambda: IntDiv(0, True), ValueError, r"IntDiv width must be a positive integer, not 0"),
    (lambda: IntDiv(8.0, True), TypeError, r"IntDiv width must be an integer, not 8\.0"),
    (lambda: IntDiv(8, 1), TypeError, r"IntDiv signed must be a bool, not 1"),
    (lambda: IntDiv(8, True, 11), ValueError, r"IntDiv latency must be in 0\.\.10, not 11"),
    (lambda: IntDiv(8, False, 9), ValueError, r"IntDiv latency must be in 0\.\.8, not 9"),
    (lambda: IntDiv(8, True, "3"), TypeError, r"IntDiv latency must be an integer, not '3'"),
    (lambda: IntDiv(8, True, floor=None), TypeError, r"IntDiv floor must be a bool, not None"),
    (lambda: IntMul(8, 0, True, True, 8), ValueError,
     r"IntMul b_width must be a positive integer, not 0"),
    (lambda: IntMul(8, 8, True, True, 8, 4), ValueError,
     r"IntMul latency must be in 0\.\.3, not 4"),
    (lambda: IntMul(8, 8, True, "no", 8), TypeError, r"IntMul b_signed must be a bool, not 'no'"),
])
def test_rejects(make, exc, message):
    with pytest.raises(exc, match=message):
        make()


@pytest.mark.parametrize("width", [1, 2, 3, 5])
def test_div_model_exhaustive(width):
    for signed, floor in itertools.product((False, True), repeat=2):
        for a, b in itertools.product(range(1 << width), repeat=2):
            assert model.int_div_model(a, b, width, signed, floor) == \
                numerics_div(a, b, width, signed, floor), (a, b, signed, floor)


def test_div_model_random_and_python_semantics():
    rng = random.Random(3)
    for _ in range(3000):
        w = rng.choice(WIDTHS)
        a, b = rng.getrandbits(w), rng.getrandbits(rng.randint(1, w))
        for signed, floor in itertools.product((False, True), repeat=2):
            q, r = model.int_div_model(a, b, w, signed, floor)
            assert (q, r) == numerics_div(a, b, w, signed, floor)
            x, y = _value(a, w, signed), _value(b, w, signed)
            if floor and y != 0:                # Python's // and % wrapped
                assert (q, r) == ((x // y) & ((1 << w) - 1), (x % y) & ((1 << w) - 1))


def test_mul_model():
    rng = random.Random(4)
    for _ in range(3000):
        wa, wb, out = rng.randint(1, 40), rng.randint(1, 40), rng.randint(1, 90)
        sa, sb = rng.random() < 0.5, rng.random() < 0.5
        a, b = rng.getrandbits(wa), rng.getrandbits(wb)
        assert model.int_mul_model(a, b, wa, wb, sa, sb, out) == \
            numerics_mul(a, b, wa, wb, sa, sb, out)


# ------------------------------------------------------------------ RTL

def _div_configs():
    """name -> (width, signed, latency, floor)."""
    c = {}
    for w in WIDTHS:
        for sg in (False, True):
            t = f"{'s' if sg else 'u'}{w}"
            c[f"div_{t}"] = (w, sg, None, False)
            if sg:
                c[f"divf_{t}"] = (w, sg, None, True)
    for w, sg in [(8, True), (8, False), (32, True), (32, False)]:
        top = w + 2 * sg
        for lat in (0, 1, top // 2):
            c[f"div_{'s' if sg else 'u'}{w}_l{lat}"] = (w, sg, lat, False)
    c["divf_s8_l0"] = (8, True, 0, True)
    c["divf_s32_l11"] = (32, True, 11, True)
    c["divf_u8_l3"] = (8, False, 3, True)
    c["div_s3_l2"] = (3, True, 2, False)
    c["div_s1_l0"] = (1, True, 0, False)
    return c


def _mul_configs():
    """name -> (a_width, b_width, a_signed, b_signed, out_width, latency)."""
    c = {f"mul_ss32_l{lat}": (32, 32, True, True, 32, lat) for lat in range(4)}
    c.update({
        "mul_uu32x64": (32, 32, False, False, 64, 2),
        "mul_ss32x64": (32, 32, True, True, 64, 3),
        "mul_su32x64": (32, 32, True, False, 64, 1),
        "mul_su8x16": (8, 8, True, False, 16, 2),
        "mul_ss8x8_l0": (8, 8, True, True, 8, 0),
        "mul_us16x8to24": (16, 8, False, True, 24, 1),
        "mul_ss3x5to12": (3, 5, True, True, 12, 2),
        "mul_ss1x1to1": (1, 1, True, True, 1, 1),
        "mul_ss1x1to3": (1, 1, True, True, 3, 0),
        "mul_ss64": (64, 64, True, True, 64, 2),
        "mul_uu64x128": (64, 64, False, False, 128, 3),
        "mul_su20x40to70": (20, 40, True, False, 70, 2),
        "mul_us40x40to33": (40, 40, False, True, 33, 3),
    })
    return c


DIVS, MULS = _div_configs(), _mul_configs()


def units():
    us = []
    for name, (w, sg, lat, fl) in DIVS.items():
        us.append(H.Unit(name, IntDiv(w, sg, lat, floor=fl), {"a": "a", "b": "b"},
                         ("quotient", "remainder")))
    for name, (wa, wb, sa, sb, out, lat) in MULS.items():
        us.append(H.Unit(name, IntMul(wa, wb, sa, sb, out, lat), {"a": "a", "b": "b"}))
    return us


def _corners(w):
    m = (1 << w) - 1
    vals = {0, 1, 2, 3, m, m - 1, m - 2, 1 << (w - 1), (1 << (w - 1)) - 1, (1 << (w - 1)) + 1,
            1 << (w // 2), (1 << (w // 2)) - 1, 0x5555555555555555, 0xAAAAAAAAAAAAAAAA}
    return sorted({v & m for v in vals})


def _extend(bits, w, rng):
    """A 64-bit stimulus whose low ``w`` bits are ``bits``: sign-extended, or random
    above."""
    if rng.random() < 0.5:
        return N.wrap(N.wrap(bits, Int(w)), UInt(64))
    return bits | (rng.getrandbits(64 - w) << w if w < 64 else 0)


def _random(w, rng):
    """A ``w``-bit pattern of random magnitude (bit length uniform in 0..w) and sign."""
    v = rng.getrandbits(rng.randint(0, w))
    return (-v if rng.random() < 0.5 else v) & ((1 << w) - 1)


def vectors():
    rng = random.Random(7)
    a, b = [], []
    counts = {1: 0, 3: 0, 8: 5000, 16: 1500, 32: 5000, 64: 1500}
    for w in WIDTHS:
        pairs = list(itertools.product(_corners(w), repeat=2))
        for _ in range(H.long_count(counts[w]) if counts[w] else 0):
            x = _random(w, rng)
            # Small divisors (and quotients of every size) as often as large ones.
            y = _random(w, rng) if rng.random() < 0.7 else _random(min(w, rng.randint(1, 6)), rng)
            pairs.append((x, y & ((1 << w) - 1)))
        for x, y in pairs:
            a.append(_extend(x, w, rng))
            b.append(_extend(y, w, rng))
    return {"a": a, "b": b}


_RUN = {}


def suite_run():
    if not _RUN:
        us = units()
        build = H.build_suite(H.Suite(us, width=64), "intsuite")
        vec = vectors()
        n = len(vec["a"])
        rng = random.Random(1)
        en = [1 if k < n // 2 else int(rng.random() < 0.75) for k in range(n)]
        _RUN["r"] = (us, vec, H.run_stream(build, vec, en), en)
    return _RUN["r"]


def expected(name, a, b):
    if name in DIVS:
        w, sg, _, fl = DIVS[name]
        m = (1 << w) - 1
        return dict(zip(("quotient", "remainder"), numerics_div(a & m, b & m, w, sg, fl)))
    wa, wb, sa, sb, out, _ = MULS[name]
    return {"result": numerics_mul(a & ((1 << wa) - 1), b & ((1 << wb) - 1), wa, wb, sa, sb,
                                   out)}


def _check(select):
    us, vec, out, _ = suite_run()
    failures, checked = [], 0
    for u in us:
        if not select(u.name):
            continue
        for k, (a, b) in enumerate(zip(vec["a"], vec["b"])):
            exp = None
            for port in u.outputs:
                got = out[u.name][port][k]
                if got is None:
                    continue
                exp = exp or expected(u.name, a, b)
                checked += 1
                if got != exp[port]:
                    failures.append(f"{u.name}.{port} a={a:#x} b={b:#x}: got {got:#x}, "
                                    f"expected {exp[port]:#x}")
    assert checked > 0
    assert not failures, f"{len(failures)} mismatches of {checked}:\n" + "\n".join(failures[:20])
    return checked


@pytest.mark.rtl
@pytest.mark.parametrize("group", ["div_u", "div_s", "divf", "mul"])
def test_rtl(group):
    _check(lambda name: name.startswith(group))


@pytest.mark.rtl
def test_rtl_stall_exercised():
    """The enable pattern really stalled the pipelines (run_stream checks that outputs
    hold while ``en`` is 0, and the alignment of every later result)."""
    us, vec, out, en = suite_run()
    assert en.count(0) > 1000
    dropped = sum(v is None for v in out["div_s32"]["quotient"])
    assert dropped == en.count(0)
