"""/backtest (the alert rules replayed over the stored history) and /export (the daily history as CSV).

Both read the store only: the backtest replays stored spreads and percentiles with the live rule code,
it never fetches or recomputes the metric. The result is cached until the stored data or the metric
changes, so repeated /backtest costs one dictionary lookup.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler

from bot.telegram.bot_data import bot_data_of
from bot.telegram.chat_limits import heavy
from bot.telegram.handlers.handler_support import (
    Context,
    args_of,
    chat_lang,
    data_status,
    no_data_text,
    reply,
    send_captioned,
    services_of,
)
from bot.telegram.menu import MenuCommand
from jobs.alerting.services import Services
from jobs.engine.export import history_csv, marked_csv
from jobs.rendering.messages import render

RECENT_EPISODES = 5


@heavy  # a first backtest takes a few hundred ms
async def backtest(update: Update, context: Context) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
    if args_of(context):
        await reply(update, render("usage", lang, command="backtest"))
        return
    status = data_status(services)
    if services.store.last_snapshot_date(status.source) is None:
        await reply(update, no_data_text(services, lang, status))
        return
    result = await asyncio.to_thread(context.bot_data.backtest_cache.get, services, status.source)
    text = render("backtest", lang, bt=result, recent=result.recent(RECENT_EPISODES), status=status, stale=status.stale)
    await reply(update, text)


@heavy  # the whole history as CSV
async def export(update: Update, context: Context) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
    if args_of(context):
        await reply(update, render("usage", lang, command="export"))
        return
    status = data_status(services)
    snapshots = await asyncio.to_thread(services.store.snapshots_between, status.source, date.min, date.max)
    if not snapshots:
        await reply(update, no_data_text(services, lang, status))
        return
    text = await asyncio.to_thread(history_csv, snapshots)
    data = marked_csv(text, services.engine.source.synthetic).encode("utf-8")
    first, last = snapshots[0].as_of, snapshots[-1].as_of
    caption = render(
        "export_caption", lang, first=first, last=last, rows=len(snapshots), status=status, stale=status.stale
    )
    chat = update.effective_chat
    assert chat is not None
    filename = f"spreadwatch-spread-{first}-{last}.csv"
    await send_captioned(
        update, lambda c: chat.send_document(data, filename=filename, caption=c, parse_mode=ParseMode.HTML), caption
    )


def register(application: Application[Any, Any, Any, Any, Any, Any], services: Services | None = None) -> None:
    application.add_handler(CommandHandler("backtest", backtest))
    application.add_handler(CommandHandler("export", export))
    menu = bot_data_of(application).menu
    names = [c.name for c in menu]
    at = names.index("history") + 1 if "history" in names else len(menu)
    menu[at:at] = [
        MenuCommand("backtest", "历史预警回测：触发后1/3/6个月表现", "Backtest: past alerts and what followed"),
        MenuCommand("export", "导出每日分化度历史 (CSV)", "Daily spread history as CSV"),
    ]
