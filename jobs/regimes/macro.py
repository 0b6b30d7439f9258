"""Scenario 1, macro: recovery expectations falsified, or a policy turn.

Lit ("on") by any of:

* the official manufacturing PMI fell below its line (50) after being above it, within the last
  ``cross_memory_months`` releases, and has stayed below since;
* the PMI fell ``falling_months`` months in a row;
* optionally, PPI year-on-year fell ``falling_months`` months in a row;
* an admin recorded a policy event within the last ``event_days`` days (policy has no data feed).

"watch": the PMI is below its line, or one more decline would complete the falling streak.
A month's PMI counts from the last day of that month (its release day), never earlier.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from jobs.config.regime_settings import MacroSettings
from jobs.regimes.types import Evidence, Freshness, Scenario, ScenarioResult, State, unknown


@dataclass(frozen=True)
class PolicyEvent:
    id: int
    day: date
    text: str
    author: str


def release_day(month: date) -> date:
    """The day a month's PMI is published: that month's last day."""
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def monthly_points(
    series: pd.Series | None, as_of: date, released: bool = True, known_from: Mapping[date, date] | None = None
) -> list[tuple[date, float]]:
    """(first day of month, value) pairs, ascending, of the months published on or before ``as_of``.

    ``known_from`` (month -> first usable day) replaces the release-day rule, e.g. for a file's months.
    """
    if series is None or series.empty:
        return []
    out: dict[date, float] = {}
    index = series.index if isinstance(series.index, pd.DatetimeIndex) else pd.DatetimeIndex(series.index)
    # plain year and month numbers: boxing every stamp into a Timestamp costs more than the rest
    for y, m, value in zip(index.year, index.month, series.to_numpy(dtype=float), strict=True):
        month = date(int(y), int(m), 1)
        if known_from is not None:
            usable = known_from.get(month, date.max)
        else:
            usable = release_day(month) if released else month
        if pd.isna(value) or usable > as_of:
            continue
        out[month] = float(value)
    return sorted(out.items())


def declines_in_a_row(values: Sequence[float]) -> int:
    n = 0
    for i in range(len(values) - 1, 0, -1):
        if values[i] < values[i - 1]:
            n += 1
        else:
            break
    return n


def rises_in_a_row(values: Sequence[float]) -> int:
    return declines_in_a_row([-v for v in values])


def active_events(events: Sequence[PolicyEvent], as_of: date, days: int) -> list[PolicyEvent]:
    return [e for e in events if e.day <= as_of < e.day + timedelta(days=days)]


def check_macro(
    pmi: pd.Series | None,
    params: MacroSettings,
    as_of: date,
    *,
    events: Sequence[PolicyEvent] = (),
    ppi_yoy: pd.Series | None = None,
    pmi_max_age_days: int = 45,
    ppi_max_age_days: int = 50,
    pmi_error: str | None = None,
    ppi_error: str | None = None,
    pmi_known_from: Mapping[date, date] | None = None,
    pmi_label: str | None = None,
) -> ScenarioResult:
    """``pmi_known_from``: when each month became usable (a file's months), instead of the release day;
    ``pmi_label``: where the PMI comes from (a file name), shown as evidence."""
    points = monthly_points(pmi, as_of, known_from=pmi_known_from)
    last_known = None
    if points:
        last_known = pmi_known_from[points[-1][0]] if pmi_known_from is not None else release_day(points[-1][0])
    fresh = Freshness(
        f"pmi ({pmi_label})" if pmi_label else "pmi",
        last_known,
        pmi_max_age_days,
        pmi_error,
    )
    inputs = [fresh]
    ppi_points: list[tuple[date, float]] = []
    ppi_fresh: Freshness | None = None
    if params.use_ppi:
        # PPI comes out around the 10th of the following month: count it from then
        ppi_points = [(m, v) for m, v in monthly_points(ppi_yoy, as_of, released=False) if ppi_release_day(m) <= as_of]
        ppi_fresh = Freshness(
            "ppi", ppi_release_day(ppi_points[-1][0]) if ppi_points else None, ppi_max_age_days, ppi_error
        )
        inputs.append(ppi_fresh)

    evidence: list[Evidence] = []
    if points and not fresh.stale(as_of):
        month, value = points[-1]
        evidence.append(Evidence("pmi", value, month, "index", monthly=True))
        if len(points) > 1:
            evidence.append(Evidence("pmi_prev", points[-2][1], points[-2][0], "index", monthly=True))
        if pmi_label:
            evidence.append(Evidence("pmi_source", pmi_label, month, "text", monthly=True))

    lit = active_events(events, as_of, params.event_days)
    if lit:
        ev = [Evidence("event", e.text, e.day, "text", label=f"#{e.id}") for e in lit]
        newest = max(e.day for e in lit)
        return ScenarioResult(
            Scenario.MACRO,
            State.ON,
            f"{len(lit)} policy event(s) recorded in the last {params.event_days} days",
            "policy_event",
            newest if fresh.last_date is None else max(newest, fresh.last_date),
            tuple(ev + evidence),
            inputs=tuple(inputs),
        )
    if fresh.stale(as_of):
        return unknown(Scenario.MACRO, fresh, *inputs)

    values = [v for _, v in points]
    line = params.pmi_line
    reasons: list[tuple[str, str]] = []
    cross = _last_cross_below(values, line)
    if cross is not None and len(values) - 1 - cross < params.cross_memory_months:
        reasons.append(
            (
                "pmi_below_line",
                f"PMI {values[-1]:g} fell below {line:g} in {points[cross][0]:%Y-%m} after {values[cross - 1]:g}",
            )
        )
    falls = declines_in_a_row(values)
    evidence.append(Evidence("pmi_declines", falls, points[-1][0], "count", monthly=True))
    if falls >= params.falling_months:
        reasons.append(("pmi_falling", f"PMI fell {falls} months in a row to {values[-1]:g}"))

    ppi_falls = 0
    if ppi_fresh is not None:
        if not ppi_fresh.stale(as_of):
            ppi_values = [v for _, v in ppi_points]
            ppi_falls = declines_in_a_row(ppi_values)
            evidence.append(Evidence("ppi_yoy", ppi_values[-1], ppi_points[-1][0], "pct", monthly=True))
            if ppi_falls >= params.falling_months:
                reasons.append(("ppi_falling", f"PPI yoy fell {ppi_falls} months in a row to {ppi_values[-1]:g}%"))
        elif not reasons:
            return unknown(Scenario.MACRO, ppi_fresh, *inputs)

    as_of_data = max(f.last_date for f in inputs if f.last_date is not None)
    if reasons:
        return ScenarioResult(
            Scenario.MACRO,
            State.ON,
            "; ".join(r for _, r in reasons),
            reasons[0][0],
            as_of_data,
            tuple(evidence),
            inputs=tuple(inputs),
        )
    if values[-1] < line or falls == params.falling_months - 1 or ppi_falls == params.falling_months - 1:
        why = f"PMI {values[-1]:g} below {line:g}" if values[-1] < line else f"PMI fell {falls} months in a row"
        code = "pmi_below_line_old" if values[-1] < line else "pmi_falling_watch"
        return ScenarioResult(Scenario.MACRO, State.WATCH, why, code, as_of_data, tuple(evidence), inputs=tuple(inputs))
    return ScenarioResult(
        Scenario.MACRO,
        State.OFF,
        f"PMI {values[-1]:g}, no fall below {line:g} and {falls} decline(s) in a row",
        "quiet",
        as_of_data,
        tuple(evidence),
        inputs=tuple(inputs),
    )


def ppi_release_day(month: date) -> date:
    nxt = release_day(month) + timedelta(days=1)
    return nxt.replace(day=10)


def _last_cross_below(values: Sequence[float], line: float) -> int | None:
    """Index of the last month that fell below ``line`` from at/above it, if all months since stayed below."""
    for i in range(len(values) - 1, 0, -1):
        if values[i] >= line:
            return None
        if values[i - 1] >= line:
            return i
    return None
