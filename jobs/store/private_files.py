"""Files that hold subscribers' ids and messages (the store, its WAL and lock files, backups, exports) are
created readable by their owner only, whatever the umask: a umask of 022 would make them readable by every
user of the machine. SQLite creates a store's ``-wal``, ``-shm`` and journal files with the mode of the store
file, so creating the store file owner-only covers them."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def open_private(path: str | os.PathLike[str], flags: int = os.O_RDWR) -> int:
    """``os.open`` with ``O_CREAT``: a file it creates is owner-only (an existing one keeps its mode)."""
    return os.open(path, flags | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE)


def touch_private(path: str | os.PathLike[str]) -> None:
    """Create ``path`` empty and owner-only unless it exists (before SQLite opens it). Any other failure is
    left to SQLite's open, which reports it as the store's error."""
    with contextlib.suppress(OSError):
        os.close(open_private(path, os.O_WRONLY | os.O_EXCL))


def make_private_folder(folder: Path) -> None:
    """``folder`` and missing parents; the ones created here owner-only."""
    folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)


def write_private(path: Path, data: bytes, overwrite: bool) -> None:
    """Write ``data`` to a new owner-only file. Without ``overwrite`` an existing file, and a symbolic link
    (even a dangling one), is refused with ``FileExistsError``: nothing is written through a link or over a
    file the caller did not name for replacing."""
    flags = os.O_WRONLY | (os.O_TRUNC if overwrite else os.O_EXCL | getattr(os, "O_NOFOLLOW", 0))
    fd = open_private(path, flags)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
