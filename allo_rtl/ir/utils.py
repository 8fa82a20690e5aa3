"""Allo-compatible helpers (``allo.ir.utils.MockBuffer``)."""

from ..schedule.schedule import BufferHandle

__all__ = ["MockBuffer"]


class MockBuffer(BufferHandle):
    """Names buffer ``name`` of function ``func`` for schedule primitives."""

    def __init__(self, func: str, name: str, idx=None):
        super().__init__(func, name)
        self.idx = idx
