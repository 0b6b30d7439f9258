"""Every threshold of the alert rules, the guards, the batch validation and the regime scenarios, pinned
at its exact value and one step either side: turning a ``<`` into a ``<=`` (or back) fails here.

Values are chosen to be exact in binary floating point (0.25, 6.25, 8.0, ...), so "exactly at the
limit" means exactly; where a decimal limit cannot be exact (a 10% move), the test says so.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from jobs.config.regime_settings import BoardSettings, HeatSettings, MacroSettings, ReversalSettings
from jobs.engine.guards import DayFacts, Guard, is_stale, may_speak, stale_from
from jobs.engine.rules import AlertState, Kind, Observation, RuleParams, evaluate, replay, tier_of
from jobs.market.sources.base import PriceBatch
from jobs.market.validate import MAX_LISTED, BatchRejected, validate_batch
from jobs.model.figures import IndustryGain, Snapshot
from jobs.regimes.breadth import BoardPoint, check_board
from jobs.regimes.composite import check_composite
from jobs.regimes.heat import HOLE_DAYS, check_heat, smooth_points
from jobs.regimes.macro import PolicyEvent, active_events, check_macro, release_day
from jobs.regimes.reversal import check_reversal
from jobs.regimes.types import Freshness, Scenario, ScenarioResult, State

DAY = date(2025, 2, 14)
EPS = 0.01  # one step in percentile points


def obs(i: int, percentile: float, new_high: bool = False, history_days: int | None = None) -> Observation:
    return Observation(DAY + timedelta(days=i), 30.0, percentile, new_high, history_days)


# -- the spread rule -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("percentile", "tier"), [(90 - EPS, 0), (90.0, 1), (90 + EPS, 1)])
def test_enter_is_inclusive(percentile: float, tier: int) -> None:
    assert tier_of(RuleParams(), obs(0, percentile)) == tier


@pytest.mark.parametrize(("percentile", "tier"), [(95 - EPS, 1), (95.0, 2), (95 + EPS, 2)])
def test_high_is_inclusive(percentile: float, tier: int) -> None:
    assert tier_of(RuleParams(), obs(0, percentile)) == tier


def test_a_new_high_is_its_tier_only_at_or_above_enter() -> None:
    assert tier_of(RuleParams(), obs(0, 90 - EPS, new_high=True)) == 0
    assert tier_of(RuleParams(), obs(0, 90.0, new_high=True)) == 3
    assert tier_of(RuleParams(new_high_tier=False), obs(0, 90.0, new_high=True)) == 1


@pytest.mark.parametrize(("percentile", "resolves"), [(80 - EPS, True), (80.0, False), (80 + EPS, False)])
def test_a_firing_alert_holds_at_exactly_the_resolve_level(percentile: float, resolves: bool) -> None:
    params = RuleParams(remind_every_days=0)
    firing, fired = evaluate(params, AlertState(), obs(0, 92.0))
    assert fired is not None and fired.kind is Kind.FIRE
    state, t = evaluate(params, firing, obs(1, percentile))
    assert (t is not None and t.kind is Kind.RESOLVE) is resolves
    assert state.firing is not resolves


@pytest.mark.parametrize("days", [2, 3, 4])
def test_it_fires_on_exactly_the_consecutive_day(days: int) -> None:
    params = RuleParams(consecutive_days=3, remind_every_days=0)
    _, out = replay(params, [obs(i, 92.0) for i in range(days)])
    assert [(t.kind, (t.day - DAY).days) for t in out] == ([(Kind.FIRE, 2)] if days >= 3 else [])


def test_a_reminder_comes_exactly_remind_every_days_after_the_last_message() -> None:
    params = RuleParams(remind_every_days=5)
    _, out = replay(params, [obs(i, 92.0) for i in range(12)])
    # fired on day 0; days 1-4 are 1-4 days since: nothing; day 5 reminds; day 10 again
    assert [(t.kind, (t.day - DAY).days) for t in out] == [(Kind.FIRE, 0), (Kind.REMIND, 5), (Kind.REMIND, 10)]


@pytest.mark.parametrize(("history", "fires"), [(249, False), (250, True), (251, True)])
def test_the_minimum_history_is_inclusive(history: int, fires: bool) -> None:
    params = RuleParams(min_history_days=250)
    _, t = evaluate(params, AlertState(), obs(0, 99.0, history_days=history))
    assert (t is not None) is fires


def test_rule_parameters_at_their_limits() -> None:
    RuleParams(enter=90, high=90, resolve=90 - EPS)  # enter == high, resolve just below enter
    RuleParams(enter=100, high=100, resolve=0)
    RuleParams(consecutive_days=1, remind_every_days=0, min_history_days=0)
    for bad in (
        {"resolve": 90.0},  # resolve == enter: no hysteresis
        {"high": 90 - EPS},  # high below enter
        {"high": 100 + EPS},
        {"resolve": -EPS},
        {"consecutive_days": 0},
        {"remind_every_days": -1},
        {"min_history_days": -1},
    ):
        with pytest.raises(ValueError):
            RuleParams(**bad)


def test_a_personal_threshold_keeps_the_gap_and_its_limits() -> None:
    base = RuleParams()  # 90 / 95 / 80
    assert base.with_threshold(85).resolve == 75 and base.with_threshold(85).high == 95
    assert base.with_threshold(97).high == 97
    assert base.with_threshold(10).resolve == 0.0 and base.with_threshold(10 + EPS).resolve == pytest.approx(EPS)
    assert base.with_threshold(100).high == 100
    with pytest.raises(ValueError):
        base.with_threshold(100 + EPS)


# -- the guards every rule obeys ---------------------------------------------------------------------
@pytest.mark.parametrize(("age", "stale"), [(6, False), (7, False), (8, True)])
def test_an_input_is_stale_from_the_day_after_its_limit(age: int, stale: bool) -> None:
    last = DAY - timedelta(days=age)
    assert is_stale(last, 7, DAY) is stale
    assert Freshness("x", last, 7).stale(DAY) is stale
    verdict = may_speak(DayFacts(DAY, last), Guard(max_age_days=7))
    assert verdict.ok is not stale
    assert verdict.stale_since == (stale_from(last, 7) if stale else None)
    assert stale_from(last, 7) == last + timedelta(days=8)


@pytest.mark.parametrize(("history", "ok"), [(249, False), (250, True), (251, True)])
def test_the_guard_minimum_history_is_inclusive(history: int, ok: bool) -> None:
    assert may_speak(DayFacts(DAY, DAY, history), Guard(250)).ok is ok


# -- batch validation ---------------------------------------------------------------------------------
D1, D2 = date(2025, 2, 13), DAY
NAMES = {"801750": "计算机"}


def one_move(before: float, after: float, limit: float = 0.25, stored: bool = True) -> bool:
    """True when the batch with the move from ``before`` to ``after`` is accepted."""
    if stored:
        rows = pd.DataFrame([(D2, "801750", "计算机", after)], columns=["date", "code", "name", "close"])
        last = {"801750": (D1, before)}
    else:
        rows = pd.DataFrame(
            [(D1, "801750", "计算机", before), (D2, "801750", "计算机", after)],
            columns=["date", "code", "name", "close"],
        )
        last = {}
    try:
        validate_batch(PriceBatch(rows, dict(NAMES)), last, limit)
    except BatchRejected:
        return False
    return True


@pytest.mark.parametrize("stored", [True, False], ids=["against-the-store", "inside-the-batch"])
@pytest.mark.parametrize(
    ("after", "accepted"),
    [(1249.99, True), (1250.0, True), (1250.01, False), (750.01, True), (750.0, True), (749.99, False)],
)
def test_a_move_exactly_at_max_daily_move_is_accepted(after: float, accepted: bool, stored: bool) -> None:
    assert one_move(1000.0, after, stored=stored) is accepted


def test_a_decimal_limit_accepts_its_exact_move() -> None:
    # 1100 / 1000 - 1 is 0.10000000000000009 in floats: a 10% move at a 10% limit still passes
    assert one_move(1000.0, 1100.0, limit=0.1)
    assert not one_move(1000.0, 1100.01, limit=0.1)


@pytest.mark.parametrize(("close", "accepted"), [(-1e-9, False), (0.0, False), (1e-9, True)])
def test_a_close_must_be_above_zero(close: float, accepted: bool) -> None:
    rows = pd.DataFrame([(D2, "801750", "计算机", close)], columns=["date", "code", "name", "close"])
    try:
        validate_batch(PriceBatch(rows, dict(NAMES)), {}, 0.25)
    except BatchRejected:
        assert not accepted
    else:
        assert accepted


@pytest.mark.parametrize(("stored_day", "accepted"), [(D1, True), (D2, False), (D2 + timedelta(days=1), False)])
def test_a_batch_starts_strictly_after_the_stored_day(stored_day: date, accepted: bool) -> None:
    rows = pd.DataFrame([(D2, "801750", "计算机", 1000.0)], columns=["date", "code", "name", "close"])
    try:
        validate_batch(PriceBatch(rows, dict(NAMES)), {"801750": (stored_day, 1000.0)}, 0.25)
    except BatchRejected as exc:
        assert not accepted and "not after the stored" in str(exc)
    else:
        assert accepted


@pytest.mark.parametrize(("bad", "more"), [(MAX_LISTED - 1, None), (MAX_LISTED, None), (MAX_LISTED + 1, 1)])
def test_problems_are_listed_up_to_max_listed(bad: int, more: int | None) -> None:
    codes = {f"80{i:04d}": f"n{i}" for i in range(bad)}
    rows = pd.DataFrame([(D2, c, n, -1.0) for c, n in codes.items()], columns=["date", "code", "name", "close"])
    with pytest.raises(BatchRejected) as info:
        validate_batch(PriceBatch(rows, codes, complete=False), {}, 0.25)
    problems = info.value.problems
    listed = [p for p in problems if "close is not a positive number" in p]
    assert len(listed) == min(bad, MAX_LISTED)
    summed = [p for p in problems if "more row(s)" in p]
    assert summed == ([f"{more} more row(s) without a positive close"] if more else [])
    assert str(info.value).endswith(f"(+{len(problems) - MAX_LISTED} more)") is (len(problems) > MAX_LISTED)


# -- regime scenarios: macro ----------------------------------------------------------------------------
def months(values: list[float], start: str = "2024-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="MS"), dtype=float)


AFTER_APRIL = date(2024, 5, 2)  # the April print (the fourth month) is out from 04-30


def after_last(pmi: pd.Series) -> date:
    """The day after the last month's print came out (its last day): every month known, none stale."""
    return release_day(pmi.index[-1].date()) + timedelta(days=1)


