"""Resources and Fmax of the arithmetic units (``python -m allo_rtl bench --units``).

Every entry of :func:`registry` (a unit of ``primitives/float`` or ``primitives/int``
in one format and at one latency) is converted to Verilog on its own and run through
:func:`allo_rtl.synth.synthesize` (Yosys ``synth_ecp5`` + nextpnr-ecp5 on the
ECP5-85k by default, out of context, every port bit registered outside the unit for
P&R; the registers are not counted, so FF is the unit's own pipeline). Results are
cached by Verilog hash, so a second run only re-synthesizes units that changed.

One table row per entry: unit, format, latency (``*``: the unit's default), LUT
(LUT4 + PFUMX/L6MUX), CARRY (CCU2C, two adder bits each), FF, DSP (MULT18X18D /
ALU54B), Fmax of ``clk`` in MHz (one placer seed: expect a few percent of seed
noise) and, for entries with a target, whether it is met. A combinational unit
(latency 0) gets a dummy register so that it has a clock and its port-to-port delay
is timed between the port registers.

Adding a unit: one ``U(...)`` line in :func:`registry` (see the comment there).
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ..table import markdown_table

__all__ = ["UnitEntry", "UnitRow", "U", "registry", "select", "unit_verilog", "bench_unit",
           "run_units", "format_units_table", "UNIT_COLUMNS", "main"]


@dataclass(frozen=True)
class UnitEntry:
    """One row of the table.

    Attributes:
        name: the unit's name as shown (``"FPAdd"``, ``"IntToFP"``, ...).
        fmt: the format as shown (``"binary32"``, ``"int32->binary32"``, ...).
        factory: ``factory(latency)`` returns the Amaranth component; ``latency`` is
            None for the unit's default.
        latency: the latency to build (None: the unit's default).
        target_mhz: a required Fmax; rows below it are marked.
    """

    name: str
    fmt: str
    factory: Callable[[int | None], Any]
    latency: int | None = None
    target_mhz: float | None = None

    @property
    def label(self) -> str:
        lat = "default" if self.latency is None else f"l{self.latency}"
        return f"{self.name} {self.fmt} {lat}"


def U(name: str, fmt: str, factory: Callable[[int | None], Any], *latencies: int | None,
      target_mhz: float | None = None) -> list[UnitEntry]:
    """Entries of one unit: the default latency, or each of ``latencies`` (None =
    default), e.g. ``U("FPAdd", "binary32", lambda l: FPAdd(BINARY32, latency=l), None, 11)``.
    ``target_mhz`` applies to the default latency only."""
    return [UnitEntry(name, fmt, factory, lat, target_mhz if lat is None else None)
            for lat in (latencies or (None,))]


#: The issue's requirement: float32 add and mul at >= 150 MHz on ECP5-85k (default latency).
F32_TARGET_MHZ = 150.0


def registry() -> list[UnitEntry]:
    """The default set of units, in table order."""
    from primitives.float import (BINARY16, BFLOAT16, BINARY32, BINARY64, FPAdd, FPCompare,
                                  FPDiv, FPErf, FPExp, FPLog, FPMinMax, FPMul, FPPow, FPSin,
                                  FPSqrt, FPTan, FPTanh, FPToFP, FPToInt, IntToFP)
    from primitives.int import IntDiv, IntMul

    f16, bf16, f32, f64 = BINARY16, BFLOAT16, BINARY32, BINARY64
    T = F32_TARGET_MHZ
    entries: list[list[UnitEntry]] = [
        # ---- binary32: every unit; add/mul also at other latencies
        U("FPAdd", "binary32", lambda l: FPAdd(f32, latency=l), None, 5, 7, 11, target_mhz=T),
        U("FPMul", "binary32", lambda l: FPMul(f32, latency=l), None, 5, 7, 10, target_mhz=T),
        U("FPDiv", "binary32", lambda l: FPDiv(f32, latency=l), None, 20),
        U("FPSqrt", "binary32", lambda l: FPSqrt(f32, latency=l), None, 19),
        U("FPCompare", "binary32", lambda l: FPCompare(f32, latency=l)),
        U("FPMinMax", "binary32", lambda l: FPMinMax(f32, latency=l)),
        U("IntToFP", "int32->binary32", lambda l: IntToFP(f32, 32, True, latency=l), None, 8),
        U("IntToFP", "uint32->binary32", lambda l: IntToFP(f32, 32, False, latency=l)),
        U("FPToInt", "binary32->int32", lambda l: FPToInt(f32, 32, True, latency=l)),
        U("FPToInt", "binary32->uint32", lambda l: FPToInt(f32, 32, False, latency=l)),
        U("FPToFP", "binary32->binary16", lambda l: FPToFP(f32, f16, latency=l)),
        U("FPToFP", "binary32->bfloat16", lambda l: FPToFP(f32, bf16, latency=l)),
        U("FPToFP", "binary32->binary64", lambda l: FPToFP(f32, f64, latency=l)),
        U("FPToFP", "binary16->binary32", lambda l: FPToFP(f16, f32, latency=l)),
        U("FPToFP", "bfloat16->binary32", lambda l: FPToFP(bf16, f32, latency=l)),
        U("FPToFP", "binary64->binary32", lambda l: FPToFP(f64, f32, latency=l)),
        # ---- fixed point <-> float (IntToFP / FPToInt with fracs)
        U("FixedToFP", "fixed(16,8)->binary32",
          lambda l: IntToFP(f32, 16, True, latency=l, fracs=8)),
        U("FixedToFP", "fixed(32,16)->binary32",
          lambda l: IntToFP(f32, 32, True, latency=l, fracs=16)),
        U("FPToFixed", "binary32->fixed(16,8)",
          lambda l: FPToInt(f32, 16, True, latency=l, fracs=8)),
        U("FPToFixed", "binary32->fixed(32,16)",
          lambda l: FPToInt(f32, 32, True, latency=l, fracs=16)),
        # ---- other formats
        U("FPAdd", "binary16", lambda l: FPAdd(f16, latency=l)),
        U("FPMul", "binary16", lambda l: FPMul(f16, latency=l)),
        U("FPAdd", "bfloat16", lambda l: FPAdd(bf16, latency=l)),
        U("FPMul", "bfloat16", lambda l: FPMul(bf16, latency=l)),
        U("FPAdd", "binary64", lambda l: FPAdd(f64, latency=l), None, 11),
        U("FPMul", "binary64", lambda l: FPMul(f64, latency=l), None, 10),
        U("FPDiv", "binary64", lambda l: FPDiv(f64, latency=l)),
        U("FPSqrt", "binary64", lambda l: FPSqrt(f64, latency=l)),
        # ---- integer units (primitives.int)
        U("IntMul", "int32*int32->int32", lambda l: IntMul(32, 32, True, True, 32, latency=l)),
        U("IntMul", "int32*int32->int64", lambda l: IntMul(32, 32, True, True, 64, latency=l)),
        U("IntDiv", "int32", lambda l: IntDiv(32, True, latency=l)),
        U("IntDiv", "uint32", lambda l: IntDiv(32, False, latency=l)),
        # ---- binary32 elementary functions (float16/bfloat16 use them through FPToFP)
        U("FPExp", "binary32", lambda l: FPExp(f32, latency=l)),
        U("FPLog", "binary32", lambda l: FPLog(f32, latency=l)),
        U("FPSin", "binary32", lambda l: FPSin(f32, latency=l)),
        U("FPTan", "binary32", lambda l: FPTan(f32, latency=l)),
        U("FPTanh", "binary32", lambda l: FPTanh(f32, latency=l)),
        U("FPErf", "binary32", lambda l: FPErf(f32, latency=l)),
        U("FPPow", "binary32", lambda l: FPPow(f32, latency=l)),
        # New units: one line each; import the class at the top of this function; extra
        # latencies as further arguments, e.g. U("FPExp", "binary32", ..., None, 12)
    ]
    return [e for group in entries for e in group]


def select(entries: list[UnitEntry], pattern: str | None) -> list[UnitEntry]:
    """Entries whose label (``"FPAdd binary32 l11"``, ``"FPMul binary16 default"``)
    contains ``pattern`` (case-insensitive; several patterns separated by commas)."""
    if not pattern:
        return list(entries)
    pats = [p.strip().lower() for p in pattern.split(",") if p.strip()]
    return [e for e in entries if any(p in e.label.lower() for p in pats)]


# --------------------------------------------------------------------------- synthesis

def _top_name(entry: UnitEntry, latency: int) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{entry.name}_{entry.fmt}_l{latency}").strip("_")


def _has_clock(verilog: str) -> bool:
    return re.search(r"^\s*input\s+clk\s*;", verilog, re.M) is not None


def unit_verilog(entry: UnitEntry) -> tuple[str, str, int]:
    """``(verilog, top, latency)`` of one entry. A unit without a clock (latency 0) is
    wrapped with a dummy register (removed by Yosys) so that it has a ``clk`` port and
    its ports get registered for P&R."""
    from amaranth.back import verilog

    comp = entry.factory(entry.latency)
    latency = comp.latency
    top = _top_name(entry, latency)
    text = verilog.convert(comp, name=top, emit_src=False)
    if not _has_clock(text):
        text = verilog.convert(_Clocked(entry.factory(entry.latency)), name=top, emit_src=False)
    return text, top, latency


def _Clocked(unit):
    """A wrapper component with ``unit``'s ports and a ``sync`` clock (unused logic)."""
    from amaranth.hdl import Module, Signal
    from amaranth.lib import wiring

    class Clocked(wiring.Component):
        def __init__(self):
            super().__init__(dict(unit.signature.members))

        def elaborate(self, platform):
            m = Module()
            m.submodules.unit = unit
            for name, member in self.signature.members.items():
                if member.flow == wiring.In:
                    m.d.comb += getattr(unit, name).eq(getattr(self, name))
                else:
                    m.d.comb += getattr(self, name).eq(getattr(unit, name))
            dummy = Signal()
            m.d.sync += dummy.eq(0)
            return m

    return Clocked()


@dataclass
class UnitRow:
    """The measured numbers of one entry (``error`` set when it failed)."""

    unit: str
    format: str
    latency: int | None
    default_latency: bool
    top: str = ""
    LUT: int | None = None
    CARRY: int | None = None
    FF: int | None = None
    DSP: int | None = None
    fmax_mhz: float | None = None
    target_mhz: float | None = None
    meets_target: bool | None = None
    limits: str = ""
    critical_path: str | None = None
    device: str = ""
    cached: bool = False
    seconds: float = 0.0
    error: str | None = None


def bench_unit(entry: UnitEntry, device: str = "ecp5-85k", *, progress=None) -> UnitRow:
    """Synthesize (and place & route) one entry."""
    from ..synth import SynthError, synthesize

    row = UnitRow(entry.name, entry.fmt, entry.latency, entry.latency is None,
                  target_mhz=entry.target_mhz, device=device)
    t0 = time.perf_counter()
    try:
        text, top, row.latency = unit_verilog(entry)
        row.top = top
        rep = synthesize(text, top, device, progress=progress)
    except (SynthError, ValueError, TypeError) as exc:  # DeviceTooSmall is a SynthError
        row.error = f"{type(exc).__name__}: {exc}"
        row.seconds = round(time.perf_counter() - t0, 3)
        return row
    for c in ("LUT", "CARRY", "FF", "DSP"):
        setattr(row, c, int(rep.total.get(c, 0)))
    row.fmax_mhz = rep.fmax_mhz
    row.limits = rep.limits
    row.critical_path = rep.critical_path
    row.cached = rep.cached
    if entry.target_mhz is not None and rep.fmax_mhz is not None:
        row.meets_target = rep.fmax_mhz >= entry.target_mhz
    row.seconds = round(time.perf_counter() - t0, 3)
    return row


def run_units(entries: list[UnitEntry], device: str = "ecp5-85k", *, progress=None,
              tool_progress=None) -> list[UnitRow]:
    """Rows of every entry, in order; ``progress`` gets one line before and after each."""
    rows = []
    n = len(entries)
    for k, e in enumerate(entries, 1):
        if progress:
            progress(f"[{k}/{n}] {e.label}: synthesizing ...")
        row = bench_unit(e, device, progress=tool_progress)
        if progress:
            if row.error:
                progress(f"[{k}/{n}] {e.label}: ERROR {row.error.splitlines()[0]}")
            else:
                fmax = "-" if row.fmax_mhz is None else f"{row.fmax_mhz:.1f} MHz"
                progress(f"[{k}/{n}] {e.label}: latency {row.latency}, {row.LUT} LUT, {row.FF} FF, "
                         f"{row.DSP} DSP, {fmax} ({'cached' if row.cached else f'{row.seconds:.1f} s'})")
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- table

UNIT_COLUMNS = ["unit", "format", "latency", "LUT", "CARRY", "FF", "DSP", "Fmax MHz", "target"]


def _target_text(r: UnitRow) -> str:
    if r.error:
        return "ERROR"
    if r.target_mhz is None:
        return ""
    if r.meets_target is None:
        return f"? (>= {r.target_mhz:g})"
    return f"ok (>= {r.target_mhz:g})" if r.meets_target else f"**BELOW {r.target_mhz:g}**"


def format_units_table(rows: list[UnitRow]) -> str:
    """A Markdown table of the rows, with a footnote line."""
    def n(x):
        return "-" if x is None else f"{x:,}"

    body = []
    for r in rows:
        lat = "-" if r.latency is None else f"{r.latency}{'*' if r.default_latency else ''}"
        fmax = "-" if r.fmax_mhz is None else f"{r.fmax_mhz:.1f}"
        body.append([r.unit, r.format, lat, n(r.LUT), n(r.CARRY), n(r.FF), n(r.DSP), fmax,
                     _target_text(r)])
    head = UNIT_COLUMNS
    out = markdown_table(head, body, right=range(2, len(head) - 1))
    device = next((r.device for r in rows if r.device), "ecp5-85k")
    out.append("")
    out.append(f"{device}, out of context with registered ports (not counted); latency in cycles, "
               "* = the unit's default; LUT = LUT4 (+ wide muxes), CARRY = CCU2C (2 adder bits each), "
               "FF = the unit's own registers, DSP = MULT18X18D/ALU54B; Fmax: one placer seed.")
    for r in rows:
        if r.error:
            out.append(f"{r.unit} {r.format}: {r.error.splitlines()[0]}")
    below = [r for r in rows if r.meets_target is False]
    for r in below:
        out.append(f"BELOW TARGET: {r.unit} {r.format} latency {r.latency}: {r.fmax_mhz:.1f} MHz < "
                   f"{r.target_mhz:g} MHz ({r.limits})")
    return "\n".join(out)


# --------------------------------------------------------------------------- command line

def main(args) -> int:
    """``python -m allo_rtl bench --units [--units-filter S] [--json PATH] [--device D] [-q]``."""
    def progress(msg: str) -> None:
        print(f"[units] {msg}", file=sys.stderr, flush=True)

    entries = select(registry(), args.units_filter)
    if not entries:
        print(f"no unit matches {args.units_filter!r}; labels look like "
              f"'{registry()[0].label}'", file=sys.stderr)
        return 2
    prog = None if args.quiet else progress
    t0 = time.perf_counter()
    rows = run_units(entries, args.device, progress=prog)
    total = time.perf_counter() - t0
    print(format_units_table(rows))
    path = Path(args.json) if args.json else Path(args.output or ".") / "units.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "device": args.device,
        "filter": args.units_filter,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "total_seconds": round(total, 3),
        "columns": UNIT_COLUMNS,
        "units": [asdict(r) for r in rows],
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"results: {path}")
    return 0 if rows and not any(r.error for r in rows) else 1
