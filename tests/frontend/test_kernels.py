"""Kernel language constructs: interpreter vs numpy / plain-Python execution."""

import numpy as np
import pytest

import allo_rtl as allo
from tests.kernel_check import build
from allo_rtl.ir.types import (
    Fixed, Int, UInt, float32, float64, int8, int16, int32, int64, uint8, uint16, index,
)

INT_TYPES = [int8, int32, uint16, Int(5)]
ALL_TYPES = [int8, int32, uint16, Int(5), float32, float64]


def np_dtype(t):
    from allo_rtl.ir.numerics import numpy_dtype

    return numpy_dtype(t)


def rand(rng, t, shape, lo=None, hi=None):
    if isinstance(t, type(float32)) or t in (float32, float64):
        return rng.uniform(-4, 4, shape).astype(np_dtype(t))
    if hasattr(t, "fracs") and t.fracs:
        return np.round(rng.uniform(-8, 8, shape) * 2**t.fracs) / 2**t.fracs
    signed = t.name.startswith("i")
    bits = t.bits
    lo = lo if lo is not None else (-(1 << (bits - 2)) if signed else 0)
    hi = hi if hi is not None else ((1 << (bits - 2)) if signed else (1 << (bits - 1)))
    return rng.integers(lo, hi, shape).astype(np_dtype(t))


