"""What tests assert on: the recorded calls (``calls``, ``sent``, ``call_count``), waiting for them
(``wait_calls``, ``wait_sent``, ``wait_idle``) and forgetting them (``clear``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from .records import Call, _is_send, _match
from .state import FakeBotState


class CallInspection(FakeBotState):
    def calls(
        self, method: str | None = None, chat_id: int | None = None, ok: bool | None = None, since: int = 0
    ) -> list[Call]:
        with self._lock:
            return [c for c in self._calls[since:] if _match(c, method, chat_id, ok)]

    def sent(self, chat_id: int | None = None, method: str | None = None, since: int = 0) -> list[Call]:
        with self._lock:
            return [c for c in self._calls[since:] if _is_send(c) and _match(c, method, chat_id, True)]

    def in_flight(self, method: str | None = None) -> int:
        """Requests that have arrived and are not answered yet (a ``getUpdates`` long poll among them)."""
        with self._lock:
            return sum(1 for c in self._calls if not c.answered and (method is None or c.method == method))

    def call_count(self) -> int:
        with self._lock:
            return len(self._calls)

    def wait_calls(
        self,
        method: str | None,
        n: int = 1,
        timeout: float = 5.0,
        chat_id: int | None = None,
        ok: bool | None = None,
        since: int = 0,
    ) -> list[Call]:
        return self._wait(lambda c: _match(c, method, chat_id, ok), n, timeout, since)

    def wait_sent(
        self, n: int = 1, timeout: float = 5.0, chat_id: int | None = None, method: str | None = None, since: int = 0
    ) -> list[Call]:
        return self._wait(lambda c: _is_send(c) and _match(c, method, chat_id, True), n, timeout, since)

    def _wait(self, pred: Callable[[Call], bool], n: int, timeout: float, since: int) -> list[Call]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self._calls[since:] if pred(c)]
                if len(found) >= n:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.chat_id, c.status) for c in self._calls[since:] if c.method != "getUpdates"]
                    raise TimeoutError(f"wanted {n} matching call(s), got {len(found)}; recorded: {seen}")
                self._cond.wait(left)

    def wait_idle(self, quiet: float = 0.2, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                last = max((c.time for c in self._calls if c.method != "getUpdates"), default=0.0)
            if time.monotonic() - last >= quiet:
                return
            time.sleep(quiet / 4)
        raise TimeoutError("the bot kept calling the API")

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
