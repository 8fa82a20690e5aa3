"""dsl builtins and whole-tensor operations lowered to loop nests.

Every tensor operation becomes an ordinary loop nest writing a fresh buffer,
so the schedule primitives and the lowering treat it like hand-written loops.
Accumulating ops (matmul, bmm, linear, conv2d, pools) accumulate in the
result element type, like Allo's linalg lowering.
"""

from __future__ import annotations

import ast
import math

import numpy as np

from .. import dsl
from ..ir.nodes import (
    BinOp, Cast, Const, Decl, Expr, For, Load, Math, Select, Store, UnOp, Var,
)
from ..ir.types import Float, Index, Int, UInt, float32, float64, AlloType
from .values import PyVal, TensorVal

__all__ = ["HANDLERS", "elementwise", "tensor_unop", "transpose", "copy_tensor",
           "map_tensor", "store_region", "load_region"]

_IDX = "ijklmnopqrst"


# ------------------------------------------------------------------ loop-nest helper


def loop_nest(fb, shape, body_fn, *, tag="", node=None, reduction=()):
    """Emit ``for v0 in range(shape[0]): ... body_fn([v0, v1, ...])`` at the current point.

    Loops at function level get a band name ``<tag>_<n>`` (n counts generated bands)."""
    loc = fb.loc(node) if node is not None else None
    if not shape:
        body_fn([])
        return
    vars_, loops = [], []
    for d, n in enumerate(shape):
        short = _IDX[d] if d < len(_IDX) else f"d{d}"
        v = fb.fresh(short)
        vars_.append(Var(v, Index(), loc))
        attrs = {"reduction": True} if d in reduction else {}
        loops.append(For(v, Const(0, Index()), Const(int(n), Index()), 1, [], short, "", attrs, loc))
    if fb.loop_depth == 0 and tag:
        # generated nests are not Python 'for' statements: they do not shift S_*_<n> names
        loops[0].band = f"{tag}_{fb.gen_bands}"
        fb.gen_bands += 1
    for o, i in zip(loops, loops[1:]):
        o.body.append(i)
    fb.emit(loops[0])
    fb.bodies.append(loops[-1].body)
    fb.loop_depth += 1
    try:
        body_fn(vars_)
    finally:
        fb.loop_depth -= 1
        fb.bodies.pop()


def _args(fb, node, n_min, n_max=None):
    vals = [fb.static_tensor(fb.expr(a), a, f"allo.{_fname(node)}()") for a in node.args]
    if len(vals) < n_min or (n_max is not None and len(vals) > n_max):
        fb.err(node, f"{_fname(node)} takes {n_min}" + (f" to {n_max}" if n_max and n_max != n_min else "")
               + f" argument(s), got {len(vals)}")
    return vals


def _fname(node):
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "builtin")


def _tensor(fb, v, node, what="argument"):
    if isinstance(v, PyVal) and isinstance(v.value, (np.ndarray, list)):
        return fb.const_tensor(np.asarray(v.value), node)
    if not isinstance(v, TensorVal):
        fb.err(node, f"{_fname(node)}: {what} must be a tensor")
    return v


def _hint(node, hint, default):
    for k in node.keywords:
        if k.arg == "name" and isinstance(k.value, ast.Constant):
            return k.value.value
    return hint or default


# ------------------------------------------------------------------ elementwise


def broadcast_shape(fb, s1, s2, node):
    r = []
    for a, b in zip(((1,) * (len(s2) - len(s1)) + tuple(s1)),
                    ((1,) * (len(s1) - len(s2)) + tuple(s2))):
        if a != b and 1 not in (a, b):
            fb.err(node, f"shapes {list(s1)} and {list(s2)} cannot be broadcast together")
        r.append(max(a, b))
    return tuple(r)


def _bload(t: TensorVal, idx, loc=None):
    """Load from ``t`` with numpy broadcasting against the full index ``idx``."""
    off = len(idx) - len(t.shape)
    sub = [Const(0, Index()) if n == 1 else idx[off + d] for d, n in enumerate(t.shape)]
    return t.load(sub, loc)


