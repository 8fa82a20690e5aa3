"""Shared building blocks of the floating-point units (internal)."""

from types import SimpleNamespace

from amaranth.hdl import Signal, Value, Const, Cat, Mux, unsigned, signed


def check_latency(latency, supported, cls):
    if latency is None:
        return None
    if not isinstance(latency, int) or isinstance(latency, bool):
        raise TypeError(f"Latency must be an integer, not {latency!r}")
    if latency not in supported:
        raise ValueError(f"{cls.__name__} latency must be one of "
                         f"{', '.join(map(str, sorted(supported)))}, not {latency}")
    return latency


def check_format(fmt, what="Format"):
    from .format import FloatFormat
    if not isinstance(fmt, FloatFormat):
        raise TypeError(f"{what} must be a FloatFormat, not {fmt!r}")
    return fmt


class Stages:
    """Cuts a linear datapath into pipeline stages.

    The datapath calls :meth:`cut` at each of its candidate register boundaries, in
    order, passing every value that later steps use. Boundaries whose index is in
    ``cuts`` get registers (all clock-enabled by ``en``); the others pass through.
    """
    def __init__(self, m, en, cuts, prefix=""):
        self._m, self._en, self._cuts, self._prefix = m, en, frozenset(cuts), prefix
        self.index = 0

    def cut(self, **values):
        i = self.index
        self.index += 1
        if i not in self._cuts:
            return SimpleNamespace(**values)
        out = {}
        for name, value in values.items():
            value = Value.cast(value)
            reg = Signal(value.shape(), name=f"{self._prefix}p{i}_{name}")
            with self._m.If(self._en):
                self._m.d.sync += reg.eq(value)
            out[name] = reg
        return SimpleNamespace(**out)


def unpack(fmt, bits):
    """Field view of a float bit pattern (all combinational)."""
    E, M = fmt.exp_bits, fmt.man_bits
    bits = Value.cast(bits)
    u = SimpleNamespace()
    u.sign = bits[E + M]
    u.exp = bits[M:M + E]
    u.man = bits[:M]
    exp_zero = u.exp == 0
    exp_ones = u.exp == fmt.exp_max
    man_zero = u.man == 0
    u.is_zero = exp_zero & man_zero
    u.is_sub = exp_zero & ~man_zero
    u.is_inf = exp_ones & man_zero
    u.is_nan = exp_ones & ~man_zero
    u.is_finite = ~exp_ones
    u.hidden = ~exp_zero
    u.sig = Cat(u.man, u.hidden)                  # M+1 bits
    u.eff_exp = Cat(u.exp[0] | exp_zero, u.exp[1:])  # max(exp, 1): subnormals scale like exp 1
    u.mag = bits[:E + M]
    return u


def canonical_nan(fmt):
    return Const(fmt.canonical_nan, fmt.width)


def lzc(value):
    """Count leading zeros of ``value`` (a tree of 2:1 muxes). Returns a Value of width
    ``ceil(log2(len+1))``; an all-zero input gives ``len(value)``."""
    value = Value.cast(value)
    n = len(value)
    p = 1
    while p < n:
        p *= 2
    # Pad with ones at the bottom: the count never exceeds n.
    padded = Cat(Const((1 << (p - n)) - 1, p - n), value) if p > n else value

    def rec(v):
        # returns (all_zero, count) with count of width log2(len(v))
        if len(v) == 1:
            return ~v[0], Const(0, 0)
        h = len(v) // 2
        zl, cl = rec(v[:h])
        zh, ch = rec(v[h:])
        if len(ch) == 0:
            return zl & zh, zh
        return zl & zh, Cat(Mux(zh, cl, ch), zh)

    zero, count = rec(padded)
    if p == n:
        # all-zero input: count is p-1 with zero set; add it as the top bit.
        return Mux(zero, Const(n, len(Const(n))), count)
    return count


def shift_right_sticky(value, amount, max_shift=None):
    """``value >> amount`` and the OR of the bits shifted out. ``amount`` should be
    clamped by the caller to at most ``len(value)`` (larger shifts lose everything)."""
    value = Value.cast(value)
    n = len(value)
    shifted = value >> amount
    mask = ~(Const((1 << n) - 1, n) << amount)[:n]
    sticky = (value & mask).any()
    return shifted, sticky