def wrap(x, t):
    x = np.asarray(x).astype(object)
    m = 1 << t.bits
    r = np.vectorize(lambda v: int(v) % m)(x)
    if t.name.startswith("i"):
        r = np.vectorize(lambda v: v - m if v >= m // 2 else v)(r)
    return r.astype(np.int64)


def sim(fn, **kw):
    return build(fn, **kw)


# ------------------------------------------------------------------ elementwise / types


@pytest.mark.parametrize("T", ALL_TYPES, ids=str)
def test_vadd(T, rng):
    def vadd(A: T[16], B: T[16]) -> T[16]:
        C: T[16] = 0
        for i in range(16):
            C[i] = A[i] + B[i]
        return C

    A, B = rand(rng, T, 16), rand(rng, T, 16)
    out = sim(vadd)(A, B)
    if T in (float32, float64):
        np.testing.assert_array_equal(out, (A + B).astype(np_dtype(T)))
    else:
        np.testing.assert_array_equal(out, wrap(A.astype(np.int64) + B.astype(np.int64), T))


@pytest.mark.parametrize("T", ALL_TYPES, ids=str)
def test_vmul_wraps_on_store(T, rng):
    def vmul(A: T[16], B: T[16], C: T[16]):
        for i in range(16):
            C[i] = A[i] * B[i]

    A, B = rand(rng, T, 16), rand(rng, T, 16)
    C = np.zeros(16, dtype=np_dtype(T))
    assert sim(vmul)(A, B, C) is None
    if T in (float32, float64):
        np.testing.assert_array_equal(C, A * B)
    else:
        np.testing.assert_array_equal(C, wrap(A.astype(np.int64) * B.astype(np.int64), T))


@pytest.mark.parametrize("T", [int8, int32, Int(5), uint16, float32, float64], ids=str)
def test_gemm_matches_numpy(T, rng):
    def gemm(A: T[8, 8], B: T[8, 8]) -> T[8, 8]:
        C: T[8, 8] = 0
        for i, j, k in allo.grid(8, 8, 8):
            C[i, j] += A[i, k] * B[k, j]
        return C

    A, B = rand(rng, T, (8, 8), 0 if T == uint16 else -3, 4), rand(rng, T, (8, 8), 0 if T == uint16 else -3, 4)
    out = sim(gemm)(A, B)
    if T in (float32, float64):
        ref = np.zeros((8, 8), dtype=np_dtype(T))
        for k in range(8):  # same association order as the kernel
            ref = (ref + A[:, k:k + 1] * B[k:k + 1, :]).astype(np_dtype(T))
        np.testing.assert_array_equal(out, ref)
    else:
        np.testing.assert_array_equal(out, wrap(A.astype(np.int64) @ B.astype(np.int64), T))


@pytest.mark.parametrize("T", INT_TYPES, ids=str)
@pytest.mark.parametrize("op", ["&", "|", "^", "<<", ">>"])
def test_bitwise_ops(T, op, rng):
    src = f"""
def k(A: T[8], B: T[8]) -> T[8]:
    C: T[8] = 0
    for i in range(8):
        C[i] = A[i] {op} (B[i] & 3)
    return C
"""
    s = allo.customize(src, global_vars={"T": T})
    A, B = rand(rng, T, 8), rand(rng, T, 8)
    out = build(s)(A, B)
    a, b = A.astype(np.int64), B.astype(np.int64) & 3
    ref = {"&": a & b, "|": a | b, "^": a ^ b, "<<": a << b, ">>": a >> b}[op]
    np.testing.assert_array_equal(out, wrap(ref, T))


@pytest.mark.parametrize("op,ref", [
    ("/", lambda a, b: np.trunc(a / b)), ("//", lambda a, b: a // b),
    ("%", lambda a, b: np.fmod(a, b)),
])
@pytest.mark.parametrize("T", [int8, int32, int16], ids=str)
def test_int_division_c_semantics(op, ref, T, rng):
    src = f"""
def k(A: T[16], B: T[16]) -> T[16]:
    C: T[16] = 0
    for i in range(16):
        C[i] = A[i] {op} B[i]
    return C
"""
    A = rng.integers(-100, 100, 16).astype(np_dtype(T))
    B = rng.integers(1, 9, 16).astype(np_dtype(T)) * rng.choice([-1, 1], 16).astype(np_dtype(T))
    out = build(allo.customize(src, global_vars={"T": T}))(A, B)
    np.testing.assert_array_equal(out, ref(A.astype(np.float64), B.astype(np.float64)).astype(np.int64))


def test_int_division_by_zero_is_defined():
    def k(a: int32, b: int32) -> int32:
        return a / b

    m = sim(k)
    assert m(7, 0) == -1
    assert m(-7, 2) == -3


@pytest.mark.parametrize("T", [float32, float64], ids=str)
def test_float_ops(T, rng):
    def k(A: T[32], B: T[32]) -> T[32]:
        C: T[32] = 0.0
        for i in range(32):
            C[i] = (A[i] - B[i]) / (B[i] * B[i] + 1.0)
        return C

    A, B = rand(rng, T, 32), rand(rng, T, 32)
    dt = np_dtype(T)
    one = dt(1.0)
    ref = ((A - B) / (B * B + one)).astype(dt)
    np.testing.assert_array_equal(sim(k)(A, B), ref)


def test_float32_rounds_every_operation():
    def k(a: float32, b: float32, c: float32) -> float32:
        return a * b + c

    a, b, c = np.float32(1.0000001), np.float32(3.3333333), np.float32(-3.3333337)
    assert np.float32(sim(k)(float(a), float(b), float(c))) == a * b + c  # two roundings, no FMA


def test_float16_and_bfloat16():
    from allo_rtl.ir.types import float16, bfloat16

    def k16(A: float16[4], B: float16[4]) -> float16[4]:
        C: float16[4] = 0.0
        for i in range(4):
            C[i] = A[i] * B[i] + A[i]
        return C

    A = np.array([1.5, 0.1, 65000, -3.25], dtype=np.float16)
    B = np.array([2.0, 0.3, 2.0, 1e-3], dtype=np.float16)
    np.testing.assert_array_equal(sim(k16)(A, B), A * B + A)

    def kb(a: float32) -> float32:
        x: bfloat16 = a
        return x

    assert sim(kb)(1.0 + 2**-8) == 1.0  # tie rounds to even
    assert sim(kb)(1.0 + 3 * 2**-9) == 1.0 + 2**-7


@pytest.mark.parametrize("T", [int8, int32, uint8, float32], ids=str)
def test_compare_select_minmax(T, rng):
    def k(A: T[16], B: T[16]) -> T[16]:
        C: T[16] = 0
        for i in range(16):
            if A[i] > B[i]:
                C[i] = max(A[i], B[i]) - min(A[i], B[i])
            elif A[i] == B[i]:
                C[i] = 1
            else:
                C[i] = A[i] if A[i] < 0 else B[i]
        return C

    A, B = rand(rng, T, 16), rand(rng, T, 16)
    B[:3] = A[:3]
    ref = np.where(A > B, np.maximum(A, B) - np.minimum(A, B),
                   np.where(A == B, 1, np.where(A < 0, A, B)))
    np.testing.assert_array_equal(sim(k)(A, B), ref.astype(np_dtype(T)))


@pytest.mark.parametrize("T", [Fixed(16, 8), Fixed(12, 4), Fixed(32, 16)], ids=str)
def test_fixed_point_mac(T, rng):
    def k(A: T[8], B: T[8]) -> T:
        acc: T = 0
        for i in range(8):
            acc += A[i] * B[i]
        return acc

    A = np.round(rng.uniform(-3, 3, 8) * 2**T.fracs) / 2**T.fracs
    B = np.round(rng.uniform(-3, 3, 8) * 2**T.fracs) / 2**T.fracs
    # products are exact (2*fracs); each store truncates to T.fracs toward -inf
    acc = 0.0
    for a, b in zip(A, B):
        acc = np.floor((acc + a * b) * 2**T.fracs) / 2**T.fracs
    assert sim(k)(A, B) == acc


def test_fixed_shift_wraps_in_lhs_width():
    def k(a: Fixed(8, 3)) -> Fixed(8, 3):
        return a << 2

    assert sim(k)(5.375) == -10.5


def test_fixed_input_quantization_and_output_float():
    def k(A: Fixed(16, 4)[4]) -> Fixed(16, 4)[4]:
        B: Fixed(16, 4)[4] = 0
        for i in range(4):
            B[i] = A[i] + 1
        return B

    out = sim(k)(np.array([0.5, -0.25, 1.03, 2.0]))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1.5, 0.75, 2.0, 3.0])


