"""Refresh and recompute: source → validation → store → spread history → stored snapshots.

``Engine.update`` is what the daily job, ``spreadwatch report`` and ``spreadwatch backfill`` call. A
failed or rejected fetch is logged and recorded; the last good data stays and nothing is recomputed
from it, so a bad batch can never produce a new snapshot (and so never an alert).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from jobs.calendar import TradingCalendar
from jobs.settings import Settings
from jobs.sources import FetchError, Source, make_source
from jobs.spread import SpreadHistory, compute_history
from jobs.store import FetchRecord, Store
from jobs.validate import BatchRejected, validate_batch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshResult:
    source: str
    ok: bool
    rows: int
    last_date: date | None
    message: str


@dataclass(frozen=True)
class UpdateResult:
    refresh: RefreshResult
    snapshots_written: int
    last_snapshot: date | None


@dataclass(frozen=True)
class DataStatus:
    source: str
    source_label: str
    synthetic: bool
    last_data_date: date | None
    expected_date: date
    stale: bool
    last_fetch: FetchRecord | None
    last_error: FetchRecord | None  # the latest failed fetch, if it came after the latest good one


def now_utc() -> datetime:
    return datetime.now(UTC)


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        source: Source | None = None,
        calendar: TradingCalendar | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.calendar = calendar or TradingCalendar.default(store.calendar_days())
        self.source = source or make_source(settings.data, self.calendar)
        self.tz = ZoneInfo(settings.schedule.timezone)

    # -- time ----------------------------------------------------------------------------------
    def local_now(self, now: datetime | None = None) -> datetime:
        return (now or now_utc()).astimezone(self.tz)

    def today(self, now: datetime | None = None) -> date:
        return self.local_now(now).date()

    # -- steps ---------------------------------------------------------------------------------
    def refresh(self, until: date) -> RefreshResult:
        started = now_utc().isoformat(timespec="seconds")
        name = self.source.name
        since = self.store.last_price_date(name)
        try:
            batch = self.source.fetch(since, until)
            rows = validate_batch(batch, self.store.last_closes(name), self.settings.data.max_daily_move)
        except (FetchError, BatchRejected, Exception) as exc:
            # Anything a source raises is a failed refresh: logged (with a traceback when it is not a
            # known fetch/validation failure), recorded, last good data kept, never a half-stored batch.
            known = isinstance(exc, (FetchError, BatchRejected))
            message = str(exc) if known else f"unexpected {type(exc).__name__}: {exc}"
            log.error(
                "refresh of %s failed, keeping the last good data (up to %s): %s",
                name,
                since,
                message,
                exc_info=not known,
            )
            self.store.log_fetch(
                FetchRecord(name, "prices", started, now_utc().isoformat(timespec="seconds"), False, 0, since, message)
            )
            return RefreshResult(name, False, 0, since, message)
        names = {
            (c, d, n)
            for c, d, n in rows[["code", "date", "name"]].drop_duplicates(["code", "name"]).itertuples(index=False)
        }
        written = self.store.save_batch(name, rows, sorted(names)) if not rows.empty else 0
        last = self.store.last_price_date(name)
        message = f"{written} new rows" if written else "no new data"
        log.info("refresh of %s: %s (data up to %s)", name, message, last)
        self.store.log_fetch(
            FetchRecord(name, "prices", started, now_utc().isoformat(timespec="seconds"), True, written, last, message)
        )
        return RefreshResult(name, True, written, last, message)

    def metric_signature(self) -> str:
        m = self.settings.metric
        return f"{m.window}|{m.top_k}|{m.history_start.isoformat()}"

    def compute(self, as_of: date | None = None) -> SpreadHistory:
        closes = self.store.load_prices(self.source.name)
        m = self.settings.metric
        return compute_history(
            closes, self.store.name_book(self.source.name), m.window, m.top_k, m.history_start, as_of=as_of
        )

    def recompute(self) -> tuple[int, date | None]:
        """Compute the history and store the snapshots not stored yet (all of them if the metric changed)."""
        name = self.source.name
        key = f"metric:{name}"
        signature = self.metric_signature()
        same_metric = self.store.get_meta(key) == signature
        since = self.store.last_snapshot_date(name) if same_metric else None
        last_price = self.store.last_price_date(name)
        if last_price is None or (since is not None and since >= last_price):
            return 0, since
        history = self.compute()
        written = self.store.save_history(name, history, since=since)
        self.store.set_meta(key, signature)
        return written, self.store.last_snapshot_date(name)

    def update(self, until: date | None = None) -> UpdateResult:
        refresh = self.refresh(until or self.today())
        if not refresh.ok:
            return UpdateResult(refresh, 0, self.store.last_snapshot_date(self.source.name))
        written, last = self.recompute()
        return UpdateResult(refresh, written, last)

    # -- status --------------------------------------------------------------------------------
    def publish_time(self) -> time:
        return self.settings.schedule.daily_time

    def status(self, now: datetime | None = None) -> DataStatus:
        name = self.source.name
        last_data = self.store.last_snapshot_date(name)
        expected = self.calendar.expected_data_date(self.local_now(now), self.publish_time())
        last_fetch = self.store.last_fetch(name)
        last_ok = self.store.last_fetch(name, ok=True)
        last_error = None
        if last_fetch is not None and not last_fetch.ok:
            last_error = last_fetch
        stale = last_data is None or last_data < expected or last_error is not None
        return DataStatus(
            source=name,
            source_label=self.source.label,
            synthetic=self.source.synthetic,
            last_data_date=last_data,
            expected_date=expected,
            stale=stale,
            last_fetch=last_ok,
            last_error=last_error,
        )
