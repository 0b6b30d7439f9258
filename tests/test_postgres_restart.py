"""A PostgreSQL server that restarts under a running command: the store waits for it (reconnecting with
backoff for up to a minute) instead of ending the command with a configuration hint; run-daily goes on
with its broadcast, one copy per chat; a server that does not come back is "the database server went
away", one line, exit 4."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support.alerting_support import TOKEN
from support.cli_support import REPO, write_config, write_csv
from support.fakebot import FakeBotAPI
from support.pgcluster import ThrowawayCluster

from jobs.store import db_postgres
from jobs.store.datastore import Store
from jobs.store.db import StoreError
from jobs.store.outbox import Outbox

DAY = date(2025, 2, 14)
TOKEN_ENV = "SW_PG_RESTART_TOKEN"


def restart_later(cluster: ThrowawayCluster, down_s: float) -> threading.Thread:
    """Stop the server now (sessions ended, as a restart does) and start it again ``down_s`` later."""
    cluster.halt()
    thread = threading.Thread(target=lambda: (time.sleep(down_s), cluster.resume()), daemon=True)
    thread.start()
    return thread


def test_a_store_waits_for_a_restarting_server_reads_and_writes(pg_cluster: ThrowawayCluster, pg_url: str) -> None:
    store = Store(pg_url)
    outbox = Outbox(store)
    with store.transaction() as conn:
        outbox.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=1, parts=["x"])
    back = restart_later(pg_cluster, down_s=1.5)
    try:
        assert outbox.counts()["pending"] == 1  # the read waits for the server, then runs on a new connection
        (row,) = outbox.due()
        assert outbox.claim(row.id, "w", 60) is not None  # a transaction too
    finally:
        back.join(timeout=60)
        if not pg_cluster.running:
            pg_cluster.resume()
    store.close_all()


def test_a_server_that_does_not_come_back_is_named_as_gone_not_as_a_configuration_problem(
    pg_cluster: ThrowawayCluster, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_postgres, "RECONNECT_PATIENCE_S", 1.0)  # a minute in the service
    store = Store(pg_url)
    store.set_meta("k", "v")
    pg_cluster.halt()
    try:
        with pytest.raises(StoreError) as failed:
            store.get_meta("k")
    finally:
        pg_cluster.resume()
    message = str(failed.value)
    assert message.startswith("the database server went away:") and "did not come back within 1 s" in message
    assert "password" not in message and "\n" not in message
    store.close_all()


def test_an_ended_session_reported_by_the_command_line_says_the_server_went_away(pg_url: str) -> None:
    error = db_postgres.PostgresDatabase(pg_url).error(
        psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    )
    assert str(error).startswith("the database server went away:") and "password" not in str(error)


def copies(fake: FakeBotAPI) -> dict[int, int]:
    out: dict[int, int] = {}
    for call in fake.sent(method="sendMessage"):
        assert call.chat_id is not None
        out[call.chat_id] = out.get(call.chat_id, 0) + 1
    return out


def test_run_daily_survives_a_restart_of_the_database_server_mid_broadcast(
    pg_cluster: ThrowawayCluster, pg_url: str, tmp_path: Path
) -> None:
    prices = write_csv(tmp_path / "prices.csv", date(2023, 6, 1), DAY)
    with FakeBotAPI() as fake:
        config = write_config(
            tmp_path / "config.yaml",
            lang="en",
            data={"source": f"csv:{prices}"},
            storage={"url": pg_url},
            telegram={"token_env": TOKEN_ENV, "base_url": fake.base_url},
        )
        env: dict[str, Any] = {**os.environ, "PYTHONPATH": str(REPO), TOKEN_ENV: TOKEN}
        argv = [sys.executable, "-m", "bot.cli", "run-daily", "--config", str(config), "--as-of", DAY.isoformat()]
        first = subprocess.run(argv, cwd=tmp_path, env={**env, TOKEN_ENV: ""}, capture_output=True, text=True)
        assert first.returncode == 0, first.stderr
        chats = list(range(1, 121))
        store = Store(pg_url)
        with store.transaction() as conn:
            for c in chats:
                Outbox(store).enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=c, parts=["x"])
        store.close_all()
        fake.fail("sendMessage", "delay", times=None, retry_after=0.2)
        proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        back: threading.Thread | None = None
        try:
            deadline = time.monotonic() + 60
            while len(fake.sent()) < 30 and time.monotonic() < deadline:
                time.sleep(0.02)
            back = restart_later(pg_cluster, down_s=3.0)
            out, err = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            if back is not None:
                back.join(timeout=60)
            if not pg_cluster.running:
                pg_cluster.resume()
        assert proc.returncode == 0, out + err
        assert "Traceback" not in err and "password" not in err
        assert "answers again" in err, err  # it did lose the server mid-broadcast, and waited for it
        assert copies(fake) == dict.fromkeys(chats, 1)
    store = Store(pg_url)
    assert Outbox(store).counts()["sent"] == len(chats)
    store.close_all()
