"""Trading calendar: the shipped file, the weekday fallback after its end, and the live refresh.

The refresh runs akshare's real ``tool_trade_date_hist_sina`` (Sina's JS decoder in py_mini_racer)
against a payload packed in Sina's format by ``akshare_payloads.encode_sina_dates``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import responses
from support.akshare_payloads import SINA_CALENDAR_URL, install_sina_calendar, sina_calendar_text, weekdays_without

from bot.cli.main import main
from jobs.config.settings import Settings
from jobs.engine.pipeline import Engine
from jobs.market.calendar import CalendarFileError, TradingCalendar, shipped_trading_days
from jobs.market.calendar_refresh import (
    CalendarRejected,
    refresh_calendar,
    refresh_calendar_if_due,
    store_calendar_days,
    validate_calendar_days,
)
from jobs.store.datastore import Store

SH = ZoneInfo("Asia/Shanghai")
PUBLISH = time(16, 30)
HOLIDAYS_2027 = [date(2027, 1, 1), *(date(2027, 2, d) for d in range(8, 13)), date(2027, 10, 1)]
DAYS_2027 = weekdays_without(2027, HOLIDAYS_2027)


# The tests choose the calendar's end: akshare's shipped file up to 2026-12-31 (a newer akshare may ship
# more days; the tests do not depend on which day its file ends).
BASE_END = date(2026, 12, 31)


@pytest.fixture(scope="module")
def base_days() -> list[date]:
    shipped = shipped_trading_days()
    assert shipped and shipped[-1] >= BASE_END, "akshare's calendar file must reach 2026-12-31"
    return [d for d in shipped if d <= BASE_END]


@pytest.fixture(scope="module")
def cal(base_days: list[date]) -> TradingCalendar:
    return TradingCalendar(base_days)


def write_calendar_file(path: Path, days: list[date]) -> Path:
    path.write_text("date\n" + "\n".join(d.isoformat() for d in days) + "\n", encoding="utf-8")
    return path


def test_the_shipped_file_is_read_without_importing_akshare(cal: TradingCalendar) -> None:
    assert shipped_trading_days()[0] == date(1990, 12, 19)
    assert TradingCalendar.default().known_until == shipped_trading_days()[-1]
    assert not cal.is_trading_day(date(2025, 1, 1))  # New Year
    assert cal.is_trading_day(date(2025, 1, 2))
    assert not any(cal.is_trading_day(date(2024, 10, d)) for d in range(1, 8))  # National Day week
    assert cal.is_trading_day(date(2024, 10, 8))
    assert not cal.is_trading_day(date(2025, 2, 15))  # a Saturday
    assert cal.is_trading_day(date(2026, 12, 31))
    assert cal.is_confirmed(date(2026, 12, 31)) and not cal.is_confirmed(date(2027, 1, 4))


def test_after_the_known_end_weekdays_are_presumed_except_fixed_holidays(cal: TradingCalendar) -> None:
    assert cal.known_until == BASE_END
    assert not cal.is_trading_day(date(2027, 1, 1))  # New Year's Day is never a trading day
    assert not any(cal.is_trading_day(date(2027, 10, d)) for d in range(1, 8))  # nor the National Day week
    assert cal.is_trading_day(date(2027, 1, 4))  # a Monday: presumed
    assert cal.is_trading_day(date(2027, 2, 8))  # Spring Festival moves every year: presumed, unconfirmed
    assert not cal.is_confirmed(date(2027, 2, 8))
    assert not cal.is_trading_day(date(2027, 1, 2)) and not cal.is_trading_day(date(2027, 1, 3))
    assert cal.is_trading_day(date(2030, 6, 14))


def test_previous_and_next_across_the_end(cal: TradingCalendar) -> None:
    assert cal.next_trading_day(date(2026, 12, 30)) == date(2026, 12, 31)
    assert cal.next_trading_day(date(2026, 12, 31)) == date(2027, 1, 4)  # 1 January is never a trading day
    assert cal.previous_trading_day(date(2027, 1, 4)) == date(2026, 12, 31)
    assert cal.previous_trading_day(date(2027, 1, 3)) == date(2026, 12, 31)
    assert cal.previous_trading_day(date(2027, 10, 8)) == date(2027, 9, 30)
    assert cal.previous_trading_day(date(2025, 10, 10)) == date(2025, 10, 9)
    assert cal.previous_trading_day(date(2025, 10, 9)) == date(2025, 9, 30)  # across the Oct 1-8 holiday
    assert cal.last_trading_day_on_or_before(date(2025, 10, 5)) == date(2025, 9, 30)
    assert cal.last_trading_day_on_or_before(date(2027, 1, 1)) == date(2026, 12, 31)
    assert cal.trading_days_between(date(2026, 12, 30), date(2027, 1, 5)) == [
        date(2026, 12, 30),
        date(2026, 12, 31),
        date(2027, 1, 4),
        date(2027, 1, 5),
    ]


def test_observed_days_confirm_trading_days_and_holidays_past_the_end(cal: TradingCalendar) -> None:
    # a real source had complete data on these days: the weekdays between without data were holidays
    observed = cal.with_observed([date(2027, 1, 4), date(2027, 1, 5), date(2027, 2, 5), date(2027, 2, 15)])
    assert observed.confirmed_until == date(2027, 2, 15) and observed.known_until == BASE_END
    assert not observed.is_trading_day(date(2027, 2, 10)) and observed.is_confirmed(date(2027, 2, 10))
    assert observed.previous_trading_day(date(2027, 2, 15)) == date(2027, 2, 5)
    assert observed.is_trading_day(date(2027, 2, 16)) and not observed.is_confirmed(date(2027, 2, 16))
    assert observed.last_confirmed_on_or_before(date(2027, 2, 19)) == date(2027, 2, 15)
    # more presumed days without data than any movable holiday has: their data is due after all
    assert not cal.presumed_days_beyond_limit(date(2027, 1, 12))  # 7 presumed weekdays
    assert cal.presumed_days_beyond_limit(date(2027, 1, 13))


def test_expected_data_date_before_and_after_publish_time(cal: TradingCalendar) -> None:
    friday = date(2025, 2, 14)
    assert cal.expected_data_date(datetime(2025, 2, 14, 16, 29, tzinfo=SH), PUBLISH) == date(2025, 2, 13)
    assert cal.expected_data_date(datetime(2025, 2, 14, 16, 30, tzinfo=SH), PUBLISH) == friday
    assert cal.expected_data_date(datetime(2025, 2, 15, 12, 0, tzinfo=SH), PUBLISH) == friday  # Saturday
    assert cal.expected_data_date(datetime(2025, 2, 17, 9, 0, tzinfo=SH), PUBLISH) == friday  # Monday morning
    assert cal.expected_data_date(datetime(2025, 10, 3, 20, 0, tzinfo=SH), PUBLISH) == date(2025, 9, 30)  # holiday
    assert cal.expected_data_date(datetime(2027, 1, 1, 20, 0, tzinfo=SH), PUBLISH) == date(2026, 12, 31)
    assert cal.expected_data_date(datetime(2027, 1, 4, 10, 0, tzinfo=SH), PUBLISH) == date(2026, 12, 31)
    assert cal.expected_data_date(datetime(2027, 1, 4, 17, 0, tzinfo=SH), PUBLISH) == date(2027, 1, 4)


def test_a_calendar_file_replaces_the_shipped_one(tmp_path: Path) -> None:
    days = weekdays_without(2026, [date(2026, 1, 1), date(2026, 2, 17)])
    path = write_calendar_file(tmp_path / "days.csv", days)
    calendar = TradingCalendar.default(calendar_file=path)
    assert calendar.known_until == days[-1] and not calendar.is_trading_day(date(2026, 2, 17))
    bad = tmp_path / "bad.csv"
    bad.write_text("date\n2026-01-02\nyesterday\n", encoding="utf-8")
    with pytest.raises(CalendarFileError, match="line 3"):
        TradingCalendar.default(calendar_file=bad)
    with pytest.raises(CalendarFileError, match="cannot read"):
        TradingCalendar.default(calendar_file=tmp_path / "absent.csv")


def test_engine_expected_date_uses_the_configured_timezone(tmp_path: Path) -> None:
    engine = Engine(Settings(), Store(tmp_path / "s.db"))
    # 09:00 UTC is 17:00 in Shanghai: past the publish time of a trading day
    assert engine.status(datetime(2025, 2, 14, 9, 0, tzinfo=ZoneInfo("UTC"))).expected_date == date(2025, 2, 14)
    assert engine.status(datetime(2025, 2, 14, 8, 0, tzinfo=ZoneInfo("UTC"))).expected_date == date(2025, 2, 13)


def test_extra_days_extend_the_calendar_and_make_missing_weekdays_holidays(base_days: list[date]) -> None:
    extended = TradingCalendar([*base_days, *DAYS_2027])
    assert extended.known_until == date(2027, 12, 31)
    assert not extended.is_trading_day(date(2027, 1, 1)) and not extended.is_trading_day(date(2027, 2, 10))
    assert extended.next_trading_day(date(2026, 12, 31)) == date(2027, 1, 4)
    assert extended.previous_trading_day(date(2027, 2, 15)) == date(2027, 2, 5)
    assert extended.is_trading_day(date(2028, 1, 3))  # weekdays again after the new end


# -- refresh from the live source ---------------------------------------------------------------
# Sina's list lacks 1992-05-04 (akshare adds it back)
SINA_HISTORY = [d for d in shipped_trading_days() if d != date(1992, 5, 4) and d <= BASE_END]
LIVE_LIST = [*SINA_HISTORY, *DAYS_2027]
TODAY = date(2026, 12, 20)


@pytest.fixture(scope="module")
def js_runtime() -> None:
    """akshare decodes Sina's list with py_mini_racer (an akshare dependency); skip where V8 cannot load."""
    try:
        import py_mini_racer

        py_mini_racer.MiniRacer().eval("1")
    except Exception as exc:  # a missing wheel for the platform, a V8 that cannot start
        pytest.skip(f"py_mini_racer unavailable: {exc}")


