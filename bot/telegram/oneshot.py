"""Telegram for a command that runs once (``spreadwatch run-daily``): sync ``telegram.broadcast`` and drain the
outbox with the bot token, then close the connection. The command line never imports telegram itself: what
Telegram answers comes back as one of this module's results or errors.
"""

from __future__ import annotations

import asyncio

from telegram.error import InvalidToken, NetworkError

from bot.ops.signals import stop_on_sigterm
from bot.telegram.broadcast_targets import sync_broadcast_with_bot
from bot.telegram.client import bot_for
from bot.telegram.delivery import DrainStats, OutboxSender
from jobs.alerting.broadcast_chats import numeric_ids, sync_broadcast
from jobs.alerting.services import Services
from jobs.store.outbox import Outbox


class TokenRefused(Exception):
    """Telegram refused the bot token (the messages stay pending)."""


class TelegramUnreachable(Exception):
    """Telegram could not be reached or answered with an error (the messages stay pending); the message
    never holds the token."""


def sync_broadcast_chats(services: Services) -> None:
    """telegram.broadcast's chats subscribed before the evaluation; a @username needs the bot token."""
    settings = services.settings
    entries = settings.telegram.broadcast
    if not entries:
        return
    token = settings.bot_token()
    if token is None:
        ids = numeric_ids(entries)
        sync_broadcast(services.store, ids, complete=len(ids) == len(entries))
        return

    async def sync() -> None:
        async with bot_for(settings, token) as bot:
            await sync_broadcast_with_bot(bot, services.store, entries)

    asyncio.run(sync())


def send_outbox(services: Services, token: str, wait_up_to_s: float) -> DrainStats:
    """Drain the Telegram rows of the outbox once (waiting up to ``wait_up_to_s`` for retries due soon).

    SIGTERM stops the drain (``OutboxSender.stop``): nothing more is claimed, the requests in flight are
    answered and marked, and the stats say ``stopped``; the rest goes out with the next run.
    """
    settings = services.settings

    async def drain() -> DrainStats:
        async with bot_for(settings, token) as bot:
            sender = OutboxSender(
                bot, Outbox(services.store), services.chats, rate=settings.telegram.rate, settings=settings
            )
            with stop_on_sigterm(sender.stop):
                return await sender.drain(wait_up_to_s=wait_up_to_s)

    try:
        return asyncio.run(drain())
    except InvalidToken:
        raise TokenRefused() from None
    except NetworkError as exc:
        raise TelegramUnreachable(f"{type(exc).__name__}: {str(exc).replace(token, '[token]')}") from None


