"""The native Verilator harness: outputs, exact cycle counts, cache, guards, widths, traces."""

from __future__ import annotations

import struct
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from testbench import BuildError, DesignSpec, MemSpec, PortSpec, SimulationError, build, run
from tb_designs import HANG_SPEC, HANG_V, sweep_spec, sweep_verilog

pytestmark = pytest.mark.rtl

# (width, depth): every Verilator port type (CData/SData/IData/QData/VlWide) and its
# boundaries, depth 1 (1-bit address), and 2**n + 1.
SWEEP = [(1, 1), (7, 2), (8, 3), (9, 3), (16, 3), (17, 4), (32, 3), (33, 17), (64, 3), (65, 3),
         (100, 5), (512, 2)]


@pytest.fixture(scope="module")
def sweep_build(cache_dir):
    return build(sweep_verilog(SWEEP), sweep_spec(SWEEP), cache_dir=cache_dir)


@pytest.fixture(scope="module")
def hang_build(cache_dir):
    return build(HANG_V, HANG_SPEC, cache_dir=cache_dir)


def test_add_kernel_outputs_and_exact_cycles(add_build):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2**32, size=16, dtype=np.uint64).astype(np.uint32)
    res = run(add_build, {"A": a}, {"inc": 5})
    expected = (a.astype(np.uint64) + 5) % 2**32
    assert res.memories["B"].dtype == np.uint32
    assert res.memories["B"].tolist() == expected.tolist()
    assert res.memories["A"].tolist() == a.tolist()  # read back unchanged
    assert res.scalars == {"sum": int(expected.sum()) % 2**32}
    # AddKernel's documented latency: done is seen in cycle depth + 2.
    assert res.cycles == 16 + 2


def test_runs_are_independent(add_build):
    """Each run resets and reloads: a second run with other data is not affected."""
    first = run(add_build, {"A": list(range(16))}, {"inc": 1})
    second = run(add_build, {}, {"inc": 7})  # A omitted: loaded with zeros
    assert first.memories["B"].tolist() == list(range(1, 17))
    assert second.memories["B"].tolist() == [7] * 16
    assert second.scalars["sum"] == 7 * 16
    assert first.cycles == second.cycles == 18


def test_cache_hit_reuses_the_executable(add_design, add_build, cache_dir):
    verilog, spec = add_design
    mtime = os.stat(add_build.executable).st_mtime_ns
    again = build(verilog, spec, cache_dir=cache_dir)
    assert again.cached
    assert again.executable == add_build.executable
    assert again.key == add_build.key
    assert os.stat(again.executable).st_mtime_ns == mtime  # nothing was rebuilt


def test_different_verilog_is_a_different_entry(add_design, add_build, cache_dir):
    """Also: design lint warnings (Amaranth's width warnings) never fail a build, even when
    the text lacks a final newline (Verilator then ignores .vlt file waivers)."""
    verilog, spec = add_design
    other = build(verilog + "// changed", spec, cache_dir=cache_dir)
    assert other.key != add_build.key and not other.cached
    assert run(other, {"A": [1] * 16}, {"inc": 1}).memories["B"].tolist() == [2] * 16


def test_max_cycles_guard(add_build):
    assert run(add_build, {}, {"inc": 0}, max_cycles=18).cycles == 18
    with pytest.raises(SimulationError, match=r"did not raise done within max_cycles=17 cycles"):
        run(add_build, {}, {"inc": 0}, max_cycles=17)


def test_hung_kernel_reports_cycles_and_log_tail(hang_build):
    with pytest.raises(SimulationError) as info:
        run(hang_build, {}, {"die": 0}, max_cycles=1000)
    msg = str(info.value)
    assert "max_cycles=1000" in msg
    assert "busy cycle 998" in msg  # tail of the design's $display output
    assert "busy cycle 10\n" not in msg  # only the tail


def test_finish_before_done(hang_build):
    with pytest.raises(SimulationError, match=r"called \$finish before done"):
        run(hang_build, {}, {"die": 1})


def test_all_widths_round_trip(sweep_build):
    """done <= start gives 1 cycle; every word is inverted; so = si + 1 (mod 2**w)."""
    mems, scalars, expect_mem, expect_out = {}, {}, {}, {}
    for w, d in SWEEP:
        mask = (1 << w) - 1
        vals = [(0x9E3779B97F4A7C15 * (i + 1) * (w + 3)) & mask for i in range(d)]
        vals[-1] = mask
        mems[f"M{w}"] = vals
        scalars[f"si{w}"] = mask if w % 2 else (w & mask)
        expect_mem[f"M{w}"] = [~v & mask for v in vals]
        expect_out[f"so{w}"] = (scalars[f"si{w}"] + 1) & mask
    res = run(sweep_build, mems, scalars)
    assert res.cycles == 1
    assert res.scalars == expect_out
    for w, _ in SWEEP:
        got = res.memories[f"M{w}"]
        assert got.dtype == (object if w > 64 else np.dtype(f"uint{max(8, 1 << (w - 1).bit_length())}"))
        assert [int(x) for x in got] == expect_mem[f"M{w}"], f"width {w}"


def test_signed_inputs_are_twos_complement(sweep_build):
    mems = {"M100": np.array([-1, -2, 3, -(2**62), 2**63 - 1], dtype=np.int64),
            "M33": [-1] + [0] * 16, "M8": np.array([-128, 127, -1], dtype=np.int8)}
    scalars = {f"si{w}": -1 for w, _ in SWEEP}
    res = run(sweep_build, mems, scalars)
    m100 = (1 << 100) - 1
    assert [int(x) for x in res.memories["M100"]] == [~(v & m100) & m100 for v in [-1, -2, 3, -(2**62), 2**63 - 1]]
    assert int(res.memories["M33"][0]) == 0  # ~(-1)
    assert res.memories["M8"].tolist() == [0x7F, 0x80, 0x00]
    assert res.scalars["so512"] == 0  # -1 + 1
    assert res.scalars["so1"] == 0