def _settings(db: Path) -> Settings:
    """Fast retries, and the calendar's base chosen by the test (the shipped days up to BASE_END)."""
    base = write_calendar_file(db.parent / "base-calendar.csv", [d for d in shipped_trading_days() if d <= BASE_END])
    return Settings.model_validate(
        {
            "data": {"fetch_timeout_s": 5, "fetch_retries": 1, "backoff_s": 0, "calendar_file": str(base)},
            "storage": {"path": str(db)},
        }
    )


def test_refresh_decodes_sinas_list_and_stores_the_new_days(js_runtime: None, tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    with responses.RequestsMock() as rsps:
        install_sina_calendar(rsps, sina_calendar_text(LIVE_LIST))
        result = refresh_calendar(store, _settings(tmp_path / "s.db").data, TODAY)
        assert rsps.calls[0].request.req_kwargs["timeout"] == 5  # akshare passes none; ours is injected
    assert result.ok, result.message
    assert result.new_days == len(DAYS_2027) and result.known_until == date(2027, 12, 31)
    assert store.calendar_days() == DAYS_2027  # only the days after the shipped file
    assert store.get_meta("calendar_refreshed_at") is not None
    logged = store.last_fetch("sina-calendar", kind="calendar")
    assert logged is not None and logged.ok and logged.rows == len(DAYS_2027)
    # a new engine picks the stored days up
    engine = Engine(_settings(tmp_path / "s.db"), store)
    assert engine.calendar.known_until == date(2027, 12, 31)
    assert not engine.calendar.is_trading_day(date(2027, 2, 8))
    # refreshing again adds nothing
    with responses.RequestsMock() as rsps:
        install_sina_calendar(rsps, sina_calendar_text(LIVE_LIST))
        again = refresh_calendar(store, _settings(tmp_path / "s.db").data, TODAY)
    assert again.ok and again.new_days == 0


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("<html>502</html>", id="not-a-datelist"),
        pytest.param('var datelist="";', id="empty"),
        pytest.param(requests.exceptions.ReadTimeout("timed out"), id="timeout"),
        pytest.param(sina_calendar_text(LIVE_LIST[:-300]), id="ends-too-early"),
        pytest.param(sina_calendar_text([d for d in LIVE_LIST if d.year != 2019]), id="a-year-missing"),
    ],
)
def test_a_failed_or_implausible_refresh_stores_nothing(
    js_runtime: None, tmp_path: Path, body: str | Exception
) -> None:
    store = Store(tmp_path / "s.db")
    store.save_calendar_days([date(2027, 1, 4)])
    with responses.RequestsMock() as rsps:
        install_sina_calendar(rsps, body)
        result = refresh_calendar(store, _settings(tmp_path / "s.db").data, TODAY)
        attempts = len(rsps.calls)
    assert not result.ok and result.new_days == 0
    assert store.calendar_days() == [date(2027, 1, 4)]
    logged = store.last_fetch("sina-calendar", kind="calendar")
    assert logged is not None and not logged.ok and logged.message == result.message
    if isinstance(body, Exception):
        assert attempts == 2  # fetch_retries=1


