"""notify.destinations as subscribers: reserved chat ids, synchronised from the config, own outbox rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from jobs.alerting.destinations import MUTED_FOREVER, NOTIFY_ID_BASE, DestinationRepo, is_notify_chat, sync_destinations
from jobs.config.notify_settings import Destination, NotifySettings
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

DAY = date(2025, 2, 14)


def notify(*dests: Destination) -> NotifySettings:
    return NotifySettings(destinations=dests)


def test_destinations_become_subscribers_with_their_settings(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    ids = sync_destinations(
        store,
        notify(
            Destination(name="wecom", url="json://127.0.0.1:9/a", lang="en", threshold=95),
            Destination(name="ding", url="json://127.0.0.1:9/b", mute=True),
        ),
    )
    assert ids == {"wecom": NOTIFY_ID_BASE, "ding": NOTIFY_ID_BASE - 1}
    chats = ChatRepo(store)
    wecom, ding = chats.get(ids["wecom"]), chats.get(ids["ding"])
    assert wecom is not None and ding is not None
    assert (wecom.chat_type, wecom.lang, wecom.threshold, wecom.subscribed) == ("notify", "en", 95.0, True)
    assert ding.muted_until == MUTED_FOREVER and ding.muted_on(DAY)
    assert {c.chat_id for c in chats.subscribers()} == set(ids.values())
    assert all(is_notify_chat(i) for i in ids.values()) and not is_notify_chat(-1001234567890123)


def test_a_removed_destination_is_unsubscribed_and_keeps_its_id_when_it_returns(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    a, b = Destination(name="a", url="json://127.0.0.1:9/a"), Destination(name="b", url="json://127.0.0.1:9/b")
    ids = sync_destinations(store, notify(a, b))
    outbox = Outbox(store)
    with store.transaction() as conn:
        outbox.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=ids["b"], parts=["x"])
    sync_destinations(store, notify(a))
    assert [c.chat_id for c in ChatRepo(store).subscribers()] == [ids["a"]]
    assert [r.status for r in outbox.rows(chat_id=ids["b"])] == ["dead"]
    assert sync_destinations(store, notify(b, a)) == ids  # the same ids whatever the order
    assert DestinationRepo(store).get("b") is not None


def test_each_sender_sees_only_its_own_rows(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    ids = sync_destinations(store, notify(Destination(name="a", url="json://127.0.0.1:9/a")))
    outbox = Outbox(store)
    with store.transaction() as conn:
        for chat in (ids["a"], 42, -1001234567890123):
            outbox.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=chat, parts=["x"])
    assert [r.chat_id for r in outbox.due(target="notify")] == [ids["a"]]
    assert [r.chat_id for r in outbox.due(target="telegram")] == [42, -1001234567890123]
    assert outbox.counts("notify")["pending"] == 1 and outbox.counts("telegram")["pending"] == 2
    assert outbox.next_due_at("notify") is not None
    assert outbox.next_due_at("notify", exclude_chats=[ids["a"]]) is None


def test_failures_pause_a_destination_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    sync_destinations(store, notify(Destination(name="a", url="json://127.0.0.1:9/a")))
    repo = DestinationRepo(store)
    assert [repo.record_failure("a", "HTTP 503", 3) for _ in range(4)] == [False, False, True, False]
    state = repo.get("a")
    assert state is not None and state.paused and state.failures == 4
    repo.resume("a")
    state = repo.get("a")
    assert state is not None and not state.paused and state.failures == 0
