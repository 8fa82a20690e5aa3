"""lower.prepare: explicit fills, copies and result ports; dead fills are dropped only
when provably dead (the hardware result must still equal the interpreter)."""

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl.ir.nodes import For, walk_stmts
from allo_rtl.ir.types import int32
from allo_rtl.lower.prepare import prepare_module
from tests.kernel_check import both

N = 8


def _fill_loops(s) -> int:
    f = prepare_module(s.module).funcs[s.top_func_name]
    return sum(1 for x in walk_stmts(f.body) if isinstance(x, For) and x.var.startswith("__fill")
               and x.var.endswith("_0"))  # one per fill nest


def overwritten(A: int32[N, N]) -> int32[N, N]:
    C: int32[N, N] = 7
    for r in range(3):  # a wrapping loop: its first iteration writes all of C
        for i in range(N):
            for j in range(N):
                C[i, j] = A[i, j] + r
    return C


def read_first(A: int32[N, N]) -> int32[N, N]:
    C: int32[N, N] = 7
    for i in range(N):
        for j in range(N):
            C[i, j] = C[i, j] + A[i, j]  # reads the fill
    return C


def partial(A: int32[N, N]) -> int32[N, N]:
    C: int32[N, N] = 7
    for i in range(1, N):  # row 0 keeps the fill
        for j in range(N):
            C[i, j] = A[i, j]
    return C


def conditional(A: int32[N, N]) -> int32[N, N]:
    C: int32[N, N] = 7
    for i in range(N):
        for j in range(N):
            if A[i, j] > 0:
                C[i, j] = A[i, j]
    return C


def transposed(A: int32[N, N]) -> int32[N, N]:
    C: int32[N, N] = 7
    for i in range(N):
        for j in range(N):
            C[j, i] = A[i, j]  # still every element
    return C


@pytest.mark.parametrize("fn,fills", [(overwritten, 0), (read_first, 1), (partial, 1),
                                      (conditional, 1), (transposed, 0)],
                         ids=lambda x: getattr(x, "__name__", str(x)))
def test_dead_fill_is_dropped_only_when_every_element_is_written_first(fn, fills):
    assert _fill_loops(allo.customize(fn)) == fills


@pytest.mark.rtl
@pytest.mark.parametrize("fn", [overwritten, read_first, partial, conditional, transposed],
                         ids=lambda f: f.__name__)
def test_fill_elimination_keeps_results(fn, rng):
    A = rng.integers(-5, 5, (N, N)).astype(np.int32)
    both(allo.customize(fn), A)
