"""The database under the store: one SQLite file (the default) or PostgreSQL (``storage.url``).

There is one set of queries and one migration history for both:

* Queries are written in the SQL the two share: ``?`` placeholders, ``INSERT ... ON CONFLICT``
  upserts, ``RETURNING``, quoted ``"window"``. The PostgreSQL connection turns ``?`` into psycopg's
  ``%s``; nothing else is rewritten.
* Migrations are written once, in SQLite's DDL (:mod:`jobs.store.schema`); :func:`postgres_ddl` maps its
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
* A server that goes away (PostgreSQL restarted under a running command) is waited for: the next
  connection is retried with backoff for up to ``RECONNECT_PATIENCE_S`` (a minute), a transaction whose
  ``BEGIN`` found the old connection dead starts again on a new one, and so does a read outside a
  transaction; a statement cut off in the middle raises :class:`ConnectionLost`. A server that does
  not come back ends the command with "the database server went away", not with a configuration hint.
* ``lock(name)`` is held across transactions, e.g. around a refresh or the daily job: an ``flock`` on
  ``<file>.<name>-lock`` for SQLite, a session advisory lock on its own connection for PostgreSQL.
  Both are released by the operating system or the server when their holder dies.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

JUST_CREATED_S = 60.0


# the CLI's exit-code table (bot.cli.cli_common.ExitCode): 1 not now, 2 bad arguments, 4 a file cannot be used
EXIT_FAILED, EXIT_ARGS, EXIT_FILE = 1, 2, 4


class StoreOperationError(Exception):
    """A whole-store operation (backup, restore, migrate-store) that cannot go ahead: one line for the
    operator, and the exit code the command ends with."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class StoreError(RuntimeError):
    """The store cannot be used; ``str()`` is one line naming the store and what to do."""


class ConnectionLost(StoreError):
    """A database server that had answered went away (restarted, failed over, ended the session) in the
    middle of a statement: what the statement did is unknown, and the caller decides whether to run it
    again (the next statement reconnects, waiting up to ``RECONNECT_PATIENCE_S`` for the server)."""


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
        if conn is not None and self._lost(conn):
            # the server went away (restarted, failed over, ended idle sessions): the statement that
            # found out failed and was reported; this one starts on a new connection
            log.warning("the connection to the store %s was lost; connecting again", self.describe())
            self.close()
            conn = None
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def _lost(self, conn: Any) -> bool:
        """True when ``conn`` can no longer be used (a server's connection that broke)."""
        return False

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
