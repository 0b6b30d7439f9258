"""The backtest's episodes against the regime history: which scenarios were lit, and did it matter.

For each episode: the state of every scenario (and the composite) on the firing day, the peak day and
the resolve day (None while open), and the first day within the episode (firing day up to, not
including, the resolve day; to the last day while open) on which each turned on. The summary splits
the episodes by the composite's state at firing, on versus not on (off, watch or unknown), and
compares how the spread moved in the following three months.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from jobs.config.settings import Settings
from jobs.engine.backtest import HIT_HORIZON, BacktestResult, Episode
from jobs.regimes.file_inputs import FileInputs
from jobs.regimes.history import ALL, InputNote, RegimeHistory, build_history
from jobs.regimes.types import State
from jobs.store.datastore import Store


@dataclass(frozen=True)
class EpisodeScenarios:
    at_fire: dict[str, State]
    at_peak: dict[str, State]
    at_resolve: dict[str, State] | None
    first_on: dict[str, date | None]

    def lit(self) -> list[str]:
        """The scenarios (not the composite) that were on at some day of the episode."""
        return [s for s, d in self.first_on.items() if d is not None and s != "composite"]

    def to_json(self) -> dict[str, Any]:
        def states(m: dict[str, State] | None) -> dict[str, str] | None:
            return None if m is None else {k: v.value for k, v in m.items()}

        return {
            "at_fire": states(self.at_fire),
            "at_peak": states(self.at_peak),
            "at_resolve": states(self.at_resolve),
            "first_on": {k: v.isoformat() if v else None for k, v in self.first_on.items()},
        }


@dataclass(frozen=True)
class Group:
    """Episodes with the composite on (or not) at firing, and their spread three months later."""

    episodes: int
    evaluated: int  # with a three-month figure
    hits: int  # spread lower three months later
    median_spread_change: float | None

    @property
    def hit_rate(self) -> float | None:
        return None if self.evaluated == 0 else self.hits / self.evaluated * 100.0

    def to_json(self) -> dict[str, Any]:
        rate = self.hit_rate
        change = self.median_spread_change
        return {
            "episodes": self.episodes,
            "evaluated": self.evaluated,
            "hits": self.hits,
            "hit_rate": None if rate is None else round(rate, 2),
            "median_spread_change": None if change is None else round(change, 4),
        }


@dataclass(frozen=True)
class BacktestRegimes:
    episodes: tuple[EpisodeScenarios, ...]  # aligned with the backtest's episodes
    composite_on: Group
    composite_not_on: Group
    horizon: int = HIT_HORIZON
    notes: tuple[InputNote, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "horizon_months": self.horizon,
            "composite_on_at_fire": self.composite_on.to_json(),
            "composite_not_on_at_fire": self.composite_not_on.to_json(),
            "notes": [str(n) for n in self.notes],
        }


def _states(history: RegimeHistory, day: date | None) -> dict[str, State] | None:
    if day is None:
        return None
    d = history.at(day)
    if d is None:
        return {s.value: State.UNKNOWN for s in ALL}
    return {s.value: d.state(s) for s in ALL}


def episode_scenarios(history: RegimeHistory, episode: Episode) -> EpisodeScenarios:
    at_fire = _states(history, episode.start)
    at_peak = _states(history, episode.peak_day)
    assert at_fire is not None and at_peak is not None
    inside = [d for d in history.days if d.day >= episode.start and (episode.end is None or d.day < episode.end)]
    first_on: dict[str, date | None] = {}
    for s in ALL:
        first_on[s.value] = next((d.day for d in inside if d.state(s) == State.ON), None)
    return EpisodeScenarios(at_fire, at_peak, _states(history, episode.end), first_on)


def _group(episodes: Sequence[Episode]) -> Group:
    changes = [f.spread_change for e in episodes if (f := e.forward(HIT_HORIZON)) and f.spread_change is not None]
    return Group(
        episodes=len(episodes),
        evaluated=len(changes),
        hits=sum(1 for c in changes if c < 0),
        median_spread_change=float(statistics.median(changes)) if changes else None,
    )


def with_regimes(result: BacktestResult, history: RegimeHistory) -> BacktestResult:
    """The backtest with each episode's scenarios and the composite on/off comparison."""
    per = tuple(episode_scenarios(history, e) for e in result.episodes)
    on = [e for e, s in zip(result.episodes, per, strict=True) if s.at_fire["composite"] == State.ON]
    off = [e for e, s in zip(result.episodes, per, strict=True) if s.at_fire["composite"] != State.ON]
    regimes = BacktestRegimes(per, _group(on), _group(off), notes=history.notes)
    return dataclasses.replace(result, regimes=regimes)


def attach_regimes(
    store: Store,
    settings: Settings,
    source: str,
    result: BacktestResult,
    start: date | None,
    end: date | None,
    files: FileInputs | None = None,
) -> BacktestResult:
    """The backtest with the regime history of the same days (each day as of itself)."""
    return with_regimes(result, build_history(store, settings, source, start, end, files))
