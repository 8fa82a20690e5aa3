"""Readable Markdown tables for reports and benchmarks (padded to fixed width so they
read well in a terminal too)."""

from __future__ import annotations

from typing import Container, Sequence

__all__ = ["markdown_table"]


def markdown_table(head: Sequence[str], rows: Sequence[Sequence[str]],
                   right: Container[int]) -> list[str]:
    """The lines of a Markdown table; columns whose index is in ``right`` are right-aligned
    (numbers), the others left-aligned."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def fmt(row: Sequence[str]) -> str:
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        return "| " + " | ".join(cells) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2))
                         for i, w in enumerate(widths)) + "|"
    return [fmt(head), sep, *(fmt(r) for r in rows)]
