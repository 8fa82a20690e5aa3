"""Shared building blocks of the floating-point units (internal)."""

from types import SimpleNamespace

from amaranth.hdl import Signal, Value, Const, Cat, Mux
from .._pipeline import Stages, sum_partial_products  # noqa: F401 (re-exported)


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




def wire(m, value, name):
    """Materialize ``value`` as a named combinational signal (Amaranth re-emits an
    expression at each use; a signal is computed once)."""
    value = Value.cast(value)
    sig = Signal(value.shape(), name=name)
    m.d.comb += sig.eq(value)
    return sig


def unpack(m, fmt, bits, name="u"):
    """Field view of a float bit pattern (combinational signals named ``<name>_*``)."""
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
    for field in ("is_zero", "is_sub", "is_inf", "is_nan", "is_finite", "sig", "eff_exp"):
        setattr(u, field, wire(m, getattr(u, field), f"{name}_{field}"))
    return u


def canonical_nan(fmt):
    return Const(fmt.canonical_nan, fmt.width)


def lzc(m, value, name="lzc"):
    """Count leading zeros of ``value`` (a tree of 2:1 muxes). Returns a Value of width
    ``ceil(log2(len+1))``; an all-zero input gives ``len(value)``."""
    value = Value.cast(value)
    n = len(value)
    p = 1
    while p < n:
        p *= 2
    # Pad with ones at the bottom: the count never exceeds n.
    padded = Cat(Const((1 << (p - n)) - 1, p - n), value) if p > n else value

    # Level by level: (all_zero, count) of each 2**k-bit group, as signals.
    padded = wire(m, padded, f"{name}_in")
    groups = [(~padded[j], Const(0, 0)) for j in range(p)]
    level = 0
    while len(groups) > 1:
        nxt = []
        for j in range(0, len(groups), 2):
            (zl, cl), (zh, ch) = groups[j], groups[j + 1]
            z = wire(m, zl & zh, f"{name}_z{level}_{j // 2}")
            c = zh if len(ch) == 0 else Cat(Mux(zh, cl, ch), zh)
            nxt.append((z, wire(m, c, f"{name}_c{level}_{j // 2}")))
        groups = nxt
        level += 1
    zero, count = groups[0]
    if p == n:
        # all-zero input: count is p-1 with zero set; make it n.
        return wire(m, Mux(zero, Const(n, len(Const(n))), count), f"{name}_count")
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
    width = max(1, limit.bit_length())
    return Mux(value > limit, Const(limit, width), value[:width])


def _lzc_groups(m, value, group, name):
    """First half of a two-step leading-zero count: per ``group``-bit slice (from the
    top), an all-zero flag and the count within the slice. The value is padded with
    ones at the bottom to a multiple of ``group``."""
    value = Value.cast(value)
    n = len(value)
    pad = -n % group
    padded = Cat(Const((1 << pad) - 1, pad), value) if pad else value
    ng = len(padded) // group
    zeros, counts = [], []
    for j in range(ng):                              # j = 0 is the most significant
        g = padded[len(padded) - (j + 1) * group:len(padded) - j * group]
        zeros.append(g == 0)
        counts.append(lzc(m, g, f"{name}_g{j}")[:max(1, (group - 1).bit_length())])
    return Cat(*zeros), Cat(*counts)


def _lzc_combine(m, zeros, counts, group, width, name):
    """Second half: the count of the first non-zero slice plus ``group`` per zero slice
    before it (``width`` when everything is zero). One-hot select, no priority chain."""
    ng = len(zeros)
    cw = len(counts) // ng
    iw = max(1, (ng - 1).bit_length())
    hot = []
    for j in range(ng):                              # slice j is the first non-zero one
        before = zeros[:j].all() if j else Const(1)
        hot.append(wire(m, ~zeros[j] & before, f"{name}_hot{j}"))
    cnt = Const(0, cw)
    idx = Const(0, iw)
    for j in range(ng):
        cnt = cnt | (counts[j * cw:(j + 1) * cw] & hot[j].replicate(cw))
        idx = idx | (Const(j, iw) & hot[j].replicate(iw))
    total = Cat(cnt, idx) if group > 1 else idx
    return Mux(zeros.all(), Const(width, max(width.bit_length(), len(total))), total)


def _split_amount(amount):
    """Split a shift amount into high and low parts (two shift stages)."""
    amount = Value.cast(amount)
    k = (len(amount) + 1) // 2
    hi = Cat(Const(0, k), amount[k:]) if len(amount) > k else Const(0, 1)
    return hi, amount[:k]


