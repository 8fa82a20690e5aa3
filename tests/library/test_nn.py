"""allo_rtl.library.nn: Allo's nn layer templates, their default schedules through
s.compose(layer, instantiate=[...]), numpy references, and RTL == interpreter."""

import math

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl.ir.types import float32, int32
from allo_rtl.library import nn
from tests.kernel_check import both, pipelines

M, N, K = 4, 8, 16


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_linear_relu_match_pytorch_semantics(rng):
    def kernel(X: float32[M, K], W: float32[N, K], b: float32[N]) -> float32[M, N]:
        Y = nn.linear2d[float32, M, N, K](X, W, b)
        return nn.relu2d[float32, M, N](Y)

    X, W, b = _f32(rng, M, K), _f32(rng, N, K), _f32(rng, N)
    out = allo.customize(kernel).build(target="sim")(X, W, b)
    np.testing.assert_allclose(out, np.maximum(X @ W.T + b, 0), rtol=1e-5, atol=1e-5)


@pytest.mark.rtl
@pytest.mark.parametrize("T,np_t", [(int32, np.int32), (float32, np.float32)], ids=["i32", "f32"])
def test_composed_default_schedules_pipeline_in_hardware(rng, T, np_t):
    def kernel(X: T[M, K], W: T[N, K], b: T[N]) -> T[M, N]:
        Y = nn.linear2d[T, M, N, K](X, W, b)
        return nn.relu2d[T, M, N](Y)

    s = allo.customize(kernel)
    s.compose(nn.linear2d, instantiate=[T, M, N, K])
    s.compose(nn.relu2d, instantiate=[T, M, N])
    X, W, b = (rng.integers(-20, 20, shp).astype(np_t) for shp in ((M, K), (N, K), (N,)))
    mod, out = both(s, X, W, b)
    ref = np.maximum(X.astype(np.float64) @ W.T.astype(np.float64) + b, 0)
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    assert {"j", "j_init", "j_back", "w"} <= set(pipelines(mod))


def test_conv_and_pools_with_stride_and_padding(rng):
    B, C, Co, H, W, Kk, S, P = 1, 2, 3, 6, 6, 3, 2, 1
    Oh = (H + 2 * P - Kk) // S + 1

    def kernel(x: float32[B, C, H, W], w: float32[Co, C, Kk, Kk], b: float32[Co]
               ) -> float32[B, Co, Oh, Oh]:
        return nn.conv2d[float32, B, C, Co, H, W, Kk, Kk, Oh, Oh, S, S, P, P](x, w, b)

    def pools(x: float32[B, C, H, W]) -> (float32[B, C, Oh, Oh], float32[B, C, Oh, Oh]):
        mx = nn.maxpool2d[float32, B, C, H, W, Kk, Oh, Oh, S, P](x)
        av = nn.avgpool2d[float32, B, C, H, W, Kk, Oh, Oh, S, P](x)
        return mx, av

    x, w, b = _f32(rng, B, C, H, W), _f32(rng, Co, C, Kk, Kk), _f32(rng, Co)
    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    ref = np.zeros((B, Co, Oh, Oh))
    mx = np.full((B, C, Oh, Oh), -np.inf)
    av = np.zeros((B, C, Oh, Oh))
    xm = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)), constant_values=-np.inf)
    for oh in range(Oh):
        for ow in range(Oh):
            win = xp[:, :, oh * S:oh * S + Kk, ow * S:ow * S + Kk]
            ref[:, :, oh, ow] = np.einsum("bchw,ochw->bo", win, w) + b
            mx[:, :, oh, ow] = xm[:, :, oh * S:oh * S + Kk, ow * S:ow * S + Kk].max(axis=(2, 3))
            av[:, :, oh, ow] = win.sum(axis=(2, 3)) / (Kk * Kk)
    s = allo.customize(kernel)
    s.compose(nn.conv2d, instantiate=[float32, B, C, Co, H, W, Kk, Kk, Oh, Oh, S, S, P, P])
    np.testing.assert_allclose(s.build(target="sim")(x, w, b), ref, rtol=1e-5, atol=1e-5)
    got_mx, got_av = allo.customize(pools).build(target="sim")(x)
    np.testing.assert_array_equal(got_mx, mx.astype(np.float32))
    np.testing.assert_allclose(got_av, av, rtol=1e-5, atol=1e-6)


def test_normalisations_softmax_and_gelu(rng):
    L, D = 4, 8

    def kernel(x: float32[L, D], g: float32[D], be: float32[D]
               ) -> (float32[L, D], float32[L, D], float32[L, D]):
        ln = nn.layer_norm[float32, L, D](x, g, be)
        sm = nn.softmax[float32, L, D](x)
        ge = nn.GeLU[float32, L, D](x)
        return ln, sm, ge

    x, g, be = _f32(rng, L, D), _f32(rng, D), _f32(rng, D)
    s = allo.customize(kernel)
    for layer, inst in ((nn.layer_norm, [float32, L, D]), (nn.softmax, [float32, L, D]),
                        (nn.GeLU, [float32, L, D])):
        s.compose(layer, instantiate=inst)
    ln, sm, ge = s.build(target="sim")(x, g, be)
    xd = x.astype(np.float64)
    mu, var = xd.mean(1, keepdims=True), xd.var(1, keepdims=True)
    np.testing.assert_allclose(ln, g * (xd - mu) / np.sqrt(var + 1e-5) + be, rtol=1e-3,
                               atol=1e-4)
    e = np.exp(xd - xd.max(1, keepdims=True))
    np.testing.assert_allclose(sm, e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)
    gelu = 0.5 * xd * (1 + np.tanh(math.sqrt(2 / math.pi) * (xd + 0.044715 * xd ** 3)))
    np.testing.assert_allclose(ge, gelu, rtol=1e-4, atol=1e-5)


def test_batchnorm_linear3d_and_residual(rng):
    B, C, H, W = 2, 3, 2, 2
    L, D, Mo = 3, 4, 5

    def kernel(x: float32[B, C, H, W], g: float32[C], be: float32[C], mean: float32[C],
               var: float32[C], t: float32[B, L, D], w: float32[Mo, D], bias: float32[Mo],
               r1: float32[L, D], r2: float32[L, D]
               ) -> (float32[B, C, H, W], float32[B, L, Mo], float32[L, D]):
        bn = nn.batchnorm2d[float32, B, C, H, W](x, g, be, 0.001, mean, var)
        lin = nn.linear3d[float32, B, L, D, Mo](t, w, bias)
        res = nn.residual_add[float32, L, D](r1, r2)
        return bn, lin, res

    x, g, be, mean = _f32(rng, B, C, H, W), _f32(rng, C), _f32(rng, C), _f32(rng, C)
    var = np.abs(_f32(rng, C)) + 0.5
    t, w, bias = _f32(rng, B, L, D), _f32(rng, Mo, D), _f32(rng, Mo)
    r1, r2 = _f32(rng, L, D), _f32(rng, L, D)
    bn, lin, res = allo.customize(kernel).build(target="sim")(x, g, be, mean, var, t, w, bias,
                                                              r1, r2)
    c = (slice(None), None, None)
    np.testing.assert_allclose(bn, g[c] * (x - mean[c]) / np.sqrt(var[c] + 0.001) + be[c],
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(lin, t @ w.T + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(res, r1 + r2)
