"""Systolic matrix multiplication, API-compatible with Allo's ``allo.library.systolic``.

``systolic[TyA, TyB, TyC, M, K, N, Mt, Nt](A, B, C)`` computes ``C = A @ B``
(``A: TyA[M, K]``, ``B: TyB[K, N]``, ``C: TyC[M, N]``, sums accumulated in ``TyC``)
tile by tile on an ``Mt`` x ``Nt`` grid of processing elements::

    s = allo.customize(systolic, instantiate=[int8, int8, int16, M, K, N, Mt, Nt])
    schedule_systolic(s)          # partitions, pipelines, unfold + to: the PE grid
    mod = s.build()               # RTL: a SystolicGemm of Mt x Nt PEs per tile

The kernels keep Allo's structure and names, which ``schedule_systolic`` (and user
schedules written for Allo) refer to: ``systolic`` copies an ``Mt x K`` block of
``A`` (once per row of tiles) and a ``K x Nt`` block of ``B`` into ``local_A`` and
``local_B`` (band ``outer_tile``, loops ``ak, ai`` / ``bk, bj``), calls
``systolic_tile`` and copies ``local_C`` back (``sj, si``). In ``systolic_tile``,
band ``data_load`` puts the tile's operands at the edges of ``A_fifo``/``B_fifo``,
band ``PE`` runs ``PE_kernel`` for every PE, and band ``data_drain`` reads the far
edges. Each ``PE_kernel(i, j)`` reads its operands from ``A_fifo[i, j]`` /
``B_fifo[j, i]`` and forwards them to ``A_fifo[i, j + 1]`` / ``B_fifo[j, i + 1]``:
exactly what a systolic array's links do, so after ``s.unfold("systolic_tile:PE",
[0, 1])`` and ``s.to`` of both FIFO arrays the lowering builds the PE grid
(:mod:`allo_rtl.lower.systolic`) and keeps the forwarded values in PE registers.

All of it also runs as plain Python and on the interpreter (``target="sim"``).
"""

from __future__ import annotations

from .. import dsl
from ..errors import AlloError
from ..frontend.parse import template
from ..ir.types import index
from ..ir.utils import MockBuffer

__all__ = ["PE_kernel", "systolic_tile", "systolic", "schedule_systolic"]


@template("TyA", "TyB", "TyC", "K", "Mt", "Nt")
def PE_kernel(A_in: "TyA[K]", B_in: "TyB[K]", A_out: "TyA[K]", B_out: "TyB[K]",
              C: "TyC[Mt, Nt]", i: index, j: index):
    # one PE: the dot product of its row of A and column of B, accumulated in TyC;
    # every operand moves on to the east (A) and south (B) neighbour
    acc: TyC = 0
    for k in range(K):
        a: TyA = A_in[k]
        b: TyB = B_in[k]
        acc += a * b
        A_out[k] = a
        B_out[k] = b
    C[i, j] = acc


@template("TyA", "TyB", "TyC", "K", "Mt", "Nt")
def systolic_tile(A: "TyA[Mt, K]", B: "TyB[K, Nt]", C: "TyC[Mt, Nt]"):
    # A_fifo[i, j]: what PE (i, j) receives from the west; B_fifo[j, i]: from the north
    A_fifo: TyA[Mt, Nt + 1, K]
    B_fifo: TyB[Nt, Mt + 1, K]
    A_drain: TyA[Mt]
    B_drain: TyB[Nt]
    for k in range(K, name="data_load"):
        for m in range(Mt):
            A_fifo[m, 0, k] = A[m, k]
        for n in range(Nt):
            B_fifo[n, 0, k] = B[k, n]
    for i, j in dsl.grid(Mt, Nt, name="PE"):
        PE_kernel[TyA, TyB, TyC, K, Mt, Nt](A_fifo[i, j], B_fifo[j, i], A_fifo[i, j + 1],
                                            B_fifo[j, i + 1], C, i, j)
    for k in range(K, name="data_drain"):
        for m in range(Mt):
            A_drain[m] = A_fifo[m, Nt, k]
        for n in range(Nt):
            B_drain[n] = B_fifo[n, Mt, k]


@template("TyA", "TyB", "TyC", "M", "K", "N", "Mt", "Nt")
def systolic(A: "TyA[M, K]", B: "TyB[K, N]", C: "TyC[M, N]"):
    local_A: TyA[Mt, K]
    local_B: TyB[K, Nt]
    local_C: TyC[Mt, Nt]
    # k is not tiled: it is the array's time dimension
    for mi, ni in dsl.grid(M // Mt, N // Nt, name="outer_tile"):
        for ak, ai in dsl.grid(K, Mt, name="load_A_tile"):
            if ni == 0:  # the rows of A serve every tile of their row
                local_A[ai, ak] = A[mi * Mt + ai, ak]
        for bk, bj in dsl.grid(K, Nt, name="load_B_tile"):
            local_B[bk, bj] = B[bk, ni * Nt + bj]
        systolic_tile[TyA, TyB, TyC, K, Mt, Nt](local_A, local_B, local_C)
        for sj, si in dsl.grid(Nt, Mt, name="store_C_tile"):
            C[mi * Mt + si, ni * Nt + sj] = local_C[si, sj]


def schedule_systolic(s):
    """The default schedule of :func:`systolic` (Allo's, but for the dataflow of the tile
    loop, see below): ``local_A`` split into rows, ``local_B`` into columns, ``local_C``
    into registers; the tile copies pipelined; ``systolic_tile``'s ``PE`` band unfolded
    into the PE grid, ``A_fifo`` streaming east and ``B_fifo`` south. Returns ``s``."""
    if s.top_func_name != "systolic" or len(s.inst_list) != 8:
        raise AlloError(f"schedule_systolic applies to allo.customize(systolic, instantiate="
                        f"[TyA, TyB, TyC, M, K, N, Mt, Nt]), not to {s.top_func_name!r} with "
                        f"{len(s.inst_list)} template argument(s)",
                        hint="customize allo_rtl.library.systolic.systolic with its 8 template "
                             "arguments")
    M, K, N, Mt, Nt = s.inst_list[3:]
    for what, size, tile in (("M", M, Mt), ("N", N, Nt)):
        if size % tile:
            raise AlloError(f"schedule_systolic: the PE grid's {'Mt' if what == 'M' else 'Nt'}="
                            f"{tile} does not divide {what}={size}, so the tiles would leave "
                            f"{size % tile} row(s)/column(s) of C uncomputed",
                            hint=f"pick a tile size that divides {what}")
    s.partition(s.local_C, dim=0)
    s.partition(s.local_A, dim=1)
    s.partition(s.local_B, dim=2)
    tile = s.get_loops(s.top_func_name)["outer_tile"]
    s.pipeline(tile["ai"])
    s.pipeline(tile["bj"])
    s.pipeline(tile["si"])
    # Allo also makes the tile loop a dataflow region (s.dataflow(tile["ni"])), overlapping
    # the copies of one tile with the PE grid's work on the previous one. In allo_rtl the
    # stage calling the PE grid would be a kernel that can stall (its token streams), and
    # the systolic engine cannot be paused yet (lower/kernel.py _refuse_frozen_systolic);
    # local_A, loaded only when ni == 0, would also make its users take turns. So here
    # the tiles run one after another
    pe = s.unfold("systolic_tile:PE", [0, 1])
    s.to(MockBuffer("systolic_tile", "A_fifo"), pe, axis=1, depth=Mt + 1)
    s.to(MockBuffer("systolic_tile", "B_fifo"), pe, axis=0, depth=Nt + 1)
    return s
