"""``s.to(array, consumer, depth)`` and ``s.dataflow(func)`` on plain (non-region) kernels:
the interpreter equals numpy, the RTL equals the interpreter bit for bit with exact cycle
counts, and illegal uses are AlloErrors at the kernel line."""

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl import AlloError
from allo_rtl.ir.nodes import StreamDecl, StreamGet, StreamPut, walk_stmts
from allo_rtl.ir.types import int32

from ..conftest import line_of

N = 8
M0, M1 = 2, 4


def producer(A: int32[N], B: int32[N]):
    for i in range(N):
        B[i] = A[i] * 2 + 1


def consumer(B: int32[N], C: int32[N]):
    for i in range(N):
        v: int32 = B[i]
        C[i] = v + v * 3


def top(A: int32[N], C: int32[N]):
    tmp: int32[N]
    producer(A, tmp)
    consumer(tmp, C)


def top_ref(A):
    return (A * 2 + 1) * 4


def stage(X: int32[N], Y: int32[N]):
    for i in range(N):
        Y[i] = X[i] * 3 - 2


def chain(A: int32[N], C: int32[N]):
    s1: int32[N]
    s2: int32[N]
    stage(A, s1)      # the same callee twice: two kernel instances
    stage(s1, s2)
    consumer(s2, C)


def chain_ref(A):
    return ((A * 3 - 2) * 3 - 2) * 4


def produce2(A: int32[M0, M1], B: int32[M0, M1]):
    for i, j in allo.grid(M0, M1):
        B[i, j] = A[i, j] + i * 10 + j


def consume2(B: int32[M0, M1], C: int32[M0, M1]):
    for i in range(M0):
        acc: int32 = 0
        for j in range(M1):
            acc += B[i, j]
            C[i, j] = acc


def top2(A: int32[M0, M1], C: int32[M0, M1]):
    t: int32[M0, M1]
    produce2(A, t)
    consume2(t, C)


def top2_ref(A):
    i, j = np.indices((M0, M1))
    return np.cumsum(A + i * 10 + j, axis=1)


def _check(s, ref, shape, rng, rtl=True):
    A = rng.integers(-100, 100, shape).astype(np.int32)
    C_sim = np.zeros(shape, np.int32)
    s.build(target="sim")(A, C_sim)
    np.testing.assert_array_equal(C_sim, ref(A))
    if not rtl:
        return None
    C_rtl = np.zeros(shape, np.int32)
    mod = s.build()
    mod(A, C_rtl)
    np.testing.assert_array_equal(C_rtl, C_sim)
    return mod


# ---------------------------------------------------------------- the IR


def test_to_turns_the_array_into_a_fifo_and_the_accesses_into_put_and_get():
    s = allo.customize(top)
    s.to(s.tmp, "consumer")
    f = s.module.funcs
    decl = [x for x in f["top"].body if isinstance(x, StreamDecl)]
    assert [d.name for d in decl] == ["tmp"] and decl[0].type.depth == N  # default: N
    assert f["producer"].params[1].is_stream and f["consumer"].params[0].is_stream
    assert any(isinstance(x, StreamPut) for x in walk_stmts(f["producer"].body))
    assert any(isinstance(x, StreamGet) for x in walk_stmts(f["consumer"].body))
    assert not f["top"].attrs.get("dataflow")
    s.dataflow("top")
    assert f["top"].attrs["dataflow"] is True
    assert "func top(A: i32[8], C: i32[8]) dataflow" in str(s.module)


def test_a_callee_also_called_with_an_array_is_specialized(rng):
    def top3(A: int32[N], C: int32[N], D: int32[N]):
        tmp: int32[N]
        producer(A, tmp)
        consumer(tmp, C)
        consumer(A, D)  # still reads an array

    s = allo.customize(top3)
    s.to(s.tmp, "consumer")
    calls = [c.callee for c in s.module.top_func.body if hasattr(c, "callee")]
    assert calls == ["producer", "consumer_tmp", "consumer"]
    assert not s.module.funcs["consumer"].params[0].is_stream
    A = rng.integers(-100, 100, N).astype(np.int32)
    C, D = np.zeros(N, np.int32), np.zeros(N, np.int32)
    s.build(target="sim")(A, C, D)
    np.testing.assert_array_equal(C, top_ref(A))
    np.testing.assert_array_equal(D, A * 4)


# ---------------------------------------------------------------- RTL, cycles


@pytest.mark.rtl
def test_sequential_fifo_and_dataflow_region_match_and_dataflow_is_faster(rng):
    plain = _check(allo.customize(top), top_ref, (N,), rng)

    seq = allo.customize(top)
    seq.to(seq.tmp, "consumer")  # depth N: producer runs to the end, then the consumer
    mseq = _check(seq, top_ref, (N,), rng)

    dfl = allo.customize(top)
    dfl.to(dfl.tmp, "consumer", depth=2)
    dfl.dataflow("top")
    mdf = _check(dfl, top_ref, (N,), rng)
    assert (plain.last_cycles, mseq.last_cycles, mdf.last_cycles) == (102, 77, 46)
    assert mdf.last_cycles < mseq.last_cycles


