"""Allo's default typing rules (allo/ir/typing_rule.py), in closed form.

Integers are treated as fixed point with zero fraction bits. ``index`` mixes
like an unsigned 32-bit integer (``index op index`` stays ``index``).

* add/sub: integer part grows by one bit (plus one more for the unsigned
  operand of a mixed-sign pair), fraction = max of the fractions.
* mul: bits add up, fractions add up, signed if either is.
* div: result has the lhs type for integers; fixed point gains the rhs width.
* mod, select (ternary), min/max, comparison operands: the common type
  (no growth; mixed signs give the unsigned side one bit).
* shifts keep the lhs type; bitwise ops take the wider width.
* any Float dominates; two floats give the wider one.

Results are cast on store to the declared type, so e.g. ``int8 + int8`` is
computed as ``i9`` and wraps to ``i8`` only when stored.
"""

from __future__ import annotations

from ..ir.types import (
    AlloType, Fixed, Float, Index, Int, UFixed, UInt, float32, float64,
)

__all__ = ["binop_type", "common_type", "unop_type", "TypingError"]


class TypingError(Exception):
    """No typing rule for the operand types (converted to AlloError by the frontend)."""


def _fx(t: AlloType):
    """(integer bits, fraction bits, signed, is_fixed) of an int or fixed type."""
    if isinstance(t, Index):
        return 32, 0, False, False
    if isinstance(t, Int):
        return t.bits, 0, True, False
    if isinstance(t, UInt):
        return t.bits, 0, False, False
    if isinstance(t, Fixed):
        return t.bits - t.fracs, t.fracs, True, True
    if isinstance(t, UFixed):
        return t.bits - t.fracs, t.fracs, False, True
    raise TypingError(f"type {t} has no arithmetic")


def _make(ibits: int, fracs: int, signed: bool, fixed: bool) -> AlloType:
    ibits = max(ibits, 1)
    if fixed:
        return Fixed(ibits + fracs, fracs) if signed else UFixed(ibits + fracs, fracs)
    return Int(ibits) if signed else UInt(ibits)


def _float_of(t1, t2):
    if isinstance(t1, Float) and isinstance(t2, Float):
        return t1 if t1.bits >= t2.bits else t2
    return t1 if isinstance(t1, Float) else t2


def common_type(t1: AlloType, t2: AlloType) -> AlloType:
    """Type both operands are cast to for mod/select/min/max/compare."""
    if isinstance(t1, Float) or isinstance(t2, Float):
        return _float_of(t1, t2)
    if isinstance(t1, Index) and isinstance(t2, Index):
        return Index()
    i1, f1, s1, x1 = _fx(t1)
    i2, f2, s2, x2 = _fx(t2)
    if s1 != s2:  # the unsigned side needs a sign bit
        if not s1:
            i1 += 1
        else:
            i2 += 1
    return _make(max(i1, i2), max(f1, f2), s1 or s2, x1 or x2)


def binop_type(op: str, t1: AlloType, t2: AlloType) -> AlloType:
    """Result type of ``t1 <op> t2`` (op names as in ir.nodes.BINOPS)."""
    if op in ("lt", "le", "gt", "ge", "eq", "ne", "land", "lor"):
        return UInt(1)
    if op == "pow":
        if isinstance(t1, Float) and isinstance(t2, Float):
            return _float_of(t1, t2)
        ref = t1 if not isinstance(t1, Float) else t2
        return float32 if ref.bits <= 32 else float64
    if op in ("mod", "min", "max"):
        return common_type(t1, t2)
    fl = isinstance(t1, Float) or isinstance(t2, Float)
    if op in ("shl", "shr"):
        if fl or not isinstance(t2, (Int, UInt, Index)):
            raise TypingError(f"cannot shift {t1} by {t2}")
        return t1
    if op in ("and", "or", "xor"):
        for t in (t1, t2):
            if not isinstance(t, (Int, UInt, Index)):
                raise TypingError(f"bitwise operation on non-integer type {t}")
        if isinstance(t1, Index) and isinstance(t2, Index):
            return Index()
        signed = isinstance(t1, (Int,)) or isinstance(t2, (Int,))
        return Int(max(t1.bits, t2.bits)) if signed else UInt(max(t1.bits, t2.bits))
    if fl:
        return _float_of(t1, t2)
    if isinstance(t1, Index) and isinstance(t2, Index):
        return Index()
    i1, f1, s1, x1 = _fx(t1)
    i2, f2, s2, x2 = _fx(t2)
    if op in ("add", "sub"):
        if s1 != s2:
            if not s1:
                i1 += 1
            else:
                i2 += 1
        return _make(max(i1, i2) + 1, max(f1, f2), s1 or s2, x1 or x2)
    if op == "mul":
        return _make(i1 + f1 + i2 + f2 - f1 - f2, f1 + f2, s1 or s2, x1 or x2)
    if op in ("div", "floordiv"):
        if not (x1 or x2):
            if isinstance(t1, Index):
                return Int(32) if s2 else Index()
            return Int(t1.bits) if (s2 and not s1) else t1
        b1, b2 = i1 + f1, i2 + f2
        extra = 1 if s1 != s2 else 0
        fr = max(f1 + b2 - f2, 0)
        return _make(b1 + b2 + extra - fr, fr, s1 or s2, True)
    raise TypingError(f"unknown operator {op}")


def unop_type(op: str, t: AlloType) -> AlloType:
    if op == "not":
        return UInt(1)
    if op == "invert":
        if not isinstance(t, (Int, UInt, Index)):
            raise TypingError(f"bitwise not on non-integer type {t}")
        return t
    # neg: one more bit so that -(-2**(n-1)) is exact; unsigned becomes signed
    if isinstance(t, Float):
        return t
    i, f, _s, x = _fx(t)
    return _make(i + 1, f, True, x)
