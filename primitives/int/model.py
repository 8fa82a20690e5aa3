"""Bit-exact pure-Python reference models of the integer units.

Every function takes and returns raw bit patterns (non-negative ``int`` below
``2**width``); a signed operand is read as two's complement and every result is
wrapped to its width. The semantics are those of ``allo_rtl.ir.numerics``:

* :func:`int_div_model` divides like C (``numerics.c_div`` / ``numerics.c_mod``):
  the quotient is truncated toward zero and the remainder has the sign of the
  dividend. Division by zero gives the quotient ``-1`` (all ones) and the remainder
  ``a`` (the RISC-V convention). Signed ``INT_MIN / -1`` wraps to ``INT_MIN`` with
  remainder 0.
* With ``floor=True`` it divides like Python (``numerics.floor_div`` and ``%``): the
  quotient rounds toward -infinity and the remainder has the sign of the divisor.
  Derived from the C pair ``(q, r)``: if ``r != 0`` and ``r`` and ``b`` have opposite
  signs, the result is ``(q - 1, r + b)``, otherwise ``(q, r)``. Division by zero
  gives ``(-1, a)`` as in C mode (``numerics.floor_div(a, 0) == -1`` and
  ``a - 0 * -1 == a``). For unsigned operands both modes are the same.
* :func:`int_mul_model` returns the low ``out_width`` bits of the exact product.
"""

__all__ = ["to_signed", "int_div_model", "int_mul_model"]


def _check_bits(value, width, what):
    value = int(value)
    if not 0 <= value < (1 << width):
        raise ValueError(f"{what} must be in 0..2**{width}-1, not {value:#x}")
    return value


def to_signed(bits, width):
    """The two's complement value of the ``width``-bit pattern ``bits``."""
    return bits - (1 << width) if bits >> (width - 1) & 1 else bits


def _value(bits, width, signed):
    return to_signed(bits, width) if signed else bits


def int_div_model(a, b, width, signed, floor=False):
    """``(quotient, remainder)`` bit patterns of ``a / b`` (see the module docstring)."""
    a, b = _check_bits(a, width, "Dividend"), _check_bits(b, width, "Divisor")
    x, y = _value(a, width, signed), _value(b, width, signed)
    mask = (1 << width) - 1
    if y == 0:
        return mask, a
    q = abs(x) // abs(y)
    if (x < 0) != (y < 0):
        q = -q
    r = x - y * q
    if floor and r != 0 and (r < 0) != (y < 0):
        q, r = q - 1, r + y
    return q & mask, r & mask


def int_mul_model(a, b, a_width, b_width, a_signed, b_signed, out_width):
    """Low ``out_width`` bits of the product of the ``a_width``-bit ``a`` and the
    ``b_width``-bit ``b`` (each read as signed or unsigned)."""
    a, b = _check_bits(a, a_width, "Operand a"), _check_bits(b, b_width, "Operand b")
    product = _value(a, a_width, a_signed) * _value(b, b_width, b_signed)
    return product & ((1 << out_width) - 1)