def clamp_unsigned(value, limit):
    """``min(value, limit)`` for an unsigned ``value`` and a constant ``limit``."""
    value = Value.cast(value)
    if limit >= (1 << len(value)) - 1:
        return value
    return Mux(value > limit, Const(limit, len(value)), value)


def normalize_round(stages, fmt, *, sign, p, e1, sticky, special, special_value,
                    may_underflow=True):
    """Normalize, denormalize and round to ``fmt``, in three boundary steps.

    ``p`` is an unsigned significand of width W >= M+2 whose bit W-1 has the weight
    ``2**(e1 - bias)`` (``e1``: signed biased exponent); ``sticky`` says that nonzero
    bits were dropped below ``p``'s LSB. If ``special`` is set, ``special_value`` is the
    result. A zero ``p`` (with zero sticky) gives a signed zero.

    Calls ``stages.cut`` three times (after the shift-amount step, after the shift,
    after rounding) and returns the final result Value (``fmt.width`` bits).
    """
    E, M = fmt.exp_bits, fmt.man_bits
    p = Value.cast(p)
    W = len(p)
    assert W >= M + 2
    e1 = Value.cast(e1)
    if not e1.shape().signed:
        e1 = Cat(e1, Const(0, 1)).as_signed()
    ew = max(len(e1), E + 2) + 1

    # Step 1: shift amounts.
    z = lzc(p)
    e1m1 = (e1 - 1).as_signed()
    zero = (p == 0)
    if may_underflow:
        under = e1 < 1
        rsh = clamp_unsigned((1 - e1)[:ew].as_unsigned(), W)
    else:
        under = Const(0)
        rsh = Const(0, 1)
    lim = Mux(e1m1 < 0, 0, e1m1)[:ew].as_unsigned()
    lsh = Mux(lim < z, lim, z)[:len(z)]
    s = stages.cut(sign=sign, p=p, e1=e1, sticky=sticky, special=special,
                   special_value=special_value, under=under, rsh=rsh, lsh=lsh, zero=zero)

    # Step 2: shift.
    rshifted, rsticky = shift_right_sticky(s.p, s.rsh) if may_underflow else (s.p, Const(0))
    lshifted = (s.p << s.lsh)[:W]
    n = Mux(s.under, rshifted, lshifted)
    nst = s.sticky | (s.under & rsticky)
    exp_n = Mux(s.under | ~n[W - 1], 0, (s.e1 - s.lsh))
    ovf = ~s.under & (s.e1 - s.lsh >= fmt.exp_max)
    kept = n[W - M - 1:W]
    guard = n[W - M - 2]
    st = nst | (n[:W - M - 2].any() if W - M - 2 > 0 else Const(0))
    s = stages.cut(sign=s.sign, exp_n=exp_n[:E], ovf=ovf, kept=kept, guard=guard, st=st,
                   zero=s.zero & ~s.sticky, special=s.special, special_value=s.special_value)

    # Step 3: round and pack.
    up = s.guard & (s.st | s.kept[0])
    packed = (Cat(s.kept[:M], s.exp_n) + up)[:E + M]
    res = Mux(s.special, s.special_value,
          Mux(s.ovf, Cat(Const(0, M), Const(fmt.exp_max, E), s.sign),
          Mux(s.zero, Cat(Const(0, E + M), s.sign),
              Cat(packed, s.sign))))
    s = stages.cut(res=res)
    return s.res


def partial_products(a, b, chunk=18):
    """Split ``a * b`` into products of at most ``chunk`` x ``chunk`` bits (one ECP5
    MULT18X18D each). Returns a list of ``(product, shift)``."""
    a, b = Value.cast(a), Value.cast(b)
    parts = []
    for i in range(0, len(a), chunk):
        for j in range(0, len(b), chunk):
            ai, bj = a[i:i + chunk], b[j:j + chunk]
            parts.append((ai * bj, i + j))
    return parts


def sum_partial_products(parts, width):
    total = Const(0, width)
    for p, sh in parts:
        total = total + (Cat(Const(0, sh), p) if sh else p)
    return total[:width]
