"""``s.compose(sub)``: bottom-up composition of separately customized kernels.

A sub-schedule ``sub = allo.customize(f)`` records its primitives
(``sub.primitive_sequences``). Composing it into a schedule ``s`` whose kernel calls
``f`` replays those primitives onto ``s``'s instance of ``f``, with every loop and
buffer reference re-qualified to that instance (``"i"`` -> ``"f_x:i"``, ``sub.A`` ->
``f_x:A``). References to other functions (``"g:i"`` in ``sub``) keep their names, and
a composition recorded in ``sub`` is replayed recursively, so compositions nest.

Which instance: with ``id="x"`` the function ``f_x`` (the kernel called as
``f[..., "x"](...)``); otherwise the instance of ``f`` (``f``, ``f_1``, ...) whose
signature (parameter and result types and shapes) equals the sub-schedule's; several
matching instances need an ``id``. One schedule applies to every call of an instance.

Layouts: a partition replayed on the callee propagates to its call sites as any
partition does (:mod:`.memory`), rewriting both interfaces; a layout that conflicts
with one already applied (e.g. a caller partitioned the array differently) is an
:class:`AlloError` naming both. To give two call sites different layouts, call the
kernel through two instances (``f[..., "a"]`` / ``f[..., "b"]``) and compose each with
its own schedule via ``id``.
"""

from __future__ import annotations

import re

from ..errors import AlloError, Loc

__all__ = ["compose"]


def _signature(f) -> tuple:
    return (tuple((p.type.name, tuple(p.shape or ())) for p in f.params),
            tuple((r.type.name, tuple(getattr(r, "shape", None) or ())) for r in f.results))


def _target(s, sub, inst_id, loc) -> str:
    """The name of the function of ``s`` that ``sub`` is composed onto."""
    base = sub.top_func_name
    funcs = s.module.funcs
    sig = _signature(sub.top_func)
    if inst_id is not None:
        name = f"{base}_{inst_id}"
        if name not in funcs:
            inst = [n for n in funcs if n == base or n.startswith(base + "_")]
            raise AlloError(f"compose: no instance {name!r} of kernel {base!r} in this schedule",
                            loc, f"instances of {base}: {', '.join(inst) or '(none)'}; an id "
                                 f"names the call {base}[..., {inst_id!r}](...)")
        cands = [name]
    else:
        pat = re.compile(re.escape(base) + r"(_\d+)?$")
        cands = [n for n in funcs if pat.match(n)]
        if not cands:
            raise AlloError(f"compose: kernel {base!r} is not called by {s.top_func_name!r}",
                            loc, f"functions of this schedule: {', '.join(funcs)}")
        matching = [n for n in cands if _signature(funcs[n]) == sig]
        if len(matching) > 1:
            raise AlloError(f"compose: kernel {base!r} has several instances with this "
                            f"signature ({', '.join(matching)})", loc,
                            "pick one with id=...; name instances at the call: "
                            f"{base}[..., \"x\"](...)")
        cands = matching or cands
    name = cands[0]
    if _signature(funcs[name]) != sig and not _layout_only(funcs[name], sub.top_func):
        raise AlloError(f"compose: the sub-schedule's kernel {base!r} does not match {name!r} "
                        "in this schedule (different parameter or result types/shapes)", loc,
                        "customize the same kernel with the same template arguments")
    if name == s.top_func_name:
        raise AlloError(f"compose: {name!r} is the top function of this schedule", loc,
                        "apply its primitives directly, or compose into a caller")
    return name


def _layout_only(a, b) -> bool:
    """Same parameters up to element types rewritten by partition propagation."""
    return [p.name for p in a.params] == [p.name for p in b.params] and \
        [tuple(p.shape or ()) for p in a.params] == [tuple(p.shape or ()) for p in b.params]


def _requalify(x, base: str, target: str):
    """``x`` (an axis or buffer reference of ``sub``) as a reference into ``target``."""
    from .schedule import BufferHandle, LoopHandle

    if isinstance(x, LoopHandle):
        return f"{target}:{x.band}.{x.loop}" if x.func == base else x
    if isinstance(x, BufferHandle):
        return BufferHandle(target, x.name) if x.func == base else x
    if hasattr(x, "func") and hasattr(x, "name") and not isinstance(x, str):  # MockBuffer
        return BufferHandle(target, x.name) if x.func == base else x
    if isinstance(x, str):
        func, sep, rest = x.partition(":")
        if not sep:
            return f"{target}:{x}"
        return f"{target}:{rest}" if func == base else x
    if isinstance(x, (list, tuple)) and any(isinstance(y, str) or hasattr(y, "func") for y in x):
        return type(x)(_requalify(y, base, target) for y in x)
    return x


def compose(s, sub, inst_id, instantiate, loc: Loc | None):
    """Replay ``sub``'s primitives onto its kernel's instance in schedule ``s``."""
    from .schedule import Schedule

    if not isinstance(sub, Schedule) and callable(getattr(sub, "default_schedule", None)):
        # a library kernel (allo_rtl.library.nn): its default schedule at these arguments
        from ..customize import customize

        sched = customize(sub, instantiate=instantiate)
        sub.default_schedule(sched)
        sub = sched
    if not isinstance(sub, Schedule):
        if callable(sub):
            name = getattr(sub, "__name__", repr(sub))
            raise AlloError(f"compose: kernel {name!r} has no registered default schedule",
                            loc, f"compose a schedule instead: sub = allo.customize({name}"
                                 f"{', instantiate=...' if instantiate else ''}); "
                                 "s.compose(sub)")
        raise AlloError(f"compose: expected a schedule (allo.customize(...)), got "
                        f"{type(sub).__name__}", loc, "pass the result of allo.customize")
    if sub is s:
        raise AlloError("compose: a schedule cannot be composed into itself", loc)
    target = _target(s, sub, inst_id, loc)
    done = s.__dict__.setdefault("_composed", set())
    if (id(sub), target) in done:
        raise AlloError(f"compose: this sub-schedule is already composed onto {target!r}", loc,
                        "compose each sub-schedule once per instance")
    done.add((id(sub), target))
    s._record("compose", sub, id=inst_id, instantiate=instantiate)
    base = sub.top_func_name
    from .systolic import is_pe_grid

    for prim, args, kwargs in sub.primitive_sequences:
        if prim == "compose":
            # nested: the sub-schedule's own sub-schedules target functions it calls, which
            # keep their names here
            compose(s, args[0], kwargs.get("id"), kwargs.get("instantiate"), loc)
            s.primitive_sequences.pop()  # recorded by the outer compose only
            continue
        if prim == "inline" and args[0] is None:
            args = (base,)
        funcs, fpos = sub.module.funcs, {"dataflow": 0, "to": 1}.get(prim)

        def fix(i, a):
            if i == fpos:  # a function of the sub: its top is the instance, callees keep names
                name = a if isinstance(a, str) else getattr(a, "__name__", None)
                if name in funcs:
                    return target if name == base else name
            return _requalify(a, base, target)

        args = tuple(fix(i, a) for i, a in enumerate(args))
        kwargs = {k: _requalify(v, base, target) for k, v in kwargs.items()}
        try:
            if prim == "dataflow" or prim == "to" and not is_pe_grid(args[1]):
                getattr(s, prim)(*args, **kwargs)  # recorded and checked like a user call
            else:
                s._apply(prim, args, kwargs, loc)
        except AlloError as e:
            raise AlloError(f"compose: replaying {prim} of {base!r} onto {target!r}: {e.msg}",
                            loc, e.hint) from None
        s.primitive_sequences.pop()  # only the compose itself is recorded
