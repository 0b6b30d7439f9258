"""Updates of different chats are processed side by side; the updates of one chat one after another;
no chat can take the others' turns.

python-telegram-bot processes one update at a time by default, so a command waiting for the database
(a write behind a large batch save) held up every other chat's answer. With ``concurrent_updates(True)``
alone, two button presses of one chat could overtake each other. This processor gives every chat its
own queue: order within a chat, no waiting across chats.

What one chat can take from the others is bounded:

* a chat's waiting updates hold nothing shared: an update first waits for its chat's turn, and only
  then for one of ``max_concurrent_updates`` slots, so a chat holds at most one slot however many of
  its updates wait (python-telegram-bot's own limit, taken before the processor sees an update, is
  set out of reach for that reason);
* commands and button presses pass the chat's token bucket (:class:`bot.telegram.chat_limits.ChatLimits`)
  when they arrive; those refused never queue;
* heavy commands (charts, the backtest, exports, regimes) take one of ``heavy_at_once`` places shared
  by all chats after their chat's turn, so a chat has at most one of them in progress and the others
  still get theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.telegram.chat_limits import Admission, ChatLimits

# what python-telegram-bot's semaphore gets: in BaseUpdateProcessor.process_update (final) it is held
# around do_process_update, so any real bound there would count updates waiting for their chat's turn
NOT_A_LIMIT = 1 << 30


def chat_key(update: object) -> int | None:
    """The chat an update belongs to (None: updates without a chat share one queue)."""
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return None


@dataclass
class _ChatQueue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # updates of the chat in the processor (the one in progress and those waiting)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(
        self,
        max_concurrent_updates: int = 64,
        limits: ChatLimits | None = None,
        heavy_at_once: int = 2,
    ) -> None:
        super().__init__(NOT_A_LIMIT)
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        self._heavy = asyncio.Semaphore(heavy_at_once)
        self.limits = limits
        self._queues: dict[int | None, _ChatQueue] = {}
        # called with each update once it is processed or refused (the test harness waits on it)
        self.on_processed: Callable[[object], None] | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        try:
            admission = self.limits.admit(update) if self.limits is not None else Admission.ADMIT
            if admission is Admission.DROP:
                if inspect.iscoroutine(coroutine):
                    coroutine.close()  # never awaited: no "coroutine was never awaited" warning
                return
            heavy = admission is Admission.ADMIT and self.limits is not None and self.limits.is_heavy(update)
            # the chat's turn first, then a heavy place if it needs one, then a slot: what waits for its
            # turn holds nothing another chat needs
            async with self._turn(chat_key(update)), self._heavy_place(heavy), self._slots:
                await coroutine
        finally:
            if self.on_processed is not None:
                self.on_processed(update)

    def _heavy_place(self, heavy: bool) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._heavy if heavy else contextlib.nullcontext()

    @contextlib.asynccontextmanager
    async def _turn(self, key: int | None) -> AsyncIterator[None]:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _ChatQueue()
        queue.users += 1
        try:
            # asyncio.Lock wakes its waiters in arrival order: a chat's updates keep their order
            async with queue.lock:
                yield
        finally:
            queue.users -= 1
            if queue.users == 0:
                del self._queues[key]

    def waiting(self) -> dict[int | None, int]:
        """Updates in the processor per chat (in progress or waiting for their turn)."""
        return {key: queue.users for key, queue in self._queues.items()}

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
