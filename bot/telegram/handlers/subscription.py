"""/subscribe, /unsubscribe and /settings (language, personal threshold, mute) with inline buttons."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.telegram.handlers.handler_support import Context, chat_lang, reply, services_of
from bot.telegram.handlers.keyboards import SETTINGS_PREFIX, parse_settings_data, settings_keyboard
from jobs.alerting.services import Services
from jobs.rendering.messages import render

GROUP_MANAGERS = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)


async def may_change(update: Update, context: Context) -> bool:
    """In a group only its administrators (or the bot's admins) change what the whole group receives."""
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    if chat is None or chat.type == "private":
        return True
    services = services_of(context)
    if user is not None and user.id in services.settings.telegram.admins:
        return True
    if message is not None and message.sender_chat is not None and message.sender_chat.id == chat.id:
        return True  # an anonymous group administrator speaks as the group itself
    if user is None:
        return False
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in GROUP_MANAGERS


async def refuse_change(update: Update, context: Context) -> None:
    lang = chat_lang(update, services_of(context))
    if update.callback_query is not None:
        await update.callback_query.answer(render("toast", lang, key="group_admins_only"), show_alert=True)
    else:
        await reply(update, render("not_group_admin", lang))


def subscribe_chat(update: Update, services: Services, lang: str) -> str:
    """Subscribe the update's chat; returns "subscribed" or "already_subscribed"."""
    chat = update.effective_chat
    assert chat is not None
    current = services.chats.get(chat.id)
    if current is not None and current.subscribed and current.active:
        return "already_subscribed"
    services.chats.ensure(chat.id, chat.type)
    fields: dict[str, Any] = {"subscribed": True, "active": True}
    if current is None or current.lang is None:
        # remember the language the chat was greeted in, so alerts arrive in it too
        fields["lang"] = lang
    services.chats.update(chat.id, **fields)
    return "subscribed"


def threshold_ctx(services: Services, chat_id: int) -> dict[str, Any]:
    stored = services.chats.get(chat_id)
    return {
        "threshold": stored.threshold if stored is not None else None,
        "default_threshold": services.settings.alerts.enter_percentile,
    }


async def subscribe(update: Update, context: Context) -> None:
    if not await may_change(update, context):
        await refuse_change(update, context)
        return
    services = services_of(context)
    lang = chat_lang(update, services)
    outcome = subscribe_chat(update, services, lang)
    assert update.effective_chat is not None
    await reply(
        update, render("subscription", lang, action=outcome, **threshold_ctx(services, update.effective_chat.id))
    )


async def unsubscribe(update: Update, context: Context) -> None:
    if not await may_change(update, context):
        await refuse_change(update, context)
        return
    services = services_of(context)
    chat = update.effective_chat
    assert chat is not None
    lang = chat_lang(update, services)
    current = services.chats.get(chat.id)
    if current is None or not current.subscribed:
        action = "not_subscribed"
    else:
        services.chats.update(chat.id, subscribed=False)
        action = "unsubscribed"
    await reply(update, render("subscription", lang, action=action, **threshold_ctx(services, chat.id)))


def settings_text(services: Services, chat_id: int, lang: str, notice: str | None = None) -> str:
    stored = services.chats.get(chat_id)
    today = services.engine.today(services.clock())
    subscribed = stored is not None and stored.subscribed and stored.active
    # a mute outlives /unsubscribe in the store (it returns with /subscribe), but nothing is muted
    # for a chat that receives nothing
    muted_until = stored.muted_until if subscribed and stored is not None and stored.muted_on(today) else None
    return render(
        "settings",
        lang,
        lang_name=lang,
        subscribed=subscribed,
        threshold=stored.threshold if stored is not None else None,
        default_threshold=services.settings.alerts.enter_percentile,
        muted_until=muted_until,
        notice=notice,
    )


def _keyboard(services: Services, chat_id: int, lang: str) -> Any:
    stored = services.chats.get(chat_id)
    today = services.engine.today(services.clock())
    return settings_keyboard(
        lang,
        stored.threshold if stored is not None else None,
        stored is not None and stored.muted_on(today),
    )


async def settings_command(update: Update, context: Context) -> None:
    services = services_of(context)
    chat = update.effective_chat
    assert chat is not None
    lang = chat_lang(update, services)
    await reply(update, settings_text(services, chat.id, lang), _keyboard(services, chat.id, lang))


async def settings_button(update: Update, context: Context) -> None:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and chat is not None
    services = services_of(context)
    parsed = parse_settings_data(query.data or "")
    if parsed is None:
        await query.answer(render("toast", chat_lang(update, services), key="expired"))
        return
    if not await may_change(update, context):
        await refuse_change(update, context)
        return
    key, value = parsed
    services.chats.ensure(chat.id, chat.type)
    if key == "lang":
        services.chats.update(chat.id, lang=str(value))
        notice = "lang"
    elif key == "thr":
        services.chats.update(chat.id, threshold=float(value) if value else None)
        notice = "threshold"
    else:
        days = int(value)
        until = services.engine.today(services.clock()) + timedelta(days=days) if days else None
        services.chats.update(chat.id, muted_until=until)
        notice = "muted" if days else "unmuted"
    lang = chat_lang(update, services)
    await query.answer(render("toast", lang, key="saved"))
    try:
        await query.edit_message_text(
            settings_text(services, chat.id, lang, notice),
            parse_mode=ParseMode.HTML,
            reply_markup=_keyboard(services, chat.id, lang),
        )
    except BadRequest as exc:
        # pressing the already-chosen option changes nothing on screen; Telegram refuses such an edit
        if "not modified" not in str(exc).lower():
            raise


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("subscribe", subscribe))
    application.add_handler(CommandHandler("unsubscribe", unsubscribe))
    application.add_handler(CommandHandler("settings", settings_command))
    application.add_handler(CallbackQueryHandler(settings_button, pattern=f"^{SETTINGS_PREFIX}"))