def nr_limits(m, e1, W, fmt, may_underflow=True):
    """The shift limits of :func:`normalize_round` for a W-bit significand, which only
    depend on the exponent ``e1``: ``(marker, under, rsh)``. A unit that knows ``e1``
    early computes them in an earlier stage and passes them as ``limits``."""
    e1 = Value.cast(e1)
    if not e1.shape().signed:
        e1 = Cat(e1, Const(0, 1)).as_signed()
    ew = max(len(e1), fmt.exp_bits + 2) + 1
    e1m1 = wire(m, (e1 - 1).as_signed(), "nr_e1m1")
    if may_underflow:
        under = e1 < 1
        rsh = clamp_unsigned((1 - e1)[:ew].as_unsigned(), W)
    else:
        under = Const(0)
        rsh = Const(0, 1)
    # One-hot decode of lim = max(e1 - 1, 0) (no bit when lim >= W).
    marker = Cat(*[(e1m1 == W - 1 - j) | ((e1m1 < 0) if j == W - 1 else Const(0))
                   for j in range(W)])
    return marker, under, rsh


def normalize_round(stages, fmt, *, sign, p, e1, sticky, special, special_value,
                    may_underflow=True, limits=None):
    """Normalize, denormalize and round to ``fmt``, over seven boundary steps.

    ``p`` is an unsigned significand of width W >= M+2 whose bit W-1 has the weight
    ``2**(e1 - bias)`` (``e1``: signed biased exponent); ``sticky`` says that nonzero
    bits were dropped below ``p``'s LSB. If ``special`` is set, ``special_value`` is the
    result. A zero ``p`` (with zero sticky) gives a signed zero.

    Calls ``stages.cut`` seven times: after the shift limits (from ``e1`` only), the
    per-slice leading-zero counts, the full count, the coarse shift, the fine shift,
    the round-up decision, and the packed result (returned, ``fmt.width`` bits).

    The left shift is limited so that the exponent does not fall below 1 (the
    result is then subnormal): a marker bit at position ``W-1-lim`` is ORed into the
    leading-zero counter's input, so the count stops there without a comparator.
    Results with ``e1 < 1`` are shifted right instead (denormalized), with sticky.
    ``limits`` may carry :func:`nr_limits` computed earlier by the caller.
    """
    m = stages._m
    E, M = fmt.exp_bits, fmt.man_bits
    p = Value.cast(p)
    W = len(p)
    assert W >= M + 2
    e1 = Value.cast(e1)
    if not e1.shape().signed:
        e1 = Cat(e1, Const(0, 1)).as_signed()
    ew = max(len(e1), E + 2) + 1
    G = 8

    # N0: shift limits, from the exponent only (or precomputed by the caller).
    if limits is None:
        limits = nr_limits(m, e1, W, fmt, may_underflow)
    marker, under, rsh = limits
    s = stages.cut(sign=sign, p=p, marker=marker, e1=e1, sticky=sticky, special=special,
                   special_value=special_value, under=under, rsh=rsh)

    # N1: leading zeros per slice, stopping at the marker.
    zeros, counts = _lzc_groups(m, s.p | s.marker, G, "nr_lzc")
    s = stages.cut(sign=s.sign, p=s.p, zeros=zeros, counts=counts, e1=s.e1, sticky=s.sticky,
                   special=s.special, special_value=s.special_value, under=s.under, rsh=s.rsh)

    # N2: full leading-zero count = left shift amount.
    lsh = _lzc_combine(m, s.zeros, s.counts, G, W, "nr_lzc")
    s = stages.cut(sign=s.sign, p=s.p, lsh=lsh, e1=s.e1, sticky=s.sticky, special=s.special,
                   special_value=s.special_value, under=s.under, rsh=s.rsh,
                   zero=(s.p == 0) & ~s.sticky)

    # N3: coarse shift (high bits of the amounts); exponent of the normalized result.
    lhi, llo = _split_amount(s.lsh)
    left = (s.p << lhi)[:W]
    if may_underflow:
        rhi, rlo = _split_amount(s.rsh)
        right, rst = shift_right_sticky(s.p, rhi)
        val = Mux(s.under, right, left)
        lo = Mux(s.under, rlo, llo)
    else:
        val, lo, rst = left, llo, Const(0)
    e_n = wire(m, s.e1 - s.lsh, "nr_exp")
    s = stages.cut(sign=s.sign, val=val, lo=lo, under=s.under, sticky=s.sticky | (s.under & rst),
                   e_n=e_n[:E + 1].as_unsigned(), ovf=~s.under & (e_n >= fmt.exp_max),
                   zero=s.zero, special=s.special, special_value=s.special_value)

    # N4: fine shift.
    if may_underflow:
        right, rst = shift_right_sticky(s.val, s.lo)
        n = wire(m, Mux(s.under, right, (s.val << s.lo)[:W]), "nr_norm")
        st = s.sticky | (s.under & rst)
    else:
        n = wire(m, (s.val << s.lo)[:W], "nr_norm")
        st = s.sticky
    exp_n = Mux(s.under | ~n[W - 1], 0, s.e_n[:E])
    low = n[:W - M - 2] if W - M - 2 > 0 else Const(0, 1)
    s = stages.cut(sign=s.sign, exp_n=exp_n, ovf=s.ovf, kept=n[W - M - 1:W],
                   guard=n[W - M - 2], low=low, st=st, zero=s.zero, special=s.special,
                   special_value=s.special_value)

    # N5: round-up decision (round to nearest, ties to even).
    up = s.guard & (s.st | s.low.any() | s.kept[0])
    s = stages.cut(sign=s.sign, body=Cat(s.kept[:M], s.exp_n), up=up, ovf=s.ovf, zero=s.zero,
                   special=s.special, special_value=s.special_value)

    # N6: increment and pack (a carry out of the fraction bumps the exponent; out of
    # the largest exponent gives the infinity pattern).
    packed = wire(m, (s.body + s.up)[:E + M], "nr_packed")
    res = Mux(s.special, s.special_value,
          Mux(s.ovf, Cat(Const(0, M), Const(fmt.exp_max, E), s.sign),
          Mux(s.zero, Cat(Const(0, E + M), s.sign),
              Cat(packed, s.sign))))
    s = stages.cut(res=res)
    return s.res


