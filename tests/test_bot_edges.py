"""Bad input, groups, edited messages, admins, the allow-list and the error handler."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.bot_harness import ADMIN_ID, SOURCE, SW, TOKEN, BotHarness, bot, db, filled_db  # noqa: F401
from support.fakebot import command_update, edited_message_update, my_chat_member_update, text_update

GROUP = -100555


def test_unknown_commands_and_text(bot: BotHarness) -> None:
    (unknown,) = bot.ask("/sprad", chat_id=701, language_code="en")
    assert "Unknown command /sprad" in unknown.params["text"] and "/spread" in unknown.params["text"]
    (zh,) = bot.ask("/foo bar baz", chat_id=701, language_code="zh")
    assert "未知命令 /foo" in zh.params["text"]
    odd = "🙂" * 3000 + "\u202e\u200b<b>&" + "字" * 2000
    (hint,) = bot.ask(odd, chat_id=701, language_code="en")
    assert "commands only" in hint.params["text"]
    (weird_cmd,) = bot.ask("/<b>&amp;", chat_id=701, language_code="en")  # not a command entity: text
    assert weird_cmd.ok
    # extra arguments to commands that take none are ignored on purpose
    (spread,) = bot.ask("/spread please now!!", chat_id=701, language_code="en")
    assert "Industry differentiation" in spread.params["text"]


def test_group_commands_with_and_without_botname(bot: BotHarness) -> None:
    (answer,) = bot.ask("/spread", chat_id=GROUP, bot_username="spreadwatch_bot", language_code="en")
    assert "Industry differentiation" in answer.params["text"]
    assert answer.params["reply_parameters"]["message_id"] > 0  # quotes the command in a group
    (plain,) = bot.ask("/top5", chat_id=GROUP, language_code="en")
    assert "Top 5" in plain.params["text"]
    assert bot.silent(command_update("/spread", chat_id=GROUP, bot_username="other_bot"), chat_id=GROUP) == []
    assert bot.silent(command_update("/nosuch", chat_id=GROUP), chat_id=GROUP) == []
    assert bot.silent(text_update("just chatting", chat_id=GROUP), chat_id=GROUP) == []
    (addressed,) = bot.ask("/nosuch", chat_id=GROUP, bot_username="spreadwatch_bot", language_code="en")
    assert "Unknown command /nosuch" in addressed.params["text"]


def test_edited_messages_and_member_updates_are_ignored(bot: BotHarness) -> None:
    assert bot.silent(edited_message_update("/spread", chat_id=702), chat_id=702) == []
    assert bot.silent(my_chat_member_update(703, "member", "kicked"), chat_id=703) == []


def test_admin_only_refresh(bot: BotHarness) -> None:
    (refused,) = bot.ask("/refresh", chat_id=704, language_code="en")
    assert "admins only" in refused.params["text"]
    started, done = bot.ask("/refresh", chat_id=ADMIN_ID, n=2, language_code="en", timeout=30)
    assert "Refreshing" in started.params["text"]
    assert "Refresh done: no new data; data up to 2026-06-02" in done.params["text"]
    (help_admin,) = bot.ask("/help", chat_id=ADMIN_ID, language_code="en")
    assert "/refresh" in help_admin.params["text"]
    (help_user,) = bot.ask("/help", chat_id=704, language_code="en")
    assert "/refresh" not in help_user.params["text"] and "/spread" in help_user.params["text"]


@pytest.mark.parametrize("command", ["/refresh", "/alerts", "/event rate cut", "/event del 1"])
def test_every_admin_command_refuses_non_admins_in_their_language(bot: BotHarness, command: str) -> None:
    (refused,) = bot.ask(command, chat_id=705, language_code="en")
    assert refused.params["text"] == "⛔ This command is for the bot's admins only."
    (refused_zh,) = bot.ask(command, chat_id=706, language_code="zh-hans")
    assert "管理员" in refused_zh.params["text"]


def test_allow_list_refuses_once_then_ignores(db: Path) -> None:
    harness = BotHarness(db, allowed_chats=[801, GROUP]).start()
    try:
        (ok,) = harness.ask("/spread", chat_id=801, language_code="en")
        assert "Industry differentiation" in ok.params["text"]
        (refusal,) = harness.ask("/spread", chat_id=802, language_code="en")
        assert "does not serve this chat" in refusal.params["text"] and "802" in refusal.params["text"]
        assert harness.silent(command_update("/spread", chat_id=802), chat_id=802, probe_chat=801) == []
        assert harness.silent(command_update("/start", chat_id=802), chat_id=802, probe_chat=801) == []
        (admin,) = harness.ask("/status", chat_id=ADMIN_ID, language_code="en")
        assert "Status" in admin.params["text"]
        assert len(harness.fake.sent(chat_id=802)) == 1
    finally:
        harness.stop()


def test_errors_are_logged_without_token_and_the_user_gets_an_apology(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    harness = BotHarness(db).start()
    try:
        # a broken database: the handler raises, the error handler takes over
        conn = sqlite3.connect(db)
        conn.execute("DROP TABLE snapshots")
        conn.commit()
        conn.close()
        with caplog.at_level(logging.ERROR):
            (apology,) = harness.ask("/spread", chat_id=901, language_code="en")
            (zh,) = harness.ask("/top5", chat_id=902, language_code="zh")
        assert "Sorry, something went wrong" in apology.params["text"]
        assert "抱歉" in zh.params["text"]
        assert "handler error" in caplog.text and "no such table: snapshots" in caplog.text
        assert "chat 901" in caplog.text and "/spread" in caplog.text
        assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text
    finally:
        harness.stop()


def test_failed_reply_does_not_loop(bot: BotHarness) -> None:
    """A reply Telegram refuses (blocked user) is logged; no apology is attempted to that chat."""
    bot.fake.fail("sendMessage", "403", chat_id=705)
    mark = bot.fake.call_count()
    assert bot.silent(command_update("/spread", chat_id=705), chat_id=705) == []
    assert [c.status for c in bot.fake.calls("sendMessage", chat_id=705, since=mark)] == [403]
    # a dropped connection on the reply: the apology goes out on a fresh connection
    bot.fake.fail("sendMessage", "drop", chat_id=706)
    (apology,) = bot.ask("/spread", chat_id=706, language_code="en")
    assert "Sorry" in apology.params["text"]


def test_stale_and_missing_data_are_said_plainly(db: Path, tmp_path: Path) -> None:
    later = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # months after the CSV's last day
    harness = BotHarness(db, clock=lambda: later).start()
    try:
        for command in ("/spread", "/top5", "/bottom5", "/industry 801750"):
            (answer,) = harness.ask(command, chat_id=951, language_code="en")
            assert "Data is stale" in answer.params["text"] and "2026-06-02" in answer.params["text"], command
        (photo,) = harness.ask("/history", chat_id=951, language_code="en", timeout=30)
        assert "Data is stale" in photo.params["caption"]
        (status,) = harness.ask("/status", chat_id=951, language_code="en")
        assert "Stale" in status.params["text"]
    finally:
        harness.stop()

    # an empty store whose first fetch fails: every answer says there is no data, and why
    missing = f"csv:{tmp_path / 'nowhere.csv'}"
    empty = BotHarness(tmp_path / "empty.db", source=missing).start()
    try:
        assert empty.services is not None
        deadline = time.monotonic() + 20
        while empty.services.store.last_fetch(missing) is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the start-up fetch into the empty store
        for command in ("/spread", "/top5", "/bottom5", "/industry 801750", "/history 3y"):
            (answer,) = empty.ask(command, chat_id=952, language_code="en")
            assert "No data yet" in answer.params["text"], command
            assert "The last fetch from the source failed" in answer.params["text"], command
            assert "nowhere.csv" in answer.params["text"]
        (status,) = empty.ask("/status", chat_id=952, language_code="zh")
        assert "还没有数据" in status.params["text"] and "获取失败" in status.params["text"]
    finally:
        empty.stop()


def test_a_new_installation_fetches_at_start_up(tmp_path: Path) -> None:
    if not SW.exists():
        pytest.skip("shared data not present")
    harness = BotHarness(tmp_path / "new.db").start()
    try:
        assert harness.services is not None
        harness.fake.wait_calls("getUpdates", 1)  # polling does not wait for the fetch
        deadline = time.monotonic() + 60
        while harness.services.store.last_snapshot_date(SOURCE) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        (answer,) = harness.ask("/spread", chat_id=953, language_code="en")
        assert "Industry differentiation · 2026-06-02" in answer.params["text"]
    finally:
        harness.stop()
