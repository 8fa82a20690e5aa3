"""Shared fixtures."""

import inspect
import os

import numpy as np
import pytest


# Run the IR verifier after the frontend, every schedule primitive and the lowering's
# preparation passes (allo_rtl/ir/verify.py).
os.environ.setdefault("ALLO_RTL_VERIFY", "1")
# Compile the Verilated models of the tests without C++ optimisation: compiling is most of
# a Verilator build (about half the time of -O2), and the tests' simulations are short.
# Builds for users and the benchmark keep -O2 (testbench/native.py: make_opt).
os.environ.setdefault("ALLO_RTL_CXX_OPT", "-O0")


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


def pytest_addoption(parser):
    """Options of tests/fuzz (here: pytest only reads options from initial conftests)."""
    group = parser.getgroup("fuzz", "random kernel differential tests (tests/fuzz)")
    group.addoption("--fuzz-count", type=int, default=None,
                    help="random kernels per fuzz test (default 20)")
    group.addoption("--fuzz-seed", type=int, default=None, help="first fuzz seed (default 0)")
    group = parser.getgroup("sched", "schedule property tests (tests/schedule/test_properties.py)")
    group.addoption("--sched-examples", type=int, default=None,
                    help="interpreter examples of the schedule properties (default 1000; "
                         "env SCHED_EXAMPLES)")
    group.addoption("--sched-rtl-examples", type=int, default=None,
                    help="RTL examples of the schedule properties (default 40; "
                         "env SCHED_RTL_EXAMPLES)")
    group.addoption("--sched-seed", type=int, default=None,
                    help="seed of the schedule properties (default 0; env SCHED_SEED)")
