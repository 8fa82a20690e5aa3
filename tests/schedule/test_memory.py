"""Memory schedule primitives: partition (+ propagation), reshape, buffer_at, reuse_at.

Every rewrite is checked on the interpreter against the unscheduled kernel and numpy;
reuse_at is also checked structurally (each input element read exactly once).
"""

import inspect

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl.errors import AlloError
from allo_rtl.ir.nodes import Decl, For, If, Load, stmt_exprs, walk_exprs, walk_stmts
from allo_rtl.ir.types import float32, index, int32
from allo_rtl.ir.utils import MockBuffer
from allo_rtl.schedule import memory


def sim(s):
    return s.build(target="sim")


def parts(s, func=None):
    f = s.module.funcs[func or s.top_func_name]
    return f.attrs.get("partition", {})


def assert_at(err, snippet):
    """The error names this test file and the line of the calling test holding ``snippet``
    (the primitive call)."""
    code = inspect.currentframe().f_back.f_code
    lines, first = inspect.getsourcelines(code)
    line = first + next(k for k, t in enumerate(lines) if snippet in t)
    assert err.loc is not None and err.loc.file == __file__ and err.loc.line == line, err.render()
    assert f"{__file__}:{line}" in str(err)
    assert err.hint


def reads_of(s, buf):
    """[(Load, enclosing loops, guarded)] for every read of ``buf`` in the top function."""
    out = []

    def walk(body, loops, guarded):
        for st in body:
            for e in stmt_exprs(st):
                out.extend((x, loops, guarded) for x in walk_exprs(e)
                           if isinstance(x, Load) and x.buf == buf)
            if isinstance(st, For):
                walk(st.body, loops + [st], guarded)
            elif isinstance(st, If):
                walk(st.then, loops, True)
                walk(st.orelse, loops, True)

    walk(s.top_func.body, [], False)
    return out


def trips(loops):
    n = 1
    for lp in loops:
        n *= lp.ub.value - lp.lb.value
    return n


def assert_read_once(s, buf, size):
    """One unconditional read of ``buf`` in the program, executed ``size`` times."""
    rd = reads_of(s, buf)
    assert len(rd) == 1, [str(x[0]) for x in rd]
    _, loops, guarded = rd[0]
    assert not guarded and trips(loops) == size


def decl(s, name, func=None):
    f = s.module.funcs[func or s.top_func_name]
    return next(d for d in walk_stmts(f.body) if isinstance(d, Decl) and d.name == name)


# ================================================================== partition


def copy2d(A: int32[8, 8]) -> int32[8, 8]:
    B: int32[8, 8] = 0
    for i, j in allo.grid(8, 8):
        B[i, j] = A[i, j] + 1
    return B


@pytest.mark.parametrize("kw,expect", [
    ({}, {0: ("complete", 0)}),
    (dict(partition_type=allo.Partition.Block, dim=1, factor=2), {1: ("block", 2)}),
    (dict(partition_type=2, dim=2, factor=4), {2: ("cyclic", 4)}),
    (dict(partition_type=allo.Partition.Cyclic, dim=0, factor=2), {0: ("cyclic", 2)}),
    (dict(partition_type=allo.Partition.Complete, dim=2, factor=3), {2: ("complete", 0)}),
], ids=["complete-all", "block-d1", "cyclic-int", "cyclic-all", "complete-d2"])
def test_partition_records_layout(kw, expect, rng):
    s = allo.customize(copy2d)
    assert s.partition(s.A, **kw) is None
    assert parts(s) == {"A": expect}
    A = rng.integers(-50, 50, (8, 8)).astype(np.int32)
    np.testing.assert_array_equal(sim(s)(A), A + 1)


def test_partition_several_dims_and_strings():
    s = allo.customize(copy2d)
    s.partition("copy2d:B", allo.Partition.Cyclic, dim=1, factor=2)
    s.partition(MockBuffer("copy2d", "B"), allo.Partition.Block, dim=2, factor=4)
    s.partition(s.B, allo.Partition.Cyclic, dim=1, factor=2)  # same layout again: no-op
    assert parts(s) == {"B": {1: ("cyclic", 2), 2: ("block", 4)}}
    assert memory.layout_of(s.top_func, "B") == {1: ("cyclic", 2), 2: ("block", 4)}


