"""May a rule speak today: the one answer every rule obeys, in the live job, the regime history and the backtest.

A rule that judges a day from an input (the spread rule, a regime scenario, the composite) stays silent,
with the reason, when any of these holds, checked in this order:

* ``no_data``: the input has no value on or before the day;
* ``stale``: the input's newest value is older than ``max_age_days`` calendar days (stale from the day
  after the limit: ``stale_from``);
* ``incomplete_day``: a trading day after the input's newest one, up to the day judged, lacks closes:
  that day's spread is not known, and the one before must not stand in for it;
* ``short_history``: the percentile the rule reads ranks against fewer than ``min_history_days`` days.

The spread rule judges each stored day on that day (never stale, always complete): only the history
guard can bite there. The regime scenarios read the newest snapshot on or before the day judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Guard:
    """The limits one rule obeys."""

    min_history_days: int = 0  # the percentile it reads must rank against at least this many days
    max_age_days: int | None = None  # None: the rule judges its input's own day (nothing to go stale)


@dataclass(frozen=True)
class DayFacts:
    """What is known of a rule's input on the day judged."""

    as_of: date  # the day judged
    data_day: date | None  # the input's newest day on or before ``as_of`` (None: no data)
    history_days: int | None = None  # days the percentile ranks against (None: the rule reads no percentile)
    incomplete: tuple[date, str] | None = None  # a day in (data_day, as_of] lacking closes, and what it lacks
    name: str = "spread"  # the input, for the reason


@dataclass(frozen=True)
class Verdict:
    code: str  # ok | no_data | stale | incomplete_day | short_history
    reason: str = ""
    stale_since: date | None = None  # with ``stale``: the first day the input counted as stale

    @property
    def ok(self) -> bool:
        return self.code == "ok"


SPEAK = Verdict("ok")


def stale_from(last_date: date, max_age_days: int) -> date:
    """The first day on which an input whose newest value is of ``last_date`` is stale."""
    return last_date + timedelta(days=max_age_days + 1)


def is_stale(last_date: date | None, max_age_days: int, as_of: date) -> bool:
    return last_date is None or as_of >= stale_from(last_date, max_age_days)


def may_speak(facts: DayFacts, guard: Guard) -> Verdict:
    if facts.data_day is None:
        return Verdict("no_data", f"no {facts.name} data")
    if guard.max_age_days is not None and is_stale(facts.data_day, guard.max_age_days, facts.as_of):
        since = stale_from(facts.data_day, guard.max_age_days)
        return Verdict("stale", f"{facts.name} stale since {since} (newest {facts.data_day})", since)
    if facts.incomplete is not None:
        day, lacking = facts.incomplete
        return Verdict("incomplete_day", f"{day} is incomplete ({lacking}): its spread is not known")
    if facts.history_days is not None and facts.history_days < guard.min_history_days:
        return Verdict(
            "short_history",
            f"the {facts.name} percentile ranks against {facts.history_days} days of history, "
            f"{guard.min_history_days} needed",
        )
    return SPEAK
