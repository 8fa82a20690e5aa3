"""A systolic GEMM engine: a :class:`SystolicArray` fed from banked memories, tile after
tile, with its results written back through banked memory ports."""

from dataclasses import dataclass
from math import prod

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..memport import MemPort
from .array import SystolicArray, _or_tree as _or
from .pe import PE, check_width

__all__ = ["MemPort", "AffineAddress", "OutputBanks", "SystolicGemm"]


@dataclass(frozen=True)
class AffineAddress:
    """Addresses of one operand: lane ``l`` (a row of A, a column of B) reads its own
    memory port at ``bases[l] + sum(strides[x] * counter[x])`` modulo ``2**width``, the
    counters being the tile counters then the step counters of :class:`SystolicGemm`."""

    width: int
    bases: tuple
    strides: tuple


@dataclass(frozen=True)
class OutputBanks:
    """Where the sums go: ``banks[p]`` lists the ``(i, j, base)`` of the PEs written
    through port ``p``: ``PE(i, j)``'s sum of a tile lands at ``base + sum(strides[x] *
    tile_counter[x])`` modulo ``2**width``."""

    width: int
    banks: tuple
    strides: tuple


def _mod(v, w):
    return v & ((1 << w) - 1)


class SystolicGemm(wiring.Component):
    """Matrix product on a ``rows`` x ``cols`` :class:`SystolicArray`, tile after tile.

    The iteration space is ``tiles`` (trip counts of the tile counters, outer first)
    times ``steps`` (trip counts of the step counters, outer first; ``K = prod(steps)``
    steps per tile). Per step, row ``i`` of the array reads its A memory port and column
    ``j`` its B memory port at the addresses of ``a_addr`` / ``b_addr``; per tile,
    ``PE(i, j)`` computes ``init + sum of products`` modulo ``2**acc_width`` (exact
    products, wrap-around only in the accumulator) and its sum is written, cast to
    ``c_width`` bits (truncated, or extended by ``acc_signed``), through a C port as
    ``c_banks`` says. Tiles follow each other every ``period`` cycles (``K``, or more
    when the drain needs it: see below), so loading, computing and draining of
    consecutive tiles overlap; float PEs may interleave ``L`` tiles (``interleaved``).

    Parameters
    ----------
    rows, cols : int
        Array size.
    a_width, a_signed, b_width, b_signed, acc_width
        As for :class:`SystolicArray`.
    acc_signed : bool
        The accumulator's type is signed (only matters when ``c_width > acc_width``).
    c_width : int
        Width of the C memories.
    init : int
        Start value of every sum (raw bits, taken modulo ``2**acc_width``).
    tiles, steps : tuple of int
        Trip counts (>= 1) of the tile and step counters.
    a_addr, b_addr : AffineAddress
        One base per row / column; strides over ``tiles + steps``.
    c_banks : OutputBanks
        Every PE exactly once; strides over ``tiles``.
    read_latency : int
        Cycles from ``raddr``/``ren`` to ``rdata`` of the A and B memories (>= 1).
    pe_factory : callable or None
        Passed to :class:`SystolicArray`.
    array_factory : callable or None
        ``array_factory()`` makes the array: anything with the members and timing of the
        :class:`SystolicArray` of these parameters (default: a new one).
    float_fmt : FloatFormat or None
        Floating-point PEs (:class:`~primitives.systolic.FloatPE`) of this format: ``init``
        and the sums are raw bits, ``acc_width == c_width == float_fmt.width``, each sum is
        accumulated in step order with every product and sum rounded. The engine issues a
        step every :attr:`step_interval` (the adder's latency) cycles, or interleaves.
    interleaved : bool or None
        Float PEs: issue a step every cycle, ``L`` (the adder's latency, then
        :attr:`interleave`) tiles at a time, round-robin. Tiles form *groups* of ``L``
        consecutive tiles (the last group may be short: its empty *slots* are bubbles);
        a group takes ``K`` *rounds* of ``L`` cycles, round ``k`` issuing step ``k`` of
        the group's tile ``s`` in its cycle ``s`` (:func:`~primitives.systolic.model.
        issue_order`). Each sum thus still sees its steps in order, ``L`` cycles apart,
        as the PE's adder loop needs; the sums are bit for bit the same. Each row and
        column port still reads one address per cycle (any addresses: the ring of slots
        below adds the tile and step parts). None (default): interleaved when the PEs
        are float, the C ports allow it (each C port receives a PE's ``L`` sums in ``L``
        consecutive cycles: a port per column of PEs, or per PE, not per row) and it
        takes fewer cycles (not for a single tile); True: required (ValueError when the
        C ports do not allow it); False: never.

    Members
    -------
    start : In(1)
        Sampled while idle: starts a run.
    done : Out(1)
        One-cycle pulse in the run's last cycle (the last C writes are issued in it).
    a : Out(MemPort(a_addr.width, a_width)).array(rows)
    b : Out(MemPort(b_addr.width, b_width)).array(cols)
        Read ports (write side held at 0).
    c : Out(MemPort(c_banks.width, c_width)).array(len(c_banks.banks))
        Write ports (read side held at 0).

    Latency
    -------
    :attr:`latency` ``= (tiles - 1) * period + (K - 1) * S + read_latency + rows + cols +
    L + 2`` cycles from ``start`` to ``done`` (``S``: :attr:`step_interval`, 1 for integer
    PEs; ``L``: the PE latency, 3 for integer PEs, i.e. ``(tiles - 1) * period + K +
    read_latency + rows + cols + 4``): the first step is issued the cycle after
    ``start``; the last tile's sums leave the array ``read_latency + rows + cols + L - 1``
    cycles after its last step and are written two cycles later (the address is
    selected, then added, each in its own cycle; C port outputs are registers).
    :attr:`period` is ``K * S`` when ``K * S >= rows`` and no C port receives two sums in
    one cycle; otherwise the engine leaves bubbles between tiles
    (at least ``rows`` cycles per tile; and PEs ``(i, j)``, ``(i', j')`` on one C port
    need ``i + j != i' + j' (mod period)``). PEs on one anti-diagonal (``i + j``
    equal) finish in the same cycle and must use different C ports (ValueError).

    Interleaved (:attr:`interleave` ``= L > 1``, :attr:`step_interval` then 1,
    :attr:`period` per group, ``G = ceil(tiles / L)`` groups, ``lat`` the PE latency):
    :attr:`latency` ``= (G - 1) * period + K * L + read_latency + lat + cols +
    (rows - 1) * L + 1 + 2`` (the ``+ (rows - 1) * L + 1`` only for ``rows > 1``): the
    last group's sums leave column ``j`` row after row, ``L`` per PE (:class:`SystolicArray`,
    ``interleaved``), the last ``read_latency + lat + cols + (rows - 1) * L + 1`` cycles
    after the last step. :attr:`period` is ``K * L``, or more (gaps between groups)
    until no column or C port receives two slots in one cycle and each drain buffer is
    read before it refills: with a C port per column ``max(K * L, rows * L + 1)``.

    Resources
    ---------
    The array, one address adder per operand and for the C tile base, the loop
    counters, a delay line of C tile bases (``read_latency + rows + cols + L - 1`` entries)
    and per C port a multiplexer over its PEs. Interleaved: instead of the counters'
    address registers a ring of ``L`` (A address, B address, C tile base, occupied)
    entries with one step adder per operand, a tile iterator (counters and three
    address adders), and a longer delay line of C tile bases (``read_latency + lat +
    cols + (rows - 1) * L + 2`` entries).
    """

    def __init__(self, *, rows, cols, a_width, a_signed, b_width, b_signed, acc_width,
                 acc_signed, c_width, init=0, tiles=(), steps, a_addr, b_addr, c_banks,
                 read_latency=1, pe_factory=None, array_factory=None, float_fmt=None,
                 interleaved=None):
        cls = type(self)
        self._pe_factory, self._array_factory = pe_factory, array_factory
        check_width(rows, "rows", SystolicArray)
        check_width(cols, "cols", SystolicArray)
        PE.check_args(SystolicArray, a_width, a_signed, b_width, b_signed, acc_width)
        self.rows, self.cols = rows, cols
        self.a_width, self.b_width, self.acc_width = a_width, b_width, acc_width
        self.a_signed, self.b_signed = a_signed, b_signed
        self.acc_signed = bool(acc_signed)
        self.c_width = check_width(c_width, "c_width", cls)
        self.float_fmt = float_fmt
        (self.pe_latency, _, self.step_interval) = SystolicArray.pe_timing(
            a_width, a_signed, b_width, b_signed, acc_width, float_fmt)
        if float_fmt is not None and c_width != acc_width:
            raise ValueError(f"{cls.__name__} with float_fmt needs c_width == acc_width, not "
                             f"{c_width} and {acc_width}")
        if not isinstance(init, int) or isinstance(init, bool):
            raise TypeError(f"{cls.__name__} init must be an integer, not {init!r}")
        self.init = _mod(init, acc_width)
        self.tiles = tuple(check_width(t, "tile trip count", cls) for t in tiles)
        self.steps = tuple(check_width(t, "step trip count", cls) for t in steps)
        if not self.steps:
            raise ValueError(f"{cls.__name__} steps must list at least one counter")
        self.read_latency = check_width(read_latency, "read_latency", cls)
        ncnt = len(self.tiles) + len(self.steps)
        for what, amap, lanes in (("a_addr", a_addr, rows), ("b_addr", b_addr, cols)):
            if not isinstance(amap, AffineAddress):
                raise TypeError(f"{cls.__name__} {what} must be an AffineAddress, not "
                                f"{amap!r}")
            if len(amap.bases) != lanes or len(amap.strides) != ncnt:
                raise ValueError(f"{cls.__name__} {what} needs {lanes} bases and {ncnt} "
                                 f"strides, not {len(amap.bases)} and {len(amap.strides)}")
            check_width(amap.width, f"{what} width", cls)
        if not isinstance(c_banks, OutputBanks):
            raise TypeError(f"{cls.__name__} c_banks must be OutputBanks, not {c_banks!r}")
        if len(c_banks.strides) != len(self.tiles):
            raise ValueError(f"{cls.__name__} c_banks needs {len(self.tiles)} strides, not "
                             f"{len(c_banks.strides)}")
        check_width(c_banks.width, "c_banks width", cls)
        pes = sorted((i, j) for bank in c_banks.banks for i, j, _ in bank)
        if pes != [(i, j) for i in range(rows) for j in range(cols)]:
            raise ValueError(f"{cls.__name__} c_banks must name every PE exactly once")
        self.a_addr, self.b_addr, self.c_banks = a_addr, b_addr, c_banks
        self.K = prod(self.steps)
        self.ntiles = prod(self.tiles)
        (self.interleave, self.step_interval, self.period,
         self.latency) = self.schedule(rows, cols, self.tiles, self.steps, c_banks.banks,
                                       self.read_latency, self.step_interval,
                                       self.pe_latency, interleaved)
        #: cycles from a tile's last step issued to PE(0, 0)'s sum on the C port
        self.drain_offset = self.read_latency + self.pe_latency + 1
        #: groups of :attr:`interleave` tiles issued (the tiles when not interleaved)
        self.groups = -(-self.ntiles // self.interleave)
        super().__init__({
            "start": In(1), "done": Out(1),
            "a": Out(MemPort(a_addr.width, a_width)).array(rows),
            "b": Out(MemPort(b_addr.width, b_width)).array(cols),
            "c": Out(MemPort(c_banks.width, c_width)).array(len(c_banks.banks)),
        })

    @classmethod
    def schedule(cls, rows, cols, tiles, steps, banks, read_latency, step_interval=1,
                 pe_latency=PE.LATENCY, interleaved=None):
        """``(interleave, step_interval, period, latency)`` of an engine: whether its PEs
        interleave tiles (see the class docstring) and its :meth:`timing`. ``interleaved``:
        None chooses the interleaved schedule for PEs with ``step_interval > 1`` when the C
        ports allow it and it takes fewer cycles; True requires it (ValueError when the C
        ports do not allow it), False excludes it."""
        if interleaved is not None and not isinstance(interleaved, bool):
            raise TypeError(f"{cls.__name__} interleaved must be None or a bool, not "
                            f"{interleaved!r}")
        if interleaved and step_interval < 2:
            raise ValueError(f"{cls.__name__} interleaved needs PEs of step_interval >= 2 "
                             f"(float_fmt), not {step_interval}")
        seq = cls.timing(rows, cols, tiles, steps, banks, read_latency, step_interval,
                         pe_latency)
        if step_interval < 2 or interleaved is False:
            return (1, step_interval) + seq
        try:
            il = cls.timing(rows, cols, tiles, steps, banks, read_latency, step_interval,
                            pe_latency, interleave=step_interval)
        except ValueError:
            if interleaved:
                raise
            return (1, step_interval) + seq
        if interleaved is None and il[1] >= seq[1]:
            return (1, step_interval) + seq  # e.g. one tile: the drain would only add cycles
        return (step_interval, 1) + il

    @staticmethod
    def timing(rows, cols, tiles, steps, banks, read_latency, step_interval=1,
               pe_latency=PE.LATENCY, interleave=1):
        """``(period, latency)`` of an engine (see the class docstring); ValueError when
        two PEs on one C port finish in the same cycle. ``banks``: ``c_banks.banks``;
        ``step_interval``, ``pe_latency``: see :meth:`SystolicArray.pe_timing`;
        ``interleave``: ``step_interval`` for the interleaved schedule (``period`` is then
        that of a group of ``interleave`` tiles)."""
        K, ntiles = prod(steps), prod(tiles)
        if interleave > 1:
            return _interleaved_timing(rows, cols, K, ntiles, banks, read_latency,
                                       pe_latency, interleave)
        diags = []
        for p, bank in enumerate(banks):
            d = sorted(i + j for i, j, _ in bank)
            for x, y in zip(d, d[1:]):
                if x == y:
                    raise ValueError(
                        f"SystolicGemm: C port {p} receives two PEs of anti-diagonal {x} "
                        f"(i + j = {x}), whose sums leave the array in the same cycle")
            diags.append(d)
        S = step_interval
        period = max(K * S, rows)
        if ntiles > 1:
            while any((x - y) % period == 0 for d in diags for a, x in enumerate(d)
                      for y in d[a + 1:]):
                period += 1
        return period, ((ntiles - 1) * period + (K - 1) * S + read_latency + rows + cols
                        + pe_latency + 2)

    def elaborate(self, platform):
        m = Module()
        arr = m.submodules.array = self._array_factory() if self._array_factory else \
            SystolicArray(self.rows, self.cols, self.a_width, self.a_signed, self.b_width,
                          self.b_signed, self.acc_width, self._pe_factory,
                          float_fmt=self.float_fmt, interleaved=self.interleave > 1)
        if self.interleave > 1:
            self._elaborate_interleaved(m, arr)
            return m
        P, Q, R = self.rows, self.cols, self.read_latency
        trips = self.tiles + self.steps
        nt = len(self.tiles)
        cnt = [Signal(range(max(2, n)), name=f"cnt{x}") for x, n in enumerate(trips)]
        at_max = [Const(1) if n == 1 else (c == n - 1) for c, n in zip(cnt, trips)]

        busy, issuing, draining = Signal(), Signal(), Signal()
        S = self.step_interval
        gap = self.period - self.K * S  # extra bubbles after a tile's last step
        # cycles to wait before the next step: S - 1 after a step, + gap after a tile
        wmax = S - 1 + gap
        bubble = Signal(range(wmax + 1), name="bubble") if wmax else Const(0, 1)
        dcnt = Signal(range(self.latency + 1), name="drain_count")
        go = Signal()
        m.d.comb += go.eq(self.start & ~busy)
        issue = Signal()
        m.d.comb += issue.eq(issuing & (bubble == 0))
        step_last = Signal()
        m.d.comb += step_last.eq(_all(at_max[nt:]))
        final = Signal()
        m.d.comb += final.eq(issue & _all(at_max))

        def chain(sel_levels, strides, width, deltas_of):
            """The address increment for the counters ``sel_levels`` (indices into cnt)."""
            deltas, wrap = deltas_of(strides, [trips[x] for x in sel_levels])
            sel = Const(_mod(wrap, width), width)
            for x, d in zip(sel_levels, deltas):
                sel = Mux(at_max[x], sel, Const(_mod(d, width), width))
            return sel

        # counters and operand addresses
        levels = list(range(len(trips)))
        a_common = Signal(self.a_addr.width, name="a_common")
        b_common = Signal(self.b_addr.width, name="b_common")
        a_inc = chain(levels, self.a_addr.strides, self.a_addr.width, _deltas)
        b_inc = chain(levels, self.b_addr.strides, self.b_addr.width, _deltas)
        with m.If(go):
            m.d.sync += [c.eq(0) for c in cnt]
            m.d.sync += [a_common.eq(0), b_common.eq(0), busy.eq(1), issuing.eq(1)]
        with m.Elif(issue):
            carry = Const(1)
            for x in reversed(levels):
                with m.If(carry):
                    m.d.sync += cnt[x].eq(Mux(at_max[x], 0, cnt[x] + 1))
                carry = carry & at_max[x]
            m.d.sync += [a_common.eq(a_common + a_inc), b_common.eq(b_common + b_inc)]
            with m.If(final):
                m.d.sync += [issuing.eq(0), draining.eq(1),
                             dcnt.eq(R + P + Q + self.pe_latency)]
            if gap:
                with m.Elif(step_last):
                    m.d.sync += bubble.eq(S - 1 + gap)
            if S > 1:
                with m.Else():
                    m.d.sync += bubble.eq(S - 1)
        if wmax:
            with m.Elif(bubble != 0):
                m.d.sync += bubble.eq(bubble - 1)
        with m.If(draining):
            m.d.sync += dcnt.eq(dcnt - 1)
            with m.If(dcnt == 0):
                m.d.sync += [draining.eq(0), busy.eq(0)]
        m.d.comb += self.done.eq(draining & (dcnt == 0))

        for i in range(P):
            port = self.a[i]
            m.d.comb += [port.raddr.eq(a_common + self.a_addr.bases[i]), port.ren.eq(issue),
                         arr.a[i].eq(port.rdata)]
        for j in range(Q):
            port = self.b[j]
            m.d.comb += [port.raddr.eq(b_common + self.b_addr.bases[j]), port.ren.eq(issue),
                         arr.b[j].eq(port.rdata)]
        # step flags follow the read data into the array
        fl = [(issue, issue & _first(cnt[nt:]), issue & step_last)]
        for k in range(R):
            cur = tuple(Signal(name=f"{n}_r{k + 1}") for n in ("valid", "first", "last"))
            m.d.sync += [c.eq(p) for c, p in zip(cur, fl[-1])]
            fl.append(cur)
        v, f, lst = fl[-1]
        m.d.comb += [arr.valid.eq(v), arr.first.eq(f), arr.last.eq(lst)]
        m.d.comb += [arr.init[j].eq(self.init) for j in range(Q)]

        # C: the tile base, delayed until each PE's sum leaves the array
        cw = self.c_banks.width
        c_common = Signal(cw, name="c_common")
        if nt:
            c_inc = chain(list(range(nt)), self.c_banks.strides, cw, _deltas)
            with m.If(go):
                m.d.sync += c_common.eq(0)
            with m.Elif(issue & step_last):
                m.d.sync += c_common.eq(c_common + c_inc)
        line = [c_common]
        for k in range(self.drain_offset + P + Q - 2):
            r = Signal(cw, name=f"c_base_d{k + 1}", reset_less=True)
            m.d.sync += r.eq(line[-1])
            line.append(r)
        self._c_writes(m, arr, lambda i, j: line[self.drain_offset + i + j])
        return m

    def _c_writes(self, m, arr, tile_base):
        """The C ports: each finished sum written at ``tile_base(i, j) + base`` (the tile
        base of the sum leaving ``PE(i, j)`` now)."""
        cw, Q = self.c_banks.width, self.cols
        vals = []  # per column: the sums cast to C's width
        for j in range(Q):
            val = Signal(self.c_width, name=f"c_col{j}")
            data = arr.c_data[j]
            if self.c_width <= self.acc_width:
                m.d.comb += val.eq(data[:self.c_width])
            else:
                m.d.comb += val.eq(data.as_signed() if self.acc_signed else data)
            vals.append(val)
        for p, bank in enumerate(self.c_banks.banks):
            port = self.c[p]
            sels, cols = [], {}
            for i, j, base in bank:
                sel = Signal(name=f"c{p}_sel_{i}_{j}")
                m.d.comb += sel.eq(arr.c_valid[j] & (arr.c_row[j] == i))
                sels.append((sel, tile_base(i, j), base))
                cols.setdefault(j, []).append(sel)
            # one adder per port: the tile base of the PE writing now plus its offset
            tile = _or(Mux(sl, t, 0) for sl, t, _ in sels)
            off = _or(Mux(sl, Const(_mod(b, cw), cw), 0) for sl, _, b in sels)
            data = vals[next(iter(cols))] if len(cols) == 1 else \
                _or(Mux(_or(ss), vals[j], 0) for j, ss in cols.items())
            # two register stages (Fmax): the selected tile base and offset, then their sum;
            # a C port's only logic is then the memory's
            wen1, wen = Signal(name=f"c{p}_wen1"), Signal(name=f"c{p}_wen")
            tile1 = Signal(cw, name=f"c{p}_tile1", reset_less=True)
            off1 = Signal(cw, name=f"c{p}_off1", reset_less=True)
            data1 = Signal(self.c_width, name=f"c{p}_data1", reset_less=True)
            waddr = Signal(cw, name=f"c{p}_waddr", reset_less=True)
            wdata = Signal(self.c_width, name=f"c{p}_wdata", reset_less=True)
            m.d.sync += [wen1.eq(_or(sl for sl, _, _ in sels)), tile1.eq(tile), off1.eq(off),
                         data1.eq(data),
                         wen.eq(wen1), waddr.eq((tile1 + off1)[:cw]), wdata.eq(data1)]
            m.d.comb += [port.wen.eq(wen), port.waddr.eq(waddr), port.wdata.eq(wdata)]

    def _elaborate_interleaved(self, m, arr):
        """Interleaved schedule: a round of ``L`` cycles issues one step of each of the ``L``
        tiles of a group (slot ``s``: the group's tile ``s``); ``K`` rounds per group.
        A ring of ``L`` entries holds each slot's next A/B addresses, C tile base and
        whether it holds a tile; a tile iterator loads the next group's tiles into the
        ring during the last round."""
        P, Q, R, L = self.rows, self.cols, self.read_latency, self.interleave
        nt = len(self.tiles)
        aw, bw, cw = self.a_addr.width, self.b_addr.width, self.c_banks.width
        tcnt = [Signal(range(max(2, n)), name=f"tile_cnt{x}") for x, n in enumerate(self.tiles)]
        scnt = [Signal(range(max(2, n)), name=f"step_cnt{x}") for x, n in enumerate(self.steps)]
        t_max = [Const(1) if n == 1 else (c == n - 1) for c, n in zip(tcnt, self.tiles)]
        s_max = [Const(1) if n == 1 else (c == n - 1) for c, n in zip(scnt, self.steps)]
        slot = Signal(range(L), name="slot")
        busy, issuing, draining = Signal(), Signal(), Signal()
        gap = self.period - self.K * L  # bubbles between groups
        bubble = Signal(range(gap + 1), name="bubble") if gap else Const(0, 1)
        dcnt = Signal(range(self.latency + 1), name="drain_count")
        go, issue = Signal(), Signal()
        m.d.comb += [go.eq(self.start & ~busy), issue.eq(issuing & (bubble == 0))]
        round_last = _all(s_max)  # the group's last round (its tiles' last steps)
        slot_last = slot == L - 1

        def tile_part(strides, n, width):  # address part of flat tile n
            return _mod(sum(s * c for s, c in zip(strides, _unravel(n, self.tiles))), width)

        def incr(levels_max, strides, trips, width):
            deltas, wrap = _deltas(strides, trips)
            sel = Const(_mod(wrap, width), width)
            for mx, d in zip(levels_max, deltas):
                sel = Mux(mx, sel, Const(_mod(d, width), width))
            return sel

        na, nb = len(self.tiles), len(self.steps)
        a_ts, a_ss = self.a_addr.strides[:na], self.a_addr.strides[na:]
        b_ts, b_ss = self.b_addr.strides[:na], self.b_addr.strides[na:]
        a_step_inc = incr(s_max, a_ss, self.steps, aw)
        b_step_inc = incr(s_max, b_ss, self.steps, bw)
        # the ring: slot s's next step at ring[(s - slot) mod L]; shifts every issued cycle
        ring = [(Signal(aw, name=f"ring{k}_a", reset_less=True),
                 Signal(bw, name=f"ring{k}_b", reset_less=True),
                 Signal(cw, name=f"ring{k}_c", reset_less=True),
                 Signal(name=f"ring{k}_ok")) for k in range(L)]
        # the tile iterator: the next tile not yet in the ring
        it_a, it_b = Signal(aw, name="it_a"), Signal(bw, name="it_b")
        it_c, it_ok = Signal(cw, name="it_c"), Signal(name="it_ok")
        head = ring[0]
        with m.If(go):
            for k, (ra, rb, rc, rok) in enumerate(ring):
                ok = k < self.ntiles
                m.d.sync += [ra.eq(tile_part(a_ts, k, aw) if ok else 0),
                             rb.eq(tile_part(b_ts, k, bw) if ok else 0),
                             rc.eq(tile_part(self.c_banks.strides, k, cw) if ok else 0),
                             rok.eq(ok)]
            ok = L < self.ntiles
            m.d.sync += [c.eq(x if ok else 0) for c, x in zip(tcnt, _unravel(L, self.tiles))]
            m.d.sync += [c.eq(0) for c in scnt]
            m.d.sync += [it_a.eq(tile_part(a_ts, L, aw) if ok else 0),
                         it_b.eq(tile_part(b_ts, L, bw) if ok else 0),
                         it_c.eq(tile_part(self.c_banks.strides, L, cw) if ok else 0),
                         it_ok.eq(ok), slot.eq(0), busy.eq(1), issuing.eq(1)]
        with m.Elif(issue):
            # shift the ring; the head goes to the tail with its next step's addresses, or
            # (last round) the tail takes the iterator's tile
            for k in range(L - 1):
                m.d.sync += [x.eq(y) for x, y in zip(ring[k], ring[k + 1])]
            ta, tb, tc, tok = ring[L - 1]
            with m.If(round_last):
                m.d.sync += [ta.eq(it_a), tb.eq(it_b), tc.eq(it_c), tok.eq(it_ok)]
                if nt:  # advance the iterator
                    carry = Const(1)
                    for x in reversed(range(nt)):
                        with m.If(carry):
                            m.d.sync += tcnt[x].eq(Mux(t_max[x], 0, tcnt[x] + 1))
                        carry = carry & t_max[x]
                    m.d.sync += [
                        it_a.eq(it_a + incr(t_max, a_ts, self.tiles, aw)),
                        it_b.eq(it_b + incr(t_max, b_ts, self.tiles, bw)),
                        it_c.eq(it_c + incr(t_max, self.c_banks.strides, self.tiles, cw)),
                        it_ok.eq(it_ok & ~_all(t_max))]
                else:
                    m.d.sync += it_ok.eq(0)
            with m.Else():
                m.d.sync += [ta.eq(head[0] + a_step_inc), tb.eq(head[1] + b_step_inc),
                             tc.eq(head[2]), tok.eq(head[3])]
            m.d.sync += slot.eq(Mux(slot_last, 0, slot + 1))
            with m.If(slot_last):
                carry = Const(1)
                for x in reversed(range(nb)):
                    with m.If(carry):
                        m.d.sync += scnt[x].eq(Mux(s_max[x], 0, scnt[x] + 1))
                    carry = carry & s_max[x]
                with m.If(round_last):
                    # ring[1] is the next group's slot 0 (loaded in this round)
                    with m.If(~ring[1][3]):
                        m.d.sync += [issuing.eq(0), draining.eq(1),
                                     dcnt.eq(R + self._max_sum_delay() + 1)]
                    if gap:
                        with m.Else():
                            m.d.sync += bubble.eq(gap)
        if gap:
            with m.Elif(bubble != 0):
                m.d.sync += bubble.eq(bubble - 1)
        with m.If(draining):
            m.d.sync += dcnt.eq(dcnt - 1)
            with m.If(dcnt == 0):
                m.d.sync += [draining.eq(0), busy.eq(0)]
        m.d.comb += self.done.eq(draining & (dcnt == 0))

        valid = Signal()
        m.d.comb += valid.eq(issue & head[3])
        for i in range(P):
            port = self.a[i]
            m.d.comb += [port.raddr.eq(head[0] + self.a_addr.bases[i]), port.ren.eq(valid),
                         arr.a[i].eq(port.rdata)]
        for j in range(Q):
            port = self.b[j]
            m.d.comb += [port.raddr.eq(head[1] + self.b_addr.bases[j]), port.ren.eq(valid),
                         arr.b[j].eq(port.rdata)]
        # step flags follow the read data into the array; ``last`` also marks the bubble
        # slots of a last round (the drain counts slots)
        fl = [(valid, valid & _first(scnt), issue & round_last)]
        for k in range(R):
            cur = tuple(Signal(name=f"{n}_r{k + 1}") for n in ("valid", "first", "last"))
            m.d.sync += [c.eq(p) for c, p in zip(cur, fl[-1])]
            fl.append(cur)
        v, f, lst = fl[-1]
        m.d.comb += [arr.valid.eq(v), arr.first.eq(f), arr.last.eq(lst)]
        m.d.comb += [arr.init[j].eq(self.init) for j in range(Q)]
        # C: the issued slot's tile base, delayed until its sums leave the array
        line = [head[2]]
        for k in range(R + self._max_sum_delay()):
            r = Signal(cw, name=f"c_base_d{k + 1}", reset_less=True)
            m.d.sync += r.eq(line[-1])
            line.append(r)
        self._c_writes(m, arr, lambda i, j: line[R + self._sum_delay(i, j)])

    def _sum_delay(self, i, j):
        return SystolicArray.sum_delay_for(self.rows, self.cols, self.pe_latency,
                                           self.interleave, i, j)

    def _max_sum_delay(self):
        return self._sum_delay(self.rows - 1, self.cols - 1)


def _interleaved_timing(P, Q, K, ntiles, banks, R, pe_latency, L):
    """``(period, latency)`` of the interleaved schedule: ``period`` per group of ``L``
    tiles; ValueError when two sums of one C port leave the array in one cycle."""
    def delay(i, j):
        return SystolicArray.sum_delay_for(P, Q, pe_latency, L, i, j)

    # the cycles (relative to a group's last round) at which each port writes
    ports = [[delay(i, j) + s for i, j, _ in bank for s in range(L)] for bank in banks]
    for p, times in enumerate(ports):
        if len(set(times)) != len(times):
            raise ValueError(f"SystolicGemm: C port {p} receives two sums in one cycle with "
                             f"{L} interleaved tiles")
    cols = [[delay(i, j) + s for i in range(P) for s in range(L)] for j in range(Q)]
    groups = -(-ntiles // L)
    period = K * L
    if groups > 1:
        # a PE's drain buffer (rows >= 1) is read before it refills; the drains of
        # consecutive groups do not meet on a column or a C port
        period = max(period, P * L - P + 2 if P > 1 else L)
        while any(len({t % period for t in times}) != len(times) for times in ports + cols):
            period += 1
    return period, ((groups - 1) * period + K * L + R + delay(P - 1, Q - 1) + 2)


def _unravel(n, trips):
    """The counters (outer first) of the ``n``-th iteration of nested loops of ``trips``."""
    out = []
    for t in reversed(trips):
        out.append(n % t)
        n //= t
    return tuple(reversed(out))


def _deltas(strides, trips):
    """Per counter level, the address change when that counter increments and every
    inner counter wraps to 0; and the change when all wrap (back to the start)."""
    out = []
    for x in range(len(strides)):
        out.append(strides[x] - sum((trips[y] - 1) * strides[y]
                                    for y in range(x + 1, len(strides))))
    wrap = -sum((n - 1) * s for n, s in zip(trips, strides))
    return out, wrap


def _all(vals):
    vals = list(vals)
    out = Const(1)
    for v in vals:
        out = out & v
    return out


def _first(cnts):
    out = Const(1)
    for c in cnts:
        out = out & (c == 0)
    return out