def test_partition_complete_all_makes_later_ones_noops():
    s = allo.customize(copy2d)
    s.partition(s.A)
    s.partition(s.A, allo.Partition.Cyclic, dim=1, factor=2)
    s.partition(s.A, allo.Partition.Block, dim=0, factor=2)
    assert parts(s) == {"A": {0: ("complete", 0)}}
    assert memory.layout_of(s.top_func, "A") == {1: ("complete", 0), 2: ("complete", 0)}


def test_partition_conflicts_and_bad_arguments():
    s = allo.customize(copy2d)
    s.partition(s.A, allo.Partition.Cyclic, dim=1, factor=2)
    with pytest.raises(AlloError, match="conflicts") as e:
        s.partition(s.A, allo.Partition.Block, dim=1, factor=2)
    assert_at(e.value, 's.partition(s.A, allo.Partition.Block, dim=1, factor=2)')
    with pytest.raises(AlloError, match="mixing dim=0") as e:
        s.partition(s.A, allo.Partition.Cyclic, dim=0, factor=2)
    assert_at(e.value, 's.partition(s.A, allo.Partition.Cyclic, dim=0, factor=2)')
    s.partition(s.B, allo.Partition.Block, dim=0, factor=2)
    with pytest.raises(AlloError, match="mixing dim=0"):
        s.partition(s.B, allo.Partition.Cyclic, dim=2, factor=2)
    with pytest.raises(AlloError, match="conflicts"):
        s.partition(s.B, allo.Partition.Cyclic, dim=0, factor=2)
    with pytest.raises(AlloError, match="dim 3 is out of range") as e:
        s.partition(s.A, dim=3)
    assert_at(e.value, 's.partition(s.A, dim=3)')
    assert "0 (every dim) or 1, 2" in e.value.hint
    with pytest.raises(AlloError, match="factor >= 1"):
        s.partition(s.A, allo.Partition.Cyclic, dim=2, factor=0)
    with pytest.raises(AlloError, match="factor 16 exceeds the size 8"):
        s.partition(s.A, allo.Partition.Block, dim=2, factor=16)
    with pytest.raises(AlloError, match="unknown partition_type") as e:
        s.partition(s.A, partition_type=7)
    assert "Complete (0), Block (1) or Cyclic (2)" in e.value.hint
    with pytest.raises(AlloError, match="no tensor 'Q'") as e:
        s.partition("copy2d:Q")
    assert_at(e.value, 's.partition("copy2d:Q")')
    assert "A" in e.value.hint and "B" in e.value.hint
    # nothing was recorded by the failed calls
    assert parts(s) == {"A": {1: ("cyclic", 2)}, "B": {0: ("block", 2)}}


def _call_kernels():
    def leaf(Z: int32[8]) -> int32[8]:
        W: int32[8] = 0
        for i in range(8):
            W[i] = Z[i] * 2
        return W

    def mid(X: int32[8]) -> int32[8]:
        Y: int32[8] = leaf(X)
        return Y

    def top(A: int32[8], B: int32[4, 8]) -> int32[8]:
        C: int32[8] = mid(A)
        D: int32[8] = mid(B[1])
        E: int32[8] = 0
        for i in range(8):
            E[i] = C[i] + D[i]
        return E

    return top


def _call_ref(A, B):
    return (A * 2 + B[1] * 2).astype(np.int32)


def test_partition_propagates_through_two_call_levels(rng):
    top = _call_kernels()
    s = allo.customize(top)
    s.partition(s.A, allo.Partition.Cyclic, dim=1, factor=2)
    lay = {1: ("cyclic", 2)}
    assert parts(s, "top") == {"A": lay, "B": {2: ("cyclic", 2)}}  # B[1] is passed: dims shift
    assert parts(s, "mid") == {"X": lay}
    assert parts(s, "leaf") == {"Z": lay}
    A = rng.integers(-9, 9, 8).astype(np.int32)
    B = rng.integers(-9, 9, (4, 8)).astype(np.int32)
    np.testing.assert_array_equal(sim(s)(A, B), _call_ref(A, B))


def test_partition_of_callee_param_reaches_every_call_site():
    s = allo.customize(_call_kernels())
    s.partition("leaf:Z", allo.Partition.Block, dim=0, factor=2)
    assert parts(s, "leaf") == {"Z": {0: ("block", 2)}}
    assert parts(s, "mid") == {"X": {0: ("block", 2)}}
    # A is passed whole (every dim); only the sliced dim of B is partitioned
    assert parts(s, "top") == {"A": {0: ("block", 2)}, "B": {2: ("block", 2)}}


