"""One daily cycle (jobs.alerting.cycle.run_cycle) behind both doors: the bot's scheduled ``daily`` job and
``spreadwatch run-daily`` evaluate the same day on the same data into the same alert transitions, regime
transitions and outbox rows; only the delivery differs (the bot sends them, run-daily without a token
leaves them pending)."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.bot_harness import ADMIN_ID, SOURCE, SW, BotHarness, filled_db, wait_until  # noqa: F401

from bot.cli.main import main
from bot.telegram.scheduling import CATCHUP_NAME, daily_job
from jobs.market.calendar import shipped_trading_days
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store

DAY = date(2026, 6, 2)  # the last day of the shared CSV
EVENING = datetime(2026, 6, 2, 10, 30, tzinfo=UTC)  # 18:30 in Shanghai: the day's data is due
# (chat id, language, personal threshold): one on the default P90, one whose threshold the day's spread passes
CHATS = ((501, "zh", None), (502, "en", 50.0))
# the macro and heat scenarios read files, so the regimes have transitions to queue too
REGIMES = {
    "inputs": {
        "pmi": f"csv:{SW.parent / 'cn_pmi_monthly.csv'}",
        "amount": f"csv:{SW.parent / 'sw_l1_amount_daily.csv'}",
    }
}


@pytest.fixture
def calendar_file(tmp_path: Path) -> Path:
    """The shipped calendar, then weekdays far ahead: no calendar refresh is due on either path, whatever
    the date the test runs on (a refresh would reach for the network)."""
    days = [d for d in shipped_trading_days()]
    d = days[-1] + timedelta(days=1)
    while d.year < 2100:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    path = tmp_path / "calendar.csv"
    path.write_text("\n".join(x.isoformat() for x in days) + "\n", encoding="utf-8")
    return path


def _subscribe(store: Store) -> None:
    chats = ChatRepo(store)
    for chat_id, lang, threshold in CHATS:
        chats.ensure(chat_id)
        chats.update(chat_id, subscribed=True, lang=lang, threshold=threshold)


def _what_the_cycle_wrote(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = Store(db).connect()
    return {
        "alert_log": conn.execute(
            "SELECT rule_id, chat_id, day, kind, tier, previous_tier, reason, inputs_json, queued FROM alert_log "
            "ORDER BY rule_id, chat_id, day, kind, tier"
        ).fetchall(),
        "regime_transitions": conn.execute(
            "SELECT scenario, day, old_state, new_state, reason, evidence_json FROM regime_transitions "
            "ORDER BY scenario, day, new_state"
        ).fetchall(),
        "outbox": conn.execute(
            "SELECT rule_id, tier, kind, day, chat_id, part, text FROM outbox "
            "ORDER BY rule_id, tier, kind, day, chat_id, part"
        ).fetchall(),
    }


def test_the_bot_and_run_daily_run_the_same_cycle(
    filled_db: Path, tmp_path: Path, calendar_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the command line: run-daily without a token queues and prints, sends nothing
    cli_db = tmp_path / "cli.db"
    shutil.copyfile(filled_db, cli_db)
    _subscribe(Store(cli_db))
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "storage": {"path": str(cli_db)},
                "data": {"source": SOURCE, "calendar_file": str(calendar_file)},
                "telegram": {"admins": [ADMIN_ID]},
                "regimes": REGIMES,
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["run-daily", "--config", str(config), "--as-of", DAY.isoformat()]) == 3  # queued, not sent

    # the bot: its scheduled job at 18:30 on the same day, on a copy of the same store
    bot_db = tmp_path / "bot.db"
    shutil.copyfile(filled_db, bot_db)
    _subscribe(Store(bot_db))
    harness = BotHarness(
        bot_db, clock=lambda: EVENING, data={"calendar_file": str(calendar_file)}, sections={"regimes": REGIMES}
    ).start()
    try:
        harness.application.job_queue.run_once(daily_job, 0.01, name=CATCHUP_NAME)
        wait_until(lambda: harness.application.bot_data.last_daily is not None)
        assert harness.application.bot_data.last_daily.outcome == "evaluated"
    finally:
        harness.stop()

    cli, bot = _what_the_cycle_wrote(cli_db), _what_the_cycle_wrote(bot_db)
    assert any(row[1] == 502 and row[3] == "fire" for row in cli["alert_log"]), cli["alert_log"]
    assert cli["outbox"] and cli["regime_transitions"], "nothing to compare: the comparison would prove nothing"
    assert cli == bot
    # delivery stays with the caller: the bot sent its rows, run-daily left them pending
    assert {s for (s,) in Store(cli_db).connect().execute("SELECT status FROM outbox").fetchall()} == {"pending"}
