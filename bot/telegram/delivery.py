"""Drain the outbox through the Telegram Bot API, within Telegram's limits, classifying every error.

Limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):

* about 30 messages/s overall: python-telegram-bot's ``AIORateLimiter`` (``bot.telegram.client``,
  without retries, so that every 429 reaches this module) is a leaky bucket that lets a burst of 30
  through on top of the rate, which Telegram answers with 429; :class:`Pacer` spaces sends evenly
  at ``rate`` (``telegram.rate``, 29.5/s: at most 30 in any second, 59 in any two) so the bucket never fills;
* 1 message/s per chat: not covered by ``AIORateLimiter``; the sender keeps one send in flight per
  chat and ``per_chat_interval`` between two sends to the same chat;
* 20 messages/min per group: left to ``AIORateLimiter``'s per-group limiter.

Errors: ``RetryAfter`` pauses every worker for ``retry_after`` and puts the row back (not counted as
a failed attempt); ``Forbidden`` (blocked, kicked) marks the chat inactive and its rows dead;
``ChatMigrated`` moves the chat and its rows to the new id and resends at once; ``BadRequest`` is
never retried (it subclasses ``NetworkError``, so it is caught first); ``TimedOut``, ``NetworkError``
(5xx, dropped connections) are retried with exponential backoff up to ``max_attempts``.

Exactly-once, as far as the Bot API allows: a row is claimed (a lease) before sending, the lease is
renewed (conditionally: still claimed by this sender, not expired, not finished) right before the
request, so a pacing or flood wait longer than the lease, or a migration that marked the row dead,
skips the row instead of sending it; and it is marked sent in its own transaction right after Telegram
answers. A crash in between re-sends that one message after the lease expires; so does a ``TimedOut``
after Telegram had in fact accepted the message, or (counted in ``unmarked`` and logged) a request
that took longer than the whole lease, far beyond the HTTP timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot.ops.metrics import NO_EVENTS, Events
from bot.telegram.dashboard_links import dashboard_button
from jobs.alerting.alert_log import SPREAD_RULE
from jobs.config.languages import reader_lang
from jobs.config.settings import Settings
from jobs.store.chats import ChatRepo
from jobs.store.outbox import HeldRowsWatch, Outbox, OutboxRow

log = logging.getLogger(__name__)


class Pacer:
    """Permits at least ``1/rate`` apart, and never more than ``2 × rate`` in any two-second window.

    The gap is measured from the previous permit actually handed out, one waiter at a time: with
    precomputed slots, a stalled event loop (a busy CPU) wakes every worker whose slot passed during
    the stall at once, and the server sees a burst. The gap alone keeps any one second within
    ``rate + 1`` permits; the window keeps the average at or under ``rate`` even for a fractional rate
    (two instances at 14.75/s each: 29 in two seconds, not 14 in one).
    """

    WINDOW_S = 2.0

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.max_per_window = max(1, int(rate * self.WINDOW_S))
        self.clock = clock
        self.sleep = sleep
        self._last: float | None = None
        self._recent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            if self._last is not None and (gap := self._last + self.interval - self.clock()) > 0:
                await self.sleep(gap)
            while True:
                now = self.clock()
                while self._recent and now - self._recent[0] >= self.WINDOW_S:
                    self._recent.popleft()
                if len(self._recent) < self.max_per_window:
                    break
                await self.sleep(self.WINDOW_S - (now - self._recent[0]) + 0.001)
            self._last = now
            self._recent.append(now)


@dataclass
class DrainStats:
    sent: int = 0
    retried: int = 0  # put back for a later attempt (flood limit, timeout, server error)
    failed: int = 0  # bad request or out of attempts: never retried
    dead: int = 0  # the chat blocked or removed the bot
    migrated: int = 0
    skipped: int = 0  # claimed, but no longer ours when its turn came (lease ran out, dead after a migration)
    unmarked: int = 0  # Telegram accepted it but the row had been taken over meanwhile: could not be marked
    left_pending: int = 0  # unfinished rows whose next attempt is after this drain (not another sender's)
    in_flight: int = 0  # rows under another sender's unexpired lease when the drain ended
    in_flight_until: float | None = None  # Unix time the last of those leases runs out
    released: int = 0  # claimed but handed back unsent because the sender was stopped
    stopped: bool = False  # stop() ended the drain early: the rest goes out with the next drain or start
    flood_waits: list[float] = field(default_factory=list)


def _retry_after_s(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # python-telegram-bot 22 warns that retry_after becomes a timedelta; accept both
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class OutboxSender:
    def __init__(
        self,
        bot: Bot,
        outbox: Outbox,
        chats: ChatRepo,
        *,
        rate: float = 29.5,
        per_chat_interval: float = 1.0,
        concurrency: int = 8,
        lease_s: float = 120.0,
        max_attempts: int = 10,
        backoff_base_s: float = 2.0,
        backoff_max_s: float = 900.0,
        worker_id: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.bot = bot
        # with webapp.public_url: spread alerts carry the 📊 button (web_app in private chats, a URL elsewhere)
        self.settings = settings
        self.outbox = outbox
        self.chats = chats
        self.pacer = Pacer(rate)
        self.per_chat_interval = per_chat_interval
        self.concurrency = max(1, concurrency)
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.worker_id = worker_id or f"{os.getpid()}-{id(self):x}"
        self._paused_until = 0.0  # monotonic: a RetryAfter holds every worker
        self._chat_ready: dict[int, float] = {}  # monotonic time a chat may get its next message
        self._busy_chats: set[int] = set()
        self._lock = asyncio.Lock()  # one drain at a time per sender
        self._stopped = False
        self._stop_event: asyncio.Event | None = None  # the running drain's, set by stop()
        self.events: Events = NO_EVENTS  # the application's metrics when ops.listen is on

    @property
    def draining(self) -> bool:
        return self._lock.locked()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """Stop sending (SIGTERM): no row is claimed any more; a send waiting for its turn hands its row
        back unsent; a request already made is finished and marked. A running drain returns as soon as
        its requests in flight have been answered, and every later drain returns at once. Call it on
        the sender's event loop."""
        self._stopped = True
        if self._stop_event is not None:
            self._stop_event.set()

    async def drain(self, wait_up_to_s: float = 0.0) -> DrainStats:
        """Send every due row. Rows due again within ``wait_up_to_s`` (backoff, flood waits) are
        waited for; later ones are left pending for the next drain."""
        async with self._lock:
            stats = DrainStats()
            self._stop_event = asyncio.Event()
            if self._stopped:
                self._stop_event.set()
            tasks: dict[asyncio.Task[None], int] = {}
            held = HeldRowsWatch(self.outbox, self.worker_id, "telegram", wait_up_to_s)
            while True:
                if self._stopped:
                    # nothing more is claimed; what is in flight is answered and marked
                    if tasks:
                        await asyncio.wait(tasks)
                        for task in tasks:
                            if task.exception() is not None:
                                raise task.exception()  # type: ignore[misc]
                    stats.stopped = True
                    break
                free = self.concurrency - len(tasks)
                if free > 0:
                    for row in await self._pick(free, exclude=list(tasks.values())):
                        self._busy_chats.add(row.chat_id)
                        tasks[asyncio.create_task(self._deliver(row, stats))] = row.id
                if tasks:
                    done, _ = await asyncio.wait(tasks, timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        tasks.pop(task)
                        if task.exception() is not None:
                            for other in tasks:
                                other.cancel()
                            raise task.exception()  # type: ignore[misc]
                    continue
                next_due = await asyncio.to_thread(self.outbox.next_due_at, "telegram")
                if next_due is None:
                    break
                delay = max(next_due - time.time(), self._earliest_chat_wait(), 0.0)
                if delay > wait_up_to_s:
                    if not await held.keep_waiting():
                        break
                    delay = 0.5
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_event.wait(), min(max(delay, 0.02), 1.0))
            now = time.monotonic()
            self._chat_ready = {c: t for c, t in self._chat_ready.items() if t > now}
            stats.left_pending = await asyncio.to_thread(self.outbox.left_for_later, self.worker_id, "telegram")
            stats.in_flight, stats.in_flight_until = await asyncio.to_thread(
                self.outbox.in_flight_elsewhere, self.worker_id, "telegram"
            )
            return stats

    def _earliest_chat_wait(self) -> float:
        now = time.monotonic()
        waits = [t - now for c, t in self._chat_ready.items() if t > now]
        return min(waits) if waits else 0.0

    async def _pick(self, n: int, exclude: list[int]) -> list[OutboxRow]:
        rows = await asyncio.to_thread(self.outbox.due, max(n * 4, 50), None, exclude, "telegram")
        now = time.monotonic()
        picked: list[OutboxRow] = []
        chats: set[int] = set()
        for row in rows:
            if row.chat_id in self._busy_chats or row.chat_id in chats:
                continue
            if self._chat_ready.get(row.chat_id, 0.0) > now:
                continue
            picked.append(row)
            chats.add(row.chat_id)
            if len(picked) >= n:
                break
        return picked

    async def _deliver(self, row: OutboxRow, stats: DrainStats) -> None:
        try:
            if self._stopped:
                return
            claimed = await asyncio.to_thread(self.outbox.claim, row.id, self.worker_id, self.lease_s)
            if claimed is not None:
                await self._send(claimed, stats)
        finally:
            self._busy_chats.discard(row.chat_id)

    async def _my_turn(self) -> bool:
        """Wait for this send's slot (pacing, a flood wait); False when the sender was stopped meanwhile."""
        if self._stopped or self._stop_event is None:
            return not self._stopped
        turn = asyncio.ensure_future(self._wait_turn())
        stop = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait((turn, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (turn, stop):
                waiter.cancel()
        return not self._stopped

    async def _release(self, row: OutboxRow, stats: DrainStats) -> None:
        await asyncio.to_thread(self.outbox.release, row.id, self.worker_id)
        stats.released += 1

    async def _wait_turn(self) -> None:
        while True:
            while (left := self._paused_until - time.monotonic()) > 0:
                await asyncio.sleep(left)
            await self.pacer.wait()
            # a 429 may have arrived while this send waited for its slot
            if self._paused_until <= time.monotonic():
                return

    async def _send(self, row: OutboxRow, stats: DrainStats) -> None:
        chat_id = row.chat_id
        for _hop in range(3):  # a migrated group is followed (at most twice)
            if not await self._my_turn():
                await self._release(row, stats)
                return
            # the wait may have outlasted the lease, or a migration may have marked the row dead; from
            # here on the request is made (and counted as an attempt) even if stop() comes meanwhile
            attempts = await asyncio.to_thread(self.outbox.renew, row.id, self.worker_id, self.lease_s)
            if attempts is None:
                log.warning("outbox row %s to chat %s: no longer held by this sender, not sent", row.id, chat_id)
                stats.skipped += 1
                return
            markup = await asyncio.to_thread(self._markup, row, chat_id)
            try:
                message = await self.bot.send_message(
                    chat_id=chat_id,
                    text=row.text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    reply_markup=markup,
                )
            except RetryAfter as exc:
                wait = _retry_after_s(exc)
                self._paused_until = max(self._paused_until, time.monotonic() + wait)
                stats.flood_waits.append(wait)
                self.events.flood_wait(wait)
                stats.retried += 1
                log.warning("flood limit: pausing all sends for %.1f s", wait)
                await asyncio.to_thread(self.outbox.retry_later, row.id, self.worker_id, wait, str(exc), False)
                return
            except Forbidden as exc:
                log.info("chat %s blocked or removed the bot: marked inactive", chat_id)
                await asyncio.to_thread(self._chat_gone, row, chat_id, str(exc))
                stats.dead += 1
                self.events.message_failed("blocked")
                return
            except ChatMigrated as exc:
                new_id = int(exc.new_chat_id)
                log.info("chat %s migrated to %s: following it", chat_id, new_id)
                await asyncio.to_thread(self._migrate, chat_id, new_id)
                stats.migrated += 1
                chat_id = new_id
                continue
            except BadRequest as exc:
                log.error("outbox row %s to chat %s refused, not retried: %s", row.id, chat_id, exc)
                await asyncio.to_thread(self.outbox.give_up, row.id, self.worker_id, "failed", f"BadRequest: {exc}")
                stats.failed += 1
                self.events.message_failed("bad_request")
                return
            except InvalidToken:
                # no row is to blame: put it back untouched and stop this drain
                await asyncio.to_thread(self.outbox.retry_later, row.id, self.worker_id, 60.0, "invalid token", False)
                raise
            except (NetworkError, TelegramError) as exc:
                await self._transient(row, attempts, exc, stats)
                return
            else:
                self._chat_ready[chat_id] = time.monotonic() + self.per_chat_interval
                # the one window: Telegram has the message, the row is not marked yet (one small UPDATE)
                if await asyncio.to_thread(self.outbox.mark_sent, row.id, self.worker_id, message.message_id):
                    stats.sent += 1
                    self.events.message_sent()
                else:
                    # only a send slower than the whole lease gets here: another sender may send it again
                    log.error(
                        "outbox row %s to chat %s: sent (message %s) but no longer held by this sender; not marked",
                        row.id,
                        chat_id,
                        message.message_id,
                    )
                    stats.unmarked += 1
                return
        await asyncio.to_thread(self.outbox.give_up, row.id, self.worker_id, "failed", "chat migrated repeatedly")
        stats.failed += 1
        self.events.message_failed("migrated_repeatedly")

    def _markup(self, row: OutboxRow, chat_id: int) -> InlineKeyboardMarkup | None:
        """The 📊 button under a spread alert (its first part), in the chat's language."""
        settings = self.settings
        if settings is None or settings.webapp.public_url is None or row.rule_id != SPREAD_RULE or row.part != 0:
            return None
        chat = self.chats.get(chat_id)
        lang = reader_lang(chat.lang if chat is not None else None, None, settings.lang)
        try:
            username: str | None = self.bot.username
        except RuntimeError:  # a bot not initialized (getMe) has no username yet: no t.me link then
            username = None
        button = dashboard_button(settings, username, lang, chat_id, "spread")
        return InlineKeyboardMarkup([[button]]) if button is not None else None

    async def _transient(self, row: OutboxRow, attempts: int, exc: TelegramError, stats: DrainStats) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if attempts >= self.max_attempts:
            log.error("outbox row %s: giving up after %d attempts: %s", row.id, attempts, error)
            await asyncio.to_thread(self.outbox.give_up, row.id, self.worker_id, "failed", error)
            stats.failed += 1
            self.events.message_failed("attempts_exhausted")
            return
        delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempts - 1))
        delay *= random.uniform(0.8, 1.2)  # spread retries of a broadcast hit by one outage
        log.warning("outbox row %s: %s; retry in %.1f s", row.id, error, delay)
        await asyncio.to_thread(self.outbox.retry_later, row.id, self.worker_id, delay, error, True)
        stats.retried += 1
        self.events.message_retried(type(exc).__name__)

    def _chat_gone(self, row: OutboxRow, chat_id: int, error: str) -> None:
        self.outbox.give_up(row.id, self.worker_id, "dead", f"Forbidden: {error}")
        with contextlib.suppress(Exception):
            self.chats.update(chat_id, active=False)
        self.outbox.drop_chat(chat_id, f"chat inactive: {error}")

    def _migrate(self, old: int, new: int) -> None:
        self.chats.migrate(old, new)
        self.outbox.move_chat(old, new)
