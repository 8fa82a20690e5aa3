"""Loop primitives (split, reorder, fuse, unroll, pipeline, parallel, inline, compute_at):
the scheduled kernel computes exactly what the unscheduled one (and numpy) computes."""

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl import AlloError
from allo_rtl.ir.nodes import CallStmt, For, walk_stmts
from allo_rtl.ir.types import int16, int32, uint8
from tests.conftest import line_of
from tests.kernel_check import Checked, assert_bitexact

# ------------------------------------------------------------------ kernels


def vadd10(A: int32[10], B: int32[10]) -> int32[10]:
    C: int32[10] = 0
    for i in range(10):
        C[i] = A[i] + B[i]
    return C


def strided(A: int32[12]) -> int32[12]:
    C: int32[12] = 0
    for i in range(1, 12, 2):
        C[i] = A[i] * 3
    for j in range(2, 12, 3):
        C[j] += A[j - 1]
    return C


def dyn(A: int32[8], n: int32) -> int32:
    t: int32 = 0
    for i in range(n, 8, 2):
        for j in range(i, 8):
            t += A[j] * (i + 1)
    return t


def shrinking(A: int32[8], m: int32) -> int32:
    t: int32 = 0
    for i in range(m):
        m = m - 1
        t += A[i] * m
    return t


def gemm(A: int32[6, 5], B: int32[5, 7]) -> int32[6, 7]:
    C: int32[6, 7] = 0
    for i, j in allo.grid(6, 7):
        for k in range(5):
            C[i, j] += A[i, k] * B[k, j]
    return C


def gemm8(A: int16[4, 8], B: int16[8, 8]) -> int32[4, 8]:
    C: int32[4, 8] = 0
    for i, j, k in allo.grid(4, 8, 8):
        C[i, j] += A[i, k] * B[k, j]
    return C


def ew3(A: int32[3, 5, 4]) -> int32[3, 5, 4]:
    B: int32[3, 5, 4] = 0
    for i, j, k in allo.grid(3, 5, 4):
        B[i, j, k] = A[i, j, k] * (i + 2 * j + 3 * k)
    return B


def offs(A: int32[9, 8]) -> int32[9, 8]:
    B: int32[9, 8] = 0
    for i in range(1, 9, 2):
        for j in range(3, 7):
            B[i, j] = A[i, j] + i * j
    return B


def two_bands(A: int32[8, 4]) -> int32[8, 4]:
    B: int32[8, 4] = 0
    for i, j in allo.grid(8, 4):
        B[i, j] = A[i, j] * 2
    C: int32[8, 4] = 0
    for i, j in allo.grid(8, 4):
        C[i, j] = B[i, j] + 1
    return C


def triangular(A: int32[6, 6]) -> int32[6, 6]:
    B: int32[6, 6] = 0
    for i in range(6):
        for j in range(i, 6):
            B[i, j] = A[i, j]
    return B


def imperfect(A: int32[4, 4]) -> int32[4]:
    S: int32[4] = 0
    for i in range(4):
        S[i] = 1
        for j in range(4):
            S[i] += A[i, j]
    return S


# inline: subviews, scalar and tensor results, nested calls


def add1(x: int32, y: int32) -> int32:
    t: int32 = x + y
    for i in range(2):
        t += 1
    return t


def rowsum(R: int32[6]) -> int32:
    acc: int32 = 0
    for i in range(6):
        acc += R[i]
    return acc


def scale(X: int32[4, 6], k: int32) -> int32[4, 6]:
    Y: int32[4, 6] = 0
    for i, j in allo.grid(4, 6):
        Y[i, j] = X[i, j] * k
    return Y


def calls(A: int32[4, 6]) -> int32[4]:
    B: int32[4] = 0
    C = scale(A, 3)
    for i in range(4):
        B[i] = add1(rowsum(C[i]), i)
    return B


def first_row(X: int32[3, 4]) -> int32[4]:
    return X[0]


def bump(V: int32[4], d: int32):
    for i in range(4):
        V[i] += d
        d = d + 1


