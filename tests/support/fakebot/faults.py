"""Fault injection: ``fail(...)`` rules (429, 403, 400, migrate, 500, dropped connections, delays; checked in
order, first match wins) and the optional ``rate_limit`` on sends, with the error answers they give."""

from __future__ import annotations

from dataclasses import dataclass

from .records import SEND_METHODS
from .replies import _error, _Reply
from .state import FakeBotState


@dataclass
class FailRule:
    method: str
    kind: str
    times: int | None = 1
    chat_id: int | None = None
    retry_after: float = 1
    description: str | None = None
    migrate_to: int | None = None
    used: int = 0

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.method not in ("*", method):
            return False
        return self.chat_id is None or self.chat_id == chat_id


class FaultInjection(FakeBotState):
    def fail(
        self,
        method: str,
        kind: str,
        times: int | None = 1,
        chat_id: int | None = None,
        retry_after: float = 1,
        description: str | None = None,
        migrate_to: int | None = None,
    ) -> FailRule:
        if kind not in ("429", "403", "400", "migrate", "500", "drop", "delay"):
            raise ValueError(f"unknown failure kind {kind!r}")
        if kind == "migrate" and migrate_to is None:
            raise ValueError("kind 'migrate' needs migrate_to")
        rule = FailRule(method, kind, times, chat_id, retry_after, description, migrate_to)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear_failures(self) -> None:
        with self._lock:
            self._rules.clear()

    def _take_rule(self, method: str, chat_id: int | None) -> FailRule | None:
        """The first rule for this call, counted as used; the caller holds ``_lock``."""
        rule = next((r for r in self._rules if r.matches(method, chat_id)), None)
        if rule is not None:
            rule.used += 1
        return rule

    def _rate_limit_refusal(self, method: str, now: float) -> _Reply | None:
        """A 429 when this send would exceed ``rate_limit`` in the last second; else None (and it counts)."""
        if method in SEND_METHODS and self.rate_limit is not None:
            with self._lock:
                while self._recent_sends and now - self._recent_sends[0] >= 1.0:
                    self._recent_sends.popleft()
                over = len(self._recent_sends) >= self.rate_limit
                if not over:
                    self._recent_sends.append(now)
            if over:
                retry = self.rate_limit_retry_after
                return _error(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        return None


def _rule_error(rule: FailRule) -> _Reply:
    if rule.kind == "429":
        retry = int(rule.retry_after) if float(rule.retry_after).is_integer() else rule.retry_after
        return _error(429, rule.description or f"Too Many Requests: retry after {retry}", {"retry_after": retry})
    if rule.kind == "403":
        return _error(403, rule.description or "Forbidden: bot was blocked by the user")
    if rule.kind == "400":
        return _error(400, rule.description or "Bad Request: chat not found")
    if rule.kind == "migrate":
        return _error(
            400,
            rule.description or "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": rule.migrate_to},
        )
    return _error(500, rule.description or "Internal Server Error")