# ------------------------------------------------------------------ typing rules


def test_typing_rules_match_allo():
    from allo_rtl.frontend.typing_rules import binop_type

    assert binop_type("add", UInt(17), UInt(17)) == UInt(18)
    assert binop_type("add", Int(8), UInt(8)) == Int(10)
    assert binop_type("mul", Int(8), Int(8)) == Int(16)
    assert binop_type("add", Fixed(8, 3), Fixed(16, 5)) == Fixed(17, 5)
    assert binop_type("mul", Fixed(8, 3), Fixed(8, 3)) == Fixed(16, 6)
    assert binop_type("shl", Fixed(8, 3), Int(32)) == Fixed(8, 3)
    assert binop_type("lt", int8, float32) == UInt(1)
    assert binop_type("add", int32, float32) == float32
    assert binop_type("add", float32, float64) == float64
    assert binop_type("mod", Int(8), UInt(8)) == Int(9)
    assert binop_type("and", Int(8), UInt(16)) == Int(16)
    assert binop_type("add", index, index) == index
    assert binop_type("div", int8, int32) == int8


def test_add_widens_before_store():
    def k(a: int8, b: int8) -> int16:
        return a + b

    assert sim(k)(127, 127) == 254


def test_uint_subtraction_wraps_in_result_type():
    def k(a: uint8, b: uint8) -> uint16:
        return a - b

    # uint8 - uint8 -> ui9 (Allo's rule), then zero-extended to uint16
    assert sim(k)(3, 5) == 510


# ------------------------------------------------------------------ control flow


def test_while_loop(rng):
    def k(n: int32) -> int32:
        i: int32 = 0
        s: int32 = 0
        while i < n:
            s += i
            i += 1
        return s

    assert sim(k)(10) == 45
    assert sim(k)(0) == 0


def test_range_forms():
    def k(A: int32[20]):
        for i in range(3, 17, 4):
            A[i] = i
        for j in range(2):
            A[j] = 100 + j
        for m in range(5, 7):
            A[m] += 1

    A = np.zeros(20, dtype=np.int32)
    sim(k)(A)
    ref = np.zeros(20, dtype=np.int32)
    k(ref)
    np.testing.assert_array_equal(A, ref)


