"""Dataflow regions (allo_rtl.dataflow) on the interpreter: Allo's tests/dataflow programs
with ``import allo_rtl as allo`` / ``import allo_rtl.dataflow as df``, checked against
numpy. Kernels of a region run concurrently with blocking FIFOs."""

import numpy as np
import pytest

import allo_rtl as allo
import allo_rtl.dataflow as df
from allo_rtl.ir.types import ConstExpr, Stream, float32, int16, int32, int8

M, N, K = 4, 4, 4


@df.region()
def producer_consumer(A: float32[M, N], B: float32[M, N]):
    pipe: Stream[float32, 4]

    @df.kernel(mapping=[1], args=[A])
    def producer(local_A: float32[M, N]):
        for i, j in allo.grid(M, N):
            out: float32 = local_A[i, j]
            pipe.put(out)

    @df.kernel(mapping=[1], args=[B])
    def consumer(local_B: float32[M, N]):
        for i, j in allo.grid(M, N):
            data = pipe.get()
            local_B[i, j] = data + 1


def test_producer_consumer_matches_numpy(rng):
    A = rng.random((M, N)).astype(np.float32)
    B = np.zeros((M, N), dtype=np.float32)
    mod = df.build(producer_consumer, target="simulator")  # Allo's name for the CPU model
    assert mod(A, B) is None
    np.testing.assert_array_equal(B, A + np.float32(1))


def test_region_ir_is_a_dataflow_function_calling_kernel_instances():
    s = df.customize(producer_consumer)
    assert s.top_func_name == "producer_consumer"
    assert list(s.module.funcs) == ["producer_0", "consumer_0", "producer_consumer"]
    text = str(s.module)
    assert ("func producer_consumer(A: f32[4, 4], B: f32[4, 4]) dataflow {\n"
            "  pipe: stream<f32, 4>\n"
            "  call producer_0(A, pipe)\n"
            "  call consumer_0(B, pipe)\n"
            "}") in text
    assert "func producer_0(local_A: f32[4, 4], pipe: stream<f32, 4>) {" in text
    assert "      pipe.put(out)" in text
    assert "      data: f32\n      data = pipe.get()\n" in text
    assert str(allo.customize(producer_consumer).module) == text  # allo.customize works too


def test_region_called_directly_runs_the_interpreter(rng):
    A = rng.random((M, N)).astype(np.float32)
    B = np.zeros((M, N), dtype=np.float32)
    producer_consumer(A, B)
    np.testing.assert_array_equal(B, A + np.float32(1))


L = 16


@df.region()
def three_stages(A: int32[L], C: int32[L]):
    q1: Stream[int32, 2]
    q2: Stream[int16, 2]

    @df.kernel(mapping=[1], args=[A])
    def load(local_A: int32[L]):
        for i in range(L):
            q1.put(local_A[i])

    @df.kernel(mapping=[1])
    def scale():
        for i in range(L):
            x: int32 = q1.get()
            q2.put(x * 3 - 1)  # cast to the stream's int16 on put, as in Allo

    @df.kernel(mapping=[1], args=[C])
    def store(local_C: int32[L]):
        acc: int32 = 0
        for i in range(L):
            acc += q2.get()
            local_C[i] = acc


def test_three_stage_pipeline(rng):
    A = rng.integers(-5000, 5000, L).astype(np.int32)
    C = np.zeros(L, np.int32)
    df.build(three_stages, target="sim")(A, C)
    np.testing.assert_array_equal(C, np.cumsum((A * 3 - 1).astype(np.int16), dtype=np.int32))


P = 4


@df.region()
def pipeline_of_stages(A: int32[L], B: int32[L]):
    q: Stream[int32, 2][P + 1]

    @df.kernel(mapping=[1], args=[A])
    def src(local_A: int32[L]):
        for i in range(L):
            q[0].put(local_A[i])

    @df.kernel(mapping=[P])
    def stage():
        k = df.get_pid()
        for i in range(L):
            v = q[k].get()
            q[k + 1].put(v * 2 + k)

    @df.kernel(mapping=[1], args=[B])
    def sink(local_B: int32[L]):
        for i in range(L):
            local_B[i] = q[P].get()