def elementwise(fb, op, a, b, node, hint=None):
    sa = a.shape if isinstance(a, TensorVal) else ()
    sb = b.shape if isinstance(b, TensorVal) else ()
    shape = broadcast_shape(fb, sa, sb, node)
    ea = _bload(a, [Var("_", Index())] * len(shape)) if isinstance(a, TensorVal) else a
    eb = _bload(b, [Var("_", Index())] * len(shape)) if isinstance(b, TensorVal) else b
    proto = fb.scalar_binop(op, *fb.pair_exprs(ea, eb, node), node)
    out = fb.new_temp(proto.type, shape, hint or op)

    def body(iv):
        x = _bload(a, iv) if isinstance(a, TensorVal) else a
        y = _bload(b, iv) if isinstance(b, TensorVal) else b
        e = fb.scalar_binop(op, *fb.pair_exprs(x, y, node), node)
        fb.emit(Store(out.buf, tuple(iv), fb.coerce(e, out.dtype, node)))

    loop_nest(fb, shape, body, tag=op, node=node)
    return out


def map_tensor(fb, t: TensorVal, fn, dtype, hint, node):
    """``out[idx] = fn(t[idx])`` into a fresh buffer of element type ``dtype``."""
    out = fb.new_temp(dtype, t.shape, hint or "map")

    def body(iv):
        fb.emit(Store(out.buf, tuple(iv), fb.coerce(fn(t.load(iv)), dtype, node)))

    loop_nest(fb, t.shape, body, tag="map", node=node)
    return out


def tensor_unop(fb, op, t, node):
    proto = fb.unop(op, t.load([Var("_", Index())] * len(t.shape)), node)
    return map_tensor(fb, t, lambda e: fb.unop(op, e, node), proto.type, op, node)


def copy_tensor(fb, t, hint, node):
    return map_tensor(fb, t, lambda e: e, t.dtype, hint or "copy", node)


def _region_index(parts, iv):
    """Full index of a region element: slice parts (lo, hi, step) map loop vars to lo + v*step."""
    it = iter(iv)
    full = []
    for p in parts:
        if isinstance(p, tuple):
            v = next(it)
            e = v if p[2] == 1 else BinOp("mul", v, Const(p[2], Index()), Index())
            if p[0]:
                e = BinOp("add", e, Const(p[0], Index()), Index())
            full.append(e)
        else:
            full.append(p)
    return full + list(it)


