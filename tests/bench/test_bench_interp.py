"""``python -m allo_rtl bench-interp``: the interpreter throughput table (numbers are
wall-clock and never asserted, only that each row is complete)."""

import contextlib
import io

from allo_rtl.cli import main


def test_bench_interp_prints_one_row_per_kernel():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["bench-interp"]) == 0
    lines = out.getvalue().strip().splitlines()
    assert lines[0].split("|")[1].strip() == "kernel" and len(lines) == 4
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert float(cells[-1]) > 0 and int(cells[2].replace(",", "")) > 10**6
