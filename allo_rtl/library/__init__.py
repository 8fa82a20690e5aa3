"""Library kernels written in the kernel language (``allo_rtl.library.nn``), with
default schedules that ``s.compose(kernel, instantiate=[...])`` applies."""

from . import nn  # noqa: F401

__all__ = ["nn"]
