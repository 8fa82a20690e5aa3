"""Shared fixtures of the testbench tests: one build cache per test session."""

from __future__ import annotations

import os

import pytest

from testbench import build
from tb_designs import add_kernel


def _run_dir(tmp_path_factory, name: str):
    """A directory fresh for this pytest run but shared by its xdist workers.

    Builds are locked and published atomically, so workers can share it, and
    Verilator's runtime library is then compiled once per run, not per worker.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    path = base / name
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """A native build cache fresh for this test run (hermetic: cold builds are cold)."""
    return _run_dir(tmp_path_factory, "verilator-cache")


@pytest.fixture(scope="session")
def cocotb_build_dir(tmp_path_factory):
    """A cocotb build cache fresh for this test run."""
    return _run_dir(tmp_path_factory, "cocotb-cache")


@pytest.fixture(scope="session")
def add_design():
    """(verilog, spec) of the Amaranth AddKernel, depth 16, width 32."""
    return add_kernel(depth=16, width=32)


@pytest.fixture(scope="session")
def add_build(add_design, cache_dir):
    verilog, spec = add_design
    return build(verilog, spec, cache_dir=cache_dir)
