"""The synthesis report and its rendering (JSON, Markdown tables)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..table import markdown_table
from .devices import CATEGORIES

__all__ = ["SynthReport", "format_table"]


@dataclass
class SynthReport:
    """Resources and timing of one design on one device.

    Attributes:
        device: device name, e.g. ``"ecp5-85k"``.
        part: the concrete part the utilisation is measured against.
        top: top module name.
        modules: module name -> category counts of **one instance including its
            submodules** (keys :data:`~allo_rtl.synth.devices.CATEGORIES`).
        modules_local: module name -> category counts of the module's own cells only.
        cells: module name -> raw technology cell counts of the module's own cells.
        hierarchy: module name -> {submodule name: instance count}.
        instances: module name -> number of instances of it under ``top`` (top: 1).
        total: category counts of the whole design (= ``modules[top]``).
        utilization: capacity resource -> {"used", "available", "percent"}.
        fmax_mhz: post-route Fmax of ``clock`` in MHz; None if P&R was not run or
            found no register-to-register path.
        fmax_by_clock: every clock's Fmax in MHz.
        target_mhz: the frequency constraint given to nextpnr (None without P&R).
        critical_path: ``"start -> end (delay breakdown)"`` of the worst path, or None.
        critical_path_ns: its delay in ns, or None.
        limits: short text naming what limits timing (or why Fmax was not measured).
        warnings: tool warnings (deduplicated, capped).
        synth_seconds: Yosys wall time.
        pnr_seconds: nextpnr wall time (0 if not run).
        tool_versions: tool name -> version text.
        cached: True if this report came from the cache (not part of equality).
    """

    device: str
    part: str
    top: str
    modules: dict[str, dict[str, int]]
    modules_local: dict[str, dict[str, int]]
    cells: dict[str, dict[str, int]]
    hierarchy: dict[str, dict[str, int]]
    instances: dict[str, int]
    total: dict[str, int]
    utilization: dict[str, dict[str, float]]
    fmax_mhz: float | None = None
    fmax_by_clock: dict[str, float] = field(default_factory=dict)
    target_mhz: float | None = None
    critical_path: str | None = None
    critical_path_ns: float | None = None
    limits: str = ""
    warnings: list[str] = field(default_factory=list)
    synth_seconds: float = 0.0
    pnr_seconds: float = 0.0
    tool_versions: dict[str, str] = field(default_factory=dict)
    cached: bool = field(default=False, compare=False)

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain JSON-compatible data (``cached`` omitted)."""
        data = asdict(self)
        data.pop("cached", None)
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """The report as a JSON string (see :meth:`from_json`)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SynthReport":
        """Rebuild a report from :meth:`to_dict` output (unknown keys ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_json(cls, text: str) -> "SynthReport":
        """Rebuild a report from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))

    # ------------------------------------------------------------------ rendering

    def module_order(self) -> list[tuple[str, int]]:
        """Modules in depth-first hierarchy order from ``top`` as ``(name, depth)``."""
        order: list[tuple[str, int]] = []
        seen: set[str] = set()

        def visit(name: str, depth: int) -> None:
            if name in seen:
                return
            seen.add(name)
            order.append((name, depth))
            for child in sorted(self.hierarchy.get(name, {})):
                visit(child, depth + 1)

        visit(self.top, 0)
        order += [(m, 0) for m in sorted(self.modules) if m not in seen]
        return order

    def to_markdown(self) -> str:
        """A readable Markdown report: per-module table, utilisation, timing."""
        head = ["module", "inst", *CATEGORIES]
        rows = []
        for name, depth in self.module_order():
            counts = self.modules.get(name, {})
            label = "`" + name + "`"
            if depth:
                label = "  " * (depth - 1) + "└ " + label
            rows.append([label, str(self.instances.get(name, 0)),
                         *(_num(counts.get(c, 0)) for c in CATEGORIES)])
        rows.append(["**total**", "", *(f"**{_num(self.total.get(c, 0))}**" for c in CATEGORIES)])
        lines = [f"### Synthesis: `{self.top}` on {self.device} ({self.part})", ""]
        lines += markdown_table(head, rows, right=range(1, len(head)))
        lines.append("")
        lines.append("Per-module counts are for one instance including its submodules.")
        lines.append("")
        util = ", ".join(
            f"{res} {_num(u['used'])}/{_num(u['available'])} ({u['percent']:.1f}%)"
            for res, u in self.utilization.items()
        )
        lines.append(f"- utilization: {util}")
        if self.fmax_mhz is not None:
            target = f" (target {self.target_mhz:g} MHz)" if self.target_mhz else ""
            lines.append(f"- Fmax: **{self.fmax_mhz:.1f} MHz**{target}")
            others = {k: v for k, v in self.fmax_by_clock.items() if abs(v - self.fmax_mhz) > 1e-9}
            if others:
                lines.append("- other clocks: " + ", ".join(f"{k} {v:.1f} MHz" for k, v in others.items()))
        else:
            lines.append("- Fmax: not measured")
        if self.critical_path:
            lines.append(f"- critical path: {self.critical_path}")
        if self.limits:
            lines.append(f"- limited by: {self.limits}")
        time = f"- time: synthesis {self.synth_seconds:.1f} s"
        if self.pnr_seconds:
            time += f", place & route {self.pnr_seconds:.1f} s"
        if self.cached:
            time += " (cached)"
        lines.append(time)
        if self.warnings:
            lines.append(f"- warnings ({len(self.warnings)}):")
            lines += [f"  - {w}" for w in self.warnings[:10]]
            if len(self.warnings) > 10:
                lines.append(f"  - ... {len(self.warnings) - 10} more")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def format_table(reports: Sequence[SynthReport]) -> str:
    """One Markdown table with a row per report (design totals, Fmax, what limits it)."""
    head = ["design", "device", *CATEGORIES, "Fmax (MHz)", "limited by"]
    rows = []
    for r in reports:
        fmax = f"{r.fmax_mhz:.1f}" if r.fmax_mhz is not None else "-"
        limits = r.limits if r.fmax_mhz is not None else (r.limits.split(":")[0] if r.limits else "")
        rows.append([f"`{r.top}`", r.device, *(_num(r.total.get(c, 0)) for c in CATEGORIES), fmax,
                     limits.replace("|", "/")])
    return "\n".join(markdown_table(head, rows, right=range(2, len(head) - 1)))
