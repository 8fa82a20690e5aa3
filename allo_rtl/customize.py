"""``allo.customize``: kernel -> Schedule."""

from __future__ import annotations

from .frontend.parse import build_module
from .frontend.resolve import capture_caller_env
from .ir.verify import maybe_verify
from .schedule.schedule import Schedule

__all__ = ["customize"]


def customize(fn, verbose: bool = False, enable_tensor: bool = False, lower_linalg: bool = False,
              global_vars: dict | None = None, instantiate=None, context=None,
              typing_rule_set: str = "default", unroll: bool = True) -> Schedule:
    """Parse kernel ``fn`` (a function or a source string) and return its :class:`Schedule`.

    Names in the kernel are resolved now (see ``frontend/resolve.py``); ``global_vars``
    adds or overrides names. ``instantiate`` gives template arguments."""
    env = capture_caller_env(skip=2)
    if global_vars:
        env.update(global_vars)
    module = build_module(fn, instantiate=instantiate, caller_env=env,
                          typing_rule_set=typing_rule_set)
    maybe_verify(module, "the frontend")
    s = Schedule(module, source_fn=fn)
    s.inst_list = list(instantiate) if instantiate else []
    return s
