"""The backtest's scenario columns on the hand-built regime history, and its carried-forward flag."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from test_regime_history import DAYS, DROP, EXTREME_FROM, SPIKE, history

from jobs.engine.backtest import (
    BacktestResult,
    Basket,
    Episode,
    EpisodeSpan,
    Forward,
    forward_figures,
    summarize,
)
from jobs.engine.export import episodes_csv
from jobs.engine.rules import RuleParams
from jobs.regimes.episodes import with_regimes
from jobs.regimes.types import State

ON, OFF = State.ON, State.OFF


def episode(start: int, peak: int, end: int | None, change_3m: float | None) -> Episode:
    span = EpisodeSpan(
        DAYS[start], DAYS[end] if end is not None else None, DAYS[peak], 50.0, 5, 40.0, 91.0, 1
    )  # fmt: skip
    target = DAYS[start] + timedelta(days=91)
    three = Forward(3, target, target if change_3m is not None else None, None, change_3m, None, None, None)
    return Episode(span, Basket(("T0",), ("B0",)), (three,))


def result(*episodes: Episode) -> BacktestResult:
    return BacktestResult(RuleParams(), DAYS[0], DAYS[-1], DAYS[-1], (3,), episodes, summarize(episodes, (3,)))


def test_states_at_fire_peak_resolve_and_first_day_on() -> None:
    closed = episode(95, SPIKE, DROP + 2, -5.0)
    still_open = episode(DROP + 1, DROP + 1, None, None)
    r = with_regimes(result(closed, still_open), history())
    first, second = r.regimes.episodes  # type: ignore[union-attr]
    # fired before the spread reached its alert percentile: macro on (since 2024-04-15), nothing else
    assert first.at_fire == {"macro": ON, "heat": OFF, "reversal": OFF, "breadth": OFF, "composite": OFF}
    # the peak is the turnover spike: heat and the composite on
    assert first.at_peak == {"macro": ON, "heat": ON, "reversal": OFF, "breadth": OFF, "composite": ON}
    assert first.at_resolve == {"macro": ON, "heat": OFF, "reversal": OFF, "breadth": OFF, "composite": ON}
    assert first.first_on == {
        "macro": DAYS[95],
        "heat": DAYS[SPIKE],
        "reversal": DAYS[DROP],
        "breadth": None,
        "composite": DAYS[EXTREME_FROM],
    }
    assert first.lit() == ["macro", "heat", "reversal"]
    # open: no resolve day; the days after the firing day count up to the end of the data
    assert second.at_resolve is None
    assert second.at_fire["reversal"] == ON and second.first_on["heat"] is None
    assert second.first_on["reversal"] == DAYS[DROP + 1]

    # composite off at the first firing (spread lower 3 months later), on at the second (no figure yet)
    g_on, g_off = r.regimes.composite_on, r.regimes.composite_not_on  # type: ignore[union-attr]
    assert (g_on.episodes, g_on.evaluated, g_on.hits, g_on.median_spread_change) == (1, 0, 0, None)
    assert (g_off.episodes, g_off.evaluated, g_off.hits, g_off.median_spread_change) == (1, 1, 1, -5.0)

    data = r.to_json()
    assert data["episodes"][0]["scenarios"]["first_on"]["heat"] == DAYS[SPIKE].isoformat()
    assert data["regimes"]["composite_not_on_at_fire"]["hit_rate"] == 100.0

    rows = episodes_csv(r).lstrip("\ufeff").splitlines()
    header = rows[0].split(",")
    first_row = dict(zip(header, rows[1].split(","), strict=True))
    assert first_row["heat_at_peak"] == "on" and first_row["reversal_first_on"] == DAYS[DROP].isoformat()
    assert dict(zip(header, rows[2].split(","), strict=True))["macro_at_resolve"] == ""


def test_a_basket_member_no_longer_published_is_flagged() -> None:
    idx = pd.bdate_range("2021-11-01", periods=120)
    series = pd.DataFrame({"spread": [50.0] * len(idx), "percentile": [95.0] * len(idx)}, index=idx)
    closes = pd.DataFrame({"A": 100.0, "C": 100.0, "D": 50.0}, index=idx)
    # 采掘 (here "C") publishes its last close on 2021-12-10, at 120: it stays in the basket at 120
    closes.loc[pd.Timestamp("2021-12-06") : pd.Timestamp("2021-12-10"), "C"] = 120.0
    closes.loc[pd.Timestamp("2021-12-13") :, "C"] = float("nan")
    span = EpisodeSpan(date(2021, 11, 1), None, date(2021, 11, 1), 50.0, 1, 50.0, 95.0, 1)
    one, three = forward_figures(span, series, closes, Basket(("A",), ("C", "D")), horizons=(1, 3))
    assert one.day == date(2021, 12, 1) and one.carried == () and one.bottom_return == pytest.approx(0.0)
    assert three.day == date(2022, 2, 1) and three.carried == ("C",)
    assert three.bottom_return == pytest.approx(10.0)  # C +20% at its last close, D 0%
