"""Schedules: the customization primitives applied to a kernel."""

from .schedule import BufferHandle, LoopHandle, Schedule

__all__ = ["Schedule", "LoopHandle", "BufferHandle"]
