"""Per-destination ``rules:``: a destination receives only the alert rules it lists (all when the key
is left out); an unknown rule id stops the start with the key named; a rule left out is not evaluated
for that destination at all (no state, no audit log, no outbox row)."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.bot_harness import SOURCE, db, filled_db  # noqa: F401

from bot.cli.main import main
from jobs.alerting.alert_log import SPREAD_RULE, load_states, transitions
from jobs.alerting.daily import run_daily
from jobs.alerting.destinations import excluded_chats, sync_destinations
from jobs.alerting.regime_alerts import rule_id, run_regimes
from jobs.alerting.services import Services
from jobs.config.notify_settings import ALERT_RULES
from jobs.config.settings import ConfigError, parse_settings
from jobs.engine.pipeline import Engine
from jobs.regimes.repo import RegimeRepo
from jobs.regimes.types import SCENARIOS, Scenario
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

PMI = Path(__file__).resolve().parents[2] / "shared" / "data" / "cn_pmi_monthly.csv"
HOT = date(2025, 2, 14)  # spread P94; macro and the composite fire on January's PMI


def _raw(db: Path, *dests: dict[str, object]) -> dict[str, object]:
    return {
        "lang": "en",
        "data": {"source": SOURCE},
        "storage": {"path": str(db)},
        "notify": {"destinations": [{"url": f"json://127.0.0.1:9/{d['name']}", **d} for d in dests]},
    }


def test_the_known_rule_ids_are_those_the_jobs_record() -> None:
    assert set(ALERT_RULES) == {SPREAD_RULE} | {rule_id(s.value) for s in (*SCENARIOS, Scenario.COMPOSITE)}


def test_a_destination_receives_every_rule_unless_it_lists_some(tmp_path: Path) -> None:
    every, some = parse_settings(
        _raw(tmp_path / "s.db", {"name": "a"}, {"name": "b", "rules": ["composite", "regime:macro"]})
    ).notify.destinations
    assert every.rules is None and all(every.receives(r) for r in ALERT_RULES)
    assert some.rules == ("composite", "regime:macro")
    assert some.receives("composite") and not some.receives("spread")


def test_an_unknown_rule_names_the_key_and_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_settings(_raw(tmp_path / "s.db", {"name": "a"}, {"name": "b", "rules": ["spread", "xyz"]}))
    assert str(exc.value) == (
        "config error: notify.destinations[1].rules: unknown rule 'xyz' (known: spread, regime:macro, "
        "regime:heat, regime:reversal, regime:breadth, composite)"
    )
    with pytest.raises(ConfigError, match=r"notify\.destinations\[0\]\.rules: empty"):
        parse_settings(_raw(tmp_path / "s.db", {"name": "a", "rules": []}))


def test_check_config_stops_on_an_unknown_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "notify:\n  destinations:\n    - {name: desk, url: 'json://127.0.0.1:9/x', rules: [sprad]}\n",
        encoding="utf-8",
    )
    assert main(["check-config", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "notify.destinations[0].rules: unknown rule 'sprad' (known: spread," in err


def _services(db: Path, *dests: dict[str, object]) -> tuple[Services, dict[str, int]]:
    settings = parse_settings(_raw(db, *dests))
    store = Store(db)
    ids = sync_destinations(store, settings.notify)
    return Services(settings=settings, store=store, engine=Engine(settings, store), chats=ChatRepo(store)), ids


def test_a_destination_without_the_spread_rule_gets_no_spread_state_log_or_message(db: Path) -> None:
    services, ids = _services(db, {"name": "all"}, {"name": "regimes", "rules": ["composite", "regime:macro"]})
    assert excluded_chats(services.store, services.settings.notify, SPREAD_RULE) == {ids["regimes"]}
    evening = datetime(2025, 2, 14, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    result = run_daily(services, as_of=HOT, now=evening)
    assert result.outcome == "evaluated" and result.queued == 1
    assert set(load_states(services.store, SPREAD_RULE)) == {ids["all"]}
    assert [e.chat_id for e in transitions(services.store, SPREAD_RULE)] == [ids["all"]]
    (row,) = Outbox(services.store).rows()
    assert row.chat_id == ids["all"] and row.rule_id == SPREAD_RULE and "P94" in row.text


def test_regime_alerts_reach_only_the_destinations_that_list_them(db: Path) -> None:
    services, ids = _services(
        db, {"name": "spread_only", "rules": ["spread"]}, {"name": "composite_only", "rules": ["composite"]}
    )
    with PMI.open(encoding="utf-8") as f:
        points = [(date.fromisoformat(r["month"] + "-01"), float(r["pmi"])) for r in csv.DictReader(f)]
    RegimeRepo(services.store).save_series("pmi", points)
    run = run_regimes(services, HOT, fetch=False)
    assert {t.scenario for t in run.transitions} == {"macro", "composite"}
    rows = Outbox(services.store).rows()
    assert [(r.rule_id, r.chat_id) for r in rows] == [("composite", ids["composite_only"])]
    assert set(load_states(services.store, "composite")) == {ids["composite_only"]}
    assert load_states(services.store, "regime:macro") == {}


def test_destination_messages_name_no_bot_command_but_a_chats_do(db: Path) -> None:
    services, ids = _services(db, {"name": "desk", "rules": ["composite"], "lang": "zh"})
    chats = ChatRepo(services.store)
    chats.ensure(42)
    chats.update(42, subscribed=True, lang="zh")
    with PMI.open(encoding="utf-8") as f:
        points = [(date.fromisoformat(r["month"] + "-01"), float(r["pmi"])) for r in csv.DictReader(f)]
    RegimeRepo(services.store).save_series("pmi", points)
    run_regimes(services, HOT, fetch=False)
    texts = {r.chat_id: r.text for r in Outbox(services.store).rows() if r.rule_id == "composite"}
    assert "/regime" not in texts[ids["desk"]]  # WeCom has no bot to answer it
    assert "/regime" in texts[42]
