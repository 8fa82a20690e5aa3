"""Unfolded bands as systolic arrays (allo_rtl/lower/systolic.py): co-simulation of the RTL
against the unscheduled and the scheduled interpreter and numpy, bit for bit, with exact
cycle counts; the forms the lowering recognises; its errors."""

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl import AlloError
from allo_rtl.ir.numerics import int_range, numpy_dtype
from allo_rtl.ir.types import Int, UInt, float16, float32, int8, int16, int32, uint8
from allo_rtl.lower import lower_design
from allo_rtl.lower.shared import Shared
from allo_rtl.lower.systolic import LoweredSystolic
from allo_rtl.lower.top import WAIVERS
from testbench.lint import lint

from tests.kernel_check import assert_bitexact

Cyclic = allo.Partition.Cyclic


def _raw(t, shape, rng):
    """Random values covering the whole range of integer type ``t``."""
    lo, hi = int_range(t)
    return rng.integers(lo, hi + 1, shape).astype(numpy_dtype(t))


def _customize(kernel):
    # the kernels of the factories below name their sizes and types in annotations only
    return allo.customize(kernel, global_vars=getattr(kernel, "env", None))


def _wrap(x, t):
    x = np.asarray(x, dtype=object)
    m = 1 << t.bits
    x = x % m
    if isinstance(t, Int):
        x = np.where(x >= m // 2, x - m, x)
    return x.astype(np.int64)


def check3(kernel, schedule, args, **build_kw):
    """Unscheduled interpreter == scheduled interpreter == RTL (arrays updated in place);
    returns (RTL module, outputs)."""
    ref = [np.copy(a) for a in args]
    _customize(kernel).build(target="sim")(*ref)
    s = _customize(kernel)
    schedule(s)
    sim = [np.copy(a) for a in args]
    s.build(target="sim")(*sim)
    mod = s.build(**build_kw)
    out = [np.copy(a) for a in args]
    mod(*out)
    for k, (r, x, y) in enumerate(zip(ref, sim, out)):
        assert_bitexact(r, x, f"argument {k}: scheduled interpreter")
        assert_bitexact(r, y, f"argument {k}: RTL")
    return mod, out


def engine_cycles(M, N, K, P, Q, read_latency=1):
    """Start-to-done cycles of a SystolicGemm with C in column banks (a tile every
    max(K, P) cycles), plus the 2 cycles of the calling top kernel."""
    tiles = (M // P) * (N // Q)
    return (tiles - 1) * max(K, P) + K + read_latency + P + Q + 4 + 2


def mem_gemm(M, N, K, TA, TB, TC):
    """C = A @ B with C an output argument, zeroed first; accumulation in C."""
    def gemm(A: TA[M, K], B: TB[K, N], C: TC[M, N]):
        for i0, j0 in allo.grid(M, N, name="init"):
            C[i0, j0] = 0
        for i, j, k in allo.grid(M, N, K, name="gemm"):
            C[i, j] += A[i, k] * B[k, j]

    gemm.env = dict(M=M, N=N, K=K, TA=TA, TB=TB, TC=TC)
    return gemm


def tiled(P, Q, partition_c=True):
    def schedule(s):
        s.split("gemm.i", P)
        s.split("gemm.j", Q)
        s.reorder("i.outer", "j.outer", "k", "i.inner", "j.inner")
        s.partition(s.A, Cyclic, dim=1, factor=P)
        s.partition(s.B, Cyclic, dim=2, factor=Q)
        if partition_c:
            s.partition(s.C, Cyclic, dim=2, factor=Q)
        pe = s.unfold("gemm", [3, 4])
        s.to(s.A, pe, axis=1)
        s.to(s.B, pe, axis=0)

    return schedule


@pytest.mark.parametrize("M,N,K,P,Q,TA,TB,TC", [
    (8, 8, 8, 4, 4, int8, int8, int32),           # several tiles, K = P
    (4, 6, 5, 2, 3, uint8, int8, int16),          # mixed signedness, P != Q
    (4, 4, 3, 2, 2, int16, int16, int16),         # sums wrap at 16 bits; K < P + Q
    (6, 4, 9, 3, 2, UInt(5), UInt(3), UInt(7)),   # odd unsigned widths, narrow accumulator
    (4, 4, 4, 2, 2, int32, int32, int32),         # int32: products wider than the sums
    (4, 6, 2, 4, 3, int8, int8, Int(12)),         # K < rows: bubbles between tiles
])
def test_tiled_gemm_bitexact_and_cycles(M, N, K, P, Q, TA, TB, TC, rng):
    A, B = _raw(TA, (M, K), rng), _raw(TB, (K, N), rng)
    C = np.zeros((M, N), numpy_dtype(TC))
    mod, (_, _, out) = check3(mem_gemm(M, N, K, TA, TB, TC), tiled(P, Q), [A, B, C])
    want = _wrap(A.astype(object) @ B.astype(object), TC)
    assert np.array_equal(out.astype(np.int64), want)
    assert mod.last_cycles == engine_cycles(M, N, K, P, Q)
    systolic = [lf for lf in mod.design.funcs.values() if isinstance(lf, LoweredSystolic)]
    assert [(lf.spec.rows, lf.spec.cols) for lf in systolic] == [(P, Q)]


def _f32(rng, shape):
    """float32 values of mixed signs and magnitudes (most products and sums round), with
    zeros of both signs and a few exact small integers."""
    x = (rng.standard_normal(shape) * 2.0 ** rng.integers(-8, 9, shape)).astype(np.float32)
    flat = x.reshape(-1)
    k = rng.permutation(flat.size)
    n = max(1, flat.size // 16)  # of each kind
    flat[k[:n]] = 0.0
    flat[k[n:2 * n]] = -0.0
    flat[k[2 * n:3 * n]] = rng.integers(-3, 4, n)
    return x


def float_engine_cycles(M, N, K, P, Q, read_latency=1, S=9, L=20):
    """Start-to-done cycles of a float32 SystolicGemm (C in column banks), plus 2 for the
    kernel. PE latency L = 2 + 9 + 9. Interleaved (more than one tile): groups of S = 9
    tiles (the adder's latency), a step per cycle, S sums in flight per PE; the last
    group's sums leave row after row (S per PE, (P - 1) * S + 1 cycles after row 0's).
    One tile: a step every S cycles, whichever is fewer."""
    tiles = (M // P) * (N // Q)
    period = max(K * S, P)
    seq = (tiles - 1) * period + (K - 1) * S + read_latency + P + Q + L + 2 + 2
    groups = -(-tiles // S)
    gperiod = K * S if groups == 1 else max(K * S, P * S + 1 if P > 1 else S)
    drain = L + Q + ((P - 1) * S + 1 if P > 1 else 0)
    il = (groups - 1) * gperiod + K * S + read_latency + drain + 2 + 2
    return min(seq, il)


def test_float32_gemm_bitexact_and_cycles(rng):
    """float32 GEMM on a 4 x 4 grid of FloatPEs: each sum rounded after every product and
    every addition in k order, as the interpreter does (bit for bit, not numpy's sum). Its
    4 tiles run interleaved (5 of the 9 slots of the group empty): 129 cycles, a step
    every 9 cycles would take 312."""
    M = N = K = 8
    A, B = _f32(rng, (M, K)), _f32(rng, (K, N))
    A[1, :] = -A[1, :]  # a row of opposite signs: cancellations
    C = np.zeros((M, N), np.float32)
    mod, (_, _, out) = check3(mem_gemm(M, N, K, float32, float32, float32), tiled(4, 4),
                              [A, B, C])
    assert np.allclose(out, A.astype(np.float64) @ B, rtol=1e-5, atol=1e-6)
    assert mod.last_cycles == float_engine_cycles(M, N, K, 4, 4) == 129
    systolic = [lf for lf in mod.design.funcs.values() if isinstance(lf, LoweredSystolic)]
    assert [(lf.spec.rows, lf.spec.cols, lf.step_interval, lf.interleave)
            for lf in systolic] == [(4, 4, 1, 9)]
    assert "f32 sums" in repr(systolic[0].spec)


def test_float32_more_tiles_than_interleaved(rng):
    """20 tiles on a 2 x 2 grid: 3 groups of 9 interleaved tiles (the last one 2 tiles and
    7 empty slots), each sum still in k order; subnormals, infinities, NaN and signed
    zeros among the inputs."""
    M, N, K = 8, 10, 3
    A, B = _f32(rng, (M, K)), _f32(rng, (K, N))
    A[0, 0], A[1, 1], A[2, 2] = np.float32(1e-40), np.inf, np.nan
    B[0, 3], B[1, 4] = -np.inf, np.float32(-3e-39)
    A[3, :] = np.float32(2.0 ** 60)  # products and sums near overflow / cancelling
    B[:, 5] = np.float32(2.0 ** 70)
    C = np.zeros((M, N), np.float32)
    mod, _ = check3(mem_gemm(M, N, K, float32, float32, float32), tiled(2, 2), [A, B, C])
    assert mod.last_cycles == float_engine_cycles(M, N, K, 2, 2) == 118
    (lf,) = [lf for lf in mod.design.funcs.values() if isinstance(lf, LoweredSystolic)]
    assert (lf.interleave, lf.period) == (9, 27)


def test_float32_scalar_accumulator_nonzero_init(rng):
    """The scalar form with a float32 start value (1.5): every PE adds its first product to
    it; one tile, a 2 x 3 grid."""
    M, N, K = 2, 3, 3

    def gemm(A: float32[M, K], B: float32[K, N], C: float32[M, N]):
        for i, j in allo.grid(M, N, name="pe"):
            acc: float32 = 1.5
            for k in range(K):
                acc += A[i, k] * B[k, j]
            C[i, j] = acc

    def schedule(s):
        s.partition(s.A, Cyclic, dim=1, factor=M)
        s.partition(s.B, Cyclic, dim=2, factor=N)
        s.partition(s.C, Cyclic, dim=2, factor=N)
        pe = s.unfold("pe", [0, 1])
        s.to(s.A, pe, axis=1)
        s.to(s.B, pe, axis=0)

    A, B = _f32(rng, (M, K)), _f32(rng, (K, N))
    mod, _ = check3(gemm, schedule, [A, B, np.zeros((M, N), np.float32)])
    assert mod.last_cycles == float_engine_cycles(M, N, K, M, N)


def test_scalar_accumulator_whole_grid(rng):
    """A scalar accumulator per PE (the form of Allo's PE_kernel) starting at 7, summed in
    int32 and stored to int16; the whole 4x3 result is the grid (one tile); C partitioned by
    rows (a write port per row of PEs)."""
    M, N, K = 4, 3, 5

    def gemm(A: int8[M, K], B: int8[K, N], C: int16[M, N]):
        for i, j in allo.grid(M, N, name="pe"):
            acc: int32 = 7
            for k in range(K):
                a: int8 = A[i, k]
                acc += a * B[k, j]
            C[i, j] = acc

    def schedule(s):
        s.partition(s.A, Cyclic, dim=1, factor=M)
        s.partition(s.B, Cyclic, dim=2, factor=N)
        s.partition(s.C, Cyclic, dim=1, factor=M)
        pe = s.unfold("pe", [0, 1])
        s.to(s.A, pe, axis=1)
        s.to(s.B, pe, axis=0)

    A, B = _raw(int8, (M, K), rng), _raw(int8, (K, N), rng)
    C = np.zeros((M, N), np.int16)
    mod, (_, _, out) = check3(gemm, schedule, [A, B, C])
    assert np.array_equal(out, (7 + A.astype(np.int64) @ B).astype(np.int16))
    assert mod.last_cycles == engine_cycles(M, N, K, M, N)


def test_one_dimensional_grid_and_180mhz(rng):
    """unfold of one loop: a column of PEs; B streams down it. At 180 MHz the memories'
    inputs are registered (reads take one cycle more)."""
    M, N, K = 6, 4, 4

    def gemm(A: int8[M, K], B: int8[K, N], C: int32[M, N]):
        for i0, j0 in allo.grid(M, N, name="init"):
            C[i0, j0] = 0
        for i, j, k in allo.grid(M, N, K, name="gemm"):
            C[i, j] += A[i, k] * B[k, j]

    def schedule(s):
        s.split("gemm.i", 3)
        s.reorder("i.outer", "j", "k", "i.inner")
        s.partition(s.A, Cyclic, dim=1, factor=3)
        s.partition(s.C, Cyclic, dim=1, factor=3)
        pe = s.unfold("gemm", [3])
        s.to(s.B, pe, axis=0)

    A, B = _raw(int8, (M, K), rng), _raw(int8, (K, N), rng)
    C = np.zeros((M, N), np.int32)
    mod, _ = check3(gemm, schedule, [A, B, C], clock_mhz=180)
    assert mod.last_cycles == engine_cycles(M, N, K, 3, 1, read_latency=2)


def test_library_systolic(rng):
    """allo_rtl.library.systolic with its default schedule: Allo's kernels, forwarding
    through A_fifo/B_fifo, become one SystolicGemm per tile call."""
    from allo_rtl.library.systolic import schedule_systolic, systolic

    M, K, N, Mt, Nt = 4, 3, 6, 2, 3

    def kernel(A: int8[M, K], B: int8[K, N], C: int16[M, N]):
        systolic[int8, int8, int16, M, K, N, Mt, Nt](A, B, C)

    s = allo.customize(systolic, instantiate=[int8, int8, int16, M, K, N, Mt, Nt])
    schedule_systolic(s)
    A, B = _raw(int8, (M, K), rng), _raw(int8, (K, N), rng)
    ref = np.zeros((M, N), np.int16)
    allo.customize(kernel).build(target="sim")(A, B, ref)
    assert np.array_equal(ref, (A.astype(np.int64) @ B).astype(np.int16))
    C = np.zeros((M, N), np.int16)
    mod = s.build()
    mod(A, B, C)
    assert_bitexact(ref, C, "library systolic: RTL")
    d = mod.design
    engines = [lf for lf in d.funcs.values() if isinstance(lf, LoweredSystolic)]
    assert [(lf.spec.rows, lf.spec.cols, lf.spec.init) for lf in engines] == [(Mt, Nt, 0)]
    # the forwarding arrays and the PE function are gone from the hardware
    assert "PE_kernel" not in d.funcs
    assert all(b.kind == "param" for b in d.funcs["systolic_tile"].bufs.values())
    assert "systolic_tile__systolic0" in d.schedule_report()


def test_spec_printed_in_the_lowered_ir_and_verilog_lints():
    s = _customize(mem_gemm(8, 8, 8, int8, int8, int32))
    tiled(4, 4)(s)
    d = lower_design(s.module)
    text = str(d.module)
    assert ("systolic='gemm: 4x4 PEs, C = 0 + A @ B (i32 sums), 4 tile(s) x 8 step(s)'"
            in text)
    assert "call gemm__systolic0(A__b0, A__b1, A__b2, A__b3, B__b0" in text
    assert "init" not in [r["loop"] for r in d.summary()["loops"]]  # the zero fill is absorbed
    # 16 PEs, one PE module (lower/shared.py), clean under the project's waivers
    assert d.verilog.count("module allo_pe_ai8_bi8_acc32(") == 1
    assert d.verilog.count("allo_pe_ai8_bi8_acc32 ") == 16
    assert lint(d.verilog, d.name, waivers=WAIVERS) == []


def test_shared_pe_outside_the_verilog_emitter():
    """A Shared stand-in contains its component when no emitter collects modules (a user's
    Amaranth design, Amaranth's simulator): the array still computes."""
    from amaranth.sim import Simulator
    from primitives.systolic import PE, SystolicArray

    args = (8, True, 8, True, 16)
    sig = PE.signature_for(*args)
    arr = SystolicArray(2, 2, *args, pe_factory=lambda i, j: Shared("pe_t", lambda: PE(*args),
                                                                    sig))
    got = []

    async def bench(ctx):
        ctx.set(arr.a[0], 3)
        ctx.set(arr.a[1], -2)
        ctx.set(arr.b[0], 5)
        ctx.set(arr.b[1], 7)
        ctx.set(arr.valid, 1)
        ctx.set(arr.first, 1)
        ctx.set(arr.last, 1)
        await ctx.tick()
        ctx.set(arr.valid, 0)
        for _ in range(8):
            for j in range(2):
                if ctx.get(arr.c_valid[j]):
                    got.append((ctx.get(arr.c_row[j]), j, ctx.get(arr.c_data[j])))
            await ctx.tick()

    sim = Simulator(arr)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert sorted(got) == [(0, 0, 15), (0, 1, 21), (1, 0, (-10) & 0xFFFF), (1, 1, (-14) & 0xFFFF)]


# ------------------------------------------------------------------ errors


def _lower(kernel, schedule):
    s = _customize(kernel)
    schedule(s)
    return lower_design(s.module)


def test_error_operand_does_not_stream():
    s = _customize(mem_gemm(4, 4, 4, int8, int8, int32))
    s.split("gemm.i", 2)
    s.split("gemm.j", 2)
    s.reorder("i.outer", "j.outer", "k", "i.inner", "j.inner")
    pe = s.unfold("gemm", [3, 4])
    s.to(s.A, pe, axis=1)
    with pytest.raises(AlloError, match="operand B is shared by the PEs along axis 0 of the "
                                        "grid but does not stream between them") as e:
        lower_design(s.module)
    assert "s.to(<B>, pe, axis=0)" in e.value.hint


def test_error_wrong_axis():
    s = _customize(mem_gemm(4, 4, 4, int8, int8, int32))
    pe = s.unfold("gemm", [0, 1])
    s.to(s.A, pe, axis=0)
    s.to(s.B, pe, axis=1)
    with pytest.raises(AlloError, match=r"s.to streams A along axis 0, but its values are shared "
                                        r"along axis 1") as e:
        lower_design(s.module)
    assert e.value.hint == "use s.to(<A>, pe, axis=1)"


def test_error_not_a_mac():
    def k(A: int8[4, 4], B: int8[4, 4], C: int32[4, 4]):
        for i0, j0 in allo.grid(4, 4, name="init"):
            C[i0, j0] = 0
        for i, j, kk in allo.grid(4, 4, 4, name="gemm"):
            C[i, j] += A[i, kk] + B[kk, j]

    def schedule(s):
        pe = s.unfold("gemm", [0, 1])
        s.to(s.A, pe, axis=1)
        s.to(s.B, pe, axis=0)

    with pytest.raises(AlloError, match="is not a multiply-accumulate acc = acc \\+ a \\* b") as e:
        _lower(k, schedule)
    assert e.value.loc.line > 0 and "C[i, j] += A[i, kk] + B[kk, j]" in e.value.loc.source


def test_error_grid_does_not_divide():
    s = _customize(mem_gemm(6, 4, 4, int8, int8, int32))
    s.split("gemm.i", 4)
    s.reorder("i.outer", "j", "k", "i.inner")
    pe = s.unfold("gemm", [3])
    s.to(s.B, pe, axis=0)
    with pytest.raises(AlloError, match="holds an if statement") as e:
        lower_design(s.module)
    assert "split by a divisor" in e.value.hint


def test_error_operand_not_partitioned_and_result_bank_conflict():
    def schedule_a(s):
        pe = s.unfold("gemm", [0, 1])
        s.to(s.A, pe, axis=1)
        s.to(s.B, pe, axis=0)

    with pytest.raises(AlloError, match="operand A: each row of the 2x2 PE grid must read its own "
                                        "memory bank every cycle, but A is not partitioned") as e:
        _lower(mem_gemm(2, 2, 4, int8, int8, int32), schedule_a)
    assert "s.partition(<A>, allo.Partition.Cyclic, dim=<dim>, factor=2)" in e.value.hint
    with pytest.raises(AlloError, match="C: PEs on one anti-diagonal of the 4x4 grid finish in "
                                        "the same cycle but would write the same bank"):
        _lower(mem_gemm(8, 8, 4, int8, int8, int32), tiled(4, 4, partition_c=False))


def test_error_accumulates_onto_input_and_narrowing():
    def acc_onto(A: int8[4, 4], B: int8[4, 4], C: int32[4, 4]):
        for i, j, k in allo.grid(4, 4, 4, name="gemm"):
            C[i, j] += A[i, k] * B[k, j]

    with pytest.raises(AlloError, match="accumulates onto the values C holds when the kernel "
                                        "starts"):
        _lower(acc_onto, tiled(2, 2))

    def narrow(A: int8[4, 4], B: int8[4, 4], C: int32[4, 4]):
        for i0, j0 in allo.grid(4, 4, name="init"):
            C[i0, j0] = 0
        for i, j, k in allo.grid(4, 4, 4, name="gemm"):
            p: int8 = A[i, k] * B[k, j]
            C[i, j] += p

    with pytest.raises(AlloError, match="narrows an intermediate value below the accumulator's "
                                        "32 bits"):
        _lower(narrow, tiled(2, 2))

    with pytest.raises(AlloError, match="systolic arrays support integer types"):
        _lower(mem_gemm(4, 4, 4, float16, float16, float16), tiled(2, 2))
    # float32 sums of float16 operands: the product is converted (not float32 throughout)
    with pytest.raises(AlloError, match="the float32 multiply-accumulate computes a value of "
                                        "type f16"):
        _lower(mem_gemm(4, 4, 4, float16, float16, float32), tiled(2, 2))


def test_error_pipelined_loop_in_band():
    s = _customize(mem_gemm(4, 4, 4, int8, int8, int32))
    tiled(2, 2)(s)
    s.pipeline("k")
    with pytest.raises(AlloError, match="loop 'k' of unfolded band 'gemm' is marked pipeline"):
        lower_design(s.module)


def test_error_forwarded_values_read_after_the_band():
    M = N = K = 2

    def pe(A_in: int8[K], A_out: int8[K], B: int8[K, N], C: int32[M, N], i: int32, j: int32):
        v: int32 = 0
        for k in range(K):
            a: int8 = A_in[k]
            v += a * B[k, j]
            A_out[k] = a
        C[i, j] = v

    def top(A: int8[M, K], B: int8[K, N], C: int32[M, N], D: int8[M, K]):
        A_fifo: int8[M, N + 1, K]
        for m, k in allo.grid(M, K, name="load"):
            A_fifo[m, 0, k] = A[m, k]
        for i, j in allo.grid(M, N, name="PE"):
            pe(A_fifo[i, j], A_fifo[i, j + 1], B, C, i, j)
        for m2, k2 in allo.grid(M, K, name="drain"):
            D[m2, k2] = A_fifo[m2, N, k2]

    def schedule(s):
        s.partition(s.A, Cyclic, dim=1, factor=M)
        s.partition(s.B, Cyclic, dim=2, factor=N)
        s.partition(s.C, Cyclic, dim=2, factor=N)
        g = s.unfold("PE", [0, 1])
        s.to(s.A_fifo, g, axis=1)
        s.to(s.B, g, axis=0)

    with pytest.raises(AlloError, match="A_fifo carries operands between the PEs, and its "
                                        "forwarded copies are read after the systolic band") as e:
        _lower(top, schedule)
    assert "D[m2, k2] = A_fifo[m2, N, k2]" in e.value.loc.source


def test_library_schedule_errors():
    from allo_rtl.library.systolic import schedule_systolic, systolic

    s = allo.customize(systolic, instantiate=[int8, int8, int16, 6, 2, 4, 4, 2])
    with pytest.raises(AlloError, match="the PE grid's Mt=4 does not divide M=6") as e:
        schedule_systolic(s)
    assert e.value.hint == "pick a tile size that divides M"
    s = _customize(mem_gemm(4, 4, 4, int8, int8, int32))
    with pytest.raises(AlloError, match="schedule_systolic applies to allo.customize"
                                        r"\(systolic, instantiate="):
        schedule_systolic(s)


def test_compose_a_systolic_sub_schedule(rng):
    """unfold/to replay through s.compose onto the callee's instance; the caller's arrays
    get the callee's banks (interface unification)."""
    gemm = mem_gemm(4, 4, 4, int8, int8, int32)
    M = N = K = 4

    def top(A: int8[M, K], B: int8[K, N], C: int32[M, N]):
        gemm(A, B, C)

    top.env = dict(gemm.env, gemm=gemm)
    sub = _customize(gemm)
    sub.partition(sub.A, Cyclic, dim=1, factor=4)
    sub.partition(sub.B, Cyclic, dim=2, factor=4)
    sub.partition(sub.C, Cyclic, dim=2, factor=4)
    pe = sub.unfold("gemm", [0, 1])
    sub.to(sub.A, pe, axis=1)
    sub.to(sub.B, pe, axis=0)
    A, B = _raw(int8, (M, K), rng), _raw(int8, (K, N), rng)
    C = np.zeros((M, N), np.int32)
    mod, _ = check3(top, lambda s: s.compose(sub), [A, B, C])
    assert mod.last_cycles == engine_cycles(4, 4, 4, 4, 4) + 2  # + the call level of top
    assert list(mod.design.funcs) == ["gemm__systolic0", "gemm", "top"]


def test_float32_design_engine_timing():
    """designs/gemm_systolic_f32.py lowers to one 8 x 8 float32 engine whose computed
    latency is the 4,638 + 2 = 4,640 cycles the benchmark measures (no simulation here)."""
    from designs import gemm_systolic_f32 as d

    dd = lower_design(d.schedule().module)
    (lf,) = [lf for lf in dd.funcs.values() if isinstance(lf, LoweredSystolic)]
    assert (lf.spec.rows, lf.spec.cols, lf.spec.acc_float, lf.step_interval,
            lf.interleave) == (8, 8, True, 1, 9)
    assert lf.latency + 2 == float_engine_cycles(32, 32, 32, 8, 8) == 673
    assert dd.verilog.count("module allo_pe_f32(") == 1
