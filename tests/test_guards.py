"""The guards every rule obeys (``jobs.engine.guards.may_speak``): minimum history, complete day, stale input.

Each rule is fed a short history and stays silent with the reason; then a real short history (the
Shenwan closes from 2024-06-01 only, with the shared PMI and turnover files) goes through the three
paths: the live job (``run-daily``), the regime history and the backtest.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support.bot_harness import SOURCE, filled_db  # noqa: F401

from bot.cli.main import main
from jobs.config.regime_settings import ReversalSettings
from jobs.config.settings import Settings, parse_settings
from jobs.engine.backtest import load_backtest
from jobs.engine.guards import DayFacts, Guard, may_speak
from jobs.engine.rules import AlertState, Observation, RuleParams, evaluate, params_from_settings
from jobs.model.figures import IndustryGain, Snapshot
from jobs.regimes.composite import check_composite
from jobs.regimes.episodes import with_regimes
from jobs.regimes.history import build_history
from jobs.regimes.repo import RegimeRepo
from jobs.regimes.reversal import check_reversal
from jobs.regimes.service import stored_report
from jobs.regimes.types import Scenario, ScenarioResult, State
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SW, PMI, AMOUNT = DATA / "sw_l1_daily.csv", DATA / "cn_pmi_monthly.csv", DATA / "sw_l1_amount_daily.csv"
real_data = pytest.mark.skipif(not all(p.exists() for p in (SW, PMI, AMOUNT)), reason="shared data absent")

DAY = date(2025, 2, 14)
TOP = [f"T{i}" for i in range(5)]
BOTTOM = [f"B{i}" for i in range(5)]


def snap(day: date, percentile: float, history_days: int, top: list[str] = TOP, bottom: list[str] = BOTTOM) -> Snapshot:
    gains = tuple(IndustryGain(c, f"n{c}", 50.0 - i, i + 1) for i, c in enumerate(top + bottom))
    return Snapshot(
        as_of=day, base_date=day - timedelta(days=182), spread=40.0, percentile=percentile, top_avg=50.0,
        bottom_avg=10.0, top=gains[:5], bottom=tuple(reversed(gains[5:])), gains=gains, n_ranked=10,
        history_days=history_days, history_rank=5, window="6M", k=5,
    )  # fmt: skip


def on(scenario: Scenario) -> ScenarioResult:
    return ScenarioResult(scenario, State.ON, "r", "c", DAY)


# -- the one verdict ---------------------------------------------------------------------------------
def test_the_verdict_names_the_first_guard_that_fails() -> None:
    guard = Guard(min_history_days=250, max_age_days=7)
    assert may_speak(DayFacts(DAY, None, 10), guard).code == "no_data"
    stale = may_speak(DayFacts(DAY, DAY - timedelta(days=8), 10), guard)
    assert stale.code == "stale" and stale.stale_since == DAY  # newest + 7 days, plus one
    gap = may_speak(DayFacts(DAY, DAY - timedelta(days=1), 10, (DAY, "lacks 通信")), guard)
    assert gap.code == "incomplete_day" and "lacks 通信" in gap.reason
    short = may_speak(DayFacts(DAY, DAY, 47), guard)
    assert short.code == "short_history" and "47 days of history, 250 needed" in short.reason
    assert may_speak(DayFacts(DAY, DAY, 250), guard).ok
    assert may_speak(DayFacts(DAY, DAY, None), guard).ok  # a rule that reads no percentile


# -- each rule on a short history ----------------------------------------------------------------------
def test_the_spread_rule_neither_fires_nor_resolves_while_it_may_not_speak() -> None:
    params = RuleParams(min_history_days=250, remind_every_days=1)
    assert evaluate(params, AlertState(), Observation(DAY, 40.0, 99.0, True, history_days=249)) == (AlertState(), None)
    state, fired = evaluate(params, AlertState(), Observation(DAY, 40.0, 99.0, True, history_days=250))
    assert fired is not None and state.firing
    # a day it may not speak (a percentile over a shorter history, e.g. a changed history start) is no news
    later = DAY + timedelta(days=1)
    assert evaluate(params, state, Observation(later, 10.0, 5.0, False, history_days=10)) == (state, None)


def test_the_composite_is_unknown_on_a_short_history() -> None:
    scenarios = [on(Scenario.MACRO)]
    short = check_composite(snap(DAY, 97.0, 47), 90.0, scenarios, DAY, min_history_days=250)
    assert short.state == State.UNKNOWN and short.code == "short_history"
    assert "47 days of history, 250 needed" in short.reason
    assert {e.key: e.value for e in short.evidence} == {"spread": 40.0, "spread_pctl": 97.0, "history_days": 47}
    assert check_composite(snap(DAY, 97.0, 249), 90.0, scenarios, DAY, min_history_days=250).state == State.UNKNOWN
    assert check_composite(snap(DAY, 97.0, 250), 90.0, scenarios, DAY, min_history_days=250).state == State.ON
    # a low percentile over a short history means as little as a high one
    assert check_composite(snap(DAY, 5.0, 47), 90.0, scenarios, DAY, min_history_days=250).state == State.UNKNOWN


def test_the_composite_waits_for_an_incomplete_day() -> None:
    friday = snap(DAY, 97.0, 1000)
    monday = DAY + timedelta(days=3)
    r = check_composite(friday, 90.0, [on(Scenario.MACRO)], monday, incomplete=(monday, "lacks 通信"))
    assert r.state == State.UNKNOWN and r.code == "incomplete_day" and "lacks 通信" in r.reason
    assert check_composite(friday, 90.0, [on(Scenario.MACRO)], monday).state == State.ON


def reversal_data(history_days: int) -> tuple[pd.DataFrame, list[Snapshot]]:
    """21 trading days in which the leaders lose 10% against flat laggards, the spread at P95."""
    days = [d.date() for d in pd.bdate_range("2025-01-02", periods=21)]
    closes = pd.DataFrame(100.0, index=pd.DatetimeIndex([pd.Timestamp(d) for d in days]), columns=TOP + BOTTOM)
    closes.iloc[-1, :5] = 90.0
    return closes, [snap(d, 95.0, history_days - len(days) + 1 + i) for i, d in enumerate(days)]


def test_the_reversal_is_unknown_on_a_short_history() -> None:
    params = ReversalSettings(n_days=20, x_points=5.0, watch_points=2.5)
    closes, snaps = reversal_data(249)
    last = snaps[-1].as_of
    r = check_reversal(closes, snaps, params, 90.0, last, min_history_days=250)
    assert r.state == State.UNKNOWN and r.code == "short_history"
    closes, snaps = reversal_data(250)
    assert check_reversal(closes, snaps, params, 90.0, last, min_history_days=250).state == State.ON


# -- a real short history, through the three paths ---------------------------------------------------------
def short_settings(tmp: Path) -> tuple[Settings, Path]:
    """Shenwan closes from 2024-06-01 to 2025-02-14 only, with the shared PMI and turnover files."""
    short = tmp / "sw_short.csv"
    with SW.open(encoding="utf-8") as src, short.open("w", encoding="utf-8", newline="") as dst:
        reader = csv.reader(src)
        writer = csv.writer(dst, lineterminator="\n")
        writer.writerow(next(reader))
        writer.writerows(r for r in reader if "2024-06-01" <= r[0] <= "2025-02-14")
    raw = {
        "data": {"source": f"csv:{short}"},
        "storage": {"path": str(tmp / "short.db")},
        "regimes": {"inputs": {"pmi": f"csv:{PMI}", "amount": f"csv:{AMOUNT}"}},
    }
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return parse_settings(raw), config


@real_data
def test_a_short_history_lights_no_composite_anywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    settings, config = short_settings(tmp_path)
    store = Store(settings.storage.path)
    chats = ChatRepo(store)
    chats.ensure(7)
    chats.update(7, subscribed=True, lang="en")

    # the live job (no bot token: what it queued stays pending, exit 3)
    assert main(["run-daily", "--config", str(config), "--as-of", "2025-02-14"]) == 3
    capsys.readouterr()
    source = settings.data.source
    today = store.snapshot(source, DAY)
    assert today is not None and today.as_of == DAY and today.history_days == 47 and today.percentile > 90
    fired = {r.rule_id for r in Outbox(store).rows() if r.kind == "fire"}
    # the PMI and the turnover share have long histories of their own: macro and heat may speak
    assert fired == {"regime:macro", "regime:heat"}
    report = stored_report(store)
    assert report is not None
    assert report.composite.state == State.UNKNOWN and report.composite.code == "short_history"
    reversal = next(r for r in report.scenarios if r.scenario == Scenario.REVERSAL)
    assert reversal.state == State.UNKNOWN and reversal.code == "short_history"
    assert "composite" not in RegimeRepo(store).known_states()

    # the regime history: the same answer on its last day, and on every day before
    history = build_history(store, settings, source)
    assert history.last == DAY
    assert {d.result(Scenario.COMPOSITE).code for d in history.days} == {"short_history"}
    assert {d.result(Scenario.REVERSAL).code for d in history.days} == {"short_history"}
    assert history.days[-1].result(Scenario.COMPOSITE) == report.composite

    # the backtest: no spread episode, and the composite never on
    result = with_regimes(load_backtest(store, source, params_from_settings(settings.alerts)), history)
    assert result.episodes == ()
    assert history.days_in(State.ON, Scenario.COMPOSITE) == 0

    # and the message says why
    assert main(["regime", "--config", str(config), "--as-of", "2025-02-14", "--no-refresh", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Convergence risk: unknown (not enough history yet)" in out
    assert "trading days in its history 47" in out


@real_data
def test_the_whole_history_counts_no_composite_day_over_a_short_history(filled_db: Path) -> None:  # noqa: F811
    settings = parse_settings(
        {
            "data": {"source": SOURCE},
            "storage": {"path": str(filled_db)},
            "regimes": {"inputs": {"pmi": f"csv:{PMI}", "amount": f"csv:{AMOUNT}"}},
        }
    )
    store = Store(filled_db)
    history = build_history(store, settings, SOURCE)
    ranks = {r.as_of: r.history_days for r in RegimeRepo(store).rankings(SOURCE, date.min, date.max)}
    young = [d for d in history.days if ranks[d.day] < settings.alerts.min_history_days]
    assert young and young[-1].day.year == 2011
    for d in young:
        assert d.result(Scenario.COMPOSITE).code == "short_history", d.day
        assert d.result(Scenario.REVERSAL).code == "short_history", d.day
    # the composite was on 2010-08-17/18, 2010-11-01/02 and 2011-01-12/13 over 30-130 days: no more
    for day in (date(2010, 8, 17), date(2010, 11, 2), date(2011, 1, 13)):
        assert history.at(day).state(Scenario.COMPOSITE) == State.UNKNOWN  # type: ignore[union-attr]
    first_on = history.on_runs(Scenario.COMPOSITE)[0].start
    assert first_on == date(2013, 5, 6) and ranks[first_on] >= 250
    stats = {s["scenario"]: s for s in history.stats()}
    assert stats["composite"]["on"] == sum(1 for d in history.days if d.state(Scenario.COMPOSITE) == State.ON)
