"""Stimulus for the primitives.float tests: special values and random operands that
exercise the rounding, cancellation, subnormal and overflow paths."""
import itertools
import random

from primitives.float import model


def specials(fmt):
    """Interesting bit patterns of ``fmt``, both signs."""
    E, M = fmt.exp_bits, fmt.man_bits
    one = fmt.one
    pos = [
        0, fmt.inf, fmt.canonical_nan,
        fmt.canonical_nan | 1,                          # quiet NaN with payload
        fmt.inf | 1,                                    # signalling NaN
        fmt.inf | (1 << (M - 1)) - 1 if M > 1 else fmt.inf | 1,   # sNaN, full payload
        fmt.min_subnormal, fmt.max_subnormal, fmt.min_normal, fmt.max_normal,
        fmt.min_normal | 1, fmt.max_normal - 1, 2,
        one, one | 1, one + (1 << (M - 1)), (fmt.bias + 1) << M,   # 1, 1+ulp, 1.5, 2
        one - 1,                                        # 1 - ulp/2
        (fmt.bias - M - 1) << M if fmt.bias > M + 1 else 1,        # half an ulp of 1
        ((fmt.bias - M - 1) << M) | 1 if fmt.bias > M + 1 else 2,  # just above half
        ((fmt.bias - M) << M) | (1 << (M - 1)) if fmt.bias > M else 3,  # 1.5 ulp
        (fmt.exp_max - 2) << M,                         # max_normal / 2 region
        (fmt.bias + M + 1) << M,                        # 2**(M+1): last integer spacing 2
        ((fmt.bias + M) << M) | ((1 << M) - 1),
    ]
    out = []
    for p in pos:
        for s in (0, fmt.sign_mask):
            if p | s not in out:
                out.append(p | s)
    return out


def special_pairs(fmt):
    sp = specials(fmt)
    return list(itertools.product(sp, sp))


def random_float(fmt, rng, near=None):
    """A random pattern: uniform bits, or (with ``near``) the same exponent as ``near``
    give or take a few, or few-bit mantissas (exact/halfway products and sums)."""
    E, M = fmt.exp_bits, fmt.man_bits
    r = rng.random()
    sign = rng.getrandbits(1)
    if near is not None and r < 0.45:
        e = (near >> M) & fmt.exp_max
        e = min(max(e + rng.randint(-(M + 3), M + 3) if rng.random() < 0.5
                    else e + rng.randint(-2, 2), 0), fmt.exp_max)
        man = rng.getrandbits(M)
        if rng.random() < 0.3:                         # copy most of near's mantissa
            k = rng.randrange(M + 1)
            man = (near & ((1 << M) - 1)) ^ (man >> k)
        return (sign << (E + M)) | (e << M) | man
    if r < 0.6:
        return rng.getrandbits(fmt.width)
    if r < 0.75:                                       # few mantissa bits
        k = rng.randint(0, min(M, 4))
        man = (rng.getrandbits(k) << (M - k)) if k else 0
        e = rng.randrange(1, fmt.exp_max) if rng.random() < 0.7 else \
            min(max(fmt.bias + rng.randint(-3, 3), 0), fmt.exp_max)
        return (sign << (E + M)) | (e << M) | man
    if r < 0.85:                                       # subnormal or tiny
        e = rng.choice([0, 0, 1, 2])
        return (sign << (E + M)) | (e << M) | rng.getrandbits(M) >> rng.randrange(M)
    if r < 0.92:                                       # large (overflow region)
        e = fmt.exp_max - rng.randint(1, 3)
        return (sign << (E + M)) | (e << M) | rng.getrandbits(M)
    # moderate values around 1
    e = min(max(fmt.bias + rng.randint(-8, 8), 0), fmt.exp_max)
    return (sign << (E + M)) | (e << M) | rng.getrandbits(M)


def random_int(rng):
    r = rng.random()
    if r < 0.3:
        return rng.getrandbits(64)
    if r < 0.6:
        return rng.getrandbits(rng.randint(1, 64))
    if r < 0.8:                                        # few significant bits: ties
        k = rng.randint(1, 26)
        v = rng.getrandbits(k) | (1 << (k - 1))
        return (v << rng.randint(0, 64 - k)) & ((1 << 64) - 1)
    v = (1 << rng.randint(0, 63)) + rng.randint(-3, 3)   # near powers of two
    v &= (1 << 64) - 1
    return v if rng.random() < 0.5 else (-v) & ((1 << 64) - 1)


def int_edge_floats(fmt):
    """Floats at the edges of the integer ranges (for float -> int)."""
    out = []
    for w in (1, 8, 16, 32, 64):
        for v in (1 << (w - 1), (1 << (w - 1)) - 1, (1 << w) - 1, 1 << w,
                  -(1 << (w - 1)), -(1 << (w - 1)) - 1, -1, 1):
            for delta in (0,):
                f = model.int_to_fp_model(v & ((1 << 128) - 1), fmt, 128, True)
                out.append(f)
                # neighbours of that float
                if not model.is_nan(f, fmt) and (f & ~fmt.sign_mask) != fmt.inf:
                    out.append(f + 1 if ((f + 1) & ~fmt.sign_mask) < fmt.inf else f)
                    if f & ~fmt.sign_mask:
                        out.append(f - 1)
    half = (fmt.bias - 1) << fmt.man_bits                # 0.5
    out += [half, half | fmt.sign_mask, fmt.one | (1 << (fmt.man_bits - 1)),
            fmt.one | (1 << (fmt.man_bits - 1)) | fmt.sign_mask]
    return out


def stream(fmt, n_random, seed=0):
    """Operand streams: every special pair, the float/int edge values, then
    ``n_random`` random vectors. Returns ``{"a","b","sub","i": [int]}``."""
    rng = random.Random(f"{fmt.name}-{seed}")
    a, b = [], []
    for x, y in special_pairs(fmt):
        a.append(x)
        b.append(y)
    for f in int_edge_floats(fmt):
        a.append(f)
        b.append(fmt.one)
    for _ in range(n_random):
        x = random_float(fmt, rng)
        y = random_float(fmt, rng, near=x)
        if rng.random() < 0.5:
            x, y = y, x
        a.append(x)
        b.append(y)
    n = len(a)
    sub = [rng.getrandbits(1) for _ in range(n)]
    ints = [random_int(rng) for _ in range(n)]
    return {"a": a, "b": b, "sub": sub, "i": ints}
