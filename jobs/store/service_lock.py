"""The lock that says "a service is using this store": ``<storage.path>.service-lock``.

``spreadwatch run`` holds a shared ``flock`` on it for as long as it runs (several processes may);
``spreadwatch restore`` needs it exclusively, so it can tell that a running service would go on
writing to the file it is about to replace. The kernel drops the lock when its holder dies, so a
killed service never blocks a restore.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs.store.private_files import make_private_folder, open_private

SUFFIX = ".service-lock"


def flock_within(fd: int, operation: int, patience_s: float) -> bool:
    """Take ``flock(fd, operation)`` (LOCK_SH or LOCK_EX), polling while another holder has it; False
    when ``patience_s`` passed without it."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def lock_path(store_path: str | os.PathLike[str]) -> Path:
    return Path(f"{store_path}{SUFFIX}")


class ServiceLock:
    """Held (shared) by a running service."""

    def __init__(self, store_path: str | os.PathLike[str]) -> None:
        self.path = lock_path(store_path)
        self._fd: int | None = None

    def acquire(self, patience_s: float = 30.0) -> None:
        """Waits while a restore holds the lock exclusively (seconds at most)."""
        make_private_folder(self.path.parent)
        fd = open_private(self.path)
        if not flock_within(fd, fcntl.LOCK_SH, patience_s):
            os.close(fd)
            raise TimeoutError(f"{self.path} is held by a restore for more than {patience_s:.0f} s")
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


@contextmanager
def exclusive(store_path: str | os.PathLike[str]) -> Iterator[bool]:
    """Yields True while no service holds the lock (and none can start), False when one holds it."""
    with try_exclusive(lock_path(store_path)) as got:
        yield got


@contextmanager
def try_exclusive(path: str | os.PathLike[str]) -> Iterator[bool]:
    """An exclusive ``flock`` on ``path`` without waiting: yields whether it was got (held until exit)."""
    fd = open_private(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            got = True
        except BlockingIOError:
            got = False
        yield got
    finally:
        os.close(fd)
