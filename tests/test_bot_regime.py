"""/regime and /event through the real bot and the fake Bot API, on the store built from the real CSV."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

from support.bot_harness import ADMIN_ID, FRESH_NOW, SOURCE, BotHarness, bot, db, filled_db  # noqa: F401

from jobs.regimes.repo import RegimeRepo
from jobs.regimes.service import stored_report, update_regimes
from jobs.store.datastore import Store

PMI = Path(__file__).resolve().parents[2] / "shared" / "data" / "cn_pmi_monthly.csv"


def load_pmi(store: Store) -> None:
    with PMI.open(encoding="utf-8") as f:
        points = [(date.fromisoformat(r["month"] + "-01"), float(r["pmi"])) for r in csv.DictReader(f)]
    RegimeRepo(store).save_series("pmi", points)


def test_regime_before_and_after_the_daily_evaluation(bot: BotHarness) -> None:
    assert bot.services is not None
    store = bot.services.store
    load_pmi(store)
    # before the daily job has run: evaluated on demand from the stored data, nothing stored
    (before,) = bot.ask("/regime", chat_id=601, language_code="en")
    assert "Not evaluated yet" not in before.params["text"]
    assert f"Regime scenarios · {FRESH_NOW.date()}" in before.params["text"]
    assert "Manufacturing PMI 50.3 <i>(2026-04)</i>" in before.params["text"]
    assert stored_report(store) is None
    (before_zh,) = bot.ask("/regime", chat_id=602, language_code="zh-hans")
    assert f"情景监测 · {FRESH_NOW.date()}" in before_zh.params["text"] and "尚未评估" not in before_zh.params["text"]

    load_pmi(store)
    day = FRESH_NOW.date()  # 2026-06-02, the CSV's last trading day
    report, _ = update_regimes(store, bot.services.settings, SOURCE, day)
    (en,) = bot.ask("/regime", chat_id=601, language_code="en")
    text = en.params["text"]
    assert en.params["parse_mode"] == "HTML"
    assert f"Regime scenarios · {day}" in text
    # PMI 2026-04 = 50.3 after 50.4: one decline, above the line -> off, with its numbers and month
    assert "Manufacturing PMI 50.3 <i>(2026-04)</i>" in text
    macro = report.scenarios[0]
    assert macro.state.value == "off"
    # no turnover in a close-only CSV and no Shenwan analysis: heat is unknown, never on
    assert "<b>Heat and valuation</b>: unknown" in text
    assert "<b>Theme breadth</b>: off" in text
    assert "Policy events</b>: none recorded" in text
    (zh,) = bot.ask("/regime", chat_id=602, language_code="zh-hans")
    assert f"情景监测 · {day}" in zh.params["text"] and "制造业PMI 50.3" in zh.params["text"]


def test_event_commands_admin_only_escaped_and_listed(bot: BotHarness) -> None:
    assert bot.services is not None
    (refused,) = bot.ask("/event 降准50bp", chat_id=603, user_id=603, language_code="en")
    assert "admin" in refused.params["text"].lower()
    assert RegimeRepo(bot.services.store).events() == []

    (usage,) = bot.ask("/event", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
    assert "Usage" in usage.params["text"]

    (added,) = bot.ask("/event PBoC <cuts> RRR & rates", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
    text = added.params["text"]
    (ev,) = RegimeRepo(bot.services.store).events()
    assert ev.text == "PBoC <cuts> RRR & rates" and ev.day == FRESH_NOW.date()
    assert f"<b>#{ev.id}</b>" in text and "PBoC &lt;cuts&gt; RRR &amp; rates" in text
    assert "until 2026-07-01" in text  # 30 days including the day it was recorded

    # the event lights the macro scenario in /regime at once (the report is re-evaluated)
    (shown,) = bot.ask("/regime", chat_id=604, language_code="en")
    body = shown.params["text"]
    assert "<b>Macro: recovery falsified / policy turn</b>: ON" in body
    assert f"#{ev.id} {ev.day} PBoC &lt;cuts&gt; RRR &amp; rates" in body

    (missing,) = bot.ask("/event del 999", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
    assert "no policy event #999" in missing.params["text"]
    (bad,) = bot.ask("/event del x", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
    assert "Usage" in bad.params["text"]
    (gone,) = bot.ask(f"/event del {ev.id}", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
    assert f"#{ev.id} removed" in gone.params["text"]
    assert RegimeRepo(bot.services.store).events() == []
    (after,) = bot.ask("/regime", chat_id=604, language_code="en")
    assert "policy turn</b>: ON" not in after.params["text"]
    assert "none recorded" in after.params["text"]

    # a text over the limit is refused as too long (with its length and the limit), not with the usage
    (too_long,) = bot.ask("/event " + "长" * 400, chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="zh")
    assert "内容过长：400 字（最多 300 字）" in too_long.params["text"] and "用法" not in too_long.params["text"]
    (huge,) = bot.ask("/event " + "x" * 5000, chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
    assert "Too long: 5000 characters (max 300)" in huge.params["text"] and "Usage" not in huge.params["text"]
    assert RegimeRepo(bot.services.store).events() == []


def test_the_regimes_job_evaluates_after_the_daily_job(bot: BotHarness) -> None:
    import asyncio

    from jobs.alerting.daily import last_evaluated_key

    assert bot.services is not None and bot.application is not None and bot._loop is not None
    (job,) = bot.application.job_queue.get_jobs_by_name("regimes")
    load_pmi(bot.services.store)
    bot.services.store.set_meta(last_evaluated_key(SOURCE), FRESH_NOW.date().isoformat())
    asyncio.run_coroutine_threadsafe(job.run(bot.application), bot._loop).result(timeout=30)
    (shown,) = bot.ask("/regime", chat_id=605, language_code="en")
    assert f"Regime scenarios · {FRESH_NOW.date()}" in shown.params["text"]


def test_a_failing_regime_evaluation_tells_the_admins_once(db: Path) -> None:
    import asyncio

    from bot.telegram.scheduling import regimes_job
    from jobs.alerting.daily import last_evaluated_key

    harness = BotHarness(db).start()
    try:
        services = harness.services
        assert services is not None
        services.chats.ensure(ADMIN_ID)
        services.chats.update(ADMIN_ID, lang="en")
        # the daily job evaluated 2026-06-02; the regimes' own bookkeeping is damaged
        services.store.set_meta(last_evaluated_key(SOURCE), "2026-06-02")
        services.store.set_meta(f"regimes:last_evaluated:{SOURCE}", "not a date")
        jq = harness.application.job_queue
        assert harness._loop is not None
        for _ in range(2):  # two 5-minute ticks fail the same way, one after the other
            tick = jq.run_once(regimes_job, 3600)
            asyncio.run_coroutine_threadsafe(tick.run(harness.application), harness._loop).result(timeout=30)
            tick.schedule_removal()
        jq.run_once(drain_now, 0.01)
        (notice,) = harness.fake.wait_sent(1, chat_id=ADMIN_ID, timeout=15)
        assert "2026-06-02" in notice.params["text"] and "regime evaluation: ValueError" in notice.params["text"]
        harness.fake.wait_idle(quiet=0.5)
        assert len(harness.fake.sent(chat_id=ADMIN_ID)) == 1
    finally:
        harness.stop()


async def drain_now(context: Any) -> None:
    from bot.telegram.scheduling import drain_job

    await drain_job(context)
