"""Content-addressed build cache shared by the native harness and the cocotb runner.

Layout: ``cache_root()/<kind>/<key>/`` where ``key`` is a SHA-256 of everything
that determines the build output. An entry is published by building in a
private temporary directory and renaming it into place (``os.rename`` of a
directory is atomic on POSIX), and concurrent builders of the same key (pytest-
xdist workers) serialise on a lock file so the work is done once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:  # POSIX only; elsewhere the rename alone keeps the cache consistent.
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["cache_root", "content_key", "file_lock", "publish_dir", "private_dir"]


def cache_root() -> Path:
    """Return the user cache directory of allo_rtl (not created).

    ``$ALLO_RTL_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/allo_rtl``, else
    ``~/.cache/allo_rtl``.
    """
    explicit = os.environ.get("ALLO_RTL_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "allo_rtl"


def content_key(*parts: Any) -> str:
    """SHA-256 hex digest of ``parts`` (str/bytes hashed raw, others as sorted JSON)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            data = part
        elif isinstance(part, str):
            data = part.encode()
        else:
            data = json.dumps(part, sort_keys=True, default=str).encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def private_dir(parent: Path, prefix: str) -> Path:
    """Create and return a fresh private directory inside ``parent``."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def publish_dir(tmp: Path, final: Path) -> bool:
    """Atomically move the finished directory ``tmp`` to ``final``.

    Returns True if ``tmp`` became ``final``; False if another process published
    ``final`` first (then ``tmp`` is deleted and the existing entry is kept).
    """
    try:
        os.rename(tmp, final)
        return True
    except OSError:
        if final.exists():
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        raise