def tensor_calls(A: int32[2, 3, 4]) -> int32[2, 4]:
    R: int32[2, 4] = 0
    for b in range(2):
        r = first_row(A[b])
        bump(r, b)
        for j in range(4):
            R[b, j] = r[j]
    bump(R[1], 10)
    return R


def sgn(x: int32) -> int32:
    if x > 0:
        return 1
    return 0


def early(A: int32[4]) -> int32[4]:
    B: int32[4] = 0
    for i in range(4):
        B[i] = sgn(A[i])
    return B


def produce(A: int32[8, 4]) -> int32[8, 4]:
    B: int32[8, 4] = 0
    for i, j in allo.grid(8, 4):
        B[i, j] = A[i, j] * 2
    return B


def pipeline_top(A: int32[8, 4]) -> int32[8, 4]:
    B = produce(A)
    C: int32[8, 4] = 0
    for i, j in allo.grid(8, 4):
        C[i, j] = B[i, j] + 1
    return C


def shifted(A: int32[8, 4]) -> int32[8, 4]:
    B: int32[8, 4] = 0
    for i, j in allo.grid(8, 4):
        B[i, j] = A[i, j] * 2
    C: int32[8, 4] = 0
    for i, j in allo.grid(8, 4):
        C[i, j] = B[i, (j + 1) % 4]
    return C


def transposed(A: int32[4, 4]) -> int32[4, 4]:
    B: int32[4, 4] = 0
    for i, j in allo.grid(4, 4):
        B[i, j] = A[i, j] + 1
    C: int32[4, 4] = 0
    for i, j in allo.grid(4, 4):
        C[i, j] = B[j, i]
    return C


def blur_rows(A: uint8[6, 8]) -> uint8[6, 8]:
    B: uint8[6, 8] = 0
    for i, j in allo.grid(6, 8):
        B[i, j] = A[i, j] >> 1
    C: uint8[6, 8] = 0
    for i, j in allo.grid(6, 8):
        C[i, j] = B[i, j] + (B[i, j] >> 2)
    return C


# ------------------------------------------------------------------ helpers


def rnd(rng, shape, dtype=np.int32, lo=-20, hi=20):
    return rng.integers(lo, hi, shape).astype(dtype)


def check(fn, prims, *args, expect=None):
    """Apply ``prims(s)`` and compare with the unscheduled kernel on the interpreter (results
    and arrays written in place), and with ``expect`` when given. Returns the schedule."""
    ref_args = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
    ref = allo.customize(fn).build(target="sim")(*ref_args)
    s = allo.customize(fn)
    prims(s)
    got_args = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
    out = s.build(target="sim")(*got_args)
    assert_bitexact(ref, out)
    for x, y in zip(ref_args, got_args):
        if isinstance(x, np.ndarray):
            assert_bitexact(x, y, "argument written in place")
    if expect is not None:
        np.testing.assert_array_equal(out, expect)
    return s


def loop_names(s, func=None):
    f = s.module.funcs[func or s.top_func_name]
    return [x.name for x in walk_stmts(f.body) if isinstance(x, For)]


def assert_at(excinfo, fn, snippet):
    """The error names this test file and the line of the primitive call."""
    text = str(excinfo.value)
    assert f"test_loops.py:{line_of(fn, snippet)}" in text, text
    assert excinfo.value.hint, "every schedule error has a hint"


# ------------------------------------------------------------------ split


@pytest.mark.parametrize("factor", [1, 3, 4, 10, 16])
def test_split_tails(factor, rng):
    A, B = rnd(rng, 10), rnd(rng, 10)

    def prims(s):
        outer, inner = s.split("i", factor)
        assert outer.name == "vadd10:S_i_0.i.outer" and inner.name == "vadd10:S_i_0.i.inner"

    s = check(vadd10, prims, A, B, expect=A + B)
    loops = s.get_loops()
    assert list(loops.S_i_0.loops) == ["i.outer", "i.inner"]
    txt = str(s.module)
    assert "name i.outer" in txt and "name i.inner" in txt
    assert ("if " in txt) == (10 % factor != 0)  # tail guard only when needed
    s.unroll("i.inner")  # split loops are addressable by name
    assert "(name i.inner, unroll=0)" in str(s.module)


