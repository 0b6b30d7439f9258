"""The daily job's decisions on the real data: late data, the cut-off, failed fetches, catch-up,
mutes, new subscribers, and ``spreadwatch run-daily`` with and without a bot token."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from support.alerting_support import (
    SW,
    TOKEN,
    RevealingSource,
    drain,
    evening,
    make_services,
    make_settings,
    subscribe,
)
from support.fakebot import FakeBotAPI

from bot.cli.main import main
from jobs.alerting.alert_log import SPREAD_RULE, load_states, transitions
from jobs.alerting.daily import last_evaluated_key, run_daily
from jobs.alerting.services import Services
from jobs.store.outbox import Outbox

pytestmark = pytest.mark.skipif(not SW.exists(), reason="shared data not present")

FILLED_UNTIL = date(2025, 2, 10)  # the spread is above P90 from 2024-12 to 2025-03 on this data
ADMIN = 9001


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("daily") / "filled.db"
    services = make_services(make_settings(db), RevealingSource(SW, FILLED_UNTIL))
    assert services.engine.update(until=FILLED_UNTIL).refresh.ok
    services.store.close()
    return db


def services_on(filled: Path, tmp_path: Path, revealed: date, base_url: str | None = None) -> Services:
    db = tmp_path / "daily.db"
    shutil.copyfile(filled, db)
    return make_services(make_settings(db, base_url), RevealingSource(SW, revealed))


def last_evaluated(services: Services) -> str | None:
    return services.store.get_meta(last_evaluated_key(services.engine.source.name))


def test_late_data_waits_then_the_cut_off_tells_admins_once_then_catch_up(filled: Path, tmp_path: Path) -> None:
    services = services_on(filled, tmp_path, revealed=FILLED_UNTIL)
    subscribe(services, 1, "en")
    source = services.engine.source
    assert isinstance(source, RevealingSource)

    first = run_daily(services, now=evening(date(2025, 2, 11)))
    # the first run ever evaluates only the latest day it has; history is not replayed into alerts
    assert (first.outcome, first.evaluated, first.retry) == ("waiting", (FILLED_UNTIL,), True)
    assert [e.kind for e in transitions(services.store, SPREAD_RULE, 1)] == ["fire"]

    later = run_daily(services, now=evening(date(2025, 2, 11), 20, 45))
    assert (later.outcome, later.evaluated, later.queued) == ("waiting", (), 0)
    cutoff = run_daily(services, now=evening(date(2025, 2, 11), 21, 0))
    assert (cutoff.outcome, cutoff.retry, cutoff.queued) == ("missing", False, 1)
    again = run_daily(services, now=evening(date(2025, 2, 11), 21, 30))
    assert (again.outcome, again.queued) == ("missing", 0)
    (notice,) = Outbox(services.store).rows(chat_id=ADMIN)
    assert notice.kind == "missing" and "2025-02-11" in notice.text and "21:00" in notice.text
    assert "数据问题" in notice.text  # admins without a chat row get the default language (zh)

    source.revealed = date(2025, 2, 12)
    caught = run_daily(services, now=evening(date(2025, 2, 12)))
    assert caught.outcome == "evaluated" and caught.evaluated == (date(2025, 2, 11), date(2025, 2, 12))
    assert last_evaluated(services) == "2025-02-12"
    assert load_states(services.store, SPREAD_RULE)[1].day == date(2025, 2, 12)


def test_a_failed_fetch_evaluates_nothing_and_admins_hear_once(filled: Path, tmp_path: Path) -> None:
    services = services_on(filled, tmp_path, revealed=date(2025, 2, 14))
    subscribe(services, 1, "zh")
    source = services.engine.source
    assert isinstance(source, RevealingSource)
    source.failing = "upstream answered 502 <Bad Gateway>"
    results = [run_daily(services, now=evening(date(2025, 2, 14), h, m)) for h, m in ((16, 30), (16, 45), (21, 0))]
    assert [r.outcome for r in results] == ["fetch_failed"] * 3
    assert [r.retry for r in results] == [True, True, False]
    assert [r.queued for r in results] == [1, 0, 0]
    assert transitions(services.store) == [] and last_evaluated(services) is None
    (notice,) = Outbox(services.store).rows()
    assert notice.chat_id == ADMIN and "&lt;Bad Gateway&gt;" in notice.text

    source.failing = None
    ok = run_daily(services, now=evening(date(2025, 2, 14), 21, 15))
    assert ok.outcome == "evaluated" and ok.evaluated == (date(2025, 2, 14),)


def test_non_trading_days_and_as_of(filled: Path, tmp_path: Path) -> None:
    services = services_on(filled, tmp_path, revealed=date(2025, 2, 14))
    subscribe(services, 1, "en")
    # Saturday evening: the data expected is Friday's
    sat = run_daily(services, now=evening(date(2025, 2, 15)))
    assert (sat.target, sat.outcome) == (date(2025, 2, 14), "evaluated")
    assert run_daily(services, now=evening(date(2025, 2, 16))).outcome == "up_to_date"
    # an explicit past day that is already evaluated is not evaluated again
    assert run_daily(services, as_of=date(2025, 2, 12), now=evening(date(2025, 2, 16))).outcome == "up_to_date"


def test_mute_new_subscriber_and_personal_threshold(filled: Path, tmp_path: Path) -> None:
    services = services_on(filled, tmp_path, revealed=date(2025, 2, 14))
    subscribe(services, 1, "en")
    subscribe(services, 2, "en", muted_until=date(2025, 2, 12))
    subscribe(services, 3, "en", threshold=99.5)  # far above the day's percentile: stays quiet
    run_daily(services, now=evening(FILLED_UNTIL))
    log = {e.chat_id: e for e in transitions(services.store, SPREAD_RULE)}
    assert set(log) == {1, 2}
    assert log[1].queued and not log[2].queued and "muted" in log[2].reason
    assert log[1].inputs["params"]["enter"] == 90.0 and len(log[1].inputs["top"]) == 5
    assert {r.chat_id for r in Outbox(services.store).rows()} == {1}

    subscribe(services, 4, "zh")  # joins mid-episode: told on the next evaluated day
    run_daily(services, now=evening(date(2025, 2, 11)))
    assert [(e.chat_id, e.kind) for e in transitions(services.store, SPREAD_RULE, 4)] == [(4, "fire")]
    # the muted chat kept its state: no second FIRE for it once the mute is over
    run_daily(services, now=evening(date(2025, 2, 14)))
    assert [e.kind for e in transitions(services.store, SPREAD_RULE, 2)] == ["fire"]


def test_run_daily_cli_without_a_token_prints_and_keeps_messages_pending(
    filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "cli.db"
    shutil.copyfile(filled, db)
    services = make_services(make_settings(db), RevealingSource(SW))
    subscribe(services, 1, "en")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    code = main(["run-daily", "--as-of", "2025-02-14", "--source", f"csv:{SW}", "--db", str(db)])
    out = capsys.readouterr().out
    assert code == 3  # the data is fine, the message is pending (ExitCode.PENDING)
    assert "NOT SENT: no bot token in $TELEGRAM_BOT_TOKEN; 1 message(s) left pending" in out
    assert "--- NOT SENT to chat 1 (spread fire tier" in out and "Differentiation alert · 2025-02-14" in out
    assert [r.status for r in Outbox(services.store).rows()] == ["pending"]
    # the cron path evaluates the regime scenarios for the day the spread rules just evaluated
    assert "regimes 2025-02-14: macro=" in out and "composite=" in out
    assert services.store.get_meta(f"regimes:last_evaluated:csv:{SW}") == "2025-02-14"

    with FakeBotAPI() as fake:
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {"telegram": {"token_env": "SW_TEST_TOKEN", "base_url": fake.base_url}, "storage": {"path": str(db)}}
            )
        )
        monkeypatch.setenv("SW_TEST_TOKEN", TOKEN)
        code = main(["run-daily", "--config", str(config), "--as-of", "2025-02-14", "--source", f"csv:{SW}"])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "up_to_date" in out and "delivery: 1 sent" in out
        assert "regimes 2025-02-14" not in out  # once per trading day
        (call,) = fake.sent(chat_id=1)
        assert "Differentiation alert · 2025-02-14" in call.params["text"]
        assert TOKEN not in out
    assert [r.status for r in Outbox(services.store).rows()] == ["sent"]


def test_one_drain_delivers_to_every_subscriber_once(filled: Path, tmp_path: Path) -> None:
    with FakeBotAPI() as fake:
        services = services_on(filled, tmp_path, revealed=FILLED_UNTIL, base_url=fake.base_url)
        for chat_id in range(100, 130):
            subscribe(services, chat_id, "zh" if chat_id % 2 else "en")
        run_daily(services, now=evening(FILLED_UNTIL))
        stats = drain(services, fake.base_url)
        assert stats.sent == 30 and stats.left_pending == 0
        assert sorted(c.chat_id for c in fake.sent()) == list(range(100, 130))
        assert drain(services, fake.base_url).sent == 0
