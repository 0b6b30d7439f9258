"""Admin-only ``/alerts``: the current alert states and the last transitions with their reasons."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.telegram.handlers.handler_support import Context, admin_only, chat_lang, reply, services_of
from jobs.alerting.alert_log import all_states, transitions
from jobs.alerting.daily import last_evaluated_key
from jobs.alerting.services import Services
from jobs.rendering.messages import render
from jobs.store.outbox import Outbox

LAST_TRANSITIONS = 15


def alerts_context(services: Services) -> dict[str, Any]:
    """Per rule: how many chats are in each level; the latest transitions; the outbox by status."""
    levels: dict[str, Counter[int]] = {}
    for rule_id, stored in all_states(services.store):
        level = int(stored.state.get("level", 1 if stored.state.get("state") == "on" else 0))
        levels.setdefault(rule_id, Counter())[level] += 1
    rules = [
        {
            "rule_id": rule_id,
            "chats": sum(c.values()),
            "firing": sum(n for lv, n in c.items() if lv > 0),
            "by_level": sorted((lv, n) for lv, n in c.items() if lv > 0),
        }
        for rule_id, c in sorted(levels.items())
    ]
    last_eval = services.store.get_meta(last_evaluated_key(services.engine.source.name))
    return {
        "rules": rules,
        "entries": transitions(services.store, limit=LAST_TRANSITIONS),
        "last_evaluated": last_eval,
        "outbox": Outbox(services.store).counts(),
    }


@admin_only
async def alerts(update: Update, context: Context) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
    ctx = await asyncio.to_thread(alerts_context, services)
    await reply(update, render("alerts_admin", lang, **ctx))


def register(application: Application[Any, Any, Any, Any, Any, Any], services: Any = None) -> None:
    application.add_handler(CommandHandler("alerts", alerts))
