"""Small designs implementing the kernel wrapper contract of testbench.native (test fixtures)."""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from testbench import DesignSpec, MemSpec, PortSpec


class AddKernel(wiring.Component):
    """B[i] = A[i] + inc for every i; sum = sum of B (mod 2**width).

    Memories A and B (``depth`` x ``width``) are Amaranth ``Memory`` blocks with a
    synchronous read port (latency 1) shared between host and kernel.

    Latency: the edge E0 that samples start sets busy; read i is issued in cycle
    i+1, its word arrives in cycle i+2 and is written to B at the end of it; the
    last write (cycle depth+1) also raises done, seen in cycle depth+2. So the
    harness reports exactly ``depth + 2`` cycles.
    """

    def __init__(self, depth: int = 16, width: int = 32):
        self.depth, self.width = depth, width
        aw = max(1, (depth - 1).bit_length())
        members = {"start": In(1), "done": Out(1), "inc": In(width), "sum": Out(width)}
        for mem in ("A", "B"):
            members |= {f"{mem}__haddr": In(aw), f"{mem}__hwdata": In(width),
                        f"{mem}__hwe": In(1), f"{mem}__hrdata": Out(width)}
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.amem = amem = Memory(shape=self.width, depth=self.depth, init=[])
        m.submodules.bmem = bmem = Memory(shape=self.width, depth=self.depth, init=[])
        a_w, a_r = amem.write_port(), amem.read_port()
        b_w, b_r = bmem.write_port(), bmem.read_port()

        busy = Signal()
        i = Signal(range(self.depth + 1))
        valid = Signal()
        widx = Signal(range(self.depth))
        acc = Signal(self.width)
        value = a_r.data + self.inc

        m.d.comb += [
            self.A__hrdata.eq(a_r.data), self.B__hrdata.eq(b_r.data), self.sum.eq(acc),
            a_w.addr.eq(self.A__haddr), a_w.data.eq(self.A__hwdata), a_w.en.eq(self.A__hwe & ~busy),
            b_r.addr.eq(self.B__haddr),
            a_r.addr.eq(self.A__haddr),
            b_w.addr.eq(self.B__haddr), b_w.data.eq(self.B__hwdata), b_w.en.eq(self.B__hwe & ~busy),
        ]
        with m.If(busy):
            m.d.comb += a_r.addr.eq(i)
        with m.If(valid):
            m.d.comb += [b_w.addr.eq(widx), b_w.data.eq(value), b_w.en.eq(1)]

        m.d.sync += self.done.eq(0)
        with m.If(~busy & self.start):
            m.d.sync += [busy.eq(1), i.eq(0), acc.eq(0)]
        with m.If(busy):
            with m.If(i < self.depth):
                m.d.sync += [i.eq(i + 1), valid.eq(1), widx.eq(i)]
            with m.Else():
                m.d.sync += valid.eq(0)
            with m.If(valid):
                m.d.sync += acc.eq(acc + value)
                with m.If(widx == self.depth - 1):
                    m.d.sync += [busy.eq(0), self.done.eq(1)]
        return m


def add_kernel(depth: int = 16, width: int = 32) -> tuple[str, DesignSpec]:
    """Verilog and spec of :class:`AddKernel` as module ``add_kernel``."""
    text = verilog.convert(AddKernel(depth, width), name="add_kernel", emit_src=False)
    spec = DesignSpec("add_kernel", (MemSpec("A", width, depth), MemSpec("B", width, depth)),
                      (PortSpec("inc", width),), (PortSpec("sum", width),))
    return text, spec


def sweep_verilog(mems: list[tuple[int, int]]) -> str:
    """Verilog of module ``sweep``: per (width w, depth d) a register-array memory
    ``M<w>`` and scalars ``si<w>``/``so<w>``. At the edge that samples start every
    word becomes ``~word``; ``so<w> = si<w> + 1``; ``done <= start``, so the harness
    reports exactly 1 cycle."""
    ports = ["input clk", "input rst", "input start", "output reg done"]
    body = []
    for w, d in mems:
        r = f"[{w - 1}:0]"
        aw = max(1, (d - 1).bit_length())
        ports += [f"input [{aw - 1}:0] M{w}__haddr", f"input {r} M{w}__hwdata", f"input M{w}__hwe",
                  f"output reg {r} M{w}__hrdata", f"input {r} si{w}", f"output {r} so{w}"]
        body += [
            f"reg {r} mem{w} [0:{d - 1}];",
            f"assign so{w} = si{w} + 1'b1;",
            f"integer i{w};",
            "always @(posedge clk) begin",
            f"  M{w}__hrdata <= mem{w}[M{w}__haddr];",
            f"  if (M{w}__hwe) mem{w}[M{w}__haddr] <= M{w}__hwdata;",
            f"  if (start) for (i{w} = 0; i{w} < {d}; i{w} = i{w} + 1) mem{w}[i{w}] <= ~mem{w}[i{w}];",
            "end",
        ]
    body.append("always @(posedge clk) if (rst) done <= 1'b0; else done <= start;")
    return "module sweep(\n  " + ",\n  ".join(ports) + "\n);\n" + "\n".join(body) + "\nendmodule\n"


def sweep_spec(mems: list[tuple[int, int]]) -> DesignSpec:
    """Spec of :func:`sweep_verilog`."""
    return DesignSpec("sweep", tuple(MemSpec(f"M{w}", w, d) for w, d in mems),
                      tuple(PortSpec(f"si{w}", w) for w, _ in mems),
                      tuple(PortSpec(f"so{w}", w) for w, _ in mems))


#: A kernel that never raises done; prints a line per busy cycle; calls $finish
#: at start when scalar input ``die`` is 1.
HANG_V = """\
module hang(input clk, input rst, input start, output done, input die);
  reg busy = 1'b0;
  reg [31:0] n = 32'd0;
  assign done = 1'b0;
  always @(posedge clk) begin
    if (start) begin
      busy <= 1'b1;
      if (die) $finish;
    end
    if (busy) begin
      n <= n + 32'd1;
      $display("busy cycle %0d", n);
    end
  end
endmodule
"""

HANG_SPEC = DesignSpec("hang", (), (PortSpec("die", 1),), ())
