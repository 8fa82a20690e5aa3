"""Command line: ``python -m allo_rtl {doctor,build,bench-interp,...}``."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time

import numpy as np

from .errors import AlloError

__all__ = ["main"]

DEFAULT_DESIGN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "designs", "gemm.py")


def _load_design(path: str, top: str | None):
    spec = importlib.util.spec_from_file_location("allo_rtl_user_design", path)
    if spec is None or spec.loader is None:
        raise AlloError(f"cannot load design file {path!r}", hint="pass a Python file defining a kernel")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    if top:
        fn = getattr(mod, top, None)
        if fn is None:
            raise AlloError(f"{path} has no function {top!r}", hint="check --top")
        return mod, fn
    if hasattr(mod, "TOP"):
        return mod, mod.TOP
    raise AlloError(f"{path} does not say which kernel is the top", hint="pass --top NAME or define TOP = kernel")


def _design_schedule(args):
    """(path, schedule) of the design named by FILE/--top: its ``schedule()`` if it has one
    and no --top was given, else ``customize`` of the chosen kernel."""
    from .customize import customize

    path = args.file or DEFAULT_DESIGN
    mod, fn = _load_design(path, args.top)
    if getattr(args, "clock_mhz", None) is None:  # the design's own target clock, if any
        args.clock_mhz = getattr(mod, "CLOCK_MHZ", None)
    return path, (mod.schedule() if (not args.top and hasattr(mod, "schedule")) else customize(fn))


def _add_design_arguments(p) -> None:
    p.add_argument("file", nargs="?", help="Python file with the kernel (default: designs/gemm.py)")
    p.add_argument("--top", help="name of the top kernel function in FILE")
    p.add_argument("-o", "--output", default="out", help="output directory (default: ./out)")
    p.add_argument("--clock-mhz", type=float, default=None,
                   help="target clock the schedulers budget for (default: the file's CLOCK_MHZ "
                        "if it defines one, else 120 MHz; e.g. 180 for int8 datapaths)")


def _random_inputs(func, rng):
    """Random arguments for ``func``; a dynamic array (T[...]) gets as many elements as the
    wrapper holds before it is sized by a call (sizes are random scalars below that)."""
    from .ir.numerics import numpy_dtype
    from .ir.types import Float, Fixed, UFixed, is_dynamic
    from .lower.dynamic import DEFAULT_HOST_DEPTH

    args = []
    for p in func.params:
        shape = (DEFAULT_HOST_DEPTH,) if is_dynamic(p.shape) else p.shape or (1,)
        if isinstance(p.type, (Float, Fixed, UFixed)):
            a = rng.uniform(-4, 4, shape).astype(numpy_dtype(p.type))
        else:
            a = rng.integers(-100, 100, shape).astype(numpy_dtype(p.type))
        args.append(a if p.shape else a.reshape(()).item())
    return args


def cmd_doctor(args) -> int:
    from testbench import doctor, format_doctor

    statuses = doctor()
    print(format_doctor(statuses))
    return 0 if all(s.found for s in statuses) else 1


def _markdown_report(rep: dict) -> str:
    lines = [f"# {rep['top']} — allo_rtl build report", "",
             f"Design file: `{rep['design']}`  ", f"Verilog: `{rep['verilog']}` "
             f"({rep['verilog_lines']} lines, module `{rep['module']}`)", "",
             "## Ports", "", "| port | kind | type | shape |", "|---|---|---|---|"]
    for p in rep["ports"]:
        lines.append(f"| {p['name']} | {p['kind']} | {p['type']} | {p['shape']} |")
    lines += ["", "## Memories (top-level wrapper)", "", "| memory | width | depth |", "|---|---|---|"]
    for m in rep["hardware"]["memories"]:
        lines.append(f"| {m['name']} | {m['width']} | {m['depth']} |")
    lines += ["", "## Components", "", "| function | FSM states | calls | local memories |",
              "|---|---|---|---|"]
    for f in rep["hardware"]["functions"]:
        mems = ", ".join(f"{m['name']} ({m['kind']}, {m['width']}x{m['depth']})"
                         for m in f["local_memories"]) or "-"
        lines.append(f"| {f['name']} | {f['states']} | {', '.join(f['calls']) or '-'} | {mems} |")
    loops = rep["hardware"].get("loops", [])
    if loops:
        lines += ["", "## Loops", "", "| function | loop | trip | invocations | II requested | "
                  "II achieved | depth | predicted cycles | note |", "|---|---|---|---|---|---|---|---|---|"]
        for r in loops:
            vals = [r["function"], r["loop"], r["trip"], r["invocations"], r["requested_ii"],
                    r["ii"], r["depth"], r["cycles"], r["note"]]
            lines.append("| " + " | ".join("-" if v in (None, "") else str(v) for v in vals) + " |")
    if rep.get("simulation"):
        sim = rep["simulation"]
        lines += ["", "## Simulation (random inputs)", "",
                  f"- cycles (start to done): **{sim['cycles']}**",
                  f"- RTL vs interpreter: **{sim['result']}**",
                  f"- Verilator build: {sim['verilator_build_s']:.2f} s"
                  f"{' (cached)' if sim['cached'] else ''}"]
        if sim.get("waveform"):
            lines.append(f"- waveform: `{sim['waveform']}`")
    return "\n".join(lines) + "\n"


def cmd_build(args) -> int:
    from .rtl import RTLModule, outputs_equal

    t0 = time.perf_counter()
    path, s = _design_schedule(args)
    t_parse = time.perf_counter() - t0
    os.makedirs(args.output, exist_ok=True)
    top = s.top_func_name
    ir_path = os.path.join(args.output, f"{top}.ir.txt")
    with open(ir_path, "w") as f:
        f.write(str(s.module))
    nsteps = 4 if args.sim else 3
    print(f"[1/{nsteps}] parsed {os.path.relpath(path)} -> {top} "
          f"({len(s.module.funcs)} function(s), {t_parse * 1e3:.0f} ms); IR: {ir_path}")
    t0 = time.perf_counter()
    trace = os.path.join(args.output, f"{top}.fst") if args.trace else False
    rtl = RTLModule(s.module, trace=trace, progress=True, clock_mhz=args.clock_mhz)
    t_lower = time.perf_counter() - t0
    vpath = os.path.join(args.output, f"{rtl.spec.top}.v")
    with open(vpath, "w") as f:
        f.write(rtl.verilog)
    print(f"[2/{nsteps}] lowered to Amaranth and Verilog in {t_lower:.2f} s: {vpath} "
          f"({rtl.verilog.count(chr(10))} lines)")
    hw = rtl.design.summary()
    ports = []
    for p in s.top_func.params:
        ports.append({"name": p.name, "kind": "memory" if p.is_tensor else "scalar in",
                      "type": str(p.type), "shape": list(p.shape)})
    for k, r in enumerate(s.top_func.results):
        ports.append({"name": f"ret{k}", "kind": "memory (result)" if r.is_tensor else "scalar out",
                      "type": str(r.type), "shape": list(r.shape)})
    report = {"design": path, "top": top, "module": rtl.spec.top, "verilog": vpath,
              "verilog_lines": rtl.verilog.count("\n"), "ports": ports, "hardware": hw,
              "seconds": {"parse": t_parse, "lower": t_lower}}
    status = 0
    if args.sim:
        rng = np.random.default_rng(0)
        inputs = _random_inputs(s.top_func, rng)
        ref_in = [np.copy(a) if isinstance(a, np.ndarray) else a for a in inputs]
        print(f"[3/{nsteps}] building the Verilator simulation ...")
        rtl.compile()
        ref = s.build(target="sim")(*ref_in)
        out = rtl(*inputs)
        same = outputs_equal(ref, out) and all(
            outputs_equal(x, y) for x, y in zip(ref_in, inputs) if isinstance(x, np.ndarray))
        result = "PASS" if same else "FAIL"
        status = 0 if same else 1
        print(f"      simulated {rtl.last_cycles} cycles; RTL vs interpreter: {result}")
        report["simulation"] = {"cycles": rtl.last_cycles, "result": result,
                                "verilator_build_s": rtl.build_seconds,
                                "cached": bool(rtl._build.cached),
                                "waveform": rtl.trace_path if args.trace else None}
    elif args.trace:
        print("      (--trace needs --sim: nothing is simulated without it)")
    print(rtl.design.schedule_report(rtl.last_cycles))
    rpath = os.path.join(args.output, f"{top}.report.json")
    with open(rpath, "w") as f:
        json.dump(report, f, indent=2, default=str)
    mpath = os.path.join(args.output, f"{top}.report.md")
    with open(mpath, "w") as f:
        f.write(_markdown_report(report))
    print(f"[{nsteps}/{nsteps}] reports: {rpath}, {mpath}")
    return status


def cmd_report(args) -> int:
    from .rtl import RTLModule
    from .synth import DeviceTooSmall, SynthError, synthesize

    path, s = _design_schedule(args)
    rtl = RTLModule(s.module, clock_mhz=args.clock_mhz)
    os.makedirs(args.output, exist_ok=True)
    vpath = os.path.join(args.output, f"{rtl.spec.top}.v")
    with open(vpath, "w") as f:
        f.write(rtl.verilog)
    print(f"[1/2] {os.path.relpath(path)} -> {vpath}", file=sys.stderr)

    def progress(msg):
        print(f"[2/2] {msg}", file=sys.stderr, flush=True)

    try:
        rep = synthesize(rtl.verilog, rtl.spec.top, args.device, progress=progress)
    except DeviceTooSmall as e:
        print(f"error: {s.top_func_name} does not fit {args.device}: {e}", file=sys.stderr)
        return 3
    except SynthError as e:
        print(f"error: synthesis failed: {e}", file=sys.stderr)
        return 3
    base = os.path.join(args.output, f"{s.top_func_name}.{args.device}")
    with open(base + ".synth.json", "w") as f:
        f.write(rep.to_json())
    with open(base + ".synth.md", "w") as f:
        f.write(rep.to_markdown())
    print(rep.to_markdown())
    print(f"reports: {base}.synth.json, {base}.synth.md", file=sys.stderr)
    return 0


def cmd_bench_interp(args) -> int:
    from .bench.interp import main as bench_main

    return bench_main()


def cmd_bench(args) -> int:
    from .bench.rtl import main as bench_main

    return bench_main(args)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m allo_rtl",
                                description="Allo-compatible Python kernels + schedules -> RTL.")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("doctor", help="show the toolchain (Verilator, Yosys, nextpnr, g++) and how to fix gaps")
    d.set_defaults(func=cmd_doctor)
    b = sub.add_parser("build", help="lower a design to Verilog and write reports (default: the "
                                     "bundled int32 GEMM in designs/gemm.py)",
                       description="Parse the kernel, lower it to Amaranth/Verilog, and write "
                                   "<top>.ir.txt, <module>.v, <top>.report.json and "
                                   "<top>.report.md to the output directory.")
    _add_design_arguments(b)
    b.add_argument("--sim", action="store_true",
                   help="also simulate the Verilog on random inputs (Verilator) and check it "
                        "against the interpreter; prints the cycle count")
    b.add_argument("--trace", action="store_true",
                   help="with --sim: write an FST waveform of the run to the output directory")
    b.set_defaults(func=cmd_build)
    from .bench.rtl import add_arguments as bench_arguments

    br = sub.add_parser(
        "bench", help="RTL benchmark of every design in designs/: cycles vs ideal, lowering/build times, "
                      "simulation rate vs a bare Verilator loop, RTL == interpreter, optional synthesis",
        description="Benchmark the bundled designs (designs/*.py) through the RTL flow and print one table: "
                    "exact cycles and efficiency (ideal / cycles), Python lowering time, Verilator build time "
                    "(cached or cold), harness simulation rate vs a bare C++ clk/eval loop on the same Verilog, "
                    "warm schedule()+build()+call time, and PASS/FAIL of RTL vs interpreter outputs; with "
                    "--synth also LUT/FF/DSP/BRAM, Fmax and latency. Writes JSON. Exit status 1 unless every "
                    "design passes. See also 'bench-interp' (interpreter throughput).")
    bench_arguments(br)
    br.set_defaults(func=cmd_bench)
    r = sub.add_parser("report", help="synthesize a design with Yosys (and place & route with "
                                      "nextpnr on ECP5): resources per module and Fmax",
                       description="Lower the design to Verilog, synthesize it for the device "
                                   "and write <top>.<device>.synth.json/.md (cached by Verilog "
                                   "hash). Without FILE: the bundled GEMM.")
    _add_design_arguments(r)
    r.add_argument("--device", default="ecp5-85k", choices=["ecp5-85k", "xc7", "ice40-up5k"],
                   help="target device (default ecp5-85k; Fmax only on ECP5)")
    r.set_defaults(func=cmd_report)
    bi = sub.add_parser("bench-interp", help="interpreter throughput (scalar ops/s) on GEMM and a 2-D stencil")
    bi.set_defaults(func=cmd_bench_interp)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except AlloError as exc:
        print(str(exc), file=sys.stderr)
        return 2
