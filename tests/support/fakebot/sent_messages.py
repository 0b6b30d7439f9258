"""The messages the bot sent, kept as Telegram would return them: ``_new_message`` (next message_id, the
chat as last seen in an update), ``_store`` (with its reply_markup) and ``message`` for tests, e.g. to build
a callback_query on it. Keys starting with "_" (the text as sent) stay out of answers."""

from __future__ import annotations

import json
import time
from typing import Any

from .records import Call
from .replies import _ok, _Reply
from .state import FakeBotState


class SentMessages(FakeBotState):
    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._messages[(chat_id, message_id)]))

    def _new_message(self, chat_id: int) -> dict[str, Any]:
        with self._lock:
            chat = self._chats.get(chat_id) or _chat_json(chat_id)
            return {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": chat,
                "from": self.bot_user,
            }

    def _store(self, msg: dict[str, Any], call: Call) -> _Reply:
        markup = call.params.get("reply_markup")
        if markup:
            msg["reply_markup"] = markup
        with self._lock:
            self._messages[(msg["chat"]["id"], msg["message_id"])] = msg
        return _ok(_public(msg))


def _public(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if not k.startswith("_")}


def _chat_json(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "User"}
    return {"id": chat_id, "type": "supergroup" if chat_id < -1_000_000_000_000 else "group", "title": "Group"}
