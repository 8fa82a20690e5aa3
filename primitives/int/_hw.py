"""Shared building blocks of the integer units (internal)."""

from .._pipeline import Stages  # noqa: F401 (re-exported)


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




def priority_cuts(order):
    """``{latency: boundaries}`` registering the first ``latency`` boundaries of
    ``order`` (a priority list of boundary indices)."""
    return {n: tuple(sorted(order[:n])) for n in range(len(order) + 1)}
