"""Hardware helpers of the elementary-function units (internal)."""

from amaranth.hdl import Const, Value, signed, unsigned
from amaranth.lib.memory import Memory


def rom(m, stages, en, addr, table, width, name):
    """A ROM read whose output belongs to the stage after the next ``stages.cut``.

    If that boundary is registered, the ROM has a synchronous read port (block RAM,
    clock-enabled by ``en``): the caller presents ``addr`` now and uses the returned
    data after the cut. Otherwise the read is combinational. ``table`` entries are
    taken modulo ``2**width`` (signed entries are stored in two's complement)."""
    mem = Memory(shape=unsigned(width), depth=len(table),
                 init=[v & ((1 << width) - 1) for v in table])
    m.submodules[name] = mem
    registered = stages.index in stages._cuts
    port = mem.read_port(domain="sync" if registered else "comb")
    m.d.comb += port.addr.eq(addr)
    if registered:
        m.d.comb += port.en.eq(en)
    return port.data


def sconst(value):
    """A signed constant of the smallest width."""
    return Const(value, signed(abs(value).bit_length() + 1))


def _split(v, chunk):
    v = Value.cast(v)
    n, sgn = len(v), v.shape().signed
    pieces, i = [], 0
    while i < n:
        w = n - i if (sgn and n - i <= chunk + 1) or n - i <= chunk else chunk
        piece = v[i:i + w]
        pieces.append((piece.as_signed() if sgn and i + w == n else piece, i))
        i += w
    return pieces


def mul_parts(a, b):
    """Partial products of ``a * b`` (signed or unsigned operands), each small enough
    for one ECP5 MULT18X18D: unsigned chunks are 18 bits when both operands are
    unsigned, else 17 bits (zero-extended to 18-bit signed); the top chunk of a signed
    operand is signed, up to 18 bits. Returns a list of ``(product, shift)``."""
    a, b = Value.cast(a), Value.cast(b)
    chunk = 17 if a.shape().signed or b.shape().signed else 18
    return [(pa * pb, sa + sb) for pa, sa in _split(a, chunk) for pb, sb in _split(b, chunk)]


def sum_parts(parts):
    """The sum of shifted partial products (a balanced adder tree)."""
    values = [Value.cast(p) << s for p, s in parts]
    while len(values) > 1:
        values = [(values[j] + values[j + 1]) if j + 1 < len(values) else values[j]
                  for j in range(0, len(values), 2)]
    return values[0]


def pipelined_mul(stages, a, b, **passthrough):
    """``a * b`` over two boundaries: the partial products (DSP outputs) are cut, then
    their sum. Returns ``(product, namespace of passthrough values after both cuts)``."""
    parts = mul_parts(a, b)
    s = stages.cut(**{f"pp{k}": p for k, (p, _) in enumerate(parts)}, **passthrough)
    prod = sum_parts([(getattr(s, f"pp{k}"), sh) for k, (_, sh) in enumerate(parts)])
    return prod, s
