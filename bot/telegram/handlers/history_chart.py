"""/history [1y|3y|5y|all]: the spread chart as a PNG photo with a caption."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pandas as pd
from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler

from bot.telegram.chat_limits import heavy
from bot.telegram.dashboard_links import dashboard_button
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
from jobs.rendering.charts import spread_chart  # matplotlib loads on the first chart, not at start-up
from jobs.rendering.messages import render

PERIODS = {"1y": 1, "3y": 3, "5y": 5, "all": None}
DEFAULT_PERIOD = "1y"


def view_start(last: date, years: int | None) -> date | None:
    return None if years is None else (pd.Timestamp(last) - pd.DateOffset(years=years)).date()


@heavy  # draws a chart
async def history(update: Update, context: Context) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
    args = args_of(context)
    period = args[0].lower() if args else DEFAULT_PERIOD
    if len(args) > 1 or period not in PERIODS:
        await reply(update, render("usage", lang, command="history"))
        return
    status = data_status(services)
    snap = services.store.snapshot(status.source)
    if snap is None:
        await reply(update, no_data_text(services, lang, status))
        return
    # the whole history, zoomed by view_from: the P50/P90 lines need every day since history_start
    series = services.store.spread_series(status.source, start=services.settings.metric.history_start)
    chat = update.effective_chat
    assert chat is not None
    view_from = view_start(snap.as_of, PERIODS[period])
    png = await asyncio.to_thread(_draw, series, snap.as_of, lang, view_from, status.synthetic)
    caption = render(
        "history_caption",
        lang,
        period=period,
        first=max(view_from, series.index[0].date()) if view_from else series.index[0].date(),
        snap=snap,
        status=status,
        stale=status.stale,
    )
    button = dashboard_button(services.settings, context.bot.username, lang, chat.id, "spread")
    markup = InlineKeyboardMarkup([[button]]) if button is not None else None
    await send_captioned(
        update,
        lambda c: chat.send_photo(
            png, caption=c, parse_mode=ParseMode.HTML, filename=f"spread-{period}.png", reply_markup=markup
        ),
        caption,
    )


def _draw(series: pd.DataFrame, today: date, lang: str, view_from: date | None, synthetic: bool) -> bytes:
    return spread_chart(series, today=today, lang=lang, view_from=view_from, synthetic=synthetic)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("history", history))
