"""Scenario 2, heat and valuation: the leaders' trading share and valuation at historical highs.

For the current top five industries (by the spread's gain), two measures, each ranked as a
percentile of its own history (share of days whose value is <= today's, as for the spread):

* their combined share of all industries' turnover, averaged over ``smooth_days`` trading days
  (one day's share is noise: a single block trade moves it), from the daily turnover per industry;
  where no turnover is stored, from the Shenwan daily analysis's turnover share;
* their average PE, from the Shenwan daily analysis (市盈率), when it has been fetched.

Inputs can come from files (``regimes.inputs.amount`` / ``.pe``): the result then names the file each
measure was read from. A rolling mean never spans a hole of more than ``HOLE_DAYS`` calendar days in the
turnover (the shared turnover file has none for 2014-02-21 .. 2021-12-10): the first ``smooth_days``
rows after a hole start a new mean instead of averaging days years apart.

"on" when any available measure is at or above ``on_percentile``, "watch" at or above
``watch_percentile``; "unknown" when neither can be computed from fresh data. A measure needs
``min_history_days`` points of history (``jobs.engine.guards.may_speak``, as every rule's percentile); the
same five codes must all be present on a day for it to count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from jobs.config.regime_settings import HeatSettings
from jobs.engine.guards import DayFacts, Guard, may_speak
from jobs.regimes.types import Evidence, Freshness, Scenario, ScenarioResult, State, percentile_of_last, unknown

HOLE_DAYS = 31  # no exchange closes this long: a longer stretch without turnover is missing data


@dataclass(frozen=True)
class Points:
    """A measure by day as two arrays (dates ascending): the history cuts thousands of these per run,
    and plain arrays cut in microseconds where a Series takes a hundred."""

    days: np.ndarray  # datetime64, ascending
    values: np.ndarray  # float

    @classmethod
    def of(cls, series: pd.Series) -> Points:
        index = series.index if isinstance(series.index, pd.DatetimeIndex) else pd.DatetimeIndex(series.index)
        return cls(index.to_numpy(), series.to_numpy(dtype=float))

    @classmethod
    def none(cls) -> Points:
        return cls(np.array([], dtype="datetime64[D]"), np.array([], dtype=float))

    def __len__(self) -> int:
        return len(self.values)

    @property
    def empty(self) -> bool:
        return len(self.values) == 0

    def cut(self, as_of: date) -> Points:
        end = int(np.searchsorted(self.days, np.datetime64(as_of), side="right"))
        return self if end == len(self.values) else Points(self.days[:end], self.values[:end])

    def last_day(self) -> date | None:
        return None if self.empty else pd.Timestamp(self.days[-1]).date()

    def since_last_hole(self) -> Points:
        """The points after the last hole of more than ``HOLE_DAYS`` calendar days: a percentile ranks against
        one stretch of the data, not across years without any (the shared turnover file's SW2014 era ends
        2014-02-20 and the SW2021 one starts 2021-12-13, with other industries)."""
        gaps = np.flatnonzero(np.diff(self.days) > np.timedelta64(HOLE_DAYS, "D"))
        if len(gaps) == 0:
            return self
        start = int(gaps[-1]) + 1
        return Points(self.days[start:], self.values[start:])

    def series(self) -> pd.Series:
        return pd.Series(self.values, index=pd.DatetimeIndex(self.days), dtype=float)


@dataclass(frozen=True)
class Measure:
    key: str  # "share" or "pe"
    points: Points  # restricted to dates <= as_of
    fresh: Freshness
    source: str | None = None  # the file it was read from, when not a live feed

    @property
    def usable(self) -> bool:
        return not self.points.empty

    def percentile(self) -> float:
        return percentile_of_last(self.points.values)


def smooth_points(days: np.ndarray, values: np.ndarray, n: int) -> Points:
    """Mean of each ``n`` consecutive rows (dated by the last), restarted after a hole > ``HOLE_DAYS``.

    Each window is summed on its own (not as a running sum), so equal windows give equal means and the
    percentile's ``<=`` never depends on where a window sits in the series.
    """
    if len(values) < n:
        return Points(days[:0], values[:0].astype(float))
    segment = np.concatenate(([0], np.cumsum(np.diff(days) > np.timedelta64(HOLE_DAYS, "D"))))
    means = np.lib.stride_tricks.sliding_window_view(values.astype(float), n).mean(axis=1)
    whole = segment[n - 1 :] == segment[: len(segment) - n + 1]
    return Points(days[n - 1 :][whole], means[whole])


def smooth(values: pd.Series, n: int) -> pd.Series:
    """``smooth_points`` of a Series."""
    p = Points.of(values)
    return smooth_points(p.days, p.values, n).series()


class AmountTable:
    """A dates x codes turnover frame as arrays, with each day's total: built once, read per top five."""

    def __init__(self, amounts: pd.DataFrame) -> None:
        index = amounts.index if isinstance(amounts.index, pd.DatetimeIndex) else pd.DatetimeIndex(amounts.index)
        self.days = index.to_numpy()
        self.values = amounts.to_numpy(dtype=float)
        self.column = {str(c): i for i, c in enumerate(amounts.columns)}
        total = np.nansum(self.values, axis=1)
        total[np.isnan(self.values).all(axis=1)] = np.nan
        self.total = total


