"""One chat flooding the bot, through the fake Bot API: it is told once, then ignored until it has a
token again, and it holds up no other chat (``bot.telegram.chat_limits``, ``bot.telegram.update_processor``).

The buckets run on a clock the tests move (``ChatLimits.clock``), so refills take no sleeping. Nothing
here measures time: a test waits for the application to report an update processed and then counts
what was sent, or checks which answers have arrived while another chat's update is held up.
"""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from support.bot_harness import ADMIN_ID, BOT_USERNAME, BotHarness, db, filled_db  # noqa: F401
from support.fakebot import Call, callback_query_update, command_update, text_update

from bot.telegram.bot_data import bot_data_of
from jobs.alerting.services import Services

FLOOD, OTHER, GROUP = 6001, 6002, -1006003
TOO_MANY_EN = "Too many requests from this chat: try again in {} s"
TOO_MANY_ZH = "此对话请求过于频繁，请 {} 秒后再试"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limited(db: Path, clock: Clock, per_minute: float = 6, burst: int = 3) -> BotHarness:
    """A bot whose chats may send ``burst`` commands at once and ``per_minute`` a minute, on ``clock``."""

    def use_clock(application: Any, services: Services) -> None:
        limits = bot_data_of(application).chat_limits
        assert limits is not None
        limits.clock = clock

    return BotHarness(db, configure=use_clock, commands_per_minute=per_minute, command_burst=burst).start()


def push_all(bot: BotHarness, updates: list[dict[str, Any]]) -> list[Call]:
    """Push updates, wait until the application has processed (or refused) every one; return what the
    bot sent to their chats meanwhile."""
    mark = bot.fake.call_count()
    ids = [bot.fake.push(u) for u in updates]
    for update_id in ids:
        bot.wait_processed(update_id, timeout=30)
    return bot.fake.sent(since=mark)


def texts(calls: list[Call]) -> list[str]:
    return [str(c.params.get("text") or c.params.get("caption") or "") for c in calls]


def test_a_chat_past_its_limit_is_told_once_then_silent_until_a_token_is_back(db: Path) -> None:
    clock = Clock()
    bot = limited(db, clock, per_minute=6, burst=3)  # a token every 10 s
    try:
        sent = push_all(bot, [command_update("/spread", chat_id=FLOOD) for _ in range(20)])
        assert [c.chat_id for c in sent] == [FLOOD] * 4
        *answers, notice = texts(sent)
        assert all("Industry differentiation" in t for t in answers)
        assert TOO_MANY_EN.format(10) in notice

        clock.now += 4
        assert push_all(bot, [command_update("/spread", chat_id=FLOOD) for _ in range(5)]) == []  # silence
        clock.now += 6  # a token again: answered, and the next one is silent (the chat was told)
        sent = push_all(bot, [command_update("/top5", chat_id=FLOOD) for _ in range(3)])
        assert len(sent) == 1 and "Top 5" in texts(sent)[0]

        clock.now += 30  # the bucket is full again: the next time it runs dry, the chat is told again
        sent = push_all(bot, [command_update("/spread", chat_id=FLOOD) for _ in range(5)])
        assert len(sent) == 4 and TOO_MANY_EN.format(10) in texts(sent)[3]
    finally:
        bot.stop()


def test_button_presses_count_and_a_group_is_told_in_its_language(db: Path) -> None:
    clock = Clock()
    bot = limited(db, clock, per_minute=6, burst=2)
    try:
        (spread,) = bot.ask("/spread", chat_id=GROUP, bot_username=BOT_USERNAME, language_code="zh")
        message = bot.fake.message(GROUP, spread.message_id or 0)
        press = callback_query_update(message, "spread:refresh", user_id=77, language_code="zh")
        sent = push_all(
            bot,
            [
                press,  # the second token
                command_update("/top5", chat_id=GROUP, language_code="zh"),  # dry: told
                command_update("/top5", chat_id=GROUP, language_code="zh"),
                callback_query_update(message, "spread:refresh", user_id=77, language_code="zh"),
            ],
        )
        (notice,) = [c for c in sent if c.method == "sendMessage"]
        assert TOO_MANY_ZH.format(10) in notice.params["text"]
        assert notice.params["reply_parameters"]["message_id"] > 0  # quotes the command, as every answer in a group
        assert len(bot.fake.calls(method="answerCallbackQuery")) == 1  # the first press only
    finally:
        bot.stop()


def test_other_bots_commands_group_chatter_and_admins_do_not_count(db: Path) -> None:
    clock = Clock()
    bot = limited(db, clock, per_minute=6, burst=1)
    try:
        others = [
            command_update("/spread", chat_id=GROUP, bot_username="other_bot"),
            command_update("/weather", chat_id=GROUP),  # another bot's, unaddressed
            text_update("just chatting", chat_id=GROUP),
        ]
        assert push_all(bot, others * 5) == []
        admin = [command_update("/spread", chat_id=GROUP, user_id=ADMIN_ID) for _ in range(3)]
        assert len(push_all(bot, admin)) == 3
        assert len(push_all(bot, [command_update("/spread", chat_id=ADMIN_ID) for _ in range(3)])) == 3
        # the group's one token is still there
        (answer,) = bot.ask("/spread", chat_id=GROUP, bot_username=BOT_USERNAME, language_code="en")
        assert "Industry differentiation" in answer.params["text"]
        (told,) = bot.ask("/spread", chat_id=GROUP, language_code="en")
        assert TOO_MANY_EN.format(10) in told.params["text"]
    finally:
        bot.stop()


def test_a_flooding_chat_holds_up_no_other_chat(db: Path) -> None:
    """The flooding chat's first command waits for the database (another connection holds the write
    lock); 150 more of its commands queue behind it. Another chat's command is answered while all of
    them still wait: their waiting holds none of the slots the other chat needs."""
    bot = limited(db, Clock(), burst=100)  # 100 of the flood get through (the clock stands still)
    lock = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    try:
        lock.execute("BEGIN IMMEDIATE")
        lock.execute("INSERT INTO meta (key, value) VALUES ('batch-save', 'in progress')")
        mark = bot.fake.call_count()
        bot.fake.push(command_update("/subscribe", chat_id=FLOOD))  # has to write: waits for the lock
        for _ in range(150):
            bot.fake.push(command_update("/spread", chat_id=FLOOD))
        (answer,) = bot.ask("/spread", chat_id=OTHER, timeout=30)
        assert "Industry differentiation" in answer.params["text"]
        assert bot.fake.sent(chat_id=FLOOD, since=mark) == []  # the whole flood is still waiting
        lock.execute("COMMIT")
        # then the flooding chat gets its answers, in order: /subscribe first, 99 × /spread, one notice
        sent = bot.fake.wait_sent(101, chat_id=FLOOD, since=mark, timeout=60)
        assert "subscribed" in texts(sent)[0].lower()
        assert all("Industry differentiation" in t for t in texts(sent)[1:100])
        assert "Too many requests" in texts(sent)[100]
    finally:
        if lock.in_transaction:
            lock.execute("ROLLBACK")
        lock.close()
        bot.stop()


def test_a_heavy_command_keeps_its_place_in_the_chats_order(db: Path) -> None:
    bot = BotHarness(db).start()
    try:
        mark = bot.fake.call_count()
        bot.fake.push(command_update("/history all", chat_id=FLOOD))
        bot.fake.push(command_update("/spread", chat_id=FLOOD))
        chart, spread = bot.fake.wait_sent(2, chat_id=FLOOD, since=mark, timeout=60)
        assert (chart.method, spread.method) == ("sendPhoto", "sendMessage")
    finally:
        bot.stop()
