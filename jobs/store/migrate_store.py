"""``spreadwatch migrate-store``: copy an installation from one store to another (SQLite to PostgreSQL,
or back), every table, and verify the counts.

* Both stores are opened through :class:`jobs.store.datastore.Store`, so both are at the current schema version
  (an older source is migrated forward first, as any command would) and the tables are the ones the
  migration history defines: prices, snapshots, subscribers and their settings, alert states and log,
  the outbox, regime data, destinations, the calendar and the meta keys.
* The target must be empty (a fresh database): copying into a live store would mix two histories.
* The copy is one transaction on the target: a failure leaves it empty, never half-filled. Row ids are
  kept (the outbox's and the alert log's ids are referenced), and PostgreSQL's id sequences are moved
  past them.
* A running service on the SQLite source could write after its table was read: the copy refuses
  while one holds the file's service lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jobs.config.settings import StorageSettings
from jobs.store.datastore import Store
from jobs.store.db import EXIT_ARGS, StoreOperationError, is_url
from jobs.store.db_postgres import PostgresDatabase
from jobs.store.db_sqlite import SqliteDatabase
from jobs.store.service_lock import exclusive

BATCH = 5_000


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int


def parse_target(spec: str, what: str) -> str | Path:
    """``sqlite:PATH`` (or a plain path) or a ``postgresql://`` URL."""
    spec = spec.strip()
    if is_url(spec):
        try:
            StorageSettings(url=spec)
        except ValidationError as exc:
            # the check's own reason (never pydantic's rendering, whose last line is a link)
            reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            raise StoreOperationError(f"{what}: {reason}", EXIT_ARGS) from None
        return spec
    if spec.startswith("sqlite:"):
        spec = spec.removeprefix("sqlite:").removeprefix("//")
    if not spec:
        raise StoreOperationError(f"{what}: give sqlite:PATH or postgresql://USER@HOST:PORT/DB", EXIT_ARGS)
    return Path(spec)


def tables_of(store: Store) -> list[str]:
    """The store's tables in the order the migrations created them."""
    db = store.db
    if isinstance(db, SqliteDatabase):
        rows = db.connect().execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        )
        return [r[0] for r in rows]
    rows = db.connect().execute(
        """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r' AND n.nspname = current_schema() AND c.relname <> 'spreadwatch_schema'
           ORDER BY c.oid"""
    )
    return [r[0] for r in rows]


def columns_of(store: Store, table: str) -> list[str]:
    row = store.connect().execute(f'SELECT * FROM "{table}" LIMIT 0')
    return [d[0] for d in row.description]


def count(store: Store, table: str) -> int:
    return int(store.connect().execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])


def _batches(store: Store, table: str, columns: list[str]) -> Iterator[list[tuple[Any, ...]]]:
    names = ", ".join(f'"{c}"' for c in columns)
    order = " ORDER BY id" if "id" in columns else ""
    rows = store.db.fetch_tuples(f'SELECT {names} FROM "{table}"{order}', ())
    for i in range(0, len(rows), BATCH):
        yield rows[i : i + BATCH]


def migrate(source: Store, target: Store) -> list[TableCount]:
    if source.describe() == target.describe():
        raise StoreOperationError("--from and --to are the same store", EXIT_ARGS)
    wanted = tables_of(source)
    present = set(tables_of(target))
    missing = [t for t in wanted if t not in present]
    if missing:  # both are at the current version: this is a program error, not the operator's
        raise StoreOperationError(f"the target lacks table(s) {', '.join(missing)}")
    filled = {t: n for t in wanted if (n := count(target, t))}
    if filled:
        some = ", ".join(f"{t} ({n})" for t, n in list(filled.items())[:4])
        raise StoreOperationError(
            f"the target {target.describe()} is not empty ({some}): migrate into a new, empty database"
        )
    if source.path is not None and str(source.path) != ":memory:":
        with exclusive(source.path) as free:
            if not free:
                raise StoreOperationError(
                    f"a running service uses {source.path}: stop it first, so that nothing it writes is left behind"
                )
            return _copy(source, target, wanted)
    return _copy(source, target, wanted)


def _copy(source: Store, target: Store, tables: list[str]) -> list[TableCount]:
    with target.transaction() as conn:
        for table in tables:
            columns = columns_of(source, table)
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" * len(columns))
            for batch in _batches(source, table, columns):
                if isinstance(target.db, PostgresDatabase):
                    with conn.raw.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                        for row in batch:
                            copy.write_row(row)
                else:
                    conn.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', batch)
            if "id" in columns and isinstance(target.db, PostgresDatabase):
                conn.execute(
                    f"""SELECT setval(pg_get_serial_sequence('"{table}"', 'id'), COALESCE(MAX(id), 1),
                        MAX(id) IS NOT NULL) FROM "{table}\""""
                )
    counts = [TableCount(t, count(source, t), count(target, t)) for t in tables]
    wrong = [c for c in counts if c.source != c.target]
    if wrong:
        detail = ", ".join(f"{c.table}: {c.source} -> {c.target}" for c in wrong)
        raise StoreOperationError(f"the counts differ after the copy ({detail})")
    return counts