@pytest.mark.parametrize(("last", "state"), [(50.0 - EPS, State.ON), (50.0, State.OFF), (50.0 + EPS, State.OFF)])
def test_the_pmi_line_itself_is_not_below_it(last: float, state: State) -> None:
    # from 50.5, one fall: "below the line" is on; at or above the line it is one decline, off
    pmi = months([50.4, 50.4, 50.5, last])
    assert check_macro(pmi, MacroSettings(), AFTER_APRIL).state == state


@pytest.mark.parametrize(("since_cross", "state"), [(2, State.ON), (3, State.WATCH)])
def test_a_fall_below_the_line_is_remembered_exactly_cross_memory_months(since_cross: int, state: State) -> None:
    # crossed below in the second month, then rising below the line: releases since the cross
    values = [50.5, 49.0] + [49.0 + 0.1 * (i + 1) for i in range(since_cross)]
    pmi = months(values)
    r = check_macro(pmi, MacroSettings(cross_memory_months=3), after_last(pmi))
    assert r.state == state, r.reason


@pytest.mark.parametrize(("falls", "state"), [(2, State.WATCH), (3, State.ON), (4, State.ON)])
def test_falling_months_is_inclusive(falls: int, state: State) -> None:
    values = [55.0] + [55.0 - (i + 1) * 0.5 for i in range(falls)]  # stays above the line
    pmi = months(values)
    assert check_macro(pmi, MacroSettings(falling_months=3), after_last(pmi)).state == state


