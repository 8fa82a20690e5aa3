"""Shared building blocks of the integer units (internal)."""

from types import SimpleNamespace

from amaranth.hdl import Signal, Value, Const


def check_width(width, what, cls):
    if not isinstance(width, int) or isinstance(width, bool):
        raise TypeError(f"{cls.__name__} {what} must be an integer, not {width!r}")
    if width < 1:
        raise ValueError(f"{cls.__name__} {what} must be a positive integer, not {width}")
    return width


def check_bool(value, what, cls):
    if not isinstance(value, bool):
        raise TypeError(f"{cls.__name__} {what} must be a bool, not {value!r}")
    return value


def check_latency(latency, maximum, cls):
    if not isinstance(latency, int) or isinstance(latency, bool):
        raise TypeError(f"{cls.__name__} latency must be an integer, not {latency!r}")
    if not 0 <= latency <= maximum:
        raise ValueError(f"{cls.__name__} latency must be in 0..{maximum}, not {latency}")
    return latency


def even_cuts(n, latency):
    """Boundaries (0-based, of ``n``) registered to cut a chain of ``n`` equal steps into
    ``latency`` pieces as evenly as possible; the last boundary (the output) is always
    among them when ``latency >= 1``."""
    return tuple(k - 1 for k in range(1, n + 1) if k * latency // n > (k - 1) * latency // n)


class Stages:
    """Cuts a linear datapath into pipeline stages.

    The datapath calls :meth:`cut` at each of its register boundaries, in order,
    passing every value that later steps use. Boundaries whose index is in ``cuts``
    get registers (clock-enabled by ``en``); at the others the values pass through
    as named wires.
    """
    def __init__(self, m, en, cuts):
        self._m, self._en, self._cuts = m, en, frozenset(cuts)
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
            sig = Signal(value.shape(), name=f"{'r' if registered else 'w'}{i}_{name}")
            if registered:
                with self._m.If(self._en):
                    self._m.d.sync += sig.eq(value)
            else:
                self._m.d.comb += sig.eq(value)
            out[name] = sig
        return SimpleNamespace(**out)


def priority_cuts(order):
    """``{latency: boundaries}`` registering the first ``latency`` boundaries of
    ``order`` (a priority list of boundary indices)."""
    return {n: tuple(sorted(order[:n])) for n in range(len(order) + 1)}
