"""The regime history on hand-built series: every transition on the day it must happen, nothing earlier."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from jobs.config.settings import Settings, parse_settings
from jobs.model.figures import IndustryGain, Snapshot
from jobs.regimes.context import RegimeContext
from jobs.regimes.heat import AmountTable, smooth_points
from jobs.regimes.history import RegimeHistory, replay
from jobs.regimes.reversal import CloseTable
from jobs.regimes.types import State

TOP = [f"T{i}" for i in range(5)]
BOTTOM = [f"B{i}" for i in range(5)]
DAYS = [d.date() for d in pd.bdate_range("2024-01-01", periods=120)]
EXTREME_FROM, SPIKE, DROP = 100, 105, 110  # positions in DAYS
# month -> (PMI, the day it became known): 2024-03's fall below 50 is known only from 2024-04-15
PMI = {
    date(2023, 10, 1): (50.2, date(2023, 11, 1)),
    date(2023, 11, 1): (50.3, date(2023, 12, 1)),
    date(2023, 12, 1): (50.4, date(2024, 1, 1)),
    date(2024, 1, 1): (50.5, date(2024, 2, 1)),
    date(2024, 2, 1): (50.6, date(2024, 3, 1)),
    date(2024, 3, 1): (49.5, date(2024, 4, 15)),
    date(2024, 4, 1): (49.4, date(2024, 5, 15)),
    date(2024, 5, 1): (49.3, date(2024, 6, 14)),
}


def settings() -> Settings:
    return parse_settings(
        {
            "regimes": {
                "heat": {"smooth_days": 1, "min_history_days": 50},
                "reversal": {"n_days": 2, "x_points": 5.0, "watch_points": 2.5},
            }
        }
    )


def snapshot(i: int) -> Snapshot:
    gains = tuple(IndustryGain(c, f"n{c}", 50.0 - k, k + 1) for k, c in enumerate(TOP + BOTTOM))
    day = DAYS[i]
    return Snapshot(
        as_of=day, base_date=day - timedelta(days=182), spread=40.0, percentile=95.0 if i >= EXTREME_FROM else 50.0,
        top_avg=50.0, bottom_avg=10.0, top=gains[:5], bottom=tuple(reversed(gains[5:])), gains=gains,
        n_ranked=10, history_days=1000, history_rank=50, window="6M", k=5,
    )  # fmt: skip


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in DAYS])
    closes = pd.DataFrame(100.0, index=index, columns=TOP + BOTTOM)
    closes.iloc[DROP:, :5] = 90.0  # the leaders lose 10% on DROP; the laggards stay
    # the leaders' turnover share drifts down (each day the lowest so far) except one spike to 60%
    share = np.array([40.0 - 0.1 * i for i in range(len(DAYS))])
    share[SPIKE] = 60.0
    values = np.column_stack([share / 5] * 5 + [(100 - share) / 5] * 5)
    amounts = pd.DataFrame(values, index=index, columns=TOP + BOTTOM)
    return closes, amounts


def context(until: date | None = None) -> RegimeContext:
    """A context from the hand-built data; ``until`` keeps only what was known by that day."""
    closes, amounts = frames()
    pmi = {m: v for m, (v, known) in PMI.items() if until is None or known <= until}
    if until is not None:
        closes, amounts = closes.loc[: pd.Timestamp(until)], amounts.loc[: pd.Timestamp(until)]
    ctx = RegimeContext(
        settings=settings(),
        source="hand",
        events=[],
        pmi=pd.Series(pmi, dtype=float).set_axis(pd.DatetimeIndex([pd.Timestamp(m) for m in pmi])),
        ppi=pd.Series(dtype=float),
        closes=CloseTable(closes),
        amounts=amounts,
        amount_table=AmountTable(amounts),
        analysis=None,
        pe_wide=None,
        board_points=[],
        pmi_known_from={m: known for m, (_, known) in PMI.items()},
        sources={"pmi": "pmi.csv", "share": "amount.csv"},
    )
    ctx.index_known()
    return ctx


def history(until: date | None = None) -> RegimeHistory:
    snaps = [snapshot(i) for i in range(len(DAYS)) if until is None or DAYS[i] <= until]
    return replay(context(until), snaps, DAYS[0])


def runs(h: RegimeHistory, scenario: str) -> list[tuple[State, date, date]]:
    return [(r.state, r.start, r.end) for r in h.runs(scenario)]


def test_each_scenario_changes_on_the_day_its_input_says() -> None:
    h = history()
    assert [d.day for d in h.days] == DAYS
    last = DAYS[-1]
    # 2024-03's PMI of 49.5 (after 50.6) is known from 2024-04-15: macro on that day, not the Friday before
    assert runs(h, "macro") == [(State.OFF, DAYS[0], date(2024, 4, 12)), (State.ON, date(2024, 4, 15), last)]
    assert h.at(date(2024, 4, 15)).result("macro").code == "pmi_below_line"  # type: ignore[union-attr]
    assert h.at(date(2024, 6, 14)).result("macro").code == "pmi_below_line"  # type: ignore[union-attr]
    # heat: 50 days of history before a percentile; then the one-day spike to 60% is on, the rest off
    assert runs(h, "heat") == [
        (State.UNKNOWN, DAYS[0], DAYS[48]),
        (State.OFF, DAYS[49], DAYS[SPIKE - 1]),
        (State.ON, DAYS[SPIKE], DAYS[SPIKE]),
        (State.OFF, DAYS[SPIKE + 1], last),
    ]
    spike = h.at(DAYS[SPIKE]).result("heat")  # type: ignore[union-attr]
    assert {e.key: e.value for e in spike.evidence}["share_source"] == "amount.csv"
    # reversal: two trading days after the leaders' 10% drop they still trail by 10 points; then not
    assert runs(h, "reversal") == [
        (State.UNKNOWN, DAYS[0], DAYS[1]),
        (State.OFF, DAYS[2], DAYS[DROP - 1]),
        (State.ON, DAYS[DROP], DAYS[DROP + 1]),
        (State.OFF, DAYS[DROP + 2], last),
    ]
    assert runs(h, "breadth") == [(State.OFF, DAYS[0], last)]
    # the composite: the spread at its alert percentile from EXTREME_FROM, with macro on since April
    assert runs(h, "composite") == [(State.OFF, DAYS[0], DAYS[EXTREME_FROM - 1]), (State.ON, DAYS[EXTREME_FROM], last)]
    assert h.stats()[0] == {"scenario": "macro", "off": 75, "watch": 0, "on": 45, "unknown": 0, "periods": 1}


@pytest.mark.parametrize("cut", [date(2024, 4, 12), date(2024, 4, 15), DAYS[SPIKE - 1], DAYS[SPIKE], DAYS[DROP]])
def test_no_day_uses_anything_known_later(cut: date) -> None:
    """A history of the data known by ``cut`` gives, for every day up to it, exactly the full history's answer."""
    full = {d.day: d for d in history().days}
    short = history(until=cut)
    assert short.last == cut
    for d in short.days:
        assert [r.to_json(d.day) for r in d.results] == [r.to_json(d.day) for r in full[d.day].results], d.day


