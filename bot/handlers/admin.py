"""Admin-only /refresh: run the data update now, off the event loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.handlers.common import Context, chat_lang, is_admin, reply, services_of
from bot.render import render

log = logging.getLogger(__name__)

_LOCK_KEY = "refresh_lock"


async def refresh(update: Update, context: Context) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
    if not is_admin(update, services):
        await reply(update, render("not_admin", lang))
        return
    lock: asyncio.Lock = context.application.bot_data.setdefault(_LOCK_KEY, asyncio.Lock())
    if lock.locked():
        await reply(update, render("refresh", lang, phase="busy", result=None))
        return
    async with lock:
        await reply(update, render("refresh", lang, phase="started", result=None))
        # blocking I/O and pandas work: a worker thread keeps the bot answering meanwhile
        result = await asyncio.to_thread(services.engine.update)
        log.info("admin refresh: %s", result)
    await reply(update, render("refresh", lang, phase="done", result=result))


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("refresh", refresh, block=False))
