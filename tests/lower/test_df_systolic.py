"""Pass ``df-systolic``: Allo's ``@df.kernel(mapping=[M + 2, N + 2])`` systolic GEMM region
becomes one SystolicGemm (the hardware of ``s.unfold`` + ``s.to``); near misses keep the
generated kernels + FIFOs. RTL = interpreter = numpy, bit for bit, with exact cycles."""

import numpy as np
import pytest

import allo_rtl as allo
import allo_rtl.dataflow as df
import allo_rtl.lower as lower
from allo_rtl.ir.types import Stream, float32, int8, int16, int32
from allo_rtl.lower.df_systolic import explain_df_systolic

from ..dataflow import test_regions as R


def systolic(M, N, K, TA=int32, TC=int32, pe="mac", loader="plain", drain="bind", depth=4):
    """Allo's systolic GEMM region (tests/dataflow/test_systolic.py) for ``A: TA[M, K]``,
    ``B: TA[K, N]``, ``C: TC[M, N]``, with variants of the PE (``mac+1``: ``c += a * b + 1``;
    ``transposed``: stores ``C[j - 1, i - 1]``; ``swapped``: forwards ``a`` south and ``b``
    east), the A loader (``twice``: puts ``2 * A``) and the east drain (``bare``: a get
    without a variable; ``short``: one get less)."""
    P0, P1 = M + 2, N + 2
    PLUS1 = pe == "mac+1"
    TRANSPOSED = pe == "transposed"
    SWAPPED = pe == "swapped"
    TWICE = loader == "twice"
    BARE = drain == "bare"
    KD = K - 1 if drain == "short" else K

    @df.region()
    def top(A: TA[M, K], B: TA[K, N], C: TC[M, N]):
        fifo_A: Stream[TA, depth][P0, P1]
        fifo_B: Stream[TA, depth][P0, P1]

        @df.kernel(mapping=[P0, P1], args=[A, B, C])
        def gemm(local_A: TA[M, K], local_B: TA[K, N], local_C: TC[M, N]):
            i, j = df.get_pid()
            with allo.meta_if(i in {0, M + 1} and j in {0, N + 1}):
                pass
            with allo.meta_elif(j == 0):
                for k in range(K):
                    with allo.meta_if(TWICE):
                        fifo_A[i, j + 1].put(local_A[i - 1, k] * 2)
                    with allo.meta_else():
                        fifo_A[i, j + 1].put(local_A[i - 1, k])
            with allo.meta_elif(i == 0):
                for k in range(K):
                    fifo_B[i + 1, j].put(local_B[k, j - 1])
            with allo.meta_elif(i == M + 1 and j > 0):
                for k in range(K):
                    b: TA = fifo_B[i, j].get()
            with allo.meta_elif(j == N + 1 and i > 0):
                for k in range(KD):
                    with allo.meta_if(BARE):
                        fifo_A[i, j].get()
                    with allo.meta_else():
                        a: TA = fifo_A[i, j].get()
            with allo.meta_else():
                c: TC = 0
                for k in range(K):
                    a: TA = fifo_A[i, j].get()
                    b: TA = fifo_B[i, j].get()
                    with allo.meta_if(PLUS1):
                        c += a * b + 1
                    with allo.meta_else():
                        c += a * b
                    with allo.meta_if(SWAPPED):
                        fifo_A[i, j + 1].put(b)
                        fifo_B[i + 1, j].put(a)
                    with allo.meta_else():
                        fifo_A[i, j + 1].put(a)
                        fifo_B[i + 1, j].put(b)
                with allo.meta_if(TRANSPOSED):
                    local_C[j - 1, i - 1] = c
                with allo.meta_else():
                    local_C[i - 1, j - 1] = c

    return top


