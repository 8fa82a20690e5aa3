"""dsl builtins lowered to loop nests vs numpy."""

import numpy as np
import pytest

import allo_rtl as allo
from tests.kernel_check import build
from allo_rtl.ir.types import float32, float64, int32, int8


def sim(fn, **kw):
    return build(fn, **kw)


@pytest.fixture
def f32(rng):
    return lambda *shape: rng.uniform(-2, 2, shape).astype(np.float32)


@pytest.mark.parametrize("T", [int8, int32, float32, float64], ids=str)
def test_matmul(T, rng):
    def k(A: T[4, 6], B: T[6, 5]) -> T[4, 5]:
        return allo.matmul(A, B)

    dt = {int8: np.int8, int32: np.int32, float32: np.float32, float64: np.float64}[T]
    A = rng.integers(-3, 3, (4, 6)).astype(dt)
    B = rng.integers(-3, 3, (6, 5)).astype(dt)
    np.testing.assert_array_equal(sim(k)(A, B), A.astype(np.int64) @ B.astype(np.int64))


def test_matmul_slice_store(rng):
    def k(A: int32[3, 3], B: int32[3, 3]) -> int32[3, 3]:
        C: int32[3, 3] = 0
        C[:, :] = allo.matmul(A, B)
        return C

    A = rng.integers(-5, 5, (3, 3)).astype(np.int32)
    np.testing.assert_array_equal(sim(k)(A, A), A @ A)


def test_bmm(rng):
    def k(A: int32[2, 3, 4], B: int32[2, 4, 5]) -> int32[2, 3, 5]:
        return allo.bmm(A, B)

    A = rng.integers(-5, 5, (2, 3, 4)).astype(np.int32)
    B = rng.integers(-5, 5, (2, 4, 5)).astype(np.int32)
    np.testing.assert_array_equal(sim(k)(A, B), A @ B)


@pytest.mark.parametrize("op,ref", [(allo.add, np.add), (allo.sub, np.subtract), (allo.mul, np.multiply)])
def test_broadcast_binary(op, ref, rng):
    def k(A: int32[3, 4], B: int32[4]) -> int32[3, 4]:
        C: int32[3, 4] = op(A, B)
        return C

    A = rng.integers(-9, 9, (3, 4)).astype(np.int32)
    B = rng.integers(-9, 9, 4).astype(np.int32)
    np.testing.assert_array_equal(sim(k)(A, B), ref(A, B))


def test_tensor_scalar_arith_and_nested():
    def k(A: int32[4]) -> int32[4]:
        B: int32[4] = allo.add(allo.mul(A, 2), 1)
        C: int32[4] = B * 2 - A
        return C

    A = np.arange(4, dtype=np.int32)
    np.testing.assert_array_equal(sim(k)(A), (A * 2 + 1) * 2 - A)


def test_slice_store_from_expression():
    def k(A: int32[6]) -> int32[6]:
        B: int32[6] = 0
        B[:] = allo.add(A, 1)
        B[0:2] = 9
        return B

    A = np.arange(6, dtype=np.int32)
    ref = A + 1
    ref[:2] = 9
    np.testing.assert_array_equal(sim(k)(A), ref)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tanh", "abs"])
def test_unary_math_tensor(name, rng):
    fn = getattr(allo, name)

    def k(A: float32[8]) -> float32[8]:
        return fn(A)

    A = rng.uniform(0.1, 3, 8).astype(np.float32)
    np.testing.assert_allclose(sim(k)(A), getattr(np, name)(A), rtol=1e-6)


def test_scalar_math_and_power():
    def k(a: float32, b: float32) -> float32:
        return allo.exp(a) + allo.power(a, b) + allo.sqrt(b)

    out = sim(k)(1.5, 2.0)
    assert abs(out - (np.exp(1.5) + 1.5**2 + np.sqrt(2.0))) < 1e-5


def test_relu_transpose_T_copy(rng):
    def k(A: int32[3, 4]) -> int32[4, 3]:
        B = allo.relu(A)
        C = B.T
        D = C.copy()
        return allo.transpose(allo.transpose(D))

    A = rng.integers(-5, 5, (3, 4)).astype(np.int32)
    np.testing.assert_array_equal(sim(k)(A), np.maximum(A, 0).T)


def test_transpose_axes(rng):
    def k(A: int32[2, 3, 4]) -> int32[4, 2, 3]:
        return allo.transpose(A, (2, 0, 1))

    A = rng.integers(-5, 5, (2, 3, 4)).astype(np.int32)
    np.testing.assert_array_equal(sim(k)(A), np.transpose(A, (2, 0, 1)))


def test_softmax(f32):
    def k(A: float32[3, 8]) -> float32[3, 8]:
        return allo.softmax(A)

    A = f32(3, 8)
    np.testing.assert_allclose(sim(k)(A), allo.softmax(A), rtol=1e-5)


def test_layernorm_gelu(f32):
    def k(A: float32[2, 8], g: float32[8], b: float32[8]) -> float32[2, 8]:
        return allo.gelu(allo.layernorm(A, g, b))

    A, g, b = f32(2, 8), f32(8), f32(8)
    np.testing.assert_allclose(sim(k)(A, g, b), allo.gelu(allo.layernorm(A, g, b)), rtol=2e-5, atol=2e-6)


def test_linear_with_bias(f32):
    def k(X: float32[4, 8], W: float32[6, 8], b: float32[6]) -> float32[4, 6]:
        return allo.linear(X, W, b)

    X, W, b = f32(4, 8), f32(6, 8), f32(6)
    np.testing.assert_allclose(sim(k)(X, W, b), X @ W.T + b, rtol=1e-5, atol=1e-6)


def test_conv2d_and_pools(rng):
    def k(X: int32[1, 2, 6, 6], F: int32[3, 2, 3, 3]) -> int32[1, 3, 4, 4]:
        return allo.conv2d(X, F)

    X = rng.integers(-3, 3, (1, 2, 6, 6)).astype(np.int32)
    F = rng.integers(-3, 3, (3, 2, 3, 3)).astype(np.int32)
    np.testing.assert_array_equal(sim(k)(X, F), allo.conv2d(X, F))

    def mp(X: int32[1, 2, 6, 6], F: int32[2, 2]) -> int32[1, 2, 5, 5]:
        return allo.maxpool(X, F)

    def sp(X: int32[1, 2, 6, 6], F: int32[2, 2]) -> int32[1, 2, 5, 5]:
        return allo.sumpool(X, F)

    Fp = np.zeros((2, 2), np.int32)
    np.testing.assert_array_equal(sim(mp)(X, Fp), allo.maxpool(X, Fp))
    np.testing.assert_array_equal(sim(sp)(X, Fp), allo.sumpool(X, Fp))


def test_view_tril_concat_ones_zeros(rng):
    def k(A: int32[2, 6]) -> int32[7, 3]:
        B = allo.view(A, (4, 3))
        C = allo.tril(allo.view(A, (3, 4)))
        D = allo.concat(B, allo.ones((3, 3), int32), axis=0)
        E = allo.zeros((7, 3), int32)
        return allo.add(D, E)

    A = rng.integers(-5, 5, (2, 6)).astype(np.int32)
    ref = np.concatenate([A.reshape(4, 3), np.ones((3, 3), np.int32)], axis=0)
    np.testing.assert_array_equal(sim(k)(A), ref)
