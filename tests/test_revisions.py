"""Restated closes are taken in: a refresh re-reads an overlap of the past (the whole CSV when its stamp
changed; the last ``data.revision_window_days`` from akshare), replaces what changed (the old values kept
in ``price_revisions``), recomputes the snapshots from the earliest changed day, and tells the admins
once per revision batch. The store ends up as a fresh one built from the same data."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import responses
import yaml
from support.akshare_payloads import FakeSwUpstream, close_on, trading_days
from support.alerting_support import evening, make_settings, subscribe

from bot.cli.main import main
from jobs.alerting.alert_log import SPREAD_RULE, transitions
from jobs.alerting.daily import run_daily
from jobs.alerting.revision_notices import announce_revisions
from jobs.alerting.services import Services
from jobs.config.settings import Settings, parse_settings
from jobs.engine.backtest import load_backtest
from jobs.engine.pipeline import Engine
from jobs.engine.rules import RuleParams
from jobs.market.sources.base import SW2021_L1
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

DAY = date(2025, 2, 14)
COMPUTER = "801750"
STORED_CLOSE = 5273.09  # 计算机 on 2025-02-14 in sw_l1_daily.csv
RESTATED = round(STORED_CLOSE * 1.2, 4)  # +20 %: a move from the day before still within max_daily_move


def restate(csv: Path, day: date, code: str, close: float) -> None:
    """Rewrite one close of a long CSV in place, with a stamp of its own (coarse file times)."""
    lines = csv.read_text(encoding="utf-8").splitlines()
    prefix = f"{day.isoformat()},{code},"
    hits = [i for i, line in enumerate(lines) if line.startswith(prefix)]
    assert len(hits) == 1, f"{prefix} in {csv}"
    fields = lines[hits[0]].split(",")
    fields[3] = f"{close:.4f}"
    lines[hits[0]] = ",".join(fields)
    stat = csv.stat()
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.utime(csv, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def report_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["report", *args, "--as-of", DAY.isoformat(), "--json"]) == 0
    payload: dict[str, Any] = json.loads(capsys.readouterr().out)
    return payload


def snapshot_rows(db: Path) -> list[tuple[Any, ...]]:
    """Every stored figure of every day (not when it was computed)."""
    store = Store(db)
    try:
        rows = store.connect().execute(
            """SELECT date, spread, percentile, top_avg, bottom_avg, n_ranked, history_days, history_rank,
                      base_date, gains_json FROM snapshots ORDER BY date"""
        )
        return [tuple(r) for r in rows.fetchall()]
    finally:
        store.close()


def computed_before(store: Store, day: date) -> list[tuple[str, str]]:
    """When each snapshot before ``day`` was computed."""
    rows = store.connect().execute(
        "SELECT date, computed_at FROM snapshots WHERE date < ? ORDER BY date", (day.isoformat(),)
    )
    return [tuple(r) for r in rows.fetchall()]


def outbox_rows(store: Store) -> list[Any]:
    return store.connect().execute("SELECT * FROM outbox WHERE rule_id = 'data' ORDER BY chat_id").fetchall()


def test_a_restated_csv_close_gives_the_figures_of_a_fresh_store_and_tells_each_admin_once(
    sw_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "sw.csv"
    shutil.copyfile(sw_csv, csv)
    db = tmp_path / "kept.db"
    config = tmp_path / "config.yaml"
    raw = {"data": {"source": f"csv:{csv}"}, "storage": {"path": str(db)}, "telegram": {"admins": [111, 222]}}
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    store = Store(db)
    ChatRepo(store).ensure(222)
    ChatRepo(store).update(222, lang="en")
    store.close()

    assert report_json(capsys, "--config", str(config))["spread"] == 53.9901
    before = Store(db)
    untouched_at = computed_before(before, DAY)
    latest = before.snapshot(f"csv:{csv}")
    before.close()
    assert latest is not None and latest.as_of > DAY

    restate(csv, DAY, COMPUTER, RESTATED)
    capsys.readouterr()
    assert main(["report", "--config", str(config), "--as-of", DAY.isoformat()]) == 0
    assert "warning: the source restated 1 stored close(s) from 2025-02-14;" in capsys.readouterr().err
    revised = report_json(capsys, "--config", str(config))
    fresh = report_json(capsys, "--source", f"csv:{csv}", "--db", str(tmp_path / "fresh.db"))
    assert revised == fresh and revised["spread"] == 61.1462 and not revised["stale"]
    assert snapshot_rows(db) == snapshot_rows(tmp_path / "fresh.db")

    store = Store(db)
    source = f"csv:{csv}"
    assert computed_before(store, DAY) == untouched_at  # only the snapshots from the restated day on are new
    audit = store.connect().execute("SELECT * FROM price_revisions").fetchall()
    assert [(r["code"], r["date"], r["old_close"], r["new_close"]) for r in audit] == [
        (COMPUTER, DAY.isoformat(), STORED_CLOSE, RESTATED)
    ]
    assert audit[0]["revised_at"]  # when it was taken in
    [batch] = store.revision_batches(source)
    assert batch.latest_day == latest.as_of and batch.spread_before == latest.spread and batch.id is not None

    notices = outbox_rows(store)
    assert [(r["chat_id"], r["kind"], r["status"]) for r in notices] == [
        (111, f"revised:{batch.id}", "pending"),
        (222, f"revised:{batch.id}", "pending"),
    ]
    zh, en = notices[0]["text"], notices[1]["text"]
    assert "数据修订 · 2025-02-14" in zh and "2025-02-14 计算机（801750）：5,273.09 → 6,327.71（+20.00%）" in zh
    assert "Data revised · 2025-02-14" in en and "2025-02-14 Computer (801750): 5,273.09 → 6,327.71 (+20.00%)" in en
    assert f"Spread on {latest.as_of}: {latest.spread:,.2f}% → " in en
    store.close()

    # the next refresh finds nothing new: no second notice, no second audit row
    assert report_json(capsys, "--config", str(config)) == revised
    store = Store(db)
    assert len(outbox_rows(store)) == 2
    assert store.connect().execute("SELECT COUNT(*) FROM price_revisions").fetchone()[0] == 1
    assert load_backtest(store, source, RuleParams()).revised_from == DAY
    store.close()

    # exports say from which day the data was revised
    capsys.readouterr()
    assert main(["export", "--config", str(config), "--csv", str(tmp_path / "h.csv")]) == 0
    assert "revised data: the source restated closes from 2025-02-14 on" in capsys.readouterr().out


def test_past_alert_transitions_stay_as_recorded_and_the_notice_gives_the_days_spread_change(
    sw_csv: Path, tmp_path: Path
) -> None:
    csv = tmp_path / "sw.csv"
    lines = sw_csv.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not line[0].isdigit() or line[:10] <= DAY.isoformat()]  # up to DAY
    csv.write_text("\n".join(kept) + "\n", encoding="utf-8")
    settings = make_settings(tmp_path / "s.db", data={"source": f"csv:{csv}"})
    store = Store(settings.storage.path)
    engine = Engine(settings, store, announce_revisions=announce_revisions)
    services = Services(settings=settings, store=store, engine=engine, chats=ChatRepo(store))
    subscribe(services, 1, "en")

    first = run_daily(services, as_of=DAY, now=evening(DAY))
    assert first.outcome == "evaluated" and first.transitions == 1
    recorded = [(e.day, e.kind, e.inputs) for e in transitions(store, SPREAD_RULE)]

    restate(csv, DAY, COMPUTER, RESTATED)
    again = run_daily(services, as_of=DAY, now=evening(DAY, 18))
    assert again.outcome == "up_to_date" and again.transitions == 0
    snap = store.snapshot(engine.source.name, DAY)
    assert snap is not None and round(snap.spread, 4) == 61.1462
    # what was sent on 2025-02-14 was right on what was known then: the log keeps it
    assert [(e.day, e.kind, e.inputs) for e in transitions(store, SPREAD_RULE)] == recorded
    [notice] = outbox_rows(store)
    assert notice["chat_id"] == 9001 and "2025-02-14 的分化度：53.99% → <b>61.15%</b>（P94 → P" in notice["text"]
    store.close()


# -- akshare: the last revision_window_days again ------------------------------------------------------

END = date(2025, 6, 30)
DAYS = trading_days(END, 200)


def live_settings(db: Path, **data: object) -> Settings:
    raw = {
        "data": {"source": "akshare", "fetch_timeout_s": 7.5, "fetch_retries": 0, "backoff_s": 0, **data},
        "storage": {"path": str(db)},
        "telegram": {"admins": [7]},
    }
    return parse_settings(raw)


@pytest.fixture
def upstream() -> Iterator[FakeSwUpstream]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeSwUpstream(days=list(DAYS)).install(rsps)


def series(store: Store) -> pd.DataFrame:
    return store.spread_series("akshare")


def fresh_series(tmp_path: Path, name: str) -> pd.DataFrame:
    store = Store(tmp_path / f"{name}.db")
    assert Engine(live_settings(tmp_path / f"{name}.db"), store).update(until=END).refresh.ok
    try:
        return series(store)
    finally:
        store.close()


def test_akshare_restating_a_close_within_the_window_is_taken_in(upstream: FakeSwUpstream, tmp_path: Path) -> None:
    settings = live_settings(tmp_path / "live.db")
    store = Store(settings.storage.path)
    engine = Engine(settings, store, announce_revisions=announce_revisions)
    assert engine.update(until=END).refresh.ok
    store.load_prices("akshare", "amount")  # both cached frames must follow the restated rows
    day = DAYS[-5]
    old = close_on(COMPUTER, day)
    upstream.closes = {COMPUTER: {day: round(old * 1.03, 2)}}

    result = engine.update(until=END)

    assert result.refresh.ok and result.refresh.revision is not None
    assert [(r.code, r.day, r.old_close, r.new_close) for r in result.refresh.revision.revisions] == [
        (COMPUTER, day, old, round(old * 1.03, 2))
    ]
    assert "1 close(s) of stored days restated from" in result.refresh.message
    assert result.snapshots_written == 5  # the restated day and the four after it
    pd.testing.assert_frame_equal(series(store), fresh_series(tmp_path, "fresh"))
    reopened = Store(settings.storage.path)
    for column in ("close", "amount"):
        pd.testing.assert_frame_equal(store.load_prices("akshare", column), reopened.load_prices("akshare", column))
    reopened.close()
    assert store.price_date_back("akshare", 20) == DAYS[-21]
    [notice] = outbox_rows(store)
    assert notice["chat_id"] == 7 and f"{day} 计算机（801750）" in notice["text"]
    revised = engine.status().revised
    assert revised is not None and revised.first_day == day
    store.close()


def test_akshare_restatements_older_than_the_window_wait_for_a_wider_one(
    upstream: FakeSwUpstream, tmp_path: Path
) -> None:
    db = tmp_path / "live.db"
    store = Store(db)
    assert Engine(live_settings(db), store).update(until=END).refresh.ok
    before = series(store)
    day = DAYS[-21]  # one trading day before the last 20
    upstream.closes = {"801010": {day: round(close_on("801010", day) * 0.98, 2)}}

    assert Engine(live_settings(db), store).update(until=END).refresh.revision is None
    assert Engine(live_settings(db, revision_window_days=0), store).update(until=END).refresh.revision is None
    pd.testing.assert_frame_equal(series(store), before)

    wider = Engine(live_settings(db, revision_window_days=21), store).update(until=END)
    assert wider.refresh.revision is not None and wider.refresh.revision.first_day == day
    pd.testing.assert_frame_equal(series(store), fresh_series(tmp_path, "fresh"))
    store.close()


def test_a_restatement_that_fails_validation_is_rejected_and_nothing_changes(
    upstream: FakeSwUpstream, tmp_path: Path
) -> None:
    db = tmp_path / "live.db"
    store = Store(db)
    engine = Engine(live_settings(db), store, announce_revisions=announce_revisions)
    assert engine.update(until=END).refresh.ok
    before = (store.load_prices("akshare"), series(store))
    day = DAYS[-3]
    upstream.closes = {COMPUTER: {day: round(close_on(COMPUTER, day) * 1.5, 2)}}  # beyond max_daily_move

    result = engine.update(until=END)

    assert not result.refresh.ok and "batch rejected" in result.refresh.message and COMPUTER in result.refresh.message
    pd.testing.assert_frame_equal(Store(db).load_prices("akshare"), before[0])
    pd.testing.assert_frame_equal(series(store), before[1])
    assert store.revision_batches("akshare") == [] and outbox_rows(store) == []
    store.close()


# -- PostgreSQL ------------------------------------------------------------------------------------------


def small_csv(path: Path, days: list[date], codes: list[str], override: dict[tuple[str, date], float]) -> None:
    lines = ["date,code,name,close"]
    for d in days:
        for c in codes:
            lines.append(f"{d},{c},{SW2021_L1[c]},{override.get((c, d), close_on(c, d)):.2f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_revisions_on_postgresql(pg_url: str, tmp_path: Path, make_pg_url: Callable[[], str]) -> None:
    days = trading_days(END, 180)
    codes = list(SW2021_L1)[:12]
    csv = tmp_path / "small.csv"
    small_csv(csv, days, codes, {})

    def engine_on(url: str) -> Engine:
        settings = parse_settings(
            {"data": {"source": f"csv:{csv}"}, "storage": {"url": url}, "telegram": {"admins": [5]}}
        )
        return Engine(settings, Store(url), announce_revisions=announce_revisions)

    engine = engine_on(pg_url)
    assert engine.update(until=END).refresh.ok
    day = days[-30]
    restated = round(close_on(codes[0], day) * 1.05, 2)
    small_csv(csv, days, codes, {(codes[0], day): restated})
    os.utime(csv, ns=(1, 1))

    result = engine.update(until=END)

    assert result.refresh.revision is not None
    [batch] = engine.store.revision_batches(engine.source.name)
    assert [(r.code, r.day, r.new_close) for r in batch.revisions] == [(codes[0], day, restated)]
    [notice] = Outbox(engine.store).due(limit=10)
    assert notice.chat_id == 5 and notice.kind == f"revised:{batch.id}"
    assert engine.store.revision_batches(engine.source.name, unannounced=True) == []
    fresh = engine_on(make_pg_url())
    assert fresh.update(until=END).refresh.ok
    pd.testing.assert_frame_equal(
        engine.store.spread_series(engine.source.name), fresh.store.spread_series(fresh.source.name)
    )
    engine.store.close()
    fresh.store.close()
