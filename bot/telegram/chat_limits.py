"""How much one chat may ask of the bot: a token bucket per chat on commands and button presses, and
which commands are heavy.

Every command or button press of a chat takes a token from the chat's bucket when it arrives (before
it waits for its turn: :class:`bot.telegram.update_processor.PerChatUpdateProcessor`). A bucket holds
``telegram.command_burst`` tokens and gains ``telegram.commands_per_minute`` a minute. A command that
finds the bucket empty is not processed; the first one after the bucket ran dry is answered with one
"too many requests, try again in N s" (the allow-list gate in :mod:`bot.telegram.handlers.errors` sends
it), the following ones get nothing. Commands are answered again as soon as a token is back; the chat
is told again only after its bucket was full once more (it stopped asking for ``burst / rate``), so a
chat that keeps flooding is told once and gets at most ``commands_per_minute`` answers a minute.

What counts: button presses; in a private chat every text message (each gets an answer); in a group
our commands (``/spread``, or any ``/name@ourbot``), not other bots' commands nor chatter. Commands of
the bot's admins (``telegram.admins``) do not count: the operator is never locked out of ``/refresh``.

Heavy commands (their handler marked with :func:`heavy`) draw charts or replay history: the processor
runs at most ``telegram.heavy_at_once`` of them at a time over all chats (admins' too), each chat's one
after another.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import MessageEntity, Update
from telegram.ext import CommandHandler

from bot.ops.metrics import NO_EVENTS, Events

_HEAVY = "_spreadwatch_heavy"
F = TypeVar("F", bound=Callable[..., Any])


def heavy(handler: F) -> F:
    """Mark a command's handler heavy: at most ``telegram.heavy_at_once`` of them run at a time."""
    setattr(handler, _HEAVY, True)
    return handler


def is_heavy(callback: object) -> bool:
    return bool(getattr(callback, _HEAVY, False))


def command_names(handlers: Iterable[object]) -> tuple[frozenset[str], frozenset[str]]:
    """(every command the handlers answer, the heavy ones), lower-case as python-telegram-bot matches them."""
    every: set[str] = set()
    heavy_ones: set[str] = set()
    for handler in handlers:
        if isinstance(handler, CommandHandler):
            every |= handler.commands
            if is_heavy(handler.callback):
                heavy_ones |= handler.commands
    return frozenset(every), frozenset(heavy_ones)


class Admission(enum.Enum):
    ADMIT = "admit"  # process it
    NOTIFY = "notify"  # the bucket just ran dry: answer it with the one "too many requests"
    DROP = "drop"  # the bucket is dry and the chat was told: ignore it


@dataclass
class Bucket:
    tokens: float
    at: float  # clock reading of the last refill
    told: bool = False  # "too many requests" sent since the bucket was last full


SWEEP_EVERY = 1024  # admissions between sweeps of full buckets (a full bucket is the same as none)


class ChatLimits:
    def __init__(
        self,
        per_minute: float,
        burst: int,
        admins: Iterable[int] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = burst
        self.admins = frozenset(admins)
        self.clock = clock  # seconds, never decreasing (tests set a fake one)
        self.events: Events = NO_EVENTS  # the metrics, with ops.listen
        self.commands: frozenset[str] = frozenset()  # set by the composition root once handlers exist
        self.heavy: frozenset[str] = frozenset()
        self._buckets: dict[int, Bucket] = {}
        self._notices: set[int] = set()  # update ids to answer with "too many requests"
        self._lock = threading.Lock()  # admit runs on the bot's loop, the gate in a handler thread
        self._since_sweep = 0

    def learn(self, handlers: Iterable[object]) -> None:
        self.commands, self.heavy = command_names(handlers)

    # -- what an update is ---------------------------------------------------------------------
    @staticmethod
    def command_of(update: Update) -> tuple[str, bool] | None:
        """(name, addressed to us) of the command a new message starts with; None if it starts with none
        or is addressed to another bot."""
        message = update.message
        if message is None or not message.text or not message.entities:
            return None
        first = message.entities[0]
        if first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
            return None
        name, _, addressee = message.text[1 : first.length].partition("@")
        if not addressee:
            return name.lower(), False
        try:
            ours = message.get_bot().username or ""
        except RuntimeError:  # an update built without a bot (cannot happen to polled updates)
            ours = ""
        return (name.lower(), True) if addressee.lower() == ours.lower() else None

    def counts(self, update: Update) -> bool:
        chat = update.effective_chat
        if chat is None:
            return False
        user = update.effective_user
        if user is not None and user.id in self.admins:
            return False
        if update.callback_query is not None:
            return True
        if update.message is None or not update.message.text:
            return False
        if chat.type == "private":
            return True  # a command or text: both are answered
        command = self.command_of(update)
        return command is not None and (command[1] or command[0] in self.commands)

    def is_heavy(self, update: object) -> bool:
        if not isinstance(update, Update):
            return False
        command = self.command_of(update)
        return command is not None and command[0] in self.heavy

    # -- the bucket ----------------------------------------------------------------------------
    def admit(self, update: object) -> Admission:
        """Called once per update, when it arrives."""
        if not isinstance(update, Update) or not self.counts(update):
            return Admission.ADMIT
        chat = update.effective_chat
        assert chat is not None  # counts() is False without a chat
        with self._lock:
            self._sweep()
            bucket = self._refilled(chat.id)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return Admission.ADMIT
            told, bucket.told = bucket.told, True
            if not told:
                self._notices.add(update.update_id)
        self.events.command_refused(told=not told)
        return Admission.DROP if told else Admission.NOTIFY

    def notice_due(self, update: Update) -> bool:
        """Whether this update is the one to answer with "too many requests" (true once per update)."""
        with self._lock:
            if update.update_id in self._notices:
                self._notices.discard(update.update_id)
                return True
            return False

    def retry_after(self, chat_id: int) -> int:
        """Whole seconds until the chat has a token again (at least 1)."""
        with self._lock:
            bucket = self._refilled(chat_id)
            missing = max(0.0, 1.0 - bucket.tokens)
        return max(1, math.ceil(missing / self.rate))

    def tracked_chats(self) -> int:
        """Chats with a bucket in memory (full buckets are forgotten from time to time)."""
        with self._lock:
            return len(self._buckets)

    def _refilled(self, chat_id: int) -> Bucket:
        now = self.clock()
        bucket = self._buckets.get(chat_id)
        if bucket is None:
            bucket = self._buckets[chat_id] = Bucket(float(self.burst), now)
            return bucket
        bucket.tokens = min(float(self.burst), bucket.tokens + max(0.0, now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= self.burst:
            bucket.told = False  # a full bucket: the chat has stopped; its next exhaustion is told again
        return bucket

    def _sweep(self) -> None:
        self._since_sweep += 1
        if self._since_sweep < SWEEP_EVERY:
            return
        self._since_sweep = 0
        now = self.clock()
        full = [
            chat_id for chat_id, b in self._buckets.items() if b.tokens + max(0.0, now - b.at) * self.rate >= self.burst
        ]
        for chat_id in full:
            del self._buckets[chat_id]
