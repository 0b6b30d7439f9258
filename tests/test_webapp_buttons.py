"""The 📊 button that opens the dashboard: a ``web_app`` button in private chats, a URL button in groups and
channels (where Telegram refuses ``web_app`` buttons: the fake Bot API does too), under /spread, /history and
every spread alert; the chat menu button; the dashboard served by the bot's own process. Only with
``webapp.public_url``."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support.bot_harness import TOKEN, BotHarness, db, filled_db, settings_for, wait_until  # noqa: F401 - fixtures
from support.fakebot import FakeBotAPI

from bot.telegram.client import bot_for
from bot.telegram.delivery import OutboxSender
from bot.telegram.scheduling import CATCHUP_NAME, daily_job
from jobs.alerting.alert_log import SPREAD_RULE
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

URL = "https://dash.example.com"
WEBAPP = {"listen": "127.0.0.1:0", "public_url": URL}
GROUP, CHANNEL, PRIVATE = -4001, -1001234567890, 1001


def buttons(call: Any) -> list[dict[str, Any]]:
    markup = call.params.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def dashboard(call: Any) -> dict[str, Any]:
    (found,) = [b for b in buttons(call) if b["text"].startswith("📊")]
    return found


def test_the_fake_refuses_web_app_buttons_outside_private_chats() -> None:
    markup = json.dumps({"inline_keyboard": [[{"text": "📊", "web_app": {"url": URL}}]]})
    with FakeBotAPI() as fake:
        for chat_id, status in ((PRIVATE, 200), (GROUP, 400), (CHANNEL, 400)):
            # form-encoded, as python-telegram-bot sends it
            body = urllib.parse.urlencode({"chat_id": chat_id, "text": "x", "reply_markup": markup}).encode()
            request = urllib.request.Request(f"{fake.base_url}1:x/sendMessage", body)
            try:
                with urllib.request.urlopen(request) as answer:
                    got, reply = answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as exc:
                got, reply = exc.code, json.loads(exc.read())
            assert got == status
            if status == 400:
                assert reply["description"] == "Bad Request: BUTTON_TYPE_INVALID"


def test_spread_and_history_carry_a_web_app_button_in_private_and_a_link_in_groups(db: Path) -> None:  # noqa: F811
    harness = BotHarness(db, sections={"webapp": WEBAPP}).start()
    try:
        (spread,) = harness.ask("/spread", chat_id=PRIVATE)
        assert dashboard(spread) == {"text": "📊 Dashboard", "web_app": {"url": f"{URL}/?tab=spread"}}
        assert any("callback_data" in b for b in buttons(spread))  # Refresh stays
        (history,) = harness.ask("/history", chat_id=PRIVATE)
        assert history.method == "sendPhoto" and dashboard(history)["web_app"] == {"url": f"{URL}/?tab=spread"}
        (in_group,) = harness.ask("/spread@spreadwatch_bot", chat_id=GROUP, bot_username="spreadwatch_bot")
        assert in_group.ok and dashboard(in_group) == {
            "text": "📊 Dashboard",
            "url": "https://t.me/spreadwatch_bot?startapp=spread",
        }
        # the menu button of private chats opens the dashboard
        (menu,) = harness.fake.calls("setChatMenuButton")
        assert menu.params["menu_button"] == {"type": "web_app", "text": "📊", "web_app": {"url": f"{URL}/"}}
        # served by the bot's own process
        server = harness.application.bot_data.web_server
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/meta") as answer:
            assert json.loads(answer.read())["as_of"] == "2026-06-02"
    finally:
        harness.stop()


def test_without_public_url_there_is_no_dashboard_button(db: Path) -> None:  # noqa: F811
    harness = BotHarness(db).start()
    try:
        (spread,) = harness.ask("/spread", chat_id=PRIVATE)
        assert not [b for b in buttons(spread) if b["text"].startswith("📊")]
        assert harness.fake.calls("setChatMenuButton") == []
        assert harness.application.bot_data.web_server is None
    finally:
        harness.stop()


@pytest.mark.parametrize("public", [False, True])
def test_a_spread_alert_to_a_group_and_a_channel_carries_a_url_button_and_is_sent(
    db: Path,  # noqa: F811
    public: bool,
) -> None:
    with FakeBotAPI(bot_username="spreadwatch_bot") as fake:
        settings = settings_for(db, fake, sections={"webapp": {**WEBAPP, "public": public}})
        store = Store(db)
        chats = ChatRepo(store)
        for chat_id, kind in ((PRIVATE, "private"), (GROUP, "group"), (CHANNEL, "channel")):
            chats.ensure(chat_id, kind)
            chats.update(chat_id, subscribed=True, lang="zh" if chat_id == GROUP else "en")
        outbox = Outbox(store)
        with store.transaction() as conn:
            for chat_id in (PRIVATE, GROUP, CHANNEL):
                outbox.enqueue(
                    conn, rule_id=SPREAD_RULE, tier=1, kind="fire", day=date(2026, 6, 2), chat_id=chat_id, parts=["P93"]
                )

        async def drain() -> Any:
            async with bot_for(settings, TOKEN) as bot:
                sender = OutboxSender(bot, outbox, chats, rate=30, per_chat_interval=0, settings=settings)
                return await sender.drain()

        stats = asyncio.run(drain())
        assert (stats.sent, stats.failed) == (3, 0)
        sent = {c.chat_id: c for c in fake.sent(method="sendMessage")}
        assert dashboard(sent[PRIVATE]) == {"text": "📊 Dashboard", "web_app": {"url": f"{URL}/?tab=spread"}}
        link = f"{URL}/?tab=spread" if public else "https://t.me/spreadwatch_bot?startapp=spread"
        assert dashboard(sent[GROUP]) == {"text": "📊 看板", "url": link}
        assert dashboard(sent[CHANNEL]) == {"text": "📊 Dashboard", "url": link}
        assert [c for c in fake.calls("sendMessage") if not c.ok] == []


def test_the_daily_job_rebuilds_the_dashboard_before_anyone_asks(db: Path) -> None:  # noqa: F811
    harness = BotHarness(db, sections={"webapp": WEBAPP}).start()
    try:
        data = harness.application.bot_data
        dashboard_state = data.web_server.app.dashboard
        wait_until(lambda: "spread" in dashboard_state._answers)  # the warm-up after start
        dashboard_state._answers.clear()  # as if the data had changed since: nothing cached
        harness.application.job_queue.run_once(daily_job, 0.01, name=CATCHUP_NAME)
        wait_until(lambda: data.last_daily is not None)
        # no request was made: the job's rebuild filled the cache for the first reader
        wait_until(lambda: {"spread", "industries", "scenarios:zh", "scenarios:en"} <= set(dashboard_state._answers))
    finally:
        harness.stop()
