"""Benchmark of the native harness against a bare Verilator loop on the same design.

Run ``python -m testbench.bench_native [--cycles N] [--cache-dir DIR]``.

For each design the harness executable (generated ``main`` through the port
shim, with ``done``/max-cycles/``$finish`` checks every cycle) runs one kernel
of known length; a bare ``--cc --exe`` executable of the same design, built
with the same flags, toggles ``clk`` (``clk=0; eval; clk=1; eval``) for the
same number of cycles with no checks at all. Rates are kernel cycles per
wall-clock second of the whole process (start-up, load and readback
included, which is negligible at these lengths).

Designs:

* ``counter``: a 32-bit counter; ``done`` when it reaches the scalar input ``n``.
* ``memsum``: sums a 1024 x 32-bit memory ``rounds`` times, one word per cycle.

Also reported: build time of a design cold (first build ever, which also
compiles Verilator's runtime library), cold with the runtime library cached,
and warm (cache hit).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .native import build, run
from .spec import DesignSpec, MemSpec, PortSpec
from .toolchain import find_cxx, find_make, find_verilator, run_command, verilator_env

__all__ = ["COUNTER_V", "MEMSUM_V", "BenchRow", "bare_rate", "main"]

COUNTER_V = """\
module counter(input clk, input rst, input start, output reg done,
               input [31:0] n, output [31:0] count);
  reg [31:0] c; reg busy;
  assign count = c;
  always @(posedge clk) begin
    done <= 1'b0;
    if (rst) begin busy <= 1'b0; c <= 32'd0; end
    else if (start && !busy) begin busy <= 1'b1; c <= 32'd0; end
    else if (busy) begin
      c <= c + 32'd1;
      if (c + 32'd1 == n) begin busy <= 1'b0; done <= 1'b1; end
    end
  end
endmodule
"""

MEMSUM_V = """\
module memsum(input clk, input rst, input start, output reg done,
              input [9:0] A__haddr, input [31:0] A__hwdata, input A__hwe, output reg [31:0] A__hrdata,
              input [31:0] rounds, output reg [31:0] sum);
  reg [31:0] mem [0:1023];
  reg [31:0] r; reg [9:0] i; reg busy; reg valid; reg [31:0] data;
  wire [9:0] raddr = busy ? i : A__haddr;
  always @(posedge clk) begin
    data <= mem[raddr];
    if (A__hwe && !busy) mem[A__haddr] <= A__hwdata;
    done <= 1'b0;
    if (rst) begin busy <= 1'b0; valid <= 1'b0; end
    else if (start && !busy) begin busy <= 1'b1; i <= 10'd0; r <= 32'd0; sum <= 32'd0; valid <= 1'b0; end
    else if (busy) begin
      valid <= 1'b1;
      if (valid) sum <= sum + data;
      i <= i + 10'd1;
      if (i == 10'd1023) begin
        r <= r + 32'd1;
        if (r + 32'd1 == rounds) begin busy <= 1'b0; done <= 1'b1; end
      end
    end
  end
  always @(*) A__hrdata = data;
endmodule
"""

_BARE_MAIN = """\
#include "V{top}.h"
#include "verilated.h"
#include <cstdio>
#include <cstdlib>
// Bare loop: reset, start pulse, then N cycles of clk toggling with no checks.
int main(int argc, char** argv) {{
    unsigned long long n = strtoull(argv[1], nullptr, 10);
    VerilatedContext* ctx = new VerilatedContext;
    V{top}* top = new V{top}{{ctx}};
    {setup}
    top->rst = 1; top->clk = 0; top->eval();
    for (int i = 0; i < 2; ++i) {{ top->clk = 1; top->eval(); top->clk = 0; top->eval(); }}
    top->rst = 0; top->start = 1;
    top->clk = 1; top->eval(); top->clk = 0; top->eval();
    top->start = 0;
    for (unsigned long long i = 1; i < n; ++i) {{ top->clk = 0; top->eval(); top->clk = 1; top->eval(); }}
    printf("%d\\n", (int)top->done);
    top->final();
    delete top; delete ctx;
    return 0;
}}
"""


@dataclass(frozen=True)
class BenchRow:
    """One design's measurements (rates in cycles per second)."""

    design: str
    cycles: int
    harness_rate: float
    bare_rate: float
    build_cold_s: float
    build_warm_s: float


def bare_rate(verilog: str, top: str, cycles: int, setup: str, work: Path) -> float:
    """Build a bare ``--cc --exe`` loop of ``top`` and return its cycles/s over ``cycles``.

    Args:
        verilog: the design.
        top: its module name.
        cycles: cycles to run.
        setup: C++ statements run before reset (e.g. driving scalar inputs).
        work: scratch directory.
    """
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{top}.v").write_text(verilog)
    (work / "bare.cpp").write_text(_BARE_MAIN.format(top=top, setup=setup))
    cxx = " ".join(find_cxx().argv)
    env = verilator_env()
    argv = [*find_verilator().argv, "--cc", "--exe", "-O3", "--x-assign", "0", "--x-initial", "0",
            "--no-timing", "-Wno-fatal", "--top-module", top, "--Mdir", str(work / "obj"),
            str(work / f"{top}.v"), str(work / "bare.cpp")]
    proc = run_command(argv, env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout)
    proc = run_command([find_make().path, "-C", str(work / "obj"), "-f", f"V{top}.mk", "-j4", "OPT_FAST=-O2",
                        "OPT_GLOBAL=-O2", f"CXX={cxx}", f"LINK={cxx}", "USER_LDLIBS=-pthread",
                        f"PYTHON3={__import__('sys').executable}"], env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout)
    t0 = time.perf_counter()
    proc = run_command([str(work / "obj" / f"V{top}"), str(cycles)])
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout)
    return cycles / seconds


def _measure(name: str, verilog: str, spec: DesignSpec, memories: dict, scalars: dict, setup: str,
             cache: Path, work: Path) -> BenchRow:
    t0 = time.perf_counter()
    b = build(verilog, spec, cache_dir=cache)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = build(verilog, spec, cache_dir=cache)
    warm = time.perf_counter() - t0
    res = run(b, memories, scalars, max_cycles=1 << 62)
    rate = res.cycles / res.seconds
    return BenchRow(name, res.cycles, rate, bare_rate(verilog, spec.top, res.cycles, setup, work / name),
                    cold, warm)


def main(argv: list[str] | None = None) -> list[BenchRow]:
    """Run the benchmark and print a table; returns the rows."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=30_000_000, help="kernel cycles per design (approx.)")
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="build cache (default: a fresh temporary directory, so the cold build is cold)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="allo_rtl_bench_") as tmp:
        cache = args.cache_dir or Path(tmp) / "cache"
        work = Path(tmp) / "bare"
        rows = []
        n = args.cycles
        rows.append(_measure(
            "counter", COUNTER_V,
            DesignSpec("counter", (), (PortSpec("n", 32),), (PortSpec("count", 32),)),
            {}, {"n": n}, f"top->n = {n}u;", cache, work))
        rounds = max(1, n // 1024)
        data = np.arange(1024, dtype=np.uint32)
        rows.append(_measure(
            "memsum", MEMSUM_V,
            DesignSpec("memsum", (MemSpec("A", 32, 1024),), (PortSpec("rounds", 32),), (PortSpec("sum", 32),)),
            {"A": data}, {"rounds": rounds}, f"top->rounds = {rounds}u;", cache, work))
    print(f"{'design':8} {'cycles':>11} {'harness Mcyc/s':>15} {'bare Mcyc/s':>12} {'ratio':>6} "
          f"{'build cold s':>13} {'build warm ms':>14}")
    for r in rows:
        print(f"{r.design:8} {r.cycles:11d} {r.harness_rate / 1e6:15.1f} {r.bare_rate / 1e6:12.1f} "
              f"{r.harness_rate / r.bare_rate:6.2f} {r.build_cold_s:13.2f} {r.build_warm_s * 1e3:14.2f}")
    print("(the first cold build also compiles Verilator's runtime library; later cold builds reuse it)")
    return rows


if __name__ == "__main__":
    main()
