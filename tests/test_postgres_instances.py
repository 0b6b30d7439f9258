"""Two instances on one PostgreSQL database behave as one service.

* Two bots (each its own application, scheduler and sender) on one database: the daily job runs on
  both at start-up and when triggered; each subscriber gets the day's alert once.

* Two ``run-daily`` processes started together for the same trading day: one evaluates it, the other
  finds it evaluated; the alert reaches its destination once.
* Two senders drain one outbox; one is killed mid-broadcast; the other carries on, taking over the
  dead one's claims when their leases run out: every message arrives exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from support.alerting_support import SW
from support.bot_harness import BotHarness, db, filled_db, wait_until  # noqa: F401
from support.fakebot import FakeBotAPI
from support.notify_receiver import receiver

from bot.telegram.scheduling import CATCHUP_NAME, daily_job
from jobs.alerting.alert_log import SPREAD_RULE, transitions
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.migrate_store import migrate
from jobs.store.outbox import Outbox

TESTS = Path(__file__).resolve().parent
DAY = date(2025, 2, 14)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS.parent), str(TESTS)])
    return env  # PGPASSWORD comes from the pg_url fixture, as a deployment's environment would give it


def test_two_instances_running_the_daily_job_together_evaluate_the_day_once(pg_url: str, tmp_path: Path) -> None:
    if not SW.exists():
        pytest.skip("shared data not present")
    with receiver() as rx:
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "storage": {"url": pg_url},
                    "data": {"source": f"csv:{SW}"},
                    "notify": {"destinations": [{"name": "desk", "url": rx.url(path="alerts"), "lang": "en"}]},
                }
            ),
            encoding="utf-8",
        )
        cmd = [sys.executable, "-m", "bot.cli", "run-daily", "--config", str(config), "--as-of", "2025-02-14"]
        procs = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
        procs.append(subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, out + err
    lines = [next(line for line in out.splitlines() if line.startswith("run-daily")) for out, _ in outs]
    outcomes = sorted(line.split(": ")[1].split(" - ")[0] for line in lines)
    assert outcomes == ["evaluated", "up_to_date"], lines  # one ran the day, the other found it done
    (body,) = rx.bodies  # one alert, from whichever instance sent it
    message = json.loads(body)["message"]
    assert "54.0%" in message and "P94" in message
    store = Store(pg_url)
    assert int(store.connect().execute("SELECT COUNT(*) FROM alert_log").fetchone()[0]) == 1
    assert [r.status for r in Outbox(store).rows()] == ["sent"]
    store.close_all()


def test_an_instance_killed_mid_broadcast_loses_nothing_and_sends_nothing_twice(pg_url: str) -> None:
    store = Store(pg_url)
    box = Outbox(store)
    chats = list(range(1, 121))
    with store.transaction() as conn:
        for c in chats:
            box.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=c, parts=[f"fire for {c}"])
    lease = 1.0
    with FakeBotAPI() as fake:
        # two instances, each at half of Telegram's rate: together within the 30 msg/s limit
        cmd = [sys.executable, str(TESTS / "support" / "outbox_worker.py"), pg_url, fake.base_url, str(lease), "14"]
        doomed = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        survivor = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: len(fake.sent()) >= 40)
            # Telegram stops answering (connections drop), so nothing either instance is sending now can
            # have been delivered; once every accepted message is marked, kill one instance mid-broadcast
            fake.fail("sendMessage", "drop", times=None)
            time.sleep(0.3)
            wait_until(lambda: box.counts()["sent"] == len(fake.sent()), timeout=10)
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=10)
            assert box.counts()["sent"] < len(chats)
            fake.clear_failures()
            _, err = survivor.communicate(timeout=120)
        finally:
            for p in (doomed, survivor):
                if p.poll() is None:
                    p.kill()
                    p.wait()
        assert doomed.returncode == -signal.SIGKILL
        assert survivor.returncode == 0, err
        counts: dict[int, int] = {}
        for call in fake.sent(method="sendMessage"):
            assert call.chat_id is not None
            counts[call.chat_id] = counts.get(call.chat_id, 0) + 1
    assert counts == dict.fromkeys(chats, 1)
    assert box.counts()["sent"] == len(chats)
    store.close_all()


def test_two_bots_on_one_database_send_each_subscriber_the_days_alert_once(db: Path, pg_url: str) -> None:  # noqa: F811
    migrate(Store(db), Store(pg_url))  # the filled store, moved to PostgreSQL as an operator would
    store = Store(pg_url)
    subscribers = (501, 502, 503)
    for chat_id in subscribers:
        ChatRepo(store).ensure(chat_id)
        ChatRepo(store).update(chat_id, subscribed=True, lang="en")
    # 18:00 in Shanghai on 2025-02-14, a P94 day: every subscriber's alert fires
    clock = lambda: datetime(2025, 2, 14, 10, 0, tzinfo=UTC)  # noqa: E731
    sections = {"storage": {"url": pg_url}, "ops": {"listen": "127.0.0.1:0"}}
    bots = [BotHarness(db, clock=clock, sections=sections) for _ in range(2)]
    try:
        for harness in bots:
            harness.start()
        for harness in bots:  # both fire at once (each also runs its start-up catch-up)
            harness.application.job_queue.run_once(daily_job, 0.01, name=CATCHUP_NAME)
        wait_until(lambda: all(h.application.bot_data.last_daily is not None for h in bots))
        wait_until(lambda: all(_sent(bots, c) for c in subscribers), timeout=30)
        for harness in bots:
            harness.fake.wait_idle(quiet=0.5)
        assert {c: _sent(bots, c) for c in subscribers} == dict.fromkeys(subscribers, 1)
        for chat_id in subscribers:
            assert [e.kind for e in transitions(store, SPREAD_RULE, chat_id)] == ["fire"]
        for harness in bots:  # each instance's /healthz checks the shared database
            port = harness.application.bot_data.ops_server.port
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
                assert (answer.status, answer.read()) == (200, b"ok\n")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
                assert b"spreadwatch_outbox_rows" in answer.read()
    finally:
        for harness in bots:
            harness.stop()
    store.close_all()


def _sent(bots: list[BotHarness], chat_id: int) -> int:
    return sum(len(h.fake.sent(chat_id=chat_id, method="sendMessage")) for h in bots)


def test_two_instances_refreshing_one_database_store_what_one_refresh_stores(pg_url: str, tmp_path: Path) -> None:
    """Refreshes are serialised across instances (the ``refresh`` advisory lock): two backfills at once
    leave the prices and snapshots one backfill leaves, and the second finds nothing newer."""
    if not SW.exists():
        pytest.skip("shared data not present")
    csv = tmp_path / "sw.csv"
    rows = pd.read_csv(SW, dtype={"code": str, "name": str})
    rows[rows["date"] >= "2023-01-01"].to_csv(csv, index=False)
    cmd = [sys.executable, "-m", "bot.cli", "backfill", "--source", f"csv:{csv}", "--db"]
    procs = [
        subprocess.Popen([*cmd, pg_url], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    single = tmp_path / "single.db"
    assert subprocess.run([*cmd, str(single)], env=_env(), capture_output=True, timeout=180).returncode == 0

    def dump(target: str | Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        store = Store(target)
        conn = store.connect()
        prices = conn.execute("SELECT code, date, close FROM prices ORDER BY code, date").fetchall()
        snaps = conn.execute("SELECT date, spread, percentile, n_ranked FROM snapshots ORDER BY date").fetchall()
        out = [tuple(r) for r in prices], [tuple(r) for r in snaps]
        store.close_all()
        return out

    shared = dump(pg_url)
    assert shared == dump(single) and len(shared[0]) > 10_000
    store = Store(pg_url)
    assert [r[0] for r in store.connect().execute("SELECT ok FROM fetch_log WHERE kind = 'prices'")] == [1, 1]
    store.close_all()


def test_two_instances_evaluating_the_regimes_of_a_day_do_it_once(db: Path, pg_url: str) -> None:  # noqa: F811
    """The regimes job follows the daily job on every instance; the ``regimes`` lock lets one evaluate
    the day, and the other, once it has the lock, finds it done: each scenario alert is queued once."""
    import csv
    import threading

    from jobs.alerting.daily import last_evaluated_key
    from jobs.alerting.regime_alerts import run_regimes_if_due
    from jobs.alerting.services import Services
    from jobs.config.settings import parse_settings
    from jobs.engine.pipeline import Engine
    from jobs.regimes.repo import RegimeRepo

    pmi = SW.parent / "cn_pmi_monthly.csv"
    if not pmi.exists():
        pytest.skip("shared data not present")
    migrate(Store(db), Store(pg_url))
    setup = Store(pg_url)
    for chat_id in (11, 12):
        ChatRepo(setup).ensure(chat_id)
        ChatRepo(setup).update(chat_id, subscribed=True, lang="en")
    with pmi.open(encoding="utf-8") as f:
        points = [(date.fromisoformat(r["month"] + "-01"), float(r["pmi"])) for r in csv.DictReader(f)]
    RegimeRepo(setup).save_series("pmi", points)
    source = f"csv:{SW}"
    key = last_evaluated_key(source)
    setup.set_meta(key, "2025-02-14")  # the daily job evaluated a P94 day with January's PMI below 50
    settings = parse_settings({"data": {"source": source}, "storage": {"url": pg_url}})
    instances = []
    for _ in range(2):
        store = Store(pg_url)
        instances.append(
            Services(settings=settings, store=store, engine=Engine(settings, store), chats=ChatRepo(store))
        )
    runs: list[Any] = []
    threads = [threading.Thread(target=lambda s=s: runs.append(run_regimes_if_due(s, key))) for s in instances]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    done = [r for r in runs if r is not None]
    assert len(runs) == 2 and len(done) == 1, runs  # one evaluated the day; the other found it done
    rows = Outbox(setup).rows()
    assert len(rows) == done[0].queued == 4  # macro and composite fire, for each of the two chats
    assert len({(r.rule_id, r.chat_id) for r in rows}) == 4
    for services in instances:
        services.store.close_all()
    setup.close_all()
