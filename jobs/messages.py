"""Messages from jinja2 templates: ``templates/<lang>/<kind>.j2``, HTML-escaped, never f-strings.

Telegram's HTML parse mode needs ``<``, ``>`` and ``&`` escaped in data; autoescape does it, and
StrictUndefined turns a missing variable into an error instead of an empty hole in a message.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

LANGS = ("zh", "en")
TELEGRAM_LIMIT = 4096
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    """+54.0%"""
    return "—" if value is None else f"{value:+.{digits}f}%"


def fmt_points(value: float | None, digits: int = 1) -> str:
    """+3.2 (percentage points, no % sign: the unit word comes from the template)"""
    return "—" if value is None else f"{value:+.{digits}f}"


def fmt_pctl(value: float | None) -> str:
    """P90 (floored, so P89.6 never reads as P90 and suggests an alert that did not fire)"""
    return "—" if value is None else f"P{int(value)}"


def source_zh(label: str) -> str:
    """The Chinese name of a data source's label (labels are English in the data layer)."""
    from jobs.sources.akshare_sw import AkshareSwSource
    from jobs.sources.sample import SampleSource

    names = {SampleSource.label: "合成样本数据（非真实行情）", AkshareSwSource.label: "申万2021一级行业（akshare）"}
    return names.get(label, label)


def fmt_num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


@lru_cache(maxsize=4)
def environment(templates_dir: str = str(TEMPLATES_DIR)) -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=True,  # every template is Telegram HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(pct=fmt_pct, points=fmt_points, pctl=fmt_pctl, num=fmt_num, source_zh=source_zh)
    return env


def render(kind: str, lang: str, **context: Any) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}")
    text = environment().get_template(f"{lang}/{kind}.j2").render(**context)
    # collapse runs of blank lines that conditional blocks leave behind
    lines = text.strip().splitlines()
    out: list[str] = []
    for line in lines:
        if line.strip() == "" and (not out or out[-1].strip() == ""):
            continue
        out.append(line.rstrip())
    return "\n".join(out)


def template_kinds(lang: str = "en") -> list[str]:
    return sorted(p.name[: -len(".j2")] for p in (TEMPLATES_DIR / lang).glob("*.j2") if not p.name.startswith("_"))


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split on line boundaries into chunks of at most ``limit`` characters (a too-long line is cut)."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = line if not current else f"{current}\n{line}"
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current or not chunks:
        chunks.append(current)
    return chunks


# the tags of Telegram's HTML parse mode (https://core.telegram.org/bots/api#html-style); data inside a
# message is escaped by the templates, so a literal "<" of a name never looks like one of these
_TELEGRAM_TAG = re.compile(
    r"</?(?:b|strong|i|em|u|ins|s|strike|del|span|tg-spoiler|tg-emoji|a|code|pre|blockquote)(?:\s[^<>]*)?>",
    re.IGNORECASE,
)
_LINK = re.compile(r'<a\s[^<>]*href="([^"]*)"[^<>]*>(.*?)</a>', re.IGNORECASE | re.DOTALL)


def to_plain(text: str) -> str:
    """A rendered message as plain text for a terminal: Telegram's tags dropped (a link keeps its
    address after its text), entities unescaped, lines as they were."""
    text = _LINK.sub(lambda m: m.group(2) if m.group(2) == m.group(1) else f"{m.group(2)} ({m.group(1)})", text)
    return html.unescape(_TELEGRAM_TAG.sub("", text))
