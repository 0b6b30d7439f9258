"""/spread, /top5, /bottom5, /industry, the Refresh button and languages, through the real bot and HTTP."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from support.bot_harness import SOURCE, BotHarness, bot, db, filled_db  # noqa: F401
from support.fakebot import callback_query_update

from bot.cli.main import main
from jobs.market.sources.base import SW2021_L1_EN


def report_json(db_path: Path, capsys: pytest.CaptureFixture[str], lang: str = "en") -> dict:
    code = main(["report", "--json", "--source", SOURCE, "--db", str(db_path), "--lang", lang])
    out = capsys.readouterr().out
    assert code in (0, 1), out
    return json.loads(out)


def pct(value: float, digits: int = 1) -> str:
    return f"{value:+.{digits}f}%"


def test_spread_and_top5_carry_the_report_numbers(
    bot: BotHarness, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "report.db"
    copy.write_bytes(db.read_bytes())
    want = report_json(copy, capsys)

    (spread,) = bot.ask("/spread", chat_id=501, language_code="en")
    text = spread.params["text"]
    assert spread.params["parse_mode"] == "HTML"
    assert f"Spread <b>{want['spread']:.1f}%</b>" in text
    assert f"<b>P{int(want['percentile'])}</b>" in text
    assert f"rank {want['history_rank']} of {want['history_days']}" in text
    assert f"1 week {want['change_1w']:+.1f} pts" in text and f"1 month {want['change_1m']:+.1f} pts" in text
    assert f"Industry differentiation · {want['as_of']}" in text
    assert "stale" not in text.lower()
    # English answers name industries as Shenwan does in English, never in Chinese
    for g in want["top"] + want["bottom"]:
        assert f"{SW2021_L1_EN[g['code']]} {pct(g['gain'], 0)}" in text
        assert g["name"] not in text
    buttons = spread.params["reply_markup"]["inline_keyboard"]
    assert buttons[0][0]["callback_data"] == "spread:refresh" and "Refresh" in buttons[0][0]["text"]

    (top,) = bot.ask("/top5", chat_id=501, language_code="en")
    for g in want["top"]:
        assert f"{g['rank']}. {SW2021_L1_EN[g['code']]} ({g['code']}) <b>{pct(g['gain'])}</b>" in top.params["text"]
    assert f"Average <b>{pct(want['top_avg'])}</b>" in top.params["text"]

    (bottom,) = bot.ask("/bottom5", chat_id=501, language_code="en")
    for g in want["bottom"]:
        assert f"{SW2021_L1_EN[g['code']]} ({g['code']}) <b>{pct(g['gain'])}</b>" in bottom.params["text"]
    assert f"Average <b>{pct(want['bottom_avg'])}</b>" in bottom.params["text"]


def test_language_follows_user_then_chat_setting(bot: BotHarness) -> None:
    (zh,) = bot.ask("/spread", chat_id=502, language_code="zh-hans")
    assert "行业分化" in zh.params["text"] and "刷新" in zh.params["reply_markup"]["inline_keyboard"][0][0]["text"]
    (en,) = bot.ask("/spread", chat_id=503, language_code="en")
    assert "Industry differentiation" in en.params["text"]
    (other,) = bot.ask("/spread", chat_id=504, language_code="fr")
    assert "行业分化" in other.params["text"]  # settings.lang is zh
    assert bot.services is not None
    bot.services.chats.ensure(502)
    bot.services.chats.update(502, lang="en")
    (chosen,) = bot.ask("/top5", chat_id=502, language_code="zh-hans")
    assert "Top 5 industries" in chosen.params["text"]


def test_industry_by_name_code_and_suggestions(bot: BotHarness, capsys: pytest.CaptureFixture[str]) -> None:
    assert bot.services is not None
    snap = bot.services.store.snapshot(SOURCE)
    assert snap is not None
    leader = snap.top[0]
    (by_name,) = bot.ask(f"/industry {leader.name}", chat_id=510, language_code="en")
    assert f"{SW2021_L1_EN[leader.code]} ({leader.code})" in by_name.params["text"]
    assert f"gain <b>{pct(leader.gain)}</b>, rank <b>1</b> of {snap.n_ranked}" in by_name.params["text"]
    assert "Among the top" in by_name.params["text"]

    laggard = snap.bottom[0]
    (by_code,) = bot.ask(f"/industry {laggard.code}", chat_id=510, language_code="zh")
    assert f"排名 <b>{laggard.rank}</b>/{snap.n_ranked}" in by_code.params["text"]
    assert "位于涨幅后" in by_code.params["text"]

    (typo,) = bot.ask("/industry 计算几", chat_id=510, language_code="zh")
    assert "计算机" in typo.params["text"] and "/industry 801750" in typo.params["text"]

    # "电" is part of 电子, 电力设备 and 家用电器: ambiguous, all offered
    (ambiguous,) = bot.ask("/industry 电", chat_id=510, language_code="en")
    assert "matches several" in ambiguous.params["text"]
    assert "Electronics" in ambiguous.params["text"] and "Power Equipment" in ambiguous.params["text"]

    # Shenwan's English names work too: exact, partial and mistyped
    (computer,) = bot.ask("/industry Computer", chat_id=510, language_code="en")
    assert "Computer (801750)" in computer.params["text"]
    (metals,) = bot.ask("/industry metals", chat_id=510, language_code="en")
    assert "Non-ferrous Metals (801050)" in metals.params["text"]
    (banks,) = bot.ask("/industry bnaks", chat_id=510, language_code="en")
    assert "Banks" in banks.params["text"] and "/industry 801780" in banks.params["text"]

    (usage,) = bot.ask("/industry", chat_id=510, language_code="en")
    assert "Usage" in usage.params["text"]

    hostile = "<script>&amp; 🙂\u202e" + "x" * 3000
    (odd,) = bot.ask(f"/industry {hostile}", chat_id=510, language_code="en")
    assert "<script>" not in odd.params["text"] and "&lt;script&gt;&amp;amp;" in odd.params["text"]
    assert len(odd.params["text"]) < 600


def test_refresh_button_rerenders_from_the_latest_snapshot(bot: BotHarness) -> None:
    assert bot.services is not None
    store, engine = bot.services.store, bot.services.engine
    latest = store.last_snapshot_date(SOURCE)
    assert latest is not None
    with store.transaction() as conn:
        conn.execute("DELETE FROM snapshots WHERE source = ? AND date = ?", (SOURCE, latest.isoformat()))
    (sent,) = bot.ask("/spread", chat_id=520, language_code="en")
    assert f"Industry differentiation · {latest}" not in sent.params["text"]
    assert "Data is stale" in sent.params["text"]

    engine.recompute()  # what the daily job does when the day's data arrives
    message = bot.fake.message(520, sent.message_id or 0)
    (edit,) = bot.answer(callback_query_update(message, "spread:refresh"), chat_id=520)
    assert edit.method == "editMessageText" and edit.params["message_id"] == sent.message_id
    assert f"Industry differentiation · {latest}" in edit.params["text"]
    assert "Data is stale" not in edit.params["text"]
    assert edit.params["reply_markup"] == sent.params["reply_markup"]
    (ack,) = bot.fake.wait_calls("answerCallbackQuery", 1)
    assert ack.params["text"] == "Updated"

    # nothing new: Telegram refuses the identical edit and the user is told it is current
    mark = bot.fake.call_count()
    bot.fake.push(callback_query_update(bot.fake.message(520, sent.message_id or 0), "spread:refresh"))
    acks = bot.fake.wait_calls("answerCallbackQuery", 1, since=mark)
    assert acks[0].params["text"] == "Already up to date"
    assert not bot.fake.sent(chat_id=520, method="sendMessage", since=mark)  # no apology


def test_html_in_data_arrives_escaped(bot: BotHarness) -> None:
    assert bot.services is not None
    store = bot.services.store
    snap = store.snapshot(SOURCE)
    assert snap is not None
    code = snap.top[0].code
    evil = "<b>A&B</b>"
    with store.transaction() as conn:
        row = conn.execute(
            "SELECT gains_json FROM snapshots WHERE source = ? AND date = ?", (SOURCE, snap.as_of.isoformat())
        ).fetchone()
        gains = json.loads(row[0])
        for g in gains:
            if g["code"] == code:
                g["name"] = evil
        conn.execute(
            "UPDATE snapshots SET gains_json = ? WHERE source = ? AND date = ?",
            (json.dumps(gains, ensure_ascii=False), SOURCE, snap.as_of.isoformat()),
        )
    # a Chinese answer shows the name as stored (an English one would show Shenwan's English name)
    (top,) = bot.ask("/top5", chat_id=530, language_code="zh")
    assert html.escape(evil) in top.params["text"] and evil not in top.params["text"]
    # the fake refuses unbalanced or unknown HTML tags as Telegram does, so an answer proves validity
    assert top.ok


def test_industry_with_a_discontinued_shenwan_code_says_so(bot: BotHarness) -> None:
    """801020 采掘 ends with the SW2014 classification (2021-12-10): no five unrelated suggestions."""
    (old,) = bot.ask("/industry 801020", chat_id=540, language_code="en")
    text = old.params["text"]
    assert "<b>Mining (801020)</b>" in text and "Discontinued" in text
    assert "from 2010-01-04 to <b>2021-12-10</b>" in text
    assert "/industry 8" not in text  # no suggestions of other codes
    assert "6-month gain <b>" in text and "On 2021-12-10" in text

    (by_name,) = bot.ask("/industry 采掘", chat_id=540, language_code="zh")
    assert "<b>采掘（801020）</b>" in by_name.params["text"] and "已停用" in by_name.params["text"]
    assert "2021-12-10" in by_name.params["text"]
    (by_english,) = bot.ask("/industry mining", chat_id=540, language_code="en")
    assert "<b>Mining (801020)</b>" in by_english.params["text"]

    # an older name of an industry that still exists answers with today's entry under its code
    (renamed,) = bot.ask("/industry 休闲服务", chat_id=540, language_code="en")
    assert "Social Services (801210)" in renamed.params["text"] and "rank <b>" in renamed.params["text"]
