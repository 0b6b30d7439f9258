"""The database under the store: one SQLite file (the default) or PostgreSQL (``storage.url``).

There is one set of queries and one migration history for both:

* Queries are written in the SQL the two share: ``?`` placeholders, ``INSERT ... ON CONFLICT``
  upserts, ``RETURNING``, quoted ``"window"``. The PostgreSQL connection turns ``?`` into psycopg's
  ``%s``; nothing else is rewritten.
* Migrations are written once, in SQLite's DDL (:mod:`jobs.schema`); :func:`postgres_ddl` maps its
  few differences (types, ``AUTOINCREMENT``, ``WITHOUT ROWID``). A test applies every migration on
  both and compares the tables.

What does differ lives here, behind :class:`Database`: connecting (a connection per thread), the
schema version, write transactions, named locks across processes and machines, and errors.

* A write transaction (``transaction()``) is serialised with every other one, as SQLite does with
  ``BEGIN IMMEDIATE``; on PostgreSQL one advisory transaction lock does it. Every read-modify-write in
  the program (alert states, the "last evaluated day", migrations) therefore keeps the meaning it has
  on SQLite, with two instances on one database as with two processes on one file.
* ``transaction(exclusive=False)`` is for single-row conditional updates that are atomic by
  themselves (the outbox's claim, renew and mark): on PostgreSQL they skip the global lock, and a
  claim takes its row with ``FOR UPDATE SKIP LOCKED`` (:attr:`Database.skip_locked`), so two senders
  never wait on, or both get, one row.
* ``lock(name)`` is held across transactions, e.g. around a refresh or the daily job: an ``flock`` on
  ``<file>.<name>-lock`` for SQLite, a session advisory lock on its own connection for PostgreSQL.
  Both are released by the operating system or the server when their holder dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

JUST_CREATED_S = 60.0


class StoreError(RuntimeError):
    """The store cannot be used; ``str()`` is one line naming the store and what to do."""


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the store's modules use of a connection (``sqlite3.Connection`` is one as it is)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]], /) -> Any: ...


def is_url(target: str | Path) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


def masked(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}:***@" if parts.username else "***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def _quoted(column: str) -> str:
    return f'"{column}"'


def upsert_sql(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` of every other column: a row replaced by its key."""
    names = ", ".join(_quoted(c) for c in columns)
    marks = ", ".join("?" * len(columns))
    updates = ", ".join(f"{_quoted(c)} = excluded.{_quoted(c)}" for c in columns if c not in key)
    conflict = ", ".join(_quoted(c) for c in key)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    return f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT ({conflict}) {action}"


def lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for a lock name (stable across processes and versions)."""
    digest = hashlib.blake2b(f"spreadwatch:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


WRITE_LOCK = "write"


def db_errors() -> tuple[type[BaseException], ...]:
    """The exception classes a store operation may raise from its database."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite works without it
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


