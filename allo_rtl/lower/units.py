"""Multi-cycle operator units: IR operations that map onto a pipelined component of
``primitives/`` (integer dividers, IEEE floating-point operators and conversions).

:func:`unit_for` says whether an IR expression needs a unit and returns its
:class:`Unit` spec. The block scheduler (:mod:`.dag`) issues a unit node in the cycle
its operands are ready (operands must settle :attr:`Unit.input_ns` before the clock
edge) and uses its result :attr:`Unit.latency` cycles later; the modulo scheduler uses
the same latency for recurrences. Every unit is fully pipelined (initiation interval
1) and free-running (``en`` tied to 1), so each node gets its own instance: the FSM
never stalls inside a block, and a pipelined loop issues one operation per II.

Numerics are those of :mod:`allo_rtl.ir.numerics` (the interpreter), which the units
match bit for bit: IEEE round to nearest even with subnormals, canonical quiet NaN,
float -> int truncating and saturating (see ``primitives.float``).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Value

from primitives.float import (FPAdd, FPCompare, FPDiv, FPMinMax, FPMul, FPSqrt, FPToFP,
                              FPToInt, IntToFP)
from primitives.int import IntDiv, IntMul

from ..ir.nodes import BinOp, Cast, Math
from ..ir.types import AlloType, Float, Int, UInt
from . import ops
from .ops import Unsupported, _fr, _pow2_divisor, fit, float_format, from_bits, is_signed

__all__ = ["Unit", "IntDivider", "IntMultiplier", "FloatUnit", "unit_for"]

#: combinational delay allowed in front of a unit's first register (ns): operands must
#: be ready this long before the end of a cycle, otherwise the unit issues a cycle later
UNIT_INPUT_NS = 3.0
#: delay from a unit's output register to its result (ns)
UNIT_OUTPUT_NS = 1.0


class Unit:
    """How one IR operation maps onto a pipelined component.

    ``latency`` cycles from operands to result; ``input_ns`` / ``output_ns`` are the
    combinational delays in front of and after the unit's registers; ``key`` identifies
    equal operations (common subexpressions); :meth:`build` instantiates the component in
    Amaranth module ``m`` and returns the result as the raw value of the IR type."""

    name: str = "unit"  # instance name prefix in the Verilog
    latency: int = 0
    input_ns: float = UNIT_INPUT_NS
    output_ns: float = UNIT_OUTPUT_NS
    key: tuple = ()

    def build(self, m, name: str, args: list) -> Value:
        raise NotImplementedError


# --------------------------------------------------------------------- integer divider


class IntDivider(Unit):
    """An integer ``/``, ``//`` or ``%`` on :class:`primitives.int.IntDiv`: operand width,
    signedness, floor mode, pre-shifts for fixed point."""

    name = "div"
    input_ns = 2.0
    output_ns = 3.0

    def __init__(self, e: BinOp):
        ta, tb, t = e.lhs.type, e.rhs.type, e.type
        self.op = e.op
        sh = _fr(t) - _fr(ta) + _fr(tb) if e.op in ("div", "floordiv") else 0
        self.sh_a, self.sh_b = max(sh, 0), max(-sh, 0)
        wa, wb = ta.bits + self.sh_a, tb.bits + self.sh_b
        self.signed = is_signed(ta) or is_signed(tb)
        # one extra bit for signed division: no INT_MIN / -1 overflow, unsigned operands fit
        self.width = max(wa, wb) + (1 if self.signed else 0)
        self.floor = e.op == "floordiv"
        self.latency = self.width + (2 if self.signed else 0)
        self.type = t
        self.key = ("div", e.op, t.name, ta.name, tb.name)

    def build(self, m, name, args):
        div = IntDiv(self.width, self.signed, latency=self.latency, floor=self.floor)
        m.submodules[name] = div
        wt = Int(self.width) if self.signed else UInt(self.width)
        a, b = args
        if self.sh_a:
            a = a << self.sh_a
        if self.sh_b:
            b = b << self.sh_b
        m.d.comb += [div.a.eq(fit(a, wt).as_unsigned()), div.b.eq(fit(b, wt).as_unsigned()),
                     div.en.eq(1)]
        v = div.remainder if self.op == "mod" else div.quotient
        return fit(v.as_signed() if self.signed else v, self.type)


class IntMultiplier(Unit):
    """A non-constant integer (or fixed-point) ``*`` on :class:`primitives.int.IntMul`:
    operands wider than one 18x18 DSP, or a DSP multiply too slow for the target clock
    (:func:`.ops.mul_is_unit`; at 120 MHz every non-constant multiply). Latency 3:
    operands, DSP outputs and result registered, so each stage is one register-to-
    register hop (the DSP with its long nets is 7 ns on ECP5; operands straight from a
    block RAM into it measured 8.5 ns, 118 MHz, at latency 2)."""

    name = "mul"

    def __init__(self, e: BinOp):
        ta, tb, t = e.lhs.type, e.rhs.type, e.type
        self.shift = _fr(ta) + _fr(tb) - _fr(t)  # > 0: drop fraction bits; < 0: add
        self.out_width = max(1, t.bits + self.shift)
        self.wa, self.wb = ta.bits, tb.bits
        self.sa, self.sb = is_signed(ta), is_signed(tb)
        self.type = t
        self.latency = 3
        self.input_ns = ops.NET_NS
        self.output_ns = 0.0
        self.key = ("mul", t.name, ta.name, tb.name, self.latency)

    def build(self, m, name, args):
        mul = IntMul(self.wa, self.wb, self.sa, self.sb, self.out_width, latency=self.latency)
        m.submodules[name] = mul
        a, b = args
        m.d.comb += [mul.a.eq(Value.cast(a).as_unsigned()), mul.b.eq(Value.cast(b).as_unsigned()),
                     mul.en.eq(1)]
        p = mul.result
        if self.shift > 0:
            p = p[self.shift:]
        elif self.shift < 0:
            p = Cat(Const(0, -self.shift), p)
        return fit(p.as_signed() if is_signed(self.type) else p.as_unsigned(), self.type)


# --------------------------------------------------------------------- floating point


def _latency_of(proto) -> int:
    """The latency of a unit instance made only to ask it (never elaborated, so silence
    Amaranth's UnusedElaboratable warning)."""
    proto._MustUse__silence = True
    return proto.latency


class FloatUnit(Unit):
    """A ``primitives.float`` component: ``make()`` builds it, ``inputs`` names the input
    ports fed by the operands (in order), ``consts`` ties other inputs, ``output`` is the
    result port."""

    def __init__(self, key, make, inputs, output="result", consts=None, *, result_type):
        self.key = key
        self.name = "f" + key[1] if key[0] == "fp" else "fcvt"
        self.make = make
        self.inputs = inputs
        self.output = output
        self.consts = consts or {}
        self.type = result_type
        self.latency = _latency_of(make())  # depends on format and parameters

    def build(self, m, name, args):
        u = self.make()
        m.submodules[name] = u
        m.d.comb += u.en.eq(1)
        for port, v in zip(self.inputs, args):
            m.d.comb += getattr(u, port).eq(Value.cast(v).as_unsigned())
        for port, v in self.consts.items():
            m.d.comb += getattr(u, port).eq(v)
        return from_bits(getattr(u, self.output), self.type)


_FP_BINOPS = {"add": (FPAdd, {"sub": 0}, "result"), "sub": (FPAdd, {"sub": 1}, "result"),
              "mul": (FPMul, {}, "result"), "div": (FPDiv, {}, "result"),
              "min": (FPMinMax, {}, "min"), "max": (FPMinMax, {}, "max"),
              **{c: (FPCompare, {}, c) for c in ("lt", "le", "gt", "ge", "eq", "ne")}}


def _fp_binop(e: BinOp) -> Unit:
    ft = e.lhs.type
    if e.op == "pow" and e.rhs.type == ft == e.type:
        return _elementary("pow", ft, 2)
    if e.op not in _FP_BINOPS:
        raise Unsupported(f"floating-point operator '{e.op}' is not supported by the RTL "
                          "target yet")
    if e.rhs.type != ft or (e.op not in ("lt", "le", "gt", "ge", "eq", "ne") and e.type != ft):
        raise Unsupported(f"floating-point '{e.op}' on {e.lhs.type} and {e.rhs.type} giving "
                          f"{e.type} is not supported by the RTL target yet")
    cls, consts, port = _FP_BINOPS[e.op]
    fmt = float_format(ft)
    return FloatUnit(("fp", e.op, ft.name), lambda: cls(fmt), ("a", "b"), port,
                     {k: Const(v, 1) for k, v in consts.items()}, result_type=e.type)


def _fp_cast(e: Cast) -> Unit:
    src, dst = e.value.type, e.type
    key = ("fpcast", src.name, dst.name)
    if isinstance(src, Float) and isinstance(dst, Float):
        fs, fd = float_format(src), float_format(dst)
        return FloatUnit(key, lambda: FPToFP(fs, fd), ("a",), result_type=dst)
    # integers and fixed point (raw integer r meaning r / 2**fracs)
    if isinstance(dst, Float):
        if src.bits > 64:
            raise Unsupported(f"conversion {src} -> {dst} (integers wider than 64 bits) is "
                              "not supported by the RTL target yet")
        fd = float_format(dst)
        return FloatUnit(key, lambda: IntToFP(fd, src.bits, is_signed(src), fracs=_fr(src)),
                         ("a",), result_type=dst)
    if isinstance(src, Float):
        if dst.bits > 64:
            raise Unsupported(f"conversion {src} -> {dst} (integers wider than 64 bits) is "
                              "not supported by the RTL target yet")
        fs = float_format(src)
        return FloatUnit(key, lambda: FPToInt(fs, dst.bits, is_signed(dst), fracs=_fr(dst)),
                         ("a",), result_type=dst)
    raise Unsupported(f"conversion {src} -> {dst} is not supported by the RTL target yet")


#: elementary functions -> their binary32 unit in primitives.float (bit-exact with the
#: interpreter through numerics.unit_math_model)
ELEMENTARY = {"exp": "FPExp", "log": "FPLog", "log2": "FPLog2", "log10": "FPLog10",
              "sin": "FPSin", "cos": "FPCos", "tan": "FPTan", "tanh": "FPTanh", "erf": "FPErf",
              "pow": "FPPow"}


class ElementaryUnit(Unit):
    """A binary32 elementary-function unit; float16/bfloat16 operands are widened to
    binary32 before it and the result rounded back after it (``FPToFP``), as the
    interpreter does."""

    def __init__(self, fn: str, cls, t: Float, nargs: int):
        import primitives.float as pf

        self.name = "f" + fn
        self.key = ("fpmath", fn, t.name)
        self.cls, self.type, self.nargs = cls, t, nargs
        self.fmt = float_format(t)
        self.wide = t.bits != 32
        self.latency = _latency_of(cls())
        if self.wide:
            self.latency += (_latency_of(FPToFP(self.fmt, pf.BINARY32))
                             + _latency_of(FPToFP(pf.BINARY32, self.fmt)))

    def build(self, m, name, args):
        import primitives.float as pf

        u = self.cls()
        m.submodules[name] = u
        m.d.comb += u.en.eq(1)
        ports = ("a", "b")[:self.nargs]
        for port, v in zip(ports, args):
            v = Value.cast(v).as_unsigned()
            if self.wide:
                up = FPToFP(self.fmt, pf.BINARY32)
                m.submodules[f"{name}_{port}w"] = up
                m.d.comb += [up.a.eq(v), up.en.eq(1)]
                v = up.result
                # the other operand path has the same widening latency, so both arrive together
            m.d.comb += getattr(u, port).eq(v)
        out = u.result
        if self.wide:
            down = FPToFP(pf.BINARY32, self.fmt)
            m.submodules[f"{name}_n"] = down
            m.d.comb += [down.a.eq(out), down.en.eq(1)]
            out = down.result
        return from_bits(out, self.type)


def _elementary(fn: str, t: AlloType, nargs: int) -> Unit:
    import primitives.float as pf

    cls = getattr(pf, ELEMENTARY.get(fn, ""), None)
    if cls is None or not isinstance(t, Float) or t.bits == 64:
        raise Unsupported(f"{fn}() on {t} is not supported by the RTL target yet")
    return ElementaryUnit(fn, cls, t, nargs)


def _fp_math(e: Math) -> Unit | None:
    t = e.type
    if e.fn == "abs":
        return None  # a sign-bit operation (ops.comb_op)
    fmt = float_format(t)
    if e.fn == "sqrt":
        return FloatUnit(("fp", "sqrt", t.name), lambda: FPSqrt(fmt), ("a",), result_type=t)
    return _elementary(e.fn, t, len(e.args))


def unit_for(e) -> Unit | None:
    """The :class:`Unit` IR expression ``e`` needs, or None for a combinational operator.
    Raises :class:`~.ops.Unsupported` for operations the RTL target cannot build."""
    if isinstance(e, BinOp):
        if isinstance(e.lhs.type, Float) or isinstance(e.type, Float):
            if e.op in ("land", "lor"):
                raise Unsupported(f"'{e.op}' on floating-point operands is not supported by "
                                  "the RTL target yet")
            return _fp_binop(e)
        if e.op in ("div", "floordiv", "mod") and _pow2_divisor(e) is None:
            return IntDivider(e)
        if e.op == "mul" and ops.mul_is_unit(e):
            return IntMultiplier(e)
        return None
    if isinstance(e, Cast):
        if isinstance(e.value.type, Float) or isinstance(e.type, Float):
            if e.value.type == e.type:
                return None
            return _fp_cast(e)
        return None
    if isinstance(e, Math):
        return _fp_math(e)
    return None

