"""The pure regime checks on hand-built series whose right answer is known."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from jobs.config.regime_settings import BoardSettings, HeatSettings, MacroSettings, ReversalSettings
from jobs.model.figures import IndustryGain, Snapshot
from jobs.regimes.breadth import BoardPoint, check_breadth
from jobs.regimes.composite import check_composite
from jobs.regimes.heat import check_heat
from jobs.regimes.macro import PolicyEvent, check_macro
from jobs.regimes.reversal import check_reversal
from jobs.regimes.transitions import Change, Known, detect
from jobs.regimes.types import Scenario, ScenarioResult, State


def months(values: list[float], start: str = "2024-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="MS"), dtype=float)


# -- macro ---------------------------------------------------------------------------------------
MACRO = MacroSettings()  # line 50, 3 declines, cross remembered 3 releases, events 30 days


def test_pmi_falling_below_50_after_being_above_is_on() -> None:
    pmi = months([50.8, 50.4, 50.6, 49.5])  # 2024-01..04; April released on 04-30
    r = check_macro(pmi, MACRO, date(2024, 5, 2))
    assert r.state == State.ON and r.code == "pmi_below_line"
    assert r.as_of == date(2024, 4, 30)
    assert ("pmi", 49.5, "2024-04") in [(e.key, e.value, e.when) for e in r.evidence]


def test_pmi_release_day_is_respected() -> None:
    # on 2024-04-29 the April print is not out yet: March (50.6 after 50.4) is the latest
    pmi = months([50.8, 50.4, 50.6, 49.5])
    r = check_macro(pmi, MACRO, date(2024, 4, 29))
    assert r.state == State.OFF
    assert r.as_of == date(2024, 3, 31)


def test_cross_below_is_remembered_for_a_few_releases_then_watch() -> None:
    pmi = months([50.5, 49.6, 49.7, 49.8, 49.9])  # crossed in Feb, then slowly rising, still below
    assert check_macro(pmi.iloc[:4], MACRO, date(2024, 4, 30)).state == State.ON  # 3rd release since
    later = check_macro(pmi, MACRO, date(2024, 5, 31))  # 4th release: no longer fresh news
    assert later.state == State.WATCH and later.code == "pmi_below_line_old"


def test_pmi_falling_three_months_in_a_row_is_on_even_above_50() -> None:
    pmi = months([52.0, 53.0, 52.6, 52.1, 51.0])
    r = check_macro(pmi, MACRO, date(2024, 6, 1))
    assert r.state == State.ON and r.code == "pmi_falling"
    two = check_macro(pmi.iloc[:4], MACRO, date(2024, 5, 1))  # two declines: one short
    assert two.state == State.WATCH and two.code == "pmi_falling_watch"
    custom = check_macro(pmi, MacroSettings(falling_months=4), date(2024, 6, 1))
    assert custom.state == State.WATCH


def test_flat_pmi_above_line_is_off() -> None:
    r = check_macro(months([50.1, 50.2, 50.2, 50.3]), MACRO, date(2024, 5, 5))
    assert r.state == State.OFF


def test_stale_pmi_is_unknown_and_names_the_date() -> None:
    pmi = months([50.8, 50.4, 50.6, 49.5])
    r = check_macro(pmi, MACRO, date(2024, 7, 15), pmi_error="macro_china_pmi: timeout")
    assert r.state == State.UNKNOWN and r.code == "stale"
    # the April print (released 04-30) may be used 45 days: stale from 06-15, its date beside it
    assert r.stale_since == date(2024, 6, 15) and r.as_of == date(2024, 4, 30)
    assert "timeout" in r.reason


def test_missing_pmi_is_unknown() -> None:
    r = check_macro(None, MACRO, date(2024, 7, 15))
    assert r.state == State.UNKNOWN and r.code == "no_data" and r.stale_since is None


def test_policy_event_lights_macro_for_its_lifetime_even_when_pmi_is_stale() -> None:
    ev = PolicyEvent(7, date(2024, 7, 1), "PBoC cuts RRR by 50bp", "admin")
    stale_pmi = months([50.1, 50.2])
    r = check_macro(stale_pmi, MacroSettings(event_days=10), date(2024, 7, 10), events=[ev])
    assert r.state == State.ON and r.code == "policy_event"
    assert r.evidence[0].value == "PBoC cuts RRR by 50bp" and r.evidence[0].label == "#7"
    gone = check_macro(stale_pmi, MacroSettings(event_days=10), date(2024, 7, 11), events=[ev])
    assert gone.state == State.UNKNOWN
    before = check_macro(stale_pmi, MacroSettings(event_days=10), date(2024, 6, 30), events=[ev])
    assert before.state != State.ON


def test_optional_ppi_momentum() -> None:
    pmi = months([50.1, 50.2, 50.2, 50.3])
    ppi = months([1.0, 0.5, 0.2, -0.3])  # April PPI released 2024-05-10
    settings = MacroSettings(use_ppi=True)
    r = check_macro(pmi, settings, date(2024, 5, 12), ppi_yoy=ppi)
    assert r.state == State.ON and r.code == "ppi_falling"
    # PMI quiet and PPI stale: PPI might be lighting it, so the answer is unknown, not off
    r = check_macro(pmi, settings, date(2024, 5, 12), ppi_yoy=ppi.iloc[:1])
    assert r.state == State.UNKNOWN


# -- heat ----------------------------------------------------------------------------------------
def amount_frame(days: int, top_share: list[float]) -> pd.DataFrame:
    """Ten industries; the first five together take ``top_share`` percent of turnover each day."""
    idx = pd.bdate_range("2023-01-02", periods=days)
    top = np.array(top_share, dtype=float)
    cols = {f"80{i:04d}": top / 5 for i in range(5)}
    cols |= {f"81{i:04d}": (100 - top) / 5 for i in range(5)}
    return pd.DataFrame(cols, index=idx) * 10.0  # 亿元: the scale does not matter for a share


TOP = [f"80{i:04d}" for i in range(5)]
HEAT = HeatSettings(smooth_days=1, min_history_days=50)


def test_heat_share_at_its_historical_high_is_on() -> None:
    share = [30.0 + (i % 10) for i in range(299)] + [45.0]
    frame = amount_frame(300, share)
    r = check_heat(TOP, HEAT, frame.index[-1].date(), amounts=frame)
    assert r.state == State.ON and r.code == "share_high"
    ev = {e.key: e.value for e in r.evidence}
    assert ev["share"] == pytest.approx(45.0)
    assert ev["share_pctl"] == pytest.approx(100.0)


def test_heat_percentile_bands() -> None:
    # values 0..99 in a random order, the last day's value decides the percentile exactly
    rng = np.random.default_rng(1)
    base = list(rng.permutation(100).astype(float) + 10)
    for last, want in ((95.0 + 10, State.ON), (84.0 + 10, State.WATCH), (40.0 + 10, State.OFF)):
        values = [v for v in base if v != last] + [last]
        frame = amount_frame(100, values)
        r = check_heat(TOP, HeatSettings(smooth_days=1, min_history_days=50), frame.index[-1].date(), amounts=frame)
        assert r.state == want, (last, r.reason)


def test_heat_smoothing_ignores_a_one_day_spike() -> None:
    share = [30.0 + (i % 10) for i in range(299)] + [60.0]
    frame = amount_frame(300, share)
    r = check_heat(TOP, HeatSettings(smooth_days=20, min_history_days=50), frame.index[-1].date(), amounts=frame)
    ev = {e.key: e.value for e in r.evidence}
    assert ev["share"] == pytest.approx((sum(share[-20:])) / 20)


def test_heat_pe_from_the_shenwan_analysis() -> None:
    days = pd.bdate_range("2024-01-01", periods=120)
    rows = []
    for i, d in enumerate(days):
        for j, code in enumerate([*TOP, "810000"]):
            pe = 20.0 + (i % 30) if i < 119 else 80.0
            rows.append({"date": d, "code": code, "share": 10.0 + j, "pe": pe if code in TOP else 5.0})
    analysis = pd.DataFrame(rows)
    r = check_heat(TOP, HeatSettings(smooth_days=1, min_history_days=100), days[-1].date(), analysis=analysis)
    assert r.state == State.ON
    assert {e.key for e in r.evidence} >= {"pe", "pe_pctl", "share", "share_pctl"}
    ev = {e.key: e.value for e in r.evidence}
    assert ev["pe"] == pytest.approx(80.0)
    assert ev["share"] == pytest.approx(10 + 11 + 12 + 13 + 14)


def test_heat_with_too_little_history_is_unknown_not_on() -> None:
    frame = amount_frame(30, [30.0] * 29 + [90.0])
    r = check_heat(TOP, HEAT, frame.index[-1].date(), amounts=frame)
    assert r.state == State.UNKNOWN and r.code == "short_history"


def test_heat_with_stale_inputs_is_unknown() -> None:
    frame = amount_frame(300, [30.0] * 299 + [90.0])
    later = frame.index[-1].date() + timedelta(days=30)
    r = check_heat(TOP, HEAT, later, amounts=frame, amount_error="index_hist_sw: HTTP 500")
    last = frame.index[-1].date()
    assert r.state == State.UNKNOWN and r.stale_since == last + timedelta(days=8) and r.as_of == last
    assert check_heat(TOP, HEAT, later).state == State.UNKNOWN


# -- reversal ------------------------------------------------------------------------------------
def snap(day: date, pctl: float, top: list[str], bottom: list[str]) -> Snapshot:
    gains = tuple(IndustryGain(c, f"n{c}", 50.0 - i, i + 1) for i, c in enumerate(top + bottom))
    return Snapshot(
        as_of=day, base_date=day - timedelta(days=182), spread=40.0, percentile=pctl,
        top_avg=50.0, bottom_avg=10.0, top=gains[:5], bottom=tuple(reversed(gains[5:])), gains=gains,
        n_ranked=10, history_days=1000, history_rank=50, window="6M", k=5,
    )  # fmt: skip


def reversal_case(top_move: float, bottom_move: float, pctl: float) -> tuple[pd.DataFrame, list[Snapshot]]:
    """Leaders move ``top_move`` % and laggards ``bottom_move`` % over the last 20 trading days."""
    days = pd.bdate_range("2024-01-01", periods=40)
    top = [f"T{i}" for i in range(5)]
    bottom = [f"B{i}" for i in range(5)]
    closes = pd.DataFrame(100.0, index=days, columns=top + bottom)
    ramp = np.linspace(0, 1, 21)
    closes.iloc[19:, :5] = (100 * (1 + top_move / 100 * ramp))[:, None]
    closes.iloc[19:, 5:] = (100 * (1 + bottom_move / 100 * ramp))[:, None]
    snaps = [snap(d.date(), pctl, top, bottom) for d in days]
    return closes, snaps


@pytest.mark.parametrize(
    ("top_move", "bottom_move", "pctl", "want"),
    [
        (-4.0, 3.0, 95.0, State.ON),  # leaders 7 points behind, spread extreme
        (-1.0, 2.0, 95.0, State.WATCH),  # 3 points: past watch (2.5) not past X (5)
        (-4.0, 3.0, 85.0, State.OFF),  # behind, but the spread is below its threshold
        (5.0, 1.0, 95.0, State.OFF),  # leaders still leading
    ],
)
def test_reversal_states(top_move: float, bottom_move: float, pctl: float, want: State) -> None:
    closes, snaps = reversal_case(top_move, bottom_move, pctl)
    r = check_reversal(closes, snaps, ReversalSettings(n_days=20, x_points=5.0), 90.0, closes.index[-1].date())
    assert r.state == want, r.reason
    ev = {e.key: e.value for e in r.evidence}
    assert ev["relative"] == pytest.approx(top_move - bottom_move)
    assert ev["window_start"] == closes.index[-21].date().isoformat()


def test_reversal_uses_the_leaders_at_the_window_start() -> None:
    closes, snaps = reversal_case(-4.0, 3.0, 95.0)
    # on the last day the laggards have become the "top": ranking today would hide the reversal
    snaps[-1] = snap(snaps[-1].as_of, 95.0, [f"B{i}" for i in range(5)], [f"T{i}" for i in range(5)])
    r = check_reversal(closes, snaps, ReversalSettings(), 90.0, closes.index[-1].date())
    assert r.state == State.ON


def test_reversal_stale_or_missing_spread_is_unknown() -> None:
    closes, snaps = reversal_case(-4.0, 3.0, 95.0)
    late = closes.index[-1].date() + timedelta(days=20)
    r = check_reversal(closes, snaps, ReversalSettings(), 90.0, late)
    last = closes.index[-1].date()
    assert r.state == State.UNKNOWN and r.stale_since == last + timedelta(days=8) and r.as_of == last
    assert check_reversal(closes, [], ReversalSettings(), 90.0, late).state == State.UNKNOWN
    short = check_reversal(closes.iloc[-10:], snaps, ReversalSettings(), 90.0, closes.index[-1].date())
    assert short.state == State.UNKNOWN


def test_reversal_optional_ppi_turn() -> None:
    closes, snaps = reversal_case(1.0, 1.0, 95.0)
    ppi = pd.Series([-2.0, -1.5, -1.0, -0.2], index=pd.date_range("2023-11-01", periods=4, freq="MS"))
    r = check_reversal(closes, snaps, ReversalSettings(ppi_rising_months=3), 90.0, closes.index[-1].date(), ppi_yoy=ppi)
    assert r.state == State.ON and r.code == "ppi_turn"
    r = check_reversal(closes, snaps, ReversalSettings(ppi_rising_months=0), 90.0, closes.index[-1].date(), ppi_yoy=ppi)
    assert r.state == State.OFF


# -- breadth -------------------------------------------------------------------------------------
def test_breadth_share_and_changes() -> None:
    board = BoardSettings(name="DeepSeek概念", watch_share_pct=5.0, on_share_pct=8.0)
    start = date(2025, 1, 2)
    pts = [
        BoardPoint("DeepSeek概念", start + timedelta(days=i), 100 + i, (2.0 + 0.1 * i) * 1e12, 100e12)
        for i in range(45)
    ]
    r = check_breadth([board], pts, start + timedelta(days=44))
    ev = {e.key: e.value for e in r.evidence}
    assert ev["board_share"] == pytest.approx(6.4)
    assert ev["board_count"] == 144
    assert ev["share_change_1w"] == pytest.approx(0.7)
    assert ev["count_change_1w"] == 7
    assert ev["count_change_1m"] == 31  # 2025-02-15 back to 2025-01-15
    assert r.state == State.WATCH
    assert check_breadth([board], pts, start + timedelta(days=10)).state == State.OFF
    assert (
        check_breadth(
            [board], [*pts, BoardPoint("DeepSeek概念", date(2025, 2, 20), 231, 9e12, 100e12)], date(2025, 2, 20)
        ).state
        == State.ON
    )


def test_breadth_stale_board_is_unknown_and_unconfigured_is_off() -> None:
    board = BoardSettings(name="X")
    pts = [BoardPoint("X", date(2025, 1, 2), 10, 9e12, 100e12)]
    r = check_breadth([board], pts, date(2025, 2, 2), errors={"X": "not found"})
    assert r.state == State.UNKNOWN and r.stale_since == date(2025, 1, 10) and r.as_of == date(2025, 1, 2)
    assert check_breadth([], pts, date(2025, 2, 2)).state == State.OFF


# -- composite and transitions -------------------------------------------------------------------
def result(scenario: Scenario, state: State) -> ScenarioResult:
    return ScenarioResult(scenario, state, "r", "c", date(2025, 2, 14))


def test_composite_needs_the_spread_at_threshold_and_a_scenario_on() -> None:
    day = date(2025, 2, 14)
    hot = snap(day, 92.0, [f"T{i}" for i in range(5)], [f"B{i}" for i in range(5)])
    cool = snap(day, 70.0, [f"T{i}" for i in range(5)], [f"B{i}" for i in range(5)])
    on = [result(Scenario.MACRO, State.ON), result(Scenario.HEAT, State.OFF)]
    assert check_composite(hot, 90.0, on, day).state == State.ON
    assert check_composite(cool, 90.0, on, day).state == State.OFF
    quiet = [result(Scenario.MACRO, State.OFF), result(Scenario.HEAT, State.WATCH)]
    assert check_composite(hot, 90.0, quiet, day).state == State.WATCH
    blind = [result(Scenario.MACRO, State.UNKNOWN), result(Scenario.HEAT, State.OFF)]
    assert check_composite(hot, 90.0, blind, day).state == State.UNKNOWN
    assert check_composite(hot, 90.0, on, day + timedelta(days=30)).state == State.UNKNOWN
    assert check_composite(None, 90.0, on, day).state == State.UNKNOWN


def test_transitions_fire_and_resolve_once_and_ignore_unknown() -> None:
    d = [date(2025, 1, i) for i in range(1, 8)]
    seq = [State.OFF, State.ON, State.ON, State.UNKNOWN, State.ON, State.WATCH, State.WATCH]
    known: dict[str, Known] = {}
    changes = []
    for day, state in zip(d, seq, strict=True):
        known, ts = detect(known, [result(Scenario.HEAT, state)], day)
        changes += [(t.day, t.change) for t in ts]
    assert changes == [(d[1], Change.FIRE), (d[5], Change.RESOLVE)]
    assert known["heat"] == Known(State.WATCH, d[5])
