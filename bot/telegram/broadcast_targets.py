"""``telegram.broadcast`` entries to chat ids through the Bot API (a @username needs ``getChat``)."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import TelegramError

from jobs.alerting.broadcast_chats import sync_broadcast
from jobs.store.datastore import Store

log = logging.getLogger(__name__)


async def resolve_broadcast(bot: Bot, entries: tuple[str, ...]) -> tuple[list[int], bool]:
    """The entries' chat ids, and whether every one was resolved."""
    ids: list[int] = []
    complete = True
    for entry in entries:
        if not entry.startswith("@"):
            ids.append(int(entry))
            continue
        try:
            ids.append(int((await bot.get_chat(entry)).id))
        except TelegramError as exc:
            # the bot is not in the channel, or the name is wrong: alerts go on to everyone else
            log.warning("telegram.broadcast: %s cannot be resolved (%s); not subscribed", entry, exc)
            complete = False
    return ids, complete


async def sync_broadcast_with_bot(bot: Bot, store: Store, entries: tuple[str, ...]) -> list[int]:
    ids, complete = await resolve_broadcast(bot, entries)
    return sync_broadcast(store, ids, complete)
