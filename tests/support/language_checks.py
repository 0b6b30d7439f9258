"""What a reader of one language must never see: the checks of the language sweep (``test_language_sweep.py``).

* English text has no CJK character, except in data the user typed (passed as ``typed``).
* Chinese text has no English word but those of ``ZH_ALLOWED`` (abbreviations, units, names of the
  program and its data sources), commands (``/regime``), Telegram @usernames, code points (``U+202E``),
  config keys and file names (``data.source``, ``sw_l1_daily.csv``), code spans (``<code>…</code>``, what
  a reader types) and data the user typed.
* No two sentences run into each other: :func:`joined_lines` renders a template with a marker where
  jinja's ``trim_blocks`` swallows the line break after a line that ends in a block tag
  (``…is due.{% endif %}`` + newline), and reports each place where that joins two pieces of text
  without a separator.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from jinja2.ext import Extension

from jobs.rendering.messages import TEMPLATES_DIR, environment, to_plain

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")

# the English a Chinese reader may see: abbreviations and units, and proper names of the program, its data
# sources and the services it talks to (each written down here, so that a new one is a decision)
ZH_ALLOWED = {
    "PMI",
    "PPI",
    "PE",
    "CSV",
    "UTF",
    "URL",
    "ID",
    "id",
    "akshare",
    "spreadwatch",
    "Telegram",
    "Apprise",
    "Wind",
    "HTTP",
    "JSON",
    "PNG",
}
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")
# what is not prose: a command (/regime, /event del), a config key or file name (data.source, x.csv,
# price_revisions), a number with a unit or percentile (P90, 6M, 120D, 1y), an URL
_NOT_PROSE = re.compile(
    r"@\w+|U\+[0-9A-F]{4,6}|spreadwatch(?: [a-z][a-z-]*)*(?: --?[a-z-]+(?: [A-Z]+)?)*|A(?=\s*股)|https?://\S+|/[a-z_0-9]+(?:@\w+)?|\b[\w-]+(?:[._][\w-]+)+\b|\.[a-z_]+\b|\b[A-Za-z]+\d[\w]*\b|\b\d+[A-Za-z]+\b"
)
_CJK_EDGE = re.compile(r"(?<=[\u4e00-\u9fff])(?=[A-Za-z0-9])|(?<=[A-Za-z0-9])(?=[\u4e00-\u9fff])")
_CODE_SPAN = re.compile(r"<code>.*?</code>|<pre>.*?</pre>", re.DOTALL)


def _without(text: str, typed: Iterable[str]) -> str:
    for t in sorted((t for t in typed if t), key=len, reverse=True):
        text = text.replace(t, " ").replace(html.escape(t, quote=False), " ").replace(html.escape(t), " ")
    return text


def english_problems(text: str, typed: Iterable[str] = ()) -> list[str]:
    """The CJK characters an English reader would see, with a little context each."""
    plain = _without(to_plain(_without(text, typed)), typed)
    return [plain[max(0, m.start() - 20) : m.end() + 20] for m in CJK.finditer(plain)]


def chinese_problems(text: str, typed: Iterable[str] = ()) -> list[str]:
    """The English words a Chinese reader would see, but the allowed ones."""
    stripped = _CODE_SPAN.sub(" ", _without(text, typed))
    # a Latin token written against Chinese characters (历史P50) is a token of its own
    spaced = _CJK_EDGE.sub(" ", _without(to_plain(stripped), typed))
    plain = _NOT_PROSE.sub(" ", spaced)
    return [w for w in _WORD.findall(plain) if w not in ZH_ALLOWED]


# -- sentences run together ---------------------------------------------------------------------------

JOIN = "\u2063"  # INVISIBLE SEPARATOR: where the template swallowed a line break
_BLOCK_END = re.compile(r"(-?%\})\n")


class _MarkSwallowedBreaks(Extension):
    """Does what ``trim_blocks`` does (drop the line break after a block tag), but leaves ``JOIN``
    where the line had text before its last tag: there a reader expected a new line."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        out: list[str] = []
        for line in source.split("\n"):
            out.append(line)
        result: list[str] = []
        for i, line in enumerate(out):
            last = i == len(out) - 1
            if last:
                result.append(line)
                continue
            if line.rstrip().endswith("%}"):
                text = re.sub(r"\{%.*?%\}|\{#.*?#\}", "", line).strip()
                result.append(line + (JOIN if text else ""))
            else:
                result.append(line + "\n")
        return "".join(result)


@lru_cache(maxsize=1)
def _marking_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=False,  # the extension does it, marking what it drops
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=[_MarkSwallowedBreaks],
    )
    env.filters.update(environment().filters)
    return env


_SEPARATORS = " \t\n:：(（[【—–-•·,，、;；/"


def joined_lines(kind: str, lang: str, **context: Any) -> list[str]:
    """The places where the rendered ``kind`` runs two lines' text together without a separator."""
    raw = _marking_environment().get_template(f"{lang}/{kind}.j2").render(**context)
    plain = to_plain(raw)
    problems = []
    for m in re.finditer(JOIN, plain):
        before = plain[: m.start()].replace(JOIN, "")
        after = plain[m.end() :].replace(JOIN, "")
        if not before.strip() or not after or after[0] in "\n" or before[-1] in _SEPARATORS or after[0] in " \t":
            continue
        problems.append(f"{before[-40:]}⏎{after[:40]}")
    return problems
