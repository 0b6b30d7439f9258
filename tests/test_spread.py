"""The metric: vectorised history against the plain per-day loop on real data, and tiny hand-checked frames."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jobs.engine.spread import compute_history, compute_snapshot_loop, incomplete_days, wide_closes
from jobs.model.figures import NameBook, Window


def _load(path: Path) -> tuple[pd.DataFrame, NameBook]:
    long = pd.read_csv(path, dtype={"code": str, "name": str})
    long["date"] = pd.to_datetime(long["date"])
    names = NameBook.constant(dict(zip(long["code"], long["name"], strict=True)))
    return wide_closes(long), names


@pytest.fixture(scope="module")
def sw(request: pytest.FixtureRequest) -> tuple[pd.DataFrame, NameBook]:
    from conftest import SW_CSV

    if not SW_CSV.exists():
        pytest.skip("shared data not present")
    return _load(SW_CSV)


@pytest.fixture(scope="module")
def citic() -> tuple[pd.DataFrame, NameBook]:
    from conftest import CITIC_CSV

    if not CITIC_CSV.exists():
        pytest.skip("shared data not present")
    return _load(CITIC_CSV)


def _drawn_dates(frame: pd.DataFrame, n: int, seed: int) -> list[date]:
    rng = np.random.default_rng(seed)
    picks = sorted(rng.choice(len(frame.index), size=n, replace=False))
    return [frame.index[i].date() for i in picks]


def _assert_same(closes: pd.DataFrame, names: NameBook, window: str, days: list[date]) -> None:
    history = compute_history(closes, names, window)
    assert len(history) > 1000
    for d in days:
        snap = history.snapshot(d)
        assert snap is not None and snap.as_of == d
        spread, pct, top, bottom = compute_snapshot_loop(closes, names, d, window)
        assert snap.spread == pytest.approx(spread, abs=1e-9), d
        assert snap.percentile == pytest.approx(pct, abs=1e-9), d
        assert {g.code: g.gain for g in snap.top} == pytest.approx(dict(top), abs=1e-9), d
        assert {g.code: g.gain for g in snap.bottom} == pytest.approx(dict(bottom), abs=1e-9), d
        assert [g.gain for g in snap.top] == sorted((g.gain for g in snap.top), reverse=True)
        assert [g.gain for g in snap.bottom] == sorted(g.gain for g in snap.bottom)


def test_vectorised_equals_loop_on_shenwan(sw: tuple[pd.DataFrame, NameBook]) -> None:
    closes, names = sw
    history = compute_history(closes, names)
    # dates across all three classification eras (23, 28 and 31 industries)
    _assert_same(closes, names, "6M", _drawn_dates(history.frame, 10, seed=2))


def test_vectorised_equals_loop_on_citic(citic: tuple[pd.DataFrame, NameBook]) -> None:
    closes, names = citic
    history = compute_history(closes, names)
    _assert_same(closes, names, "6M", _drawn_dates(history.frame, 6, seed=3))


def test_vectorised_equals_loop_with_a_120_trading_day_window(sw: tuple[pd.DataFrame, NameBook]) -> None:
    closes, names = sw
    history = compute_history(closes, names, "120D")
    _assert_same(closes, names, "120D", _drawn_dates(history.frame, 5, seed=4))


def test_120d_differs_from_6m_as_the_study_says(sw: tuple[pd.DataFrame, NameBook]) -> None:
    # 120 trading days give 56.1 on 2025-02-14 where six calendar months give 54.0
    closes, names = sw
    d = date(2025, 2, 14)
    six = compute_history(closes, names, "6M").snapshot(d)
    days = compute_history(closes, names, "120D").snapshot(d)
    assert six is not None and days is not None
    assert six.spread == pytest.approx(53.99, abs=0.01)
    assert days.spread == pytest.approx(56.1, abs=0.05)
    assert six.base_date == date(2024, 8, 15)  # first trading day after 2024-08-14


# -- hand-built frames ------------------------------------------------------------------------------
def frame(dates: list[str], **cols: list[float]) -> pd.DataFrame:
    return pd.DataFrame(cols, index=pd.DatetimeIndex(pd.to_datetime(dates)), dtype=float)


DAYS6 = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
START = date(2000, 1, 1)


def test_one_day_window_by_hand() -> None:
    # gains are exact in binary floating point: doubling is +100%
    closes = frame(DAYS6[:6], A=[1, 2, 4, 8, 8, 16], B=[1, 1, 2, 2, 4, 8])
    h = compute_history(closes, NameBook.constant({"A": "甲", "B": "乙"}), "1D", k=1, history_start=START)
    # day: gains (A, B) -> spread; the first day has no base
    #   01-02: (100, 0) 100 · 01-03: (100, 100) 0 · 01-04: (100, 0) 100 · 01-05: (0, 100) 100 · 01-08: (100, 100) 0
    assert list(h.frame["spread"]) == [100, 0, 100, 100, 0]
    # percentile = share of days up to today (included) whose spread is <= today's: ties count
    assert list(h.frame["percentile"]) == pytest.approx([100, 50, 100, 100, 40])
    assert list(h.frame["history_days"]) == [1, 2, 3, 4, 5]
    # rank 1 = the widest; a tie with the widest is not a new widest
    assert list(h.frame["history_rank"]) == [1, 2, 2, 3, 5]
    snap = h.snapshot(date(2024, 1, 5))
    assert snap is not None
    assert (snap.top[0].name, snap.top[0].gain, snap.bottom[0].name, snap.bottom[0].gain) == ("乙", 100, "甲", 0)
    assert snap.base_date == date(2024, 1, 4)


def test_ties_in_gains_leave_the_averages_unambiguous() -> None:
    # k=2 over four industries; on day 2, three of them tie at +50%
    closes = frame(DAYS6[:2], A=[100, 150], B=[100, 150], C=[100, 150], D=[100, 75])
    h = compute_history(closes, NameBook(), "1D", k=2, history_start=START)
    snap = h.snapshot()
    assert snap is not None
    assert snap.top_avg == 50 and snap.bottom_avg == pytest.approx((50 - 25) / 2)
    assert snap.spread == pytest.approx(50 - 12.5)
    assert {g.code for g in snap.top} <= {"A", "B", "C"} and snap.bottom[0].code == "D"
    loop = compute_snapshot_loop(closes, NameBook(), date(2024, 1, 2), "1D", k=2, history_start=START)
    assert loop[0] == pytest.approx(snap.spread)


def test_an_industry_that_starts_late_is_ranked_once_it_has_a_base() -> None:
    nan = float("nan")
    closes = frame(
        DAYS6[:3],
        A=[100, 110, 121],
        B=[100, 100, 100],
        C=[100, 90, 81],
        D=[nan, 200, 400],  # no close on the base of day 2: ranked on day 3 only
    )
    h = compute_history(closes, NameBook(), "1D", k=1, history_start=START)
    day2, day3 = h.snapshot(date(2024, 1, 2)), h.snapshot(date(2024, 1, 3))
    assert day2 is not None and day3 is not None
    assert day2.n_ranked == 3 and {g.code for g in day2.gains} == {"A", "B", "C"}
    assert day3.n_ranked == 4 and day3.top[0].code == "D" and day3.spread == pytest.approx(100 - -10)


def test_a_day_missing_an_industry_is_not_used_until_it_is_complete() -> None:
    nan = float("nan")
    cols = {"A": [100, 110, 121], "B": [100, 100, 100], "C": [100, 90, 81], "E": [100, 300, nan]}
    h = compute_history(frame(DAYS6[:3], **cols), NameBook(), "1D", k=1, history_start=START)
    # E (the leader) has no close on day 3: day 3 is incomplete, not a spread over three industries
    assert [s.as_of for s in map(h._snapshot_at, range(len(h)))] == [date(2024, 1, 2)]
    assert incomplete_days(frame(DAYS6[:3], **cols)) == {date(2024, 1, 3): ["E"]}
    assert h.snapshot().n_ranked == 4  # type: ignore[union-attr]
    # the same day once the close arrives: complete, with E ranked
    cols["E"][2] = 330
    h = compute_history(frame(DAYS6[:3], **cols), NameBook(), "1D", k=1, history_start=START)
    day3 = h.snapshot(date(2024, 1, 3))
    assert day3 is not None and day3.as_of == date(2024, 1, 3) and day3.n_ranked == 4
    assert day3.top[0].code == "E"


def test_a_gap_is_never_used_and_a_discontinued_industry_stops_counting() -> None:
    nan = float("nan")
    days = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2024-01-01", periods=9)]
    base = {"A": [100 + i for i in range(9)], "B": [100 - i for i in range(9)], "C": [100.0] * 9}
    gap = compute_history(frame(days, **base, E=[100, 101, nan, 103, 104, 105, 106, 107, 108]), NameBook(), "1D", k=1)
    assert date(2024, 1, 3) not in {ts.date() for ts in gap.frame.index}  # E comes back: the gap stays out
    assert len(gap) == 9 - 1 - 1  # no base on day 1, day 3 left out
    # E stops after day 3: days 4-8 wait for it; once the others have gone on five days without it,
    # it is discontinued and every day after its last close counts again
    stopped = [100, 101, 102, nan, nan, nan, nan, nan, nan]
    for n_days, used in ((7, 2), (8, 7), (9, 8)):
        closes = frame(days[:n_days], **{k: v[:n_days] for k, v in base.items()}, E=stopped[:n_days])
        h = compute_history(closes, NameBook(), "1D", k=1)
        assert len(h) == used, n_days
    assert list(incomplete_days(frame(days[:7], **{k: v[:7] for k, v in base.items()}, E=stopped[:7]))) == [
        date(2024, 1, d) for d in (4, 5, 8, 9)
    ]


def test_fewer_than_2k_ranked_industries_give_no_spread() -> None:
    nan = float("nan")
    closes = frame(DAYS6[:3], A=[1, 2, 3], B=[1, 1, 1], C=[1, 3, 1], D=[1, 2, 1], E=[nan, nan, 5])
    names = NameBook()
    three = compute_history(closes, names, "1D", k=2, history_start=START)
    assert len(three) == 2  # four ranked >= 2k
    k3 = compute_history(closes, names, "1D", k=3, history_start=START)
    assert len(k3) == 0 and k3.snapshot() is None
    with pytest.raises(ValueError, match="no spread"):
        compute_snapshot_loop(closes, names, date(2024, 1, 3), "1D", k=3, history_start=START)


def test_history_start_bounds_the_percentile_history() -> None:
    closes = frame(DAYS6, A=[1, 2, 4, 8, 8, 16], B=[1, 1, 2, 2, 4, 8])
    h = compute_history(closes, NameBook(), "1D", k=1, history_start=date(2024, 1, 4))
    # only 01-04 (100), 01-05 (100), 01-08 (0) are in the history
    assert [d.date() for d in h.frame.index] == [date(2024, 1, 4), date(2024, 1, 5), date(2024, 1, 8)]
    assert list(h.frame["percentile"]) == pytest.approx([100, 100, 100 / 3])
    assert list(h.frame["history_days"]) == [1, 2, 3]
    loop = compute_snapshot_loop(closes, NameBook(), date(2024, 1, 8), "1D", k=1, history_start=date(2024, 1, 4))
    assert loop[1] == pytest.approx(100 / 3)


def test_six_month_base_is_the_first_trading_day_after_d_minus_six_months() -> None:
    days = pd.bdate_range("2024-01-02", "2024-08-30")
    days = days[days != pd.Timestamp("2024-01-31")]  # D - 6M itself missing from the data
    values = np.arange(1, len(days) + 1, dtype=float)
    closes = pd.DataFrame({"A": values, "B": values**1.5}, index=days)
    h = compute_history(closes, NameBook(), "6M", k=1, history_start=START)
    snap = h.snapshot(date(2024, 7, 31))
    assert snap is not None and snap.base_date == date(2024, 2, 1)
    b = days.get_loc(pd.Timestamp("2024-02-01"))
    d = days.get_loc(pd.Timestamp("2024-07-31"))
    gain_b = (values[d] ** 1.5 / values[b] ** 1.5 - 1) * 100
    gain_a = (values[d] / values[b] - 1) * 100
    assert snap.top[0].gain == pytest.approx(gain_b) and snap.bottom[0].gain == pytest.approx(gain_a)
    # the first day whose D - 6M is inside the data is 2024-07-02 (D - 6M = 2024-01-02, the first row)
    assert h.frame.index[0] == pd.Timestamp("2024-07-02")
    first = h.snapshot(date(2024, 7, 2))
    assert first is not None and first.base_date == date(2024, 1, 3)


def test_as_of_cuts_the_data_and_snapshot_picks_the_last_day_on_or_before() -> None:
    closes = frame(DAYS6, A=[1, 2, 4, 8, 8, 16], B=[1, 1, 2, 2, 4, 8])
    cut = compute_history(closes, NameBook(), "1D", k=1, history_start=START, as_of=date(2024, 1, 4))
    assert cut.frame.index[-1] == pd.Timestamp("2024-01-04")
    full = compute_history(closes, NameBook(), "1D", k=1, history_start=START)
    weekend = full.snapshot(date(2024, 1, 7))
    assert weekend is not None and weekend.as_of == date(2024, 1, 5)
    assert full.snapshot(date(2023, 12, 31)) is None


def test_names_follow_renames_by_date() -> None:
    names = NameBook([("801210", date(2014, 2, 21), "休闲服务"), ("801210", date(2021, 12, 13), "社会服务")])
    assert names.name("801210", date(2020, 1, 1)) == "休闲服务"
    assert names.name("801210", date(2022, 1, 1)) == "社会服务"
    assert names.name("801210") == "社会服务"
    assert names.name("999999") == "999999"


@pytest.mark.parametrize("text", ["6X", "0M", "M", "6", "-6M", "6m"])
def test_bad_windows_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="window"):
        Window.parse(text)


def test_window_parse() -> None:
    assert Window.parse("6M") == Window(6, "M") and str(Window.parse("120D")) == "120D"
