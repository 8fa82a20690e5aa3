"""PEP 695 generic dataflow regions, exactly as Allo writes them (needs Python 3.12+)."""

import sys

import numpy as np
import pytest

import allo_rtl.dataflow as df
from allo_rtl.ir.types import int16, int32

pytestmark = pytest.mark.skipif(sys.version_info < (3, 12),
                                reason="PEP 695 syntax does not parse before Python 3.12")


@pytest.fixture(scope="module")
def mod():
    from . import py312_regions

    return py312_regions


def test_generic_regions_called_from_a_kernel(mod, rng):
    A = rng.integers(-9, 9, (8, 8)).astype(np.int32)
    B = rng.integers(-9, 9, (8, 8)).astype(np.int32)
    C1, C2 = np.zeros((8, 8), np.int32), np.zeros((8, 8), np.int32)
    s = df.customize(mod.top)
    assert {"inner", "inner_1", "inner_1_gemm_3_3", "gemm_1_1"} <= set(s.module.funcs)
    s.build(target="simulator")(A, B, C1, C2)
    np.testing.assert_array_equal(C1, A @ B)
    np.testing.assert_array_equal(C2, A @ B)


@pytest.mark.parametrize("T, dt", [(int32, np.int32), (int16, np.int16)])
def test_generic_region_with_type_and_depth_parameters(mod, T, dt):
    s = df.customize(mod.chain, instantiate=[T, 3])
    assert f"q: stream<{T}, 3>" in str(s.module)
    A = np.arange(8, dtype=dt)
    B = np.zeros(8, dt)
    s.build(target="sim")(A, B)
    np.testing.assert_array_equal(B, 2 * A)
    B[:] = 0
    mod.chain[T, 2](A, B)
    np.testing.assert_array_equal(B, 2 * A)
