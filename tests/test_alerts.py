"""Alert bookkeeping and the outbox on a temporary store: one transaction for state, audit log and
messages; idempotent re-runs; claims that two senders cannot both win; leases; chats that go away."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import pytest

from jobs.alerting.alert_log import (
    ChatOutcome,
    TransitionRecord,
    load_states,
    record_transitions,
    state_from_json,
    state_to_json,
    transitions,
)
from jobs.engine.rules import AlertState
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

DAY = date(2025, 2, 14)


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "alerts.db")


def fire(chat_id: int, parts: tuple[str, ...] = ("fired",), tier: int = 1) -> ChatOutcome:
    return ChatOutcome(
        chat_id,
        {"level": tier},
        TransitionRecord("fire", tier, 0, "percentile 93.6 >= P90", {"spread": 54.0, "params": {"enter": 90}}, parts),
    )


def test_state_log_and_outbox_are_written_together(store: Store) -> None:
    result = record_transitions(
        store,
        "spread",
        DAY,
        [fire(1), fire(2, parts=()), ChatOutcome(3, {"level": 0})],
        evaluated_key="alerts:test:last",
    )
    assert (result.states_saved, result.transitions, result.messages_queued) == (3, 2, 1)
    assert set(load_states(store, "spread")) == {1, 2, 3}
    log = transitions(store, "spread")
    assert {(e.chat_id, e.kind, e.queued) for e in log} == {(1, "fire", True), (2, "fire", False)}
    assert log[0].inputs["spread"] == 54.0 and log[0].reason.startswith("percentile")
    rows = Outbox(store).rows()
    assert [(r.chat_id, r.kind, r.tier, r.day, r.status, r.text) for r in rows] == [
        (1, "fire", 1, DAY, "pending", "fired")
    ]
    assert store.get_meta("alerts:test:last") == DAY.isoformat()


def test_a_second_record_of_the_same_day_is_a_no_op(store: Store) -> None:
    record_transitions(store, "spread", DAY, [fire(1)])
    again = record_transitions(store, "spread", DAY, [fire(1, tier=2)])
    assert again.skipped_chats == (1,) and again.transitions == again.messages_queued == 0
    assert len(Outbox(store).rows()) == 1 and load_states(store, "spread")[1].state == {"level": 1}


def test_the_idempotency_key_refuses_a_second_copy(store: Store) -> None:
    outbox = Outbox(store)
    with store.transaction() as conn:
        first = outbox.enqueue(conn, rule_id="data", tier=0, kind="missing", day=DAY, chat_id=7, parts=["a"])
        second = outbox.enqueue(conn, rule_id="data", tier=0, kind="missing", day=DAY, chat_id=7, parts=["a"])
        other_day = outbox.enqueue(
            conn, rule_id="data", tier=0, kind="missing", day=date(2025, 2, 17), chat_id=7, parts=["a"]
        )
    assert (first, second, other_day) == (1, 0, 1)


def test_a_failure_mid_transaction_leaves_nothing(store: Store) -> None:
    broken = ChatOutcome(2, None)  # type: ignore[arg-type]  # not a mapping: fails after chat 1 was written
    with pytest.raises(TypeError):
        record_transitions(store, "spread", DAY, [fire(1), broken], evaluated_key="alerts:test:last")
    assert load_states(store, "spread") == {} and Outbox(store).rows() == [] and transitions(store) == []
    assert store.get_meta("alerts:test:last") is None


def test_alert_state_round_trips_through_json() -> None:
    state = AlertState(2, 3, 3, date(2025, 1, 2), 4, 61.5, date(2025, 2, 26))
    assert state_from_json(state_to_json(state)) == state
    assert state_from_json(state_to_json(AlertState())) == AlertState()


def queue(store: Store, chat_ids: list[int], clock: Clock) -> Outbox:
    outbox = Outbox(store, clock)
    with store.transaction() as conn:
        for c in chat_ids:
            outbox.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=c, parts=[f"to {c}"])
    return outbox


def test_of_two_senders_racing_for_a_row_one_wins(store: Store) -> None:
    clock = Clock()
    outbox = queue(store, list(range(1, 41)), clock)
    wins: dict[str, list[int]] = {"a": [], "b": []}

    def sender(name: str) -> None:
        for row in outbox.due(limit=100):
            if outbox.claim(row.id, name, lease_s=60) is not None:
                wins[name].append(row.id)

    threads = [threading.Thread(target=sender, args=(n,)) for n in wins]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins["a"] + wins["b"]) == [r.id for r in outbox.rows()]
    assert not set(wins["a"]) & set(wins["b"])


def test_a_lease_expires_and_the_row_is_claimable_again(store: Store) -> None:
    clock = Clock()
    outbox = queue(store, [5], clock)
    (row,) = outbox.due()
    claimed = outbox.claim(row.id, "dead-worker", lease_s=30)
    assert claimed is not None and claimed.attempts == 0  # a claim is not a send
    assert outbox.due() == [] and outbox.claim(row.id, "other", 30) is None
    clock.t += 31
    again = outbox.claim(row.id, "other", 30)
    assert again is not None and again.attempts == 0
    assert outbox.renew(row.id, "other", 30) == 1  # the send right after it is
    # the first worker's late answer cannot overwrite the new owner's claim
    assert not outbox.mark_sent(row.id, "dead-worker", 1)
    assert outbox.mark_sent(row.id, "other", 99)
    (sent,) = outbox.rows(status="sent")
    assert sent.message_id == 99


def test_retry_later_and_give_up(store: Store) -> None:
    clock = Clock()
    outbox = queue(store, [1, 2], clock)
    r1, r2 = outbox.due()
    assert outbox.claim(r1.id, "w", 60) and outbox.claim(r2.id, "w", 60)
    assert outbox.renew(r1.id, "w", 60) == 1
    outbox.retry_later(r1.id, "w", 10, "TimedOut")
    outbox.give_up(r2.id, "w", "failed", "BadRequest: can't parse entities")
    assert outbox.due() == [] and outbox.next_due_at() == clock.t + 10
    clock.t += 10
    (due,) = outbox.due()
    assert due.id == r1.id and due.last_error == "TimedOut" and due.attempts == 1
    assert outbox.counts()["failed"] == 1


def test_flood_waits_do_not_count_as_attempts(store: Store) -> None:
    clock = Clock()
    outbox = queue(store, [1], clock)
    (row,) = outbox.due()
    outbox.claim(row.id, "w", 60)
    assert outbox.renew(row.id, "w", 60) == 1
    outbox.retry_later(row.id, "w", 3, "RetryAfter", count_attempt=False)
    clock.t += 3
    (due,) = outbox.due()
    assert due.attempts == 0


def test_rows_stranded_by_crashes_do_not_use_up_their_tries(store: Store) -> None:
    """Claimed by twelve senders in turn, each dying before its request: no send was made, so the row
    has all its tries left; and a stopping sender hands a claimed row back due at once, uncounted."""
    clock = Clock()
    outbox = queue(store, [1], clock)
    (row,) = outbox.due()
    for i in range(12):
        assert outbox.claim(row.id, f"crashed-{i}", lease_s=30) is not None
        clock.t += 31  # it died holding the row: the lease runs out
    assert outbox.claim(row.id, "stopping", 30) is not None
    assert outbox.release(row.id, "stopping")
    (due,) = outbox.due()
    assert due.id == row.id and due.status == "pending" and due.attempts == 0
    assert outbox.claim(row.id, "w", 30) is not None and outbox.renew(row.id, "w", 30) == 1


def test_a_chat_that_went_away_and_one_that_migrated(store: Store) -> None:
    clock = Clock()
    outbox = queue(store, [1, -100, -200], clock)
    with store.transaction() as conn:
        outbox.enqueue(conn, rule_id="spread", tier=2, kind="escalate", day=DAY, chat_id=-200, parts=["x"])
    chats = ChatRepo(store)
    for c in (1, -100):
        chats.ensure(c, "group" if c < 0 else "private")
    record_transitions(store, "spread", DAY, [ChatOutcome(-100, {"level": 1})])

    assert outbox.drop_chat(1, "blocked") == 1
    chats.migrate(-100, -1_000_000_000_100)
    assert outbox.move_chat(-100, -1_000_000_000_100) == 1
    assert [r.chat_id for r in outbox.rows(status="pending")] == [-1_000_000_000_100, -200, -200]
    assert set(load_states(store, "spread")) == {-1_000_000_000_100}
    assert outbox.rows(status="dead")[0].chat_id == 1


def test_a_migrated_row_already_queued_under_the_new_id_is_not_doubled(store: Store) -> None:
    outbox = queue(store, [-100, -1_000_000_000_100], Clock())
    assert outbox.move_chat(-100, -1_000_000_000_100) == 0
    assert [r.chat_id for r in outbox.rows(status="pending")] == [-1_000_000_000_100]
    assert len(outbox.rows(status="dead")) == 1


def test_prune_forgets_only_finished_rows_of_old_days(store: Store) -> None:
    outbox = Outbox(store)
    with store.transaction() as conn:
        for day, chat in ((date(2024, 1, 2), 1), (date(2024, 1, 2), 2), (date(2025, 2, 14), 1)):
            outbox.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=day, chat_id=chat, parts=["x"])
    old_sent, _old_pending, recent = outbox.rows()
    assert outbox.claim(old_sent.id, "w", 60) and outbox.mark_sent(old_sent.id, "w", 7)
    assert outbox.claim(recent.id, "w", 60) and outbox.mark_sent(recent.id, "w", 8)
    assert outbox.prune(date(2025, 1, 1)) == 1
    assert [(r.chat_id, r.day, r.status) for r in outbox.rows()] == [
        (2, date(2024, 1, 2), "pending"),  # never sent: kept whatever its age
        (1, date(2025, 2, 14), "sent"),
    ]
