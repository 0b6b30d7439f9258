"""Scenario and composite transitions through the alert bookkeeping and the outbox, on the real store.

2025-02-14: the spread is at P94 and January's PMI (49.1) fell below 50 after 50.1 → macro and the
composite fire. 2025-03-31: March's PMI is 50.5 and the spread is back at P33 → both resolve.
Each subscriber gets each message once, in its language; a muted chat gets none; a re-run or a crash
between the outbox and the state commit sends nothing twice.
"""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from support.bot_harness import SOURCE, db, filled_db  # noqa: F401

from jobs.alerting.regime_alerts import run_regimes
from jobs.alerting.services import Services
from jobs.config.settings import parse_settings
from jobs.engine.pipeline import Engine
from jobs.regimes.repo import RegimeRepo
from jobs.regimes.service import RegimeReport, update_regimes
from jobs.regimes.transitions import Change, Transition
from jobs.regimes.types import State
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

PMI = Path(__file__).resolve().parents[2] / "shared" / "data" / "cn_pmi_monthly.csv"
HOT, COOL = date(2025, 2, 14), date(2025, 3, 31)
EN, ZH, MUTED = 11, 12, 13


@pytest.fixture
def services(db: Path) -> Services:
    settings = parse_settings({"lang": "zh", "data": {"source": SOURCE}, "storage": {"path": str(db)}})
    store = Store(db)
    chats = ChatRepo(store)
    for chat_id, lang in ((EN, "en"), (ZH, "zh"), (MUTED, "en")):
        chats.ensure(chat_id)
        chats.update(chat_id, subscribed=True, lang=lang)
    chats.update(MUTED, muted_until=date(2025, 12, 31))
    with PMI.open(encoding="utf-8") as f:
        points = [(date.fromisoformat(r["month"] + "-01"), float(r["pmi"])) for r in csv.DictReader(f)]
    RegimeRepo(store).save_series("pmi", points)
    return Services(settings=settings, store=store, engine=Engine(settings, store), chats=chats)


def sent_keys(services: Services) -> list[tuple[str, str, int, str]]:
    return sorted((r.rule_id, r.kind, r.chat_id, r.day.isoformat()) for r in Outbox(services.store).rows())


def test_fire_and_resolve_once_per_subscriber(services: Services) -> None:
    run = run_regimes(services, HOT, fetch=False)
    changes = {(t.scenario, t.change) for t in run.transitions}
    assert changes == {("macro", Change.FIRE), ("composite", Change.FIRE)}
    assert run.queued == 4
    assert sent_keys(services) == sorted(
        (rule, "fire", chat, "2025-02-14") for rule in ("regime:macro", "composite") for chat in (EN, ZH)
    )
    rows = {(r.rule_id, r.chat_id): r.text for r in Outbox(services.store).rows()}
    assert "Manufacturing PMI 49.1 <i>(2025-01)</i>" in rows[("regime:macro", EN)]
    assert "制造业PMI 49.1" in rows[("regime:macro", ZH)]
    assert "Convergence risk: ON · 2025-02-14" in rows[("composite", EN)]
    assert "P94" in rows[("composite", EN)]

    # a second run of the same day: no transition, nothing queued
    again = run_regimes(services, HOT, fetch=False)
    assert again.transitions == () and len(Outbox(services.store).rows()) == 4

    cool = run_regimes(services, COOL, fetch=False)
    assert {(t.scenario, t.change, t.new) for t in cool.transitions} == {
        ("macro", Change.RESOLVE, State.OFF),
        ("composite", Change.RESOLVE, State.OFF),
    }
    resolved = [r for r in Outbox(services.store).rows() if r.kind == "resolve"]
    assert sorted((r.rule_id, r.chat_id) for r in resolved) == sorted(
        (rule, chat) for rule in ("regime:macro", "composite") for chat in (EN, ZH)
    )
    assert all(r.chat_id != MUTED for r in Outbox(services.store).rows())
    # the muted chat's transitions are in the audit log, marked as not sent
    log = services.store.connect().execute("SELECT reason FROM alert_log WHERE chat_id = ?", (MUTED,)).fetchall()
    assert len(log) == 4 and all("muted" in r[0] for r in log)


def test_crash_between_outbox_and_state_commit_sends_nothing_twice(services: Services) -> None:
    from jobs.alerting import regime_alerts

    class Crash(Exception):
        pass

    def enqueue_then_die(report: RegimeReport, transitions: Sequence[Transition]) -> None:
        from jobs.rendering.messages import render, split_message

        regime_alerts._queue_alerts(services, report, transitions, HOT, render, split_message)
        raise Crash

    with pytest.raises(Crash):
        update_regimes(services.store, services.settings, SOURCE, HOT, enqueue_then_die)
    assert len(Outbox(services.store).rows()) == 4
    assert RegimeRepo(services.store).known_states() == {}  # the states were not stored

    run = run_regimes(services, HOT, fetch=False)  # the restarted job sees the same transitions
    assert len(run.transitions) == 2 and run.queued == 0
    assert len(Outbox(services.store).rows()) == 4
    assert RegimeRepo(services.store).known_states()["composite"].state == State.ON


def test_alerts_off_records_states_but_queues_nothing(services: Services) -> None:
    raw = services.settings.model_dump()
    raw["regimes"]["alerts"] = False
    quiet = Services(settings=parse_settings(raw), store=services.store, engine=services.engine, chats=services.chats)
    run = run_regimes(quiet, HOT, fetch=False)
    assert len(run.transitions) == 2 and run.queued == 0
    assert Outbox(services.store).rows() == []


def test_the_regimes_follow_the_daily_job_once_per_day(services: Services) -> None:
    from jobs.alerting.daily import last_evaluated_key
    from jobs.alerting.regime_alerts import evaluated_key, run_regimes_if_due

    key = last_evaluated_key(SOURCE)
    assert run_regimes_if_due(services, key) is None  # the daily job has evaluated nothing yet
    services.store.set_meta(key, HOT.isoformat())
    first = run_regimes_if_due(services, key)
    assert first is not None and first.report.as_of == HOT and first.queued == 4
    assert services.store.get_meta(evaluated_key(SOURCE)) == HOT.isoformat()
    assert run_regimes_if_due(services, key) is None  # once per day
    services.store.set_meta(key, COOL.isoformat())
    later = run_regimes_if_due(services, key)
    assert later is not None and {t.change for t in later.transitions} == {Change.RESOLVE}