def test_a_month_without_release_date_waits_for_the_next_month() -> None:
    from jobs.config.regime_settings import MacroSettings
    from jobs.regimes.macro import check_macro

    pmi = pd.Series([50.1, 49.1], index=pd.DatetimeIndex(["2024-12-01", "2025-01-01"]))
    known = {date(2024, 12, 1): date(2025, 1, 1), date(2025, 1, 1): date(2025, 2, 1)}
    before = check_macro(pmi, MacroSettings(), date(2025, 1, 31), pmi_known_from=known)
    after = check_macro(pmi, MacroSettings(), date(2025, 2, 1), pmi_known_from=known)
    assert before.state == State.OFF and {e.key: e.value for e in before.evidence}["pmi"] == 50.1
    assert after.state == State.ON and {e.key: e.value for e in after.evidence}["pmi"] == 49.1
    assert after.inputs[0].last_date == date(2025, 2, 1)


def test_smoothing_restarts_after_a_hole_in_the_turnover() -> None:
    stamps = ["2014-02-18", "2014-02-19", "2014-02-20", "2021-12-13", "2021-12-14", "2021-12-15"]
    days = np.array([np.datetime64(d) for d in stamps])
    values = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    points = smooth_points(days, values, 2)
    # no mean of 2014-02-20 and 2021-12-13: the first window after the hole ends on 2021-12-14
    assert [str(d) for d in points.days] == ["2014-02-19", "2014-02-20", "2021-12-14", "2021-12-15"]
    assert points.values.tolist() == [1.5, 2.5, 15.0, 25.0]
