"""``s.dataflow`` on loops (task-level pipelining) and ping-pong buffers between stages
(allo_rtl/schedule/pingpong.py): the transformed program equals the sequential one on
the interpreter, the RTL equals the interpreter bit for bit with exact cycle counts, and
bodies that cannot run concurrently are AlloErrors at the kernel line."""

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl import AlloError
from allo_rtl.ir.printer import print_function
from allo_rtl.ir.types import Stream, int32

from ..conftest import line_of

F, N = 5, 8


def load(A: int32[N], t: int32[N]):
    for i in range(N):
        t[i] = A[i] + 1


def work(t: int32[N], u: int32[N]):
    for i in range(N):
        u[i] = t[i] * 3


def store(u: int32[N], t: int32[N], C: int32[N]):
    for i in range(N):
        C[i] = u[i] - t[i]


def frames(A: int32[F, N], C: int32[F, N]):
    for f in range(F):
        t: int32[N]
        u: int32[N]
        load(A[f], t)
        work(t, u)        # t has two consumers: work and store
        store(u, t, C[f])


def frames_ref(A):
    return (A + 1) * 3 - (A + 1)


def accumulate(A: int32[N], t: int32[N]):
    for i in range(N):
        t[i] += A[i]      # reads t first: the producer cannot skip the initial value


def scaled(t: int32[N], k: int32, C: int32[N]):
    for i in range(N):
        C[i] = t[i] * k


def with_init(A: int32[F, N], C: int32[F, N]):
    for f in range(F):
        t: int32[N] = 7    # re-initialised at every iteration
        accumulate(A[f], t)
        scaled(t, f + 2, C[f])


def with_init_ref(A):
    return (A + 7) * (np.arange(F)[:, None] + 2)


def outer(A: int32[F, N], C: int32[F, N]):
    t: int32[N]            # declared outside the loop, but load overwrites it every time
    for f in range(F):
        load(A[f], t)
        scaled(t, 2, C[f])


def outer_ref(A):
    return (A + 1) * 2


def body(A: int32[N], C: int32[N]):
    t: int32[N]
    u: int32[N] = 1
    load(A, t)
    accumulate(t, u)
    scaled(u, 3, C)


def body_ref(A):
    return (A + 2) * 3


def _run(kernel, sched, A, C_shape):
    s = allo.customize(kernel)
    want = np.zeros(C_shape, np.int32)
    s.build(target="sim")(A.copy(), want)
    sched(s)
    got = np.zeros(C_shape, np.int32)
    s.build(target="sim")(A.copy(), got)
    np.testing.assert_array_equal(got, want)
    return s, want


@pytest.mark.parametrize("kernel, ref, target", [
    (frames, frames_ref, "f"), (with_init, with_init_ref, "f"), (outer, outer_ref, "f"),
])
def test_dataflow_loop_equals_the_sequential_program(kernel, ref, target, rng):
    A = rng.integers(-1000, 1000, (F, N)).astype(np.int32)
    s, want = _run(kernel, lambda s: s.dataflow(target), A, (F, N))
    np.testing.assert_array_equal(want, ref(A))
    assert s.top_func.attrs.get("dataflow") is None  # the top calls the new region
    regions = [f for f in s.module.funcs.values() if f.attrs.get("dataflow")]
    assert len(regions) == 1


def test_the_loop_becomes_a_region_of_stage_kernels_with_token_streams():
    s = allo.customize(frames)
    s.dataflow("f")
    text = str(s.module)
    assert "call frames_f_dataflow(A, C)" in text
    assert "func frames_f_dataflow(A: i32[5, 8], C: i32[5, 8]) dataflow {" in text
    assert "  t: i32[2, 8]\n" in text and "  u: i32[2, 8]\n" in text  # two banks each
    # the producer takes a free bank from each consumer after the first two frames
    assert "if (f >= 2):ui1 {\n      t_free1.get()" in text
    assert "call load(A[f], t[(f & 1):index])" in text
    assert "t_full1.put(1:ui1)" in text and "t_full2.put(1:ui1)" in text
    # a consumer gives the bank back unless no later frame needs it
    assert "if (f < 3):ui1 {\n      t_free2.put(1:ui1)" in text


def test_the_initial_value_is_written_by_the_producer_only_when_needed():
    s = allo.customize(with_init)
    s.dataflow("f")
    stage = print_function(s.module.funcs["with_init_f_dataflow_accumulate"])
    assert "t[(f & 1):index, __i0] = 7:i32" in stage
    s = allo.customize(frames)  # load writes every element of t before reading any
    s.dataflow("f")
    assert "__i0" not in print_function(s.module.funcs["frames_f_dataflow_load"])


