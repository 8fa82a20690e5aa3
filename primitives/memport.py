"""The memory port of a component that reads and writes a memory owned elsewhere."""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["MemPort"]


class MemPort(wiring.Signature):
    """A port to a memory owned elsewhere: ``raddr``/``ren`` out with ``rdata`` in a fixed
    read latency later (the owner's), and ``waddr``/``wdata``/``wen`` out."""

    def __init__(self, addr_width: int, data_width: int):
        self.addr_width, self.data_width = addr_width, data_width
        super().__init__({
            "raddr": Out(addr_width), "ren": Out(1), "rdata": In(data_width),
            "waddr": Out(addr_width), "wdata": Out(data_width), "wen": Out(1),
        })

    def __eq__(self, other):
        return (isinstance(other, MemPort) and other.addr_width == self.addr_width
                and other.data_width == self.data_width)

    def __hash__(self):
        return hash((self.addr_width, self.data_width))

    def __repr__(self):
        return f"MemPort({self.addr_width}, {self.data_width})"
