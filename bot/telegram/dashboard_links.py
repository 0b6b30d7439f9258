"""The "📊" button that opens the dashboard (``webapp.public_url``), and the chat menu button.

Telegram accepts ``web_app`` inline buttons only in private chats: a group or channel message carrying one is
refused as a bad request (400 BUTTON_TYPE_INVALID), and a refused alert is never retried. So a private chat
gets a ``web_app`` button (the Mini App opens inside Telegram with the reader's signed initData); a group or
channel gets a URL button: the plain page (``webapp.public: true``), else a ``t.me`` direct link to the bot's
Main Mini App (set it up with @BotFather), which opens the same page inside Telegram. Private chats are
those with a positive id: Telegram gives users positive ids, groups and channels negative ones.
"""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardButton, MenuButtonWebApp, WebAppInfo
from telegram.error import TelegramError

from jobs.config.settings import Settings

log = logging.getLogger(__name__)

LABELS = {"zh": "📊 看板", "en": "📊 Dashboard"}  # UI chrome, as keyboards.LABELS
MENU_TEXT = "📊"


def is_private(chat_id: int) -> bool:
    return chat_id > 0


def dashboard_button(
    settings: Settings, bot_username: str | None, lang: str, chat_id: int, tab: str = "spread"
) -> InlineKeyboardButton | None:
    """The button for a message to ``chat_id``; None when ``webapp.public_url`` is not set (or no link fits)."""
    webapp = settings.webapp
    if webapp.public_url is None:
        return None
    label = LABELS.get(lang, LABELS["en"])
    page = f"{webapp.public_url}/?tab={tab}"
    if is_private(chat_id):
        return InlineKeyboardButton(label, web_app=WebAppInfo(page))
    if webapp.public:
        return InlineKeyboardButton(label, url=page)
    if bot_username:
        return InlineKeyboardButton(label, url=f"https://t.me/{bot_username}?startapp={tab}")
    return None


async def set_menu_button(bot: Bot, settings: Settings) -> None:
    """Every private chat's menu button opens the dashboard (only with ``webapp.public_url``)."""
    url = settings.webapp.public_url
    if url is None:
        return
    try:
        await bot.set_chat_menu_button(menu_button=MenuButtonWebApp(MENU_TEXT, WebAppInfo(f"{url}/")))
    except TelegramError as exc:
        # a convenience, like the command menu: the buttons under the answers work without it
        log.warning("setChatMenuButton failed: %s", exc)
