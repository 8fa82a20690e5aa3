"""Systolic-array primitives: ``unfold`` and ``to`` after ``unfold``.

``s.unfold(band, axes)`` turns loops of a band into the dimensions of a grid of
processing elements (PEs): loop ``axes[d]`` of the band (its loops numbered in
depth-first order, as ``s.get_loops()[band]`` lists them) becomes grid dimension
``d``, one PE per iteration. ``s.to(buf, pe, axis=d, depth=n)`` then says that the
values of ``buf`` flow between neighbouring PEs along dimension ``d`` (east for
``d = 1``, south for ``d = 0``) instead of being read by every PE.

Neither changes what the program computes: they annotate the IR (the loop of grid
dimension ``d`` gets ``unfold=d``; it lists the buffers streaming along ``d`` with
their depths in ``to``), the interpreter ignores the annotations, and the lowering
(:mod:`allo_rtl.lower.systolic`) builds the PE grid from them, or explains why the
band is not one it can build. In the lock-step systolic array every link between
neighbouring PEs is a register, so ``depth`` (the FIFO depth of Allo's HLS
backends, where the PEs run as free-running processes) is recorded and checked but
needs no storage.

Example (IR after ``pe = s.unfold("gemm", [3, 4])``, ``s.to(s.A, pe, axis=1)`` and
``s.to(s.B, pe, axis=0)``)::

    for i_outer in 0..2 (band gemm, name i.outer) {
      for j_outer in 0..2 (name j.outer) {
        for k in 0..8 {
          for i_inner in 0..4 (name i.inner, to=(('B', -1),), unfold=0) {
            for j_inner in 0..4 (name j.inner, to=(('A', -1),), unfold=1) {
              C[...] = ...
"""

from __future__ import annotations

from ..errors import AlloError, Loc
from ..ir.nodes import BufRef, CallStmt, Const, For, Function, Load, Module, Store, \
    stmt_exprs, walk_exprs, walk_stmts
from .resolve import resolve_buffer

__all__ = ["PEGrid", "unfold", "to", "is_pe_grid", "band_roots"]


class PEGrid(list):
    """What ``s.unfold`` returns: the sorted axes (a list, as in Allo) plus the function,
    the band and the names of the unfolded loops (``s.to(buf, pe, axis=...)`` uses them)."""

    def __init__(self, function: str, band: str, loops: list, axes: list):
        super().__init__(axes)
        self.function, self.band, self.loops = function, band, list(loops)

    def __repr__(self):
        return f"PEGrid({self.function}:{self.band} {list(self)} = {', '.join(self.loops)})"


def is_pe_grid(dst) -> bool:
    """Is ``dst`` the PE-grid form of ``to`` (a :class:`PEGrid` or a list of axis numbers)?"""
    return isinstance(dst, PEGrid) or (
        isinstance(dst, (list, tuple)) and len(dst) > 0
        and all(isinstance(a, int) and not isinstance(a, bool) for a in dst))


def band_roots(f: Function) -> dict:
    """Band name -> its outermost loop, for every band of ``f``."""
    return {s.band: s for s in walk_stmts(f.body) if isinstance(s, For) and s.band}


def _loops(root: For) -> list:
    return [s for s in walk_stmts([root]) if isinstance(s, For)]


def _find_band(module: Module, band_name, loc: Loc | None, prim: str):
    from .schedule import LoopBand

    if isinstance(band_name, LoopBand):
        fname, band = band_name.func, band_name.name
    elif isinstance(band_name, str):
        fname, sep, band = band_name.partition(":")
        if not sep:
            fname, band = module.top, band_name
    else:
        raise AlloError(f"{prim}: expected a band name ('band' or 'func:band'), got "
                        f"{type(band_name).__name__}", loc,
                        "pass e.g. s.unfold('gemm', [0, 1]) or 'kernel:PE'")
    if fname not in module.funcs:
        raise AlloError(f"{prim}: no function {fname!r} in this schedule", loc,
                        f"functions: {', '.join(module.funcs)}")
    f = module.funcs[fname]
    roots = band_roots(f)
    if band not in roots:
        raise AlloError(f"{prim}: function {fname!r} has no loop band {band!r}", loc,
                        f"bands of {fname}: {', '.join(roots) or '(none)'}")
    return f, band, roots[band]


def _const(e):
    return e.value if isinstance(e, Const) and isinstance(e.value, int) else None


