"""Run kernels on the interpreter and, when the test asks for it, on the RTL too.

Kernel tests call :func:`build` instead of ``s.build(target="sim")``. Under the
``rtl`` parameter of the ``kernel_target`` fixture (tests/frontend/conftest.py)
the returned callable runs the interpreter *and* the Verilog simulation on
copies of the same arguments and asserts they agree bit for bit (arrays written
in place and results), then returns the RTL's results.
"""

from __future__ import annotations

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl.errors import AlloError

_TARGET = {"value": "sim"}


def set_target(target: str) -> None:
    _TARGET["value"] = target


def current_target() -> str:
    return _TARGET["value"]


def assert_bitexact(a, b, what="result"):
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{what}: {a!r} vs {b!r}"
        for k, (x, y) in enumerate(zip(a, b)):
            assert_bitexact(x, y, f"{what}[{k}]")
        return
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), f"{what}: array vs {type(b).__name__}"
        assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        if a.dtype.kind == "f":
            a = a.view(f"u{a.dtype.itemsize}")
            b = b.view(f"u{b.dtype.itemsize}")
        if not np.array_equal(a, b):
            bad = np.argwhere(a != b)[0]
            raise AssertionError(f"{what}: interpreter != RTL at {tuple(bad)}: "
                                 f"{a[tuple(bad)]!r} vs {b[tuple(bad)]!r}")
        return
    if isinstance(a, float) and a != a:
        assert b != b, f"{what}: NaN vs {b!r}"
        return
    assert type(a) is type(b) and a == b, f"{what}: interpreter {a!r} != RTL {b!r}"


class Checked:
    """Interpreter and RTL side by side (see module docstring)."""

    def __init__(self, sim, rtl):
        self.sim, self.rtl = sim, rtl
        self.last_cycles = None

    def __call__(self, *args):
        copies = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
        ref = self.sim(*copies)
        out = self.rtl(*args)
        for k, (x, y) in enumerate(zip(copies, args)):
            if isinstance(x, np.ndarray):
                assert_bitexact(x, y, f"argument {k} after the call")
        assert_bitexact(ref, out)
        self.last_cycles = self.rtl.last_cycles
        return out


def build(fn_or_schedule, rtl_unsupported: str | None = None, **kw):
    """``customize`` (if given a function) and build for the current test target.

    ``rtl_unsupported``: the kernel uses a feature the RTL target does not have yet; on
    that target the build must fail with a clear AlloError containing this text (checked)
    and the interpreter alone is returned."""
    s = fn_or_schedule if hasattr(fn_or_schedule, "build") else allo.customize(fn_or_schedule, **kw)
    sim = s.build(target="sim")
    if current_target() == "sim":
        return sim
    if rtl_unsupported is not None:
        with pytest.raises(AlloError, match="not supported by the RTL target") as e:
            s.build(target="rtl")
        assert rtl_unsupported in str(e.value)
        return sim
    return Checked(sim, s.build(target="rtl"))


def both(s, *args):
    """Build schedule ``s`` for RTL and the interpreter, run both on copies of ``args``,
    assert bit-exact agreement (results and arrays written in place); returns the RTL
    module and its result."""
    mod = s.build(target="rtl")
    a1 = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
    a2 = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
    r1, r2 = mod(*a1), s.build(target="sim")(*a2)
    assert_bitexact(r2, r1)
    for x, y in zip(a2, a1):
        if isinstance(x, np.ndarray):
            assert_bitexact(x, y, "array argument")
    return mod, r1


def pipelines(mod):
    """Loop name -> PipeSchedule of every pipelined loop of an RTL module."""
    return {p.pipe.name: p for lf in mod.design.funcs.values() for p in lf.pipelines}
