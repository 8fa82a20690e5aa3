"""Neural-network layer templates, API-compatible with Allo's ``allo.library.nn``.

Each layer is a template kernel instantiated at the call site, e.g.
``nn.linear2d[float32, M, N, K](X, W, b)`` inside a kernel, and has a default
schedule ``schedule_<layer>(s)`` (pipelined inner loops) that
``s.compose(nn.linear2d, instantiate=[float32, M, N, K])`` applies to the layer's
instance, or that a sub-schedule can apply explicitly::

    sub = allo.customize(nn.linear2d, instantiate=[float32, M, N, K])
    nn.schedule_linear2d(sub)
    s.compose(sub)

Semantics follow PyTorch (``Linear``: ``X @ W.T + b``; ``Conv2d`` with stride and
zero padding, dilation 1; pools over ``K x K`` windows) with the kernel language's
per-operation rounding: results equal the interpreter bit for bit in hardware and
numpy within rounding.
"""

from __future__ import annotations

from .. import dsl
from ..frontend.parse import template
from ..ir.types import int32  # noqa: F401 - window positions in conv2d/pools

__all__ = ["linear2d", "linear3d", "relu2d", "relu4d", "softmax", "layer_norm", "GeLU",
           "residual_add", "conv2d", "maxpool2d", "avgpool2d", "batchnorm2d",
           "schedule_linear2d", "schedule_linear3d", "schedule_relu2d", "schedule_relu4d",
           "schedule_softmax", "schedule_layernorm", "schedule_gelu", "schedule_conv2d",
           "schedule_maxpool2d", "schedule_avgpool2d", "schedule_batchnorm2d"]


@template("Ty", "M", "N", "K")
def linear2d(X: "Ty[M, K]", W: "Ty[N, K]", b: "Ty[N]") -> "Ty[M, N]":
    # row-stationary: the reduction loop k sits outside j, so j pipelines at II=1
    Z: Ty[M, N]
    acc: Ty[N]
    for i in range(M):
        for j_init in range(N):
            acc[j_init] = 0
        for k in range(K):
            x: Ty = X[i, k]
            for j in range(N):
                acc[j] += x * W[j, k]
        for j_back in range(N):
            Z[i, j_back] = acc[j_back] + b[j_back]
    return Z


def schedule_linear2d(s):
    for loop in ("j_init", "j", "j_back"):
        s.pipeline(f"linear2d:{loop}")
    return s


@template("Ty", "B", "L", "D", "M")
def linear3d(X: "Ty[B, L, D]", W: "Ty[M, D]", bias: "Ty[M]") -> "Ty[B, L, M]":
    Z: Ty[B, L, M]
    acc: Ty[M]
    for bb in range(B):
        for i in range(L):
            for j_init in range(M):
                acc[j_init] = 0
            for k in range(D):
                x: Ty = X[bb, i, k]
                for j in range(M):
                    acc[j] += x * W[j, k]
            for j_back in range(M):
                Z[bb, i, j_back] = acc[j_back] + bias[j_back]
    return Z


def schedule_linear3d(s):
    for loop in ("j_init", "j", "j_back"):
        s.pipeline(f"linear3d:{loop}")
    return s


@template("Ty", "H", "W")
def relu2d(X: "Ty[H, W]") -> "Ty[H, W]":
    Z: Ty[H, W]
    for h, w in dsl.grid(H, W):
        Z[h, w] = max(X[h, w], 0)
    return Z


def schedule_relu2d(s):
    s.pipeline("relu2d:w")
    return s


@template("Ty", "N", "C", "H", "W")
def relu4d(X: "Ty[N, C, H, W]") -> "Ty[N, C, H, W]":
    Z: Ty[N, C, H, W]
    for n, c, h, w in dsl.grid(N, C, H, W):
        Z[n, c, h, w] = max(X[n, c, h, w], 0)
    return Z


def schedule_relu4d(s):
    s.pipeline("relu4d:w")
    return s


@template("Ty", "N", "L")
def softmax(X: "Ty[N, L]") -> "Ty[N, L]":
    Z: Ty[N, L]
    E: Ty[N, L]
    mx: Ty[N] = -1000000000000.0
    total: Ty[N] = 0.0
    for i, j in dsl.grid(N, L, name="row_max"):
        if X[i, j] > mx[i]:
            mx[i] = X[i, j]
    for i, j in dsl.grid(N, L, name="exp_sum"):
        E[i, j] = dsl.exp(X[i, j] - mx[i])
        total[i] += E[i, j]
    for i, j in dsl.grid(N, L, name="update"):
        Z[i, j] = E[i, j] / total[i]
    return Z


def schedule_softmax(s):
    loops = s.get_loops(s.top_func_name)
    s.pipeline(loops["exp_sum"]["j"])
    s.pipeline(loops["update"]["j"])
    return s


@template("Ty", "L", "D")
def layer_norm(X: "Ty[L, D]", gamma: "Ty[D]", beta: "Ty[D]") -> "Ty[L, D]":
    Z: Ty[L, D]
    mean: Ty[L] = 0.0
    mean2: Ty[L] = 0.0
    var: Ty[L]
    for i, j in dsl.grid(L, D, name="sum"):
        mean[i] += X[i, j]
        mean2[i] += X[i, j] * X[i, j]
    for i in dsl.grid(L, name="mean_var"):
        mean[i] = mean[i] / float(D)
        mean2[i] = mean2[i] / float(D)
        var[i] = mean2[i] - mean[i] * mean[i]
    for i, j in dsl.grid(L, D, name="norm"):
        Z[i, j] = gamma[j] * (X[i, j] - mean[i]) / dsl.sqrt(var[i] + 0.00001) + beta[j]
    return Z


