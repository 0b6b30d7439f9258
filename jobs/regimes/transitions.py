"""Which scenario changes are news, pure: previous known states + today's results -> transitions.

Only *known* states count: ``unknown`` (an input failed or went stale) neither fires nor resolves;
the last known state holds until the data says otherwise, so a flaky feed cannot make an alert
flap. Every change of known state is a transition (audited); alerts go out for FIRE (to on) and
RESOLVE (from on to off or watch), once each.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from jobs.regimes.types import ScenarioResult, State


class Change(enum.StrEnum):
    FIRE = "fire"
    RESOLVE = "resolve"
    MOVE = "move"  # between off and watch: stored, not announced


@dataclass(frozen=True)
class Known:
    state: State
    since: date


@dataclass(frozen=True)
class Transition:
    scenario: str
    day: date
    old: State
    new: State
    change: Change
    result: ScenarioResult


def detect(
    previous: Mapping[str, Known], results: Sequence[ScenarioResult], day: date
) -> tuple[dict[str, Known], list[Transition]]:
    """New known states by scenario name and the transitions to them."""
    known = dict(previous)
    out: list[Transition] = []
    for r in results:
        name = r.scenario.value
        if r.state == State.UNKNOWN:
            continue
        before = previous.get(name)
        old = before.state if before else State.OFF
        if before is not None and before.state == r.state:
            continue
        known[name] = Known(r.state, day)
        if before is None and r.state == State.OFF:
            continue  # first evaluation of a quiet scenario: nothing happened
        if r.state == State.ON:
            change = Change.FIRE
        elif old == State.ON:
            change = Change.RESOLVE
        else:
            change = Change.MOVE
        out.append(Transition(name, day, old, r.state, change, r))
    return known, out
