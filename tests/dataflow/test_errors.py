"""Bad dataflow programs: each raises AlloError naming the kernel line and what is wrong
(compile time), or the blocked kernels and streams (deadlock at run time)."""

import numpy as np
import pytest

import allo_rtl as allo
import allo_rtl.dataflow as df
from allo_rtl import AlloError
from allo_rtl.ir.types import Stream, float32, int32

from ..conftest import line_of


def k_put_tensor(A: int32[4]):
    q: Stream[int32, 4]
    q.put(A)


def k_put_scalar_into_blocks(A: int32[4]):
    q: Stream[int32[4], 2]
    q.put(A[0])


def k_put_wrong_block(A: float32[2, 4]):
    q: Stream[float32[2], 2]
    q.put(A[0])


def k_get_undeclared(A: int32[4]):
    A[0] = nope.get()  # noqa: F821


def k_put_as_value(A: int32[4]):
    q: Stream[int32, 4]
    A[0] = q.put(1)


def k_stream_in_loop(A: int32[4]):
    for i in range(4):
        q: Stream[int32, 4]


def k_stream_with_value(A: int32[4]):
    q: Stream[int32, 4] = 0


def k_stream_as_value(A: int32[4]):
    q: Stream[int32, 4]
    A[0] = q + 1


def k_dynamic_stream_index(A: int32[4]):
    q: Stream[int32, 4][2]
    for i in range(2):
        q[i].put(A[i])


def k_stream_index_out_of_range(A: int32[4]):
    q: Stream[int32, 4][2]
    with allo.meta_for(3) as i:
        q[i].put(A[i])


def k_array_method(A: int32[4]):
    q: Stream[int32, 4][2]
    q.put(A[0])


def k_get_in_ternary(A: int32[4], c: int32):
    q: Stream[int32, 4]
    q.put(1)
    A[0] = q.get() if c > 0 else 0


def k_pid_outside(A: int32[4]):
    i = df.get_pid()


def takes_stream(q: Stream[int32, 2], A: int32[4]):
    q.put(A[0])


def k_stream_type_mismatch(A: int32[4]):
    q: Stream[int32, 4]
    takes_stream(q, A)


def k_return_stream(A: int32[4]) -> Stream[int32, 2]:
    pass


@df.region()
def r_scalar_param(A: int32[4], n: int32):
    @df.kernel(mapping=[1], args=[A])
    def k(local_A: int32[4]):
        local_A[0] = 1


@df.region()
def r_statement(A: int32[4]):
    x: int32 = 0

    @df.kernel(mapping=[1], args=[A])
    def k(local_A: int32[4]):
        local_A[0] = 1


@df.region()
def r_not_kernel(A: int32[4]):
    def helper(local_A: int32[4]):
        local_A[0] = 1


@df.region()
def r_bad_mapping(A: int32[4]):
    @df.kernel(mapping=[0], args=[A])
    def k(local_A: int32[4]):
        local_A[0] = 1


@df.region()
def r_bad_args(A: int32[4]):
    @df.kernel(mapping=[1], args=[B])  # noqa: F821
    def k(local_A: int32[4]):
        local_A[0] = 1


@df.region()
def r_missing_args(A: int32[4]):
    @df.kernel(mapping=[1])
    def k(local_A: int32[4]):
        local_A[0] = 1


@df.region()
def r_arg_shape(A: int32[4]):
    @df.kernel(mapping=[1], args=[A])
    def k(local_A: int32[8]):
        local_A[0] = 1


@df.region()
def r_direct_param(A: int32[4]):
    @df.kernel(mapping=[1])
    def k():
        A[0] = 1


@df.region()
def r_two_writers(A: int32[4]):
    pipe: Stream[int32, 4]

    @df.kernel(mapping=[2])
    def writer():
        pipe.put(1)

    @df.kernel(mapping=[1], args=[A])
    def reader(local_A: int32[4]):
        local_A[0] = pipe.get()


@df.region()
def r_result(A: int32[4]) -> int32:
    @df.kernel(mapping=[1], args=[A])
    def k(local_A: int32[4]):
        local_A[0] = 1


@df.region()
def r_kernel_result(A: int32[4]):
    @df.kernel(mapping=[1], args=[A])
    def k(local_A: int32[4]) -> int32:
        return local_A[0]


@df.region()
def r_no_kernel(A: int32[4]):
    pipe: Stream[int32, 4]