def test_partition_of_call_result_reaches_callee_return():
    s = allo.customize(_call_kernels())
    s.partition(s.C, allo.Partition.Cyclic, dim=1, factor=4)
    lay = {1: ("cyclic", 4)}
    assert parts(s, "top") == {"C": lay, "D": lay}  # both results of mid
    assert parts(s, "mid") == {"Y": lay}
    assert parts(s, "leaf") == {"W": lay}


def test_partition_dim_indexed_away_by_subview_does_not_propagate():
    s = allo.customize(_call_kernels())
    s.partition(s.B, allo.Partition.Cyclic, dim=1, factor=2)
    assert parts(s, "top") == {"B": {1: ("cyclic", 2)}}
    assert parts(s, "mid") == {} and parts(s, "leaf") == {}


def test_partition_conflict_through_alias():
    s = allo.customize(_call_kernels())
    s.partition("mid:X", allo.Partition.Cyclic, dim=1, factor=2)
    with pytest.raises(AlloError, match="already partitioned") as e:
        s.partition(s.B, allo.Partition.Block, dim=2, factor=2)
    assert_at(e.value, 's.partition(s.B, allo.Partition.Block, dim=2, factor=2)')
    assert "aliases of top:B: leaf:Z, mid:X, top:A" in e.value.hint
    # a complete partition of the caller's buffer: every alias stays consistent
    s2 = allo.customize(_call_kernels())
    s2.partition(s2.B, allo.Partition.Cyclic, dim=2, factor=2)
    with pytest.raises(AlloError, match="re-partitioning it as block conflicts"):
        s2.partition("leaf:Z", allo.Partition.Block, dim=1, factor=2)
    assert parts(s2, "leaf") == {"Z": {1: ("cyclic", 2)}}


def test_equivalent_buffers():
    s = allo.customize(_call_kernels())
    eq = {"top:0", "top:1", "mid:0", "leaf:0"}
    assert memory.equivalent_buffers(s.module, "top", "A") == eq
    assert memory.equivalent_variables(s.module, "leaf:0") == eq
    assert memory.equivalent_variables(s.module, "top:C") == {"top:C", "top:D", "mid:Y", "leaf:W"}
    assert memory.equivalent_variables(s.module, "E") == {"top:E"}
    with pytest.raises(AlloError, match="no tensor 'nope'"):
        memory.equivalent_variables(s.module, "top:nope")


# ================================================================== reshape


def reshape_kernel(A: int32[10, 10]) -> int32[10, 10]:
    B: int32[10, 10] = 0
    for x, y in allo.grid(10, 10):
        B[x, y] = A[x, y]
    C: int32[10, 10] = 0
    for xx, yy in allo.grid(10, 10):
        C[xx, yy] = B[xx, yy] + B[9 - xx, 3]
    return C


def test_reshape_local(rng):
    A = rng.integers(-99, 99, (10, 10)).astype(np.int32)
    ref = sim(allo.customize(reshape_kernel))(A)
    np.testing.assert_array_equal(ref, A + A[::-1, 3:4])
    for shape in [(2, 5, 2, 5), (100,), (4, 25), (5, 4, 5), (1, 10, 10, 1)]:
        s = allo.customize(reshape_kernel)
        s.reshape(s.B, shape)
        assert decl(s, "B").shape == shape
        np.testing.assert_array_equal(sim(s)(A), ref)


def test_reshape_constant_index_folds_and_pow2_uses_shifts():
    def k(A: int32[16]) -> int32[16]:
        B: int32[16] = 0
        for i in range(16):
            B[i] = A[i]
        C: int32[16] = 0
        for j in range(16):
            C[j] = B[j] + B[5]
        return C

    s = allo.customize(k)
    s.reshape(s.B, (4, 4))
    txt = str(s.module)
    assert "B[1, 1]" in txt and ">>" in txt and "&" in txt and "//" not in txt
    A = np.arange(16, dtype=np.int32)
    np.testing.assert_array_equal(sim(s)(A), A + 5)


