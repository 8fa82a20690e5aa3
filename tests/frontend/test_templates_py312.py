"""Allo's PEP 695 template syntax, exactly as Allo accepts it (needs Python 3.12+)."""

import sys

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl.ir.types import float32, int32, int8

pytestmark = pytest.mark.skipif(sys.version_info < (3, 12),
                                reason="PEP 695 syntax does not parse before Python 3.12")


@pytest.fixture(scope="module")
def mod():
    from . import py312_templates

    return py312_templates


def test_call_site_instantiation(mod):
    s = allo.customize(mod.top)
    assert {"scale", "scale_1", "top"} == set(s.module.funcs)
    A = np.arange(4, dtype=np.int32)
    X = np.ones(8, dtype=np.float32)
    ref = X * 2
    ref[:4] += A * 3
    np.testing.assert_array_equal(s.build(target="sim")(A, X), ref)


def test_customize_instantiate(mod):
    s = allo.customize(mod.scale, instantiate=[int32, 4])
    assert s.build(target="sim")(np.arange(4, dtype=np.int32), 5).tolist() == [0, 5, 10, 15]


def test_bound_is_checked(mod):
    with pytest.raises(allo.AlloError, match="not one of the allowed"):
        allo.customize(mod.scale, instantiate=[int8, 4])


def test_string_arg_names_instance_and_expression_shapes(mod):
    s = allo.customize(mod.top_named)
    assert "named_c5" in s.module.funcs


def test_dynamic_array_template_parameter(mod):
    s = allo.customize(mod.top_dyn)
    assert "func fill_dyn(A: f32[?], v: f32, n: i32)" in str(s.module)
    A, B = np.zeros(6, np.float32), np.zeros(3, np.int8)
    s.build(target="sim")(A, B, 3)
    assert A.tolist() == [0.5] * 3 + [0.0] * 3 and B.tolist() == [-3] * 3
    s2 = allo.customize(mod.fill_dyn, instantiate=[int32])
    X = np.zeros(4, np.int32)
    s2.build(target="sim")(X, 7, 4)
    assert X.tolist() == [7] * 4
