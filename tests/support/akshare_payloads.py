"""Payloads shaped like the upstreams akshare talks to, for tests that intercept HTTP with ``responses``.

* Shenwan research ``index_publish/trend/`` (akshare ``index_hist_sw``): JSON
  ``{"code": 200, "message": "", "data": [{"swindexcode", "bargaindate", "openindex", "maxindex",
  "minindex", "closeindex", "hike", "markup", "bargainamount", "bargainsum"}, ...]}``, one index per call.
* Sina ``klc_td_sh.txt`` (akshare ``tool_trade_date_hist_sina``): ``var datelist="...";`` where the
  string is Sina's bit-packed date list, which akshare decodes by running Sina's JS decoder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
import responses

from jobs.market.calendar import TradingCalendar
from jobs.market.sources.base import SW2021_L1

TREND_URL = "https://www.swsresearch.com/institute-sw/api/index_publish/trend/"
SINA_CALENDAR_URL = "https://finance.sina.com.cn/realstock/company/klc_td_sh.txt"
RECORD_KEYS = (
    "swindexcode",
    "bargaindate",
    "openindex",
    "maxindex",
    "minindex",
    "closeindex",
    "hike",
    "markup",
    "bargainamount",
    "bargainsum",
)


def trading_days(end: date, count: int) -> list[date]:
    """The ``count`` trading days of the shipped calendar ending on ``end`` (a trading day)."""
    cal = TradingCalendar.default()
    days = [end]
    while len(days) < count:
        days.append(cal.previous_trading_day(days[-1]))
    return days[::-1]


def close_on(code: str, day: date) -> float:
    """A smooth, deterministic index level: the same (code, day) always gives the same close."""
    seed = int(code[-3:])
    period = 90 + seed % 7 * 45
    amplitude = 0.08 + seed % 5 * 0.07
    phase = seed % 11
    base = 1000.0 + seed * 3
    return round(base * (1 + amplitude * math.sin(day.toordinal() / period * 2 * math.pi + phase)), 2)


def trend_record(code: str, day: date, close: float | None, prev: float | None = None) -> dict[str, Any]:
    if close is None:  # upstream sends nulls for a day it has no close for
        return {**dict.fromkeys(RECORD_KEYS), "swindexcode": code, "bargaindate": day.isoformat()}
    prev = close if prev is None else prev
    return {
        "swindexcode": code,
        "bargaindate": day.isoformat(),
        "openindex": round(prev * 1.001, 2),
        "maxindex": round(max(prev, close) * 1.01, 2),
        "minindex": round(min(prev, close) * 0.99, 2),
        "closeindex": close,
        "hike": round(close - prev, 2),
        "markup": round((close / prev - 1) * 100, 2),
        "bargainamount": 12.34,
        "bargainsum": 150.5,
    }


def trend_payload(code: str, days: Sequence[date], closes: dict[date, float | None] | None = None) -> dict[str, Any]:
    """One index's whole history; ``closes`` overrides the generated closes on some days."""
    data = []
    prev = None
    for d in days:
        close = (closes or {}).get(d, close_on(code, d))
        data.append(trend_record(code, d, close, prev))
        prev = close if close is not None else prev
    return {"code": 200, "message": "", "data": data}


# What a code answers instead of its history: (status, body) or an exception to raise.
Failure = tuple[int, str] | Exception


@dataclass
class FakeSwUpstream:
    """Serves ``index_hist_sw`` for every code; tests change ``days``, ``closes`` or ``failures``."""

    days: list[date]
    codes: dict[str, str] = field(default_factory=lambda: dict(SW2021_L1))
    days_by_code: dict[str, list[date]] = field(default_factory=dict)
    closes: dict[str, dict[date, float | None]] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)  # code -> failure ("*" = every code)
    flaky: dict[str, int] = field(default_factory=dict)  # code -> how many calls time out before it answers
    calls: list[str] = field(default_factory=list)

    def _callback(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlparse(str(request.url)).query)
        code = query["swindexcode"][0]
        self.calls.append(code)
        if self.flaky.get(code, 0) > 0:
            self.flaky[code] -= 1
            raise requests.exceptions.ReadTimeout(f"read timed out ({code})")
        failure = self.failures.get(code, self.failures.get("*"))
        if isinstance(failure, Exception):
            raise failure
        if failure is not None:
            return failure[0], {"Content-Type": "application/json"}, failure[1]
        days = self.days_by_code.get(code, self.days)
        body = trend_payload(code, days, self.closes.get(code))
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def install(self, rsps: responses.RequestsMock) -> FakeSwUpstream:
        rsps.add_callback(responses.GET, TREND_URL, callback=self._callback)
        return self


# -- Sina's trading calendar --------------------------------------------------------------------
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DAY_OFFSET = 7657  # the decoder counts days from 1970-01-01 + 7657 days
_CALENDAR_FORMAT = 139  # the decoder's format id for a list of dates


class _BitWriter:
    """Least significant bit first, six bits per character: the order the decoder reads them."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def put(self, value: int, width: int) -> None:
        self.bits.extend((value >> k) & 1 for k in range(width))

    def text(self) -> str:
        bits = self.bits + [0] * (-len(self.bits) % 6)
        return "".join(_ALPHABET[sum(bits[i + k] << k for k in range(6))] for i in range(0, len(bits), 6))


def encode_sina_dates(days: Iterable[date]) -> str:
    """Pack trading days the way Sina's ``klc_td_sh.txt`` does.

    The decoder walks weekdays from the first to the last day; the stream holds, per run, the number of
    trading days before the next skipped weekday, each in 3*L bits where L changes by signed unary steps.
    """
    ordered = sorted(set(days))
    if any(d.weekday() >= 5 for d in ordered):
        raise ValueError("the format can only hold weekdays")
    rel = [(d - date(1970, 1, 1)).days - _DAY_OFFSET for d in ordered]
    out = _BitWriter()
    out.put(_CALENDAR_FORMAT, 12)
    out.put(63, 6)  # flags: "no sub-format"
    out.put(rel[0], 18)
    out.put(rel[-1], 18)
    trading = set(ordered)
    runs, current, d = [], 0, ordered[0]
    while d <= ordered[-1]:
        if d.weekday() < 5:
            if d in trading:
                current += 1
            else:
                runs.append(current)
                current = 0
        d += timedelta(days=1)
    runs.append(current)
    level = 0
    for run in runs:
        need = 0
        while (1 << (3 * need)) <= run:
            need += 1
        if need == level:
            out.put(0, 1)
        else:
            delta = need - level
            out.put(1, 1)
            out.put(1 if delta > 0 else 0, 1)
            for _ in range(abs(delta) - 1):
                out.put(1, 1)
            out.put(0, 1)
            level = need
        out.put(run, 3 * level)
    return out.text()


def sina_calendar_text(days: Iterable[date]) -> str:
    return f'var datelist="{encode_sina_dates(days)}";var KLC_TD_SH=datelist;'


def install_sina_calendar(rsps: responses.RequestsMock, body: str | Exception, status: int = 200) -> None:
    if isinstance(body, Exception):
        rsps.add(responses.GET, SINA_CALENDAR_URL, body=body)
    else:
        rsps.add(responses.GET, SINA_CALENDAR_URL, body=body, status=status, content_type="text/plain")


def weekdays_without(year: int, holidays: Iterable[date]) -> list[date]:
    """A plausible future year: every weekday except the given holidays."""
    skip = set(holidays)
    d, out = date(year, 1, 1), []
    while d.year == year:
        if d.weekday() < 5 and d not in skip:
            out.append(d)
        d += timedelta(days=1)
    return out
