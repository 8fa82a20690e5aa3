"""Dynamic arrays ``A: T[...]``: a 1-D parameter whose length is the numpy argument's.

Every kernel runs on the interpreter against numpy (or the kernel run as plain Python)
and, under the ``rtl`` parameter of the ``kernel_target`` fixture, the Verilog
simulation must agree with the interpreter bit for bit. Each built module is called
with two different lengths.
"""

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl import AlloError
from allo_rtl.ir.types import float32, int8, int32, uint8
from tests.kernel_check import build, current_target, pipelines

from ..conftest import line_of


def two_lengths(fn):
    """Call ``fn(n)`` for two array lengths (the second needs a re-sized wrapper)."""
    for n in (37, 8):
        fn(n)


# ------------------------------------------------------------------ kernels from the wild


def test_allo_tutorial_copy_kernel(rng):
    # Allo's tutorial dive_04_features / tests/test_builder.py::test_dynamic_shape
    def kernel(A: float32[...], B: float32[...], size: int32):
        for i in range(size):
            B[i] = A[i]

    s = allo.customize(kernel)
    assert "A: f32[?], B: f32[?], size: i32" in str(s.module)
    mod = build(s)

    def run(n):
        np_A = rng.random(n).astype(np.float32)
        allo_A = np.zeros(n, np.float32)
        mod(np_A, allo_A, n)
        np.testing.assert_array_equal(np_A, allo_A)

    two_lengths(run)


@pytest.mark.parametrize("T", [int8, int32, float32], ids=str)
def test_saxpy_pipelined(T, rng):
    def saxpy(a: T, X: T[...], Y: T[...], n: int32):
        for i in range(n):
            Y[i] = a * X[i] + Y[i]

    s = allo.customize(saxpy)
    s.pipeline("i")
    mod = build(s)

    def run(n):
        if T == float32:
            X, Y = rng.uniform(-4, 4, (2, n)).astype(np.float32)
            a = 1.5
        else:  # small values: the plain-Python reference must not overflow int8
            X, Y = rng.integers(-10, 10, (2, n)).astype(np.int8 if T == int8 else np.int32)
            a = 3
        X, Y = X.copy(), Y.copy()
        ref = Y.copy()
        saxpy(a, X, ref, n)  # the kernel as plain Python on numpy
        mod(a, X, Y, n)
        np.testing.assert_array_equal(Y, ref)

    two_lengths(run)
    if current_target() == "rtl":
        assert pipelines(mod.rtl)["i"].ii == 1


def test_prefix_sum_int32(rng):
    def prefix(X: int32[...], S: int32[...], n: int32):
        acc: int32 = 0
        for i in range(n):
            acc += X[i]
            S[i] = acc

    mod = build(prefix)

    def run(n):
        X = rng.integers(-1000, 1000, n).astype(np.int32)
        S = np.zeros(n, np.int32)
        mod(X, S, n)
        np.testing.assert_array_equal(S, np.cumsum(X).astype(np.int32))

    two_lengths(run)


def test_row_sums_of_a_flattened_matrix(rng):
    # a 2-D array of run-time size is passed flat and indexed A[i * N + j] (T[...] is 1-D)
    def row_sums(A: float32[...], R: float32[...], M: int32, N: int32):
        for i in range(M):
            acc: float32 = 0.0
            for j in range(N):
                acc += A[i * N + j]
            R[i] = acc

    mod = build(row_sums)
    for m, n in ((5, 7), (3, 2)):
        A = rng.uniform(-2, 2, (m, n)).astype(np.float32)
        R = np.zeros(m, np.float32)
        mod(A.ravel(), R, m, n)
        ref = np.zeros(m, np.float32)
        for i in range(m):  # float32 sums in program order
            for j in range(n):
                ref[i] = np.float32(ref[i] + A[i, j])
        np.testing.assert_array_equal(R, ref)


def test_histogram_with_indirect_indexing(rng):
    def histogram(X: uint8[...], H: int32[...], n: int32):
        for i in range(n):
            H[X[i]] += 1

    mod = build(histogram)

    def run(n):
        X = rng.integers(0, 16, n).astype(np.uint8)
        H = np.zeros(16, np.int32)
        mod(X, H, n)
        np.testing.assert_array_equal(H, np.bincount(X, minlength=16))

    two_lengths(run)


def test_dot_product_returns_a_scalar(rng):
    def dot(A: int32[...], B: int32[...], n: int32) -> int32:
        s: int32 = 0
        for i in range(n):
            s += A[i] * B[i]
        return s

    mod = build(dot)

    def run(n):
        A = rng.integers(-100, 100, n).astype(np.int32)
        B = rng.integers(-100, 100, n).astype(np.int32)
        assert mod(A, B, n) == int(A.astype(np.int64) @ B)

    two_lengths(run)


def test_length_zero_and_one(rng):
    def negate(A: int32[...], n: int32):
        for i in range(n):
            A[i] = -A[i]

    mod = build(negate)
    A = np.zeros(0, np.int32)
    mod(A, 0)
    A = np.array([5], np.int32)
    mod(A, 1)
    assert A.tolist() == [-5]


# ------------------------------------------------------------------ calls


def scale_dyn(X: int32[...], n: int32, k: int32):
    for i in range(n):
        X[i] = X[i] * k


