"""Bodies and attachments of notify.destinations: plain text or Markdown from the same templates
(Apprise's body formats), and the spread chart as an attachment where the plugin takes attachments."""

from __future__ import annotations

import base64
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support.notify_receiver import receiver
from support.template_contexts import EVIL, SAMPLE_CONTEXTS

from jobs.alerting.apprise_delivery import Attachment, NotifySender
from jobs.alerting.destinations import sync_destinations
from jobs.config.notify_settings import Destination, NotifySettings
from jobs.rendering.messages import render, to_markdown, to_plain
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox, OutboxRow

DAY = date(2025, 2, 14)
TEXT = "🔔 <b>P90 alert</b> · 2025-02-14\nSpread <b>54.0%</b> &amp; <i>P94</i>"
PNG = b"\x89PNG\r\n\x1a\n-a-chart-"


def test_telegram_html_becomes_markdown() -> None:
    html = (
        "🔔 <b>Alert · 2025-02-14</b>\nSpread <b>54.0%</b>, <i>rule &lt;P90&gt; &amp; more</i>\n\n"
        '<code>801010</code> <a href="https://example.org/?a=1&amp;b=2">source</a>'
    )
    assert to_markdown(html) == (
        "🔔 **Alert · 2025-02-14**  \n"
        "Spread **54.0%**, *rule \\<P90> & more*\n"
        "\n"
        "`801010` [source](https://example.org/?a=1&b=2)"
    )


def test_data_that_looks_like_markdown_stays_text() -> None:
    assert to_markdown("a_b *c* [d] `e` ~f~") == "a\\_b \\*c\\* \\[d\\] \\`e\\` \\~f\\~"
    assert to_markdown("# one\n- two\n> three\n1. four") == "\\# one  \n\\- two  \n\\> three  \n1\\. four"
    assert to_markdown("<code>a*b_c</code>") == "`a*b_c`"  # inside code, as written


@pytest.mark.parametrize("kind", ["alert_fire", "alert_resolve", "regime_fire", "notify_test"])
def test_every_alert_template_converts_without_tags_and_keeps_its_lines(kind: str) -> None:
    html = render(kind, "en", **SAMPLE_CONTEXTS[kind]())
    md = to_markdown(html)
    assert re.search(r"(?<!\\)</?[bi]>", md) is None and "&amp;" not in md
    assert "**" in md
    assert len(md.splitlines()) == len(to_plain(html).splitlines())
    if EVIL in to_plain(html):  # hostile data arrives as text, never as markup
        assert "\\<b>R&D\\</b>" in md


def test_the_default_format_follows_the_scheme() -> None:
    def fmt(url: str, **kw: Any) -> str:
        return Destination(name="d", url=url, **kw).body_format

    assert fmt("dingtalk://${T}/") == "markdown" and fmt("feishu://${T}") == "markdown"
    assert fmt("bark://h/k") == "text" and fmt("bark://h/k?format=markdown") == "markdown"
    assert fmt("json://127.0.0.1:9/x") == "text" and fmt("json://h/x", format="markdown") == "markdown"
    assert fmt("dingtalk://${T}/", format="text") == "text"
    # Apprise sends its WeCom robot's messages as text: Markdown would show its asterisks there
    assert fmt("wecombot://${K}") == "text" and fmt("wecombot://${K}", format="markdown") == "text"
    assert fmt("mailto://u:p@example.org", format="markdown") == "markdown"  # Apprise makes it HTML


def _queue(tmp_path: Path, *dests: Destination, parts: tuple[str, ...] = (TEXT,)) -> tuple[Store, dict[str, int]]:
    store = Store(tmp_path / "s.db")
    ids = sync_destinations(store, NotifySettings(destinations=dests))
    with store.transaction() as conn:
        for chat_id in ids.values():
            Outbox(store).enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=chat_id, parts=parts)
    return store, ids


