"""Datapath: IR operations as Amaranth expressions, plus the delay model.

Every function here maps operand values (Amaranth ``Value`` objects holding the
raw two's-complement representation of their IR type) to the raw value of the
result type, with exactly the semantics of :mod:`allo_rtl.ir.numerics` (the
interpreter's runtime). The operand types are those of the IR node
(:mod:`allo_rtl.ir.nodes` documents the typing contract).

Delay model: :func:`delay_ns` estimates the combinational delay of one
operator on ECP5 as placed and routed by nextpnr (a LUT level with its net
~1.35 ns, carry chains ~2 ns + 0.035 ns/bit). The block scheduler chains
operators into one clock cycle while the sum stays within :func:`budget`: the
target clock period (:func:`target_clock`, default :data:`DEFAULT_CLOCK_MHZ`)
minus a register's clock-to-out and what a register input adds (multiplexer,
setup).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from amaranth.hdl import Cat, Const, Mux, Value, signed, unsigned

from ..ir.nodes import Const as IRConst
from ..ir.nodes import (BinOp, BitGet, BitInsert, BitReverse, BitSlice, Bitcast, Cast, Math,
                        Select, UnOp)
from ..ir.numerics import float_bits
from ..ir.types import AlloType, Fixed, Float, Index, Int, Struct, UFixed, UInt

__all__ = ["shape_of", "is_signed", "fit", "const", "comb_op", "delay_ns", "Unsupported",
           "float_format", "clock_ns", "target_clock", "budget", "fits", "DEFAULT_CLOCK_MHZ",
           "mem_input_regs", "mem_latency"]


class Unsupported(Exception):
    """Raised for an IR construct the RTL lowering cannot build (yet); the caller turns
    it into an :class:`~allo_rtl.errors.AlloError` at the kernel line."""


def is_signed(t: AlloType) -> bool:
    return isinstance(t, (Int, Fixed, Index))


def _fr(t: AlloType) -> int:
    return t.fracs if isinstance(t, (Fixed, UFixed)) else 0


def shape_of(t: AlloType):
    """The Amaranth shape holding the raw value of scalar type ``t``."""
    if isinstance(t, Float):
        return unsigned(t.bits)  # the IEEE bit pattern
    if isinstance(t, Struct):
        raise Unsupported(f"struct type {t} is not supported by the RTL target yet")
    return signed(t.bits) if is_signed(t) else unsigned(t.bits)


def _extend(v: Value, width: int) -> Value:
    """``v`` widened to ``width`` bits, sign-extended if ``v`` is signed (unsigned result)."""
    n = len(v)
    if n >= width:
        return v[:width]
    if v.shape().signed:
        return Cat(v, v[-1].replicate(width - n))
    return Cat(v, Const(0, width - n))


def fit(v, t: AlloType) -> Value:
    """Wrap (two's complement) or extend value ``v`` into type ``t``'s raw shape."""
    v = Value.cast(v)
    shp = shape_of(t)
    w = shp.width
    raw = v[:w] if len(v) >= w else _extend(v, w)
    return raw.as_signed() if shp.signed else raw.as_unsigned()


def from_bits(v, t: AlloType) -> Value:
    """Reinterpret the raw bits ``v`` (exactly ``t.bits`` wide) as type ``t``."""
    v = Value.cast(v)
    return v.as_signed() if is_signed(t) else v.as_unsigned()


def const(raw, t: AlloType) -> Value:
    """The constant of type ``t`` with interpreter value ``raw`` (a float for floats)."""
    shp = shape_of(t)
    if isinstance(t, Float):
        return Const(float_bits(raw, t), shp)
    if shp.signed:
        h = 1 << (shp.width - 1)
        raw = ((raw + h) & ((1 << shp.width) - 1)) - h
    else:
        raw &= (1 << shp.width) - 1
    return Const(raw, shp)


def _clog2(n: int) -> int:
    return max(1, (n - 1).bit_length())


def _shift_amount_ok(s: Value, limit: int) -> Value:
    """1 when 0 <= s < limit."""
    ok = s < limit
    if s.shape().signed:
        ok = ok & (s >= 0)
    return ok


def _div(op: str, a: Value, b: Value, ta: AlloType, tb: AlloType, t: AlloType) -> Value:
    """Integer division with the interpreter's semantics: ``div`` truncates (C),
    ``floordiv`` floors (Python), ``mod`` is the C remainder; b == 0 gives -1 / a."""
    if op in ("div", "floordiv"):
        sh = _fr(t) - _fr(ta) + _fr(tb)
        if sh > 0:
            a = a << sh
        elif sh < 0:
            b = b << -sh
    # Amaranth's // and % floor (Python semantics); derive C semantics from them.
    qf = a // b
    rf = a % b
    bz = b == 0
    if op == "floordiv":
        return fit(Mux(bz, -1, qf), t)
    neg = (a < 0) ^ (b < 0)
    adj = (rf != 0) & neg
    if op == "div":
        return fit(Mux(bz, -1, Mux(adj, qf + 1, qf)), t)
    # mod: C remainder = a - b * trunc(a / b)
    return fit(Mux(bz, a, Mux(adj, rf - b, rf)), t)


def _pow2_divisor(e) -> int | None:
    """log2 of a constant power-of-two integer divisor (no fraction bits), else None."""
    if not isinstance(e.rhs, IRConst) or _fr(e.lhs.type) or _fr(e.rhs.type) or _fr(e.type):
        return None
    v = e.rhs.value
    if not isinstance(v, int) or v <= 0 or v & (v - 1):
        return None
    return v.bit_length() - 1


def _div_pow2(op: str, a: Value, k: int, signed_: bool, t: AlloType) -> Value:
    """Division by 2**k as shifts and masks, with the same semantics as :func:`_div`."""
    mask = (1 << k) - 1
    low = a.as_unsigned()[:k] if k else Const(0, 1)
    if not signed_ or op == "floordiv":
        if op == "mod":
            return fit(low, t)
        return fit(a >> k, t)  # arithmetic shift on signed values = floor
    neg = a < 0
    if op == "div":  # truncate toward zero: bias negative dividends
        return fit((a + Mux(neg, mask, 0)) >> k, t)
    # C remainder: sign of the dividend
    return fit(Mux(neg & (low != 0), low - (1 << k), low), t)


def comb_op(e, args: list) -> Value:
    """The Amaranth expression for IR expression ``e`` given its operand values
    (in :func:`allo_rtl.ir.nodes.expr_children` order)."""
    t = e.type
    if isinstance(e, BinOp):
        return _binop(e, args[0], args[1])
    if isinstance(e, UnOp):
        a = args[0]
        if isinstance(t, Float):
            if e.op != "neg":
                raise Unsupported(f"'{e.op}' on {t} is not supported by the RTL target yet")
            return _fp_sign(a, t, neg=True)
        if e.op == "neg":
            return fit(-a, t)
        if e.op == "not":
            return fit(a == 0, t)
        return fit(~a, t)
    if isinstance(e, Cast):
        return _cast(args[0], e.value.type, t)
    if isinstance(e, Select):
        return fit(Mux(args[0].bool(), fit(args[1], t), fit(args[2], t)), t)
    if isinstance(e, BitGet):
        v, bit = args
        return fit(_bits(v, bit, e.bit, 1), t)
    if isinstance(e, BitSlice):
        v, lo = args
        return fit(_bits(v, lo, e.lo, e.width), t)
    if isinstance(e, BitInsert):
        return _bit_insert(e, *args)
    if isinstance(e, BitReverse):
        v = args[0]
        return from_bits(Cat(*[v[i] for i in reversed(range(len(v)))]), t)
    if isinstance(e, Bitcast):
        return from_bits(args[0].as_unsigned(), t)
    if isinstance(e, Math) and e.fn == "abs" and isinstance(t, Float):
        return _fp_sign(args[0], t, neg=False)
    raise Unsupported(f"{type(e).__name__} is not supported by the RTL target yet")


def float_format(t: Float):
    """The :class:`primitives.float.FloatFormat` of IR float type ``t``."""
    from primitives.float import FloatFormat

    return FloatFormat(t.bits - t.fracs - 1, t.fracs)


def _fp_sign(a: Value, t: Float, *, neg: bool) -> Value:
    """``-a`` or ``abs(a)`` on an IEEE bit pattern: a sign-bit operation, except that every
    NaN becomes the canonical quiet NaN (as ``primitives.float.fp_neg`` / ``fp_abs``)."""
    from primitives.float import fp_abs, fp_neg

    a = Value.cast(a).as_unsigned()
    return (fp_neg if neg else fp_abs)(float_format(t), a)


def _bits(v: Value, lo: Value, lo_ir, width: int) -> Value:
    """Bits ``[lo, lo + width)`` of ``v`` sign-extended to infinity (Python ``>>``)."""
    n = len(v)
    if isinstance(lo_ir, IRConst):
        k = lo_ir.value
        if k < 0:
            return Const(0, width)
        ext = _extend(v, k + width)
        return ext[k:k + width]
    ext = _extend(v, n + width)
    lim = n
    lo_ok = lo.as_unsigned() if not lo.shape().signed else lo
    sel = Mux(lo_ok > lim, lim, lo_ok)
    if lo.shape().signed:
        sel = Mux(lo < 0, lim, sel)  # numerics: negative shift -> sign fill (shr semantics)
    idx = sel.as_unsigned()[:_clog2(lim + 1) + 1]
    return ext.bit_select(idx, width)


def _bit_insert(e: BitInsert, v: Value, lo: Value, new: Value) -> Value:
    t = e.type
    n = len(v)
    w = e.width
    newbits = _extend(new, w)[:w]
    if isinstance(e.lo, IRConst):
        k = e.lo.value
        if k >= n or k < 0:
            return fit(v, t)
        hi = min(n, k + w)
        parts = []
        if k > 0:
            parts.append(v[:k])
        parts.append(newbits[:hi - k])
        if hi < n:
            parts.append(v[hi:])
        return from_bits(Cat(*parts), t)
    wide = n + w
    loi = lo.as_unsigned()[:_clog2(n + 1) + 1]
    loi = Mux(lo.as_unsigned() > n, n, loi) if not lo.shape().signed else Mux(
        (lo < 0) | (lo > n), n, loi)
    mask = (Const((1 << w) - 1, wide) << loi)[:wide]
    res = (_extend(v, wide) & ~mask) | ((Cat(newbits, Const(0, n)) << loi)[:wide])
    return fit(res[:n], t)


def _binop(e: BinOp, a: Value, b: Value) -> Value:
    op, t = e.op, e.type
    if isinstance(getattr(e.lhs, "type", None), Float) or isinstance(t, Float):  # units
        raise Unsupported(f"floating-point '{op}' is not supported by the RTL target yet")
    if op in ("lt", "le", "gt", "ge", "eq", "ne"):
        return {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b,
                "eq": a == b, "ne": a != b}[op]
    if op == "land":
        return a.bool() & b.bool()
    if op == "lor":
        return a.bool() | b.bool()
    if op == "add":
        return fit(a + b, t)
    if op == "sub":
        return fit(a - b, t)
    if op == "mul":
        terms = const_mul_terms(e)
        if terms is not None:  # shifts and one adder instead of a DSP (see const_mul_terms)
            x = a if isinstance(e.rhs, IRConst) else b
            p = None
            for sign, s in terms:
                v = x << s if s else x
                p = (v if sign > 0 else -v) if p is None else (p + v if sign > 0 else p - v)
            return fit(p, t)
        p = a * b
        shift = _fr(e.lhs.type) + _fr(e.rhs.type) - _fr(t)
        if shift > 0:
            p = p >> shift
        elif shift < 0:
            p = p << -shift
        return fit(p, t)
    if op in ("div", "floordiv", "mod"):
        k = _pow2_divisor(e)
        if k is not None:
            return _div_pow2(op, a, k, is_signed(e.lhs.type), t)
        return _div(op, a, b, e.lhs.type, e.rhs.type, t)
    if op in ("and", "or", "xor"):
        a, b = fit(a, t), fit(b, t)
        return fit({"and": a & b, "or": a | b, "xor": a ^ b}[op], t)
    if op in ("min", "max"):
        return fit(Mux(a < b, a, b) if op == "min" else Mux(a > b, a, b), t)
    if op in ("shl", "shr"):
        n = t.bits
        a = fit(a, t)
        fill = Mux(a < 0, -1, 0) if is_signed(t) else Const(0, 1)
        if isinstance(e.rhs, IRConst):
            s = e.rhs.value
            if s < 0 or s >= n:
                return fit(0, t) if op == "shl" else fit(fill, t)
            return fit(a << s, t) if op == "shl" else fit(a >> s, t)
        k = _clog2(n)
        amt = b.as_unsigned()[:k]
        ok = _shift_amount_ok(b, n)
        if op == "shl":
            return fit(Mux(ok, fit(a << amt, t), 0), t)
        return fit(Mux(ok, a >> amt, fill), t)
    if op == "pow":
        raise Unsupported("integer power is not supported by the RTL target")
    raise Unsupported(f"operator '{op}' is not supported by the RTL target yet")


def _cast(v: Value, src: AlloType, dst: AlloType) -> Value:
    if src == dst:
        return v
    if isinstance(src, Float) or isinstance(dst, Float):
        raise Unsupported(f"conversion {src} -> {dst} is not supported by the RTL target yet")
    fs, fd = _fr(src), _fr(dst)
    if fd > fs:
        v = v << (fd - fs)
    elif fd < fs:
        v = v >> (fs - fd)  # arithmetic for signed: floor, as the interpreter
    return fit(v, dst)


# ------------------------------------------------------------------ delay model
#
# Calibrated against nextpnr-ecp5 (LFE5U-85F, speed grade 6, the flow of allo_rtl.synth):
# a LUT4 is 0.24 ns but the net into it 0.8-1.4 ns, a carry chain enters in ~0.45 ns,
# ripples 0.035 ns/bit and leaves in ~0.45 ns, a fabric register's clock-to-out is
# 0.52 ns, a DP16KD block RAM without output register 5.83 ns clock-to-out (with it:
# 0.96 ns), a MULT18X18D without registers 3.9 ns. Every operator delay below includes
# the net into it; a value read from a register starts at t = 0 (its clock-to-out is part
# of the budget).

#: target clock (MHz) when none is given: int32 datapaths close timing at 120 MHz on
#: ECP5; ``s.build(clock_mhz=...)`` / :func:`target_clock` choose another one (narrow
#: datapaths, e.g. int8, close at 180 MHz)
DEFAULT_CLOCK_MHZ = 120.0
#: fabric register clock-to-out (ns)
CLK_TO_Q = 0.52
#: an average routed net (ns)
NET_NS = 1.2
#: one LUT level including the net into it (ns)
LEVEL_NS = NET_NS + 0.25
#: setup before a clock edge (register D, block-RAM address/data) (ns)
SETUP_NS = 0.2
#: what a register or memory input adds after its value: the AND-OR multiplexer of its
#: writers (one LUT level), the net into the register, setup (ns)
SINK_NS = LEVEL_NS + NET_NS + SETUP_NS
#: what a block-RAM input (address, write data, enable) adds after its value: one LUT
#: level (the kernel's or the wrapper's port multiplexer), the long net into the RAM
#: (~2 ns measured), its setup (ns)
MEM_SINK_NS = LEVEL_NS + 2.0 + 0.22
#: cycles from issuing a load (address at a memory port) to its data in a register: the
#: block RAM's read plus the register after it (the read data of every memory is
#: registered: the raw DP16KD read alone is 5.8 ns; synthesis packs that register into
#: the RAM's output register, see allo_rtl.synth)
MEM_LATENCY = 2
#: delay from the registered read data's clock edge to the value, beyond a fabric
#: register's clock-to-out (DP16KD output register: 0.96 ns) (ns)
MEM_CLK_TO_OUT = 0.45
#: combinational MULT18X18D (no internal registers) with the nets into and out of it,
#: which are long (DSPs sit in their own rows): 2.0 + 3.9 + 1.2 ns measured
DSP_NS = 2.0 + 3.9 + 1.2

_clock_ns: ContextVar = ContextVar("allo_rtl_clock_ns", default=1000.0 / DEFAULT_CLOCK_MHZ)


def clock_ns() -> float:
    """The clock period (ns) the schedulers budget for (:func:`target_clock`)."""
    return _clock_ns.get()


@contextmanager
def target_clock(mhz: float | None):
    """Schedule for a ``mhz`` clock inside the ``with`` block (None: the default)."""
    mhz = DEFAULT_CLOCK_MHZ if mhz is None else float(mhz)
    if not mhz > 0:
        raise ValueError(f"clock_mhz must be positive, not {mhz!r}")
    tok = _clock_ns.set(1000.0 / mhz)
    try:
        yield
    finally:
        _clock_ns.reset(tok)


def budget() -> float:
    """Combinational delay (ns) a cycle allows from registers to a register or memory input."""
    return clock_ns() - CLK_TO_Q - SINK_NS


def unit_budget() -> float:
    """Combinational delay (ns) a cycle allows in front of a unit's first register (its
    inputs are driven directly, no multiplexer)."""
    return clock_ns() - CLK_TO_Q - SETUP_NS


def fits(t: float) -> bool:
    """A value settling ``t`` ns into a cycle can be written to a register."""
    return t <= budget() + 1e-9


def fits_mem(t: float) -> bool:
    """A value settling ``t`` ns into a cycle can drive a memory port (address, data)."""
    sink = SINK_NS if mem_input_regs() else MEM_SINK_NS
    return t <= clock_ns() - CLK_TO_Q - sink + 1e-9


#: from this target clock up, every block RAM's inputs (addresses, write data, enables)
#: are registered right in front of it: the long net into a RAM and the port multiplexer
#: (~3.6 ns) no longer share a cycle with the logic computing them, at one more cycle of
#: load latency (stores land one cycle later too, which keeps their order with loads)
MEM_INPUT_REG_MHZ = 150.0


def mem_input_regs() -> bool:
    """Are memory inputs registered at the current target clock?"""
    return 1000.0 / clock_ns() >= MEM_INPUT_REG_MHZ - 1e-9


def mem_latency() -> int:
    """Cycles from issuing a load to its data in a register at the current target clock."""
    return MEM_LATENCY + (1 if mem_input_regs() else 0)


def _carry(width: int) -> float:
    return NET_NS + 0.9 + 0.035 * width + 0.5  # the net out of a chain is long


def _lut_tree(inputs: int) -> float:
    """A reduction of ``inputs`` signals in LUT4 levels."""
    levels, n = 1, max(1, inputs)
    while n > 4:
        n, levels = (n + 3) // 4, levels + 1
    return LEVEL_NS * levels


def const_mul_terms(e) -> list | None:
    """``[(sign, shift)]`` when ``e`` multiplies an integer by a constant with at most two
    non-zero digits in canonical signed-digit form (3 = 4 - 1, 6, 7 = 8 - 1, 10, -3, ...):
    the product is one add/sub of shifted copies, faster and smaller than a DSP (HLS tools
    do the same). None otherwise (powers of two are shifts already)."""
    c = e.rhs if isinstance(e.rhs, IRConst) else e.lhs if isinstance(e.lhs, IRConst) else None
    if c is None or not all(isinstance(x, (Int, UInt, Index)) for x in (e.type, e.lhs.type,
                                                                       e.rhs.type)):
        return None
    v = c.value
    if not isinstance(v, int) or isinstance(v, bool) or v == 0:
        return None
    digits, k, n = [], 0, abs(v)
    while n:  # canonical signed digits (non-adjacent form)
        if n & 1:
            d = 2 - (n & 3)
            digits.append((d, k))
            n -= d
        n >>= 1
        k += 1
    if len(digits) != 2:
        return None
    return [(d if v > 0 else -d, k) for d, k in sorted(digits, key=lambda x: -x[0])]


def mul_is_unit(e) -> bool:
    """A non-constant integer multiply that becomes a pipelined :class:`IntMul` unit:
    operands wider than one 18x18 DSP, or a DSP multiply that does not fit the budget."""
    if isinstance(e.rhs, IRConst) or isinstance(e.lhs, IRConst):
        return False
    if max(e.lhs.type.bits, e.rhs.type.bits) > 18:
        return True
    return DSP_NS > budget()


def delay_ns(e) -> float:
    """Estimated combinational delay of one IR operator (operands to result), the net into
    it included."""
    if isinstance(e, BinOp):
        op = e.op
        w = max(e.lhs.type.bits, e.rhs.type.bits) if not isinstance(e.type, Float) else 32
        if op in ("add", "sub"):
            return _carry(min(e.type.bits, w + 1))
        if op in ("lt", "le", "gt", "ge"):
            return _carry(w) + LEVEL_NS  # measured: long chains break, result through a LUT
        if op in ("eq", "ne"):
            return _lut_tree((w + 1) // 2) if w > 2 else LEVEL_NS
        if op in ("min", "max"):
            return _carry(w) + LEVEL_NS
        if op == "mul":
            if isinstance(e.rhs, IRConst) or isinstance(e.lhs, IRConst):
                c = e.rhs if isinstance(e.rhs, IRConst) else e.lhs
                v = abs(int(c.value)) if isinstance(c.value, int) else 3
                if v & (v - 1) == 0:
                    return 0.0  # a shift
                if const_mul_terms(e) is not None:
                    return _carry(e.type.bits)  # one add/sub of shifted copies
                return DSP_NS  # Yosys maps a constant multiply onto a DSP as well
            return DSP_NS + (_carry(e.type.bits) if e.type.bits > 36 else 0.0)
        if op in ("div", "floordiv", "mod"):
            return _carry(e.type.bits) + LEVEL_NS if _pow2_divisor(e) is not None else 4.0 * e.type.bits
        if op in ("shl", "shr"):
            return 0.0 if isinstance(e.rhs, IRConst) else LEVEL_NS * max(1, _clog2(e.type.bits) // 2 + 1)
        if op in ("and", "or", "xor", "land", "lor"):
            return LEVEL_NS
        return LEVEL_NS
    if isinstance(e, UnOp):
        return _carry(e.type.bits) if e.op == "neg" else LEVEL_NS
    if isinstance(e, (Cast, BitReverse, Bitcast)):
        return 0.0
    if isinstance(e, Select):
        return LEVEL_NS
    if isinstance(e, (BitGet, BitSlice, BitInsert)):
        lo = e.bit if isinstance(e, BitGet) else e.lo
        return 0.0 if isinstance(lo, IRConst) else 2 * LEVEL_NS
    return LEVEL_NS
