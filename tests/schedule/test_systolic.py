"""s.unfold and s.to (PE-grid form): IR annotations, printing, the unchanged interpreter
result, and the errors at the primitive's call."""

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl import AlloError
from allo_rtl.ir.types import int8, int32
from allo_rtl.ir.nodes import For, walk_stmts
from allo_rtl.ir.utils import MockBuffer
from allo_rtl.ir.verify import VerifyError, verify_module
from allo_rtl.schedule.systolic import PEGrid

M, N, K = 8, 8, 4


def gemm(A: int8[M, K], B: int8[K, N]) -> int32[M, N]:
    C: int32[M, N] = 0
    for i, j, k in allo.grid(M, N, K, name="gemm"):
        C[i, j] += A[i, k] * B[k, j]
    return C


def _tiled():
    s = allo.customize(gemm)
    s.split("i", 4)
    s.split("j", 2)
    s.reorder("i.outer", "j.outer", "k", "i.inner", "j.inner")
    return s


def test_unfold_and_to_annotate_the_ir():
    s = _tiled()
    pe = s.unfold("gemm", [3, 4])
    assert isinstance(pe, PEGrid) and list(pe) == [3, 4]
    assert (pe.function, pe.band, pe.loops) == ("gemm", "gemm", ["i.inner", "j.inner"])
    s.to(s.A, pe, axis=1)
    s.to(s.B, pe, axis=0, depth=5)
    text = str(s.module)
    assert "for i_inner in 0..4 (name i.inner, to=(('B', 5),), unfold=0) {" in text
    assert "for j_inner in 0..2 (name j.inner, to=(('A', -1),), unfold=1) {" in text
    assert [p[0] for p in s.primitive_sequences][-3:] == ["unfold", "to", "to"]


def test_unfold_keeps_the_result(rng):
    A = rng.integers(-128, 128, (M, K)).astype(np.int8)
    B = rng.integers(-128, 128, (K, N)).astype(np.int8)
    ref = allo.customize(gemm).build(target="sim")(A, B)
    s = _tiled()
    pe = s.unfold("gemm", (3, 4))  # a tuple is accepted too
    s.to(s.A, pe, axis=1)
    s.to(s.B, pe, axis=0)
    out = s.build(target="sim")(A, B)
    assert np.array_equal(out, ref)
    assert np.array_equal(ref, (A.astype(np.int32) @ B.astype(np.int32)))


def test_unfold_of_a_band_in_another_function_and_axes_list_form():
    def top(A: int8[M, K], B: int8[K, N]) -> int32[M, N]:
        return gemm(A, B)

    s = allo.customize(top)
    pe = s.unfold("gemm:gemm", [0, 1])
    assert pe.function == "gemm"
    # Allo passes the plain list s.unfold returned; a buffer of the band's function
    s.to(MockBuffer("gemm", "A"), [0, 1], axis=1)
    s.to("gemm:B", pe, axis=0)
    assert "unfold=1" in str(s.module)


@pytest.mark.parametrize("band,axes,msg,hint", [
    ("nope", [0, 1], "unfold: function 'gemm' has no loop band 'nope'", "bands of gemm: gemm"),
    ("other:gemm", [0], "unfold: no function 'other' in this schedule", "functions: gemm"),
    ("gemm", [3, 5], r"unfold: axes \[3, 5\] are not consecutive", "i.outer"),
    ("gemm", [4, 5], "unfold: band 'gemm' has 5 loops; axis 5 does not exist",
     "0: i.outer, 1: j.outer, 2: k, 3: i.inner, 4: j.inner"),
    ("gemm", [], r"unfold: axes must be a non-empty list", "loops of gemm by position"),
    ("gemm", "01", r"unfold: axes must be a non-empty list", "loops of gemm by position"),
    (3, [0], "unfold: expected a band name", "s.unfold"),
])
def test_unfold_errors(band, axes, msg, hint):
    s = _tiled()
    with pytest.raises(AlloError, match=msg) as e:
        s.unfold(band, axes)
    assert hint in e.value.hint
    assert e.value.loc is not None and e.value.loc.file == __file__