def store_region(fb, base: TensorVal, parts, mode, val, vnode):
    """``base[parts] = val`` where some parts are slices (lo, hi, step)."""
    dims = [((p[1] - p[0] + p[2] - 1) // p[2]) for p in parts if isinstance(p, tuple)]
    dims += list(base.shape[len(parts):])
    region = tuple(dims)
    if isinstance(val, PyVal) and isinstance(val.value, (np.ndarray, list)):
        val = fb.const_tensor(np.asarray(val.value), vnode)
    fb.static_tensor(val, vnode, "a slice assignment")
    if isinstance(val, TensorVal):
        vs = tuple(val.shape)
        if broadcast_shape(fb, vs, region, vnode) != region:
            fb.err(vnode, f"cannot assign a tensor of shape {list(vs)} to a region of shape "
                   f"{list(region)}")

    def body(iv):
        full = _region_index(parts, iv)
        if isinstance(val, TensorVal):
            x = _bload(val, iv)
        else:
            x = fb.as_expr(val, vnode, base.dtype)
        fb.emit(Store(base.buf, tuple(base.prefix) + tuple(full),
                      fb.coerce(x, base.dtype, vnode)))

    loop_nest(fb, region, body, tag="store", node=vnode)


def load_region(fb, base: TensorVal, parts, mode, node):
    """Materialize ``base[parts]`` (with slices) into a fresh buffer."""
    dims = [((p[1] - p[0] + p[2] - 1) // p[2]) for p in parts if isinstance(p, tuple)]
    dims += list(base.shape[len(parts):])
    out = fb.new_temp(base.dtype, tuple(dims), "slice")

    def body(iv):
        full = _region_index(parts, iv)
        fb.emit(Store(out.buf, tuple(iv), base.load(full)))

    loop_nest(fb, tuple(dims), body, tag="slice", node=node)
    return out


# ------------------------------------------------------------------ handlers


def _math_type(t):
    if isinstance(t, Float):
        return t
    return float32 if t.bits <= 32 else float64


def _unary_math(fn):
    def handler(fb, node, hint):
        (x,) = _args(fb, node, 1, 1)
        if isinstance(x, PyVal) and not isinstance(x.value, (np.ndarray, list)):
            v = x.value
            return PyVal(abs(v) if fn == "abs" else getattr(math, fn)(v))

        def scalar(e):
            if fn == "abs" and not isinstance(e.type, Float):
                neg = fb.unop("neg", e, node)
                zero = fb.coerce(Const(0, Int(32)), e.type)
                return Select(BinOp("lt", e, zero, UInt(1)), neg, fb.coerce(e, neg.type), neg.type)
            t = _math_type(e.type)
            return Math(fn, (fb.coerce(e, t, node),), t, fb.loc(node))

        if isinstance(x, (TensorVal, PyVal)):
            t = _tensor(fb, x, node)
            proto = scalar(t.load([Var("_", Index())] * len(t.shape)))
            return map_tensor(fb, t, scalar, proto.type, _hint(node, hint, fn), node)
        return scalar(fb.as_expr(x, node))

    return handler


def _binary(op):
    def handler(fb, node, hint):
        a, b = _args(fb, node, 2, 2)
        if isinstance(a, TensorVal) or isinstance(b, TensorVal):
            return elementwise(fb, op, a, b, node, _hint(node, hint, op))
        return fb.binop(op, a, b, node)

    return handler


def _power(fb, node, hint):
    a, b = _args(fb, node, 2, 2)
    if isinstance(a, TensorVal) or isinstance(b, TensorVal):
        return elementwise(fb, "pow", a, b, node, _hint(node, hint, "power"))
    if isinstance(a, PyVal) and isinstance(b, PyVal):
        return PyVal(a.value ** b.value)
    x, y = fb.pair_exprs(a, b, node)
    return fb.scalar_binop("pow", x, y, node)


def _relu(fb, node, hint):
    (x,) = _args(fb, node, 1, 1)

    def f(e):
        zero = fb.coerce(Const(0, Int(32)), e.type)
        return Select(BinOp("gt", e, zero, UInt(1)), e, zero, e.type)

    if isinstance(x, TensorVal):
        return map_tensor(fb, x, f, x.dtype, _hint(node, hint, "relu"), node)
    return f(fb.as_expr(x, node))


def _acc_type(t):
    return t


def _matmul(fb, node, hint):
    a, b = [_tensor(fb, v, node) for v in _args(fb, node, 2, 2)]
    if len(a.shape) != 2 or len(b.shape) != 2 or a.shape[1] != b.shape[0]:
        fb.err(node, f"matmul shapes {list(a.shape)} x {list(b.shape)} do not match",
               "matmul takes [M, K] x [K, N]")
    if a.dtype != b.dtype:
        fb.err(node, f"matmul operands have different types {a.dtype} and {b.dtype}")
    M, K = a.shape
    N = b.shape[1]
    t = a.dtype
    out = fb.new_temp(t, (M, N), _hint(node, hint, "matmul"), init=fb.coerce(Const(0, Int(32)), t))

    def body(iv):
        i, j, k = iv
        prod = fb.coerce(fb.scalar_binop("mul", a.load([i, k]), b.load([k, j]), node), t)
        s = fb.scalar_binop("add", out.load([i, j]), prod, node)
        fb.emit(Store(out.buf, (i, j), fb.coerce(s, t)))

    loop_nest(fb, (M, N, K), body, tag="matmul", node=node, reduction=(2,))
    return out


def _bmm(fb, node, hint):
    a, b = [_tensor(fb, v, node) for v in _args(fb, node, 2, 2)]
    if len(a.shape) != 3 or len(b.shape) != 3 or a.shape[2] != b.shape[1] or a.shape[0] != b.shape[0]:
        fb.err(node, f"bmm shapes {list(a.shape)} x {list(b.shape)} do not match",
               "bmm takes [B, M, K] x [B, K, N]")
    B_, M, K = a.shape
    N = b.shape[2]
    t = a.dtype
    out = fb.new_temp(t, (B_, M, N), _hint(node, hint, "bmm"), init=fb.coerce(Const(0, Int(32)), t))

    def body(iv):
        z, i, j, k = iv
        prod = fb.coerce(fb.scalar_binop("mul", a.load([z, i, k]), b.load([z, k, j]), node), t)
        s = fb.scalar_binop("add", out.load([z, i, j]), prod, node)
        fb.emit(Store(out.buf, (z, i, j), fb.coerce(s, t)))

    loop_nest(fb, (B_, M, N, K), body, tag="bmm", node=node, reduction=(3,))
    return out


def _linear(fb, node, hint):
    vals = _args(fb, node, 2, 3)
    kw = {k.arg: fb.static_tensor(fb.expr(k.value), k.value, "allo.linear()")
          for k in node.keywords if k.arg == "bias"}
    x, w = _tensor(fb, vals[0], node), _tensor(fb, vals[1], node)
    bias = vals[2] if len(vals) > 2 else kw.get("bias")
    if isinstance(bias, PyVal) and bias.value is None:
        bias = None
    if bias is not None:
        bias = _tensor(fb, bias, node)
    if len(w.shape) != 2 or x.shape[-1] != w.shape[1]:
        fb.err(node, f"linear shapes {list(x.shape)} and weight {list(w.shape)} do not match",
               "linear(X[..., K], W[N, K]) computes X @ W.T")
    N = w.shape[0]
    K = w.shape[1]
    lead = tuple(x.shape[:-1])
    t = x.dtype
    out = fb.new_temp(t, lead + (N,), _hint(node, hint, "linear"), init=fb.coerce(Const(0, Int(32)), t))

    def body(iv):
        *li, j, k = iv
        prod = fb.coerce(fb.scalar_binop("mul", x.load(li + [k]), w.load([j, k]), node), t)
        s = fb.scalar_binop("add", out.load(li + [j]), prod, node)
        fb.emit(Store(out.buf, tuple(li) + (j,), fb.coerce(s, t)))

    loop_nest(fb, lead + (N, K), body, tag="linear", node=node, reduction=(len(lead) + 1,))
    if bias is not None:
        def addb(iv):
            s = fb.scalar_binop("add", out.load(iv), fb.coerce(bias.load([iv[-1]]), t), node)
            fb.emit(Store(out.buf, tuple(iv), fb.coerce(s, t)))

        loop_nest(fb, lead + (N,), addb, tag="bias", node=node)
    return out


def _transpose_h(fb, node, hint):
    vals = _args(fb, node, 1, 2)
    axes = None
    if len(vals) > 1:
        axes = vals[1].value
    for k in node.keywords:
        if k.arg == "axes":
            axes = fb.expr(k.value).value
    return transpose(fb, _tensor(fb, vals[0], node), axes, node, hint)


def transpose(fb, t, axes, node, hint=None):
    n = len(t.shape)
    axes = tuple(reversed(range(n))) if axes is None else tuple(axes)
    if sorted(axes) != list(range(n)):
        fb.err(node, f"transpose axes {axes} are not a permutation of {list(range(n))}")
    shape = tuple(t.shape[a] for a in axes)
    out = fb.new_temp(t.dtype, shape, hint or "transpose")

    def body(iv):
        src = [None] * n
        for d, a in enumerate(axes):
            src[a] = iv[d]
        fb.emit(Store(out.buf, tuple(iv), t.load(src)))

    loop_nest(fb, shape, body, tag="transpose", node=node)
    return out


def _copy(fb, node, hint):
    (x,) = _args(fb, node, 1, 1)
    return copy_tensor(fb, _tensor(fb, x, node), _hint(node, hint, "copy"), node)


def _view(fb, node, hint):
    x, shape = _args(fb, node, 2, 2)
    x = _tensor(fb, x, node)
    shape = tuple(shape.value) if isinstance(shape, PyVal) else None
    if shape is None or int(np.prod(shape)) != int(np.prod(x.shape)):
        fb.err(node, f"view: cannot reshape {list(x.shape)} to {shape}")
    out = fb.new_temp(x.dtype, shape, _hint(node, hint, "view"))
    strides_in = _strides(x.shape)

    def body(iv):
        flat = None
        for v, s in zip(iv, _strides(shape)):
            term = v if s == 1 else BinOp("mul", v, Const(s, Index()), Index())
            flat = term if flat is None else BinOp("add", flat, term, Index())
        src = []
        for d, (s, n) in enumerate(zip(strides_in, x.shape)):
            q = flat if s == 1 else BinOp("floordiv", flat, Const(s, Index()), Index())
            src.append(q if d == 0 else BinOp("mod", q, Const(n, Index()), Index()))
        fb.emit(Store(out.buf, tuple(iv), x.load(src)))

    loop_nest(fb, shape, body, tag="view", node=node)
    return out


def _strides(shape):
    out, acc = [], 1
    for n in reversed(shape):
        out.append(acc)
        acc *= n
    return list(reversed(out))


def _fill(value):
    def handler(fb, node, hint):
        vals = _args(fb, node, 1, 2)
        shape = vals[0].value
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        dtype = float32
        if len(vals) > 1:
            dtype = vals[1].value
        for k in node.keywords:
            if k.arg == "dtype":
                dtype = fb.expr(k.value).value
        return fb.new_temp(dtype, shape, _hint(node, hint, "ones" if value else "zeros"),
                           init=fb.coerce(Const(value, Int(32)), dtype))

    return handler


def _tril(fb, node, hint):
    (x,) = _args(fb, node, 1, 1)
    x = _tensor(fb, x, node)
    out = fb.new_temp(x.dtype, x.shape, _hint(node, hint, "tril"))
    zero = fb.coerce(Const(0, Int(32)), x.dtype)

    def body(iv):
        i, j = iv[-2], iv[-1]
        fb.emit(Store(out.buf, tuple(iv), Select(BinOp("le", j, i, UInt(1)), x.load(iv), zero, x.dtype)))

    loop_nest(fb, x.shape, body, tag="tril", node=node)
    return out


def _concat(fb, node, hint):
    vals = _args(fb, node, 2, 3)
    x, y = _tensor(fb, vals[0], node), _tensor(fb, vals[1], node)
    axis = vals[2].value if len(vals) > 2 else 0
    for k in node.keywords:
        if k.arg == "axis":
            axis = fb.expr(k.value).value
    if axis < 0:
        axis += len(x.shape)
    if len(x.shape) != len(y.shape) or any(a != b for d, (a, b) in enumerate(zip(x.shape, y.shape)) if d != axis):
        fb.err(node, f"concat: shapes {list(x.shape)} and {list(y.shape)} differ off axis {axis}")
    if x.dtype != y.dtype:
        fb.err(node, f"concat: element types {x.dtype} and {y.dtype} differ")
    shape = list(x.shape)
    shape[axis] += y.shape[axis]
    out = fb.new_temp(x.dtype, tuple(shape), _hint(node, hint, "concat"))
    loop_nest(fb, x.shape, lambda iv: fb.emit(Store(out.buf, tuple(iv), x.load(iv))), tag="concat", node=node)

    def body2(iv):
        dst = list(iv)
        dst[axis] = BinOp("add", iv[axis], Const(x.shape[axis], Index()), Index())
        fb.emit(Store(out.buf, tuple(dst), y.load(iv)))

    loop_nest(fb, y.shape, body2, tag="concat", node=node)
    return out


def _reduce_last(fb, x, node, init, combine, tag):
    """acc[lead] = fold(combine, x[lead, :]) as a buffer of shape lead."""
    lead = tuple(x.shape[:-1]) or (1,)
    acc = fb.new_temp(x.dtype, lead, tag, init=init)

    def body(iv):
        li = iv[:-1] if len(x.shape) > 1 else [Const(0, Index())]
        src = iv if len(x.shape) > 1 else [iv[-1]]
        fb.emit(Store(acc.buf, tuple(li), fb.coerce(combine(acc.load(li), x.load(src)), x.dtype)))

    loop_nest(fb, tuple(x.shape[:-1]) + (x.shape[-1],), body, tag=tag, node=node,
              reduction=(len(x.shape) - 1,))
    return acc, lead


def _softmax(fb, node, hint):
    (x,) = _args(fb, node, 1, 1)
    x = _tensor(fb, x, node)
    if not isinstance(x.dtype, Float):
        fb.err(node, "softmax needs a float tensor")
    t = x.dtype
    mx, _ = _reduce_last(fb, x, node, Const(-math.inf, t),
                         lambda a, b: fb.scalar_binop("max", a, b, node), "softmax_max")
    out = fb.new_temp(t, x.shape, _hint(node, hint, "softmax"))
    sm = fb.new_temp(t, tuple(x.shape[:-1]) or (1,), "softmax_sum", init=Const(0.0, t))
    lead_of = (lambda iv: iv[:-1]) if len(x.shape) > 1 else (lambda iv: [Const(0, Index())])

    def body_exp(iv):
        e = Math("exp", (fb.scalar_binop("sub", x.load(iv), mx.load(lead_of(iv)), node),), t)
        fb.emit(Store(out.buf, tuple(iv), e))
        fb.emit(Store(sm.buf, tuple(lead_of(iv)), fb.scalar_binop("add", sm.load(lead_of(iv)), out.load(iv), node)))

    loop_nest(fb, x.shape, body_exp, tag="softmax_exp", node=node, reduction=(len(x.shape) - 1,))

    def body_div(iv):
        fb.emit(Store(out.buf, tuple(iv), fb.scalar_binop("div", out.load(iv), sm.load(lead_of(iv)), node)))

    loop_nest(fb, x.shape, body_div, tag="softmax_div", node=node)
    return out


def _layernorm(fb, node, hint):
    vals = _args(fb, node, 3, 4)
    x, g, b = [_tensor(fb, v, node) for v in vals[:3]]
    eps = vals[3].value if len(vals) > 3 else 1e-5
    for k in node.keywords:
        if k.arg == "eps":
            eps = fb.expr(k.value).value
    t = x.dtype
    if not isinstance(t, Float):
        fb.err(node, "layernorm needs a float tensor")
    n = x.shape[-1]
    mean, lead = _reduce_last(fb, x, node, Const(0.0, t), lambda a, v: fb.scalar_binop("add", a, v, node), "ln_mean")
    lead_of = (lambda iv: iv[:-1]) if len(x.shape) > 1 else (lambda iv: [Const(0, Index())])
    loop_nest(fb, lead, lambda iv: fb.emit(Store(mean.buf, tuple(iv), fb.scalar_binop(
        "div", mean.load(iv), Const(float(n), t), node))), tag="ln_mean_div", node=node)
    var = fb.new_temp(t, lead, "ln_var", init=Const(0.0, t))

    def body_var(iv):
        d = fb.scalar_binop("sub", x.load(iv), mean.load(lead_of(iv)), node)
        fb.emit(Store(var.buf, tuple(lead_of(iv)), fb.scalar_binop(
            "add", var.load(lead_of(iv)), fb.scalar_binop("mul", d, d, node), node)))

    loop_nest(fb, x.shape, body_var, tag="ln_var", node=node, reduction=(len(x.shape) - 1,))
    out = fb.new_temp(t, x.shape, _hint(node, hint, "layernorm"))

    def body_out(iv):
        v = fb.scalar_binop("add", fb.scalar_binop("div", var.load(lead_of(iv)), Const(float(n), t), node),
                            Const(float(np.float32(eps)) if t.bits == 32 else float(eps), t), node)
        d = fb.scalar_binop("sub", x.load(iv), mean.load(lead_of(iv)), node)
        y = fb.scalar_binop("div", d, Math("sqrt", (v,), t), node)
        y = fb.scalar_binop("add", fb.scalar_binop("mul", y, fb.coerce(g.load([iv[-1]]), t), node),
                            fb.coerce(b.load([iv[-1]]), t), node)
        fb.emit(Store(out.buf, tuple(iv), y))

    loop_nest(fb, x.shape, body_out, tag="layernorm", node=node)
    return out


def _gelu(fb, node, hint):
    (x,) = _args(fb, node, 1, 1)
    x = _tensor(fb, x, node)
    t = x.dtype
    if not isinstance(t, Float):
        fb.err(node, "gelu needs a float tensor")

    def f(e):
        c = lambda v: fb.typed_const(v, t, node)  # noqa: E731
        x3 = fb.scalar_binop("mul", fb.scalar_binop("mul", e, e, node), e, node)
        inner = fb.scalar_binop("mul", c(math.sqrt(2 / math.pi)),
                                fb.scalar_binop("add", e, fb.scalar_binop("mul", c(0.044715), x3, node), node), node)
        th = Math("tanh", (inner,), t)
        return fb.scalar_binop("mul", fb.scalar_binop("mul", c(0.5), e, node),
                               fb.scalar_binop("add", c(1.0), th, node), node)

    return map_tensor(fb, x, f, t, _hint(node, hint, "gelu"), node)


def _conv2d(fb, node, hint):
    inp, filt = [_tensor(fb, v, node) for v in _args(fb, node, 2, 2)]
    if len(inp.shape) != 4 or len(filt.shape) != 4 or inp.shape[1] != filt.shape[1]:
        fb.err(node, f"conv2d shapes {list(inp.shape)} and {list(filt.shape)} do not match",
               "conv2d takes input [N, C, H, W] and filter [F, C, KH, KW]")
    N, C, H, W = inp.shape
    F, _, KH, KW = filt.shape
    OH, OW = H - KH + 1, W - KW + 1
    t = inp.dtype
    out = fb.new_temp(t, (N, F, OH, OW), _hint(node, hint, "conv2d"), init=fb.coerce(Const(0, Int(32)), t))

    def body(iv):
        n, f, y, x, c, ky, kx = iv
        yy = BinOp("add", y, ky, Index())
        xx = BinOp("add", x, kx, Index())
        prod = fb.coerce(fb.scalar_binop("mul", inp.load([n, c, yy, xx]), filt.load([f, c, ky, kx]), node), t)
        fb.emit(Store(out.buf, (n, f, y, x), fb.coerce(fb.scalar_binop("add", out.load([n, f, y, x]), prod, node), t)))

    loop_nest(fb, (N, F, OH, OW, C, KH, KW), body, tag="conv2d", node=node, reduction=(4, 5, 6))
    return out


def _pool(kind):
    def handler(fb, node, hint):
        inp, filt = _args(fb, node, 2, 2)
        inp = _tensor(fb, inp, node)
        if isinstance(filt, TensorVal):
            KH, KW = filt.shape[-2:]
        else:
            KH, KW = tuple(filt.value)[-2:] if not isinstance(filt.value, np.ndarray) else filt.value.shape[-2:]
        N, C, H, W = inp.shape
        t = inp.dtype
        init = Const(-math.inf, t) if (kind == "max" and isinstance(t, Float)) else \
            fb.coerce(Const(-(1 << (t.bits - 1)) if kind == "max" and not isinstance(t, UInt) else 0, Int(t.bits + 1)), t)
        out = fb.new_temp(t, (N, C, H - KH + 1, W - KW + 1), _hint(node, hint, kind + "pool"), init=init)

        def body(iv):
            n, c, y, x, ky, kx = iv
            v = inp.load([n, c, BinOp("add", y, ky, Index()), BinOp("add", x, kx, Index())])
            cur = out.load([n, c, y, x])
            r = fb.scalar_binop("max" if kind == "max" else "add", cur, v, node)
            fb.emit(Store(out.buf, (n, c, y, x), fb.coerce(r, t)))

        loop_nest(fb, (N, C, H - KH + 1, W - KW + 1, KH, KW), body, tag=kind + "pool", node=node,
                  reduction=(4, 5))
        return out

    return handler


HANDLERS = {
    dsl.matmul: _matmul, dsl.bmm: _bmm, dsl.linear: _linear,
    dsl.add: _binary("add"), dsl.sub: _binary("sub"), dsl.mul: _binary("mul"),
    dsl.div: _binary("div"), dsl.power: _power, dsl.relu: _relu,
    dsl.copy: _copy, dsl.transpose: _transpose_h, dsl.view: _view,
    dsl.ones: _fill(1), dsl.zeros: _fill(0), dsl.tril: _tril, dsl.concat: _concat,
    dsl.softmax: _softmax, dsl.layernorm: _layernorm, dsl.gelu: _gelu,
    dsl.conv2d: _conv2d, dsl.maxpool: _pool("max"), dsl.sumpool: _pool("sum"),
}
for _fn in ("exp", "log", "log2", "log10", "abs", "sqrt", "sin", "cos", "tan", "tanh",
            "erf"):
    HANDLERS[getattr(dsl, _fn)] = _unary_math(_fn)
del _fn
