from amaranth.hdl import Module, Signal, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import unpack, canonical_nan, check_format, check_latency


__all__ = ["FPCompare", "FPMinMax", "fp_abs", "fp_neg"]


def _signed_less(ua, ub):
    """``a < b`` treating ``-0 < +0`` and ignoring NaN (a total order on non-NaN patterns)."""
    return Mux(ua.sign != ub.sign, ua.sign,
               Mux(ua.sign, ua.mag > ub.mag, ua.mag < ub.mag))


def _output(m, en, latency, port, value):
    if latency == 0:
        m.d.comb += port.eq(value)
    else:
        with m.If(en):
            m.d.sync += port.eq(value)


class FPCompare(wiring.Component):
    """Floating-point comparison with C semantics (IEEE-754 quiet comparisons).

    ``-0 == +0``. A comparison with a NaN operand (quiet or signalling) is false,
    except ``ne`` which is true; ``unordered`` flags that case. Bit-exact with
    :func:`primitives.float.model.fp_compare_model` and the ``fp_<op>_model`` functions.

    Parameters
    ----------
    fmt : FloatFormat
        Operand format (default :data:`~primitives.float.format.BINARY32`).
    latency : int
        0 (combinational) or 1 (registered outputs). Default 1.

    Members
    -------
    a, b : In(unsigned(fmt.width))
        Operands (raw bit patterns), sampled at every clock edge where ``en`` is 1.
    en : In(1)
        Clock enable. When 0 the outputs hold (for ``latency == 1``).
    eq, ne, lt, le, gt, ge : Out(1)
        ``a == b``, ``a != b``, ``a < b``, ``a <= b``, ``a > b``, ``a >= b`` for the
        operands sampled ``latency`` enabled edges ago.
    unordered : Out(1)
        ``a`` or ``b`` is NaN.

    Latency
    -------
    ``latency`` cycles, initiation interval 1.

    Resources
    ---------
    Two (E+M)-bit magnitude comparators and an equality tree: about 2·width LUT4;
    7 flip-flops when registered.
    """

    CUTS = {0: (), 1: (0,)}
    DEFAULT_LATENCY = 1

    def __init__(self, fmt=BINARY32, *, latency=None):
        self.fmt = check_format(fmt)
        latency = check_latency(latency, self.CUTS, type(self))
        self.latency = self.DEFAULT_LATENCY if latency is None else latency
        super().__init__({"a": In(fmt.width), "b": In(fmt.width), "en": In(1),
                          **{name: Out(1) for name in ("eq", "ne", "lt", "le", "gt", "ge",
                                                       "unordered")}})

    def elaborate(self, platform):
        m = Module()
        ua, ub = unpack(self.fmt, self.a), unpack(self.fmt, self.b)
        nan = ua.is_nan | ub.is_nan
        both_zero = (ua.mag == 0) & (ub.mag == 0)
        eq = ~nan & ((self.a == self.b) | both_zero)
        ordered_ne = ~nan & ~both_zero
        lt = ordered_ne & _signed_less(ua, ub)
        gt = ordered_ne & _signed_less(ub, ua)
        for port, value in ((self.eq, eq), (self.ne, ~eq), (self.lt, lt), (self.le, lt | eq),
                            (self.gt, gt), (self.ge, gt | eq), (self.unordered, nan)):
            _output(m, self.en, self.latency, port, value)
        return m


class FPMinMax(wiring.Component):
    """Floating-point minimum and maximum (IEEE 754-2019 ``minimum``/``maximum``).

    If either operand is NaN, both results are the canonical quiet NaN
    ``fmt.canonical_nan``. ``-0`` is less than ``+0``. Otherwise the results are the
    operands' bit patterns unchanged. Bit-exact with
    :func:`primitives.float.model.fp_min_model` / ``fp_max_model``.

    Parameters
    ----------
    fmt : FloatFormat
        Operand format (default :data:`~primitives.float.format.BINARY32`).
    latency : int
        0 (combinational) or 1 (registered outputs). Default 1.

    Members
    -------
    a, b : In(unsigned(fmt.width))
        Operands, sampled at every clock edge where ``en`` is 1.
    en : In(1)
        Clock enable. When 0 the outputs hold (for ``latency == 1``).
    min, max : Out(unsigned(fmt.width))
        Minimum and maximum of the operands sampled ``latency`` enabled edges ago.

    Latency
    -------
    ``latency`` cycles, initiation interval 1.

    Resources
    ---------
    One (E+M)-bit comparator and two width-bit 2:1 multiplexers: about 2·width LUT4;
    2·width flip-flops when registered.
    """
    CUTS = {0: (), 1: (0,)}
    DEFAULT_LATENCY = 1

    def __init__(self, fmt=BINARY32, *, latency=None):
        self.fmt = check_format(fmt)
        latency = check_latency(latency, self.CUTS, type(self))
        self.latency = self.DEFAULT_LATENCY if latency is None else latency
        super().__init__({"a": In(fmt.width), "b": In(fmt.width), "en": In(1),
                          "min": Out(fmt.width), "max": Out(fmt.width)})

    def elaborate(self, platform):
        m = Module()
        ua, ub = unpack(self.fmt, self.a), unpack(self.fmt, self.b)
        nan = ua.is_nan | ub.is_nan
        lt = _signed_less(ua, ub)
        qnan = canonical_nan(self.fmt)
        _output(m, self.en, self.latency, self.min, Mux(nan, qnan, Mux(lt, self.a, self.b)))
        _output(m, self.en, self.latency, self.max, Mux(nan, qnan, Mux(lt, self.b, self.a)))
        return m


def fp_abs(fmt, value):
    """Combinational ``|value|`` for a ``fmt`` bit pattern: clears the sign bit; a NaN
    gives the canonical NaN (matches :func:`~primitives.float.model.fp_abs_model`)."""
    u = unpack(check_format(fmt), value)
    return Mux(u.is_nan, canonical_nan(fmt), Cat(u.mag, 0))


def fp_neg(fmt, value):
    """Combinational ``-value`` for a ``fmt`` bit pattern: flips the sign bit; a NaN
    gives the canonical NaN (matches :func:`~primitives.float.model.fp_neg_model`)."""
    u = unpack(check_format(fmt), value)
    return Mux(u.is_nan, canonical_nan(fmt), Cat(u.mag, ~u.sign))
