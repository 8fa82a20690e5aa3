"""Property-based tests of the schedule primitives (hypothesis).

Random kernels x random legal primitive sequences (``schedgen.py``):

    interpreter(scheduled) == interpreter(original)             (test_schedule_sim)
    RTL(scheduled) == interpreter(scheduled) == interpreter(original)   (test_schedule_rtl)

bit for bit, on arrays written in place and on return values, for 2 random input sets
per example. A primitive may refuse a case with an :class:`AlloError` only for a
*documented* restriction (``schedgen.DOCUMENTED``; the refusal is counted and the
schedule goes on); any other exception, or an undocumented AlloError, fails.

Budget: by default 1000 interpreter examples (~20 s) and 40 RTL examples (a Verilator
build each, ~1.5 min on one core; about 1 min for both with ``-n 2``), deterministic
(fixed hypothesis seeds, no example database).
Long runs::

    pytest tests/schedule/test_properties.py -n 2 --sched-examples 2000 \\
        --sched-rtl-examples 150 [--sched-seed 7]

(or the env vars SCHED_EXAMPLES / SCHED_RTL_EXAMPLES / SCHED_SEED). Examples are split
into shards of 50 (interpreter) / 5 (RTL) so ``-n`` spreads them over cores; each shard
prints its counts (``-s``) and appends them as a JSON line to ``$SCHED_STATS`` when set
(``python -m tests.schedule.test_properties FILE`` sums them). A failure prints a
self-contained reproducer (kernel source, schedule, inputs); hypothesis shrinks
interpreter failures (RTL ones too with SCHED_SHRINK=1).

Compiler bugs found by these properties are kept below as regression tests.
"""

from __future__ import annotations

import collections
import json
import math
import os
import sys
import time
import warnings

import pytest

from allo_rtl.errors import AlloError, AlloWarning

from . import schedgen as G

SIM_DEFAULT, RTL_DEFAULT = 1000, 40
SIM_SHARD, RTL_SHARD = 50, 5


def _opt(config, name: str, env: str, default: int) -> int:
    v = config.getoption(name, default=None)
    if v is None and os.environ.get(env):
        v = int(os.environ[env])
    return default if v is None else v


def _settings(config):
    n_sim = _opt(config, "sched_examples", "SCHED_EXAMPLES", SIM_DEFAULT)
    n_rtl = _opt(config, "sched_rtl_examples", "SCHED_RTL_EXAMPLES", RTL_DEFAULT)
    seed = _opt(config, "sched_seed", "SCHED_SEED", 0)
    return n_sim, n_rtl, seed


