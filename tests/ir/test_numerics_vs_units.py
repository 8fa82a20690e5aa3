"""The interpreter's numerics agree bit for bit with the float units' models (primitives.float)."""

import math

import numpy as np

from allo_rtl.ir import numerics as N
from allo_rtl.ir.types import Int, UInt, float32
from primitives.float.format import BINARY32
from primitives.float.model import fp_to_int_model, int_to_fp_model


def _vectors():
    rng = np.random.default_rng(7)
    special = [0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, 127.9, 128.0, -128.0, -129.0, 255.5,
               256.0, -1.0, 3e9, -3e9, 1e-40, math.inf, -math.inf, math.nan]
    rand = rng.uniform(-300, 300, 200).astype(np.float32).tolist()
    return [float(np.float32(x)) for x in special + rand]


def test_float_to_int_matches_fptoint_model():
    for t, (w, signed) in ((Int(8), (8, True)), (UInt(8), (8, False)), (Int(32), (32, True))):
        for x in _vectors():
            bits = N.float_bits(x, float32)
            hw = fp_to_int_model(bits, BINARY32, w, signed)
            ref = N.wrap(N.cast(x, float32, t), UInt(w))  # compare raw bit patterns
            assert hw == ref, (x, t, hw, ref)


def test_int_to_float_matches_inttofp_model():
    rng = np.random.default_rng(3)
    for v in [0, 1, -1, 2**24 + 1, -(2**31), 2**31 - 1] + rng.integers(-2**31, 2**31, 200).tolist():
        hw = int_to_fp_model(int(v) & 0xFFFFFFFF, BINARY32, 32, True)
        assert hw == N.float_bits(N.cast(int(v), Int(32), float32), float32), v
