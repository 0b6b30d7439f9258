"""/regime (everyone) and /event (admins): the regime scenarios and the policy events that feed them.

/regime renders the stored report; before the daily job has kept one (a new installation, or a
store filled by ``spreadwatch backfill``) it evaluates the scenarios from the stored data, as
``spreadwatch regime --no-refresh`` does, without storing anything. It never fetches. /event records or removes a policy
event, then re-evaluates the stored report off the event loop (without touching the alert states:
transitions and their alerts come with the daily cycle, and the ``regimes`` job of
:mod:`bot.telegram.scheduling` catches up when the regimes lag the spread rules).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.telegram.chat_limits import heavy
from bot.telegram.handlers.handler_support import Context, admin_only, args_of, chat_lang, reply, services_of
from bot.telegram.handlers.regime_history_chart import regime_history
from bot.telegram.handlers.status import sees_raw_errors
from jobs.alerting.services import Services
from jobs.model.text import unsafe_chars
from jobs.regimes.repo import RegimeRepo
from jobs.regimes.service import RegimeReport, evaluate_regimes, refresh_report, stored_report
from jobs.rendering.messages import render

log = logging.getLogger(__name__)

MAX_EVENT_LEN = 300


@heavy  # evaluates the scenarios when no report is stored; /regime history draws a chart
async def regime(update: Update, context: Context) -> None:
    if [a.lower() for a in args_of(context)] == ["history"]:
        await regime_history(update, context)
        return
    services = services_of(context)
    lang = chat_lang(update, services)
    report = await asyncio.to_thread(_report_now, services)
    await reply(update, render(
            "regime",
            lang,
            report=report,
            admin=sees_raw_errors(update, services),
            synthetic=services.engine.source.synthetic,
        ))


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


@heavy  # re-evaluates the regime report
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
    unsafe = unsafe_chars(text)
    if unsafe:
        # shown to every /regime reader: an override would disguise it, an ESC would reach a terminal
        await reply(update, render("event_unsafe", lang, chars=unsafe))
        return
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


def register(application: Application[Any, Any, Any, Any, Any, Any], services: Services) -> None:
    application.add_handler(CommandHandler("regime", regime))
    application.add_handler(CommandHandler("event", event))
