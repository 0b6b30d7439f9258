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

_LOCK_KEY = "refresh_lock"


@on_loop  # its lock is shared with the daily job
@admin_only
async def refresh(update: Update, context: Context) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
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


async def first_fetch(context: Context) -> None:
    """A new installation has nothing to answer with until the first fetch: do it right after start-up."""
    services = services_of(context)
    lock: asyncio.Lock = context.application.bot_data.setdefault(_LOCK_KEY, asyncio.Lock())
    async with lock:
        if services.store.last_snapshot_date(services.engine.source.name) is not None:
            return
        log.info("the store has no data for %s yet: fetching it now", services.engine.source.name)
        result = await asyncio.to_thread(services.engine.update)
        log.info("first fetch: %s", result)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("refresh", refresh, block=False))
    services = application.bot_data["services"]
    if application.job_queue is not None and services.store.last_snapshot_date(services.engine.source.name) is None:
        application.job_queue.run_once(first_fetch, 0, name="first-fetch")