@pytest.mark.rtl
def test_three_stage_chain_with_two_streams(rng):
    seq = allo.customize(chain)
    seq.to(seq.s1, "stage")
    seq.to(seq.s2, "consumer")
    mseq = _check(seq, chain_ref, (N,), rng)

    s = allo.customize(chain)
    s.to(s.s1, "stage", depth=2)
    s.to(s.s2, "consumer", depth=2)
    s.dataflow("chain")
    assert [c.callee for c in s.module.top_func.body if hasattr(c, "callee")] == \
        ["stage_s1", "stage", "consumer"]
    mdf = _check(s, chain_ref, (N,), rng)
    assert (mseq.last_cycles, mdf.last_cycles) == (119, 59)


@pytest.mark.rtl
def test_pipelined_stages_in_a_region(rng):
    cycles = []
    for region in (False, True):
        s = allo.customize(top)
        s.pipeline("producer:i")
        s.pipeline("consumer:i")
        s.to(s.tmp, "consumer", depth=2 if region else -1)
        if region:
            s.dataflow("top")
        cycles.append(_check(s, top_ref, (N,), rng).last_cycles)
    assert cycles == [30, 26]  # sequential FIFO of depth N, region with depth 2


@pytest.mark.rtl
def test_two_dimensional_array_in_row_major_order(rng):
    s = allo.customize(top2)
    s.to(s.t, "consume2", depth=1)
    s.dataflow(top2)
    mod = _check(s, top2_ref, (M0, M1), rng)
    assert mod.last_cycles == 52


# ---------------------------------------------------------------- errors


def _err(fn, snippet):
    return f":{line_of(fn, snippet)}:"


def test_sequential_fifo_smaller_than_the_array_is_an_error_at_build():
    s = allo.customize(top)
    s.to(s.tmp, "consumer", depth=2)  # the error points here
    line = line_of(test_sequential_fifo_smaller_than_the_array_is_an_error_at_build,
                   "# the error points here")
    with pytest.raises(AlloError, match=r"depth 2, but top runs producer and then consumer "
                       r"one after another.*all 8") as e:
        s.build(target="sim")
    assert f":{line}:" in str(e.value)
    assert "depth >= 8" in str(e.value) and "s.dataflow('top')" in str(e.value)


def test_consumer_must_be_a_function():
    s = allo.customize(top)
    with pytest.raises(AlloError, match="only functions are supported as consumers") as e:
        s.to(s.tmp, s.get_loops("consumer")["S_i_0"]["i"])
    assert "move the consumer loop into a function" in str(e.value)
    with pytest.raises(AlloError, match="only functions are supported as consumers"):
        s.to(s.tmp, "consumer:i")
    with pytest.raises(AlloError, match="'nothing' is not a function"):
        s.to(s.tmp, "nothing")


def test_consumer_reading_an_element_twice_is_refused():
    def twice(B: int32[N], C: int32[N]):
        for i in range(N):
            C[i] = B[i] + B[i]

    def t(A: int32[N], C: int32[N]):
        tmp: int32[N]
        producer(A, tmp)
        twice(tmp, C)

    s = allo.customize(t)
    with pytest.raises(AlloError, match="must read the array in exactly one place, but it has "
                       "2 loads") as e:
        s.to(s.tmp, "twice")
    assert _err(twice, "C[i] = B[i] + B[i]") in str(e.value)
    assert "row-major" in str(e.value)


def test_producer_in_column_major_order_is_refused():
    def cols(A: int32[M0, M1], B: int32[M0, M1]):
        for j in range(M1):
            for i in range(M0):
                B[i, j] = A[i, j]

    def t(A: int32[M0, M1], C: int32[M0, M1]):
        tmp: int32[M0, M1]
        cols(A, tmp)
        consume2(tmp, C)

    s = allo.customize(t)
    with pytest.raises(AlloError, match=r"loop 'j' does not run 0\.\.2") as e:
        s.to(s.tmp, "consume2")
    assert _err(cols, "B[i, j] = A[i, j]") in str(e.value)


def test_conditional_write_and_read_back_are_refused():
    def cond(A: int32[N], B: int32[N]):
        for i in range(N):
            if A[i] > 0:
                B[i] = A[i]

    def rb(A: int32[N], B: int32[N]):
        for i in range(N):
            B[i] = A[i]
        for i in range(N):
            B[i] = B[i] + 1

    for p, snippet, msg in ((cond, "B[i] = A[i]", "under an 'if' statement"),
                            (rb, "B[i] = B[i] + 1", "also reads the array")):
        def t(A: int32[N], C: int32[N]):
            tmp: int32[N]
            p(A, tmp)
            consumer(tmp, C)

        s = allo.customize(t)
        with pytest.raises(AlloError, match=msg) as e:
            s.to(s.tmp, "consumer")
        assert _err(p, snippet) in str(e.value)


