"""Pure-Python reference models of :mod:`primitives.systolic` (raw bit patterns in and
out, like the hardware)."""

import itertools

__all__ = ["value", "pe_sum", "float_pe_sum", "array_model", "gemm_model", "issue_order"]


def value(raw: int, width: int, is_signed: bool) -> int:
    """The integer a ``width``-bit raw pattern stands for."""
    raw &= (1 << width) - 1
    if is_signed and raw >> (width - 1):
        return raw - (1 << width)
    return raw


def pe_sum(a_vals, b_vals, init, acc_width, a_signed=True, b_signed=True, a_width=None,
           b_width=None):
    """Raw accumulator after the steps ``zip(a_vals, b_vals)`` starting from ``init``:
    ``init + sum(a * b)`` modulo ``2**acc_width`` (operands given as raw patterns of
    ``a_width``/``b_width`` bits when those are set, else as integers)."""
    acc = init
    for a, b in zip(a_vals, b_vals):
        x = value(a, a_width, a_signed) if a_width else a
        y = value(b, b_width, b_signed) if b_width else b
        acc += x * y
    return acc & ((1 << acc_width) - 1)


def float_pe_sum(a_vals, b_vals, init, fmt):
    """Raw sum of :class:`~primitives.systolic.FloatPE` after the steps ``zip(a_vals,
    b_vals)`` (raw patterns of ``fmt``) from raw ``init``: ``acc = acc + a * b`` in step
    order, the product and the sum each rounded to nearest even."""
    from ..float.model import fp_add_model, fp_mul_model

    acc = init
    for a, b in zip(a_vals, b_vals):
        acc = fp_add_model(acc, fp_mul_model(a, b, fmt), fmt)
    return acc


def array_model(A, B, init, acc_width):
    """Raw sums of :class:`~primitives.systolic.SystolicArray` for one tile: ``A`` (rows x
    K) and ``B`` (K x cols) integer matrices (lists of lists)."""
    rows, cols, K = len(A), len(B[0]), len(B)
    return [[pe_sum([A[i][k] for k in range(K)], [B[k][j] for k in range(K)], init,
                    acc_width) for j in range(cols)] for i in range(rows)]


def issue_order(tiles, steps, interleave=1):
    """The steps of :class:`~primitives.systolic.SystolicGemm` in the order it issues them:
    per issue cycle (bubbles between tiles or groups left out) ``(tile, step)``, counter
    tuples, or ``None`` for an empty slot. ``interleave`` ``L > 1``: groups of ``L``
    consecutive tiles, ``K`` rounds per group, round ``k`` issuing step ``k`` of the
    group's tiles in order (cycle ``t`` of a group: tile ``t mod L``, step ``t div L``);
    so every tile's steps stay in order, ``L`` cycles apart."""
    tl = list(itertools.product(*[range(n) for n in tiles]))
    sl = list(itertools.product(*[range(n) for n in steps]))
    out = []
    for g0 in range(0, len(tl), interleave):
        group = tl[g0:g0 + interleave]
        group += [None] * (interleave - len(group))
        for s in sl:
            out += [None if t is None else (t, s) for t in group]
    return out


def gemm_model(g, a_mems, b_mems, c_mems):
    """Run :class:`~primitives.systolic.SystolicGemm` ``g`` on memories given as lists of
    raw words (one list per port); returns the C memories after the run (copies). The
    result does not depend on the schedule (each sum is accumulated in step order, also
    when :attr:`~primitives.systolic.SystolicGemm.interleave` tiles are interleaved)."""
    c_out = [list(mem) for mem in c_mems]
    trips = g.tiles + g.steps
    nt = len(g.tiles)
    where = {}
    for p, bank in enumerate(g.c_banks.banks):
        for i, j, base in bank:
            where[(i, j)] = (p, base)

    def addr(amap, lane, counters):
        a = amap.bases[lane] + sum(s * c for s, c in zip(amap.strides, counters))
        return a & ((1 << amap.width) - 1)

    cmask = (1 << g.c_width) - 1
    for tile in itertools.product(*[range(n) for n in g.tiles]):
        steps = [tile + s for s in itertools.product(*[range(n) for n in trips[nt:]])]
        for i in range(g.rows):
            avals = [a_mems[i][addr(g.a_addr, i, c)] for c in steps]
            for j in range(g.cols):
                bvals = [b_mems[j][addr(g.b_addr, j, c)] for c in steps]
                if g.float_fmt is not None:
                    acc = float_pe_sum(avals, bvals, g.init, g.float_fmt)
                else:
                    acc = pe_sum(avals, bvals, g.init, g.acc_width, g.a_signed, g.b_signed,
                                 g.a_width, g.b_width)
                p, base = where[(i, j)]
                caddr = (base + sum(s * c for s, c in zip(g.c_banks.strides, tile))) & (
                    (1 << g.c_banks.width) - 1)
                c_out[p][caddr] = value(acc, g.acc_width, g.acc_signed) & cmask
    return c_out
