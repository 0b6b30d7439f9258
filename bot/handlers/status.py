"""/status: data freshness, the last fetch, the source, and the last and next scheduled daily run."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.handlers.common import Context, chat_lang, data_status, reply, services_of
from bot.scheduling import LAST_RESULT
from jobs.daily import DailyResult, last_evaluated_key
from jobs.messages import render

DAILY_JOB_NAME = "daily"


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
    tz = ZoneInfo(services.settings.schedule.timezone)
    next_run = next_daily_run(context)
    # the outcome of this process's last run, and (surviving restarts) the last trading day evaluated
    last_result = context.application.bot_data.get(LAST_RESULT)
    last_evaluated = services.store.get_meta(last_evaluated_key(status.source))
    text = render(
        "status",
        lang,
        status=status,
        stale=status.stale,
        next_run=next_run.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if next_run else None,
        last_run=last_result if isinstance(last_result, DailyResult) else None,
        last_evaluated=last_evaluated,
        timezone=services.settings.schedule.timezone,
    )
    await reply(update, text)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("status", status_command))
