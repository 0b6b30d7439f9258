"""Extending the trading calendar from the live source (Sina's trading-day list, via akshare).

The shipped calendar file ends on 2026-12-31; Sina publishes each coming year's trading days late in
the year before. A refreshed list is checked for plausibility before any day of it is stored, because
a wrong calendar silently moves every "expected data date" and every scheduled run. Only days after
the shipped file's last day are stored: inside its range the shipped file stays the reference.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

import pandas as pd

from jobs.config.settings import DataSettings
from jobs.market.calendar import TradingCalendar, base_trading_days
from jobs.market.sources.base import FetchError
from jobs.market.sources.upstream import akshare, call_upstream
from jobs.store.datastore import FetchRecord, Store, now_iso

log = logging.getLogger(__name__)

SOURCE = "sina-calendar"
# A-share years have had 237-246 trading days since 2000; anything far outside is a broken list.
YEAR_MIN_DAYS, YEAR_MAX_DAYS = 220, 260
# The live list and the shipped file may differ on a handful of historical days (akshare itself
# patches 1992-05-04 into Sina's list); more than this means one of them is not a trading calendar.
MAX_DISAGREEMENTS = 5
CHECK_FROM = date(2000, 1, 1)


class CalendarRejected(Exception):
    """The fetched list is not a plausible A-share trading calendar."""


@dataclass(frozen=True)
class CalendarRefreshResult:
    ok: bool
    fetched: int  # days in the live list
    new_days: int  # days stored by this refresh
    known_until: date | None  # last known trading day after the refresh
    message: str


def fetch_trading_days(settings: DataSettings, retries: int | None = None) -> list[date]:
    """Sina's trading-day list through akshare (needs py_mini_racer to decode the JS payload)."""
    ak = akshare()
    df = call_upstream(
        "tool_trade_date_hist_sina()",
        ak.tool_trade_date_hist_sina,
        timeout_s=settings.fetch_timeout_s,
        retries=settings.fetch_retries if retries is None else retries,
        backoff_s=settings.backoff_s,
    )
    if not isinstance(df, pd.DataFrame) or df.empty or "trade_date" not in df.columns:
        raise FetchError("tool_trade_date_hist_sina(): empty or unrecognised response")
    parsed = pd.to_datetime(df["trade_date"], errors="coerce")
    if parsed.isna().any():
        raise FetchError("tool_trade_date_hist_sina(): unreadable dates in response")
    # akshare appends 1992-05-04, missing from Sina's list; should Sina add it, it would come twice
    return list(dict.fromkeys(ts.date() for ts in parsed))


def validate_calendar_days(days: Sequence[date], today: date, reference: Sequence[date] = ()) -> list[date]:
    """Return ``days`` if they look like the A-share calendar, else raise CalendarRejected."""
    problems: list[str] = []
    if len(days) < YEAR_MIN_DAYS:
        raise CalendarRejected(f"only {len(days)} trading days in the list")
    bad_order = [b for a, b in pairwise(days) if b <= a]
    if bad_order:
        problems.append(f"dates not strictly ascending at {bad_order[0]}")
    weekends = [d for d in days if d.weekday() >= 5]
    if weekends:
        problems.append(f"{len(weekends)} weekend day(s), first {weekends[0]}")
    last = max(days)
    if last < today - timedelta(days=31):
        problems.append(f"the list ends {last}, more than a month before {today}")
    if last > today + timedelta(days=400):
        problems.append(f"the list reaches {last}, implausibly far after {today}")
    per_year = Counter(d.year for d in days if d >= CHECK_FROM)
    years = sorted(per_year)
    for year in range(years[0] + 1, years[-1]) if years else ():  # the first and last may be partial
        if not YEAR_MIN_DAYS <= per_year.get(year, 0) <= YEAR_MAX_DAYS:
            problems.append(f"{year} has {per_year.get(year, 0)} trading days")
    if years and per_year[years[-1]] > YEAR_MAX_DAYS:
        problems.append(f"{years[-1]} has {per_year[years[-1]]} trading days")
    if reference:
        ref = [d for d in reference if d >= CHECK_FROM]
        if ref:
            lo, hi = ref[0], ref[-1]
            live = {d for d in days if lo <= d <= hi}
            differ = sorted(live.symmetric_difference(ref))
            if len(differ) > MAX_DISAGREEMENTS:
                problems.append(
                    f"disagrees with the shipped calendar on {len(differ)} day(s) between {lo} and {hi}, "
                    f"e.g. {', '.join(str(d) for d in differ[:3])}"
                )
    if problems:
        raise CalendarRejected("; ".join(problems))
    return sorted(days)


def store_calendar_days(store: Store, days: Sequence[date], today: date, reference: Sequence[date]) -> int:
    """Validate ``days`` against ``reference`` (the calendar's base) and store those after it."""
    ref = list(reference)
    valid = validate_calendar_days(days, today, ref)
    after = [d for d in valid if not ref or d > ref[-1]]
    before = set(store.calendar_days())
    fresh = [d for d in after if d not in before]
    store.save_calendar_days(fresh)
    return len(fresh)


def refresh_calendar(
    store: Store, settings: DataSettings, today: date, retries: int | None = None
) -> CalendarRefreshResult:
    """Fetch, check and store the live trading calendar; a failure leaves the stored days as they were.

    ``retries`` overrides ``data.fetch_retries`` (the scheduled check asks once: it asks again anyway).
    """
    started = now_iso()
    base = base_trading_days(settings.calendar_file)
    try:
        days = fetch_trading_days(settings, retries)
        new = store_calendar_days(store, days, today, base)
    except (FetchError, CalendarRejected) as exc:
        message = str(exc)
        log.error("calendar refresh failed, keeping the known calendar: %s", message)
        known = TradingCalendar([*base, *store.calendar_days()]).known_until
        store.log_fetch(FetchRecord(SOURCE, "calendar", started, now_iso(), False, 0, known, message))
        return CalendarRefreshResult(False, 0, 0, known, message)
    known = TradingCalendar([*base, *store.calendar_days()]).known_until
    message = f"{len(days)} trading days fetched, {new} new; trading days known until {known}"
    log.info("calendar refresh: %s", message)
    store.log_fetch(FetchRecord(SOURCE, "calendar", started, now_iso(), True, new, known, message))
    return CalendarRefreshResult(True, len(days), new, known, message)


# Sina publishes a year's trading days in December: start asking this long before the known days end,
# and ask again at most this often while it has nothing new.
DUE_WITHIN_DAYS = 45
RETRY_EVERY_DAYS = 3
ATTEMPT_KEY = "calendar_attempted_on"


def refresh_calendar_if_due(store: Store, settings: DataSettings, today: date) -> CalendarRefreshResult | None:
    """Refresh when the known trading days end within DUE_WITHIN_DAYS and no attempt was made lately.

    Returns None when not due. After the known days end the calendar falls back to weekdays, which
    would count a holiday as a trading day (the daily job then waits for data that never comes and
    reports the day missing), so the refresh starts well before that.
    """
    known = TradingCalendar([*base_trading_days(settings.calendar_file), *store.calendar_days()]).known_until
    if known is not None and (known - today).days > DUE_WITHIN_DAYS:
        return None
    attempted = store.get_meta(ATTEMPT_KEY)
    if attempted is not None and (today - date.fromisoformat(attempted)).days < RETRY_EVERY_DAYS:
        return None
    store.set_meta(ATTEMPT_KEY, today.isoformat())
    # one try, no backoff: a run without network (cron on an offline box) should not wait for it, and the
    # check comes again within RETRY_EVERY_DAYS
    return refresh_calendar(store, settings, today, retries=0)
