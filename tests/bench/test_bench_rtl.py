"""``python -m allo_rtl bench`` (allo_rtl.bench.rtl) on the smallest bundled design.

One real run of the CLI on ``vadd`` in a private build cache (seeded with
Verilator's runtime library so it stays fast). Cycle counts are exact and
deterministic, so they are asserted exactly; wall-clock times never are.
"""

from __future__ import annotations

import contextlib
import io
import json
import math

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl.bench import rtl as bench
from allo_rtl.cli import main

#: vadd at 1024 elements, read from a run: 4 cycles per element + 1 (the zero fill
#: of the result is dead: the loop overwrites all of it first). Changes only when
#: the lowering does.
VADD_CYCLES = 4097
RATE_CYCLES = 20_000


@pytest.fixture(scope="module")
def vadd_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench_rtl")
    cache = bench.seed_cache(tmp / "verilator")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["bench", "vadd", "--quiet", "--rate-cycles", str(RATE_CYCLES), "--rate-runs", "1",
                   "--cache-dir", str(cache), "--json", str(tmp / "bench.json")])
    return rc, out.getvalue(), json.loads((tmp / "bench.json").read_text())


def test_bench_vadd(vadd_run):
    rc, text, doc = vadd_run
    assert rc == 0, text
    lines = text.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == bench.COLUMNS
    row = next(line for line in lines if line.startswith("| vadd "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == len(bench.COLUMNS)
    assert cells[-1] == "PASS"
    assert cells[header.index("cycles")] == f"{VADD_CYCLES:,}"

    (r,) = doc["designs"]
    assert doc["mode"] == "quick" and doc["columns"] == bench.COLUMNS
    assert r["design"] == "vadd" and r["size"] == 1024 and r["check"] == "PASS" and r["error"] is None
    assert r["cycles"] == VADD_CYCLES
    assert r["ideal_cycles"] == 1024
    assert r["efficiency"] == pytest.approx(1024 / VADD_CYCLES)
    # rate run: the same kernel repeated; cycles exact, the bare loop ends with done in its last cycle
    assert r["rate_reps"] == math.ceil(RATE_CYCLES / VADD_CYCLES)
    assert r["rate_cycles"] == r["rate_reps"] * 4096 + 1
    assert r["native_done"] is True
    for key in ("lower_s", "build_s", "sim_rate", "native_rate", "rate_ratio", "warm_s"):
        assert r[key] is not None and r[key] > 0, key
    assert r["build_cached"] is False  # fresh cache
    assert r["warm_cached"] is True
    assert r["synth"] is None


def test_designs_follow_the_convention():
    names = [p.stem for p in bench.list_designs()]
    assert {"gemm", "vadd", "stencil"} <= set(names)
    for name in names:
        d = bench.load_design(name)
        quick = d.SIZES["quick"]
        assert d.ideal_cycles(quick) == d.IDEAL_CYCLES == d.ideal_cycles()
        assert d.SIZES["full"] >= quick
        args = d.make_inputs(np.random.default_rng(0))
        s = d.schedule()
        assert len(args) == len(s.top_func.params)
        assert d.__doc__


def test_ideal_cycles():
    assert bench.load_design("vadd").ideal_cycles(16384) == 16384
    assert bench.load_design("gemm").ideal_cycles(64) == 64 ** 3
    assert bench.load_design("stencil").ideal_cycles(128) == 126 ** 2


def test_unknown_design():
    with pytest.raises(ValueError, match="no design 'nope'"):
        bench.load_design("nope")


def test_table_with_synthesis_columns():
    row = bench.DesignRow("x", 8, "x", "PASS", cycles=100, ideal_cycles=50, efficiency=0.5,
                          synth={"LUT": 10, "FF": 20, "DSP": 1, "BRAM": 2, "fmax_mhz": 100.0, "latency_us": 1.0})
    text = bench.format_table([row], synth=True)
    header = [c.strip() for c in text.splitlines()[0].strip("|").split("|")]
    assert header == bench.COLUMNS + bench.SYNTH_COLUMNS
    cells = [c.strip() for c in text.splitlines()[2].strip("|").split("|")]
    assert cells[-6:] == ["10", "20", "1", "2", "100.0", "1.0"]


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--full", "--synth", "--device", "--rate-cycles", "--cold", "--cache-dir", "--seed", "--json",
                "--output", "--quiet", "--rate-runs", "DESIGN"):
        assert opt in out, opt


def test_schedule_column_names_the_customizations():
    assert bench.schedule_text(bench.load_design("vadd").schedule()) == "-"
    s = bench.load_design("stencil_reuse").schedule()
    assert bench.schedule_text(s) == "reuse_at(A, i) + reuse_at(A_reuse_i, j) + pipeline(j)"
    s = bench.load_design("gemm_pipelined").schedule()
    s.partition(s.A, partition_type=allo.Partition.Cyclic, dim=2, factor=2)
    assert bench.schedule_text(s).endswith("+ partition(A, Cyclic, dim=2, factor=2)")


def test_plot_writes_a_png(tmp_path):
    rows = [bench.DesignRow("a", 8, "a", "PASS", cycles=100, ideal_cycles=50, efficiency=0.5),
            bench.DesignRow("b", 8, "b", "PASS", cycles=1000, ideal_cycles=900, efficiency=0.9)]
    bench.plot_cycles(rows, tmp_path / "b.png")
    assert (tmp_path / "b.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
