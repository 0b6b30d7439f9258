"""The running bot: destinations subscribed at start, their rows drained by the outbox drain job."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from support.bot_harness import BotHarness, db, filled_db, wait_until  # noqa: F401
from support.notify_receiver import receiver

from bot.telegram.scheduling import drain_job
from jobs.alerting.destinations import DestinationRepo
from jobs.store.outbox import Outbox


def test_the_drain_job_sends_destination_rows_and_telegram_rows_each_their_way(db: Path) -> None:
    with receiver() as rx:
        notify = {"destinations": [{"name": "desk", "url": rx.url(), "lang": "en"}], "per_destination_interval_s": 0}
        harness = BotHarness(db, sections={"notify": notify}).start()
        try:
            services = harness.services
            assert services is not None
            state = DestinationRepo(services.store).get("desk")
            assert state is not None  # subscribed at start
            chat = services.chats.get(state.chat_id)
            assert chat is not None and chat.subscribed and chat.chat_type == "notify"
            outbox = Outbox(services.store)
            with services.store.transaction() as conn:
                for chat_id, text in ((state.chat_id, "to <b>desk</b>"), (501, "to chat")):
                    outbox.enqueue(
                        conn, rule_id="spread", tier=1, kind="fire", day=date(2026, 6, 2), chat_id=chat_id, parts=[text]
                    )
            harness.application.job_queue.run_once(drain_job, 0.01)
            wait_until(lambda: len(rx.delivered) == 1 and len(harness.fake.sent(chat_id=501)) == 1)
            assert json.loads(rx.delivered[0])["message"] == "to desk"
            wait_until(lambda: {r.status for r in outbox.rows()} == {"sent"})
            assert len(harness.fake.sent(chat_id=state.chat_id)) == 0  # never through Telegram
        finally:
            harness.stop()


def test_the_bot_subscribes_broadcast_channels_at_start(db: Path) -> None:
    harness = BotHarness(db, broadcast=["@sw_alerts", "@not_there", "-1007770002"])
    harness.fake.usernames["@sw_alerts"] = -1007770001
    harness.start()
    try:
        services = harness.services
        assert services is not None
        wait_until(lambda: len(services.chats.subscribers()) == 2)
        assert [c.chat_id for c in services.chats.subscribers()] == [-1007770002, -1007770001]
    finally:
        harness.stop()