def tiled(M, N, K, Mt, Nt):
    """Allo's tiled systolic GEMM (tests/dataflow/test_tiled_systolic.py, old-style region
    without parameters): an ``Mt x Nt`` grid swept over the tiles of C."""
    P0, P1 = Mt + 2, Nt + 2

    @df.region()
    def top():
        fifo_A: Stream[int32, 4][P0, P1]
        fifo_B: Stream[int32, 4][P0, P1]

        @df.kernel(mapping=[P0, P1])
        def gemm(A: int32[M, K], B: int32[K, N], C: int32[M, N]):
            i, j = df.get_pid()
            for m in range(M // Mt):
                for n in range(N // Nt):
                    with allo.meta_if(i in {0, Mt + 1} and j in {0, Nt + 1}):
                        pass
                    with allo.meta_elif(j == 0):
                        for k in range(K):
                            fifo_A[i, j + 1].put(A[m * Mt + i - 1, k])
                    with allo.meta_elif(i == 0):
                        for k in range(K):
                            fifo_B[i + 1, j].put(B[k, n * Nt + j - 1])
                    with allo.meta_elif(i == Mt + 1):
                        for k in range(K):
                            b: int32 = fifo_B[i, j].get()
                    with allo.meta_elif(j == Nt + 1):
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
                        C[m * Mt + i - 1, n * Nt + j - 1] = c

    return top


# ---------------------------------------------------------------- recognition (no Verilator)


def test_allo_systolic_region_becomes_an_unfolded_gemm_band():
    s = df.customize(R.systolic)
    new, why = explain_df_systolic(s.module)
    assert why == "4x4 PE grid: C = A @ B over 4 steps"
    text = str(new)
    assert list(new.funcs) == ["systolic"] and "dataflow" not in text
    assert "for i in 0..4 (band pe, to=(('B', -1),), unfold=0) {" in text
    assert "for j in 0..4 (to=(('A', -1),), unfold=1) {" in text
    assert "C[i, j] = c" in text
    assert "partition={'A': {1: ('cyclic', 4)}, 'B': {2: ('cyclic', 4)}, 'C': {2: ('cyclic', 4)}}" \
        in text
    assert s.module.top_func.attrs["dataflow"]  # the schedule's IR is not changed


def test_types_shapes_tiles_and_drains_are_recognised():
    _, why = explain_df_systolic(df.customize(systolic(3, 5, 7, int8, int16)).module)
    assert why == "3x5 PE grid: C = A @ B over 7 steps"
    _, why = explain_df_systolic(df.customize(systolic(2, 2, 3, drain="bare", depth=1)).module)
    assert why == "2x2 PE grid: C = A @ B over 3 steps"
    new, why = explain_df_systolic(df.customize(tiled(8, 8, 4, 4, 4)).module)
    assert why == "4x4 PE grid: C = A @ B over 4 steps, 4 tiles"
    assert "C[(i + (m * 4):index):index, (j + (n * 4):index):index] = c" in str(new)
    s = df.customize(systolic(2, 2, 2, float32, float32))
    # Allo's test_systolic.py partitions (for its HLS flow): they suit the engine too
    s.partition("top:A", dim=1, factor=2)
    s.partition("top:B", dim=2, factor=2)
    s.partition("top:C", dim=0, factor=2)
    _, why = explain_df_systolic(s.module)
    assert why == "2x2 PE grid: C = A @ B over 2 steps"


def test_near_misses_are_not_rewritten():
    _, why = explain_df_systolic(df.customize(systolic(2, 2, 4, pe="mac+1")).module)
    assert why.startswith("the systolic lowering rejects the GEMM: ")
    _, why = explain_df_systolic(df.customize(systolic(2, 2, 4, loader="twice")).module)
    assert why == "kernel instance gemm_1_0 is not an idle kernel, a loader, a drain or a PE"
    _, why = explain_df_systolic(df.customize(systolic(3, 3, 4, pe="transposed")).module)
    assert why == "PE gemm_1_2 stores C[1, 0], not the product of row 0 and column 1"
    _, why = explain_df_systolic(df.customize(systolic(3, 3, 4, pe="swapped")).module)
    assert why == "PE gemm_1_2 receives two rows or two columns"
    _, why = explain_df_systolic(df.customize(systolic(2, 2, 4, drain="short")).module)
    assert why == "kernel instance gemm_1_3 runs [] tiles x 3 steps, gemm_1_1 [] x 4"
    s = df.customize(systolic(4, 4, 2))
    s.partition("top:A", dim=2, factor=2)  # a user partition the engine cannot use
    _, why = explain_df_systolic(s.module)
    assert why.startswith("the systolic lowering rejects the GEMM: ") and \
        "A is partitioned into 2 banks that do not match the rows" in why
    s = df.customize(R.systolic)
    s.pipeline("gemm_1_1:k")  # a scheduled instance keeps the kernels
    assert explain_df_systolic(s.module)[0] is None
    for region in ("producer_consumer", "tiled_gemm", "pipeline_of_stages", "outer"):
        assert explain_df_systolic(df.customize(getattr(R, region)).module)[0] is None


# ---------------------------------------------------------------- RTL

def _cosim(s, shapes, dtypes, rng):
    args = [(rng.random(sh) if dt == np.float32 else rng.integers(-100, 100, sh)).astype(dt)
            for sh, dt in zip(shapes, dtypes)]
    args[2][:] = 0
    want = [a.copy() for a in args]
    s.build(target="sim")(*want)
    mod = s.build()
    mod(*args)
    np.testing.assert_array_equal(args[2], want[2])
    return mod, args


def _engine(mod) -> bool:
    return any("systolic" in f.attrs for f in mod.design.module.funcs.values())


@pytest.mark.rtl
def test_int8_gemm_with_int16_sums_on_the_engine(rng):
    M, N, K = 3, 4, 8
    s = df.customize(systolic(M, N, K, int8, int16))
    mod, (A, B, C) = _cosim(s, [(M, K), (K, N), (M, N)], [np.int8, np.int8, np.int16], rng)
    assert _engine(mod)
    np.testing.assert_array_equal(C, (A.astype(np.int64) @ B).astype(np.int16))
    # SystolicGemm: K + R + P + Q + 4 (+ 2 for the calling kernel), R = 1 at 120 MHz
    assert mod.last_cycles == K + 1 + M + N + 4 + 2


@pytest.mark.rtl
def test_tiled_variant_on_the_engine(rng):
    s = df.customize(tiled(8, 8, 4, 4, 4))
    mod, (A, B, C) = _cosim(s, [(8, 4), (4, 8), (8, 8)], [np.int32] * 3, rng)
    assert _engine(mod)
    np.testing.assert_array_equal(C, A @ B)
    # (tiles - 1) * max(K, P) + K + R + P + Q + 4 + 2
    assert mod.last_cycles == 3 * 4 + 4 + 1 + 4 + 4 + 4 + 2 == 31


@pytest.mark.rtl
def test_near_miss_keeps_the_kernels_and_cosimulates(rng):
    s = df.customize(systolic(2, 2, 4, pe="mac+1"))
    mod, (A, B, C) = _cosim(s, [(2, 4), (4, 2), (2, 2)], [np.int32] * 3, rng)
    assert not _engine(mod) and "fifo_fifo_A_1_1" in mod.verilog
    np.testing.assert_array_equal(C, A @ B + 4)


@pytest.mark.rtl
def test_engine_beats_the_generated_kernels(rng, monkeypatch):
    """The same region (4 x 4 x 4, int32): 36 kernels + 40 FIFOs take 40 cycles, the
    SystolicGemm 19 (K + R + P + Q + 4 + 2)."""
    shapes, dtypes = [(4, 4)] * 3, [np.int32] * 3
    mod, _ = _cosim(df.customize(R.systolic), shapes, dtypes, rng)
    assert _engine(mod) and mod.last_cycles == 19
    monkeypatch.setattr(lower, "rewrite_df_systolic", lambda m: m)
    mod, _ = _cosim(df.customize(R.systolic), shapes, dtypes, rng)
    assert not _engine(mod) and mod.last_cycles == 40


@pytest.mark.rtl
def test_allo_float32_test_on_the_engine(rng):
    """Allo's tests/dataflow/test_systolic.py (float32, 2 x 2 x 2): float PEs, same
    rounding as the kernels (one product and one sum per step, in k order)."""
    s = df.customize(systolic(2, 2, 2, float32, float32))
    mod, _ = _cosim(s, [(2, 2)] * 3, [np.float32] * 3, rng)
    assert _engine(mod) and mod.last_cycles == 38
