"""/regime (everyone) and /event (admins): the regime scenarios and the policy events that feed them.

/regime renders the stored report; before the daily job has kept one (a new installation, or a
store filled by ``spreadwatch backfill``) it evaluates the scenarios from the stored data, as
``spreadwatch regime --no-refresh`` does, without storing anything. It never fetches. /event records or removes a policy
event, then re-evaluates the stored report off the event loop (without touching the alert states:
transitions and their alerts come with the ``regimes`` job, which follows the daily job: every few
minutes it checks whether the daily job has evaluated a day the regimes have not, and evaluates it).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.telegram.handlers.handler_support import Context, admin_only, args_of, chat_lang, reply, services_of
from bot.telegram.handlers.status import sees_raw_errors
from jobs.alerting.services import Services
from jobs.regimes.repo import RegimeRepo
from jobs.regimes.service import RegimeReport, evaluate_regimes, refresh_report, stored_report
from jobs.rendering.messages import render

log = logging.getLogger(__name__)

MAX_EVENT_LEN = 300
JOB_NAME = "regimes"
JOB_EVERY_S = 300.0  # a few minutes after the daily job is soon enough for a daily signal
JOB_FIRST_S = 120.0  # after start-up the bot answers first; a catch-up can wait
_JOB_LOCK = "regimes_lock"


async def regime(update: Update, context: Context) -> None:
    if [a.lower() for a in args_of(context)] == ["history"]:
        from bot.telegram.handlers.regime_history_chart import regime_history

        await regime_history(update, context)
        return
    services = services_of(context)
    lang = chat_lang(update, services)
    report = await asyncio.to_thread(_report_now, services)
    await reply(update, render("regime", lang, report=report, admin=sees_raw_errors(update, services)))


def _report_now(services: Services) -> RegimeReport:
    report = stored_report(services.store)
    if report is not None:
        return report
    return evaluate_regimes(services.store, services.settings, services.engine.source.name, _today(services))


def _today(services: Services) -> Any:
    return services.engine.today(services.clock())


async def _reevaluate(services: Services) -> None:
    try:
        await asyncio.to_thread(
            refresh_report, services.store, services.settings, services.engine.source.name, _today(services)
        )
    except Exception:  # the event is stored either way; the daily job evaluates it at the latest
        log.exception("re-evaluating the regime report after an event change failed")


@admin_only
async def event(update: Update, context: Context) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
    args = args_of(context)
    repo = RegimeRepo(services.store)
    if not args:
        await reply(update, render("event_usage", lang, max_len=MAX_EVENT_LEN))
        return
    if args[0].lower() in ("del", "delete", "rm"):
        if len(args) != 2 or not args[1].lstrip("#").isdigit():
            await reply(update, render("event_usage", lang, max_len=MAX_EVENT_LEN))
            return
        event_id = int(args[1].lstrip("#"))
        found = await asyncio.to_thread(repo.delete_event, event_id)
        if found:
            await _reevaluate(services)
        await reply(update, render("event_deleted", lang, event_id=event_id, found=found))
        return
    text = " ".join(args).strip()
    if len(text) > MAX_EVENT_LEN:
        await reply(update, render("event_too_long", lang, length=len(text), max_len=MAX_EVENT_LEN))
        return
    user = update.effective_user
    author = (user.username or user.full_name) if user is not None else "?"
    day = _today(services)
    event_id = await asyncio.to_thread(repo.add_event, day, text, author, user.id if user else None)
    log.info("policy event #%d recorded by %s", event_id, user.id if user else "?")
    await _reevaluate(services)
    added = next(e for e in repo.events() if e.id == event_id)
    until = day + timedelta(days=services.settings.regimes.macro.event_days - 1)
    await reply(update, render("event_added", lang, event=added, until=until))


def _tell_admins(services: Services, exc: Exception) -> None:
    """One notice per trading day (the outbox key carries the day), not one per 5-minute retry."""
    from jobs.alerting.daily import last_evaluated_key, report_job_failure

    raw = services.store.get_meta(last_evaluated_key(services.engine.source.name))
    day = date.fromisoformat(raw) if raw else services.engine.today(services.clock())
    report_job_failure(services, day, f"regime evaluation: {type(exc).__name__}: {exc}")


async def regimes_job(context: Context) -> None:
    """Evaluate the regimes for the day the daily job last evaluated, once (see ``run_regimes_if_due``)."""
    from jobs.alerting.daily import last_evaluated_key
    from jobs.alerting.regime_alerts import run_regimes_if_due

    services = services_of(context)
    lock: asyncio.Lock = context.application.bot_data.setdefault(_JOB_LOCK, asyncio.Lock())
    if lock.locked():
        return
    async with lock:
        try:
            run = await asyncio.to_thread(run_regimes_if_due, services, last_evaluated_key(services.engine.source.name))
        except Exception as exc:  # the next tick retries; the daily job and the bot carry on
            log.exception("regime evaluation failed")
            await asyncio.to_thread(_tell_admins, services, exc)
            return
    if run is not None:
        log.info(
            "regimes evaluated for %s: %d transition(s), %d message(s) queued",
            run.report.as_of,
            len(run.transitions),
            run.queued,
        )


def register(application: Application[Any, Any, Any, Any, Any, Any], services: Services) -> None:
    application.add_handler(CommandHandler("regime", regime, block=False))
    application.add_handler(CommandHandler("event", event, block=False))
    if application.job_queue is not None:
        application.job_queue.run_repeating(regimes_job, interval=JOB_EVERY_S, first=JOB_FIRST_S, name=JOB_NAME)
