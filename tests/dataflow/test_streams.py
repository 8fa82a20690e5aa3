"""Streams inside ordinary kernels: local FIFOs used as bounded queues, kernels with
Stream parameters called from a kernel that owns the stream, arrays of streams, and
the IR they produce (printer, verifier, schedule primitives)."""

import copy

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl.ir.nodes import BufRef, Const, StreamGet, StreamPut, StreamRef, walk_stmts
from allo_rtl.ir.types import Int, Stream, float32, int32, uint8
from allo_rtl.ir.verify import VerifyError, verify_module


def test_stream_type_annotations_follow_allo():
    s = Stream[int32, 4]
    assert (s.dtype, s.shape, s.depth, s.name) == (int32, (), 4, "stream<i32, 4>")
    b = Stream[uint8[2, 3], 2]
    assert (b.shape, b.is_block, b.bits, b.name) == ((2, 3), True, 48, "stream<ui8[2, 3], 2>")
    assert Stream(float32, (4,), 8) == Stream[float32[4], 8]  # Allo's (dtype, shape, depth)
    assert Stream[int32].depth == 2
    arr = Stream[int32, 4][3, 5]
    assert arr.dtype == Stream[int32, 4] and arr.shape == (3, 5)
    with pytest.raises(ValueError, match="depth must be a positive integer, not 0"):
        Stream(int32, (), 0)


def queue(A: int32[8]) -> int32[8]:
    q: Stream[int32, 4]
    B: int32[8] = 0
    for h in range(2):
        for i in range(4):
            q.put(A[h * 4 + i] + 1)
        for j in range(4):
            B[h * 4 + j] = q.get()
    return B


def test_local_stream_is_a_bounded_queue():
    s = allo.customize(queue)
    text = str(s.module)
    assert "  q: stream<i32, 4>\n" in text and "q.put(" in text
    mod = s.build(target="sim")
    A = np.arange(8, dtype=np.int32)
    np.testing.assert_array_equal(mod(A), A + 1)
    # a kernel without Stream parameters stays a plain Python function (no generator)
    assert "yield" not in mod.source


def producer(A: int32[4], q: Stream[int32, 2]):
    for i in range(4):
        q.put(A[i] * 2)


def consumer(q: Stream[int32, 2], B: int32[4]):
    for i in range(4):
        B[i] = q.get() - 1


def owner(A: int32[4], B: int32[4]):
    q: Stream[int32, 2]
    for h in range(2):
        producer2(A, q, h)
        consumer2(q, B, h)


def producer2(A: int32[4], q: Stream[int32, 2], h: int32):
    for i in range(2):
        q.put(A[h * 2 + i] * 2)


def consumer2(q: Stream[int32, 2], B: int32[4], h: int32):
    for i in range(2):
        B[h * 2 + i] = q.get() - 1


def test_stream_parameters_of_kernels_called_in_sequence():
    s = allo.customize(owner)
    text = str(s.module)
    assert "func producer2(A: i32[4], q: stream<i32, 2>, h: i32) {" in text
    assert "call producer2(A, q, cast<i32>(h))" in text
    mod = s.build(target="sim")
    A = np.arange(4, dtype=np.int32)
    B = np.zeros(4, np.int32)
    mod(A, B)
    np.testing.assert_array_equal(B, 2 * A - 1)
    assert "yield from" not in mod.source and "_drive(F_producer2(" in mod.source


def helper_put(q: Stream[int32, 2], v: int32):
    q.put(v)


def relay(p: Stream[int32, 2], r: Stream[int32, 2]):
    for i in range(4):
        x = p.get()
        helper_put(r, x + 100)


def test_stream_helpers_inside_stream_kernels_use_yield_from():
    def top(A: int32[4], B: int32[4]):
        p: Stream[int32, 2]
        r: Stream[int32, 2]
        for i in range(2):
            p.put(A[i])
        relay_two(p, r)
        for i in range(2):
            B[i] = r.get()

    def relay_two(p: Stream[int32, 2], r: Stream[int32, 2]):
        for i in range(2):
            x = p.get()
            helper_put(r, x + 100)

    mod = allo.customize(top).build(target="sim")
    assert "(yield from F_helper_put(f_r, " in mod.source
    A = np.arange(4, dtype=np.int32)
    B = np.zeros(4, np.int32)
    mod(A, B)
    np.testing.assert_array_equal(B[:2], A[:2] + 100)


def test_arrays_of_local_streams_with_meta_for():
    def k(A: int32[3, 4]) -> int32[3, 4]:
        lanes: Stream[int32, 4][3]
        B: int32[3, 4]
        with allo.meta_for(3) as c:
            for i in range(4):
                lanes[c].put(A[c, i] * (c + 1))
        with allo.meta_for(3) as c:
            with allo.meta_if(c != 1):
                for i in range(4):
                    B[c, i] = lanes[c].get()
            with allo.meta_else():
                for i in range(4):
                    lanes[c].get()
                    B[c, i] = -1
        return B

    s = allo.customize(k)
    assert "lanes_2: stream<i32, 4>" in str(s.module)
    assert "    lanes_1.get()\n" in str(s.module)
    A = np.arange(12, dtype=np.int32).reshape(3, 4)
    ref = A * np.array([[1], [2], [3]], np.int32)
    ref[1] = -1
    np.testing.assert_array_equal(s.build(target="sim")(A), ref)


