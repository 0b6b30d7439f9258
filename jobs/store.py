"""The embedded store: one SQLite file holding prices, computed snapshots and fetch history.

* Versioned schema (``PRAGMA user_version``) migrated forward on open; features add migrations to
  ``MIGRATIONS`` (append only, never edit a released one).
* Safe from two processes: WAL journal, a busy timeout, and short write transactions.
* Everything is keyed by source name ("sample", "akshare", "csv:/path"), so switching the configured
  source never mixes one data set into another.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.schema import MIGRATIONS
from jobs.spread import IndustryGain, NameBook, Snapshot, SpreadHistory

log = logging.getLogger(__name__)

JUST_CREATED_S = 60.0

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


def refresh_lock_path(store_path: str | Path) -> Path:
    """The file whose ``flock`` serialises refreshes of a store (``Store.refresh_lock``; restore checks it)."""
    return Path(f"{store_path}.refresh-lock")


def now_iso() -> str:
    """The UTC timestamp every table's *_at columns use."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class StoreError(RuntimeError):
    """The store cannot be used; ``str()`` is one line naming the file and what to do."""


def store_error(path: Path, exc: sqlite3.Error) -> StoreError:
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
    """A connection per thread onto one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._price_cache: dict[tuple[str, str], tuple[str, pd.DataFrame]] = {}
        self._memory_refresh_lock = threading.Lock()
        fresh = True
        if str(path) != ":memory:":
            fresh = self._prepare_file()
        try:
            if not fresh:
                self._check_integrity()
            self._migrate()
        except sqlite3.Error as exc:
            self.close()
            raise store_error(self.path, exc) from None
        except StoreError:
            self.close()
            raise

    # -- connection handling -------------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=30000")
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front so two writers never deadlock."""
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def schema_version(self) -> int:
        return int(self.connect().execute("PRAGMA user_version").fetchone()[0])

    def _prepare_file(self) -> bool:
        """Create the store's folder; True when there is no store yet (nothing to check or lose)."""
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

    def _check_integrity(self) -> None:
        """``PRAGMA quick_check`` at open: a damaged store stops the program at once, instead of
        answering some commands and failing half-way through others."""
        rows = self.connect().execute("PRAGMA quick_check(1)").fetchall()
        if rows and rows[0][0] != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed ({rows[0][0]})")

    def _migrate(self) -> None:
        with self.transaction() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this program knows "
                    f"({len(MIGRATIONS)}); upgrade spreadwatch"
                )
            # rewriting the version is a write probe: a read-only file fails here, at open, rather than
            # at the first alert or subscription it cannot store
            conn.execute(f"PRAGMA user_version = {version}")
            for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {i}")

    @contextmanager
    def refresh_lock(self, patience_s: float = 900.0) -> Iterator[None]:
        """Held around a refresh (fetch, validate, save, recompute), across threads and processes.

        Two refreshes at once would fetch from the same stored end and the second batch would overlap
        the first one's rows. An exclusive ``flock`` on a file beside the database serialises them; the
        kernel releases it when a holder dies, so a killed run never blocks the next one. The wait is
        long because a first backfill takes minutes.
        """
        if str(self.path) == ":memory:":
            with self._memory_refresh_lock:
                yield
            return
        fd = os.open(refresh_lock_path(self.path), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + patience_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        msg = f"another refresh of {self.path} has held its lock for {patience_s:.0f} s"
                        raise TimeoutError(msg) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # -- meta ----------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.connect().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str, conn: sqlite3.Connection | None = None) -> None:
        (conn or self.connect()).execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- prices --------------------------------------------------------------------------------
    def last_price_date(self, source: str) -> date | None:
        row = self.connect().execute("SELECT MAX(date) FROM prices WHERE source = ?", (source,)).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def last_closes(self, source: str) -> dict[str, tuple[date, float]]:
        rows = (
            self.connect()
            .execute(
                """SELECT p.code, p.date, p.close FROM prices p
               JOIN (SELECT code, MAX(date) AS d FROM prices WHERE source = ? GROUP BY code) m
                 ON p.code = m.code AND p.date = m.d
               WHERE p.source = ?""",
                (source, source),
            )
            .fetchall()
        )
        return {r["code"]: (date.fromisoformat(r["date"]), float(r["close"])) for r in rows}

    def save_batch(self, source: str, batch: pd.DataFrame, names: Iterable[tuple[str, date, str]]) -> int:
        """Store a validated batch (columns date, code, close, optional amount) in one transaction."""
        amount = batch["amount"] if "amount" in batch.columns else pd.Series([None] * len(batch))
        rows = [
            (source, str(c), d.isoformat(), float(v), None if a is None or pd.isna(a) else float(a))
            for c, d, v, a in zip(batch["code"], batch["date"], batch["close"], amount, strict=True)
        ]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO prices (source, code, date, close, amount) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany(
                "INSERT OR IGNORE INTO industry_names (source, code, valid_from, name) VALUES (?, ?, ?, ?)",
                [(source, c, d.isoformat(), n) for c, d, n in names],
            )
            # a version per source lets every process know whether its cached price frame is current
            self.set_meta(f"prices_version:{source}", now_iso() + f"#{time.monotonic_ns()}", conn)
        return len(rows)

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
        cur = self.connect().cursor()
        cur.row_factory = None  # plain tuples: sqlite3.Row objects make this several times slower
        # no ORDER BY: scanning the primary key is much faster than the date index; pivot sorts anyway
        rows = cur.execute(f"SELECT date, code, {column} FROM prices WHERE source = ?", (source,)).fetchall()
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
        return NameBook((r["code"], date.fromisoformat(r["valid_from"]), r["name"]) for r in rows)

    # -- snapshots -----------------------------------------------------------------------------
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
            if since is None:
                conn.execute("DELETE FROM snapshots WHERE source = ?", (source,))
            conn.executemany(
                """INSERT OR REPLACE INTO snapshots (source, date, spread, percentile, top_avg, bottom_avg,
                   n_ranked, history_days, history_rank, base_date, window, k, gains_json, computed_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
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
            conn.executemany("INSERT OR IGNORE INTO calendar_days (date) VALUES (?)", [(d.isoformat(),) for d in days])
            self.set_meta("calendar_refreshed_at", now_iso(), conn)


def _gain_dict(g: IndustryGain) -> dict[str, Any]:
    return {"code": g.code, "name": g.name, "gain": round(g.gain, 6), "rank": g.rank}


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


def _snapshot_from_row(row: sqlite3.Row) -> Snapshot:
    gains = tuple(
        IndustryGain(g["code"], g["name"], float(g["gain"]), int(g["rank"])) for g in json.loads(row["gains_json"])
    )
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