@df.region()
def r_pid_arity(A: int32[4]):
    @df.kernel(mapping=[2, 2])
    def k():
        i, j, l = df.get_pid()


@df.region()
def r_edge_index(A: int32[4]):
    fifo: Stream[int32, 2][4]

    @df.kernel(mapping=[4])
    def k():
        i = df.get_pid()
        fifo[i + 1].put(i)


@pytest.mark.parametrize("fn, snippet, msg", [
    (k_put_tensor, "q.put(A)", "put() of a tensor of shape [4] into stream 'q' of i32 scalars"),
    (k_put_scalar_into_blocks, "q.put(A[0])", "stream 'q' carries i32[4] blocks; put() got a "
                                              "scalar"),
    (k_put_wrong_block, "q.put(A[0])", "put() of a f32[4] tensor into stream 'q' of f32[2] "
                                       "blocks"),
    (k_get_undeclared, "nope.get()", "name 'nope' is not defined"),
    (k_put_as_value, "q.put(1)", "put() returns nothing"),
    (k_stream_in_loop, "q: Stream", "stream 'q' is declared inside a loop or a run-time if"),
    (k_stream_with_value, "q: Stream", "stream 'q' is declared with a value"),
    (k_stream_as_value, "q + 1", "stream 'q' is not a value"),
    (k_dynamic_stream_index, "q[i].put", "index of stream array 'q' must be a compile-time "
                                         "constant"),
    (k_stream_index_out_of_range, "q[i].put", "index 2 is out of range for dimension of size 2 "
                                              "of stream array 'q'"),
    (k_array_method, "q.put(A[0])", "'q' is an array of streams"),
    (k_get_in_ternary, "if c > 0 else", "a stream get or put inside a conditional expression "
                                        "would run unconditionally"),
    (k_pid_outside, "df.get_pid()", "df.get_pid() is only valid inside a @df.kernel"),
    (k_stream_type_mismatch, "takes_stream(q, A)", "stream type mismatch in call to "
                                                   "takes_stream: argument 'q' expects "
                                                   "stream<i32, 2>, got stream<i32, 4>"),
    (k_return_stream, "def k_return_stream", "a kernel cannot return a stream"),
    (r_scalar_param, "n: int32", "dataflow region 'r_scalar_param' has scalar parameter 'n'"),
    (r_statement, "x: int32 = 0", "a dataflow region may contain only stream declarations and "
                                  "@df.kernel functions"),
    (r_not_kernel, "def helper", "function 'helper' in a dataflow region is not a @df.kernel"),
    (r_bad_mapping, "mapping=[0]", "mapping must be a list of 1 to 3 positive integers, not [0]"),
    (r_bad_args, "args=[B]", "args= entry 'B' is not a parameter of region 'r_bad_args'"),
    (r_missing_args, "@df.kernel(mapping=[1])", "kernel 'k' has parameters but no args=[...]"),
    (r_arg_shape, "args=[A]", "region parameter 'A' is i32[4] but kernel parameter 'local_A' "
                              "of 'k' is i32[8]"),
    (r_direct_param, "A[0] = 1", "kernel 'k' reads region parameter 'A' directly"),
    (r_two_writers, "pipe.put(1)", "stream 'pipe' has two writers: kernels writer_0 and "
                                   "writer_1 both put it"),
    (r_result, "-> int32:", "dataflow region 'r_result' declares a result"),
    (r_kernel_result, "-> int32:", "kernel 'k' returns a value"),
    (r_no_kernel, "def r_no_kernel", "dataflow region 'r_no_kernel' has no @df.kernel"),
    (r_pid_arity, "i, j, l", "df.get_pid() gives 2 value(s)"),
    (r_edge_index, "fifo[i + 1]", "index 4 is out of range for dimension of size 4 of stream "
                                  "array 'fifo'"),
])
def test_bad_dataflow_program_reports_line_and_message(fn, snippet, msg):
    with pytest.raises(AlloError) as info:
        if isinstance(fn, df.Region):
            df.customize(fn)
        else:
            allo.customize(fn)
    err = info.value
    assert msg in err.msg, err.render()
    assert err.loc is not None and err.loc.line == line_of(getattr(fn, "fn", fn), snippet), \
        err.render()
    assert f":{err.loc.line}: error:" in str(err) and "hint:" in str(err)


