"""The store: prices, computed snapshots and fetch history, in one SQLite file or on PostgreSQL.

* Versioned schema migrated forward on open; features add migrations to ``MIGRATIONS``
  (:mod:`jobs.store.schema`; append only, never edit a released one).
* One set of queries for both databases (:mod:`jobs.store.db` says which SQL that is); safe from two
  processes or instances: writes are short transactions serialised by the database layer.
* Everything is keyed by source name ("sample", "akshare", "csv:/path"), so switching the configured
  source never mixes one data set into another.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.model.figures import IndustryGain, NameBook, Snapshot, SpreadHistory
from jobs.model.revisions import PriceRevision, RevisionBatch, RevisionSpan
from jobs.store.db import Connection, Database, StoreError, db_errors, is_url, upsert_sql
from jobs.store.db_postgres import PostgresDatabase
from jobs.store.db_sqlite import SqliteDatabase, lock_path, sqlite_error
from jobs.store.schema import MIGRATIONS

log = logging.getLogger(__name__)


def open_database(target: str | Path) -> Database:
    """A PostgreSQL URL or an SQLite path (``:memory:`` for a private in-memory store)."""
    if is_url(target):
        return PostgresDatabase(str(target))
    return SqliteDatabase(target)


def refresh_lock_path(store_path: str | Path) -> Path:
    """The file whose ``flock`` serialises refreshes of an SQLite store (``Store.refresh_lock``; restore checks it)."""
    return lock_path(store_path, "refresh")


def now_iso() -> str:
    """The UTC timestamp every table's *_at columns use."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def store_error(path: Path, exc: BaseException) -> StoreError:
    """One line for an SQLite error about the store file (kept for callers that only have the path)."""
    return sqlite_error(path, exc)


@dataclass(frozen=True)
class FetchRecord:
    source: str
    kind: str
    started_at: str
    finished_at: str
    ok: bool
    rows: int
    last_date: date | None
    message: str


