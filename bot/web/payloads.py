"""What the dashboard's JSON API returns, built from the stored snapshots (:mod:`bot.web.daily_table`) and
the regime report the daily job keeps: plain dicts, compact (numbers rounded to what the page shows, the
top and bottom five of each day as indices into one list of industries).

* ``spread``: every stored trading day since ``metric.history_start``: spread, percentile, the P50/P90
  levels of the history up to each day (the lines of ``/history``), each day's top and bottom five, and
  the alert episodes of the configured rules (the backtest's replay);
* ``industries``: the latest day's ranked six-month gains, and a heatmap of gains by industry × month
  (the last trading day of each of the last 24 months);
* ``industry``: one industry's gain and rank on every day it was ranked;
* ``scenarios``: each scenario's state now with its evidence (the bot's phrasing, in the reader's
  language), and its history as runs of days in one state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from bot.web.daily_table import DailyTable, DayRow
from jobs.config.settings import Settings
from jobs.engine.backtest import replay_episodes
from jobs.engine.rules import params_from_settings
from jobs.market.industry_names import english_name
from jobs.regimes.history import ALL, RegimeHistory
from jobs.regimes.service import RegimeReport
from jobs.regimes.types import State
from jobs.rendering.charts import percentile_levels  # matplotlib is imported only to draw, not by this
from jobs.rendering.messages import render

HEATMAP_MONTHS = 24


def _r(value: float, digits: int) -> float:
    return round(float(value), digits)


def _since_start(table: DailyTable, settings: Settings) -> list[DayRow]:
    start = settings.metric.history_start
    return [r for r in table.rows if r.day >= start]


class _Names:
    """Industries as (code, name) pairs, each given an index the first time it is seen."""

    def __init__(self) -> None:
        self.index: dict[tuple[str, str], int] = {}
        self.items: list[list[str]] = []

    def of(self, code: str, name: str) -> int:
        key = (code, name)
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.items)
            self.items.append([code, name, english_name(name, code) or name])
        return found


def spread_payload(table: DailyTable, settings: Settings) -> dict[str, Any]:
    rows = _since_start(table, settings)
    if not rows:
        return {"days": 0}
    names = _Names()
    index = pd.DatetimeIndex([pd.Timestamp(r.day) for r in rows], name="date")
    series = pd.DataFrame({"spread": [r.spread for r in rows], "percentile": [r.percentile for r in rows]}, index=index)
    p50 = percentile_levels(series["spread"], 50.0).to_numpy()
    p90 = percentile_levels(series["spread"], 90.0).to_numpy()
    episodes = replay_episodes(series, params_from_settings(settings.alerts))
    return {
        "days": len(rows),
        "as_of": rows[-1].day.isoformat(),
        "dates": [r.day.isoformat() for r in rows],
        "spread": [_r(r.spread, 2) for r in rows],
        "percentile": [_r(r.percentile, 1) for r in rows],
        "p50": [_r(v, 2) for v in p50],
        "p90": [_r(v, 2) for v in p90],
        "top": [[names.of(c, n) for c, n, _ in r.gains[: r.k]] for r in rows],
        "bottom": [[names.of(c, n) for c, n, _ in reversed(r.gains[-r.k :])] for r in rows],
        "industries": names.items,
        "episodes": [
            {
                "start": e.start.isoformat(),
                "end": e.end.isoformat() if e.end else None,
                "peak_day": e.peak_day.isoformat(),
                "peak": _r(e.peak_spread, 2),
            }
            for e in episodes
        ],
        "enter_percentile": settings.alerts.enter_percentile,
    }


def _month_ends(rows: Sequence[DayRow], months: int) -> list[DayRow]:
    """The last stored day of each of the last ``months`` calendar months (the newest month: its latest day)."""
    last_of: dict[tuple[int, int], DayRow] = {}
    for r in rows:
        last_of[(r.day.year, r.day.month)] = r
    return [last_of[k] for k in sorted(last_of)[-months:]]


def industries_payload(table: DailyTable) -> dict[str, Any]:
    if not table.rows:
        return {"days": 0}
    today = table.rows[-1]
    ranked = [
        {"code": c, "name": n, "name_en": english_name(n, c) or n, "gain": _r(g, 2), "rank": i}
        for i, (c, n, g) in enumerate(today.gains, start=1)
    ]
    month_rows = _month_ends(table.rows, HEATMAP_MONTHS)
    codes = [c for c, _, _ in today.gains]
    cells: list[list[Any]] = []
    for x, r in enumerate(month_rows):
        gains = {c: g for c, _, g in r.gains}
        for y, code in enumerate(codes):
            if code in gains:
                cells.append([x, y, _r(gains[code], 1)])
    return {
        "days": len(table.rows),
        "as_of": today.day.isoformat(),
        "k": today.k,
        "n_ranked": len(today.gains),
        "ranked": ranked,
        "heatmap": {
            "months": [r.day.strftime("%Y-%m") for r in month_rows],
            "days": [r.day.isoformat() for r in month_rows],
            "codes": codes,
            "cells": cells,
        },
    }


def industry_payload(table: DailyTable, code: str) -> dict[str, Any] | None:
    """``code``'s gain and rank on every stored day it was ranked; None when it never was."""
    dates: list[str] = []
    gains: list[float] = []
    ranks: list[int] = []
    counts: list[int] = []
    name = None
    for r in table.rows:
        for rank, (c, n, g) in enumerate(r.gains, start=1):
            if c == code:
                dates.append(r.day.isoformat())
                gains.append(_r(g, 2))
                ranks.append(rank)
                counts.append(len(r.gains))
                name = n
                break
    if name is None:
        return None
    return {
        "code": code,
        "name": name,
        "name_en": english_name(name, code) or name,
        "dates": dates,
        "gain": gains,
        "rank": ranks,
        "n_ranked": counts,
    }


def scenario_runs(history: RegimeHistory) -> dict[str, list[list[str]]]:
    """Each scenario's stretches of days on, on watch or unknown (off is the background)."""
    return {
        s.value: [
            [r.start.isoformat(), r.end.isoformat(), r.state.value] for r in history.runs(s) if r.state != State.OFF
        ]
        for s in ALL
    }


def scenarios_payload(report: RegimeReport | None, history: RegimeHistory | None, lang: str) -> dict[str, Any]:
    now: list[dict[str, Any]] = []
    if report is not None:
        for r in (report.composite, *report.scenarios):
            now.append(
                {
                    "scenario": r.scenario.value,
                    "state": r.state.value,
                    "code": r.code,
                    "as_of": r.as_of.isoformat() if r.as_of else None,
                    "since": report.since[r.scenario.value].isoformat() if r.scenario.value in report.since else None,
                    "stale_since": r.stale_since.isoformat() if r.stale_since else None,
                    "evidence": [e.to_json() for e in r.evidence],
                    "html": render("webapp_scenario", lang, r=r, since=report.since.get(r.scenario.value)),
                }
            )
    return {
        "as_of": report.as_of.isoformat() if report is not None else None,
        "now": now,
        "history": None
        if history is None or not history.days
        else {
            "from": history.days[0].day.isoformat(),
            "to": history.days[-1].day.isoformat(),
            "runs": scenario_runs(history),
            "summary": {s.value: {st.value: history.days_in(st, s) for st in State} for s in ALL},
        },
    }