def test_reshape_returned_buffer_changes_result_shape(rng):
    def k(A: int32[8, 8]) -> int32[8, 8]:
        B: int32[8, 8] = 0
        for i, j in allo.grid(8, 8):
            B[i, j] = A[i, j] * 3
        return B

    s = allo.customize(k)
    s.reshape(s.B, (8, 2, 4))  # as in Allo: the result has the new shape
    A = rng.integers(-9, 9, (8, 8)).astype(np.int32)
    out = sim(s)(A)
    assert out.shape == (8, 2, 4)
    np.testing.assert_array_equal(out, (A * 3).reshape(8, 2, 4))


def test_reshape_errors():
    s = allo.customize(reshape_kernel)
    with pytest.raises(AlloError, match="has 100 elements") as e:
        s.reshape(s.B, (3, 33))
    assert_at(e.value, 's.reshape(s.B, (3, 33))')
    with pytest.raises(AlloError, match="parameter") as e:
        s.reshape(s.A, (100,))
    assert_at(e.value, 's.reshape(s.A, (100,))')
    with pytest.raises(AlloError, match="positive integers"):
        s.reshape(s.B, (10, -10))
    s.partition(s.B, dim=1)
    with pytest.raises(AlloError, match="already partitioned"):
        s.reshape(s.B, (100,))
    s2 = allo.customize(_call_kernels())
    with pytest.raises(AlloError, match="parameter of top"):
        s2.reshape("top:B", (32,))
    with pytest.raises(AlloError, match="result of mid"):
        s2.reshape(s2.C, (2, 4))
    with pytest.raises(AlloError, match="returned by leaf"):
        s2.reshape("leaf:W", (2, 4))


# ================================================================== buffer_at


N = 16


def gemm_ikj(A: float32[N, N], B: float32[N, N]) -> float32[N, N]:
    C: float32[N, N] = 0.0
    for i, k, j in allo.grid(N, N, N):
        C[i, j] += A[i, k] * B[k, j]
    return C


def test_buffer_at_gemm_row_accumulator(rng):
    A = rng.random((N, N)).astype(np.float32)
    B = rng.random((N, N)).astype(np.float32)
    ref = sim(allo.customize(gemm_ikj))(A, B)
    s = allo.customize(gemm_ikj)
    h = s.buffer_at(s.C, axis="i")
    assert (h.func, h.name) == ("gemm_ikj", "C_buf")
    assert decl(s, "C_buf").shape == (N,)
    out = sim(s)(A, B)
    np.testing.assert_array_equal(out, ref)  # bit-exact: same association order
    np.testing.assert_allclose(out, A @ B, rtol=1e-5)
    # inside the k/j loops only the buffer is accessed
    assert {"i", "k", "j"} <= set(s.get_loops()["S_i_k_j_0"].loops)
    body = next(x for x in walk_stmts(s.top_func.body) if isinstance(x, For) and x.name == "k")
    assert {e.buf for st in walk_stmts([body]) for ex in stmt_exprs(st) for e in walk_exprs(ex)
            if isinstance(e, Load)} == {"C_buf", "A", "B"}


def test_buffer_at_inner_axis_and_offsets(rng):
    def k(A: int32[6, 10]) -> int32[6, 10]:
        C: int32[6, 10] = 0
        for i in range(6):
            for j in range(4):
                for t in range(3):
                    C[i, j * 2 + t] += A[i, j + t] + t
        return C

    A = rng.integers(-9, 9, (6, 10)).astype(np.int32)
    ref = sim(allo.customize(k))(A)
    s = allo.customize(k)
    s.buffer_at(s.C, "j")  # index j*2 + t: window over t only (j is fixed per iteration)
    assert decl(s, "C_buf").shape == (3,)
    np.testing.assert_array_equal(sim(s)(A), ref)
    s = allo.customize(k)
    s.buffer_at(s.C, "i")  # j*2 + t over 0..8: 9 elements
    assert decl(s, "C_buf").shape == (9,)
    np.testing.assert_array_equal(sim(s)(A), ref)


def test_buffer_at_errors():
    def two(A: int32[8]) -> int32[8]:
        C: int32[8] = 0
        for i in range(8):
            C[i] = A[i]
        D: int32[8] = 0
        for ii in range(8):
            D[ii] = A[ii] + 1
        return D

    s = allo.customize(two)
    with pytest.raises(AlloError, match="C is not accessed inside loop 'ii'") as e:
        s.buffer_at(s.C, "ii")
    assert_at(e.value, 's.buffer_at(s.C, "ii")')
    assert "A, D" in e.value.hint

    def k(A: int32[8]) -> int32[8]:
        C: int32[8] = 0
        for i in range(8):
            t: int32 = A[i] & 7
            C[t] += 1
        return C

    s = allo.customize(k)
    with pytest.raises(AlloError, match="cannot analyse the index of C"):
        s.buffer_at(s.C, "i")


