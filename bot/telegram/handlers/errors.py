"""The edges: the allow-list gate, edited messages, unknown commands and text, and the error handler."""

from __future__ import annotations

import difflib
import logging
import traceback
from typing import Any

from telegram import Update
from telegram.error import Forbidden
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.telegram.handlers.handler_support import Context, chat_lang, reply, services_of
from jobs.rendering.messages import render

log = logging.getLogger(__name__)

GATE_GROUP = -1  # runs before every command handler


async def gate(update: Update, context: Context) -> None:
    """Drop what must not reach the commands: edited messages, channel posts, chats not allowed; answer
    the command that ran a chat's bucket dry with "too many requests" (``bot.telegram.chat_limits``)."""
    if update.edited_message is not None or update.edited_channel_post is not None:
        # re-answering an edited command would duplicate the first answer
        raise ApplicationHandlerStop
    if update.channel_post is not None:
        raise ApplicationHandlerStop
    limits = context.bot_data.chat_limits
    too_many = limits is not None and limits.notice_due(update)
    if not await _allowed(update, context):
        raise ApplicationHandlerStop
    chat = update.effective_chat
    if too_many and limits is not None and chat is not None:
        services = services_of(context)
        log.info("chat %s ran out of commands: told once, ignored until it has one again", chat.id)
        text = render("too_many_requests", chat_lang(update, services), seconds=limits.retry_after(chat.id))
        await reply(update, text)
        if update.callback_query is not None:
            await update.callback_query.answer()  # stops the button's spinner
        raise ApplicationHandlerStop


async def _allowed(update: Update, context: Context) -> bool:
    """Whether ``telegram.allowed_chats`` lets the chat in; a chat refused is told so once."""
    services = services_of(context)
    allowed = services.settings.telegram.allowed_chats
    chat = update.effective_chat
    if not allowed or chat is None or update.my_chat_member is not None:
        return True
    user = update.effective_user
    if chat.id in allowed or (
        chat.type == "private" and user is not None and user.id in services.settings.telegram.admins
    ):
        return True
    refused = context.bot_data.refused_chats
    if chat.id not in refused and update.effective_message is not None and update.callback_query is None:
        refused.add(chat.id)
        log.info("chat %s is not in telegram.allowed_chats: refused once, ignored from now on", chat.id)
        await reply(update, render("not_allowed", chat_lang(update, services), chat_id=chat.id))
    return False


def _command_of(text: str) -> tuple[str, str | None]:
    head = text.split(maxsplit=1)[0] if text.strip() else ""
    name, _, bot = head[1:].partition("@")
    return name, bot or None


async def unknown_command(update: Update, context: Context) -> None:
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None or not message.text:
        return
    name, addressed = _command_of(message.text)
    if addressed is not None and addressed.casefold() != (context.bot.username or "").casefold():
        return  # for another bot in the group
    if chat.type != "private" and addressed is None:
        return  # an unaddressed unknown command in a group is most likely another bot's
    services = services_of(context)
    lang = chat_lang(update, services)
    known = [c.name for c in context.bot_data.menu]
    suggestions = difflib.get_close_matches(name.casefold()[:32], known, n=3, cutoff=0.5)
    await reply(update, render("unknown_command", lang, command=name[:32], suggestions=suggestions))


async def plain_text(update: Update, context: Context) -> None:
    """A private message that is not a command: point at /help instead of staying silent."""
    services = services_of(context)
    await reply(update, render("text_hint", chat_lang(update, services)))


async def unknown_button(update: Update, context: Context) -> None:
    """A button no handler claims (from an older version of the bot): stop its spinner, say it expired."""
    query = update.callback_query
    if query is not None:
        await query.answer(render("toast", chat_lang(update, services_of(context)), key="expired"))


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


async def on_error(update: object, context: Context) -> None:
    """Log with context (never the token) and tell the user a short apology instead of silence."""
    error = context.error
    services = services_of(context)
    token = services.settings.bot_token() or ""
    where = "no update"
    if isinstance(update, Update):
        chat = update.effective_chat
        message = update.effective_message
        what = (message.text or "")[:80] if message is not None else ""
        if update.callback_query is not None:
            what = f"button {update.callback_query.data!r}"
        where = f"update {update.update_id} chat {chat.id if chat else None}: {what!r}"
    detail = "".join(traceback.format_exception(error)) if error is not None else "unknown error"
    log.error("handler error on %s\n%s", _redact(where, [token]), _redact(detail, [token]))
    if not isinstance(update, Update) or update.effective_chat is None or isinstance(error, Forbidden):
        return
    try:
        lang = chat_lang(update, services)
        await reply(update, render("error", lang))
        if update.callback_query is not None:
            await update.callback_query.answer()
    except Exception as exc:  # the apology is best effort: the error itself is already logged
        log.warning("could not send the apology to chat %s: %s", update.effective_chat.id, type(exc).__name__)


def register_gate(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(TypeHandler(Update, gate), group=GATE_GROUP)


def register_fallbacks(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Added after every command handler of group 0, so they only see what nothing else handled."""
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, plain_text))
    application.add_handler(CallbackQueryHandler(unknown_button))
    application.add_error_handler(on_error)