async def test_a_markdown_destination_gets_markdown_and_a_text_one_plain_text(tmp_path: Path) -> None:
    with receiver() as rx:
        md = Destination(name="md", url=rx.url(path="md"), format="markdown")
        txt = Destination(name="txt", url=rx.url(path="txt"))
        store, _ids = _queue(tmp_path, md, txt)
        settings = NotifySettings(destinations=(md, txt), per_destination_interval_s=0)
        stats = await NotifySender(Outbox(store), settings).drain()
        assert stats.sent == 2
        messages = sorted(json.loads(b)["message"] for b in rx.delivered)
    assert messages == [
        "🔔 **P90 alert** · 2025-02-14  \nSpread **54.0%** & *P94*",
        "🔔 P90 alert · 2025-02-14\nSpread 54.0% & P94",
    ]


def test_dingtalk_gets_a_markdown_message_built_by_apprise(tmp_path: Path, no_internet: Any) -> None:
    import asyncio

    import responses

    no_internet.add(responses.POST, "https://oapi.dingtalk.com/robot/send", json={"errcode": 0, "errmsg": "ok"})
    ding = Destination(name="ding", url="dingtalk://${SW_TEST_DING_TOKEN}/")
    store, ids = _queue(tmp_path, ding)
    settings = NotifySettings(destinations=(ding,), per_destination_interval_s=0)
    environ = {"SW_TEST_DING_TOKEN": "dingtokensecret0123"}
    sender = NotifySender(Outbox(store), settings, environ=environ, chart_fn=lambda row, lang: Attachment(PNG, "c.png"))
    stats = asyncio.run(sender.drain())
    assert stats.sent == 1
    (call,) = [c for c in no_internet.calls if "dingtalk" in c.request.url]
    assert "access_token=dingtokensecret0123" in call.request.url
    assert json.loads(call.request.body) == {
        "msgtype": "markdown",
        "at": {"atMobiles": [], "isAtAll": False},
        "markdown": {"title": "spreadwatch", "text": "🔔 **P90 alert** · 2025-02-14  \nSpread **54.0%** & *P94*"},
    }
    assert [r.status for r in Outbox(store).rows(chat_id=ids["ding"])] == ["sent"]


async def test_the_chart_goes_with_the_first_part_where_the_plugin_takes_attachments(tmp_path: Path) -> None:
    asked: list[tuple[int, str]] = []

    def chart(row: OutboxRow, lang: str) -> Attachment | None:
        asked.append((row.part, lang))
        return Attachment(PNG, f"spread-{row.day}.png")

    with receiver() as rx:
        hook = Destination(name="hook", url=rx.url(path="hook"), lang="en")
        plain = Destination(name="plain", url=rx.url(path="plain"), chart=False)
        store, _ids = _queue(tmp_path, hook, plain, parts=("part one", "part two"))
        settings = NotifySettings(destinations=(hook, plain), per_destination_interval_s=0)
        stats = await NotifySender(Outbox(store), settings, chart_fn=chart).drain()
        assert stats.sent == 4
        payloads = [json.loads(b) for b in rx.delivered]
    with_chart = [p for p in payloads if p["attachments"]]
    assert [p["message"] for p in with_chart] == ["part one"] and asked == [(0, "en")]
    (attachment,) = with_chart[0]["attachments"]
    assert attachment["filename"] == "spread-2025-02-14.png" and attachment["mimetype"] == "image/png"
    assert base64.b64decode(attachment["base64"]) == PNG


async def test_a_chart_that_cannot_be_drawn_never_holds_up_the_message(tmp_path: Path) -> None:
    def broken(row: OutboxRow, lang: str) -> Attachment | None:
        raise RuntimeError("no font")

    with receiver() as rx:
        hook = Destination(name="hook", url=rx.url())
        store, _ids = _queue(tmp_path, hook)
        stats = await NotifySender(Outbox(store), NotifySettings(destinations=(hook,)), chart_fn=broken).drain()
        assert stats.sent == 1
        (payload,) = [json.loads(b) for b in rx.delivered]
    assert payload["attachments"] == [] and payload["message"].startswith("🔔 P90 alert")
