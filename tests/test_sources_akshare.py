"""The live source end to end: akshare's real ``index_hist_sw`` against a fake Shenwan server (``responses``).

Every failure must leave the store exactly as it was, be recorded in the fetch log, make the status
stale, and write no snapshot; the ``report`` command then shows the last good data marked stale.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import responses
import yaml
from support.akshare_payloads import FakeSwUpstream, close_on, trading_days

from bot.cli.main import main
from jobs.config.settings import Settings
from jobs.engine.pipeline import Engine
from jobs.market.calendar import TradingCalendar
from jobs.market.sources.base import SW2021_L1
from jobs.store.datastore import Store

SHANGHAI = ZoneInfo("Asia/Shanghai")
END = date(2025, 6, 30)
DAYS = trading_days(END, 200)  # ~9.5 months: six-month gains exist for the last ~3 months
EVENING_OF_END = datetime(2025, 6, 30, 18, 0, tzinfo=SHANGHAI)
LAST_CODE = list(SW2021_L1)[-1]


@dataclass
class Live:
    engine: Engine
    store: Store
    upstream: FakeSwUpstream
    rsps: responses.RequestsMock
    settings: Settings


@pytest.fixture
def live(akshare_settings: Settings) -> Any:
    store = Store(akshare_settings.storage.path)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        upstream = FakeSwUpstream(days=list(DAYS)).install(rsps)
        yield Live(Engine(akshare_settings, store), store, upstream, rsps, akshare_settings)
    store.close()


def state(store: Store, source: str = "akshare") -> dict[str, Any]:
    conn = store.connect()
    return {
        "prices": conn.execute("SELECT COUNT(*) FROM prices WHERE source = ?", (source,)).fetchone()[0],
        "names": conn.execute("SELECT COUNT(*) FROM industry_names WHERE source = ?", (source,)).fetchone()[0],
        "last_date": store.last_price_date(source),
        "last_closes": store.last_closes(source),
        "snapshots": conn.execute("SELECT COUNT(*) FROM snapshots WHERE source = ?", (source,)).fetchone()[0],
        "last_snapshot": store.last_snapshot_date(source),
    }


def test_first_fetch_backfills_all_31_industries(live: Live) -> None:
    result = live.engine.update(until=END)

    assert result.refresh.ok, result.refresh.message
    assert sorted(live.upstream.calls) == sorted(SW2021_L1)
    s = state(live.store)
    assert s["prices"] == 31 * len(DAYS)
    assert s["last_date"] == END
    assert live.store.name_book("akshare").latest() == SW2021_L1
    assert live.store.last_closes("akshare")["801750"] == (END, close_on("801750", END))
    assert s["last_snapshot"] == END and result.snapshots_written == s["snapshots"] > 0
    status = live.engine.status(EVENING_OF_END)
    assert not status.stale and status.last_error is None and status.last_data_date == END
    snap = live.store.snapshot("akshare")
    assert snap is not None and snap.n_ranked == 31


def test_timeout_is_injected_and_query_is_the_one_akshare_sends(live: Live) -> None:
    live.engine.update(until=END)

    assert len(live.rsps.calls) == 31
    for call in live.rsps.calls:
        # akshare passes no timeout; the default installed by call_upstream must reach requests
        assert call.request.req_kwargs["timeout"] == live.settings.data.fetch_timeout_s == 7.5
        assert "period=DAY" in str(call.request.url)


def test_second_fetch_appends_only_new_dates(live: Live) -> None:
    live.upstream.days = list(DAYS[:-3])
    live.engine.update(until=END)
    before = state(live.store)
    assert before["last_date"] == DAYS[-4]

    live.upstream.days = list(DAYS)  # upstream serves the whole history again, three days longer
    result = live.engine.update(until=END)

    after = state(live.store)
    assert result.refresh.ok and result.refresh.rows == 3 * 31
    assert after["prices"] == before["prices"] + 3 * 31
    assert after["last_date"] == END
    assert after["snapshots"] == before["snapshots"] + 3
    assert result.snapshots_written == 3
    # a third fetch with nothing new writes nothing
    again = live.engine.update(until=END)
    assert again.refresh.ok and again.refresh.rows == 0 and again.snapshots_written == 0


def test_a_transient_failure_is_retried_and_the_fetch_succeeds(live: Live) -> None:
    live.upstream.flaky = {"801760": 2}  # two timeouts, then an answer: within fetch_retries=2
    result = live.engine.update(until=END)
    assert result.refresh.ok, result.refresh.message
    assert live.upstream.calls.count("801760") == 3
    assert state(live.store)["prices"] == 31 * len(DAYS)


def test_until_bounds_the_backfill(live: Live) -> None:
    live.engine.update(until=DAYS[-6])
    assert live.store.last_price_date("akshare") == DAYS[-6]


def _all(failure: Any) -> Any:
    def apply(up: FakeSwUpstream) -> None:
        up.failures["*"] = failure

    return apply


def _last_code_fails(up: FakeSwUpstream) -> None:
    up.failures[LAST_CODE] = (500, "<html>502 Bad Gateway</html>")


# these break the upstream's newest day, whatever ``up.days`` holds
def _missing_last_day(up: FakeSwUpstream) -> None:
    up.days_by_code["801050"] = list(up.days[:-1])


def _impossible_jump(up: FakeSwUpstream) -> None:
    up.closes["801120"] = {up.days[-1]: close_on("801120", up.days[-1]) * 1.6}


def _null_close(up: FakeSwUpstream) -> None:
    up.closes["801780"] = {up.days[-1]: None}


ATTEMPTS = 3  # fetch_retries=2 in the test settings
FAILURES = {
    "malformed-json": (
        _all((200, '{"code": 200, "message": "", "data": [{"swindexcode": "8010')),
        ATTEMPTS,
        "not JSON",
    ),
    "empty-data": (_all((200, '{"code": 200, "message": "", "data": []}')), ATTEMPTS, "lacks the expected fields"),
    "timeout": (_all(requests.exceptions.ReadTimeout("read timed out (7.5 s)")), ATTEMPTS, "ReadTimeout"),
    "http-500": (_all((500, "Internal Server Error")), ATTEMPTS, "not JSON"),
    "one-code-fails-after-retries": (_last_code_fails, 30 + ATTEMPTS, LAST_CODE),
    "industry-missing-last-day": (_missing_last_day, 31, "801050"),
    "impossible-jump": (_impossible_jump, 31, "801120"),
    "null-close": (_null_close, 31, "801780"),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_a_failed_fetch_leaves_the_store_as_it_was(live: Live, name: str) -> None:
    break_upstream, expected_calls, mentioned = FAILURES[name]
    live.upstream.days = list(DAYS[:-1])
    assert live.engine.update(until=END).refresh.ok
    before = state(live.store)

    live.upstream.days = list(DAYS)
    break_upstream(live.upstream)
    live.upstream.calls.clear()
    result = live.engine.update(until=END)

    assert not result.refresh.ok
    assert len(live.upstream.calls) == expected_calls  # retries happened, and only for the failing call
    assert state(live.store) == before  # prices, names, snapshots: all untouched
    assert result.snapshots_written == 0 and result.last_snapshot == DAYS[-2]
    logged = live.store.last_fetch("akshare")
    assert logged is not None and not logged.ok and logged.message == result.refresh.message
    assert logged.last_date == DAYS[-2]
    if mentioned:
        assert mentioned in logged.message
    status = live.engine.status(EVENING_OF_END)
    assert status.stale and status.last_error == logged and status.last_data_date == DAYS[-2]


def test_a_failure_after_success_is_still_stale_even_if_data_is_current(live: Live) -> None:
    # the data is complete for the day, but the latest fetch failed: users must be told
    assert live.engine.update(until=END).refresh.ok
    live.upstream.failures["*"] = (500, "busy")
    assert not live.engine.update(until=END).refresh.ok
    status = live.engine.status(EVENING_OF_END)
    assert status.last_data_date == END and status.stale


# -- through the command line, on the real clock --------------------------------------------------
def _write_config(path: Path, db: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "lang": "en",
                "data": {"source": "akshare", "fetch_timeout_s": 7.5, "fetch_retries": 1, "backoff_s": 0},
                "storage": {"path": str(db)},
            }
        ),
        encoding="utf-8",
    )
    return path


def test_report_shows_last_good_data_marked_stale_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(SHANGHAI)
    due = TradingCalendar.default().expected_data_date(now, time(16, 30))
    days = trading_days(due, 200)
    cfg = _write_config(tmp_path / "config.yaml", tmp_path / "live.db")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        upstream = FakeSwUpstream(days=days).install(rsps)

        assert main(["backfill", "--config", str(cfg)]) == 0
        assert main(["report", "--config", str(cfg)]) == 0
        fresh = capsys.readouterr().out
        assert f"Industry differentiation · {due}" in fresh
        assert "stale" not in fresh

        upstream.failures["*"] = requests.exceptions.ConnectTimeout("connect timed out")
        assert main(["report", "--config", str(cfg)]) == 1
        out, err = capsys.readouterr()
        assert f"Industry differentiation · {due}" in out  # the last good snapshot ...
        assert "Data is stale" in out and "ConnectTimeout" in out  # ... marked stale, with the reason
        assert "refresh failed" in err

        assert main(["report", "--config", str(cfg), "--json"]) == 1
        data = json.loads(capsys.readouterr().out)
        assert data["stale"] is True and data["as_of"] == due.isoformat() and data["source"] == "akshare"


@pytest.fixture(scope="module")
def backfilled_cli(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[date], date]:
    """A store backfilled through the CLI up to the trading day before the one now due (real clock)."""
    now = datetime.now(SHANGHAI)
    due = TradingCalendar.default().expected_data_date(now, time(16, 30))
    days = trading_days(due, 200)
    base = tmp_path_factory.mktemp("cli-live")
    cfg = _write_config(base / "config.yaml", base / "live.db")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeSwUpstream(days=days[:-1]).install(rsps)
        assert main(["backfill", "--config", str(cfg)]) == 0
    return base / "live.db", days, due


@pytest.mark.parametrize("name", list(FAILURES))
def test_report_after_each_failure_is_stale_exit_1_and_writes_nothing(
    name: str, backfilled_cli: tuple[Path, list[date], date], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source_db, days, due = backfilled_cli
    db = tmp_path / "live.db"
    with sqlite3.connect(source_db) as src, sqlite3.connect(db) as dst:
        src.backup(dst)  # a consistent copy of a WAL database
    cfg = _write_config(tmp_path / "config.yaml", db)
    store = Store(db)
    before = state(store)
    capsys.readouterr()

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        upstream = FakeSwUpstream(days=days).install(rsps)
        FAILURES[name][0](upstream)
        code = main(["report", "--config", str(cfg)])
    out, err = capsys.readouterr()

    assert code == 1
    assert f"Industry differentiation · {days[-2]}" in out  # the last good snapshot ...
    assert f"Data is stale: the latest data is for {days[-2]}, data for {due} is due" in out  # ... marked
    # the reason in words (a failed fetch or a rejected batch), then the raw message for the operator
    said = ("(the last fetch from the source failed)", "(the last batch failed validation and was not stored)")
    assert any(reason in out for reason in said) and "Detail for admins" in out and "refresh failed" in err
    assert state(store) == before  # nothing stored, no snapshot written
    logged = store.last_fetch("akshare")
    assert logged is not None and not logged.ok


def test_a_partial_first_fetch_stores_nothing(live: Live) -> None:
    live.upstream.days_by_code["801050"] = list(DAYS[:-1])
    result = live.engine.update(until=END)
    assert not result.refresh.ok and "801050" in result.refresh.message
    assert state(live.store)["prices"] == 0 and live.store.snapshot("akshare") is None
    assert live.engine.status(EVENING_OF_END).stale


def test_an_index_whose_history_starts_later_is_accepted(live: Live) -> None:
    # published indices start on different days; from the latest start on, every day must be complete
    live.upstream.days_by_code[LAST_CODE] = list(DAYS[60:])
    result = live.engine.update(until=END)
    assert result.refresh.ok, result.refresh.message
    assert state(live.store)["prices"] == 31 * len(DAYS) - 60
    snaps = live.store.snapshots_between("akshare", DAYS[0], END)
    late_start = DAYS[60]
    for snap in snaps:  # ranked only once its six-month base exists
        assert snap.n_ranked == (31 if snap.base_date >= late_start else 30), snap.as_of
    assert {s.n_ranked for s in snaps} == {30, 31}


def test_a_source_raising_something_unexpected_is_a_failed_refresh_not_a_crash(tmp_path: Path) -> None:
    class BrokenSource:
        name = "broken"
        label = "broken"
        synthetic = False

        def fetch(self, since: date | None, until: date) -> object:
            raise KeyError("收盘")

    store = Store(tmp_path / "b.db")
    engine = Engine(Settings(), store, source=BrokenSource())  # type: ignore[arg-type]
    result = engine.update(date(2025, 2, 14))
    assert not result.refresh.ok
    assert "unexpected KeyError" in result.refresh.message
    assert store.last_price_date("broken") is None
    record = store.last_fetch("broken")
    assert record is not None and not record.ok
    assert engine.status().stale