@pytest.mark.parametrize(("offset", "active"), [(-1, False), (0, True), (29, True), (30, False)])
def test_a_policy_event_lights_exactly_event_days(offset: int, active: bool) -> None:
    event = PolicyEvent(1, DAY, "a turn", "admin")
    assert bool(active_events([event], DAY + timedelta(days=offset), 30)) is active
    r = check_macro(months([50.4, 50.5]), MacroSettings(event_days=30), DAY + timedelta(days=offset), events=[event])
    assert (r.code == "policy_event") is active


@pytest.mark.parametrize(("age", "state"), [(45, State.OFF), (46, State.UNKNOWN)])
def test_the_pmi_is_stale_after_exactly_its_days(age: int, state: State) -> None:
    pmi = months([50.4, 50.5])  # February's print is out from 2024-02-29
    r = check_macro(pmi, MacroSettings(), date(2024, 2, 29) + timedelta(days=age), pmi_max_age_days=45)
    assert r.state == state


# -- heat ------------------------------------------------------------------------------------------------
TOP = [f"80{i:04d}" for i in range(5)]


def share_frame(values: list[float]) -> pd.DataFrame:
    idx = pd.bdate_range("2023-01-02", periods=len(values))
    top = np.array(values, dtype=float)
    cols = {f"80{i:04d}": top / 5 for i in range(5)} | {f"81{i:04d}": (100 - top) / 5 for i in range(5)}
    return pd.DataFrame(cols, index=idx)


