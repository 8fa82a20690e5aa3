"""Sign operations on float bit patterns (combinational Amaranth expressions)."""

from amaranth.hdl import Value, Cat, Mux

from ._hw import canonical_nan, check_format


__all__ = ["fp_abs", "fp_neg"]


def _mag_nan(fmt, value):
    value = Value.cast(value)
    if len(value) != fmt.width:
        raise ValueError(f"Value must be {fmt.width} bits wide for {fmt}, not {len(value)}")
    mag = value[:fmt.width - 1]
    return mag, mag > fmt.inf


def fp_abs(fmt, value):
    """Combinational ``|value|`` for a ``fmt`` bit pattern: clears the sign bit; a NaN
    gives the canonical NaN (matches :func:`~primitives.float.model.fp_abs_model`)."""
    mag, is_nan = _mag_nan(check_format(fmt), value)
    return Mux(is_nan, canonical_nan(fmt), Cat(mag, 0))


def fp_neg(fmt, value):
    """Combinational ``-value`` for a ``fmt`` bit pattern: flips the sign bit; a NaN
    gives the canonical NaN (matches :func:`~primitives.float.model.fp_neg_model`)."""
    mag, is_nan = _mag_nan(check_format(fmt), value)
    return Mux(is_nan, canonical_nan(fmt), Cat(mag, ~Value.cast(value)[fmt.width - 1]))
