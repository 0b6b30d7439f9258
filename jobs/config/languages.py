"""The languages spreadwatch speaks, and the one rule that picks a reader's."""

from __future__ import annotations

from typing import Literal, get_args

Lang = Literal["zh", "en"]
LANGS: tuple[str, ...] = get_args(Lang)


def reader_lang(chosen: str | None, client_code: str | None, default: str) -> str:
    """The language the reader chose (``/settings``), else their Telegram client's language when we speak it
    (``zh-hans`` counts as ``zh``), else the configured default."""
    if chosen in LANGS:
        return chosen
    code = (client_code or "").lower()
    for lang in LANGS:
        if code == lang or code.startswith(lang + "-"):
            return lang
    return default