def test_multi_instance_mapping_with_get_pid(rng):
    A = rng.integers(-100, 100, L).astype(np.int32)
    B = np.zeros(L, np.int32)
    s = df.customize(pipeline_of_stages)
    assert [f for f in s.module.funcs if f.startswith("stage")] == [f"stage_{k}" for k in range(P)]
    assert "q_2.put(" in str(s.module) and "call stage_2(q_2, q_3)" in str(s.module)
    s.build(target="sim")(A, B)
    ref = A.copy()
    for k in range(P):
        ref = ref * 2 + k
    np.testing.assert_array_equal(B, ref)


P0, P1 = M + 2, N + 2


@df.region()
def systolic(A: int32[M, K], B: int32[K, N], C: int32[M, N]):
    fifo_A: Stream[int32, 4][P0, P1]
    fifo_B: Stream[int32, 4][P0, P1]

    @df.kernel(mapping=[P0, P1], args=[A, B, C])
    def gemm(local_A: int32[M, K], local_B: int32[K, N], local_C: int32[M, N]):
        i, j = df.get_pid()
        with allo.meta_if(i in {0, M + 1} and j in {0, N + 1}):
            pass
        with allo.meta_elif(j == 0):
            for k in range(K):
                fifo_A[i, j + 1].put(local_A[i - 1, k])
        with allo.meta_elif(i == 0):
            for k in range(K):
                fifo_B[i + 1, j].put(local_B[k, j - 1])
        with allo.meta_elif(i == M + 1 and j > 0):
            for k in range(K):
                fifo_B[i, j].get()
        with allo.meta_elif(j == N + 1 and i > 0):
            for k in range(K):
                a: int32 = fifo_A[i, j].get()
        with allo.meta_else():
            c: int32 = 0
            for k in range(K):
                a: int32 = fifo_A[i, j].get()
                b: int32 = fifo_B[i, j].get()
                c += a * b
                fifo_A[i, j + 1].put(a)
                fifo_B[i + 1, j].put(b)
            local_C[i - 1, j - 1] = c


def test_systolic_gemm_2d_mapping(rng):
    A = rng.integers(-50, 50, (M, K)).astype(np.int32)
    B = rng.integers(-50, 50, (K, N)).astype(np.int32)
    C = np.zeros((M, N), np.int32)
    s = df.customize(systolic)
    assert len([f for f in s.module.funcs if f.startswith("gemm_")]) == P0 * P1
    # a PE gets from its west/north FIFOs and puts east/south: four Stream parameters
    pe = s.module.funcs["gemm_1_1"]
    assert [p.name for p in pe.params if p.is_stream] == [
        "fifo_A_1_1", "fifo_B_1_1", "fifo_A_1_2", "fifo_B_2_1"]
    # only the FIFOs some kernel uses are declared (corners and the unused edges are not)
    decls = [st.name for st in s.module.top_func.body if not hasattr(st, "callee")]
    assert len(decls) == 2 * M * (N + 1) and "fifo_A_0_0" not in decls
    s.build(target="sim")(A, B, C)
    np.testing.assert_array_equal(C, A @ B)


@df.region()
def tiled_gemm(A: int32[8, 8], B: int32[8, 8], C: int32[8, 8]):
    @df.kernel(mapping=[2, 2], args=[A, B, C])
    def gemm(local_A: int32[8, 8], local_B: int32[8, 8], local_C: int32[8, 8]):
        pi, pj = df.get_pid()
        Mt: ConstExpr[int32] = 8 // 2
        for i in range(pi * Mt, (pi + 1) * Mt):
            for j in range(pj * Mt, (pj + 1) * Mt):
                for k in range(8):
                    local_C[i, j] += local_A[i, k] * local_B[k, j]


def test_kernels_without_streams_share_the_region_arrays(rng):
    A = rng.integers(-9, 9, (8, 8)).astype(np.int32)
    B = rng.integers(-9, 9, (8, 8)).astype(np.int32)
    C = np.zeros((8, 8), np.int32)
    df.build(tiled_gemm, target="sim")(A, B, C)
    np.testing.assert_array_equal(C, A @ B)


