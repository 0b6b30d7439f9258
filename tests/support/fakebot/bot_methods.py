"""Bot API methods about the bot itself and how it gets updates: getMe, deleteWebhook (honours
``drop_pending_updates``), getWebhookInfo, the command menus (setMyCommands / getMyCommands /
deleteMyCommands, stored per scope and language_code, read by tests with ``commands``) and
answerCallbackQuery. getUpdates itself is served by the update queue."""

from __future__ import annotations

from typing import Any

from .records import Call
from .replies import _ok, _Reply
from .update_queue import UpdateQueue


class BotMethods(UpdateQueue):
    def commands(self, language_code: str = "", scope: str = "default") -> list[dict[str, Any]]:
        with self._lock:
            return list(self._commands.get((scope, language_code), []))

    def _m_getMe(self, call: Call) -> _Reply:
        return _ok(self.bot_user)

    def _m_deleteWebhook(self, call: Call) -> _Reply:
        if call.params.get("drop_pending_updates"):
            with self._lock:
                self._updates.clear()
        return _ok(True)

    def _m_getWebhookInfo(self, call: Call) -> _Reply:
        return _ok({"url": "", "has_custom_certificate": False, "pending_update_count": self.pending()})

    def _m_setMyCommands(self, call: Call) -> _Reply:
        key = _commands_key(call.params)
        with self._lock:
            self._commands[key] = list(call.params.get("commands") or [])
        return _ok(True)

    def _m_getMyCommands(self, call: Call) -> _Reply:
        return _ok(self.commands(*reversed(_commands_key(call.params))))

    def _m_deleteMyCommands(self, call: Call) -> _Reply:
        with self._lock:
            self._commands.pop(_commands_key(call.params), None)
        return _ok(True)

    def _m_answerCallbackQuery(self, call: Call) -> _Reply:
        return _ok(True)


def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
    scope = params.get("scope") or {}
    return (
        str(scope.get("type", "default")) if isinstance(scope, dict) else "default",
        params.get("language_code") or "",
    )