def test_validation_rules_on_a_real_calendar() -> None:
    days = list(shipped_trading_days())
    today = date(2026, 12, 20)
    assert validate_calendar_days(days, today, days) == days
    with pytest.raises(CalendarRejected, match="not strictly ascending"):
        validate_calendar_days([*days[:100], days[99], *days[100:]], today)
    with pytest.raises(CalendarRejected, match="weekend"):
        validate_calendar_days(sorted([*days, date(2025, 2, 15)]), today)
    with pytest.raises(CalendarRejected, match="more than a month before"):
        validate_calendar_days([d for d in days if d < date(2026, 6, 1)], today)
    with pytest.raises(CalendarRejected, match="implausibly far"):
        validate_calendar_days([*days, date(2029, 1, 5)], today)
    with pytest.raises(CalendarRejected, match=r"2020 has 1\d\d trading days"):
        validate_calendar_days([d for d in days if not (d.year == 2020 and d.month > 6)], today)
    shifted = [d + timedelta(days=7) for d in days if d.year == 2015]
    other = sorted({*(d for d in days if d.year != 2015), *shifted})
    with pytest.raises(CalendarRejected, match="disagrees with the shipped calendar"):
        validate_calendar_days(other, today, days)
    with pytest.raises(CalendarRejected, match="only 3 trading days"):
        validate_calendar_days(days[:3], today)