def test_split_inner_loop_of_imperfect_nest_keeps_attrs(rng):
    A = rnd(rng, (4, 4))

    def prims(s):
        s.pipeline("j", 2)
        outer, inner = s.split("j", 3)
        assert outer.name == "imperfect:S_i_0.j.outer"

    s = check(imperfect, prims, A, expect=A.sum(axis=1) + 1)
    txt = str(s.module)
    assert "(name j.outer) {" in txt and "(name j.inner, pipeline=2)" in txt


@pytest.mark.parametrize("factor", [2, 3, 5])
def test_split_step_and_offset(factor, rng):
    A = rnd(rng, 12)
    exp = np.zeros(12, np.int32)
    exp[1:12:2] = A[1:12:2] * 3
    exp[2:12:3] += A[1:11:3]
    check(strided, lambda s: (s.split("i", factor), s.split("j", factor)), A, expect=exp)


@pytest.mark.parametrize("n", [-3, 0, 1, 5, 7, 8, 11])
def test_split_dynamic_bounds(n, rng):
    A = rnd(rng, 8)
    exp = sum(int(A[j]) * (i + 1) for i in range(n, 8, 2) for j in range(i, 8))

    def prims(s):
        s.split("j", 3)
        s.split("i", 2)

    s = check(dyn, prims, A, n, expect=exp)
    assert loop_names(s) == ["i.outer", "i.inner", "j.outer", "j.inner"]


@pytest.mark.parametrize("m", [-4, 0, 1, 7, 8])
def test_split_bound_modified_in_body(m, rng):
    # range(m) evaluates m once; the split loop must too
    A = rnd(rng, 8)
    exp = sum(int(A[i]) * (m - 1 - i) for i in range(m))
    s = check(shrinking, lambda s: s.split("i", 3), A, m, expect=exp)
    assert "i_ub: index = cast<index>(m)" in str(s.module)


def test_split_twice_and_handles(rng):
    A, B = rnd(rng, (6, 5)), rnd(rng, (5, 7))

    def prims(s):
        o, i = s.split("j", 4)
        oo, oi = s.split(o, 2)
        assert oo.name == "gemm:S_i_j_0.j.outer.outer"
        s.split(s.get_loops().S_i_j_0["j.inner"], 3)

    s = check(gemm, prims, A, B, expect=A @ B)
    assert loop_names(s) == ["i", "j.outer.outer", "j.outer.inner", "j.inner.outer",
                             "j.inner.inner", "k"]


# ------------------------------------------------------------------ reorder


@pytest.mark.parametrize("order", ["ijk", "ikj", "jik", "jki", "kij", "kji"])
def test_reorder_three_deep(order, rng):
    A, B = rnd(rng, (6, 5)), rnd(rng, (5, 7))
    s = check(gemm, lambda s: s.reorder(*order), A, B, expect=A @ B)
    assert loop_names(s) == list(order)
    assert s.module.top_func.body[1].band == "S_i_j_0"  # the band stays on the outermost loop


def test_reorder_partial_keeps_unnamed_loops(rng):
    A, B = rnd(rng, (6, 5)), rnd(rng, (5, 7))
    s = check(gemm, lambda s: s.reorder("k", "i"), A, B, expect=A @ B)
    assert loop_names(s) == ["k", "j", "i"]


@pytest.mark.parametrize("fi,fj", [(4, 4), (2, 3), (5, 8)])
def test_tiling_split_reorder(fi, fj, rng):
    A, B = rnd(rng, (6, 5)), rnd(rng, (5, 7))

    def prims(s):
        io, ii = s.split("i", fi)
        jo, ji = s.split("j", fj)
        s.reorder(io, jo, "k", ii, ji)

    s = check(gemm, prims, A, B, expect=A @ B)
    assert loop_names(s) == ["i.outer", "j.outer", "k", "i.inner", "j.inner"]
    assert list(s.get_loops().S_i_j_0.loops) == ["i.outer", "j.outer", "k", "i.inner",
                                                 "j.inner"]


# ------------------------------------------------------------------ fuse


