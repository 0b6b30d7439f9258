"""/start (welcome, subscribe after a confirm button) and /help."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.telegram.handlers.handler_support import Context, chat_lang, is_admin, reply, services_of
from bot.telegram.handlers.keyboards import SUBSCRIBE_CONFIRM, subscribe_keyboard
from bot.telegram.handlers.subscription import may_change, refuse_change, subscribe_chat, threshold_ctx
from jobs.rendering.messages import render


def menu_entries(context: Context, lang: str, admin: bool) -> list[dict[str, Any]]:
    menu = context.bot_data.menu
    return [{"name": c.name, "description": c.description(lang)} for c in menu if admin or not c.admin]


async def start(update: Update, context: Context) -> None:
    services = services_of(context)
    chat = update.effective_chat
    assert chat is not None
    lang = chat_lang(update, services)
    stored = services.chats.get(chat.id)
    subscribed = stored is not None and stored.subscribed and stored.active
    user = update.effective_user
    text = render(
        "start",
        lang,
        name=user.first_name if user is not None else "",
        subscribed=subscribed,
        commands=menu_entries(context, lang, is_admin(update, services)),
    )
    await reply(update, text, None if subscribed else subscribe_keyboard(lang))


async def confirm_subscribe(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    if not await may_change(update, context):
        await refuse_change(update, context)
        return
    services = services_of(context)
    lang = chat_lang(update, services)
    outcome = subscribe_chat(update, services, lang)
    await query.answer(render("toast", lang, key=outcome))
    assert update.effective_chat is not None
    text = render("subscription", lang, action=outcome, **threshold_ctx(services, update.effective_chat.id))
    if query.message is not None:
        # the confirm button has done its job: replace the welcome's button with the outcome
        await query.edit_message_reply_markup(None)
    await reply(update, text)


async def help_command(update: Update, context: Context) -> None:
    services = services_of(context)
    lang = chat_lang(update, services)
    admin = is_admin(update, services)
    await reply(update, render("help", lang, commands=menu_entries(context, lang, admin), admin=admin))


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CallbackQueryHandler(confirm_subscribe, pattern=f"^{SUBSCRIBE_CONFIRM}$"))
