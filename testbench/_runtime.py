"""Reuse of Verilator's compiled runtime library across builds.

Every Verilator ``--exe`` build compiles the same runtime sources
(``verilated.cpp``, ``verilated_threads.cpp``, ``verilated_vpi.cpp``, a trace
writer...): about 5 s of the cold build of a small design. They do not depend
on the design, only on Verilator, the compiler, the flags and the defines
(trace/VPI), so the objects of the first build are stored in the cache under a
key of those, and later builds copy them into their object directory between
the Verilator step and ``make``. The copies get a fresh mtime, so ``make``
treats them as up to date; if anything is missing it simply compiles as usual.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from . import _cache

__all__ = ["global_objects", "restore", "save"]

logger = logging.getLogger(__name__)


def global_objects(obj_dir: Path, prefix: str) -> list[str]:
    """The runtime object files the generated makefile links (``VM_GLOBAL_FAST/SLOW``)."""
    names: list[str] = []
    collecting = False
    classes = obj_dir / f"{prefix}_classes.mk"
    if not classes.is_file():
        return names
    for line in classes.read_text().splitlines():
        if line.startswith(("VM_GLOBAL_FAST +=", "VM_GLOBAL_SLOW +=")):
            collecting = True
            continue
        if collecting:
            item = line.strip().rstrip("\\").strip()
            if item:
                names.append(item + ".o")
            if not line.rstrip().endswith("\\"):
                collecting = False
    return names


def restore(store: Path, obj_dir: Path, prefix: str) -> bool:
    """Copy the cached runtime objects into ``obj_dir``; True if all were there."""
    objects = global_objects(obj_dir, prefix)
    if not objects or not all((store / o).is_file() for o in objects):
        return False
    for o in objects:
        shutil.copyfile(store / o, obj_dir / o)  # fresh mtime: newer than the sources
    logger.debug("reused runtime objects %s from %s", objects, store)
    return True


def save(store: Path, obj_dir: Path, prefix: str) -> None:
    """Publish the runtime objects of a finished build to ``store`` (if not there yet)."""
    objects = global_objects(obj_dir, prefix)
    if not objects or store.exists() or not all((obj_dir / o).is_file() for o in objects):
        return
    staging = _cache.private_dir(store.parent, ".tmp-runtime-")
    for o in objects:
        shutil.copyfile(obj_dir / o, staging / o)
    staging.chmod(0o755)
    _cache.publish_dir(staging, store)
