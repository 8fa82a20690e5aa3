"""Kernel IR: types, nodes, printer, verifier, interpreter (with the scheduler of its
streams and dataflow regions) and stream queries."""

from . import types  # noqa: F401  (allo_rtl.ir.types is part of the public API)
