"""Target devices: synthesis commands, cell-type categories and capacities.

A :class:`Device` says how Yosys synthesizes for it (keeping the hierarchy so
every module gets its own numbers), how each technology cell type is counted
(one of :data:`CATEGORIES`) and how much of each capacity resource a cell uses,
and how much of every resource the chosen part has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["CATEGORIES", "Device", "DEVICES", "get_device", "categorize", "capacity_usage"]

#: Resource categories reported for every module (always in this order).
CATEGORIES: tuple[str, ...] = ("LUT", "FF", "CARRY", "DSP", "BRAM", "LUTRAM")


@dataclass(frozen=True)
class CellRule:
    """How one family of cell types is counted.

    Attributes:
        pattern: regex matched (fullmatch) against the cell type.
        category: one of :data:`CATEGORIES`, or None (not shown in the category table,
            e.g. wide-function muxes that live inside a slice).
        uses: capacity resource -> amount one cell of this type consumes.
    """

    pattern: str
    category: str | None
    uses: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Device:
    """An FPGA target.

    Attributes:
        name: the name :func:`~allo_rtl.synth.synthesize` accepts, e.g. ``"ecp5-85k"``.
        family: ``"ecp5"``, ``"xc7"`` or ``"ice40"``.
        part: the concrete part the capacities are for.
        synth_cmd: the Yosys synthesis command (``-top`` is appended).
        rules: cell counting rules, first match wins.
        capacity: capacity resource -> amount available on the part.
        pnr: nextpnr architecture (``"ecp5"``) or None when no P&R is available.
        pnr_args: device arguments for nextpnr.
        no_pnr_reason: why Fmax is not measured when ``pnr`` is None.
    """

    name: str
    family: str
    part: str
    synth_cmd: str
    rules: tuple[CellRule, ...]
    capacity: Mapping[str, float]
    pnr: str | None = None
    pnr_args: tuple[str, ...] = ()
    no_pnr_reason: str = ""


_ECP5_RULES = (
    CellRule("LUT4", "LUT", {"LUT4": 1}),
    CellRule("PFUMX|L6MUX21", None),  # wide-function muxes inside a slice: no LUT cost
    CellRule("CCU2C", "CARRY", {"LUT4": 2}),  # one CCU2C occupies both LUT4s of a slice
    CellRule("TRELLIS_FF", "FF", {"FF": 1}),
    CellRule("MULT18X18D", "DSP", {"MULT18X18D": 1}),
    CellRule("ALU54B", "DSP", {"ALU54B": 1}),
    CellRule("DP16KD|PDPW16KD", "BRAM", {"DP16KD": 1}),
    # 16x4 distributed RAM: two RAM slices (4 LUT4) + the write-port slice (2 LUT4)
    CellRule("TRELLIS_DPR16X4", "LUTRAM", {"LUT4": 6}),
)

_XC7_LUTRAM_LUTS = {
    "RAM32X1S": 1, "RAM64X1S": 1, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1S": 2,
    "RAM128X1D": 4, "RAM256X1S": 4, "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8,
    "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}

_XC7_RULES = (
    CellRule("LUT[1-6]", "LUT", {"LUT": 1}),
    CellRule("MUXF[78]", None),
    CellRule("FD[A-Z]*|LD[A-Z]*", "FF", {"FF": 1}),
    CellRule("CARRY4", "CARRY"),
    CellRule("DSP48E1", "DSP", {"DSP48E1": 1}),
    CellRule("RAMB36E1", "BRAM", {"RAMB36": 1}),
    CellRule("RAMB18E1", "BRAM", {"RAMB36": 0.5}),
    *(CellRule(t, "LUTRAM", {"LUT": n, "LUTRAM": n}) for t, n in _XC7_LUTRAM_LUTS.items()),
)

_ICE40_RULES = (
    CellRule("SB_LUT4", "LUT", {"SB_LUT4": 1}),
    CellRule("SB_DFF[A-Z]*", "FF", {"SB_DFF": 1}),
    CellRule("SB_CARRY", "CARRY"),
    CellRule("SB_MAC16", "DSP", {"SB_MAC16": 1}),
    CellRule("SB_RAM40_4K[A-Z]*", "BRAM", {"SB_RAM40_4K": 1}),
    CellRule("SB_SPRAM256KA", "BRAM", {"SB_SPRAM256KA": 1}),  # counted as BRAM, own capacity
)

DEVICES: dict[str, Device] = {
    d.name: d
    for d in (
        Device(
            name="ecp5-85k", family="ecp5", part="LFE5U-85F-6BG381C",
            synth_cmd="synth_ecp5 -noflatten",
            rules=_ECP5_RULES,
            capacity={"LUT4": 83640, "FF": 83640, "MULT18X18D": 156, "ALU54B": 78, "DP16KD": 208},
            pnr="ecp5", pnr_args=("--85k", "--package", "CABGA381"),
        ),
        Device(
            name="xc7", family="xc7", part="xc7a100t",
            synth_cmd="synth_xilinx -family xc7 -noiopad -noclkbuf",
            rules=_XC7_RULES,
            capacity={"LUT": 63400, "LUTRAM": 19000, "FF": 126800, "DSP48E1": 240, "RAMB36": 135},
            no_pnr_reason="Fmax not measured: no open-source place-and-route for Xilinx 7-series "
                          "in this toolchain (numbers are post-synthesis only)",
        ),
        Device(
            name="ice40-up5k", family="ice40", part="iCE40UP5K",
            synth_cmd="synth_ice40 -noflatten -dsp -spram",
            rules=_ICE40_RULES,
            capacity={"SB_LUT4": 5280, "SB_DFF": 5280, "SB_MAC16": 8, "SB_RAM40_4K": 30,
                      "SB_SPRAM256KA": 4},
            no_pnr_reason="Fmax not measured: nextpnr-ice40 is not part of this toolchain "
                          "(numbers are post-synthesis only)",
        ),
    )
}


def get_device(name: str) -> Device:
    """Return the :class:`Device` called ``name``.

    Raises:
        ValueError: unknown device (the message lists the known ones).
    """
    try:
        return DEVICES[name]
    except KeyError:
        raise ValueError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}") from None


def _rule_for(device: Device, cell_type: str) -> CellRule | None:
    for rule in device.rules:
        if re.fullmatch(rule.pattern, cell_type):
            return rule
    return None


def categorize(device: Device, cells: Mapping[str, int]) -> dict[str, int]:
    """Sum raw cell counts ``{cell type: n}`` into ``{category: n}`` (all categories present)."""
    out = dict.fromkeys(CATEGORIES, 0)
    for cell_type, n in cells.items():
        rule = _rule_for(device, cell_type)
        if rule is not None and rule.category is not None:
            out[rule.category] += n
    return out


def capacity_usage(device: Device, cells: Mapping[str, int]) -> dict[str, float]:
    """Capacity resources used by raw cell counts (every capacity resource present)."""
    used: dict[str, float] = dict.fromkeys(device.capacity, 0)
    for cell_type, n in cells.items():
        rule = _rule_for(device, cell_type)
        if rule is None:
            continue
        for resource, amount in rule.uses.items():
            used[resource] = used.get(resource, 0) + amount * n
    return used