def share_points(amounts: pd.DataFrame | AmountTable, top: Sequence[str], smooth_days: int) -> Points:
    """Combined turnover share (percent) of ``top``, smoothed; days missing any of them are dropped."""
    if isinstance(amounts, pd.DataFrame):
        if amounts.empty:
            return Points.none()
        amounts = AmountTable(amounts)
    if any(c not in amounts.column for c in top):
        return Points.none()
    # summed in code order, so the same five give the same floats whatever their ranking
    part = amounts.values[:, sorted(amounts.column[c] for c in top)]
    complete = (np.isfinite(part) & (part > 0)).all(axis=1)
    share = part[complete].sum(axis=1) / amounts.total[complete] * 100.0
    return smooth_points(amounts.days[complete], share, smooth_days)


def share_from_amounts(amounts: pd.DataFrame, top: Sequence[str], smooth_days: int) -> pd.Series:
    return share_points(amounts, top, smooth_days).series()


def top_mean(wide: pd.DataFrame, top: Sequence[str], positive: bool = False) -> pd.Series:
    """Mean of ``top`` columns per day, on the days all of them have a value (and > 0 if asked)."""
    if wide is None or wide.empty or any(c not in wide.columns for c in top):
        return pd.Series(dtype=float)
    part = wide[sorted(top)].astype(float)  # in code order: the same five, the same floats
    ok = part.notna().all(axis=1)
    if positive:
        ok &= (part > 0).all(axis=1)  # a loss-making index reports PE <= 0: not a valuation
    return part[ok].mean(axis=1)


@dataclass(frozen=True)
class HeatSeries:
    """The measures of one top five over the data given, before any cut-off.

    Every series is causal (a day's value uses only that day and earlier rows), so the series of the
    data up to D equals this series cut at D: the regime history builds it once per top five.
    """

    share_amount: Points
    share_analysis: Points
    pe: Points
    sources: dict[str, str] = field(default_factory=dict)  # "share"/"pe" -> file name, for file inputs


def heat_series(
    top: Sequence[str],
    params: HeatSettings,
    *,
    amounts: pd.DataFrame | AmountTable | None = None,
    analysis_wide: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    pe_wide: pd.DataFrame | None = None,
    sources: dict[str, str] | None = None,
) -> HeatSeries:
    """``analysis_wide``: (share, pe) dates x codes of the Shenwan analysis; ``pe_wide`` replaces its PE."""
    share = share_points(amounts, top, params.smooth_days) if amounts is not None else Points.none()
    share_analysis = Points.none()
    if analysis_wide is not None:
        mean = Points.of(top_mean(analysis_wide[0], top) * len(top))
        share_analysis = smooth_points(mean.days, mean.values, params.smooth_days)
    pe_source = pe_wide if pe_wide is not None else analysis_wide[1] if analysis_wide is not None else None
    pe = Points.of(top_mean(pe_source, top, positive=True)) if pe_source is not None else Points.none()
    return HeatSeries(share, share_analysis, pe, dict(sources or {}))


