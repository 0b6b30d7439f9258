"""Refresh and recompute: source → validation → store → spread history → stored snapshots.

``Engine.update`` is what the daily job, ``spreadwatch report`` and ``spreadwatch backfill`` call. A
failed or rejected fetch is logged and recorded; the last good data stays and nothing is recomputed
from it, so a bad batch can never produce a new snapshot (and so never an alert). Updates hold the
store's refresh lock, so two processes refreshing one store take turns; the second finds the first's
rows stored and is up to date.

Only complete days get a snapshot (``jobs.engine.spread.absent_closes``): a day lacking an industry waits,
and ``status`` names what it lacks.

Sources restate closes (index providers correct them and re-base series; users edit their CSV). A refresh
fetches an overlap of the stored past again (``Reread``: the last ``data.revision_window_days`` for
akshare, the whole file for a CSV whose stamp changed), validates it with the new rows as one batch
from before the overlap, and stores what differs: a changed close replaces the stored one (which is kept
in the audit table, ``price_revisions``), and the snapshots are computed again from the earliest changed
day, so the store ends up as a fresh one built from the same data. Alert transitions already recorded
stay as they were: they were right on what was known then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from jobs.config.settings import Settings
from jobs.engine.spread import compute_history, incomplete_days
from jobs.market.calendar import TradingCalendar
from jobs.market.sources import FetchError, Source, make_source
from jobs.market.sources.base import reread_of
from jobs.market.validate import BatchRejected, validate_batch
from jobs.model.figures import SpreadHistory
from jobs.model.revisions import PriceRevision, RevisionBatch, RevisionSpan
from jobs.store.datastore import FetchRecord, Store, now_iso

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshResult:
    source: str
    ok: bool
    rows: int
    last_date: date | None
    message: str
    revision: RevisionBatch | None = None  # the stored closes this refresh replaced


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
    revised: RevisionSpan | None = None  # the stored history differs from what was first stored from this day


@dataclass(frozen=True)
class Changes:
    """What a validated batch changes in the store: the rows to write, the closes they restate, and the
    first day whose snapshot depends on them (None: only days after the last snapshot)."""

    rows: pd.DataFrame
    revisions: tuple[PriceRevision, ...] = ()
    recompute_from: date | None = None


def now_utc() -> datetime:
    return datetime.now(UTC)


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        source: Source | None = None,
        calendar: TradingCalendar | None = None,
        announce_revisions: Callable[[Engine], object] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        # called after every successful update to tell the admins of revision batches not told yet (the
        # alerting layer renders and queues that notice); a notice that fails is retried by the next update
        self.announce_revisions = announce_revisions
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
            start, stamp = self.reread_start(since)
            batch = self.source.fetch(start, until)
            # the overlap is validated with the new rows as one batch following the closes before it,
            # so a restated close passes exactly the checks it would pass in a fresh store
            before = self.store.last_closes(name, on_or_before=start) if start is not None else {}
            rows = validate_batch(batch, before, self.settings.data.max_daily_move)
            changes = self.changes(rows)
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
        rows = changes.rows
        names = {
            (c, d, n)
            for c, d, n in rows[["code", "date", "name"]].drop_duplicates(["code", "name"]).itertuples(index=False)
        }
        revision = self._revision_batch(changes.revisions)
        written = (
            self.store.save_batch(name, rows, sorted(names), revision, changes.recompute_from) if not rows.empty else 0
        )
        if batch.declared_en:
            self.store.save_english_names(name, batch.declared_en)
        if stamp is not None:
            self.store.set_meta(f"source_stamp:{name}", stamp)
        last = self.store.last_price_date(name)
        replaced = len(revision.changed) if revision else 0
        message = f"{written - replaced} new rows" if written > replaced else "no new data"
        if batch.after_until:
            message += (
                f"; {batch.after_until} row(s) dated after {until} (from {batch.first_after_until}) left out: "
                "a day is taken in once it has come"
            )
            log.warning("refresh of %s: %d row(s) dated after %s left out", name, batch.after_until, until)
        if revision is not None:
            message += f", {len(revision.revisions)} close(s) of stored days restated from {revision.first_day}"
            log.warning("refresh of %s: the source restated %d close(s)", name, len(revision.revisions))
        log.info("refresh of %s: %s (data up to %s)", name, message, last)
        self.store.log_fetch(
            FetchRecord(name, "prices", started, now_utc().isoformat(timespec="seconds"), True, written, last, message)
        )
        return RefreshResult(name, True, written, last, message, revision)

    def reread_start(self, since: date | None) -> tuple[date | None, str | None]:
        """(where the fetch starts: ``since`` or earlier, to re-read the source's overlap; the source's
        stamp to record once the refresh succeeds, when it changed)."""
        name = self.source.name
        policy = reread_of(self.source)
        if policy.stamp is not None and policy.stamp != self.store.get_meta(f"source_stamp:{name}"):
            return None, policy.stamp
        if since is None or policy.days <= 0:
            return since, None
        window = self.store.price_date_back(name, policy.days)
        return (None if window is None else min(since, window)), None

    def changes(self, rows: pd.DataFrame) -> Changes:
        """Split a validated batch into what is new, what restates a stored close, and what is unchanged
        (left out). A close added inside the stored history counts as a revision too when it lands on
        a day already used (its old value is None)."""
        name = self.source.name
        if rows.empty:
            return Changes(rows)
        closes = self.store.load_prices(name)
        if closes.empty:
            return Changes(rows)
        days = pd.DatetimeIndex(pd.to_datetime(rows["date"]))
        codes = rows["code"].astype(str)
        r = closes.index.get_indexer(days)
        c = closes.columns.get_indexer(pd.Index(codes))
        old = np.full(len(rows), np.nan)
        hit = (r >= 0) & (c >= 0)
        old[hit] = closes.to_numpy()[r[hit], c[hit]]
        new = rows["close"].to_numpy(dtype=float)
        stored = ~np.isnan(old)
        # a close read back from text or JSON is the same float; the tolerance only absorbs noise
        changed = stored & ~np.isclose(new, np.where(stored, old, new), rtol=1e-9, atol=0.0)
        added = ~stored
        last_snap = self.store.last_snapshot_date(name)
        used = np.asarray(days <= pd.Timestamp(last_snap)) if last_snap is not None else np.zeros(len(rows), bool)
        candidates = [d.date() for d in days[changed]]
        # an added close can change which earlier days are complete: from the day after the industry's
        # previous stored close (or its own day, when the industry had none before it)
        for code, first in pd.Series(days[added], index=codes[added].to_numpy()).groupby(level=0).min().items():
            series = closes[code].loc[: first - pd.Timedelta(days=1)].dropna() if code in closes else None
            affected = first if series is None or series.empty else series.index[-1] + pd.Timedelta(days=1)
            candidates.append(affected.date())
        recompute_from = min(candidates) if candidates else None
        if last_snap is None or (recompute_from is not None and recompute_from > last_snap):
            recompute_from = None  # only days not computed yet: the recompute after the last snapshot covers them
        restated = changed | (added & used)
        revisions: tuple[PriceRevision, ...] = ()
        if restated.any():
            amounts = self.store.load_prices(name, "amount") if changed.any() else None
            amount_col = rows["amount"] if "amount" in rows.columns else pd.Series(np.nan, index=rows.index)
            revisions = tuple(
                PriceRevision(
                    code=str(rows["code"].iat[i]),
                    day=rows["date"].iat[i],
                    old_close=float(old[i]) if stored[i] else None,
                    new_close=float(new[i]),
                    old_amount=_amount_at(amounts, days[i], str(codes.iat[i])) if stored[i] else None,
                    new_amount=None if pd.isna(amount_col.iat[i]) else float(amount_col.iat[i]),
                    name=str(rows["name"].iat[i]),
                )
                for i in np.flatnonzero(restated)
            )
        return Changes(rows.loc[added | changed].reset_index(drop=True), revisions, recompute_from)

    def _revision_batch(self, revisions: tuple[PriceRevision, ...]) -> RevisionBatch | None:
        if not revisions:
            return None
        latest = self.store.snapshot(self.source.name)
        return RevisionBatch(
            source=self.source.name,
            revised_at=now_iso(),
            revisions=revisions,
            latest_day=latest.as_of if latest else None,
            spread_before=latest.spread if latest else None,
            percentile_before=latest.percentile if latest else None,
        )

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
        redo = self.store.recompute_from(name)
        if since is not None and redo is not None and redo <= since:
            since = redo - timedelta(days=1)  # restated closes: every snapshot from their first day
        last_price = self.store.last_price_date(name)
        if last_price is None or (since is not None and since >= last_price):
            return 0, self.store.last_snapshot_date(name)
        history = self.compute()
        written = self.store.save_history(name, history, since=since)
        self.store.set_meta(key, signature)
        if redo is not None:
            self.store.clear_recompute_from(name, redo)
        return written, self.store.last_snapshot_date(name)

    def update(self, until: date | None = None) -> UpdateResult:
        with self.store.refresh_lock():
            refresh = self.refresh(until or self.today())
            if not refresh.ok:
                return UpdateResult(refresh, 0, self.store.last_snapshot_date(self.source.name))
            written, last = self.recompute()
        self.reload_calendar()
        if self.announce_revisions is not None:
            try:
                self.announce_revisions(self)
            except Exception:
                # the data is stored and computed; the notice stays due and the next update queues it
                log.exception("telling the admins of revised closes of %s failed", self.source.name)
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
            revised=self.store.revision_span(name),
        )


def _amount_at(amounts: pd.DataFrame | None, day: pd.Timestamp, code: str) -> float | None:
    if amounts is None or day not in amounts.index or code not in amounts.columns:
        return None
    value = amounts.at[day, code]
    return None if pd.isna(value) else float(value)
