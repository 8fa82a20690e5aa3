"""Exceptions raised by :mod:`allo_rtl.synth`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .report import SynthReport

__all__ = ["SynthError", "DeviceTooSmall"]


class SynthError(Exception):
    """Synthesis or place-and-route failed (the message ends with the tool's log tail).

    Attributes:
        log: the full log of the failing tool ("" if not applicable).
    """

    def __init__(self, msg: str, log: str = ""):
        self.log = log
        super().__init__(msg)


class DeviceTooSmall(SynthError):
    """The synthesized design needs more of some resource than the device has.

    Place-and-route is skipped. The resource counts are still available.

    Attributes:
        report: the synthesis report (``fmax_mhz`` is None).
        overflows: ``[(resource, used, available), ...]`` for every exceeded resource.
    """

    def __init__(self, msg: str, report: "SynthReport", overflows: list[tuple[str, float, float]]):
        self.report = report
        self.overflows = overflows
        super().__init__(msg)
