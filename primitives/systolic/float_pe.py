"""An output-stationary processing element on IEEE floating-point units: multiply, then
add, each rounded (no fused multiply-add)."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..float import BINARY32, FPAdd, FPMul
from ..float._hw import check_format, check_latency

__all__ = ["FloatPE"]


class FloatPE(wiring.Component):
    """Output-stationary floating-point processing element of a systolic array.

    Every valid *step* computes ``acc = acc + a * b`` in format ``fmt``: the product is
    rounded (:class:`~primitives.float.FPMul`), then the sum (:class:`~primitives.float.FPAdd`),
    both to nearest, ties to even; so a run of steps equals the sequential loop
    ``for k: acc = round(acc + round(a[k] * b[k]))`` bit for bit. A step with ``first_in``
    adds its product to ``init`` instead of the accumulator; a step with ``last_in`` ends the
    accumulation: the sum goes to ``c`` (held until the next accumulation ends). Operands
    and flags are forwarded one cycle later to the neighbours (``a`` east, ``b`` south).

    The accumulator is the adder's own pipeline: the result of a step is fed straight back
    as the adder's operand :attr:`step_interval` (``= add_latency``) cycles later. The
    steps of one accumulation must therefore be presented exactly :attr:`step_interval`
    cycles apart; between the last step of one accumulation and the first step of the
    next any gap is allowed. The cycles between are bubbles (``valid_in`` low) or, for
    a step per cycle, the steps of up to ``step_interval - 1`` other accumulations
    interleaved the same way (cycle ``t`` of a round of ``step_interval`` cycles serving
    accumulation ``t``): each has its own slot in the adder's pipeline, and ``c``/
    ``c_valid`` then carry their sums in consecutive cycles.

    Parameters
    ----------
    fmt : FloatFormat
        Operand and sum format (default binary32).
    mul_latency, add_latency : int or None
        Latencies of the multiplier (0..10) and the adder (1..11); None: the units'
        defaults (9 and 9).

    Members
    -------
    a_in, b_in : In(fmt.width)
        Raw operands of the step presented in this cycle.
    valid_in, first_in, last_in : In(1)
        The step is valid / starts an accumulation / ends one.
    init : In(fmt.width)
        Raw start value of an accumulation, read :attr:`init_offset` cycles after its
        first step's inputs.
    a_out, b_out, valid_out, first_out, last_out : Out
        The inputs registered: the same step one cycle later, for the neighbour.
    c : Out(fmt.width)
        Raw bits of the last finished accumulation.
    c_valid : Out(1)
        One-cycle pulse: ``c`` has just been updated.

    Latency
    -------
    A step presented at cycle ``t`` is forwarded at ``t + 1``, its product leaves the
    multiplier at ``t + 1 + mul_latency`` and its sum the adder ``add_latency`` cycles
    later; a last step's sum is on ``c`` (``c_valid`` high) in cycle ``t +``
    :attr:`latency` ``= 2 + mul_latency + add_latency``. One step every
    :attr:`step_interval` cycles per accumulation (a step per cycle interleaved); no
    stalls.

    Resources
    ---------
    One :class:`~primitives.float.FPMul` and one :class:`~primitives.float.FPAdd` (binary32
    at the default latencies: ~2300 LUT4 and ~1500 FF on ECP5, no DSP), the operand and
    output registers (``3 * fmt.width`` flip-flops) and ``mul_latency + add_latency + 4``
    flag flip-flops.
    """

    def __init__(self, fmt=BINARY32, *, mul_latency=None, add_latency=None):
        self.fmt = check_format(fmt)
        self.mul_latency, self.add_latency = self.latencies(mul_latency, add_latency)
        #: cycles from a step's inputs to ``c``/``c_valid`` of a last step
        self.latency = 2 + self.mul_latency + self.add_latency
        #: cycles from a first step's inputs to the cycle it reads ``init``
        self.init_offset = 1 + self.mul_latency
        #: cycles between consecutive steps of one accumulation
        self.step_interval = self.add_latency
        w = fmt.width
        super().__init__({
            "a_in": In(w), "b_in": In(w),
            "valid_in": In(1), "first_in": In(1), "last_in": In(1),
            "init": In(w),
            "a_out": Out(w), "b_out": Out(w),
            "valid_out": Out(1), "first_out": Out(1), "last_out": Out(1),
            "c": Out(w), "c_valid": Out(1),
        })

    @staticmethod
    def latencies(mul_latency=None, add_latency=None):
        """``(mul_latency, add_latency)`` with the defaults filled in (checked)."""
        lm = check_latency(mul_latency, FPMul.CUTS, FPMul)
        la = check_latency(add_latency, FPAdd.CUTS, FPAdd)
        if la == 0:
            raise ValueError("FloatPE add_latency must be at least 1 (the sum is fed back "
                             "through the adder's registers), not 0")
        return (FPMul.DEFAULT_LATENCY if lm is None else lm,
                FPAdd.DEFAULT_LATENCY if la is None else la)

    def elaborate(self, platform):
        m = Module()
        w = self.fmt.width

        def delayed(sig, n, name):
            for k in range(n):
                r = Signal.like(sig, name=f"{name}_d{k + 1}")
                m.d.sync += r.eq(sig)
                sig = r
            return sig

        # stage 1: operand registers (also the links to the neighbours)
        a_r = Signal(w, name="a_r", reset_less=True)
        b_r = Signal(w, name="b_r", reset_less=True)
        m.d.sync += [
            a_r.eq(self.a_in), b_r.eq(self.b_in),
            self.valid_out.eq(self.valid_in), self.first_out.eq(self.first_in),
            self.last_out.eq(self.last_in),
        ]
        m.d.comb += [self.a_out.eq(a_r), self.b_out.eq(b_r)]
        # the product, with the flags beside it
        mul = m.submodules.mul = FPMul(self.fmt, latency=self.mul_latency)
        m.d.comb += [mul.a.eq(a_r), mul.b.eq(b_r), mul.en.eq(1)]
        lm = self.mul_latency
        v2 = delayed(self.valid_out, lm, "valid")
        f2 = delayed(self.first_out, lm, "first")
        l2 = delayed(self.last_out, lm, "last")
        # the sum: the adder's result is the accumulator (fed back add_latency cycles on)
        add = m.submodules.add = FPAdd(self.fmt, latency=self.add_latency)
        m.d.comb += [add.a.eq(Mux(f2, self.init, add.result)), add.b.eq(mul.result),
                     add.sub.eq(0), add.en.eq(1)]
        v3 = delayed(v2, self.add_latency, "valid_sum")
        l3 = delayed(l2, self.add_latency, "last_sum")
        c_r = Signal(w, name="c_r", reset_less=True)
        m.d.comb += self.c.eq(c_r)
        m.d.sync += self.c_valid.eq(v3 & l3)
        with m.If(v3 & l3):
            m.d.sync += c_r.eq(add.result)
        return m