def test_a_loop_not_counting_from_zero_gets_its_own_counter(rng):
    def odd(A: int32[2 * F, N], C: int32[2 * F, N]):
        for f in range(1, 2 * F, 2):
            t: int32[N]
            load(A[f], t)
            scaled(t, f, C[f])

    A = rng.integers(-1000, 1000, (2 * F, N)).astype(np.int32)
    s, want = _run(odd, lambda s: s.dataflow("f"), A, (2 * F, N))
    np.testing.assert_array_equal(want[1::2], (A[1::2] + 1) * np.arange(1, 2 * F, 2)[:, None])
    stage = print_function(s.module.funcs["odd_f_dataflow_scaled"])
    assert "for __it in 0..5 (name f) {\n    f: index = ((__it * 2):index + 1):index" in stage
    assert "call scaled(t[(__it & 1):index], cast<i32>(f), C[f])" in stage


def scalars(A: int32[2, F, N], C: int32[2, F, N], D: int32[2, F, N], g: int32):
    for r in range(2):
        for f in range(F):
            t: int32[N] = g        # an initial value from a parameter
            accumulate(A[r, f], t)
            scaled(t, g + r, C[r, f])       # a parameter and the enclosing loop's variable
            for i in range(N):
                D[r, f, i] = A[r, f, i] + r * g       # an outlined nest using both


def _scalars_run(s, A, g, target):
    C, D = np.zeros((2, F, N), np.int32), np.zeros((2, F, N), np.int32)
    mod = s.build(target=target)
    mod(A, C, D, g)
    return C, D, mod


def test_scalars_of_the_function_are_inputs_of_the_region(rng):
    A = rng.integers(-1000, 1000, (2, F, N)).astype(np.int32)
    s = allo.customize(scalars)
    C, D, _ = _scalars_run(s, A, 3, "sim")
    r = np.arange(2)[:, None, None]
    np.testing.assert_array_equal(C, (A + 3) * (3 + r))
    np.testing.assert_array_equal(D, A + r * 3)
    s.dataflow("f")
    C2, D2, _ = _scalars_run(s, A, 3, "sim")
    np.testing.assert_array_equal(C2, C)
    np.testing.assert_array_equal(D2, D)
    text = str(s.module)
    assert ("func scalars_f_dataflow(A: i32[2, 5, 8], C: i32[2, 5, 8], D: i32[2, 5, 8], "
            "r: index, g: i32) dataflow {") in text
    assert "call scalars_f_dataflow(A, C, D, r, g)" in text


def test_dataflow_function_with_arrays_between_calls():
    A = np.arange(N, dtype=np.int32)
    s, want = _run(body, lambda s: s.dataflow("body"), A, (N,))
    np.testing.assert_array_equal(want, body_ref(A))
    text = str(s.module)
    assert "func body(A: i32[8], C: i32[8]) dataflow {" in text
    assert "  t: i32[8]\n" in text  # runs once: one bank
    assert "u[__i0] = 1:i32" in text  # u = 1 is written by its producer


def put_all(A: int32[N], q: Stream[int32, 64]):
    for i in range(N):
        q.put(A[i])


def get_all(q: Stream[int32, 64], C: int32[N]):
    for i in range(N):
        C[i] = q.get() * 2


def streamed(A: int32[F, N], C: int32[F, N]):
    q: Stream[int32, 64]
    for f in range(F):
        put_all(A[f], q)
        get_all(q, C[f])


def test_a_stream_declared_before_the_loop_moves_into_the_region(rng):
    A = rng.integers(-1000, 1000, (F, N)).astype(np.int32)
    s, want = _run(streamed, lambda s: s.dataflow("f"), A, (F, N))
    np.testing.assert_array_equal(want, A * 2)
    assert "q: stream<i32, 64>" in print_function(s.module.funcs["streamed_f_dataflow"])


def test_a_loop_of_a_callee_and_one_iteration():
    def one(A: int32[1, N], C: int32[1, N]):
        for f in range(1):
            t: int32[N]
            load(A[f], t)
            scaled(t, 5, C[f])

    def caller(A: int32[1, N], C: int32[1, N]):
        one(A, C)

    A = np.arange(N, dtype=np.int32).reshape(1, N)
    s, want = _run(caller, lambda s: s.dataflow("one:f"), A, (1, N))
    np.testing.assert_array_equal(want, (A + 1) * 5)
    assert "  t: i32[8]\n" in print_function(s.module.funcs["one_f_dataflow"])  # one frame: one bank


