"""Every text a user sees is in the chat's language: a whole English and a whole Chinese conversation.

Each conversation sends every command a user (and an admin) can send, presses the buttons, gets an
alert from the daily job, and checks everything the bot showed: messages, edits, captions, button
labels and toasts. An English text may not contain Chinese characters, a Chinese text no English
words, except proper names the user asked for or that name things (data file, Shenwan, PMI …) and
what stands in ``<code>`` (commands to type, raw detail for admins).
"""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.bot_harness import ADMIN_ID, SW, BotHarness, db, filled_db  # noqa: F401
from support.fakebot import Call, callback_query_update

from bot.telegram.scheduling import CATCHUP_NAME, daily_job, drain_job
from jobs.alerting.daily import last_evaluated_key
from jobs.config.settings import parse_settings
from jobs.engine.pipeline import Engine
from jobs.store.datastore import Store

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
ASCII_WORD = re.compile(r"[A-Za-z]{2,}")
CODE = re.compile(r"<code>.*?</code>", re.S)
TAG = re.compile(r"<[^>]+>")
COMMAND = re.compile(r"/[a-z0-9_]+(?:@\w+)?")
# names and units that are the same in both languages; each language's own name on the language buttons
PROPER = {"PMI", "PPI", "PE", "CSV", "UTF", "akshare", "Shenwan", "sw_l1_daily.csv", "Ann", "English", "中文"}
# /history's argument keywords, shown in the command menu's description as the user types them
HISTORY_ARGS = "1y|3y|5y|all"
SHOWN = ("sendMessage", "editMessageText", "sendPhoto", "sendDocument", "answerCallbackQuery")


