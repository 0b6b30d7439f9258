"""The SQLite dialect of the store's database (:mod:`jobs.store.db`): one file, WAL, ``flock`` locks."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobs.store.db import JUST_CREATED_S, Database, StoreError
from jobs.store.private_files import make_private_folder, open_private, touch_private
from jobs.store.service_lock import flock_within

log = logging.getLogger(__name__)


def _enable_wal(conn: sqlite3.Connection, patience_s: float = 30.0) -> None:
    """Switch to WAL. On a brand-new file two processes may race to do it, and SQLite answers the loser
    SQLITE_BUSY at once, without its busy handler: so retry for a while instead of failing."""
    deadline = time.monotonic() + patience_s
    delay = 0.01
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def lock_path(store_path: str | Path, name: str) -> Path:
    """The file whose ``flock`` is the SQLite store's lock ``name`` (``<file>.<name>-lock``)."""
    return Path(f"{store_path}.{name}-lock")


class SqliteDatabase(Database):
    kind = "sqlite"

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.memory = str(path) == ":memory:"
        self._memory_locks: dict[str, threading.Lock] = {}

    def describe(self) -> str:
        return str(self.path)

    def _open(self) -> sqlite3.Connection:
        if not self.memory:
            touch_private(self.path)  # owner-only, and so its -wal and -shm files (jobs.store.private_files)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=30000")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @contextmanager
    def transaction(self, exclusive: bool = True) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front so two writers never deadlock
        (SQLite has one writer at a time either way: ``exclusive`` changes nothing here)."""
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def schema_version(self, conn: sqlite3.Connection) -> int:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, conn: sqlite3.Connection, version: int) -> None:
        conn.execute(f"PRAGMA user_version = {int(version)}")

    def migration_statements(self, script: str) -> list[str]:
        return [s for s in script.split(";") if s.strip()]

    def fetch_tuples(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        cur = self.connect().cursor()
        cur.row_factory = None
        return list(cur.execute(sql, tuple(args)).fetchall())

    @contextmanager
    def lock(self, name: str, patience_s: float) -> Iterator[None]:
        if self.memory:
            with self._memory_locks.setdefault(name, threading.Lock()):
                yield
            return
        fd = open_private(lock_path(self.path, name))
        try:
            if not flock_within(fd, fcntl.LOCK_EX, patience_s):
                raise TimeoutError(f"another {name} of {self.path} has held its lock for {patience_s:.0f} s")
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def prepare(self) -> bool:
        """Create the store's folder; True when there is no store yet (nothing to check or lose)."""
        if self.memory:
            return True
        folder = self.path.parent
        try:
            make_private_folder(folder)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store's folder {folder} ({exc.strerror or exc}): "
                "create it, or set storage.path to a writable place"
            ) from None
        if self.path.is_dir():
            raise StoreError(f"the store {self.path} is a folder: set storage.path to a file name inside it")
        if not self.path.exists():
            return True
        stat = self.path.stat()
        if stat.st_size == 0:
            # SQLite takes an empty file for a new database: say so, it may be a store whose contents
            # (subscribers, alert states) were lost, e.g. truncated by a full disk or a bad copy. A file
            # created a moment ago is another process opening the same new store at the same time.
            if time.time() - stat.st_mtime < JUST_CREATED_S:
                return True
            log.warning(
                "the store %s is an empty file (0 bytes): starting a new, empty store in it; "
                "if it held subscribers, stop now and restore it from a backup",
                self.path,
            )
            return True
        self._refuse_a_foreign_database()
        return False

    def _refuse_a_foreign_database(self) -> None:
        message = foreign_database(self.path)
        if message is not None:
            raise StoreError(message)

    def check_integrity(self) -> None:
        """``PRAGMA quick_check`` at open: a damaged store stops the program at once, instead of
        answering some commands and failing half-way through others."""
        rows = self.connect().execute("PRAGMA quick_check(1)").fetchall()
        if rows and rows[0][0] != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed ({rows[0][0]})")

    def error(self, exc: BaseException) -> StoreError:
        return sqlite_error(self.path, exc)


def foreign_database(path: Path) -> str | None:
    """Why the existing SQLite file ``path`` is another program's database, if it is: tables but no
    spreadwatch schema (``user_version`` 0). Such a file is refused before anything is written to it (no
    migration, no switch to WAL). Read through a read-only connection; a file that cannot be read is
    left to the usual checks (damaged, not a database, unreadable)."""
    try:
        probe = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        version = int(probe.execute("PRAGMA user_version").fetchone()[0])
        tables = [
            r[0]
            for r in probe.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
    except sqlite3.Error:
        return None
    finally:
        probe.close()
    if version != 0 or not tables:
        return None
    shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
    return (
        f"{path} is not a spreadwatch store: it holds other tables ({shown}) and no spreadwatch schema; "
        "it was left unchanged: set storage.path (or --db) to a new file"
    )


def sqlite_error(path: Path, exc: BaseException) -> StoreError:
    """One line for an SQLite error about the store file, with what the operator can do about it."""
    text = " ".join(str(exc).split())  # quick_check's details span lines; the answer is one line
    if "malformed" in text or "not a database" in text:
        return StoreError(
            f"the store {path} is damaged ({text}): restore it from a backup, or move it away to start "
            "an empty store (its subscribers and alert states are then lost)"
        )
    if "readonly" in text or "read-only" in text:
        return StoreError(f"the store {path} is read-only ({text}): make the file and its folder writable")
    if "unable to open" in text or "disk I/O" in text:
        return StoreError(
            f"cannot open the store {path} ({text}): check that its folder exists and is writable "
            "(SQLite also creates the files -wal and -shm beside it)"
        )
    if "locked" in text or "busy" in text:
        return StoreError(f"the store {path} is locked by another process ({text}): try again when it is done")
    if "full" in text:
        return StoreError(f"the disk of the store {path} is full ({text}): free some space")
    return StoreError(f"the store {path} cannot be used: {type(exc).__name__}: {text}")