def test_fuse_two_pow2(rng):
    A, B = rnd(rng, (4, 8), np.int16), rnd(rng, (8, 8), np.int16)

    def prims(s):
        h = s.fuse("i", "j")
        assert h.name == "gemm8:S_i_j_k_0.i_j_fused"
        s.pipeline(h)  # the handle is usable

    s = check(gemm8, prims, A, B, expect=A.astype(np.int32) @ B.astype(np.int32))
    assert "i_j_fused" in s.get_loops().S_i_j_k_0.loops
    txt = str(s.module)
    assert "for i_j_fused in 0..32 (band S_i_j_k_0, pipeline=1)" in txt
    assert "floordiv" not in txt and " % " not in txt  # shifts and masks, no divider


def test_fuse_two_counters(rng):
    A, B = rnd(rng, (6, 5)), rnd(rng, (5, 7))
    s = check(gemm, lambda s: s.fuse("i", "j"), A, B, expect=A @ B)
    assert list(s.get_loops().S_i_j_0.loops) == ["i_j_fused", "k"]
    txt = str(s.module)
    assert "for i_j_fused in 0..42" in txt
    assert "j = (j + 1)" in txt and "if (j == 7" in txt  # index counters with carry


@pytest.mark.parametrize("axes", [("i", "j", "k"), ("i", "j"), ("j", "k")])
def test_fuse_three_and_inner(axes, rng):
    A = rnd(rng, (3, 5, 4))
    exp = A * (np.arange(3)[:, None, None] + 2 * np.arange(5)[None, :, None]
               + 3 * np.arange(4)[None, None, :])
    s = check(ew3, lambda s: s.fuse(*axes), A, expect=exp)
    assert "_".join(axes) + "_fused" in loop_names(s)


def test_fuse_offsets_and_steps(rng):
    A = rnd(rng, (9, 8))
    exp = np.zeros((9, 8), np.int32)
    for i in range(1, 9, 2):
        for j in range(3, 7):
            exp[i, j] = A[i, j] + i * j
    check(offs, lambda s: s.fuse("i", "j"), A, expect=exp)  # trips 4 x 4: shifts
    check(offs, lambda s: (s.split("j", 3), s.fuse("i", "j.outer")), A, expect=exp)  # 4 x 2


def test_fuse_after_imperfect_split_sinks_guard(rng):
    A, B = rnd(rng, (6, 5)), rnd(rng, (5, 7))

    def prims(s):
        s.split("i", 4)
        h = s.fuse("i.inner", "j")  # the i < 6 guard sits between i.inner and j
        assert h.name == "gemm:S_i_j_0.i.inner_j_fused"

    s = check(gemm, prims, A, B, expect=A @ B)
    assert loop_names(s) == ["i.outer", "i.inner_j_fused", "k"]


# ------------------------------------------------------------------ annotations


def test_unroll_pipeline_parallel_annotate(rng):
    A, B = rnd(rng, (6, 5)), rnd(rng, (5, 7))

    def prims(s):
        s.unroll("k", 5)
        s.pipeline("j", initiation_interval=2, rewind=True)
        s.parallel("i")

    s = check(gemm, prims, A, B, expect=A @ B)
    txt = str(s.module)
    assert "for i in 0..6 (band S_i_j_0, parallel, unroll=0)" in txt
    assert "for j in 0..7 (pipeline=2, rewind)" in txt
    assert "for k in 0..5 (unroll=5)" in txt
    s.pipeline("j")
    s.unroll("k")
    txt = str(s.module)
    assert "for j in 0..7 (pipeline=1)" in txt and "for k in 0..5 (unroll=0)" in txt


def test_chained_primitives(rng):
    A, B = rnd(rng, (4, 8), np.int16), rnd(rng, (8, 8), np.int16)

    def prims(s):
        ko, ki = s.split("k", 4)
        s.reorder(ko, "i", "j", ki)
        h = s.fuse("i", "j")
        s.unroll(ki)
        s.pipeline(h)
        s.split(h, 3)  # split the fused loop again (imperfect: 32 / 3)

    s = check(gemm8, prims, A, B, expect=A.astype(np.int32) @ B.astype(np.int32))
    assert loop_names(s) == ["k.outer", "i_j_fused.outer", "i_j_fused.inner", "k.inner"]
    assert [p[0] for p in s.primitive_sequences] == ["split", "reorder", "fuse", "unroll",
                                                     "pipeline", "split"]