class Store:
    """Prices, snapshots, the fetch log and calendar days, on one database (:mod:`jobs.store.db`).

    ``target`` is an SQLite file path (or ``:memory:``) or a ``postgresql://`` URL.
    """

    def __init__(self, target: str | Path) -> None:
        self.db: Database = open_database(target)
        # the SQLite file (None on PostgreSQL): backups, the service lock and ops checks use it
        self.path: Path | None = self.db.path if isinstance(self.db, SqliteDatabase) else None
        self._price_cache: dict[tuple[str, str], tuple[str, pd.DataFrame]] = {}
        try:
            fresh = self.db.prepare()
            if not fresh:
                self.db.check_integrity()
            self._migrate()
        except StoreError:
            self.close()
            raise
        except db_errors() as exc:
            self.close()
            raise self.db.error(exc) from None

    def describe(self) -> str:
        """Where the store is, fit to print (a URL without its password)."""
        return self.db.describe()

    @property
    def kind(self) -> str:
        return self.db.kind

    # -- connection handling -------------------------------------------------------------------
    def connect(self) -> Any:
        return self.db.connect()

    def transaction(self, exclusive: bool = True) -> AbstractContextManager[Any]:
        """A write transaction, serialised with every other one (see :mod:`jobs.store.db`)."""
        return self.db.transaction(exclusive)

    def close(self) -> None:
        self.db.close()

    def close_all(self) -> None:
        self.db.close_all()

    def schema_version(self) -> int:
        return self.db.schema_version(self.connect())

    def _migrate(self) -> None:
        with self.transaction() as conn:
            version = self.db.schema_version(conn)
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"{self.describe()} has schema version {version}, newer than this program knows "
                    f"({len(MIGRATIONS)}); upgrade spreadwatch"
                )
            # rewriting the version is a write probe: a read-only file fails here, at open, rather than
            # at the first alert or subscription it cannot store
            self.db.set_schema_version(conn, version)
            for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in self.db.migration_statements(script):
                    conn.execute(statement)
                self.db.set_schema_version(conn, i)

    def lock(self, name: str, patience_s: float = 900.0) -> AbstractContextManager[None]:
        """A named lock across threads, processes and (on PostgreSQL) machines, e.g. ``daily``."""
        return self.db.lock(name, patience_s)

    def refresh_lock(self, patience_s: float = 900.0) -> AbstractContextManager[None]:
        """Held around a refresh (fetch, validate, save, recompute), across threads and processes.

        Two refreshes at once would fetch from the same stored end and the second batch would overlap
        the first one's rows. The holder's death releases it, so a killed run never blocks the next
        one. The wait is long because a first backfill takes minutes.
        """
        return self.db.lock("refresh", patience_s)

    # -- meta ----------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.connect().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str, conn: Connection | None = None) -> None:
        (conn or self.connect()).execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- prices --------------------------------------------------------------------------------
    def last_price_date(self, source: str) -> date | None:
        row = self.connect().execute("SELECT MAX(date) FROM prices WHERE source = ?", (source,)).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def last_closes(self, source: str, on_or_before: date | None = None) -> dict[str, tuple[date, float]]:
        """Each industry's last stored (date, close), or its last on or before ``on_or_before``."""
        bound = (on_or_before or date.max).isoformat()
        rows = (
            self.connect()
            .execute(
                """SELECT p.code, p.date, p.close FROM prices p
               JOIN (SELECT code, MAX(date) AS d FROM prices WHERE source = ? AND date <= ? GROUP BY code) m
                 ON p.code = m.code AND p.date = m.d
               WHERE p.source = ?""",
                (source, bound, source),
            )
            .fetchall()
        )
        return {r["code"]: (date.fromisoformat(r["date"]), float(r["close"])) for r in rows}

    def price_date_back(self, source: str, days: int) -> date | None:
        """The stored date ``days`` dates before the last one (None when fewer are stored)."""
        row = (
            self.connect()
            .execute(
                "SELECT DISTINCT date FROM prices WHERE source = ? ORDER BY date DESC LIMIT 1 OFFSET ?",
                (source, days),
            )
            .fetchone()
        )
        return date.fromisoformat(row[0]) if row else None

    def save_batch(
        self,
        source: str,
        batch: pd.DataFrame,
        names: Iterable[tuple[str, date, str]],
        revision: RevisionBatch | None = None,
        recompute_from: date | None = None,
    ) -> int:
        """Store a validated batch (columns date, code, close, optional amount) in one transaction.

        Rows already stored are replaced; ``revision`` keeps the values they replace, and
        ``recompute_from`` marks the first day whose snapshot must be computed again (``recompute_from``,
        cleared by ``clear_recompute_from``): written with the rows, so a crash between the save and the
        recompute cannot leave snapshots of the old closes standing.
        """
        amount = batch["amount"] if "amount" in batch.columns else pd.Series([None] * len(batch))
        rows = [
            (source, str(c), d.isoformat(), float(v), _optional(a))
            for c, d, v, a in zip(batch["code"], batch["date"], batch["close"], amount, strict=True)
        ]
        version_key = f"prices_version:{source}"
        with self.transaction() as conn:
            before = conn.execute("SELECT value FROM meta WHERE key = ?", (version_key,)).fetchone()
            conn.executemany(
                """INSERT INTO prices (source, code, date, close, amount) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (source, code, date) DO UPDATE SET close = excluded.close, amount = excluded.amount""",
                rows,
            )
            conn.executemany(
                """INSERT INTO industry_names (source, code, valid_from, name) VALUES (?, ?, ?, ?)
                   ON CONFLICT DO NOTHING""",
                [(source, c, d.isoformat(), n) for c, d, n in names],
            )
            if revision is not None and revision.revisions:
                self._save_revision(conn, revision)
            if recompute_from is not None:
                key = f"recompute_from:{source}"
                pending = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
                earliest = min(recompute_from.isoformat(), str(pending[0]) if pending and pending[0] else "9999")
                self.set_meta(key, earliest, conn)
            # a version per source lets every process know whether its cached price frame is current
            version = now_iso() + f"#{time.monotonic_ns()}"
            self.set_meta(version_key, version, conn)
        self._extend_cached_prices(source, None if before is None else str(before[0]), version, rows)
        return len(rows)

    def _save_revision(self, conn: Connection, revision: RevisionBatch) -> None:
        batch_id = conn.execute(
            """INSERT INTO revision_batches (source, revised_at, first_day, last_day, rows, latest_day,
               spread_before, percentile_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
            (
                revision.source,
                revision.revised_at,
                revision.first_day.isoformat(),
                revision.last_day.isoformat(),
                len(revision.revisions),
                revision.latest_day.isoformat() if revision.latest_day else None,
                revision.spread_before,
                revision.percentile_before,
            ),
        ).fetchone()[0]
        conn.executemany(
            """INSERT INTO price_revisions (batch_id, source, code, date, old_close, new_close, old_amount,
               new_amount, revised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    int(batch_id),
                    revision.source,
                    r.code,
                    r.day.isoformat(),
                    r.old_close,
                    r.new_close,
                    r.old_amount,
                    r.new_amount,
                    revision.revised_at,
                )
                for r in revision.revisions
            ],
        )

    def recompute_from(self, source: str) -> date | None:
        """The first day whose stored snapshot predates a change of the closes it depends on."""
        value = self.get_meta(f"recompute_from:{source}")
        return date.fromisoformat(value) if value else None

    def clear_recompute_from(self, source: str, done: date) -> None:
        """Clear the mark once the snapshots from ``done`` on are written (unless an earlier day came since)."""
        key = f"recompute_from:{source}"
        with self.transaction() as conn:
            conn.execute("DELETE FROM meta WHERE key = ? AND value >= ?", (key, done.isoformat()))

    # -- revisions -----------------------------------------------------------------------------
    def revision_batches(self, source: str, unannounced: bool = False) -> list[RevisionBatch]:
        """The source's revision batches, oldest first, each with its revised rows."""
        sql = "SELECT * FROM revision_batches WHERE source = ?"
        if unannounced:
            sql += " AND announced_at IS NULL"
        conn = self.connect()
        batches = conn.execute(sql + " ORDER BY id", (source,)).fetchall()
        out = []
        for b in batches:
            rows = conn.execute(
                "SELECT * FROM price_revisions WHERE batch_id = ? ORDER BY date, code", (b["id"],)
            ).fetchall()
            revisions = tuple(
                PriceRevision(
                    code=r["code"],
                    day=date.fromisoformat(r["date"]),
                    old_close=_optional(r["old_close"]),
                    new_close=float(r["new_close"]),
                    old_amount=_optional(r["old_amount"]),
                    new_amount=_optional(r["new_amount"]),
                )
                for r in rows
            )
            out.append(
                RevisionBatch(
                    source=b["source"],
                    revised_at=b["revised_at"],
                    revisions=revisions,
                    latest_day=date.fromisoformat(b["latest_day"]) if b["latest_day"] else None,
                    spread_before=_optional(b["spread_before"]),
                    percentile_before=_optional(b["percentile_before"]),
                    id=int(b["id"]),
                )
            )
        return out

    def mark_revision_announced(self, conn: Connection, batch_id: int) -> bool:
        """Mark a batch told (inside the caller's transaction); False if another process told it first."""
        cur = conn.execute(
            "UPDATE revision_batches SET announced_at = ? WHERE id = ? AND announced_at IS NULL", (now_iso(), batch_id)
        )
        return bool(cur.rowcount)

    def revision_span(self, source: str) -> RevisionSpan | None:
        """From which day the stored history differs from what was first stored, and when it last changed."""
        row = (
            self.connect()
            .execute(
                "SELECT MIN(first_day), MAX(revised_at), COUNT(*) FROM revision_batches WHERE source = ?", (source,)
            )
            .fetchone()
        )
        if row is None or not row[0]:
            return None
        return RevisionSpan(date.fromisoformat(row[0]), str(row[1]), int(row[2]))

    def _extend_cached_prices(self, source: str, before: str | None, version: str, rows: list[tuple[Any, ...]]) -> None:
        """Bring the cached frames up to the version just written by applying the batch's rows, instead
        of reading every row again at the next ``load_prices``: only when the cache held exactly the
        version this save replaced (no other writer in between); otherwise the cache is dropped."""
        for position, column in ((3, "close"), (4, "amount")):
            key = (source, column)
            cached = self._price_cache.pop(key, None)
            if cached is None or before is None or cached[0] != before or not rows:
                continue
            old = cached[1]
            dates = pd.DatetimeIndex(pd.to_datetime([r[2] for r in rows], format="%Y-%m-%d"))
            codes = pd.Index([r[1] for r in rows], dtype=old.columns.dtype)
            index = old.index.union(dates.unique()).rename(old.index.name)
            columns = old.columns.union(codes.unique()).rename(old.columns.name)
            values = old.reindex(index=index, columns=columns).to_numpy(dtype=float, copy=True)
            values[index.get_indexer(dates), columns.get_indexer(codes)] = np.array(
                [np.nan if r[position] is None else r[position] for r in rows], dtype=float
            )
            self._price_cache[key] = (version, pd.DataFrame(values, index=index, columns=columns))

    def load_prices(self, source: str, column: str = "close") -> pd.DataFrame:
        """Dates x codes frame of ``close`` (or ``amount``) for a source.

        Reading ~100k rows costs a few hundred ms, and the daily job, the regimes and the backtest each
        need the frame: it is cached per (source, column) until ``save_batch`` bumps the source's version.
        """
        if column not in ("close", "amount"):
            raise ValueError(column)
        version = self.get_meta(f"prices_version:{source}")
        key = (source, column)
        cached = self._price_cache.get(key)
        if cached is not None and version is not None and cached[0] == version:
            return cached[1].copy()
        # no ORDER BY: scanning the primary key is much faster than the date index; pivot sorts anyway
        rows = self.db.fetch_tuples(f"SELECT date, code, {column} FROM prices WHERE source = ?", (source,))
        if not rows:
            return pd.DataFrame(index=pd.DatetimeIndex([]), dtype=float)
        dates, codes, values = zip(*rows, strict=True)
        long = pd.DataFrame({"date": dates, "code": codes, "v": np.array(values, dtype=float)})
        wide = long.pivot(index="date", columns="code", values="v").sort_index()
        wide.index = pd.DatetimeIndex(pd.to_datetime(wide.index, format="%Y-%m-%d"))
        wide.columns = wide.columns.astype(str)
        wide = wide.astype(float)
        if version is not None:
            self._price_cache[key] = (version, wide)
        return wide.copy()

    def name_book(self, source: str) -> NameBook:
        rows = (
            self.connect()
            .execute("SELECT code, valid_from, name FROM industry_names WHERE source = ?", (source,))
            .fetchall()
        )
        return NameBook(
            ((r["code"], date.fromisoformat(r["valid_from"]), r["name"]) for r in rows), self.english_names(source)
        )

    def english_names(self, source: str) -> dict[str, str]:
        """code -> the English name the source gives (a csv ``name_en`` column); empty without one."""
        raw = self.get_meta(f"names_en:{source}")
        return {str(k): str(v) for k, v in json.loads(raw).items()} if raw else {}

    def save_english_names(self, source: str, names: dict[str, str]) -> None:
        self.set_meta(f"names_en:{source}", json.dumps(dict(sorted(names.items())), ensure_ascii=False))

    # -- snapshots -----------------------------------------------------------------------------
    def first_snapshot_date(self, source: str) -> date | None:
        row = self.connect().execute("SELECT MIN(date) FROM snapshots WHERE source = ?", (source,)).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def last_snapshot_date(self, source: str) -> date | None:
        row = self.connect().execute("SELECT MAX(date) FROM snapshots WHERE source = ?", (source,)).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def save_history(self, source: str, history: SpreadHistory, since: date | None = None) -> int:
        """Write the daily snapshots of ``history`` (only days after ``since`` when given)."""
        frame = history.frame
        positions = range(len(frame))
        if since is not None:
            start = int(frame.index.searchsorted(pd.Timestamp(since), side="right"))
            positions = range(start, len(frame))
        computed_at = now_iso()
        rows = []
        for pos in positions:
            snap = history._snapshot_at(pos)
            rows.append(_snapshot_row(source, snap, computed_at))
        with self.transaction() as conn:
            # days after ``since`` that are no longer complete (a close added inside an industry's
            # series) lose their snapshot rather than keep one of the old closes
            conn.execute(
                "DELETE FROM snapshots WHERE source = ? AND date > ?", (source, (since or date.min).isoformat())
            )
            conn.executemany(
                upsert_sql("snapshots", SNAPSHOT_COLUMNS, key=("source", "date")),
                rows,
            )
        return len(rows)

    def snapshot_dates_after(self, source: str, after: date | None) -> list[date]:
        rows = (
            self.connect()
            .execute(
                "SELECT date FROM snapshots WHERE source = ? AND date > ? ORDER BY date",
                (source, (after or date.min).isoformat()),
            )
            .fetchall()
        )
        return [date.fromisoformat(r[0]) for r in rows]

    def snapshot(self, source: str, as_of: date | None = None) -> Snapshot | None:
        """The stored snapshot of the last day on or before ``as_of`` (default: the latest)."""
        sql = "SELECT * FROM snapshots WHERE source = ?"
        args: list[Any] = [source]
        if as_of is not None:
            sql += " AND date <= ?"
            args.append(as_of.isoformat())
        row = self.connect().execute(sql + " ORDER BY date DESC LIMIT 1", args).fetchone()
        return None if row is None else _snapshot_from_row(row)

    def spread_series(self, source: str, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        """Daily spread and percentile (columns spread, percentile, top_avg, bottom_avg) by date."""
        rows = (
            self.connect()
            .execute(
                """SELECT date, spread, percentile, top_avg, bottom_avg FROM snapshots
               WHERE source = ? AND date >= ? AND date <= ? ORDER BY date""",
                (source, (start or date.min).isoformat(), (end or date.max).isoformat()),
            )
            .fetchall()
        )
        frame = pd.DataFrame(
            [tuple(r) for r in rows], columns=["date", "spread", "percentile", "top_avg", "bottom_avg"]
        )
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("date")), name="date")
        return frame

    def snapshots_between(self, source: str, start: date, end: date) -> list[Snapshot]:
        rows = (
            self.connect()
            .execute(
                "SELECT * FROM snapshots WHERE source = ? AND date >= ? AND date <= ? ORDER BY date",
                (source, start.isoformat(), end.isoformat()),
            )
            .fetchall()
        )
        return [_snapshot_from_row(r) for r in rows]

    # -- fetch log -----------------------------------------------------------------------------
    def log_fetch(self, record: FetchRecord) -> None:
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO fetch_log (source, kind, started_at, finished_at, ok, rows, last_date, message)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    record.source,
                    record.kind,
                    record.started_at,
                    record.finished_at,
                    int(record.ok),
                    record.rows,
                    record.last_date.isoformat() if record.last_date else None,
                    record.message,
                ),
            )

    def last_fetch(self, source: str, kind: str = "prices", ok: bool | None = None) -> FetchRecord | None:
        sql = "SELECT * FROM fetch_log WHERE source = ? AND kind = ?"
        args: list[Any] = [source, kind]
        if ok is not None:
            sql += " AND ok = ?"
            args.append(int(ok))
        row = self.connect().execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        return FetchRecord(
            source=row["source"],
            kind=row["kind"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            ok=bool(row["ok"]),
            rows=int(row["rows"]),
            last_date=date.fromisoformat(row["last_date"]) if row["last_date"] else None,
            message=row["message"],
        )

    # -- calendar ------------------------------------------------------------------------------
    def calendar_days(self) -> list[date]:
        rows = self.connect().execute("SELECT date FROM calendar_days ORDER BY date").fetchall()
        return [date.fromisoformat(r[0]) for r in rows]

    def save_calendar_days(self, days: Sequence[date]) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO calendar_days (date) VALUES (?) ON CONFLICT DO NOTHING", [(d.isoformat(),) for d in days]
            )
            self.set_meta("calendar_refreshed_at", now_iso(), conn)


