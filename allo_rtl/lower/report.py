"""The schedule report: per loop, what the hardware does with it.

One row per loop of the lowered design (after prepare/banking, so generated
fill/copy loops appear too, named ``__fill<k>_<d>``): trip count, whether it
is pipelined, requested and achieved II (and why they differ), pipeline depth,
how often the loop is entered, and the predicted cycles (exact for pipelines
with constant trip counts: ``(trip - 1) * II + depth`` per invocation).
"""

from __future__ import annotations

from ..ir.nodes import Const, For, If, While

__all__ = ["schedule_rows", "format_rows"]


def _trip(s: For):
    if isinstance(s.lb, Const) and isinstance(s.ub, Const):
        return len(range(s.lb.value, s.ub.value, s.step))
    return None


def schedule_rows(design) -> list:
    """Rows (dicts) for every loop of every function of a :class:`LoweredDesign`."""
    rows = []
    for lf in design.funcs.values():
        pipes = {id(p.pipe.levels[0]): p for p in lf.pipelines}
        flat = {id(lv) for p in lf.pipelines for lv in p.pipe.levels[1:]}

        def walk(body, outer):
            for s in body:
                if isinstance(s, For):
                    if id(s) in flat:
                        continue
                    p = pipes.get(id(s))
                    trip = p.trip if p is not None else _trip(s)
                    invocations = 1
                    for t in outer:
                        invocations = None if t is None or invocations is None else invocations * t
                    row = {"function": lf.name, "loop": p.pipe.name if p else (s.name or s.var),
                           "trip": trip, "invocations": invocations}
                    if p is not None:
                        row.update({
                            "pipelined": True, "levels": [lv.name or lv.var for lv in p.pipe.levels],
                            "requested_ii": p.requested, "ii": p.ii, "depth": p.depth,
                            "cycles_per_invocation": p.cycles(),
                            "cycles": (None if p.cycles() is None or invocations is None
                                       else p.cycles() * invocations),
                            "note": p.reason})
                        rows.append(row)
                        continue
                    row.update({"pipelined": False, "requested_ii": None, "ii": None,
                                "depth": None, "cycles_per_invocation": None, "cycles": None,
                                "note": "unrolled" if s.attrs.get("unroll") is not None else ""})
                    rows.append(row)
                    walk(s.body, outer + [trip])
                elif isinstance(s, If):
                    walk(s.then, outer)
                    walk(s.orelse, outer)
                elif isinstance(s, While):
                    walk(s.body, outer + [None])

        walk(lf.f.body, [])
        rows += getattr(lf, "report_rows", list)()  # e.g. a systolic array's engine
        for buf in lf.f.attrs.get("dynamic_banks", []):
            rows.append({"function": lf.name, "loop": "-", "trip": None, "invocations": None,
                         "pipelined": False, "requested_ii": None, "ii": None, "depth": None,
                         "cycles_per_invocation": None, "cycles": None,
                         "note": f"'{buf}': some accesses select their bank at run time "
                                 "(every bank is read, then one is chosen)"})
    return rows


def format_rows(rows, total_cycles=None) -> str:
    """A plain-text table of :func:`schedule_rows`."""
    head = ["function", "loop", "trip", "x", "II req", "II", "depth", "cycles", "note"]

    def cell(v):
        return "-" if v is None or v == "" else str(v)

    table = [[r["function"], r["loop"], cell(r["trip"]), cell(r["invocations"]),
              cell(r["requested_ii"]), cell(r["ii"]), cell(r["depth"]), cell(r["cycles"]),
              r["note"] or ""] for r in rows]
    widths = [max(len(h), *(len(t[k]) for t in table)) if table else len(h)
              for k, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for t in table:
        lines.append("  ".join(c.ljust(w) for c, w in zip(t, widths)).rstrip())
    if total_cycles is not None:
        lines.append(f"simulated total: {total_cycles} cycles")
    lines.append("x = invocations (product of enclosing trip counts); cycles = x * "
                 "((trip - 1) * II + depth) for pipelines")
    return "\n".join(lines)
