"""Shared fixtures."""

import inspect

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def line_of(fn, snippet: str) -> int:
    """File line number of the first line of ``fn`` containing ``snippet``."""
    lines, first = inspect.getsourcelines(fn)
    for k, text in enumerate(lines):
        if snippet in text:
            return first + k
    raise AssertionError(f"{snippet!r} not in {fn.__name__}")
