"""Differential fuzzing of random kernels (see kernelgen.py).

* ref vs sim: the interpreter against the generator's independent reference model
  (plain Python on raw integers with Allo's typing rules spelled out), plus a
  determinism check of the interpreter.
* sim vs rtl: batches of several kernels behind one top per Verilator build.

``pytest tests/fuzz --fuzz-count 200 --fuzz-seed 1000`` runs more/other cases; a
failure prints the kernel source and the first differing element, and the case is
reproduced by ``generate(seed, n_kernels, fixed=...)``.
"""

import numpy as np
import pytest

from .kernelgen import FuzzMismatch, generate, run_case

DEFAULT_COUNT = 20
RTL_BATCH = 5  # kernels per RTL build (one Verilator build checks them all)
RTL_INPUTS = 3  # input sets per build (running is cheap, building is not)


def fuzz_options(config):
    """(count, first seed); the options exist when tests/fuzz/conftest.py was loaded early."""
    count = config.getoption("fuzz_count", default=None)
    seed = config.getoption("fuzz_seed", default=None)
    return (DEFAULT_COUNT if count is None else count), (0 if seed is None else seed)


def _case_params(seed: int):
    """(n_kernels, fixed) of case ``seed``: mixes single kernels, batches and Fixed types."""
    return 1 + seed % 3, seed % 2 == 1


def pytest_generate_tests(metafunc):
    count, first = fuzz_options(metafunc.config)
    if "fuzz_seed" in metafunc.fixturenames:
        metafunc.parametrize("fuzz_seed", range(first, first + count), ids=lambda s: f"s{s}")
    if "rtl_seed" in metafunc.fixturenames:
        n = max(1, count * 3 // (2 * RTL_BATCH))  # default: 6 builds, 30 kernels
        metafunc.parametrize("rtl_seed", range(first, first + n), ids=lambda s: f"s{s}")


def test_ref_vs_sim(fuzz_seed):
    n_kernels, fixed = _case_params(fuzz_seed)
    case = generate(fuzz_seed, n_kernels, fixed=fixed)
    run_case(case, ("ref", "sim"), n_inputs=3)
    # the interpreter is deterministic: two runs on the same inputs agree exactly
    inputs = case.make_inputs(np.random.default_rng(fuzz_seed))
    a, b = (run_case(case, ("sim",), inputs=inputs)["sim"] for _ in range(2))
    for k, p in enumerate(case.params):
        if p.shape:
            assert np.array_equal(a[0][k], b[0][k]), p.name
    assert a[1] == b[1]


@pytest.mark.rtl
def test_sim_vs_rtl(rtl_seed):
    case = generate(rtl_seed, RTL_BATCH, fixed=rtl_seed % 2 == 1)
    run_case(case, ("sim", "rtl"), n_inputs=RTL_INPUTS)


def test_generator_is_deterministic():
    for seed in (0, 7, 12345):
        a, b = generate(seed, 2, fixed=True), generate(seed, 2, fixed=True)
        assert a.source == b.source and a.ref_source == b.ref_source
        ia = a.make_inputs(np.random.default_rng(seed))
        ib = b.make_inputs(np.random.default_rng(seed))
        assert all(np.array_equal(x, y) for x, y in zip(ia, ib))


def test_generator_covers_the_kernel_language():
    """Over a few dozen seeds every construct the generator knows shows up."""
    seen = set()
    for seed in range(60):
        seen |= generate(seed, 1 + seed % 2, fixed=seed % 2 == 0).features
    want = {
        "arith", "div", "mod", "bitwise", "shift", "compare", "minmax", "ternary", "unary",
        "bit_get", "bit_slice", "bit_store", "reverse", "int_cast", "dynamic_bit_index",
        "range", "range_lb", "range_step", "grid", "reduction", "triangular", "data_bound",
        "while", "if", "elif", "else", "logic", "chained_compare", "store_1d", "store_2d",
        "augassign", "typed_decl", "inferred_decl", "uninit_scalar", "reassign",
        "tensor_fill", "tensor_literal", "tensor_copy", "tensor_uninit",
        "data_dependent_index", "const_array", "call", "call_subview", "return", "batch",
    }
    assert want <= seen, sorted(want - seen)


def test_mismatch_is_reported(capsys):
    """A wrong target result fails with the kernel source and the first differing element."""
    case = generate(3, 1)
    inputs = case.make_inputs(np.random.default_rng(0))
    arrays = [k for k, p in enumerate(case.params) if p.shape]
    real_ref = case.run_ref

    def broken(args):
        out = real_ref(args)
        a = args[arrays[0]]
        a.flat[0] = a.flat[0] ^ 1 if a.dtype.kind in "iu" else a.flat[0] + 1
        return out

    case.run_ref = broken
    with pytest.raises(FuzzMismatch, match="first difference at"):
        run_case(case, ("sim", "ref"), inputs=inputs)
    assert "def fz_k0(" in capsys.readouterr().out
