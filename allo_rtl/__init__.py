"""allo_rtl: Allo-compatible Python kernels + schedules compiled to RTL.

Change ``import allo`` to ``import allo_rtl as allo``: kernels, ``customize``
and schedules keep Allo's API; ``s.build()`` targets hardware.
"""

from . import dsl, ir  # noqa: F401
from .customize import customize
from .dsl import *  # noqa: F401,F403
from .dsl import __all__ as _dsl_all
from .errors import AlloError, AlloWarning
from .frontend.parse import template
from .ir.types import (  # noqa: F401
    Fixed, Float, Int, Memory, Stateful, Stream, Struct, UFixed, UInt, ConstExpr, Layout,
)
from .schedule.schedule import Schedule
from . import library  # noqa: E402,F401 - allo.library.nn, as in Allo
from . import dataflow  # noqa: E402,F401 - allo.dataflow (``import allo_rtl.dataflow as df``)


class Partition:
    """Partition kinds for ``s.partition(..., partition_type=...)``."""

    Complete = 0
    Block = 1
    Cyclic = 2


__version__ = "0.1.0"
__all__ = ["customize", "AlloError", "AlloWarning", "Schedule", "Partition", "template",
           "Fixed", "Float", "Int", "UInt", "UFixed", "Struct", "Stream", "Memory",
           "Stateful", "ConstExpr", "Layout"] + list(_dsl_all)
