"""The typed result every regime check returns."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import numpy as np

from jobs.engine.guards import DayFacts, Verdict, is_stale, stale_from
from jobs.model.figures import IndustryGain


class State(enum.StrEnum):
    OFF = "off"
    WATCH = "watch"
    ON = "on"
    UNKNOWN = "unknown"  # an input failed or is stale: never treated as on


# order used when several signals combine: the strongest *known* signal wins, unknown beats off
_RANK = {State.OFF: 0, State.UNKNOWN: 1, State.WATCH: 2, State.ON: 3}


def strongest(states: list[State]) -> State:
    return max(states, key=_RANK.__getitem__, default=State.OFF)


class Scenario(enum.StrEnum):
    MACRO = "macro"
    HEAT = "heat"
    REVERSAL = "reversal"
    BREADTH = "breadth"
    COMPOSITE = "composite"


SCENARIOS = (Scenario.MACRO, Scenario.HEAT, Scenario.REVERSAL, Scenario.BREADTH)


@dataclass(frozen=True)
class Evidence:
    """One number behind a state, with the date it is for.

    ``key`` names the quantity (templates translate it); ``unit`` says how to format it: index, pct
    (percent), points (percentage points), pctl (a percentile), count, yuan, text.
    """

    key: str
    value: float | str
    on: date
    unit: str = "index"
    label: str = ""  # a name the data carries (a board, an event's text), shown as is
    monthly: bool = False  # ``on`` is the first day of the reference month of a monthly series

    @property
    def when(self) -> str:
        return self.on.strftime("%Y-%m") if self.monthly else self.on.isoformat()

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "on": self.when, "unit": self.unit, "label": self.label}


@dataclass(frozen=True)
class Freshness:
    """How recent an input is: its newest value's date and how long that may be trusted."""

    name: str
    last_date: date | None
    max_age_days: int
    error: str | None = None  # the last fetch failed with this (the data may still be usable)

    def stale(self, as_of: date) -> bool:
        return is_stale(self.last_date, self.max_age_days, as_of)

    @property
    def stale_from(self) -> date | None:
        """The first day this input counts as stale (its newest date plus ``max_age_days``, plus one)."""
        return None if self.last_date is None else stale_from(self.last_date, self.max_age_days)

    def to_json(self, as_of: date) -> dict[str, Any]:
        return {
            "name": self.name,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "max_age_days": self.max_age_days,
            "stale": self.stale(as_of),
            "error": self.error,
        }


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    state: State
    reason: str  # one line, for logs, the CLI and audit rows
    code: str  # machine form of the reason; templates phrase it in each language
    as_of: date | None  # date of the newest input the state was computed from
    evidence: tuple[Evidence, ...] = ()
    # set when the state is unknown because an input is stale: the first day it counted as stale (``as_of``
    # is then that input's newest date)
    stale_since: date | None = None
    inputs: tuple[Freshness, ...] = field(default=())

    def to_json(self, as_of: date) -> dict[str, Any]:
        return {
            "scenario": self.scenario.value,
            "state": self.state.value,
            "reason": self.reason,
            "code": self.code,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "stale_since": self.stale_since.isoformat() if self.stale_since else None,
            "evidence": [e.to_json() for e in self.evidence],
            "inputs": [f.to_json(as_of) for f in self.inputs],
        }


def unknown(scenario: Scenario, fresh: Freshness, *inputs: Freshness) -> ScenarioResult:
    """The result for a scenario whose required input is missing or stale."""
    if fresh.last_date is None:
        why = f"no {fresh.name} data" + (f" ({fresh.error})" if fresh.error else "")
        code = "no_data"
    else:
        why = f"{fresh.name} stale since {fresh.stale_from} (newest {fresh.last_date})" + (
            f" ({fresh.error})" if fresh.error else ""
        )
        code = "stale"
    return ScenarioResult(
        scenario=scenario,
        state=State.UNKNOWN,
        reason=why,
        code=code,
        as_of=fresh.last_date,
        stale_since=fresh.stale_from,
        inputs=inputs or (fresh,),
    )


def silenced(
    scenario: Scenario,
    verdict: Verdict,
    fresh: Freshness,
    *inputs: Freshness,
    evidence: Sequence[Evidence] = (),
) -> ScenarioResult:
    """The result for a scenario that may not speak today (``jobs.engine.guards.may_speak`` said why)."""
    if verdict.code in ("no_data", "stale"):
        return unknown(scenario, fresh, *inputs)
    return ScenarioResult(
        scenario=scenario,
        state=State.UNKNOWN,
        reason=verdict.reason,
        code=verdict.code,
        as_of=fresh.last_date,
        evidence=tuple(evidence),
        inputs=inputs or (fresh,),
    )


def percentile_of_last(values: Sequence[float] | np.ndarray) -> float:
    """Share of values (the last included) that are <= the last one, 0-100 (the spread's definition)."""
    arr = np.asarray(values, dtype=float)
    return 100.0 * int(np.count_nonzero(arr <= arr[-1])) / len(arr)


class Ranked(Protocol):
    """What the scenarios read of a day's spread snapshot: ``jobs.model.figures.Snapshot`` has it all, and the
    regime history loads only this much of thousands of days (``RegimeRepo.rankings``)."""

    @property
    def as_of(self) -> date: ...

    @property
    def spread(self) -> float: ...

    @property
    def percentile(self) -> float: ...

    @property
    def history_days(self) -> int: ...  # days the percentile ranks against, this one included

    @property
    def top(self) -> tuple[IndustryGain, ...]: ...

    @property
    def bottom(self) -> tuple[IndustryGain, ...]: ...


@dataclass(frozen=True)
class Ranking:
    """A stored snapshot's day, spread, percentile (and its history's length) and its top and bottom K
    (lowest gain first)."""

    as_of: date
    spread: float
    percentile: float
    history_days: int
    top: tuple[IndustryGain, ...]
    bottom: tuple[IndustryGain, ...]


def spread_facts(
    spread: Ranked | None, as_of: date, incomplete: tuple[date, str] | None = None, *, percentile: bool = True
) -> DayFacts:
    """What ``jobs.engine.guards.may_speak`` judges of the spread snapshot a check reads on ``as_of`` (the
    newest on or before it); ``percentile=False`` for a check that reads its top five, not its percentile."""
    if spread is None:
        return DayFacts(as_of, None)
    return DayFacts(as_of, spread.as_of, spread.history_days if percentile else None, incomplete)
