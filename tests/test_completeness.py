"""A day is complete or it is not used; two refreshes of one store take turns; after the calendar's end.

Real Shenwan data: the CSV's last day (2026-06-02) without 通信, the leader, must not give a spread over
30 industries (42.9, P81 instead of 54.2, P93): a false "resolve" for every subscriber.
"""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
import responses
from conftest import SW_CSV
from support.bot_harness import filled_db  # noqa: F401  (the real CSV's store, built once per test run)

from bot.cli.main import main
from jobs.alerting.cycle import run_cycle
from jobs.alerting.daily import run_daily
from jobs.alerting.recipients import DATA_RULE
from jobs.alerting.services import Services
from jobs.config.settings import parse_settings
from jobs.market.calendar import TradingCalendar, shipped_trading_days
from jobs.market.sources.sample import synthetic_frame
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

LAST = "2026-06-02"
TELECOM = "801770"


@pytest.fixture(scope="module")
def sw_rows() -> pd.DataFrame:
    if not SW_CSV.exists():
        pytest.skip("shared data not present")
    return pd.read_csv(SW_CSV, dtype={"code": str, "name": str})


def _report(csv: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    code = main(["report", "--source", f"csv:{csv}", "--db", str(db), "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_a_csv_missing_the_leader_on_its_last_day_never_gives_a_smaller_spread(
    sw_rows: pd.DataFrame, filled_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv, db = tmp_path / "sw.csv", tmp_path / "s.db"
    lacking = sw_rows[~((sw_rows["date"] == LAST) & (sw_rows["code"] == TELECOM))]
    lacking.to_csv(csv, index=False)

    code, shown, err = _report(csv, db, capsys)
    assert code == 1  # as for a stale refresh
    assert shown["as_of"] == "2026-06-01" and shown["stale"] is True
    assert shown["incomplete"] == {"date": LAST, "missing": [{"code": TELECOM, "name": "通信"}]}
    assert f"{LAST} is incomplete, no close for 通信 ({TELECOM})" in err and "Traceback" not in err
    store = Store(db)
    assert store.last_snapshot_date(f"csv:{csv}") == date(2026, 6, 1)  # no 30-industry day was stored

    # the missing close arrives later: the day is picked up, complete, with the leader ranked
    sw_rows.to_csv(csv, index=False)
    code, shown, _ = _report(csv, db, capsys)
    assert code == 0 and shown["as_of"] == LAST and shown["incomplete"] is None
    assert shown["top"][0]["name"] == "通信"
    # the whole CSV's store, as `spreadwatch backfill` fills it (built once per test run)
    shutil.copyfile(filled_db, tmp_path / "w.db")
    reference = Store(tmp_path / "w.db").snapshot(f"csv:{SW_CSV}")
    assert reference is not None and reference.as_of == date(2026, 6, 2)
    assert shown["spread"] == pytest.approx(reference.spread, abs=1e-4) and reference.spread > 54
    assert shown["percentile"] == pytest.approx(reference.percentile, abs=1e-2) and reference.percentile > 92.5  # P93


def test_two_processes_refreshing_one_store_both_end_well(sw_rows: pd.DataFrame, tmp_path: Path) -> None:
    csv = tmp_path / "sw.csv"
    sw_rows[sw_rows["date"] >= "2018-01-01"].to_csv(csv, index=False)
    db = tmp_path / "shared.db"
    cmd = [sys.executable, "-m", "bot.cli", "backfill", "--source", f"csv:{csv}", "--db", str(db)]
    # the same store a single refresh makes: built meanwhile, in a file of its own
    single = tmp_path / "single.db"
    alone = subprocess.Popen([*cmd[:-1], str(single)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert all("Traceback" not in err and "FAILED" not in out for out, err in results)
    alone_err = alone.communicate(timeout=300)[1]
    assert alone.returncode == 0, alone_err

    def dump(path: Path) -> tuple[list[tuple], list[tuple]]:  # type: ignore[type-arg]
        conn = Store(path).connect()
        prices = conn.execute("SELECT code, date, close FROM prices ORDER BY code, date").fetchall()
        snaps = conn.execute("SELECT date, spread, percentile, n_ranked FROM snapshots ORDER BY date").fetchall()
        return [tuple(r) for r in prices], [tuple(r) for r in snaps]

    assert dump(db) == dump(single)
    ok = [r for r in Store(db).connect().execute("SELECT ok FROM fetch_log WHERE kind = 'prices'")]
    assert [r[0] for r in ok] == [1, 1]  # the second found nothing newer: up to date, not a failure


# -- after the calendar's end ---------------------------------------------------------------------
END = date(2026, 12, 31)


@pytest.fixture(scope="module")
def through_2026(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A CSV complete through 2026-12-31 and a calendar file ending that day (chosen here, not by akshare)."""
    folder = tmp_path_factory.mktemp("y2027")
    days = [d for d in shipped_trading_days() if d <= END]
    calendar_file = folder / "calendar.txt"
    calendar_file.write_text("\n".join(d.isoformat() for d in days) + "\n", encoding="utf-8")
    rows = synthetic_frame(END, TradingCalendar(days))
    rows = rows[rows["date"] >= date(2016, 1, 1)]
    csv = folder / "prices.csv"
    rows[["date", "code", "name", "close"]].to_csv(csv, index=False)
    return csv, calendar_file


def _services(tmp_path: Path, csv: Path, calendar_file: Path) -> Services:
    raw = {
        "data": {"source": f"csv:{csv}", "calendar_file": str(calendar_file), "fetch_retries": 0, "backoff_s": 0},
        "storage": {"path": str(tmp_path / "s.db")},
        "telegram": {"admins": [4242]},
        "alerts": {"min_history_days": 0},
    }
    return Services.build(parse_settings(raw, "test"))


def _shanghai(y: int, m: int, d: int, hour: int) -> datetime:
    return datetime(y, m, d, hour - 8, 0, tzinfo=UTC)


@responses.activate  # no network: every request fails, as when the live calendar cannot be reached
def test_new_years_day_2027_is_no_missing_day_and_unknown_days_notify_once(
    through_2026: tuple[Path, Path], tmp_path: Path
) -> None:
    csv, calendar_file = through_2026
    services = _services(tmp_path, csv, calendar_file)
    outbox = Outbox(services.store)
    services.chats.ensure(7)
    services.chats.update(7, subscribed=True, lang="en")

    first = run_daily(services, now=_shanghai(2027, 1, 1, 21))  # a holiday evening, past the cut-off
    assert (first.outcome, first.target) == ("evaluated", END)
    holiday = run_daily(services, now=_shanghai(2027, 1, 1, 22))
    assert holiday.outcome == "up_to_date" and holiday.queued == 0
    assert [r for r in outbox.rows() if r.rule_id == DATA_RULE] == []
    assert not services.engine.status(_shanghai(2027, 1, 1, 22)).stale

    # Monday 4 January: presumed a trading day, no data by the cut-off: unknown, one calendar notice
    for day in (4, 5, 6):
        result = run_daily(services, now=_shanghai(2027, 1, day, 22))
        assert result.outcome == "unknown" and not result.retry, result.message
        status = services.engine.status(_shanghai(2027, 1, day, 22))
        assert not status.stale and status.expected_date == END and status.unconfirmed_date == date(2027, 1, day)
    notices = [r for r in outbox.rows() if r.rule_id == DATA_RULE]
    assert [(r.kind, r.day, r.chat_id) for r in notices] == [("calendar_unknown", END, 4242)]
    # after more presumed days without data than any holiday has, the data is due: stale and missing
    late = run_daily(services, now=_shanghai(2027, 1, 13, 22))
    assert late.outcome == "missing"
    assert services.engine.status(_shanghai(2027, 1, 13, 22)).stale


@responses.activate
def test_run_daily_as_of_new_years_day_reports_no_missing_day(through_2026: tuple[Path, Path], tmp_path: Path) -> None:
    """`run-daily --as-of 2027-01-01` on that evening: its daily cycle, with the clock fixed there (the
    command itself refuses an --as-of after today's real date)."""
    csv, calendar_file = through_2026
    services = _services(tmp_path, csv, calendar_file)
    cycle = run_cycle(services, as_of=date(2027, 1, 1), now=_shanghai(2027, 1, 1, 22))
    assert (cycle.daily.outcome, cycle.daily.target) == ("evaluated", END), cycle.daily.message
    assert cycle.calendar is not None and not cycle.calendar.ok  # run-daily refreshes the calendar too (no network)
    kinds = {r.kind for r in Outbox(Store(tmp_path / "s.db")).rows() if r.rule_id == DATA_RULE}
    assert kinds <= {"calendar_refresh_failed"}  # at most the one notice that the calendar needs a refresh


def test_the_suite_never_reaches_the_internet() -> None:
    import requests

    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get("https://finance.sina.com.cn/realstock/company/klc_td_sh.txt", timeout=5)
