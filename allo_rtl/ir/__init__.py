"""Kernel IR: types, nodes, printer, verifier, interpreter."""

from . import types  # noqa: F401  (allo_rtl.ir.types is part of the public API)