def test_store_calendar_days_keeps_only_days_after_the_reference(store: Store) -> None:
    reference = [d for d in shipped_trading_days() if d <= date(2025, 12, 31)]
    live = [d for d in shipped_trading_days() if d <= date(2026, 12, 31)]
    assert store_calendar_days(store, live, date(2026, 12, 1), reference) == len(live) - len(reference)
    assert store.calendar_days()[0] == date(2026, 1, 5)
    assert store_calendar_days(store, live, date(2026, 12, 1), reference) == 0


def _future_days(until: date) -> list[date]:
    out: list[date] = []
    for year in range(2027, until.year + 1):
        holidays = [date(year, 1, 1), *(date(year, 10, d) for d in range(1, 8))]
        out += [d for d in weekdays_without(year, holidays) if d <= until]
    return out


def test_calendar_refresh_command(js_runtime: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # on the real clock: the live list reaches two months past today, as Sina's does
    future = _future_days(max(date.today() + timedelta(days=60), date(2027, 1, 31)))
    base = write_calendar_file(tmp_path / "base.csv", [d for d in shipped_trading_days() if d <= BASE_END])
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  fetch_retries: 0\n  backoff_s: 0\n  calendar_file: {base}\n", encoding="utf-8")
    db = tmp_path / "cli.db"
    with responses.RequestsMock() as rsps:
        install_sina_calendar(rsps, sina_calendar_text([*SINA_HISTORY, *future]))
        assert main(["calendar-refresh", "--config", str(cfg), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("calendar: ok") and f"{len(future)} new" in out and f"known until {future[-1]}" in out
    assert Store(db).calendar_days() == future

    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, SINA_CALENDAR_URL, status=500, body="busy")
        assert main(["calendar-refresh", "--config", str(cfg), "--db", str(db)]) == 1
    assert capsys.readouterr().out.startswith("calendar: FAILED")
    assert Store(db).calendar_days() == future


def test_the_refresh_runs_only_when_the_known_days_are_about_to_end(js_runtime: None, tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    data = _settings(tmp_path / "s.db").data
    with responses.RequestsMock() as rsps:  # no request may be made: an unexpected one fails the test
        assert refresh_calendar_if_due(store, data, date(2026, 6, 1)) is None  # ends in seven months
    with responses.RequestsMock() as rsps:
        install_sina_calendar(rsps, "<html>not yet</html>")
        first = refresh_calendar_if_due(store, data, date(2026, 12, 1))
        assert first is not None and not first.ok
    with responses.RequestsMock() as rsps:
        assert refresh_calendar_if_due(store, data, date(2026, 12, 2)) is None  # asked a day ago
    with responses.RequestsMock() as rsps:
        install_sina_calendar(rsps, sina_calendar_text(LIVE_LIST))
        second = refresh_calendar_if_due(store, data, date(2026, 12, 4))
    assert second is not None and second.ok and second.known_until == date(2027, 12, 31)
    with responses.RequestsMock() as rsps:  # a year of known days ahead: nothing to ask
        assert refresh_calendar_if_due(store, data, date(2026, 12, 10)) is None


def test_check_config_shows_where_the_calendar_ends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    days = weekdays_without(2026, [date(2026, 1, 1)])[:100]
    path = write_calendar_file(tmp_path / "days.txt", days)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  calendar_file: {path}\nstorage:\n  path: {tmp_path / 's.db'}\n", encoding="utf-8")
    assert main(["check-config", "--config", str(cfg)]) == 0
    assert f"trading calendar known until {days[-1]}" in capsys.readouterr().out
    path.write_text("2026-01-02\nnot a date\n", encoding="utf-8")
    assert main(["check-config", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("config error: data.calendar_file:") and "line 2" in err and "Traceback" not in err
