"""The IR printer is deterministic and readable (it is s.module)."""

import allo_rtl as allo
from allo_rtl.ir.types import int32


def kern(A: int32[4, 4]) -> int32[4]:
    B: int32[4] = 0
    for i, j in allo.grid(4, 4, name="row"):
        B[i] += A[i, j]
    for k in range(4):
        if B[k] > 3:
            B[k] = 3
    return B


def test_printer_golden():
    text = str(allo.customize(kern).module)
    assert text == allo.customize(kern).module.__str__()  # deterministic
    assert "func kern(A: i32[4, 4]) -> i32[4] {" in text
    assert "for i in 0..4 (band row) {" in text
    assert "for k in 0..4 (band S_k_1) {" in text
    assert "B[i] = cast<i32>((cast<i33>(B[i]) + cast<i33>(A[i, j])):i33)" in text


def test_loop_band_naming_like_allo():
    def k(A: int32[4]):
        for i, j, m in allo.grid(2, 2, 1):
            A[i] = 0
        for ii in range(2):
            for jj in range(2):
                A[ii] = 1
        for q in range(2):
            A[q] = 2

    loops = allo.customize(k).get_loops()
    assert list(loops.keys()) == ["S_i_j_m_0", "S_ii_1", "S_q_3"]
    assert list(loops["S_ii_1"].loops) == ["ii", "jj"]
    assert loops.S_i_j_m_0.j.name == "k:S_i_j_m_0.j"