SNAPSHOT_COLUMNS = (
    "source", "date", "spread", "percentile", "top_avg", "bottom_avg", "n_ranked", "history_days",
    "history_rank", "base_date", "window", "k", "gains_json", "computed_at",
)  # fmt: skip


def _optional(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _gain_dict(g: IndustryGain) -> dict[str, Any]:
    out: dict[str, Any] = {"code": g.code, "name": g.name, "gain": round(g.gain, 6), "rank": g.rank}
    if g.name_en:
        out["name_en"] = g.name_en
    return out


def gain_from_dict(g: dict[str, Any]) -> IndustryGain:
    return IndustryGain(g["code"], g["name"], float(g["gain"]), int(g["rank"]), g.get("name_en", ""))


def _snapshot_row(source: str, snap: Snapshot, computed_at: str) -> tuple[Any, ...]:
    return (
        source,
        snap.as_of.isoformat(),
        snap.spread,
        snap.percentile,
        snap.top_avg,
        snap.bottom_avg,
        snap.n_ranked,
        snap.history_days,
        snap.history_rank,
        snap.base_date.isoformat(),
        snap.window,
        snap.k,
        json.dumps([_gain_dict(g) for g in snap.gains], ensure_ascii=False),
        computed_at,
    )


def _snapshot_from_row(row: Any) -> Snapshot:
    gains = tuple(gain_from_dict(g) for g in json.loads(row["gains_json"]))
    k = int(row["k"])
    return Snapshot(
        as_of=date.fromisoformat(row["date"]),
        base_date=date.fromisoformat(row["base_date"]),
        spread=float(row["spread"]),
        percentile=float(row["percentile"]),
        top_avg=float(row["top_avg"]),
        bottom_avg=float(row["bottom_avg"]),
        top=gains[:k],
        bottom=tuple(reversed(gains[-k:])),
        gains=gains,
        n_ranked=int(row["n_ranked"]),
        history_days=int(row["history_days"]),
        history_rank=int(row["history_rank"]),
        window=row["window"],
        k=k,
    )
