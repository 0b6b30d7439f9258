"""/start with its confirm button, /subscribe, /unsubscribe and the /settings buttons."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

from datetime import date

from support.bot_harness import BotHarness, bot, db, filled_db  # noqa: F401
from support.fakebot import callback_query_update


def buttons(call: object) -> list[tuple[str, str]]:
    markup = call.params["reply_markup"]  # type: ignore[attr-defined]
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


def test_start_subscribes_after_the_confirm_button(bot: BotHarness) -> None:
    assert bot.services is not None
    chats = bot.services.chats
    (welcome,) = bot.ask("/start", chat_id=601, language_code="en")
    assert "Welcome, Ann" in welcome.params["text"]
    assert buttons(welcome) == [("✅ Subscribe to alerts", "sub:confirm")]
    assert chats.get(601) is None or not chats.get(601).subscribed  # type: ignore[union-attr]

    message = bot.fake.message(601, welcome.message_id or 0)
    sent = bot.answer(callback_query_update(message, "sub:confirm"), chat_id=601, n=2)
    assert {c.method for c in sent} == {"editMessageReplyMarkup", "sendMessage"}
    confirmation = next(c for c in sent if c.method == "sendMessage")
    assert "Subscribed" in confirmation.params["text"] and "P90" in confirmation.params["text"]
    chat = chats.get(601)
    assert chat is not None and chat.subscribed and chat.active and chat.lang == "en"
    assert bot.fake.calls("answerCallbackQuery")[-1].params["text"] == "Subscribed"

    (again,) = bot.ask("/start", chat_id=601, language_code="en")
    assert "You are subscribed" in again.params["text"] and "reply_markup" not in again.params


def test_subscribe_unsubscribe(bot: BotHarness) -> None:
    assert bot.services is not None
    chats = bot.services.chats
    (first,) = bot.ask("/subscribe", chat_id=602, language_code="zh")
    assert "已订阅" in first.params["text"]
    assert chats.get(602).subscribed  # type: ignore[union-attr]
    (second,) = bot.ask("/subscribe extra args", chat_id=602, language_code="zh")
    assert "已经订阅" in second.params["text"]
    (gone,) = bot.ask("/unsubscribe", chat_id=602, language_code="zh")
    assert "已取消订阅" in gone.params["text"]
    assert not chats.get(602).subscribed  # type: ignore[union-attr]
    (none,) = bot.ask("/unsubscribe", chat_id=602, language_code="zh")
    assert "还没有订阅" in none.params["text"]
    # a group can subscribe too, by one of its administrators; its chat type is kept for delivery limits
    (refused,) = bot.ask("/subscribe@spreadwatch_bot", chat_id=-100777, user_id=1001, language_code="en")
    assert "Only this group's administrators" in refused.params["text"]
    assert chats.get(-100777) is None
    bot.fake.chat_members[(-100777, 1001)] = "administrator"
    (ok,) = bot.ask("/subscribe@spreadwatch_bot", chat_id=-100777, user_id=1001, language_code="en")
    assert "Subscribed" in ok.params["text"]
    group = chats.get(-100777)
    assert group is not None and group.subscribed and group.chat_type == "group"
    (member,) = bot.fake.calls("getChatMember", chat_id=-100777)[-1:]
    assert member.params["user_id"] == 1001


def test_group_settings_buttons_are_for_group_admins(bot: BotHarness) -> None:
    assert bot.services is not None
    chats = bot.services.chats
    group = -100888
    bot.fake.chat_members[(group, 2002)] = "creator"
    bot.ask("/subscribe", chat_id=group, user_id=2002, language_code="en")
    (menu,) = bot.ask("/settings", chat_id=group, user_id=3003, language_code="en")  # anyone may look
    message = bot.fake.message(group, menu.message_id or 0)
    mark = bot.fake.call_count()
    bot.fake.push(callback_query_update(message, "set:mute:30", user_id=3003))
    (ack,) = bot.fake.wait_calls("answerCallbackQuery", 1, since=mark)
    assert ack.params["show_alert"] is True and "administrators" in ack.params["text"]
    assert chats.get(group).muted_until is None  # type: ignore[union-attr]
    (edit,) = bot.answer(callback_query_update(message, "set:mute:30", user_id=2002), chat_id=group)
    assert edit.method == "editMessageText" and chats.get(group).muted_until is not None  # type: ignore[union-attr]


def test_settings_buttons_change_language_threshold_and_mute(bot: BotHarness) -> None:
    assert bot.services is not None
    chats = bot.services.chats
    bot.ask("/subscribe", chat_id=603, language_code="zh")
    (menu,) = bot.ask("/settings", chat_id=603, language_code="zh")
    assert "提醒阈值：<b>P90</b>（默认）" in menu.params["text"]
    data = [d for _, d in buttons(menu)]
    assert data == [
        *("set:lang:zh", "set:lang:en"),
        *("set:thr:85", "set:thr:90", "set:thr:95", "set:thr:0"),
        *("set:mute:1", "set:mute:7", "set:mute:30"),
    ]

    def press(value: str) -> dict:
        message = bot.fake.message(603, menu.message_id or 0)
        (edit,) = bot.answer(callback_query_update(message, value, language_code="zh"), chat_id=603)
        assert edit.method == "editMessageText" and edit.params["message_id"] == menu.message_id
        return edit.params

    edited = press("set:lang:en")
    assert chats.get(603).lang == "en"  # type: ignore[union-attr]
    assert "Language saved" in edited["text"] and "Language: English" in edited["text"]

    edited = press("set:thr:95")
    assert chats.get(603).threshold == 95.0  # type: ignore[union-attr]
    assert "<b>P95</b> (personal)" in edited["text"]
    assert any(b["text"] == "• P95 •" for row in edited["reply_markup"]["inline_keyboard"] for b in row)

    edited = press("set:mute:7")
    today = date(2026, 6, 2)  # the harness clock
    assert chats.get(603).muted_until == date(2026, 6, 9)  # type: ignore[union-attr]
    assert chats.get(603).muted_on(today)  # type: ignore[union-attr]
    assert "muted until 2026-06-09" in edited["text"]
    assert ("Unmute", "set:mute:0") in [
        (b["text"], b["callback_data"]) for row in edited["reply_markup"]["inline_keyboard"] for b in row
    ]

    edited = press("set:mute:0")
    assert chats.get(603).muted_until is None and "Alerts: on" in edited["text"]  # type: ignore[union-attr]

    edited = press("set:thr:0")
    assert chats.get(603).threshold is None and "(default)" in edited["text"]  # type: ignore[union-attr]

    # later answers follow the chosen language
    (spread,) = bot.ask("/spread", chat_id=603, language_code="zh")
    assert "Industry differentiation" in spread.params["text"]


def test_stale_buttons_get_a_toast_not_an_error(bot: BotHarness) -> None:
    (menu,) = bot.ask("/settings", chat_id=604, language_code="en")
    message = bot.fake.message(604, menu.message_id or 0)
    mark = bot.fake.call_count()
    bot.fake.push(callback_query_update(message, "set:thr:42"))
    (ack,) = bot.fake.wait_calls("answerCallbackQuery", 1, since=mark)
    assert ack.params["text"] == "This button has expired"
    mark = bot.fake.call_count()
    bot.fake.push(callback_query_update(message, "gone:feature"))  # no handler claims it at all
    (ack,) = bot.fake.wait_calls("answerCallbackQuery", 1, since=mark)
    assert ack.params["text"] == "This button has expired"
    # pressing the same option twice: Telegram refuses the identical second edit; no apology follows
    (menu,) = bot.ask("/settings", chat_id=604, language_code="en")
    message = bot.fake.message(604, menu.message_id or 0)
    bot.answer(callback_query_update(message, "set:lang:en"), chat_id=604)
    mark = bot.fake.call_count()
    assert bot.silent(callback_query_update(message, "set:lang:en"), chat_id=604) == []
    assert [c.status for c in bot.fake.calls("editMessageText", chat_id=604, since=mark)] == [400]


def test_settings_after_unsubscribe_says_not_subscribed_not_muted(bot: BotHarness) -> None:
    assert bot.services is not None
    bot.ask("/subscribe", chat_id=605, language_code="en")
    (menu,) = bot.ask("/settings", chat_id=605, language_code="en")
    message = bot.fake.message(605, menu.message_id or 0)
    (muted,) = bot.answer(callback_query_update(message, "set:mute:7"), chat_id=605)
    assert "muted until 2026-06-09" in muted.params["text"]
    bot.ask("/unsubscribe", chat_id=605, language_code="en")
    (after,) = bot.ask("/settings", chat_id=605, language_code="en")
    assert "Alerts: not subscribed (/subscribe)" in after.params["text"]
    assert "muted" not in after.params["text"]
    bot.services.chats.update(605, lang="zh")
    (after_zh,) = bot.ask("/settings", chat_id=605, language_code="zh")
    assert "提醒：未订阅" in after_zh.params["text"] and "静音" not in after_zh.params["text"].split("请在下方选择")[0]
    # the mute is kept: back on /subscribe, the chat is still muted until its date
    bot.ask("/subscribe", chat_id=605, language_code="zh")
    (back,) = bot.ask("/settings", chat_id=605, language_code="zh")
    assert "提醒：静音至 2026-06-09" in back.params["text"]