# ------------------------------------------------------------------ inline


@pytest.mark.parametrize("fn", [None, "add1", "rowsum", "scale"])
def test_inline_calls(fn, rng):
    A = rnd(rng, (4, 6))
    exp = (A * 3).sum(axis=1) + np.arange(4) + 2
    s = check(calls, lambda s: s.inline(fn), A, expect=exp)
    funcs = list(s.module.funcs)
    if fn is None:
        assert funcs == ["calls"]
    else:
        assert fn not in funcs and len(funcs) == 3
    calls_left = {x.callee for x in walk_stmts(s.top_func.body) if isinstance(x, CallStmt)}
    assert fn not in calls_left and (fn is not None or not calls_left)


def test_inline_keeps_top_level_band_and_result_buffer(rng):
    A = rnd(rng, (4, 6))
    s = allo.customize(calls)
    s.inline("scale")
    bands = s.get_loops()
    assert list(bands.keys()) == ["S_i_j_0", "S_i_0"]
    assert list(bands.S_i_j_0.loops) == ["i", "j"]
    txt = str(s.module)
    # the callee's local result is computed directly in the caller's buffer: no copy
    assert "C: i32[4, 6] = 0:i32" in txt and "scale_0_Y" not in txt
    assert txt.count("C: i32[4, 6]") == 1
    s.pipeline(bands.S_i_j_0.j)
    np.testing.assert_array_equal(s.build(target="sim")(A), (A * 3).sum(axis=1)
                                  + np.arange(4) + 2)


def test_inline_nested_loop_names_stay_unique():
    s = allo.customize(calls)
    s.inline()
    band = s.get_loops().S_i_0
    assert list(band.loops) == ["i", "rowsum_0_i", "add1_0_i"]
    s.unroll(band.add1_0_i)  # addressable


@pytest.mark.parametrize("fn", [None, "first_row", "bump"])
def test_inline_tensor_results_subviews_and_in_place(fn, rng):
    A = rnd(rng, (2, 3, 4))
    exp = A[:, 0, :] + np.arange(2)[:, None] + np.arange(4)[None, :]
    exp[1] += 10 + np.arange(4)
    s = check(tensor_calls, lambda s: s.inline(fn), A, expect=exp)
    if fn is None:
        assert list(s.module.funcs) == ["tensor_calls"]


def test_inline_band_name_collision(rng):
    A = rnd(rng, (8, 4))

    def prims(s):
        s.inline("produce")
        assert list(s.get_loops().keys()) == ["produce_0_S_i_j_0", "S_i_j_0"]

    check(pipeline_top, prims, A, expect=A * 2 + 1)


# ------------------------------------------------------------------ compute_at


@pytest.mark.parametrize("axis", ["i", "j"])
def test_compute_at(axis, rng):
    A = rnd(rng, (8, 4))

    def prims(s):
        loops = s.get_loops()
        s.compute_at(loops.S_i_j_0[axis], loops.S_i_j_1[axis])

    s = check(two_bands, prims, A, expect=A * 2 + 1)
    assert list(s.get_loops().keys()) == ["S_i_j_1"]
    names = list(s.get_loops().S_i_j_1.loops)
    assert names == (["i", "j"] if axis == "j" else ["i", "j_S_i_j_0", "j"])


def test_compute_at_after_inline_and_split(rng):
    A = rnd(rng, (8, 4))

    def prims(s):
        s.inline("produce")
        loops = s.get_loops()
        s.compute_at(loops.produce_0_S_i_j_0.i, loops.S_i_j_0.i)
        s.split("i", 3)

    s = check(pipeline_top, prims, A, expect=A * 2 + 1)
    assert list(s.get_loops().keys()) == ["S_i_j_0"]