def schedule_layernorm(s):
    loops = s.get_loops(s.top_func_name)
    s.pipeline(loops["sum"]["j"])
    s.pipeline(loops["mean_var"]["i"])
    s.pipeline(loops["norm"]["j"])
    return s


@template("Ty", "L", "D")
def GeLU(X: "Ty[L, D]") -> "Ty[L, D]":  # noqa: N802 - Allo's name
    # tanh approximation of GELU
    Z: Ty[L, D]
    for i, j in dsl.grid(L, D, name="gelu"):
        x: Ty = X[i, j]
        Z[i, j] = 0.5 * x * (1.0 + dsl.tanh(0.797885 * (x + 0.044715 * dsl.power(x, 3.0))))
    return Z


def schedule_gelu(s):
    s.pipeline(s.get_loops(s.top_func_name)["gelu"]["j"])
    return s


@template("Ty", "L", "D")
def residual_add(X1: "Ty[L, D]", X2: "Ty[L, D]") -> "Ty[L, D]":
    Z: Ty[L, D]
    for i, j in dsl.grid(L, D):
        Z[i, j] = X1[i, j] + X2[i, j]
    return Z


@template("Ty", "B", "Cin", "Cout", "H", "W", "Kh", "Kw", "Oh", "Ow", "Sh", "Sw", "Pd0", "Pd1")
def conv2d(inp: "Ty[B, Cin, H, W]", kernel: "Ty[Cout, Cin, Kh, Kw]",
           bias: "Ty[Cout]") -> "Ty[B, Cout, Oh, Ow]":
    Z: Ty[B, Cout, Oh, Ow]
    for n, co, oh, ow in dsl.grid(B, Cout, Oh, Ow):
        acc: Ty = bias[co]
        for ci, kh, kw in dsl.grid(Cin, Kh, Kw):
            hp: int32 = oh * Sh + kh - Pd0
            wp: int32 = ow * Sw + kw - Pd1
            if hp >= 0 and hp < H and wp >= 0 and wp < W:
                acc += inp[n, ci, hp, wp] * kernel[co, ci, kh, kw]
        Z[n, co, oh, ow] = acc
    return Z


def schedule_conv2d(s):
    s.pipeline("conv2d:ow")
    return s


@template("Ty", "B", "C", "H", "W", "K", "Oh", "Ow", "S", "Pd")
def maxpool2d(inp: "Ty[B, C, H, W]") -> "Ty[B, C, Oh, Ow]":
    Z: Ty[B, C, Oh, Ow]
    for n, c, oh, ow in dsl.grid(B, C, Oh, Ow):
        best: Ty = -1000000000000.0
        for kh, kw in dsl.grid(K, K):
            hp: int32 = oh * S + kh - Pd
            wp: int32 = ow * S + kw - Pd
            if hp >= 0 and hp < H and wp >= 0 and wp < W:
                best = max(best, inp[n, c, hp, wp])
        Z[n, c, oh, ow] = best
    return Z


def schedule_maxpool2d(s):
    s.pipeline("maxpool2d:ow")
    return s


@template("Ty", "B", "C", "H", "W", "K", "Oh", "Ow", "S", "Pd")
def avgpool2d(inp: "Ty[B, C, H, W]") -> "Ty[B, C, Oh, Ow]":
    Z: Ty[B, C, Oh, Ow]
    for n, c, oh, ow in dsl.grid(B, C, Oh, Ow):
        acc: Ty = 0.0
        for kh, kw in dsl.grid(K, K):
            hp: int32 = oh * S + kh - Pd
            wp: int32 = ow * S + kw - Pd
            if hp >= 0 and hp < H and wp >= 0 and wp < W:
                acc += inp[n, c, hp, wp]
        Z[n, c, oh, ow] = acc / (K * K)
    return Z


def schedule_avgpool2d(s):
    s.pipeline("avgpool2d:ow")
    return s


@template("Ty", "B", "C", "H", "W")
def batchnorm2d(X: "Ty[B, C, H, W]", gamma: "Ty[C]", beta: "Ty[C]", eps: "Ty", mean: "Ty[C]",
                var: "Ty[C]") -> "Ty[B, C, H, W]":
    Z: Ty[B, C, H, W]
    for n, c, h, w in dsl.grid(B, C, H, W):
        Z[n, c, h, w] = gamma[c] * (X[n, c, h, w] - mean[c]) / dsl.sqrt(var[c] + eps) + beta[c]
    return Z


def schedule_batchnorm2d(s):
    s.pipeline("batchnorm2d:w")
    return s


# default schedules applied by s.compose(<layer>, instantiate=[...])
for _k, _s in ((linear2d, schedule_linear2d), (linear3d, schedule_linear3d),
               (relu2d, schedule_relu2d), (relu4d, schedule_relu4d),
               (softmax, schedule_softmax), (layer_norm, schedule_layernorm),
               (GeLU, schedule_gelu), (conv2d, schedule_conv2d),
               (maxpool2d, schedule_maxpool2d), (avgpool2d, schedule_avgpool2d),
               (batchnorm2d, schedule_batchnorm2d)):
    _k.default_schedule = _s
del _k, _s