def unfold(module: Module, band_name, axes, loc: Loc | None) -> PEGrid:
    """Make loops ``axes`` (consecutive positions in the band's depth-first loop list) of
    band ``band_name`` the dimensions of a PE grid; returns the :class:`PEGrid`."""
    f, band, root = _find_band(module, band_name, loc, "unfold")
    loops = _loops(root)
    names = [lp.name or lp.var for lp in loops]
    listing = ", ".join(f"{k}: {n}" for k, n in enumerate(names))
    if (not isinstance(axes, (list, tuple)) or not axes
            or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes)):
        raise AlloError(f"unfold: axes must be a non-empty list of loop positions in band "
                        f"{band!r}, got {axes!r}", loc,
                        f"loops of {band} by position: {listing}")
    ax = sorted(axes)
    if len(set(ax)) != len(ax) or ax != list(range(ax[0], ax[0] + len(ax))):
        raise AlloError(f"unfold: axes {list(axes)} are not consecutive", loc,
                        f"unfold consecutive loops of {band} (positions: {listing})")
    if ax[0] < 0 or ax[-1] >= len(loops):
        raise AlloError(f"unfold: band {band!r} has {len(loops)} loops; axis "
                        f"{ax[0] if ax[0] < 0 else ax[-1]} does not exist", loc,
                        f"loops of {band} by position: {listing}")
    chosen = [loops[a] for a in ax]
    for outer, inner in zip(chosen, chosen[1:]):
        if not (len(outer.body) == 1 and outer.body[0] is inner):
            raise AlloError(f"unfold: loop {names[loops.index(inner)]!r} is not the only "
                            f"statement of loop {names[loops.index(outer)]!r}; unfolded loops "
                            "must be perfectly nested", loc,
                            "reorder the band so that the unfolded loops are adjacent "
                            "(s.reorder), or unfold other axes")
    for a, lp in zip(ax, chosen):
        lb, ub = _const(lp.lb), _const(lp.ub)
        if lb is None or ub is None:
            raise AlloError(f"unfold: loop {names[a]!r} has non-constant bounds; a PE grid "
                            "has a fixed size", loc, "split the loop (s.split) and unfold the "
                            "constant-bound inner loop")
        if lb != 0 or lp.step != 1 or ub <= 0:
            raise AlloError(f"unfold: loop {names[a]!r} runs range({lb}, {ub}, {lp.step}); an "
                            "unfolded loop must count 0, 1, ..., n-1 (n >= 1)", loc,
                            "unfold a loop of the form range(n)")
        if "unfold" in lp.attrs:
            raise AlloError(f"unfold: loop {names[a]!r} is already unfolded", loc,
                            "unfold each band once")
        for other in ("pipeline", "unroll", "parallel"):
            if other in lp.attrs:
                raise AlloError(f"unfold: loop {names[a]!r} is marked {other}; an unfolded loop "
                                "becomes PEs that run side by side, so it cannot also be "
                                f"{other}d", loc,
                                f"drop the {other} of {names[a]!r} (the PE grid runs every "
                                "iteration in parallel)")
    for d, lp in enumerate(chosen):
        lp.attrs["unfold"] = d
    return PEGrid(f.name, band, [names[a] for a in ax], ax)


def _accesses(body: list, buf: str) -> bool:
    for s in walk_stmts(body):
        if isinstance(s, Store) and s.buf == buf:
            return True
        if isinstance(s, CallStmt) and any(isinstance(a, BufRef) and a.buf == buf
                                           for a in s.args):
            return True
        for e in stmt_exprs(s):
            if any(isinstance(x, Load) and x.buf == buf for x in walk_exprs(e)):
                return True
    return False


def to(module: Module, target, dst, axis, depth, loc: Loc | None):
    """Stream buffer ``target`` between the PEs of grid ``dst`` along dimension ``axis``."""
    ref = resolve_buffer(module, target, loc, "to")
    f = ref.func
    grids = {}  # band -> [unfolded loops by dimension]
    for band, root in band_roots(f).items():
        dims = {lp.attrs["unfold"]: lp for lp in _loops(root) if "unfold" in lp.attrs}
        if dims:
            grids[band] = [dims[d] for d in sorted(dims)]
    if isinstance(dst, PEGrid):
        if dst.band not in grids:
            raise AlloError(f"to: {ref.name!r} is a buffer of {f.name!r}, which has no unfolded "
                            f"band {dst.band!r}", loc,
                            f"unfolded bands of {f.name}: {', '.join(grids) or '(none)'}")
        band = dst.band
    else:
        if len(grids) != 1:
            raise AlloError(f"to: function {f.name!r} has {len(grids)} unfolded bands; a list of "
                            "axes does not say which one", loc,
                            "pass the value s.unfold returned: pe = s.unfold(...); "
                            "s.to(buf, pe, axis=...)")
        band = next(iter(grids))
    dims = grids[band]
    root = band_roots(f)[band]
    if axis is None or not isinstance(axis, int) or isinstance(axis, bool):
        raise AlloError(f"to: axis must be a dimension of the PE grid of band {band!r} (0.."
                        f"{len(dims) - 1}), got {axis!r}", loc,
                        "pass axis=1 for values flowing along a row (east), axis=0 for "
                        "values flowing down a column (south)")
    if not 0 <= axis < len(dims):
        raise AlloError(f"to: the PE grid of band {band!r} has {len(dims)} dimension(s); axis "
                        f"{axis} does not exist", loc,
                        f"pass an axis in 0..{len(dims) - 1}")
    if not isinstance(depth, int) or isinstance(depth, bool) or not (depth == -1 or depth >= 1):
        raise AlloError(f"to: depth must be a positive integer or -1, got {depth!r}", loc,
                        "pass depth=-1 (the default) or a FIFO depth >= 1")
    if not _accesses([root], ref.name):
        raise AlloError(f"to: buffer {ref.name!r} is not accessed in band {band!r}", loc,
                        f"stream a buffer that the PEs of {band} read")
    for d, lp in enumerate(dims):
        for name, _ in lp.attrs.get("to", ()):
            if name == ref.name:
                raise AlloError(f"to: {ref.name!r} already streams along axis {d} of band "
                                f"{band!r}", loc, "stream each buffer along one axis")
    lp = dims[axis]
    lp.attrs["to"] = tuple(sorted(lp.attrs.get("to", ()) + ((ref.name, depth),)))
    return None