def test_non_affine_bounds_and_data_dependent_index():
    def k(A: int32[10], idx: int32[10]) -> int32[10]:
        B: int32[10] = 0
        for i in range(10):
            for j in range(i):
                B[i] += A[idx[j]]
        return B

    A = np.arange(10, dtype=np.int32) * 3
    idx = np.array([9, 0, 3, 3, 7, 1, 2, 8, 5, 4], dtype=np.int32)
    ref = [sum(A[idx[j]] for j in range(i)) for i in range(10)]
    np.testing.assert_array_equal(sim(k)(A, idx), ref)


def test_nested_if_elif_bool_ops():
    def k(A: int32[16]) -> int32[16]:
        B: int32[16] = 0
        for i in range(16):
            if A[i] > 5 and A[i] < 10:
                B[i] = 1
            elif not (A[i] > 0) or A[i] == 3:
                B[i] = 2
            else:
                if A[i] % 2 == 0:
                    B[i] = 3
        return B

    A = np.arange(-3, 13, dtype=np.int32)
    ref = [1 if 5 < a < 10 else 2 if (not a > 0) or a == 3 else (3 if a % 2 == 0 else 0) for a in A]
    np.testing.assert_array_equal(sim(k)(A), ref)


def test_ternary_and_chained_compare():
    def k(A: int32[10]) -> int32[10]:
        B: int32[10] = 0
        for i in range(10):
            B[i] = A[i] * 2 if 2 < A[i] <= 6 else -A[i]
        return B

    A = np.arange(10, dtype=np.int32)
    np.testing.assert_array_equal(sim(k)(A), [a * 2 if 2 < a <= 6 else -a for a in A])


def test_scalar_uninitialized_and_reassignment():
    def k(a: int32) -> int32:
        z: int32
        z = a * 3
        w = z + 1
        w = w * 2
        return w

    assert sim(k)(5) == 32


def test_block_scoping_allows_redeclaration_in_sibling_blocks():
    def k(A: int32[4]) -> int32:
        s: int32 = 0
        for i in range(4):
            t: int32 = A[i] * 2
            s += t
        for j in range(4):
            t: float32 = 0.5
            s += int(t * 2.0)
        return s

    assert sim(k)(np.arange(4, dtype=np.int32)) == 12 + 4


# ------------------------------------------------------------------ locals and constants

W = np.array([[1, 2], [3, 4]], dtype=np.int32)
N_CONST = 4


def test_local_tensor_init_forms():
    def k(A: int32[2, 2]) -> int32[2, 2]:
        B: int32[2, 2] = [[1, 2], [3, 4]]
        C: int32[2, 2] = W
        D: int32[2] = W[1]
        E: int32[2, 2] = A
        F: int32[2, 2] = 7
        R: int32[2, 2] = 0
        for i, j in allo.grid(2, 2):
            R[i, j] = B[i, j] + C[i, j] * 10 + D[j] * 100 + E[i, j] * 1000 + F[i, j]
        return R

    A = np.array([[5, 6], [7, 8]], dtype=np.int32)
    ref = W + W * 10 + W[1][None, :] * 100 + A * 1000 + 7
    np.testing.assert_array_equal(sim(k)(A), ref)


def test_copy_of_argument_is_a_copy():
    def k(A: int32[4]) -> int32[4]:
        B: int32[4] = A
        B[0] = 99
        return B

    A = np.arange(4, dtype=np.int32)
    out = sim(k)(A)
    assert out[0] == 99 and A[0] == 0


def test_constants_from_scope_and_globals():
    def k(A: int32[N_CONST]) -> int32[N_CONST]:
        B: int32[N_CONST] = 0
        for i in range(N_CONST):
            B[i] = A[i] + N_CONST + W[i % 2, 1]
        return B

    A = np.arange(N_CONST, dtype=np.int32)
    np.testing.assert_array_equal(sim(k)(A), A + 4 + np.array([2, 4, 2, 4]))


def test_names_resolved_at_customize_time():
    M = 4

    def k(A: "int32[M]") -> "int32[M]":
        B: int32[M] = 0
        for i in range(M):
            B[i] = A[i] + M
        return B

    s4 = allo.customize(k)
    M = 6  # noqa: F841 - rebinding changes the next customize
    s6 = allo.customize(k)
    assert build(s4)(np.zeros(4, np.int32)).tolist() == [4] * 4
    assert build(s6)(np.zeros(6, np.int32)).tolist() == [6] * 6


