"""Command line: ``python -m allo_rtl {doctor,build,bench-interp}``."""

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


def _random_inputs(func, rng):
    from .ir.numerics import numpy_dtype
    from .ir.types import Float, Fixed, UFixed

    args = []
    for p in func.params:
        shape = p.shape or (1,)
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


def cmd_build(args) -> int:
    from .customize import customize

    path = args.file or DEFAULT_DESIGN
    mod, fn = _load_design(path, args.top)
    t0 = time.perf_counter()
    s = mod.schedule() if (not args.top and hasattr(mod, "schedule")) else customize(fn)
    t_parse = time.perf_counter() - t0
    os.makedirs(args.output, exist_ok=True)
    ir_path = os.path.join(args.output, f"{s.top_func_name}.ir.txt")
    with open(ir_path, "w") as f:
        f.write(str(s.module))
    print(f"[1/3] parsed {os.path.relpath(path)} -> {s.top_func_name} "
          f"({len(s.module.funcs)} function(s), {t_parse * 1e3:.1f} ms); IR in {ir_path}")
    report = {"design": path, "top": s.top_func_name, "functions": list(s.module.funcs),
              "ports": [{"name": p.name, "type": str(p.type), "shape": list(p.shape)}
                        for p in s.top_func.params]}
    # golden model run on random inputs
    rng = np.random.default_rng(0)
    inputs = _random_inputs(s.top_func, rng)
    t0 = time.perf_counter()
    sim = s.build(target="sim")
    out = sim(*inputs)
    t_sim = time.perf_counter() - t0
    print(f"[2/3] interpreter run on random inputs: {t_sim * 1e3:.1f} ms")
    report["interpreter_ms"] = round(t_sim * 1e3, 3)
    print("[3/3] Verilog: the RTL backend is not available in this version "
          "(use 'python -m allo_rtl doctor' to check the toolchain it will use)")
    report["verilog"] = None
    rpath = os.path.join(args.output, f"{s.top_func_name}.report.json")
    with open(rpath, "w") as f:
        json.dump(report, f, indent=2)
    print(f"report: {rpath}")
    return 0


def cmd_bench_interp(args) -> int:
    from .bench.interp import main as bench_main

    return bench_main()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m allo_rtl",
                                description="Allo-compatible Python kernels + schedules -> RTL.")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("doctor", help="show the toolchain (Verilator, Yosys, nextpnr, g++) and how to fix gaps")
    d.set_defaults(func=cmd_doctor)
    b = sub.add_parser("build", help="build a design (default: the bundled int32 GEMM in designs/gemm.py)")
    b.add_argument("file", nargs="?", help="Python file with the kernel (default: designs/gemm.py)")
    b.add_argument("--top", help="name of the top kernel function in FILE")
    b.add_argument("-o", "--output", default="out", help="output directory (default: ./out)")
    b.set_defaults(func=cmd_build)
    bi = sub.add_parser("bench-interp", help="interpreter throughput (scalar ops/s) on GEMM and a 2-D stencil")
    bi.set_defaults(func=cmd_bench_interp)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except AlloError as exc:
        print(str(exc), file=sys.stderr)
        return 2
