"""The composite: "convergence risk" = the spread at or above its alert threshold and a scenario on.

With the spread extreme and no scenario on, the strongest remaining signal shows: watch if any
scenario is on watch, else unknown if any cannot be evaluated (a scenario that might be on), else off.
The composite obeys the spread rule's guards (``jobs.engine.guards.may_speak``): a missing or stale
spread, an incomplete day after it, or a percentile ranking against fewer than ``min_history_days``
days makes it unknown, with the reason: it never lights from old, partial or meaningless numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from jobs.engine.guards import Guard, may_speak
from jobs.regimes.types import Evidence, Freshness, Ranked, Scenario, ScenarioResult, State, silenced, spread_facts


def check_composite(
    spread: Ranked | None,
    threshold: float,
    scenarios: Sequence[ScenarioResult],
    as_of: date,
    spread_max_age_days: int = 7,
    spread_error: str | None = None,
    *,
    min_history_days: int = 0,
    incomplete: tuple[date, str] | None = None,
) -> ScenarioResult:
    """``incomplete``: a day after the spread's, up to ``as_of``, that lacks closes (and what it lacks)."""
    fresh = Freshness("spread", spread.as_of if spread else None, spread_max_age_days, spread_error)
    verdict = may_speak(spread_facts(spread, as_of, incomplete), Guard(min_history_days, spread_max_age_days))
    if spread is None or not verdict.ok:
        shown = spread_evidence(spread) if spread is not None and verdict.code == "short_history" else []
        return silenced(Scenario.COMPOSITE, verdict, fresh, evidence=shown)
    evidence = spread_evidence(spread)[:2]
    lit = [s for s in scenarios if s.state == State.ON]
    evidence += [Evidence("scenario_on", s.scenario.value, s.as_of or spread.as_of, "text") for s in lit]
    where = f"spread P{int(spread.percentile)}"
    if spread.percentile < threshold:
        return ScenarioResult(
            Scenario.COMPOSITE, State.OFF, f"{where} < P{threshold:g}", "spread_below", spread.as_of, tuple(evidence)
        )
    if lit:
        names = ", ".join(s.scenario.value for s in lit)
        why = f"{where} >= P{threshold:g} and scenario(s) on: {names}"
        return ScenarioResult(Scenario.COMPOSITE, State.ON, why, "convergence_risk", spread.as_of, tuple(evidence))
    for state, code in ((State.WATCH, "scenario_watch"), (State.UNKNOWN, "scenario_unknown")):
        hit = [s.scenario.value for s in scenarios if s.state == state]
        if hit:
            why = f"{where} >= P{threshold:g}, no scenario on; {state.value}: {', '.join(hit)}"
            return ScenarioResult(Scenario.COMPOSITE, state, why, code, spread.as_of, tuple(evidence))
    why = f"{where} >= P{threshold:g}, no scenario on"
    return ScenarioResult(Scenario.COMPOSITE, State.OFF, why, "no_scenario", spread.as_of, tuple(evidence))


def spread_evidence(spread: Ranked) -> list[Evidence]:
    return [
        Evidence("spread", spread.spread, spread.as_of, "pct"),
        Evidence("spread_pctl", spread.percentile, spread.as_of, "pctl"),
        Evidence("history_days", spread.history_days, spread.as_of, "count"),
    ]
