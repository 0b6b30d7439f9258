"""/healthz and /metrics (ops.listen) while the real bot runs against the fake Bot API: real HTTP
requests to 127.0.0.1, the metrics read with prometheus_client's own parser."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.bot_harness import ADMIN_ID, SOURCE, TOKEN, BotHarness, db, filled_db, wait_until  # noqa: F401
from support.fakebot import command_update

from bot.telegram import scheduling
from bot.telegram.scheduling import CATCHUP_NAME, DRAIN_NAME, daily_job, drain_job
from jobs.store.outbox import Outbox

OPS = {"ops": {"listen": "127.0.0.1:0"}}  # the system picks a free port; the server knows which


def get(harness: BotHarness, path: str) -> tuple[int, str, str]:
    port = harness.application.bot_data.ops_server.port
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def metrics(harness: BotHarness) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, content_type, body = get(harness, "/metrics")
    assert status == 200 and content_type.startswith("text/plain"), (status, content_type)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(harness: BotHarness, name: str, **labels: str) -> float | None:
    return metrics(harness).get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def ops_bot(db: Path) -> Iterator[BotHarness]:
    harness = BotHarness(db, sections=OPS).start()
    try:
        yield harness
    finally:
        harness.stop()


def test_healthz_and_metrics_answer_while_the_bot_runs(ops_bot: BotHarness) -> None:
    status, content_type, body = get(ops_bot, "/healthz")
    assert (status, body) == (200, "ok\n") and content_type.startswith("text/plain")
    assert get(ops_bot, "/nothing-here")[0] == 404

    status, _, body = get(ops_bot, "/metrics")
    assert TOKEN not in body and TOKEN.split(":")[1] not in body
    seen = metrics(ops_bot)
    services = ops_bot.services
    assert services is not None
    # state read from the store at scrape time
    last_ok = services.store.last_fetch(SOURCE, ok=True)
    assert last_ok is not None
    assert seen[("spreadwatch_last_successful_fetch_timestamp_seconds", ())] == pytest.approx(
        datetime.fromisoformat(last_ok.finished_at).timestamp()
    )
    # the harness's clock: 18:00 in Shanghai on the CSV's last day, whose data is stored
    assert seen[("spreadwatch_data_age_trading_days", ())] == 0
    assert seen[("spreadwatch_data_stale", ())] == 0
    for row_status in ("pending", "sending", "sent", "failed", "dead"):
        assert seen[("spreadwatch_outbox_rows", (("status", row_status),))] == 0
    assert seen[("spreadwatch_store_readable", ())] == 1
    # events counted in this process, declared from the start
    assert seen[("spreadwatch_messages_sent_total", ())] == 0
    assert seen[("spreadwatch_daily_job_runs_total", (("outcome", "evaluated"),))] == 0
    assert seen[("process_resident_memory_bytes", ())] > 0
    # a Prometheus server asks for OpenMetrics, and gets it
    port = ops_bot.application.bot_data.ops_server.port
    ask = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Accept": "application/openmetrics-text"})
    with urllib.request.urlopen(ask, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("application/openmetrics-text")
        assert r.read().decode().endswith("# EOF\n")


def test_data_age_counts_the_trading_days_due_but_not_stored(db: Path) -> None:
    # Friday 2026-06-05, 18:00 in Shanghai: the CSV ends on Tuesday 06-02, so Wed, Thu and Fri are due
    harness = BotHarness(db, clock=lambda: datetime(2026, 6, 5, 10, 0, tzinfo=UTC), sections=OPS).start()
    try:
        seen = metrics(harness)
        assert seen[("spreadwatch_data_age_trading_days", ())] == 3
        assert seen[("spreadwatch_data_stale", ())] == 1
    finally:
        harness.stop()


def test_a_command_is_timed_in_the_latency_histogram(ops_bot: BotHarness) -> None:
    assert value(ops_bot, "spreadwatch_command_duration_seconds_count", command="spread") is None
    ops_bot.ask("/spread", chat_id=301)
    # the handler's time is observed when it returns, just after its answer reached the fake server
    wait_until(lambda: value(ops_bot, "spreadwatch_command_duration_seconds_count", command="spread") == 1)
    assert value(ops_bot, "spreadwatch_command_duration_seconds_bucket", command="spread", le="+Inf") == 1
    ops_bot.ask("/help", chat_id=301)
    wait_until(lambda: value(ops_bot, "spreadwatch_command_duration_seconds_count", command="help") == 1)
    assert value(ops_bot, "spreadwatch_command_duration_seconds_count", command="spread") == 1


def test_a_daily_run_and_its_delivery_show_in_the_metrics(ops_bot: BotHarness) -> None:
    services = ops_bot.services
    assert services is not None
    snap = services.store.snapshot(SOURCE)
    assert snap is not None
    # a personal threshold just under the day's percentile: this chat gets a FIRE
    services.chats.ensure(501)
    services.chats.update(501, subscribed=True, lang="en", threshold=max(1.0, float(int(snap.percentile)) - 1))
    bot_data = ops_bot.application.bot_data

    ops_bot.application.job_queue.run_once(daily_job, 0.01, name=CATCHUP_NAME)
    wait_until(lambda: bot_data.last_daily is not None)
    assert bot_data.last_daily.outcome == "evaluated"
    ops_bot.fake.wait_sent(1, chat_id=501, timeout=15)

    def settled() -> bool:
        seen = metrics(ops_bot)
        return (
            seen[("spreadwatch_messages_sent_total", ())] >= 1
            and seen[("spreadwatch_outbox_rows", (("status", "sent"),))]
            == seen[("spreadwatch_messages_sent_total", ())]
        )

    wait_until(settled)
    seen = metrics(ops_bot)
    assert seen[("spreadwatch_daily_job_runs_total", (("outcome", "evaluated"),))] == 1
    assert seen[("spreadwatch_daily_job_last_outcome", (("outcome", "evaluated"),))] == 1
    assert seen[("spreadwatch_daily_job_last_outcome", (("outcome", "waiting"),))] == 0
    assert seen[("spreadwatch_daily_job_last_run_timestamp_seconds", ())] > 0
    assert seen[("spreadwatch_alert_transitions_total", (("kind", "fire"), ("rule", "spread")))] == 1
    assert seen[("spreadwatch_outbox_rows", (("status", "pending"),))] == 0


def _queue(harness: BotHarness, *chats: int) -> None:
    services = harness.services
    assert services is not None
    for chat_id in chats:
        services.chats.ensure(chat_id)
    with services.store.transaction() as conn:
        for chat_id in chats:
            Outbox(services.store).enqueue(
                conn, rule_id="note", tier=0, kind="note", day=date(2026, 6, 2), chat_id=chat_id, parts=["hello"]
            )


@pytest.fixture
def frequent_drains(monkeypatch: pytest.MonkeyPatch) -> None:
    """The periodic drain every half second instead of every 30 s (first after 10 s): rows put back
    after a flood wait or a backoff go out at the next tick, and the test need not wait for it."""
    monkeypatch.setattr(scheduling, "DRAIN_FIRST_S", 0.5)
    monkeypatch.setattr(scheduling, "DRAIN_EVERY_S", 0.5)


def test_failed_sends_and_flood_waits_are_counted_by_reason(frequent_drains: None, ops_bot: BotHarness) -> None:
    fake = ops_bot.fake
    fake.fail("sendMessage", "400", chat_id=601)
    fake.fail("sendMessage", "403", chat_id=602)
    fake.fail("sendMessage", "500", chat_id=604)  # a server error: put back with a backoff
    # twice: the application's rate limiter retries one 429 itself; the second reaches the sender
    fake.fail("sendMessage", "429", chat_id=603, retry_after=1, times=2)
    _queue(ops_bot, 601, 602, 603, 604)
    ops_bot.application.job_queue.run_once(drain_job, 0.01, name=DRAIN_NAME)
    fake.wait_sent(1, chat_id=603, timeout=15)  # after the flood wait, the row is sent again
    fake.wait_sent(1, chat_id=604, timeout=60)  # after its backoff: in this drain or a later one

    def counted() -> bool:
        seen = metrics(ops_bot)
        return (
            seen.get(("spreadwatch_messages_failed_total", (("reason", "bad_request"),))) == 1
            and seen.get(("spreadwatch_messages_failed_total", (("reason", "blocked"),))) == 1
            and seen[("spreadwatch_messages_sent_total", ())] == 2
            and seen.get(("spreadwatch_messages_retried_total", (("reason", "NetworkError"),))) == 1
        )

    wait_until(counted)
    seen = metrics(ops_bot)
    waits = seen[("spreadwatch_flood_waits_total", ())]
    assert waits >= 1 and seen[("spreadwatch_flood_wait_seconds_total", ())] == waits  # retry_after=1 each
    assert seen[("spreadwatch_outbox_rows", (("status", "failed"),))] == 1
    assert seen[("spreadwatch_outbox_rows", (("status", "dead"),))] == 1
    assert seen[("spreadwatch_outbox_rows", (("status", "sent"),))] == 2
    assert seen[("spreadwatch_outbox_rows", (("status", "pending"),))] == 0


def test_metrics_show_rows_a_dead_sender_left_in_sending(ops_bot: BotHarness) -> None:
    """The 'delivery stuck' alert must see rows held by a sender killed mid-broadcast, not only pending ones."""
    services = ops_bot.services
    assert services is not None
    _queue(ops_bot, 701, 702)
    outbox = Outbox(services.store)
    for row in outbox.rows():
        assert outbox.claim(row.id, "killed-sender", lease_s=-1.0) is not None  # its lease ran out already
    seen = metrics(ops_bot)
    assert seen[("spreadwatch_outbox_rows", (("status", "sending"),))] == 2
    assert seen[("spreadwatch_outbox_rows", (("status", "pending"),))] == 0
    assert seen[("spreadwatch_outbox_expired_leases", ())] == 2


def test_healthz_is_503_with_the_reason_when_the_scheduler_stops(ops_bot: BotHarness) -> None:
    assert get(ops_bot, "/healthz")[0] == 200
    loop = ops_bot._loop
    assert loop is not None
    asyncio.run_coroutine_threadsafe(ops_bot.application.job_queue.stop(wait=False), loop).result(10)
    status, _, body = get(ops_bot, "/healthz")
    assert status == 503
    assert body == "scheduler: the JobQueue scheduler is not running\n"


def test_healthz_is_503_with_the_reason_when_the_store_raises(ops_bot: BotHarness, db: Path) -> None:
    assert get(ops_bot, "/healthz")[0] == 200
    with sqlite3.connect(db) as other:  # what a broken migration or a stray tool would leave
        other.execute("DROP TABLE meta")
    status, _, body = get(ops_bot, "/healthz")
    assert status == 503
    assert body == "store: OperationalError: no such table: meta\n"


def test_healthz_is_503_when_the_store_file_is_replaced_under_the_service(
    ops_bot: BotHarness, db: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    shutil.copyfile(db, other)
    other.replace(db)  # the service still has the old file open: its writes would be lost
    status, _, body = get(ops_bot, "/healthz")
    assert status == 503
    assert body.startswith(f"store: RuntimeError: {db} was replaced or removed since the start; restart the service")


def test_without_ops_listen_there_is_no_server(db: Path) -> None:
    harness = BotHarness(db).start()
    try:
        assert harness.application.bot_data.ops_server is None
        harness.ask("/help", chat_id=ADMIN_ID)
    finally:
        harness.stop()


def test_commands_past_a_chats_limit_are_counted(db: Path) -> None:
    def frozen_clock(application: Any, services: Any) -> None:
        application.bot_data.chat_limits.clock = lambda: 1000.0  # no refill while the test runs

    harness = BotHarness(db, sections=OPS, configure=frozen_clock, command_burst=1).start()
    try:
        ids = [harness.fake.push(command_update("/spread", chat_id=612)) for _ in range(4)]
        for update_id in ids:
            harness.wait_processed(update_id)
        assert value(harness, "spreadwatch_commands_refused_total", outcome="told") == 1
        assert value(harness, "spreadwatch_commands_refused_total", outcome="ignored") == 2
    finally:
        harness.stop()
