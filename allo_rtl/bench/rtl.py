"""RTL benchmark of the bundled designs (``python -m allo_rtl bench``).

For every design in ``designs/`` (see ``designs/__init__.py`` for the module
convention) at its quick size (``--full``: its full size):

1. **lower**: ``design.schedule(size)`` + ``s.build()`` (frontend, lowering to
   Amaranth, Verilog emission), wall time.
2. **build**: ``mod.compile()``, the Verilator build of the harness executable;
   ``cached`` when the content-keyed cache already had it, ``cold`` otherwise
   (``--cold`` uses a fresh cache seeded only with Verilator's precompiled
   runtime library, so every design build is cold).
3. **check**: one call on ``design.make_inputs(rng)``: exact cycles (start to
   done), and PASS when the outputs (results and arrays updated in place) equal
   the interpreter's (``target="sim"``) bit for bit.
4. **rate**: the same design with its computation repeated ``reps`` times
   (``design.schedule(size, reps)``; ``reps = ceil(rate_cycles / cycles)``, so the
   run lasts about ``--rate-cycles`` kernel cycles on the same small memories) is
   run through the harness (fastest of ``--rate-runs``): ``sim rate = kernel cycles / wall seconds`` of
   the simulation process (start-up, memory load and readback included). The
   **native** rate runs the same Verilog (same harness shim, Verilator flags and
   compiler options) in a bare C++ loop (``clk=0; eval; clk=1; eval``, no
   checks, no memory load/readback, all inputs zero) for exactly the same number
   of cycles, using the loop of :mod:`testbench.bench_native`; that ``done`` is
   high in its last cycle proves it simulated the same kernel run. ``ratio`` =
   sim rate / native rate (goal >= 0.5).
5. **warm**: a fresh ``design.schedule()`` + ``s.build()`` + one call at the quick
   size with the Verilator build cached: what a user pays to re-run a design
   (goal < 1.5 s).
6. with ``--synth``: Yosys + nextpnr (:func:`allo_rtl.synth.synthesize`) on the
   checked design (wrapper with its argument memories): LUT/FF/DSP/BRAM, Fmax,
   and the latency ``cycles / Fmax`` in microseconds.

Efficiency = ideal cycles / measured cycles, the ideal being the design's own
(for the sequential baselines: one inner-loop iteration per cycle).
Wall-clock numbers depend on the machine and its load; cycle counts are exact.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..table import markdown_table

__all__ = ["DESIGNS_DIR", "DesignRow", "BareBuild", "list_designs", "load_design", "build_bare", "run_bare",
           "seed_cache", "bench_design", "run_bench", "format_table", "add_arguments", "main"]

#: the bundled designs
DESIGNS_DIR = Path(__file__).resolve().parents[2] / "designs"

#: default kernel cycles of the simulation-rate run
DEFAULT_RATE_CYCLES = 10_000_000

#: bumped when the bare-loop sources or build change (part of its cache key)
BARE_VERSION = 1

Progress = Callable[[str], None] | None

_REQUIRED = ("schedule", "make_inputs")


# --------------------------------------------------------------------------- designs

def list_designs(directory: str | os.PathLike[str] | None = None) -> list[Path]:
    """The design files of ``directory`` (default ``designs/``), sorted by name."""
    d = Path(directory) if directory is not None else DESIGNS_DIR
    return sorted(p for p in d.glob("*.py") if not p.name.startswith("_"))


def load_design(name_or_path: str | os.PathLike[str]):
    """Import a design module by name (``"vadd"``: ``designs/vadd.py``) or file path.

    Raises:
        ValueError: no such design, or it does not follow the convention.
    """
    p = Path(name_or_path)
    if p.suffix != ".py":
        p = DESIGNS_DIR / f"{p.name}.py"
    if not p.is_file():
        known = ", ".join(x.stem for x in list_designs())
        raise ValueError(f"no design {str(name_or_path)!r} (bundled: {known})")
    spec = importlib.util.spec_from_file_location(f"allo_rtl_bench_design_{p.stem}", p)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    missing = [a for a in _REQUIRED if not hasattr(mod, a)]
    if not (hasattr(mod, "ideal_cycles") or hasattr(mod, "IDEAL_CYCLES")):
        missing.append("ideal_cycles or IDEAL_CYCLES")
    if missing:
        raise ValueError(f"design {p} lacks {', '.join(missing)} (see designs/__init__.py)")
    mod.BENCH_NAME = p.stem
    return mod


def _sizes(design) -> dict:
    return getattr(design, "SIZES", None) or {"quick": None}


def _size(design, full: bool):
    sizes = _sizes(design)
    return sizes.get("full", sizes.get("quick")) if full else sizes.get("quick")


def _schedule(design, size, reps: int = 1):
    if size is None and reps == 1:
        return design.schedule()
    kw = {"reps": reps} if reps != 1 else {}
    return design.schedule(size, **kw)


def schedule_text(s) -> str:
    """The customizations applied to schedule ``s``, e.g. ``reorder(k, j) + pipeline(j)``
    (``-`` for none)."""
    def arg(a):
        if isinstance(a, (list, tuple)):
            return ", ".join(arg(x) for x in a)
        return getattr(a, "loop", None) or getattr(a, "name", None) or str(a)

    defaults = {"initiation_interval": 1, "rewind": False}
    kinds = {0: "Complete", 1: "Block", 2: "Cyclic"}  # allo_rtl.Partition
    parts = []
    for prim, args, kwargs in s.primitive_sequences:
        items = [arg(a) for a in args]
        for k, v in kwargs.items():
            if k == "partition_type":
                items.append(kinds.get(v, str(v)))
            elif defaults.get(k, object()) != v:
                items.append(f"{k}={arg(v)}")
        parts.append(f"{prim}({', '.join(items)})")
    return " + ".join(parts) or "-"


def _ideal(design, size) -> int:
    if hasattr(design, "ideal_cycles"):
        return int(design.ideal_cycles(size) if size is not None else design.ideal_cycles())
    return int(design.IDEAL_CYCLES)


def _inputs(design, size, seed: int):
    rng = np.random.default_rng(seed)
    return tuple(design.make_inputs(rng, size) if size is not None else design.make_inputs(rng))


# --------------------------------------------------------------------------- bare Verilator loop

@dataclass(frozen=True)
class BareBuild:
    """A bare-loop executable: ``executable N`` runs N kernel cycles and prints ``done``."""

    executable: Path
    cached: bool
    seconds: float


def build_bare(verilog: str, spec, *, cache_dir: str | os.PathLike[str] | None = None,
               progress: Progress = None) -> BareBuild:
    """Build (cached by content) the bare C++ loop of :mod:`testbench.bench_native` for a design.

    The model is verilated exactly like the native harness's (same shim top,
    ``--prefix``, Verilator flags, make options, and the same precompiled runtime
    library), so the only difference is the ``main`` loop.
    """
    from testbench import _cache, native
    from testbench._harness import SHIM_TOP, shim_verilog
    from testbench.bench_native import _BARE_MAIN
    from testbench.errors import BuildError, log_tail
    from testbench.toolchain import find_cxx, find_make, find_verilator, run_command, verilator_env

    t0 = time.perf_counter()
    tool, cxx, make = find_verilator(), find_cxx(), find_make()
    root = (Path(cache_dir) if cache_dir is not None else _cache.cache_root() / "verilator").resolve()
    main_cpp = _BARE_MAIN.format(top=SHIM_TOP, setup="")
    key = _cache.content_key("bench-bare", BARE_VERSION, verilog, spec.to_json(), main_cpp, tool.root,
                             tool.version, cxx.argv, cxx.version, native._VERILATOR_FLAGS, native.make_opt(),
                             native._env_flags())
    entry = root / f"bare-{key}"
    exe = entry / "bare"
    if exe.is_file():
        return BareBuild(exe, True, time.perf_counter() - t0)
    with _cache.file_lock(root / f"bare-{key}.lock"):
        if exe.is_file():
            return BareBuild(exe, True, time.perf_counter() - t0)
        if progress:
            progress(f"building the bare Verilator loop of {spec.top} ...")
        tmp = _cache.private_dir(root, f".tmp-bare-{key[:12]}-")
        try:
            env = verilator_env()
            (tmp / "dut.v").write_text(verilog if verilog.endswith("\n") else verilog + "\n")
            (tmp / "shim.v").write_text(shim_verilog(spec))
            (tmp / "bare.cpp").write_text(main_cpp)
            (tmp / "waivers.vlt").write_text('`verilator_config\nlint_off -file "*/dut.v"\n')
            obj, prefix = tmp / "obj", f"V{SHIM_TOP}"
            proc = run_command([*tool.argv, *native._VERILATOR_FLAGS, "--top-module", SHIM_TOP,
                                "--prefix", prefix, "--Mdir", str(obj), "-o", "bare", str(tmp / "waivers.vlt"),
                                str(tmp / "dut.v"), str(tmp / "shim.v"), str(tmp / "bare.cpp")], cwd=tmp, env=env)
            if proc.returncode != 0:
                raise BuildError(f"verilator failed for the bare loop of {spec.top}:\n{log_tail(proc.stdout)}")
            native._runtime.restore(root / f"runtime-{native._runtime_key(None)}", obj, prefix)
            jobs = min(4, os.cpu_count() or 1)
            proc = run_command([*make.argv, "-C", str(obj), "-f", f"{prefix}.mk", f"-j{jobs}", *native.make_opt(),
                                f"CXX={' '.join(cxx.argv)}", f"LINK={' '.join(cxx.argv)}",
                                f"PYTHON3={sys.executable}", "USER_LDLIBS=-pthread"], cwd=obj, env=env)
            if proc.returncode != 0 or not (obj / "bare").is_file():
                raise BuildError(f"C++ build of the bare loop of {spec.top} failed:\n{log_tail(proc.stdout)}")
            os.replace(obj / "bare", tmp / "bare")
            shutil.rmtree(obj, ignore_errors=True)
            tmp.chmod(0o755)
            _cache.publish_dir(tmp, entry)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return BareBuild(exe, False, time.perf_counter() - t0)


def run_bare(build: BareBuild, cycles: int) -> tuple[float, bool]:
    """Run ``cycles`` kernel cycles in the bare loop: (wall seconds, ``done`` high in the last cycle)."""
    from testbench.errors import SimulationError
    from testbench.toolchain import run_command

    t0 = time.perf_counter()
    proc = run_command([str(build.executable), str(cycles)])
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SimulationError(f"bare loop failed (exit {proc.returncode}): {proc.stdout[-500:]}")
    return seconds, proc.stdout.strip().splitlines()[-1:] == ["1"]


def seed_cache(cache_dir: str | os.PathLike[str]) -> Path:
    """Create ``cache_dir`` as a fresh Verilator cache holding only the user cache's
    precompiled runtime library (if any), so design builds in it are cold but do
    not recompile Verilator's runtime."""
    from testbench import _cache, native

    root = Path(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    name = f"runtime-{native._runtime_key(None)}"
    src = _cache.cache_root() / "verilator" / name
    if src.is_dir() and not (root / name).exists():
        shutil.copytree(src, root / name)
    return root


# --------------------------------------------------------------------------- one design

@dataclass
class DesignRow:
    """Measurements of one design (times in seconds, rates in kernel cycles per second)."""

    design: str
    size: Any = None
    top: str = ""
    check: str = "ERROR"  # PASS / FAIL / ERROR
    error: str | None = None
    cycles: int | None = None
    ideal_cycles: int | None = None
    efficiency: float | None = None
    ii: str = "-"  # requested/achieved II of the user's pipelined loops ("-": none)
    lower_s: float | None = None
    lower_detail: dict = field(default_factory=dict)
    build_s: float | None = None
    build_cached: bool | None = None
    sim_call_s: float | None = None
    interp_s: float | None = None
    rate_reps: int | None = None
    rate_cycles: int | None = None
    rate_sim_s: float | None = None
    sim_rate: float | None = None
    native_s: float | None = None
    native_rate: float | None = None
    native_done: bool | None = None
    rate_ratio: float | None = None
    warm_s: float | None = None
    warm_cached: bool | None = None
    synth: dict | None = None
    schedule: str = "-"  # the customizations applied (schedule_text)


def bench_design(design, *, full: bool = False, rate_cycles: int = DEFAULT_RATE_CYCLES, rate_runs: int = 3,
                 synth: bool = False, device: str = "ecp5-85k", cache_dir=None, seed: int = 0,
                 progress: Progress = None, tool_progress: bool = False) -> DesignRow:
    """Benchmark one loaded design module (see the module docstring for the steps).

    ``rate_cycles=0`` skips the rate measurement; the harness and the bare loop
    each run ``rate_runs`` times and the fastest run counts (the machine is shared). Exceptions of a step become
    ``row.check = "ERROR"`` with ``row.error``; the row is returned either way.
    """
    name = getattr(design, "BENCH_NAME", design.__name__)
    say = (lambda m: progress(f"{name}: {m}")) if progress else (lambda m: None)
    size = _size(design, full)
    row = DesignRow(name, size)
    build_kw = {"cache_dir": cache_dir, "progress": tool_progress,
                "clock_mhz": getattr(design, "CLOCK_MHZ", None)}
    try:
        say(f"lowering (size {size}) ...")
        t0 = time.perf_counter()
        s = _schedule(design, size)
        mod = s.build(target="rtl", **build_kw)
        row.lower_s = time.perf_counter() - t0
        row.lower_detail = {k: round(v, 4) for k, v in mod.design.seconds.items()}
        row.top = s.top_func_name
        row.schedule = schedule_text(s)
        row.ii = _ii_text(mod.design)
        say("Verilator build ...")
        nb = mod.compile()
        row.build_s, row.build_cached = nb.seconds, nb.cached
        inputs = _inputs(design, size, seed)
        say("simulating and checking against the interpreter ...")
        args_rtl, args_ref = copy.deepcopy(inputs), copy.deepcopy(inputs)
        t0 = time.perf_counter()
        out_rtl = mod(*args_rtl)
        row.sim_call_s = time.perf_counter() - t0
        row.cycles = int(mod.last_cycles)
        t0 = time.perf_counter()
        out_ref = s.build(target="sim")(*args_ref)
        row.interp_s = time.perf_counter() - t0
        from ..rtl import outputs_equal

        ok = outputs_equal(out_rtl, out_ref) and all(outputs_equal(x, y) for x, y in zip(args_rtl, args_ref))
        row.check = "PASS" if ok else "FAIL"
        row.ideal_cycles = _ideal(design, size)
        row.efficiency = row.ideal_cycles / row.cycles

        if rate_cycles > 0:
            reps = max(1, math.ceil(rate_cycles / row.cycles))
            say(f"rate run: {reps} repetition(s) ...")
            rmod = mod if reps == 1 else _schedule(design, size, reps).build(target="rtl", **build_kw)
            rmod.max_cycles = max(rmod.max_cycles, 4 * reps * row.cycles + 1000)
            times = []
            for _ in range(max(1, rate_runs)):
                rmod(*copy.deepcopy(inputs))
                times.append(rmod.last_run.seconds)
            row.rate_reps, row.rate_cycles = reps, int(rmod.last_cycles)
            row.rate_sim_s = min(times)
            row.sim_rate = row.rate_cycles / row.rate_sim_s
            bare = build_bare(rmod.verilog, rmod.spec, cache_dir=cache_dir, progress=say)
            say("bare Verilator loop ...")
            runs = [run_bare(bare, row.rate_cycles) for _ in range(max(1, rate_runs))]
            row.native_s = min(t for t, _ in runs)
            row.native_done = all(d for _, d in runs)
            row.native_rate = row.rate_cycles / row.native_s
            row.rate_ratio = row.sim_rate / row.native_rate

        quick = _sizes(design).get("quick")
        quick_inputs = inputs if quick == size else _inputs(design, quick, seed)
        if quick != size:
            say("building the quick size for the warm measurement ...")
            _schedule(design, quick).build(target="rtl", **build_kw).compile()
        say("warm s.build() + call ...")
        t0 = time.perf_counter()
        wmod = _schedule(design, quick).build(target="rtl", cache_dir=cache_dir,
                                              clock_mhz=build_kw["clock_mhz"])
        wmod(*copy.deepcopy(quick_inputs))
        row.warm_s = time.perf_counter() - t0
        row.warm_cached = wmod.compile().cached

        if synth:
            say(f"synthesis for {device} (Yosys + nextpnr; minutes when not cached) ...")
            row.synth = _synth(mod, row.cycles, device, say)
    except Exception as exc:  # report and go on with the other designs
        row.check = "ERROR" if row.check != "FAIL" else "FAIL"
        row.error = f"{type(exc).__name__}: {exc}"
        say(f"error: {row.error}")
    return row


def _synth(mod, cycles: int, device: str, say) -> dict:
    from ..synth import SynthError, synthesize

    try:
        rep = synthesize(mod.verilog, mod.spec.top, device, progress=say)
    except (SynthError, ValueError) as exc:  # DeviceTooSmall is a SynthError
        return {"device": device, "error": f"{type(exc).__name__}: {exc}"}
    out = {"device": rep.device, "cached": rep.cached, "fmax_mhz": rep.fmax_mhz,
           "latency_us": cycles / rep.fmax_mhz if rep.fmax_mhz else None}
    for c in ("LUT", "FF", "DSP", "BRAM"):
        out[c] = int(rep.total.get(c, 0))
    return out


# --------------------------------------------------------------------------- all designs, table

def run_bench(names=None, *, full: bool = False, rate_cycles: int = DEFAULT_RATE_CYCLES, rate_runs: int = 3,
              synth: bool = False,
              device: str = "ecp5-85k", cache_dir=None, seed: int = 0, progress: Progress = None,
              tool_progress: bool = False) -> list[DesignRow]:
    """Benchmark the named designs (default: every design in ``designs/``)."""
    paths = [Path(n) for n in names] if names else list_designs()
    rows = []
    for p in paths:
        design = load_design(p)
        rows.append(bench_design(design, full=full, rate_cycles=rate_cycles, rate_runs=rate_runs, synth=synth,
                                 device=device, cache_dir=cache_dir, seed=seed, progress=progress,
                                 tool_progress=tool_progress))
    return rows


def _f(x, fmt: str, none: str = "-") -> str:
    return none if x is None else format(x, fmt)


def _ii_text(design) -> str:
    """``requested/achieved`` II of the user's pipelined loops (generated copy loops
    excluded), e.g. ``1/1``; several loops are comma-separated."""
    out = []
    for lf in design.funcs.values():
        for p in lf.pipelines:
            if not p.pipe.name.startswith("__") and not p.pipe.levels[-1].attrs.get("auto"):
                out.append(f"{p.requested}/{p.ii}")
    return ",".join(out) or "-"


def _size_text(size) -> str:
    return "-" if size is None else str(size)


COLUMNS = ["design", "schedule", "size", "II req/got", "cycles", "ideal", "eff", "lower s", "build s", "sim Mcyc/s",
           "native Mcyc/s", "ratio", "warm s", "RTL=interp"]
SYNTH_COLUMNS = ["LUT", "FF", "DSP", "BRAM", "Fmax MHz", "µs @Fmax"]


def format_table(rows: list[DesignRow], synth: bool = False) -> str:
    """A Markdown table of the rows (synthesis columns when ``synth``), with footnotes."""
    head = COLUMNS + (SYNTH_COLUMNS if synth else [])
    body = []
    for r in rows:
        build = "-" if r.build_s is None else f"{r.build_s:.2f} {'cached' if r.build_cached else 'cold'}"
        cells = [r.design, r.schedule, _size_text(r.size), r.ii, _f(r.cycles, ","), _f(r.ideal_cycles, ","), _f(r.efficiency, ".3f"),
                 _f(r.lower_s, ".2f"), build, _f(r.sim_rate and r.sim_rate / 1e6, ".1f"),
                 _f(r.native_rate and r.native_rate / 1e6, ".1f"), _f(r.rate_ratio, ".2f"), _f(r.warm_s, ".2f"),
                 r.check]
        if synth:
            sy = r.synth or {}
            cells += [_f(sy.get("LUT"), ","), _f(sy.get("FF"), ","), _f(sy.get("DSP"), "d"),
                      _f(sy.get("BRAM"), "d"), _f(sy.get("fmax_mhz"), ".1f"), _f(sy.get("latency_us"), ".1f")]
        body.append(cells)
    out = markdown_table(head, body, right=set(range(2, len(COLUMNS) - 1)) | set(range(len(COLUMNS), len(head))))
    notes = []
    for r in rows:
        if r.rate_reps:
            note = (f"{r.design}: rate run = {r.rate_reps} repetition(s), {r.rate_cycles:,} cycles, "
                    f"harness {r.rate_sim_s:.3f} s, bare loop {r.native_s:.3f} s (fastest of each)")
            if r.rate_sim_s < 0.2:
                note += " (short run: raise --rate-cycles for a steadier rate)"
            if not r.native_done:
                note += " (WARNING: bare loop did not end with done: cycles depend on the data?)"
            notes.append(note)
        if r.error:
            notes.append(f"{r.design}: {r.error.splitlines()[0]}")
        if r.synth and r.synth.get("error"):
            notes.append(f"{r.design}: synthesis: {r.synth['error'].splitlines()[0]}")
    out.append("")
    out.append("II req/got = requested/achieved initiation interval of each pipelined loop "
               "(- = no pipeline); "
               "eff = ideal / cycles (ideal: one inner-loop iteration per cycle); lower = schedule() + "
               "s.build() (frontend, lowering, Verilog); build = Verilator build of the harness; "
               "sim = harness rate on a long run, native = bare C++ clk/eval loop on the same Verilog, "
               "ratio goal >= 0.5; warm = schedule() + s.build() + one call with the build cached "
               "(goal < 1.5 s).")
    out += notes
    return "\n".join(out)


def plot_cycles(rows: list[DesignRow], path) -> None:
    """A bar chart of measured vs ideal cycles per design (log scale) written to ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("bench --plot needs matplotlib: pip install 'allo_rtl[plot]' "
                         "(or pip install matplotlib)") from None
    rows = [r for r in rows if r.cycles]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows) + 2), 4))
    ax.bar(x - 0.2, [r.cycles for r in rows], 0.4, label="measured")
    ax.bar(x + 0.2, [r.ideal_cycles or 0 for r in rows], 0.4, label="ideal")
    for i, r in enumerate(rows):
        if r.efficiency:
            ax.annotate(f"{r.efficiency:.2f}", (i - 0.2, r.cycles), ha="center", va="bottom",
                        fontsize=8)
    ax.set_xticks(x, [r.design for r in rows], rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("cycles")
    ax.set_title("allo_rtl bench: measured vs ideal cycles (labels: efficiency)")
    ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- command line

def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``python -m allo_rtl bench``."""
    p.add_argument("designs", nargs="*", metavar="DESIGN",
                   help="design names in designs/ (e.g. vadd) or paths to design files; default: all")
    p.add_argument("--full", action="store_true", help="use each design's full size (SIZES['full']) "
                   "instead of the quick one")
    p.add_argument("--synth", action="store_true", help="also synthesize and place & route each design "
                   "(LUT/FF/DSP/BRAM, Fmax, latency at Fmax); slow the first time, then cached")
    p.add_argument("--device", default="ecp5-85k", help="synthesis device for --synth (default ecp5-85k: "
                   "the only one with Fmax)")
    p.add_argument("--rate-cycles", type=int, default=DEFAULT_RATE_CYCLES, metavar="N",
                   help=f"kernel cycles of the simulation-rate run (default {DEFAULT_RATE_CYCLES:,}; 0 skips "
                   "the rate and native-loop measurement)")
    p.add_argument("--rate-runs", type=int, default=3, metavar="K",
                   help="runs of the harness and of the bare loop in the rate measurement; the fastest of each "
                   "counts (default 3)")
    p.add_argument("--cold", action="store_true", help="build in a fresh Verilator cache (seeded only with "
                   "Verilator's runtime library), so build times are cold")
    p.add_argument("--cache-dir", metavar="DIR", help="Verilator build cache to use (default: the user cache, "
                   "~/.cache/allo_rtl/verilator)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--json", metavar="PATH", help="where to write the JSON results (default bench.json in the "
                   "current directory, or in -o DIR)")
    p.add_argument("-o", "--output", metavar="DIR", help="directory for bench.json")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages on stderr")
    p.add_argument("--plot", nargs="?", const="bench.png", metavar="PNG",
                   help="also draw measured vs ideal cycles per design into PNG (default bench.png, "
                   "in -o DIR if given; needs matplotlib: pip install 'allo_rtl[plot]')")
    p.add_argument("--units", action="store_true", help="instead of the designs: synthesize every "
                   "arithmetic unit (primitives/float, primitives/int) per format and latency and print "
                   "LUT/FF/DSP/Fmax on --device (see allo_rtl/bench/units.py; JSON to units.json)")
    p.add_argument("--units-filter", metavar="SUBSTR", help="with --units (implied): only units whose "
                   "label ('FPAdd binary32 l11', 'FPMul binary16 default') contains SUBSTR "
                   "(case-insensitive; several separated by commas)")


def main(args: argparse.Namespace) -> int:
    """Run the benchmark for parsed ``args`` (see :func:`add_arguments`); print the table, write JSON."""
    if getattr(args, "units", False) or getattr(args, "units_filter", None):
        from .units import main as units_main

        return units_main(args)
    def progress(msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    prog = None if args.quiet else progress
    tmp = None
    cache_dir = args.cache_dir
    if args.cold:
        tmp = tempfile.mkdtemp(prefix="allo_rtl_bench_cold_")
        cache_dir = str(seed_cache(Path(tmp) / "verilator"))
    try:
        t0 = time.perf_counter()
        rows = run_bench(args.designs or None, full=args.full, rate_cycles=args.rate_cycles,
                         rate_runs=args.rate_runs, synth=args.synth,
                         device=args.device, cache_dir=cache_dir, seed=args.seed, progress=prog,
                         tool_progress=not args.quiet)
        total = time.perf_counter() - t0
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(format_table(rows, synth=args.synth))
    path = Path(args.json) if args.json else Path(args.output or ".") / "bench.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "mode": "full" if args.full else "quick",
        "rate_cycles": args.rate_cycles,
        "rate_runs": args.rate_runs,
        "cold": bool(args.cold),
        "synth_device": args.device if args.synth else None,
        "seed": args.seed,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "total_seconds": round(total, 3),
        "columns": COLUMNS + (SYNTH_COLUMNS if args.synth else []),
        "designs": [asdict(r) for r in rows],
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"results: {path}")
    if args.plot:
        png = Path(args.plot) if args.output is None or os.path.isabs(args.plot) else \
            Path(args.output) / args.plot
        plot_cycles(rows, png)
        print(f"plot: {png}")
    return 0 if rows and all(r.check == "PASS" for r in rows) else 1
