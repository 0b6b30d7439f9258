"""``/regime history``: the regime history chart (spread, alert episodes, one band per scenario) as a photo.

It reads the store only, like every answer: the history replays the stored snapshots and inputs, each
day as of itself. The picture is cached until the stored data changes (a new snapshot), so a second
request costs nothing; the first takes a couple of seconds in a worker thread.
"""

from __future__ import annotations

import asyncio
from datetime import date

from telegram import Update
from telegram.constants import ParseMode

from bot.telegram.handlers.handler_support import Context, chat_lang, data_status, no_data_text, reply, services_of
from jobs.regimes.history import history_context
from jobs.rendering.messages import render

CAPTION_LIMIT = 1024


async def regime_history(update: Update, context: Context) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
    status = data_status(services)
    last: date | None = services.store.last_snapshot_date(status.source)
    if last is None:
        await reply(update, no_data_text(services, lang, status))
        return
    png, history = await asyncio.to_thread(context.bot_data.regime_history_chart.get, services, status.source, lang)
    caption = render("regime_history_caption", lang, **history_context(history, status.source_label, status.synthetic))
    chat = update.effective_chat
    assert chat is not None
    await chat.send_photo(
        png, caption=caption[:CAPTION_LIMIT], parse_mode=ParseMode.HTML, filename=f"regimes-{history.last}.png"
    )