#: Number of boundaries :func:`normalize_round` has.
NR_STEPS = 7


def priority_cuts(order):
    """``{latency: boundaries}`` registering the first ``latency`` boundaries of
    ``order`` (a priority list of boundary indices; the output boundary first)."""
    return {n: tuple(sorted(order[:n])) for n in range(len(order) + 1)}


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


def recurrence_cuts(front, steps, back, steps_per_stage):
    """Boundary indices for a unit with ``front`` always-registered boundaries, then one
    boundary after each of ``steps`` recurrence steps (registered every
    ``steps_per_stage`` steps and after the last), then the boundaries of
    :func:`normalize_round` of which those in ``back`` (offsets) are registered."""
    cuts = list(range(front))
    for i in range(steps):
        if (i + 1) % steps_per_stage == 0 or i == steps - 1:
            cuts.append(front + i)
    cuts += [front + steps + j for j in back]
    return tuple(cuts)


def recurrence_latencies(front, steps, back):
    """``{latency: steps_per_stage}`` for every distinct latency (smallest k wins)."""
    table = {}
    for k in range(steps, 0, -1):
        table[front + len(back) + -(-steps // k)] = k
    return table


def signed_less(ua, ub):
    """``a < b`` treating ``-0 < +0`` and ignoring NaN (a total order on non-NaN patterns)."""
    return Mux(ua.sign != ub.sign, ua.sign,
               Mux(ua.sign, ua.mag > ub.mag, ua.mag < ub.mag))


def drive_output(m, en, latency, port, value):
    if latency == 0:
        m.d.comb += port.eq(value)
    else:
        with m.If(en):
            m.d.sync += port.eq(value)


def check_int(width, signed, cls):
    if not isinstance(width, int) or isinstance(width, bool):
        raise TypeError(f"{cls.__name__} width must be an integer, not {width!r}")
    if not 1 <= width <= 64:
        raise ValueError(f"{cls.__name__} width must be in 1..64, not {width}")
    if not isinstance(signed, bool):
        raise TypeError(f"{cls.__name__} signed must be a bool, not {signed!r}")


def check_fracs(fracs, cls):
    if not isinstance(fracs, int) or isinstance(fracs, bool):
        raise TypeError(f"{cls.__name__} fracs must be an integer, not {fracs!r}")
    if fracs < 0:
        raise ValueError(f"{cls.__name__} fracs must be >= 0, not {fracs}")
