"""Values the frontend manipulates while translating a kernel.

* :class:`PyVal` — a compile-time Python object (int, float, type, function,
  numpy array...). Arithmetic on two PyVals folds in Python.
* an IR :class:`~allo_rtl.ir.nodes.Expr` — a typed scalar computed in hardware.
* :class:`TensorVal` — a buffer, or a subview of it with fixed leading indices.
* :class:`StreamVal` — a stream (FIFO); :class:`StreamArrayVal` — an array of
  streams, indexed with compile-time constants to give a :class:`StreamVal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..ir.nodes import BufRef, Load

__all__ = ["PyVal", "TensorVal", "Sym", "StreamVal", "StreamArrayVal"]


@dataclass
class PyVal:
    value: Any


@dataclass
class TensorVal:
    buf: str
    prefix: tuple  # fixed leading indices (Exprs)
    shape: tuple  # remaining dims
    dtype: Any

    def load(self, idx, loc=None) -> Load:
        return Load(self.buf, tuple(self.prefix) + tuple(idx), self.dtype, loc)

    def ref(self, loc=None) -> BufRef:
        return BufRef(self.buf, tuple(self.prefix), loc)


@dataclass
class StreamVal:
    name: str  # IR name of the stream
    type: Any  # ir.types.Stream


@dataclass
class StreamArrayVal:
    name: str  # source name of the array
    type: Any  # ir.types.Stream of every element
    shape: tuple
    element: Callable  # index tuple -> StreamVal (registers the use)


@dataclass
class Sym:
    """A kernel-level name: ``kind`` in scalar | tensor | view | loopvar | const | func |
    stream (``value``: StreamVal or StreamArrayVal)."""

    kind: str
    irname: str = ""
    type: Any = None
    shape: tuple = ()
    value: Any = None  # const value / nested FunctionDef / known constant of a scalar
    node: Any = None