def test_constexpr_with_python_helper():
    def helper(n):
        return n * n + 1

    def k(A: int32[4]) -> int32[4]:
        c: allo.ConstExpr[int32] = helper(3)
        B: int32[4] = 0
        for i in range(4):
            B[i] = A[i] + c
        return B

    assert sim(k)(np.zeros(4, np.int32)).tolist() == [10] * 4


def test_stateful_scalar_and_tensor_persist_across_calls():
    from allo_rtl.ir.types import Stateful

    def k(x: int32) -> int32:
        acc: int32 @ Stateful = 0
        hist: int32[4] @ Stateful = 0
        acc += x
        hist[x % 4] += 1
        return acc + hist[0] * 1000

    m = sim(k, rtl_unsupported="Stateful")
    assert m(1) == 1
    assert m(2) == 3
    assert m(4) == 1007
    m2 = sim(k, rtl_unsupported="Stateful")  # a new module starts fresh
    assert m2(5) == 5


# ------------------------------------------------------------------ bit operations


def test_bit_get_set_slice():
    def k(a: uint16) -> uint16:
        b: uint16 = 0
        b[0] = a[3]
        b[4:8] = a[0:4]
        hi: uint16 = a[8:16]
        return b | (hi << 8) | (a[8:16] << 8)  # the last term: shifts keep the ui8 lhs type

    a = 0b1010_1100_0110_1001
    ref = ((a >> 3) & 1) | ((a & 0xF) << 4) | (((a >> 8) & 0xFF) << 8)
    assert sim(k)(a) == ref


def test_dynamic_bit_slice_and_reverse():
    def k(a: uint8) -> uint8:
        r: uint8 = 0
        for i in range(1, 9):
            r[i - 1:i] = a[8 - i:9 - i]
        return r ^ a.reverse()

    assert sim(k)(0b1101_0010) == 0


def test_bit_slice_store_into_tensor_element():
    def k(A: uint8[4], B: uint8[4]) -> uint8[4]:
        for i in range(4):
            B[i][0:2] = A[i]
        return B

    A = np.array([1, 2, 3, 7], dtype=np.uint8)
    B = np.array([0xF0, 0xF0, 0xF0, 0xF0], dtype=np.uint8)
    np.testing.assert_array_equal(sim(k)(A, B), 0xF0 | (A & 3))


def test_bitcast_roundtrip():
    def k(a: float32) -> float32:
        b = a.bitcast()
        c: uint32 = b ^ 0x80000000
        return c.bitcast()

    from allo_rtl.ir.types import uint32  # noqa: F401
    assert sim(k, global_vars={"uint32": UInt(32)})(1.5) == -1.5


def test_popcount_style_reduction():
    def k(A: uint8[4], B: uint8[4]) -> int32:
        cnt: int32 = 0
        for i in range(4):
            for b in range(8):
                cnt += (A[i] ^ B[i])[b]
        return cnt

    A = np.array([0xFF, 0x0F, 0, 3], np.uint8)
    B = np.array([0x00, 0xFF, 0, 1], np.uint8)
    assert sim(k)(A, B) == 8 + 4 + 0 + 1


# ------------------------------------------------------------------ calls


def callee_add(A: int32[4], B: int32[4]) -> int32[4]:
    C: int32[4] = 0
    for i in range(4):
        C[i] = A[i] + B[i]
    return C


def test_calls_subviews_scalars_multi_return():
    def pair(a: int32, b: int32) -> (int32, int32):
        return a + b, a - b

    def row_sum(R: int32[4]) -> int32:
        s: int32 = 0
        for j in range(4):
            s += R[j]
        return s

    def top(A: int32[4, 4], B: int32[4]) -> int32[4]:
        out: int32[4] = 0
        for i in range(4):
            x, y = pair(row_sum(A[i]), i)
            out[i] = x * 10 + y
        C = callee_add(out, B)
        return C

    A = np.arange(16, dtype=np.int32).reshape(4, 4)
    B = np.ones(4, dtype=np.int32)
    s = allo.customize(top)
    assert set(s.module.funcs) == {"pair", "row_sum", "callee_add", "top"}
    rs = A.sum(axis=1)
    ref = (rs + np.arange(4)) * 10 + (rs - np.arange(4)) + 1
    np.testing.assert_array_equal(build(s)(A, B), ref)


