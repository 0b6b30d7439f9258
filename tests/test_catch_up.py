"""A catch-up after downtime does not flood subscribers: transitions of days more than
``alerts.catch_up_days`` trading days before the target are logged but not sent, each affected chat
gets one digest of them, and the recent days are sent as usual (real Shenwan data, the production bot
and the fake Bot API)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from support.alerting_support import SW, RevealingSource, drain, evening, make_services, make_settings, subscribe
from support.fakebot import FakeBotAPI

from jobs.alerting.alert_log import SPREAD_RULE, transitions
from jobs.alerting.daily import observation, params_from_settings, run_daily
from jobs.alerting.services import Services
from jobs.engine.rules import replay
from jobs.store.outbox import Outbox

pytestmark = pytest.mark.skipif(not SW.exists(), reason="shared data not present")

EN, ZH, MUTED = 1, 2, 3


def start(tmp_path: Path, first: date, base_url: str) -> tuple[Services, RevealingSource]:
    source = RevealingSource(SW, first)
    services = make_services(make_settings(tmp_path / "catch.db", base_url), source)
    subscribe(services, EN, "en")
    subscribe(services, ZH, "zh")
    subscribe(services, MUTED, "en", muted_until=date(2100, 1, 1))
    first_run = run_daily(services, now=evening(first))
    assert first_run.evaluated == (first,)
    return services, source


def expected_transitions(services: Services, first: date, target: date) -> list[tuple[date, str, int]]:
    """The rule replayed over the evaluated days, independently of the job."""
    snaps = services.store.snapshots_between(services.engine.source.name, first, target)
    _, want = replay(params_from_settings(services.settings.alerts), [observation(s) for s in snaps])
    return [(t.day, t.kind.value, t.tier) for t in want]


def logged(services: Services, chat_id: int) -> list[tuple[date, str, int]]:
    return [(e.day, e.kind, e.tier) for e in reversed(transitions(services.store, SPREAD_RULE, chat_id))]


def test_after_five_trading_days_the_late_fire_is_in_one_digest(tmp_path: Path) -> None:
    with FakeBotAPI() as fake:
        services, source = start(tmp_path, date(2024, 12, 5), fake.base_url)
        source.revealed = date(2024, 12, 12)
        caught = run_daily(services, now=evening(date(2024, 12, 12)))
        days = (date(2024, 12, 6), date(2024, 12, 9), date(2024, 12, 10), date(2024, 12, 11), date(2024, 12, 12))
        assert caught.evaluated == days
        # the spread reached P90 on 2024-12-06, four trading days before the target: logged, not sent
        for chat in (EN, ZH, MUTED):
            assert logged(services, chat) == [(date(2024, 12, 6), "fire", 1)]
            (entry,) = transitions(services.store, SPREAD_RULE, chat)
            assert not entry.queued and "digest" in entry.reason
        stats = drain(services, fake.base_url)
        assert stats.sent == 2 and stats.left_pending == 0
        (en,) = fake.sent(chat_id=EN)
        (zh,) = fake.sent(chat_id=ZH)
        assert not fake.sent(chat_id=MUTED)
        assert "While the service was down · 2024-12-06 to 2024-12-06" in en.params["text"]
        assert "2024-12-06 alert: P90 or above" in en.params["text"]
        assert "the alert was at <b>P90 or above</b> (since 2024-12-06)" in en.params["text"]
        assert "Latest data 2024-12-12" in en.params["text"]
        assert "服务中断期间" in zh.params["text"] and "2024-12-06 提醒" in zh.params["text"]
        assert {r.kind for r in Outbox(services.store).rows()} == {"digest"}


def test_after_sixteen_months_one_digest_then_only_the_recent_days(tmp_path: Path) -> None:
    first, target = date(2023, 10, 31), date(2025, 2, 28)
    with FakeBotAPI() as fake:
        services, source = start(tmp_path, first, fake.base_url)
        source.revealed = target
        caught = run_daily(services, now=evening(target))
        assert caught.outcome == "evaluated" and caught.evaluated[-1] == target
        recent_from = date(2025, 2, 25)  # three trading days before 2025-02-28
        want = expected_transitions(services, first, target)
        late = [t for t in want if t[0] < recent_from]
        recent = [t for t in want if t[0] >= recent_from]
        assert len(late) >= 8 and recent, "the data must have both late and recent transitions"
        for chat in (EN, ZH, MUTED):
            assert logged(services, chat) == want  # the audit log keeps every one of them

        stats = drain(services, fake.base_url)
        assert stats.left_pending == 0 and stats.failed == 0
        sent = fake.sent(chat_id=EN)
        assert len(sent) == 1 + len(recent), [c.params["text"][:60] for c in sent]
        digest, *rest = (c.params["text"] for c in sent)
        assert digest.startswith("🗂 <b>While the service was down")
        for day, _, _ in late:
            assert str(day) in digest
        for text, (day, _, _) in zip(rest, recent, strict=True):
            assert str(day) in text and "While the service was down" not in text
        assert len(fake.sent(chat_id=ZH)) == 1 + len(recent)
        assert not fake.sent(chat_id=MUTED)
        assert stats.sent == 2 * (1 + len(recent))
        assert sum(1 for r in Outbox(services.store).rows() if r.kind == "digest") == 2


def test_catch_up_days_is_validated() -> None:
    from jobs.config.settings import ConfigError, parse_settings

    assert parse_settings({"alerts": {"catch_up_days": 0}}, "test").alerts.catch_up_days == 0
    assert parse_settings({}, "test").alerts.catch_up_days == 3
    with pytest.raises(ConfigError, match=r"alerts\.catch_up_days"):
        parse_settings({"alerts": {"catch_up_days": -1}}, "test")
