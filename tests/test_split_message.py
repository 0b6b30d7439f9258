"""Long messages and captions are split between elements, and every part is valid Telegram HTML: the
fake Bot API (which parses HTML the way Telegram refuses it) accepts every part, no tag or entity is
cut, and nothing of the text is lost."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from support.alerting_support import TOKEN
from support.fakebot import FakeBotAPI

from bot.telegram.client import HomeLoopBot, defaults
from jobs.rendering.messages import split_message

ENTITY_RE = re.compile(r"&(?!(?:amp|lt|gt|quot|#\d+);)")


def visible(text: str) -> str:
    from html import unescape

    return unescape(re.sub(r"<[^>]*>", "", text))


def long_message() -> str:
    rows = [
        f'<b>{i:03d}</b> <a href="https://example.com/i?a={i}&amp;b=2">计算机 &amp; 电子 &lt;{i}&gt;</a> '
        f"<i>+{i}.0% since 2024-08-30</i>"
        for i in range(120)
    ]
    # one line far longer than a part, with tags and entities all along it
    long_line = "<b>" + " ".join(f"<i>word{i}</i>&amp;<code>x&lt;{i}</code>" for i in range(400)) + "</b>"
    # a bold block spanning many lines
    block = "<b>" + "\n".join(f"line {i} &amp; more" for i in range(300)) + "</b>"
    return "\n".join([*rows, long_line, block, *rows])


def send_all(parts: list[str], fake: FakeBotAPI, caption: bool = False) -> None:
    """Send every part through the service's bot class and defaults (HTML parse mode), without its rate
    limiter: what is checked is what the Bot API accepts, and at 30 messages/s the limiter alone would
    hold the few hundred parts of the smallest limit for over ten seconds."""

    async def run() -> None:
        async with HomeLoopBot(TOKEN, defaults=defaults(), base_url=fake.base_url) as bot:
            for part in parts:
                await bot.send_message(chat_id=1, text=part)

    asyncio.run(run())


@pytest.fixture
def fake() -> Any:
    with FakeBotAPI() as api:
        yield api


@pytest.mark.parametrize("limit", [4096, 1024, 200])
def test_every_part_of_a_long_message_is_valid_html_within_the_limit(limit: int, fake: FakeBotAPI) -> None:
    text = long_message()
    parts = split_message(text, limit)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= limit
        assert not ENTITY_RE.search(part), "an entity was cut"
        assert not re.search(r"<[^>]*$", part) and not re.match(r"^[^<]*>", part), "a tag was cut"
    send_all(parts, fake)
    assert len(fake.sent(chat_id=1)) == len(parts), [c.response for c in fake.calls(ok=False)]
    # nothing lost: only the line breaks and spaces the parts were cut at are gone
    squeeze = re.compile(r"\s+")
    assert squeeze.sub("", "".join(visible(p) for p in parts)) == squeeze.sub("", visible(text))


def test_parts_end_at_line_breaks_when_lines_fit() -> None:
    lines = [f"<b>{i}</b> &amp; text" for i in range(1000)]
    parts = split_message("\n".join(lines), 4096)
    assert [line for p in parts for line in p.split("\n")] == lines


def test_a_short_message_is_one_part() -> None:
    assert split_message("<b>a</b> &amp; b") == ["<b>a</b> &amp; b"]


def test_a_caption_over_1024_characters_is_split_into_valid_parts() -> None:
    caption = "<b>Spread history</b>\n" + "<i>" + " ".join(f"P9{i % 10}&amp;x" for i in range(400)) + "</i>"
    first, *rest = split_message(caption, 1024)
    assert rest and len(first) <= 1024 and first.startswith("<b>Spread history</b>")
    for part in (first, *rest):
        assert part.count("<i>") == part.count("</i>") and not ENTITY_RE.search(part)


@pytest.mark.parametrize(
    "text",
    [
        "<b>" + "x" * 5000 + "</b>",  # a word longer than a part right after a tag
        "intro\n<b><i>" + "y" * 9000 + "</i></b>\nend",
        '<a href="https://example.com/">' + "z" * 4500 + "</a>",
        "<b> </b><i>" + "w" * 4200 + "</i>",  # tags and a blank before the word: nothing to show either
    ],
)
def test_a_word_longer_than_a_part_after_a_tag_never_makes_an_empty_part(text: str, fake: FakeBotAPI) -> None:
    parts = split_message(text)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= 4096
        assert visible(part).strip(), f"an empty part: {part[:40]!r}"
    send_all(parts, fake)
    assert len(fake.sent(chat_id=1)) == len(parts), [c.response for c in fake.calls(ok=False)]
    squeeze = re.compile(r"\s+")
    assert squeeze.sub("", "".join(visible(p) for p in parts)) == squeeze.sub("", visible(text))
