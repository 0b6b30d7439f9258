"""The composite: "convergence risk" = the spread at or above its alert threshold and a scenario on.

With the spread extreme and no scenario on, the strongest remaining signal shows: watch if any
scenario is on watch, else unknown if any cannot be evaluated (a scenario that might be on), else off.
A stale or missing spread makes the composite unknown: it never lights from old numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from jobs.regimes.types import Evidence, Freshness, Ranked, Scenario, ScenarioResult, State, unknown


def check_composite(
    spread: Ranked | None,
    threshold: float,
    scenarios: Sequence[ScenarioResult],
    as_of: date,
    spread_max_age_days: int = 7,
    spread_error: str | None = None,
) -> ScenarioResult:
    fresh = Freshness("spread", spread.as_of if spread else None, spread_max_age_days, spread_error)
    if spread is None or fresh.stale(as_of):
        return unknown(Scenario.COMPOSITE, fresh)
    evidence = [
        Evidence("spread", spread.spread, spread.as_of, "pct"),
        Evidence("spread_pctl", spread.percentile, spread.as_of, "pctl"),
    ]
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
