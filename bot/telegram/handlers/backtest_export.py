"""/backtest (the alert rules replayed over the stored history) and /export (the daily history as CSV).

Both read the store only: the backtest replays stored spreads and percentiles with the live rule code,
it never fetches or recomputes the metric. The result is cached until the stored data or the metric
changes, so repeated /backtest costs one dictionary lookup.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import date
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler

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
from jobs.alerting.services import Services
from jobs.engine.backtest import BacktestResult, load_backtest
from jobs.engine.export import history_csv
from jobs.engine.rules import params_from_settings
from jobs.regimes.file_inputs import files_signature
from jobs.regimes.repo import RegimeRepo
from jobs.rendering.messages import render

RECENT_EPISODES = 5


class BacktestCache:
    """The last backtest, keyed by what it depends on: source, stored prices and latest day, metric and
    rules, and the regime inputs (stored series, analysis, boards and events; the input files)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[tuple[Any, ...], BacktestResult] | None = None

    def get(self, services: Services, source: str) -> BacktestResult:
        """The backtest from ``metric.history_start`` to the latest stored day (runs in a worker thread)."""
        params = params_from_settings(services.settings.alerts)
        store, inputs = services.store, services.settings.regimes.inputs
        key = (
            source,
            store.last_snapshot_date(source),
            store.get_meta(f"prices_version:{source}"),
            services.engine.metric_signature(),
            params,
            RegimeRepo(store).signature(),
            files_signature(inputs),
        )
        with self._lock:
            if self._entry is not None and self._entry[0] == key:
                return self._entry[1]
        result = load_backtest(services.store, source, params, services.settings.metric.history_start)
        from bot.cli.backtest_regimes_cli import attach_regimes

        result = attach_regimes(
            services.engine, services.settings, result, services.settings.metric.history_start, None
        )
        with self._lock:
            self._entry = (key, result)
        return result


def cache_of(context: Context) -> BacktestCache:
    cache: BacktestCache = context.application.bot_data.setdefault("backtest_cache", BacktestCache())
    return cache


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
    result = await asyncio.to_thread(cache_of(context).get, services, status.source)
    text = render("backtest", lang, bt=result, recent=result.recent(RECENT_EPISODES), status=status, stale=status.stale)
    await reply(update, text)


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
    data = (await asyncio.to_thread(history_csv, snapshots)).encode("utf-8")
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
    from bot.telegram.app import MenuCommand

    # block=False: a first backtest or a full export takes a few hundred ms; other chats must not wait
    application.add_handler(CommandHandler("backtest", backtest, block=False))
    application.add_handler(CommandHandler("export", export, block=False))
    menu = application.bot_data.setdefault("menu", [])
    names = [c.name for c in menu]
    at = names.index("history") + 1 if "history" in names else len(menu)
    menu[at:at] = [
        MenuCommand("backtest", "历史预警回测：触发后1/3/6个月表现", "Backtest: past alerts and what followed"),
        MenuCommand("export", "导出每日分化度历史 (CSV)", "Daily spread history as CSV"),
    ]
