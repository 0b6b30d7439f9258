"""Telegram's HTML parse mode as the fake enforces it: the text a user sees (tags stripped, entities
decoded) and whether the markup would parse (known tags only, properly nested)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

_TAG_RE = re.compile(r"<[^>]*>")
_ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler", "span"}
_TAG_NAME_RE = re.compile(r"<\s*(/?)\s*([a-zA-Z-]+)")


def _visible(text: str, parse_mode: Any) -> str:
    """What a user sees: HTML tags removed and entities decoded (no entity list is rebuilt)."""
    if parse_mode != "HTML":
        return text
    return unescape(_TAG_RE.sub("", text))


def _balanced_html(text: str) -> bool:
    """Telegram rejects unknown tags and unmatched ones; a bare '<' in data would be one of those."""
    stack: list[str] = []
    for m in re.finditer(r"<[^>]*>?", text):
        tag = _TAG_NAME_RE.match(m.group(0))
        if tag is None or not m.group(0).endswith(">"):
            return False
        closing, name = tag.group(1) == "/", tag.group(2).lower()
        if name not in _ALLOWED_TAGS:
            return False
        if closing:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack
