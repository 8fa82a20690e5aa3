"""s.compose(sub): bottom-up composition, interface (layout) unification through call
boundaries, one callee with two schedules via id, nesting, and the error paths."""

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl.errors import AlloError
from allo_rtl.ir.types import int32
from tests.kernel_check import both, pipelines

N = 8


def mm(A: int32[N, N], B: int32[N, N]) -> int32[N, N]:
    C: int32[N, N] = 0
    for i, j, k in allo.grid(N, N, N):
        C[i, j] += A[i, k] * B[k, j]
    return C


def mm_schedule():
    s = allo.customize(mm)
    s.reorder("k", "j")
    s.pipeline("j")
    return s


def partitions(s, func):
    return s.module.funcs[func].attrs.get("partition", {})


def _inputs(rng, k=3):
    return [rng.integers(-9, 9, (N, N)).astype(np.int32) for _ in range(k)]


@pytest.mark.rtl
def test_compose_replays_the_callee_schedule_in_hardware(rng):
    def top(A: int32[N, N], B: int32[N, N], D: int32[N, N]) -> int32[N, N]:
        C = mm(A, B)
        return mm(C, D)

    A, B, D = _inputs(rng)
    plain, _ = both(allo.customize(top), A, B, D)
    s = allo.customize(top)
    s.compose(mm_schedule())
    assert [p[0] for p in s.primitive_sequences] == ["compose"]
    mod, out = both(s, A, B, D)
    np.testing.assert_array_equal(out, A @ B @ D)
    assert pipelines(mod)["j"].ii == 1
    assert mod.last_cycles < plain.last_cycles / 2


def test_callee_partition_propagates_through_two_and_three_call_levels():
    def mid(X: int32[N, N], Y: int32[N, N]) -> int32[N, N]:
        return mm(X, Y)

    def top(A: int32[N, N], B: int32[N, N]) -> int32[N, N]:
        return mid(A, B)

    leaf = allo.customize(mm)
    leaf.partition(leaf.B, allo.Partition.Cyclic, dim=2, factor=2)
    s2 = allo.customize(mid)
    s2.compose(leaf)
    assert partitions(s2, "mid")["Y"] == {2: ("cyclic", 2)}  # 2 levels: mid -> mm

    s3 = allo.customize(top)
    s3.compose(leaf)
    for f, buf in (("mm", "B"), ("mid", "Y"), ("top", "B")):  # 3 levels
        assert partitions(s3, f)[buf] == {2: ("cyclic", 2)}, f
    A, B = _inputs(np.random.default_rng(1), 2)
    np.testing.assert_array_equal(s3.build(target="sim")(A, B), A @ B)


@pytest.mark.rtl
def test_caller_partition_reaches_a_composed_callee(rng):
    def top(A: int32[N, N], B: int32[N, N]) -> int32[N, N]:
        return mm(A, B)

    s = allo.customize(top)
    s.partition(s.A, allo.Partition.Complete, dim=2)
    s.compose(mm_schedule())
    assert partitions(s, "mm")["A"] == {2: ("complete", 0)}
    A, B = _inputs(rng, 2)
    mod, out = both(s, A, B)
    np.testing.assert_array_equal(out, A @ B)


def test_conflicting_layouts_of_one_instance_are_an_error():
    def top(A: int32[N, N], B: int32[N, N]) -> int32[N, N]:
        return mm(A, B)

    sub = allo.customize(mm)
    sub.partition(sub.B, allo.Partition.Block, dim=2, factor=2)
    s = allo.customize(top)
    s.partition(s.B, allo.Partition.Cyclic, dim=2, factor=4)
    with pytest.raises(AlloError, match="compose: replaying partition of 'mm' onto 'mm'") as e:
        s.compose(sub)
    assert "test_compose.py" in str(e.value)


@pytest.mark.rtl
def test_one_callee_with_two_schedules_through_instance_ids(rng):
    def top(A: int32[N, N], B: int32[N, N], D: int32[N, N]) -> int32[N, N]:
        C = mm["fast"](A, B)
        return mm["banked"](C, D)

    fast = mm_schedule()
    banked = allo.customize(mm)
    banked.partition(banked.B, allo.Partition.Cyclic, dim=2, factor=2)
    s = allo.customize(top)
    s.compose(fast, id="fast")
    s.compose(banked, id="banked")
    assert set(s.module.funcs) == {"top", "mm_fast", "mm_banked"}
    assert "B" not in partitions(s, "mm_fast")
    assert partitions(s, "mm_banked")["B"] == {2: ("cyclic", 2)}
    assert partitions(s, "top")["D"] == {2: ("cyclic", 2)}
    A, B, D = _inputs(rng)
    mod, out = both(s, A, B, D)
    np.testing.assert_array_equal(out, A @ B @ D)
    assert "j" in pipelines(mod)


def test_compositions_nest():
    def mid(X: int32[N, N], Y: int32[N, N]) -> int32[N, N]:
        Z = mm(X, Y)
        W: int32[N, N]
        for i, j in allo.grid(N, N, name="W"):
            W[i, j] = Z[i, j] + 1
        return W

    def top(A: int32[N, N], B: int32[N, N]) -> int32[N, N]:
        return mid(A, B)

    s_mid = allo.customize(mid)
    s_mid.compose(mm_schedule())
    s_mid.pipeline("W.j")
    s = allo.customize(top)
    s.compose(s_mid)
    text = str(s.module)
    assert text.count("pipeline=1") == 2  # mm's j and mid's W.j
    A, B = _inputs(np.random.default_rng(2), 2)
    np.testing.assert_array_equal(s.build(target="sim")(A, B), A @ B + 1)


def test_compose_errors_name_the_call():
    def other(A: int32[N, N]) -> int32[N, N]:
        return A

    def top(A: int32[N, N], B: int32[N, N]) -> int32[N, N]:
        return mm(A, B)

    s = allo.customize(top)
    with pytest.raises(AlloError, match="kernel 'other' is not called by 'top'") as e:
        s.compose(allo.customize(other))
    assert "test_compose.py" in str(e.value)
    with pytest.raises(AlloError, match="no instance 'mm_x'"):
        s.compose(mm_schedule(), id="x")
    with pytest.raises(AlloError, match="no registered default schedule"):
        s.compose(mm)
    sub = mm_schedule()
    s.compose(sub)
    with pytest.raises(AlloError, match="already composed"):
        s.compose(sub)
    with pytest.raises(AlloError, match="cannot be composed into itself"):
        s.compose(s)
