"""Delivery keeps one copy per chat on the paths where a sender could lose its claim: a flood wait
longer than the lease with a second sender beside it, a send slower than the lease, a migrated group
whose row is already queued in the new chat; and the bot the service and run-daily really run (the
production rate limiter) hands a 429 to the outbox."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support.alerting_support import TOKEN, make_services, make_settings
from support.fakebot import FakeBotAPI

from bot.telegram.app import build_application
from bot.telegram.client import make_bot
from bot.telegram.delivery import DrainStats, OutboxSender
from bot.telegram.oneshot import send_outbox
from bot.telegram.scheduling import sender_of
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

DAY = date(2025, 2, 14)


@pytest.fixture
def fake() -> Any:
    with FakeBotAPI() as api:
        yield api


def queue(store: Store, chat_ids: list[int], kind: str = "fire") -> None:
    outbox = Outbox(store)
    with store.transaction() as conn:
        for c in chat_ids:
            outbox.enqueue(conn, rule_id="spread", tier=1, kind=kind, day=DAY, chat_id=c, parts=[f"{kind} for {c}"])


def copies(fake: FakeBotAPI) -> dict[int, int]:
    out: dict[int, int] = {}
    for call in fake.sent(method="sendMessage"):
        assert call.chat_id is not None
        out[call.chat_id] = out.get(call.chat_id, 0) + 1
    return out


async def until(pred: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


def sender(store: Store, bot: Any, worker: str, lease_s: float) -> OutboxSender:
    # each sender with its own Store (its own SQLite connections), as two processes would have
    return OutboxSender(bot, Outbox(store), ChatRepo(store), lease_s=lease_s, worker_id=worker)


def test_a_flood_wait_longer_than_the_lease_never_lets_two_senders_send_one_row(
    tmp_path: Path, fake: FakeBotAPI
) -> None:
    db = tmp_path / "two.db"
    chats = list(range(1, 9))
    queue(Store(db), chats)
    # the first send gets a 3 s flood wait: sender A pauses with its other claims (1 s leases) held
    fake.fail("sendMessage", "429", times=1, retry_after=3)

    async def run() -> tuple[DrainStats, DrainStats]:
        async with make_bot(TOKEN, fake.base_url) as bot_a, make_bot(TOKEN, fake.base_url) as bot_b:
            a = sender(Store(db), bot_a, "A", lease_s=1.0)
            task_a = asyncio.create_task(a.drain(wait_up_to_s=10))
            await until(lambda: any(c.status == 429 for c in fake.calls(method="sendMessage")))
            # B (cron's run-daily beside the bot) never saw the 429: it takes A's rows once their leases run out
            b = sender(Store(db), bot_b, "B", lease_s=1.0)
            stats_b = await b.drain(wait_up_to_s=10)
            return await task_a, stats_b

    stats_a, stats_b = asyncio.run(run())
    assert copies(fake) == dict.fromkeys(chats, 1)
    outbox = Outbox(Store(db))
    assert outbox.counts()["sent"] == len(chats)
    # the stats say what happened: every accepted message counted once, by the sender that sent it
    assert stats_a.sent + stats_b.sent == len(chats) == len(fake.sent(method="sendMessage"))
    assert stats_a.flood_waits == [3.0]
    assert stats_b.sent > 0 and stats_a.skipped > 0
    assert stats_a.unmarked == stats_b.unmarked == 0


def test_a_send_slower_than_its_lease_is_logged_and_counted_when_it_cannot_be_marked(
    tmp_path: Path, fake: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "slow.db"
    queue(Store(db), [1])
    # Telegram holds the answer for 2 s; the lease is 0.3 s, and meanwhile another sender claims the row
    fake.fail("sendMessage", "delay", times=1, retry_after=2)
    other = Outbox(Store(db))

    async def run() -> DrainStats:
        async with make_bot(TOKEN, fake.base_url) as bot:
            task = asyncio.create_task(sender(Store(db), bot, "A", lease_s=0.3).drain(wait_up_to_s=0))
            await until(lambda: bool(fake.calls(method="sendMessage")))
            await until(lambda: bool(other.due()))
            (row,) = other.due()
            assert other.claim(row.id, "B", 60) is not None
            return await task

    with caplog.at_level(logging.ERROR, logger="bot.telegram.delivery"):
        stats = asyncio.run(run())
    assert copies(fake) == {1: 1}
    assert stats.unmarked == 1 and stats.sent == 0
    assert any("not marked" in r.getMessage() for r in caplog.records)
    (row,) = other.rows()
    assert row.status == "sending"  # still B's: B's own renew decides whether B may send


def test_a_migrated_group_whose_row_is_already_queued_in_the_new_chat_gets_one_copy(
    tmp_path: Path, fake: FakeBotAPI
) -> None:
    old, new = -100, -1_000_000_000_100
    store = Store(tmp_path / "migrate.db")
    chats = ChatRepo(store)
    for c in (old, new):
        chats.ensure(c, "group")
        chats.update(c, subscribed=True)
    queue(store, [old, new])  # the same alert queued for both ids: moving the old row would conflict
    fake.fail("sendMessage", "migrate", times=None, chat_id=old, migrate_to=new)

    async def run() -> DrainStats:
        async with make_bot(TOKEN, fake.base_url) as bot:
            # one worker: the old chat's row is sent (and migrates) before the new chat's
            s = OutboxSender(bot, Outbox(store), chats, concurrency=1)
            return await s.drain(wait_up_to_s=5)

    stats = asyncio.run(run())
    assert copies(fake) == {new: 1}
    assert stats.migrated == 1 and stats.sent == 1 and stats.skipped == 1
    counts = Outbox(store).counts()
    assert counts["sent"] == 1 and counts["dead"] == 1


def test_the_service_bot_hands_a_429_to_the_outbox(tmp_path: Path, fake: FakeBotAPI) -> None:
    """The bot ``spreadwatch run`` builds (its sender is ``sender_of(application)``), not a test's own."""
    settings = make_settings(tmp_path / "svc.db", fake.base_url)
    services = make_services(settings, source=None)
    queue(services.store, [1, 2, 3])
    fake.fail("sendMessage", "429", times=1, retry_after=1)
    os.environ[settings.telegram.token_env] = TOKEN
    try:
        application = build_application(services)
    finally:
        os.environ.pop(settings.telegram.token_env, None)

    async def run() -> DrainStats:
        async with application.bot:
            return await sender_of(application).drain(wait_up_to_s=10)

    stats = asyncio.run(run())
    # a limiter that retried by itself would hide the wait from the outbox (flood_waits == [])
    assert stats.flood_waits == [1.0] and stats.sent == 3
    assert copies(fake) == {1: 1, 2: 1, 3: 1}
    assert len(fake.calls(method="sendMessage", ok=False)) == 1


def test_run_daily_sends_through_the_same_bot_and_hands_a_429_to_the_outbox(tmp_path: Path, fake: FakeBotAPI) -> None:
    settings = make_settings(tmp_path / "cron.db", fake.base_url)
    services = make_services(settings, source=None)
    queue(services.store, [1, 2, 3])
    fake.fail("sendMessage", "429", times=1, retry_after=1)
    stats = send_outbox(services, TOKEN, 10)
    assert stats.flood_waits == [1.0] and stats.sent == 3
    assert copies(fake) == {1: 1, 2: 1, 3: 1}