# Arrays that are not "one producer, then readers": the users take turns (a token ring),
# which keeps the program's meaning but does not overlap those stages (an AlloWarning).


def two_writers(A: int32[F, N], C: int32[F, N]):
    for f in range(F):
        t: int32[N]
        load(A[f], t)
        accumulate(A[f], t)
        scaled(t, 2, C[f])


def handoff(A: int32[F, N], C: int32[F, N], D: int32[F, N]):
    for f in range(F):
        load(A[f], C[f])          # C is a parameter: written here, read by the next stage
        scaled(C[f], 2, D[f])


def carried(A: int32[F, N], C: int32[F, N]):
    t: int32[N]
    for f in range(F):
        accumulate(A[f], t)       # t carries values from one frame to the next
        scaled(t, 2, C[f])


def read_first(A: int32[F, N], C: int32[F, N]):
    for f in range(F):
        t: int32[N] = 5
        scaled(t, 2, C[f])        # reads the initial value, then load overwrites it
        load(A[f], t)
        accumulate(C[f], t)


def in_place(A: int32[F, N], B: int32[F, N]):
    for f in range(F):
        for i in range(N):
            B[f, i] = A[f, i]
        for i2 in range(N):
            A[f, i2] = 0


RING_KERNELS = [(two_writers, "t", "load, accumulate, scaled"),
                (handoff, "C", "load, scaled"), (carried, "t", "accumulate, scaled"),
                (read_first, "t", "scaled, load, accumulate"),
                (in_place, "A", "in_place_i, in_place_i2")]


def _ring_args(kernel, A):
    return [A.copy()] + [np.zeros((F, N), np.int32)
                         for _ in range(len(allo.customize(kernel).top_func.params) - 1)]


@pytest.mark.parametrize("kernel, array, users", RING_KERNELS,
                         ids=[k.__name__ for k, _, _ in RING_KERNELS])
def test_other_arrays_between_stages_take_turns(kernel, array, users, rng):
    A = rng.integers(-1000, 1000, (F, N)).astype(np.int32)
    s = allo.customize(kernel)
    want = _ring_args(kernel, A)
    s.build(target="sim")(*want)
    with pytest.warns(allo.AlloWarning, match=f"{users} take turns on array '{array}'"):
        s.dataflow("f")
    got = _ring_args(kernel, A)
    s.build(target="sim")(*got)
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)


def loops_only(A: int32[N], B: int32[N]):
    C: int32[N] = 0
    for i in range(N):
        C[i] = A[i] + 1
    for i in range(N):
        B[i] = C[i] * 2


def loops_in_frames(A: int32[F, N], B: int32[F, N]):
    for f in range(F):
        C: int32[N]
        for i in range(N):
            C[i] = A[f, i] + f
        for j in range(N):
            B[f, j] = C[j] * 2


def test_loop_nests_become_stages_as_hls_dataflow_processes(rng):
    A = rng.integers(-1000, 1000, N).astype(np.int32)
    s, want = _run(loops_only, lambda s: s.dataflow("loops_only"), A, (N,))
    np.testing.assert_array_equal(want, (A + 1) * 2)
    text = str(s.module)
    assert "func loops_only_S_i_0(C: i32[8], A: i32[8]) {" in text
    assert "func loops_only_S_i_1(B: i32[8], C: i32[8]) {" in text
    A = rng.integers(-1000, 1000, (F, N)).astype(np.int32)
    s, want = _run(loops_in_frames, lambda s: s.dataflow("f"), A, (F, N))
    np.testing.assert_array_equal(want, (A + np.arange(F)[:, None]) * 2)
    # the loop variable f is passed to the outlined nests
    assert "func loops_in_frames_i(C: i32[8], A: i32[5, 8], f: index) {" in str(s.module)


# ---------------------------------------------------------------- errors


def _err(kernel, target, match):
    s = allo.customize(kernel)
    with pytest.raises(AlloError, match=match) as e:
        s.dataflow(target)
    return e.value


def test_scalar_code_in_the_body_is_refused():
    def k(A: int32[F, N], C: int32[F, N]):
        for f in range(F):
            t: int32[N]
            g: int32 = f * 2
            load(A[f], t)
            scaled(t, g, C[f])

    e = _err(k, "f", "the loop body computes the scalar 'g'")
    assert e.loc.line == line_of(k, "g: int32 = f * 2")
    assert "compute it inside a called function" in str(e)


