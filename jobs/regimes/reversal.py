"""Scenario 3, prosperity / reversal: the leaders losing momentum while the spread is extreme.

The leaders and laggards are the top and bottom five of the trading day ``n_days`` rows before the
latest one (not of today: today's top five are partly chosen *by* their recent run, which would hide a
reversal). Over those ``n_days`` trading days:

    relative = mean return of those leaders - mean return of those laggards   (percent points)

"on": the spread's percentile today is at or above the alert threshold and relative < -``x_points``
(or, optionally, PPI year-on-year has risen ``ppi_rising_months`` in a row: a resource-price turn
favours the resource-heavy laggards); "watch": the same with relative < -``watch_points``.

It reads the spread's percentile, so it obeys the spread rule's guards (``jobs.engine.guards``): a
missing or stale snapshot, an incomplete day after it, or a percentile ranking against fewer than
``min_history_days`` days leaves it unknown, with the reason.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from jobs.config.regime_settings import ReversalSettings
from jobs.engine.guards import Guard, may_speak
from jobs.regimes.macro import monthly_points, rises_in_a_row
from jobs.regimes.types import (
    Evidence,
    Freshness,
    Ranked,
    Scenario,
    ScenarioResult,
    State,
    silenced,
    spread_facts,
    unknown,
)


class CloseTable:
    """Closes as arrays with a code -> column map: built once when many days are checked (the history)."""

    def __init__(self, closes: pd.DataFrame) -> None:
        index = closes.index if isinstance(closes.index, pd.DatetimeIndex) else pd.DatetimeIndex(closes.index)
        self.dates = [ts.date() for ts in index]
        self.values = closes.to_numpy(dtype=float)
        self.column = {str(c): i for i, c in enumerate(closes.columns)}
        self.empty = closes.empty


def check_reversal(
    closes: pd.DataFrame | CloseTable,
    snapshots: Sequence[Ranked],
    params: ReversalSettings,
    threshold: float,
    as_of: date,
    *,
    spread_max_age_days: int = 7,
    ppi_yoy: pd.Series | None = None,
    ppi_max_age_days: int = 50,
    spread_error: str | None = None,
    min_history_days: int = 0,
    incomplete: tuple[date, str] | None = None,
) -> ScenarioResult:
    """``snapshots``: stored spread snapshots (any order) covering at least the last ``n_days`` trading days;
    ``incomplete``: a day after the newest of them, up to ``as_of``, that lacks closes (and what it lacks)."""
    snaps = sorted((s for s in snapshots if s.as_of <= as_of), key=lambda s: s.as_of)
    fresh = Freshness("spread", snaps[-1].as_of if snaps else None, spread_max_age_days, spread_error)
    inputs: list[Freshness] = [fresh]
    verdict = may_speak(
        spread_facts(snaps[-1] if snaps else None, as_of, incomplete), Guard(min_history_days, spread_max_age_days)
    )
    if not verdict.ok:
        return silenced(Scenario.REVERSAL, verdict, fresh, *inputs)
    if closes is None or closes.empty:
        return unknown(Scenario.REVERSAL, fresh, *inputs)
    table = closes if isinstance(closes, CloseTable) else CloseTable(closes)
    end = snaps[-1]
    # positions and plain arrays, not label lookups: the regime history runs this for every day
    dates = table.dates
    stop = bisect.bisect_right(dates, end.as_of)
    if stop <= params.n_days or dates[stop - 1] != end.as_of:
        return ScenarioResult(
            Scenario.REVERSAL,
            State.UNKNOWN,
            f"fewer than {params.n_days + 1} trading days of closes up to {end.as_of}",
            "short_history",
            end.as_of,
            inputs=tuple(inputs),
        )
    start_day = dates[stop - 1 - params.n_days]
    start = next((s for s in snaps if s.as_of == start_day), None)
    if start is None:
        return ScenarioResult(
            Scenario.REVERSAL,
            State.UNKNOWN,
            f"no spread snapshot for {start_day}, the start of the {params.n_days}-day window",
            "short_history",
            end.as_of,
            inputs=tuple(inputs),
        )
    leaders = [g.code for g in start.top]
    laggards = [g.code for g in start.bottom]
    first, last = table.values[stop - 1 - params.n_days], table.values[stop - 1]
    column = table.column
    rets: dict[str, float] = {}
    for c in leaders + laggards:
        i = column.get(c)
        if i is not None and np.isfinite(first[i]) and np.isfinite(last[i]):
            rets[c] = (last[i] / first[i] - 1.0) * 100.0
    missing = [c for c in leaders + laggards if c not in rets]
    if missing:
        return ScenarioResult(
            Scenario.REVERSAL,
            State.UNKNOWN,
            f"no close for {', '.join(missing)} on {start_day} or {end.as_of}",
            "missing_prices",
            end.as_of,
            inputs=tuple(inputs),
        )
    top_ret = sum(rets[c] for c in leaders) / len(leaders)
    bottom_ret = sum(rets[c] for c in laggards) / len(laggards)
    relative = top_ret - bottom_ret
    above = end.percentile >= threshold
    evidence = [
        Evidence("relative", relative, end.as_of, "points"),
        Evidence("top_return", top_ret, end.as_of, "pct", ", ".join(g.name for g in start.top)),
        Evidence("bottom_return", bottom_ret, end.as_of, "pct", ", ".join(g.name for g in start.bottom)),
        Evidence("window_start", start_day.isoformat(), start_day, "text"),
        Evidence("spread_pctl", end.percentile, end.as_of, "pctl"),
    ]

    ppi_turn = False
    if params.ppi_rising_months:
        points = [(m, v) for m, v in monthly_points(ppi_yoy, as_of, released=False)]
        ppi_fresh = Freshness("ppi", points[-1][0] if points else None, ppi_max_age_days)
        inputs.append(ppi_fresh)
        if not ppi_fresh.stale(as_of):
            rises = rises_in_a_row([v for _, v in points])
            evidence.append(Evidence("ppi_rises", rises, points[-1][0], "count", monthly=True))
            ppi_turn = rises >= params.ppi_rising_months

    gap = f"leaders {top_ret:+.1f}% vs laggards {bottom_ret:+.1f}% over {params.n_days} trading days"
    where = f"spread P{int(end.percentile)} {'>=' if above else '<'} P{threshold:g}"
    if above and relative < -params.x_points:
        return _result(
            State.ON, "leaders_lagging", f"{gap} (< -{params.x_points:g} pts), {where}", end, evidence, inputs
        )
    if above and ppi_turn:
        return _result(
            State.ON, "ppi_turn", f"PPI yoy rising {params.ppi_rising_months}+ months, {where}", end, evidence, inputs
        )
    if above and relative < -params.watch_points:
        return _result(State.WATCH, "leaders_slowing", f"{gap}, {where}", end, evidence, inputs)
    return _result(State.OFF, "quiet" if above else "spread_below", f"{gap}, {where}", end, evidence, inputs)


def _result(
    state: State, code: str, why: str, end: Ranked, evidence: list[Evidence], inputs: list[Freshness]
) -> ScenarioResult:
    return ScenarioResult(Scenario.REVERSAL, state, why, code, end.as_of, tuple(evidence), inputs=tuple(inputs))
