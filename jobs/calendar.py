"""A-share trading calendar.

The base is the calendar file akshare ships (``akshare/file_fold/calendar.json``, SSE trading days
from 1990, ending 2026-12-31). It is read as a file, without importing akshare (which costs ~1 s and
~100 MB). Days refreshed from the live source (stored by the store) extend it; after the last known
day every weekday counts as a trading day, so the service keeps running when the file runs out.
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
        log.warning("akshare calendar file not found; trading days fall back to weekdays")
        return ()
    raw = json.loads(path.read_text(encoding="utf-8"))
    return tuple(sorted(date(int(s[:4]), int(s[4:6]), int(s[6:8])) for s in raw))


class TradingCalendar:
    """Known trading days up to ``known_until``; weekdays after it."""

    def __init__(self, days: Iterable[date]) -> None:
        self._days = sorted(set(days))
        self._set = set(self._days)
        self.known_until: date | None = self._days[-1] if self._days else None

    @classmethod
    def default(cls, extra: Iterable[date] = ()) -> TradingCalendar:
        return cls([*shipped_trading_days(), *extra])

    def is_trading_day(self, d: date) -> bool:
        if self.known_until is not None and d <= self.known_until:
            return d in self._set
        return d.weekday() < 5

    def next_trading_day(self, d: date) -> date:
        """The first trading day strictly after ``d``."""
        if self.known_until is not None and d < self.known_until:
            i = bisect.bisect_right(self._days, d)
            return self._days[i]
        nxt = d + timedelta(days=1)
        while nxt.weekday() >= 5:
            nxt += timedelta(days=1)
        return nxt

    def previous_trading_day(self, d: date) -> date:
        """The last trading day strictly before ``d``."""
        if self.known_until is None or d > self.known_until + timedelta(days=1):
            prev = d - timedelta(days=1)
            while prev.weekday() >= 5 and (self.known_until is None or prev > self.known_until):
                prev -= timedelta(days=1)
            if self.known_until is None or prev > self.known_until:
                return prev
            d = self.known_until + timedelta(days=1)
        i = bisect.bisect_left(self._days, d)
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

    def trading_days_between(self, start: date, end: date) -> list[date]:
        """Trading days in [start, end]."""
        out = []
        d = start
        while d <= end:
            if self.is_trading_day(d):
                out.append(d)
            d += timedelta(days=1)
        return out
