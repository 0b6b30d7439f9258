"""Alert rules, pure: previous state + one trading day's observation -> new state + transition.

Edge-triggered with hysteresis:

* tiers: 1 = percentile >= ``enter``, 2 = >= ``high``, 3 = a new historical high of the spread
  (with ``new_high_tier``); a higher tier suppresses the lower one;
* FIRE once the tier has been >= 1 for ``consecutive_days`` trading days in a row;
* ESCALATE when, while firing, the tier exceeds every tier already announced in this episode
  (a dip back to a lower tier and up again is not news);
* REMIND every ``remind_every_days`` trading days since the last message while firing (0 = never);
* RESOLVE when the percentile falls below ``resolve`` (not merely below ``enter``).

On a day it may not speak (``jobs.engine.guards.may_speak``: the percentile ranks against fewer than
``min_history_days`` days) the rule says nothing: no episode starts, and one under way neither
resolves nor reminds. The same code drives the live daily job, per subscriber, and the backtest.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from jobs.engine.guards import DayFacts, Guard, Verdict, may_speak

if TYPE_CHECKING:
    from jobs.config.settings import AlertSettings


class Kind(enum.StrEnum):
    FIRE = "fire"
    ESCALATE = "escalate"
    REMIND = "remind"
    RESOLVE = "resolve"


TIER_NAMES = {1: "enter", 2: "high", 3: "new_high"}


@dataclass(frozen=True)
class RuleParams:
    enter: float = 90.0
    high: float = 95.0
    resolve: float = 80.0
    new_high_tier: bool = True
    consecutive_days: int = 1
    remind_every_days: int = 5
    # a percentile over a few days of history means nothing: no tier until the history is this long
    min_history_days: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.resolve < self.enter <= self.high <= 100):
            raise ValueError("expected 0 <= resolve < enter <= high <= 100")
        if self.consecutive_days < 1 or self.remind_every_days < 0 or self.min_history_days < 0:
            raise ValueError("consecutive_days >= 1, remind_every_days >= 0 and min_history_days >= 0")

    def with_threshold(self, enter: float | None) -> RuleParams:
        """A subscriber's personal entry percentile; hysteresis keeps the same gap below it."""
        if enter is None or enter == self.enter:
            return self
        gap = self.enter - self.resolve
        return replace(self, enter=enter, high=max(self.high, enter), resolve=max(0.0, enter - gap))


def params_from_settings(alerts: AlertSettings) -> RuleParams:
    """The configured alert rules, as the live job and the backtest both take them."""
    return RuleParams(
        enter=alerts.enter_percentile,
        high=alerts.high_percentile,
        resolve=alerts.resolve_percentile,
        new_high_tier=alerts.new_high_tier,
        consecutive_days=alerts.consecutive_days,
        remind_every_days=alerts.remind_every_days,
        min_history_days=alerts.min_history_days,
    )


@dataclass(frozen=True)
class Observation:
    day: date
    spread: float
    percentile: float
    new_high: bool  # the spread is the widest of its whole history so far (history rank 1)
    history_days: int | None = None  # days in the percentile's history, this one included (None: enough)


@dataclass(frozen=True)
class AlertState:
    level: int = 0  # 0 normal, else the tier currently announced-or-held
    streak: int = 0  # consecutive trading days at tier >= 1 while normal
    max_level: int = 0  # highest tier announced in this episode
    episode_start: date | None = None
    since_message: int = 0  # trading days since the last message while firing
    peak_spread: float | None = None
    peak_day: date | None = None

    @property
    def firing(self) -> bool:
        return self.level > 0


@dataclass(frozen=True)
class Transition:
    kind: Kind
    day: date
    tier: int
    previous_tier: int  # the highest tier announced in the episode before this transition (0 for FIRE)
    observation: Observation
    episode_start: date
    peak_spread: float
    peak_day: date
    reason: str  # the rule that fired, in plain words (logged and shown to admins)


def verdict(params: RuleParams, obs: Observation) -> Verdict:
    """May the rule speak on the observation's day (it judges each day on that day: never stale)."""
    return may_speak(DayFacts(obs.day, obs.day, obs.history_days), Guard(params.min_history_days))


def tier_of(params: RuleParams, obs: Observation) -> int:
    if obs.percentile < params.enter or not verdict(params, obs).ok:
        return 0
    if params.new_high_tier and obs.new_high:
        return 3
    if obs.percentile >= params.high:
        return 2
    return 1


def evaluate(params: RuleParams, state: AlertState, obs: Observation) -> tuple[AlertState, Transition | None]:
    if not verdict(params, obs).ok:
        return (state if state.firing else AlertState()), None
    tier = tier_of(params, obs)
    if not state.firing:
        streak = state.streak + 1 if tier > 0 else 0
        if tier == 0 or streak < params.consecutive_days:
            return replace(AlertState(), streak=streak), None
        new = AlertState(
            level=tier,
            streak=streak,
            max_level=tier,
            episode_start=obs.day,
            since_message=0,
            peak_spread=obs.spread,
            peak_day=obs.day,
        )
        days = f" for {streak} consecutive trading days" if params.consecutive_days > 1 else ""
        reason = f"percentile {obs.percentile:.1f} >= P{params.enter:g}{days}"
        return new, _transition(Kind.FIRE, obs, tier, 0, new, reason)

    peak_spread, peak_day = state.peak_spread, state.peak_day
    if peak_spread is None or obs.spread > peak_spread:
        peak_spread, peak_day = obs.spread, obs.day
    held = replace(state, peak_spread=peak_spread, peak_day=peak_day)

    if obs.percentile < params.resolve:
        reason = f"percentile {obs.percentile:.1f} < P{params.resolve:g} (resolve level)"
        return AlertState(), _transition(Kind.RESOLVE, obs, 0, state.max_level, held, reason)

    if tier > state.max_level:
        new = replace(held, level=tier, max_level=tier, since_message=0)
        reason = (
            "spread at a new historical high" if tier == 3 else f"percentile {obs.percentile:.1f} >= P{params.high:g}"
        )
        return new, _transition(Kind.ESCALATE, obs, tier, state.max_level, new, reason)

    level = max(tier, 1)  # between resolve and enter the episode holds at tier 1
    since = state.since_message + 1
    if params.remind_every_days and since >= params.remind_every_days:
        new = replace(held, level=level, since_message=0)
        reason = f"still at or above the resolve level after {since} trading days"
        return new, _transition(Kind.REMIND, obs, level, state.max_level, new, reason)
    return replace(held, level=level, since_message=since), None


def _transition(kind: Kind, obs: Observation, tier: int, previous: int, state: AlertState, reason: str) -> Transition:
    assert state.episode_start is not None and state.peak_spread is not None and state.peak_day is not None
    return Transition(
        kind=kind,
        day=obs.day,
        tier=tier,
        previous_tier=previous,
        observation=obs,
        episode_start=state.episode_start,
        peak_spread=state.peak_spread,
        peak_day=state.peak_day,
        reason=reason,
    )


def replay(
    params: RuleParams, observations: Iterable[Observation], state: AlertState | None = None
) -> tuple[AlertState, list[Transition]]:
    """Run the rules over consecutive trading days; returns the final state and every transition."""
    current = state or AlertState()
    out: list[Transition] = []
    for obs in observations:
        current, transition = evaluate(params, current, obs)
        if transition is not None:
            out.append(transition)
    return current, out
