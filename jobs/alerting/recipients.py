"""Who reads a message and in which language, and the types every notice is built with (shared by the
admin notices, the revision notices and the alerts)."""

from __future__ import annotations

from collections.abc import Callable

from jobs.config.languages import reader_lang
from jobs.config.settings import Settings
from jobs.store.chats import Chat

DATA_RULE = "data"  # outbox rule id of admin notices
Render = Callable[..., str]  # render(kind, lang, **context) -> text
Split = Callable[[str], list[str]]


def chat_lang(chat: Chat | None, settings: Settings) -> str:
    """A chat's language for what the service sends it unasked (it has no client language then)."""
    return reader_lang(chat.lang if chat is not None else None, None, settings.lang)