@df.region()
def blocks(A: int8[4, 8], B: int8[4, 8]):
    rows: Stream[int8[8], 2]

    @df.kernel(mapping=[1], args=[A])
    def send(local_A: int8[4, 8]):
        for r in range(4):
            rows.put(local_A[r])  # a subview is put as one block

    @df.kernel(mapping=[1], args=[B])
    def recv(local_B: int8[4, 8]):
        for r in range(4):
            row: int8[8] = rows.get()
            for c in range(8):
                local_B[r, c] = row[7 - c]


def test_stream_of_blocks(rng):
    A = rng.integers(-128, 128, (4, 8)).astype(np.int8)
    B = np.zeros((4, 8), np.int8)
    df.build(blocks, target="sim")(A, B)
    np.testing.assert_array_equal(B, A[:, ::-1])


@df.region()
def old_style():
    pipe: Stream[int32, 4]

    @df.kernel(mapping=[1])
    def producer(A: int32[8]):
        for i in range(8):
            pipe.put(A[i])

    @df.kernel(mapping=[1])
    def consumer(A: int32[8], B: int32[8]):
        for i in range(8):
            B[i] = pipe.get() + A[i]


def test_region_without_parameters_takes_the_kernels_parameters_by_name():
    A = np.arange(8, dtype=np.int32)
    B = np.zeros(8, np.int32)
    s = df.customize(old_style)
    assert [p.name for p in s.top_func.params] == ["A", "B"]
    s.build(target="sim")(A, B)
    np.testing.assert_array_equal(B, 2 * A)


@df.region()
def pipe_style():
    # Allo's older declarations: df.pipe is Stream[T, depth] (default depth 2), df.array an
    # array of them; shape=(n,) makes a stream of blocks
    rows = df.array(df.pipe(dtype=int16, shape=(), depth=4), shape=(2,))
    block = df.pipe(dtype=int16, shape=(4,))

    @df.kernel(mapping=[2])
    def load(A: int16[2, 4]):
        r = df.get_pid()
        for k in range(4):
            rows[r].put(A[r, k])

    @df.kernel(mapping=[1])
    def pack():
        t: int16[4] = 0
        for k in range(4):
            t[k] = rows[0].get() + rows[1].get()
        block.put(t)

    @df.kernel(mapping=[1])
    def store(B: int16[4]):
        t: int16[4] = block.get()
        for k in range(4):
            B[k] = t[k]


def test_df_pipe_and_df_array_declare_region_streams(rng):
    s = df.customize(pipe_style)
    assert "stream<i16, 4>" in str(s.module) and "stream<i16[4], 2>" in str(s.module)
    A = rng.integers(-99, 99, (2, 4)).astype(np.int16)
    B = np.zeros(4, np.int16)
    df.build(pipe_style, target="sim")(A, B)
    np.testing.assert_array_equal(B, A.sum(axis=0))


@df.region()
@allo.template("R")
def const_chain(A: int32[4], B: int32[4]):
    # a region-level ConstExpr: used by a stream array's shape, a mapping and kernel bodies
    P: ConstExpr[int32] = R + 1
    links: Stream[int32, 2][P]

    @df.kernel(mapping=[P], args=[A, B])
    def stage(local_A: int32[4], local_B: int32[4]):
        s = df.get_pid()
        for k in range(4):
            with allo.meta_if(s == 0):
                links[0].put(local_A[k])
            with allo.meta_elif(s < P - 1):
                links[s].put(links[s - 1].get() + s)
            with allo.meta_else():
                local_B[k] = links[s - 1].get() * P


def test_constexpr_in_a_region_body(rng):
    A = rng.integers(-99, 99, 4).astype(np.int32)
    B = np.zeros(4, np.int32)
    df.build(const_chain, target="sim", instantiate=[3])(A, B)  # 4 stages: +1, +2, then * 4
    np.testing.assert_array_equal(B, (A + 3) * 4)


@df.region()
@allo.template("Q0", "Q1")
def inner(A: int32[8, 8], B: int32[8, 8], C: int32[8, 8]):
    @df.kernel(mapping=[Q0, Q1], args=[A, B, C])
    def gemm(local_A: int32[8, 8], local_B: int32[8, 8], local_C: int32[8, 8]):
        pi, pj = df.get_pid()
        Mt: ConstExpr[int32] = 8 // Q0
        Nt: ConstExpr[int32] = 8 // Q1
        for i in range(pi * Mt, (pi + 1) * Mt):
            for j in range(pj * Nt, (pj + 1) * Nt):
                for k in range(8):
                    local_C[i, j] += local_A[i, k] * local_B[k, j]


