"""A grid of output-stationary PEs with skewed feeders and a per-column output drain."""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .float_pe import FloatPE
from .pe import PE, check_width, operand_shape

__all__ = ["SystolicArray"]


def _or_tree(vals):
    vals = list(vals)
    while len(vals) > 1:
        vals = [vals[i] | vals[i + 1] if i + 1 < len(vals) else vals[i]
                for i in range(0, len(vals), 2)]
    return vals[0]


class SystolicArray(wiring.Component):
    """``rows`` x ``cols`` output-stationary systolic array (``PE(i, j)`` at row ``i``,
    column ``j``).

    Each cycle the array takes one *step* of a matrix product: ``a[i]`` for every row and
    ``b[j]`` for every column (for ``C = A @ B``: ``a[i] = A[i, k]``, ``b[j] = B[k, j]``),
    with flags that apply to the whole step. The feeders skew the step (row ``i`` is
    delayed ``i`` cycles, column ``j`` by ``j``), so ``PE(i, j)`` sees it ``i + j`` cycles
    later; operands then move east (``a``) and south (``b``) one PE per cycle. A
    *tile* is a run of steps from one with ``first`` to one with ``last``: ``PE(i, j)``
    computes ``init + sum(a[i] * b[j])`` over the tile modulo ``2**acc_width`` (the
    exact products wrap only in the accumulator). Each column drains its finished sums
    in row order while the next tile runs.

    Parameters
    ----------
    rows, cols : int
        Grid size (>= 1).
    a_width, a_signed, b_width, b_signed, acc_width
        As for :class:`PE`.
    pe_factory : callable or None
        ``pe_factory(i, j)`` makes the element at row ``i``, column ``j``: any
        elaboratable with the members and timing of :class:`PE` with these parameters
        (e.g. a stand-in that instantiates one shared Verilog module). Default: a new
        :class:`PE`.
    float_fmt : FloatFormat or None
        When set, the elements are :class:`~primitives.systolic.FloatPE` of this format
        (``a_width == b_width == acc_width == float_fmt.width``, operands unsigned raw
        bits): ``PE(i, j)`` computes ``init + a * b + ...`` with every product and every
        sum rounded, in step order, and the steps of a tile must be presented
        :attr:`step_interval` cycles apart.
    interleaved : bool
        Float PEs only: every PE keeps ``L =`` :attr:`step_interval` sums in flight (the
        adder's pipeline holds them), so steps may come every cycle. Steps come in
        *rounds* of ``L`` consecutive cycles; cycle ``s`` of a round is *slot* ``s``,
        each slot a tile of its own whose steps are therefore ``L`` cycles apart. The
        last round of a group of ``L`` tiles has ``last`` set in all ``L`` cycles, also
        for slots without a tile (``valid`` low): the drain counts slots. Each PE's ``L``
        sums are then drained row after row (see Latency).

    Members
    -------
    a : In(a_shape).array(rows); b : In(b_shape).array(cols)
        Operands of the step presented this cycle.
    valid, first, last : In(1)
        Flags of that step (``valid`` low: a bubble, nothing is accumulated).
    init : In(acc_width).array(cols)
        Start value of a tile's sums in column ``j``: ``PE(i, j)`` reads ``init[j]``
        :attr:`INIT_OFFSET` ``+ i + j`` cycles after the tile's first step is presented
        (tie to a constant for a constant start value).
    c_data : Out(acc_width).array(cols); c_row : Out(range(rows)).array(cols);
    c_valid : Out(1).array(cols)
        Column ``j``'s drain: while ``c_valid[j]``, ``c_data[j]`` is the finished sum of
        ``PE(c_row[j], j)``.

    Latency
    -------
    The sum of ``PE(i, j)`` for the tile whose last step is presented at cycle ``t``
    appears on column ``j``'s drain at ``t +`` :meth:`sum_delay` ``(i, j)``. Not
    interleaved: ``t + i + j +`` :attr:`drain_latency` (4 for integer PEs, the PE's
    latency plus one), rows in order, one per cycle; the last steps of consecutive tiles
    must be at least ``rows`` cycles apart (else two sums of one column would leave in the
    same cycle). Interleaved (``L`` slots, PE latency ``lat``): ``t + lat + 1 + j`` for row
    0, straight from the PE, and ``t + lat + 2 + j + i * L`` for row ``i >= 1``, from a
    buffer of ``L`` sums; so a column emits a group's ``rows * L`` slots (sums of empty
    slots with ``c_valid`` low) in ``rows * L + 1`` cycles, row after row, slots in
    order. The last rounds of consecutive groups must be far enough apart that no
    column emits two slots in one cycle and that ``PE(i, j)``'s buffer is read before
    it refills (``rows * L - rows + 2`` cycles; :class:`SystolicGemm` takes care of
    both). One step per cycle (integer PEs and interleaved float PEs; float PEs: one per
    :attr:`step_interval` cycles within a tile), no stalls.

    Resources
    ---------
    ``rows * cols`` :class:`PE` (one multiplier each), skew registers for
    ``rows * (rows - 1) / 2`` A operands, ``cols * (cols - 1) / 2`` B operands and
    ``3 * rows`` flags, and per column a ``rows``-input AND-OR drain multiplexer with its
    ``acc_width + log2(rows) + 1``-bit output register. Interleaved: also a buffer of
    ``L * acc_width`` flip-flops per PE outside row 0 and two delay lines of
    ``lat + cols + (rows - 1) * L`` flag bits.
    """

    #: cycles from a step's presentation to PE(0, 0)'s sum on column 0's drain
    DRAIN_LATENCY = PE.LATENCY + 1
    #: cycles from a tile's first step to PE(0, 0) reading ``init[0]``
    INIT_OFFSET = PE.INIT_OFFSET

    def __init__(self, rows, cols, a_width, a_signed, b_width, b_signed, acc_width,
                 pe_factory=None, *, float_fmt=None, interleaved=False):
        cls = type(self)
        self._pe_factory = pe_factory
        self.rows = check_width(rows, "rows", cls)
        self.cols = check_width(cols, "cols", cls)
        self._pe_args = (a_width, a_signed, b_width, b_signed, acc_width)
        PE.check_args(cls, *self._pe_args)
        self.acc_width = acc_width
        self.float_fmt = float_fmt
        (self.pe_latency, self.init_offset,
         self.step_interval) = self.pe_timing(*self._pe_args, float_fmt)
        #: cycles from a step's presentation to PE(0, 0)'s sum on column 0's drain
        self.drain_latency = self.pe_latency + 1
        if not isinstance(interleaved, bool):
            raise TypeError(f"{cls.__name__} interleaved must be a bool, not {interleaved!r}")
        if interleaved and self.step_interval < 2:
            raise ValueError(f"{cls.__name__} interleaved needs PEs whose accumulator loop is "
                             f"at least 2 cycles long (float_fmt), not {self.step_interval}")
        #: sums in flight per PE, one per slot of a round (1: not interleaved)
        self.interleave = self.step_interval if interleaved else 1
        super().__init__(self.signature_for(rows, cols, a_width, a_signed, b_width, b_signed,
                                            acc_width))

    @staticmethod
    def pe_timing(a_width, a_signed, b_width, b_signed, acc_width, float_fmt=None):
        """``(latency, init_offset, step_interval)`` of the elements: :class:`PE`'s, or
        those of a default :class:`FloatPE` of ``float_fmt`` (ValueError when the widths
        are not the format's, or an operand is signed)."""
        if float_fmt is None:
            return PE.LATENCY, PE.INIT_OFFSET, 1
        w = float_fmt.width
        if (a_width, b_width, acc_width) != (w, w, w) or a_signed or b_signed:
            raise ValueError(f"SystolicArray with float_fmt needs unsigned operands and "
                             f"accumulator of {w} bits, not a {a_width}, b {b_width}, acc "
                             f"{acc_width} bits")
        lm, la = FloatPE.latencies()
        return 2 + lm + la, 1 + lm, la

    def sum_delay(self, i, j):
        """Cycles from the presentation of a last step to its sum on column ``j``'s drain
        output, for ``PE(i, j)`` (the same for every slot of an interleaved round)."""
        return self.sum_delay_for(self.rows, self.cols, self.pe_latency, self.interleave, i, j)

    @staticmethod
    def sum_delay_for(rows, cols, pe_latency, interleave, i, j):
        """:meth:`sum_delay` of an array with these parameters."""
        if interleave == 1:
            return pe_latency + 1 + i + j
        # row 0 drains straight from the PE; row i >= 1 from its buffer, after row i - 1
        return pe_latency + 1 + j + (i * interleave + 1 if i else 0)

    @staticmethod
    def signature_for(rows, cols, a_width, a_signed, b_width, b_signed, acc_width):
        """The signature of an array with these parameters (see Members)."""
        ash, bsh = operand_shape(a_width, a_signed), operand_shape(b_width, b_signed)
        row_shape = unsigned(max(1, (rows - 1).bit_length()))
        return wiring.Signature({
            "a": In(ash).array(rows), "b": In(bsh).array(cols),
            "valid": In(1), "first": In(1), "last": In(1),
            "init": In(acc_width).array(cols),
            "c_data": Out(acc_width).array(cols), "c_row": Out(row_shape).array(cols),
            "c_valid": Out(1).array(cols),
        })

    def elaborate(self, platform):
        m = Module()
        P, Q = self.rows, self.cols

        def delayed(sig, n, name):
            for k in range(n):
                r = Signal.like(sig, name=f"{name}_d{k + 1}", reset_less=True)
                m.d.sync += r.eq(sig)
                sig = r
            return sig

        # flags: one delay line, row i taps it at i
        flags = [(self.valid, self.first, self.last)]
        for k in range(1, P):
            prev = flags[-1]
            cur = tuple(Signal(name=f"{n}_d{k}") for n in ("valid", "first", "last"))
            m.d.sync += [c.eq(p) for c, p in zip(cur, prev)]
            flags.append(cur)
        pes = [[None] * Q for _ in range(P)]
        for i in range(P):
            for j in range(Q):
                if self._pe_factory is not None:
                    pe = self._pe_factory(i, j)
                elif self.float_fmt is not None:
                    pe = FloatPE(self.float_fmt)
                else:
                    pe = PE(*self._pe_args)
                pes[i][j] = pe
                m.submodules[f"pe_{i}_{j}"] = pe
                m.d.comb += pe.init.eq(self.init[j])
                if j == 0:
                    v, f, lst = flags[i]
                    m.d.comb += [pe.a_in.eq(delayed(self.a[i], i, f"a{i}")),
                                 pe.valid_in.eq(v), pe.first_in.eq(f), pe.last_in.eq(lst)]
                else:
                    w = pes[i][j - 1]
                    m.d.comb += [pe.a_in.eq(w.a_out), pe.valid_in.eq(w.valid_out),
                                 pe.first_in.eq(w.first_out), pe.last_in.eq(w.last_out)]
                if i == 0:
                    m.d.comb += pe.b_in.eq(delayed(self.b[j], j, f"b{j}"))
                else:
                    m.d.comb += pe.b_in.eq(pes[i - 1][j].b_out)
        if self.interleave > 1:
            self._interleaved_drain(m, pes)
            return m
        # drain: in a column at most one PE finishes per cycle (rows in order)
        for j in range(Q):
            col = [pes[i][j] for i in range(P)]
            data = Signal(self.acc_width, name=f"drain{j}", reset_less=True)
            row = Signal.like(self.c_row[j], name=f"drain{j}_row", reset_less=True)
            m.d.sync += [
                self.c_valid[j].eq(_or_tree(pe.c_valid for pe in col)),
                data.eq(_or_tree(pe.c & pe.c_valid.replicate(self.acc_width) for pe in col)),
                row.eq(_or_tree(pe.c_valid.replicate(len(row)) & i for i, pe in enumerate(col))),
            ]
            m.d.comb += [self.c_data[j].eq(data), self.c_row[j].eq(row)]
        return m

    def _interleaved_drain(self, m, pes):
        """Per column: row 0's sums straight from the PE, row ``i >= 1``'s through a shift
        register of ``L`` sums, read after row ``i - 1``'s (see Latency)."""
        P, Q, L, lat, w = self.rows, self.cols, self.interleave, self.pe_latency, self.acc_width
        # (last, valid & last) of the presented steps, delayed; tapped per PE
        depth = lat + Q + (P - 1) * L + 1
        last_d, vl_d = [self.last], [self.valid & self.last]
        for k in range(1, depth):
            lt, vl = Signal(name=f"last_t{k}"), Signal(name=f"vlast_t{k}")
            m.d.sync += [lt.eq(last_d[-1]), vl.eq(vl_d[-1])]
            last_d.append(lt)
            vl_d.append(vl)
        for j in range(Q):
            heads, reads, valids = [], [], []
            for i in range(P):
                pe = pes[i][j]
                rt = self.sum_delay(i, j) - 1  # the cycle the drain reads this PE
                reads.append(last_d[rt])
                valids.append(vl_d[rt])
                if i == 0:
                    heads.append(pe.c)
                    continue
                buf = [Signal(w, name=f"buf_{i}_{j}_{k}", reset_less=True) for k in range(L)]
                with m.If(last_d[lat + i + j] | last_d[rt]):  # capture or read: shift
                    m.d.sync += [buf[0].eq(pe.c)] + [buf[k].eq(buf[k - 1])
                                                      for k in range(1, L)]
                heads.append(buf[L - 1])
            data = Signal(w, name=f"drain{j}", reset_less=True)
            row = Signal.like(self.c_row[j], name=f"drain{j}_row", reset_less=True)
            m.d.sync += [
                self.c_valid[j].eq(_or_tree(valids)),
                data.eq(_or_tree(h & r.replicate(w) for h, r in zip(heads, reads))),
                row.eq(_or_tree(r.replicate(len(row)) & i for i, r in enumerate(reads))),
            ]
            m.d.comb += [self.c_data[j].eq(data), self.c_row[j].eq(row)]