def ranked(rank: int, n: int = 100) -> list[float]:
    """``n`` distinct shares whose last is at exactly percentile ``rank`` (rank of ``n`` values <= it)."""
    history = [20.0 + 0.1 * i for i in range(n - 1)]
    return [*history, 20.0 + 0.1 * (rank - 2) + 0.05]


@pytest.mark.parametrize(
    ("rank", "state"),
    [(79, State.OFF), (80, State.WATCH), (81, State.WATCH), (89, State.WATCH), (90, State.ON), (91, State.ON)],
)
def test_heat_bands_are_inclusive(rank: int, state: State) -> None:
    frame = share_frame(ranked(rank))
    r = check_heat(TOP, HeatSettings(smooth_days=1, min_history_days=50), frame.index[-1].date(), amounts=frame)
    assert {e.key: e.value for e in r.evidence}["share_pctl"] == pytest.approx(rank)
    assert r.state == state


@pytest.mark.parametrize(("points", "state"), [(49, State.UNKNOWN), (50, State.ON), (51, State.ON)])
def test_heat_minimum_history_is_inclusive(points: int, state: State) -> None:
    frame = share_frame([20.0 + 0.1 * i for i in range(points)])  # the last is the highest: P100
    r = check_heat(TOP, HeatSettings(smooth_days=1, min_history_days=50), frame.index[-1].date(), amounts=frame)
    assert r.state == state


@pytest.mark.parametrize(("gap", "joined"), [(HOLE_DAYS - 1, True), (HOLE_DAYS, True), (HOLE_DAYS + 1, False)])
def test_a_turnover_hole_longer_than_hole_days_restarts_the_mean(gap: int, joined: bool) -> None:
    days = np.array([np.datetime64("2024-01-01"), np.datetime64("2024-01-01") + np.timedelta64(gap, "D")])
    assert len(smooth_points(days, np.array([1.0, 2.0]), 2)) == (1 if joined else 0)


# -- reversal ---------------------------------------------------------------------------------------------
def snap(day: date, percentile: float, top: list[str], bottom: list[str]) -> Snapshot:
    gains = tuple(IndustryGain(c, f"n{c}", 50.0 - i, i + 1) for i, c in enumerate(top + bottom))
    return Snapshot(
        as_of=day, base_date=day - timedelta(days=182), spread=40.0, percentile=percentile, top_avg=50.0,
        bottom_avg=10.0, top=gains[:5], bottom=tuple(reversed(gains[5:])), gains=gains, n_ranked=10,
        history_days=1000, history_rank=50, window="6M", k=5,
    )  # fmt: skip


LEADERS, LAGGARDS = [f"T{i}" for i in range(5)], [f"B{i}" for i in range(5)]
REV = ReversalSettings(n_days=20, x_points=6.25, watch_points=3.125)


def reversal(leaders_close: float, percentile: float = 95.0, rows: int = 21, params: ReversalSettings = REV) -> State:
    """The leaders go from 128 to ``leaders_close`` over the window (128 -> 120 is exactly -6.25%)."""
    days = pd.bdate_range("2025-01-02", periods=rows)
    closes = pd.DataFrame(128.0, index=days, columns=LEADERS + LAGGARDS)
    closes.iloc[-1, :5] = leaders_close
    snaps = [snap(d.date(), percentile, LEADERS, LAGGARDS) for d in days]
    return check_reversal(closes, snaps, params, 90.0, days[-1].date()).state