def test_other_uses_of_the_array_in_the_caller_are_refused():
    def t(A: int32[N], C: int32[N]):
        tmp: int32[N]
        producer(A, tmp)
        consumer(tmp, C)
        C[0] = tmp[1]

    s = allo.customize(t)
    with pytest.raises(AlloError, match="read by the consumer consumer only; Store also uses "
                       "it") as e:
        s.to(s.tmp, "consumer")
    assert _err(t, "C[0] = tmp[1]") in str(e.value)


def test_dataflow_without_s_to_makes_a_ping_pong_buffer():
    # tmp stays an array: written by producer, then read by consumer (tests/schedule/
    # test_pingpong.py has the ping-pong buffers in full)
    s = allo.customize(top)
    s.dataflow("top")
    assert s.module.top_func.attrs.get("dataflow")
    assert "tmp: i32[8]\n" in str(s.module) and "tmp_full1.get()" in str(s.module)
    A = np.arange(N, dtype=np.int32)
    C = np.zeros(N, np.int32)
    s.build(target="sim")(A, C)
    np.testing.assert_array_equal(C, top_ref(A))


def test_dataflow_rejects_scalars_results_and_loops():
    def scal(A: int32[N], C: int32[N]):
        k: int32 = 3
        tmp: int32[N]
        producer(A, tmp)
        consumer(tmp, C)

    s = allo.customize(scal)
    s.to(s.tmp, "consumer")
    with pytest.raises(AlloError, match="computes the scalar 'k'") as e:
        s.dataflow("scal")
    assert _err(scal, "k: int32 = 3") in str(e.value)

    def ret(A: int32[N]) -> int32[N]:
        C: int32[N]
        producer(A, C)
        return C

    s = allo.customize(ret)
    with pytest.raises(AlloError, match="ret returns a value; a dataflow region returns "
                       "nothing"):
        s.dataflow("ret")

    s = allo.customize(top)
    with pytest.raises(AlloError, match="s.dataflow of loop 'i': the loop body holds a store "
                       "statement") as e:
        s.dataflow(s.get_loops("producer")["S_i_0"]["i"])
    assert "move this code into a function that the region calls" in str(e.value)
    with pytest.raises(AlloError, match="no function 'nope'"):
        s.dataflow("nope")


@pytest.mark.rtl
def test_the_same_callee_called_twice_is_two_kernel_instances(rng):
    def twin(A: int32[N], B: int32[N], C: int32[N], D: int32[N]):
        stage(A, C)
        stage(B, D)

    cycles = []
    for region in (False, True):
        s = allo.customize(twin)
        if region:
            s.dataflow("twin")
            assert [c.callee for c in s.module.top_func.body] == ["stage", "stage"]
        A, B = (rng.integers(-100, 100, N).astype(np.int32) for _ in range(2))
        outs = [np.zeros(N, np.int32) for _ in range(4)]
        s.build(target="sim")(A, B, outs[0], outs[1])
        np.testing.assert_array_equal(outs[0], A * 3 - 2)
        np.testing.assert_array_equal(outs[1], B * 3 - 2)
        mod = s.build()
        mod(A, B, outs[2], outs[3])
        np.testing.assert_array_equal(outs[2], outs[0])
        np.testing.assert_array_equal(outs[3], outs[1])
        cycles.append(mod.last_cycles)
    assert cycles == [101, 49]  # one after another, then concurrently


def test_composing_a_schedule_with_to_and_dataflow(rng):
    def outer(A: int32[N], C: int32[N]):
        top(A, C)

    sub = allo.customize(top)
    sub.to(sub.tmp, "consumer", depth=2)
    sub.dataflow("top")
    s = allo.customize(outer)
    s.compose(sub)
    assert s.module.funcs["top"].attrs.get("dataflow")
    assert "tmp: stream<i32, 2>" in str(s.module)
    A = rng.integers(-1000, 1000, N).astype(np.int32)
    C = np.zeros(N, np.int32)
    s.build(target="sim")(A, C)
    np.testing.assert_array_equal(C, top_ref(A))

    def frames(A: int32[2, N], C: int32[2, N]):
        for f in range(2):
            tmp: int32[N]
            producer(A[f], tmp)
            consumer(tmp, C[f])

    def outer2(A: int32[2, N], C: int32[2, N]):
        frames(A, C)

    sub = allo.customize(frames)
    sub.dataflow(sub.get_loops("frames")["S_f_0"]["f"])
    s = allo.customize(outer2)
    s.compose(sub)
    assert "call frames_f_dataflow(A, C)" in str(s.module)
    A = rng.integers(-1000, 1000, (2, N)).astype(np.int32)
    C = np.zeros((2, N), np.int32)
    s.build(target="sim")(A, C)
    np.testing.assert_array_equal(C, top_ref(A))
