"""Everything the fake holds, in one place: the bot's identity and settings tests change (token,
``rate_limit``, ``chat_members``, ``usernames``), the recorded calls, the update queue, the messages the bot
sent, its uploaded files, its command menus, the chats it has seen, the failure rules and the server.
Every other part of ``FakeBotAPI`` works on these attributes under ``_lock`` / ``_cond``."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .records import Call, UploadedFile

if TYPE_CHECKING:
    from .faults import FailRule


class FakeBotState:
    def __init__(
        self, token: str | None = None, bot_username: str = "spreadwatch_bot", bot_id: int = 777000, port: int = 0
    ) -> None:
        self.token = token
        self.bot_user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Spreadwatch",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.rate_limit: float | None = None
        # getChatMember answers: (chat_id, user_id) -> "creator" | "administrator" | "member" | "left" | ...
        self.chat_members: dict[tuple[int, int], str] = {}
        # getChat answers for public @usernames: "@name" -> chat id (a channel)
        self.usernames: dict[str, int] = {}
        self.rate_limit_retry_after = 1
        self.pushed_at: dict[int, float] = {}
        self.served_at: dict[int, float] = {}
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._calls: list[Call] = []
        self._updates: deque[dict[str, Any]] = deque()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._files: dict[str, UploadedFile] = {}
        self._file_paths: dict[str, str] = {}
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._rules: list[FailRule] = []
        self._recent_sends: deque[float] = deque()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self.port = port  # 0: a free one, chosen at start()
