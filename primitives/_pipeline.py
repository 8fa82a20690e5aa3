"""Building blocks shared by the pipelined arithmetic units of :mod:`primitives`."""

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Signal, Value

__all__ = ["Stages", "sum_partial_products"]


class Stages:
    """Cuts a linear datapath into pipeline stages.

    The datapath calls :meth:`cut` at each of its candidate register boundaries, in
    order, passing every value that later steps use. Boundaries whose index is in
    ``cuts`` get registers (all clock-enabled by ``en``); the others pass through.
    """
    def __init__(self, m, en, cuts, prefix=""):
        self._m, self._en, self._cuts, self._prefix = m, en, frozenset(cuts), prefix
        self.index = 0

    def cut(self, **values):
        i = self.index
        self.index += 1
        registered = i in self._cuts
        out = {}
        for name, value in values.items():
            value = Value.cast(value)
            if len(value) == 0:
                out[name] = Const(0, 0)
                continue
            if not registered and isinstance(value, (Signal, Const)):
                out[name] = value
                continue
            kind = "r" if registered else "w"
            sig = Signal(value.shape(), name=f"{self._prefix}{kind}{i}_{name}")
            if registered:
                with self._m.If(self._en):
                    self._m.d.sync += sig.eq(value)
            else:
                self._m.d.comb += sig.eq(value)
            out[name] = sig
        return SimpleNamespace(**out)


def sum_partial_products(parts, width):
    """Add shifted partial products. Products that do not overlap are concatenated into
    one row (no adder); the rows are added by a balanced tree."""
    rows = []                                       # each: list of (value, shift), sorted
    for p, sh in sorted(parts, key=lambda x: x[1]):
        for row in rows:
            last, lsh = row[-1]
            if lsh + len(last) <= sh:
                row.append((p, sh))
                break
        else:
            rows.append([(p, sh)])
    values = []
    for row in rows:
        pieces, pos = [], 0
        for p, sh in row:
            if sh > pos:
                pieces.append(Const(0, sh - pos))
            pieces.append(p)
            pos = sh + len(p)
        values.append(Cat(*pieces))
    while len(values) > 1:
        values = [(values[j] + values[j + 1]) if j + 1 < len(values) else values[j]
                  for j in range(0, len(values), 2)]
    return values[0][:width]
