"""/history sends a readable PNG chart; /status reports freshness and the daily job's schedule."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import re
import time as pytime
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from support.bot_harness import SOURCE, BotHarness, bot, db, filled_db  # noqa: F401
from support.fakebot import png_size

from bot.telegram.scheduling import daily_job
from jobs.alerting.daily import last_evaluated_key
from jobs.alerting.services import Services


def test_history_sends_a_png_with_caption(bot: BotHarness) -> None:
    assert bot.services is not None
    snap = bot.services.store.snapshot(SOURCE)
    assert snap is not None
    (photo,) = bot.ask("/history", chat_id=1101, language_code="en", timeout=30)
    assert photo.method == "sendPhoto"
    png = photo.files["photo"].data
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png_size(png) == (1200, 700)
    assert photo.response["photo"][0]["width"] == 1200
    caption = photo.params["caption"]
    assert f"Spread 2025-06-02 → {snap.as_of}" in caption and "(1y)" in caption
    assert f"Latest {snap.spread:.1f}%, P{int(snap.percentile)}" in caption
    # the file can be fetched back from the Bot API's file endpoint
    assert bot.fake.file_bytes(photo.response["photo"][0]["file_id"]) == png

    (all_years,) = bot.ask("/history ALL", chat_id=1101, language_code="zh", timeout=30)
    assert "全部历史" in all_years.params["caption"] and "2010-" in all_years.params["caption"]
    assert png_size(all_years.files["photo"].data) == (1200, 700)

    # the same chart for a Chinese chat is drawn with Chinese words: other pixels, same size
    (zh,) = bot.ask("/history", chat_id=1104, language_code="zh", timeout=30)
    assert "近1年" in zh.params["caption"]
    assert png_size(zh.files["photo"].data) == (1200, 700) and zh.files["photo"].data != png

    for bad in ("/history 2y", "/history 1y 3y", "/history 🙂<b>"):
        (usage,) = bot.ask(bad, chat_id=1101, language_code="en")
        assert usage.method == "sendMessage" and "Usage: <code>/history</code>" in usage.params["text"], bad


def unschedule_daily(application: Any, services: Services) -> None:
    for job in application.job_queue.get_jobs_by_name("daily"):
        job.schedule_removal()


def test_status_without_a_daily_job(db: Path) -> None:
    harness = BotHarness(db, configure=unschedule_daily).start()
    try:
        (status,) = harness.ask("/status", chat_id=1102, language_code="en")
    finally:
        harness.stop()
    text = status.params["text"]
    assert "Source: CSV sw_l1_daily.csv" in text
    assert "Latest data: 2026-06-02 · expected: 2026-06-02" in text and "Up to date" in text
    assert "Last good fetch: " in text and "(109252 new rows)" in text
    assert "Next daily run: not scheduled" in text and "Last daily run: none since start-up" in text
    assert "Alerts evaluated up to: never" in text


def test_status_reads_the_daily_job_and_its_last_run(db: Path) -> None:
    async def noop(context: Any) -> None:
        return None

    def schedule(application: Any, services: Services) -> None:
        unschedule_daily(application, services)
        tz = ZoneInfo("Asia/Shanghai")
        application.job_queue.run_daily(noop, time(15, 45, tzinfo=tz), name="daily")

    harness = BotHarness(db, configure=schedule).start()
    try:
        assert harness.services is not None
        # run the real daily job once, as the scheduler's start-up catch-up would
        harness.application.job_queue.run_once(daily_job, 0.01, name="daily-catchup")
        key = last_evaluated_key(SOURCE)
        deadline = pytime.monotonic() + 30
        while harness.application.bot_data.last_daily is None and pytime.monotonic() < deadline:
            pytime.sleep(0.05)
        assert harness.services.store.get_meta(key) == "2026-06-02"
        (status,) = harness.ask("/status", chat_id=1103, language_code="zh")
        text = status.params["text"]
        # times in the schedule's zone, written for people: no ISO, no UTC offset, no "CST"
        assert re.search(r"下次每日任务：\d{4}年\d{1,2}月\d{1,2}日 15:45\n", text), text
        assert re.search(r"最近一次成功获取：\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d（无新数据）", text), text
        assert "CST" not in text and "+00:00" not in text and not re.search(r"\d{4}-\d\d-\d\dT\d\d:", text)
        assert "上次每日任务：已评估至 2026-06-02，共 1 个交易日" in text
        assert "提醒已评估至：2026-06-02" in text
    finally:
        harness.stop()
