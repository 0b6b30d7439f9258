"""Admin-only ``/destinations``: each ``notify.destinations`` entry with its delivery state (active or
paused, failures in a row, last error with secrets masked, messages waiting), and
``/destinations resume NAME``, which resumes a paused one: its held messages go out at once."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.telegram.handlers.handler_support import Context, admin_only, args_of, chat_lang, reply, services_of
from bot.telegram.scheduling import drain_job  # the drain job is the scheduler's; send the held rows now
from jobs.alerting.destinations import destination_views, resume_destination, sync_destinations
from jobs.rendering.messages import render

DRAIN_SOON_S = 0.1


@admin_only
async def destinations(update: Update, context: Context) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
    args = args_of(context)
    notify = services.settings.notify
    if not args:
        views = await asyncio.to_thread(destination_views, services.store, notify)
        await reply(update, render("destinations_admin", lang, phase="list", views=views))
        return
    if len(args) != 2 or args[0].lower() != "resume":
        await reply(update, render("destinations_admin", lang, phase="usage"))
        return
    name = args[1]
    known = [d.name for d in notify.destinations]
    if name not in known:
        await reply(update, render("destinations_admin", lang, phase="unknown", name=name, known=known))
        return

    def resume() -> Any:
        sync_destinations(services.store, notify)
        return resume_destination(services.store, name)

    resumed = await asyncio.to_thread(resume)
    await reply(update, render("destinations_admin", lang, phase="resumed", resumed=resumed))
    job_queue = context.application.job_queue
    if resumed is not None and resumed.released and job_queue is not None:
        job_queue.run_once(drain_job, DRAIN_SOON_S, name="outbox-resume")


def register(application: Application[Any, Any, Any, Any, Any, Any], services: Any = None) -> None:
    application.add_handler(CommandHandler("destinations", destinations))
