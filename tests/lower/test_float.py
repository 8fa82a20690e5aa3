"""Floating-point kernels in hardware (primitives/float units wired into the lowering):
RTL == interpreter bit for bit, == numpy within IEEE per-operation rounding, and the
units' latencies in the pipeline scheduler."""

import warnings

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl.errors import AlloError, AlloWarning
from allo_rtl.ir.types import bfloat16, float16, float32, float64, int8, int32, int64, uint8
from primitives.float import FPAdd
from tests.kernel_check import both, pipelines

pytestmark = pytest.mark.rtl

SPECIALS32 = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754942e-38,
                       3.4028235e38, -3.4028235e38, 1.0, -1.0, 0.5, 3.0, 1e20, -1e-20],
                      np.float32)


def _random32(rng, n):
    """Random float32 values over all exponents, with the special values mixed in."""
    bits = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32).copy()
    x[: len(SPECIALS32)] = SPECIALS32
    return x


def test_float32_gemm_matches_interpreter_and_numpy(rng):
    N = 16

    def gemm(A: float32[N, N], B: float32[N, N]) -> float32[N, N]:
        C: float32[N, N] = 0.0
        for i, j, k in allo.grid(N, N, N):
            C[i, j] += A[i, k] * B[k, j]
        return C

    A, B = rng.standard_normal((2, N, N)).astype(np.float32)
    mod, C = both(allo.customize(gemm), A, B)
    ref = A.astype(np.float64) @ B.astype(np.float64)
    np.testing.assert_allclose(C, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    assert "fmul" in mod.verilog and "fadd" in mod.verilog


def test_elementwise_fma_pattern_rounds_twice_like_numpy(rng):
    N = 256

    def fma(A: float32[N], B: float32[N], C: float32[N]) -> float32[N]:
        D: float32[N]
        for i in allo.grid(N, pipeline=1):
            D[i] = A[i] * B[i] + C[i]
        return D

    A, B, C = (_random32(rng, N) for _ in range(3))
    C[::3] = -(A[::3] * B[::3])  # exact cancellations give +0
    A[100:120] = rng.standard_normal(20)  # and ordinary values
    B[100:120] = rng.standard_normal(20)
    with np.errstate(all="ignore"):
        want = A * B + C  # numpy: float32 multiply, round, add, round
    mod, D = both(allo.customize(fma), A, B, C)
    assert np.array_equal(D.view(np.uint32), want.view(np.uint32)) or \
        np.array_equal(np.isnan(D), np.isnan(want)) and np.array_equal(
            D[~np.isnan(D)].view(np.uint32), want[~np.isnan(want)].view(np.uint32))
    assert pipelines(mod)["i"].ii == 1


@pytest.mark.parametrize("T,np_t", [(float16, np.float16), (bfloat16, None),
                                    (float32, np.float32), (float64, np.float64)],
                         ids=["f16", "bf16", "f32", "f64"])
def test_every_float_operator_and_conversion(rng, T, np_t):
    """add/sub/mul/div/sqrt/min/max/abs/neg/compare/select and int/float conversions of one
    format, on random bit patterns and special values: RTL == interpreter bit for bit."""
    N = 64

    def ops(A: T[N], B: T[N], I: int32[N], R: T[N, 8], Q: int32[N, 4], W: float32[N],
            X: int64[N], U: uint8[N]):
        for i in range(N):
            a: T = A[i]
            b: T = B[i]
            R[i, 0] = a + b
            R[i, 1] = a - b
            R[i, 2] = a * b
            R[i, 3] = a / b
            R[i, 4] = allo.sqrt(a)
            R[i, 5] = min(a, b) if a < b else max(-a, abs(b))
            R[i, 6] = I[i]  # int32 -> float
            R[i, 7] = U[i]  # uint8 -> float
            Q[i, 0] = a  # float -> int32 (truncate, saturate)
            Q[i, 1] = (a == b) + 2 * (a != b) + 4 * (a <= b) + 8 * (a > b) + 16 * (a >= b)
            Q[i, 2] = int(b * 16.0)
            Q[i, 3] = 1 if a else 0
            W[i] = a * 3.0  # to float32 (widening or narrowing)
            X[i] = b  # float -> int64

    s = allo.customize(ops)
    w = T.bits
    bits = rng.integers(0, 2**w, N, dtype=np.uint64)
    fmt_np = {16: np.uint16, 32: np.uint32, 64: np.uint64}[w]
    if np_t is None:  # bfloat16 travels as float32 arrays holding bfloat16 values
        A = (bits.astype(np.uint32) << 16).view(np.float32)
        B = (rng.integers(0, 2**16, N, dtype=np.uint64).astype(np.uint32) << 16).view(np.float32)
    else:
        A = bits.astype(fmt_np).view(np_t)
        B = rng.integers(0, 2**w, N, dtype=np.uint64).astype(fmt_np).view(np_t)
        A[:8] = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -2.5, 0.25], np_t)
        B[:8] = np.array([-0.0, 0.0, np.inf, 1.0, 3.0, np.nan, -2.5, 1e-3], np_t)
    A, B = A.copy(), B.copy()
    B[20:40] = A[20:40]
    I = rng.integers(-2**31, 2**31, N, dtype=np.int64).astype(np.int32)
    U = rng.integers(0, 256, N).astype(np.uint8)
    args = [A, B, I, np.zeros((N, 8), A.dtype), np.zeros((N, 4), np.int32),
            np.zeros(N, np.float32), np.zeros(N, np.int64), U]
    with np.errstate(all="ignore"):
        mod, _ = both(s, *args)
    assert mod.last_cycles > 0


