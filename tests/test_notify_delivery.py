"""The notify sender: real HTTP to a receiver on 127.0.0.1 through Apprise's json:// and form:// targets."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import pytest
from support.notify_receiver import HANG, receiver

from jobs.alerting.apprise_delivery import NotifySender, classify, send_once
from jobs.alerting.destinations import DestinationRepo, sync_destinations
from jobs.config.notify_settings import Destination, NotifySettings
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

DAY = date(2025, 2, 14)
TEXT = "🔔 <b>P90 alert</b> spread 54.0% &amp; P94"


def setup(tmp_path: Path, url: str, **notify: object) -> tuple[Store, int, NotifySettings]:
    store = Store(tmp_path / "s.db")
    settings = NotifySettings(
        destinations=(Destination(name="desk", url=url),), per_destination_interval_s=0.0, **notify
    )
    chat_id = sync_destinations(store, settings)["desk"]
    with store.transaction() as conn:
        Outbox(store).enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=chat_id, parts=[TEXT])
    return store, chat_id, settings


def sender(store: Store, settings: NotifySettings, **kw: object) -> NotifySender:
    return NotifySender(Outbox(store), settings, backoff_base_s=0.01, backoff_max_s=0.05, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ok", "log", "permanent", "detail"),
    [
        (True, "", False, "sent"),
        (False, "Failed to send JSON POST notification: Internal server error., error=500.", False, "HTTP 500"),
        (False, "Failed to send DingTalk notification: Bad Request., error=400.", True, "HTTP 400"),
        (False, "Failed to send notification: Too Many Requests., error=429.", False, "HTTP 429"),
        (False, "Failed to send notification: Not Found., error=404.", True, "HTTP 404"),
        (
            False,
            "A Connection error occurred ... Socket Exception: Read timed out. (read timeout=0.3)",
            False,
            "timeout",
        ),
        (False, "A Connection error occurred sending JSON notification to 127.0.0.1.", False, "connection error"),
        (False, "", False, "failed (no detail)"),
    ],
)
def test_classify_reads_the_status_apprise_logged(ok: bool, log: str, permanent: bool, detail: str) -> None:
    outcome = classify(ok, log)
    assert (outcome.ok, outcome.permanent, outcome.detail) == (ok, permanent, detail)


async def test_a_message_is_delivered_as_plain_text(tmp_path: Path) -> None:
    with receiver() as rx:
        store, chat_id, settings = setup(tmp_path, rx.url())
        stats = await sender(store, settings).drain()
        assert stats.sent == 1 and stats.left_pending == 0
        assert [json.loads(b)["message"] for b in rx.delivered] == ["🔔 P90 alert spread 54.0% & P94"]
        stats = await sender(store, settings).drain()
        assert stats.sent == 0 and len(rx.bodies) == 1
    assert [r.status for r in Outbox(store).rows(chat_id=chat_id)] == ["sent"]


async def test_a_5xx_is_retried_and_delivered_once(tmp_path: Path) -> None:
    with receiver(503) as rx:
        store, chat_id, settings = setup(tmp_path, rx.url("form"))
        stats = await sender(store, settings).drain(wait_up_to_s=5.0)
        assert (stats.retried, stats.sent) == (1, 1)
        assert len(rx.bodies) == 2 and len(rx.delivered) == 1
    (row,) = Outbox(store).rows(chat_id=chat_id)
    assert row.status == "sent" and row.attempts == 2


async def test_a_4xx_fails_the_row_and_is_never_retried(tmp_path: Path) -> None:
    with receiver(400) as rx:
        store, chat_id, settings = setup(tmp_path, rx.url())
        stats = await sender(store, settings).drain(wait_up_to_s=1.0)
        assert (stats.failed, stats.retried) == (1, 0)
        await sender(store, settings).drain(wait_up_to_s=1.0)
        assert len(rx.bodies) == 1 and rx.delivered == []
    (row,) = Outbox(store).rows(chat_id=chat_id)
    assert row.status == "failed" and row.last_error == "desk: HTTP 400"


async def test_a_timeout_leaves_the_row_for_a_retry(tmp_path: Path) -> None:
    with receiver(HANG) as rx:
        store, chat_id, settings = setup(tmp_path, rx.url(query="rto=0.5&cto=0.5"))
        stats = await NotifySender(Outbox(store), settings, backoff_base_s=60.0).drain()
        assert (stats.retried, stats.sent, stats.left_pending) == (1, 0, 1)
    (row,) = Outbox(store).rows(chat_id=chat_id)
    assert row.status == "pending" and row.last_error in ("desk: timeout", "desk: connection error")


async def test_a_failing_destination_is_paused_and_reported_once(tmp_path: Path) -> None:
    told: list[tuple[str, str, date]] = []
    with receiver(503, 503, 503, 503) as rx:
        store, chat_id, settings = setup(tmp_path, rx.url(), pause_after_failures=2)
        stats = await sender(store, settings, on_pause=lambda *a: told.append(a)).drain(wait_up_to_s=5.0)
        assert stats.paused == ["desk"] and len(rx.bodies) == 2
        stats = await sender(store, settings, on_pause=lambda *a: told.append(a)).drain(wait_up_to_s=5.0)
        assert len(rx.bodies) == 2 and stats.left_pending == 1  # paused: nothing sent, the row waits
    assert told == [("desk", "HTTP 503", DAY)]
    assert [r.status for r in Outbox(store).rows(chat_id=chat_id)] == ["pending"]
    state = DestinationRepo(store).get("desk")
    assert state is not None and state.paused


async def test_a_crash_between_send_and_mark_resends_after_the_lease_as_for_telegram(tmp_path: Path) -> None:
    now = [4_000_000_000.0]  # after the rows were queued (on the real clock)
    with receiver() as rx:
        store, chat_id, settings = setup(tmp_path, rx.url())
        outbox = Outbox(store, clock=lambda: now[0])
        crashed = outbox.claim(outbox.rows(chat_id=chat_id)[0].id, "crashed", 60.0)
        assert crashed is not None
        assert send_once(rx.url(), "first copy").ok  # the service has it; the sender dies before mark_sent
        stats = await NotifySender(outbox, settings).drain()
        assert stats.sent == 0 and len(rx.delivered) == 1  # the lease still holds: nobody resends
        now[0] += 61.0
        stats = await NotifySender(outbox, settings).drain()
        assert stats.sent == 1 and len(rx.delivered) == 2
    assert [r.status for r in outbox.rows(chat_id=chat_id)] == ["sent"]


async def test_apprise_never_writes_the_url_into_the_service_log(tmp_path: Path) -> None:
    # a handler of the service's own (pytest's caplog also hooks non-propagating loggers, so it cannot tell)
    lines: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with receiver(500) as rx:
            store, _chat_id, settings = setup(tmp_path, rx.url(path="secrethookpath"))
            await sender(store, settings).drain()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    text = "\n".join(lines)
    assert "secrethookpath" not in text and "HTTP 500" in text


async def test_an_unset_variable_is_a_failure_without_a_request(tmp_path: Path) -> None:
    with receiver() as rx:
        store, chat_id, settings = setup(tmp_path, rx.url(path="${SW_TEST_UNSET_HOOK}"))
        stats = await sender(store, settings, environ={}).drain()
        assert stats.retried == 1 and rx.bodies == []
    (row,) = Outbox(store).rows(chat_id=chat_id)
    assert row.last_error == "desk: environment variable $SW_TEST_UNSET_HOOK is not set"


async def test_the_running_service_tells_the_admins_once_in_their_language(tmp_path: Path) -> None:
    from support.alerting_support import SW, RevealingSource, make_services, make_settings

    from jobs.alerting.apprise_delivery import notify_sender_for

    with receiver(503, 503, 503) as rx:
        notify = {"destinations": [{"name": "desk", "url": rx.url()}], "pause_after_failures": 2}
        services = make_services(make_settings(tmp_path / "s.db", notify=notify), RevealingSource(SW))
        services.chats.ensure(9001)
        services.chats.update(9001, lang="en")
        chat_id = sync_destinations(services.store, services.settings.notify)["desk"]
        outbox = Outbox(services.store)
        with services.store.transaction() as conn:
            outbox.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=chat_id, parts=[TEXT])
        sender = notify_sender_for(services)
        sender.backoff_base_s = sender.backoff_max_s = 0.01
        stats = await sender.drain(wait_up_to_s=5.0)
        assert stats.paused == ["desk"]
        await notify_sender_for(services).drain(wait_up_to_s=5.0)
    (notice,) = outbox.rows(chat_id=9001)
    assert notice.kind == "destination_paused" and "Alert destination paused" in notice.text
    assert "desk" in notice.text and "HTTP 503" in notice.text and rx.url() not in notice.text


async def test_one_destination_is_paced_and_another_is_not_held_up(tmp_path: Path) -> None:
    with receiver() as rx:
        store = Store(tmp_path / "s.db")
        settings = NotifySettings(
            destinations=(Destination(name="a", url=rx.url(path="a")), Destination(name="b", url=rx.url(path="b"))),
            per_destination_interval_s=600.0,
        )
        ids = sync_destinations(store, settings)
        outbox = Outbox(store)
        with store.transaction() as conn:
            for chat, part in ((ids["a"], "a1"), (ids["a"], "a2"), (ids["b"], "b1")):
                outbox.enqueue(conn, rule_id="spread", tier=1, kind=part, day=DAY, chat_id=chat, parts=[part])
        stats = await NotifySender(outbox, settings).drain(wait_up_to_s=1.0)
        assert (stats.sent, stats.left_pending) == (2, 1)  # a2 waits for a's next slot
        assert sorted(json.loads(b)["message"] for b in rx.delivered) == ["a1", "b1"]