def test_compute_at_uint8(rng):
    A = rnd(rng, (6, 8), np.uint8, 0, 255)
    B = A >> 1
    exp = (B + (B >> 2)).astype(np.uint8)
    check(blur_rows, lambda s: s.compute_at(s.get_loops().S_i_j_0.j,
                                            s.get_loops().S_i_j_1.j), A, expect=exp)


# ------------------------------------------------------------------ errors


def test_error_unknown_loop():
    s = allo.customize(gemm)
    with pytest.raises(AlloError) as e:
        s.split("q", 2)
    assert_at(e, test_error_unknown_loop, 's.split("q", 2)')
    assert "no loop 'q'" in str(e.value)
    assert "S_i_j_0.i, S_i_j_0.j, S_i_j_0.k" in e.value.hint


def test_error_pipeline_loop_of_other_kernel():
    s = allo.customize(gemm)
    other = allo.customize(vadd10).get_loops().S_i_0.i
    with pytest.raises(AlloError) as e:
        s.pipeline(other)
    assert_at(e, test_error_pipeline_loop_of_other_kernel, "s.pipeline(other)")
    assert "vadd10" in str(e.value) and "gemm" in e.value.hint


@pytest.mark.parametrize("factor", [0, -2])
def test_error_split_non_positive(factor):
    s = allo.customize(vadd10)
    with pytest.raises(AlloError) as e:
        s.split("i", factor)
    assert_at(e, test_error_split_non_positive, 's.split("i", factor)')
    assert "must be >= 1" in str(e.value)


@pytest.mark.parametrize("factor", [2.0, "4", True, None])
def test_error_factor_type(factor):
    s = allo.customize(vadd10)
    with pytest.raises(AlloError) as e:
        s.split("i", factor)
    assert_at(e, test_error_factor_type, 's.split("i", factor)')
    assert "must be an integer" in str(e.value)
    with pytest.raises(AlloError) as e:
        s.unroll("i", factor)
    assert_at(e, test_error_factor_type, 's.unroll("i", factor)')
    with pytest.raises(AlloError) as e:
        s.pipeline("i", initiation_interval=factor)
    assert_at(e, test_error_factor_type, 's.pipeline("i", initiation_interval=factor)')


def test_error_bad_annotation_values():
    s = allo.customize(dyn)
    with pytest.raises(AlloError) as e:
        s.unroll("i", -1)
    assert_at(e, test_error_bad_annotation_values, 's.unroll("i", -1)')
    with pytest.raises(AlloError) as e:
        s.pipeline("i", 0)
    assert_at(e, test_error_bad_annotation_values, 's.pipeline("i", 0)')
    with pytest.raises(AlloError) as e:
        s.unroll("j")
    assert_at(e, test_error_bad_annotation_values, 's.unroll("j")')
    assert "non-constant bounds" in str(e.value) and "split" in e.value.hint
    with pytest.raises(AlloError) as e:
        s.parallel("i")
    assert_at(e, test_error_bad_annotation_values, 's.parallel("i")')


def test_error_reorder_across_bands():
    s = allo.customize(two_bands)
    loops = s.get_loops()
    with pytest.raises(AlloError) as e:
        s.reorder(loops.S_i_j_1.j, loops.S_i_j_0.i)
    assert_at(e, test_error_reorder_across_bands, "s.reorder(loops.S_i_j_1.j, loops.S_i_j_0.i)")
    assert "different bands" in str(e.value) and "S_i_j_0, S_i_j_1" in e.value.hint


def test_error_reorder_imperfect_and_dependent_bounds():
    s = allo.customize(imperfect)
    with pytest.raises(AlloError) as e:
        s.reorder("j", "i")
    assert_at(e, test_error_reorder_imperfect_and_dependent_bounds, 's.reorder("j", "i")')
    assert "not perfectly nested" in str(e.value)
    s = allo.customize(triangular)
    with pytest.raises(AlloError) as e:
        s.reorder("j", "i")
    assert "depend on loop variable" in str(e.value)
    s = allo.customize(gemm)
    with pytest.raises(AlloError) as e:
        s.reorder("i", "i")
    assert "given twice" in str(e.value)


