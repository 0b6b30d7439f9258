"""Inline keyboards and their callback data.

Callback data is short and versioned by prefix (``spread:``, ``sub:``, ``set:``); a button from an
older message whose data no longer parses gets an "expired" toast instead of an error.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from jobs.config.languages import LANGS
from jobs.store.chats import MUTE_CHOICES, THRESHOLD_CHOICES

SPREAD_REFRESH = "spread:refresh"
SUBSCRIBE_CONFIRM = "sub:confirm"
SETTINGS_PREFIX = "set:"

# callback data: set:thr:0 = back to the configured default threshold; set:mute:0 = unmute

# button labels are UI chrome, not messages: they live here rather than in templates
LABELS = {
    "zh": {
        "refresh": "🔄 刷新",
        "subscribe": "✅ 订阅提醒",
        "lang_zh": "中文",
        "lang_en": "English",
        "default": "默认",
        "mute": "静音{n}天",
        "unmute": "取消静音",
    },
    "en": {
        "refresh": "🔄 Refresh",
        "subscribe": "✅ Subscribe to alerts",
        "lang_zh": "中文",
        "lang_en": "English",
        "default": "Default",
        "mute": "Mute {n}d",
        "unmute": "Unmute",
    },
}


def spread_keyboard(lang: str, dashboard: InlineKeyboardButton | None = None) -> InlineKeyboardMarkup:
    """Refresh, and the 📊 button that opens the dashboard when ``webapp.public_url`` is set."""
    row = [InlineKeyboardButton(LABELS[lang]["refresh"], callback_data=SPREAD_REFRESH)]
    return InlineKeyboardMarkup([[*row, dashboard] if dashboard is not None else row])


def subscribe_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(LABELS[lang]["subscribe"], callback_data=SUBSCRIBE_CONFIRM)]])


def settings_keyboard(lang: str, threshold: float | None, muted: bool) -> InlineKeyboardMarkup:
    words = LABELS[lang]

    def mark(label: str, chosen: bool) -> str:
        return f"• {label} •" if chosen else label

    langs = [
        InlineKeyboardButton(mark(words["lang_zh"], lang == "zh"), callback_data="set:lang:zh"),
        InlineKeyboardButton(mark(words["lang_en"], lang == "en"), callback_data="set:lang:en"),
    ]
    thresholds = [
        InlineKeyboardButton(mark(f"P{p}", threshold == p), callback_data=f"set:thr:{p}") for p in THRESHOLD_CHOICES
    ]
    thresholds.append(InlineKeyboardButton(mark(words["default"], threshold is None), callback_data="set:thr:0"))
    mutes = [InlineKeyboardButton(words["mute"].format(n=n), callback_data=f"set:mute:{n}") for n in MUTE_CHOICES]
    if muted:
        mutes.append(InlineKeyboardButton(words["unmute"], callback_data="set:mute:0"))
    return InlineKeyboardMarkup([langs, thresholds, mutes])


def parse_settings_data(data: str) -> tuple[str, str | int] | None:
    """``set:lang:en`` → ("lang", "en"); ``set:thr:90`` → ("thr", 90); anything else → None."""
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != "set":
        return None
    key, value = parts[1], parts[2]
    if key == "lang" and value in LANGS:
        return key, value
    if key == "thr" and value.isdigit() and (int(value) in THRESHOLD_CHOICES or value == "0"):
        return key, int(value)
    if key == "mute" and value.isdigit() and (int(value) in MUTE_CHOICES or value == "0"):
        return key, int(value)
    return None