# ================================================================== reuse_at


def stencil1d(A: int32[16]) -> int32[14]:
    B: int32[14] = 0
    for i in range(14):
        B[i] = A[i] + A[i + 1] * 2 + A[i + 2]
    return B


def test_reuse_at_1d_window(rng):
    A = rng.integers(-99, 99, 16).astype(np.int32)
    s = allo.customize(stencil1d)
    WB = s.reuse_at(s.A, "i")
    assert (WB.func, WB.name) == ("stencil1d", "A_reuse_i")
    assert decl(s, "A_reuse_i").shape == (3,)
    assert parts(s) == {"A_reuse_i": {1: ("complete", 0)}}
    np.testing.assert_array_equal(sim(s)(A), A[:-2] + 2 * A[1:-1] + A[2:])
    assert_read_once(s, "A", 16)
    s.pipeline("i")  # the loop keeps its name


def blur_x(A: int32[10, 10]) -> int32[10, 8]:
    B: int32[10, 8] = 0
    for y, x in allo.grid(10, 8):
        B[y, x] = A[y, x] + A[y, x + 1] + A[y, x + 2]
    return B


def blur_y(A: int32[10, 10]) -> int32[8, 10]:
    B: int32[8, 10] = 0
    for y, x in allo.grid(8, 10):
        B[y, x] = A[y, x] + A[y + 1, x] + A[y + 2, x]
    return B


def test_reuse_at_inner_axis_of_2d_nest(rng):
    A = rng.integers(0, 10, (10, 10)).astype(np.int32)
    s = allo.customize(blur_x)
    s.reuse_at(s.A, "x")
    assert decl(s, "A_reuse_x").shape == (3,)
    np.testing.assert_array_equal(sim(s)(A), A[:, :-2] + A[:, 1:-1] + A[:, 2:])
    assert_read_once(s, "A", 100)


def test_reuse_at_line_buffer_only(rng):
    A = rng.integers(0, 10, (10, 10)).astype(np.int32)
    s = allo.customize(blur_y)
    LB = s.reuse_at(s.A, "y")
    assert decl(s, LB.name).shape == (3, 10)
    assert parts(s) == {"A_reuse_y": {1: ("complete", 0)}}
    np.testing.assert_array_equal(sim(s)(A), A[:-2] + A[1:-1] + A[2:])
    assert_read_once(s, "A", 100)


def blur9(A: int32[10, 12]) -> int32[8, 10]:
    B: int32[8, 10] = 0
    for y, x in allo.grid(8, 10):
        B[y, x] = (A[y, x] + A[y, x + 1] + A[y, x + 2] + A[y + 1, x] + A[y + 1, x + 1] * 4
                   + A[y + 1, x + 2] + A[y + 2, x] + A[y + 2, x + 1] + A[y + 2, x + 2])
    return B


def blur9_ref(A):
    k = np.array([[1, 1, 1], [1, 4, 1], [1, 1, 1]])
    return sum(k[r, c] * A[r:r + 8, c:c + 10] for r in range(3) for c in range(3))


def test_reuse_at_blur_line_buffer(rng):
    A = rng.integers(0, 10, (10, 12)).astype(np.int32)
    s = allo.customize(blur9)
    LB = s.reuse_at(s.A, "y")
    assert decl(s, LB.name).shape == (3, 12)
    np.testing.assert_array_equal(sim(s)(A), blur9_ref(A))
    assert_read_once(s, "A", 120)


def test_reuse_at_blur_line_and_window_chained(rng):
    A = rng.integers(0, 10, (10, 12)).astype(np.int32)
    s = allo.customize(blur9)
    LB = s.reuse_at(s.A, "y")
    WB = s.reuse_at(LB, "x")
    assert (WB.func, WB.name) == ("blur9", "A_reuse_y_reuse_x")
    assert decl(s, WB.name).shape == (3, 3)
    assert parts(s) == {"A_reuse_y": {1: ("complete", 0)},
                        "A_reuse_y_reuse_x": {1: ("complete", 0), 2: ("complete", 0)}}
    np.testing.assert_array_equal(sim(s)(A), blur9_ref(A))
    # each element of A read once, in a single y/x nest (line-buffer update fused into x)
    assert_read_once(s, "A", 120)
    assert len(reads_of(s, "A")[0][1]) == 2
    # the line buffer is read by its own row shift (2) and the window's column load (3)
    assert len(reads_of(s, LB.name)) == 5