@df.region()
def outer(A: int32[8, 8], B: int32[8, 8], C1: int32[8, 8], C2: int32[8, 8]):
    @df.kernel(mapping=[2], args=[A, B, C1, C2])
    def wrapper(local_A: int32[8, 8], local_B: int32[8, 8], local_C1: int32[8, 8],
                local_C2: int32[8, 8]):
        i = df.get_pid()
        with allo.meta_if(i == 0):
            inner[2, 2](local_A, local_B, local_C1)
        with allo.meta_if(i == 1):
            inner[4, 1](local_A, local_B, local_C2)


def test_hierarchical_regions_and_region_templates(rng):
    A = rng.integers(-9, 9, (8, 8)).astype(np.int32)
    B = rng.integers(-9, 9, (8, 8)).astype(np.int32)
    C1, C2 = np.zeros((8, 8), np.int32), np.zeros((8, 8), np.int32)
    s = df.customize(outer)
    funcs = set(s.module.funcs)
    assert {"inner", "inner_1", "wrapper_0", "wrapper_1", "gemm_1_1", "inner_1_gemm_3_0"} <= funcs
    assert s.module.funcs["inner_1"].attrs == {"dataflow": True}
    s.build(target="sim")(A, B, C1, C2)
    np.testing.assert_array_equal(C1, A @ B)
    np.testing.assert_array_equal(C2, A @ B)
    C1[:] = 0
    inner[2, 2](A, B, C1)  # a region template called from Python
    np.testing.assert_array_equal(C1, A @ B)
    assert len(df.customize(inner, instantiate=[1, 2]).module.funcs) == 3


def test_schedules_address_kernel_instances(rng):
    s = df.customize(systolic)
    loops = s.get_loops("gemm_1_1")
    assert list(loops.keys()) == ["S_k_0"]
    s.pipeline("gemm_1_1:k")
    s.split(s.get_loops("gemm_0_1").S_k_0.k, 2)
    s.unroll("gemm_2_2:k", 2)
    s.partition("systolic:A", dim=1)
    text = str(s.module)
    assert "for k in 0..4 (band S_k_0, pipeline=1) {" in text
    assert "name k.outer" in text
    A = rng.integers(-50, 50, (M, K)).astype(np.int32)
    B = rng.integers(-50, 50, (K, N)).astype(np.int32)
    C = np.zeros((M, N), np.int32)
    s.build(target="sim")(A, B, C)
    np.testing.assert_array_equal(C, A @ B)


def test_dataflow_primitives_on_a_region():
    s = df.customize(producer_consumer)
    s.dataflow("producer_consumer")  # already a region: nothing changes
    assert s.top_func.attrs["dataflow"] is True
    with pytest.raises(allo.AlloError, match="producer_consumer:A is a parameter; s.to streams "
                       "a local array"):
        s.to(s.A, "consumer_0")
    with pytest.raises(allo.AlloError, match="s.dataflow of loop 'i': stream 'pipe' is a "
                       "parameter of producer_0"):
        s.dataflow(s.get_loops("producer_0")["S_i_j_0"]["i"])


def test_inlining_a_region_kernel_is_refused():
    s = df.customize(producer_consumer)
    with pytest.raises(allo.AlloError, match="kernel of dataflow region"):
        s.inline("producer_0")
    with pytest.raises(allo.AlloError, match="kernel of dataflow region"):
        s.inline()


@pytest.mark.parametrize("depth", [1, 2, 7])
def test_any_depth_gives_the_same_values(depth):
    @df.region()
    def fan(A: int32[8], B: int32[8]):
        q: Stream[int32, depth]
        r: Stream[int32, depth]

        @df.kernel(mapping=[1], args=[A])
        def split(local_A: int32[8]):
            for i in range(8):
                q.put(local_A[i])
                r.put(local_A[i] * 10)

        @df.kernel(mapping=[1], args=[B])
        def join(local_B: int32[8]):
            for i in range(8):
                local_B[i] = r.get() + q.get()

    A = np.arange(8, dtype=np.int32)
    B = np.zeros(8, np.int32)
    df.build(fan, target="sim")(A, B)
    np.testing.assert_array_equal(B, 11 * A)
