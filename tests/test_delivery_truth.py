"""What run-daily and the bot say about delivery is true: a crash and a rerun never end in exit 0 with a
message unsent (rows under a dead sender's lease are reported, and waited out when ``--wait`` covers the
lease), and SIGTERM mid-broadcast stops both within seconds with nothing lost and nothing sent twice.

Every command here is a real process talking to the fake Bot API; the only time measured is the
shutdown, against a generous bound (the requirement is 10 s; the unit's ``TimeoutStopSec`` is 60)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support.alerting_support import TOKEN
from support.cli_support import REPO, write_config, write_csv
from support.fakebot import FakeBotAPI

from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

DAY = date(2025, 2, 14)
TOKEN_ENV = "SW_TRUTH_TOKEN"
TZ = "Asia/Shanghai"


@dataclass
class Setup:
    config: Path
    db: Path
    cwd: Path


@pytest.fixture
def fake() -> Any:
    with FakeBotAPI() as api:
        yield api


@pytest.fixture
def setup(tmp_path: Path, fake: FakeBotAPI) -> Setup:
    """A store whose day is evaluated already (later runs find it up to date) and a config for the fake."""
    prices = write_csv(tmp_path / "prices.csv", date(2023, 6, 1), DAY)
    db = tmp_path / "sw.db"
    config = write_config(
        tmp_path / "config.yaml",
        lang="en",
        data={"source": f"csv:{prices}"},
        storage={"path": str(db)},
        schedule={"timezone": TZ},
        telegram={"token_env": TOKEN_ENV, "base_url": fake.base_url, "base_file_url": fake.base_file_url},
    )
    first = command("run-daily", "--config", str(config), "--as-of", DAY.isoformat(), cwd=tmp_path, token=False)
    assert first.returncode == 0, first.stderr
    return Setup(config, db, tmp_path)


def env(token: bool = True) -> dict[str, str]:
    out = {**os.environ, "PYTHONPATH": str(REPO)}
    out.pop(TOKEN_ENV, None)
    if token:
        out[TOKEN_ENV] = TOKEN
    return out


def command(*args: str, cwd: Path, token: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env(token), capture_output=True, text=True, timeout=300
    )


def start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def queue(db: Path, chats: list[int]) -> None:
    store = Store(db)
    outbox = Outbox(store)
    with store.transaction() as conn:
        for c in chats:
            outbox.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=c, parts=[f"fire for {c}"])


def copies(fake: FakeBotAPI) -> dict[int, int]:
    out: dict[int, int] = {}
    for call in fake.sent(method="sendMessage"):
        assert call.chat_id is not None
        out[call.chat_id] = out.get(call.chat_id, 0) + 1
    return out


def wait_for(pred: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)


def marked_chats(db: Path) -> set[int]:
    return {r.chat_id for r in Outbox(Store(db)).rows(status="sent")}


def hhmm(unix: float) -> str:
    return f"{datetime.fromtimestamp(unix, ZoneInfo(TZ)):%H:%M}"


def test_a_rerun_after_kill_9_reports_the_dead_senders_rows_and_exits_3_until_they_are_sent(
    setup: Setup, fake: FakeBotAPI
) -> None:
    chats = list(range(1, 201))
    queue(setup.db, chats)
    argv = ("run-daily", "--config", str(setup.config), "--as-of", DAY.isoformat())
    killed = start(*argv, cwd=setup.cwd)
    try:
        wait_for(lambda: len(fake.sent()) >= 60)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=30)
    assert killed.returncode == -signal.SIGKILL
    wait_for(lambda: fake.in_flight("sendMessage") == 0)  # what reached the fake before the kill is answered
    outbox = Outbox(Store(setup.db))
    held = outbox.rows(status="sending")
    assert held, "the killed sender held no claims (it always holds some mid-broadcast)"
    lease_end = Store(setup.db).connect().execute("SELECT MAX(lease_until) FROM outbox").fetchone()[0]
    # the documented window: accepted by Telegram, the sender died before marking the row
    window = {c.chat_id for c in fake.sent()} - marked_chats(setup.db)

    # the rerun sends every free row but cannot take the dead sender's: it says so, and exits 3
    rerun = command(*argv, "--wait", "1", cwd=setup.cwd)
    assert rerun.returncode == 3, rerun.stdout + rerun.stderr
    assert f"{len(held)} in flight under another sender's lease, due again at {hhmm(lease_end)}" in rerun.stdout
    assert "0 still pending" in rerun.stdout
    assert Outbox(Store(setup.db)).counts()["sending"] == len(held)

    # once the lease has run out (moved back here instead of waiting two minutes), the next run sends them
    with Store(setup.db).transaction() as conn:
        conn.execute("UPDATE outbox SET lease_until = lease_until - 600 WHERE status = 'sending'")
    last = command(*argv, "--wait", "1", cwd=setup.cwd)
    assert last.returncode == 0, last.stdout + last.stderr
    assert "0 still pending" in last.stdout and "in flight" not in last.stdout
    counts = Outbox(Store(setup.db)).counts()
    assert counts["sent"] == len(chats) and counts["sending"] == counts["pending"] == 0
    # one copy each; two only where the kill fell between Telegram's answer and the row's UPDATE
    assert len(window) <= 8  # at most one request in flight per worker
    assert copies(fake) == {c: 2 if c in window else 1 for c in chats}


def test_run_daily_waits_out_a_lease_its_wait_covers_and_sends_the_rows_itself(setup: Setup, fake: FakeBotAPI) -> None:
    chats = [11, 12, 13]
    queue(setup.db, chats)
    outbox = Outbox(Store(setup.db))
    for row in outbox.rows():
        assert outbox.claim(row.id, "a-sender-that-died", lease_s=3.0) is not None
    argv = ("run-daily", "--config", str(setup.config), "--as-of", DAY.isoformat())
    short = command(*argv, "--wait", "0", cwd=setup.cwd)
    assert short.returncode == 3 and "3 in flight under another sender's lease" in short.stdout
    assert not fake.sent()
    long = command(*argv, "--wait", "30", cwd=setup.cwd)
    assert long.returncode == 0, long.stdout + long.stderr
    assert "delivery: 3 sent" in long.stdout and "in flight" not in long.stdout
    assert copies(fake) == dict.fromkeys(chats, 1)


def test_run_daily_without_a_token_counts_rows_held_by_a_dead_sender_as_unsent(setup: Setup) -> None:
    queue(setup.db, [21])
    outbox = Outbox(Store(setup.db))
    (row,) = outbox.rows()
    assert outbox.claim(row.id, "a-sender-that-died", lease_s=600) is not None
    run = command("run-daily", "--config", str(setup.config), "--as-of", DAY.isoformat(), cwd=setup.cwd, token=False)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "0 message(s) left pending for a run with a token (1 more held by another sender)" in run.stdout


def stopped_cleanly(db: Path, fake: FakeBotAPI) -> None:
    """Nothing claimed is left behind and every message Telegram accepted is marked sent."""
    wait_for(lambda: fake.in_flight("sendMessage") == 0)
    counts = Outbox(Store(db)).counts()
    assert counts["sending"] == 0, counts
    assert {c.chat_id for c in fake.sent()} == marked_chats(db)
    assert all(n == 1 for n in copies(fake).values())


def test_sigterm_stops_run_daily_mid_broadcast_within_seconds_and_the_next_run_sends_the_rest(
    setup: Setup, fake: FakeBotAPI
) -> None:
    chats = list(range(1, 201))
    queue(setup.db, chats)
    fake.fail("sendMessage", "delay", times=None, retry_after=0.5)  # a slow Telegram: requests in flight
    proc = start("run-daily", "--config", str(setup.config), "--as-of", DAY.isoformat(), cwd=setup.cwd)
    try:
        wait_for(lambda: len(fake.sent()) >= 20)
        proc.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - asked
    finally:
        if proc.poll() is None:
            proc.kill()
    assert took < 10, f"run-daily took {took:.1f} s to stop"
    assert proc.returncode == 3, out + err
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    stopped_cleanly(setup.db, fake)
    sent_before = len(fake.sent())
    assert sent_before < len(chats)

    fake.clear_failures()
    rest = command("run-daily", "--config", str(setup.config), "--as-of", DAY.isoformat(), cwd=setup.cwd)
    assert rest.returncode == 0, rest.stdout + rest.stderr
    assert f"delivery: {len(chats) - sent_before} sent" in rest.stdout
    assert copies(fake) == dict.fromkeys(chats, 1)


def test_sigterm_stops_the_bot_mid_broadcast_within_seconds_and_nothing_is_lost(setup: Setup, fake: FakeBotAPI) -> None:
    chats = list(range(1, 301))
    queue(setup.db, chats)
    fake.fail("sendMessage", "delay", times=None, retry_after=1.0)  # 8 requests in flight: 8 messages/s
    proc = start("run", "--config", str(setup.config), cwd=setup.cwd)
    try:
        wait_for(lambda: len(fake.sent()) >= 20)  # the outbox job's first drain, 10 s after start
        proc.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        _out, err = proc.communicate(timeout=60)
        took = time.monotonic() - asked
    finally:
        if proc.poll() is None:
            proc.kill()
    assert took < 10, f"the bot took {took:.1f} s to stop"
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    stopped_cleanly(setup.db, fake)
    sent_before = len(fake.sent())
    assert sent_before < len(chats)

    fake.clear_failures()
    rest = command("run-daily", "--config", str(setup.config), "--as-of", DAY.isoformat(), cwd=setup.cwd)
    assert rest.returncode == 0, rest.stdout + rest.stderr
    assert copies(fake) == dict.fromkeys(chats, 1)