def test_float_accumulation_pipelines_at_adder_latency_and_partial_sums_reach_ii1(rng):
    N = 64

    def dot(A: float32[N], B: float32[N]) -> float32:
        s: float32 = 0.0
        for i in range(N):
            s += A[i] * B[i]
        return s

    def dot16(A: float32[N], B: float32[N]) -> float32:
        ps: float32[16] = 0.0
        for i in range(N):
            ps[i % 16] += A[i] * B[i]  # 16 interleaved partial sums
        s: float32 = 0.0
        for j in range(16):
            s += ps[j]
        return s

    A, B = rng.standard_normal((2, N)).astype(np.float32)
    lat = FPAdd.DEFAULT_LATENCY
    s1 = allo.customize(dot)
    s1.pipeline("i")
    with pytest.warns(AlloWarning, match=f"achieved II={lat}: recurrence through 's'"):
        mod1, r1 = both(s1, A, B)
    p1 = pipelines(mod1)["i"]
    assert (p1.requested, p1.ii) == (1, lat)
    assert mod1.last_cycles == (N - 1) * lat + p1.depth + 2

    s2 = allo.customize(dot16)
    s2.pipeline("i")
    with warnings.catch_warnings():
        warnings.simplefilter("error", AlloWarning)
        mod2, r2 = both(s2, A, B)
    assert pipelines(mod2)["i"].ii == 1
    assert abs(r2 - float(A.astype(np.float64) @ B.astype(np.float64))) < 1e-4
    assert mod2.last_cycles <= mod1.last_cycles / 2  # 295 vs 590: the 16 final adds remain


def test_float_scalar_arguments_and_results_travel_as_bit_patterns():
    def k(x: float32, y: float64, n: int8) -> float64:
        return (x * 2.0 + n) / y

    s = allo.customize(k)
    for args in [(1.5, 0.25, 3), (-0.0, -0.0, 0), (3.0e38, 1e-300, -128), (float("nan"), 1.0, 1)]:
        both(s, np.float32(args[0]), *args[1:])


def test_unsupported_float_operation_names_the_line():
    def k(A: float32[4]) -> float32:
        return A[0] % A[1]

    with pytest.raises(AlloError, match="not supported by the RTL target") as e:
        allo.customize(k).build()
    assert "A[0] % A[1]" in str(e.value)


