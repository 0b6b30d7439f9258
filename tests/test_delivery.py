"""The outbox sender through python-telegram-bot and the fake Bot API: every Telegram error class,
the flood limits, two senders at once, and a sender killed mid-broadcast and restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support.alerting_support import TOKEN, drain
from support.fakebot import FakeBotAPI
from telegram.ext import ExtBot

from bot.telegram.client import make_bot
from bot.telegram.delivery import OutboxSender
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

DAY = date(2025, 2, 14)
TESTS = Path(__file__).resolve().parent
# The gap between two messages to one chat where a test is not about it (the pacing tests keep the
# default 1 s): the sender's loop also sleeps until the next chat is ready, so a 1 s gap after another
# chat's send would hold a 0.2 s backoff or a flood wait's end for up to a second.
QUICK_CHAT_INTERVAL = 0.1


@dataclass
class Box:
    store: Store
    chats: ChatRepo
    outbox: Outbox


@pytest.fixture
def box(tmp_path: Path) -> Box:
    store = Store(tmp_path / "delivery.db")
    return Box(store, ChatRepo(store), Outbox(store))


@pytest.fixture
def fake() -> Any:
    with FakeBotAPI() as api:
        yield api


def queue(box: Box, chat_ids: list[int], kind: str = "fire", day: date = DAY) -> None:
    with box.store.transaction() as conn:
        for c in chat_ids:
            box.outbox.enqueue(
                conn, rule_id="spread", tier=1, kind=kind, day=day, chat_id=c, parts=[f"<b>{kind}</b> for {c}"]
            )


def subscribed(box: Box, chat_ids: list[int]) -> None:
    for c in chat_ids:
        box.chats.ensure(c, "private" if c > 0 else "group")
        box.chats.update(c, subscribed=True)


def copies(fake: FakeBotAPI) -> dict[int, int]:
    out: dict[int, int] = {}
    for call in fake.sent(method="sendMessage"):
        assert call.chat_id is not None
        out[call.chat_id] = out.get(call.chat_id, 0) + 1
    return out


def test_flood_limit_is_honoured_then_everything_arrives_once(box: Box, fake: FakeBotAPI) -> None:
    chats = list(range(1, 11))
    queue(box, chats)
    fake.fail("sendMessage", "429", times=1, retry_after=1)
    stats = drain(box, fake.base_url, per_chat_interval=QUICK_CHAT_INTERVAL)
    assert stats.sent == 10 and stats.flood_waits == [1.0] and stats.left_pending == 0
    assert copies(fake) == dict.fromkeys(chats, 1)
    refused = fake.calls(method="sendMessage", ok=False)[0]
    after = [c.time for c in fake.calls(method="sendMessage", ok=True) if c.time > refused.time]
    assert after and min(after) - refused.time >= 0.95, "a send went out before retry_after had passed"


def test_blocked_user_becomes_inactive_and_is_not_retried(box: Box, fake: FakeBotAPI) -> None:
    subscribed(box, [1, 2, 3])
    queue(box, [1, 2, 3])
    queue(box, [2], kind="escalate")
    fake.fail("sendMessage", "403", times=None, chat_id=2)
    stats = drain(box, fake.base_url)
    assert copies(fake) == {1: 1, 3: 1}
    assert len(fake.calls(method="sendMessage", chat_id=2)) == 1
    chat = box.chats.get(2)
    assert chat is not None and not chat.active and 2 not in {c.chat_id for c in box.chats.subscribers()}
    assert sorted(r.kind for r in box.outbox.rows(status="dead")) == ["escalate", "fire"]
    assert stats.dead == 1


def test_bad_request_is_never_retried(box: Box, fake: FakeBotAPI) -> None:
    queue(box, [1, 2])
    fake.fail("sendMessage", "400", times=None, chat_id=1, description="Bad Request: can't parse entities")
    stats = drain(box, fake.base_url)
    assert stats.failed == 1 and stats.sent == 1
    assert len(fake.calls(method="sendMessage", chat_id=1)) == 1
    (failed,) = box.outbox.rows(status="failed")
    assert failed.chat_id == 1 and "can't parse entities" in (failed.last_error or "").lower()


@pytest.mark.parametrize("kind", ["500", "drop"])
def test_server_errors_and_dropped_connections_are_retried_with_backoff(box: Box, fake: FakeBotAPI, kind: str) -> None:
    queue(box, [1, 2])
    fake.fail("sendMessage", kind, times=2, chat_id=1)
    stats = drain(box, fake.base_url, backoff_base_s=0.2, per_chat_interval=QUICK_CHAT_INTERVAL)
    assert stats.retried == 2 and stats.sent == 2
    assert copies(fake) == {1: 1, 2: 1}
    (row,) = box.outbox.rows(chat_id=1)
    assert row.status == "sent" and row.attempts == 3
    tries = [c.time for c in fake.calls(method="sendMessage", chat_id=1)]
    # exponential backoff: 0.2 s then 0.4 s (±20 %)
    assert tries[1] - tries[0] >= 0.15 and tries[2] - tries[1] >= 0.3


def test_gives_up_after_max_attempts(box: Box, fake: FakeBotAPI) -> None:
    queue(box, [1])
    fake.fail("sendMessage", "500", times=None)
    stats = drain(box, fake.base_url, backoff_base_s=0.05, max_attempts=3)
    assert stats.failed == 1 and len(fake.calls(method="sendMessage")) == 3
    assert box.outbox.rows()[0].status == "failed"


def test_a_migrated_group_is_followed(box: Box, fake: FakeBotAPI) -> None:
    old, new = -100, -1_000_000_000_100
    subscribed(box, [old])
    queue(box, [old])
    queue(box, [old], kind="remind")
    fake.fail("sendMessage", "migrate", times=None, chat_id=old, migrate_to=new)
    stats = drain(box, fake.base_url, per_chat_interval=QUICK_CHAT_INTERVAL)
    assert stats.migrated == 1 and stats.sent == 2
    assert copies(fake) == {new: 2}
    assert box.chats.get(old) is None and box.chats.get(new) is not None
    assert {r.chat_id for r in box.outbox.rows()} == {new}


def test_one_message_per_second_per_chat_and_pacing_overall(box: Box, fake: FakeBotAPI) -> None:
    queue(box, [7], kind="fire")
    queue(box, [7], kind="escalate")
    queue(box, list(range(100, 160)))
    fake.rate_limit = 30
    stats = drain(box, fake.base_url)
    assert stats.sent == 62 and not fake.calls(ok=False), "the fake's 30/s limit was hit"
    t7 = [c.time for c in fake.sent(chat_id=7)]
    assert len(t7) == 2 and t7[1] - t7[0] >= 0.99


def test_a_long_message_goes_out_in_its_parts_in_order(box: Box, fake: FakeBotAPI) -> None:
    with box.store.transaction() as conn:
        box.outbox.enqueue(conn, rule_id="spread", tier=3, kind="escalate", day=DAY, chat_id=5, parts=["one", "two"])
    assert drain(box, fake.base_url).sent == 2
    first, second = fake.sent(chat_id=5)
    assert (first.params["text"], second.params["text"]) == ("one", "two")
    assert second.time - first.time >= 0.99


def test_two_senders_at_once_send_each_message_once(box: Box, fake: FakeBotAPI) -> None:
    chats = list(range(1, 81))
    queue(box, chats)

    async def both() -> None:
        bots: list[ExtBot[Any]] = [make_bot(TOKEN, fake.base_url) for _ in range(2)]
        async with bots[0], bots[1]:
            senders = [
                OutboxSender(b, Outbox(box.store), box.chats, rate=60, worker_id=f"w{i}") for i, b in enumerate(bots)
            ]
            await asyncio.gather(*(s.drain(wait_up_to_s=2) for s in senders))

    asyncio.run(both())
    assert copies(fake) == dict.fromkeys(chats, 1)
    assert box.outbox.counts()["sent"] == 80


def wait_for(pred: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)


def test_a_sender_killed_mid_broadcast_resumes_without_loss_or_duplicates(box: Box, fake: FakeBotAPI) -> None:
    """Exactly one copy per chat when the kill lands outside the documented window (Telegram accepted a
    message, the sender died before marking its row: no client of the Bot API can close it).

    The test used to check "every accepted message is marked" right after a fixed 0.3 s pause; under
    load a request that reached the fake before the drop rule was answered later than that, after the
    check, and the killed sender never marked it: a second copy, from that window, not a second send of
    a marked row. So the kill now waits until the fake has no request in flight: every request after
    that point is dropped, every one before it has its answer, and each accepted one is marked."""
    chats = list(range(1, 81))  # about half sent before the kill, the rest after the restart
    queue(box, chats)
    lease = 1.0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    cmd = [sys.executable, str(TESTS / "support" / "outbox_worker.py"), str(box.store.path), fake.base_url, str(lease)]

    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: len(fake.sent()) >= 40)
        # from here on Telegram never accepts a message (connections drop), so nothing the killed
        # process does from now on can be delivered; then SIGKILL it in the middle of its retries
        # one answer lags behind the drop rule, as any may under load (it made the old test fail)
        fake.fail("sendMessage", "delay", times=1, retry_after=0.5)
        fake.fail("sendMessage", "drop", times=None)
        wait_for(lambda: fake.in_flight("sendMessage") == 0, timeout=30)
        # every accepted message has been marked: the kill lands outside the window
        wait_for(lambda: box.outbox.counts()["sent"] == len(fake.sent()), timeout=30)
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    delivered_before = len(fake.sent())
    assert 40 <= delivered_before < len(chats)
    assert box.outbox.counts()["sent"] == delivered_before  # marked right after each accepted send
    unfinished = box.outbox.counts()
    assert unfinished["pending"] + unfinished["sending"] == len(chats) - delivered_before

    fake.clear_failures()
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert copies(fake) == dict.fromkeys(chats, 1)
    assert box.outbox.counts()["sent"] == len(chats)
