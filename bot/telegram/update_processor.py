"""Updates of different chats are processed side by side; the updates of one chat one after another.

python-telegram-bot processes one update at a time by default, so a command waiting for the database
(a write behind a large batch save) held up every other chat's answer. With ``concurrent_updates(True)``
alone, two button presses of one chat could overtake each other. This processor gives every chat its
own queue: order within a chat, no waiting across chats.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


def chat_key(update: object) -> int | None:
    """The chat an update belongs to (None: updates without a chat share one queue)."""
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._queues: dict[int | None, tuple[asyncio.Lock, int]] = {}
        # called with each update once it is processed (the test harness waits on it)
        self.on_processed: Callable[[object], None] | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        lock, users = self._queues.get(key, (asyncio.Lock(), 0))
        self._queues[key] = (lock, users + 1)
        try:
            # asyncio.Lock wakes its waiters in arrival order: a chat's updates keep their order
            async with lock:
                await coroutine
        finally:
            lock, users = self._queues[key]
            if users == 1:
                del self._queues[key]
            else:
                self._queues[key] = (lock, users - 1)
            if self.on_processed is not None:
                self.on_processed(update)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
