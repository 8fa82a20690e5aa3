"""Streams and dataflow regions in RTL: FIFOs between concurrent kernel components,
co-simulated bit for bit against the interpreter, with exact cycle counts; stream
errors at build time and stalls at the cycle limit."""

import numpy as np
import pytest

import allo_rtl as allo
import allo_rtl.dataflow as df
from allo_rtl import AlloError
from allo_rtl.ir.types import Stream, int8, int16, int32, uint8

from designs import dataflow_frames

from ..conftest import line_of
from . import test_regions as R

pytestmark = pytest.mark.rtl


def _random_args(s, rng):
    args = []
    for p in s.top_func.params:
        dt = {8: np.int8, 16: np.int16, 32: np.int32}.get(p.type.bits, np.float32)
        if p.type.name.startswith("f"):
            args.append(rng.random(p.shape).astype(np.float32))
        else:
            args.append(rng.integers(-50, 50, p.shape).astype(dt))
    return args


def _cosim(s, rng):
    """Run ``s`` on the interpreter and in RTL on the same random arguments; assert the
    arrays agree bit for bit; return the RTL module."""
    args = _random_args(s, rng)
    want = [a.copy() for a in args]
    got = [a.copy() for a in args]
    s.build(target="sim")(*want)
    mod = s.build()
    mod(*got)
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)
    return mod


@pytest.mark.parametrize("region", [
    "producer_consumer", "three_stages", "pipeline_of_stages", "blocks", "old_style",
    "pipe_style",  # df.pipe / df.array declarations
    "systolic",  # Allo's systolic GEMM: one SystolicGemm (pass df-systolic)
    "tiled_gemm",  # four kernels read-modify-write one array
    "outer",  # kernels calling regions
])
def test_regions_in_rtl_equal_the_interpreter(region, rng):
    mod = _cosim(df.customize(getattr(R, region)), rng)
    assert mod.last_cycles > 0


def test_region_hardware_is_concurrent_kernels_and_fifos():
    mod = df.build(R.producer_consumer)
    v = mod.verilog
    assert "module producer_consumer_top" in v
    assert "fifo_pipe" in v and "k0_producer_0" in v and "k1_consumer_0" in v
    # the FIFO status is a debug output of the wrapper
    assert "dbg__fifos0" in v


F, N = 16, dataflow_frames.N
frames = dataflow_frames.kernel(F)  # load -> compute (3x + 1) -> store over F frames


def test_three_pipelined_stages_over_16_frames_overlap(rng):
    """Task-level pipelining: 3 stages at II=1 over 16 frames of 64 elements take about
    one stage's time (16 x 64 cycles) plus the fill, not the sum of the stages."""
    s = df.customize(frames)
    for k in ("load_0", "compute_0", "store_0"):
        s.pipeline(f"{k}:i")
    mod = _cosim(s, rng)
    slowest = F * N  # every stage: one element per cycle
    fill = sum(p.depth for lf in mod.design.funcs.values() for p in lf.pipelines)
    assert mod.last_cycles <= 1.2 * slowest + fill
    assert mod.last_cycles == 1035  # exact: the schedule is deterministic


def test_unpipelined_stages_still_overlap(rng):
    s = df.customize(frames)
    mod = _cosim(s, rng)
    # each stage alone: 4 cycles per element (FSM); concurrent, not 3 x that
    assert mod.last_cycles == 4105


def test_kernel_with_a_local_stream():
    def k(A: int32[8], B: int32[8]):
        q: Stream[int32, 4]
        for i in range(4):
            q.put(A[i] * 2)
        for i in range(4):
            B[i] = q.get() + 1

    s = allo.customize(k)
    A = np.arange(8, dtype=np.int32)
    B = np.zeros(8, np.int32)
    mod = s.build()
    mod(A, B)
    np.testing.assert_array_equal(B, [1, 3, 5, 7, 0, 0, 0, 0])
    assert mod.last_cycles == 25


@df.region()
def predicated(A: int32[16], B: int32[16]):
    q: Stream[int32, 2]

    @df.kernel(mapping=[1], args=[A])
    def filt(lA: int32[16]):
        for i in range(16):
            if lA[i] > 0:
                q.put(lA[i])
            else:
                q.put(0 - lA[i])

    @df.kernel(mapping=[1], args=[B])
    def sink(lB: int32[16]):
        for i in range(16):
            v: int32 = q.get()
            if v > 10:
                lB[i] = v
            else:
                lB[i] = -1


@pytest.mark.parametrize("pipe", [False, True])
def test_conditional_puts_in_pipelined_loops(pipe, rng):
    s = df.customize(predicated)
    if pipe:
        s.pipeline("filt_0:i")
        s.pipeline("sink_0:i")
    _cosim(s, rng)


