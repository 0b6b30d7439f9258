"""Scenario 2, heat and valuation: the leaders' trading share and valuation at historical highs.

For the current top five industries (by the spread's gain), two measures, each ranked as a
percentile of its own history (share of days whose value is <= today's, as for the spread):

* their combined share of all industries' turnover, averaged over ``smooth_days`` trading days
  (one day's share is noise: a single block trade moves it), from the daily turnover per industry;
  where no turnover is stored, from the Shenwan daily analysis's turnover share;
* their average PE, from the Shenwan daily analysis (市盈率), when it has been fetched.

"on" when any available measure is at or above ``on_percentile``, "watch" at or above
``watch_percentile``; "unknown" when neither can be computed from fresh data. A measure needs
``min_history_days`` points of history; the same five codes must all be present on a day for it to count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from jobs.regimes.settings import HeatSettings
from jobs.regimes.types import Evidence, Freshness, Scenario, ScenarioResult, State, percentile_of_last, unknown


@dataclass(frozen=True)
class Measure:
    key: str  # "share" or "pe"
    series: pd.Series  # by date, ascending, already restricted to dates <= as_of
    fresh: Freshness

    @property
    def usable(self) -> bool:
        return not self.series.empty

    def percentile(self) -> float:
        return percentile_of_last([float(v) for v in self.series.to_numpy()])


def share_from_amounts(amounts: pd.DataFrame, top: Sequence[str], smooth_days: int) -> pd.Series:
    """Combined turnover share (percent) of ``top``, smoothed; days missing any of them are dropped."""
    if amounts is None or amounts.empty or any(c not in amounts.columns for c in top):
        return pd.Series(dtype=float)
    frame = amounts.astype(float)
    top_sum = frame[list(top)]
    complete = top_sum.notna().all(axis=1) & (top_sum > 0).all(axis=1)
    share = (top_sum.sum(axis=1) / frame.sum(axis=1, min_count=1) * 100.0)[complete]
    return share.rolling(smooth_days, min_periods=smooth_days).mean().dropna()


def top_mean(wide: pd.DataFrame, top: Sequence[str], positive: bool = False) -> pd.Series:
    """Mean of ``top`` columns per day, on the days all of them have a value (and > 0 if asked)."""
    if wide is None or wide.empty or any(c not in wide.columns for c in top):
        return pd.Series(dtype=float)
    part = wide[list(top)].astype(float)
    ok = part.notna().all(axis=1)
    if positive:
        ok &= (part > 0).all(axis=1)  # a loss-making index reports PE <= 0: not a valuation
    return part[ok].mean(axis=1)


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
) -> ScenarioResult:
    """``amounts``: dates x codes turnover; ``analysis``: long rows (date, code, share, pe) of the Shenwan analysis."""
    cutoff = pd.Timestamp(as_of)
    share_wide = pe_wide = None
    if analysis is not None and not analysis.empty:
        a = analysis.assign(date=pd.to_datetime(analysis["date"]))
        a = a.loc[a["date"] <= cutoff]
        share_wide = a.pivot_table(index="date", columns="code", values="share", aggfunc="last")
        pe_wide = a.pivot_table(index="date", columns="code", values="pe", aggfunc="last")

    amounts_cut = amounts.loc[amounts.index <= cutoff] if amounts is not None and not amounts.empty else None
    share = (
        share_from_amounts(amounts_cut, top, params.smooth_days) if amounts_cut is not None else pd.Series(dtype=float)
    )
    share_name, share_age, share_err = "amount", amount_max_age_days, amount_error
    if share.empty and share_wide is not None:
        share = top_mean(share_wide, top) * len(top)
        share = share.rolling(params.smooth_days, min_periods=params.smooth_days).mean().dropna()
        share_name, share_age, share_err = "analysis", analysis_max_age_days, analysis_error
    pe = top_mean(pe_wide, top, positive=True) if pe_wide is not None else pd.Series(dtype=float)

    measures = [
        Measure("share", share, Freshness(share_name, _last(share), share_age, share_err)),
        Measure("pe", pe, Freshness("analysis", _last(pe), analysis_max_age_days, analysis_error)),
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
        day = m.series.index[-1].date()
        evidence.append(Evidence(m.key, float(m.series.iloc[-1]), day, "pct" if m.key == "share" else "index", label))
        if len(m.series) < params.min_history_days:
            short.append(f"{m.key}: {len(m.series)} days of history, {params.min_history_days} needed")
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
    if best >= params.on_percentile:
        state, code, why = State.ON, f"{key}_high", f"top five {text} (>= P{params.on_percentile:g})"
    elif best >= params.watch_percentile:
        state, code, why = State.WATCH, f"{key}_near_high", f"top five {text} (>= P{params.watch_percentile:g})"
    else:
        state, code, why = State.OFF, "quiet", f"top five {text}"
    return ScenarioResult(Scenario.HEAT, state, why, code, as_of_data, tuple(evidence), inputs=inputs)


def _last(series: pd.Series) -> date | None:
    return None if series.empty else series.index[-1].date()