def test_kernel_with_stream_parameter_cannot_be_called_from_python():
    with pytest.raises(AlloError, match="takes stream parameter 'q' and cannot be called from "
                                        "Python") as info:
        allo.customize(takes_stream).build(target="sim")
    assert info.value.loc.line == line_of(takes_stream, "def takes_stream")


@df.region()
def r_deadlock(A: int32[8], B: int32[8]):
    data: Stream[int32, 2]
    ack: Stream[int32, 2]

    @df.kernel(mapping=[1], args=[A])
    def sender(local_A: int32[8]):
        for i in range(8):
            data.put(local_A[i])
            x: int32 = ack.get()  # waits for an ack the receiver only sends after 4 values

    @df.kernel(mapping=[1], args=[B])
    def receiver(local_B: int32[8]):
        for i in range(8):
            local_B[i] = data.get()
            if i % 4 == 3:
                ack.put(i)


def test_deadlock_names_each_blocked_kernel_and_stream():
    mod = df.build(r_deadlock, target="sim")
    with pytest.raises(AlloError) as info:
        mod(np.arange(8, dtype=np.int32), np.zeros(8, np.int32))
    err = info.value
    fn = r_deadlock.fn
    assert "deadlock in dataflow region 'r_deadlock': every unfinished kernel is blocked" in err.msg
    assert (f"sender_0 ({err.loc.file}:{line_of(fn, 'ack.get()')}): get from stream 'ack', "
            "which is empty") in err.msg
    assert (f"receiver_0 ({err.loc.file}:{line_of(fn, 'local_B[i] = data.get()')}): get from "
            "stream 'data', which is empty") in err.msg
    assert err.loc.line == line_of(fn, "ack.get()")


@df.region()
def r_full(A: int32[8]):
    q: Stream[int32, 2]

    @df.kernel(mapping=[1], args=[A])
    def src(local_A: int32[8]):
        for i in range(8):
            q.put(local_A[i])

    @df.kernel(mapping=[1])
    def dst():
        for i in range(3):
            q.get()


def test_deadlock_on_a_full_stream_lists_finished_kernels():
    with pytest.raises(AlloError) as info:
        df.build(r_full, target="sim")(np.zeros(8, np.int32))
    err = info.value
    assert "src_0" in err.msg and "put into stream 'q', which is full (depth 2)" in err.msg
    assert "(finished: dst_0)" in err.msg
    assert err.loc.line == line_of(r_full.fn, "q.put(local_A[i])")


def k_get_empty(A: int32[4]):
    q: Stream[int32, 4]
    q.put(A[0])
    A[1] = q.get()
    A[2] = q.get()


def test_get_from_an_empty_stream_in_sequential_code():
    with pytest.raises(AlloError, match="kernel 'k_get_empty' blocks forever: get from stream "
                                        "'q', which is empty") as info:
        allo.customize(k_get_empty).build(target="sim")(np.zeros(4, np.int32))
    assert info.value.loc.line == line_of(k_get_empty, "A[2] = q.get()")


def fill(q: Stream[int32, 2]):
    for i in range(3):
        q.put(i)


def k_callee_blocks(A: int32[4]):
    q: Stream[int32, 2]
    fill(q)


def test_a_stream_callee_blocking_in_sequential_code_names_it():
    with pytest.raises(AlloError, match="kernel 'fill' blocks forever: put into stream 'q', "
                                        "which is full") as info:
        allo.customize(k_callee_blocks).build(target="sim")(np.zeros(4, np.int32))
    assert info.value.loc.line == line_of(fill, "q.put(i)")


@df.region()
def r_leftover(A: int32[4]):
    q: Stream[int32, 4]

    @df.kernel(mapping=[1], args=[A])
    def src(local_A: int32[4]):
        for i in range(4):
            q.put(local_A[i])

    @df.kernel(mapping=[1])
    def dst():
        q.get()


def test_elements_left_in_a_stream_are_warned_about():
    with pytest.warns(allo.AlloWarning, match="stream 'q' still holds 3 element"):
        df.build(r_leftover, target="sim")(np.zeros(4, np.int32))


def test_df_build_rejects_non_regions():
    def k(A: int32[4]):
        pass

    with pytest.raises(AlloError, match="expected a @df.region"):
        df.build(k, target="sim")
    with pytest.raises(AlloError, match="only valid inside a @df.kernel"):
        df.get_pid()