def test_nested_def_and_void_callee_writes_in_place():
    def top(A: int32[8]):
        def bump(X: int32[8], v: int32):
            for i in range(8):
                X[i] += v

        bump(A, 3)
        bump(A, 4)

    A = np.zeros(8, dtype=np.int32)
    sim(top)(A)
    assert A.tolist() == [7] * 8


def test_tuple_of_tensors_returned():
    def k(A: int32[2]) -> (int32[2], int32[2]):
        B: int32[2] = 0
        C: int32[2] = 0
        for i in range(2):
            B[i] = A[i] + 1
            C[i] = A[i] - 1
        return B, C

    b, c = sim(k)(np.array([5, 6], np.int32))
    assert b.tolist() == [6, 7] and c.tolist() == [4, 5]


# ------------------------------------------------------------------ meta programming


def test_meta_if_elif_else_and_meta_for():
    MODE = 2

    def k(A: int32[4]) -> int32[4]:
        B: int32[4] = 0
        with allo.meta_for(4) as i:
            with allo.meta_if(MODE == 1):
                B[i] = A[i]
            with allo.meta_elif(MODE == 2):
                B[i] = A[i] * i
            with allo.meta_else():
                B[i] = 0
        return B

    np.testing.assert_array_equal(sim(k)(np.full(4, 3, np.int32)), [0, 3, 6, 9])


@pytest.mark.parametrize("FIRST", [True, False])
def test_a_variable_declared_in_a_meta_if_branch_is_visible_after_it(FIRST):
    # meta_if is resolved at compile time: the taken branch is part of the enclosing block
    def k(A: int32[4]) -> int32[4]:
        with allo.meta_if(FIRST):
            base: int32 = 10
        with allo.meta_else():
            base: int32 = A[0]
        B: int32[4] = 0
        for i in range(4):
            B[i] = A[i] + base
        return B

    A = np.arange(1, 5, dtype=np.int32)
    np.testing.assert_array_equal(sim(k)(A), A + (10 if FIRST else 1))


# ------------------------------------------------------------------ templates


def test_template_311_style_with_instantiate_and_call_site():
    @allo.template("T", "M")
    def scale(A: "T[M]", f: "T") -> "T[M]":
        B: T[M] = 0
        for i in range(M):
            B[i] = A[i] * f
        return B

    def top(A: int32[4], X: float32[8]) -> float32[8]:
        Y = scale[float32, 8](X, 2.0)
        Z = scale[int32, 4](A, 3)
        for i in range(4):
            Y[i] += float(Z[i])
        return Y

    s = allo.customize(top)
    assert {"scale", "scale_1", "top"} == set(s.module.funcs)
    A = np.arange(4, dtype=np.int32)
    X = np.ones(8, dtype=np.float32)
    ref = X * 2
    ref[:4] += A * 3
    np.testing.assert_array_equal(build(s)(A, X), ref)
    s2 = allo.customize(scale, instantiate=[int32, 4])
    assert build(s2)(A, 5).tolist() == (A * 5).tolist()


# ------------------------------------------------------------------ plain-python execution


@pytest.mark.parametrize("T", [int32, float32], ids=str)
def test_kernel_also_runs_as_plain_python(T, rng):
    # local tensor declarations (B: T[4, 4] = 0) are not executable Python, so a kernel
    # meant to run both ways writes into an output argument
    def k(A: T[4, 4], B: T[4, 4]):
        for i, j in allo.grid(4, 4, name="B"):
            B[i, j] = A[j, i] + A[i, j]
        for i in allo.reduction(4):
            B[i, i] = B[i, i] * 2

    A = rand(rng, T, (4, 4), -5, 5)
    B1, B2 = np.zeros_like(A), np.zeros_like(A)
    sim(k)(A, B1)
    k(A, B2)
    np.testing.assert_allclose(B1, B2)
