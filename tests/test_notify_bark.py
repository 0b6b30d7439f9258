"""A real service scheme pointed at localhost: Apprise's ``bark://`` against a fake self-hosted Bark
server (``tests/support/fake_bark.py``): success, 5xx then success, 4xx, timeout, through the notify sender."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from support.fake_bark import HANG, bark_server

from jobs.alerting.apprise_delivery import Attachment, NotifySender
from jobs.alerting.destinations import sync_destinations
from jobs.config.notify_settings import Destination, NotifySettings
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox, OutboxRow

DAY = date(2025, 2, 14)
TEXT = "🔔 <b>P90 alert</b> spread 54.0% &amp; P94"
KEY = "barkdevicekey0123"


def setup(tmp_path: Path, url: str, **dest: object) -> tuple[Store, int, NotifySettings]:
    store = Store(tmp_path / "s.db")
    settings = NotifySettings(destinations=(Destination(name="phone", url=url, **dest),), per_destination_interval_s=0)
    chat_id = sync_destinations(store, settings)["phone"]
    with store.transaction() as conn:
        Outbox(store).enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=chat_id, parts=[TEXT])
    return store, chat_id, settings


def sender(store: Store, settings: NotifySettings, **kw: object) -> NotifySender:
    return NotifySender(Outbox(store), settings, backoff_base_s=0.01, backoff_max_s=0.05, **kw)  # type: ignore[arg-type]


async def test_bark_gets_the_push_and_no_chart(tmp_path: Path) -> None:
    asked: list[OutboxRow] = []

    def chart(row: OutboxRow, lang: str) -> Attachment:
        asked.append(row)
        return Attachment(b"\x89PNG", "c.png")

    with bark_server() as bark:
        store, chat_id, settings = setup(tmp_path, bark.url(KEY))
        stats = await sender(store, settings, chart_fn=chart).drain()
        assert stats.sent == 1
        (push,) = bark.delivered
    assert push["device_key"] == KEY and push["title"] == "spreadwatch"
    assert push["body"] == "🔔 P90 alert spread 54.0% & P94" and "markdown" not in push
    assert asked == []  # Bark takes no attachments: the chart is not even drawn
    assert [r.status for r in Outbox(store).rows(chat_id=chat_id)] == ["sent"]


async def test_bark_in_markdown_when_its_url_asks_for_it(tmp_path: Path) -> None:
    with bark_server() as bark:
        store, _chat_id, settings = setup(tmp_path, bark.url(KEY, query="format=markdown"))
        assert (await sender(store, settings).drain()).sent == 1
        (push,) = bark.delivered
    assert push["markdown"] == "🔔 **P90 alert** spread 54.0% & P94" and "body" not in push


async def test_a_bark_5xx_is_retried_and_delivered_once(tmp_path: Path) -> None:
    with bark_server(500) as bark:
        store, chat_id, settings = setup(tmp_path, bark.url(KEY))
        stats = await sender(store, settings).drain(wait_up_to_s=5.0)
        assert (stats.retried, stats.sent) == (1, 1)
        assert len(bark.pushes) == 2 and len(bark.delivered) == 1
    (row,) = Outbox(store).rows(chat_id=chat_id)
    assert row.status == "sent" and row.attempts == 2


async def test_an_unknown_bark_device_is_a_4xx_never_retried(tmp_path: Path) -> None:
    with bark_server() as bark:
        store, chat_id, settings = setup(tmp_path, bark.url("notregistered0"))
        stats = await sender(store, settings).drain(wait_up_to_s=1.0)
        assert (stats.failed, stats.retried) == (1, 0)
        await sender(store, settings).drain(wait_up_to_s=1.0)
        assert len(bark.pushes) == 1 and bark.delivered == []
    (row,) = Outbox(store).rows(chat_id=chat_id)
    assert row.status == "failed" and row.last_error == "phone: HTTP 400"
    assert "notregistered0" not in row.last_error


async def test_a_bark_timeout_leaves_the_row_for_a_retry(tmp_path: Path) -> None:
    with bark_server(HANG) as bark:
        store, chat_id, settings = setup(tmp_path, bark.url(KEY, query="rto=0.5&cto=0.5"))
        stats = await NotifySender(Outbox(store), settings, backoff_base_s=60.0).drain()
        assert (stats.retried, stats.sent, stats.left_pending) == (1, 0, 1)
    (row,) = Outbox(store).rows(chat_id=chat_id)
    assert row.status == "pending" and row.last_error in ("phone: timeout", "phone: connection error")
