"""/status: data freshness, the last fetch, the source, and the last and next scheduled daily run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.telegram.handlers.handler_support import Context, chat_lang, data_status, is_admin, reply, services_of
from jobs.alerting.daily import DailyResult, last_evaluated_key
from jobs.alerting.services import Services
from jobs.rendering.messages import render

DAILY_JOB_NAME = "daily"


def sees_raw_errors(update: Update, services: Services) -> bool:
    """Raw fetch errors are English log text for whoever runs the bot: a bot admin in a private chat.

    Everyone else (and a group, even when an admin asks there) reads only the localised sentence.
    """
    chat = update.effective_chat
    return chat is not None and chat.type == "private" and is_admin(update, services)


def next_daily_run(context: Context) -> datetime | None:
    queue = context.application.job_queue
    if queue is None:
        return None
    runs = [job.next_t for job in queue.get_jobs_by_name(DAILY_JOB_NAME) if job.next_t is not None]
    return min(runs) if runs else None


async def status_command(update: Update, context: Context) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
    status = data_status(services)
    next_run = next_daily_run(context)
    # the outcome of this process's last run, and (surviving restarts) the last trading day evaluated
    last_result = context.bot_data.last_daily
    last_evaluated = services.store.get_meta(last_evaluated_key(status.source))
    text = render(
        "status",
        lang,
        status=status,
        stale=status.stale,
        next_run=next_run,
        last_run=last_result if isinstance(last_result, DailyResult) else None,
        last_evaluated=last_evaluated,
        timezone=services.settings.schedule.timezone,
        admin=sees_raw_errors(update, services),
        admins_configured=bool(services.settings.telegram.admins),
    )
    await reply(update, text)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("status", status_command))
