"""Sample contexts of the regime templates for ``test_templates.py`` (merged into ``SAMPLE_CONTEXTS``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from jobs.regimes.macro import PolicyEvent
from jobs.regimes.service import RegimeReport
from jobs.regimes.transitions import Change, Transition
from jobs.regimes.types import Evidence, Freshness, Scenario, ScenarioResult, State

EVIL = "<b>R&D</b>"
DAY = date(2025, 2, 14)


def results() -> tuple[ScenarioResult, ...]:
    macro = ScenarioResult(
        Scenario.MACRO,
        State.ON,
        "policy",
        "policy_event",
        DAY,
        (Evidence("event", EVIL, DAY, "text", "#3"), Evidence("pmi", 49.1, date(2025, 1, 1), "index", monthly=True)),
        inputs=(Freshness("pmi", date(2025, 1, 31), 45, EVIL),),
    )
    heat = ScenarioResult(
        Scenario.HEAT,
        State.UNKNOWN,
        "stale",
        "stale",
        date(2025, 1, 2),
        stale_since=date(2025, 1, 2),
        inputs=(Freshness("analysis", date(2025, 1, 2), 7, EVIL),),
    )
    reversal = ScenarioResult(
        Scenario.REVERSAL,
        State.WATCH,
        "slowing",
        "leaders_slowing",
        DAY,
        (
            Evidence("relative", -3.4, DAY, "points"),
            Evidence("top_return", -1.2, DAY, "pct", f"{EVIL}, 传媒"),
            Evidence("bottom_return", 2.2, DAY, "pct", "煤炭, 银行"),
            Evidence("window_start", "2025-01-16", date(2025, 1, 16), "text"),
            Evidence("spread_pctl", 93.6, DAY, "pctl"),
        ),
    )
    breadth = ScenarioResult(
        Scenario.BREADTH,
        State.OFF,
        "quiet",
        "quiet",
        DAY,
        (
            Evidence("board_share", 6.7, DAY, "pct", EVIL),
            Evidence("board_count", 231, DAY, "count", EVIL),
            Evidence("count_change_1w", 12, date(2025, 2, 7), "count", EVIL),
        ),
    )
    return macro, heat, reversal, breadth


def report() -> RegimeReport:
    composite = ScenarioResult(
        Scenario.COMPOSITE,
        State.ON,
        "risk",
        "convergence_risk",
        DAY,
        (Evidence("spread_pctl", 93.6, DAY, "pctl"), Evidence("scenario_on", "macro", DAY, "text")),
    )
    return RegimeReport(DAY, results(), composite, (PolicyEvent(3, DAY, EVIL, EVIL),), {"macro": DAY})


def transition(change: Change) -> dict[str, Any]:
    r = results()[0]
    old, new = (State.OFF, State.ON) if change == Change.FIRE else (State.ON, State.WATCH)
    t = Transition("macro", DAY, old, new, change, r)
    return {"t": t, "result": r, "report": report(), "bot_commands": True}


def history_ctx() -> dict[str, Any]:
    from jobs.regimes.history import HistoryDay, InputNote, RegimeHistory, history_context

    r = report()
    days = tuple(HistoryDay(DAY.replace(day=d), 54.0, 93.6, (*r.scenarios, r.composite)) for d in (12, 13, 14))
    notes = (
        InputNote("gap", f"{EVIL}.csv", date(2014, 2, 21), date(2021, 12, 12)),
        InputNote("starts", f"{EVIL}.csv", date(2021, 12, 13)),
        InputNote("pmi_starts", first=date(2008, 1, 1)),
        InputNote("no_pmi"),
        InputNote("no_heat"),
    )
    return history_context(RegimeHistory(days, notes), f"CSV {EVIL}", synthetic=True)


REGIME_CONTEXTS: dict[str, Callable[[], dict[str, Any]]] = {
    "regime_history": history_ctx,
    "regime_history_caption": history_ctx,
    "regime": lambda: {"report": report(), "synthetic": True},
    # the dashboard's Scenarios page: one scenario (breadth shows a board's name, EVIL) and since when
    "webapp_scenario": lambda: {"r": results()[3], "since": DAY},
    "regime_fire": lambda: transition(Change.FIRE),
    "regime_resolve": lambda: transition(Change.RESOLVE),
    "event_added": lambda: {"event": PolicyEvent(7, DAY, EVIL, "admin"), "until": date(2025, 3, 15)},
    "event_deleted": lambda: {"event_id": 7, "found": False},
    "event_usage": lambda: {"max_len": 300},
    "event_too_long": lambda: {"length": 5000, "max_len": 300},
    "event_unsafe": lambda: {"chars": ["U+001B", "U+202E"]},
}

REGIME_STATIC_KINDS = {"event_deleted", "event_usage", "event_too_long", "event_unsafe"}