def conv2d(A: int32[10, 10], F: int32[3, 3]) -> int32[8, 8]:
    B: int32[8, 8] = 0
    for y, x in allo.grid(8, 8):
        v: int32 = 0
        for r, c in allo.reduction(3, 3):
            v += A[y + r, x + c] * F[r, c]
        B[y, x] = v
    return B


def conv2d_ref(A, F):
    return sum(F[r, c] * A[r:r + 8, c:c + 8] for r in range(3) for c in range(3))


@pytest.mark.parametrize("axes", [("y",), ("x",), ("y", "x")])
def test_reuse_at_conv_reduction_loops(axes, rng):
    A = rng.integers(0, 10, (10, 10)).astype(np.int32)
    F = rng.integers(-3, 4, (3, 3)).astype(np.int32)
    s = allo.customize(conv2d)
    buf = s.A
    for ax in axes:
        buf = s.reuse_at(buf, ax)
    np.testing.assert_array_equal(sim(s)(A, F), conv2d_ref(A, F))
    if axes == ("x",):
        assert decl(s, "A_reuse_x").shape == (3, 3)
    if axes == ("y", "x"):
        assert_read_once(s, "A", 100)
        # Allo's test_reuse_and_partition: user partitions of the reuse buffers
        s.partition("conv2d:A_reuse_y", dim=1)
        s.partition(buf)
        s.partition("conv2d:A_reuse_y", dim=2)
        assert parts(s) == {"A_reuse_y": {1: ("complete", 0), 2: ("complete", 0)},
                            "A_reuse_y_reuse_x": {0: ("complete", 0)}}
        np.testing.assert_array_equal(sim(s)(A, F), conv2d_ref(A, F))


def test_reuse_at_3d_and_constant_scalar_stride(rng):
    def k(A: int32[6, 8, 2]) -> int32[4, 6, 2]:
        B: int32[4, 6, 2] = 0
        s1: int32 = 1
        for y, x, c in allo.grid(4, 6, 2):
            B[y, x, c] = A[y, x, c] + A[y + 1 * s1, x + 1, c] + A[y + 2, x + 2, c]
        return B

    A = rng.integers(0, 10, (6, 8, 2)).astype(np.int32)
    ref = A[:4, :6] + A[1:5, 1:7] + A[2:, 2:]
    s = allo.customize(k)
    LB = s.reuse_at(s.A, "y")
    assert decl(s, LB.name).shape == (3, 8, 2)
    np.testing.assert_array_equal(sim(s)(A), ref)
    WB = s.reuse_at(LB, "x")
    np.testing.assert_array_equal(sim(s)(A), ref)
    assert decl(s, WB.name).shape == (3, 3, 2)
    assert len(reads_of(s, "A")) == 1


def test_reuse_at_errors():
    s = allo.customize(blur_y)
    with pytest.raises(AlloError, match="no tensor 'Z'") as e:
        s.reuse_at("blur_y:Z", "y")
    assert_at(e.value, 's.reuse_at("blur_y:Z", "y")')
    assert "A" in e.value.hint and "B" in e.value.hint
    with pytest.raises(AlloError, match="no loop 'q'") as e:
        s.reuse_at(s.A, "q")
    assert_at(e.value, 's.reuse_at(s.A, "q")')
    with pytest.raises(AlloError, match="B is written inside loop 'y'") as e:
        s.reuse_at(s.B, "y")

    def strided(A: int32[10]) -> int32[4]:
        B: int32[4] = 0
        for i in range(4):
            B[i] = A[i * 2] + A[i * 2 + 1]
        return B

    s = allo.customize(strided)
    with pytest.raises(AlloError, match="only unit-stride windows") as e:
        s.reuse_at(s.A, "i")
    assert_at(e.value, 's.reuse_at(s.A, "i")')

    def mixed(A: int32[10, 10]) -> int32[8, 10]:
        B: int32[8, 10] = 0
        for y, x in allo.grid(8, 10):
            B[y, x] = A[y, x] + A[0, x]
        return B

    s = allo.customize(mixed)
    with pytest.raises(AlloError, match=r"A\[0, x\] does not use loop variable 'y'"):
        s.reuse_at(s.A, "y")

    def two(A: int32[8]) -> int32[8]:
        C: int32[8] = 0
        for i in range(8):
            C[i] = A[i]
        D: int32[8] = 0
        for ii in range(8):
            D[ii] = A[ii] + 1
        return D

    s = allo.customize(two)
    with pytest.raises(AlloError, match="C is not read inside loop 'ii'") as e:
        s.reuse_at(s.C, "ii")
    assert "arrays read in 'ii': A" in e.value.hint