def test_unfold_needs_perfect_nesting_and_counted_loops():
    def k1(A: int32[4, 4]) -> int32[4, 4]:
        B: int32[4, 4] = 0
        for i in range(4, name="L"):
            B[i, 0] = 1
            for j in range(4):
                B[i, j] += A[i, j]
        return B

    s = allo.customize(k1)
    with pytest.raises(AlloError, match="loop 'j' is not the only statement of loop 'i'"):
        s.unfold("L", [0, 1])

    def k2(A: int32[8]) -> int32[8]:
        B: int32[8] = 0
        for i in range(1, 8, name="L"):
            B[i] = A[i]
        return B

    with pytest.raises(AlloError, match=r"loop 'i' runs range\(1, 8, 1\)"):
        allo.customize(k2).unfold("L", [0])
    s = _tiled()
    s.pipeline("j.inner")
    with pytest.raises(AlloError, match="loop 'j.inner' is marked pipeline"):
        s.unfold("gemm", [3, 4])
    s = _tiled()
    s.unfold("gemm", [3, 4])
    with pytest.raises(AlloError, match="loop 'i.inner' is already unfolded"):
        s.unfold("gemm", [3])


def test_to_errors():
    def k(A: int8[M, K], B: int8[K, N], D: int8[4]) -> int32[M, N]:
        C: int32[M, N] = 0
        for i, j, k in allo.grid(M, N, K, name="gemm"):
            C[i, j] += A[i, k] * B[k, j]
        return C

    s = allo.customize(k)
    pe = s.unfold("gemm", [0, 1])
    with pytest.raises(AlloError, match="to: buffer 'D' is not accessed in band 'gemm'"):
        s.to(s.D, pe, axis=1)
    with pytest.raises(AlloError, match=r"the PE grid of band 'gemm' has 2 dimension\(s\); "
                                        "axis 2 does not exist"):
        s.to(s.A, pe, axis=2)
    with pytest.raises(AlloError, match="to: axis must be a dimension"):
        s.to(s.A, pe)
    with pytest.raises(AlloError, match="to: depth must be a positive integer or -1, got 0"):
        s.to(s.A, pe, axis=1, depth=0)
    s.to(s.A, pe, axis=1)
    with pytest.raises(AlloError, match="to: 'A' already streams along axis 1 of band 'gemm'"):
        s.to(s.A, pe, axis=0)
    s2 = allo.customize(k)
    with pytest.raises(AlloError, match="has 0 unfolded bands; a list of axes does not say"):
        s2.to(s2.A, [0, 1], axis=1)
    # the producer/consumer form of s.to is a different primitive (dataflow between calls)
    with pytest.raises(AlloError) as e:
        s2.to(s2.A, "consumer")
    assert "unfold" not in str(e.value)


def test_verifier_checks_the_annotations():
    s = _tiled()
    pe = s.unfold("gemm", [3, 4])
    s.to(s.A, pe, axis=1)
    verify_module(s.module)
    lp = next(x for x in walk_stmts(s.module.top_func.body)
              if isinstance(x, For) and x.attrs.get("unfold") == 1)
    lp.attrs["to"] = (("nope", -1),)
    with pytest.raises(VerifyError, match=r"unfolded loop 'j.inner' streams \('nope', -1\), "
                                          r"not \(tensor, depth\)"):
        verify_module(s.module)
    lp.attrs["to"] = (("A", 0),)
    with pytest.raises(VerifyError, match="streams"):
        verify_module(s.module)
    del lp.attrs["to"]
    lp.attrs["unfold"] = -1
    with pytest.raises(VerifyError, match="loop 'j.inner' has unfold=-1"):
        verify_module(s.module)
    lp.attrs["unfold"] = 1
    lp.lb = type(lp.lb)(1, lp.lb.type)
    with pytest.raises(VerifyError, match="unfolded loop 'j.inner' does not count 0, 1"):
        verify_module(s.module)
