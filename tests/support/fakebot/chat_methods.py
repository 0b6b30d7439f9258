"""Bot API methods about chats and their members: getChat (a channel from ``usernames["@name"]``, else
"chat not found") and getChatMember (status from ``chat_members[(chat_id, user_id)]``, default "member")."""

from __future__ import annotations

from .records import Call
from .replies import _error, _ok, _Reply
from .state import FakeBotState
from .update_builders import chat_member


class ChatMethods(FakeBotState):
    def _m_getChat(self, call: Call) -> _Reply:
        name = str(call.params.get("chat_id"))
        if name not in self.usernames:
            return _error(400, "Bad Request: chat not found")
        chat = {"id": self.usernames[name], "type": "channel", "title": name[1:], "username": name[1:]}
        return _ok({**chat, "accent_color_id": 0, "max_reaction_count": 11})

    def _m_getChatMember(self, call: Call) -> _Reply:
        user_id = call.params.get("user_id")
        if call.chat_id is None or not isinstance(user_id, int):
            return _error(400, "Bad Request: chat not found")
        status = self.chat_members.get((call.chat_id, user_id), "member")
        return _ok(chat_member(user_id, status))
