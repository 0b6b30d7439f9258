"""The update queue behind getUpdates: ``push`` queues an update and wakes a long poll, ``pending`` counts
what no ``offset`` has confirmed, and ``_get_updates`` serves the long poll (``offset``, ``limit``, ``timeout``)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from .state import FakeBotState


class UpdateQueue(FakeBotState):
    def push(self, update: dict[str, Any]) -> int:
        with self._cond:
            update_id = next(self._update_ids)
            update = {**update, "update_id": update_id}
            for key in ("message", "edited_message", "channel_post", "my_chat_member"):
                if key in update and "chat" in update[key]:
                    self._chats[update[key]["chat"]["id"]] = update[key]["chat"]
            self._updates.append(update)
            self.pushed_at[update_id] = time.monotonic()
            self._cond.notify_all()
        return update_id

    def pending(self) -> int:
        with self._lock:
            return len(self._updates)

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = params.get("offset")
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        with self._cond:
            if isinstance(offset, int) and offset > 0:
                while self._updates and self._updates[0]["update_id"] < offset:
                    self._updates.popleft()
            while not self._updates and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch = list(itertools.islice(self._updates, limit))
            now = time.monotonic()
            for u in batch:
                self.served_at.setdefault(u["update_id"], now)
            return batch