def analysis_frames(
    analysis: pd.DataFrame | None, as_of: date | None = None
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    if analysis is None or analysis.empty:
        return None
    a = analysis.assign(date=pd.to_datetime(analysis["date"]))
    if as_of is not None:
        a = a.loc[a["date"] <= pd.Timestamp(as_of)]
    share_wide = a.pivot_table(index="date", columns="code", values="share", aggfunc="last")
    pe_wide = a.pivot_table(index="date", columns="code", values="pe", aggfunc="last")
    return share_wide, pe_wide


def check_heat(
    top: Sequence[str],
    params: HeatSettings,
    as_of: date,
    *,
    amounts: pd.DataFrame | None = None,
    analysis: pd.DataFrame | None = None,
    names: Mapping[str, str] | None = None,
    amount_max_age_days: int = 7,
    analysis_max_age_days: int = 7,
    amount_error: str | None = None,
    analysis_error: str | None = None,
    pe_wide: pd.DataFrame | None = None,
    sources: dict[str, str] | None = None,
) -> ScenarioResult:
    """``amounts``: dates x codes turnover; ``analysis``: long rows (date, code, share, pe) of the Shenwan
    analysis; ``pe_wide``: dates x codes PE from a file (replaces the analysis's PE); ``sources``: the file
    names of file inputs by measure ("share", "pe")."""
    cutoff = pd.Timestamp(as_of)
    amounts_cut = amounts.loc[amounts.index <= cutoff] if amounts is not None and not amounts.empty else None
    pe_cut = pe_wide.loc[pe_wide.index <= cutoff] if pe_wide is not None and not pe_wide.empty else None
    series = heat_series(
        top,
        params,
        amounts=amounts_cut,
        analysis_wide=analysis_frames(analysis, as_of),
        pe_wide=pe_cut,
        sources=sources,
    )
    return judge_heat(
        top,
        params,
        as_of,
        series,
        names=names,
        amount_max_age_days=amount_max_age_days,
        analysis_max_age_days=analysis_max_age_days,
        amount_error=amount_error,
        analysis_error=analysis_error,
    )


def judge_heat(
    top: Sequence[str],
    params: HeatSettings,
    as_of: date,
    series: HeatSeries,
    *,
    names: Mapping[str, str] | None = None,
    amount_max_age_days: int = 7,
    analysis_max_age_days: int = 7,
    amount_error: str | None = None,
    analysis_error: str | None = None,
) -> ScenarioResult:
    """The state from the measures' series (cut at ``as_of`` here, so a longer series may be passed)."""
    share = series.share_amount.cut(as_of).since_last_hole()
    share_src = series.sources.get("share")
    share_name = f"amount ({share_src})" if share_src else "amount"
    share_age, share_err = amount_max_age_days, amount_error
    if share.empty and not series.share_analysis.empty:
        share = series.share_analysis.cut(as_of).since_last_hole()
        share_src, share_name, share_age, share_err = None, "analysis", analysis_max_age_days, analysis_error
    pe = series.pe.cut(as_of).since_last_hole()
    pe_src = series.sources.get("pe")
    pe_name = f"pe ({pe_src})" if pe_src else "analysis"

    measures = [
        Measure("share", share, Freshness(share_name, share.last_day(), share_age, share_err), share_src),
        Measure("pe", pe, Freshness(pe_name, pe.last_day(), analysis_max_age_days, analysis_error), pe_src),
    ]
    inputs = tuple(m.fresh for m in measures)
    usable = [m for m in measures if m.usable and not m.fresh.stale(as_of)]
    if not usable:
        newest = max(measures, key=lambda m: m.fresh.last_date or date.min)
        return unknown(Scenario.HEAT, newest.fresh, *inputs)

    label = ", ".join((names or {}).get(c, c) for c in top)
    evidence: list[Evidence] = []
    ranked: list[tuple[str, float]] = []
    short: list[str] = []
    for m in usable:
        day = m.points.last_day()
        assert day is not None
        evidence.append(Evidence(m.key, float(m.points.values[-1]), day, "pct" if m.key == "share" else "index", label))
        if m.source:
            evidence.append(Evidence(f"{m.key}_source", m.source, day, "text"))
        verdict = may_speak(DayFacts(as_of, day, len(m.points), name=m.key), Guard(params.min_history_days))
        if not verdict.ok:
            short.append(verdict.reason)
            continue
        p = m.percentile()
        evidence.append(Evidence(f"{m.key}_pctl", p, day, "pctl"))
        ranked.append((m.key, p))
    as_of_data = max(m.fresh.last_date for m in usable if m.fresh.last_date is not None)
    if not ranked:
        return ScenarioResult(
            Scenario.HEAT, State.UNKNOWN, "; ".join(short), "short_history", as_of_data, tuple(evidence), inputs=inputs
        )
    key, best = max(ranked, key=lambda kv: kv[1])
    text = ", ".join(f"{k} P{int(p)}" for k, p in ranked)
    used = ", ".join(f"{m.key} from {m.source}" for m in usable if m.source)
    if used:
        text += f" [{used}]"
    if best >= params.on_percentile:
        state, code, why = State.ON, f"{key}_high", f"top five {text} (>= P{params.on_percentile:g})"
    elif best >= params.watch_percentile:
        state, code, why = State.WATCH, f"{key}_near_high", f"top five {text} (>= P{params.watch_percentile:g})"
    else:
        state, code, why = State.OFF, "quiet", f"top five {text}"
    return ScenarioResult(Scenario.HEAT, state, why, code, as_of_data, tuple(evidence), inputs=inputs)
