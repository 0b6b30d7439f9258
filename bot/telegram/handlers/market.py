"""/spread (with a Refresh button), /top5, /bottom5 and /industry <name|code>: the latest stored snapshot.

/industry also knows the industries Shenwan dropped at a revision (801020 采掘 ended in 2021): they
are not in today's snapshot, so they are looked up in the stored history and answered as
discontinued, with when their series ended and where they stood on their last day.
"""

from __future__ import annotations

import asyncio
import difflib
from dataclasses import dataclass
from datetime import date
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.telegram.dashboard_links import dashboard_button
from bot.telegram.handlers.handler_support import (
    Context,
    args_of,
    chat_lang,
    no_data_text,
    reply,
    report_context,
    services_of,
)
from bot.telegram.handlers.keyboards import SPREAD_REFRESH, spread_keyboard
from bot.telegram.handlers.status import sees_raw_errors
from jobs.market.industry_names import english_name
from jobs.market.sources.base import SW2021_L1_EN
from jobs.model.figures import IndustryGain, Snapshot
from jobs.rendering.messages import render
from jobs.store.datastore import Store

MAX_QUERY = 40  # longer "names" are not industry names; keep difflib's work bounded


async def _snapshot_answer(update: Update, context: Context, kind: str) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
    ctx = report_context(services)
    if ctx is None:
        await reply(update, no_data_text(services, lang))
        return
    markup = _spread_markup(update, context, lang) if kind == "spread" else None
    await reply(update, render(kind, lang, admin=sees_raw_errors(update, services), **ctx), markup)


def _spread_markup(update: Update, context: Context, lang: str) -> InlineKeyboardMarkup:
    chat = update.effective_chat
    assert chat is not None
    button = dashboard_button(services_of(context).settings, context.bot.username, lang, chat.id, "spread")
    return spread_keyboard(lang, button)


async def spread(update: Update, context: Context) -> None:
    await _snapshot_answer(update, context, "spread")


async def top5(update: Update, context: Context) -> None:
    await _snapshot_answer(update, context, "top5")


async def bottom5(update: Update, context: Context) -> None:
    await _snapshot_answer(update, context, "bottom5")


async def refresh_button(update: Update, context: Context) -> None:
    """Re-render the /spread message from the latest stored snapshot (never fetches)."""
    query = update.callback_query
    assert query is not None
    services = services_of(context)
    lang = chat_lang(update, services)
    ctx = report_context(services)
    admin = sees_raw_errors(update, services)
    text = render("spread", lang, admin=admin, **ctx) if ctx is not None else no_data_text(services, lang)
    try:
        await query.edit_message_text(
            text, parse_mode=ParseMode.HTML, reply_markup=_spread_markup(update, context, lang)
        )
    except BadRequest as exc:
        # nothing new since the message was sent: Telegram refuses an identical edit
        if "not modified" not in str(exc).lower():
            raise
        await query.answer(render("toast", lang, key="up_to_date"))
        return
    await query.answer(render("toast", lang, key="refreshed"))


def find_industry(snap: Snapshot, query: str) -> tuple[IndustryGain | None, list[IndustryGain]]:
    """(match, suggestions): an exact code or name, else a unique partial name, else close names."""
    q = query.strip().casefold()
    by_code = {g.code.casefold(): g for g in snap.gains}
    if q in by_code:
        return by_code[q], []
    english = {g.code: SW2021_L1_EN.get(g.code, "").casefold() for g in snap.gains}
    exact = [g for g in snap.gains if q in (g.name.casefold(), english[g.code])]
    if exact:
        return exact[0], []
    partial = [
        g
        for g in snap.gains
        if q and (q in g.name.casefold() or g.name.casefold() in q or (len(q) >= 3 and q in english[g.code]))
    ]
    if len(partial) == 1:
        return partial[0], []
    if partial:
        return None, partial[:8]
    names = {g.name: g for g in snap.gains}
    close = difflib.get_close_matches(query.strip(), list(names), n=5, cutoff=0.3)
    if not close:
        by_english = {english[g.code]: g for g in snap.gains if english[g.code]}
        typo = difflib.get_close_matches(q, list(by_english), n=5, cutoff=0.6)
        if typo:
            return None, [by_english[e] for e in typo]
        # codes share a prefix (8010..), so a mistyped code is close to a handful of real ones
        codes = {g.code: g for g in snap.gains}
        close_codes = difflib.get_close_matches(query.strip(), list(codes), n=5, cutoff=0.6)
        return None, [codes[c] for c in close_codes]
    return None, [names[n] for n in close]


@dataclass(frozen=True)
class Discontinued:
    """An industry code in the stored history that today's snapshot no longer ranks."""

    code: str
    name: str  # its last name
    first: date
    last: date
    standing: IndustryGain | None  # its gain and rank on its last ranked day, if it was ranked
    standing_on: date | None
    n_ranked: int | None


def find_discontinued(store: Store, source: str, snap: Snapshot, query: str) -> Discontinued | IndustryGain | None:
    """An exact code or name (Chinese, or Shenwan's English) from the stored history but not today's.

    An older name of an industry that still exists (休闲服务, now 社会服务) resolves to today's entry.
    """
    q = query.strip().casefold()
    current = {g.code: g for g in snap.gains}
    periods = store.name_book(source).periods()
    code = next(
        (c for c, _, name in periods if q in (c.casefold(), name.casefold(), (english_name(name, c) or "").casefold())),
        None,
    )
    if code is None:
        return None
    if code in current:
        return current[code]
    prices = store.load_prices(source)
    if code not in prices.columns or prices[code].dropna().empty:
        return None
    series = prices[code].dropna()
    first, last = series.index[0].date(), series.index[-1].date()
    name = next(n for c, _, n in reversed(periods) if c == code)
    standing_snap = store.snapshot(source, last)
    standing = None
    if standing_snap is not None:
        standing = next((g for g in standing_snap.gains if g.code == code), None)
    return Discontinued(
        code,
        name,
        first,
        last,
        standing,
        standing_snap.as_of if standing is not None and standing_snap is not None else None,
        standing_snap.n_ranked if standing is not None and standing_snap is not None else None,
    )


async def industry(update: Update, context: Context) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
    args = args_of(context)
    if not args:
        await reply(update, render("usage", lang, command="industry"))
        return
    ctx = report_context(services)
    if ctx is None:
        await reply(update, no_data_text(services, lang))
        return
    snap: Snapshot = ctx["snap"]
    query = " ".join(args)[:MAX_QUERY]
    match, suggestions = find_industry(snap, query)
    if match is None:
        old = await asyncio.to_thread(find_discontinued, services.store, ctx["status"].source, snap, query)
        if isinstance(old, IndustryGain):
            match = old
        elif old is not None:
            await reply(update, render("industry_discontinued", lang, ind=old, snap=snap))
            return
    if match is None:
        await reply(
            update,
            render("industry_unknown", lang, query=query, suggestions=suggestions, ambiguous=len(suggestions) > 1),
        )
        return
    position = "top" if match.rank <= snap.k else "bottom" if match.rank > snap.n_ranked - snap.k else "middle"
    admin = sees_raw_errors(update, services)
    await reply(update, render("industry", lang, ind=match, position=position, admin=admin, **ctx))


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("spread", spread))
    application.add_handler(CommandHandler("top5", top5))
    application.add_handler(CommandHandler("bottom5", bottom5))
    application.add_handler(CommandHandler("industry", industry))
    application.add_handler(CallbackQueryHandler(refresh_button, pattern=f"^{SPREAD_REFRESH}$"))
