"""/backtest and /export through the real python-telegram-bot talking HTTP to the fake Bot API."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pandas as pd
from support.bot_harness import SOURCE, BotHarness, bot, db, filled_db  # noqa: F401  (fixtures)

from bot.telegram.handlers.backtest_export import RECENT_EPISODES
from jobs.engine.backtest import load_backtest
from jobs.engine.rules import params_from_settings
from jobs.store.datastore import Store


def expected_backtest(harness: BotHarness):  # type: ignore[no-untyped-def]
    assert harness.services is not None
    settings = harness.services.settings
    return load_backtest(
        Store(harness.db), SOURCE, params_from_settings(settings.alerts), settings.metric.history_start
    )


def test_backtest_summary_and_recent_episodes_in_english(bot: BotHarness) -> None:  # noqa: F811
    (call,) = bot.ask("/backtest", chat_id=501, language_code="en")
    text = call.params["text"]
    result = expected_backtest(bot)
    s = result.summary
    assert f"Episodes: <b>{s.episodes}</b>" in text
    assert f"<b>{s.hits} of {s.evaluated}</b>" in text
    recent = result.episodes[-RECENT_EPISODES:]
    assert f"<b>Last {len(recent)} episodes</b>" in text
    for e in recent:
        assert f"<b>{e.start} → {e.end if e.end else 'still open'}</b> ({e.trading_days} trading days)" in text
    # older episodes are left out of the chat answer
    assert f"<b>{result.episodes[0].start} →" not in text
    assert len(text) <= 4096


def test_backtest_in_chinese_and_cached(bot: BotHarness) -> None:  # noqa: F811
    (first,) = bot.ask("/backtest", chat_id=502, language_code="zh")
    (again,) = bot.ask("/backtest", chat_id=502, language_code="zh")
    assert "预警规则回测" in first.params["text"]
    assert first.params["text"] == again.params["text"]
    result = expected_backtest(bot)
    assert f"预警次数：<b>{result.summary.episodes}</b>" in first.params["text"]


def test_backtest_with_arguments_gets_usage(bot: BotHarness) -> None:  # noqa: F811
    (call,) = bot.ask("/backtest 2015", chat_id=503, language_code="en")
    assert "Usage" in call.params["text"]


def test_export_sends_the_daily_history_as_csv(bot: BotHarness) -> None:  # noqa: F811
    (call,) = bot.ask("/export", chat_id=504, language_code="en")
    assert call.method == "sendDocument"
    upload = call.files["document"]
    assert upload.filename.endswith(".csv")
    frame = pd.read_csv(io.BytesIO(upload.data), encoding="utf-8-sig", dtype={"top5_codes": str})
    series = Store(bot.db).spread_series(SOURCE)
    assert frame["date"].tolist() == [d.date().isoformat() for d in series.index]
    assert frame["spread"].tolist() == series["spread"].tolist()
    assert frame["percentile"].tolist() == series["percentile"].tolist()
    assert str(len(series)) in call.params["caption"]
    snap = Store(bot.db).snapshot(SOURCE, date(2025, 2, 14))
    assert snap is not None
    row = frame.set_index("date").loc["2025-02-14"]
    assert row["top5"].split(";") == [g.name for g in snap.top]
    # the same file for every reader: Shenwan's English names next to the source's
    assert row["top5_en"].split(";") == ["Computer", "Media", "Comprehensive", "Electronics", "Commerce and Retail"]
    assert row["bottom5_en"].split(";") == [
        "Coal",
        "Utilities",
        "Oil and Petrochemicals",
        "Agriculture, Forestry, Animal Husbandry and Fishery",
        "Food and Beverage",
    ]
    # an SW2014-era day keeps that era's names, in English too (801210 was 休闲服务, not 社会服务)
    old = frame.set_index("date").loc["2015-06-12"]
    for names, english in (("top5", "top5_en"), ("bottom5", "bottom5_en")):
        for zh, en in zip(old[names].split(";"), old[english].split(";"), strict=True):
            assert en.isascii() and en != zh
    assert "names in English" in call.params["caption"]


def test_commands_are_in_the_menu(bot: BotHarness) -> None:  # noqa: F811
    bot.ask("/help", chat_id=505, language_code="en")
    names = [c["command"] for c in bot.fake.commands(language_code="en")]
    assert "backtest" in names and "export" in names
    assert names.index("backtest") == names.index("history") + 1


def test_without_data_both_commands_say_so(tmp_path: Path) -> None:
    harness = BotHarness(tmp_path / "empty.db").start()
    try:
        for command, chat_id in (("/backtest", 601), ("/export", 602)):
            (call,) = harness.ask(command, chat_id=chat_id, language_code="en")
            assert call.method == "sendMessage"
            assert "No data yet" in call.params["text"]
    finally:
        harness.stop()
