"""The daily job on the real bot's JobQueue: its schedule, the start-up catch-up, delivery to
subscribers through the fake Bot API, retries up to the cut-off, my_chat_member and /alerts."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from support.bot_harness import ADMIN_ID, SOURCE, BotHarness, db, filled_db, wait_until  # noqa: F401
from support.fakebot import my_chat_member_update

from bot.telegram.scheduling import (
    CALENDAR_NAME,
    CATCHUP_NAME,
    DRAIN_NAME,
    JOB_NAME,
    RETRY_NAME,
    daily_job,
)
from jobs.alerting.alert_log import SPREAD_RULE, transitions

TZ = ZoneInfo("Asia/Shanghai")
# Wednesday 2026-06-03, 18:00 in Shanghai: the CSV ends on Tuesday 06-02, so Wednesday's data is late
WED_18 = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)


def test_the_daily_job_is_scheduled_in_shanghai_on_weekdays_with_a_catch_up(db: Path) -> None:
    harness = BotHarness(db).start()
    try:
        jq = harness.application.job_queue
        (daily,) = jq.get_jobs_by_name(JOB_NAME)
        nxt = daily.next_t.astimezone(TZ)
        assert nxt.time() == time(16, 30) and nxt.weekday() < 5
        trigger = str(daily.job.trigger)
        assert "day_of_week='mon,tue,wed,thu,fri'" in trigger or "day_of_week='mon-fri'" in trigger, trigger
        assert str(daily.job.trigger.timezone) == "Asia/Shanghai"
        # nothing evaluated yet in this store: a catch-up run is due shortly after start
        assert len(jq.get_jobs_by_name(CATCHUP_NAME)) == 1
        assert len(jq.get_jobs_by_name(DRAIN_NAME)) == 1
        assert len(jq.get_jobs_by_name(CALENDAR_NAME)) == 2  # every source: each morning, and soon after start
    finally:
        harness.stop()


def test_a_run_delivers_to_subscribers_and_retries_until_the_cut_off(db: Path) -> None:
    clock = {"now": WED_18}
    harness = BotHarness(db, clock=lambda: clock["now"]).start()
    try:
        services = harness.services
        assert services is not None
        snap = services.store.snapshot(SOURCE)
        assert snap is not None
        # a personal threshold just under the day's percentile: this chat must get a FIRE
        services.chats.ensure(501)
        services.chats.update(501, subscribed=True, lang="en", threshold=max(1.0, float(int(snap.percentile)) - 1))
        jq = harness.application.job_queue
        bot_data = harness.application.bot_data

        jq.run_once(daily_job, 0.01, name=CATCHUP_NAME)
        wait_until(lambda: bot_data.last_daily is not None)
        result = bot_data.last_daily
        assert (result.outcome, result.evaluated) == ("waiting", (snap.as_of,))
        (fire,) = harness.fake.wait_sent(1, chat_id=501, timeout=15)
        assert f"Differentiation alert · {snap.as_of}" in fire.params["text"]
        assert [e.kind for e in transitions(services.store, SPREAD_RULE, 501)] == ["fire"]
        (retry,) = jq.get_jobs_by_name(RETRY_NAME)
        assert abs((retry.next_t - datetime.now(UTC)).total_seconds() - 15 * 60) < 10  # every 15 min

        # the retry closest to the cut-off runs at the cut-off itself ...
        clock["now"] = datetime(2026, 6, 3, 12, 50, tzinfo=UTC)  # 20:50
        bot_data.last_daily = None
        retry.schedule_removal()
        jq.run_once(daily_job, 0.01, name=RETRY_NAME)
        wait_until(lambda: bot_data.last_daily is not None)
        (retry,) = jq.get_jobs_by_name(RETRY_NAME)
        assert abs((retry.next_t - datetime.now(UTC)).total_seconds() - 10 * 60) < 10  # at 21:00, not 21:05

        # ... where admins hear once that the day is missing, and no further retry is planned
        clock["now"] = datetime(2026, 6, 3, 13, 0, tzinfo=UTC)  # 21:00
        for job in jq.get_jobs_by_name(RETRY_NAME):
            job.schedule_removal()
        for _ in range(2):
            bot_data.last_daily = None
            jq.run_once(daily_job, 0.01, name=RETRY_NAME)
            wait_until(lambda: bot_data.last_daily is not None)
            assert bot_data.last_daily.outcome == "missing"
        (notice,) = harness.fake.wait_sent(1, chat_id=ADMIN_ID, timeout=15)
        assert "2026-06-03" in notice.params["text"]
        harness.fake.wait_idle(quiet=0.3)
        assert len(harness.fake.sent(chat_id=ADMIN_ID)) == 1
        assert not [j for j in jq.get_jobs_by_name(RETRY_NAME) if j.enabled and not j.removed]
        assert len(harness.fake.sent(chat_id=501)) == 1
    finally:
        harness.stop()


def test_kicked_or_blocked_marks_the_chat_inactive_and_back_again(db: Path) -> None:
    harness = BotHarness(db).start()
    try:
        services = harness.services
        assert services is not None
        for chat_id in (701, -702):
            services.chats.ensure(chat_id, "private" if chat_id > 0 else "group")
            services.chats.update(chat_id, subscribed=True)
        harness.fake.push(my_chat_member_update(701, old_status="member", new_status="kicked"))
        harness.fake.push(my_chat_member_update(-702, old_status="member", new_status="left"))

        def active(chat_id: int) -> bool:
            chat = services.chats.get(chat_id)
            assert chat is not None
            return chat.active

        wait_until(lambda: not active(701) and not active(-702), timeout=10)
        assert [c.chat_id for c in services.chats.subscribers()] == []
        harness.fake.push(my_chat_member_update(701, old_status="kicked", new_status="member"))
        wait_until(lambda: active(701), timeout=10)
    finally:
        harness.stop()


def test_alerts_command_is_for_admins_and_shows_states_and_reasons(db: Path) -> None:
    harness = BotHarness(db).start()
    try:
        services = harness.services
        assert services is not None
        services.chats.ensure(801)
        services.chats.update(801, subscribed=True, threshold=1.0)
        harness.application.job_queue.run_once(daily_job, 0.01, name=CATCHUP_NAME)
        bot_data = harness.application.bot_data
        wait_until(lambda: bot_data.last_daily is not None)

        (refused,) = harness.ask("/alerts", chat_id=1201, language_code="en")
        assert "admins only" in refused.params["text"]
        (shown,) = harness.ask("/alerts", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
        text = shown.params["text"]
        assert "last evaluated trading day: 2026-06-02" in text
        assert "<b>spread</b>: 1 of 1 chat(s) firing" in text
        assert "chat 801 · <b>fire</b>" in text and "&gt;= P1" in text
    finally:
        harness.stop()


def test_a_failing_daily_job_tells_the_admins_once_instead_of_going_silent(db: Path) -> None:
    clock = {"now": WED_18}
    harness = BotHarness(db, clock=lambda: clock["now"]).start()
    try:
        services = harness.services
        assert services is not None
        services.chats.ensure(901)
        services.chats.update(901, subscribed=True, lang="en")
        services.chats.ensure(ADMIN_ID)
        services.chats.update(ADMIN_ID, lang="en")
        jq = harness.application.job_queue
        bot_data = harness.application.bot_data
        jq.run_once(daily_job, 0.01, name=CATCHUP_NAME)
        wait_until(lambda: bot_data.last_daily is not None)
        # a damaged store (here: an unreadable alert state) makes the next evaluation raise
        with services.store.transaction() as conn:
            conn.execute("UPDATE alert_state SET state_json = '{not json' WHERE chat_id = 901")
            conn.execute("DELETE FROM meta WHERE key LIKE 'alerts:spread:last_evaluated:%'")
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                (f"alerts:spread:last_evaluated:{SOURCE}", "2026-05-29"),
            )
        for _ in range(2):  # the retry fails the same way: still one notice for the day
            bot_data.last_daily = None
            jq.run_once(daily_job, 0.01, name=RETRY_NAME)
            wait_until(lambda: bot_data.last_daily is not None)
            assert bot_data.last_daily.outcome == "job_failed"
            assert bot_data.last_daily.retry  # 18:00 is before the cut-off
        (notice,) = harness.fake.wait_sent(1, chat_id=ADMIN_ID, timeout=15)
        assert notice.params["text"].startswith("⚠️ <b>Daily job failed · 2026-06-03</b>")
        assert "daily job for 2026-06-03 stopped with an error" in notice.params["text"]
        assert "JSONDecodeError" in notice.params["text"]
        harness.fake.wait_idle(quiet=0.3)
        assert len(harness.fake.sent(chat_id=ADMIN_ID)) == 1
    finally:
        harness.stop()
