"""Update builders for tests: plain dicts shaped like the Bot API's JSON (users, chats, text and command
messages, edited messages, button presses, ChatMember objects and my_chat_member changes) to ``push``."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from typing import Any

_user_message_ids: Iterator[int] = itertools.count(100_000)


def user(
    user_id: int = 1001, first_name: str = "Ann", language_code: str | None = "en", username: str | None = None
) -> dict[str, Any]:
    u: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        u["language_code"] = language_code
    if username:
        u["username"] = username
    return u


def chat(chat_id: int, chat_type: str | None = None, title: str | None = None) -> dict[str, Any]:
    kind = chat_type or ("private" if chat_id > 0 else "group")
    c: dict[str, Any] = {"id": chat_id, "type": kind}
    if kind == "private":
        c["first_name"] = "Ann"
    else:
        c["title"] = title or "Test group"
    return c


def _message(
    text: str,
    chat_id: int,
    user_id: int | None,
    chat_type: str | None,
    language_code: str | None,
    entities: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
    msg: dict[str, Any] = {
        "message_id": next(_user_message_ids),
        "date": int(time.time()),
        "chat": chat(chat_id, chat_type),
        "from": user(uid, language_code=language_code),
        "text": text,
    }
    if entities is None:
        entities = _command_entities(text)
    if entities:
        msg["entities"] = entities
    return msg


def _command_entities(text: str) -> list[dict[str, Any]]:
    m = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if m is None:
        return []
    # Telegram counts offsets in UTF-16 code units; a command is ASCII so the lengths agree
    return [{"type": "bot_command", "offset": 0, "length": len(m.group(0))}]


def text_update(
    text: str,
    chat_id: int = 1001,
    user_id: int | None = None,
    chat_type: str | None = None,
    language_code: str | None = "en",
    entities: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A plain text message (command entities are added when the text starts with a command)."""
    return {"message": _message(text, chat_id, user_id, chat_type, language_code, entities)}


def command_update(
    command: str,
    chat_id: int = 1001,
    user_id: int | None = None,
    chat_type: str | None = None,
    language_code: str | None = "en",
    bot_username: str | None = None,
) -> dict[str, Any]:
    """``command_update("/history 3y", chat_id=-100, bot_username="spreadwatch_bot")`` → "/history@… 3y"."""
    if not command.startswith("/"):
        command = "/" + command
    if bot_username:
        head, _, rest = command.partition(" ")
        command = f"{head}@{bot_username}" + (f" {rest}" if rest else "")
    return text_update(command, chat_id, user_id, chat_type, language_code)


def edited_message_update(
    text: str,
    chat_id: int = 1001,
    user_id: int | None = None,
    chat_type: str | None = None,
    language_code: str | None = "en",
) -> dict[str, Any]:
    msg = _message(text, chat_id, user_id, chat_type, language_code, None)
    msg["edit_date"] = msg["date"] + 5
    return {"edited_message": msg}


def callback_query_update(
    message: dict[str, Any], data: str, user_id: int | None = None, language_code: str | None = "en"
) -> dict[str, Any]:
    chat_id = int(message["chat"]["id"])
    uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
    return {
        "callback_query": {
            "id": str(next(_user_message_ids)),
            "from": user(uid, language_code=language_code),
            "message": {k: v for k, v in message.items() if not k.startswith("_")},
            "chat_instance": f"ci{chat_id}",
            "data": data,
        }
    }


def chat_member(user_id: int, status: str) -> dict[str, Any]:
    """A ChatMember object as getChatMember returns it (administrators carry their rights)."""
    member: dict[str, Any] = {"user": user(user_id), "status": status}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        rights = [
            "can_be_edited",
            "is_anonymous",
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
        ]
        member.update(dict.fromkeys(rights, False), can_manage_chat=True)
    elif status == "kicked":
        member["until_date"] = 0
    elif status == "restricted":
        member.update(is_member=True, can_send_messages=False, until_date=0)
    return member


def my_chat_member_update(
    chat_id: int,
    old_status: str = "member",
    new_status: str = "kicked",
    user_id: int | None = None,
    chat_type: str | None = None,
    bot: dict[str, Any] | None = None,
) -> dict[str, Any]:
    uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
    bot_user = bot or {"id": 777000, "is_bot": True, "first_name": "Spreadwatch", "username": "spreadwatch_bot"}

    def member(status: str) -> dict[str, Any]:
        m: dict[str, Any] = {"user": bot_user, "status": status}
        if status == "kicked":
            m["until_date"] = 0
        if status == "restricted":
            m.update(
                is_member=True,
                can_send_messages=False,
                until_date=0,
            )
        return m

    return {
        "my_chat_member": {
            "chat": chat(chat_id, chat_type),
            "from": user(uid),
            "date": int(time.time()),
            "old_chat_member": member(old_status),
            "new_chat_member": member(new_status),
        }
    }
