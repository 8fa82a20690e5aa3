"""Kernel-language builtins (``allo.grid``, ``allo.matmul``, ...).

Each one also runs as plain Python on numpy arrays, so a kernel can be tested
before building hardware. The frontend recognises these function objects by
identity and lowers them to loop nests (see ``frontend/builtins.py``).
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

__all__ = [
    "grid", "reduction", "meta_if", "meta_elif", "meta_else", "meta_for",
    "matmul", "bmm", "add", "sub", "mul", "div", "copy", "transpose", "exp", "log",
    "log2", "log10", "abs", "sqrt", "sin", "cos", "tan", "tanh", "erf", "power", "relu",
    "softmax", "conv2d", "maxpool", "sumpool", "linear", "view", "layernorm", "gelu",
    "ones", "zeros", "tril", "concat",
]


def grid(*bounds, name=None, pipeline=None, unroll=None):
    """Iterate over the index space ``bounds`` (like ``np.ndindex``)."""
    return np.ndindex(*bounds)


def reduction(*bounds, name=None, pipeline=None, unroll=None):
    """Like :func:`grid`, tagged as a reduction loop."""
    return np.ndindex(*bounds)


@contextmanager
def meta_if(cond):
    """Compile-time ``if`` (``with allo.meta_if(c):``); the body is kept only if ``c`` holds."""
    yield bool(cond)


@contextmanager
def meta_elif(cond):
    yield bool(cond)


@contextmanager
def meta_else():
    yield True


@contextmanager
def meta_for(*args):
    """Compile-time unrolled loop: ``with allo.meta_for(ub) as i:``."""
    yield range(*args)


def _np(x):
    return np.asarray(x)


def matmul(a, b, name=None):
    return _np(a) @ _np(b)


def bmm(a, b, name=None):
    return np.matmul(_np(a), _np(b))


def add(a, b, name=None):
    return np.add(a, b)


def sub(a, b, name=None):
    return np.subtract(a, b)


def mul(a, b, name=None):
    return np.multiply(a, b)


def div(a, b, name=None):
    return np.divide(a, b)


def copy(a, name=None):
    return np.copy(a)


def transpose(a, axes=None, name=None):
    return np.transpose(a, axes)


def _unary(fn):
    def f(x, name=None):
        if np.ndim(x) == 0 and not isinstance(x, np.ndarray):
            return getattr(math, fn)(x) if fn != "abs" else (x if x >= 0 else -x)
        if fn == "erf":  # numpy has no erf; element-wise math.erf keeps the dtype
            return np.vectorize(math.erf, otypes=[np.asarray(x).dtype])(x)
        return getattr(np, fn)(x)

    f.__name__ = fn
    return f


exp = _unary("exp")
log = _unary("log")
log2 = _unary("log2")
log10 = _unary("log10")
abs = _unary("abs")  # noqa: A001
sqrt = _unary("sqrt")
sin = _unary("sin")
cos = _unary("cos")
tan = _unary("tan")
tanh = _unary("tanh")
erf = _unary("erf")  # allo_rtl extension: exact GELU (x/2 * (1 + erf(x/sqrt 2)))


def power(a, b, name=None):
    return np.power(a, b)


def relu(x, name=None):
    return np.maximum(x, 0)


def softmax(x, name=None):
    x = _np(x)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def conv2d(inp, filt, name=None):
    inp, filt = _np(inp), _np(filt)
    n, c, h, w = inp.shape
    f, c2, kh, kw = filt.shape
    out = np.zeros((n, f, h - kh + 1, w - kw + 1), dtype=np.result_type(inp, filt))
    for y in range(h - kh + 1):
        for x in range(w - kw + 1):
            out[:, :, y, x] = np.einsum("nchw,fchw->nf", inp[:, :, y:y + kh, x:x + kw], filt)
    return out


def _pool(inp, filt, red):
    inp = _np(inp)
    kh, kw = _np(filt).shape[-2:] if not isinstance(filt, tuple) else filt
    n, c, h, w = inp.shape
    out = np.zeros((n, c, h - kh + 1, w - kw + 1), dtype=inp.dtype)
    for y in range(h - kh + 1):
        for x in range(w - kw + 1):
            out[:, :, y, x] = red(inp[:, :, y:y + kh, x:x + kw], axis=(2, 3))
    return out


def maxpool(inp, filt, name=None):
    return _pool(inp, filt, np.max)


def sumpool(inp, filt, name=None):
    return _pool(inp, filt, np.sum)


def linear(x, w, bias=None, name=None):
    y = _np(x) @ _np(w).T
    return y + bias if bias is not None else y


def view(x, shape, name=None):
    return np.reshape(x, shape)


def layernorm(x, gamma, beta, eps=1e-5, name=None):
    x = _np(x)
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def gelu(x, name=None):
    x = _np(x)
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def ones(shape, dtype=None):
    return np.ones(shape)


def zeros(shape, dtype=None):
    return np.zeros(shape)


def tril(x, name=None):
    return np.tril(x)


def concat(x, y, axis=0, name=None):
    return np.concatenate([x, y], axis=axis)
