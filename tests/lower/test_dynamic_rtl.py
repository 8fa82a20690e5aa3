"""Dynamic arrays in hardware (allo_rtl/lower/dynamic.py): one kernel component for every
length, a wrapper sized per call, bit-exact with the interpreter."""

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl.ir.types import int32
from allo_rtl.lower import lower_design
from allo_rtl.lower.top import WAIVERS
from allo_rtl.lower.dynamic import DEFAULT_HOST_DEPTH, DYNAMIC_ADDR_BITS
from tests.kernel_check import both

pytestmark = pytest.mark.rtl


def vinc(A: int32[...], B: int32[...], n: int32):
    for i in range(n):
        B[i] = A[i] + 1


def test_one_kernel_component_many_wrappers(rng):
    s = allo.customize(vinc)
    s.pipeline("i")
    mod = s.build(target="rtl")
    # before any call: the host memories hold the default number of words
    assert [(m.name, m.depth) for m in mod.spec.memories] == [
        ("A", DEFAULT_HOST_DEPTH), ("B", DEFAULT_HOST_DEPTH)]
    assert [p.name for p in mod.spec.scalar_outputs] == ["A__oob", "B__oob"]
    kernel_text = mod.verilog[mod.verilog.index("module \\vinc_top.kernel"):]
    port = mod.design.top.signature.members["A"].signature  # the kernel component's
    assert port.addr_bits == DYNAMIC_ADDR_BITS
    builds = {}
    for n in (100, 3, 100):
        A = rng.integers(-1000, 1000, n).astype(np.int32)
        B = np.zeros(n, np.int32)
        mod(A, B, n)
        np.testing.assert_array_equal(B, A + 1)
        assert [m.depth for m in mod.spec.memories] == [n, n]
        assert mod.last_cycles < n + 12  # II=1
        # the kernel module is the same text for every length; only the wrapper changes
        assert mod.verilog[mod.verilog.index("module \\vinc_top.kernel"):] == kernel_text
        builds.setdefault(n, mod.compile())
        assert mod.compile() is builds[n]  # a length seen before reuses its simulation


def test_lengths_of_two_arrays_are_independent(rng):
    def gather(I: int32[...], T: int32[...], O: int32[...], n: int32):
        for i in range(n):
            O[i] = T[I[i]]

    s = allo.customize(gather)
    for n, m in ((5, 40), (9, 2)):
        I = rng.integers(0, m, n).astype(np.int32)
        T = rng.integers(-50, 50, m).astype(np.int32)
        O = np.zeros(n, np.int32)
        mod, _ = both(s, I, T, O, n)
        assert [mm.depth for mm in mod.spec.memories] == [n, m, n]
        O2 = np.zeros(n, np.int32)
        mod(I, T, O2, n)
        np.testing.assert_array_equal(O2, T[I])


def test_lower_design_alone_uses_the_default_depth():
    from testbench.lint import lint

    d = lower_design(allo.customize(vinc).module)
    assert {m.name: m.depth for m in d.spec.memories} == {"A": DEFAULT_HOST_DEPTH,
                                                         "B": DEFAULT_HOST_DEPTH}
    d2 = d.rewrap({"A": 7})
    assert {m.name: m.depth for m in d2.spec.memories} == {"A": 7, "B": DEFAULT_HOST_DEPTH}
    assert d2.funcs is d.funcs  # the kernel is not lowered again
    assert lint(d2.verilog, d2.spec.top, waivers=WAIVERS) == []
    assert d2.verilog == d.rewrap({"A": 7}).verilog  # deterministic
