"""``verilator --lint-only -Wall`` on Verilog text, returning the warnings.

Amaranth-emitted Verilog trips some style and width warnings; this module only
reports them. Waivers are a Verilator configuration file (``.vlt``) whose
``lint_off`` lines name rules and, optionally, files; the design is linted as
``<top>.v``, e.g.::

    `verilator_config
    lint_off -rule UNUSEDSIGNAL -file "*/<top>.v"
    lint_off -rule DECLFILENAME
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from .errors import LintError, log_tail
from .toolchain import find_verilator, run_command, verilator_env

__all__ = ["lint"]

_MESSAGE = re.compile(r"^%(Warning|Error)(-[A-Z0-9_]+)?: ")


def _messages(output: str, tmp: str) -> tuple[list[str], list[str]]:
    """(warnings, errors): the first line of every Verilator message, temp dir stripped."""
    warnings, errors = [], []
    for line in output.splitlines():
        m = _MESSAGE.match(line)
        if not m:
            continue
        line = line.replace(tmp + os.sep, "")
        if m.group(1) == "Warning":
            warnings.append(line)
        elif not line.startswith("%Error: Exiting due to"):
            errors.append(line)
    return warnings, errors


def lint(verilog: str, top: str, waivers: str | os.PathLike[str] | None = None) -> list[str]:
    """Lint ``verilog`` with ``verilator --lint-only -Wall``; return the warnings.

    Each warning is Verilator's first message line with the file shown as
    ``<top>.v``, e.g. ``%Warning-UNUSEDSIGNAL: add.v:12:9: Signal is not used: 'x'``.

    Args:
        verilog: Verilog source text holding ``top`` and its submodules.
        top: the top module name (``--top-module``).
        waivers: Verilator configuration text (the ```verilator_config`` header is
            added if missing), or a path to a ``.vlt`` file.

    Raises:
        LintError: Verilator reported errors (syntax, elaboration, unknown top...).
    """
    __tracebackhide__ = True
    if not isinstance(verilog, str):
        raise TypeError(f"verilog must be the Verilog source text (str), not {type(verilog).__name__}")
    tool = find_verilator()
    with tempfile.TemporaryDirectory(prefix="allo_rtl_lint_") as tmp:
        src = Path(tmp) / f"{top}.v"
        src.write_text(verilog)
        args = [*tool.argv, "--lint-only", "-Wall", "-Wno-fatal", "--top-module", top]
        if waivers is not None:
            if isinstance(waivers, os.PathLike):
                vlt = Path(waivers).resolve()
            else:
                vlt = Path(tmp) / "waivers.vlt"
                text = waivers if waivers.lstrip().startswith("`verilator_config") else "`verilator_config\n" + waivers
                vlt.write_text(text + "\n")
            args.append(str(vlt))
        args.append(str(src))
        proc = run_command(args, cwd=tmp, env=verilator_env())
        warnings, errors = _messages(proc.stdout, tmp)
        if proc.returncode != 0 or errors:
            detail = "\n".join(errors) if errors else log_tail(proc.stdout.replace(tmp + os.sep, ""))
            raise LintError(f"verilator lint of '{top}' failed (exit {proc.returncode}):\n{detail}")
    return warnings
