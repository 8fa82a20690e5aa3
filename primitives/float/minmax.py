from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import unpack, canonical_nan, check_format, check_latency, signed_less, drive_output


__all__ = ["FPMinMax"]


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
    One (E+M)-bit comparator and two width-bit multiplexers; 2·width flip-flops when
    registered. binary32 on ECP5-85k: ~320 LUT4, ~100 MHz.
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
        ua, ub = unpack(m, self.fmt, self.a, "a"), unpack(m, self.fmt, self.b, "b")
        nan = ua.is_nan | ub.is_nan
        lt = signed_less(ua, ub)
        qnan = canonical_nan(self.fmt)
        drive_output(m, self.en, self.latency, self.min, Mux(nan, qnan, Mux(lt, self.a, self.b)))
        drive_output(m, self.en, self.latency, self.max, Mux(nan, qnan, Mux(lt, self.b, self.a)))
        return m