def test_input_validation(add_build):
    with pytest.raises(ValueError, match=r"unknown memories \['C'\]; design 'add_kernel' has \['A', 'B'\]"):
        run(add_build, {"C": [0] * 16}, {"inc": 0})
    with pytest.raises(ValueError, match=r"memory 'A' has depth 16, got 15 values"):
        run(add_build, {"A": [0] * 15}, {"inc": 0})
    with pytest.raises(ValueError, match=r"memory 'A': value 4294967296 does not fit in 32 bits"):
        run(add_build, {"A": np.full(16, 2**32, dtype=np.uint64)}, {"inc": 0})
    with pytest.raises(ValueError, match=r"memory 'A'\[3\] = -2147483649 does not fit in 32 bits"):
        run(add_build, {"A": [0, 0, 0, -(2**31) - 1] + [0] * 12}, {"inc": 0})
    with pytest.raises(TypeError, match=r"memory 'A' values must be integers \(raw bit patterns\), got dtype float64"):
        run(add_build, {"A": np.zeros(16)}, {"inc": 0})
    with pytest.raises(ValueError, match=r"missing scalar inputs \['inc'\]"):
        run(add_build, {}, {})
    with pytest.raises(ValueError, match=r"scalar input 'inc' = 4294967296 does not fit in 32 bits"):
        run(add_build, {}, {"inc": 2**32})
    with pytest.raises(ValueError, match=r"max_cycles must be a positive integer, not 0"):
        run(add_build, {}, {"inc": 0}, max_cycles=0)
    with pytest.raises(ValueError, match=r"trace_path needs a build made with build\(\.\.\., trace=True\)"):
        run(add_build, {}, {"inc": 0}, trace_path="x.fst")


def test_multidimensional_arrays_are_flattened(add_build):
    a = np.arange(16, dtype=np.int32).reshape(4, 4)
    assert run(add_build, {"A": a}, {"inc": 1}).memories["B"].tolist() == list(range(1, 17))


def test_fst_trace(add_design, cache_dir, tmp_path):
    verilog, spec = add_design
    traced = build(verilog, spec, cache_dir=cache_dir, trace=True)
    assert traced.trace == "fst"
    path = tmp_path / "waves" / "add.fst"
    res = run(traced, {"A": list(range(16))}, {"inc": 1}, trace_path=path)
    assert res.trace_path == path and res.cycles == 18
    data = path.read_bytes()
    # FST header block: type 0 (FST_BL_HDR), section length, start time, end time (big endian).
    block, length, start, end = data[0], *struct.unpack(">QQQ", data[1:25])
    assert block == 0 and length == 329 and start == 0
    # reset 2 + load 16 + start 1 + kernel 17 + idle 1 + readback 16 cycles, 10 ns each, in ps
    assert end == (2 + 16 + 1 + 17 + 1 + 16) * 10_000 + 5_000
    # tracing costs nothing when no trace_path is given
    assert run(traced, {}, {"inc": 0}).trace_path is None


def test_spec_width_mismatch_is_a_build_error(add_design, cache_dir):
    verilog, _ = add_design
    bad = DesignSpec("add_kernel", (MemSpec("A", 32, 16), MemSpec("B", 32, 32)),
                     (PortSpec("inc", 32),), (PortSpec("sum", 32),))
    with pytest.raises(BuildError, match=r"(?s)B__haddr.*expects 4 bits.*generates 5 bits.*hint: a port of the "
                                         r"DesignSpec does not match"):
        build(verilog, bad, cache_dir=cache_dir)


def test_missing_port_is_a_build_error(add_design, cache_dir):
    verilog, _ = add_design
    bad = DesignSpec("add_kernel", (MemSpec("A", 32, 16),), (PortSpec("inc", 32), PortSpec("scale", 8)), ())
    with pytest.raises(BuildError, match=r"(?s)Pin not found: 'scale'"):
        build(verilog, bad, cache_dir=cache_dir)


def test_verilog_error_is_a_build_error(cache_dir):
    with pytest.raises(BuildError, match=r"(?s)verilator failed.*syntax error"):
        build("module broken(input clk; endmodule\n", DesignSpec("broken"), cache_dir=cache_dir)


def test_parallel_builders_share_one_entry(cache_dir):
    """Two concurrent builds of one design (as pytest-xdist workers would do) publish one entry."""
    verilog = sweep_verilog([(8, 2)])
    spec = sweep_spec([(8, 2)])
    with ThreadPoolExecutor(2) as pool:
        builds = list(pool.map(lambda _: build(verilog, spec, cache_dir=cache_dir), range(2)))
    assert builds[0].executable == builds[1].executable
    assert sorted(b.cached for b in builds) == [False, True]
    assert run(builds[0], {"M8": [1, 2]}, {"si8": 3}).memories["M8"].tolist() == [254, 253]
    assert not list(cache_dir.glob(f".tmp-{builds[0].key[:12]}-*"))  # no leftover build dir


def test_progress_messages(cache_dir):
    messages = []
    build(sweep_verilog([(3, 2)]), sweep_spec([(3, 2)]), cache_dir=cache_dir, progress=messages.append)
    assert messages[0] == "verilator: verilating sweep ..."
    assert messages[1].startswith("verilator: compiling C++")
    assert messages[-1].startswith("verilator: built sweep in ")
