"""What every handler needs: the services, the chat's language, replies in HTML, the report context."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from telegram import InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.ext import Application

from bot.telegram.bot_data import Context
from jobs.alerting.services import Services
from jobs.config.languages import reader_lang
from jobs.engine.pipeline import DataStatus
from jobs.engine.report import build_report
from jobs.rendering.messages import render, split_message

log = logging.getLogger(__name__)


def services_of(context: Context) -> Services:
    return context.bot_data.services


def chat_lang(update: Update, services: Services) -> str:
    """The chat's chosen language, else the user's Telegram language if we speak it, else the default."""
    chat = update.effective_chat
    stored = services.chats.get(chat.id) if chat is not None else None
    user = update.effective_user
    return reader_lang(
        stored.lang if stored is not None else None,
        user.language_code if user is not None else None,
        services.settings.lang,
    )


def is_admin(update: Update, services: Services) -> bool:
    user = update.effective_user
    return user is not None and user.id in services.settings.telegram.admins


Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]

# -- handlers run off the event loop ---------------------------------------------------------------
# Handlers read and write SQLite and build reports with pandas, synchronously. On the event loop, a
# write waiting behind a large batch save froze the bot: every chat, the outbox sender and the jobs.
# So every handler's coroutine runs on a short-lived event loop of its own in a worker thread, and
# everything it does synchronously happens there; its Bot API calls still run on the application's
# loop, which owns the HTTP connections (``bot.telegram.client.make_bot``). Handlers stay plain
# coroutines: nothing in them has to remember which calls block.

HANDLER_THREADS = 16  # handlers waiting for the database at once before others queue for a thread
_ON_LOOP = "_spreadwatch_on_loop"


def on_loop(handler: Handler) -> Handler:
    """Keep a handler on the application's loop: one that shares an ``asyncio.Lock`` with the jobs
    (a lock belongs to one loop)."""
    setattr(handler, _ON_LOOP, True)
    return handler


@functools.cache
def _handler_threads() -> ThreadPoolExecutor:
    # not the default executor: the sender's and the jobs' own asyncio.to_thread calls must not queue
    # behind handlers waiting for a lock
    return ThreadPoolExecutor(HANDLER_THREADS, thread_name_prefix="handler")


def off_loop(handler: Handler) -> Handler:
    if getattr(handler, _ON_LOOP, False):
        return handler

    @functools.wraps(handler)
    async def in_thread(update: Update, context: Context) -> None:
        await asyncio.get_running_loop().run_in_executor(_handler_threads(), asyncio.run, handler(update, context))

    return in_thread


def run_handlers_off_loop(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Wrap every registered handler's callback, and the error handlers (they read the chat's
    language), with :func:`off_loop` (the composition root calls it once, after every module has
    registered its handlers)."""
    for handlers in application.handlers.values():
        for h in handlers:
            h.callback = off_loop(h.callback)
    for callback, block in list(application.error_handlers.items()):
        del application.error_handlers[callback]
        wrapped: Any = off_loop(callback)  # an error handler takes (object, context): same shape
        application.error_handlers[wrapped] = block


def admin_only(handler: Handler) -> Handler:
    """Non-admins get a refusal in their language and the handler never runs. An admin's command answers
    only in the admin's private chat: in a group, where everyone would read it (subscribers' chat ids, raw
    errors), the answer is one line pointing to the private chat."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: Context) -> None:
        services = services_of(context)
        lang = chat_lang(update, services)
        if not is_admin(update, services):
            await reply(update, render("not_admin", lang))
            return
        chat = update.effective_chat
        if chat is not None and chat.type != "private":
            await reply(update, render("admin_private", lang, bot_username=context.bot.username))
            return
        await handler(update, context)

    return guarded


def data_status(services: Services) -> DataStatus:
    return services.engine.status(services.clock())


def report_context(services: Services) -> dict[str, Any] | None:
    """Context for the snapshot templates (spread, top5, bottom5, industry, _data_note); None if no data."""
    status = data_status(services)
    report = build_report(services.store, status, services.settings.metric.history_start)
    if report is None:
        return None
    return {"snap": report.snapshot, "report": report, "status": status, "stale": report.stale}


def no_data_text(services: Services, lang: str, status: DataStatus | None = None) -> str:
    status = status or data_status(services)
    error = status.last_error.message if status.last_error is not None else None
    return render("no_data", lang, source_label=status.source_label, error=error)


async def reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> Message | None:
    """Answer in the chat the update came from, split under Telegram's 4,096-character limit."""
    message = update.effective_message
    chat = update.effective_chat
    if chat is None:
        return None
    chunks = split_message(text)
    # in groups a reply makes clear whose command is answered; harmless if that message is gone
    quote = None
    if message is not None and chat.type != "private":
        quote = ReplyParameters(message.message_id, allow_sending_without_reply=True)
    sent: Message | None = None
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        sent = await chat.send_message(
            chunk,
            parse_mode=ParseMode.HTML,
            reply_markup=markup if last else None,
            reply_parameters=quote if i == 0 else None,
        )
    return sent


CAPTION_LIMIT = 1024  # Telegram's limit for a photo's or a document's caption


async def send_captioned(update: Update, send: Callable[[str], Awaitable[Message]], caption: str) -> None:
    """``send(caption)`` with the caption's first part (valid HTML, at most 1,024 characters); the rest
    follows as messages, so nothing is cut off."""
    first, *rest = split_message(caption, CAPTION_LIMIT)
    await send(first)
    for part in rest:
        await reply(update, part)


def args_of(context: Context) -> list[str]:
    return list(context.args or [])
