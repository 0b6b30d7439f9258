"""Messages from jinja2 templates: ``templates/<lang>/<kind>.j2``, HTML-escaped, never f-strings.

Telegram's HTML parse mode needs ``<``, ``>`` and ``&`` escaped in data; autoescape does it, and
StrictUndefined turns a missing variable into an error instead of an empty hole in a message.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from jobs.config.languages import LANGS
from jobs.market.industry_names import display_name, has_english_name
from jobs.market.sources.base import AKSHARE_SW_LABEL, SAMPLE_LABEL

TELEGRAM_LIMIT = 4096
# templates/ of the repository, through the link beside this module (the wheel holds a copy there)
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


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
    names = {SAMPLE_LABEL: "合成样本数据（非真实行情）", AKSHARE_SW_LABEL: "申万2021一级行业（akshare）"}
    return names.get(label, label)


def fmt_num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def industry_en(industry: Any, code: str = "") -> str:
    """An industry's English name: the source's own, else Shenwan's or CITIC's, else the name as the
    source gives it. ``industry`` is a name (with its ``code``) or anything with ``name`` and ``code``
    (an ``IndustryGain``, whose ``name_en`` comes first)."""
    if isinstance(industry, str):
        return display_name(industry, code, "en")
    return display_name(industry.name, industry.code, "en", getattr(industry, "name_en", ""))


def lacks_english(industries: Iterable[Any]) -> bool:
    """Whether an English message naming these industries shows any of them by the source's own
    (non-English) name: the message then says once that the source has no English names."""
    return any(not has_english_name(g.name, g.code, getattr(g, "name_en", "")) for g in industries)


def list_join(items: Iterable[Any], lang: str) -> str:
    """A list as a reader of ``lang`` writes it: 计算机、传媒 / Computer; Media (English names may hold commas)."""
    return ("、" if lang == "zh" else "; ").join(str(i) for i in items)


def names_label(label: str, lang: str) -> str:
    """An evidence label listing industries (stored joined with ", ") in the reader's language."""
    parts = [p for p in label.split(", ") if p]
    return list_join(parts if lang == "zh" else [display_name(p, "", "en") for p in parts], lang)


def fmt_when(value: datetime | str | None, timezone: str, lang: str) -> str:
    """A moment for people, in the configured time zone: 2026-12-04 16:31 / 2026年12月4日 16:31.

    The store keeps UTC ISO strings; a schedule in Asia/Shanghai next to UTC times misleads.
    """
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:  # stored moments are UTC; a naive one is too
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    local = moment.astimezone(ZoneInfo(timezone))
    if lang == "zh":
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def fmt_window(window: str, lang: str) -> str:
    """The gain window for people: 6M → "6-month" / "6个月", 120D → "120-trading-day" / "120个交易日"."""
    n, unit = window[:-1], window[-1:].upper()
    if unit == "M":
        return f"{n}个月" if lang == "zh" else f"{n}-month"
    if unit == "D":
        return f"{n}个交易日" if lang == "zh" else f"{n}-trading-day"
    return window


def fetch_problem(message: str | None) -> str:
    """What kind of failure a fetch log message records, so a template can say it in the reader's language.

    The messages themselves are for logs and admins: ``jobs.market.validate`` starts a rejection with
    "batch rejected", ``jobs.engine.pipeline`` an unforeseen error with "unexpected"; anything else is the
    source's own failure (network, timeout, upstream error, a missing file).
    """
    text = (message or "").strip().lower()
    if text.startswith("batch rejected"):
        return "rejected"
    if text.startswith("unexpected"):
        return "unexpected"
    return "fetch"


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
    env.filters.update(
        pct=fmt_pct,
        points=fmt_points,
        pctl=fmt_pctl,
        num=fmt_num,
        source_zh=source_zh,
        en_name=industry_en,
        lacks_english=lacks_english,
        list_join=list_join,
        names_label=names_label,
        when=fmt_when,
        window=fmt_window,
        fetch_problem=fetch_problem,
    )
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


# Telegram HTML: a tag, an entity, a line break, a space, a run of other text; a stray < or & is text
_TOKEN_RE = re.compile(r"<[^>]*>|&#?\w+;|\n| |[^<&\n ]+|[<&]")
_TAG_NAME_RE = re.compile(r"</?\s*([a-zA-Z-]+)")


def _closer(name: str) -> str:
    return f"</{name}>"


