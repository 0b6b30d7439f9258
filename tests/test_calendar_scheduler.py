"""The calendar on the real bot's JobQueue: a holiday is skipped, a day past the known calendar without
data is unknown (not missing), and a failed calendar refresh tells the admins once.

The calendar's end is chosen by the test (``data.calendar_file``): the shipped days up to 2026-05-29, so
that the Shenwan CSV's last days (06-01, 06-02) lie past it and are confirmed by their data.
"""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from support.akshare_payloads import install_sina_calendar
from support.bot_harness import ADMIN_ID, SOURCE, BotHarness, db, filled_db, wait_until  # noqa: F401

from bot.telegram.scheduling import (
    CALENDAR_NAME,
    DRAIN_NAME,
    JOB_NAME,
    RETRY_NAME,
    calendar_job,
    daily_job,
    drain_job,
)
from jobs.market.calendar import shipped_trading_days
from jobs.store.outbox import Outbox

END = date(2026, 5, 29)


@pytest.fixture
def calendar_file(tmp_path: Path) -> Path:
    path = tmp_path / "calendar.csv"
    path.write_text("\n".join(d.isoformat() for d in shipped_trading_days() if d <= END) + "\n", encoding="utf-8")
    return path


def _harness(db: Path, calendar_file: Path, clock: dict[str, datetime]) -> BotHarness:
    data = {"calendar_file": str(calendar_file), "fetch_retries": 0, "backoff_s": 0, "fetch_timeout_s": 2}
    return BotHarness(db, clock=lambda: clock["now"], data=data).start()


def _run(harness: BotHarness, callback: Any, name: str) -> None:
    bot_data = harness.application.bot_data
    bot_data.last_daily = None
    harness.application.job_queue.run_once(callback, 0.01, name=name)


def test_the_scheduled_run_skips_a_holiday(db: Path, calendar_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = {"now": datetime(2026, 5, 1, 9, 0, tzinfo=UTC)}  # Labour Day, 17:00 in Shanghai: a known holiday
    harness = _harness(db, calendar_file, clock)
    try:
        caplog.set_level(logging.INFO, logger="bot.telegram.scheduling")
        _run(harness, daily_job, JOB_NAME)
        wait_until(lambda: "2026-05-01 is not a trading day" in caplog.text)
        assert harness.application.bot_data.last_daily is None  # nothing ran
        clock["now"] = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)  # New Year's Day past the end: never a trading day
        _run(harness, daily_job, JOB_NAME)
        wait_until(lambda: "2027-01-01 is not a trading day" in caplog.text)
        assert harness.application.bot_data.last_daily is None
        assert harness.fake.sent() == []
    finally:
        harness.stop()


def test_a_day_past_the_known_calendar_without_data_is_unknown_not_missing(db: Path, calendar_file: Path) -> None:
    clock = {"now": datetime(2026, 6, 3, 10, 0, tzinfo=UTC)}  # Wednesday 18:00: presumed, the CSV ends 06-02
    harness = _harness(db, calendar_file, clock)
    try:
        services = harness.services
        assert services is not None
        calendar = services.engine.calendar
        assert calendar.known_until == END and calendar.confirmed_until == date(2026, 6, 2)  # observed
        # before the cut-off: waiting, and answers are not stale for the presumed day
        _run(harness, daily_job, RETRY_NAME)
        wait_until(lambda: harness.application.bot_data.last_daily is not None)
        assert harness.application.bot_data.last_daily.outcome == "waiting"
        status = services.engine.status(clock["now"])
        assert not status.stale and status.expected_date == date(2026, 6, 2)
        assert status.unconfirmed_date == date(2026, 6, 3)
        # at the cut-off, on this day and the next: unknown, and one notice to refresh the calendar
        for now in (datetime(2026, 6, 3, 13, 0, tzinfo=UTC), datetime(2026, 6, 4, 13, 30, tzinfo=UTC)):
            clock["now"] = now
            _run(harness, daily_job, RETRY_NAME)
            wait_until(lambda: harness.application.bot_data.last_daily is not None)
            result = harness.application.bot_data.last_daily
            assert (result.outcome, result.retry) == ("unknown", False), result.message
        harness.fake.wait_sent(2, chat_id=ADMIN_ID, timeout=15)
        harness.fake.wait_idle(quiet=0.3)
        texts = [c.params["text"] for c in harness.fake.sent(chat_id=ADMIN_ID)]
        assert len(texts) == 2, texts
        assert sum("需要更新交易日历" in t and "spreadwatch calendar-refresh" in t for t in texts) == 1
        # the daily cycle also tried to extend the calendar (its known end has passed) without network: told once
        assert sum("交易日历更新失败" in t for t in texts) == 1
        kinds = sorted(r.kind for r in Outbox(services.store).rows())
        assert kinds == ["calendar_refresh_failed", "calendar_unknown"]  # never "missing"
        # /status shows where the calendar ends
        (answer,) = harness.ask("/status", chat_id=ADMIN_ID)
        assert "Trading calendar known until: 2026-05-29" in answer.params["text"]
    finally:
        harness.stop()


def test_a_failed_calendar_refresh_tells_the_admins_once(db: Path, calendar_file: Path) -> None:
    clock = {"now": datetime(2026, 5, 20, 1, 0, tzinfo=UTC)}  # nine days before the known end
    harness = _harness(db, calendar_file, clock)
    try:
        services = harness.services
        assert services is not None
        with responses.RequestsMock() as rsps:
            install_sina_calendar(rsps, requests.exceptions.ConnectionError("no route to host"))
            for day in (20, 24):  # the second attempt comes three days later, as the refresh is retried
                clock["now"] = datetime(2026, 5, day, 1, 0, tzinfo=UTC)
                attempts = len(rsps.calls)
                _run(harness, calendar_job, CALENDAR_NAME)
                wait_until(lambda n=attempts: len(rsps.calls) > n)
        _run(harness, drain_job, DRAIN_NAME)  # deliver now, not at the drain job's first tick
        (notice,) = harness.fake.wait_sent(1, chat_id=ADMIN_ID, timeout=15)
        assert "交易日历更新失败" in notice.params["text"] and "2026-05-29" in notice.params["text"]
        harness.fake.wait_idle(quiet=0.3)
        assert len(harness.fake.sent(chat_id=ADMIN_ID)) == 1
    finally:
        harness.stop()