def visible(call: Call) -> list[str]:
    """Everything of a call a user reads: text or caption, button labels, a toast."""
    p = call.params
    texts = [p[k] for k in ("text", "caption") if isinstance(p.get(k), str)]
    markup = p.get("reply_markup")
    if isinstance(markup, dict):
        texts += [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
    return texts


def plain(text: str, asked: tuple[str, ...]) -> str:
    text = html.unescape(TAG.sub(" ", CODE.sub(" ", text)))
    for allowed in (*asked, *sorted(PROPER, key=len, reverse=True), HISTORY_ARGS):
        text = text.replace(allowed, " ")
    return COMMAND.sub(" ", text)


def english_leaks(text: str, asked: tuple[str, ...]) -> list[str]:
    return CJK.findall(plain(text, asked))


def chinese_leaks(text: str, asked: tuple[str, ...]) -> list[str]:
    return ASCII_WORD.findall(plain(text, asked))


def test_the_checks_catch_the_other_language() -> None:
    assert english_leaks("Leaders: 计算机 +79%", ()) == ["计", "算", "机"]
    assert english_leaks("Leaders: Computer +79% · <code>/industry 计算机</code>", ()) == []
    assert chinese_leaks("上次每日任务：evaluated，2026-06-02（no new data）", ()) == ["evaluated", "no", "new", "data"]
    assert chinese_leaks("分化度 P92 · 来源：CSV sw_l1_daily.csv · /history 3y", ()) == []
    assert chinese_leaks("没有找到行业“Foo”", ("Foo",)) == []


class Conversation:
    """Drive one chat through the real bot; keep every call the bot made that a user sees."""

    def __init__(self, bot: BotHarness, chat_id: int, lang: str, user_id: int | None = None) -> None:
        self.bot, self.chat_id, self.lang, self.user_id = bot, chat_id, lang, user_id or chat_id
        self.first = bot.fake.call_count()
        self.asked: list[str] = []

    def say(self, text: str, n: int = 1, asked: str | None = None) -> list[Call]:
        if asked:
            self.asked.append(asked)
        return self.bot.ask(text, chat_id=self.chat_id, user_id=self.user_id, language_code=self.lang, n=n, timeout=60)

    def press(self, call: Call, data: str, n: int = 1) -> list[Call]:
        message = self.bot.fake.message(self.chat_id, call.message_id or 0)
        update = callback_query_update(message, data, user_id=self.user_id, language_code=self.lang)
        mark = self.bot.push(update)
        self.bot.fake.wait_calls("answerCallbackQuery", 1, since=mark, timeout=30)
        return self.bot.fake.wait_sent(n, chat_id=self.chat_id, since=mark, timeout=30) if n else []

    def shown(self) -> list[tuple[str, str]]:
        self.bot.fake.wait_idle(quiet=0.3, timeout=30)
        calls = self.bot.fake.calls(since=self.first)
        out = []
        for c in calls:
            if c.method not in SHOWN or (c.chat_id is not None and c.chat_id != self.chat_id):
                continue
            out += [(c.method, t) for t in visible(c)]
        return out


def user_conversation(bot: BotHarness, chat_id: int, lang: str) -> Conversation:
    """Every command and button a subscriber meets, in one chat."""
    c = Conversation(bot, chat_id, lang)
    (welcome,) = c.say("/start")
    c.press(welcome, "sub:confirm", n=2)
    c.say("/help")
    (spread,) = c.say("/spread")
    c.press(spread, "spread:refresh", n=0)
    c.say("/top5")
    c.say("/bottom5")
    c.say("/industry computer" if lang == "en" else "/industry 计算机")
    c.say("/industry 801020")  # discontinued in 2021
    c.say("/industry 801210")
    unknown = "zzqx" if lang == "en" else "不存在"
    c.say(f"/industry {unknown}", asked=unknown)
    c.say("/industry")
    c.say("/history")
    c.say("/history 3y")
    c.say("/history 2y")
    c.say("/regime")
    c.say("/subscribe")
    (settings,) = c.say("/settings")
    c.press(settings, "set:thr:95")
    c.press(settings, "set:thr:0")  # back to P90, so that the P92 day below alerts
    c.press(settings, "set:mute:7")
    c.press(settings, "set:mute:0")
    c.say("/status")
    c.say("/backtest")
    c.say("/export")
    c.say("/nosuchcommand")
    c.say("hello" if lang == "en" else "你好")
    for admin_only in ("/refresh", "/event rate cut", "/alerts"):
        c.say(admin_only)
    # the daily job evaluates 2026-06-02 (P92) again, as if 2026-06-01 had been the last day
    # evaluated: this subscriber gets an alert in its language
    assert bot.services is not None
    bot.services.store.set_meta(last_evaluated_key(bot.services.engine.source.name), "2026-06-01")
    mark = bot.fake.call_count()
    app = bot.application
    app.job_queue.run_once(daily_job, 0.01, name="daily-now")
    app.job_queue.run_once(drain_job, 3.0, name="drain-now")
    (alert,) = bot.fake.wait_sent(1, chat_id=chat_id, since=mark, timeout=60)
    assert "P90" in alert.params["text"]
    c.say("/unsubscribe")
    c.say("/settings")
    return c


def admin_conversation(bot: BotHarness, lang: str) -> Conversation:
    c = Conversation(bot, ADMIN_ID, lang)
    c.say("/refresh", n=2)
    c.say("/status")
    event = "rate cut" if lang == "en" else "央行降准"
    (added,) = c.say(f"/event {event}", asked=event)
    event_id = re.search(r"#(\d+)", added.params["text"])
    assert event_id is not None
    c.say("/regime")
    c.say("/event " + "x" * 400)
    c.say("/event")
    c.say(f"/event del {event_id.group(1)}")
    c.say("/event del 999")
    c.say("/alerts")
    c.say("/help")
    return c


def without_catchup(application: Any, services: Any) -> None:
    # the start-up catch-up (a minute in) would evaluate the day at a moment of its own choosing;
    # the conversation runs the daily job itself, at a known step
    for job in application.job_queue.get_jobs_by_name(CATCHUP_NAME):
        job.schedule_removal()


@pytest.fixture
def lang_bot(db: Path) -> Iterator[BotHarness]:
    harness = BotHarness(db, configure=without_catchup).start()
    try:
        yield harness
    finally:
        harness.stop()


def assert_one_language(c: Conversation, leaks: Any, at_least: int) -> None:
    shown = c.shown()
    assert len(shown) >= at_least  # the conversation really happened
    found = [(method, text, bad) for method, text in shown if (bad := leaks(text, tuple(c.asked)))]
    assert not found, "\n\n".join(f"{m}: {bad}\n{t}" for m, t, bad in found)


def test_an_english_conversation_is_english_only(lang_bot: BotHarness) -> None:
    user = user_conversation(lang_bot, 8101, "en")
    assert_one_language(user, english_leaks, 40)
    texts = " ".join(t for _, t in user.shown())
    assert "Computer" in texts and "Mining (801020)" in texts and "Social Services" in texts
    assert_one_language(admin_conversation(lang_bot, "en"), english_leaks, 11)


def test_a_chinese_conversation_is_chinese_only(lang_bot: BotHarness) -> None:
    user = user_conversation(lang_bot, 8102, "zh")
    assert_one_language(user, chinese_leaks, 40)
    texts = " ".join(t for _, t in user.shown())
    assert "计算机" in texts and "采掘（801020）" in texts and "社会服务" in texts
    assert_one_language(admin_conversation(lang_bot, "zh"), chinese_leaks, 11)


# -- a rejected batch, told in the reader's language ------------------------------------------


@pytest.fixture
def rejected(tmp_path: Path) -> Iterator[tuple[BotHarness, str]]:
    """A store whose last refresh was rejected: the CSV gained a day with a close of -1."""
    if not SW.exists():
        pytest.skip("shared data not present")
    long = pd.read_csv(SW, dtype={"code": str})
    recent = long[long["date"] >= "2024-06-01"]
    csv = tmp_path / "sw_recent.csv"
    recent.to_csv(csv, index=False)
    source = f"csv:{csv}"
    db_path = tmp_path / "rejected.db"
    settings = parse_settings({"data": {"source": source}, "storage": {"path": str(db_path)}}, "test")
    store = Store(db_path)
    assert Engine(settings, store).update().refresh.ok
    bad = recent[recent["date"] == "2026-06-02"].assign(date="2026-06-03")
    bad.loc[bad["code"] == "801010", "close"] = -1.0
    pd.concat([recent, bad]).to_csv(csv, index=False)
    result = Engine(settings, store).update()
    assert not result.refresh.ok and "close is not a positive number" in result.refresh.message
    store.close()
    harness = BotHarness(db_path, source=source).start()
    try:
        yield harness, result.refresh.message
    finally:
        harness.stop()


def test_a_rejected_batch_is_told_in_the_readers_language(rejected: tuple[BotHarness, str]) -> None:
    bot, raw = rejected
    (zh,) = bot.ask("/spread", chat_id=8201, language_code="zh")
    assert "数据未更新" in zh.params["text"] and "最近一批数据未通过校验，未入库" in zh.params["text"]
    assert "batch rejected" not in zh.params["text"] and not chinese_leaks(zh.params["text"], ("sw_recent.csv",))
    (en,) = bot.ask("/top5", chat_id=8202, language_code="en")
    assert "the last batch failed validation and was not stored" in en.params["text"]
    assert "batch rejected" not in en.params["text"]
    (status,) = bot.ask("/status", chat_id=8201, language_code="zh")
    assert "最近一次获取失败于" in status.params["text"] and "未通过校验" in status.params["text"]
    assert "batch rejected" not in status.params["text"]
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", status.params["text"])  # no ISO UTC stamps

    # the bot's admin, in a private chat, gets the raw detail after the sentence; not in a group
    (admin,) = bot.ask("/spread", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="zh")
    assert "未通过校验" in admin.params["text"]
    assert f"<code>{html.escape(raw)[:150]}" in admin.params["text"]
    (group,) = bot.ask("/spread", chat_id=-100555, user_id=ADMIN_ID, language_code="zh")
    assert "未通过校验" in group.params["text"] and "batch rejected" not in group.params["text"]

    (_started, done) = bot.ask("/refresh", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="zh", n=2)
    assert "更新失败：最近一批数据未通过校验" in done.params["text"]
