# amaranth: UnusedElaboratable=no
"""primitives.systolic in Amaranth's simulator: PE, SystolicArray and SystolicGemm against
the models of primitives.systolic.model, with exact cycle timing; constructor checks."""

import random

import pytest
from amaranth.sim import Simulator

from primitives.systolic import (PE, AffineAddress, OutputBanks, SystolicArray, SystolicGemm,
                                 model)


def _simulate(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


# ------------------------------------------------------------------ PE


@pytest.mark.parametrize("aw,asg,bw,bsg,accw", [(8, True, 8, True, 32), (8, False, 8, True, 16),
                                               (5, True, 3, False, 7), (16, True, 16, True, 12),
                                               (1, False, 1, False, 1)])
def test_pe_accumulates_and_forwards(aw, asg, bw, bsg, accw):
    rng = random.Random(aw * 100 + bw)
    pe = PE(aw, asg, bw, bsg, accw)
    # a stream of steps: tiles of random length with bubbles in between and inside
    steps, tiles = [], []
    for _ in range(6):
        n = rng.randint(1, 5)
        vals = [(rng.randrange(1 << aw), rng.randrange(1 << bw)) for _ in range(n)]
        tiles.append(vals)
        for k, (a, b) in enumerate(vals):
            steps.append((a, b, 1, int(k == 0), int(k == n - 1)))
            if rng.random() < 0.3:
                steps.append((rng.randrange(1 << aw), rng.randrange(1 << bw), 0, 1, 1))
    init = rng.randrange(1 << accw)
    want = [model.pe_sum([a for a, _ in t], [b for _, b in t], init, accw, asg, bsg, aw, bw)
            for t in tiles]
    got, forwarded = [], []

    async def bench(ctx):
        ctx.set(pe.init, init)
        for t in range(len(steps) + PE.LATENCY + 1):
            if t < len(steps):
                a, b, v, f, lst = steps[t]
                ctx.set(pe.a_in, model.value(a, aw, asg))
                ctx.set(pe.b_in, model.value(b, bw, bsg))
                ctx.set(pe.valid_in, v)
                ctx.set(pe.first_in, f)
                ctx.set(pe.last_in, lst)
            else:
                ctx.set(pe.valid_in, 0)
            if ctx.get(pe.c_valid):
                got.append((t, ctx.get(pe.c) & ((1 << accw) - 1)))
            forwarded.append((ctx.get(pe.a_out) & ((1 << aw) - 1), ctx.get(pe.valid_out)))
            await ctx.tick()

    _simulate(pe, bench)
    assert [v for _, v in got] == want
    # each sum appears LATENCY cycles after its tile's last valid step
    lasts = [t for t, s in enumerate(steps) if s[2] and s[4]]
    assert [t for t, _ in got] == [t + PE.LATENCY for t in lasts]
    # operands and valid are forwarded one cycle later
    assert [x for x in forwarded[1:len(steps) + 1]] == [(a, v) for a, _, v, _, _ in steps]


# ------------------------------------------------------------------ array


@pytest.mark.parametrize("P,Q,K,gap", [(1, 1, 3, 0), (2, 3, 4, 0), (4, 4, 4, 0), (3, 2, 1, 2),
                                       (4, 2, 6, 1)])
def test_array_tiles_back_to_back(P, Q, K, gap):
    rng = random.Random(P * 10 + Q + K)
    arr = SystolicArray(P, Q, 8, True, 8, True, 20)
    ntiles = 3
    tiles = []
    for _ in range(ntiles):
        A = [[rng.randint(-128, 127) for _ in range(K)] for _ in range(P)]
        B = [[rng.randint(-128, 127) for _ in range(Q)] for _ in range(K)]
        tiles.append((A, B))
    per = max(K + gap, P)  # last steps at least P cycles apart
    schedule = {}  # cycle -> (tile, k)
    last_at = []
    for t, _ in enumerate(tiles):
        for k in range(K):
            schedule[t * per + k] = (t, k)
        last_at.append(t * per + K - 1)
    init = 5
    outs = {}
    horizon = max(schedule) + P + Q + SystolicArray.DRAIN_LATENCY + 2

    async def bench(ctx):
        for j in range(Q):
            ctx.set(arr.init[j], init)
        for cyc in range(horizon):
            if cyc in schedule:
                t, k = schedule[cyc]
                A, B = tiles[t]
                for i in range(P):
                    ctx.set(arr.a[i], A[i][k])
                for j in range(Q):
                    ctx.set(arr.b[j], B[k][j])
                ctx.set(arr.valid, 1)
                ctx.set(arr.first, int(k == 0))
                ctx.set(arr.last, int(k == K - 1))
            else:
                ctx.set(arr.valid, 0)
                ctx.set(arr.first, rng.randrange(2))  # ignored without valid
                ctx.set(arr.last, rng.randrange(2))
            for j in range(Q):
                if ctx.get(arr.c_valid[j]):
                    outs.setdefault((cyc, j), []).append(
                        (ctx.get(arr.c_row[j]), ctx.get(arr.c_data[j])))
            await ctx.tick()

    _simulate(arr, bench)
    want = {}
    for t, (A, B) in enumerate(tiles):
        sums = model.array_model(A, B, init, 20)
        for i in range(P):
            for j in range(Q):
                cyc = last_at[t] + i + j + SystolicArray.DRAIN_LATENCY
                want.setdefault((cyc, j), []).append((i, sums[i][j]))
    assert outs == want


# ------------------------------------------------------------------ engine


def _engine_run(g, a_mems, b_mems, c_mems, R, reads=None):
    """Run ``g`` once against Python memories (read latency R); (C memories, cycles).
    ``reads``: a list that gets the (A port 0, B port 0) addresses of every read."""
    got = [list(x) for x in c_mems]
    res = {}

    async def bench(ctx):
        ctx.set(g.start, 1)
        await ctx.tick()
        ctx.set(g.start, 0)
        cyc, pend = 1, []
        while "cycles" not in res:
            if ctx.get(g.done):
                res["cycles"] = cyc
            for p in range(len(got)):
                if ctx.get(g.c[p].wen):
                    got[p][ctx.get(g.c[p].waddr)] = ctx.get(g.c[p].wdata)
                assert ctx.get(g.c[p].ren) == 0
            for i in range(g.rows):
                assert ctx.get(g.a[i].wen) == 0
            pend.append(([(ctx.get(g.a[i].raddr), ctx.get(g.a[i].ren)) for i in range(g.rows)],
                         [(ctx.get(g.b[j].raddr), ctx.get(g.b[j].ren)) for j in range(g.cols)]))
            if reads is not None and pend[-1][0][0][1]:
                reads.append((pend[-1][0][0][0], pend[-1][1][0][0]))
            await ctx.tick()
            cyc += 1
            assert cyc < 10 * g.latency + 100, "no done"
            if len(pend) >= R:
                ra, rb = pend[-R]
                for i, (ad, en) in enumerate(ra):
                    if en:
                        ctx.set(g.a[i].rdata, a_mems[i][ad])
                for j, (ad, en) in enumerate(rb):
                    if en:
                        ctx.set(g.b[j].rdata, b_mems[j][ad])

    _simulate(g, bench)
    return got, res["cycles"]


def _gemm_engine(P, Q, M, N, K, *, aw=8, asg=True, bw=8, bsg=True, accw=32, acc_signed=True,
                 cw=32, R=1, cbank="col", init=0, float_fmt=None, interleaved=None):
    """C[M, N] = A[M, K] @ B[K, N], A cyclic by rows over P ports (address (r // P) * K + k),
    B cyclic by columns over Q ports (address k * N/Q + c // Q)."""
    TR, TC = M // P, N // Q
    a_addr = AffineAddress(12, (0,) * P, (K, 0, 1))  # counters: tile row, tile col, k
    b_addr = AffineAddress(12, (0,) * Q, (0, 1, TC))
    if cbank == "col":  # C cyclic by columns: address r * N/Q + c // Q
        banks = tuple(tuple((i, j, i * TC) for i in range(P)) for j in range(Q))
        strides = (P * TC, 1)
    elif cbank == "pe":  # one port per PE, tile index as address
        banks = tuple(((i, j, 0),) for i in range(P) for j in range(Q))
        strides = (TC, 1)
    else:  # C cyclic by rows: address (r // P) * N + c
        banks = tuple(tuple((i, j, j) for j in range(Q)) for i in range(P))
        strides = (N, Q)
    return SystolicGemm(rows=P, cols=Q, a_width=aw, a_signed=asg, b_width=bw, b_signed=bsg,
                        acc_width=accw, acc_signed=acc_signed, c_width=cw, init=init,
                        tiles=(TR, TC), steps=(K,), a_addr=a_addr, b_addr=b_addr,
                        c_banks=OutputBanks(12, banks, strides), read_latency=R,
                        float_fmt=float_fmt, interleaved=interleaved)


@pytest.mark.parametrize("kw", [
    dict(P=2, Q=2, M=4, N=4, K=4),
    dict(P=4, Q=4, M=8, N=8, K=8),
    dict(P=4, Q=4, M=8, N=8, K=2),                         # K < rows: bubbles between tiles
    dict(P=3, Q=2, M=6, N=4, K=5, asg=False, accw=12, cw=16, R=2, init=-7),
    dict(P=2, Q=3, M=4, N=6, K=3, aw=5, bw=3, bsg=False, accw=9, acc_signed=False, cw=12),
    dict(P=4, Q=4, M=4, N=8, K=5, cbank="pe"),
    dict(P=4, Q=2, M=8, N=4, K=4, cbank="row"),
    dict(P=1, Q=1, M=3, N=2, K=1),
])
def test_engine_matches_model_and_latency(kw):
    kw = dict(kw)
    P, Q, M, N, K = (kw.pop(x) for x in "PQMNK")
    g = _gemm_engine(P, Q, M, N, K, **kw)
    rng = random.Random(P + 7 * Q + 31 * K)
    aw, bw = kw.get("aw", 8), kw.get("bw", 8)
    a_mems = [[rng.randrange(1 << aw) for _ in range(M // P * K)] for _ in range(P)]
    b_mems = [[rng.randrange(1 << bw) for _ in range(K * N // Q)] for _ in range(Q)]
    c_mems = [[0] * 4096 for _ in range(len(g.c_banks.banks))]
    got, cycles = _engine_run(g, a_mems, b_mems, c_mems, kw.get("R", 1))
    assert got == model.gemm_model(g, a_mems, b_mems, c_mems)
    assert cycles == g.latency
    ntiles = (M // P) * (N // Q)
    assert g.latency == (ntiles - 1) * g.period + K + kw.get("R", 1) + P + Q + 4


def test_engine_period():
    assert _gemm_engine(4, 4, 8, 8, 8).period == 8
    assert _gemm_engine(4, 4, 8, 8, 2).period == 4          # the drain needs rows cycles
    # one C port per row: PEs (i, j) and (i, j') on one port finish j - j' cycles apart
    assert _gemm_engine(2, 4, 4, 8, 3, cbank="row").period == 4
    assert _gemm_engine(2, 4, 4, 8, 5, cbank="row").period == 5


def test_engine_constructor_errors():
    kw = dict(rows=2, cols=2, a_width=8, a_signed=True, b_width=8, b_signed=True, acc_width=16,
              acc_signed=True, c_width=16, tiles=(), steps=(4,),
              a_addr=AffineAddress(4, (0, 0), (1,)), b_addr=AffineAddress(4, (0, 0), (1,)),
              c_banks=OutputBanks(2, (((0, 0, 0), (0, 1, 1)), ((1, 0, 0), (1, 1, 1))), ()))
    g = SystolicGemm(**kw)
    assert (g.latency, g.period) == (4 + 1 + 2 + 2 + 4, 4)
    with pytest.raises(ValueError, match=r"C port 1 receives two PEs of anti-diagonal 1"):
        SystolicGemm(**{**kw, "c_banks": OutputBanks(
            2, (((0, 0, 0), (1, 1, 1)), ((0, 1, 0), (1, 0, 1))), ())})
    with pytest.raises(ValueError, match="must name every PE exactly once"):
        SystolicGemm(**{**kw, "c_banks": OutputBanks(2, (((0, 0, 0),),), ())})
    with pytest.raises(ValueError, match=r"a_addr needs 2 bases and 1 strides, not 1 and 1"):
        SystolicGemm(**{**kw, "a_addr": AffineAddress(4, (0,), (1,))})
    with pytest.raises(ValueError, match="steps must list at least one counter"):
        SystolicGemm(**{**kw, "steps": ()})
    with pytest.raises(ValueError, match=r"SystolicGemm read_latency must be a positive "
                                         r"integer, not 0"):
        SystolicGemm(**{**kw, "read_latency": 0})
    with pytest.raises(TypeError, match=r"SystolicArray a_signed must be a bool, not 1"):
        SystolicGemm(**{**kw, "a_signed": 1})
    with pytest.raises(ValueError, match=r"SystolicArray rows must be a positive integer, "
                                         r"not 0"):
        SystolicArray(0, 2, 8, True, 8, True, 16)
    with pytest.raises(TypeError, match=r"PE acc_width must be an integer, not 16.0"):
        PE(8, True, 8, True, 16.0)


def test_models():
    assert model.value(0xFF, 8, True) == -1 and model.value(0xFF, 8, False) == 255
    # init + sum of exact products, wrapped only at the end
    assert model.pe_sum([100, 100], [100, 100], 0, 16) == 20000
    assert model.pe_sum([0x80], [0x80], 0, 8, True, True, 8, 8) == (128 * 128) & 0xFF
    assert model.pe_sum([0x80], [0x80], 1, 16, False, True, 8, 8) == (1 - 128 * 128) & 0xFFFF
    assert model.array_model([[1, 2]], [[3], [4]], 10, 8) == [[21]]


# ------------------------------------------------------------------ float PEs


def _f32_values(rng, n):
    """Raw binary32 patterns: ordinary values of mixed signs and magnitudes (most sums
    round), with zeros of both signs, subnormals, infinities and NaN sprinkled in."""
    import struct
    special = [0x00000000, 0x80000000, 0x00000001, 0x80400000, 0x7F800000, 0xFF800000,
               0x7FC00001, 0x3F800000, 0x7F7FFFFF]
    out = []
    for _ in range(n):
        if rng.random() < 0.1:
            out.append(rng.choice(special))
        else:
            x = rng.uniform(-4, 4) * 2.0 ** rng.randint(-6, 6)
            out.append(struct.unpack("<I", struct.pack("<f", x))[0])
    return out


def _float_interleaved_latency(P, Q, K, ntiles, R, period, L=9, lat=20):
    """The interleaved engine's cycles: groups of L tiles, K rounds of L cycles each; the
    last group's sums leave column Q - 1 after its row P - 1 drained (P * L + 1 cycles)."""
    groups = -(-ntiles // L)
    drain = lat + Q + ((P - 1) * L + 1 if P > 1 else 0)
    return (groups - 1) * period + K * L + R + drain + 2


@pytest.mark.parametrize("kw", [
    dict(P=2, Q=2, M=4, N=4, K=3),                          # 4 tiles < L: bubble slots
    dict(P=2, Q=3, M=2, N=6, K=1, R=2, il=False),          # 2 tiles of 1 step: 38 < 46
    dict(P=2, Q=3, M=2, N=6, K=1, R=2, interleaved=True),  # (forced)
    dict(P=2, Q=2, M=8, N=10, K=3),                        # 20 tiles: 3 groups, the last short
    dict(P=3, Q=2, M=9, N=12, K=4, R=2),                   # 18 tiles: 2 full groups
    dict(P=4, Q=4, M=8, N=8, K=2),                         # K * L < P * L + 1: gaps
    dict(P=1, Q=1, M=3, N=4, K=2),
    dict(P=2, Q=2, M=4, N=8, K=3, cbank="pe"),             # a C port per PE
    dict(P=2, Q=2, M=4, N=4, K=3, interleaved=False),      # a step every 9 cycles
    dict(P=2, Q=2, M=2, N=2, K=3),                         # one tile: not interleaved
    dict(P=4, Q=2, M=8, N=4, K=4, cbank="row"),            # row ports: not interleaved
])
def test_float_engine_matches_model_and_latency(kw):
    """FloatPE engines against the model (rounding-sensitive values, +-0, subnormals,
    inf/NaN), exact cycles; interleaved: the reads in the model's issue order."""
    from primitives.float import BINARY32

    kw = dict(kw)
    P, Q, M, N, K = (kw.pop(x) for x in "PQMNK")
    R = kw.get("R", 1)
    init = 0x3FC00000  # 1.5
    want_il = kw.pop("il", None)
    g = _gemm_engine(P, Q, M, N, K, aw=32, asg=False, bw=32, bsg=False, accw=32, cw=32,
                     init=init, float_fmt=BINARY32, **kw)
    assert g.pe_latency == 2 + 9 + 9
    ntiles = (M // P) * (N // Q)
    interleaved = kw.get("interleaved", ntiles > 1 and kw.get("cbank") != "row")
    if want_il is not None:
        interleaved = want_il
    assert (g.interleave, g.step_interval) == ((9, 1) if interleaved else (1, 9))
    rng = random.Random(P + 7 * Q + 31 * K)
    a_mems = [_f32_values(rng, M // P * K) for _ in range(P)]
    b_mems = [_f32_values(rng, K * N // Q) for _ in range(Q)]
    c_mems = [[0] * 4096 for _ in range(len(g.c_banks.banks))]
    reads = []
    got, cycles = _engine_run(g, a_mems, b_mems, c_mems, R, reads)
    assert got == model.gemm_model(g, a_mems, b_mems, c_mems)
    order = [x for x in model.issue_order(g.tiles, g.steps, g.interleave) if x]
    assert reads == [(sum(s * c for s, c in zip(g.a_addr.strides, t + k)),
                      sum(s * c for s, c in zip(g.b_addr.strides, t + k))) for t, k in order]
    if not interleaved:
        assert g.period == max(K * 9, P)
        assert cycles == g.latency == (ntiles - 1) * g.period + (K - 1) * 9 + R + P + Q + 22
        return
    # a group every K * L cycles, unless a column's drain (P * L + 1 sums' slots) needs more
    assert g.period == (K * 9 if ntiles <= 9 else max(K * 9, P * 9 + 1 if P > 1 else 9))
    assert cycles == g.latency == _float_interleaved_latency(P, Q, K, ntiles, R, g.period)


def test_float_engine_schedule_choice():
    from primitives.float import BINARY32

    kw = dict(aw=32, asg=False, bw=32, bsg=False, accw=32, cw=32, float_fmt=BINARY32)
    # 8 x 8 x 8 on 4 x 4 (4 tiles): 127 cycles interleaved, 310 a step every 9 cycles
    assert _gemm_engine(4, 4, 8, 8, 8, **kw).latency == 127
    assert _gemm_engine(4, 4, 8, 8, 8, interleaved=False, **kw).latency == 310
    # one tile: the interleaved drain would only add cycles (forced: it works, slower)
    assert _gemm_engine(4, 4, 4, 4, 8, **kw).interleave == 1
    assert _gemm_engine(4, 4, 4, 4, 8, interleaved=True, **kw).interleave == 9
    with pytest.raises(ValueError, match="C port 0 receives two sums in one cycle with 9 "
                                         "interleaved tiles"):
        _gemm_engine(4, 2, 8, 4, 4, cbank="row", interleaved=True, **kw)
    with pytest.raises(ValueError, match=r"SystolicGemm interleaved needs PEs of "
                                         r"step_interval >= 2 \(float_fmt\), not 1"):
        _gemm_engine(2, 2, 4, 4, 4, interleaved=True)
    with pytest.raises(TypeError, match="SystolicGemm interleaved must be None or a bool, "
                                        "not 1"):
        _gemm_engine(2, 2, 4, 4, 4, interleaved=1)
    with pytest.raises(ValueError, match="SystolicArray interleaved needs PEs whose "
                                         "accumulator loop is at least 2 cycles long"):
        SystolicArray(2, 2, 8, True, 8, True, 16, interleaved=True)
    assert model.issue_order((3,), (2,), 2) == [((0,), (0,)), ((1,), (0,)), ((0,), (1,)),
                                                ((1,), (1,)), ((2,), (0,)), None,
                                                ((2,), (1,)), None]


def test_float_pe_errors_and_model():
    from primitives.float import BINARY16, BINARY32
    from primitives.systolic import FloatPE

    pe = FloatPE(BINARY16, mul_latency=2, add_latency=3)
    assert (pe.latency, pe.init_offset, pe.step_interval) == (7, 3, 3)
    with pytest.raises(ValueError, match="FloatPE add_latency must be at least 1"):
        FloatPE(add_latency=0)
    with pytest.raises(ValueError, match="SystolicArray with float_fmt needs unsigned operands "
                                         "and accumulator of 32 bits, not a 16, b 32, acc 32"):
        SystolicArray(2, 2, 16, False, 32, False, 32, float_fmt=BINARY32)
    # 1.0 + 2**-24 rounds to 1.0 (ties to even), each step rounded: (1 + e) + e == 1
    one, e = 0x3F800000, 0x33800000  # 2**-24
    assert model.float_pe_sum([e, e], [one, one], one, BINARY32) == one
    assert model.float_pe_sum([0x80000000], [one], 0x80000000, BINARY32) == 0x80000000
