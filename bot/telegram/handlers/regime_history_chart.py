"""``/regime history``: the regime history chart (spread, alert episodes, one band per scenario) as a photo.

It reads the store only, like every answer: the history replays the stored snapshots and inputs, each
day as of itself. The picture is cached until the stored data changes (a new snapshot), so a second
request costs nothing; the first takes a couple of seconds in a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import date
from typing import Any

from telegram import Update
from telegram.constants import ParseMode

from bot.telegram.handlers.handler_support import Context, chat_lang, data_status, no_data_text, reply, services_of
from jobs.alerting.services import Services
from jobs.rendering.messages import render

CAPTION_LIMIT = 1024


class HistoryChartCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[tuple[Any, ...], tuple[bytes, Any]] | None = None

    def get(self, services: Services, source: str) -> tuple[bytes, Any]:
        """(PNG, history) from the first stored day to the last (runs in a worker thread)."""
        from bot.cli.regime_history_cli import history_png
        from jobs.regimes.history import build_history

        key = (source, services.store.last_snapshot_date(source), services.engine.metric_signature())
        with self._lock:
            if self._entry is not None and self._entry[0] == key:
                return self._entry[1]
        history = build_history(services.store, services.settings, source)
        value = (history_png(services.store, services.settings, source, history), history)
        with self._lock:
            self._entry = (key, value)
        return value


async def regime_history(update: Update, context: Context) -> None:
    from bot.cli.regime_history_cli import history_context

    services = services_of(context)
    lang = chat_lang(update, services)
    status = data_status(services)
    last: date | None = services.store.last_snapshot_date(status.source)
    if last is None:
        await reply(update, no_data_text(services, lang, status))
        return
    cache: HistoryChartCache = context.application.bot_data.setdefault("regime_history_chart", HistoryChartCache())
    png, history = await asyncio.to_thread(cache.get, services, status.source)
    caption = render("regime_history_caption", lang, **history_context(history, status.source_label))
    chat = update.effective_chat
    assert chat is not None
    await chat.send_photo(
        png, caption=caption[:CAPTION_LIMIT], parse_mode=ParseMode.HTML, filename=f"regimes-{history.last}.png"
    )