def test_error_fuse():
    s = allo.customize(gemm)
    with pytest.raises(AlloError) as e:
        s.fuse("i", "k")
    assert_at(e, test_error_fuse, 's.fuse("i", "k")')
    assert "not consecutive" in str(e.value) and "'i', 'j', 'k'" in e.value.hint
    with pytest.raises(AlloError) as e:
        s.fuse("j", "i")
    assert "not consecutive" in str(e.value)
    s = allo.customize(dyn)
    with pytest.raises(AlloError) as e:
        s.fuse("i", "j")
    assert "non-constant bounds" in str(e.value)


def test_error_inline():
    s = allo.customize(early)
    with pytest.raises(AlloError) as e:
        s.inline("sgn")
    assert_at(e, test_error_inline, 's.inline("sgn")')
    assert "returns before its end" in str(e.value)
    with pytest.raises(AlloError) as e:
        s.inline("nope")
    assert "sgn, early" in e.value.hint
    with pytest.raises(AlloError) as e:
        s.inline("early")
    assert "top function" in str(e.value)


def test_error_compute_at_illegal():
    for fn in (shifted, transposed):
        s = allo.customize(fn)
        loops = s.get_loops()
        with pytest.raises(AlloError) as e:
            s.compute_at(loops.S_i_j_0.j, loops.S_i_j_1.j)
        assert_at(e, test_error_compute_at_illegal,
                  "s.compute_at(loops.S_i_j_0.j, loops.S_i_j_1.j)")
        assert "would change the result" in str(e.value)
    # shifted only permutes within a row: fusing at i is fine
    s = allo.customize(shifted)
    s.compute_at(s.get_loops().S_i_j_0.i, s.get_loops().S_i_j_1.i)
    A = np.arange(32, dtype=np.int32).reshape(8, 4)
    np.testing.assert_array_equal(s.build(target="sim")(A), np.roll(A * 2, -1, axis=1))
    s = allo.customize(two_bands)
    loops = s.get_loops()
    with pytest.raises(AlloError) as e:
        s.compute_at(loops.S_i_j_0.i, loops.S_i_j_1.j)
    assert "depth" in str(e.value)
    with pytest.raises(AlloError) as e:
        s.compute_at(loops.S_i_j_1.i, loops.S_i_j_0.i)
    assert "comes after" in str(e.value)


# ------------------------------------------------------------------ RTL


def rtl_check(s, *args):
    """Run the schedule on the interpreter and in Verilog, bit-exactly equal."""
    return Checked(s.build(target="sim"), s.build(target="rtl"))(*args)


@pytest.mark.rtl
def test_rtl_tiled_gemm(rng):
    s = allo.customize(gemm)
    io, ii = s.split("i", 4)
    jo, ji = s.split("j", 4)
    s.reorder(io, jo, "k", ii, ji)
    A, B = rnd(rng, (6, 5)), rnd(rng, (5, 7))
    np.testing.assert_array_equal(rtl_check(s, A, B), A @ B)


@pytest.mark.rtl
def test_rtl_fuse(rng):
    s = allo.customize(gemm)
    s.fuse("i", "j")  # index counters
    A, B = rnd(rng, (6, 5)), rnd(rng, (5, 7))
    np.testing.assert_array_equal(rtl_check(s, A, B), A @ B)
    s = allo.customize(ew3)
    s.fuse("j", "k")  # 5 x 4: shifts and masks
    A = rnd(rng, (3, 5, 4))
    rtl_check(s, A)


@pytest.mark.rtl
def test_rtl_inline_and_compute_at(rng):
    s = allo.customize(calls)
    s.inline()
    A = rnd(rng, (4, 6))
    np.testing.assert_array_equal(rtl_check(s, A), (A * 3).sum(axis=1) + np.arange(4) + 2)
    s = allo.customize(pipeline_top)
    s.inline("produce")
    loops = s.get_loops()
    s.compute_at(loops.produce_0_S_i_j_0.j, loops.S_i_j_0.j)
    A = rnd(rng, (8, 4))
    np.testing.assert_array_equal(rtl_check(s, A), A * 2 + 1)
