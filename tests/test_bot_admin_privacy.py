"""What admins are answered never reaches a group, who recorded a policy event is for admins only, and an
event's text cannot carry control or bidi characters: through the real bot and the fake Bot API."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import pytest
from support.bot_harness import ADMIN_ID, BOT_USERNAME, FRESH_NOW, BotHarness, bot, db, filled_db  # noqa: F401

from jobs.regimes.repo import RegimeRepo

GROUP = -100777


@pytest.mark.parametrize("command", ["/alerts", "/refresh", "/destinations", "/event rates cut", "/event"])
def test_an_admin_command_in_a_group_answers_with_one_line_pointing_to_the_private_chat(
    bot: BotHarness, command: str
) -> None:
    assert bot.services is not None
    (answer,) = bot.ask(command, chat_id=GROUP, user_id=ADMIN_ID, language_code="en")
    text = answer.params["text"]
    assert "private chat" in text and f"@{BOT_USERNAME}" in text
    assert "\n" not in text.strip()
    assert RegimeRepo(bot.services.store).events() == []  # nothing was done either

    (zh,) = bot.ask(command, chat_id=GROUP, user_id=ADMIN_ID, language_code="zh-hans")
    assert "私聊" in zh.params["text"]

    # the same admin in the private chat gets the real answer
    (private, *_) = bot.ask(command, chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
    assert "private chat" not in private.params["text"]


def test_a_policy_event_shows_its_author_to_admins_only(bot: BotHarness) -> None:
    assert bot.services is not None
    RegimeRepo(bot.services.store).add_event(FRESH_NOW.date(), "PBoC cuts RRR", "ops_handle_of_admin", ADMIN_ID)
    for chat_id, user_id in ((610, 610), (GROUP, 610), (GROUP, ADMIN_ID)):
        (shown,) = bot.ask("/regime", chat_id=chat_id, user_id=user_id, language_code="en")
        text = shown.params["text"]
        assert f"{FRESH_NOW.date()} PBoC cuts RRR" in text
        assert "ops_handle_of_admin" not in text, (chat_id, user_id)
    (admin,) = bot.ask("/regime", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
    assert "PBoC cuts RRR — ops_handle_of_admin" in admin.params["text"]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("rates \x1b[2J\x1b[31mcut", "U+001B"),  # an ESC sequence would reach a terminal
        ("PBoC cuts \u202enimda\u202c", "U+202E"),  # a right-to-left override spoofs the author line
        ("a\u2066b\u2069", "U+2066"),
    ],
)
def test_event_text_with_control_or_bidi_characters_is_refused_saying_why(
    bot: BotHarness, text: str, named: str
) -> None:
    assert bot.services is not None
    (answer,) = bot.ask(f"/event {text}", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
    body = answer.params["text"]
    assert "Not recorded" in body and named in body
    assert "\x1b" not in body and "\u202e" not in body
    assert RegimeRepo(bot.services.store).events() == []
