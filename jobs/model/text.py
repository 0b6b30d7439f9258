"""Text from users and data files that is shown to others: control characters (an ``ESC`` that reaches an
operator's terminal) and bidirectional overrides (``U+202E`` turning ``— admin`` into ``nimda —``) can make
it lie about itself, so such text is refused, naming what it holds."""

from __future__ import annotations

import unicodedata

# the Unicode bidirectional formatting characters: embeddings, overrides, isolates and the marks
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def unsafe_chars(text: str) -> list[str]:
    """The control and bidi characters in ``text``, as ``U+XXXX`` (each once, in order of appearance)."""
    out: list[str] = []
    for ch in text:
        if ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc":
            code = f"U+{ord(ch):04X}"
            if code not in out:
                out.append(code)
    return out