def test_reshape_of_buffer_passed_to_call():
    def inc(X: int32[8]) -> int32[8]:
        Y: int32[8] = 0
        for i in range(8):
            Y[i] = X[i] + 1
        return Y

    def k(A: int32[8]) -> int32[8]:
        T: int32[8] = 0
        for i in range(8):
            T[i] = A[i]
        R: int32[8] = inc(T)
        return R

    s = allo.customize(k)
    with pytest.raises(AlloError, match="passed to a call is not supported") as e:
        s.reshape(s.T, (2, 4))
    assert_at(e.value, "s.reshape(s.T, (2, 4))")


def test_reuse_at_after_split_and_reorder(rng):
    """Allo's test_conv2D: split + reorder, then line and window buffers on the tiles."""
    def conv2D(A: int32[10, 10]) -> int32[8, 8]:
        B: int32[8, 8] = 0
        for i, j in allo.grid(8, 8):
            v: int32 = 0
            for rx, ry in allo.reduction(3, 3):
                v += A[i + rx, j + ry]
            B[i, j] = v
        return B

    A = rng.integers(0, 10, (10, 10)).astype(np.int32)
    s = allo.customize(conv2D)
    s.split("j", 4)
    s.reorder("j.outer", "i", "j.inner")
    LB = s.reuse_at(s.A, axis="i")
    WB = s.reuse_at(LB, axis="j.inner")
    assert decl(s, LB.name).shape == (3, 6) and decl(s, WB.name).shape == (3, 3)
    s.partition(LB, dim=2)
    s.partition(WB)
    s.pipeline("i")
    np.testing.assert_array_equal(sim(s)(A), conv2d_ref(A, np.ones((3, 3), np.int32)))
    # one read of A per (tile, row, column of the 6-wide tile window)
    assert_read_once(s, "A", 2 * 10 * 6)


def test_reuse_at_avgpool_with_constant_stride_scalar(rng):
    bs, ch, ih, iw, kh, kw = 2, 3, 8, 8, 2, 2
    oh, ow = ih - kh + 1, iw - kw + 1

    def avgpool(A: float32[bs, ch, ih, iw]) -> float32[bs, ch, oh, ow]:
        B: float32[bs, ch, oh, ow] = 0.0
        stride: index = 1
        for n, c, h, w in allo.grid(bs, ch, oh, ow):
            v: float32 = 0.0
            for rh, rw in allo.reduction(kh, kw):
                v += A[n, c, h * stride + rh, w * stride + rw]
            B[n, c, h, w] = v / (kh * kw)
        return B

    A = rng.random((bs, ch, ih, iw)).astype(np.float32)
    ref = sim(allo.customize(avgpool))(A)
    s = allo.customize(avgpool)
    LB = s.reuse_at(s.A, "h")
    s.reuse_at(LB, "w")
    np.testing.assert_array_equal(sim(s)(A), ref)
    assert_read_once(s, "A", A.size)


def test_reuse_at_three_levels_3d(rng):
    def k(A: int32[10, 8, 6]) -> int32[8, 6, 4]:
        B: int32[8, 6, 4] = 0
        for y, x, z in allo.grid(8, 6, 4):
            B[y, x, z] = A[y, x, z] + A[y + 1, x + 1, z + 1] + A[y + 2, x + 2, z + 2]
        return B

    A = rng.integers(0, 10, (10, 8, 6)).astype(np.int32)
    s = allo.customize(k)
    b = s.A
    for ax in ("y", "x", "z"):
        b = s.reuse_at(b, ax)
    assert decl(s, b.name).shape == (3, 3, 3)
    np.testing.assert_array_equal(sim(s)(A), A[:8, :6, :4] + A[1:9, 1:7, 1:5] + A[2:, 2:, 2:])
    assert_read_once(s, "A", A.size)


def test_reuse_at_nonzero_lower_bound_and_negative_offsets(rng):
    def k(A: int32[16]) -> int32[16]:
        B: int32[16] = 0
        for i in range(1, 15):
            B[i] = A[i - 1] - A[i] * 2 + A[i + 1]
        return B

    A = rng.integers(-99, 99, 16).astype(np.int32)
    ref = np.zeros(16, np.int32)
    ref[1:15] = A[:-2] - 2 * A[1:-1] + A[2:]
    s = allo.customize(k)
    s.reuse_at(s.A, "i")
    np.testing.assert_array_equal(sim(s)(A), ref)
    assert_read_once(s, "A", 16)


def test_buffer_and_reuse_need_a_buffer_living_across_the_loop():
    def k(A: int32[4, 8]) -> int32[4]:
        S: int32[4] = 0
        for i in range(4):
            row: int32[8] = 0
            for j in range(8):
                row[j] = A[i, j] * 2
            for jj in range(6):
                S[i] += row[jj] + row[jj + 2]
        return S

    s = allo.customize(k)
    with pytest.raises(AlloError, match="row is declared inside loop 'i'") as e:
        s.buffer_at(s.row, "i")
    assert_at(e.value, 's.buffer_at(s.row, "i")')
    with pytest.raises(AlloError, match="row is declared inside loop 'i'"):
        s.reuse_at(s.row, "i")
    s.reuse_at(s.row, "jj")  # inside the declaration: fine
    A = np.arange(32, dtype=np.int32).reshape(4, 8)
    np.testing.assert_array_equal(sim(s)(A), (2 * A[:, :6] + 2 * A[:, 2:]).sum(axis=1))


# ================================================================== RTL == interpreter


def _gemm_int(A: int32[8, 8], B: int32[8, 8]) -> int32[8, 8]:
    C: int32[8, 8] = 0
    for i, k, j in allo.grid(8, 8, 8):
        C[i, j] += A[i, k] * B[k, j]
    return C


def _sched_gemm(s):
    s.buffer_at(s.C, "i")
    s.partition(s.A, allo.Partition.Cyclic, dim=2, factor=2)


def _sched_reshape(s):
    s.reshape(s.B, (2, 5, 2, 5))


def _sched_conv(s):
    s.reuse_at(s.reuse_at(s.A, "y"), "x")


@pytest.mark.rtl
@pytest.mark.parametrize("kernel,sched,shapes", [
    (_gemm_int, _sched_gemm, [(8, 8), (8, 8)]),
    (reshape_kernel, _sched_reshape, [(10, 10)]),
    (stencil1d, lambda s: s.reuse_at(s.A, "i"), [(16,)]),
    (conv2d, _sched_conv, [(10, 10), (3, 3)]),
], ids=["buffer_at", "reshape", "reuse_1d", "reuse_2d"])
def test_scheduled_rtl_matches_interpreter(kernel, sched, shapes, rng):
    s = allo.customize(kernel)
    sched(s)
    args = [rng.integers(-9, 9, sh).astype(np.int32) for sh in shapes]
    np.testing.assert_array_equal(s.build(target="rtl")(*args), sim(s)(*args))


def test_buffer_at_write_only_skips_the_fill(rng):
    def k(A: float32[8, 16]) -> float32[8, 16]:
        B: float32[8, 16] = 0.0
        for i, j in allo.grid(8, 16):
            B[i, j] = A[i, j] + 1.0
        return B

    def partial(A: float32[8, 16]) -> float32[8, 16]:
        B: float32[8, 16] = 0.0
        for i, j in allo.grid(8, 16):
            if j > 3:
                B[i, j] = A[i, j] + 1.0
        return B

    A = rng.random((8, 16)).astype(np.float32)
    for fn, fill in ((k, False), (partial, True)):
        ref = sim(allo.customize(fn))(A)
        s = allo.customize(fn)
        s.buffer_at(s.B, "i")
        assert decl(s, "B_buf").shape == (16,)
        # B is read only by the fill, which is needed when not every element is written
        assert len(reads_of(s, "B")) == (1 if fill else 0)
        np.testing.assert_array_equal(sim(s)(A), ref)
