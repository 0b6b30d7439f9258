"""The backtest against a plain loop written here, on the real Shenwan data, and by hand."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from support.bot_harness import filled_db  # noqa: F401  (the real CSV's store, built once per test run)

from jobs.config.settings import AlertSettings, Settings, parse_settings
from jobs.engine.backtest import (
    Basket,
    EpisodeSpan,
    forward_figures,
    load_backtest,
    observations,
    replay_episodes,
    run_backtest,
)
from jobs.engine.pipeline import Engine
from jobs.engine.rules import RuleParams, params_from_settings
from jobs.store.datastore import Store

SW = Path(__file__).resolve().parents[2] / "shared" / "data" / "sw_l1_daily.csv"


# -- the independent reference ------------------------------------------------------------------------


@dataclass
class LoopEpisode:
    start: date
    end: date | None
    peak_day: date
    peak_spread: float
    days: int
    spread0: float
    pctl0: float
    top: list[str]
    bottom: list[str]
    forward: dict[int, tuple[date | None, float | None, float | None]]  # day, spread change, top - bottom


def read_closes(path: Path) -> dict[str, list[tuple[date, float]]]:
    by_code: dict[str, list[tuple[date, float]]] = defaultdict(list)
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            by_code[row["code"]].append((date.fromisoformat(row["date"]), float(row["close"])))
    for rows in by_code.values():
        rows.sort()
    return by_code


def close_on_or_before(rows: list[tuple[date, float]], day: date) -> float | None:
    best = None
    for d, c in rows:
        if d > day:
            break
        best = c
    return best


def basket_return(closes: dict[str, list[tuple[date, float]]], codes: list[str], start: date, later: date) -> float:
    rets = []
    for c in codes:
        c0 = close_on_or_before(closes[c], start)
        c1 = close_on_or_before(closes[c], later)
        assert c0 is not None and c1 is not None
        rets.append(c1 / c0 - 1)
    return sum(rets) / len(rets) * 100


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError


def ranking_on(closes: dict[str, list[tuple[date, float]]], all_days: list[date], day: date) -> list[str]:
    """Codes by six-month gain on ``day``, highest first (the study's definition, written out again)."""
    limit = add_months(day, -6)
    base = next(d for d in all_days if d > limit)
    gains = []
    for code, rows in closes.items():
        on = dict(rows)
        if day in on and base in on:
            gains.append((on[day] / on[base] - 1, code))
    gains.sort(reverse=True)
    return [c for _, c in gains]


def loop_backtest(
    days: list[date],
    spreads: list[float],
    pctls: list[float],
    closes: dict[str, list[tuple[date, float]]],
    price_days: list[date],
    enter: float,
    resolve: float,
    consecutive: int,
    history_days: list[int] | None = None,
    min_history: int = 0,
) -> list[LoopEpisode]:
    episodes: list[LoopEpisode] = []
    current: LoopEpisode | None = None
    streak = 0
    for i, day in enumerate(days):
        s, p = spreads[i], pctls[i]
        if current is None:
            long_enough = history_days is None or history_days[i] >= min_history
            streak = streak + 1 if p >= enter and long_enough else 0
            if streak >= consecutive:
                ranking = ranking_on(closes, price_days, day)
                current = LoopEpisode(day, None, day, s, 0, s, p, ranking[:5], ranking[::-1][:5], {})
                start_i = i
        else:
            if s > current.peak_spread:
                current.peak_spread, current.peak_day = s, day
            if p < resolve:
                current.end = day
                current.days = i - start_i
                episodes.append(current)
                current = None
                streak = 0
    if current is not None:
        current.days = len(days) - start_i
        episodes.append(current)

    for ep in episodes:
        i0 = days.index(ep.start)
        for months in (1, 3, 6):
            target = add_months(ep.start, months)
            if target > days[-1]:
                ep.forward[months] = (None, None, None)
                continue
            j = max(k for k, d in enumerate(days) if d <= target)
            later = days[j]

            ep.forward[months] = (
                later,
                spreads[j] - spreads[i0],
                basket_return(closes, ep.top, ep.start, later) - basket_return(closes, ep.bottom, ep.start, later),
            )
    return episodes


# -- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sw_store(filled_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Store, str]:
    """The real CSV's store (a copy of the one built once per test run, as ``spreadwatch backfill`` fills it)."""
    db = tmp_path_factory.mktemp("bt") / "sw.db"
    shutil.copyfile(filled_db, db)
    settings = parse_settings({"data": {"source": f"csv:{SW}"}, "storage": {"path": str(db)}})
    engine = Engine(settings, Store(db))
    assert engine.store.last_snapshot_date(engine.source.name) is not None
    return settings, engine.store, engine.source.name


@pytest.fixture(scope="module")
def sw_closes() -> dict[str, list[tuple[date, float]]]:
    if not SW.exists():
        pytest.skip("shared data not present")
    return read_closes(SW)


def compare(
    store: Store,
    source: str,
    closes: dict[str, list[tuple[date, float]]],
    params: RuleParams,
    start: date | None = None,
    end: date | None = None,
) -> int:
    result = load_backtest(store, source, params, start, end)
    series = store.spread_series(source, end=end)
    all_days = [ts.date() for ts in series.index]
    keep = [i for i, d in enumerate(all_days) if start is None or d >= start]
    price_days = sorted({d for rows in closes.values() for d, _ in rows})
    expected = loop_backtest(
        [all_days[i] for i in keep],
        [float(series["spread"].iloc[i]) for i in keep],
        [float(series["percentile"].iloc[i]) for i in keep],
        closes,
        price_days,
        params.enter,
        params.resolve,
        params.consecutive_days,
        [i + 1 for i in keep],  # the series starts at the history start: day i has i + 1 days of history
        params.min_history_days,
    )
    assert len(result.episodes) == len(expected)
    for got, want in zip(result.episodes, expected, strict=True):
        assert (got.start, got.end, got.peak_day, got.trading_days) == (want.start, want.end, want.peak_day, want.days)
        assert got.peak_spread == pytest.approx(want.peak_spread, abs=1e-9)
        assert got.spread_at_fire == pytest.approx(want.spread0, abs=1e-9)
        assert got.percentile_at_fire == pytest.approx(want.pctl0, abs=1e-9)
        assert list(got.basket.top) == want.top
        assert list(got.basket.bottom) == want.bottom
        for months, (day, dspread, rel) in want.forward.items():
            f = got.forward(months)
            assert f is not None
            assert f.day == day
            if dspread is None:
                assert f.spread_change is None and f.relative_return is None
            else:
                assert f.spread_change == pytest.approx(dspread, abs=1e-9)
                assert f.relative_return == pytest.approx(rel, abs=1e-6)

    # the summary, from the loop's episodes
    evaluated = [e.forward[3][1] for e in expected if e.forward[3][1] is not None]
    assert result.summary.episodes == len(expected)
    assert result.summary.evaluated == len(evaluated)
    assert result.summary.hits == sum(1 for x in evaluated if x < 0)
    for months in (1, 3, 6):
        rels = sorted(e.forward[months][2] for e in expected if e.forward[months][2] is not None)
        if rels:
            mid = len(rels) // 2
            median = rels[mid] if len(rels) % 2 else (rels[mid - 1] + rels[mid]) / 2
            assert result.summary.median_relative_return[months] == pytest.approx(median, abs=1e-6)
    return len(expected)


# -- tests on the real data ----------------------------------------------------------------------------


def test_default_rules_match_the_loop(sw_store: tuple[Settings, Store, str], sw_closes: dict) -> None:
    settings, store, source = sw_store
    n = compare(store, source, sw_closes, params_from_settings(settings.alerts), start=date(2010, 1, 1))
    # the 2015 bubble must be among them: a sanity check that the data is the data
    result = load_backtest(store, source, params_from_settings(settings.alerts))
    assert n >= 5
    assert any(e.start.year in (2014, 2015) and e.peak_spread > 80 for e in result.episodes)


def test_stricter_rules_with_a_window_match_the_loop(sw_store: tuple[Settings, Store, str], sw_closes: dict) -> None:
    _, store, source = sw_store
    params = params_from_settings(
        AlertSettings(enter_percentile=95, high_percentile=97, resolve_percentile=85, consecutive_days=3)
    )
    n = compare(store, source, sw_closes, params, start=date(2012, 1, 1), end=date(2021, 6, 30))
    assert n >= 1


def test_an_episode_open_at_the_end_date(sw_store: tuple[Settings, Store, str]) -> None:
    """--to cuts the data: an episode still firing then is open and its later figures are unknown."""
    settings, store, source = sw_store
    params = params_from_settings(settings.alerts)
    full = load_backtest(store, source, params)
    closed = next(e for e in full.episodes if e.end is not None and e.trading_days > 40)
    cut = load_backtest(store, source, params, end=closed.peak_day)
    last = cut.episodes[-1]
    assert last.start == closed.start and last.open
    assert cut.last_day == closed.peak_day
    assert cut.summary.open_episodes == 1
    for f in last.forwards:
        assert (f.day is None) == (f.target > closed.peak_day)


def test_the_loader_equals_the_pure_function(sw_store: tuple[Settings, Store, str]) -> None:
    settings, store, source = sw_store
    params = params_from_settings(settings.alerts)
    series = store.spread_series(source)
    spans = replay_episodes(series, params, date(2016, 1, 1))
    baskets = {s.start: Basket.from_snapshot(store.snapshot(source, s.start)) for s in spans}  # type: ignore[arg-type]
    pure = run_backtest(series, store.load_prices(source), baskets, params, start=date(2016, 1, 1))
    assert pure == load_backtest(store, source, params, start=date(2016, 1, 1))
    assert pure.episodes and all(e.start >= date(2016, 1, 1) for e in pure.episodes)


# -- by hand -------------------------------------------------------------------------------------------


def hand_series(spreads: list[float], pctls: list[float], start: str = "2024-01-01") -> pd.DataFrame:
    idx = pd.bdate_range(start, periods=len(spreads), name="date")
    return pd.DataFrame({"spread": spreads, "percentile": pctls}, index=idx)


def test_replay_by_hand() -> None:
    # fire at >= 90, resolve below 80, peak tracked across the dip to 85
    series = hand_series([10, 20, 30, 25, 28, 15, 40], [50, 91, 95, 85, 92, 70, 99])
    params = RuleParams(enter=90, high=95, resolve=80, remind_every_days=0)
    spans = replay_episodes(series, params)
    d = [ts.date() for ts in series.index]
    assert spans == [
        EpisodeSpan(d[1], d[5], d[2], 30.0, 4, 20.0, 91.0, 3),  # 20 is wider than every earlier day
        EpisodeSpan(d[6], None, d[6], 40.0, 1, 40.0, 99.0, 3),  # a new historical high: tier 3
    ]
    # two consecutive days needed: the first episode starts a day later, the last never fires
    two = replay_episodes(series, RuleParams(enter=90, high=95, resolve=80, consecutive_days=2))
    assert [(s.start, s.end) for s in two] == [(d[2], d[5])]


def test_forward_figures_by_hand() -> None:
    # 2024-01-31 + 1 month = 2024-02-29 (a leap day, a Thursday): the figure is that day's
    series = hand_series([30.0] * 60, [95.0] * 60, start="2024-01-31")
    series.loc[pd.Timestamp("2024-02-29"), "spread"] = 22.0
    idx = series.index
    closes = pd.DataFrame(
        {
            "A": [100.0] * len(idx),
            "B": [100.0] * len(idx),
            "C": [50.0] * len(idx),
        },
        index=idx,
    )
    closes.loc[pd.Timestamp("2024-02-29") :, "A"] = 110.0  # +10%
    closes.loc[pd.Timestamp("2024-02-15") :, "B"] = float("nan")  # stopped at 100: counts at its last close
    closes.loc[pd.Timestamp("2024-02-29") :, "C"] = 45.0  # -10%
    span = EpisodeSpan(date(2024, 1, 31), None, date(2024, 1, 31), 30.0, 1, 30.0, 95.0, 1)
    fwd = forward_figures(span, series, closes, Basket(("A", "B"), ("C",)), horizons=(1, 3))
    one, three = fwd
    assert one.day == date(2024, 2, 29) and one.spread == 22.0 and one.spread_change == pytest.approx(-8.0)
    assert one.top_return == pytest.approx(5.0) and one.bottom_return == pytest.approx(-10.0)
    assert one.relative_return == pytest.approx(15.0)
    assert three.target == date(2024, 4, 30) and three.day is None and three.relative_return is None


def test_missing_basket_is_an_error() -> None:
    series = hand_series([10, 20], [50, 95])
    with pytest.raises(ValueError, match="basket"):
        run_backtest(series, pd.DataFrame(), {}, RuleParams())


def test_no_day_beyond_the_window_is_used() -> None:
    spreads = [10.0, 20.0, 5.0]
    series = hand_series(spreads, [50, 95, 10])
    res = run_backtest(series, pd.DataFrame(), {date(2024, 1, 2): Basket((), ())}, RuleParams(), end=date(2024, 1, 2))
    assert res.last_day == date(2024, 1, 2)
    assert [e.open for e in res.episodes] == [True]


def test_new_high_is_the_snapshots_history_rank_one(sw_store: tuple[Settings, Store, str]) -> None:
    """The live job reads new_high as history_rank == 1; the backtest derives it from the series."""
    _, store, source = sw_store
    series = store.spread_series(source)
    derived = [o.new_high for o in observations(series)]
    stored = [s.history_rank == 1 for s in store.snapshots_between(source, date.min, date.max)]
    assert derived == stored
    assert sum(derived) > 10
