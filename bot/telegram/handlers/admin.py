"""Admin-only /refresh, and the first fetch into an empty store: data updates off the event loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.telegram.handlers.handler_support import Context, admin_only, chat_lang, on_loop, reply, services_of
from jobs.rendering.messages import render

log = logging.getLogger(__name__)


@on_loop  # its lock (BotData.refresh_lock) is shared with the daily job
@admin_only
async def refresh(update: Update, context: Context) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
    lock = context.bot_data.refresh_lock
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
    # in the chat's order like every command; not heavy: it waits for the source, and refresh_lock
    # already lets one refresh run at a time
    application.add_handler(CommandHandler("refresh", refresh))