@pytest.mark.parametrize(("close", "state"), [(119.99, State.ON), (120.0, State.WATCH), (120.01, State.WATCH)])
def test_the_reversal_needs_the_leaders_strictly_more_than_x_points_behind(close: float, state: State) -> None:
    assert reversal(close) == state


@pytest.mark.parametrize(("close", "state"), [(123.99, State.WATCH), (124.0, State.OFF), (124.01, State.OFF)])
def test_the_reversal_watch_is_strictly_more_than_watch_points_behind(close: float, state: State) -> None:
    assert reversal(close) == state  # 128 -> 124 is exactly -3.125%


@pytest.mark.parametrize(("percentile", "state"), [(90 - EPS, State.OFF), (90.0, State.ON), (90 + EPS, State.ON)])
def test_the_reversal_threshold_is_inclusive(percentile: float, state: State) -> None:
    assert reversal(100.0, percentile) == state


@pytest.mark.parametrize(("rows", "state"), [(20, State.UNKNOWN), (21, State.ON), (22, State.ON)])
def test_the_reversal_needs_n_days_plus_one_closes(rows: int, state: State) -> None:
    assert reversal(100.0, rows=rows) == state


@pytest.mark.parametrize(("rises", "state"), [(2, State.OFF), (3, State.ON), (4, State.ON)])
def test_ppi_rising_months_is_inclusive(rises: int, state: State) -> None:
    ppi = months([-3.0] + [-3.0 + (i + 1) * 0.5 for i in range(rises)], "2024-09")
    days = pd.bdate_range("2025-01-02", periods=21)
    closes = pd.DataFrame(128.0, index=days, columns=LEADERS + LAGGARDS)  # no gap: only PPI can light it
    snaps = [snap(d.date(), 95.0, LEADERS, LAGGARDS) for d in days]
    params = ReversalSettings(n_days=20, x_points=6.25, watch_points=3.125, ppi_rising_months=3)
    r = check_reversal(closes, snaps, params, 90.0, days[-1].date(), ppi_yoy=ppi, ppi_max_age_days=400)
    assert r.state == state


# -- breadth ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("share", "state"),
    [(5.0 - EPS, State.OFF), (5.0, State.WATCH), (8.0 - EPS, State.WATCH), (8.0, State.ON), (8.0 + EPS, State.ON)],
)
def test_breadth_bands_are_inclusive(share: float, state: State) -> None:
    point = BoardPoint("X", DAY, 100, share * 1e12, 100e12)
    assert point.share == pytest.approx(share, abs=1e-12)
    assert check_board(BoardSettings(name="X"), [point], DAY).state == state


@pytest.mark.parametrize(("age", "state"), [(7, State.OFF), (8, State.UNKNOWN)])
def test_a_board_is_stale_after_exactly_board_days(age: int, state: State) -> None:
    point = BoardPoint("X", DAY, 100, 1e12, 100e12)
    assert check_board(BoardSettings(name="X"), [point], DAY + timedelta(days=age), max_age_days=7).state == state


# -- composite ------------------------------------------------------------------------------------------
ON = [ScenarioResult(Scenario.MACRO, State.ON, "r", "c", DAY)]


@pytest.mark.parametrize(("percentile", "state"), [(90 - EPS, State.OFF), (90.0, State.ON), (90 + EPS, State.ON)])
def test_the_composite_threshold_is_inclusive(percentile: float, state: State) -> None:
    assert check_composite(snap(DAY, percentile, LEADERS, LAGGARDS), 90.0, ON, DAY).state == state


@pytest.mark.parametrize(("age", "state"), [(7, State.ON), (8, State.UNKNOWN)])
def test_the_composite_spread_is_stale_after_exactly_spread_days(age: int, state: State) -> None:
    spread = snap(DAY, 95.0, LEADERS, LAGGARDS)
    assert check_composite(spread, 90.0, ON, DAY + timedelta(days=age), spread_max_age_days=7).state == state


@pytest.mark.parametrize(("history", "state"), [(249, State.UNKNOWN), (250, State.ON), (251, State.ON)])
def test_the_composite_minimum_history_is_inclusive(history: int, state: State) -> None:
    spread = Snapshot(**{**snap(DAY, 95.0, LEADERS, LAGGARDS).__dict__, "history_days": history})
    assert check_composite(spread, 90.0, ON, DAY, min_history_days=250).state == state