def test_calls_pass_dynamic_static_and_subview_arrays(rng):
    def top(A: int32[...], B: int32[4, 8], n: int32) -> int32[5]:
        scale_dyn(A, n, 3)  # dynamic -> dynamic
        for r in range(4):
            scale_dyn(B[r], 8, r)  # a row of a static matrix
        C: int32[5] = 1
        scale_dyn(C, 5, 2)  # a static local
        return C

    s = allo.customize(top)
    assert "call scale_dyn(B[r], 8:i32" in str(s.module)
    mod = build(s)

    def run(n):
        A = rng.integers(-100, 100, n).astype(np.int32)
        B = rng.integers(-100, 100, (4, 8)).astype(np.int32)
        A0, B0 = A.copy(), B.copy()
        C = mod(A, B, n)
        np.testing.assert_array_equal(A, A0 * 3)
        np.testing.assert_array_equal(B, B0 * np.arange(4, dtype=np.int32)[:, None])
        np.testing.assert_array_equal(C, np.full(5, 2, np.int32))

    two_lengths(run)


def test_template_with_string_annotation(rng):
    @allo.template("T")
    def fill(A: "T[...]", v: "T", n: int32):
        for i in range(n):
            A[i] = v

    def top(A: float32[...], B: int8[...], n: int32):
        fill[float32](A, 0.5, n)
        fill[int8](B, -3, n)

    s = allo.customize(top)
    assert "func fill(A: f32[?], v: f32, n: i32)" in str(s.module)
    mod = build(s)
    A, B = np.zeros(6, np.float32), np.zeros(6, np.int8)
    mod(A, B, 6)
    assert A.tolist() == [0.5] * 6 and B.tolist() == [-3] * 6


# ------------------------------------------------------------------ bounds and call-time checks


def test_out_of_bounds_access_is_an_error_at_the_kernel_line():
    def copy(A: int32[...], B: int32[...], n: int32):
        for i in range(n):
            B[i] = A[i]

    # the interpreter names the access; the RTL wrapper flags the write to its memory
    mod = allo.customize(copy).build(target=current_target())
    A, B = np.arange(4, dtype=np.int32), np.zeros(3, np.int32)
    with pytest.raises(AlloError, match="out of bounds for the dynamic array 'B' of length 3"
                       if current_target() == "sim" else
                       "wrote to the dynamic array 'B' of length 3 out of bounds") as e:
        mod(A, B, 4)
    assert e.value.loc.line == line_of(copy, "B[i] = A[i]" if current_target() == "sim"
                                       else "def copy")
    assert B.tolist() == [0, 0, 0]  # nothing written back
    mod(A, B, 3)  # in bounds: fine, with the same module
    assert B.tolist() == [0, 1, 2]


def test_negative_index_is_out_of_bounds_not_a_wrap():
    def shift(A: int32[...], n: int32):
        for i in range(n):
            A[i - 1] = A[i]

    mod = allo.customize(shift).build(target="sim")
    with pytest.raises(AlloError, match="index -1 is out of bounds") as e:
        mod(np.arange(4, dtype=np.int32), 4)
    assert e.value.loc.line == line_of(shift, "A[i - 1] = A[i]")


def test_call_time_shape_checks():
    def k(A: int32[...], n: int32):
        pass

    mod = allo.customize(k).build(target="sim")
    with pytest.raises(AlloError, match=r"dynamic 1-D array \(i32\[...\]\), got shape \[2, 2\]"):
        mod(np.zeros((2, 2), np.int32), 4)
    with pytest.raises(AlloError, match="must be a numpy array"):
        mod(3, 4)


# ------------------------------------------------------------------ schedules


def test_schedule_primitives_on_dynamic_arrays_and_loops():
    def saxpy(a: int32, X: int32[...], Y: int32[...], n: int32):
        for i in range(n):
            Y[i] = a * X[i] + Y[i]

    s = allo.customize(saxpy)
    with pytest.raises(AlloError, match="saxpy:X is a dynamic array .* partition needs its "
                       "size at compile time") as e:
        s.partition(s.X, partition_type=2, dim=1, factor=2)
    assert e.value.loc.line == line_of(test_schedule_primitives_on_dynamic_arrays_and_loops,
                                       "s.partition(s.X")
    for prim, call in (("reuse_at", lambda: s.reuse_at(s.Y, "i")),
                       ("buffer_at", lambda: s.buffer_at(s.Y, "i")),
                       ("reshape", lambda: s.reshape(s.Y, (2, 4)))):
        with pytest.raises(AlloError, match=f"{prim} needs its size at compile time"):
            call()
    with pytest.raises(AlloError, match="non-constant bounds and cannot be fully unrolled"):
        s.unroll("i")
    # split by a constant factor, then unroll the constant-bound inner loop: a guarded tail
    s.split("i", 4)
    s.unroll("i.inner")
    mod = build(s)
    X = np.arange(10, dtype=np.int32)
    Y = np.ones(10, np.int32)
    mod(2, X, Y, 10)
    np.testing.assert_array_equal(Y, 2 * np.arange(10) + 1)


def test_partition_propagating_to_a_dynamic_parameter_is_an_error():
    def top(B: int32[8]):
        scale_dyn(B, 8, 2)

    s = allo.customize(top)
    with pytest.raises(AlloError, match="propagates to parameter 'X' .* of scale_dyn, a "
                       "dynamic array"):
        s.partition(s.B, partition_type=2, dim=1, factor=2)


def test_dataflow_region_parameter_cannot_be_dynamic():
    import allo_rtl.dataflow as df

    @df.region()
    def top(A: int32[...]):
        @df.kernel(mapping=[1], args=[A])
        def k(X: int32[4]):
            X[0] = 1

    with pytest.raises(AlloError, match="has dynamic array parameter 'A' \\(i32\\[...\\]\\); region "
                       "parameters need compile-time shapes") as e:
        df.customize(top)
    assert e.value.loc.line == line_of(top, "def top")
