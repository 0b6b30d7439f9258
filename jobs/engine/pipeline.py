"""Refresh and recompute: source → validation → store → spread history → stored snapshots.

``Engine.update`` is what the daily job, ``spreadwatch report`` and ``spreadwatch backfill`` call. A
failed or rejected fetch is logged and recorded; the last good data stays and nothing is recomputed
from it, so a bad batch can never produce a new snapshot (and so never an alert). Updates hold the
store's refresh lock, so two processes refreshing one store take turns; the second finds the first's
rows stored and is up to date.

Only complete days get a snapshot (``jobs.engine.spread.absent_closes``): a day lacking an industry waits,
and ``status`` names what it lacks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pandas as pd

from jobs.config.settings import Settings
from jobs.engine.spread import compute_history, incomplete_days
from jobs.market.calendar import TradingCalendar
from jobs.market.sources import FetchError, Source, make_source
from jobs.market.validate import BatchRejected, validate_batch
from jobs.model.figures import SpreadHistory
from jobs.store.datastore import FetchRecord, Store

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
class IncompleteDay:
    day: date
    missing: tuple[tuple[str, str], ...]  # (code, name) of the industries without a close


@dataclass(frozen=True)
class DataStatus:
    source: str
    source_label: str
    synthetic: bool
    last_data_date: date | None  # the last complete day (the last snapshot)
    expected_date: date  # the latest trading day whose data is due for certain
    stale: bool
    last_fetch: FetchRecord | None
    last_error: FetchRecord | None  # the latest failed fetch, if it came after the latest good one
    incomplete: IncompleteDay | None = None  # the first day after the last complete one, if it lacks closes
    unconfirmed_date: date | None = None  # a presumed trading day past the known calendar, without data
    calendar_known_until: date | None = None


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
        self.calendar = calendar or self.published_calendar()
        self.source = source or make_source(settings.data, self.calendar)
        self.tz = ZoneInfo(settings.schedule.timezone)
        if calendar is None:
            self.reload_calendar()

    # -- calendar ------------------------------------------------------------------------------
    def published_calendar(self) -> TradingCalendar:
        return TradingCalendar.default(self.store.calendar_days(), calendar_file=self.settings.data.calendar_file)

    def reload_calendar(self) -> TradingCalendar:
        """Published days (refreshes included), plus the days a real source has complete data for past them.

        A synthetic source's days follow the calendar itself, so they confirm nothing.
        """
        calendar = self.published_calendar()
        if not self.source.synthetic:
            calendar = calendar.with_observed(self.store.snapshot_dates_after(self.source.name, calendar.known_until))
        self.calendar = calendar
        return calendar

    # -- time ----------------------------------------------------------------------------------
    def local_now(self, now: datetime | None = None) -> datetime:
        return (now or now_utc()).astimezone(self.tz)

    def today(self, now: datetime | None = None) -> date:
        return self.local_now(now).date()

    # -- steps ---------------------------------------------------------------------------------
    def refresh(self, until: date) -> RefreshResult:
        started = now_utc().isoformat(timespec="seconds")
        name = self.source.name
        since = self.fetch_since()
        try:
            batch = self.source.fetch(since, until)
            stored = self.store.last_closes(name)
            batch.rows = _not_stored(batch.rows, stored)
            rows = validate_batch(batch, stored, self.settings.data.max_daily_move)
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
        if written and (last_snap := self.store.last_snapshot_date(name)) and min(rows["date"]) <= last_snap:
            self.store.set_meta(f"metric:{name}", "")  # a late close filled an earlier day: recompute all
        last = self.store.last_price_date(name)
        message = f"{written} new rows" if written else "no new data"
        log.info("refresh of %s: %s (data up to %s)", name, message, last)
        self.store.log_fetch(
            FetchRecord(name, "prices", started, now_utc().isoformat(timespec="seconds"), True, written, last, message)
        )
        return RefreshResult(name, True, written, last, message)

    def fetch_since(self) -> date | None:
        """Fetch after the last complete day, so that a late close of an incomplete day is picked up."""
        name = self.source.name
        last_price = self.store.last_price_date(name)
        last_snap = self.store.last_snapshot_date(name)
        return last_snap if last_snap is not None and last_price is not None and last_snap < last_price else last_price

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
        with self.store.refresh_lock():
            refresh = self.refresh(until or self.today())
            if not refresh.ok:
                return UpdateResult(refresh, 0, self.store.last_snapshot_date(self.source.name))
            written, last = self.recompute()
        self.reload_calendar()
        return UpdateResult(refresh, written, last)

    # -- status --------------------------------------------------------------------------------
    def publish_time(self) -> time:
        return self.settings.schedule.daily_time

    def due_date(self, now: datetime | None = None) -> tuple[date, date | None]:
        """(the latest trading day whose data is due for certain, the presumed day past it if any).

        A presumed day past the known calendar may be a holiday nobody has told us about: its data is
        not due for certain, so its absence neither marks answers stale nor reports the day missing.
        """
        expected = self.calendar.expected_data_date(self.local_now(now), self.publish_time())
        if self.calendar.is_confirmed(expected) or self.calendar.presumed_days_beyond_limit(expected):
            return expected, None
        required = self.calendar.last_confirmed_on_or_before(expected)
        return (required or expected), expected

    def incomplete_day(self) -> IncompleteDay | None:
        """The first day after the last complete one, when it lacks closes (cheap when there is none)."""
        name = self.source.name
        last_price, last_snap = self.store.last_price_date(name), self.store.last_snapshot_date(name)
        if last_price is None or last_snap is None or last_price <= last_snap:
            return None
        gaps = incomplete_days(self.store.load_prices(name).loc[pd.Timestamp(last_snap) :])
        if not gaps:
            return None
        day, codes = min(gaps.items())
        names = self.store.name_book(name)
        return IncompleteDay(day, tuple((c, names.name(c, day)) for c in codes))

    def status(self, now: datetime | None = None) -> DataStatus:
        name = self.source.name
        last_data = self.store.last_snapshot_date(name)
        expected, unconfirmed = self.due_date(now)
        last_fetch = self.store.last_fetch(name)
        last_ok = self.store.last_fetch(name, ok=True)
        last_error = None
        if last_fetch is not None and not last_fetch.ok:
            last_error = last_fetch
        incomplete = self.incomplete_day()
        stale = last_data is None or last_data < expected or last_error is not None or incomplete is not None
        if unconfirmed is not None and last_data is not None and last_data >= unconfirmed:
            unconfirmed = None  # the presumed day's data came: nothing unknown about it
        return DataStatus(
            source=name,
            source_label=self.source.label,
            synthetic=self.source.synthetic,
            last_data_date=last_data,
            expected_date=expected,
            stale=stale,
            last_fetch=last_ok,
            last_error=last_error,
            incomplete=incomplete,
            unconfirmed_date=unconfirmed,
            calendar_known_until=self.calendar.known_until,
        )


def _not_stored(rows: pd.DataFrame, stored: dict[str, tuple[date, float]]) -> pd.DataFrame:
    """Drop the rows at or before each industry's stored last date: they are stored already.

    A fetch starts after the last complete day, which can be before some industries' last rows.
    """
    if rows.empty or not stored or "code" not in rows.columns or "date" not in rows.columns:
        return rows
    keep = [
        not isinstance(d, date) or str(c) not in stored or d > stored[str(c)][0]
        for c, d in zip(rows["code"], rows["date"], strict=True)
    ]
    return rows.loc[keep].reset_index(drop=True)