def _apply(stack: tuple[tuple[str, str], ...], token: str) -> tuple[tuple[str, str], ...]:
    """The open tags (name, opening tag as written) after ``token``."""
    if not token.startswith("<") or (m := _TAG_NAME_RE.match(token)) is None:
        return stack
    name = m.group(1).lower()
    if token.startswith("</"):
        for k in range(len(stack) - 1, -1, -1):
            if stack[k][0] == name:
                return stack[:k] + stack[k + 1 :]
        return stack
    return (*stack, (name, token))


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split Telegram HTML into parts of at most ``limit`` characters, each valid on its own.

    A part ends at the last line break that fits, else at the last space, else between two elements
    (never inside a tag or an entity such as ``&amp;``; a single word longer than a whole part is the
    only thing cut, between two of its characters). Tags open at a cut are closed at the end of the
    part and opened again, as written, at the start of the next, so a ``<b>`` or ``<a href>`` spanning
    the cut stays balanced in both: Telegram refuses a message with an unmatched tag.
    """
    if len(text) <= limit:
        return [text]
    tokens = _TOKEN_RE.findall(text)
    chunks: list[str] = []
    stack: tuple[tuple[str, str], ...] = ()
    i = 0
    while i < len(tokens):
        prefix = "".join(raw for _, raw in stack)
        body, size, cur = [prefix], len(prefix), stack
        line_cut: tuple[int, int, tuple[tuple[str, str], ...]] | None = None
        space_cut: tuple[int, int, tuple[tuple[str, str], ...]] | None = None
        shown = False  # whether the part has anything to show yet (tags alone make an empty message)
        j = i
        while j < len(tokens):
            token = tokens[j]
            after = _apply(cur, token)
            if size + len(token) + sum(len(_closer(n)) for n, _ in after) > limit:
                break
            if token in ("\n", " ") and shown:
                here = (j, len(body), cur)
                if token == "\n":
                    line_cut = here
                else:
                    space_cut = here
            body.append(token)
            size += len(token)
            cur = after
            shown = shown or _shows(token)
            j += 1
        if j == len(tokens):
            chunks.append("".join(body) + "".join(_closer(n) for n, _ in reversed(cur)))
            break
        cut = line_cut or space_cut
        if cut is not None:
            j, keep, cur = cut
            body = body[:keep]
            j += 1  # the line break or space at the cut is not carried over
        elif not shown:
            # one word longer than what is left of a part (after its opening tags): the only cut inside an
            # element, between characters, so that no part is empty (Telegram refuses "<b></b>")
            room = limit - size - sum(len(_closer(n)) for n, _ in cur)
            if room <= 0 or tokens[j].startswith(("<", "&")):
                raise ValueError(f"cannot split: an element does not fit in {limit} characters")
            body.append(tokens[j][:room])
            tokens[j] = tokens[j][room:]
        chunks.append("".join(body) + "".join(_closer(n) for n, _ in reversed(cur)))
        stack, i = cur, j
    return [c for c in chunks if any(_shows(t) for t in _TOKEN_RE.findall(c))] or [text[:0]]


def _shows(token: str) -> bool:
    """Whether a token of Telegram HTML puts something on screen: text or an entity, not a tag or a blank."""
    is_tag = token.startswith("<") and _TAG_NAME_RE.match(token) is not None
    return not is_tag and bool(token.strip())


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


# -- Markdown for other destinations (notify.destinations with format: markdown) ------------------------

_MD_MARK = {"b": "**", "strong": "**", "i": "*", "em": "*", "code": "`", "s": "~~", "strike": "~~", "del": "~~"}
_MD_TOKEN = re.compile(r"<[^<>]*>|[^<]+|<")
_HREF = re.compile(r'href="([^"]*)"', re.IGNORECASE)
# characters Markdown reads as markup anywhere in a line, and what starts a heading, quote or list item
_MD_INLINE = re.compile(r"([\\`*_\[\]~<])")
_MD_LINE_START = re.compile(r"^(\s*)(#+|>|[-+*]|\d+[.)])(?=\s|$)", re.MULTILINE)


def _escape_line_start(m: re.Match[str]) -> str:
    mark = m.group(2)
    # "1." -> "1\." (an ordered list item); "#", ">", "-" -> "\#", "\>", "\-"
    return m.group(1) + (f"{mark[:-1]}\\{mark[-1]}" if mark[0].isdigit() else f"\\{mark}")


def _md_text(raw: str) -> str:
    return _MD_INLINE.sub(r"\\\1", html.unescape(raw))


def to_markdown(text: str) -> str:
    """A rendered message (Telegram HTML) as Markdown, for services that render it (DingTalk, WeCom,
    Feishu, Bark): bold, italic, code, strikethrough and links become Markdown; other tags are dropped;
    entities are unescaped and characters Markdown would read as markup are escaped (an industry
    name is never emphasis); each line break is a hard break (two spaces), so lines stay lines.

    The same conversion for every message kind: the templates stay Telegram HTML, the one source."""
    out: list[str] = []
    links: list[str] = []
    in_code = in_pre = False
    for token in _MD_TOKEN.findall(text):
        m = _TELEGRAM_TAG.fullmatch(token)
        if m is None:  # text, or a stray "<" of the data
            out.append(html.unescape(token) if in_code or in_pre else _md_text(token))
            continue
        closing = token.startswith("</")
        name = _TAG_NAME_RE.match(token)
        tag = name.group(1).lower() if name else ""
        if tag == "pre":
            in_pre = not closing
            out.append("\n```\n")
        elif tag == "a":
            if closing:
                out.append(f"]({links.pop()})" if links else "")
            else:
                href = _HREF.search(token)
                links.append(html.unescape(href.group(1)) if href else "")
                out.append("[")
        elif tag in _MD_MARK and not in_pre:
            if tag == "code":
                in_code = not closing
            out.append(_MD_MARK[tag])
    body = "".join(out)
    body = _MD_LINE_START.sub(_escape_line_start, body)
    lines = body.split("\n")
    hard = [
        line + "  " if line.strip() and i + 1 < len(lines) and lines[i + 1].strip() else line
        for i, line in enumerate(lines)
    ]
    return "\n".join(hard).strip("\n")