def test_get_into_elements_casts_and_expressions():
    def k(A: float32[4]) -> int32[4]:
        q: Stream[float32, 4]
        B: int32[4]
        for i in range(4):
            q.put(A[i])
        for i in range(4):
            B[i] = q.get()  # float -> int cast on store, truncating toward zero
        for i in range(4):
            q.put(A[i] * 2)
        for i in range(2):
            B[i] += int(q.get() + q.get())  # two gets, in program order
        return B

    A = np.array([1.5, -2.5, 3.25, 4.0], np.float32)
    ref = A.astype(np.int32)
    ref[0] += int(2 * A[0] + 2 * A[1])
    ref[1] += int(2 * A[2] + 2 * A[3])
    np.testing.assert_array_equal(allo.customize(k).build(target="sim")(A), ref)


def test_split_and_pipeline_keep_the_fifo_order():
    s = allo.customize(queue)
    loops = s.get_loops()
    s.split(loops.S_h_0.h, 1)
    s.pipeline("j")
    s.unroll("i", 2)
    A = np.arange(8, dtype=np.int32)
    np.testing.assert_array_equal(s.build(target="sim")(A), A + 1)


def test_compute_at_refuses_stream_nests():
    def k(A: int32[4]) -> int32[4]:
        q: Stream[int32, 4]
        B: int32[4]
        for i in range(4):
            q.put(A[i])
        for j in range(4):
            B[j] = q.get()
        return B

    s = allo.customize(k)
    with pytest.raises(allo.AlloError, match="stream"):
        s.compute_at(s.get_loops().S_i_0.i, s.get_loops().S_j_1.j)


def test_inline_refuses_stream_callees():
    s = allo.customize(owner)
    with pytest.raises(allo.AlloError, match="uses streams"):
        s.inline("producer2")


# ---------------------------------------------------------------- verifier


def _module():
    return copy.deepcopy(allo.customize(owner).module)


def _first(m, fname, cls):
    return next(s for s in walk_stmts(m.funcs[fname].body) if isinstance(s, cls))


@pytest.mark.parametrize("breakage, message", [
    (lambda m: setattr(_first(m, "producer2", StreamPut), "value", Const(1, Int(8))),
     "value put into 'q' has type i8, expected i32"),
    (lambda m: setattr(_first(m, "producer2", StreamPut), "value", BufRef("A")),
     "a tensor is put into stream 'q' of scalars"),
    (lambda m: setattr(_first(m, "producer2", StreamPut), "stream", "nope"),
     "stream 'nope' is not a Stream parameter or declared stream"),
    (lambda m: setattr(_first(m, "consumer2", StreamGet), "dst", "B"),
     "scalar got from 'q' into tensor 'B'"),
    (lambda m: m.funcs["owner"].body.__setitem__(0, m.funcs["owner"].body[1]),
     "stream 'q' is not a Stream parameter or declared stream"),
    (lambda m: setattr(_first(m, "owner", type(m.funcs["owner"].body[1].body[0])), "args",
                       [BufRef("A"), BufRef("B"), Const(0, int32)]),
     "parameter 'q' of producer2 (stream<i32, 2>) gets a non-stream"),
    (lambda m: _first(m, "owner", type(m.funcs["owner"].body[1].body[0])).args.__setitem__(
        0, StreamRef("q")), "parameter 'A' of producer2 (i32) gets a stream"),
])
def test_verifier_checks_stream_nodes(breakage, message):
    m = _module()
    verify_module(m, "test")
    breakage(m)
    with pytest.raises(VerifyError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        verify_module(m, "test")


def test_verifier_checks_stream_argument_types():
    m = _module()
    decl = m.funcs["owner"].body[0]
    decl.type = Stream(int32, (), 4)
    with pytest.raises(VerifyError, match="gets 'q' of type stream<i32, 4>"):
        verify_module(m, "test")


def test_verifier_checks_dataflow_regions():
    import allo_rtl.dataflow as df
    from allo_rtl.ir.nodes import Assign

    @df.region()
    def r(A: int32[4]):
        q: Stream[int32, 2]

        @df.kernel(mapping=[1], args=[A])
        def a(local_A: int32[4]):
            q.put(local_A[0])

        @df.kernel(mapping=[1])
        def b():
            q.get()

    m = df.customize(r).module
    verify_module(m, "test")
    m.top_func.body.append(Assign("x", Const(0, int32)))
    with pytest.raises(VerifyError, match="a dataflow region holds a Assign statement"):
        verify_module(m, "test")