class Database(ABC):
    """One database, with a connection per thread."""

    kind: str
    skip_locked: str = ""  # appended to the SELECT of a row to claim

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[Any] = []
        self._all_lock = threading.Lock()

    # -- what every dialect provides -------------------------------------------------------------
    @abstractmethod
    def describe(self) -> str:
        """Where the store is, fit to print (no password)."""

    @abstractmethod
    def _open(self) -> Any: ...

    @abstractmethod
    @contextmanager
    def transaction(self, exclusive: bool = True) -> Iterator[Any]: ...

    @abstractmethod
    def schema_version(self, conn: Any) -> int: ...

    @abstractmethod
    def set_schema_version(self, conn: Any, version: int) -> None: ...

    @abstractmethod
    def migration_statements(self, script: str) -> list[str]: ...

    @abstractmethod
    @contextmanager
    def lock(self, name: str, patience_s: float) -> Iterator[None]: ...

    @abstractmethod
    def fetch_tuples(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows as plain tuples: several times faster than keyed rows for the big price reads."""

    @abstractmethod
    def error(self, exc: BaseException) -> StoreError:
        """One line for an error of this database, with what the operator can do about it."""

    def prepare(self) -> bool:
        """Before the first connection: True when the store is new (nothing to check or lose)."""
        return False

    def check_integrity(self) -> None:  # noqa: B027 - a server checks its own pages
        """Stop at open when the store is damaged."""

    # -- connections -----------------------------------------------------------------------------
    def connect(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with self._all_lock:
                if conn in self._all:
                    self._all.remove(conn)
            conn.close()

    def close_all(self) -> None:
        """Close every thread's connection (at shutdown)."""
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except Exception:
                log.debug("closing a connection failed", exc_info=True)
        self._local = threading.local()


# -- SQLite ----------------------------------------------------------------------------------------


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
        fd = os.open(lock_path(self.path, name), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + patience_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        msg = f"another {name} of {self.path} has held its lock for {patience_s:.0f} s"
                        raise TimeoutError(msg) from None
                    time.sleep(0.05)
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
            folder.mkdir(parents=True, exist_ok=True)
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
        return False

    def check_integrity(self) -> None:
        """``PRAGMA quick_check`` at open: a damaged store stops the program at once, instead of
        answering some commands and failing half-way through others."""
        rows = self.connect().execute("PRAGMA quick_check(1)").fetchall()
        if rows and rows[0][0] != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed ({rows[0][0]})")

    def error(self, exc: BaseException) -> StoreError:
        return sqlite_error(self.path, exc)


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


# -- PostgreSQL ------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|\?|%")


@lru_cache(maxsize=512)
def postgres_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled); quoted text left alone."""

    def swap(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        return token.replace("%", "%%") if token.startswith("'") else token

    return _PLACEHOLDER.sub(swap, sql)


_DDL_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\)\s*WITHOUT ROWID"), ")"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),  # SQLite's INTEGER is 64-bit (Telegram chat ids need it)
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    # byte order, as SQLite compares text: ISO dates, codes and names sort the same on both
    (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'),
    (re.compile(r"(?<!\")\bwindow\b(?!\")"), '"window"'),  # a reserved word in PostgreSQL
)


def postgres_ddl(script: str) -> list[str]:
    """A migration written in SQLite's DDL, as PostgreSQL statements."""
    out = []
    for statement in script.split(";"):
        if not statement.strip():
            continue
        for pattern, replacement in _DDL_RULES:
            statement = pattern.sub(replacement, statement)
        out.append(statement)
    return out


class Row(tuple[Any, ...]):
    """A result row readable by position and by column name, like ``sqlite3.Row``."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Any:
    description = cursor.description
    if description is None:
        return tuple
    index = {c.name: i for i, c in enumerate(description)}

    def make(values: Sequence[Any]) -> Row:
        return Row(values, index)

    return make


class PgConnection:
    """A psycopg connection that takes the store's ``?`` queries (autocommit outside transactions)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        return self.raw.execute(postgres_sql(sql), tuple(parameters))

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Any:
        cur = self.raw.cursor()
        rows = [tuple(r) for r in seq]
        if rows:
            cur.executemany(postgres_sql(sql), rows)
        return cur

    def close(self) -> None:
        self.raw.close()


SCHEMA_TABLE = "spreadwatch_schema"  # PostgreSQL's stand-in for SQLite's PRAGMA user_version


class PostgresDatabase(Database):
    kind = "postgresql"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, connect_timeout_s: int = 10) -> None:
        super().__init__()
        self.url = url
        self.connect_timeout_s = connect_timeout_s

    def describe(self) -> str:
        return masked(self.url)

    def _raw(self, autocommit: bool = True) -> Any:
        import psycopg

        # the password comes from PGPASSWORD or ~/.pgpass (libpq reads them), never from our config
        return psycopg.connect(
            self.url,
            autocommit=autocommit,
            row_factory=_row_factory,
            connect_timeout=self.connect_timeout_s,
            application_name="spreadwatch",
        )

    def _open(self) -> PgConnection:
        return PgConnection(self._raw())

    @contextmanager
    def transaction(self, exclusive: bool = True) -> Iterator[PgConnection]:
        conn = self.connect()
        with conn.raw.transaction():
            if exclusive:
                conn.raw.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(WRITE_LOCK),))
            yield conn

    def schema_version(self, conn: PgConnection) -> int:
        exists = conn.execute("SELECT to_regclass(?)", (SCHEMA_TABLE,)).fetchone()[0]
        if exists is None:
            return 0
        row = conn.execute(f"SELECT version FROM {SCHEMA_TABLE}").fetchone()
        return 0 if row is None else int(row[0])

    def set_schema_version(self, conn: PgConnection, version: int) -> None:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (version BIGINT NOT NULL)")
        conn.execute(f"DELETE FROM {SCHEMA_TABLE}")
        conn.execute(f"INSERT INTO {SCHEMA_TABLE} (version) VALUES (?)", (int(version),))

    def migration_statements(self, script: str) -> list[str]:
        return postgres_ddl(script)

    def fetch_tuples(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        from psycopg.rows import tuple_row

        cur = self.connect().raw.cursor(row_factory=tuple_row)
        return list(cur.execute(postgres_sql(sql), tuple(args)).fetchall())

    @contextmanager
    def lock(self, name: str, patience_s: float) -> Iterator[None]:
        """A session advisory lock on a connection of its own: held across transactions, and released
        by the server when the holder's connection ends (a killed instance never blocks the other)."""
        key = lock_key(name)
        conn = self._raw()
        try:
            deadline = time.monotonic() + patience_s
            while not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
                if time.monotonic() > deadline:
                    msg = f"another {name} on {self.describe()} has held its lock for {patience_s:.0f} s"
                    raise TimeoutError(msg)
                time.sleep(0.05)
            try:
                yield
            finally:
                import psycopg

                try:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                except psycopg.OperationalError:
                    # the connection died meanwhile: the server released the lock with the session
                    log.warning("the %s lock's connection to %s was lost while held", name, self.describe())
        finally:
            conn.close()

    def error(self, exc: BaseException) -> StoreError:
        text = " ".join(str(exc).split()) or type(exc).__name__
        where = self.describe()
        import psycopg

        if isinstance(exc, psycopg.OperationalError):
            return StoreError(
                f"cannot use the store {where} ({text}): check storage.url, that the server runs and "
                "accepts this user, and the password in PGPASSWORD (or ~/.pgpass)"
            )
        return StoreError(f"the store {where} cannot be used: {type(exc).__name__}: {text}")


def open_database(target: str | Path) -> Database:
    """A PostgreSQL URL or an SQLite path (``:memory:`` for a private in-memory store)."""
    if is_url(target):
        return PostgresDatabase(str(target))
    return SqliteDatabase(target)