def test_loop_nests_using_scalars_of_the_function_are_refused():
    def k(A: int32[N], B: int32[N]):
        acc: int32 = 0
        for i in range(N):
            B[i] = A[i] + acc

    e = _err(k, "k", "the loop 'i' uses 'acc', computed outside it")
    assert "compute 'acc' inside the loop, or keep it in an array" in str(e)


def test_non_constant_trip_counts_and_streams_used_outside_are_refused():
    def k(A: int32[F, N], C: int32[F, N], n: int32):
        for f in range(n):
            t: int32[N]
            load(A[f], t)
            scaled(t, 2, C[f])

    _err(k, "f", "the loop bounds are not compile-time constants")

    def k2(A: int32[F, N], C: int32[F, N]):
        q: Stream[int32, 64]
        for f in range(F):
            put_all(A[f], q)
        for f2 in range(F):
            get_all(q, C[f2])

    _err(k2, "f", "stream 'q' is also used outside the loop")


# ---------------------------------------------------------------- RTL


def _cosim(s, A, C_shape):
    want = np.zeros(C_shape, np.int32)
    s.build(target="sim")(A.copy(), want)
    mod = s.build()
    got = np.zeros(C_shape, np.int32)
    mod(A.copy(), got)
    np.testing.assert_array_equal(got, want)
    return mod


@pytest.mark.rtl
@pytest.mark.parametrize("kernel, cycles", [
    (frames, 362),           # ping-pong buffers, one with two consumers
    (with_init, 314),        # the producer writes the initial value each frame
    (streamed, 152),         # stage kernels pass a stream on to their callee
    (loops_in_frames, 216),  # outlined loop nests
], ids=lambda x: getattr(x, "__name__", str(x)))
def test_rtl_stages_equal_the_interpreter(kernel, cycles, rng):
    A = rng.integers(-2**31, 2**31, (F, N), dtype=np.int64).astype(np.int32)
    s = allo.customize(kernel)
    s.dataflow("f")
    assert _cosim(s, A, (F, N)).last_cycles == cycles


@pytest.mark.rtl
def test_rtl_region_with_scalar_inputs(rng):
    A = rng.integers(-2**31, 2**31, (2, F, N), dtype=np.int64).astype(np.int32)
    s = allo.customize(scalars)
    s.dataflow("f")
    C, D, _ = _scalars_run(s, A, -7, "sim")
    C2, D2, mod = _scalars_run(s, A, -7, "rtl")
    np.testing.assert_array_equal(C2, C)
    np.testing.assert_array_equal(D2, D)
    assert mod.last_cycles == 633


@pytest.mark.rtl
def test_rtl_stages_taking_turns(rng):
    A = rng.integers(-2**31, 2**31, (F, N), dtype=np.int64).astype(np.int32)
    cycles = []
    for kernel in (two_writers, handoff, read_first):
        s = allo.customize(kernel)
        with pytest.warns(allo.AlloWarning, match="take turns"):
            s.dataflow("f")
        want, got = _ring_args(kernel, A), _ring_args(kernel, A)
        s.build(target="sim")(*want)
        mod = s.build()
        mod(*got)
        for w, g in zip(want, got):
            np.testing.assert_array_equal(g, w)
        cycles.append(mod.last_cycles)
    assert cycles == [614, 439, 659]


@pytest.mark.rtl
def test_rtl_dataflow_function_with_a_ping_pong_buffer(rng):
    A = rng.integers(-2**31, 2**31, N, dtype=np.int64).astype(np.int32)
    s = allo.customize(body)
    s.dataflow("body")
    assert _cosim(s, A, (N,)).last_cycles == 130


@pytest.mark.rtl
def test_rtl_frames_overlap_with_ping_pong_buffers(rng):
    """designs/dataflow_pingpong.py: 3 stages at II=1 over 16 frames of 64 elements take
    about one stage's time per frame (not the sum of the three) plus the fill."""
    from designs import dataflow_pingpong as d

    A, B = d.make_inputs(rng)
    s = d.schedule()
    mod = _cosim(s, A, B.shape)
    frames_, n = d.SIZE, d.N
    per_frame = n + 16  # a stage's frame: 64 elements + pipeline fill + call and tokens
    assert mod.last_cycles <= 1.2 * frames_ * n + 2 * per_frame
    assert mod.last_cycles == 1348