def helper_put(q: Stream[int16, 4], x: int16):
    q.put(x + 1)


@df.region()
def via_callee(A: int16[8], B: int16[8]):
    q: Stream[int16, 4]

    @df.kernel(mapping=[1], args=[A])
    def src(lA: int16[8]):
        for i in range(8):
            helper_put(q, lA[i])

    @df.kernel(mapping=[1], args=[B])
    def dst(lB: int16[8]):
        for i in range(8):
            lB[i] = q.get()


def test_a_callee_puts_into_the_callers_stream(rng):
    _cosim(df.customize(via_callee), rng)


@pytest.mark.parametrize("dtype", [int8, uint8, int32])
def test_stream_element_types(dtype, rng):
    @df.region()
    def r(A: dtype[8], B: dtype[8]):
        q: Stream[dtype, 3]

        @df.kernel(mapping=[1], args=[A])
        def a(lA: dtype[8]):
            for i in range(8):
                q.put(lA[i] + 1)

        @df.kernel(mapping=[1], args=[B])
        def b(lB: dtype[8]):
            for i in range(8):
                lB[i] = q.get()

    A = rng.integers(0, 100, 8).astype({"i8": np.int8, "ui8": np.uint8, "i32": np.int32}[dtype.name])
    want, got = np.zeros_like(A), np.zeros_like(A)
    s = df.customize(r)
    s.build(target="sim")(A, want)
    s.build()(A, got)
    np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------ errors


def test_static_deadlock_more_gets_than_puts():
    @df.region()
    def r(A: int32[8], B: int32[8]):
        q: Stream[int32, 4]

        @df.kernel(mapping=[1], args=[A])
        def p(lA: int32[8]):
            for i in range(4):
                q.put(lA[i])

        @df.kernel(mapping=[1], args=[B])
        def c(lB: int32[8]):
            for i in range(8):
                lB[i] = q.get()

    with pytest.raises(AlloError, match="deadlock: 8 elements are taken from stream 'q' but "
                                        "only 4 are ever put") as info:
        df.build(r)
    assert info.value.loc.line == line_of(r.fn, "lB[i] = q.get()")


def test_static_deadlock_writer_blocks_on_a_full_fifo():
    @df.region()
    def r(A: int32[8], B: int32[8]):
        q: Stream[int32, 2]

        @df.kernel(mapping=[1], args=[A])
        def p(lA: int32[8]):
            for i in range(8):
                q.put(lA[i])

        @df.kernel(mapping=[1], args=[B])
        def c(lB: int32[8]):
            for i in range(4):
                lB[i] = q.get()

    with pytest.raises(AlloError, match=r"deadlock: 8 elements are put into stream 'q' \(depth 2\)"):
        df.build(r)


def test_kernel_putting_and_getting_one_stream_parameter_is_refused():
    def inner(q: Stream[int32, 4], x: int32) -> int32:
        q.put(x)
        return q.get()

    def k(A: int32[4]):
        q: Stream[int32, 4]
        A[0] = inner(q, A[1])

    with pytest.raises(AlloError, match="both puts into and gets from its stream parameter 'q'"):
        allo.customize(k).build()


def test_run_time_stall_names_the_fifos():
    """A data-dependent number of gets: no static error; the simulation hits max_cycles and
    the error names the full and empty FIFOs."""
    @df.region()
    def r(A: int32[8], B: int32[8]):
        q: Stream[int32, 2]
        done: Stream[int32, 2]

        @df.kernel(mapping=[1], args=[A])
        def p(lA: int32[8]):
            for i in range(8):
                q.put(lA[i])
            done.put(1)

        @df.kernel(mapping=[1], args=[B])
        def c(lB: int32[8]):
            for i in range(8):
                if lB[i] > 0:
                    lB[i] = q.get()
            lB[0] = done.get()

    mod = df.build(r)
    mod.max_cycles = 500
    A = np.arange(8, dtype=np.int32)
    B = np.zeros(8, np.int32)  # no element > 0: the consumer takes nothing
    with pytest.raises(AlloError) as info:
        mod(A, B)
    msg = info.value.msg
    assert "did not raise done within max_cycles=500" in msg
    assert "full (a writer waits): q" in msg and "empty (a reader may wait): done" in msg


def helper_put16(q: Stream[int16, 4], x: int16):
    q.put(x)


def test_stream_type_mismatch_across_a_call_is_a_build_time_error():
    def k(A: int32[4]):
        q: Stream[int32, 4]
        helper_put16(q, A[0])
        A[1] = q.get()

    with pytest.raises(AlloError, match="stream type mismatch in call to helper_put16") as info:
        allo.customize(k).build()
    assert info.value.loc.line == line_of(k, "helper_put16(q, A[0])")