@pytest.mark.parametrize("T,np_t", [(float32, np.float32), (float16, np.float16)],
                         ids=["f32", "f16"])
def test_elementary_functions_in_hardware(rng, T, np_t):
    """exp/log/log2/log10/sin/cos/tan/tanh/erf/pow on the binary32 units (float16 widened
    and rounded back): RTL == interpreter bit for bit, close to numpy, pipelined at II=1."""
    N = 32

    def k(A: T[N], B: T[N]) -> T[N, 10]:
        R: T[N, 10]
        for i in allo.grid(N, pipeline=1):
            a: T = A[i]
            R[i, 0] = allo.exp(a)
            R[i, 1] = allo.log(B[i])
            R[i, 2] = allo.log2(B[i])
            R[i, 3] = allo.log10(B[i])
            R[i, 4] = allo.sin(a)
            R[i, 5] = allo.cos(a)
            R[i, 6] = allo.tan(a)
            R[i, 7] = allo.tanh(a)
            R[i, 8] = allo.erf(a)
            R[i, 9] = allo.power(B[i], a)
        return R

    A = (rng.standard_normal(N) * 3).astype(np_t)
    B = np.abs(rng.standard_normal(N) * 10).astype(np_t)
    A[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0]
    B[:6] = [0.0, 1.0, np.inf, 2.0, 4.0, np.nan]
    with np.errstate(all="ignore"):
        s = allo.customize(k)
        s.partition(s.R, dim=2)  # ten results per iteration: one memory each
        mod, R = both(s, A, B)
        a, b = A.astype(np.float64), B.astype(np.float64)
        import math
        erf = np.array([math.erf(x) if not np.isnan(x) else np.nan for x in a])
        want = np.stack([np.exp(a), np.log(b), np.log2(b), np.log10(b), np.sin(a), np.cos(a),
                         np.tan(a), np.tanh(a), erf, np.power(b, a)], axis=1)
    # within 2 ulp of the correctly rounded result (overflow and subnormals included)
    want = want.astype(np_t).astype(np.float64)
    tiny = float(np.finfo(np_t).smallest_subnormal)
    ok = np.isclose(R[6:].astype(np.float64), want[6:], rtol=2 * float(np.finfo(np_t).eps),
                    atol=2 * tiny, equal_nan=True)
    assert ok.all(), (np.argwhere(~ok), R[6:][~ok], want[6:][~ok])
    assert pipelines(mod)["i"].ii == 1
    assert "fexp" in mod.verilog and "fpow" in mod.verilog


def test_fixed_point_float_conversions(rng):
    from allo_rtl.ir.types import Fixed, UFixed

    F, U, G = Fixed(16, 8), UFixed(12, 4), Fixed(8, 12)  # G: more fraction bits than bits

    def k(A: float32[16], B: float64[16], P: F[16], R: float32[16, 3], S: F[16, 2], T: U[16],
          Q: G[16]):
        for i in range(16):
            S[i, 0] = A[i]  # float -> fixed: truncate toward zero, saturate, NaN -> 0
            S[i, 1] = B[i] * 3.0
            T[i] = A[i]
            Q[i] = B[i]
            R[i, 0] = P[i]  # fixed -> float: round to nearest even
            R[i, 1] = P[i] * A[i]
            R[i, 2] = Q[i]

    A = (rng.standard_normal(16) * 50).astype(np.float32)
    A[:5] = [np.nan, np.inf, -np.inf, 1e9, -0.0]
    B = rng.standard_normal(16) * 0.01
    P = rng.standard_normal(16) * 10
    args = [A, B, P, np.zeros((16, 3), np.float32), np.zeros((16, 2)), np.zeros(16), np.zeros(16)]
    mod, _ = both(allo.customize(k), *args)
    assert "fcvt" in mod.verilog
