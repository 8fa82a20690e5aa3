"""IEEE-754 binary interchange formats, described by their field widths."""

from dataclasses import dataclass


__all__ = ["FloatFormat", "BINARY16", "BFLOAT16", "BINARY32", "BINARY64", "FORMATS"]


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE-754 binary format: 1 sign bit, ``exp_bits`` exponent bits, ``man_bits``
    stored mantissa (fraction) bits; hidden leading bit; bias ``2**(exp_bits-1) - 1``.

    Parameters
    ----------
    exp_bits : int
        Exponent field width, 2..15.
    man_bits : int
        Fraction field width (without the hidden bit), 1..112.
    name : str
        Name used in generated module names and in test ids.

    Bit patterns are plain non-negative Python integers (or ``unsigned(width)``
    signals in hardware): bit ``width-1`` is the sign, then the exponent field,
    then the fraction field in the low ``man_bits`` bits.

    The **canonical quiet NaN** (:attr:`canonical_nan`) has sign 0, an all-ones
    exponent and a fraction whose only set bit is its MSB (``0x7FC00000`` for
    binary32, ``0x7E00`` for binary16, ``0x7FC0`` for bfloat16,
    ``0x7FF8000000000000`` for binary64). Every unit and model in
    :mod:`primitives.float` returns exactly this pattern whenever its result is NaN.
    """
    exp_bits: int
    man_bits: int
    name: str = ""

    def __post_init__(self):
        if not isinstance(self.exp_bits, int) or not 2 <= self.exp_bits <= 15:
            raise ValueError(f"Exponent width must be an integer in 2..15, not {self.exp_bits!r}")
        if not isinstance(self.man_bits, int) or not 1 <= self.man_bits <= 112:
            raise ValueError(f"Mantissa width must be an integer in 1..112, not {self.man_bits!r}")
        if not self.name:
            object.__setattr__(self, "name", f"e{self.exp_bits}m{self.man_bits}")

    @property
    def width(self):
        """Total width in bits."""
        return 1 + self.exp_bits + self.man_bits

    @property
    def bias(self):
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def exp_max(self):
        """The all-ones exponent field value (infinities and NaNs)."""
        return (1 << self.exp_bits) - 1

    @property
    def sign_mask(self):
        return 1 << (self.width - 1)

    @property
    def canonical_nan(self):
        return (self.exp_max << self.man_bits) | (1 << (self.man_bits - 1))

    @property
    def inf(self):
        """The +infinity bit pattern (set :attr:`sign_mask` for -infinity)."""
        return self.exp_max << self.man_bits

    @property
    def max_normal(self):
        return ((self.exp_max - 1) << self.man_bits) | ((1 << self.man_bits) - 1)

    @property
    def min_normal(self):
        return 1 << self.man_bits

    @property
    def max_subnormal(self):
        return (1 << self.man_bits) - 1

    @property
    def min_subnormal(self):
        return 1

    @property
    def one(self):
        return self.bias << self.man_bits

    def __str__(self):
        return self.name


BINARY16 = FloatFormat(5, 10, "binary16")
BFLOAT16 = FloatFormat(8, 7, "bfloat16")
BINARY32 = FloatFormat(8, 23, "binary32")
BINARY64 = FloatFormat(11, 52, "binary64")

#: The named formats, by name.
FORMATS = {f.name: f for f in (BINARY16, BFLOAT16, BINARY32, BINARY64)}
