"""``my_chat_member`` updates: the bot was blocked, kicked or left → the chat is inactive (no more
deliveries, its unsent outbox rows are dead); added back or unblocked → active again."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import ChatMember, Update
from telegram.ext import Application, ChatMemberHandler

from bot.telegram.handlers.handler_support import Context, services_of
from jobs.store.outbox import Outbox

log = logging.getLogger(__name__)

GONE = (ChatMember.BANNED, ChatMember.LEFT)  # BANNED is Telegram's "kicked"
PRESENT = (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED)


async def my_chat_member(update: Update, context: Context) -> None:
    change = update.my_chat_member
    if change is None:
        return
    services = services_of(context)
    chat_id = change.chat.id
    status = change.new_chat_member.status
    known = services.chats.get(chat_id)
    if status in GONE:
        if known is not None:
            await asyncio.to_thread(services.chats.update, chat_id, active=False)
        dropped = await asyncio.to_thread(Outbox(services.store).drop_chat, chat_id, f"bot {status} from the chat")
        log.info("chat %s: bot %s; marked inactive (%d unsent message(s) dropped)", chat_id, status, dropped)
    elif status in PRESENT and known is not None and not known.active:
        await asyncio.to_thread(services.chats.update, chat_id, active=True)
        log.info("chat %s: bot is back (%s); marked active", chat_id, status)


def register(application: Application[Any, Any, Any, Any, Any, Any], services: Any = None) -> None:
    application.add_handler(ChatMemberHandler(my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