def _shards(total: int, per: int) -> list:
    """[(shard index, examples)] covering ``total`` examples."""
    n = max(1, math.ceil(total / per))
    return [(k, total // n + (1 if k < total % n else 0)) for k in range(n)]


def pytest_generate_tests(metafunc):
    n_sim, n_rtl, _ = _settings(metafunc.config)
    if "sim_shard" in metafunc.fixturenames:
        metafunc.parametrize("sim_shard", _shards(n_sim, SIM_SHARD),
                             ids=lambda s: f"shard{s[0]}x{s[1]}")
    if "rtl_shard" in metafunc.fixturenames:
        metafunc.parametrize("rtl_shard", _shards(n_rtl, RTL_SHARD),
                             ids=lambda s: f"shard{s[0]}x{s[1]}")


class Stats:
    """Counts of one shard: examples, primitives applied, documented refusals."""

    def __init__(self, target: str, shard: int):
        self.target, self.shard = target, shard
        self.c = collections.Counter()
        self.applied = collections.Counter()
        self.rejected = collections.Counter()
        self.features = collections.Counter()
        self.t0 = time.time()

    def add(self, case: G.Case) -> None:
        self.c["examples"] += 1
        self.c["primitives"] += len(case.schedule)
        if not case.schedule:
            self.c["no primitive applied"] += 1
        for line in case.schedule:
            self.applied[line.split("(")[0].replace("s.", "")] += 1
        for _, cat in case.rejected:
            self.rejected[cat] += 1
        if getattr(case, "rtl_skipped", None):
            self.rejected["RTL build refused: " + case.rtl_skipped] += 1
            self.c["rtl skipped"] += 1
        elif self.target == "rtl":
            self.c["rtl compared"] += 1
        for f in case.features:
            self.features[f] += 1

    def report(self) -> str:
        dt = time.time() - self.t0
        lines = [f"[sched properties] {self.target} shard {self.shard}: "
                 f"{dict(self.c)} in {dt:.1f}s",
                 f"  applied: {dict(self.applied.most_common())}",
                 f"  documented refusals: {dict(self.rejected.most_common())}"]
        return "\n".join(lines)

    def dump(self) -> None:
        path = os.environ.get("SCHED_STATS")
        if not path:
            return
        rec = {"target": self.target, "shard": self.shard, "seconds": time.time() - self.t0,
               "counts": dict(self.c), "applied": dict(self.applied),
               "rejected": dict(self.rejected), "features": dict(self.features)}
        with open(path, "a") as fh:
            fh.write(json.dumps(rec) + "\n")


def _run(target: str, shard: tuple, seed: int) -> None:
    from hypothesis import HealthCheck, Phase, given, settings, strategies as st
    from hypothesis import seed as hseed

    k, n = shard
    stats = Stats(target, k)
    phases = [Phase.explicit, Phase.generate]
    if target == "sim" or os.environ.get("SCHED_SHRINK"):
        phases.append(Phase.shrink)

    @hseed(seed * 100003 + k * 7919 + (1 if target == "rtl" else 0))
    @settings(max_examples=n, deadline=None, database=None, derandomize=False,
              phases=phases, suppress_health_check=list(HealthCheck), print_blob=False)
    @given(st.data())
    def prop(data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AlloWarning)  # e.g. an II that was not met
            case = G.check(G.HypothesisChooser(data), target)
        stats.add(case)

    try:
        prop()
    finally:
        print(stats.report())
        stats.dump()
    assert stats.c["examples"] >= n // 2, f"too few valid examples: {dict(stats.c)}"


def test_schedule_sim(sim_shard, request):
    """interpreter(scheduled) == interpreter(original) on random kernels and schedules."""
    _run("sim", sim_shard, _settings(request.config)[2])


@pytest.mark.rtl
def test_schedule_rtl(rtl_shard, request):
    """RTL(scheduled) == interpreter(original) on random kernels and schedules."""
    _run("rtl", rtl_shard, _settings(request.config)[2])


# ====================================================================== the generator


def test_generator_is_deterministic():
    for seed in (0, 5, 77):
        a, b = (G.check(G.RandomChooser(seed)) for _ in range(2))
        assert a.source == b.source and a.schedule == b.schedule and a.rejected == b.rejected


def test_generator_covers_kernels_and_primitives():
    """Over a few hundred random cases every stage kind and every primitive is applied."""
    feats = collections.Counter()
    for seed in range(300):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AlloWarning)
            feats.update(G.check(G.RandomChooser(10_000 + seed)).features)
    stages = {f"stage_{k}" for k in ("ew", "red", "mm", "rowacc", "gred", "stencil",
                                       "call_row", "call_ret", "call_whole")}
    prims = {f"prim_{p}" for p in ("split", "reorder", "fuse", "unroll", "pipeline",
                                    "parallel", "inline", "compute_at", "partition",
                                    "buffer_at", "reuse_at", "reshape")}
    other = {"triangular", "range_lb_step", "reduction", "consumer", "shared_callee",
             "stencil_conv", "stencil_direct", "red_init", "return_array", "return_scalar"}
    missing = (stages | prims | other) - set(feats)
    assert not missing, sorted(missing)


def test_undocumented_errors_are_not_accepted():
    assert G.classify_error(AlloError("fuse: loop 'i' has non-constant bounds")) == \
        "non-constant bounds"
    assert G.classify_error(AlloError("reorder: something new went wrong")) is None


def _stencil_case() -> G.Case:
    src = G._HEADER + '''

def kernel(A: int32[6, 9]) -> int32[6, 7]:
    B: int32[6, 7] = 0
    for y, x in allo.grid(6, 7):
        B[y, x] = A[y, x] + A[y, x + 1] * 2 + A[y, x + 2]
    return B
'''
    return G.Case(src, "kernel", [G.Arr("A", "int32", (6, 9), "in")], "int32[6, 7]")


def test_a_wrong_schedule_is_reported():
    """The property catches a semantics-changing schedule and prints a reproducer:
    interchanging the loops around a reuse buffer (the user's responsibility, as in
    Allo) breaks the sliding window."""
    case = _stencil_case()
    s = G.replay(case, ['s.reuse_at(s.A, L("kernel", "S_y_x_0", "x"))',
                        's.reorder(L("kernel", "S_y_x_0", "x"), L("kernel", "S_y_x_0", "y"))'])
    with pytest.raises(G.Mismatch, match="interpreter\\(scheduled\\) != "
                                         "interpreter\\(original\\)") as e:
        G.verify(case, s, "sim", [1])
    text = str(e.value)
    assert "def kernel(A: int32[6, 9])" in text and "s.reorder(" in text and "A = np.array(" in text
    G.verify(case, G.replay(_stencil_case(), ['s.reuse_at(s.A, L("kernel", "S_y_x_0", "x"))']),
             "sim", [1])


# ====================================================================== bugs found
# Minimal reproducers of mismatches found by the properties (see the module docstring).

_TAIL_SRC = G._HEADER + '''

def kernel(A: int32[10], B: int32[8]):
    for i in range(8):
        B[i] = A[i] + A[i + 1] + A[i + 2]
'''


def _tail_case():
    return G.Case(_TAIL_SRC, "kernel", [G.Arr("A", "int32", (10,), "in"),
                                        G.Arr("B", "int32", (8,), "out")], None)


def test_buffer_at_after_imperfect_split_stays_in_bounds():
    """Regression (found by these properties): fill/flush honour the split's tail."""
    case = _tail_case()
    s = G.replay(case, ['s.split(L("kernel", "S_i_0", "i"), 3)',
                        's.buffer_at(s.B, L("kernel", "S_i_0", "i.outer"))'])
    G.verify(case, s, "sim", [0, 1])


def test_reuse_at_after_imperfect_split_stays_in_bounds():
    """Regression (found by these properties): the window load honours the tail."""
    case = _tail_case()
    s = G.replay(case, ['s.split(L("kernel", "S_i_0", "i"), 3)',
                        's.reuse_at(s.A, L("kernel", "S_i_0", "i.inner"))'])
    G.verify(case, s, "sim", [0, 1])


@pytest.mark.rtl
def test_many_dynamically_selected_banks_build():
    """Regression (found by these properties): 200 banks read at a run-time index (a
    balanced multiplexer, not a 200-deep chain)."""
    src = G._HEADER + '''

def kernel(A: int8[200], O: int8[8]):
    for i in range(8):
        O[i] = A[i * 5]
'''
    case = G.Case(src, "kernel", [G.Arr("A", "int8", (200,), "in"),
                                  G.Arr("O", "int8", (8,), "out")], None)
    s = G.replay(case, ["s.partition(s.A)"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        G.verify(case, s, "rtl", [0])


# ====================================================================== stats summary


def _summarize(path: str) -> None:  # pragma: no cover - manual use
    tot = {}
    for line in open(path):
        r = json.loads(line)
        t = tot.setdefault(r["target"], {"shards": 0, "seconds": 0.0,
                                         **{k: collections.Counter() for k in
                                            ("counts", "applied", "rejected", "features")}})
        t["shards"] += 1
        t["seconds"] += r["seconds"]
        for k in ("counts", "applied", "rejected", "features"):
            t[k].update(r[k])
    for target, t in tot.items():
        print(f"== {target}: {t['shards']} shards, {t['seconds']:.0f} s (summed)")
        for k in ("counts", "applied", "rejected"):
            print(f"  {k}: {dict(t[k].most_common())}")


if __name__ == "__main__":  # pragma: no cover
    _summarize(sys.argv[1])
