"""An output-stationary processing element: multiply-accumulate with operand forwarding."""

from amaranth.hdl import Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..int._hw import check_bool, check_width

__all__ = ["PE", "check_width", "operand_shape"]


def operand_shape(width: int, is_signed: bool) -> Shape:
    return signed(width) if is_signed else unsigned(width)


class PE(wiring.Component):
    """Output-stationary processing element of a systolic array.

    Every valid *step* multiplies its two operands and adds the exact product to an
    accumulator of ``acc_width`` bits (two's-complement wrap-around: the sum is kept
    modulo ``2**acc_width``). A step with ``first_in`` starts a new accumulation from
    ``init`` instead of the accumulator; a step with ``last_in`` ends one: the final sum
    goes to ``c`` (which holds it until the next accumulation ends) while the next
    accumulation may already be under way. Operands and flags are forwarded, one cycle
    later, to the neighbours (``a`` east, ``b`` south).

    Parameters
    ----------
    a_width, b_width : int
        Operand widths (>= 1).
    a_signed, b_signed : bool
        Each operand is two's complement (else unsigned).
    acc_width : int
        Accumulator width (>= 1).

    Members
    -------
    a_in : In(signed/unsigned(a_width)); b_in : In(b_width)
        The operands of the step presented in this cycle.
    valid_in, first_in, last_in : In(1)
        The step is valid / starts an accumulation / ends one.
    init : In(acc_width)
        Start value (raw bits) of an accumulation, read in the cycle its first step
        reaches the accumulator: two cycles after the step's inputs.
    a_out, b_out, valid_out, first_out, last_out : Out
        The inputs registered: the same step one cycle later, for the neighbour.
    c : Out(acc_width)
        Raw bits of the last finished accumulation.
    c_valid : Out(1)
        One-cycle pulse: ``c`` has just been updated.

    Latency
    -------
    A step presented at cycle ``t`` is forwarded at ``t + 1`` (operand registers),
    its product is registered at the end of ``t + 1`` and accumulated at the end of
    ``t + 2``. When it is a last step, ``c`` holds the sum and ``c_valid`` pulses in
    cycle ``t + 3`` (:attr:`LATENCY`). One step per cycle; no stalls.

    Resources
    ---------
    One multiplier (``a_width`` x ``b_width``, product truncated to ``acc_width`` bits
    when narrower: a MULT18X18D on ECP5 for operands up to 18 bits), one adder and
    ``a_width + b_width + 2 * acc_width + min(a_width + b_width, acc_width) + 6``
    flip-flops.
    """

    #: cycles from a step's inputs to ``c``/``c_valid`` of a last step
    LATENCY = 3
    #: cycles from a step's inputs to the cycle its first step reads ``init``
    INIT_OFFSET = 2

    def __init__(self, a_width, a_signed, b_width, b_signed, acc_width):
        self.check_args(type(self), a_width, a_signed, b_width, b_signed, acc_width)
        self.a_width, self.b_width, self.acc_width = a_width, b_width, acc_width
        self.a_signed, self.b_signed = a_signed, b_signed
        super().__init__(self.signature_for(a_width, a_signed, b_width, b_signed, acc_width))

    @staticmethod
    def signature_for(a_width, a_signed, b_width, b_signed, acc_width) -> wiring.Signature:
        """The signature of a PE with these parameters (see Members)."""
        ash, bsh = operand_shape(a_width, a_signed), operand_shape(b_width, b_signed)
        return wiring.Signature({
            "a_in": In(ash), "b_in": In(bsh),
            "valid_in": In(1), "first_in": In(1), "last_in": In(1),
            "init": In(acc_width),
            "a_out": Out(ash), "b_out": Out(bsh),
            "valid_out": Out(1), "first_out": Out(1), "last_out": Out(1),
            "c": Out(acc_width), "c_valid": Out(1),
        })

    @staticmethod
    def check_args(cls, a_width, a_signed, b_width, b_signed, acc_width):
        """Validate the operand parameters (errors name ``cls``)."""
        check_width(a_width, "a_width", cls)
        check_width(b_width, "b_width", cls)
        check_width(acc_width, "acc_width", cls)
        check_bool(a_signed, "a_signed", cls)
        check_bool(b_signed, "b_signed", cls)

    def elaborate(self, platform):
        m = Module()
        w = self.acc_width
        # stage 1: operand registers (also the links to the neighbours); data registers
        # need no reset (only the valid flags do)
        a_r = Signal.like(self.a_out, name="a_r", reset_less=True)
        b_r = Signal.like(self.b_out, name="b_r", reset_less=True)
        m.d.sync += [
            a_r.eq(self.a_in), b_r.eq(self.b_in),
            self.valid_out.eq(self.valid_in), self.first_out.eq(self.first_in),
            self.last_out.eq(self.last_in),
        ]
        m.d.comb += [self.a_out.eq(a_r), self.b_out.eq(b_r)]
        # stage 2: the product, modulo 2**acc_width when the exact one is wider
        exact = a_r * b_r  # Amaranth: exact, in a wide enough shape
        wide = len(exact) > w
        prod = Signal(unsigned(w) if wide else exact.shape(), name="prod", reset_less=True)
        v2, f2, l2 = Signal(name="valid2"), Signal(name="first2"), Signal(name="last2")
        m.d.sync += [prod.eq(exact[:w] if wide else exact),
                     v2.eq(self.valid_out), f2.eq(self.first_out), l2.eq(self.last_out)]
        # stage 3: accumulate; a last step also updates c
        acc = Signal(w, name="acc", reset_less=True)
        c_r = Signal(w, name="c_r", reset_less=True)
        total = Signal(w, name="total")
        m.d.comb += [total.eq((Mux(f2, self.init, acc) + prod)[:w]), self.c.eq(c_r)]
        m.d.sync += self.c_valid.eq(v2 & l2)
        with m.If(v2):
            m.d.sync += acc.eq(total)
            with m.If(l2):
                m.d.sync += c_r.eq(total)
        return m
