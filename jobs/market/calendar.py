"""A-share trading calendar: which days are trading days, and which of those answers are certain.

* **Published** days: the calendar file akshare ships (``akshare/file_fold/calendar.json``, SSE trading
  days from 1990; read as a file, without importing akshare, which costs ~1 s and ~100 MB), or the
  operator's own list (``data.calendar_file``), extended by refreshes from the live source (stored by
  the store). ``known_until`` is the last published day; up to it the calendar is certain.
* **Observed** days: after the published end, the days on which a real (not synthetic) source has
  complete data. A weekday after the published end and up to the last observed day without data was a
  holiday: the exchange published nothing that day. These days are certain too.
* **Presumed** days: after both, every weekday except the fixed-date holidays (1 January, 1-7 October)
  is presumed to be a trading day. Other holidays (Spring Festival, Qingming, ...) move every year, so
  a presumed day without data is *unknown*, never *missing*: see ``is_confirmed``.
"""

from __future__ import annotations

import bisect
import importlib.util
import json
import logging
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

# (month, day) of holidays fixed by date: New Year's Day and the National Day week
FIXED_HOLIDAYS = frozenset({(1, 1), *((10, d) for d in range(1, 8))})
# The longest closure not fixed by date (Spring Festival) has shut six weekdays; more presumed trading
# days than this without data cannot all be holidays, so their data is due after all.
MAX_UNKNOWN_DAYS = 7


def is_fixed_holiday(d: date) -> bool:
    return (d.month, d.day) in FIXED_HOLIDAYS


def akshare_calendar_file() -> Path | None:
    spec = importlib.util.find_spec("akshare")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "file_fold" / "calendar.json"
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=1)
def shipped_trading_days() -> tuple[date, ...]:
    path = akshare_calendar_file()
    if path is None:
        log.warning("akshare calendar file not found; trading days are presumed (weekdays but fixed holidays)")
        return ()
    raw = json.loads(path.read_text(encoding="utf-8"))
    return tuple(sorted(date(int(s[:4]), int(s[4:6]), int(s[6:8])) for s in raw))


class CalendarFileError(ValueError):
    """``data.calendar_file`` cannot be read as a list of dates."""


@lru_cache(maxsize=4)
def _file_trading_days(path: Path, mtime_ns: int) -> tuple[date, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:  # a folder, no permission to read, an I/O error
        raise CalendarFileError(f"{path}: cannot read the calendar file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise CalendarFileError(f"{path}: not a text file of dates (not UTF-8)") from None
    days: set[date] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        cell = line.split(",")[0].strip().strip('"')
        if not cell or cell.startswith("#") or (lineno == 1 and not cell[:1].isdigit()):
            continue  # blank, comment, or a CSV header
        try:
            days.add(date.fromisoformat(cell))
        except ValueError:
            raise CalendarFileError(f"{path}, line {lineno}: {cell!r} is not a date (YYYY-MM-DD)") from None
    if not days:
        raise CalendarFileError(f"{path}: no dates in the file")
    return tuple(sorted(days))


def base_trading_days(calendar_file: Path | None = None) -> tuple[date, ...]:
    """The published base: the operator's ``data.calendar_file`` when set, else akshare's shipped file."""
    if calendar_file is None:
        return shipped_trading_days()
    try:
        mtime = calendar_file.stat().st_mtime_ns
    except OSError as exc:
        raise CalendarFileError(f"{calendar_file}: cannot read the calendar file ({exc.strerror})") from None
    return _file_trading_days(calendar_file, mtime)


class TradingCalendar:
    """Published days up to ``known_until``, then observed days, then presumed weekdays."""

    def __init__(self, days: Iterable[date], observed: Iterable[date] = ()) -> None:
        self._days = sorted(set(days))
        self._set = set(self._days)
        self.known_until: date | None = self._days[-1] if self._days else None
        after = (d for d in observed if self.known_until is None or d > self.known_until)
        self._observed = frozenset(after)
        self.observed_until: date | None = max(self._observed) if self._observed else None

    @classmethod
    def default(
        cls, extra: Iterable[date] = (), observed: Iterable[date] = (), calendar_file: Path | None = None
    ) -> TradingCalendar:
        return cls([*base_trading_days(calendar_file), *extra], observed)

    def with_observed(self, observed: Iterable[date]) -> TradingCalendar:
        return TradingCalendar(self._days, observed)

    @property
    def confirmed_until(self) -> date | None:
        """The last day whose status (trading or not) is certain: published or observed."""
        ends = [d for d in (self.known_until, self.observed_until) if d is not None]
        return max(ends) if ends else None

    def is_confirmed(self, d: date) -> bool:
        """True when ``d``'s status is certain; False for a presumed day (no one has said yet)."""
        end = self.confirmed_until
        return end is not None and d <= end

    def is_trading_day(self, d: date) -> bool:
        if self.known_until is not None and d <= self.known_until:
            return d in self._set
        if self.observed_until is not None and d <= self.observed_until:
            return d in self._observed
        return d.weekday() < 5 and not is_fixed_holiday(d)

    def next_trading_day(self, d: date) -> date:
        """The first trading day strictly after ``d``."""
        if self.known_until is not None and d < self.known_until:
            return self._days[bisect.bisect_right(self._days, d)]
        nxt = d + timedelta(days=1)
        while not self.is_trading_day(nxt):
            nxt += timedelta(days=1)
        return nxt

    def previous_trading_day(self, d: date) -> date:
        """The last trading day strictly before ``d``."""
        prev = d - timedelta(days=1)
        while self.known_until is None or prev > self.known_until:
            if self.is_trading_day(prev):
                return prev
            prev -= timedelta(days=1)
        i = bisect.bisect_right(self._days, prev)
        if i == 0:
            raise ValueError(f"no trading day known before {d}")
        return self._days[i - 1]

    def last_trading_day_on_or_before(self, d: date) -> date:
        return d if self.is_trading_day(d) else self.previous_trading_day(d)

    def expected_data_date(self, now: datetime, publish_time: time) -> date:
        """The latest trading day whose closing data should be available at ``now`` (local time)."""
        today = now.date()
        if self.is_trading_day(today) and now.time() >= publish_time:
            return today
        return self.previous_trading_day(today)

    def last_confirmed_on_or_before(self, d: date) -> date | None:
        """The latest certain trading day on or before ``d``: what data must exist for ``d`` to be fresh."""
        end = self.confirmed_until
        if end is None:
            return None
        day = self.last_trading_day_on_or_before(min(d, end))
        return day if self.is_confirmed(day) else None

    def presumed_days_beyond_limit(self, d: date) -> bool:
        """True when more than MAX_UNKNOWN_DAYS presumed trading days lie between the certain days and ``d``."""
        end = self.confirmed_until
        if end is None or d <= end:
            return False
        return len(self.trading_days_between(end + timedelta(days=1), d)) > MAX_UNKNOWN_DAYS

    def trading_days_between(self, start: date, end: date) -> list[date]:
        """Trading days in [start, end]."""
        out = []
        d = start
        while d <= end:
            if self.is_trading_day(d):
                out.append(d)
            d += timedelta(days=1)
        return out
